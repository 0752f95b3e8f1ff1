/*
 * test_jobmsg.c -- the codecs of the job machinery: the gossiped node
 * metadata (data/meta.c) and the job messages (data/jobmsg.c).  Each
 * message goes through its encoder and back through its decoder, and the
 * decoders refuse what breaks a bound.
 */
#include "actors/msgtype.h"
#include "data/jobmsg.h"
#include "data/meta.h"
#include "data/place.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/mem.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
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

/* Declared reads (data/meta.h "reads"): written only when there are
 * some, read back by function index; an index past "functions" or a
 * template that is not one drops that entry, not the map. */
Test(meta, declared_reads_travel_by_function_index)
{
	struct meta m, back;
	meta_init(&m);
	m.nfunctions = 2;
	snprintf(m.functions[0], EXEC_NAME_MAX, "hello");
	snprintf(m.functions[1], EXEC_NAME_MAX, "read1");
	struct buf b = BUF_INIT;
	cr_assert_eq(meta_encode(&m, &b), 0);
	size_t without = b.len;
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_eq(back.nreads, 0);
	m.nreads = 1;
	m.reads[0].fn = 1;
	snprintf(m.reads[0].tmpl, MIST_READ_MAX, "/classes/Item/{id}");
	buf_reset(&b);
	cr_assert_eq(meta_encode(&m, &b), 0);
	cr_assert_gt(b.len, without);
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_eq(back.nreads, 1);
	cr_assert_eq(back.reads[0].fn, 1);
	cr_assert_str_eq(back.reads[0].tmpl, "/classes/Item/{id}");
	m.nreads = 3;
	m.reads[0].fn = 2; /* no such function */
	m.reads[1].fn = 0;
	snprintf(m.reads[1].tmpl, MIST_READ_MAX, "/functions/{x}"); /* no form */
	m.reads[2].fn = 1;
	snprintf(m.reads[2].tmpl, MIST_READ_MAX, "/users/{u}");
	buf_reset(&b);
	cr_assert_eq(meta_encode(&m, &b), 0);
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_eq(back.nfunctions, 2, "the functions stay");
	cr_assert_eq(back.nreads, 1, "only the usable read");
	cr_assert_eq(back.reads[0].fn, 1);
	cr_assert_str_eq(back.reads[0].tmpl, "/users/{u}");
	/* a broken shape still refuses the map */
	buf_reset(&b);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "reads", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_str_with_body(&pk, "/users/{u}", 10);
	cr_assert_eq(meta_decode(b.data, (uint32_t)b.len, &back), MIST_EPROTO);
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

/* -------------------------------------------------------------- jobmsg */

Test(jobmsg, task_run_carries_the_inputs_and_their_holders)
{
	struct jobmsg_task_run r = {.owner = 42, .job = 1ull << 32 | 7,
				    .task = 3, .attempt = 1 << 16 | 2,
				    .fn = "simulate", .fn_len = 8,
				    .args = (const uint8_t *)"\x93\x01\x02\x03",
				    .args_len = 4, .nout = 2, .nin = 2};
	uint64_t holders[] = {42, 7};
	struct buf b = BUF_INIT;
	jobmsg_task_run_pack(&b, &r);
	jobmsg_task_run_pack_input(&b, (struct gref){1, 0}, 100, holders, 2);
	jobmsg_task_run_pack_input(&b, (struct gref){2, 1}, 0, NULL, 0);
	size_t used;
	cr_assert_eq(mp_check(b.data, b.len, MP_MAX_DEPTH, &used), 0);
	cr_assert_eq(used, b.len, "one msgpack object");
	struct jobmsg_task_run back;
	struct mp_cur in;
	cr_assert_eq(jobmsg_task_run_unpack(b.data, (uint32_t)b.len, &back, &in), 0);
	cr_assert_eq(back.owner, 42);
	cr_assert_eq(back.job, r.job);
	cr_assert_eq(back.attempt, r.attempt);
	cr_assert_eq(back.fn_len, 8);
	cr_assert_eq(memcmp(back.fn, "simulate", 8), 0);
	cr_assert_eq(back.args_len, 4);
	cr_assert_eq(back.nout, 2);
	cr_assert_eq(back.nin, 2);
	struct jobmsg_input x;
	cr_assert_eq(jobmsg_task_run_next_input(&in, &x), 0);
	cr_assert_eq(x.v.task, 1);
	cr_assert_eq(x.size, 100);
	cr_assert_eq(x.nholders, 2);
	cr_assert_eq(x.holders[1], 7);
	cr_assert_eq(jobmsg_task_run_next_input(&in, &x), 0);
	cr_assert_eq(x.v.out, 1);
	cr_assert_eq(x.nholders, 0);
	cr_assert_eq(mp_cur_left(&in), 0);
	buf_destroy(&b);
}

Test(jobmsg, task_run_bounds_outputs_inputs_and_holders)
{
	struct jobmsg_task_run r = {.fn = "f", .fn_len = 1,
				    .nout = JOBS_MAX_OUTPUTS + 1};
	struct jobmsg_task_run back;
	struct mp_cur in;
	struct buf b = BUF_INIT;
	jobmsg_task_run_pack(&b, &r);
	cr_assert_eq(jobmsg_task_run_unpack(b.data, (uint32_t)b.len, &back, &in),
		     MIST_EPROTO);
	buf_reset(&b);
	r.nout = 1;
	r.nin = 1;
	uint64_t many[GRAPH_MAX_HOLDERS + 1] = {0};
	jobmsg_task_run_pack(&b, &r);
	jobmsg_task_run_pack_input(&b, (struct gref){1, 0}, 1, many,
				   GRAPH_MAX_HOLDERS + 1);
	cr_assert_eq(jobmsg_task_run_unpack(b.data, (uint32_t)b.len, &back, &in), 0);
	struct jobmsg_input x;
	cr_assert_eq(jobmsg_task_run_next_input(&in, &x), MIST_EPROTO);
	/* a count larger than the bytes that follow */
	buf_reset(&b);
	r.nin = 1000;
	jobmsg_task_run_pack(&b, &r);
	cr_assert_eq(jobmsg_task_run_unpack(b.data, (uint32_t)b.len, &back, &in),
		     MIST_EPROTO);
	buf_destroy(&b);
}

/* The layout is the wire's: pinned byte for byte. */
Test(jobmsg, task_done_keeps_its_layout)
{
	uint64_t sizes[] = {1, 300};
	struct gref fetched[] = {{2, 0}};
	struct jobmsg_task_done d = {.job = 5, .owner = 7, .task = 9,
				     .attempt = 3, .status = 0, .exec_us = 70,
				     .nout = 2,
				     .sizes = sizes, .nfetched = 1,
				     .fetched = fetched};
	struct buf b = BUF_INIT;
	jobmsg_task_done_pack(&b, &d);
	static const uint8_t want[] = {
		0x98, 0x05, 0x09, 0x03, 0x00, 0x46, /* job task att st us */
		0x07,				    /* owner */
		0x92, 0x01, 0xcd, 0x01, 0x2c,	    /* sizes [1, 300] */
		0x91, 0x92, 0x02, 0x00};	    /* fetched [[2, 0]] */
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_eq(memcmp(b.data, want, sizeof(want)), 0);
	struct jobmsg_task_done back;
	struct mp_cur rest;
	uint64_t got[JOBS_MAX_OUTPUTS];
	cr_assert_eq(jobmsg_task_done_unpack_head(b.data, (uint32_t)b.len, &back,
						  &rest), 0);
	cr_assert_eq(back.task, 9);
	cr_assert_eq(back.exec_us, 70);
	cr_assert_eq(back.owner, 7);
	cr_assert_eq(jobmsg_task_done_unpack_rest(&rest, &back, got), 0);
	cr_assert_eq(back.nout, 2);
	cr_assert_eq(got[1], 300);
	cr_assert_eq(back.nfetched, 1);
	struct gref r;
	cr_assert_eq(jobmsg_ref_next(&rest, &r), 0);
	cr_assert_eq(r.task, 2);
	buf_destroy(&b);
}

Test(jobmsg, task_done_says_which_input_was_lost_or_why_it_failed)
{
	struct jobmsg_task_done d = {.job = 5, .task = 9, .attempt = 3,
				     .status = MIST_ENOTFOUND,
				     .lost = {4, 1}, .nholders = 2,
				     .holders = {7, 8}};
	struct buf b = BUF_INIT;
	struct jobmsg_task_done back;
	struct mp_cur rest;
	uint64_t got[JOBS_MAX_OUTPUTS];
	jobmsg_task_done_pack(&b, &d);
	cr_assert_eq(jobmsg_task_done_unpack_head(b.data, (uint32_t)b.len, &back,
						  &rest), 0);
	cr_assert_eq(jobmsg_task_done_unpack_rest(&rest, &back, got), 0);
	cr_assert_eq(back.lost.task, 4);
	cr_assert_eq(back.nholders, 2);
	cr_assert_eq(back.holders[1], 8);
	buf_reset(&b);
	d.status = MIST_ETASK;
	d.error = "division by zero";
	d.error_len = 16;
	jobmsg_task_done_pack(&b, &d);
	cr_assert_eq(jobmsg_task_done_unpack_head(b.data, (uint32_t)b.len, &back,
						  &rest), 0);
	cr_assert_eq(back.status, MIST_ETASK);
	cr_assert_eq(jobmsg_task_done_unpack_rest(&rest, &back, got), 0);
	cr_assert_eq(back.error_len, 16);
	cr_assert_eq(memcmp(back.error, "division by zero", 16), 0);
	/* a message longer than any executor sends: malformed */
	char *longer = malloc(EXEC_ERR_MAX);
	memset(longer, 'e', EXEC_ERR_MAX);
	d.error = longer;
	d.error_len = EXEC_ERR_MAX;
	buf_reset(&b);
	jobmsg_task_done_pack(&b, &d);
	cr_assert_eq(jobmsg_task_done_unpack_head(b.data, (uint32_t)b.len, &back,
						  &rest), 0);
	cr_assert_eq(jobmsg_task_done_unpack_rest(&rest, &back, got), MIST_EPROTO);
	free(longer);
	buf_destroy(&b);
}

Test(jobmsg, values_are_read_in_chunks_and_freed_by_list_or_whole)
{
	struct jobmsg_value_get g = {42, 9, {3, 1}, 262144, JOBS_CHUNK}, back;
	struct buf b = BUF_INIT;
	jobmsg_value_get_pack(&b, &g);
	cr_assert_eq(jobmsg_value_get_unpack(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_eq(back.owner, 42);
	cr_assert_eq(back.v.out, 1);
	cr_assert_eq(back.off, 262144);
	cr_assert_eq(back.max, JOBS_CHUNK);
	buf_reset(&b);
	jobmsg_chunk_pack(&b, 5, (const uint8_t *)"abc", 3);
	uint64_t total;
	const uint8_t *chunk;
	uint32_t n;
	cr_assert_eq(jobmsg_chunk_unpack(b.data, (uint32_t)b.len, &total, &chunk,
					 &n), 0);
	cr_assert_eq(total, 5);
	cr_assert_eq(n, 3);
	buf_reset(&b);
	jobmsg_chunk_pack(&b, (uint64_t)JOBS_MAX_VALUE + 1, NULL, 0);
	cr_assert_eq(jobmsg_chunk_unpack(b.data, (uint32_t)b.len, &total, &chunk,
					 &n), MIST_EPROTO);
	struct gref v[] = {{1, 0}, {2, 3}};
	struct jobmsg_value_free f;
	struct mp_cur refs;
	buf_reset(&b);
	jobmsg_value_free_pack(&b, 42, 9, v, 2);
	cr_assert_eq(jobmsg_value_free_unpack(b.data, (uint32_t)b.len, &f, &refs), 0);
	cr_assert(!f.all);
	cr_assert_eq(f.n, 2);
	struct gref r;
	cr_assert_eq(jobmsg_ref_next(&refs, &r), 0);
	cr_assert_eq(jobmsg_ref_next(&refs, &r), 0);
	cr_assert_eq(r.out, 3);
	buf_reset(&b);
	jobmsg_value_free_pack(&b, 42, 9, NULL, 0);
	cr_assert_eq(jobmsg_value_free_unpack(b.data, (uint32_t)b.len, &f, &refs), 0);
	cr_assert(f.all);
	buf_destroy(&b);
}

Test(jobmsg, the_pools_function_list_is_bounded)
{
	const char *names[] = {"f", "g"};
	struct buf b = BUF_INIT;
	jobmsg_functions_pack(&b, names, 2);
	uint32_t n, len;
	struct mp_cur c;
	const char *s;
	cr_assert_eq(jobmsg_functions_unpack(b.data, (uint32_t)b.len, &n, &c), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(jobmsg_functions_next(&c, &s, &len), 0);
	cr_assert_eq(jobmsg_functions_next(&c, &s, &len), 0);
	cr_assert_eq(*s, 'g');
	buf_reset(&b);
	const char *empty[] = {""};
	jobmsg_functions_pack(&b, empty, 1);
	cr_assert_eq(jobmsg_functions_unpack(b.data, (uint32_t)b.len, &n, &c), 0);
	cr_assert_eq(jobmsg_functions_next(&c, &s, &len), MIST_EPROTO);
	buf_destroy(&b);
}

Test(jobmsg, the_lease_answer_lists_attempts_and_is_bounded)
{
	struct buf b = BUF_INIT;
	jobmsg_attempts_pack_head(&b, true, 2);
	jobmsg_attempt_pack(&b, 1ull << 40, 7, 65537);
	jobmsg_attempt_pack(&b, 3, UINT32_MAX, 1);
	bool complete;
	uint32_t n, task, attempt;
	uint64_t job;
	struct mp_cur c;
	cr_assert_eq(jobmsg_attempts_unpack(b.data, (uint32_t)b.len, &complete,
					    &n, &c), 0);
	cr_assert(complete);
	cr_assert_eq(n, 2);
	cr_assert_eq(jobmsg_attempt_next(&c, &job, &task, &attempt), 0);
	cr_assert_eq(job, 1ull << 40);
	cr_assert_eq(task, 7);
	cr_assert_eq(attempt, 65537);
	cr_assert_eq(jobmsg_attempt_next(&c, &job, &task, &attempt), 0);
	cr_assert_eq(task, UINT32_MAX);
	cr_assert_eq(jobmsg_attempt_next(&c, &job, &task, &attempt),
		     MIST_EPROTO, "no third entry");
	/* a list longer than its bytes, or than the bound, is refused */
	buf_reset(&b);
	jobmsg_attempts_pack_head(&b, true, 1000);
	cr_assert_eq(jobmsg_attempts_unpack(b.data, (uint32_t)b.len, &complete,
					    &n, &c), MIST_EPROTO);
	/* a task over u32 is refused */
	buf_reset(&b);
	jobmsg_attempts_pack_head(&b, false, 1);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 1ull << 33);
	msgpack_pack_uint32(&pk, 1);
	cr_assert_eq(jobmsg_attempts_unpack(b.data, (uint32_t)b.len, &complete,
					    &n, &c), 0);
	cr_assert(!complete);
	cr_assert_eq(jobmsg_attempt_next(&c, &job, &task, &attempt),
		     MIST_EPROTO);
	buf_destroy(&b);
}

Test(jobmsg, requests_are_wrapped_and_name_their_job)
{
	struct buf body = BUF_INIT, b = BUF_INIT;
	jobmsg_read_pack(&body, 42, 9, (struct gref){3, 0}, 100);
	jobmsg_request_pack(&b, 77, ROLE_ADMIN, body.data, (uint32_t)body.len);
	struct jobmsg_request rq;
	cr_assert_eq(jobmsg_request_unpack(b.data, (uint32_t)b.len, &rq), 0);
	cr_assert_eq(rq.cred, 77);
	cr_assert_eq(rq.role, ROLE_ADMIN);
	cr_assert_eq(rq.len, body.len);
	uint64_t owner, job, off;
	struct mp_cur rest;
	struct gref v;
	cr_assert_eq(jobmsg_job_unpack(MSG_JOB_READ, rq.body, rq.len, &owner,
				       &job, &rest), 0);
	cr_assert_eq(jobmsg_read_unpack(&rest, &v, &off), 0);
	cr_assert_eq(v.task, 3);
	cr_assert_eq(off, 100);
	/* the same body is not a JOB_WAIT: the arity differs */
	cr_assert_eq(jobmsg_job_unpack(MSG_JOB_WAIT, rq.body, rq.len, &owner,
				       &job, &rest), MIST_EPROTO);
	buf_destroy(&body);
	buf_destroy(&b);
}

Test(jobmsg, a_policy_is_checked_key_by_key)
{
	struct jobmsg_create c, back;
	jobmsg_create_init(&c);
	snprintf(c.name, sizeof(c.name), "sweep");
	c.w_time = 0.5;
	c.w_energy = 2;
	c.tiers = TIER_FOG | TIER_CLOUD;
	c.attempts = 5;
	struct buf b = BUF_INIT;
	jobmsg_create_pack(&b, &c);
	jobmsg_create_init(&back);
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_str_eq(back.name, "sweep");
	cr_assert_float_eq(back.w_energy, 2, 1e-9);
	cr_assert_eq(back.tiers, TIER_FOG | TIER_CLOUD);
	cr_assert_eq(back.attempts, 5);
	cr_assert_eq(back.checkpoint_every, 0, "absent: no checkpoints");
	/* checkpoints: an optional key */
	c.checkpoint_every = 25;
	buf_reset(&b);
	jobmsg_create_pack(&b, &c);
	jobmsg_create_init(&back);
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_eq(back.checkpoint_every, 25);
	cr_assert_eq(back.attempts, 5);
	/* out of bounds: refused, not cut or clamped */
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	char name[JOBMSG_NAME_MAX + 1];
	memset(name, 'n', JOBMSG_NAME_MAX);
	name[JOBMSG_NAME_MAX] = '\0';
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "name");
	pk_str(&pk, name);
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), MIST_EINVAL);
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "attempts");
	msgpack_pack_uint32(&pk, JOBMSG_MAX_ATTEMPTS + 1);
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), MIST_EINVAL);
	uint32_t bad_ckpt[] = {0, JOBMSG_MAX_CHECKPOINT + 1};
	for (int i = 0; i < 2; i++) {
		buf_reset(&b);
		msgpack_pack_map(&pk, 1);
		pk_str(&pk, "checkpoint");
		msgpack_pack_uint32(&pk, bad_ckpt[i]);
		cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back),
			     MIST_EINVAL, "checkpoint %u", bad_ckpt[i]);
	}
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "checkpoint");
	pk_str(&pk, "10");
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), MIST_EPROTO);
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "policy");
	pk_str(&pk, "fastest");
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), MIST_EINVAL);
	buf_reset(&b);
	msgpack_pack_map(&pk, 1);
	pk_str(&pk, "weights");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_double(&pk, -1);
	msgpack_pack_double(&pk, 0);
	msgpack_pack_double(&pk, 0);
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), MIST_EINVAL);
	/* keys apply in order: the later of policy and weights wins */
	buf_reset(&b);
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "policy");
	pk_str(&pk, "energy");
	pk_str(&pk, "weights");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_double(&pk, 0);
	msgpack_pack_double(&pk, 0);
	msgpack_pack_double(&pk, 1);
	jobmsg_create_init(&back);
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_float_eq(back.w_energy, 0, 1e-9);
	cr_assert_float_eq(back.w_cost, 1, 1e-9);
	/* a key twice is refused, as in every map (net/mp.h) */
	buf_reset(&b);
	msgpack_pack_map(&pk, 2);
	pk_str(&pk, "policy");
	pk_str(&pk, "energy");
	pk_str(&pk, "policy");
	pk_str(&pk, "cost");
	cr_assert_eq(jobmsg_create_unpack(b.data, (uint32_t)b.len, &back), MIST_EPROTO);
	buf_destroy(&b);
}

