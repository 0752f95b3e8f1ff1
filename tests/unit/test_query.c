/*
 * test_query.c -- the query engine (accessory/query.h) and the document
 * types (accessory/doc.h): every operator, dotted keys, arrays, dates,
 * the order with ties and missing values, projection, pins, the index key
 * encoding's order against query_cmp on random values (seeded; MIST_SEED
 * replays), a catastrophic regex failing on its limit, hostile sizes and
 * depths refused.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accessory/doc.h"
#include "accessory/query.h"
#include "mist.h"
#include "util/buf.h"

/* ------------------------------------------------------------ helpers */

static json_t *
J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	cr_assert_not_null(j, "bad test JSON %s: %s", text, e.text);
	return j;
}

static struct query *
compile(const char *where, const char *order, const char *keys)
{
	json_t *w = where != NULL ? J(where) : NULL;
	struct perr err = {0};
	struct query *q = query_compile(w, order, keys, NULL, &err);
	cr_assert_not_null(q, "%s refused: %d %s", where, err.code, err.msg);
	json_decref(w);
	return q;
}

/* 1 / 0 of @where on @doc (asserting no error). */
static int
matches(const char *where, const char *doc)
{
	struct query *q = compile(where, NULL, NULL);
	json_t *d = J(doc);
	struct perr err = {0};
	int rc = query_match(q, d, &err);
	cr_assert_geq(rc, 0, "%s on %s: error %d %s", where, doc, rc, err.msg);
	json_decref(d);
	query_free(q);
	return rc;
}

#define YES(w, d) cr_expect_eq(matches(w, d), 1, "%s should match %s", w, d)
#define NO(w, d) cr_expect_eq(matches(w, d), 0, "%s should not match %s", w, d)

/* The Parse code of refusing @where (and @order, @keys). */
static int
refused(const char *where, const char *order, const char *keys,
	const struct query_opts *o)
{
	json_t *w = where != NULL ? J(where) : NULL;
	struct perr err = {0};
	struct query *q = query_compile(w, order, keys, o, &err);
	json_decref(w);
	if (q != NULL) {
		query_free(q);
		return 0;
	}
	cr_expect_neq(err.msg[0], '\0', "a refusal says why");
	return err.code;
}

static char last_msg[PERR_MSG_MAX];

static int
refused_msg(const char *where)
{
	json_t *w = J(where);
	struct perr err = {0};
	struct query *q = query_compile(w, NULL, NULL, NULL, &err);
	json_decref(w);
	query_free(q);
	memcpy(last_msg, err.msg, sizeof(last_msg));
	return q == NULL ? err.code : 0;
}

/* ------------------------------------------------------------ equality */

Test(query, equality_of_scalars)
{
	YES("{\"a\":1}", "{\"a\":1}");
	YES("{\"a\":1}", "{\"a\":1.0}");
	NO("{\"a\":1}", "{\"a\":\"1\"}");
	NO("{\"a\":1}", "{\"b\":1}");
	YES("{\"a\":\"x\",\"b\":true}", "{\"a\":\"x\",\"b\":true}");
	NO("{\"a\":\"x\",\"b\":true}", "{\"a\":\"x\",\"b\":false}");
	YES("{}", "{\"a\":1}");
	YES("{\"a\":null}", "{}");
	YES("{\"a\":null}", "{\"a\":null}");
	NO("{\"a\":null}", "{\"a\":0}");
	YES("{\"a\":{\"$eq\":2}}", "{\"a\":2}");
	YES("{\"o\":{\"y\":2,\"x\":1}}", "{\"o\":{\"x\":1,\"y\":2}}");
	NO("{\"o\":{\"x\":1}}", "{\"o\":{\"x\":1,\"y\":2}}");
	/* an object with $ keys is compared with $eq */
	YES("{\"o\":{\"$eq\":{\"$k\":1}}}", "{\"o\":{\"$k\":1}}");
}

Test(query, array_contains_and_whole_array)
{
	YES("{\"tags\":\"x\"}", "{\"tags\":[\"y\",\"x\"]}");
	NO("{\"tags\":\"z\"}", "{\"tags\":[\"y\",\"x\"]}");
	YES("{\"tags\":[\"y\",\"x\"]}", "{\"tags\":[\"y\",\"x\"]}");
	NO("{\"tags\":[\"x\",\"y\"]}", "{\"tags\":[\"y\",\"x\"]}");
	YES("{\"t\":{\"$gt\":5}}", "{\"t\":[1,7]}");
	NO("{\"t\":{\"$gt\":7}}", "{\"t\":[1,7]}");
	YES("{\"t\":{\"$in\":[3,7]}}", "{\"t\":[1,7]}");
	NO("{\"t\":{\"$nin\":[3,7]}}", "{\"t\":[1,7]}");
	YES("{\"t\":{\"$ne\":3}}", "{\"t\":[1,7]}");
	NO("{\"t\":{\"$ne\":7}}", "{\"t\":[1,7]}");
}

Test(query, typed_values)
{
	const char *doc = "{\"p\":{\"__type\":\"Pointer\",\"className\":\"Post\","
			  "\"objectId\":\"abc\"},\"d\":{\"__type\":\"Date\","
			  "\"iso\":\"2026-12-01T12:00:00.000Z\"}}";
	YES("{\"p\":{\"__type\":\"Pointer\",\"className\":\"Post\",\"objectId\":\"abc\"}}",
	    doc);
	NO("{\"p\":{\"__type\":\"Pointer\",\"className\":\"Post\",\"objectId\":\"abd\"}}",
	   doc);
	NO("{\"p\":{\"__type\":\"Pointer\",\"className\":\"Pos\",\"objectId\":\"abc\"}}",
	   doc);
	/* the same instant written another way */
	YES("{\"d\":{\"__type\":\"Date\",\"iso\":\"2026-12-01T14:00:00+02:00\"}}", doc);
	YES("{\"d\":{\"$gt\":{\"__type\":\"Date\",\"iso\":\"2026-12-01T11:59:59.999Z\"}}}",
	    doc);
	NO("{\"d\":{\"$lt\":{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}}}",
	   doc);
	YES("{\"d\":{\"$lte\":{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}}}",
	    doc);
	/* a date is not a string: no comparison across types */
	NO("{\"d\":{\"$gt\":\"2000\"}}", doc);
	NO("{\"p\":{\"$gt\":1}}", doc);
}

