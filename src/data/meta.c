/*
 * meta.c -- the gossiped metadata codec (schema drawn in meta.h).
 */
#include "config.h"
#include "data/meta.h"
#include "function/fnread.h"
#include "mist.h"
#include "net/mp.h"

#include <msgpack.h>
#include <string.h>

/* Keys written: gateway tier cores speed power price load functions tags
 * docs http docs_shared; and reads, when there are some. */
#define META_KEYS 12

void
meta_init(struct meta *m)
{
	memset(m, 0, sizeof(*m));
	m->speed = 1.0;
	m->docs = true;
}

int
meta_encode(const struct meta *m, struct buf *out)
{
	size_t start = out->len;
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	msgpack_pack_map(&pk, META_KEYS + (m->nreads > 0));
	mp_pack_str(&pk, "gateway");
	mp_pack_str(&pk, m->gateway);
	mp_pack_str(&pk, "tier");
	mp_pack_str(&pk, m->tier);
	mp_pack_str(&pk, "cores");
	msgpack_pack_uint32(&pk, m->cores);
	mp_pack_str(&pk, "speed");
	msgpack_pack_double(&pk, m->speed);
	mp_pack_str(&pk, "power");
	msgpack_pack_double(&pk, m->power);
	mp_pack_str(&pk, "price");
	msgpack_pack_double(&pk, m->price);
	mp_pack_str(&pk, "load");
	msgpack_pack_double(&pk, m->load);
	mp_pack_str(&pk, "functions");
	msgpack_pack_array(&pk, m->nfunctions);
	for (uint32_t i = 0; i < m->nfunctions; i++)
		mp_pack_str(&pk, m->functions[i]);
	mp_pack_str(&pk, "tags");
	msgpack_pack_map(&pk, m->ntags);
	for (uint32_t i = 0; i < m->ntags; i++) {
		mp_pack_str(&pk, m->tags[i][0]);
		mp_pack_str(&pk, m->tags[i][1]);
	}
	mp_pack_str(&pk, "docs");
	m->docs ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	mp_pack_str(&pk, "http");
	m->http ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	mp_pack_str(&pk, "docs_shared");
	m->docs_shared ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	if (m->nreads > 0) {
		mp_pack_str(&pk, "reads");
		msgpack_pack_array(&pk, m->nreads);
		for (uint32_t i = 0; i < m->nreads; i++) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint32(&pk, m->reads[i].fn);
			mp_pack_str(&pk, m->reads[i].tmpl);
		}
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

/* The values of "functions" and "tags" (mp_read_fields callbacks, as
 * those below: @a ctx is the struct meta). */
static int
read_functions(struct mp_cur *c, void *ctx)
{
	struct meta *m = ctx;
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
read_tags(struct mp_cur *c, void *ctx)
{
	struct meta *m = ctx;
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

static int read_u32(struct mp_cur *c, void *ctx);

/* "reads": [[function index, template]...].  An entry this agent cannot
 * use -- past META_MAX_READS, a template too long or of a form it does
 * not know (a newer agent's), an index past "functions" (checked once
 * every key is read, meta_read) -- is dropped, not the map: its function
 * is still offered, its read goes through the host API.  Only a broken
 * shape refuses the map. */
static int
read_reads(struct mp_cur *c, void *ctx)
{
	struct meta *m = ctx;
	uint32_t n;
	if (mp_read_array(c, &n) != 0)
		return MIST_EPROTO;
	m->nreads = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k, fn, tl;
		const char *t;
		struct fnread d;
		if (mp_read_array(c, &k) != 0 || k != 2 ||
		    read_u32(c, &fn) != 0 || mp_read_str(c, &t, &tl) != 0)
			return MIST_EPROTO;
		if (m->nreads == META_MAX_READS || tl >= MIST_READ_MAX ||
		    fnread_parse(t, tl, &d) != 0)
			continue;
		m->reads[m->nreads].fn = fn;
		memcpy(m->reads[m->nreads].tmpl, t, tl);
		m->reads[m->nreads++].tmpl[tl] = '\0';
	}
	return 0;
}

static int
read_gateway(struct mp_cur *c, void *ctx)
{
	struct meta *m = ctx;
	return read_cstr(c, m->gateway, sizeof(m->gateway));
}

static int
read_tier(struct mp_cur *c, void *ctx)
{
	struct meta *m = ctx;
	return read_cstr(c, m->tier, sizeof(m->tier));
}

/* "cores": @a ctx is the uint32_t. */
static int
read_u32(struct mp_cur *c, void *ctx)
{
	uint64_t u;
	if (mp_read_uint(c, &u) != 0 || u > UINT32_MAX)
		return MIST_EPROTO;
	*(uint32_t *)ctx = (uint32_t)u;
	return 0;
}

int
meta_read(struct mp_cur *c, struct meta *m)
{
	/* unknown keys: a newer agent's, skipped */
	const struct mp_field f[] = {
		MP_FN("gateway", read_gateway, m, false),
		MP_FN("tier", read_tier, m, false),
		MP_FN("cores", read_u32, &m->cores, false),
		MP_DOUBLE("speed", &m->speed, false),
		MP_DOUBLE("power", &m->power, false),
		MP_DOUBLE("price", &m->price, false),
		MP_DOUBLE("load", &m->load, false),
		MP_FN("functions", read_functions, m, false),
		MP_FN("tags", read_tags, m, false),
		MP_BOOL("docs", &m->docs, false),
		MP_BOOL("http", &m->http, false),
		MP_BOOL("docs_shared", &m->docs_shared, false),
		MP_FN("reads", read_reads, m, false),
	};
	if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0)
		return MIST_EPROTO;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < m->nreads; i++)
		if (m->reads[i].fn < m->nfunctions)
			m->reads[kept++] = m->reads[i];
	m->nreads = kept;
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