Test(jobmsg, a_batch_is_read_task_by_task_within_bounds)
{
	struct buf b = BUF_INIT;
	struct gref in[] = {{1, 0}};
	struct jobmsg_task t = {"f", 1, (const uint8_t *)"\xc0", 1, 2, 1};
	jobmsg_tasks_pack(&b, 42, 9, 2, 1);
	jobmsg_task_pack(&b, &t, in);
	uint64_t owner, job, first;
	uint32_t n;
	struct mp_cur rest, tasks;
	cr_assert_eq(jobmsg_job_unpack(MSG_JOB_TASKS, b.data, (uint32_t)b.len,
				       &owner, &job, &rest), 0);
	cr_assert_eq(jobmsg_batch_unpack(rest.p, (uint32_t)mp_cur_left(&rest),
					 &first, &n, &tasks), 0);
	cr_assert_eq(first, 2);
	cr_assert_eq(n, 1);
	static struct gref got[JOBS_MAX_INPUTS];
	struct jobmsg_task back;
	cr_assert_eq(jobmsg_task_next(&tasks, &back, got), 0);
	cr_assert_eq(back.nout, 2);
	cr_assert_eq(back.nin, 1);
	cr_assert_eq(got[0].task, 1);
	/* more inputs than a task may read: E2BIG, a clear refusal */
	static struct gref many[JOBS_MAX_INPUTS + 1];
	for (uint32_t i = 0; i <= JOBS_MAX_INPUTS; i++)
		many[i] = (struct gref){1, 0};
	t.nin = JOBS_MAX_INPUTS + 1;
	buf_reset(&b);
	jobmsg_task_pack(&b, &t, many);
	mp_cur_init(&tasks, b.data, b.len);
	cr_assert_eq(jobmsg_task_next(&tasks, &back, got), MIST_E2BIG);
	buf_destroy(&b);
}

