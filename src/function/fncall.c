/*
 * fncall.c -- MSG_FN_CALL's codec (the drawing is in fncall.h).
 */
#include "config.h"
#include "function/fncall.h"
#include "mist.h"
#include "net/mp.h"

#include <msgpack.h>
#include <string.h>

void
fncall_pack(struct buf *b, const char *app, const char *fn,
	    uint32_t deadline_ms, const uint8_t *caller, uint32_t caller_len,
	    const uint8_t *params, uint32_t params_len)
{
	fncall_pack_reads(b, app, fn, deadline_ms, caller, caller_len, params,
			  params_len, NULL, 0);
}

void
fncall_pack_reads(struct buf *b, const char *app, const char *fn,
		  uint32_t deadline_ms, const uint8_t *caller,
		  uint32_t caller_len, const uint8_t *params,
		  uint32_t params_len, const struct fncall_read *reads,
		  uint32_t nreads)
{
	size_t want = caller_len + params_len + 160;
	for (uint32_t i = 0; i < nreads; i++)
		want += reads[i].path_len + reads[i].body_len + 16;
	buf_reserve(b, want); /* one allocation */
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, nreads ? 6 : 5);
	mp_pack_str(&pk, app);
	mp_pack_str(&pk, fn);
	msgpack_pack_uint32(&pk, deadline_ms);
	if (caller)
		buf_append(b, caller, caller_len);
	else
		msgpack_pack_map(&pk, 0);
	msgpack_pack_bin_with_body(&pk, params, params_len);
	if (nreads == 0)
		return;
	msgpack_pack_array(&pk, nreads);
	for (uint32_t i = 0; i < nreads; i++) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_str_with_body(&pk, reads[i].path, reads[i].path_len);
		msgpack_pack_int(&pk, reads[i].status);
		msgpack_pack_bin_with_body(&pk, reads[i].body, reads[i].body_len);
	}
}

int
fncall_read_next(struct mp_cur *c, struct fncall_read *r)
{
	uint32_t k;
	int64_t st;
	const uint8_t *body;
	if (mp_read_array(c, &k) != 0 || k != 3 ||
	    mp_read_str(c, &r->path, &r->path_len) != 0 || r->path_len == 0 ||
	    r->path_len >= FNREAD_PATH_MAX || r->path[0] != '/' ||
	    mp_read_int(c, &st) != 0 || st < 100 || st > 599 ||
	    mp_read_bin(c, &body, &r->body_len) != 0 ||
	    r->body_len > MIST_HOST_BODY_MAX)
		return MIST_EPROTO;
	r->status = (int)st;
	r->body = (const char *)body;
	return 0;
}

/* The declared reads' array at @a c: [[path, status, body]...]. */
static int
fncall_reads(struct mp_cur *c, struct fncall_req *out)
{
	const uint8_t *start = c->p;
	uint32_t n;
	if (mp_read_array(c, &n) != 0 || n > FNCALL_MAX_READS)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		struct fncall_read r;
		if (fncall_read_next(c, &r) != 0)
			return MIST_EPROTO;
	}
	out->nreads = n;
	out->reads = n ? start : NULL;
	out->reads_len = n ? (uint32_t)(c->p - start) : 0;
	return 0;
}

/* One msgpack object filling exactly @a len bytes. */
static bool
fncall_one_object(const uint8_t *p, uint32_t len)
{
	size_t used;
	return mp_check(p, len, MP_MAX_DEPTH, &used) == 0 && used == len;
}

int
fncall_unpack(const uint8_t *p, size_t len, struct fncall_req *out)
{
	struct mp_cur c, caller;
	uint32_t n, cn;
	uint64_t deadline;
	memset(out, 0, sizeof(*out));
	if (len > UINT32_MAX || !fncall_one_object(p, (uint32_t)len))
		return MIST_EPROTO;
	mp_cur_init(&c, p, len);
	if (mp_read_array(&c, &n) != 0 || n < 5 ||
	    mp_read_str(&c, &out->app, &out->app_len) != 0 ||
	    out->app_len == 0 || out->app_len >= FNCALL_APP_MAX ||
	    mp_read_str(&c, &out->fn, &out->fn_len) != 0 ||
	    mp_read_uint(&c, &deadline) != 0 || deadline > UINT32_MAX ||
	    mp_read_obj(&c, &caller) != 0)
		return MIST_EPROTO;
	out->caller = caller.p;
	out->caller_len = (uint32_t)mp_cur_left(&caller);
	if (mp_read_map(&caller, &cn) != 0 ||
	    mp_read_bin(&c, &out->params, &out->params_len) != 0)
		return MIST_EPROTO;
	out->deadline_ms = (uint32_t)deadline;
	if (out->params_len == 0) {
		out->params = (const uint8_t *)"\xc0"; /* nil */
		out->params_len = 1;
	} else if (!fncall_one_object(out->params, out->params_len)) {
		return MIST_EPROTO;
	}
	if (n >= 6 && fncall_reads(&c, out) != 0)
		return MIST_EPROTO;
	return 0;
}

void
fncall_reply_ok_pack(struct buf *b, const uint8_t *result, uint32_t len)
{
	buf_reserve(b, len + 8);
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_bin_with_body(&pk, result, len);
}

void
fncall_reply_fail_pack(struct buf *b, const char *message)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, 1);
	mp_pack_str(&pk, message);
}

int
fncall_reply_unpack(const uint8_t *p, size_t len, int *failed,
		    const uint8_t **data, uint32_t *dlen)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t st;
	if (len > UINT32_MAX || !fncall_one_object(p, (uint32_t)len))
		return MIST_EPROTO;
	mp_cur_init(&c, p, len);
	if (mp_read_array(&c, &n) != 0 || n != 2 || mp_read_uint(&c, &st) != 0 ||
	    st > 1)
		return MIST_EPROTO;
	*failed = (int)st;
	if (st == 0)
		return mp_read_bin(&c, data, dlen) == 0 &&
				       fncall_one_object(*data, *dlen)
			       ? 0
			       : MIST_EPROTO;
	return mp_read_str(&c, (const char **)data, dlen) == 0 ? 0
							       : MIST_EPROTO;
}
