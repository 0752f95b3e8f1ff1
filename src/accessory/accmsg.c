/*
 * accmsg.c -- MSG_ACC_REQUEST's codec (see accmsg.h).
 */
#include "config.h"
#include "accessory/accmsg.h"
#include "mist.h"
#include "net/mp.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

void
acc_request_pack_text(struct buf *b, const char *app, uint8_t op,
		      uint32_t deadline_ms, const uint8_t *caller,
		      size_t caller_len, const char *text, size_t len)
{
	buf_reserve(b, caller_len + len + 96); /* one allocation */
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 5);
	mp_pack_str(&pk, app);
	msgpack_pack_uint8(&pk, op);
	msgpack_pack_uint32(&pk, deadline_ms);
	if (caller != NULL && caller_len > 0)
		buf_append(b, caller, caller_len);
	else
		msgpack_pack_map(&pk, 0);
	msgpack_pack_bin(&pk, len);
	msgpack_pack_bin_body(&pk, text, len);
}

void
acc_request_pack(struct buf *b, const char *app, uint8_t op,
		 uint32_t deadline_ms, const uint8_t *caller, size_t caller_len,
		 const json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	acc_request_pack_text(b, app, op, deadline_ms, caller, caller_len,
			      text ? text : "", text ? strlen(text) : 0);
	free(text);
}

int
acc_reply_unpack(const uint8_t *p, size_t len, int *status,
		 const uint8_t **body, uint32_t *blen, const char **user,
		 uint32_t *ulen)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t st;
	*user = NULL;
	*ulen = 0;
	mp_cur_init(&c, p, len);
	if (mp_read_array(&c, &n) != 0 || n < 2 ||
	    mp_read_uint(&c, &st) != 0 || st < 200 || st > 599 ||
	    mp_read_bin(&c, body, blen) != 0 ||
	    (n > 2 && mp_read_str(&c, user, ulen) != 0))
		return MIST_EPROTO;
	*status = (int)st;
	return 0;
}
