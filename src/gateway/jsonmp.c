/*
 * jsonmp.c -- JSON <-> msgpack for function params and results (see
 * jsonmp.h for the mapping).
 */
#include "config.h"
#include "gateway/jsonmp.h"
#include "mist.h"
#include "net/mp.h"
#include "util/mem.h"
#include "util/text.h"

#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The defaults:
 *  - depth 32: what every other decoder in mist allows (MP_MAX_DEPTH)
 *    and what the gateway lets a JSON body nest (PREQ_MAX_DEPTH);
 *  - 65 536 values: a body's bound too (PREQ_MAX_VALUES), so any params
 *    the decoder let through convert;
 *  - 256 KiB a string or binary: a body string's bound (PREQ_MAX_STR_LEN);
 *  - 512 KiB of msgpack: the most a task's arguments may be (mist.h,
 *    mist_task), so converted params always fit a call. */
#define JSONMP_DEPTH_DEFAULT 32
#define JSONMP_VALUES_DEFAULT 65536
#define JSONMP_STR_DEFAULT (256 * 1024)
#define JSONMP_BYTES_DEFAULT (512 * 1024)

void
jsonmp_limits_default(struct jsonmp_limits *l)
{
	l->max_depth = JSONMP_DEPTH_DEFAULT;
	l->max_values = JSONMP_VALUES_DEFAULT;
	l->max_str = JSONMP_STR_DEFAULT;
	l->max_bytes = JSONMP_BYTES_DEFAULT;
}

static void
why_set(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
why_set(char *why, size_t len, const char *fmt, ...)
{
	if (why == NULL || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

struct walk {
	const struct jsonmp_limits *l;
	uint32_t values;
	char *why;
	size_t whylen;
};

static int
walk_count(struct walk *w, uint32_t depth)
{
	if (depth > w->l->max_depth) {
		why_set(w->why, w->whylen, "nested deeper than %u", w->l->max_depth);
		return MIST_E2BIG;
	}
	if (++w->values > w->l->max_values) {
		why_set(w->why, w->whylen, "more than %u values", w->l->max_values);
		return MIST_E2BIG;
	}
	return 0;
}

/* ------------------------------------------------------ JSON -> msgpack */

/* Whether the @a n bytes of @a s are all of base64's alphabet (its
 * padding included). */
static bool
b64_alphabet(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			return false;
	}
	return true;
}

/* The base64 text of a {"__type":"Bytes","base64":...} object, or NULL. */
static const json_t *
bytes_of(const json_t *o)
{
	if (json_object_size(o) != 2)
		return NULL;
	const json_t *t = json_object_get(o, "__type");
	const json_t *b = json_object_get(o, "base64");
	if (!json_is_string(t) || strcmp(json_string_value(t), "Bytes") != 0 ||
	    !json_is_string(b))
		return NULL;
	return b;
}

static int
to_mp(struct walk *w, const json_t *v, uint32_t depth, msgpack_packer *pk,
      struct buf *out, size_t start)
{
	int rc = walk_count(w, depth);
	if (rc < 0)
		return rc;
	switch (json_typeof(v)) {
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(v));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_STRING: {
		size_t n = json_string_length(v);
		if (n > w->l->max_str) {
			why_set(w->why, w->whylen,
				"a string longer than %zu bytes", w->l->max_str);
			return MIST_E2BIG;
		}
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, json_string_value(v), n);
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, x) {
			if ((rc = to_mp(w, x, depth + 1, pk, out, start)) < 0)
				return rc;
		}
		break;
	}
	case JSON_OBJECT: {
		const json_t *b64 = bytes_of(v);
		if (b64 != NULL) {
			size_t n = json_string_length(b64);
			size_t cap = n / 4 * 3 + 3;
			if (cap > w->l->max_str + 3) {
				why_set(w->why, w->whylen,
					"a Bytes value longer than %zu bytes",
					w->l->max_str);
				return MIST_E2BIG;
			}
			unsigned char *bin = xmalloc(cap + 1);
			size_t bl = 0;
			const char *end = NULL;
			/* the alphabet checked first: libsodium's decoder took
			 * bytes past 0x7f as letters (fuzz_jsonmp found
			 * "aGVsG\xc3\xa08" decoded, then written back as
			 * other text) */
			if (!b64_alphabet(json_string_value(b64), n) ||
			    sodium_base642bin(bin, cap + 1, json_string_value(b64),
					      n, NULL, &bl, &end,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    end != json_string_value(b64) + n) {
				free(bin);
				why_set(w->why, w->whylen,
					"a Bytes value that is not base64");
				return MIST_EINVAL;
			}
			if (bl > w->l->max_str) {
				free(bin);
				why_set(w->why, w->whylen,
					"a Bytes value longer than %zu bytes",
					w->l->max_str);
				return MIST_E2BIG;
			}
			msgpack_pack_bin(pk, bl);
			msgpack_pack_bin_body(pk, bin, bl);
			free(bin);
			break;
		}
		const char *k;
		json_t *x;
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach((json_t *)v, k, x) {
			size_t kl = strlen(k);
			if (kl > w->l->max_str) {
				why_set(w->why, w->whylen,
					"a key longer than %zu bytes",
					w->l->max_str);
				return MIST_E2BIG;
			}
			msgpack_pack_str(pk, kl);
			msgpack_pack_str_body(pk, k, kl);
			if ((rc = to_mp(w, x, depth + 1, pk, out, start)) < 0)
				return rc;
		}
		break;
	}
	}
	if (out->len - start > w->l->max_bytes) {
		why_set(w->why, w->whylen, "larger than %zu bytes as msgpack",
			w->l->max_bytes);
		return MIST_E2BIG;
	}
	return 0;
}