Test(query, created_and_updated_at_are_dates)
{
	const char *doc = "{\"objectId\":\"x\",\"createdAt\":\"2026-12-01T12:00:00.000Z\","
			  "\"updatedAt\":\"2026-12-02T12:00:00.000Z\"}";
	YES("{\"createdAt\":{\"$gte\":{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}}}",
	    doc);
	NO("{\"createdAt\":{\"$gt\":{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}}}",
	   doc);
	YES("{\"updatedAt\":{\"__type\":\"Date\",\"iso\":\"2026-12-02T12:00:00Z\"}}", doc);
	/* a string operand is read as a date, as parse-server does */
	YES("{\"createdAt\":{\"$lt\":\"2026-12-01T12:00:00.001Z\"}}", doc);
	YES("{\"createdAt\":\"2026-12-01T13:00:00+01:00\"}", doc);
	/* another field's ISO string stays a string */
	YES("{\"s\":{\"$gt\":\"2026\"}}", "{\"s\":\"2026-12-01T12:00:00.000Z\"}");
}

/* ------------------------------------------------------------ operators */

Test(query, comparisons)
{
	YES("{\"a\":{\"$lt\":2}}", "{\"a\":1}");
	NO("{\"a\":{\"$lt\":1}}", "{\"a\":1}");
	YES("{\"a\":{\"$lte\":1}}", "{\"a\":1}");
	YES("{\"a\":{\"$gt\":1}}", "{\"a\":1.5}");
	YES("{\"a\":{\"$gte\":1.5}}", "{\"a\":1.5}");
	NO("{\"a\":{\"$gt\":1}}", "{}");
	NO("{\"a\":{\"$gt\":1}}", "{\"a\":\"2\"}");
	NO("{\"a\":{\"$lt\":\"b\"}}", "{\"a\":1}");
	YES("{\"a\":{\"$gte\":1,\"$lt\":3}}", "{\"a\":2}");
	NO("{\"a\":{\"$gte\":1,\"$lt\":3}}", "{\"a\":3}");
	YES("{\"s\":{\"$lt\":\"b\"}}", "{\"s\":\"abc\"}");
	YES("{\"s\":{\"$lt\":\"abc\"}}", "{\"s\":\"ab\"}");
	NO("{\"s\":{\"$lt\":\"ab\"}}", "{\"s\":\"ab\"}");
	/* bytes, not collation: "B" < "a" */
	YES("{\"s\":{\"$lt\":\"a\"}}", "{\"s\":\"B\"}");
	/* exact between int64 and double */
	NO("{\"n\":9007199254740993}", "{\"n\":9007199254740992.0}");
	YES("{\"n\":{\"$gt\":9007199254740992.0}}", "{\"n\":9007199254740993}");
	YES("{\"n\":{\"$lt\":9223372036854775807}}", "{\"n\":-1e300}");
	YES("{\"n\":{\"$gt\":9223372036854775807}}", "{\"n\":1e19}");
	YES("{\"n\":0}", "{\"n\":-0.0}");
	YES("{\"b\":{\"$gt\":false}}", "{\"b\":true}");
}

Test(query, ne_in_nin)
{
	YES("{\"a\":{\"$ne\":1}}", "{\"a\":2}");
	YES("{\"a\":{\"$ne\":1}}", "{}");
	NO("{\"a\":{\"$ne\":1}}", "{\"a\":1}");
	NO("{\"a\":{\"$ne\":null}}", "{}");
	YES("{\"a\":{\"$in\":[1,\"x\",null]}}", "{\"a\":\"x\"}");
	YES("{\"a\":{\"$in\":[1,null]}}", "{}");
	NO("{\"a\":{\"$in\":[1,2]}}", "{}");
	NO("{\"a\":{\"$in\":[]}}", "{\"a\":1}");
	YES("{\"a\":{\"$nin\":[1,2]}}", "{\"a\":3}");
	YES("{\"a\":{\"$nin\":[1,2]}}", "{}");
	NO("{\"a\":{\"$nin\":[1,2]}}", "{\"a\":2}");
	YES("{\"a\":{\"$nin\":[]}}", "{\"a\":2}");
	/* nested lists are flattened one level, as parse-server does */
	YES("{\"a\":{\"$in\":[[1,2],3]}}", "{\"a\":2}");
	NO("{\"a\":{\"$nin\":[[1,2],3]}}", "{\"a\":2}");
	YES("{\"p\":{\"$in\":[{\"__type\":\"Pointer\",\"className\":\"U\",\"objectId\":\"1\"}]}}",
	    "{\"p\":{\"__type\":\"Pointer\",\"className\":\"U\",\"objectId\":\"1\"}}");
}

Test(query, exists_and_all)
{
	YES("{\"a\":{\"$exists\":true}}", "{\"a\":0}");
	YES("{\"a\":{\"$exists\":true}}", "{\"a\":null}");
	NO("{\"a\":{\"$exists\":true}}", "{\"b\":0}");
	YES("{\"a\":{\"$exists\":false}}", "{\"b\":0}");
	NO("{\"a\":{\"$exists\":false}}", "{\"a\":false}");
	YES("{\"t\":{\"$all\":[1,2]}}", "{\"t\":[2,3,1]}");
	NO("{\"t\":{\"$all\":[1,2]}}", "{\"t\":[2,3]}");
	NO("{\"t\":{\"$all\":[1]}}", "{\"t\":1}");
	NO("{\"t\":{\"$all\":[]}}", "{\"t\":[1]}");
	NO("{\"t\":{\"$all\":[1]}}", "{}");
}

Test(query, regex)
{
	YES("{\"s\":{\"$regex\":\"^jo\"}}", "{\"s\":\"john\"}");
	NO("{\"s\":{\"$regex\":\"^jo\"}}", "{\"s\":\"John\"}");
	YES("{\"s\":{\"$regex\":\"^jo\",\"$options\":\"i\"}}", "{\"s\":\"John\"}");
	YES("{\"s\":{\"$regex\":\"^\\\\Qa.b\\\\E\"}}", "{\"s\":\"a.bc\"}");
	NO("{\"s\":{\"$regex\":\"^\\\\Qa.b\\\\E\"}}", "{\"s\":\"axbc\"}");
	/* m: ^ after a newline; s: . across one; x: blanks ignored */
	NO("{\"s\":{\"$regex\":\"^b\"}}", "{\"s\":\"a\\nb\"}");
	YES("{\"s\":{\"$regex\":\"^b\",\"$options\":\"m\"}}", "{\"s\":\"a\\nb\"}");
	NO("{\"s\":{\"$regex\":\"a.b\"}}", "{\"s\":\"a\\nb\"}");
	YES("{\"s\":{\"$regex\":\"a.b\",\"$options\":\"s\"}}", "{\"s\":\"a\\nb\"}");
	YES("{\"s\":{\"$regex\":\"a b\",\"$options\":\"xi\"}}", "{\"s\":\"AB\"}");
	/* UTF mode: one character, not two bytes */
	YES("{\"s\":{\"$regex\":\"^.$\"}}", "{\"s\":\"\\u00e9\"}");
	YES("{\"s\":{\"$regex\":\"\\u00c9\",\"$options\":\"i\"}}", "{\"s\":\"caf\\u00e9\"}");
	/* arrays: one string element; other types never match */
	YES("{\"s\":{\"$regex\":\"b\"}}", "{\"s\":[1,\"abc\"]}");
	NO("{\"s\":{\"$regex\":\"1\"}}", "{\"s\":1}");
	NO("{\"s\":{\"$regex\":\"a\"}}", "{}");
	cr_expect_eq(refused("{\"s\":{\"$regex\":\"(\"}}", NULL, NULL, NULL),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"s\":{\"$regex\":1}}", NULL, NULL, NULL),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"s\":{\"$regex\":\"a\",\"$options\":\"g\"}}", NULL,
			     NULL, NULL),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"s\":{\"$options\":\"i\"}}", NULL, NULL, NULL),
		     PERR_INVALID_QUERY);
}

