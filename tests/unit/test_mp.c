/*
 * test_mp.c -- the table-driven map decoder (net/mp.h): the documented
 * rules one by one, then hostile input -- every truncation, huge declared
 * lengths, deep nesting and random bytes -- which must be refused, never
 * read past nor crashed on (run it under ASan: check.sh does).
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "mist.h"
#include "net/mp.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/rand.h"

/* The table under test: one field of every type. */
struct rec {
	uint64_t node;
	int64_t delta;
	bool flood;
	double speed;
	const char *name;
	uint32_t name_len;
	const uint8_t *key;
	uint32_t key_len;
	const uint8_t *meta;
	uint32_t meta_len;
	uint32_t tags; /* entries of the "tags" array, counted by tags_fn */
	int tags_calls;
	int tags_rc; /* what tags_fn returns */
};

static int
tags_fn(struct mp_cur *v, void *ctx)
{
	struct rec *r = ctx;
	r->tags_calls++;
	if (mp_read_array(v, &r->tags) != 0)
		return MIST_EPROTO;
	/* it may stop early: the decoder moves past the value anyway */
	return r->tags_rc;
}

static int
decode(const struct buf *b, struct rec *r, const char **bad)
{
	const struct mp_field f[] = {
		MP_UINT("node", &r->node, true),
		MP_INT("delta", &r->delta, false),
		MP_BOOL("flood", &r->flood, false),
		MP_DOUBLE("speed", &r->speed, false),
		MP_STR("name", &r->name, &r->name_len, true),
		MP_BIN("key", &r->key, &r->key_len, false),
		MP_OBJ("meta", &r->meta, &r->meta_len, false),
		MP_FN("tags", tags_fn, r, false),
	};
	return mp_decode_fields(b->data, b->len, f, MP_NFIELDS(f), bad);
}

static msgpack_packer pk;
static struct buf b;

static void
setup(void)
{
	buf_destroy(&b);
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
}

static void
teardown(void)
{
	buf_destroy(&b);
}

TestSuite(mp, .init = setup, .fini = teardown);

/* A complete, valid record; @a extra more pairs follow (the caller packs). */
static void
pack_full(uint32_t extra)
{
	msgpack_pack_map(&pk, 8 + extra);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint64(&pk, 0x1122334455667788ull);
	mp_pack_str(&pk, "delta");
	msgpack_pack_int64(&pk, -5);
	mp_pack_str(&pk, "flood");
	msgpack_pack_true(&pk);
	mp_pack_str(&pk, "speed");
	msgpack_pack_double(&pk, 2.5);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, "alpha");
	mp_pack_str(&pk, "key");
	msgpack_pack_bin_with_body(&pk, "\x01\x02\x03", 3);
	mp_pack_str(&pk, "meta");
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "tier");
	mp_pack_str(&pk, "fog");
	mp_pack_str(&pk, "tags");
	msgpack_pack_array(&pk, 2);
	mp_pack_str(&pk, "a");
	mp_pack_str(&pk, "b");
}

Test(mp, every_type_lands_where_the_table_says)
{
	struct rec r = {0};
	const char *bad = "unset";
	pack_full(0);
	cr_assert_eq(decode(&b, &r, &bad), 0);
	cr_assert_null(bad);
	cr_assert_eq(r.node, 0x1122334455667788ull);
	cr_assert_eq(r.delta, -5);
	cr_assert(r.flood);
	cr_assert_eq(r.speed, 2.5);
	cr_assert_eq(r.name_len, 5);
	cr_assert_eq(memcmp(r.name, "alpha", 5), 0);
	cr_assert_eq(r.key_len, 3);
	cr_assert_eq(memcmp(r.key, "\x01\x02\x03", 3), 0);
	cr_assert_eq(r.meta_len, 10, "the whole map, header included");
	cr_assert_eq(r.meta[0], 0x81);
	cr_assert(r.meta >= b.data && r.meta + r.meta_len <= b.data + b.len,
		  "a pointer into the input, not a copy");
	cr_assert_eq(r.tags_calls, 1);
	cr_assert_eq(r.tags, 2);
}

Test(mp, optional_fields_keep_their_defaults)
{
	struct rec r = {.delta = 7, .speed = 1.0};
	msgpack_pack_map(&pk, 2);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, "x");
	mp_pack_str(&pk, "node");
	msgpack_pack_uint8(&pk, 3);
	cr_assert_eq(decode(&b, &r, NULL), 0);
	cr_assert_eq(r.node, 3);
	cr_assert_eq(r.delta, 7);
	cr_assert_eq(r.speed, 1.0);
	cr_assert_null(r.key);
	cr_assert_eq(r.tags_calls, 0);
}

Test(mp, a_missing_required_key_is_named)
{
	struct rec r = {0};
	const char *bad = NULL;
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint8(&pk, 3);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO);
	cr_assert_str_eq(bad, "name");
	buf_reset(&b);
	msgpack_pack_map(&pk, 0);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO);
	cr_assert_str_eq(bad, "node", "the first missing one");
}