int
jsonmp_from_json(const json_t *v, const struct jsonmp_limits *l,
		 struct buf *out, char *why, size_t whylen)
{
	struct jsonmp_limits def;
	if (l == NULL) {
		jsonmp_limits_default(&def);
		l = &def;
	}
	if (v == NULL) {
		why_set(why, whylen, "no value");
		return MIST_EINVAL;
	}
	struct walk w = {l, 0, why, whylen};
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	size_t start = out->len;
	int rc = to_mp(&w, v, 1, &pk, out, start);
	if (rc < 0)
		out->len = start;
	return rc;
}

/* ------------------------------------------------------ msgpack -> JSON */

static int
from_mp(struct walk *w, struct mp_cur *c, uint32_t depth, json_t **out)
{
	*out = NULL;
	int rc = walk_count(w, depth);
	if (rc < 0)
		return rc;
	if (mp_cur_left(c) == 0)
		return MIST_EPROTO;
	uint8_t t = *c->p;
	if (t == 0xc0) {
		c->p++;
		*out = json_null();
		return 0;
	}
	if (t == 0xc2 || t == 0xc3) {
		c->p++;
		*out = json_boolean(t == 0xc3);
		return 0;
	}
	if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) {
		int64_t i;
		if (mp_read_int(c, &i) != 0) {
			why_set(w->why, w->whylen,
				"an integer past 2^63-1, which JSON here cannot hold");
			return MIST_EINVAL;
		}
		*out = json_integer(i);
		return 0;
	}
	if (t == 0xca || t == 0xcb) {
		double d;
		if (mp_read_double(c, &d) != 0)
			return MIST_EPROTO;
		if (!isfinite(d)) {
			why_set(w->why, w->whylen, "NaN or an infinity");
			return MIST_EINVAL;
		}
		*out = json_real(d);
		return 0;
	}
	if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) {
		const char *s;
		uint32_t n;
		if (mp_read_str(c, &s, &n) != 0)
			return MIST_EPROTO;
		if (n > w->l->max_str) {
			why_set(w->why, w->whylen, "a string longer than %zu bytes",
				w->l->max_str);
			return MIST_E2BIG;
		}
		*out = json_stringn(s, n);
		if (*out == NULL) {
			why_set(w->why, w->whylen, "a string that is not UTF-8");
			return MIST_EINVAL;
		}
		return 0;
	}
	if (t >= 0xc4 && t <= 0xc6) {
		const uint8_t *b;
		uint32_t n;
		if (mp_read_bin(c, &b, &n) != 0)
			return MIST_EPROTO;
		if (n > w->l->max_str) {
			why_set(w->why, w->whylen, "a binary longer than %zu bytes",
				w->l->max_str);
			return MIST_E2BIG;
		}
		size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
		char *s = xmalloc(cap);
		sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_ORIGINAL);
		*out = json_pack("{s:s,s:s}", "__type", "Bytes", "base64", s);
		free(s);
		return 0;
	}
	if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
		uint32_t n;
		if (mp_read_array(c, &n) != 0)
			return MIST_EPROTO;
		json_t *a = json_array();
		for (uint32_t i = 0; i < n; i++) {
			json_t *x;
			if ((rc = from_mp(w, c, depth + 1, &x)) < 0) {
				json_decref(a);
				return rc;
			}
			json_array_append_new(a, x);
		}
		*out = a;
		return 0;
	}
	if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
		uint32_t n;
		if (mp_read_map(c, &n) != 0)
			return MIST_EPROTO;
		json_t *o = json_object();
		for (uint32_t i = 0; i < n; i++) {
			const char *k;
			uint32_t kl;
			uint8_t kt = mp_cur_left(c) > 0 ? *c->p : 0xc1;
			if (!((kt & 0xe0) == 0xa0 || (kt >= 0xd9 && kt <= 0xdb))) {
				json_decref(o);
				why_set(w->why, w->whylen,
					"a map key that is not a string");
				return MIST_EINVAL;
			}
			if (mp_read_str(c, &k, &kl) != 0) {
				json_decref(o);
				return MIST_EPROTO;
			}
			if (kl > w->l->max_str) {
				json_decref(o);
				why_set(w->why, w->whylen,
					"a key longer than %zu bytes", w->l->max_str);
				return MIST_E2BIG;
			}
			if (memchr(k, '\0', kl) != NULL) {
				json_decref(o);
				why_set(w->why, w->whylen, "a key holding a NUL");
				return MIST_EINVAL;
			}
			json_t *x;
			if ((rc = from_mp(w, c, depth + 1, &x)) < 0) {
				json_decref(o);
				return rc;
			}
			if (json_object_getn(o, k, kl) != NULL) {
				json_decref(x);
				json_decref(o);
				why_set(w->why, w->whylen, "a map key twice");
				return MIST_EINVAL;
			}
			if (json_object_setn_new(o, k, kl, x) < 0) {
				json_decref(o);
				why_set(w->why, w->whylen, "a key that is not UTF-8");
				return MIST_EINVAL;
			}
		}
		*out = o;
		return 0;
	}
	why_set(w->why, w->whylen, "a msgpack ext value, which has no JSON form");
	return MIST_EINVAL;
}

