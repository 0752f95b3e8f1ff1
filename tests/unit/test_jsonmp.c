/*
 * test_jsonmp.c -- JSON <-> msgpack (gateway/jsonmp.h): every type both
 * ways and round trips, Bytes <-> bin, the refusals (ext, non-string
 * keys, big uints, NaN, bad UTF-8, keys twice, bad base64), each bound
 * at its edge, and hostile msgpack (truncations, huge declared counts).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jsonmp.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"

static json_t *
J(const char *s)
{
	json_error_t je;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
	cr_assert_not_null(v, "bad test JSON %s: %s", s, je.text);
	return v;
}

static void
json_eq(const json_t *v, const char *want)
{
	json_t *w = J(want);
	cr_assert(json_equal(v, w), "got %s want %s",
		  json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), want);
	json_decref(w);
}

/* JSON text -> msgpack -> JSON, which must equal @a want. */
static void
round_trip(const char *in, const char *want)
{
	json_t *v = J(in);
	struct buf b = BUF_INIT;
	char why[JSONMP_WHY_MAX];
	cr_assert_eq(jsonmp_from_json(v, NULL, &b, why, sizeof(why)), 0, "%s: %s",
		     in, why);
	json_t *back = NULL;
	cr_assert_eq(jsonmp_to_json(b.data, b.len, NULL, &back, why, sizeof(why)),
		     0, "%s: %s", in, why);
	json_eq(back, want);
	json_decref(back);
	json_decref(v);
	buf_destroy(&b);
}

Test(jsonmp, every_type_round_trips)
{
	round_trip("null", "null");
	round_trip("true", "true");
	round_trip("false", "false");
	round_trip("0", "0");
	round_trip("-1", "-1");
	round_trip("127", "127");
	round_trip("-33", "-33");
	round_trip("9223372036854775807", "9223372036854775807");
	round_trip("-9223372036854775808", "-9223372036854775808");
	round_trip("1.5", "1.5");
	round_trip("-0.25e10", "-0.25e10");
	round_trip("\"\"", "\"\"");
	round_trip("\"h\\u00e9llo \\u2603 \\ud83d\\ude00\"", "\"h\\u00e9llo \\u2603 \\ud83d\\ude00\"");
	round_trip("[]", "[]");
	round_trip("{}", "{}");
	round_trip("[1,[2,[3,{\"a\":[null]}]]]", "[1,[2,[3,{\"a\":[null]}]]]");
	round_trip("{\"movie\":\"The Matrix\",\"stars\":[5,4.5],\"ok\":true,"
		   "\"when\":{\"__type\":\"Date\",\"iso\":\"2024-01-01T00:00:00.000Z\"}}",
		   "{\"movie\":\"The Matrix\",\"stars\":[5,4.5],\"ok\":true,"
		   "\"when\":{\"__type\":\"Date\",\"iso\":\"2024-01-01T00:00:00.000Z\"}}");
	round_trip("{\"__type\":\"Bytes\",\"base64\":\"aGVsbG8=\"}",
		   "{\"__type\":\"Bytes\",\"base64\":\"aGVsbG8=\"}");
	round_trip("{\"__type\":\"Bytes\",\"base64\":\"\"}",
		   "{\"__type\":\"Bytes\",\"base64\":\"\"}");
	/* a Bytes look-alike with a third key stays a map */
	round_trip("{\"__type\":\"Bytes\",\"base64\":\"aGk=\",\"x\":1}",
		   "{\"__type\":\"Bytes\",\"base64\":\"aGk=\",\"x\":1}");
}

