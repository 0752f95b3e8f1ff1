/*
 * test_stream.c -- the sealed stream (net/stream.h) on its own, no
 * sockets: two ends keyed by a real Noise handshake exchange frames
 * through byte buffers fed in pieces of every size.  Shown here: the
 * bytes are the documented ones; both directions rekey on the same frame
 * and keep decoding, while a frame sealed under the old key is refused;
 * bad lengths, truncated, tampered and replayed frames are refused; the
 * shared read buffer keeps only a partial frame's tail.
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mist.h"
#include "net/noise.h"
#include "net/stream.h"
#include "net/wire.h"
#include "testutil.h"
#include "util/rand.h"

#define T_MAX_FRAME 4096

static struct stream sa, sb; /* the initiator's and the responder's ends */
static uint8_t out[T_MAX_FRAME];

/* A Noise NN handshake between two fresh ends; both streams keyed. */
static void
keyed_pair(uint64_t rekey_frames)
{
	struct noise_hs ha, hb;
	uint8_t msg[256], pl[64];
	size_t n, pn;
	const char *proto = "Noise_NN_25519_ChaChaPoly_BLAKE2b";
	cr_assert_eq(noise_hs_init(&ha, proto, true, NULL, 0, NULL, NULL, NULL), 0);
	cr_assert_eq(noise_hs_init(&hb, proto, false, NULL, 0, NULL, NULL, NULL), 0);
	const uint8_t *none = (const uint8_t *)"";
	cr_assert_eq(noise_hs_write(&ha, none, 0, msg, sizeof(msg), &n), 0);
	cr_assert_eq(noise_hs_read(&hb, msg, n, pl, sizeof(pl), &pn), 0);
	cr_assert_eq(noise_hs_write(&hb, none, 0, msg, sizeof(msg), &n), 0);
	cr_assert_eq(noise_hs_read(&ha, msg, n, pl, sizeof(pl), &pn), 0);
	stream_init(&sa, T_MAX_FRAME, rekey_frames);
	stream_init(&sb, T_MAX_FRAME, rekey_frames);
	stream_split(&sa, &ha);
	stream_split(&sb, &hb);
	noise_hs_wipe(&ha);
	noise_hs_wipe(&hb);
}

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
}

static void
teardown(void)
{
	stream_destroy(&sa);
	stream_destroy(&sb);
}

TestSuite(stream, .init = setup, .fini = teardown);

/* Feeds @a n bytes to @a s as one read (into its own buffer). */
static void
feed(struct stream *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t cap;
		uint8_t *dst = stream_in_space(s, NULL, &cap);
		size_t k = n < cap ? n : cap;
		memcpy(dst, p, k);
		stream_in_commit(s, k);
		p += k;
		n -= k;
	}
}

/* Frame @a i's plaintext: i bytes (mod a bound), content from i. */
static size_t
payload(uint32_t i, uint8_t *p)
{
	size_t n = (i * 37u) % 300;
	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)(i + k * 7);
	return n;
}

/*
 * @a nframes frames from @a tx to @a rx, the wire bytes fed in pieces of
 * @a piece bytes (0: pieces of pseudo-random size), each frame checked.
 */
static void
exchange(struct stream *tx, struct stream *rx, uint32_t first,
	 uint32_t nframes, size_t piece, struct rng *rng)
{
	struct buf wire = BUF_INIT;
	uint8_t want[300];
	for (uint32_t i = first; i < first + nframes; i++) {
		size_t n = payload(i, want);
		cr_assert_geq(stream_seal(tx, want, n, &wire), 0);
	}
	size_t off = 0;
	uint32_t got = first;
	while (off < wire.len) {
		size_t k = piece ? piece : 1 + (size_t)rng_below(rng, 700);
		if (k > wire.len - off)
			k = wire.len - off;
		feed(rx, wire.data + off, k);
		off += k;
		size_t n;
		int rc;
		while ((rc = stream_in_open(rx, out, &n)) == 1) {
			size_t wn = payload(got, want);
			cr_assert_eq(n, wn, "frame %u: length", got);
			cr_assert_eq(memcmp(out, want, n), 0, "frame %u: bytes", got);
			got++;
		}
		cr_assert_eq(rc, 0, "frame %u: %s", got, mist_strerror(rc));
		stream_in_keep(rx);
	}
	cr_assert_eq(got, first + nframes, "every frame came out");
	cr_assert_eq(stream_in_pending(rx), 0);
	buf_destroy(&wire);
}