Test(jobmsg, replies_round_trip)
{
	struct buf b = BUF_INIT;
	uint64_t x, y;
	jobmsg_ids_pack(&b, 42, 7);
	cr_assert_eq(jobmsg_ids_unpack(b.data, (uint32_t)b.len, &x, &y), 0);
	cr_assert_eq(y, 7);
	int status;
	uint64_t size;
	const char *msg;
	uint32_t mlen;
	buf_reset(&b);
	jobmsg_wait_reply_pack(&b, 0, 12, NULL);
	cr_assert_eq(jobmsg_wait_reply_unpack(b.data, (uint32_t)b.len, &status,
					      &size, &msg, &mlen), 0);
	cr_assert_eq(status, 0);
	cr_assert_eq(size, 12);
	buf_reset(&b);
	jobmsg_wait_reply_pack(&b, MIST_ETASK, 0, "boom");
	cr_assert_eq(jobmsg_wait_reply_unpack(b.data, (uint32_t)b.len, &status,
					      &size, &msg, &mlen), 0);
	cr_assert_eq(status, MIST_ETASK);
	cr_assert_eq(mlen, 4);
	/* a status naming more nodes than it lists says how many more */
	struct jobmsg_status_node nodes[] = {{7, "a", "fog", 1, 2, 0}};
	struct jobmsg_status s = {.owner = 42, .job = 9, .name = "n",
				  .state = "running", .error = "", .tasks = 3,
				  .running = 1, .done = 2, .nnodes = 1,
				  .nodes = nodes, .more_nodes = 5};
	buf_reset(&b);
	jobmsg_list_pack(&b, 1);
	jobmsg_status_pack(&b, &s);
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, b.data, b.len);
	cr_assert_eq(mp_read_array(&c, &n), 0);
	cr_assert_eq(n, 1);
	struct jobmsg_status_view v;
	cr_assert_eq(jobmsg_status_read(&c, &v), 0);
	cr_assert_eq(v.job, 9);
	cr_assert_eq(v.state_len, 7);
	cr_assert_eq(v.done, 2);
	cr_assert_eq(v.nnodes, 1);
	cr_assert_eq(v.more_nodes, 5);
	struct jobmsg_status_node_view nv;
	cr_assert_eq(jobmsg_status_next_node(&v.nodes, &nv), 0);
	cr_assert_eq(nv.node, 7);
	cr_assert_eq(nv.done, 2);
	cr_assert_eq(nv.tier_len, 3);
	cr_assert(!v.has_ckpt, "no checkpoints: no key");
	/* a job with checkpoints has its counters */
	struct jobmsg_ckpt ck = {10, 4, 36, 1, 2};
	s.ckpt = &ck;
	buf_reset(&b);
	jobmsg_status_pack(&b, &s);
	mp_cur_init(&c, b.data, b.len);
	cr_assert_eq(jobmsg_status_read(&c, &v), 0);
	cr_assert(v.has_ckpt);
	cr_assert_eq(v.ckpt.every, 10);
	cr_assert_eq(v.ckpt.copies, 4);
	cr_assert_eq(v.ckpt.bytes, 36);
	cr_assert_eq(v.ckpt.failed, 1);
	cr_assert_eq(v.ckpt.pending, 2);
	cr_assert_eq(v.more_nodes, 5);
	buf_destroy(&b);
}