/* The bounds both msgpack readers check before walking @a p: its size,
 * one well-formed object within the depth, nothing after it. */
static int
mp_input_ok(const uint8_t *p, size_t len, const struct jsonmp_limits *l,
	    char *why, size_t whylen)
{
	if (len > l->max_bytes) {
		why_set(why, whylen, "larger than %zu bytes as msgpack",
			l->max_bytes);
		return MIST_E2BIG;
	}
	size_t used;
	if (mp_check(p, len, MP_MAX_DEPTH, &used) != 0) {
		why_set(why, whylen, "malformed, truncated or nested deeper "
				     "than %d msgpack", MP_MAX_DEPTH);
		return MIST_EPROTO;
	}
	if (used != len) {
		why_set(why, whylen, "bytes after the msgpack value");
		return MIST_EPROTO;
	}
	return 0;
}

int
jsonmp_to_json(const uint8_t *p, size_t len, const struct jsonmp_limits *l,
	       json_t **out, char *why, size_t whylen)
{
	struct jsonmp_limits def;
	if (l == NULL) {
		jsonmp_limits_default(&def);
		l = &def;
	}
	*out = NULL;
	int bad = mp_input_ok(p, len, l, why, whylen);
	if (bad != 0)
		return bad;
	struct walk w = {l, 0, why, whylen};
	struct mp_cur c;
	mp_cur_init(&c, p, len);
	int rc = from_mp(&w, &c, 1, out);
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
		if (rc == MIST_EPROTO)
			why_set(why, whylen, "malformed msgpack");
	}
	return rc;
}

