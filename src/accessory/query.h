/*
 * query.h -- Parse's queries on documents: a compiled `where`, its match,
 * the `order` and the `keys` projection, and an order-preserving byte
 * encoding of values for index keys.  Pure: no I/O, no clock.
 *
 *   where  {"score":{"$gte":10,"$lt":20},"tags":"red","$or":[{...},{...}]}
 *   order  "score,-createdAt"          keys  "score,player.name"
 *
 *      JSON ──query_compile()──▶ struct query ──query_match(doc)──▶ 1 / 0 / <0
 *                                     │ query_cmp(a, b)       the order
 *                                     │ query_project(doc)    the keys
 *                                     └ query_pins(), query_order_fields()
 *                                       what an index can serve (docs.c)
 *
 * The semantics are MongoDB's, as parse-server inherits them:
 *
 *  - {"f": v} is equality; when the document's f is an array it also
 *    matches if one element equals v ({"tags":"x"} matches tags ["x","y"]);
 *    {"f": null} also matches a missing f.  A typed value (Date, Pointer,
 *    ...) is compared as its type: two Pointers are equal when className
 *    and objectId are, two Dates when their instants are.
 *  - $eq $ne $lt $lte $gt $gte $in $nin $exists $all $regex (+ $options
 *    of i m x s) on a field; $or $and $nor (arrays of where objects) at
 *    any level.  Comparisons hold only between values of one type class
 *    (numbers with numbers, whatever int or double; strings by bytes;
 *    Dates by time; ...): {"f":{"$gt":5}} never matches a string f.  On an
 *    array field, a comparison matches if one element does.  $ne and $nin
 *    are the negations of equality and $in (a missing field matches them);
 *    an array inside a $in/$nin list gives its elements (parse-server
 *    flattens them one level).
 *    $exists:true matches a present field even if null.  $all: an array
 *    field holding every listed value; an empty $all matches nothing.
 *  - "a.b" reads key b of the object a (nested objects only: an array
 *    on the way makes the value missing).
 *  - top-level createdAt and updatedAt are ISO strings in a document but
 *    Dates to a query: both sides are read as Dates (a string given for
 *    them in a where is converted, as parse-server does).
 *  - refused (102 INVALID_QUERY, the message naming it): any unknown
 *    operator, and Parse's operators mist does not run ($select
 *    $dontSelect $inQuery $notInQuery $relatedTo $text $near $nearSphere
 *    $within $geoWithin $geoIntersects $maxDistance* $elemMatch
 *    $containedBy $not, operators inside $in/$nin/$all lists, as
 *    containsAllStartingWith sends, and inside $lt..$gte, as
 *    $relativeTime, which needs a clock); $exists takes true or false
 *    only; field names that are not ^[A-Za-z][A-Za-z0-9_.]*$
 *    (105 INVALID_KEY_NAME: names starting with '_' are the accessory's
 *    internal fields, never a client's to query).
 *
 * The order of values of any type (query_cmp and the key encoding agree):
 *
 *   missing = null < numbers < strings < objects < arrays < Bytes
 *     < Pointers < booleans < Dates < GeoPoints < Files < Relations
 *
 * numbers exactly by value (int64 and double compared without rounding),
 * strings by their bytes (a prefix first), objects by their keys sorted
 * then values, arrays element by element (a prefix first), Pointers by
 * className then objectId, Dates by instant, GeoPoints by latitude then
 * longitude, Files by name, Relations by className, Bytes by their base64
 * text.  Unlike MongoDB, an array field is ordered as an array (MongoDB
 * sorts by its smallest or largest element).  Every order ends with
 * objectId (ascending), so it is total and stable across pages.
 *
 * Limits (struct query_opts, each defended by its default below) are
 * checked when compiling; a query beyond one is refused with 102 naming
 * it.  $regex runs PCRE2 in UTF mode, compiled once by query_compile, with
 * match, depth and heap limits: a subject on which a pattern needs more
 * makes query_match fail with MIST_E2BIG and 102 INVALID_QUERY ("the
 * regular expression needs more than ..."), never hang.  102 rather than
 * 124 TIMEOUT: the same query fails the same way on the same document,
 * so retrying cannot help; the client must simplify its pattern.
 *
 * Ownership and threads: query_compile() copies what it keeps (it takes
 * references to the where's values, which are never modified); the query
 * is the caller's until query_free().  Pointers from query_pins() and
 * query_order_fields() live as long as the query.  A query is used by one
 * thread at a time (its regular expressions keep their match data).
 */
