/*
 * jsonmp.h -- JSON (jansson) <-> msgpack, bounded, for add-on functions:
 * a client's params (JSON, from POST /functions/:fn) go to the function
 * as msgpack (MSG_FN_CALL's params: bin), and its result (msgpack) comes
 * back to the client as JSON ({"result": ...}).
 *
 *   client JSON ──jsonmp_from_json()──▶ msgpack ──▶ function
 *   client JSON ◀──jsonmp_to_json()─── msgpack ◀── function's result
 *
 * The mapping, both ways unless said:
 *   null, true/false             nil, bool
 *   integer (int64)              int (the smallest msgpack form)
 *                                uint above INT64_MAX: refused (jansson
 *                                holds signed 64-bit only; a silent
 *                                double would lose digits)
 *   real                         float64 (float32 read as a double);
 *                                NaN and infinities refused (no JSON form)
 *   string (UTF-8)               str; a str that is not UTF-8 is refused
 *   array                        array
 *   object                       map with str keys, in the object's order;
 *                                a map key that is not a str is refused
 *                                (not stringified: 1 and "1" would
 *                                collide, and a function that sends int
 *                                keys has a bug the caller should see),
 *                                as is a key holding a NUL or a key twice
 *   {"__type":"Bytes",           bin (Parse's encoding of bytes; exactly
 *    "base64": "..."}            these two keys, valid standard base64)
 *   -                            ext: refused
 *
 * Bounds (struct jsonmp_limits, defaults in jsonmp_limits_default(), each
 * defended there): nesting, values in total, one string's or binary's
 * bytes, and the msgpack's whole size.  Hitting one is MIST_E2BIG, a value
 * with no counterpart MIST_EINVAL, malformed msgpack MIST_EPROTO; each
 * with a sentence in @a why (caller storage, JSONMP_WHY_MAX bytes is
 * enough) for the client's error message.  msgpack input is validated
 * whole by mp_check() (net/mp.h) before anything is allocated, so a
 * declared length or count beyond the bytes given is refused at once.
 *
 * Ownership: jsonmp_from_json() and jsonmp_to_text() append to the
 * caller's buffer (on error the buffer is back at its length before the
 * call); jsonmp_to_json() hands out a new reference (NULL on error) that
 * the caller decrefs.
 */
#ifndef MIST_GATEWAY_JSONMP_H_INCLUDED
#define MIST_GATEWAY_JSONMP_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define JSONMP_WHY_MAX 128

struct jsonmp_limits {
	uint32_t max_depth; /* the value itself at depth 1; at most MP_MAX_DEPTH + 1 */
	uint32_t max_values; /* every value, containers included */
	size_t max_str;	     /* bytes of one string or binary */
	size_t max_bytes;    /* bytes of the msgpack, in or out */
};

/** Fills @a l with the defaults (see jsonmp.c for why each). */
void jsonmp_limits_default(struct jsonmp_limits *l);

/**
 * Appends @a v as one msgpack object to @a out.  0, MIST_E2BIG (a bound),
 * MIST_EINVAL (a Bytes object with bad base64); @a why set on error.
 * @a l NULL: the defaults.
 */
int jsonmp_from_json(const json_t *v, const struct jsonmp_limits *l,
		     struct buf *out, char *why, size_t whylen);

/**
 * Converts exactly one msgpack object filling @a len bytes at @a p to
 * JSON in @a out.  0, MIST_EPROTO (malformed, truncated, trailing
 * bytes), MIST_E2BIG (a bound), MIST_EINVAL (no JSON counterpart: ext,
 * a non-str key, a uint past INT64_MAX, NaN, non-UTF-8 text, a key
 * twice); @a why set on error.  @a l NULL: the defaults.
 */
int jsonmp_to_json(const uint8_t *p, size_t len, const struct jsonmp_limits *l,
		   json_t **out, char *why, size_t whylen);

/**
 * The same conversion straight to text: appends to @a out exactly what
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) writes for jsonmp_to_json()'s
 * value (members in order, reals as "%.17g" with ".0" added when it
 * reads as an integer, strings escaped as jansson does: \" \\ \b \f \n
 * \r \t and \u00XX below 0x20, the rest as is), with no tree between --
 * a function's result goes to the client this way (rest.c), one pass and
 * no allocation per value.  The same return codes and @a why, refusing
 * the same values; on error @a out is back at its length before the call.
 */
int jsonmp_to_text(const uint8_t *p, size_t len, const struct jsonmp_limits *l,
		   struct buf *out, char *why, size_t whylen);

#endif
