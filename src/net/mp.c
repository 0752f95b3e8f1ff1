/*
 * mp.c -- bounded msgpack validation and reading.  The encoding is the
 * msgpack specification's; the tag byte determines the shape:
 *
 *   0x00-0x7f fixint   0x80-0x8f fixmap   0x90-0x9f fixarray  0xa0-0xbf fixstr
 *   0xc0 nil  0xc2/0xc3 bool  0xc4-0xc6 bin8/16/32  0xc7-0xc9 ext8/16/32
 *   0xca/0xcb float32/64  0xcc-0xcf uint8..64  0xd0-0xd3 int8..64
 *   0xd4-0xd8 fixext1..16  0xd9-0xdb str8/16/32  0xdc/0xdd array16/32
 *   0xde/0xdf map16/32  0xe0-0xff negative fixint  0xc1 never used
 */
#include "config.h"
#include "net/mp.h"
#include "mist.h"

#include <string.h>

static uint64_t
mp_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Reads a header: kind of object, the length of its inline payload (str,
 * bin, ext, scalars) and the number of child objects (array, map*2).
 */
enum mp_kind { MP_SCALAR, MP_CONTAINER };

static int
mp_head(const uint8_t *p, size_t left, size_t *hdr, uint64_t *payload,
	uint64_t *children)
{
	if (left < 1)
		return MIST_EPROTO;
	uint8_t t = p[0];
	*payload = 0;
	*children = 0;
	*hdr = 1;
	int extra = 0; /* bytes of length field */
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if ((t & 0xf0) == 0x80) {
		*children = 2ull * (t & 0x0f);
		return 0;
	}
	if ((t & 0xf0) == 0x90) {
		*children = t & 0x0f;
		return 0;
	}
	if ((t & 0xe0) == 0xa0) {
		*payload = t & 0x1f;
		return 0;
	}
	switch (t) {
	case 0xc4: case 0xd9: extra = 1; break;
	case 0xc5: case 0xda: extra = 2; break;
	case 0xc6: case 0xdb: extra = 4; break;
	case 0xc7: extra = 1; *payload = 1; break; /* + type byte */
	case 0xc8: extra = 2; *payload = 1; break;
	case 0xc9: extra = 4; *payload = 1; break;
	case 0xca: *payload = 4; return 0;
	case 0xcb: *payload = 8; return 0;
	case 0xcc: case 0xd0: *payload = 1; return 0;
	case 0xcd: case 0xd1: *payload = 2; return 0;
	case 0xce: case 0xd2: *payload = 4; return 0;
	case 0xcf: case 0xd3: *payload = 8; return 0;
	case 0xd4: *payload = 2; return 0;
	case 0xd5: *payload = 3; return 0;
	case 0xd6: *payload = 5; return 0;
	case 0xd7: *payload = 9; return 0;
	case 0xd8: *payload = 17; return 0;
	case 0xdc:
		if (left < 3)
			return MIST_EPROTO;
		*hdr = 3;
		*children = mp_be(p + 1, 2);
		return 0;
	case 0xdd:
		if (left < 5)
			return MIST_EPROTO;
		*hdr = 5;
		*children = mp_be(p + 1, 4);
		return 0;
	case 0xde:
		if (left < 3)
			return MIST_EPROTO;
		*hdr = 3;
		*children = 2 * mp_be(p + 1, 2);
		return 0;
	case 0xdf:
		if (left < 5)
			return MIST_EPROTO;
		*hdr = 5;
		*children = 2 * mp_be(p + 1, 4);
		return 0;
	default: /* 0xc1 */
		return MIST_EPROTO;
	}
	if (left < (size_t)1 + extra)
		return MIST_EPROTO;
	*hdr = 1 + (size_t)extra;
	*payload += mp_be(p + 1, extra);
	return 0;
}

/*
 * Iterative walk: "pending" counts objects still to read.  A container adds
 * its children; the depth bound uses a small stack of per-level counts.
 * Each child needs at least one byte, so a declared count larger than the
 * bytes left is rejected at once -- before any further work.
 */
int
mp_check(const uint8_t *p, size_t len, int max_depth, size_t *used)
{
	uint64_t stack[MP_MAX_DEPTH + 1];
	int depth = 0;
	size_t off = 0;
	if (max_depth > MP_MAX_DEPTH)
		max_depth = MP_MAX_DEPTH;
	stack[0] = 1;
	while (depth >= 0) {
		if (stack[depth] == 0) {
			depth--;
			continue;
		}
		stack[depth]--;
		size_t hdr;
		uint64_t payload, children;
		if (mp_head(p + off, len - off, &hdr, &payload, &children) != 0)
			return MIST_EPROTO;
		off += hdr;
		if (payload > len - off)
			return MIST_EPROTO;
		off += (size_t)payload;
		if (children > 0) {
			if (children > len - off)
				return MIST_EPROTO;
			if (depth + 1 > max_depth)
				return MIST_EPROTO;
			stack[++depth] = children;
		}
	}
	*used = off;
	return 0;
}