Test(query, catastrophic_regex_fails_on_its_limit)
{
	char doc[256];
	snprintf(doc, sizeof(doc), "{\"s\":\"%.*sb\"}", 60,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	struct query *q = compile("{\"s\":{\"$regex\":\"(a+)+$\"}}", NULL, NULL);
	json_t *d = J(doc);
	struct perr err = {0};
	int rc = query_match(q, d, &err);
	cr_assert_eq(rc, MIST_E2BIG, "got %d", rc);
	cr_assert_eq(err.code, PERR_INVALID_QUERY);
	cr_assert_eq(err.http, 400);
	cr_assert_not_null(strstr(err.msg, "limit"), "%s", err.msg);
	/* the same pattern on a short subject still answers */
	json_t *ok = J("{\"s\":\"aaa\"}");
	cr_assert_eq(query_match(q, ok, &err), 1);
	json_decref(ok);
	json_decref(d);
	query_free(q);

	/* the error crosses $or, $nor and arrays */
	q = compile("{\"$or\":[{\"x\":1},{\"$nor\":[{\"s\":{\"$regex\":\"(a+)+$\"}}]}]}",
		    NULL, NULL);
	d = J(doc);
	cr_expect_eq(query_match(q, d, &err), MIST_E2BIG);
	json_decref(d);
	d = J("{\"x\":1}"); /* $or stops at its first true branch */
	cr_expect_eq(query_match(q, d, &err), 1);
	json_decref(d);
	query_free(q);
	/* a subject that is not UTF-8 (jansson never makes one) just does not
	 * match where it is invalid */
	q = compile("{\"s\":{\"$regex\":\"abc\"}}", NULL, NULL);
	d = json_pack("{s:o}", "s", json_stringn_nocheck("\xff\xfe" "abc", 5));
	cr_expect_eq(query_match(q, d, &err), 1);
	json_decref(d);
	d = json_pack("{s:o}", "s", json_stringn_nocheck("ab\xff" "c", 4));
	cr_expect_eq(query_match(q, d, &err), 0);
	json_decref(d);
	query_free(q);

	/* a depth bomb: nested groups over a long subject */
	struct query_opts o;
	query_opts_default(&o);
	o.regex_depth_limit = 50;
	json_t *w = J("{\"s\":{\"$regex\":\"^(a|b)*c\"}}");
	q = query_compile(w, NULL, NULL, &o, &err);
	cr_assert_not_null(q);
	d = J("{\"s\":\"abababababababababababababababababababababababababababababababab"
	      "abababababababababababababababababababdc\"}");
	rc = query_match(q, d, &err);
	cr_assert_eq(rc, MIST_E2BIG, "got %d", rc);
	json_decref(d);
	json_decref(w);
	query_free(q);
}

/* ------------------------------------------------------------ logic */

Test(query, or_and_nor)
{
	const char *doc = "{\"a\":1,\"b\":2}";
	YES("{\"$or\":[{\"a\":5},{\"b\":2}]}", doc);
	NO("{\"$or\":[{\"a\":5},{\"b\":5}]}", doc);
	YES("{\"$and\":[{\"a\":1},{\"b\":2}]}", doc);
	NO("{\"$and\":[{\"a\":1},{\"b\":5}]}", doc);
	YES("{\"$nor\":[{\"a\":5},{\"b\":5}]}", doc);
	NO("{\"$nor\":[{\"a\":5},{\"b\":2}]}", doc);
	YES("{\"a\":1,\"$or\":[{\"b\":{\"$gt\":1}},{\"c\":1}]}", doc);
	NO("{\"a\":2,\"$or\":[{\"b\":{\"$gt\":1}},{\"c\":1}]}", doc);
	YES("{\"$or\":[{\"$and\":[{\"a\":1},{\"b\":2}]},{\"c\":1}]}", doc);
	cr_expect_eq(refused("{\"$or\":[]}", NULL, NULL, NULL), PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"$or\":{\"a\":1}}", NULL, NULL, NULL),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"$or\":[1]}", NULL, NULL, NULL), PERR_INVALID_QUERY);
}

Test(query, dotted_keys)
{
	const char *doc = "{\"a\":{\"b\":{\"c\":3},\"n\":null},\"x\":[{\"b\":1}]}";
	YES("{\"a.b.c\":3}", doc);
	YES("{\"a.b.c\":{\"$gt\":2}}", doc);
	NO("{\"a.b.c\":4}", doc);
	YES("{\"a.b\":{\"c\":3}}", doc);
	YES("{\"a.b.d\":{\"$exists\":false}}", doc);
	YES("{\"a.n\":{\"$exists\":true}}", doc);
	YES("{\"a.b.c.d\":{\"$exists\":false}}", doc);
	/* through an array: missing (nested objects only) */
	YES("{\"x.b\":{\"$exists\":false}}", doc);
	cr_expect_eq(refused("{\"a..b\":1}", NULL, NULL, NULL), PERR_INVALID_KEY_NAME);
	cr_expect_eq(refused("{\"a.\":1}", NULL, NULL, NULL), PERR_INVALID_KEY_NAME);
	cr_expect_eq(refused("{\"_rperm\":1}", NULL, NULL, NULL), PERR_INVALID_KEY_NAME);
	cr_expect_eq(refused("{\"1a\":1}", NULL, NULL, NULL), PERR_INVALID_KEY_NAME);
	cr_expect_eq(refused("{\"a-b\":1}", NULL, NULL, NULL), PERR_INVALID_KEY_NAME);
}

/* ------------------------------------------------------------ refusals */

