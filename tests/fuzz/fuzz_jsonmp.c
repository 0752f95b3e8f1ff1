/*
 * fuzz_jsonmp.c -- libFuzzer target for JSON <-> msgpack
 * (gateway/jsonmp.h), checking the round trips as well as the absence of
 * crashes: msgpack that converts to JSON must convert back and forth to
 * the same JSON, and JSON that converts to msgpack must come back equal;
 * jsonmp_to_text() must give json_dumps()'s bytes of jsonmp_to_json()'s
 * value, or refuse with the same code and sentence.
 *
 * Layout: one byte (bit 0: the rest is JSON text, else msgpack; bit 1:
 * tight limits, so the bounds are hit), then the input.
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays tests/fuzz/corpus/jsonmp (tests/fuzz/replay.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jsonmp.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @a v -> msgpack -> JSON must be @a v again (if it converts at all). */
static void
json_round_trip(const json_t *v, const struct jsonmp_limits *l)
{
	struct buf b = BUF_INIT;
	if (jsonmp_from_json(v, l, &b, NULL, 0) == 0) {
		json_t *back = NULL;
		/* what was written within the limits reads within them */
		if (jsonmp_to_json(b.data, b.len, l, &back, NULL, 0) != 0 ||
		    !json_equal(v, back))
			abort();
		json_decref(back);
	} else if (b.len != 0) {
		abort(); /* a refusal leaves the buffer as it was */
	}
	buf_destroy(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	struct jsonmp_limits l;
	jsonmp_limits_default(&l);
	if (mode & 2) {
		l.max_depth = 4;
		l.max_values = 16;
		l.max_str = 8;
		l.max_bytes = 64;
	}
	if (mode & 1) {
		json_error_t je;
		json_t *v = json_loadb((const char *)data, size,
				       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
		if (v != NULL) {
			json_round_trip(v, &l);
			json_decref(v);
		}
	} else {
		json_t *v = NULL;
		char why[JSONMP_WHY_MAX], why2[JSONMP_WHY_MAX];
		int rc = jsonmp_to_json(data, size, &l, &v, why, sizeof(why));
		/* the text converter: the same verdict, the same sentence,
		 * and json_dumps' very bytes */
		struct buf t = BUF_INIT;
		buf_append(&t, "x", 1);
		int rc2 = jsonmp_to_text(data, size, &l, &t, why2, sizeof(why2));
		if (rc2 != rc || (rc != 0 && (t.len != 1 || strcmp(why, why2) != 0)))
			abort();
		if (rc == 0) {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			/* (jansson fails a real of 24 characters: no text) */
			if (s != NULL && (t.len - 1 != strlen(s) ||
					  memcmp(t.data + 1, s, t.len - 1) != 0))
				abort();
			free(s);
		}
		buf_destroy(&t);
		if (rc == 0) {
			json_round_trip(v, &l);
			json_decref(v);
		} else if (v != NULL) {
			abort();
		}
	}
	return 0;
}