int
mp_skip(struct mp_cur *c)
{
	size_t used;
	if (mp_check(c->p, mp_cur_left(c), MP_MAX_DEPTH, &used) != 0)
		return MIST_EPROTO;
	c->p += used;
	return 0;
}

static int
mp_need(struct mp_cur *c, size_t n)
{
	return mp_cur_left(c) >= n ? 0 : MIST_EPROTO;
}

int
mp_read_uint(struct mp_cur *c, uint64_t *v)
{
	if (mp_need(c, 1))
		return MIST_EPROTO;
	uint8_t t = *c->p;
	int n;
	if (t <= 0x7f) {
		*v = t;
		c->p++;
		return 0;
	}
	switch (t) {
	case 0xcc: n = 1; break;
	case 0xcd: n = 2; break;
	case 0xce: n = 4; break;
	case 0xcf: n = 8; break;
	default: return MIST_EPROTO;
	}
	if (mp_need(c, 1 + (size_t)n))
		return MIST_EPROTO;
	*v = mp_be(c->p + 1, n);
	c->p += 1 + n;
	return 0;
}

int
mp_read_int(struct mp_cur *c, int64_t *v)
{
	if (mp_need(c, 1))
		return MIST_EPROTO;
	uint8_t t = *c->p;
	if (t >= 0xe0) {
		*v = (int8_t)t;
		c->p++;
		return 0;
	}
	int n;
	switch (t) {
	case 0xd0: n = 1; break;
	case 0xd1: n = 2; break;
	case 0xd2: n = 4; break;
	case 0xd3: n = 8; break;
	default: {
		uint64_t u;
		if (mp_read_uint(c, &u) != 0 || u > INT64_MAX)
			return MIST_EPROTO;
		*v = (int64_t)u;
		return 0;
	}
	}
	if (mp_need(c, 1 + (size_t)n))
		return MIST_EPROTO;
	uint64_t u = mp_be(c->p + 1, n);
	/* sign-extend from n bytes */
	int shift = 64 - 8 * n;
	*v = (int64_t)(u << shift) >> shift;
	c->p += 1 + n;
	return 0;
}

int
mp_read_bool(struct mp_cur *c, bool *v)
{
	if (mp_need(c, 1) || (*c->p != 0xc2 && *c->p != 0xc3))
		return MIST_EPROTO;
	*v = *c->p == 0xc3;
	c->p++;
	return 0;
}

int
mp_read_nil(struct mp_cur *c)
{
	if (mp_need(c, 1) || *c->p != 0xc0)
		return MIST_EPROTO;
	c->p++;
	return 0;
}

bool
mp_peek_nil(const struct mp_cur *c)
{
	return c->p < c->end && *c->p == 0xc0;
}

static int
mp_read_blob(struct mp_cur *c, int is_str, const uint8_t **b, uint32_t *len)
{
	if (mp_need(c, 1))
		return MIST_EPROTO;
	uint8_t t = *c->p;
	int n;
	if (is_str && (t & 0xe0) == 0xa0) {
		n = 0;
		*len = t & 0x1f;
	} else {
		switch (t) {
		case 0xd9: case 0xc4: n = 1; break;
		case 0xda: case 0xc5: n = 2; break;
		case 0xdb: case 0xc6: n = 4; break;
		default: return MIST_EPROTO;
		}
		if (is_str != (t >= 0xd9))
			return MIST_EPROTO;
		if (mp_need(c, 1 + (size_t)n))
			return MIST_EPROTO;
		*len = (uint32_t)mp_be(c->p + 1, n);
	}
	if (mp_need(c, 1 + (size_t)n + *len))
		return MIST_EPROTO;
	*b = c->p + 1 + n;
	c->p += 1 + n + *len;
	return 0;
}

int
mp_read_str(struct mp_cur *c, const char **s, uint32_t *len)
{
	/* not through a cast of @a s: storing a uint8_t pointer into a char
	 * pointer object breaks the aliasing rules, and -O2 exploits it */
	const uint8_t *b;
	if (mp_read_blob(c, 1, &b, len) != 0)
		return MIST_EPROTO;
	*s = (const char *)b;
	return 0;
}

int
mp_read_bin(struct mp_cur *c, const uint8_t **b, uint32_t *len)
{
	return mp_read_blob(c, 0, b, len);
}

static int
mp_read_container(struct mp_cur *c, uint8_t fix, uint8_t t16, uint32_t *n)
{
	if (mp_need(c, 1))
		return MIST_EPROTO;
	uint8_t t = *c->p;
	int w;
	if ((t & 0xf0) == fix) {
		*n = t & 0x0f;
		c->p++;
		return 0;
	}
	if (t == t16)
		w = 2;
	else if (t == t16 + 1)
		w = 4;
	else
		return MIST_EPROTO;
	if (mp_need(c, 1 + (size_t)w))
		return MIST_EPROTO;
	*n = (uint32_t)mp_be(c->p + 1, w);
	c->p += 1 + w;
	/* Each element needs at least one byte: refuse impossible counts. */
	if (*n > mp_cur_left(c))
		return MIST_EPROTO;
	return 0;
}