Test(jobmsg, a_value_copy_names_the_value_its_size_and_holders)
{
	struct jobmsg_value_copy q = {.owner = 42, .job = 9, .epoch = 3,
				      .v = {5, 1}, .size = 1000, .nholders = 2,
				      .holders = {7, 8}}, back;
	struct buf b = BUF_INIT;
	jobmsg_value_copy_pack(&b, &q);
	cr_assert_eq(jobmsg_value_copy_unpack(b.data, (uint32_t)b.len, &back), 0);
	cr_assert_eq(back.owner, 42);
	cr_assert_eq(back.job, 9);
	cr_assert_eq(back.epoch, 3);
	cr_assert_eq(back.v.task, 5);
	cr_assert_eq(back.v.out, 1);
	cr_assert_eq(back.size, 1000);
	cr_assert_eq(back.nholders, 2);
	cr_assert_eq(back.holders[1], 8);
	/* cut short anywhere: refused */
	for (size_t n = 0; n < b.len; n++)
		cr_assert_eq(jobmsg_value_copy_unpack(b.data, (uint32_t)n, &back),
			     MIST_EPROTO, "%zu bytes", n);
	/* out of bounds: no holder, too many, too large, a bad epoch */
	struct jobmsg_value_copy bad[4] = {q, q, q, q};
	bad[0].nholders = 0;
	bad[1].nholders = GRAPH_MAX_HOLDERS + 1;
	bad[2].size = JOBS_MAX_VALUE + 1ull;
	bad[3].epoch = JOBS_MAX_EPOCH + 1;
	uint64_t many[GRAPH_MAX_HOLDERS + 1] = {0};
	for (int i = 0; i < 4; i++) {
		buf_reset(&b);
		if (i == 1) { /* the packer writes what it is given */
			msgpack_packer pk;
			msgpack_packer_init(&pk, &b, buf_msgpack_write);
			msgpack_pack_array(&pk, 7);
			msgpack_pack_uint64(&pk, 42);
			msgpack_pack_uint64(&pk, 9);
			msgpack_pack_uint32(&pk, 3);
			msgpack_pack_uint32(&pk, 5);
			msgpack_pack_uint32(&pk, 1);
			msgpack_pack_uint64(&pk, 1000);
			msgpack_pack_array(&pk, GRAPH_MAX_HOLDERS + 1);
			for (int h = 0; h <= GRAPH_MAX_HOLDERS; h++)
				msgpack_pack_uint64(&pk, many[h]);
		} else {
			jobmsg_value_copy_pack(&b, &bad[i]);
		}
		cr_assert_eq(jobmsg_value_copy_unpack(b.data, (uint32_t)b.len,
						      &back), MIST_EPROTO,
			     "case %d", i);
	}
	/* trailing bytes */
	buf_reset(&b);
	jobmsg_value_copy_pack(&b, &q);
	buf_append(&b, "\xc0", 1);
	cr_assert_eq(jobmsg_value_copy_unpack(b.data, (uint32_t)b.len, &back),
		     MIST_EPROTO);
	buf_destroy(&b);
}

