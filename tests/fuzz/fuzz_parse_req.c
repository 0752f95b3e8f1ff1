/*
 * fuzz_parse_req.c -- libFuzzer target for the Parse REST decoder
 * (gateway/parse_req.h): the input is split into a request, and a /batch
 * that decodes has each of its sub-requests decoded too.
 *
 * Layout: one flags byte (bits 0-2: headers, 0-7; bit 3: mount "" instead
 * of "/parse"), then NUL-separated fields -- method, path, query, and per
 * header a name field (its first byte picks one of the names the decoder
 * reads, so the fuzzer need not guess them) and a value -- and the rest,
 * NULs included, is the body.  A field missing is "".
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays tests/fuzz/corpus/parse_req through the same function
 * (tests/fuzz/replay.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/parse_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"x-parse-application-id", "x-parse-rest-api-key",
	"x-parse-javascript-key", "x-parse-client-key",
	"x-parse-master-key",	  "x-parse-session-token",
	"x-parse-installation-id", "x-parse-client-version",
	"x-parse-cloud-context",  "x-mist-deadline-ms",
	"content-type",		  "x-other",
};

/* The next NUL-terminated field of @a p (moved past it), copied. */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	const uint8_t *e = z != NULL ? z : end;
	size_t n = (size_t)(e - *p);
	char *s = malloc(n + 1);
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = z != NULL ? z + 1 : end;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	const uint8_t *p = data + 1, *end = data + size;
	char *owned[3 + 2 * 7];
	size_t nowned = 0;
	struct http_req r;
	memset(&r, 0, sizeof(r));
	r.method = owned[nowned++] = field(&p, end);
	r.path = owned[nowned++] = field(&p, end);
	r.query = owned[nowned++] = field(&p, end);
	r.ip = "127.0.0.1";
	uint32_t nh = flags & 7;
	for (uint32_t i = 0; i < nh; i++) {
		char *n = field(&p, end);
		r.hdrs[i].name = names[(uint8_t)n[0] % (sizeof(names) / sizeof(*names))];
		free(n);
		r.hdrs[i].value = owned[nowned++] = field(&p, end);
	}
	r.nhdrs = nh;
	r.body = p;
	r.body_len = (size_t)(end - p);
	const char *mount = flags & 8 ? "" : "/parse";

	struct preq q;
	struct perr e;
	char out[PERR_JSON_MAX];
	if (preq_decode(&r, mount, &q, &e) == 0) {
		if (q.route == PR_BATCH) {
			json_t *reqs = json_object_get(q.body, "requests");
			size_t i;
			json_t *s;
			json_array_foreach(reqs, i, s) {
				struct preq sub;
				json_t *m = json_object_get(s, "method");
				if (preq_decode_sub(&q, json_string_value(m),
						    json_string_value(json_object_get(s, "path")),
						    json_object_get(s, "body"), mount,
						    &sub, &e) == 0)
					preq_clear(&sub);
				else
					perr_json(&e, out, sizeof(out));
			}
		}
		preq_clear(&q);
	} else {
		perr_json(&e, out, sizeof(out));
	}
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	return 0;
}