Test(jsonmp, json_to_msgpack_shapes)
{
	/* the exact bytes: small ints packed small, Bytes as bin */
	json_t *v = J("{\"a\":1,\"b\":{\"__type\":\"Bytes\",\"base64\":\"AAEC\"},\"c\":-2}");
	struct buf b = BUF_INIT;
	char why[JSONMP_WHY_MAX];
	cr_assert_eq(jsonmp_from_json(v, NULL, &b, why, sizeof(why)), 0);
	const uint8_t want[] = {0x83, 0xa1, 'a', 0x01, 0xa1, 'b', 0xc4, 3, 0, 1, 2,
				0xa1, 'c', 0xfe};
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_arr_eq(b.data, want, sizeof(want));
	/* appends: a second value after the first */
	json_t *t = J("true");
	cr_assert_eq(jsonmp_from_json(t, NULL, &b, why, sizeof(why)), 0);
	cr_assert_eq(b.len, sizeof(want) + 1);
	cr_assert_eq(b.data[sizeof(want)], 0xc3);
	json_decref(t);
	json_decref(v);
	buf_destroy(&b);
	cr_assert_eq(jsonmp_from_json(NULL, NULL, &b, why, sizeof(why)), MIST_EINVAL);
}

/* Packs with msgpack-c what a function might return. */
static void
mp_to_json_expect(const uint8_t *p, size_t n, int rc_want, const char *want,
		  const char *why_part)
{
	json_t *out = (json_t *)1;
	char why[JSONMP_WHY_MAX] = "";
	int rc = jsonmp_to_json(p, n, NULL, &out, why, sizeof(why));
	cr_assert_eq(rc, rc_want, "rc %d: %s", rc, why);
	/* the text converter agrees, to json_dumps' bytes */
	struct buf t = BUF_INIT;
	buf_append(&t, "<", 1);
	char why2[JSONMP_WHY_MAX] = "";
	cr_assert_eq(jsonmp_to_text(p, n, NULL, &t, why2, sizeof(why2)), rc);
	if (rc == 0) {
		if (want != NULL)
			json_eq(out, want);
		char *d = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
		cr_assert_eq(t.len - 1, strlen(d), "%.*s vs %s", (int)t.len - 1,
			     (const char *)t.data + 1, d);
		cr_assert(memcmp(t.data + 1, d, t.len - 1) == 0, "%.*s vs %s",
			  (int)t.len - 1, (const char *)t.data + 1, d);
		free(d);
		json_decref(out);
	} else {
		cr_assert_null(out);
		cr_assert_eq(t.len, 1, "the buffer is as it was");
		cr_assert_str_eq(why2, why);
		if (why_part != NULL)
			cr_assert(strstr(why, why_part) != NULL, "why: %s", why);
	}
	buf_destroy(&t);
}

/* Strings that need escaping, reals of every shape, a map past the
 * linear key check (and a key twice in one), non-UTF-8 text and keys:
 * jsonmp_to_text writes what json_dumps writes, refuses what
 * jsonmp_to_json refuses. */
