/*
 * wire.c -- frame and envelope codec.  The layouts are drawn in wire.h and
 * docs/PROTOCOL.md.
 */
#include "config.h"
#include "net/wire.h"
#include "net/mp.h"
#include "mist.h"

#include <msgpack.h>
#include <string.h>

#define WIRE_ENVELOPE_FIELDS 11

int
wire_frame_parse(const uint8_t *p, size_t len, size_t max_payload,
		 const uint8_t **payload, size_t *plen)
{
	if (len < WIRE_FRAME_HDR)
		return 0;
	uint32_t n = buf_get_u32be(p);
	if (n > max_payload)
		return MIST_E2BIG;
	if (len - WIRE_FRAME_HDR < n)
		return 0;
	*payload = p + WIRE_FRAME_HDR;
	*plen = n;
	return (int)(WIRE_FRAME_HDR + n);
}

void
wire_frame_header(struct buf *out, uint32_t plen)
{
	uint8_t h[WIRE_FRAME_HDR];
	buf_put_u32be(h, plen);
	buf_append(out, h, sizeof(h));
}

void
wire_envelope_encode(struct buf *out, const struct msg *m, uint64_t now)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	uint64_t timeout = 0;
	if (m->deadline) {
		/* An expired deadline still travels as 1 ms: "already late". */
		timeout = m->deadline > now ? m->deadline - now : 1;
		if (timeout > UINT32_MAX)
			timeout = UINT32_MAX;
	}
	msgpack_pack_array(&pk, WIRE_ENVELOPE_FIELDS);
	msgpack_pack_uint8(&pk, WIRE_VERSION);
	msgpack_pack_uint32(&pk, m->type);
	msgpack_pack_uint16(&pk, m->flags & (MSG_F_REQUEST | MSG_F_REPLY));
	msgpack_pack_int16(&pk, m->status);
	msgpack_pack_uint64(&pk, m->from.node);
	msgpack_pack_uint32(&pk, m->from.id);
	msgpack_pack_uint64(&pk, m->to.node);
	msgpack_pack_uint32(&pk, m->to.id);
	msgpack_pack_uint64(&pk, m->corr);
	msgpack_pack_uint32(&pk, (uint32_t)timeout);
	if (m->len)
		buf_append(out, m->body, m->len);
	else
		msgpack_pack_nil(&pk);
}

static int
wire_u(struct mp_cur *c, uint64_t max, uint64_t *v)
{
	if (mp_read_uint(c, v) != 0 || *v > max)
		return MIST_EPROTO;
	return 0;
}

int
wire_envelope_decode(const uint8_t *p, size_t len, size_t max_body,
		     uint64_t now, struct msg **out, size_t *used)
{
	size_t total;
	if (mp_check(p, len, MP_MAX_DEPTH, &total) != 0)
		return MIST_EPROTO;
	struct mp_cur c;
	mp_cur_init(&c, p, total);
	uint32_t n;
	uint64_t version, type, flags, from_node, from_id, to_node, to_id;
	uint64_t corr, timeout;
	int64_t status;
	if (mp_read_array(&c, &n) != 0 || n != WIRE_ENVELOPE_FIELDS)
		return MIST_EPROTO;
	if (wire_u(&c, UINT8_MAX, &version) != 0)
		return MIST_EPROTO;
	if (version != WIRE_VERSION)
		return MIST_EVERSION;
	if (wire_u(&c, UINT32_MAX, &type) ||
	    wire_u(&c, MSG_F_REQUEST | MSG_F_REPLY, &flags) ||
	    mp_read_int(&c, &status) || status > 0 || status < INT16_MIN ||
	    wire_u(&c, UINT64_MAX, &from_node) ||
	    wire_u(&c, UINT32_MAX, &from_id) ||
	    wire_u(&c, UINT64_MAX, &to_node) ||
	    wire_u(&c, UINT32_MAX, &to_id) || wire_u(&c, UINT64_MAX, &corr) ||
	    wire_u(&c, UINT32_MAX, &timeout))
		return MIST_EPROTO;
	if (flags == (MSG_F_REQUEST | MSG_F_REPLY))
		return MIST_EPROTO;
	/* the body is what is left of the validated object */
	size_t blen = mp_cur_left(&c);
	if (blen > max_body)
		return MIST_E2BIG;
	struct msg *m;
	if (blen == 1 && *c.p == 0xc0)
		m = msg_new((uint32_t)type, NULL, 0); /* nil body */
	else
		m = msg_new((uint32_t)type, c.p, (uint32_t)blen);
	m->flags = (uint16_t)flags;
	m->status = (int16_t)status;
	m->from.node = from_node;
	m->from.id = (uint32_t)from_id;
	m->to.node = to_node;
	m->to.id = (uint32_t)to_id;
	m->corr = corr;
	m->deadline = timeout ? now + timeout : 0;
	*out = m;
	*used = total;
	return 0;
}

int
wire_payload_decode(const uint8_t *p, size_t len, size_t max_body,
		    uint64_t now, wire_msg_cb cb, void *ctx)
{
	if (len == 0)
		return MIST_EPROTO; /* a frame carries at least one envelope */
	while (len > 0) {
		struct msg *m;
		size_t used;
		int rc = wire_envelope_decode(p, len, max_body, now, &m, &used);
		if (rc != 0)
			return rc;
		p += used;
		len -= used;
		if ((rc = cb(ctx, m)) != 0)
			return rc;
	}
	return 0;
}

size_t
wire_payload_prefix(const uint8_t *p, size_t len, size_t max)
{
	size_t cut = 0, used;
	while (cut < len &&
	       mp_check(p + cut, len - cut, MP_MAX_DEPTH, &used) == 0 &&
	       cut + used <= max)
		cut += used;
	return cut;
}
