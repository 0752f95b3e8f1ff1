/*
 * hostframe.c -- the host frames between an executor and its pool (exec.h
 * draws them): packers for the side that writes each, parsers with every
 * bound for the side that reads it.  Pure: no I/O, no state, so the fuzz
 * target (tests/fuzz/fuzz_hostcall.c) reaches them as they run.
 */
#include "config.h"
#include "exec/exec.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"

#include <msgpack.h>
#include <string.h>

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};

void
exec_host_req_pack(struct buf *b, uint64_t seq, uint32_t hid,
		   const char *method, const char *path, size_t path_len,
		   const void *body, size_t body_len)
{
	size_t at = b->len;
	buf_reserve(b, 48 + path_len + body_len);
	b->len += 4;
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint32(&pk, 2);
	msgpack_pack_uint32(&pk, hid);
	mp_pack_str(&pk, method);
	msgpack_pack_str_with_body(&pk, path, path_len);
	msgpack_pack_bin_with_body(&pk, body_len ? body : "", body_len);
	buf_put_u32be(b->data + at, (uint32_t)(b->len - at - 4));
}

int
exec_host_req_parse(const uint8_t *p, size_t n, struct pool_host_req *out)
{
	struct mp_cur c;
	uint32_t len, mlen;
	uint64_t two, hid;
	const char *m;
	size_t used;
	memset(out, 0, sizeof(*out));
	if (mp_check(p, n, MP_MAX_DEPTH, &used) != 0 || used != n)
		return MIST_EPROTO;
	mp_cur_init(&c, p, n);
	if (mp_read_array(&c, &len) != 0 || len != 6 ||
	    mp_read_uint(&c, &out->key) != 0 || mp_read_uint(&c, &two) != 0 ||
	    two != 2 || mp_read_uint(&c, &hid) != 0 || hid == 0 ||
	    hid > UINT32_MAX || mp_read_str(&c, &m, &mlen) != 0 ||
	    mp_read_str(&c, &out->path, &out->path_len) != 0 ||
	    out->path_len == 0 || out->path_len > MIST_HOST_PATH_MAX ||
	    out->path[0] != '/' ||
	    mp_read_bin(&c, &out->body, &out->body_len) != 0 ||
	    out->body_len > MIST_HOST_BODY_MAX)
		return MIST_EPROTO;
	out->hid = (uint32_t)hid;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (mp_str_eq(m, mlen, methods[i]))
			out->method = methods[i];
	return out->method ? 0 : MIST_EPROTO;
}

void
exec_host_reply_pack(struct buf *b, uint64_t seq, uint32_t hid, int status,
		     const void *body, size_t len)
{
	size_t at = b->len;
	buf_reserve(b, 32 + len);
	b->len += 4;
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint32(&pk, hid);
	msgpack_pack_int(&pk, status);
	msgpack_pack_bin_with_body(&pk, len ? body : "", len);
	buf_put_u32be(b->data + at, (uint32_t)(b->len - at - 4));
}

int
exec_host_reply_parse(const uint8_t *p, size_t n, uint64_t *seq,
		      uint32_t *hid, int *status, const uint8_t **body,
		      uint32_t *blen)
{
	struct mp_cur c;
	uint32_t len;
	uint64_t h;
	int64_t st;
	size_t used;
	if (mp_check(p, n, MP_MAX_DEPTH, &used) != 0 || used != n)
		return MIST_EPROTO;
	mp_cur_init(&c, p, n);
	if (mp_read_array(&c, &len) != 0 || len != 4 ||
	    mp_read_uint(&c, seq) != 0 || mp_read_uint(&c, &h) != 0 ||
	    h == 0 || h > UINT32_MAX || mp_read_int(&c, &st) != 0 ||
	    !((st >= 100 && st <= 599) || (st < 0 && st >= -1000)) ||
	    mp_read_bin(&c, body, blen) != 0)
		return MIST_EPROTO;
	*hid = (uint32_t)h;
	*status = (int)st;
	return 0;
}