#ifndef MIST_ACCESSORY_QUERY_H_INCLUDED
#define MIST_ACCESSORY_QUERY_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "accessory/doc.h"
#include "accessory/perr.h"
#include "util/buf.h"

struct query; /* a compiled where + order + keys */

/* A field left 0 takes its default. */
struct query_opts {
	uint32_t max_depth;	    /* JSON nesting of the where */
	uint32_t max_terms;	    /* field conditions + $and/$or/$nor branches */
	uint32_t max_in;	    /* values of one $in, $nin or $all */
	uint32_t regex_match_limit; /* pcre2_set_match_limit */
	uint32_t regex_depth_limit; /* pcre2_set_depth_limit */
};

/* The where's nesting, counting every object and array: an SDK's query
 * with a few $or inside an $and and a Date value is 5 or 6 deep; 16 leaves
 * room for generated queries and bounds the compiler's recursion. */
#define QUERY_DEFAULT_MAX_DEPTH 16
/* Field conditions and logical branches: SDK-built queries have tens; 256
 * bounds the work per document a single query can ask (each document of a
 * scan pays for every term). */
#define QUERY_DEFAULT_MAX_TERMS 256
/* Values in one $in/$nin/$all: apps send lists of ids ("posts of these
 * friends"), some hundreds; 1000 keeps a linear probe per document cheap
 * and the where under the gateway's body limit. */
#define QUERY_DEFAULT_MAX_IN 1000
/* PCRE2 "match" calls per subject (its default is 10 million, seconds of
 * CPU): a simple pattern needs about one per subject byte, so 1 million
 * lets ordinary searches run over documents of hundreds of KiB and stops a
 * catastrophic backtrack within milliseconds. */
#define QUERY_DEFAULT_REGEX_MATCH_LIMIT 1000000
/* PCRE2 backtracking depth (its default is also 10 million): each nested
 * repetition of a group costs one; 10000 allows (a|b)* over 10 KB strings. */
#define QUERY_DEFAULT_REGEX_DEPTH_LIMIT 10000
/* PCRE2's heap for backtracking, KiB (its default is 20 GB): 8 MiB is
 * far above what the depth limit lets a pattern use on sane input. */
#define QUERY_REGEX_HEAP_KIB 8192
/* Longest $regex pattern, bytes: an SDK's startsWith/contains of a user's
 * search text is \Q...\E around it; 1 KiB holds any such and bounds what
 * PCRE2 compiles. */
#define QUERY_REGEX_MAX 1024
/* Keys in an order, and paths in keys: SDKs sort by a few fields; a
 * projection lists at most a class's fields (Parse's schema allows ~ 100). */
#define QUERY_ORDER_MAX 16
#define QUERY_KEYS_MAX 128
/* Longest field path ("a.b.c"), bytes: DOC_FIELD_MAX per segment would
 * allow more, but no sane path is longer. */
#define QUERY_PATH_MAX 256

/** The defaults above. */
void query_opts_default(struct query_opts *o);

/**
 * Compiles @a where (a JSON object; NULL or JSON null = everything),
 * @a order ("a,-b", NULL or "" = by objectId), @a keys ("a,b.c", NULL or
 * "" = every field), under @a o (NULL, or a field 0 = the defaults).  NULL
 * on error with @a err: 102
 * INVALID_QUERY (an operator unknown or refused, a bad operand, a limit,
 * a regex that does not compile), 105 INVALID_KEY_NAME (a bad field name)
 * or 107 INVALID_JSON (where not an object).
 */