/* ------------------------------------------------ msgpack -> JSON text */

/* The length of the valid UTF-8 sequence starting at @a s (at most @a n
 * bytes), or 0: jansson's rules (no overlong forms, no surrogates,
 * nothing past U+10FFFF). */
static size_t
utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t k;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4, cp = c & 0x07;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return k;
}

/* The escape of byte @a c (below 0x20, '"' or '\\'), as jansson writes it. */
static const char *
text_esc(uint8_t c, char tmp[8], size_t *len)
{
	*len = 2;
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: /* below 0x20 */
		*len = 6;
		snprintf(tmp, 8, "\\u%04X", c);
		return tmp;
	}
}

/* Whether the 8 bytes of @a w are all printable ASCII needing no escape
 * (0x20..0x7f but '"' and '\\'): the common run, skipped a word at a
 * time.  The classic bit tricks: a byte below 0x20 (no high bit set)
 * leaves a high bit in w - 0x20.., a byte equal to '"' a zero byte in
 * w ^ 0x22.. */
static bool
text_plain8(uint64_t w)
{
	const uint64_t hi = 0x8080808080808080ull, one = 0x0101010101010101ull;
	uint64_t q = w ^ (0x22 * one), b = w ^ (0x5c * one);
	return ((w | ((w - 0x20 * one) & ~w) | ((q - one) & ~q) |
		 ((b - one) & ~b)) & hi) == 0;
}

/* The bytes an ASCII byte's escape adds (text_esc): 1 for '"', '\\' and
 * the five with a letter, 5 for the other controls (\u00XX), 0 else. */
static const uint8_t text_esc_extra[128] = {
	5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* \b \t \n \f \r */
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	['"'] = 1, ['\\'] = 1,
};

#if defined(__SSE2__)
/* The bytes of the 16 at @a p that are '"' or '\\' (@a *q) and those that
 * are anything else but printable ASCII (the mask's return: controls and
 * bytes >= 0x80, the signed compare's negatives), a bit each. */
static unsigned
text_special16(const uint8_t *p, unsigned *q)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i qs = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
				  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	*q = (unsigned)_mm_movemask_epi8(qs);
	return (unsigned)_mm_movemask_epi8(
		_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
}

/* Writes the 16 bytes at @a p escaped at @a o, when their only specials
 * are the quotes and backslashes of mask @a q (JSON text inside a
 * string): the runs between them copied 8 bytes at a time from a padded
 * copy, so @a o needs 16 bytes of slack past the escaped block.  Returns
 * the end of what it wrote. */
static char *
text_quoted16(char *o, const uint8_t *p, unsigned q)
{
	uint8_t blk[32];
	memcpy(blk, p, 16);
	memset(blk + 16, 0, 16);
	size_t j = 0; /* the next byte of blk to write */
	for (; q != 0; q &= q - 1) {
		size_t k = (size_t)__builtin_ctz(q);
		memcpy(o, blk + j, 8);
		if (k - j > 8)
			memcpy(o + 8, blk + j + 8, 8);
		o += k - j;
		*o++ = '\\';
		*o++ = (char)blk[k];
		j = k + 1;
	}
	memcpy(o, blk + j, 8);
	if (16 - j > 8)
		memcpy(o + 8, blk + j + 8, 8);
	return o + (16 - j);
}
#endif

