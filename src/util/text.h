/*
 * text.h -- checks for text that came from the network and may end up on a
 * terminal or in a log: names, tiers, addresses.
 */
#ifndef MIST_UTIL_TEXT_H_INCLUDED
#define MIST_UTIL_TEXT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/**
 * True if @a s (length @a n) has no control characters (below 0x20, 0x7f)
 * and no NUL: what a peer may call itself without writing escape sequences
 * into an operator's terminal.  Bytes >= 0x80 (UTF-8) are allowed.
 */
static inline bool
text_is_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/**
 * Copies the C string @a src into @a dst (@a cap bytes, NUL included),
 * cutting it to fit: snprintf(dst, cap, "%s", src) without the format
 * machinery, for hot paths that copy names into fixed fields.
 */
static inline void
text_copy(char *dst, size_t cap, const char *src)
{
	if (cap == 0)
		return;
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/**
 * Writes @a v in decimal into @a out (at least 21 bytes; no NUL) and
 * returns the length: snprintf's "%" PRId64 without the format machinery,
 * for the answers written per request.
 */
static inline size_t
text_i64(char *out, int64_t v)
{
	char tmp[20];
	size_t n = 0, len = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = tmp[--n];
	return len;
}

#endif
