/*
 * swim_codec.c -- the gossip wire codec (SWIM with Lifeguard, net/swim.c).
 *
 * A gossip datagram is sealed by the transport (net/keyring.h: key id,
 * nonce, XChaCha20-Poly1305); what is drawn here is its plaintext, at most
 * SWIM_MAX_PACKET (1400) bytes.  Everything is msgpack; the drawings are
 * collected in docs/PROTOCOL.md, section 5.  Push/pull (MSG_SWIM_SYNC)
 * travels over the encrypted links as an actor request whose body is an
 * array of the same updates.
 *
 * Decoders take bytes from the network: every length is bounded (mp.h),
 * every count is checked against the bytes left, names must be printable
 * and addresses must parse, before anything is used.
 */
#include "config.h"
#include "net/swim_codec.h"
#include "mist.h"
#include "net/addr.h"
#include "util/text.h"

#include <msgpack.h>
#include <string.h>

const char *
swim_status_name(enum swim_status s)
{
	static const char *const n[] = {"alive", "suspect", "dead", "left"};
	return n[s];
}

const char *
swim_event_name(enum swim_event e)
{
	static const char *const n[] = {"join", "alive", "suspect", "dead",
					"left", "updated"};
	return n[e];
}

void
swim_addr_pack(msgpack_packer *pk, const struct sockaddr_storage *a)
{
	char text[SWIM_ADDR_TEXT];
	addr_format((const struct sockaddr *)a, text, sizeof(text));
	mp_pack_str(pk, text);
}

/* Reads an address packed by swim_addr_pack.  0 or MIST_EPROTO. */
static int
read_addr(struct mp_cur *c, struct sockaddr_storage *out)
{
	const char *a;
	uint32_t al;
	char text[SWIM_ADDR_TEXT];
	if (mp_read_str(c, &a, &al) != 0 || al >= sizeof(text))
		return MIST_EPROTO;
	memcpy(text, a, al);
	text[al] = '\0';
	return addr_parse(text, out) == 0 ? 0 : MIST_EPROTO;
}

/* -------------------------------------------------------------- updates */

/*
 * update = [0 ALIVE,   node u64, incarnation u64, addr str, name str, meta bin]
 *        | [1 SUSPECT, node u64, incarnation u64, from u64]
 *        | [2 DEAD,    node u64, incarnation u64, from u64]
 *        | [3 LEFT,    node u64, incarnation u64, from u64]
 *
 *   node        the member's id (a hash of its public key), never 0
 *   incarnation its life: boots << 32, raised by each refutation or change
 *   addr        where it gossips and links ("IP:PORT", < 64 bytes)
 *   name        printable, 1..63 bytes, unique among live members
 *   meta        a msgpack map of at most SWIM_MAX_META (512) bytes, opaque
 *   from        the member that raised the suspicion or declared it
 */
void
swim_update_encode(struct buf *b, const struct swim_member *m, int kind,
		   uint64_t from)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	if (kind == SWIM_UPD_ALIVE) {
		msgpack_pack_array(&pk, 6);
		msgpack_pack_uint8(&pk, SWIM_UPD_ALIVE);
		msgpack_pack_uint64(&pk, m->node);
		msgpack_pack_uint64(&pk, m->inc);
		swim_addr_pack(&pk, &m->addr);
		mp_pack_str(&pk, m->name);
		msgpack_pack_bin_with_body(&pk, m->meta, m->meta_len);
	} else {
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint8(&pk, (uint8_t)kind);
		msgpack_pack_uint64(&pk, m->node);
		msgpack_pack_uint64(&pk, m->inc);
		msgpack_pack_uint64(&pk, from);
	}
}

int
swim_update_decode(struct mp_cur *c, struct swim_update *u)
{
	uint32_t n;
	uint64_t kind;
	if (mp_read_array(c, &n) != 0 || n < 4 || mp_read_uint(c, &kind) != 0 ||
	    mp_read_uint(c, &u->node) != 0 || mp_read_uint(c, &u->inc) != 0)
		return MIST_EPROTO;
	if (u->node == 0)
		return MIST_EPROTO;
	if (kind == SWIM_UPD_ALIVE) {
		const char *nm;
		const uint8_t *meta;
		uint32_t nl, ml;
		if (n != 6 || read_addr(c, &u->addr) != 0 ||
		    mp_read_str(c, &nm, &nl) != 0 || nl >= sizeof(u->name) ||
		    nl == 0 || mp_read_bin(c, &meta, &ml) != 0 ||
		    ml > SWIM_MAX_META)
			return MIST_EPROTO;
		memcpy(u->name, nm, nl);
		u->name[nl] = '\0';
		if (!text_is_printable(u->name, nl))
			return MIST_EPROTO;
		u->kind = SWIM_UPD_ALIVE;
		u->meta = meta;
		u->meta_len = (uint16_t)ml;
		return 0;
	}
	if (n != 4 || kind > SWIM_UPD_LEFT || mp_read_uint(c, &u->from) != 0)
		return MIST_EPROTO;
	u->kind = (int)kind;
	return 0;
}

/* -------------------------------------------------------------- packets */

/*
 * packet = msgpack array of 7:
 * +---+------+------+-----+--------------+----------------+-----------------+
 * | 1 | type | from | seq | target       | target addr    | [update, ...]   |
 * +---+------+------+-----+--------------+----------------+-----------------+
 *       uint   u64    u32   u64 | nil       str | nil        piggybacked
 * type: 0 PING      (target: the node meant; a ping for another is ignored)
 *       1 ACK       (seq of the ping answered)
 *       2 PING_REQ  (ping target at target addr for me; answer ACK with my seq)
 *       3 NACK      (Lifeguard: I asked the target and got nothing in time)
 *       4 GOSSIP    (updates only)
 *
 * The updates fill what room the head leaves in SWIM_MAX_PACKET, least
 * sent first, 255 at most.
 */
