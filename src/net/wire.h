/*
 * wire.h -- frames and envelopes: the bytes between nodes.
 *
 * A frame is a 4-byte big-endian length and that many bytes.  On a link the
 * frame's bytes are one Noise transport message (ciphertext + 16-byte tag);
 * its plaintext is one or more envelopes back to back, so a busy link pays
 * for one encryption and one write per batch, not per message.
 *
 *   frame:     +--------+--------+--------+--------+======================+
 *              |   length N (u32, big-endian)      |  N bytes             |
 *              +--------+--------+--------+--------+======================+
 *
 *   envelope:  msgpack array of 11
 *              [ version   uint  (1)
 *                type      uint  (msgtype.h)
 *                flags     uint  (REQUEST 1 | REPLY 2; LOCAL never on wire)
 *                status    int   (0, or a MIST_E* code in error replies)
 *                from_node uint64   from_actor uint32
 *                to_node   uint64   to_actor   uint32
 *                corr      uint64 (0 unless request or reply)
 *                timeout   uint32 ms left until the deadline (0 = none)
 *                body      one msgpack object ]
 *
 * Deadlines travel as time left, not as a clock reading: nodes' clocks are
 * not synchronised, and the transit time is small against any deadline we
 * set.  The receiver turns it back into an absolute time on its own clock.
 *
 * Decoding validates with mp_check() first: sizes, counts and depth are
 * proven against the bytes present before a single byte is allocated, and
 * the message allocated is exactly header + body.
 */
#ifndef MIST_NET_WIRE_H_INCLUDED
#define MIST_NET_WIRE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "actors/msg.h"
#include "util/buf.h"

#define WIRE_VERSION 1
#define WIRE_FRAME_HDR 4
/** Default bound on one frame (agent option --max-frame). */
#define WIRE_DEFAULT_MAX_FRAME (1u << 20)

/**
 * Looks for one frame at @a p.  Returns the bytes it occupies (> 0) and sets
 * @a payload / @a plen; 0 when more bytes are needed; MIST_E2BIG when the
 * declared length exceeds @a max_payload (checked before waiting for it).
 */
int wire_frame_parse(const uint8_t *p, size_t len, size_t max_payload,
		     const uint8_t **payload, size_t *plen);
/** Appends a frame header for @a plen bytes. */
void wire_frame_header(struct buf *out, uint32_t plen);

/** Appends the envelope of @a m; @a now is the local clock (ms). */
void wire_envelope_encode(struct buf *out, const struct msg *m, uint64_t now);
/**
 * Decodes one envelope at @a p; on success *out is a new message (caller
 * owns it) and *used the bytes consumed.  MIST_EPROTO on malformed input,
 * MIST_EVERSION on another version, MIST_E2BIG when the body exceeds
 * @a max_body.
 */
int wire_envelope_decode(const uint8_t *p, size_t len, size_t max_body,
			 uint64_t now, struct msg **out, size_t *used);

/**
 * The longest prefix of the envelopes at @a p (@a len bytes, as encoded by
 * wire_envelope_encode) that is at most @a max bytes: where a batch must be
 * cut into frames.  0 if the first envelope alone is larger.
 */
size_t wire_payload_prefix(const uint8_t *p, size_t len, size_t max);

typedef int (*wire_msg_cb)(void *ctx, struct msg *m);
/**
 * Decodes every envelope of a frame's plaintext and hands each message to
 * @a cb (which takes ownership).  Stops at the first error (returned) or the
 * first non-zero return of @a cb.  Either the whole payload is well formed
 * up to that point or nothing after it is delivered.
 */
int wire_payload_decode(const uint8_t *p, size_t len, size_t max_body,
			uint64_t now, wire_msg_cb cb, void *ctx);

#endif
