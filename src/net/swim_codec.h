/*
 * swim_codec.h -- private to the SWIM actor: the gossip wire codec.
 *
 * Gossip packets and the member updates they piggyback, the MSG_MEMBER_EVENT
 * body, and the MSG_LINK_UP/DOWN body SWIM reads.  Each is drawn next to its
 * encoder in swim_codec.c (and in docs/PROTOCOL.md, section 5).  Encoders
 * append to a struct buf.  Decoders take untrusted bytes: every length and
 * value is bounded before use; they return 0 or MIST_EPROTO and point into
 * their input (which must outlive what they return) unless said otherwise.
 */
#ifndef MIST_NET_SWIM_CODEC_H_INCLUDED
#define MIST_NET_SWIM_CODEC_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/mp.h"
#include "net/swim_view.h"
#include "util/buf.h"

/* The packet version, its first element. */
#define SWIM_PACKET_VERSION 1
/* Packet types. */
enum { SWIM_PKT_PING, SWIM_PKT_ACK, SWIM_PKT_PING_REQ, SWIM_PKT_NACK,
       SWIM_PKT_GOSSIP, SWIM_PKT_MAX };
/* Update kinds, the first element of an update. */
enum { SWIM_UPD_ALIVE, SWIM_UPD_SUSPECT, SWIM_UPD_DEAD, SWIM_UPD_LEFT };
/* Room for the array header of a packet's updates: at most 255 updates
 * (swim_take_updates), so an array16 (3 bytes) at the most. */
#define SWIM_UPDATES_HEAD_MAX 3
/* Nesting bound of a packet (packet > updates > update > its fields) and
 * of a push/pull body (updates > update > fields), with one level spare. */
#define SWIM_PACKET_DEPTH 4
/* An address as text, "[v6 address]:port" included, and its NUL. */
#define SWIM_ADDR_TEXT 64

/** Packs @a a as address text ("127.0.0.1:7946", "[::1]:7946"). */
void swim_addr_pack(msgpack_packer *pk, const struct sockaddr_storage *a);

/** Appends one update about @a m: ALIVE carries its address, name and
 * metadata; the others (SUSPECT, DEAD, LEFT) name who says so (@a from). */
void swim_update_encode(struct buf *b, const struct swim_member *m, int kind,
			uint64_t from);

/** One decoded update.  The name is copied (NUL-terminated, printable). */
struct swim_update {
	int kind; /* SWIM_UPD_* */
	uint64_t node, inc;
	uint64_t from;		      /* not ALIVE */
	struct sockaddr_storage addr; /* ALIVE */
	char name[SWIM_NAME_MAX];     /* ALIVE */
	const uint8_t *meta;	      /* ALIVE, into the input */
	uint16_t meta_len;
};

/** Decodes the update at @a c and moves past it.  0 or MIST_EPROTO. */
int swim_update_decode(struct mp_cur *c, struct swim_update *u);

/** A decoded packet header. */
struct swim_packet {
	uint32_t type; /* SWIM_PKT_*, checked */
	uint64_t from;
	uint32_t seq;
	uint64_t target; /* 0: nil */
	bool have_taddr;
	struct sockaddr_storage taddr;
	uint32_t nupdates;
};

/**
 * Appends a packet's head: every element but the updates.  @a target 0 and
 * @a taddr NULL are sent as nil.  Complete the packet with
 * swim_packet_end().
 */
void swim_packet_begin(struct buf *b, int type, uint64_t from, uint32_t seq,
		       uint64_t target, const struct sockaddr_storage *taddr);
/** Appends the array of @a n updates already encoded in @a updates. */
void swim_packet_end(struct buf *b, uint32_t n, const struct buf *updates);
/**
 * Decodes a packet's head; on success @a updates is positioned at its
 * first update (h->nupdates of them, each read by swim_update_decode).
 * The whole packet is validated first: the updates are well-formed
 * msgpack, though not yet checked as updates.  0 or MIST_EPROTO.
 */
int swim_packet_decode(const uint8_t *p, size_t len, struct swim_packet *h,
		       struct mp_cur *updates);

/** Appends the MSG_MEMBER_EVENT body for @a m. */
void swim_event_encode(struct buf *b, const struct swim_member *m,
		       enum swim_event ev);

/** The node and "lost" of a MSG_LINK_UP/DOWN body.  0 or MIST_EPROTO. */
int swim_link_event_decode(const uint8_t *p, size_t len, uint64_t *node,
			   bool *lost);

#endif
