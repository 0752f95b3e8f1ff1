/*
 * native_proto.h -- the native client protocol, libmist <-> gateway: what
 * both ends must agree on.  It includes no event loop and no store, so the
 * client library (client/mist.c) builds without libuv or LMDB; the
 * gateway's side is gateway/native.c.
 *
 * Clients connect over TCP to the gateway address and speak
 *
 *     Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b, prologue "mist/client/1" + id
 *
 * keyed by their credential: an id (8 bytes, sent in clear so the gateway
 * can find the key) and a 32-byte secret used as the PSK.  One round trip:
 *
 *   client                                           gateway
 *     -> [len][2][id: 8][psk, e + payload]    payload = [ts_ms, envelopes...]
 *     <- [len][e, ee]                         handshake done
 *     <- [len][sealed envelopes]              replies to the first requests
 *     <=> [len][sealed envelopes]             further requests and replies
 *
 * The first two frames are raw (unsealed) frames of the sealed stream;
 * after them both ends key it with Split() and every frame is sealed and
 * rekeyed exactly as on a link (net/stream.h: every STREAM_REKEY_FRAMES
 * frames in each direction).
 *
 * The version byte says which rule the stream follows: version 2
 * (GATEWAY_VERSION, what libmist sends) rekeys; version 1
 * (GATEWAY_VERSION_NOREKEY, libmist and gateways from before the rekey
 * rule) never does.  The gateway serves both, each with its rule, so old
 * clients keep working; an old gateway refuses a version-2 first frame
 * (a hang-up at connect: MIST_EAUTH), never a stream that breaks after
 * 2^20 frames.  Any other version is refused.  Either end refuses a frame over its bound:
 * GATEWAY_HELLO_MAX for the first, GATEWAY_REPLY_MAX for the second,
 * max_frame + 16 for sealed ones.
 *
 * The first message's payload is encrypted under the PSK but, as in every
 * 0-RTT design, could be replayed by someone who recorded it: the gateway
 * refuses a first message whose client timestamp is more than
 * GATEWAY_SKEW_MS away from its clock, or whose ephemeral key it has seen
 * within twice that window.  A refused handshake is a hang-up without a
 * word (the client reports MIST_EAUTH).
 *
 * A credential's text form is "mist1:<id, 16 hex>:<secret, 64 hex>".
 */
#ifndef MIST_GATEWAY_NATIVE_PROTO_H_INCLUDED
#define MIST_GATEWAY_NATIVE_PROTO_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "net/noise.h"

#define GATEWAY_PROTOCOL "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b"
#define GATEWAY_PROLOGUE "mist/client/1"
/* The first frame's version byte: the stream rekeys (see above). */
#define GATEWAY_VERSION 2
/* The oldest version still served: its stream never rekeys. */
#define GATEWAY_VERSION_NOREKEY 1
/*
 * 2 minutes of clock skew accepted in a first message: devices without
 * NTP drift by seconds a day, and a phone's clock may be a minute off;
 * the replay cache must remember ephemeral keys for twice this.
 */
#define GATEWAY_SKEW_MS 120000
/** A credential id: 8 bytes, big-endian on the wire. */
#define CRED_ID_LEN 8
/** "mist1:" + 16 hex + ":" + 64 hex */
#define CRED_TEXT_LEN 87
/** The first frame's bytes before the Noise message: version, id. */
#define GATEWAY_HELLO_HDR (1 + CRED_ID_LEN)
/** Bound on the first frame: the header and one Noise message. */
#define GATEWAY_HELLO_MAX (GATEWAY_HELLO_HDR + NOISE_MAX_MSG)
/** Bound on the second frame: e (32) and the tag of an empty payload. */
#define GATEWAY_REPLY_MAX (NOISE_DHLEN + NOISE_TAGLEN)
/** The prologue: GATEWAY_PROLOGUE then the id's 8 bytes. */
#define GATEWAY_PROLOGUE_LEN (sizeof(GATEWAY_PROLOGUE) - 1 + CRED_ID_LEN)

/** Writes credential id @a id as its 8 wire bytes. */
void cred_id_put(uint8_t out[CRED_ID_LEN], uint64_t id);
/** Reads a credential id from its 8 wire bytes. */
uint64_t cred_id_get(const uint8_t in[CRED_ID_LEN]);
/** The handshake prologue for credential @a id. */
void gateway_prologue(uint8_t out[GATEWAY_PROLOGUE_LEN], uint64_t id);
/** Parses "mist1:<id hex>:<secret hex>".  0 or MIST_EINVAL. */
int cred_parse(const char *text, uint64_t *id, uint8_t secret[32]);
/** Formats a credential (out: CRED_TEXT_LEN + 1 bytes). */
void cred_format(char *out, uint64_t id, const uint8_t secret[32]);

#endif
