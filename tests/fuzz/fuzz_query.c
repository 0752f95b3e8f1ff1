/*
 * fuzz_query.c -- libFuzzer target for the query compiler and the document
 * checks (accessory/query.h, accessory/doc.h).  The input is a where, a NUL,
 * a document (both JSON text); a second NUL, if any, is followed by an
 * order and a third by keys.  The where is compiled (with small limits, so
 * that the refusals are reached too), the document validated, matched,
 * compared with itself, projected and its fields' keys encoded, and the
 * key order is checked against query_cmp on two values drawn from the
 * where and the document: a disagreement aborts.
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays tests/fuzz/corpus/query through the same function with
 * tests/fuzz/replay.c.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accessory/doc.h"
#include "accessory/query.h"
#include "util/buf.h"

/* Inputs beyond 64 KiB only slow the fuzzer down: the parsers' limits are
 * tested by the unit tests. */
#define FUZZ_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
part(const uint8_t *data, size_t size, size_t *off, size_t *len)
{
	if (*off > size)
		return NULL;
	const uint8_t *p = data + *off;
	const uint8_t *nul = memchr(p, 0, size - *off);
	*len = nul != NULL ? (size_t)(nul - p) : size - *off;
	*off += *len + 1;
	return (const char *)p;
}

static int
sign(int c)
{
	return c < 0 ? -1 : c > 0;
}

static void
check_order(const json_t *a, const json_t *b)
{
	struct buf ka = BUF_INIT, kb = BUF_INIT;
	query_key_encode(a, &ka);
	query_key_encode(b, &kb);
	size_t n = ka.len < kb.len ? ka.len : kb.len;
	int m = memcmp(ka.data, kb.data, n);
	if (m == 0)
		m = ka.len < kb.len ? -1 : ka.len > kb.len;
	/* an order on one field "v": query_cmp of {v:a} and {v:b} */
	struct query *q = query_compile(NULL, "v", NULL, NULL, NULL);
	json_t *da = json_pack("{s:O}", "v", a), *db = json_pack("{s:O}", "v", b);
	int c = query_cmp(q, da, db);
	if (sign(c) != sign(m))
		abort();
	json_decref(da);
	json_decref(db);
	query_free(q);
	buf_destroy(&ka);
	buf_destroy(&kb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX)
		return 0;
	size_t off = 0, wl = 0, dl = 0, ol = 0, kl = 0;
	const char *w = part(data, size, &off, &wl);
	const char *d = part(data, size, &off, &dl);
	const char *o = part(data, size, &off, &ol);
	const char *k = part(data, size, &off, &kl);
	char *order = o != NULL ? strndup(o, ol) : NULL;
	char *keys = k != NULL ? strndup(k, kl) : NULL;
	json_t *where = w != NULL ? json_loadb(w, wl, JSON_ALLOW_NUL, NULL) : NULL;
	json_t *doc = d != NULL ? json_loadb(d, dl, JSON_ALLOW_NUL, NULL) : NULL;

	struct query_opts opts;
	query_opts_default(&opts);
	opts.max_depth = 8;
	opts.max_terms = 32;
	opts.max_in = 16;
	opts.regex_match_limit = 10000;
	opts.regex_depth_limit = 200;
	struct perr err;
	struct query *q = query_compile(where, order, keys, &opts, &err);
	if (doc != NULL) {
		(void)doc_validate(doc, 8, &err);
		(void)doc_type_name(doc);
	}
	if (q != NULL && doc != NULL) {
		(void)query_match(q, doc, &err);
		if (query_cmp(q, doc, doc) != 0)
			abort();
		json_decref(query_project(q, doc));
		struct query_pin pins[8];
		uint32_t np = query_pins(q, pins, 8);
		struct buf key = BUF_INIT;
		for (uint32_t i = 0; i < np; i++) {
			query_key_encode_doc(doc, pins[i].field, &key);
			query_key_encode(pins[i].eq, &key);
			query_key_encode(pins[i].lo, &key);
		}
		buf_destroy(&key);
	}
	if (where != NULL && doc != NULL)
		check_order(where, doc);
	if (json_is_object(doc)) {
		const char *f;
		json_t *v, *prev = NULL;
		json_object_foreach(doc, f, v) {
			if (prev != NULL)
				check_order(prev, v);
			prev = v;
		}
	}
	query_free(q);
	json_decref(where);
	json_decref(doc);
	free(order);
	free(keys);
	return 0;
}