Test(jsonmp, text_is_json_dumps_bytes)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 12);
	static const char esc[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\0z\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	msgpack_pack_str_with_body(&pk, esc, sizeof(esc) - 1);
	const double reals[] = {0.0, -0.0, 1.0, 0.1, 1e20, 1e-7, 123456789012345678.0,
				-2.5e-30, 1.7976931348623157e308, 3.0};
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		msgpack_pack_double(&pk, reals[i]);
	msgpack_pack_map(&pk, 40);
	for (int i = 0; i < 40; i++) {
		char k[8];
		snprintf(k, sizeof(k), "k%d", i);
		mp_pack_str(&pk, k);
		msgpack_pack_int(&pk, i - 20);
	}
	mp_to_json_expect(b.data, b.len, 0, NULL, NULL);
	buf_reset(&b);

	/* integers at the edges of their digits and of int64 (text_i64) */
	const int64_t ints[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, -10, -9,
				-1, 0, 9, 10, 99, 100, 1000000000000000000};
	msgpack_pack_array(&pk, sizeof(ints) / sizeof(ints[0]));
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		msgpack_pack_int64(&pk, ints[i]);
	mp_to_json_expect(b.data, b.len, 0, NULL, NULL);
	buf_reset(&b);

	/* specials at every offset of an 8-byte word, between plain runs
	 * (the scan skips those a word at a time) */
	for (int off = 0; off < 17; off++) {
		char str[64];
		int n = 0;
		for (int i = 0; i < off; i++)
			str[n++] = 'a';
		const char sp[] = {'"', '\\', 0x1f, 0x7f, '\n', (char)0xc3, (char)0xa9};
		str[n++] = sp[off % 6];
		if (sp[off % 6] == (char)0xc3)
			str[n++] = sp[6];
		for (int i = 0; i < 19 - off % 5; i++)
			str[n++] = (char)('b' + i % 20);
		if (off % 2) /* else the special is the string's only one */
			str[n++] = 0x01;
		msgpack_pack_str_with_body(&pk, str, (size_t)n);
		mp_to_json_expect(b.data, b.len, 0, NULL, NULL);
		buf_reset(&b);
	}

	/* the same for 16-byte blocks (the SSE2 scan), multi-byte UTF-8
	 * across a block's end, and JSON text inside a string (a quote
	 * every few bytes: B's answer) */
	const char *seqs[] = {"\"", "\\", "\x1f", "\n", "\xc3\xa9", "\xe2\x82\xac",
			      "\xf0\x9f\x98\x80", "\x7f"};
	for (int off = 0; off < 40; off++) {
		char str[96];
		int n = 0;
		for (int i = 0; i < off; i++)
			str[n++] = (char)('a' + i % 26);
		const char *sq = seqs[off % 8];
		memcpy(str + n, sq, strlen(sq));
		n += (int)strlen(sq);
		for (int i = 0; i < 37 - off % 7; i++)
			str[n++] = (char)('A' + i % 26);
		msgpack_pack_str_with_body(&pk, str, (size_t)n);
		mp_to_json_expect(b.data, b.len, 0, NULL, NULL);
		buf_reset(&b);
	}
	static const char obj[] =
		"{\"ACL\":{\"vUEDveWMN7\":{\"read\":true,\"write\":true}},"
		"\"createdAt\":\"2026-12-02T00:39:54.754Z\",\"objectId\":"
		"\"ZPjAwUobDY\",\"score\":1,\"n\\\\\":\"\xc3\xa9\\u0001\"}";
	msgpack_pack_str_with_body(&pk, obj, sizeof(obj) - 1);
	mp_to_json_expect(b.data, b.len, 0, NULL, NULL);
	buf_reset(&b);
	/* not UTF-8 at every offset of two blocks */
	for (int off = 0; off < 34; off++) {
		char str[64];
		memset(str, 'x', sizeof(str));
		str[off] = (char)0xc3; /* a lead byte without its follower */
		str[off + 1] = 'y';
		msgpack_pack_str_with_body(&pk, str, 40);
		mp_to_json_expect(b.data, b.len, MIST_EINVAL, NULL, "UTF-8");
		buf_reset(&b);
	}

	/* a key twice, in a small map and in a large one */
	for (int size = 3; size <= 40; size += 37) {
		msgpack_pack_map(&pk, (uint32_t)size);
		for (int i = 0; i < size; i++) {
			char k[8];
			snprintf(k, sizeof(k), "k%d", i == size - 1 ? 1 : i);
			mp_pack_str(&pk, k);
			msgpack_pack_nil(&pk);
		}
		mp_to_json_expect(b.data, b.len, MIST_EINVAL, NULL, "twice");
		buf_reset(&b);
	}
	/* not UTF-8: an overlong '/', a surrogate, a lone continuation */
	static const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "a\x80"};
	for (size_t i = 0; i < 3; i++) {
		msgpack_pack_str_with_body(&pk, bad[i], strlen(bad[i]));
		mp_to_json_expect(b.data, b.len, MIST_EINVAL, NULL, "UTF-8");
		buf_reset(&b);
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, bad[i], strlen(bad[i]));
		msgpack_pack_true(&pk);
		mp_to_json_expect(b.data, b.len, MIST_EINVAL, NULL, "UTF-8");
		buf_reset(&b);
	}
	buf_destroy(&b);
}