int
mp_read_array(struct mp_cur *c, uint32_t *n)
{
	return mp_read_container(c, 0x90, 0xdc, n);
}

int
mp_read_map(struct mp_cur *c, uint32_t *n)
{
	return mp_read_container(c, 0x80, 0xde, n);
}

bool
mp_str_eq(const char *s, uint32_t len, const char *key)
{
	/* byte by byte: a field table's keys mostly differ in their first
	 * (mp_read_fields tries each), so no strlen of every key */
	for (uint32_t i = 0; i < len; i++)
		if (key[i] == '\0' || key[i] != s[i])
			return false;
	return key[len] == '\0';
}

int
mp_read_double(struct mp_cur *c, double *v)
{
	if (mp_need(c, 1))
		return MIST_EPROTO;
	uint8_t t = *c->p;
	if (t == 0xca || t == 0xcb) {
		int n = t == 0xca ? 4 : 8;
		if (mp_need(c, 1 + (size_t)n))
			return MIST_EPROTO;
		uint64_t bits = mp_be(c->p + 1, n);
		if (n == 4) {
			uint32_t b32 = (uint32_t)bits;
			float f;
			memcpy(&f, &b32, 4);
			*v = f;
		} else {
			memcpy(v, &bits, 8);
		}
		c->p += 1 + n;
		return 0;
	}
	int64_t i;
	if (mp_read_int(c, &i) == 0) {
		*v = (double)i;
		return 0;
	}
	uint64_t u;
	if (mp_read_uint(c, &u) != 0)
		return MIST_EPROTO;
	*v = (double)u;
	return 0;
}

int
mp_read_obj(struct mp_cur *c, struct mp_cur *obj)
{
	const uint8_t *start = c->p;
	if (mp_skip(c) != 0)
		return MIST_EPROTO;
	mp_cur_init(obj, start, (size_t)(c->p - start));
	return 0;
}

void
mp_pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* ------------------------------------------------ maps of named fields */

static int
mp_read_field(struct mp_cur *c, const struct mp_field *f)
{
	switch (f->type) {
	case MP_FIELD_UINT:
		return mp_read_uint(c, f->to.u);
	case MP_FIELD_INT:
		return mp_read_int(c, f->to.i);
	case MP_FIELD_BOOL:
		return mp_read_bool(c, f->to.b);
	case MP_FIELD_DOUBLE:
		return mp_read_double(c, f->to.d);
	case MP_FIELD_STR:
		return mp_read_str(c, f->to.s, f->len);
	case MP_FIELD_BIN:
		return mp_read_bin(c, f->to.bin, f->len);
	case MP_FIELD_OBJ:
	case MP_FIELD_FN: {
		struct mp_cur v;
		if (mp_read_obj(c, &v) != 0)
			return MIST_EPROTO;
		if (f->type == MP_FIELD_FN)
			return f->to.fn(&v, f->ctx);
		*f->to.bin = v.p;
		*f->len = (uint32_t)mp_cur_left(&v);
		return 0;
	}
	}
	return MIST_EINVAL;
}

int
mp_read_fields(struct mp_cur *c, const struct mp_field *fields,
	       size_t nfields, const char **bad)
{
	uint32_t n, seen = 0;
	const char *dummy;
	if (bad == NULL)
		bad = &dummy;
	*bad = NULL;
	if (nfields > MP_MAX_FIELDS)
		return MIST_EINVAL;
	/* the count is bounded by the bytes left (mp_read_map) */
	if (mp_read_map(c, &n) != 0)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		if (mp_read_str(c, &k, &kl) != 0)
			return MIST_EPROTO;
		size_t at = 0;
		while (at < nfields && !mp_str_eq(k, kl, fields[at].key))
			at++;
		if (at == nfields) {
			if (mp_skip(c) != 0)
				return MIST_EPROTO;
			continue;
		}
		const struct mp_field *f = &fields[at];
		*bad = f->key;
		if (seen & (UINT32_C(1) << at))
			return MIST_EPROTO; /* a known key twice */
		seen |= UINT32_C(1) << at;
		int rc = mp_read_field(c, f);
		if (rc != 0)
			return rc;
		*bad = NULL;
	}
	for (size_t at = 0; at < nfields; at++)
		if (fields[at].required && !(seen & (UINT32_C(1) << at))) {
			*bad = fields[at].key;
			return MIST_EPROTO;
		}
	return 0;
}

int
mp_decode_fields(const uint8_t *p, size_t len, const struct mp_field *fields,
		 size_t nfields, const char **bad)
{
	struct mp_cur c;
	mp_cur_init(&c, p, len);
	int rc = mp_read_fields(&c, fields, nfields, bad);
	if (rc == 0 && mp_cur_left(&c) != 0) {
		if (bad != NULL)
			*bad = NULL;
		return MIST_EPROTO; /* bytes after the map */
	}
	return rc;
}
