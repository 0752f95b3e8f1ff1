/*
 * mp.h -- a bounded msgpack validator and cursor reader.
 *
 * Why not msgpack_unpack() on network bytes: msgpack-c sizes arrays and maps
 * from the *declared* count, so a 14-byte input declaring 2^32 elements makes
 * it ask for 128 GiB.  Every byte that crosses a trust boundary is first
 * walked by mp_check(), which proves that one object fits in the bytes given,
 * that every declared length and count is covered by the bytes left (each
 * element needs at least one byte), and that nesting stays under a depth
 * bound -- all without allocating.  Only then may anything be decoded.
 *
 * The cursor readers below are bounds-checked on their own as well, so a
 * decoder that reads a validated object field by field never reads past its
 * end even if it misjudges the shape.  Strings and binaries are returned as
 * pointers into the input: they live as long as the input buffer.
 *
 * Encoding uses msgpack-c's packer (see buf_msgpack_write in util/buf.h).
 */
#ifndef MIST_NET_MP_H_INCLUDED
#define MIST_NET_MP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Nesting bound for everything mist decodes; bodies are shallow. */
#define MP_MAX_DEPTH 32

/**
 * Validates one msgpack object at @a p.  On success stores its encoded size
 * in @a used and returns 0; on malformed, truncated or too deep input returns
 * MIST_EPROTO.
 */
int mp_check(const uint8_t *p, size_t len, int max_depth, size_t *used);

struct mp_cur {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void
mp_cur_init(struct mp_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->end = p + len;
}

static inline size_t
mp_cur_left(const struct mp_cur *c)
{
	return (size_t)(c->end - c->p);
}

/* Each reader returns 0 or MIST_EPROTO (wrong type or truncated). */
int mp_read_uint(struct mp_cur *c, uint64_t *v);
int mp_read_int(struct mp_cur *c, int64_t *v);
int mp_read_bool(struct mp_cur *c, bool *v);
/** A float32, float64 or integer, as a double. */
int mp_read_double(struct mp_cur *c, double *v);
int mp_read_nil(struct mp_cur *c);
int mp_read_str(struct mp_cur *c, const char **s, uint32_t *len);
int mp_read_bin(struct mp_cur *c, const uint8_t **b, uint32_t *len);
int mp_read_array(struct mp_cur *c, uint32_t *n);
int mp_read_map(struct mp_cur *c, uint32_t *n);
/** Skips one object (validating it).  0 or MIST_EPROTO. */
int mp_skip(struct mp_cur *c);
/** True if the next object is nil (does not consume). */
bool mp_peek_nil(const struct mp_cur *c);
/** Reads a string and compares it to @a key. */
bool mp_str_eq(const char *s, uint32_t len, const char *key);

#endif