Test(jsonmp, msgpack_to_json)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 6);
	mp_pack_str(&pk, "u");
	msgpack_pack_uint64(&pk, 300);
	mp_pack_str(&pk, "f");
	msgpack_pack_float(&pk, 0.5f);
	mp_pack_str(&pk, "bin");
	msgpack_pack_bin(&pk, 5);
	msgpack_pack_bin_body(&pk, "hello", 5);
	mp_pack_str(&pk, "i8");
	msgpack_pack_int8(&pk, -100);
	mp_pack_str(&pk, "arr");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk);
	msgpack_pack_false(&pk);
	mp_pack_str(&pk, "s");
	mp_pack_str(&pk, "x");
	mp_to_json_expect(b.data, b.len, 0,
			  "{\"u\":300,\"f\":0.5,\"bin\":{\"__type\":\"Bytes\","
			  "\"base64\":\"aGVsbG8=\"},\"i8\":-100,\"arr\":[null,false],"
			  "\"s\":\"x\"}",
			  NULL);
	buf_destroy(&b);

	/* uint64 at INT64_MAX converts, one past does not */
	const uint8_t imax[] = {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	mp_to_json_expect(imax, sizeof(imax), 0, "9223372036854775807", NULL);
	const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
	mp_to_json_expect(big, sizeof(big), MIST_EINVAL, NULL, "2^63-1");
}

