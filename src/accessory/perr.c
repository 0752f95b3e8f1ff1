/*
 * perr.c -- Parse-style errors (see perr.h).
 */
#include "config.h"
#include "accessory/perr.h"

#include <stdarg.h>
#include <stdio.h>

void
perr_set(struct perr *e, int http, int code, const char *fmt, ...)
{
	if (e == NULL)
		return;
	e->http = http;
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

size_t
perr_json(const struct perr *e, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = (size_t)snprintf(out, len, "{\"code\":%d,\"error\":\"", e->code);
	for (const unsigned char *p = (const unsigned char *)e->msg;
	     *p != '\0' && n + 8 < len; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p < 0x20) {
			out[n++] = '\\';
			out[n++] = 'u';
			out[n++] = '0';
			out[n++] = '0';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else {
			out[n++] = (char)*p;
		}
	}
	if (n + 3 > len)
		n = len - 3;
	out[n++] = '"';
	out[n++] = '}';
	out[n] = '\0';
	return n;
}
