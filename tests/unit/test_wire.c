/*
 * test_wire.c -- the bounded msgpack walker, envelopes and frames.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "mist.h"
#include "net/mp.h"
#include "actors/msgtype.h"
#include "net/wire.h"
#include "util/buf.h"

Test(mp, accepts_well_formed_objects)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "a", 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int64(&pk, -5);
	msgpack_pack_double(&pk, 1.5);
	msgpack_pack_str_with_body(&pk, "b", 1);
	msgpack_pack_bin_with_body(&pk, "xyz", 3);
	msgpack_pack_str_with_body(&pk, "c", 1);
	msgpack_pack_nil(&pk);
	size_t used;
	cr_assert_eq(mp_check(b.data, b.len, MP_MAX_DEPTH, &used), 0);
	cr_assert_eq(used, b.len);
	/* every strict prefix is truncated */
	for (size_t n = 0; n < b.len; n++)
		cr_assert_eq(mp_check(b.data, n, MP_MAX_DEPTH, &used),
			     MIST_EPROTO, "prefix %zu accepted", n);
	buf_destroy(&b);
}

Test(mp, refuses_declared_counts_larger_than_the_input)
{
	/* array32 of 2^32-1 elements in 14 bytes: msgpack-c would allocate */
	const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3,
				4,    5,    6,    7,    8,    9};
	size_t used;
	cr_assert_eq(mp_check(bomb, sizeof(bomb), MP_MAX_DEPTH, &used),
		     MIST_EPROTO);
	const uint8_t map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 1, 2};
	cr_assert_eq(mp_check(map, sizeof(map), MP_MAX_DEPTH, &used),
		     MIST_EPROTO);
	const uint8_t str[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
	cr_assert_eq(mp_check(str, sizeof(str), MP_MAX_DEPTH, &used),
		     MIST_EPROTO);
	const uint8_t never[] = {0xc1};
	cr_assert_eq(mp_check(never, 1, MP_MAX_DEPTH, &used), MIST_EPROTO);
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, bomb, sizeof(bomb));
	cr_assert_eq(mp_read_array(&c, &n), MIST_EPROTO,
		     "the reader refuses impossible counts too");
}

Test(mp, bounds_nesting_depth)
{
	uint8_t deep[100];
	memset(deep, 0x91, sizeof(deep)); /* [[[[...]]]] */
	deep[99] = 0xc0;
	size_t used;
	cr_assert_eq(mp_check(deep, sizeof(deep), MP_MAX_DEPTH, &used),
		     MIST_EPROTO);
	cr_assert_eq(mp_check(deep + 100 - 10, 10, MP_MAX_DEPTH, &used), 0);
}

Test(mp, readers_check_types_and_bounds)
{
	const uint8_t in[] = {0xcd, 0x01, 0x02, 0xd0, 0xfe, 0xa2, 'h', 'i'};
	struct mp_cur c;
	uint64_t u;
	int64_t i;
	const char *s;
	uint32_t n;
	mp_cur_init(&c, in, sizeof(in));
	cr_assert_eq(mp_read_str(&c, &s, &n), MIST_EPROTO);
	cr_assert_eq(mp_read_uint(&c, &u), 0);
	cr_assert_eq(u, 0x0102);
	cr_assert_eq(mp_read_int(&c, &i), 0);
	cr_assert_eq(i, -2);
	cr_assert_eq(mp_read_str(&c, &s, &n), 0);
	cr_assert(mp_str_eq(s, n, "hi"));
	cr_assert_eq(mp_read_uint(&c, &u), MIST_EPROTO, "nothing left");
}

static struct msg *
sample(void)
{
	struct msg *m = msg_new(77, "\x92\xa1x\x05", 4);
	m->flags = MSG_F_REQUEST;
	m->status = 0;
	m->from = (struct actor_ref){0x1122334455667788ull, 3};
	m->to = (struct actor_ref){0x8877665544332211ull, 99};
	m->corr = 0xdeadbeefcafeull;
	m->deadline = 1000 + 250;
	return m;
}

Test(wire, envelope_round_trip)
{
	struct msg *m = sample();
	struct buf b = BUF_INIT;
	wire_envelope_encode(&b, m, 1000);
	struct msg *d;
	size_t used;
	cr_assert_eq(wire_envelope_decode(b.data, b.len, 1 << 20, 5000, &d,
					  &used), 0);
	cr_assert_eq(used, b.len);
	cr_assert_eq(d->type, 77);
	cr_assert_eq(d->flags, MSG_F_REQUEST);
	cr_assert_eq(d->from.node, m->from.node);
	cr_assert_eq(d->from.id, 3);
	cr_assert_eq(d->to.node, m->to.node);
	cr_assert_eq(d->to.id, 99);
	cr_assert_eq(d->corr, m->corr);
	cr_assert_eq(d->deadline, 5000 + 250, "time left, on our clock");
	cr_assert_eq(d->len, 4);
	cr_assert_eq(memcmp(d->body, m->body, 4), 0);
	msg_delete(d);
	/* any truncation is refused */
	for (size_t n = 0; n < b.len; n++)
		cr_assert_neq(wire_envelope_decode(b.data, n, 1 << 20, 0, &d,
						   &used), 0);
	/* a body over the limit is refused */
	cr_assert_eq(wire_envelope_decode(b.data, b.len, 3, 0, &d, &used),
		     MIST_E2BIG);
	msg_delete(m);
	buf_destroy(&b);
}