Test(stream, the_bytes_are_the_documented_ones)
{
	keyed_pair(0);
	/* the same CipherState, by hand: [len = |P| + 16][ChaChaPoly(k, n)] */
	struct noise_cipher c = sa.tx;
	struct buf wire = BUF_INIT;
	const uint8_t p[5] = "hello";
	cr_assert_eq(stream_seal(&sa, p, sizeof(p), &wire), 0);
	cr_assert_eq(stream_seal(&sa, NULL, 0, &wire), 0); /* empty frame */
	uint8_t ct[sizeof(p) + NOISE_TAGLEN], ct0[NOISE_TAGLEN];
	cr_assert_eq(noise_cipher_encrypt(&c, NULL, 0, p, sizeof(p), ct), 0);
	cr_assert_eq(noise_cipher_encrypt(&c, NULL, 0, (const uint8_t *)"", 0,
					  ct0), 0);
	cr_assert_eq(wire.len, 2 * STREAM_OVERHEAD + sizeof(p));
	cr_assert_eq(memcmp(wire.data, "\0\0\0\x15", 4), 0);
	cr_assert_eq(memcmp(wire.data + 4, ct, sizeof(ct)), 0);
	cr_assert_eq(memcmp(wire.data + 4 + sizeof(ct), "\0\0\0\x10", 4), 0);
	cr_assert_eq(memcmp(wire.data + 8 + sizeof(ct), ct0, sizeof(ct0)), 0);
	/* and a raw frame is the length and the bytes */
	struct buf raw = BUF_INIT;
	stream_put_raw(&raw, p, sizeof(p));
	cr_assert_eq(raw.len, 4 + sizeof(p));
	cr_assert_eq(memcmp(raw.data, "\0\0\0\x05hello", 9), 0);
	buf_destroy(&raw);
	buf_destroy(&wire);
}

Test(stream, frames_decode_in_pieces_of_any_size)
{
	struct rng rng;
	rng_init(&rng, tu_seed());
	keyed_pair(0);
	exchange(&sa, &sb, 0, 40, 1, &rng); /* byte by byte */
	exchange(&sb, &sa, 0, 40, 1, &rng);
	exchange(&sa, &sb, 40, 200, 0, &rng); /* random pieces */
	exchange(&sb, &sa, 40, 200, 0, &rng);
	exchange(&sa, &sb, 240, 50, 100000, &rng); /* all at once */
}

/* An inert copy of @a s: its keys and counters, no input buffer. */
static struct stream
snapshot(const struct stream *s)
{
	struct stream c = *s;
	c.in = (struct buf)BUF_INIT;
	c.in_off = 0;
	c.ext = NULL;
	c.ext_len = c.ext_off = 0;
	c.rekey_frames = UINT64_MAX; /* it never rekeys */
	return c;
}

/* Seals one frame of @a n bytes from @a p; @a ct / @a len: its sealed
 * bytes without the length prefix (in @a w). */
static void
seal_one(struct stream *s, const char *p, struct buf *w, const uint8_t **ct,
	 size_t *len)
{
	buf_reset(w);
	cr_assert_geq(stream_seal(s, (const uint8_t *)p, strlen(p), w), 0);
	*ct = w->data + STREAM_HDR;
	*len = w->len - STREAM_HDR;
}

