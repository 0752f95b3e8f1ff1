/*
 * test_jobmsg.c -- the codecs of the job machinery: the gossiped node
 * metadata (data/meta.c) and the job messages (data/jobmsg.c).  Each
 * message goes through its encoder and back through its decoder, and the
 * decoders refuse what breaks a bound.
 */
#include "data/meta.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

/* ---------------------------------------------------------------- meta */

Test(meta, what_the_agent_writes_the_data_manager_reads)
{
	struct meta m, back;
	meta_init(&m);
	snprintf(m.gateway, sizeof(m.gateway), "127.0.0.1:4000");
	snprintf(m.tier, sizeof(m.tier), "cloud");
	m.cores = 16;
	m.speed = 3.0;
	m.power = 200;
	m.price = 1.5;
	m.load = 0.25;
	m.nfunctions = 2;
	snprintf(m.functions[0], EXEC_NAME_MAX, "simulate");
	snprintf(m.functions[1], EXEC_NAME_MAX, "get_best");
	m.ntags = 1;
	snprintf(m.tags[0][0], META_TAG_MAX, "rack");
	snprintf(m.tags[0][1], META_TAG_MAX, "r7");
	struct buf b = BUF_INIT;
	cr_assert_eq(meta_encode(&m, &b), 0);
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_str_eq(back.gateway, "127.0.0.1:4000");
	cr_assert_str_eq(back.tier, "cloud");
	cr_assert_eq(back.cores, 16);
	cr_assert_float_eq(back.speed, 3.0, 1e-9);
	cr_assert_float_eq(back.power, 200, 1e-9);
	cr_assert_float_eq(back.price, 1.5, 1e-9);
	cr_assert_float_eq(back.load, 0.25, 1e-9);
	cr_assert_eq(back.nfunctions, 2);
	cr_assert_str_eq(back.functions[1], "get_best");
	cr_assert_eq(back.ntags, 1);
	cr_assert_str_eq(back.tags[0][1], "r7");
	buf_destroy(&b);
}

Test(meta, too_much_to_gossip_is_refused_by_the_encoder)
{
	struct meta m;
	meta_init(&m);
	m.nfunctions = 40;
	for (uint32_t i = 0; i < m.nfunctions; i++)
		snprintf(m.functions[i], EXEC_NAME_MAX, "function_number_%u", i);
	struct buf b = BUF_INIT;
	cr_assert_eq(meta_encode(&m, &b), MIST_E2BIG);
	buf_destroy(&b);
}

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

Test(meta, unknown_keys_are_skipped_and_missing_ones_default)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "from_the_future");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	pk_str(&pk, "cores");
	msgpack_pack_uint32(&pk, 4);
	struct meta m;
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &m), 0);
	cr_assert_eq(m.cores, 4);
	cr_assert_float_eq(m.speed, 1.0, 1e-9);
	cr_assert_str_eq(m.tier, "");
	cr_assert_eq(m.nfunctions, 0);
	buf_destroy(&b);
}

Test(meta, a_broken_bound_refuses_the_whole_map)
{
	char longname[EXEC_NAME_MAX + 1];
	memset(longname, 'x', EXEC_NAME_MAX);
	longname[EXEC_NAME_MAX] = '\0';
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	struct meta m;
	/* a function name longer than any executor accepts */
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "functions");
	msgpack_pack_array(&pk, 1);
	pk_str(&pk, longname);
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &m), MIST_EPROTO);
	/* more tags than an agent writes */
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "tags");
	msgpack_pack_map(&pk, META_MAX_TAGS + 1);
	for (int i = 0; i <= META_MAX_TAGS; i++) {
		char k[8];
		snprintf(k, sizeof(k), "k%d", i);
		pk_str(&pk, k);
		pk_str(&pk, "v");
	}
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &m), MIST_EPROTO);
	/* a count that the bytes cannot hold, and a wrong type */
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "cores");
	pk_str(&pk, "many");
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &m), MIST_EPROTO);
	const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
	cr_assert_eq(meta_decode(huge, sizeof(huge), &m), MIST_EPROTO);
	buf_destroy(&b);
}