/* A status map written by hand: the keys of an older owner, or hostile
 * ones. */
static void
status_map_old(struct buf *b, const char *extra_key, int extra)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_map(&pk, extra_key ? 3 : 2);
	mp_pack_str(&pk, "job");
	msgpack_pack_uint64(&pk, 9);
	mp_pack_str(&pk, "nodes");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 1);
	mp_pack_str(&pk, "running");
	msgpack_pack_uint32(&pk, 4);
	if (extra_key) {
		mp_pack_str(&pk, extra_key);
		if (extra < 0) { /* a string of -extra bytes */
			char *t = xmalloc((size_t)-extra + 1);
			memset(t, 'x', (size_t)-extra);
			t[-extra] = '\0';
			mp_pack_str(&pk, t);
			free(t);
		} else if (extra == 0) {
			msgpack_pack_uint32(&pk, 5); /* not a map */
		} else { /* recoveries whose words are @a extra bytes */
			char *t = xmalloc((size_t)extra + 1);
			memset(t, 'x', (size_t)extra);
			t[extra] = '\0';
			msgpack_pack_map(&pk, 2);
			mp_pack_str(&pk, "failed_over");
			msgpack_pack_uint32(&pk, 3);
			mp_pack_str(&pk, "last");
			mp_pack_str(&pk, t);
			free(t);
		}
	}
}