Test(query, unknown_and_unsupported_operators_are_named)
{
	cr_expect_eq(refused_msg("{\"a\":{\"$foo\":1}}"), PERR_INVALID_QUERY);
	cr_expect_not_null(strstr(last_msg, "$foo"), "%s", last_msg);
	cr_expect_eq(refused_msg("{\"$where\":\"1\"}"), PERR_INVALID_QUERY);
	cr_expect_not_null(strstr(last_msg, "$where"), "%s", last_msg);
	cr_expect_eq(refused_msg("{\"a\":{\"$select\":{\"query\":{},\"key\":\"b\"}}}"),
		     PERR_INVALID_QUERY);
	cr_expect_not_null(strstr(last_msg, "$select is not supported"), "%s", last_msg);
	cr_expect_eq(refused_msg("{\"$relatedTo\":{}}"), PERR_INVALID_QUERY);
	cr_expect_not_null(strstr(last_msg, "$relatedTo"), "%s", last_msg);
	cr_expect_eq(refused_msg("{\"a\":{\"$gt\":1,\"b\":2}}"), PERR_INVALID_QUERY);
	cr_expect_eq(refused_msg("{\"a\":{\"$exists\":1}}"), PERR_INVALID_QUERY);
	cr_expect_eq(refused_msg("{\"a\":{\"$in\":1}}"), PERR_INVALID_QUERY);
	cr_expect_eq(refused_msg("{\"a\":{\"$all\":{}}}"), PERR_INVALID_QUERY);
	cr_expect_eq(refused_msg("{\"a\":{\"$all\":[{\"$regex\":\"^a\"}]}}"),
		     PERR_INVALID_QUERY);
	cr_expect_not_null(strstr(last_msg, "$all"), "%s", last_msg);
	cr_expect_eq(refused_msg("{\"d\":{\"$lt\":{\"$relativeTime\":\"2 days ago\"}}}"),
		     PERR_INVALID_QUERY);
	cr_expect_not_null(strstr(last_msg, "$relativeTime"), "%s", last_msg);
	cr_expect_eq(refused("[1]", NULL, NULL, NULL), PERR_INVALID_JSON);
	cr_expect_eq(refused("\"a\"", NULL, NULL, NULL), PERR_INVALID_JSON);
	cr_expect_eq(refused("null", NULL, NULL, NULL), 0, "where=null: everything");
	cr_expect_eq(refused(NULL, "a,$score", NULL, NULL), PERR_INVALID_QUERY);
	cr_expect_eq(refused(NULL, "a,,b", NULL, NULL), PERR_INVALID_KEY_NAME);
	cr_expect_eq(refused(NULL, NULL, "a,_hashed_password", NULL),
		     PERR_INVALID_KEY_NAME);
}

Test(query, hostile_depth_and_sizes_refused)
{
	struct query_opts o;
	query_opts_default(&o);
	/* logical nesting past max_depth */
	char w[8192] = "";
	size_t n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(w + n, sizeof(w) - n, "{\"$or\":[");
	n += (size_t)snprintf(w + n, sizeof(w) - n, "{\"a\":1}");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(w + n, sizeof(w) - n, "]}");
	cr_expect_eq(refused(w, NULL, NULL, &o), PERR_INVALID_QUERY);
	/* a deep equality value */
	n = (size_t)snprintf(w, sizeof(w), "{\"a\":");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(w + n, sizeof(w) - n, "[");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(w + n, sizeof(w) - n, "]");
	snprintf(w + n, sizeof(w) - n, "}");
	cr_expect_eq(refused(w, NULL, NULL, &o), PERR_INVALID_QUERY);
	/* exactly at the depth limit is fine: 16 levels */
	o.max_depth = 3;
	cr_expect_eq(refused("{\"a\":{\"$in\":[1]}}", NULL, NULL, &o), 0);
	cr_expect_eq(refused("{\"a\":{\"$in\":[[1]]}}", NULL, NULL, &o),
		     PERR_INVALID_QUERY);
	query_opts_default(&o);
	/* $in beyond max_in */
	o.max_in = 4;
	cr_expect_eq(refused("{\"a\":{\"$in\":[1,2,3,4]}}", NULL, NULL, &o), 0);
	cr_expect_eq(refused("{\"a\":{\"$in\":[1,2,3,4,5]}}", NULL, NULL, &o),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"a\":{\"$all\":[1,2,3,4,5]}}", NULL, NULL, &o),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"a\":{\"$in\":[[1,2,3],[4,5]]}}", NULL, NULL, &o),
		     PERR_INVALID_QUERY, "counted after flattening");
	/* a field left 0 takes its default */
	struct query_opts zero = {0};
	cr_expect_eq(refused("{\"a\":{\"$in\":[1,2,3,4,5]}}", NULL, NULL, &zero), 0);
	query_opts_default(&o);
	/* too many terms */
	o.max_terms = 3;
	cr_expect_eq(refused("{\"a\":1,\"b\":2,\"c\":3}", NULL, NULL, &o), 0);
	cr_expect_eq(refused("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", NULL, NULL, &o),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"a\":{\"$gt\":1,\"$lt\":3,\"$ne\":2,\"$exists\":true}}",
			     NULL, NULL, &o),
		     PERR_INVALID_QUERY);
	cr_expect_eq(refused("{\"$or\":[{\"a\":1},{\"b\":1}]}", NULL, NULL, &o),
		     PERR_INVALID_QUERY);
	/* a pattern longer than QUERY_REGEX_MAX */
	char *pat = malloc(QUERY_REGEX_MAX + 64);
	n = (size_t)snprintf(pat, 32, "{\"s\":{\"$regex\":\"");
	memset(pat + n, 'a', QUERY_REGEX_MAX + 1);
	strcpy(pat + n + QUERY_REGEX_MAX + 1, "\"}}");
	cr_expect_eq(refused(pat, NULL, NULL, NULL), PERR_INVALID_QUERY);
	free(pat);
	/* order and keys lists */
	char list[4096] = "a";
	for (int i = 1; i <= QUERY_ORDER_MAX; i++)
		strcat(list, ",b");
	cr_expect_eq(refused(NULL, list, NULL, NULL), PERR_INVALID_QUERY);
}

/* ------------------------------------------------------------ order */

/* Sorts the documents of @docs (a JSON array) by @order; returns their
 * objectIds joined by spaces into @out. */
static void
sort_ids(const char *order, const char *docs, char *out, size_t len)
{
	struct query *q = compile(NULL, order, NULL);
	json_t *arr = J(docs);
	size_t n = json_array_size(arr);
	const json_t **v = malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	/* insertion sort: query_cmp is the only comparison */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && query_cmp(q, v[j - 1], v[j]) > 0; j--) {
			const json_t *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strncat(out, json_string_value(json_object_get(v[i], "objectId")),
			len - strlen(out) - 2);
		if (i + 1 < n)
			strcat(out, " ");
	}
	free(v);
	json_decref(arr);
	query_free(q);
}

