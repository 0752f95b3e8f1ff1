/*
 * stream.h -- the sealed stream: what every encrypted TCP connection of
 * mist carries once its Noise handshake is done -- links between agents
 * (net/link.c), the CLI's connection to an agent (client/conn.c), clients
 * at the gateway (gateway/native.c) and libmist (client/mist.c).
 *
 * Noise (section 5.1) leaves the transport to the application: after
 * Split() each side holds two CipherStates, one per direction, whose
 * nonce counts the messages sent under it, and Rekey() may replace a key
 * whenever both sides agree when.  mist frames each transport message with
 * a length and agrees on rekeying by counting:
 *
 *   frame:  +--------+--------+--------+--------+=========================+
 *           |   length N (u32, big-endian)      | ChaChaPoly(k, n, "", P)  |
 *           +--------+--------+--------+--------+=========================+
 *                                                 N = |P| + 16 (the tag)
 *
 *   - n counts the frames sent in that direction, from 0 (the Noise
 *     nonce: 4 zero bytes, then n little-endian); there is no nonce on the
 *     wire, so a replayed, reordered, dropped or altered frame fails its
 *     tag and the connection is closed.
 *   - The rekey rule, the same in both directions and on every kind of
 *     connection: after the frame that makes the direction's count a
 *     multiple of rekey_frames (default STREAM_REKEY_FRAMES), sealed or
 *     opened, that direction's key becomes Rekey(k); n goes on counting.
 *     No message announces it: both sides count the same frames.  (The
 *     one exception: the gateway keys a version-1 client's stream with
 *     STREAM_REKEY_NEVER, gateway/native_proto.h.)
 *   - P, the plaintext, is at most max_frame bytes (a batch of envelopes,
 *     net/wire.h; or empty).  A length over max_frame + 16 is refused as
 *     soon as its 4 bytes are in, before anything is buffered for it; a
 *     length under 16 (no room for a tag) is refused as malformed.
 *
 * Before the keys exist, handshake messages travel in the same frames
 * without sealing ("raw" frames, each protocol bounding its own).
 *
 * Input is incremental: bytes are read into stream_in_space() in whatever
 * pieces the socket gives, and frames are taken out whole, one by one,
 * with stream_in_frame() (raw) or stream_in_open() (sealed) -- so a caller
 * can stop between two frames (a handshake changes state, a mailbox is
 * full) and go on later.  Frames are parsed where the bytes were read:
 * a stream that reads through a shared buffer (one per event loop) copies
 * only the tail of a partial frame into its own, so idle streams hold no
 * buffer at all.  Output is appended to a buffer of the caller's (links
 * batch a loop iteration's envelopes into one frame per write); sealing
 * encrypts straight into it, one pass over the plaintext.
 *
 * Nothing here does I/O, allocates per frame (buffers grow, then are
 * reused) or depends on an event loop: libmist links it without libuv.
 *
 * Ownership: struct stream is caller storage (stream_init /
 * stream_destroy, which wipes the keys and frees the input buffer).
 * Pointers to frames returned by the input functions stay valid until the
 * next stream_in_space() or stream_in_keep() on that stream.
 */
#ifndef MIST_NET_STREAM_H_INCLUDED
#define MIST_NET_STREAM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/noise.h"
#include "util/buf.h"

/** The length prefix of every frame (big-endian u32). */
#define STREAM_HDR 4
/** What sealing adds to a plaintext: the length prefix and the tag. */
#define STREAM_OVERHEAD (STREAM_HDR + NOISE_TAGLEN)
/*
 * Rekey every 2^20 frames per direction: far below ChaCha20-Poly1305's
 * safe limits for one key, rare enough to cost nothing (one extra block
 * encryption per million frames).
 */
#define STREAM_REKEY_FRAMES (1u << 20)
/*
 * A rekey interval no stream reaches: the nonces run out (2^64 - 1
 * frames, MIST_ECLOSED) first.  For peers older than the rekey rule
 * (version-1 gateway clients, native_proto.h).
 */
#define STREAM_REKEY_NEVER UINT64_MAX
/*
 * 64 KiB per read: one syscall takes what a busy socket holds, and a
 * shared buffer of this size is all the input memory idle streams cost.
 */
#define STREAM_READ 65536
/*
 * A stream reading without a shared buffer keeps an emptied input buffer
 * up to this size (so a request-reply client does not allocate per read)
 * and gives back one a large frame grew.
 */
#define STREAM_KEEP (2 * STREAM_READ)

struct stream {
	struct noise_cipher tx, rx;
	uint64_t tx_frames, rx_frames; /* sealed / opened, each direction */
	uint64_t rekey_frames;
	uint32_t max_frame; /* plaintext bound of a sealed frame */
	bool keyed;	    /* stream_split() done */
	/* input: bytes read, not yet taken as frames */
	struct buf in;	    /* the stream's own buffer */
	size_t in_off;	    /* bytes of @a in already taken */
	const uint8_t *ext; /* a read into a shared buffer, being taken */
	size_t ext_len, ext_off;
	bool uses_shared;   /* ever read through a shared buffer */
};