/* Checks that @a n bytes are UTF-8 (jansson's rules) and counts the bytes
 * their escapes add: false if not UTF-8. */
static bool
text_scan(const uint8_t *p, size_t n, size_t *extra)
{
	size_t x = 0;
	for (size_t i = 0; i < n;) {
		uint64_t w;
		size_t end = n;
#if defined(__SSE2__)
		if (n - i >= 16) {
			/* 16 at a time: quotes and backslashes are counted
			 * (one byte more each), anything else is looked at
			 * byte by byte */
			unsigned q, other = text_special16(p + i, &q);
			if (other == 0) {
				x += (size_t)__builtin_popcount(q);
				i += 16;
				continue;
			}
			end = i + 16;
		} else
#endif
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (text_plain8(w)) {
				i += 8;
				continue;
			}
			end = i + 8; /* these 8 byte by byte, then a word again */
		}
		while (i < end) {
			uint8_t c = p[i];
			if (c >= 0x80) {
				size_t k = utf8_seq(p + i, n - i);
				if (k == 0)
					return false;
				i += k;
				continue;
			}
			x += text_esc_extra[c];
			i++;
		}
	}
	*extra = x;
	return true;
}

/* A JSON string of @a n bytes that text_scan() passed with @a extra,
 * escaped as jansson does. */
static void
text_str(struct buf *out, const char *s, size_t n, size_t extra)
{
	const uint8_t *p = (const uint8_t *)s;
	/* 16 bytes of slack: a block's runs are copied 8 bytes at a time */
	buf_reserve(out, n + extra + 2 + 16);
	char *o = (char *)out->data + out->len;
	*o++ = '"';
	if (extra == 0) {
		memcpy(o, s, n);
		o += n;
	} else {
		/* a word at a time while plain, else byte by byte (the
		 * escapes of JSON text inside a string come every few
		 * bytes: a memcpy per run would cost more than the run) */
		for (size_t i = 0; i < n;) {
			uint64_t w;
			size_t end;
#if defined(__SSE2__)
			if (n - i >= 16) {
				unsigned q, other = text_special16(p + i, &q);
				if ((other | q) == 0) {
					memcpy(o, p + i, 16);
					o += 16;
					i += 16;
					continue;
				}
				if (other == 0) { /* JSON text inside */
					o = text_quoted16(o, p + i, q);
					i += 16;
					continue;
				}
				end = i + 16;
			} else
#endif
			if (n - i >= 8 && (memcpy(&w, p + i, 8), text_plain8(w))) {
				memcpy(o, &w, 8);
				o += 8;
				i += 8;
				continue;
			} else {
				end = n - i >= 8 ? i + 8 : n;
			}
			for (; i < end; i++) {
				uint8_t c = p[i];
				if (c >= 0x80 || text_esc_extra[c] == 0) {
					*o++ = (char)c;
				} else {
					char tmp[8];
					size_t len;
					const char *e = text_esc(c, tmp, &len);
					memcpy(o, e, len);
					o += len;
				}
			}
		}
	}
	*o++ = '"';
	out->len = (size_t)(o - (char *)out->data);
}

/* A real as jansson's jsonp_dtostr (precision 17) writes it. */
static void
text_real(struct buf *out, double d)
{
	char s[64];
	int n = snprintf(s, sizeof(s) - 2, "%.17g", d);
	if (n < 0 || (size_t)n >= sizeof(s) - 2)
		n = 0;
	for (int i = 0; i < n; i++)
		if (s[i] == ',')
			s[i] = '.'; /* a locale's decimal comma */
	if (memchr(s, '.', (size_t)n) == NULL && memchr(s, 'e', (size_t)n) == NULL) {
		memcpy(s + n, ".0", 2);
		n += 2;
	}
	/* no '+' and no leading zeros in the exponent */
	char *e = memchr(s, 'e', (size_t)n);
	if (e != NULL) {
		char *start = e + 1, *end = start + 1;
		if (*start == '-')
			start++;
		while (end < s + n && *end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)(s + n - end));
			n -= (int)(end - start);
		}
	}
	buf_append(out, s, (size_t)n);
}