Test(query, order_keys_ties_and_missing)
{
	const char *docs = "[{\"objectId\":\"e\",\"a\":2,\"b\":1},"
			   "{\"objectId\":\"d\",\"a\":1,\"b\":\"x\"},"
			   "{\"objectId\":\"c\",\"b\":5},"
			   "{\"objectId\":\"b\",\"a\":2,\"b\":2},"
			   "{\"objectId\":\"a\",\"a\":1,\"b\":\"x\"},"
			   "{\"objectId\":\"f\",\"a\":null}]";
	char got[128];
	sort_ids("a", docs, got, sizeof(got));
	/* missing and null first (tied, then by objectId) */
	cr_expect_str_eq(got, "c f a d b e");
	sort_ids("-a", docs, got, sizeof(got));
	/* descending keys; the objectId tie-break stays ascending */
	cr_expect_str_eq(got, "b e a d c f");
	sort_ids("a,-b", docs, got, sizeof(got));
	cr_expect_str_eq(got, "c f a d b e");
	sort_ids("-a,b", docs, got, sizeof(got));
	/* c (b 5) and f (no b) tie on a (missing, null): b decides */
	cr_expect_str_eq(got, "e b a d f c");
	sort_ids(NULL, docs, got, sizeof(got));
	cr_expect_str_eq(got, "a b c d e f");
	/* numbers < strings */
	sort_ids("b", docs, got, sizeof(got));
	cr_expect_str_eq(got, "f e b c a d");
}

Test(query, order_by_dates_and_fields)
{
	const char *docs =
		"[{\"objectId\":\"x\",\"createdAt\":\"2026-12-01T12:00:00.000Z\"},"
		"{\"objectId\":\"y\",\"createdAt\":\"2025-12-01T12:00:00.000Z\"},"
		"{\"objectId\":\"z\",\"createdAt\":\"2026-12-01T11:00:00.000-02:00\"}]";
	char got[64];
	sort_ids("createdAt", docs, got, sizeof(got));
	cr_expect_str_eq(got, "y x z");
	sort_ids("-createdAt", docs, got, sizeof(got));
	cr_expect_str_eq(got, "z x y");
	const char *nested = "[{\"objectId\":\"1\",\"p\":{\"n\":3}},"
			     "{\"objectId\":\"2\",\"p\":{\"n\":1}},"
			     "{\"objectId\":\"3\",\"p\":5}]";
	sort_ids("p.n", nested, got, sizeof(got));
	cr_expect_str_eq(got, "3 2 1");

	struct query *q = compile(NULL, "a,-b.c", NULL);
	const char *fields[4];
	bool desc[4];
	cr_assert_eq(query_order_fields(q, fields, desc, 4), 2);
	cr_expect_str_eq(fields[0], "a");
	cr_expect(!desc[0]);
	cr_expect_str_eq(fields[1], "b.c");
	cr_expect(desc[1]);
	cr_expect_eq(query_order_fields(q, fields, desc, 1), 1);
	query_free(q);
}

/* ------------------------------------------------------------ projection */

Test(query, projection)
{
	struct query *q = compile(NULL, NULL, "a,b.c,b.d,e.f");
	json_t *doc = J("{\"objectId\":\"o\",\"createdAt\":\"2026-12-01T12:00:00.000Z\","
			"\"updatedAt\":\"2026-12-01T12:00:00.000Z\",\"ACL\":{},"
			"\"a\":[1],\"b\":{\"c\":1,\"d\":2,\"x\":3},\"e\":7,\"z\":0}");
	json_t *p = query_project(q, doc);
	json_t *want = J("{\"objectId\":\"o\",\"createdAt\":\"2026-12-01T12:00:00.000Z\","
			 "\"updatedAt\":\"2026-12-01T12:00:00.000Z\",\"ACL\":{},"
			 "\"a\":[1],\"b\":{\"c\":1,\"d\":2}}");
	char *s = json_dumps(p, JSON_SORT_KEYS);
	cr_expect(json_equal(p, want), "got %s", s);
	free(s);
	/* the source is untouched */
	cr_expect_eq(json_object_size(json_object_get(doc, "b")), 3);
	json_decref(p);
	json_decref(want);
	query_free(q);

	/* "b" then "b.c": b whole, and doc's b not modified */
	q = compile(NULL, NULL, "b,b.c");
	p = query_project(q, doc);
	cr_expect(json_equal(json_object_get(p, "b"), json_object_get(doc, "b")));
	cr_expect_eq(json_object_size(json_object_get(doc, "b")), 3);
	json_decref(p);
	query_free(q);
	q = compile(NULL, NULL, "b.c,b");
	p = query_project(q, doc);
	cr_expect_eq(json_object_size(json_object_get(p, "b")), 3);
	json_decref(p);
	query_free(q);

	/* no keys: a copy whose top level can be changed freely */
	q = compile(NULL, NULL, NULL);
	p = query_project(q, doc);
	cr_expect(json_equal(p, doc));
	json_object_del(p, "a");
	cr_expect_not_null(json_object_get(doc, "a"));
	json_decref(p);
	query_free(q);
	json_decref(doc);
}

/* ------------------------------------------------------------ pins */

Test(query, pins_from_the_top_level_and_only)
{
	struct query *q = compile(
		"{\"a\":1,\"b\":{\"$gt\":2,\"$lte\":9},\"c\":{\"$gte\":1},"
		"\"$and\":[{\"b\":{\"$gt\":4}},{\"c\":{\"$gt\":1,\"$lt\":\"z\"}}],"
		"\"$or\":[{\"d\":1},{\"e\":2}],\"f.g\":3,\"h\":{\"$in\":[1]},"
		"\"createdAt\":{\"$gt\":\"2026-12-01T12:00:00.000Z\"}}",
		NULL, NULL);
	struct query_pin pins[16];
	uint32_t n = query_pins(q, pins, 16);
	cr_assert_eq(n, 4, "got %u pins", n);
	bool seen[4] = {false};
	for (uint32_t i = 0; i < n; i++) {
		const struct query_pin *p = &pins[i];
		if (strcmp(p->field, "a") == 0) {
			seen[0] = true;
			cr_expect_eq(p->kind, QP_EQ);
			cr_expect_eq(json_integer_value(p->eq), 1);
		} else if (strcmp(p->field, "b") == 0) {
			seen[1] = true;
			cr_expect_eq(p->kind, QP_RANGE);
			cr_expect_eq(json_integer_value(p->lo), 4);
			cr_expect(!p->lo_incl);
			cr_expect_eq(json_integer_value(p->hi), 9);
			cr_expect(p->hi_incl);
		} else if (strcmp(p->field, "c") == 0) {
			seen[2] = true;
			cr_expect_eq(p->kind, QP_RANGE);
			cr_expect_eq(json_integer_value(p->lo), 1);
			cr_expect(!p->lo_incl, "$gt 1 is tighter than $gte 1");
			cr_expect_null(p->hi, "a bound of another type is not merged");
		} else if (strcmp(p->field, "createdAt") == 0) {
			seen[3] = true;
			cr_expect_eq(p->kind, QP_RANGE);
			cr_expect_str_eq(doc_type_name(p->lo), "Date");
		}
	}
	cr_expect(seen[0] && seen[1] && seen[2] && seen[3]);
	cr_expect_eq(query_pins(q, pins, 2), 2);
	query_free(q);

	q = compile("{\"$or\":[{\"a\":1},{\"a\":2}]}", NULL, NULL);
	cr_expect_eq(query_pins(q, pins, 16), 0);
	query_free(q);
	q = compile("{\"a\":{\"$gt\":1},\"$and\":[{\"a\":5}]}", NULL, NULL);
	cr_assert_eq(query_pins(q, pins, 16), 1);
	cr_expect_eq(pins[0].kind, QP_EQ);
	query_free(q);
}