struct query *query_compile(const json_t *where, const char *order,
			    const char *keys, const struct query_opts *o,
			    struct perr *err);
void query_free(struct query *q);

/**
 * 1 if @a doc matches, 0 if not, MIST_E2BIG (a regex past its limits)
 * with @a err set to 102.  Every regex term that is evaluated can fail;
 * $or stops at its first true branch.
 */
int query_match(const struct query *q, const json_t *doc, struct perr *err);
/** <0, 0, >0: @a a before, tied with (same objectId), after @a b. */
int query_cmp(const struct query *q, const json_t *a, const json_t *b);
/**
 * A new object (a new reference): @a doc's fields listed by keys plus
 * objectId, createdAt, updatedAt and ACL; all of them when the query has
 * no keys.  Its values are shared with @a doc (as json_copy): remove its
 * keys freely, never modify a value inside it in place.
 */
json_t *query_project(const struct query *q, const json_t *doc);

/*
 * What an index can serve.  For each top-level (undotted) field that the
 * where's top-level AND (its own fields and $and branches, never inside
 * $or or $nor) constrains:
 *   QP_EQ     eq: the value of {"f": v} or $eq.  Matching documents hold
 *             f == v, or an array f holding v, or (v null) no f.
 *   QP_RANGE  lo and/or hi (NULL: unbounded) from $gt/$gte/$lt/$lte, with
 *             lo_incl/hi_incl.  Matching documents hold values of the
 *             bound's type class only (an unbounded side ends where that
 *             class ends: see query_key_tag), or arrays with such an
 *             element.
 * A pin is a necessary condition: every candidate an index yields is still
 * passed to query_match.  Values are the query's (borrowed).
 */
enum query_pin_kind { QP_EQ = 1, QP_RANGE = 2 };
struct query_pin {
	const char *field;
	int kind; /* enum query_pin_kind */
	const json_t *eq, *lo, *hi;
	bool lo_incl, hi_incl;
};
/** Writes at most @a max pins into @a out; returns how many it wrote. */
uint32_t query_pins(const struct query *q, struct query_pin *out, uint32_t max);
/**
 * The order's fields (the implicit final objectId not included) and
 * whether each is descending; writes at most @a max, returns how many.
 */
uint32_t query_order_fields(const struct query *q, const char **fields,
			    bool *desc, uint32_t max);

/*
 * Index keys: query_key_encode() appends to @a out bytes whose memcmp
 * order is query_cmp's order of values (the list above), for any two
 * values, equal values encoding equal.  Layout: one type tag, then
 *   null/missing  nothing                      (tag 0x10)
 *   number        8-byte double, sign-flipped big-endian, then the 8-byte
 *                 exact int64 remainder (0 for doubles)   (0x20)
 *   string        bytes, 00 escaped as 00 FF, ended by 00 01   (0x30)
 *   object        per key in byte order: 01, key as a string, value;
 *                 then 00                                  (0x40)
 *   array         each element, then 00                    (0x50)
 *   Bytes 0x60 (base64 as a string), Pointer 0x70 (className, objectId as
 *   strings), boolean 0x80 (00 / 01), Date 0x90 (int64 ms, sign-flipped
 *   big-endian), GeoPoint 0xA0 (two doubles), File 0xB0 (name), Relation
 *   0xC0 (className).
 * Keys are self-delimiting, so compound keys are concatenations.
 * 0 (it cannot fail on a value jansson holds; MIST_EINVAL for NULL @a out).
 */
int query_key_encode(const json_t *v, struct buf *out);
/**
 * The key of @a doc's field @a path as a query sees it (missing = null,
 * top-level createdAt/updatedAt strings as Dates): what docs.c stores in
 * an index on @a path.
 */
int query_key_encode_doc(const json_t *doc, const char *path, struct buf *out);
/**
 * The type tag (first byte of the key) of @a v.  Every key of that class
 * is >= { tag } and < { tag + 1 }: the bounds of an open range.
 */
uint8_t query_key_tag(const json_t *v);

#endif
