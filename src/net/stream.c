/*
 * stream.c -- the sealed stream: framing, sealing with counter nonces,
 * rekeying in both directions, incremental decoding.  The format and the
 * rekey rule are in stream.h and docs/PROTOCOL.md, section 1.
 */
#include "config.h"
#include "net/stream.h"
#include "mist.h"
#include "net/wire.h"

#include <sodium.h>
#include <string.h>

void
stream_init(struct stream *s, uint32_t max_frame, uint64_t rekey_frames)
{
	memset(s, 0, sizeof(*s));
	s->max_frame = max_frame;
	s->rekey_frames = rekey_frames ? rekey_frames : STREAM_REKEY_FRAMES;
}

void
stream_set_rekey(struct stream *s, uint64_t rekey_frames)
{
	s->rekey_frames = rekey_frames ? rekey_frames : STREAM_REKEY_FRAMES;
}

void
stream_destroy(struct stream *s)
{
	sodium_memzero(&s->tx, sizeof(s->tx));
	sodium_memzero(&s->rx, sizeof(s->rx));
	s->keyed = false;
	buf_destroy(&s->in);
	s->in_off = 0;
	s->ext = NULL;
	s->ext_len = s->ext_off = 0;
}

void
stream_split(struct stream *s, struct noise_hs *hs)
{
	noise_hs_split(hs, &s->tx, &s->rx);
	s->tx_frames = s->rx_frames = 0;
	s->keyed = true;
}

/* ------------------------------------------------------------- output */

void
stream_put_raw(struct buf *out, const uint8_t *p, size_t n)
{
	buf_reserve(out, STREAM_HDR + n);
	buf_put_u32be(out->data + out->len, (uint32_t)n);
	out->len += STREAM_HDR;
	buf_append(out, p, n);
}

int
stream_seal(struct stream *s, const uint8_t *p, size_t n, struct buf *out)
{
	if (n > s->max_frame)
		return MIST_E2BIG;
	if (!s->keyed)
		return MIST_ECLOSED;
	buf_reserve(out, STREAM_OVERHEAD + n);
	uint8_t *f = out->data + out->len;
	if (noise_cipher_encrypt(&s->tx, NULL, 0, n ? p : (const uint8_t *)"",
				 n, f + STREAM_HDR) != 0)
		return MIST_ECLOSED; /* 2^64 - 1 frames: unreachable */
	buf_put_u32be(f, (uint32_t)(n + NOISE_TAGLEN));
	out->len += STREAM_OVERHEAD + n;
	if (++s->tx_frames % s->rekey_frames == 0) {
		noise_cipher_rekey(&s->tx);
		return 1;
	}
	return 0;
}

int
stream_seal_batch(struct stream *s, const uint8_t *p, size_t n,
		  struct buf *out, uint64_t *frames, uint64_t *rekeys)
{
	size_t off = 0;
	while (off < n) {
		size_t len = n - off;
		if (len > s->max_frame)
			len = wire_payload_prefix(p + off, len, s->max_frame);
		if (len == 0)
			return MIST_E2BIG;
		int rc = stream_seal(s, p + off, len, out);
		if (rc < 0)
			return rc;
		if (frames)
			++*frames;
		if (rekeys && rc == 1)
			++*rekeys;
		off += len;
	}
	return 0;
}

/* -------------------------------------------------------------- input */

/* The bytes not yet taken. */
static const uint8_t *
stream_in_cur(const struct stream *s, size_t *avail)
{
	if (s->ext != NULL) {
		*avail = s->ext_len - s->ext_off;
		return s->ext + s->ext_off;
	}
	*avail = s->in.len - s->in_off;
	return s->in.data + s->in_off;
}

static void
stream_in_take(struct stream *s, size_t n)
{
	if (s->ext != NULL)
		s->ext_off += n;
	else
		s->in_off += n;
}

uint8_t *
stream_in_space(struct stream *s, uint8_t *shared, size_t *cap)
{
	if (s->ext != NULL)
		stream_in_keep(s); /* the caller's duty; cheap to make sure */
	if (s->in_off > 0) {
		buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
	if (s->in.len == 0 && shared != NULL) {
		/* taken from there until stream_in_keep() */
		s->uses_shared = true;
		s->ext = shared;
		s->ext_len = s->ext_off = 0;
		*cap = STREAM_READ;
		return shared;
	}
	buf_reserve(&s->in, STREAM_READ);
	*cap = s->in.cap - s->in.len;
	return s->in.data + s->in.len;
}

void
stream_in_commit(struct stream *s, size_t n)
{
	if (s->ext != NULL)
		s->ext_len += n; /* into the shared buffer */
	else
		s->in.len += n;
}

int
stream_in_frame(struct stream *s, size_t max, const uint8_t **frame,
		size_t *n)
{
	size_t avail;
	const uint8_t *p = stream_in_cur(s, &avail);
	if (avail < STREAM_HDR)
		return 0;
	uint32_t len = buf_get_u32be(p);
	if (len > max)
		return MIST_E2BIG;
	if (avail - STREAM_HDR < len)
		return 0;
	*frame = p + STREAM_HDR;
	*n = len;
	stream_in_take(s, STREAM_HDR + (size_t)len);
	return 1;
}

size_t
stream_sealed_max(const struct stream *s)
{
	return (size_t)s->max_frame + NOISE_TAGLEN;
}

int
stream_open(struct stream *s, const uint8_t *ct, size_t n, uint8_t *out)
{
	if (n > stream_sealed_max(s))
		return MIST_E2BIG;
	if (n < NOISE_TAGLEN)
		return MIST_EPROTO;
	if (!s->keyed ||
	    noise_cipher_decrypt(&s->rx, NULL, 0, ct, n, out) != 0)
		return MIST_EAUTH;
	if (++s->rx_frames % s->rekey_frames == 0)
		noise_cipher_rekey(&s->rx);
	return 0;
}

int
stream_in_open(struct stream *s, uint8_t *out, size_t *n)
{
	const uint8_t *ct;
	size_t len;
	int rc = stream_in_frame(s, stream_sealed_max(s), &ct, &len);
	if (rc != 1)
		return rc;
	if ((rc = stream_open(s, ct, len, out)) != 0)
		return rc;
	*n = len - NOISE_TAGLEN;
	return 1;
}

void
stream_in_keep(struct stream *s)
{
	if (s->ext != NULL) {
		/* only a partial frame (or what a pause left) is copied */
		buf_append(&s->in, s->ext + s->ext_off, s->ext_len - s->ext_off);
		s->ext = NULL;
		s->ext_len = s->ext_off = 0;
	}
	if (s->in_off > 0) {
		buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
	buf_trim(&s->in, s->uses_shared ? 0 : STREAM_KEEP);
}

size_t
stream_in_pending(const struct stream *s)
{
	size_t avail;
	stream_in_cur(s, &avail);
	return avail;
}