/* ------------------------------------------------------------ key encoding */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static json_t *
rnd_string(void)
{
	static const char alpha[] = {'a', 'b', '\0', 'A', '\xc3', '\xa9', 'z'};
	char s[8];
	size_t n = rnd() % 5;
	for (size_t i = 0; i < n; i++) {
		s[i] = alpha[rnd() % sizeof(alpha)];
		if (s[i] == '\xc3')
			s[i] = 'c'; /* keep it valid UTF-8: é is added whole below */
		if (s[i] == '\xa9' && i + 1 < n) {
			s[i] = '\xc3';
			s[++i] = '\xa9';
		} else if (s[i] == '\xa9') {
			s[i] = 'y';
		}
	}
	return json_stringn(s, n);
}

static json_t *
rnd_number(void)
{
	switch (rnd() % 6) {
	case 0:
		return json_integer((json_int_t)(rnd() % 7) - 3);
	case 1:
		return json_real((double)((int64_t)(rnd() % 13) - 6) / 4);
	case 2: /* around 2^53, where doubles and ints part */
		return json_integer(9007199254740992LL + (json_int_t)(rnd() % 5) - 2);
	case 3:
		return json_real(9007199254740992.0 + (double)(rnd() % 3) * 2 - 2);
	case 4: /* the ends of int64 */
		return json_integer(rnd() % 2 ? INT64_MAX - (json_int_t)(rnd() % 3)
					      : INT64_MIN + (json_int_t)(rnd() % 3));
	default:
		return json_real(rnd() % 2 ? 9223372036854775808.0 : -9223372036854775808.0);
	}
}