/**
 * Sets up a stream without keys (handshake frames only).  @a max_frame:
 * plaintext bound of a sealed frame, both directions; @a rekey_frames:
 * frames per key per direction (0: STREAM_REKEY_FRAMES).
 */
void stream_init(struct stream *s, uint32_t max_frame, uint64_t rekey_frames);
/**
 * Changes the rekey interval of a stream not yet keyed (before
 * stream_split(); its pending input is kept): for a protocol whose
 * handshake decides it.  @a rekey_frames as in stream_init().
 */
void stream_set_rekey(struct stream *s, uint64_t rekey_frames);
/** Wipes the keys and frees the input buffer. */
void stream_destroy(struct stream *s);
/**
 * Takes the transport keys of a finished handshake (Noise Split(): our
 * sending and receiving CipherStates); both counts start at 0.
 */
void stream_split(struct stream *s, struct noise_hs *hs);

/* ------------------------------------------------------------- output */

/** Appends @a n bytes as one raw (unsealed) frame: handshake messages. */
void stream_put_raw(struct buf *out, const uint8_t *p, size_t n);
/**
 * Seals @a n plaintext bytes (n <= max_frame; @a p may be NULL when n is
 * 0) as one frame appended to @a out: STREAM_OVERHEAD + n bytes.
 * Returns 0; 1 when that frame ended its key (the key was replaced after
 * it); MIST_E2BIG (n > max_frame) or MIST_ECLOSED (no keys, or the nonces
 * are exhausted), with nothing appended.
 */
int stream_seal(struct stream *s, const uint8_t *p, size_t n, struct buf *out);
/**
 * Seals a plaintext batch of envelopes (net/wire.h, @a n bytes at @a p)
 * as frames of at most max_frame each, cut where envelopes end, appended
 * to @a out: what links, the gateway and libmist write.  Adds the frames
 * sealed and the keys they ended to @a *frames and @a *rekeys (either may
 * be NULL).  Returns 0; MIST_E2BIG (an envelope larger than a frame) or
 * stream_seal()'s MIST_ECLOSED, with the frames before it appended: the
 * connection must then close.
 */
int stream_seal_batch(struct stream *s, const uint8_t *p, size_t n,
		      struct buf *out, uint64_t *frames, uint64_t *rekeys);

/* -------------------------------------------------------------- input */

/**
 * Where the next read goes (@a *cap bytes, at least STREAM_READ): after
 * the pending bytes in the stream's own buffer or -- when nothing is
 * pending and @a shared (STREAM_READ bytes, or NULL) is given -- into
 * @a shared, which must then not serve another stream before
 * stream_in_keep().  Leftovers of an earlier shared read must have been
 * kept (stream_in_keep) first.
 */
uint8_t *stream_in_space(struct stream *s, uint8_t *shared, size_t *cap);
/** @a n bytes were read into what stream_in_space() returned. */
void stream_in_commit(struct stream *s, size_t n);
/**
 * Takes the next raw frame of at most @a max bytes.  Returns 1 with
 * @a *frame / @a *n set; 0 when its bytes are not all in yet; MIST_E2BIG
 * when its length exceeds @a max (known from the 4-byte prefix alone).
 */
int stream_in_frame(struct stream *s, size_t max, const uint8_t **frame,
		    size_t *n);
/**
 * Takes the next sealed frame and opens it into @a out (room for
 * max_frame bytes); @a *n is its plaintext length (0: an empty frame).
 * Returns 1, 0 (not all in yet), or MIST_E2BIG (length over max_frame +
 * 16), MIST_EPROTO (shorter than a tag), MIST_EAUTH (the tag does not
 * verify: altered, replayed, reordered, or sealed under another key).
 * After an error the stream is unusable: close the connection.
 */
int stream_in_open(struct stream *s, uint8_t *out, size_t *n);
/**
 * Opens sealed frame bytes @a ct (@a n bytes, the frame without its
 * length prefix, as stream_in_frame() with stream_sealed_max() gives it)
 * into @a out (n - 16 bytes): for callers that size @a out per frame.
 * 0, MIST_E2BIG, MIST_EPROTO, MIST_EAUTH as above.
 */
int stream_open(struct stream *s, const uint8_t *ct, size_t n, uint8_t *out);
/** The bound on a sealed frame's bytes: max_frame + 16. */
size_t stream_sealed_max(const struct stream *s);
/**
 * Ends a batch of taking: what is left of a shared read moves into the
 * stream's own buffer, taken bytes are dropped, and an emptied buffer is
 * given back (always, for a stream that reads through a shared buffer;
 * above STREAM_KEEP otherwise).
 */
void stream_in_keep(struct stream *s);
/**
 * Bytes received and not yet taken as frames.  At the end of a connection
 * read to its last frame, non-zero means the peer stopped inside a frame
 * (truncated).
 */
size_t stream_in_pending(const struct stream *s);

#endif