Test(stream, both_directions_rekey_and_the_old_key_is_refused)
{
	struct rng rng;
	rng_init(&rng, tu_seed());
	keyed_pair(3);
	/* 20 frames each way: six rekeys in each direction, the two ends
	 * agree on every one of them */
	exchange(&sa, &sb, 0, 20, 0, &rng);
	exchange(&sb, &sa, 0, 20, 0, &rng);
	cr_assert_eq(sa.tx_frames, 20);
	cr_assert_eq(sb.rx_frames, 20);
	cr_assert_eq(sb.tx_frames, 20);
	cr_assert_eq(sa.rx_frames, 20);
	struct stream *ends[2][2] = {{&sa, &sb}, {&sb, &sa}};
	struct buf w = BUF_INIT;
	const uint8_t *ct;
	size_t len;
	for (int d = 0; d < 2; d++) {
		struct stream *tx = ends[d][0], *rx = ends[d][1];
		/* frames 19..21 share a key; the ends as they are before 21 */
		struct stream old_tx = snapshot(tx), old_rx = snapshot(rx);
		seal_one(tx, "frame 21", &w, &ct, &len);
		cr_assert_eq(stream_open(rx, ct, len, out), 0);
		cr_assert_eq(stream_open(&old_rx, ct, len, out), 0);
		cr_assert_eq(memcmp(out, "frame 21", 8), 0);
		/* after 21 both ends replaced the key, to the same new one */
		cr_assert_neq(memcmp(tx->tx.k, old_tx.tx.k, NOISE_KEYLEN), 0,
			      "direction %d: the sender rekeyed", d);
		cr_assert_eq(memcmp(tx->tx.k, rx->rx.k, NOISE_KEYLEN), 0,
			     "direction %d: the receiver rekeyed alike", d);
		/* frame 22 under the old key, with the right nonce */
		seal_one(&old_tx, "frame 21", &w, &ct, &len);
		seal_one(&old_tx, "forged 22", &w, &ct, &len);
		cr_assert_eq(stream_open(rx, ct, len, out), MIST_EAUTH,
			     "direction %d: the old key is refused", d);
		/* (it would have passed without the rekey: the refusal is the
		 * rekey's doing, not a wrong nonce) */
		cr_assert_eq(stream_open(&old_rx, ct, len, out), 0);
		/* the true frame 22 is taken, and the stream goes on */
		seal_one(tx, "frame 22", &w, &ct, &len);
		cr_assert_eq(stream_open(rx, ct, len, out), 0);
		cr_assert_eq(memcmp(out, "frame 22", 8), 0);
		exchange(tx, rx, 22, 30, 0, &rng);
		sodium_memzero(&old_tx, sizeof(old_tx));
		sodium_memzero(&old_rx, sizeof(old_rx));
	}
	buf_destroy(&w);
}

/* Feeds @a n bytes to a fresh sb and returns what stream_in_open says. */
static int
open_bytes(const uint8_t *p, size_t n)
{
	feed(&sb, p, n);
	size_t len;
	return stream_in_open(&sb, out, &len);
}

Test(stream, bad_lengths_are_refused_before_their_bytes)
{
	keyed_pair(0);
	/* one byte over max_frame + tag: refused from the prefix alone */
	uint8_t h[4];
	buf_put_u32be(h, T_MAX_FRAME + NOISE_TAGLEN + 1);
	cr_assert_eq(open_bytes(h, 4), MIST_E2BIG);
	stream_destroy(&sb);
	keyed_pair(0);
	buf_put_u32be(h, 0xffffffffu);
	cr_assert_eq(open_bytes(h, 4), MIST_E2BIG);
	stream_destroy(&sb);
	/* shorter than a tag: malformed */
	keyed_pair(0);
	uint8_t shortf[4 + 15] = {0, 0, 0, 15};
	cr_assert_eq(open_bytes(shortf, sizeof(shortf)), MIST_EPROTO);
	stream_destroy(&sb);
	/* exactly the bound: awaited, not refused */
	keyed_pair(0);
	buf_put_u32be(h, T_MAX_FRAME + NOISE_TAGLEN);
	cr_assert_eq(open_bytes(h, 4), 0);
	cr_assert_eq(stream_in_pending(&sb), 4);
	/* raw (handshake) frames have the caller's bound */
	stream_destroy(&sb);
	stream_init(&sb, T_MAX_FRAME, 0);
	uint8_t raw[4 + 100] = {0, 0, 0, 100};
	feed(&sb, raw, sizeof(raw));
	const uint8_t *f;
	size_t n;
	cr_assert_eq(stream_in_frame(&sb, 99, &f, &n), MIST_E2BIG);
	cr_assert_eq(stream_in_frame(&sb, 100, &f, &n), 1);
	cr_assert_eq(n, 100);
	cr_assert_eq(f, sb.in.data + 4, "parsed where it was read");
	/* sealing refuses what no receiver would take */
	/* a bin16 of T_MAX_FRAME bytes */
	uint8_t big[T_MAX_FRAME + 3] = {0xc5, T_MAX_FRAME >> 8,
					T_MAX_FRAME & 0xff};
	struct buf w = BUF_INIT;
	cr_assert_eq(stream_seal(&sa, big, sizeof(big), &w), MIST_E2BIG);
	cr_assert_eq(w.len, 0, "nothing appended");
	cr_assert_eq(stream_seal(&sb, big, 1, &w), MIST_ECLOSED, "no keys yet");
	cr_assert_eq(stream_seal(&sa, big, T_MAX_FRAME, &w), 0);
	cr_assert_eq(w.len, T_MAX_FRAME + STREAM_OVERHEAD);
	buf_destroy(&w);
}

