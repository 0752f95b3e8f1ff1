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
 * Maps of named fields -- nearly every message body -- are decoded by one
 * table-driven reader, mp_read_fields(): the caller lists the keys it
 * knows, each with its expected type, where the value goes and whether it
 * must be present; see the section "maps of named fields" below.
 *
 * Encoding uses msgpack-c's packer (see buf_msgpack_write in util/buf.h);
 * mp_pack_str() is the one helper for packing a C string.
 */
#ifndef MIST_NET_MP_H_INCLUDED
#define MIST_NET_MP_H_INCLUDED

#include <msgpack.h>
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
/**
 * Takes the next object as a cursor of its own: validates it (as
 * mp_skip), sets @a obj to span exactly it and moves @a c past it.  A
 * decoder that must go on after a malformed element (the next member of a
 * list) reads the element through @a obj.  0 or MIST_EPROTO.
 */
int mp_read_obj(struct mp_cur *c, struct mp_cur *obj);

/** Packs the NUL-terminated string @a s as a msgpack str. */
void mp_pack_str(msgpack_packer *pk, const char *s);

/* ------------------------------------------------ maps of named fields */

/*
 * A map body is decoded by describing it:
 *
 *	uint64_t node = 0, count = 1;
 *	bool flood = false;
 *	const struct mp_field f[] = {
 *		MP_UINT("node", &node, true),
 *		MP_UINT("count", &count, false),
 *		MP_BOOL("flood", &flood, false),
 *	};
 *	rc = mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL);
 *
 * The rules, for every map read this way:
 *  - the map is walked once, in wire order; each key must be a str;
 *  - a known key's value must have the field's type (no conversion except
 *    MP_DOUBLE, which also takes integers, and MP_INT, which takes uints up
 *    to INT64_MAX), else the map is refused;
 *  - an unknown key is skipped (its value validated and stepped over):
 *    later versions may add fields;
 *  - a known key seen twice is refused -- "last wins" would let two
 *    decoders (or a checker and a user) of one message disagree about it;
 *  - a required key that is missing refuses the map; an optional one
 *    leaves its destination untouched, so initialise it with its default;
 *  - strings, binaries and raw objects are pointers into the input and
 *    live as long as it does; the decoder copies nothing;
 *  - destinations of a refused map may have been written.
 * Every length is checked against the bytes left before it is used, so
 * truncated input or a huge declared length is refused, never read.
 */
enum mp_field_type {
	MP_FIELD_UINT,	 /* uint64_t */
	MP_FIELD_INT,	 /* int64_t */
	MP_FIELD_BOOL,	 /* bool */
	MP_FIELD_DOUBLE, /* double: float32, float64 or an integer */
	MP_FIELD_STR,	 /* const char *, uint32_t length (no NUL) */
	MP_FIELD_BIN,	 /* const uint8_t *, uint32_t length */
	MP_FIELD_OBJ,	 /* any one object, validated: bytes, length */
	MP_FIELD_FN,	 /* a callback reads the value */
};

/**
 * Reads a value for an MP_FN field.  @a value spans exactly the value
 * (already validated, so any cursor reader may be used on it); the decoder
 * moves on past it whatever the callback consumed.  Returns 0, or an error
 * code that refuses the map and is returned by the decoder as it is.
 */
typedef int (*mp_field_fn)(struct mp_cur *value, void *ctx);

struct mp_field {
	const char *key; /* a static string: also what @a bad reports */
	enum mp_field_type type;
	bool required;
	union {
		uint64_t *u;
		int64_t *i;
		bool *b;
		double *d;
		const char **s;
		const uint8_t **bin; /* BIN and OBJ */
		mp_field_fn fn;
	} to;
	uint32_t *len; /* STR, BIN, OBJ: the length in bytes */
	void *ctx;     /* FN: passed to the callback */
};

/** Fields in one table at most (a bitmask tracks which were seen). */
#define MP_MAX_FIELDS 32

#define MP_NFIELDS(f) (sizeof(f) / sizeof((f)[0]))
/* One initialiser per type: the pointer types are checked by the compiler. */
#define MP_UINT(k, p, req)                                                     \
	{.key = (k), .type = MP_FIELD_UINT, .required = (req), .to.u = (p)}
#define MP_INT(k, p, req)                                                      \
	{.key = (k), .type = MP_FIELD_INT, .required = (req), .to.i = (p)}
#define MP_BOOL(k, p, req)                                                     \
	{.key = (k), .type = MP_FIELD_BOOL, .required = (req), .to.b = (p)}
#define MP_DOUBLE(k, p, req)                                                   \
	{.key = (k), .type = MP_FIELD_DOUBLE, .required = (req), .to.d = (p)}
#define MP_STR(k, p, l, req)                                                   \
	{.key = (k), .type = MP_FIELD_STR, .required = (req), .to.s = (p),     \
	 .len = (l)}
#define MP_BIN(k, p, l, req)                                                   \
	{.key = (k), .type = MP_FIELD_BIN, .required = (req), .to.bin = (p),   \
	 .len = (l)}
#define MP_OBJ(k, p, l, req)                                                   \
	{.key = (k), .type = MP_FIELD_OBJ, .required = (req), .to.bin = (p),   \
	 .len = (l)}
#define MP_FN(k, f, c, req)                                                    \
	{.key = (k), .type = MP_FIELD_FN, .required = (req), .to.fn = (f),     \
	 .ctx = (c)}

/**
 * Reads one map at @a c into @a fields (the rules above) and moves @a c
 * past it.  Returns 0; MIST_EPROTO for a malformed or truncated map, a key
 * that is not a str, a value of the wrong type, a known key twice or a
 * required key missing; what an MP_FN callback returned; MIST_EINVAL if
 * @a nfields > MP_MAX_FIELDS (a programming error).  If @a bad is not NULL
 * it is set on error to the key at fault (a field's @a key), or to NULL
 * when the map as a whole is at fault.
 */
int mp_read_fields(struct mp_cur *c, const struct mp_field *fields,
		   size_t nfields, const char **bad);
/** mp_read_fields() over @a p: the map must fill exactly @a len bytes. */
int mp_decode_fields(const uint8_t *p, size_t len,
		     const struct mp_field *fields, size_t nfields,
		     const char **bad);

#endif
