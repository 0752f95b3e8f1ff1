/*
 * hostcall.c -- MSG_HOST_CALL's codec (the drawing is in hostcall.h).
 */
#include "config.h"
#include "function/hostcall.h"
#include "mist.h"
#include "net/mp.h"

#include <msgpack.h>
#include <string.h>

void
hostcall_pack(struct buf *b, const char *app, const uint8_t *caller,
	      uint32_t caller_len, uint32_t remaining_ms, bool master,
	      const char *method, const char *path, uint32_t path_len,
	      const uint8_t *body, uint32_t body_len)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	buf_reserve(b, 64 + caller_len + path_len + body_len);
	msgpack_pack_array(&pk, 7);
	mp_pack_str(&pk, app);
	if (caller && caller_len)
		buf_append(b, caller, caller_len);
	else
		msgpack_pack_map(&pk, 0);
	msgpack_pack_uint32(&pk, remaining_ms);
	master ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	mp_pack_str(&pk, method);
	msgpack_pack_str_with_body(&pk, path, path_len);
	msgpack_pack_bin_with_body(&pk, body ? (const void *)body : "",
				   body_len);
}

int
hostcall_unpack(const uint8_t *p, size_t len, struct hostcall_req *out)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	struct mp_cur c, caller;
	uint32_t n, cn, mlen;
	uint64_t remaining;
	const char *m;
	size_t used;
	memset(out, 0, sizeof(*out));
	if (len > UINT32_MAX || mp_check(p, len, MP_MAX_DEPTH, &used) != 0 ||
	    used != len)
		return MIST_EPROTO;
	mp_cur_init(&c, p, len);
	if (mp_read_array(&c, &n) != 0 || n < 7 ||
	    mp_read_str(&c, &out->app, &out->app_len) != 0 ||
	    out->app_len == 0 || out->app_len >= HOSTCALL_APP_MAX ||
	    mp_read_obj(&c, &caller) != 0)
		return MIST_EPROTO;
	out->caller = caller.p;
	out->caller_len = (uint32_t)mp_cur_left(&caller);
	if (mp_read_map(&caller, &cn) != 0 ||
	    mp_read_uint(&c, &remaining) != 0 || remaining == 0 ||
	    remaining > UINT32_MAX || mp_read_bool(&c, &out->master) != 0 ||
	    mp_read_str(&c, &m, &mlen) != 0 ||
	    mp_read_str(&c, &out->path, &out->path_len) != 0 ||
	    out->path_len == 0 || out->path_len > HOSTCALL_MAX_PATH ||
	    out->path[0] != '/' ||
	    mp_read_bin(&c, &out->body, &out->body_len) != 0 ||
	    out->body_len > HOSTCALL_MAX_BODY)
		return MIST_EPROTO;
	out->remaining_ms = (uint32_t)remaining;
	if (out->body_len == 0)
		out->body = NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (mp_str_eq(m, mlen, methods[i])) {
			memcpy(out->method, methods[i], strlen(methods[i]) + 1);
			return 0;
		}
	return MIST_EPROTO;
}

void
hostcall_reply_pack(struct buf *b, uint32_t status, const void *body,
		    size_t len)
{
	buf_reserve(b, len + 16);
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, status);
	msgpack_pack_bin_with_body(&pk, len ? body : "", len);
}

int
hostcall_reply_unpack(const uint8_t *p, size_t len, int *status,
		      const uint8_t **body, uint32_t *blen)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t st;
	size_t used;
	if (len > UINT32_MAX || mp_check(p, len, MP_MAX_DEPTH, &used) != 0 ||
	    used != len)
		return MIST_EPROTO;
	mp_cur_init(&c, p, len);
	if (mp_read_array(&c, &n) != 0 || n < 2 || mp_read_uint(&c, &st) != 0 ||
	    st < 100 || st > 599 || mp_read_bin(&c, body, blen) != 0)
		return MIST_EPROTO;
	*status = (int)st;
	return 0;
}