/* Keys of one map seen so far, to refuse a key twice (jansson's
 * json_object_getn): a linear scan while few, then an open-addressing
 * table of twice the map's size. */
struct keyset {
	const char **k;
	uint32_t *kl;
	uint32_t n, cap; /* cap: table slots (0: linear) */
	const char *small_k[16];
	uint32_t small_kl[16];
};

static uint32_t
key_hash(const char *k, uint32_t kl)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < kl; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	return h;
}

static void
keyset_init(struct keyset *s, uint32_t size)
{
	s->n = 0;
	if (size <= 16) {
		s->cap = 0;
		s->k = s->small_k;
		s->kl = s->small_kl;
		return;
	}
	s->cap = 32;
	while (s->cap < 2 * size)
		s->cap *= 2;
	s->k = xcalloc(s->cap, sizeof(*s->k));
	s->kl = xcalloc(s->cap, sizeof(*s->kl));
}

static void
keyset_destroy(struct keyset *s)
{
	if (s->cap) {
		free(s->k);
		free(s->kl);
	}
}

/* Adds the key: false if it was there. */
static bool
keyset_add(struct keyset *s, const char *k, uint32_t kl)
{
	if (s->cap == 0) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->kl[i] == kl && memcmp(s->k[i], k, kl) == 0)
				return false;
		s->k[s->n] = k;
		s->kl[s->n++] = kl;
		return true;
	}
	uint32_t i = key_hash(k, kl) & (s->cap - 1);
	for (; s->k[i] != NULL; i = (i + 1) & (s->cap - 1))
		if (s->kl[i] == kl && memcmp(s->k[i], k, kl) == 0)
			return false;
	s->k[i] = k;
	s->kl[i] = kl;
	s->n++;
	return true;
}

