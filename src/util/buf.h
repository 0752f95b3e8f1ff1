/*
 * buf.h -- a growable byte buffer.
 *
 * The buffer owns @a data; buf_destroy frees it.  Pointers into @a data are
 * invalidated by any call that may grow the buffer (reserve, append) and by
 * buf_consume.
 */
#ifndef MIST_UTIL_BUF_H_INCLUDED
#define MIST_UTIL_BUF_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
/** Drop the first @a n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_destroy(struct buf *b);
/** If @a b is empty and holds more than @a keep bytes of storage, frees
 * it: a long-lived buffer that once carried something big gives it back. */
void buf_trim(struct buf *b, size_t keep);
/** msgpack-c packer write callback: @a data is a struct buf. */
int buf_msgpack_write(void *data, const char *p, size_t n);

static inline void
buf_put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
buf_get_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

#endif