Test(mp, a_wrong_type_is_refused_and_named)
{
	/* for each field, a value of another type */
	static const char *const keys[] = {"node", "delta", "flood", "speed",
					   "name", "key"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		struct rec r = {0};
		const char *bad = NULL;
		buf_reset(&b);
		msgpack_pack_map(&pk, 1);
		mp_pack_str(&pk, keys[k]);
		if (k == 4 || k == 5)
			msgpack_pack_uint8(&pk, 1); /* str/bin fields get a uint */
		else
			msgpack_pack_array(&pk, 0);
		cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO, "%s", keys[k]);
		cr_assert_str_eq(bad, keys[k]);
	}
	/* no silent conversions: a str is not a bin, a negative no uint */
	struct rec r = {0};
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "key");
	mp_pack_str(&pk, "abc");
	cr_assert_eq(decode(&b, &r, NULL), MIST_EPROTO);
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "node");
	msgpack_pack_int8(&pk, -1);
	cr_assert_eq(decode(&b, &r, NULL), MIST_EPROTO);
	/* the documented widenings: an integer is a double, a uint an int */
	buf_reset(&b);
	msgpack_pack_map(&pk, 4);
	mp_pack_str(&pk, "speed");
	msgpack_pack_uint8(&pk, 3);
	mp_pack_str(&pk, "delta");
	msgpack_pack_uint8(&pk, 9);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint8(&pk, 1);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, "n");
	cr_assert_eq(decode(&b, &r, NULL), 0);
	cr_assert_eq(r.speed, 3.0);
	cr_assert_eq(r.delta, 9);
}

Test(mp, unknown_keys_are_skipped_whatever_they_hold)
{
	struct rec r = {0};
	pack_full(3);
	mp_pack_str(&pk, "future");
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "deep");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk);
	msgpack_pack_bin_with_body(&pk, "zz", 2);
	mp_pack_str(&pk, "");
	msgpack_pack_float(&pk, 1.5f);
	/* a prefix of a known key is another key */
	mp_pack_str(&pk, "nod");
	mp_pack_str(&pk, "not the node");
	cr_assert_eq(decode(&b, &r, NULL), 0);
	cr_assert_eq(r.node, 0x1122334455667788ull);
	cr_assert_eq(r.name_len, 5);
}

Test(mp, a_known_key_twice_is_refused)
{
	struct rec r = {0};
	const char *bad = NULL;
	pack_full(1);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint8(&pk, 1);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO);
	cr_assert_str_eq(bad, "node");
	/* an unknown key twice is skipped twice */
	buf_reset(&b);
	pack_full(2);
	mp_pack_str(&pk, "x");
	msgpack_pack_uint8(&pk, 1);
	mp_pack_str(&pk, "x");
	msgpack_pack_uint8(&pk, 2);
	cr_assert_eq(decode(&b, &r, &bad), 0);
}

Test(mp, a_callback_error_is_returned_as_is)
{
	struct rec r = {.tags_rc = MIST_EINVAL};
	const char *bad = NULL;
	pack_full(0);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EINVAL);
	cr_assert_str_eq(bad, "tags");
}

Test(mp, not_a_map_or_keys_that_are_not_strings)
{
	struct rec r = {0};
	const char *bad = "unset";
	msgpack_pack_array(&pk, 0);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO);
	cr_assert_null(bad, "the map as a whole is at fault");
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, 1);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO);
	cr_assert_null(bad);
	buf_reset(&b);
	cr_assert_eq(decode(&b, &r, &bad), MIST_EPROTO, "empty input");
}

Test(mp, bytes_after_the_map_are_refused_by_decode_not_by_read)
{
	struct rec r = {0};
	pack_full(0);
	size_t map_len = b.len;
	msgpack_pack_nil(&pk);
	cr_assert_eq(decode(&b, &r, NULL), MIST_EPROTO);
	/* the cursor reader stops after the map and leaves the rest */
	const struct mp_field f[] = {
		MP_UINT("node", &r.node, true),
	};
	struct mp_cur c;
	mp_cur_init(&c, b.data, b.len);
	cr_assert_eq(mp_read_fields(&c, f, MP_NFIELDS(f), NULL), 0);
	cr_assert_eq((size_t)(c.p - b.data), map_len);
	cr_assert(mp_peek_nil(&c));
}

Test(mp, every_truncation_is_refused)
{
	pack_full(0);
	for (size_t len = 0; len < b.len; len++) {
		struct rec r = {0};
		/* a copy of exactly len bytes: ASan sees any read past it */
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, b.data, len);
		struct buf t = {p, len, len};
		cr_assert_eq(decode(&t, &r, NULL), MIST_EPROTO, "%zu bytes", len);
		free(p);
	}
}

