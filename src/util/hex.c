#include "config.h"
#include "util/hex.h"
#include "mist.h"

#include <ctype.h>

void
hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(uint8_t *out, size_t n, const char *in)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(in[2 * i]);
		if (hi < 0)
			return MIST_EINVAL;
		int lo = hex_digit(in[2 * i + 1]);
		if (lo < 0)
			return MIST_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	for (const char *p = in + 2 * n; *p; p++)
		if (!isspace((unsigned char)*p))
			return MIST_EINVAL;
	return 0;
}