Test(wire, error_replies_keep_their_status)
{
	struct msg *m = msg_new(MSG_ERROR, NULL, 0);
	m->flags = MSG_F_REPLY;
	m->status = MIST_ETIMEDOUT;
	struct buf b = BUF_INIT;
	wire_envelope_encode(&b, m, 0);
	struct msg *d;
	size_t used;
	cr_assert_eq(wire_envelope_decode(b.data, b.len, 100, 0, &d, &used), 0);
	cr_assert_eq(d->status, MIST_ETIMEDOUT);
	cr_assert_eq(d->len, 0, "a nil body decodes to an empty body");
	msg_delete(d);
	msg_delete(m);
	buf_destroy(&b);
}

Test(wire, rejects_other_versions_and_bad_fields)
{
	struct msg *m = sample();
	struct buf b = BUF_INIT;
	wire_envelope_encode(&b, m, 1000);
	struct msg *d;
	size_t used;
	b.data[1] = 2; /* version */
	cr_assert_eq(wire_envelope_decode(b.data, b.len, 1 << 20, 0, &d, &used),
		     MIST_EVERSION);
	b.data[1] = 1;
	b.data[0] = 0x9a; /* 10 fields */
	cr_assert_eq(wire_envelope_decode(b.data, b.len, 1 << 20, 0, &d, &used),
		     MIST_EPROTO);
	b.data[0] = 0x9b;
	b.data[3] = 3; /* flags REQUEST|REPLY */
	cr_assert_eq(wire_envelope_decode(b.data, b.len, 1 << 20, 0, &d, &used),
		     MIST_EPROTO);
	msg_delete(m);
	buf_destroy(&b);
}

static int count_cb_n;
static int
count_cb(void *ctx, struct msg *m)
{
	(void)ctx;
	count_cb_n++;
	msg_delete(m);
	return 0;
}

Test(wire, frames_and_batched_payloads)
{
	struct buf b = BUF_INIT, f = BUF_INIT;
	struct msg *m = sample();
	for (int i = 0; i < 5; i++)
		wire_envelope_encode(&b, m, 1000);
	msg_delete(m);
	wire_frame_header(&f, (uint32_t)b.len);
	buf_append(&f, b.data, b.len);
	const uint8_t *p;
	size_t n;
	cr_assert_eq(wire_frame_parse(f.data, 3, 1 << 20, &p, &n), 0);
	cr_assert_eq(wire_frame_parse(f.data, f.len - 1, 1 << 20, &p, &n), 0);
	cr_assert_eq(wire_frame_parse(f.data, f.len, 1 << 20, &p, &n),
		     (int)f.len);
	cr_assert_eq(n, b.len);
	cr_assert_eq(wire_frame_parse(f.data, 4, 10, &p, &n), MIST_E2BIG,
		     "an oversized length is refused before its bytes arrive");
	count_cb_n = 0;
	cr_assert_eq(wire_payload_decode(p, n, 1 << 20, 0, count_cb, NULL), 0);
	cr_assert_eq(count_cb_n, 5);
	cr_assert_eq(wire_payload_decode(p, 0, 1 << 20, 0, count_cb, NULL),
		     MIST_EPROTO, "an empty frame is an error");
	buf_destroy(&b);
	buf_destroy(&f);
}

#include "net/link.h"

Test(wire, hello_names_must_be_printable)
{
	struct link_hello h = {.name = "ok-name", .tier = "fog",
			       .addr = "127.0.0.1:1", .role = 0};
	struct buf b = BUF_INIT;
	link_hello_encode(&b, &h);
	struct link_hello d;
	cr_assert_eq(link_hello_decode(b.data, b.len, &d), 0);
	cr_assert_str_eq(d.name, "ok-name");
	buf_reset(&b);
	snprintf(h.name, sizeof(h.name), "evil\x1b[2J");
	link_hello_encode(&b, &h);
	cr_assert_eq(link_hello_decode(b.data, b.len, &d), MIST_EPROTO,
		     "escape sequences in a name are refused");
	buf_destroy(&b);
}
