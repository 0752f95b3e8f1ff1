/*
 * hex.h -- hexadecimal encoding of byte strings.
 */
#ifndef MIST_UTIL_HEX_H_INCLUDED
#define MIST_UTIL_HEX_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/** Writes 2*n hex digits and a NUL into @a out (size >= 2*n+1). */
void hex_encode(char *out, const uint8_t *in, size_t n);
/**
 * Decodes exactly @a n bytes from the hex string @a in (which must have
 * exactly 2*n digits, optionally followed by whitespace).  0 or MIST_EINVAL.
 */
int hex_decode(uint8_t *out, size_t n, const char *in);

#endif