void
swim_packet_begin(struct buf *b, int type, uint64_t from, uint32_t seq,
		  uint64_t target, const struct sockaddr_storage *taddr)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_uint8(&pk, SWIM_PACKET_VERSION);
	msgpack_pack_uint8(&pk, (uint8_t)type);
	msgpack_pack_uint64(&pk, from);
	msgpack_pack_uint32(&pk, seq);
	if (target)
		msgpack_pack_uint64(&pk, target);
	else
		msgpack_pack_nil(&pk);
	if (taddr != NULL)
		swim_addr_pack(&pk, taddr);
	else
		msgpack_pack_nil(&pk);
}

void
swim_packet_end(struct buf *b, uint32_t n, const struct buf *updates)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, n);
	buf_append(b, updates->data, updates->len);
}

int
swim_packet_decode(const uint8_t *p, size_t len, struct swim_packet *h,
		   struct mp_cur *updates)
{
	size_t used;
	if (mp_check(p, len, SWIM_PACKET_DEPTH, &used) != 0 || used != len)
		return MIST_EPROTO;
	struct mp_cur c;
	uint32_t n;
	uint64_t version, type, seq;
	memset(h, 0, sizeof(*h));
	mp_cur_init(&c, p, len);
	if (mp_read_array(&c, &n) != 0 || n != 7 ||
	    mp_read_uint(&c, &version) != 0 || version != SWIM_PACKET_VERSION ||
	    mp_read_uint(&c, &type) != 0 || type >= SWIM_PKT_MAX ||
	    mp_read_uint(&c, &h->from) != 0 || mp_read_uint(&c, &seq) != 0 ||
	    seq > UINT32_MAX)
		return MIST_EPROTO;
	h->type = (uint32_t)type;
	h->seq = (uint32_t)seq;
	if (mp_peek_nil(&c))
		mp_read_nil(&c);
	else if (mp_read_uint(&c, &h->target) != 0)
		return MIST_EPROTO;
	if (mp_peek_nil(&c)) {
		mp_read_nil(&c);
	} else {
		if (read_addr(&c, &h->taddr) != 0)
			return MIST_EPROTO;
		h->have_taddr = true;
	}
	if (mp_read_array(&c, &h->nupdates) != 0)
		return MIST_EPROTO;
	*updates = c;
	return 0;
}

/* ------------------------------------------------------- member events */

/*
 * MSG_MEMBER_EVENT, to the local subscribers (MSG_SWIM_SUBSCRIBE):
 *
 *   {"event": "join"|"alive"|"suspect"|"dead"|"left"|"updated",
 *    "node": u64, "name": str, "addr": str, "status": str,
 *    "incarnation": u64, "meta": bin (a msgpack map)}
 */
void
swim_event_encode(struct buf *b, const struct swim_member *m,
		  enum swim_event ev)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_map(&pk, 7);
	mp_pack_str(&pk, "event");
	mp_pack_str(&pk, swim_event_name(ev));
	mp_pack_str(&pk, "node");
	msgpack_pack_uint64(&pk, m->node);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, m->name);
	mp_pack_str(&pk, "addr");
	swim_addr_pack(&pk, &m->addr);
	mp_pack_str(&pk, "status");
	mp_pack_str(&pk, swim_status_name(m->status));
	mp_pack_str(&pk, "incarnation");
	msgpack_pack_uint64(&pk, m->inc);
	mp_pack_str(&pk, "meta");
	msgpack_pack_bin_with_body(&pk, m->meta, m->meta_len);
}

int
swim_event_decode(const uint8_t *p, size_t len, struct swim_event_view *v)
{
	const char *ev = NULL;
	uint32_t evlen = 0;
	memset(v, 0, sizeof(*v));
	const struct mp_field f[] = {
		MP_STR("event", &ev, &evlen, true),
		MP_UINT("node", &v->node, false),
		MP_UINT("incarnation", &v->incarnation, false),
		MP_STR("name", &v->name, &v->name_len, true),
		MP_BIN("meta", &v->meta, &v->meta_len, false),
	};
	if (mp_decode_fields(p, len, f, MP_NFIELDS(f), NULL) != 0)
		return MIST_EPROTO;
	for (int e = SWIM_EV_JOIN; e <= SWIM_EV_UPDATED; e++)
		if (mp_str_eq(ev, evlen, swim_event_name(e))) {
			v->event = (enum swim_event)e;
			return 0;
		}
	return MIST_EPROTO;
}

/* --------------------------------------------------------- link events */

/*
 * MSG_LINK_UP and MSG_LINK_DOWN (from net/link.c): a map of which SWIM
 * reads "node": u64 (required) and, on a DOWN, "lost": bool -- the peer's
 * side closed or reset the link.  Other keys (name, tier, addr) are
 * skipped.
 */
int
swim_link_event_decode(const uint8_t *p, size_t len, uint64_t *node,
		       bool *lost)
{
	*lost = false;
	const struct mp_field f[] = {
		MP_UINT("node", node, true),
		MP_BOOL("lost", lost, false),
	};
	return mp_decode_fields(p, len, f, MP_NFIELDS(f), NULL) == 0
		       ? 0
		       : MIST_EPROTO;
}