static json_t *
rnd_value(int depth)
{
	char iso[DOC_DATE_MAX];
	switch (rnd() % (depth > 2 ? 9 : 11)) {
	case 0:
		return json_null();
	case 1:
		return json_boolean(rnd() % 2);
	case 2:
	case 3:
		return rnd_number();
	case 4:
		return rnd_string();
	case 5:
		doc_date_format((int64_t)(rnd() % 5) * 1000 - 2000, iso);
		return json_pack("{s:s,s:s}", "__type", "Date", "iso", iso);
	case 6:
		return json_pack("{s:s,s:s,s:o}", "__type", "Pointer", "className",
				 rnd() % 2 ? "A" : "_B", "objectId", rnd_string());
	case 7:
		return json_pack("{s:s,s:f,s:i}", "__type", "GeoPoint", "latitude",
				 (double)(rnd() % 3) - 1.5, "longitude", (int)(rnd() % 3));
	case 8:
		return rnd() % 2 ? json_pack("{s:s,s:s}", "__type", "Bytes", "base64",
					     rnd() % 2 ? "AA==" : "AB==")
				 : json_pack("{s:s,s:o}", "__type", "File", "name",
					     rnd_string());
	case 9: {
		json_t *a = json_array();
		size_t n = rnd() % 3;
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, rnd_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		size_t n = rnd() % 3;
		for (size_t i = 0; i < n; i++) {
			json_t *k = rnd_string();
			json_object_setn_new(o, json_string_value(k), json_string_length(k),
					     rnd_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

static int
sign(int c)
{
	return c < 0 ? -1 : c > 0;
}

static int
key_cmp(const struct buf *a, const struct buf *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->data, b->data, n);
	return c != 0 ? c : a->len < b->len ? -1 : a->len > b->len;
}

static const struct query *sort_query;

struct item {
	json_t *doc;
	struct buf *key;
};

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return query_cmp(sort_query, x->doc, y->doc);
}

Test(query, key_encoding_orders_like_query_cmp)
{
	const char *env = getenv("MIST_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : 0x5eed0fa11ULL;
	rng_state = seed;
	fprintf(stderr, "test_query: MIST_SEED=%llu\n", (unsigned long long)seed);
	enum { N = 3000 };
	json_t **docs = malloc(N * sizeof(*docs));
	struct buf *keys = calloc(N, sizeof(*keys));
	struct query *q = compile(NULL, "v", NULL);
	for (int i = 0; i < N; i++) {
		/* one objectId for all: query_cmp is the values' order alone */
		docs[i] = json_pack("{s:s}", "objectId", "same");
		if (rnd() % 20 != 0) /* some missing: they sort as null */
			json_object_set_new(docs[i], "v", rnd_value(0));
		cr_assert_eq(query_key_encode_doc(docs[i], "v", &keys[i]), 0);
	}
	/* every pair of neighbours and many random pairs */
	for (int t = 0; t < 60000; t++) {
		int i = t < N - 1 ? t : (int)(rnd() % N);
		int j = t < N - 1 ? t + 1 : (int)(rnd() % N);
		int c = sign(query_cmp(q, docs[i], docs[j]));
		int k = sign(key_cmp(&keys[i], &keys[j]));
		if (c != k) {
			char *a = json_dumps(docs[i], JSON_ENCODE_ANY),
			     *b = json_dumps(docs[j], JSON_ENCODE_ANY);
			cr_assert_fail("cmp %d, keys %d: %s vs %s (seed %llu)", c, k, a, b,
				       (unsigned long long)seed);
		}
	}
	/* and as a sort: sorted by query_cmp, the keys never decrease, and
	 * they are equal exactly where query_cmp ties */
	struct item *items = malloc(N * sizeof(*items));
	for (int i = 0; i < N; i++)
		items[i] = (struct item){docs[i], &keys[i]};
	sort_query = q;
	qsort(items, N, sizeof(*items), item_cmp);
	for (int i = 1; i < N; i++) {
		int c = sign(query_cmp(q, items[i - 1].doc, items[i].doc));
		int k = sign(key_cmp(items[i - 1].key, items[i].key));
		cr_assert_leq(c, 0);
		cr_assert_eq(c, k, "sorted neighbours %d: cmp %d keys %d (seed %llu)", i,
			     c, k, (unsigned long long)seed);
	}
	free(items);
	for (int i = 0; i < N; i++) {
		json_decref(docs[i]);
		buf_destroy(&keys[i]);
	}
	free(docs);
	free(keys);
	query_free(q);
}

Test(query, key_encoding_known_order)
{
	const char *vals[] = {
		"null",
		"-1e300",
		"-9223372036854775808",
		"-1",
		"-0.5",
		"0",
		"1",
		"1.5",
		"9007199254740992",
		"9007199254740993",
		"9007199254740994.0",
		"9223372036854775807",
		"9223372036854775808.0",
		"\"\"",
		"\"a\"",
		"\"a\\u0000\"",
		"\"a\\u0001\"",
		"\"ab\"",
		"{}",
		"{\"a\":1}",
		"{\"a\":1,\"b\":1}",
		"{\"b\":0}",
		"[]",
		"[1]",
		"[1,2]",
		"[2]",
		"{\"__type\":\"Bytes\",\"base64\":\"AA==\"}",
		"{\"__type\":\"Pointer\",\"className\":\"A\",\"objectId\":\"z\"}",
		"{\"__type\":\"Pointer\",\"className\":\"B\",\"objectId\":\"a\"}",
		"false",
		"true",
		"{\"__type\":\"Date\",\"iso\":\"1969-12-31T23:59:59.999Z\"}",
		"{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}",
		"{\"__type\":\"GeoPoint\",\"latitude\":-1,\"longitude\":5}",
		"{\"__type\":\"GeoPoint\",\"latitude\":0,\"longitude\":-5}",
		"{\"__type\":\"File\",\"name\":\"a\"}",
		"{\"__type\":\"Relation\",\"className\":\"A\"}",
	};
	size_t n = sizeof(vals) / sizeof(vals[0]);
	struct buf prev = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		json_t *v = J(vals[i]);
		struct buf k = BUF_INIT;
		cr_assert_eq(query_key_encode(v, &k), 0);
		cr_expect_eq(k.data[0], query_key_tag(v));
		if (i > 0)
			cr_expect_lt(key_cmp(&prev, &k), 0, "%s should sort before %s",
				     vals[i - 1], vals[i]);
		buf_destroy(&prev);
		prev = k;
		json_decref(v);
	}
	buf_destroy(&prev);
	/* equal values, equal keys: -0 and 0, 1 and 1.0, key order in objects */
	const char *same[][2] = {{"0", "-0.0"}, {"1", "1.0"},
				 {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1.0}"}};
	for (size_t i = 0; i < 3; i++) {
		json_t *a = J(same[i][0]), *b = J(same[i][1]);
		struct buf ka = BUF_INIT, kb = BUF_INIT;
		query_key_encode(a, &ka);
		query_key_encode(b, &kb);
		cr_expect_eq(key_cmp(&ka, &kb), 0, "%s vs %s", same[i][0], same[i][1]);
		buf_destroy(&ka);
		buf_destroy(&kb);
		json_decref(a);
		json_decref(b);
	}
	/* a missing field and a top-level createdAt as the query sees them */
	json_t *doc = J("{\"createdAt\":\"2026-12-01T12:00:00.000Z\"}");
	json_t *date = J("{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}");
	struct buf ka = BUF_INIT, kb = BUF_INIT, kn = BUF_INIT;
	query_key_encode_doc(doc, "createdAt", &ka);
	query_key_encode(date, &kb);
	cr_expect_eq(key_cmp(&ka, &kb), 0);
	query_key_encode_doc(doc, "nope", &kn);
	cr_expect_eq(kn.len, 1);
	cr_expect_eq(kn.data[0], query_key_tag(NULL));
	buf_destroy(&ka);
	buf_destroy(&kb);
	buf_destroy(&kn);
	json_decref(doc);
	json_decref(date);
}

/* ------------------------------------------------------------ doc.h */

Test(doc, dates_parse_and_format)
{
	int64_t ms;
	char out[DOC_DATE_MAX];
	cr_assert_eq(doc_date_parse("1970-01-01T00:00:00.000Z", &ms), 0);
	cr_expect_eq(ms, 0);
	cr_assert_eq(doc_date_parse("2026-12-01T12:00:00.000Z", &ms), 0);
	cr_expect_eq(ms, 1796126400000LL);
	cr_assert_eq(doc_date_format(ms, out), 0);
	cr_expect_str_eq(out, "2026-12-01T12:00:00.000Z");
	cr_assert_eq(doc_date_parse("2026-12-01T14:00:00.5+02:00", &ms), 0);
	cr_expect_eq(ms, 1796126400500LL);
	cr_assert_eq(doc_date_parse("2026-12-01T12:00:00.123456789Z", &ms), 0);
	cr_expect_eq(ms, 1796126400123LL);
	cr_assert_eq(doc_date_parse("1969-12-31T23:59:59.999Z", &ms), 0);
	cr_expect_eq(ms, -1);
	cr_assert_eq(doc_date_format(-1, out), 0);
	cr_expect_str_eq(out, "1969-12-31T23:59:59.999Z");
	cr_assert_eq(doc_date_parse("2024-02-29T00:00:00Z", &ms), 0);
	cr_assert_eq(doc_date_parse("0000-01-01T00:00:00.000Z", &ms), 0);
	cr_assert_eq(doc_date_format(ms, out), 0);
	cr_expect_str_eq(out, "0000-01-01T00:00:00.000Z");
	cr_assert_eq(doc_date_parse("9999-12-31T23:59:59.999Z", &ms), 0);
	cr_assert_eq(doc_date_format(ms, out), 0);
	cr_expect_str_eq(out, "9999-12-31T23:59:59.999Z");
	cr_expect_eq(doc_date_format(ms + 1, out), MIST_EINVAL);
	cr_expect_str_eq(out, "");
	const char *bad[] = {
		"", "2026-12-01", "2026-12-01T12:00:00", "2026-13-01T12:00:00Z",
		"2023-02-29T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T12:60:00Z",
		"2026-12-01T12:00:60Z", "2026-12-01T12:00:00.Z",
		"2026-12-01T12:00:00.0000000000Z", "2026-12-01T12:00:00ZZ",
		"2026-12-01 12:00:00Z", "2026-12-01T12:00:00+0200", "+2026-12-01T12:00:00Z",
		"9999-12-31T23:59:59-01:00", "2026-00-01T12:00:00Z", "2026-12-00T12:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(doc_date_parse(bad[i], &ms), MIST_EINVAL, "%s", bad[i]);
	/* a round trip across the range */
	rng_state = 42;
	for (int i = 0; i < 20000; i++) {
		int64_t t = (int64_t)(rnd() % 315537897600000ULL) - 62167219200000LL;
		cr_assert_eq(doc_date_format(t, out), 0);
		cr_assert_eq(doc_date_parse(out, &ms), 0, "%s", out);
		cr_assert_eq(ms, t, "%s", out);
	}
}

static const char *
tname(const char *text)
{
	json_t *v = J(text);
	const char *n = doc_type_name(v);
	json_decref(v);
	return n;
}

Test(doc, type_names)
{
	cr_expect_str_eq(tname("1"), "Number");
	cr_expect_str_eq(tname("1.5"), "Number");
	cr_expect_str_eq(tname("\"s\""), "String");
	cr_expect_str_eq(tname("true"), "Boolean");
	cr_expect_str_eq(tname("[]"), "Array");
	cr_expect_str_eq(tname("{\"a\":1}"), "Object");
	cr_expect_str_eq(tname("{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00.000Z\"}"),
			 "Date");
	cr_expect_str_eq(tname("{\"__type\":\"Pointer\",\"className\":\"A\",\"objectId\":\"b\"}"),
			 "Pointer");
	cr_expect_str_eq(tname("{\"__type\":\"Relation\",\"className\":\"A\"}"), "Relation");
	cr_expect_str_eq(tname("{\"__type\":\"Bytes\",\"base64\":\"aGk=\"}"), "Bytes");
	cr_expect_str_eq(tname("{\"__type\":\"GeoPoint\",\"latitude\":-90,\"longitude\":180}"),
			 "GeoPoint");
	cr_expect_str_eq(tname("{\"__type\":\"File\",\"name\":\"a\",\"url\":\"u\"}"), "File");
	cr_expect_null(tname("null"));
	cr_expect_null(tname("{\"__type\":\"Date\",\"iso\":\"yesterday\"}"));
	cr_expect_null(tname("{\"__type\":\"Date\",\"iso\":\"2026-12-01T12:00:00Z\",\"x\":1}"));
	cr_expect_null(tname("{\"__type\":\"Pointer\",\"className\":\"A\"}"));
	cr_expect_null(tname("{\"__type\":\"Pointer\",\"className\":1,\"objectId\":\"b\"}"));
	cr_expect_null(tname("{\"__type\":\"Pointer\",\"className\":\"a b\",\"objectId\":\"b\"}"));
	cr_expect_null(tname("{\"__type\":\"Pointer\",\"className\":\"\",\"objectId\":\"b\"}"));
	cr_expect_str_eq(tname("{\"__type\":\"Pointer\",\"className\":\"_User\",\"objectId\":\"b\"}"),
			 "Pointer");
	cr_expect_null(tname("{\"__type\":\"GeoPoint\",\"latitude\":91,\"longitude\":0}"));
	cr_expect_null(tname("{\"__type\":\"GeoPoint\",\"latitude\":0,\"longitude\":-180.5}"));
	cr_expect_null(tname("{\"__type\":\"GeoPoint\",\"latitude\":\"0\",\"longitude\":0}"));
	cr_expect_null(tname("{\"__type\":\"Bytes\",\"base64\":\"a=bc\"}"));
	cr_expect_null(tname("{\"__type\":\"Bytes\",\"base64\":\"abc\"}"));
	cr_expect_null(tname("{\"__type\":\"Polygon\",\"coordinates\":[]}"));
	cr_expect_null(tname("{\"__type\":3}"));
}

static int
validate(const char *text, uint32_t depth)
{
	json_t *v = J(text);
	struct perr err = {0};
	int rc = doc_validate(v, depth, &err);
	json_decref(v);
	if (rc == 0)
		return 0;
	cr_expect_eq(rc, MIST_EINVAL);
	cr_expect_neq(err.msg[0], '\0');
	return err.code;
}

Test(doc, validate)
{
	cr_expect_eq(validate("{\"objectId\":\"a\",\"createdAt\":\"2026-12-01T12:00:00.000Z\","
			      "\"updatedAt\":\"2026-12-01T12:00:00.000Z\","
			      "\"ACL\":{\"*\":{\"read\":true},\"role:A\":{\"write\":false}},"
			      "\"a_1\":[1,{\"x\":{\"__type\":\"Date\",\"iso\":"
			      "\"2026-12-01T12:00:00.000Z\"}}],\"B\":{\"c d\":null}}",
			      0),
		     0);
	cr_expect_eq(validate("[]", 0), PERR_INVALID_JSON);
	cr_expect_eq(validate("{\"_hashed_password\":\"x\"}", 0), PERR_INVALID_KEY_NAME);
	cr_expect_eq(validate("{\"1a\":1}", 0), PERR_INVALID_KEY_NAME);
	cr_expect_eq(validate("{\"a.b\":1}", 0), PERR_INVALID_KEY_NAME);
	cr_expect_eq(validate("{\"\":1}", 0), PERR_INVALID_KEY_NAME);
	cr_expect_eq(validate("{\"a\":{\"b.c\":1}}", 0), PERR_INVALID_NESTED_KEY);
	cr_expect_eq(validate("{\"a\":[{\"$b\":1}]}", 0), PERR_INVALID_NESTED_KEY);
	cr_expect_eq(validate("{\"a\":{\"\":1}}", 0), PERR_INVALID_NESTED_KEY);
	cr_expect_eq(validate("{\"a\":{\"__type\":\"Date\",\"iso\":\"x\"}}", 0),
		     PERR_INCORRECT_TYPE);
	cr_expect_eq(validate("{\"a\":[[{\"__type\":\"GeoPoint\",\"latitude\":100,"
			      "\"longitude\":0}]]}",
			      0),
		     PERR_INCORRECT_TYPE);
	cr_expect_eq(validate("{\"a\":{\"__op\":\"Increment\",\"amount\":1}}", 0),
		     PERR_INCORRECT_TYPE);
	cr_expect_eq(validate("{\"objectId\":1}", 0), PERR_INCORRECT_TYPE);
	cr_expect_eq(validate("{\"objectId\":\"\"}", 0), PERR_INCORRECT_TYPE);
	cr_expect_eq(validate("{\"createdAt\":{\"__type\":\"Date\",\"iso\":"
			      "\"2026-12-01T12:00:00.000Z\"}}",
			      0),
		     PERR_INCORRECT_TYPE);
	cr_expect_eq(validate("{\"ACL\":[]}", 0), PERR_INVALID_ACL);
	cr_expect_eq(validate("{\"ACL\":{\"*\":{\"read\":1}}}", 0), PERR_INVALID_ACL);
	cr_expect_eq(validate("{\"ACL\":{\"*\":{\"delete\":true}}}", 0), PERR_INVALID_ACL);
	/* depth: the top level is 1 */
	cr_expect_eq(validate("{\"a\":[[1]]}", 3), 0);
	cr_expect_eq(validate("{\"a\":[[[1]]]}", 3), PERR_INVALID_JSON);
	char deep[4096];
	size_t n = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	for (int i = 0; i < 100; i++)
		deep[n++] = ']';
	strcpy(deep + n, "}");
	cr_expect_eq(validate(deep, 0), PERR_INVALID_JSON);
	char name[DOC_FIELD_MAX + 16];
	memset(name, 'a', sizeof(name));
	n = (size_t)snprintf(deep, sizeof(deep), "{\"%.*s\":1}", DOC_FIELD_MAX, name);
	cr_expect_eq(validate(deep, 0), 0);
	snprintf(deep, sizeof(deep), "{\"%.*s\":1}", DOC_FIELD_MAX + 1, name);
	cr_expect_eq(validate(deep, 0), PERR_INVALID_KEY_NAME);
}