/* from_mp()'s walk, the same checks in the same order, writing text. */
static int
text_mp(struct walk *w, struct mp_cur *c, uint32_t depth, struct buf *out)
{
	int rc = walk_count(w, depth);
	if (rc < 0)
		return rc;
	if (mp_cur_left(c) == 0)
		return MIST_EPROTO;
	uint8_t t = *c->p;
	if (t == 0xc0 || t == 0xc2 || t == 0xc3) {
		c->p++;
		const char *s = t == 0xc0 ? "null" : t == 0xc3 ? "true" : "false";
		buf_append(out, s, strlen(s));
		return 0;
	}
	if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) {
		int64_t i;
		if (mp_read_int(c, &i) != 0) {
			why_set(w->why, w->whylen,
				"an integer past 2^63-1, which JSON here cannot hold");
			return MIST_EINVAL;
		}
		char s[24];
		buf_append(out, s, text_i64(s, i));
		return 0;
	}
	if (t == 0xca || t == 0xcb) {
		double d;
		if (mp_read_double(c, &d) != 0)
			return MIST_EPROTO;
		if (!isfinite(d)) {
			why_set(w->why, w->whylen, "NaN or an infinity");
			return MIST_EINVAL;
		}
		text_real(out, d);
		return 0;
	}
	if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) {
		const char *s;
		uint32_t n;
		if (mp_read_str(c, &s, &n) != 0)
			return MIST_EPROTO;
		if (n > w->l->max_str) {
			why_set(w->why, w->whylen, "a string longer than %zu bytes",
				w->l->max_str);
			return MIST_E2BIG;
		}
		size_t extra;
		if (!text_scan((const uint8_t *)s, n, &extra)) {
			why_set(w->why, w->whylen, "a string that is not UTF-8");
			return MIST_EINVAL;
		}
		text_str(out, s, n, extra);
		return 0;
	}
	if (t >= 0xc4 && t <= 0xc6) {
		const uint8_t *b;
		uint32_t n;
		if (mp_read_bin(c, &b, &n) != 0)
			return MIST_EPROTO;
		if (n > w->l->max_str) {
			why_set(w->why, w->whylen, "a binary longer than %zu bytes",
				w->l->max_str);
			return MIST_E2BIG;
		}
		static const char pre[] = "{\"__type\":\"Bytes\",\"base64\":\"";
		size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
		buf_append(out, pre, sizeof(pre) - 1);
		buf_reserve(out, cap + 2);
		sodium_bin2base64((char *)out->data + out->len, cap, b, n,
				  sodium_base64_VARIANT_ORIGINAL);
		out->len += cap - 1; /* cap counts the NUL */
		buf_append(out, "\"}", 2);
		return 0;
	}
	if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
		uint32_t n;
		if (mp_read_array(c, &n) != 0)
			return MIST_EPROTO;
		buf_append(out, "[", 1);
		for (uint32_t i = 0; i < n; i++) {
			if (i)
				buf_append(out, ",", 1);
			if ((rc = text_mp(w, c, depth + 1, out)) < 0)
				return rc;
		}
		buf_append(out, "]", 1);
		return 0;
	}
	if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf) {
		uint32_t n;
		if (mp_read_map(c, &n) != 0)
			return MIST_EPROTO;
		struct keyset ks;
		/* every entry is 2 bytes at least: mp_check saw them */
		keyset_init(&ks, n);
		buf_append(out, "{", 1);
		for (uint32_t i = 0; i < n; i++) {
			const char *k;
			uint32_t kl;
			uint8_t kt = mp_cur_left(c) > 0 ? *c->p : 0xc1;
			if (!((kt & 0xe0) == 0xa0 || (kt >= 0xd9 && kt <= 0xdb))) {
				why_set(w->why, w->whylen,
					"a map key that is not a string");
				rc = MIST_EINVAL;
				break;
			}
			if (mp_read_str(c, &k, &kl) != 0) {
				rc = MIST_EPROTO;
				break;
			}
			if (kl > w->l->max_str) {
				why_set(w->why, w->whylen,
					"a key longer than %zu bytes", w->l->max_str);
				rc = MIST_E2BIG;
				break;
			}
			if (memchr(k, '\0', kl) != NULL) {
				why_set(w->why, w->whylen, "a key holding a NUL");
				rc = MIST_EINVAL;
				break;
			}
			if (i)
				buf_append(out, ",", 1);
			size_t at = out->len;
			size_t kx;
			bool ok = text_scan((const uint8_t *)k, kl, &kx);
			if (ok)
				text_str(out, k, kl, kx);
			buf_append(out, ":", 1);
			if ((rc = text_mp(w, c, depth + 1, out)) < 0)
				break;
			if (!keyset_add(&ks, k, kl)) {
				why_set(w->why, w->whylen, "a map key twice");
				rc = MIST_EINVAL;
				break;
			}
			if (!ok) {
				out->len = at;
				why_set(w->why, w->whylen, "a key that is not UTF-8");
				rc = MIST_EINVAL;
				break;
			}
		}
		keyset_destroy(&ks);
		if (rc < 0)
			return rc;
		buf_append(out, "}", 1);
		return 0;
	}
	why_set(w->why, w->whylen, "a msgpack ext value, which has no JSON form");
	return MIST_EINVAL;
}

int
jsonmp_to_text(const uint8_t *p, size_t len, const struct jsonmp_limits *l,
	       struct buf *out, char *why, size_t whylen)
{
	struct jsonmp_limits def;
	if (l == NULL) {
		jsonmp_limits_default(&def);
		l = &def;
	}
	int bad = mp_input_ok(p, len, l, why, whylen);
	if (bad != 0)
		return bad;
	struct walk w = {l, 0, why, whylen};
	struct mp_cur c;
	mp_cur_init(&c, p, len);
	size_t start = out->len;
	int rc = text_mp(&w, &c, 1, out);
	if (rc < 0) {
		out->len = start;
		if (rc == MIST_EPROTO)
			why_set(why, whylen, "malformed msgpack");
	}
	return rc;
}