static int
status_read_buf(const struct buf *b, struct jobmsg_status_view *v)
{
	struct mp_cur c;
	mp_cur_init(&c, b->data, b->len);
	return jobmsg_status_read(&c, v);
}

Test(jobmsg, the_status_carries_the_operators_view_and_bounds_it)
{
	struct jobmsg_status_node nodes[] = {{7, "a", "fog", 1, 2, 1500},
					     {8, "b", "edge", 0, 3, 0}};
	struct jobmsg_status s = {
		.owner = 42, .job = 9, .name = "n", .state = "running",
		.error = "", .tasks = 9, .running = 1, .done = 5, .ready = 3,
		.nnodes = 2, .nodes = nodes, .ready_oldest_ms = 2500,
		.ready_why = "all 2 nodes offering 'f' are busy",
		.rec = {.nodes_lost = 1, .failed_over = 14, .recomputed = 3,
			.owner_changes = 2, .last_ms = 700,
			.last = "node n2 lost: 14 attempts failed over"}};
	struct buf b = BUF_INIT;
	jobmsg_status_pack(&b, &s);
	struct jobmsg_status_view v;
	cr_assert_eq(status_read_buf(&b, &v), 0);
	cr_assert_eq(v.ready, 3);
	cr_assert_eq(v.ready_oldest_ms, 2500);
	cr_assert_eq(v.ready_why_len, strlen(s.ready_why));
	cr_assert_eq(memcmp(v.ready_why, s.ready_why, v.ready_why_len), 0);
	cr_assert_eq(v.rec.nodes_lost, 1);
	cr_assert_eq(v.rec.failed_over, 14);
	cr_assert_eq(v.rec.recomputed, 3);
	cr_assert_eq(v.rec.owner_changes, 2);
	cr_assert_eq(v.rec.last_ms, 700);
	cr_assert_eq(v.rec.last_len, strlen(s.rec.last));
	struct jobmsg_status_node_view nv;
	cr_assert_eq(jobmsg_status_next_node(&v.nodes, &nv), 0);
	cr_assert_eq(nv.oldest_ms, 1500);
	cr_assert_eq(nv.running, 1);
	cr_assert_eq(jobmsg_status_next_node(&v.nodes, &nv), 0);
	cr_assert_eq(nv.oldest_ms, 0);
	cr_assert_eq(nv.tier_len, 4);
	/* an older owner's map: the new keys read as nothing */
	buf_reset(&b);
	status_map_old(&b, NULL, 0);
	cr_assert_eq(status_read_buf(&b, &v), 0);
	cr_assert_eq(v.job, 9);
	cr_assert_eq(v.ready_oldest_ms + v.rec.failed_over + v.rec.last_ms, 0);
	cr_assert_eq(v.ready_why_len + v.rec.last_len, 0);
	cr_assert_str_eq(v.rec.last, "");
	cr_assert_eq(jobmsg_status_next_node(&v.nodes, &nv), 0);
	cr_assert_eq(nv.running, 4);
	cr_assert_eq(nv.oldest_ms, 0);
	/* a newer one's: keys it does not know are skipped */
	buf_reset(&b);
	status_map_old(&b, "a_later_key", -3);
	cr_assert_eq(status_read_buf(&b, &v), 0);
	/* recoveries that are not a map, or words past the bound: refused */
	buf_reset(&b);
	status_map_old(&b, "recoveries", 0);
	cr_assert_eq(status_read_buf(&b, &v), MIST_EPROTO);
	buf_reset(&b);
	status_map_old(&b, "recoveries", JOBMSG_RECOVERY_TEXT_MAX);
	cr_assert_eq(status_read_buf(&b, &v), 0);
	cr_assert_eq(v.rec.failed_over, 3);
	cr_assert_eq(v.rec.last_len, JOBMSG_RECOVERY_TEXT_MAX);
	buf_reset(&b);
	status_map_old(&b, "recoveries", JOBMSG_RECOVERY_TEXT_MAX + 1);
	cr_assert_eq(status_read_buf(&b, &v), MIST_EPROTO);
	buf_reset(&b);
	status_map_old(&b, "ready_why", -(JOBMSG_WHY_MAX + 1));
	cr_assert_eq(status_read_buf(&b, &v), MIST_EPROTO);
	buf_reset(&b);
	status_map_old(&b, "ready_why", -JOBMSG_WHY_MAX);
	cr_assert_eq(status_read_buf(&b, &v), 0);
	buf_destroy(&b);
}