Test(jsonmp, msgpack_refusals)
{
	/* {1: "a"}: a non-string key */
	const uint8_t intkey[] = {0x81, 0x01, 0xa1, 'a'};
	mp_to_json_expect(intkey, sizeof(intkey), MIST_EINVAL, NULL,
			  "key that is not a string");
	/* {nil: 1} */
	const uint8_t nilkey[] = {0x81, 0xc0, 0x01};
	mp_to_json_expect(nilkey, sizeof(nilkey), MIST_EINVAL, NULL, "not a string");
	/* {"a":1,"a":2} */
	const uint8_t twice[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
	mp_to_json_expect(twice, sizeof(twice), MIST_EINVAL, NULL, "twice");
	/* {"a\0": 1} */
	const uint8_t nulkey[] = {0x81, 0xa2, 'a', 0, 0x01};
	mp_to_json_expect(nulkey, sizeof(nulkey), MIST_EINVAL, NULL, "NUL");
	/* a str that is not UTF-8, as a value and as a key */
	const uint8_t badutf[] = {0xa2, 0xc3, 0x28};
	mp_to_json_expect(badutf, sizeof(badutf), MIST_EINVAL, NULL, "UTF-8");
	const uint8_t badkey[] = {0x81, 0xa1, 0xff, 0x01};
	mp_to_json_expect(badkey, sizeof(badkey), MIST_EINVAL, NULL, "UTF-8");
	/* fixext1 and ext8 */
	const uint8_t ext[] = {0xd4, 0x01, 0x00};
	mp_to_json_expect(ext, sizeof(ext), MIST_EINVAL, NULL, "ext");
	const uint8_t ext8[] = {0x91, 0xc7, 0x01, 0x05, 0x00};
	mp_to_json_expect(ext8, sizeof(ext8), MIST_EINVAL, NULL, "ext");
	/* NaN and infinity */
	const uint8_t nan[] = {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
	mp_to_json_expect(nan, sizeof(nan), MIST_EINVAL, NULL, "NaN");
	const uint8_t inf[] = {0xca, 0x7f, 0x80, 0, 0};
	mp_to_json_expect(inf, sizeof(inf), MIST_EINVAL, NULL, "NaN");
	/* malformed: 0xc1, truncated, trailing bytes, empty */
	const uint8_t never[] = {0xc1};
	mp_to_json_expect(never, sizeof(never), MIST_EPROTO, NULL, NULL);
	const uint8_t trunc[] = {0x92, 0x01};
	mp_to_json_expect(trunc, sizeof(trunc), MIST_EPROTO, NULL, NULL);
	const uint8_t trail[] = {0x01, 0x02};
	mp_to_json_expect(trail, sizeof(trail), MIST_EPROTO, NULL, "after");
	mp_to_json_expect(trail, 0, MIST_EPROTO, NULL, NULL);
	/* a 5-byte array declaring 2^32-1 elements: refused, not allocated */
	const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	mp_to_json_expect(bomb, sizeof(bomb), MIST_EPROTO, NULL, NULL);
	const uint8_t sbomb[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
	mp_to_json_expect(sbomb, sizeof(sbomb), MIST_EPROTO, NULL, NULL);
}

Test(jsonmp, every_truncation_refused)
{
	json_t *v = J("{\"a\":[1,2.5,\"xyz\",{\"__type\":\"Bytes\",\"base64\":\"AAEC\"}],"
		      "\"b\":{\"c\":null,\"d\":true,\"e\":-70000}}");
	struct buf b = BUF_INIT;
	cr_assert_eq(jsonmp_from_json(v, NULL, &b, NULL, 0), 0);
	for (size_t n = 0; n < b.len; n++) {
		json_t *out;
		cr_assert_eq(jsonmp_to_json(b.data, n, NULL, &out, NULL, 0),
			     MIST_EPROTO, "prefix %zu", n);
		cr_assert_null(out);
	}
	json_t *out;
	cr_assert_eq(jsonmp_to_json(b.data, b.len, NULL, &out, NULL, 0), 0);
	cr_assert(json_equal(out, v));
	json_decref(out);
	json_decref(v);
	buf_destroy(&b);
}

Test(jsonmp, bad_base64)
{
	const char *bad[] = {"{\"__type\":\"Bytes\",\"base64\":\"a\"}",
			     "{\"__type\":\"Bytes\",\"base64\":\"a$==\"}",
			     "{\"__type\":\"Bytes\",\"base64\":\"aGk\"}",
			     "{\"__type\":\"Bytes\",\"base64\":\"aGk=x\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *v = J(bad[i]);
		struct buf b = BUF_INIT;
		char why[JSONMP_WHY_MAX];
		cr_assert_eq(jsonmp_from_json(v, NULL, &b, why, sizeof(why)),
			     MIST_EINVAL, "%s", bad[i]);
		cr_assert(strstr(why, "base64") != NULL);
		cr_assert_eq(b.len, 0);
		json_decref(v);
		buf_destroy(&b);
	}
}

/* [[[...1...]]] @a depth deep (the innermost value at @a depth). */
static json_t *
nested(uint32_t depth)
{
	json_t *v = json_integer(1);
	for (uint32_t i = 1; i < depth; i++) {
		json_t *a = json_array();
		json_array_append_new(a, v);
		v = a;
	}
	return v;
}

Test(jsonmp, bounds_at_their_edges)
{
	struct jsonmp_limits l;
	jsonmp_limits_default(&l);
	cr_assert_eq(l.max_depth, 32);
	cr_assert_eq(l.max_values, 65536);
	cr_assert_eq(l.max_str, 256 * 1024);
	cr_assert_eq(l.max_bytes, 512 * 1024);
	char why[JSONMP_WHY_MAX];
	struct buf b = BUF_INIT;

	/* depth, both ways */
	json_t *v = nested(32);
	cr_assert_eq(jsonmp_from_json(v, &l, &b, why, sizeof(why)), 0);
	json_t *out;
	cr_assert_eq(jsonmp_to_json(b.data, b.len, &l, &out, why, sizeof(why)), 0);
	json_decref(out);
	json_decref(v);
	buf_reset(&b);
	v = nested(33);
	cr_assert_eq(jsonmp_from_json(v, &l, &b, why, sizeof(why)), MIST_E2BIG);
	cr_assert(strstr(why, "deeper than 32") != NULL, "%s", why);
	cr_assert_eq(b.len, 0, "the buffer is back where it was");
	json_decref(v);
	struct jsonmp_limits l4 = l;
	l4.max_depth = 4;
	v = nested(5);
	cr_assert_eq(jsonmp_from_json(v, &l, &b, why, sizeof(why)), 0);
	cr_assert_eq(jsonmp_to_json(b.data, b.len, &l4, &out, why, sizeof(why)),
		     MIST_E2BIG);
	cr_assert_null(out);
	json_decref(v);
	buf_reset(&b);

	/* values */
	struct jsonmp_limits l10 = l;
	l10.max_values = 10;
	v = J("[1,2,3,4,5,6,7,8,9]"); /* 10 values */
	cr_assert_eq(jsonmp_from_json(v, &l10, &b, why, sizeof(why)), 0);
	cr_assert_eq(jsonmp_to_json(b.data, b.len, &l10, &out, why, sizeof(why)), 0);
	json_decref(out);
	json_decref(v);
	buf_reset(&b);
	v = J("[1,2,3,4,5,6,7,8,9,10]");
	cr_assert_eq(jsonmp_from_json(v, &l10, &b, why, sizeof(why)), MIST_E2BIG);
	cr_assert(strstr(why, "more than 10 values") != NULL);
	cr_assert_eq(jsonmp_from_json(v, &l, &b, why, sizeof(why)), 0);
	cr_assert_eq(jsonmp_to_json(b.data, b.len, &l10, &out, why, sizeof(why)),
		     MIST_E2BIG);
	json_decref(v);
	buf_reset(&b);

	/* strings, binaries, keys */
	struct jsonmp_limits l3 = l;
	l3.max_str = 3;
	v = J("[\"abc\",{\"__type\":\"Bytes\",\"base64\":\"AAEC\"},{\"key\":1}]");
	cr_assert_eq(jsonmp_from_json(v, &l3, &b, why, sizeof(why)), 0);
	cr_assert_eq(jsonmp_to_json(b.data, b.len, &l3, &out, why, sizeof(why)), 0);
	json_decref(out);
	json_decref(v);
	buf_reset(&b);
	const char *over[] = {"[\"abcd\"]", "{\"__type\":\"Bytes\",\"base64\":\"AAECAw==\"}",
			      "{\"keys\":1}"};
	for (size_t i = 0; i < 3; i++) {
		v = J(over[i]);
		cr_assert_eq(jsonmp_from_json(v, &l3, &b, why, sizeof(why)),
			     MIST_E2BIG, "%s", over[i]);
		cr_assert_eq(jsonmp_from_json(v, &l, &b, why, sizeof(why)), 0);
		cr_assert_eq(jsonmp_to_json(b.data, b.len, &l3, &out, why, sizeof(why)),
			     MIST_E2BIG, "%s", over[i]);
		json_decref(v);
		buf_reset(&b);
	}

	/* total bytes */
	struct jsonmp_limits lb = l;
	lb.max_bytes = 8;
	v = J("\"123456\""); /* 7 bytes */
	cr_assert_eq(jsonmp_from_json(v, &lb, &b, why, sizeof(why)), 0);
	cr_assert_eq(b.len, 7);
	json_decref(v);
	buf_reset(&b);
	v = J("[\"1234567\"]"); /* 9 bytes */
	cr_assert_eq(jsonmp_from_json(v, &lb, &b, why, sizeof(why)), MIST_E2BIG);
	cr_assert(strstr(why, "larger than 8 bytes") != NULL);
	cr_assert_eq(jsonmp_from_json(v, &l, &b, why, sizeof(why)), 0);
	cr_assert_eq(jsonmp_to_json(b.data, b.len, &lb, &out, why, sizeof(why)),
		     MIST_E2BIG);
	json_decref(v);
	buf_destroy(&b);
}
