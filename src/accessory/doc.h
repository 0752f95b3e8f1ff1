/*
 * doc.h -- the value types of a Parse document, and their checks.
 *
 * Parse's REST API sends a document as a JSON object whose values are plain
 * JSON (numbers, strings, booleans, null, arrays, objects) or one of
 * Parse's typed objects, told apart by their "__type":
 *
 *   {"__type":"Date","iso":"2026-12-01T12:00:00.000Z"}
 *   {"__type":"Pointer","className":"Post","objectId":"Ab3dE5gH9k"}
 *   {"__type":"Relation","className":"_User"}
 *   {"__type":"Bytes","base64":"aGVsbG8="}
 *   {"__type":"GeoPoint","latitude":48.85,"longitude":2.35}
 *   {"__type":"File","name":"a.png","url":"https://..."}   (url optional)
 *
 * The reserved top-level fields are objectId (a string), createdAt and
 * updatedAt (ISO-8601 strings, not typed Dates: that is how Parse answers
 * them) and ACL (an object {"*"|userId|"role:R": {"read":bool,"write":bool}}).
 *
 * doc_type() classifies a value once, for the query engine (query.c) and
 * for schemas; doc_validate() checks a whole document before it is stored.
 * A typed object that is malformed (a Date whose iso does not parse, a
 * GeoPoint out of range, a Pointer's className not ^[A-Za-z_][A-Za-z0-9_]*$,
 * other keys than its type's) is DOC_INVALID: doc_validate() refuses it, and the
 * query engine, which may meet one in old data, orders and compares it as a
 * plain object.
 *
 * Dates are milliseconds since 1970-01-01T00:00:00Z (int64), years 0000 to
 * 9999 (what a 4-digit ISO year holds, and JavaScript's Date covers).
 *
 * Ownership: nothing here allocates or keeps a reference; every pointer
 * returned (type names) is a static string.
 */
#ifndef MIST_ACCESSORY_DOC_H_INCLUDED
#define MIST_ACCESSORY_DOC_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "accessory/perr.h"

enum doc_type {
	DOC_INVALID = 0, /* a malformed typed object ("__type" it does not honour) */
	DOC_NULL,
	DOC_NUMBER,
	DOC_STRING,
	DOC_BOOLEAN,
	DOC_ARRAY,
	DOC_OBJECT,
	DOC_DATE,
	DOC_POINTER,
	DOC_RELATION,
	DOC_BYTES,
	DOC_GEOPOINT,
	DOC_FILE,
};

/** The type of @a v (NULL is DOC_NULL: a missing value reads as null). */
enum doc_type doc_type(const json_t *v);
/**
 * Parse's schema type name of @a v: "Number", "String", "Boolean", "Date",
 * "Pointer", "Relation", "Bytes", "GeoPoint", "File", "Array", "Object";
 * NULL if it is malformed, and NULL for null, which has no schema type
 * (a null value does not fix a field's type: the caller skips it).
 */
const char *doc_type_name(const json_t *v);

/* Deepest document doc_validate() is usually given: the top-level object is
 * depth 1.  Parse itself sets none; 32 levels hold every document shape an
 * app stores by design and stop recursion bombs well before the parser's
 * own 2048. */
#define DOC_DEFAULT_MAX_DEPTH 32
/* Longest field name, NUL excluded (Parse sets none; Mongo's index key
 * limit makes longer names useless, and a name is repeated in every
 * document and every index key). */
#define DOC_FIELD_MAX 128
/* Longest className of a Pointer or Relation (Parse's class names are
 * identifiers; the gateway's PREQ_NAME_MAX is of the same order). */
#define DOC_CLASS_MAX 128

/**
 * Checks the document @a obj before it is stored: an object; top-level
 * field names match ^[A-Za-z][A-Za-z0-9_]*$ and are at most DOC_FIELD_MAX
 * bytes (names starting with '_' are the accessory's own, never a
 * client's: refused); nested object keys contain no '$', '.' or NUL and
 * are not empty; every typed object is well formed (an unapplied
 * {"__op":...} is refused too: operations are applied before validation);
 * objectId is a non-empty string, createdAt/updatedAt are ISO dates, ACL is an
 * object of {"read":bool,"write":bool} objects; nesting at most
 * @a max_depth levels (0: DOC_DEFAULT_MAX_DEPTH).
 *
 * 0, or MIST_EINVAL with @a err: 107 INVALID_JSON (not an object, too
 * deep), 105 INVALID_KEY_NAME (a bad top-level name), 121
 * INVALID_NESTED_KEY (a bad nested key), 111 INCORRECT_TYPE (a malformed
 * value), 123 INVALID_ACL; the message names the field.
 */
int doc_validate(const json_t *obj, uint32_t max_depth, struct perr *err);

/**
 * Parses an ISO-8601 UTC date-time "YYYY-MM-DDTHH:MM:SS[.f...](Z|+HH:MM|
 * -HH:MM)" (fraction of 1 to 9 digits, truncated to milliseconds) into
 * @a ms.  0, or MIST_EINVAL if it is not one (a field out of range, a day
 * the month does not have, trailing bytes).
 */
int doc_date_parse(const char *s, int64_t *ms);
/** Same, of @a len bytes (not NUL-terminated). */
int doc_date_parsen(const char *s, size_t len, int64_t *ms);
/* "2026-12-01T12:00:00.000Z" is 24 bytes and a NUL. */
#define DOC_DATE_MAX 32
/**
 * Writes @a ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (what Parse answers) into
 * @a out; 0, or MIST_EINVAL if its year is outside 0000-9999 (@a out is
 * then "").
 */
int doc_date_format(int64_t ms, char out[DOC_DATE_MAX]);

#endif