Test(mp, huge_declared_lengths_are_refused_before_use)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} cases[] = {
		{"map32 of 2^32-1 pairs", {0xdf, 0xff, 0xff, 0xff, 0xff}, 5},
		{"map16 of 65535 pairs", {0xde, 0xff, 0xff, 0xa1, 'x', 0}, 6},
		{"str32 key of 4 GiB", {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 'n'}, 7},
		{"str32 value of 4 GiB",
		 {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff},
		 11},
		{"bin32 value of 4 GiB",
		 {0x81, 0xa3, 'k', 'e', 'y', 0xc6, 0xff, 0xff, 0xff, 0xff}, 10},
		{"unknown key, array32 of 2^32-1",
		 {0x81, 0xa1, 'z', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00}, 9},
		{"meta obj, map32 of 2^31",
		 {0x81, 0xa4, 'm', 'e', 't', 'a', 0xdf, 0x80, 0, 0, 0}, 11},
		{"tags fn, ext32 of 4 GiB",
		 {0x81, 0xa4, 't', 'a', 'g', 's', 0xc9, 0xff, 0xff, 0xff, 0xff, 1},
		 12},
		{"the never-used tag 0xc1", {0x81, 0xa1, 'z', 0xc1}, 4},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rec r = {0};
		uint8_t *p = malloc(cases[i].len);
		memcpy(p, cases[i].bytes, cases[i].len);
		struct buf t = {p, cases[i].len, cases[i].len};
		cr_assert_eq(decode(&t, &r, NULL), MIST_EPROTO, "%s",
			     cases[i].what);
		cr_assert_eq(r.tags_calls, 0, "%s", cases[i].what);
		free(p);
	}
}

Test(mp, nesting_beyond_the_bound_is_refused)
{
	struct rec r = {0};
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint8(&pk, 1);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, "n");
	mp_pack_str(&pk, "unknown");
	for (int i = 0; i < MP_MAX_DEPTH + 1; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	cr_assert_eq(decode(&b, &r, NULL), MIST_EPROTO);
}

Test(mp, too_many_fields_is_a_programming_error)
{
	uint64_t v[MP_MAX_FIELDS + 1];
	struct mp_field f[MP_MAX_FIELDS + 1];
	for (int i = 0; i <= MP_MAX_FIELDS; i++)
		f[i] = (struct mp_field)MP_UINT("k", &v[i], false);
	msgpack_pack_map(&pk, 0);
	cr_assert_eq(mp_decode_fields(b.data, b.len, f, MP_MAX_FIELDS, NULL), 0);
	cr_assert_eq(mp_decode_fields(b.data, b.len, f, MP_MAX_FIELDS + 1,
				      NULL),
		     MIST_EINVAL);
}

Test(mp, random_bytes_and_mutations_never_crash)
{
	uint64_t seed = tu_seed();
	struct rng rng;
	rng_init(&rng, seed);
	pack_full(0);
	uint8_t *p = malloc(b.len);
	for (int round = 0; round < 20000; round++) {
		struct rec r = {0};
		size_t len;
		if (round % 2) {
			/* a valid record with a few bytes flipped */
			len = b.len;
			memcpy(p, b.data, len);
			for (int k = 0; k < 3; k++)
				p[rng_below(&rng, len)] = (uint8_t)rng_next(&rng);
		} else {
			len = (size_t)rng_below(&rng, b.len + 1);
			for (size_t k = 0; k < len; k++)
				p[k] = (uint8_t)rng_next(&rng);
		}
		struct buf t = {p, len, b.len};
		int rc = decode(&t, &r, NULL);
		cr_assert(rc == 0 || rc == MIST_EPROTO, "round %d: %d", round, rc);
		if (rc == 0) {
			/* whatever was accepted points inside the input */
			cr_assert(r.name >= (const char *)p &&
				  r.name + r.name_len <= (const char *)p + len);
		}
	}
	free(p);
}

Test(mp, read_obj_spans_one_object)
{
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_nil(&pk);
	mp_pack_str(&pk, "after");
	struct mp_cur c, o;
	mp_cur_init(&c, b.data, b.len);
	cr_assert_eq(mp_read_obj(&c, &o), 0);
	cr_assert_eq(mp_cur_left(&o), 3);
	cr_assert_eq(o.p, b.data);
	const char *s;
	uint32_t sl;
	cr_assert_eq(mp_read_str(&c, &s, &sl), 0);
	cr_assert_eq(sl, 5);
	cr_assert_eq(mp_read_obj(&c, &o), MIST_EPROTO, "nothing left");
}

Test(mp, pack_str_packs_the_whole_string)
{
	mp_pack_str(&pk, "");
	mp_pack_str(&pk, "hello");
	cr_assert_eq(b.len, 7);
	cr_assert_eq(memcmp(b.data, "\xa0\xa5hello", 7), 0);
}
