/*
 * meta.c -- the gossiped metadata codec (schema drawn in meta.h).
 */
#include "config.h"
#include "data/meta.h"
#include "mist.h"
#include "net/mp.h"

#include <msgpack.h>
#include <string.h>

/* Keys written: gateway tier cores speed power price load functions tags. */
#define META_KEYS 9

void
meta_init(struct meta *m)
{
	memset(m, 0, sizeof(*m));
	m->speed = 1.0;
}

static void
pack_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

int
meta_encode(const struct meta *m, struct buf *out)
{
	size_t start = out->len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	msgpack_pack_map(&pk, META_KEYS);
	pack_cstr(&pk, "gateway");
	pack_cstr(&pk, m->gateway);
	pack_cstr(&pk, "tier");
	pack_cstr(&pk, m->tier);
	pack_cstr(&pk, "cores");
	msgpack_pack_uint32(&pk, m->cores);
	pack_cstr(&pk, "speed");
	msgpack_pack_double(&pk, m->speed);
	pack_cstr(&pk, "power");
	msgpack_pack_double(&pk, m->power);
	pack_cstr(&pk, "price");
	msgpack_pack_double(&pk, m->price);
	pack_cstr(&pk, "load");
	msgpack_pack_double(&pk, m->load);
	pack_cstr(&pk, "functions");
	msgpack_pack_array(&pk, m->nfunctions);
	for (uint32_t i = 0; i < m->nfunctions; i++)
		pack_cstr(&pk, m->functions[i]);
	pack_cstr(&pk, "tags");
	msgpack_pack_map(&pk, m->ntags);
	for (uint32_t i = 0; i < m->ntags; i++) {
		pack_cstr(&pk, m->tags[i][0]);
		pack_cstr(&pk, m->tags[i][1]);
	}
	return out->len - start <= META_MAX_BYTES ? 0 : MIST_E2BIG;
}

/* A string into @a dst (@a cap bytes with the NUL): longer is refused. */
static int
read_cstr(struct mp_cur *c, char *dst, size_t cap)
{
	const char *s;
	uint32_t n;
	if (mp_read_str(c, &s, &n) != 0 || n >= cap)
		return MIST_EPROTO;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int
read_functions(struct mp_cur *c, struct meta *m)
{
	uint32_t n;
	if (mp_read_array(c, &n) != 0 || n > META_MAX_FUNCTIONS)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++)
		if (read_cstr(c, m->functions[i], EXEC_NAME_MAX) != 0 ||
		    m->functions[i][0] == '\0')
			return MIST_EPROTO;
	m->nfunctions = n;
	return 0;
}

static int
read_tags(struct mp_cur *c, struct meta *m)
{
	uint32_t n;
	if (mp_read_map(c, &n) != 0 || n > META_MAX_TAGS)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++)
		if (read_cstr(c, m->tags[i][0], META_TAG_MAX) != 0 ||
		    read_cstr(c, m->tags[i][1], META_TAG_MAX) != 0)
			return MIST_EPROTO;
	m->ntags = n;
	return 0;
}

int
meta_read(struct mp_cur *c, struct meta *m)
{
	uint32_t n;
	if (mp_read_map(c, &n) != 0)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		uint64_t u;
		int rc;
		if (mp_read_str(c, &k, &kl) != 0)
			return MIST_EPROTO;
		if (mp_str_eq(k, kl, "gateway")) {
			rc = read_cstr(c, m->gateway, sizeof(m->gateway));
		} else if (mp_str_eq(k, kl, "tier")) {
			rc = read_cstr(c, m->tier, sizeof(m->tier));
		} else if (mp_str_eq(k, kl, "cores")) {
			rc = mp_read_uint(c, &u);
			if (rc == 0 && u > UINT32_MAX)
				rc = MIST_EPROTO;
			else if (rc == 0)
				m->cores = (uint32_t)u;
		} else if (mp_str_eq(k, kl, "speed")) {
			rc = mp_read_double(c, &m->speed);
		} else if (mp_str_eq(k, kl, "power")) {
			rc = mp_read_double(c, &m->power);
		} else if (mp_str_eq(k, kl, "price")) {
			rc = mp_read_double(c, &m->price);
		} else if (mp_str_eq(k, kl, "load")) {
			rc = mp_read_double(c, &m->load);
		} else if (mp_str_eq(k, kl, "functions")) {
			rc = read_functions(c, m);
		} else if (mp_str_eq(k, kl, "tags")) {
			rc = read_tags(c, m);
		} else {
			rc = mp_skip(c); /* a newer agent's key */
		}
		if (rc != 0)
			return MIST_EPROTO;
	}
	return 0;
}

int
meta_decode(const uint8_t *p, uint32_t len, struct meta *m)
{
	struct mp_cur c;
	mp_cur_init(&c, p, len);
	meta_init(m);
	return len <= META_MAX_BYTES ? meta_read(&c, m) : MIST_EPROTO;
}