Test(stream, truncated_tampered_replayed_and_reordered_frames_are_refused)
{
	struct buf w = BUF_INIT;
	const uint8_t msg[] = "the quick brown fox";
	size_t n;
	/* truncated: all but the last byte is no frame yet */
	keyed_pair(0);
	stream_seal(&sa, msg, sizeof(msg), &w);
	feed(&sb, w.data, w.len - 1);
	cr_assert_eq(stream_in_open(&sb, out, &n), 0);
	cr_assert_eq(stream_in_pending(&sb), w.len - 1,
		     "at the end of the connection: a truncated frame");
	feed(&sb, w.data + w.len - 1, 1);
	cr_assert_eq(stream_in_open(&sb, out, &n), 1);
	cr_assert_eq(stream_in_pending(&sb), 0);
	/* tampered: every bit of the ciphertext and tag matters */
	for (size_t bit = 0; bit < (w.len - STREAM_HDR) * 8; bit += 13) {
		stream_destroy(&sa);
		stream_destroy(&sb);
		keyed_pair(0);
		buf_reset(&w);
		stream_seal(&sa, msg, sizeof(msg), &w);
		w.data[STREAM_HDR + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(open_bytes(w.data, w.len), MIST_EAUTH, "bit %zu", bit);
	}
	/* a length one longer, with one more byte: the tag moves, refused */
	stream_destroy(&sa);
	stream_destroy(&sb);
	keyed_pair(0);
	buf_reset(&w);
	stream_seal(&sa, msg, sizeof(msg), &w);
	buf_put_u32be(w.data, buf_get_u32be(w.data) + 1);
	buf_append(&w, "x", 1);
	cr_assert_eq(open_bytes(w.data, w.len), MIST_EAUTH);
	/* replayed: the same frame twice */
	stream_destroy(&sa);
	stream_destroy(&sb);
	keyed_pair(0);
	buf_reset(&w);
	stream_seal(&sa, msg, sizeof(msg), &w);
	cr_assert_eq(open_bytes(w.data, w.len), 1);
	cr_assert_eq(open_bytes(w.data, w.len), MIST_EAUTH);
	/* reordered: the second frame first */
	stream_destroy(&sa);
	stream_destroy(&sb);
	keyed_pair(0);
	struct buf w2 = BUF_INIT;
	buf_reset(&w);
	stream_seal(&sa, msg, sizeof(msg), &w);
	stream_seal(&sa, msg, sizeof(msg), &w2);
	cr_assert_eq(open_bytes(w2.data, w2.len), MIST_EAUTH);
	/* a stream without keys opens nothing */
	struct stream bare;
	stream_init(&bare, T_MAX_FRAME, 0);
	feed(&bare, w.data, w.len);
	cr_assert_eq(stream_in_open(&bare, out, &n), MIST_EAUTH);
	stream_destroy(&bare);
	buf_destroy(&w);
	buf_destroy(&w2);
}

Test(stream, a_shared_read_buffer_leaves_only_a_partial_frame_behind)
{
	static uint8_t shared[STREAM_READ];
	keyed_pair(0);
	struct stream other;
	stream_init(&other, T_MAX_FRAME, 0);
	struct buf w = BUF_INIT;
	const uint8_t msg[100] = {1, 2, 3};
	for (int i = 0; i < 3; i++)
		stream_seal(&sa, msg, sizeof(msg), &w);
	size_t one = sizeof(msg) + STREAM_OVERHEAD, cap, n;
	/* a read of one and a half frames into the shared buffer */
	uint8_t *p = stream_in_space(&sb, shared, &cap);
	cr_assert_eq(p, shared);
	cr_assert_eq(cap, STREAM_READ);
	memcpy(p, w.data, one + one / 2);
	stream_in_commit(&sb, one + one / 2);
	cr_assert_eq(stream_in_open(&sb, out, &n), 1);
	cr_assert_eq(n, sizeof(msg));
	cr_assert_eq(stream_in_open(&sb, out, &n), 0);
	stream_in_keep(&sb);
	cr_assert_eq(sb.in.len, one / 2,
		     "only the partial frame was copied");
	/* the shared buffer is free for another stream meanwhile */
	cr_assert_eq(stream_in_space(&other, shared, &cap), shared);
	stream_in_commit(&other, 0);
	stream_in_keep(&other);
	cr_assert_eq(other.in.cap, 0, "an idle stream holds no buffer");
	/* with bytes pending, the next read goes after them */
	p = stream_in_space(&sb, shared, &cap);
	cr_assert_neq(p, shared);
	memcpy(p, w.data + one + one / 2, w.len - one - one / 2);
	stream_in_commit(&sb, w.len - one - one / 2);
	cr_assert_eq(stream_in_open(&sb, out, &n), 1);
	/* paused between two frames: what is left is kept, then taken */
	stream_in_keep(&sb);
	cr_assert_eq(stream_in_pending(&sb), one);
	cr_assert_eq(stream_in_open(&sb, out, &n), 1);
	cr_assert_eq(memcmp(out, msg, sizeof(msg)), 0);
	stream_in_keep(&sb);
	cr_assert_eq(sb.in.cap, 0, "drained: the buffer is given back");
	stream_destroy(&other);
	buf_destroy(&w);
}

/* Envelopes in the batch test: their bodies fill several frames. */
#define T_BATCH_MSGS 40
/* A body size that does not divide T_MAX_FRAME (frames end early): a
 * msgpack bin8 of 250 bytes, as a body is one msgpack object. */
#define T_BATCH_BODY 252

static int
count_envelope(void *ctx, struct msg *m)
{
	uint32_t *next = ctx;
	cr_assert_eq(m->corr, *next, "envelopes in order, none split");
	(*next)++;
	msg_delete(m);
	return 0;
}

Test(stream, a_batch_is_sealed_in_frames_cut_where_envelopes_end)
{
	keyed_pair(0);
	struct buf batch = BUF_INIT, wire = BUF_INIT;
	uint8_t body[T_BATCH_BODY] = {0xc4, T_BATCH_BODY - 2};
	for (uint32_t i = 0; i < T_BATCH_MSGS; i++) {
		struct msg *m = msg_new(1, body, sizeof(body));
		m->corr = i;
		wire_envelope_encode(&batch, m, 0);
		msg_delete(m);
	}
	cr_assert_gt(batch.len, 2 * T_MAX_FRAME);
	uint64_t frames = 0, rekeys = 0;
	cr_assert_eq(stream_seal_batch(&sa, batch.data, batch.len, &wire,
				       &frames, &rekeys), 0);
	cr_assert_gt(frames, 2);
	cr_assert_eq(rekeys, 0);
	feed(&sb, wire.data, wire.len);
	uint32_t next = 0;
	size_t n;
	for (uint64_t f = 0; f < frames; f++) {
		cr_assert_eq(stream_in_open(&sb, out, &n), 1);
		cr_assert_leq(n, T_MAX_FRAME);
		cr_assert_eq(wire_payload_decode(out, n, T_MAX_FRAME, 0,
						 count_envelope, &next), 0);
	}
	cr_assert_eq(next, T_BATCH_MSGS, "every envelope, once");
	cr_assert_eq(stream_in_pending(&sb), 0);
	/* an envelope no frame can carry is refused */
	batch.len = wire.len = 0;
	/* a bin16 of T_MAX_FRAME bytes */
	uint8_t big[T_MAX_FRAME + 3] = {0xc5, T_MAX_FRAME >> 8,
					T_MAX_FRAME & 0xff};
	struct msg *m = msg_new(1, big, sizeof(big));
	wire_envelope_encode(&batch, m, 0);
	msg_delete(m);
	cr_assert_eq(stream_seal_batch(&sa, batch.data, batch.len, &wire,
				       NULL, NULL), MIST_E2BIG);
	buf_destroy(&batch);
	buf_destroy(&wire);
}
