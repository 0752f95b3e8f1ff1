/*
 * query.c -- compiled Parse queries, the order of values and their index
 * keys (see query.h for the semantics; this file follows it section by
 * section).
 */
#include "config.h"
#include "accessory/query.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "mist.h"
#include "util/mem.h"

/* ------------------------------------------------------------ types */

enum qop {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LTE,
	OP_GT,
	OP_GTE,
	OP_IN,
	OP_NIN,
	OP_EXISTS,
	OP_ALL,
	OP_REGEX,
};

struct qterm {
	enum qop op;
	json_t *val; /* owned reference: the operand (an array for IN/NIN/ALL) */
	bool exists; /* OP_EXISTS */
	pcre2_code *re;
	pcre2_match_data *md;
};

enum qkind { QN_AND = 0, QN_OR, QN_NOR, QN_FIELD };

struct qnode {
	enum qkind kind;
	char *path;   /* QN_FIELD: "a.b" */
	bool dotted;  /* path holds a '.' */
	bool topdate; /* path is createdAt or updatedAt */
	struct qterm *terms;
	uint32_t nterms, tcap; /* used, allocated (zeroed beyond nterms) */
	struct qnode *kids;
	uint32_t nkids, kcap;
};

struct query {
	struct qnode root; /* QN_AND */
	struct query_opts o;
	uint32_t terms;	   /* counted against o.max_terms */
	pcre2_match_context *mctx;
	pcre2_compile_context *cctx;
	char *order_buf; /* the order's text, cut at the commas */
	const char *order[QUERY_ORDER_MAX];
	bool desc[QUERY_ORDER_MAX];
	uint32_t norder;
	char *keys_buf;
	const char *keys[QUERY_KEYS_MAX];
	uint32_t nkeys;
};

/* Type classes, in their order; the value is the key's tag byte. */
enum rank {
	R_NULL = 0x10,
	R_NUM = 0x20,
	R_STR = 0x30,
	R_OBJ = 0x40,
	R_ARR = 0x50,
	R_BYTES = 0x60,
	R_PTR = 0x70,
	R_BOOL = 0x80,
	R_DATE = 0x90,
	R_GEO = 0xA0,
	R_FILE = 0xB0,
	R_REL = 0xC0,
};

/* A value as the query sees it: its class, and a Date's instant. */
struct cval {
	const json_t *j; /* NULL: missing */
	uint8_t rank;
	int64_t ms;
};

void
query_opts_default(struct query_opts *o)
{
	o->max_depth = QUERY_DEFAULT_MAX_DEPTH;
	o->max_terms = QUERY_DEFAULT_MAX_TERMS;
	o->max_in = QUERY_DEFAULT_MAX_IN;
	o->regex_match_limit = QUERY_DEFAULT_REGEX_MATCH_LIMIT;
	o->regex_depth_limit = QUERY_DEFAULT_REGEX_DEPTH_LIMIT;
}

static bool
is_topdate(const char *path, size_t len)
{
	return (len == 9 && memcmp(path, "createdAt", 9) == 0) ||
	       (len == 9 && memcmp(path, "updatedAt", 9) == 0);
}

/* @a j classified; @a top: it is a top-level createdAt/updatedAt. */
static struct cval
classify(const json_t *j, bool top)
{
	struct cval v = {j, R_NULL, 0};
	if (j == NULL)
		return v;
	if (top && json_is_string(j) &&
	    doc_date_parsen(json_string_value(j), json_string_length(j), &v.ms) == 0) {
		v.rank = R_DATE;
		return v;
	}
	switch (doc_type(j)) {
	case DOC_NULL:
		v.rank = R_NULL;
		break;
	case DOC_NUMBER:
		v.rank = R_NUM;
		break;
	case DOC_STRING:
		v.rank = R_STR;
		break;
	case DOC_BOOLEAN:
		v.rank = R_BOOL;
		break;
	case DOC_ARRAY:
		v.rank = R_ARR;
		break;
	case DOC_OBJECT:
	case DOC_INVALID: /* a malformed typed object: a plain object */
		v.rank = R_OBJ;
		break;
	case DOC_DATE: {
		const json_t *iso = json_object_get(j, "iso");
		v.rank = R_DATE;
		(void)doc_date_parsen(json_string_value(iso), json_string_length(iso),
				      &v.ms);
		break;
	}
	case DOC_POINTER:
		v.rank = R_PTR;
		break;
	case DOC_RELATION:
		v.rank = R_REL;
		break;
	case DOC_BYTES:
		v.rank = R_BYTES;
		break;
	case DOC_GEOPOINT:
		v.rank = R_GEO;
		break;
	case DOC_FILE:
		v.rank = R_FILE;
		break;
	}
	return v;
}

/* The value at @a path (dotted) of @a doc; NULL if missing. */
static const json_t *
path_get(const json_t *doc, const char *path, size_t len)
{
	const json_t *cur = doc;
	size_t i = 0;
	while (cur != NULL) {
		if (!json_is_object(cur))
			return NULL;
		const char *dot = memchr(path + i, '.', len - i);
		size_t n = dot != NULL ? (size_t)(dot - (path + i)) : len - i;
		cur = json_object_getn(cur, path + i, n);
		if (dot == NULL)
			return cur;
		i += n + 1;
	}
	return NULL;
}

static struct cval
doc_field(const json_t *doc, const char *path)
{
	size_t len = strlen(path);
	return classify(path_get(doc, path, len), is_topdate(path, len));
}

/* ------------------------------------------------------------ order */

static int
sign64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
dbl_cmp(double a, double b)
{
	return a < b ? -1 : a > b;
}

/* int64 @a i against double @a d, exactly. */
static int
int_dbl_cmp(json_int_t i, double d)
{
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	int64_t t = (int64_t)d; /* truncated toward zero; d is in range */
	if (i != t)
		return i < t ? -1 : 1;
	double frac = d - (double)t; /* exact */
	return frac > 0 ? -1 : frac < 0;
}

static int
num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return sign64(json_integer_value(a), json_integer_value(b));
	if (json_is_real(a) && json_is_real(b))
		return dbl_cmp(json_real_value(a), json_real_value(b));
	if (json_is_integer(a))
		return int_dbl_cmp(json_integer_value(a), json_real_value(b));
	return -int_dbl_cmp(json_integer_value(b), json_real_value(a));
}

static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

static int
str_cmp(const json_t *a, const json_t *b)
{
	return bytes_cmp(json_string_value(a), json_string_length(a),
			 json_string_value(b), json_string_length(b));
}

static int
member_cmp(const json_t *a, const json_t *b, const char *key)
{
	return str_cmp(json_object_get(a, key), json_object_get(b, key));
}

struct okey {
	const char *k;
	size_t n;
	const json_t *v;
};

static int
okey_cmp(const void *x, const void *y)
{
	const struct okey *a = x, *b = y;
	return bytes_cmp(a->k, a->n, b->k, b->n);
}

/* @a o's members sorted by key (xmalloc'd; *n of them). */
static struct okey *
sorted_keys(const json_t *o, size_t *n)
{
	*n = json_object_size(o);
	struct okey *ks = xmalloc(*n * sizeof(*ks));
	size_t i = 0;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		ks[i].k = k;
		ks[i].n = json_object_iter_key_len(json_object_key_to_iter(k));
		ks[i].v = v;
		i++;
	}
	qsort(ks, *n, sizeof(*ks), okey_cmp);
	return ks;
}

static int cval_cmp(struct cval a, struct cval b);

static int
json_cmp(const json_t *a, const json_t *b)
{
	return cval_cmp(classify(a, false), classify(b, false));
}

static int
obj_cmp(const json_t *a, const json_t *b)
{
	size_t na, nb;
	struct okey *ka = sorted_keys(a, &na), *kb = sorted_keys(b, &nb);
	int c = 0;
	for (size_t i = 0; c == 0; i++) {
		if (i == na || i == nb) {
			c = na == nb ? 0 : i == na ? -1 : 1;
			break;
		}
		c = bytes_cmp(ka[i].k, ka[i].n, kb[i].k, kb[i].n);
		if (c == 0)
			c = json_cmp(ka[i].v, kb[i].v);
	}
	free(ka);
	free(kb);
	return c;
}

static int
arr_cmp(const json_t *a, const json_t *b)
{
	size_t na = json_array_size(a), nb = json_array_size(b);
	for (size_t i = 0; i < na && i < nb; i++) {
		int c = json_cmp(json_array_get(a, i), json_array_get(b, i));
		if (c != 0)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

static double
num_member(const json_t *o, const char *key)
{
	double d = json_number_value(json_object_get(o, key));
	return d == 0 ? 0.0 : d; /* -0 is 0 */
}

static int
cval_cmp(struct cval a, struct cval b)
{
	if (a.rank != b.rank)
		return a.rank < b.rank ? -1 : 1;
	int c;
	switch ((enum rank)a.rank) {
	case R_NULL:
		return 0;
	case R_NUM:
		return num_cmp(a.j, b.j);
	case R_STR:
		return str_cmp(a.j, b.j);
	case R_OBJ:
		return obj_cmp(a.j, b.j);
	case R_ARR:
		return arr_cmp(a.j, b.j);
	case R_BYTES:
		return member_cmp(a.j, b.j, "base64");
	case R_PTR:
		c = member_cmp(a.j, b.j, "className");
		return c != 0 ? c : member_cmp(a.j, b.j, "objectId");
	case R_BOOL:
		return (int)json_is_true(a.j) - (int)json_is_true(b.j);
	case R_DATE:
		return sign64(a.ms, b.ms);
	case R_GEO:
		c = dbl_cmp(num_member(a.j, "latitude"), num_member(b.j, "latitude"));
		return c != 0 ? c
			      : dbl_cmp(num_member(a.j, "longitude"),
					num_member(b.j, "longitude"));
	case R_FILE:
		return member_cmp(a.j, b.j, "name");
	case R_REL:
		return member_cmp(a.j, b.j, "className");
	}
	return 0;
}

int
query_cmp(const struct query *q, const json_t *a, const json_t *b)
{
	for (uint32_t i = 0; i < q->norder; i++) {
		int c = cval_cmp(doc_field(a, q->order[i]), doc_field(b, q->order[i]));
		if (c != 0)
			return q->desc[i] ? -c : c;
	}
	return cval_cmp(doc_field(a, "objectId"), doc_field(b, "objectId"));
}

/* ------------------------------------------------------- index keys */

static void
put_be64(struct buf *out, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	buf_append(out, b, 8);
}

static void
put_u8(struct buf *out, uint8_t v)
{
	buf_append(out, &v, 1);
}

/* A double whose unsigned big-endian order is its numeric order. */
static void
put_double(struct buf *out, double d)
{
	if (d == 0)
		d = 0.0; /* -0 is 0 */
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	bits = bits >> 63 ? ~bits : bits ^ (1ULL << 63);
	put_be64(out, bits);
}

static void
put_i64(struct buf *out, int64_t v)
{
	put_be64(out, (uint64_t)v ^ (1ULL << 63));
}

static void
put_number(struct buf *out, const json_t *j)
{
	if (json_is_real(j)) {
		put_double(out, json_real_value(j));
		put_i64(out, 0);
		return;
	}
	/* an integer: its nearest double, then what it differs from it by
	 * (at most 2^10 in magnitude), so ints and doubles interleave exactly */
	json_int_t i = json_integer_value(j);
	double d = (double)i;
	int64_t r;
	if (d >= 9223372036854775808.0)
		r = (i - INT64_MAX) - 1; /* i - 2^63, without overflow */
	else
		r = i - (int64_t)d;
	put_double(out, d);
	put_i64(out, r);
}

static void
put_bytes(struct buf *out, const char *s, size_t n)
{
	static const uint8_t esc[2] = {0x00, 0xFF}, end[2] = {0x00, 0x01};
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0') {
			buf_append(out, s + run, i - run);
			buf_append(out, esc, 2);
			run = i + 1;
		}
	}
	buf_append(out, s + run, n - run);
	buf_append(out, end, 2);
}

static void
put_member(struct buf *out, const json_t *o, const char *key)
{
	const json_t *s = json_object_get(o, key);
	put_bytes(out, json_string_value(s), json_string_length(s));
}

static void
encode(struct cval v, struct buf *out)
{
	put_u8(out, v.rank);
	switch ((enum rank)v.rank) {
	case R_NULL:
		return;
	case R_NUM:
		put_number(out, v.j);
		return;
	case R_STR:
		put_bytes(out, json_string_value(v.j), json_string_length(v.j));
		return;
	case R_OBJ: {
		size_t n;
		struct okey *ks = sorted_keys(v.j, &n);
		for (size_t i = 0; i < n; i++) {
			put_u8(out, 0x01);
			put_bytes(out, ks[i].k, ks[i].n);
			encode(classify(ks[i].v, false), out);
		}
		free(ks);
		put_u8(out, 0x00);
		return;
	}
	case R_ARR: {
		size_t i;
		const json_t *e;
		json_array_foreach(v.j, i, e)
			encode(classify(e, false), out);
		put_u8(out, 0x00);
		return;
	}
	case R_BYTES:
		put_member(out, v.j, "base64");
		return;
	case R_PTR:
		put_member(out, v.j, "className");
		put_member(out, v.j, "objectId");
		return;
	case R_BOOL:
		put_u8(out, json_is_true(v.j) ? 1 : 0);
		return;
	case R_DATE:
		put_i64(out, v.ms);
		return;
	case R_GEO:
		put_double(out, num_member(v.j, "latitude"));
		put_double(out, num_member(v.j, "longitude"));
		return;
	case R_FILE:
		put_member(out, v.j, "name");
		return;
	case R_REL:
		put_member(out, v.j, "className");
		return;
	}
}

int
query_key_encode(const json_t *v, struct buf *out)
{
	if (out == NULL)
		return MIST_EINVAL;
	encode(classify(v, false), out);
	return 0;
}

int
query_key_encode_doc(const json_t *doc, const char *path, struct buf *out)
{
	if (out == NULL || path == NULL || path[0] == '\0')
		return MIST_EINVAL;
	encode(doc_field(doc, path), out);
	return 0;
}

uint8_t
query_key_tag(const json_t *v)
{
	return classify(v, false).rank;
}

/* ---------------------------------------------------------- compile */

static void
node_free(struct qnode *n)
{
	free(n->path);
	for (uint32_t i = 0; i < n->tcap; i++) {
		json_decref(n->terms[i].val);
		pcre2_match_data_free(n->terms[i].md);
		pcre2_code_free(n->terms[i].re);
	}
	free(n->terms);
	for (uint32_t i = 0; i < n->kcap; i++)
		node_free(&n->kids[i]);
	free(n->kids);
}

void
query_free(struct query *q)
{
	if (q == NULL)
		return;
	node_free(&q->root);
	pcre2_match_context_free(q->mctx);
	pcre2_compile_context_free(q->cctx);
	free(q->order_buf);
	free(q->keys_buf);
	free(q);
}

static int
invalid(struct perr *err, const char *fmt, const char *what)
{
	perr_set(err, 400, PERR_INVALID_QUERY, fmt, what);
	return MIST_EINVAL;
}

/* Parse's field names: ^[A-Za-z][A-Za-z0-9_.]*$, no empty segment. */
static bool
path_ok(const char *s, size_t n)
{
	if (n == 0 || n > QUERY_PATH_MAX || !((s[0] >= 'A' && s[0] <= 'Z') ||
					      (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (i + 1 == n || s[i + 1] == '.')
				return false;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int
bad_key(struct perr *err, const char *k)
{
	perr_set(err, 400, PERR_INVALID_KEY_NAME, "Invalid key name: %.100s", k);
	return MIST_EINVAL;
}

/* Refuses a value nested deeper than the query's limit (@a depth: the
 * value's own level). */
static int
check_depth(const struct query *q, const json_t *v, uint32_t depth,
	    struct perr *err)
{
	if (!json_is_array(v) && !json_is_object(v))
		return 0;
	if (depth > q->o.max_depth) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "the where is nested deeper than %u levels", q->o.max_depth);
		return MIST_EINVAL;
	}
	if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			int rc = check_depth(q, e, depth + 1, err);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	const char *k;
	const json_t *e;
	json_object_foreach((json_t *)v, k, e) {
		int rc = check_depth(q, e, depth + 1, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
count_term(struct query *q, struct perr *err)
{
	if (++q->terms > q->o.max_terms) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "the where has more than %u conditions", q->o.max_terms);
		return MIST_EINVAL;
	}
	return 0;
}

/* An operand as the field sees it: for createdAt/updatedAt, an ISO string
 * becomes a Date (a new reference either way). */
static json_t *
operand(const struct qnode *f, json_t *v)
{
	if (f->topdate && json_is_string(v)) {
		int64_t ms;
		if (doc_date_parsen(json_string_value(v), json_string_length(v), &ms) == 0)
			return json_pack("{s:s,s:O}", "__type", "Date", "iso", v);
	}
	return json_incref(v);
}

/* @a flat: an array inside the list gives its elements, as parse-server
 * flattens $in and $nin lists one level. */
static json_t *
operand_list(const struct qnode *f, json_t *arr, bool flat)
{
	json_t *out = json_array();
	size_t i, j;
	json_t *e, *ee;
	json_array_foreach(arr, i, e) {
		if (flat && json_is_array(e)) {
			json_array_foreach(e, j, ee)
				json_array_append_new(out, operand(f, ee));
		} else {
			json_array_append_new(out, operand(f, e));
		}
	}
	return out;
}

/* Parse's operators mist does not run (refused by name, not as unknown). */
static const char *const unsupported[] = {
	"$select", "$dontSelect", "$inQuery", "$notInQuery", "$relatedTo",
	"$text", "$near", "$nearSphere", "$within", "$geoWithin",
	"$geoIntersects", "$maxDistance", "$maxDistanceInRadians",
	"$maxDistanceInMiles", "$maxDistanceInKilometers", "$elemMatch",
	"$containedBy", "$not", "$centerSphere", "$box", "$polygon", "$point",
};

static int
refuse_op(const char *op, struct perr *err)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (strcmp(op, unsupported[i]) == 0)
			return invalid(err, "%.60s is not supported", op);
	return invalid(err, "unknown operator %.60s", op);
}

static int
compile_regex(struct query *q, struct qterm *t, const json_t *pat,
	      const json_t *opts, const char *field, struct perr *err)
{
	if (!json_is_string(pat))
		return invalid(err, "$regex of %.100s must be a string", field);
	size_t n = json_string_length(pat);
	if (n > QUERY_REGEX_MAX) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "$regex of %.100s is longer than %u bytes", field,
			 QUERY_REGEX_MAX);
		return MIST_EINVAL;
	}
	/* UTF mode; a subject that is not UTF-8 (jansson never makes one)
	 * simply does not match where it is invalid; no \C, which would cut
	 * a character in two */
	uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
	if (opts != NULL) {
		if (!json_is_string(opts))
			return invalid(err, "$options of %.100s must be a string", field);
		const char *s = json_string_value(opts);
		size_t on = json_string_length(opts);
		for (size_t i = 0; i < on; i++) {
			switch (s[i]) {
			case 'i':
				flags |= PCRE2_CASELESS;
				break;
			case 'm':
				flags |= PCRE2_MULTILINE;
				break;
			case 'x':
				flags |= PCRE2_EXTENDED;
				break;
			case 's':
				flags |= PCRE2_DOTALL;
				break;
			default:
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "Bad $options value for query: %.60s (only i, m, x, s)",
					 s);
				return MIST_EINVAL;
			}
		}
	}
	int ec;
	PCRE2_SIZE off;
	t->re = pcre2_compile((PCRE2_SPTR)json_string_value(pat), n, flags, &ec,
			      &off, q->cctx);
	if (t->re == NULL) {
		char msg[120];
		pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "bad $regex of %.60s at offset %zu: %s", field, (size_t)off, msg);
		return MIST_EINVAL;
	}
	t->md = pcre2_match_data_create(1, NULL);
	if (t->md == NULL)
		abort(); /* the allocation policy of util/mem.h */
	t->op = OP_REGEX;
	return 0;
}

static bool
has_op_keys(const json_t *v)
{
	const char *k;
	const json_t *e;
	json_object_foreach((json_t *)v, k, e) {
		(void)e;
		if (k[0] == '$')
			return true;
	}
	return false;
}

/* One "$op": operand of field @a f (the operators' object @a ops). */
static int
compile_op(struct query *q, struct qnode *f, const char *op, json_t *v,
	   const json_t *ops, uint32_t depth, struct perr *err)
{
	struct qterm *t = &f->terms[f->nterms];
	static const struct {
		const char *name;
		enum qop op;
	} simple[] = {
		{"$eq", OP_EQ},	  {"$ne", OP_NE},   {"$lt", OP_LT},
		{"$lte", OP_LTE}, {"$gt", OP_GT},   {"$gte", OP_GTE},
	};
	int rc = count_term(q, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strcmp(op, simple[i].name) == 0) {
			if ((rc = check_depth(q, v, depth, err)) != 0)
				return rc;
			if (i >= 2 && json_is_object(v) &&
			    json_object_get(v, "__type") == NULL && has_op_keys(v)) {
				/* parse-server's {"$lt":{"$relativeTime":"2 days
				 * ago"}} needs a clock: not here */
				const char *inner = json_object_iter_key(
					json_object_iter((json_t *)v));
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "%.40s inside %s of %.80s is not supported",
					 inner, op, f->path);
				return MIST_EINVAL;
			}
			t->op = simple[i].op;
			t->val = operand(f, v);
			f->nterms++;
			return 0;
		}
	}
	if (strcmp(op, "$in") == 0 || strcmp(op, "$nin") == 0 ||
	    strcmp(op, "$all") == 0) {
		if (!json_is_array(v))
			return invalid(err, "%s needs an array", op);
		if (json_array_size(v) > q->o.max_in) {
			perr_set(err, 400, PERR_INVALID_QUERY,
				 "%s of %.100s has more than %u values", op, f->path,
				 q->o.max_in);
			return MIST_EINVAL;
		}
		if ((rc = check_depth(q, v, depth, err)) != 0)
			return rc;
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			/* Parse's containsAllStartingWith sends {"$regex"} values */
			if (json_is_object(e) && json_object_get(e, "__type") == NULL &&
			    has_op_keys(e)) {
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "operators inside %s of %.100s are not supported",
					 op, f->path);
				return MIST_EINVAL;
			}
		}
		t->op = op[1] == 'i' ? OP_IN : op[1] == 'n' ? OP_NIN : OP_ALL;
		t->val = operand_list(f, v, t->op != OP_ALL);
		f->nterms++;
		if (json_array_size(t->val) > q->o.max_in) {
			perr_set(err, 400, PERR_INVALID_QUERY,
				 "%s of %.100s has more than %u values", op, f->path,
				 q->o.max_in);
			return MIST_EINVAL;
		}
		return 0;
	}
	if (strcmp(op, "$exists") == 0) {
		if (!json_is_boolean(v))
			return invalid(err, "$exists of %.100s must be true or false",
				       f->path);
		t->op = OP_EXISTS;
		t->exists = json_is_true(v);
		f->nterms++;
		return 0;
	}
	if (strcmp(op, "$regex") == 0) {
		rc = compile_regex(q, t, v, json_object_get(ops, "$options"), f->path,
				   err);
		if (rc == 0)
			f->nterms++;
		return rc;
	}
	if (strcmp(op, "$options") == 0) {
		q->terms--; /* part of its $regex */
		if (json_object_get(ops, "$regex") == NULL)
			return invalid(err, "$options of %.100s without $regex", f->path);
		return 0;
	}
	return refuse_op(op, err);
}

/* The condition on field @a k (@a v at level @a depth) into node @a f. */
static int
compile_field(struct query *q, struct qnode *f, const char *k, size_t kn,
	      json_t *v, uint32_t depth, struct perr *err)
{
	if (!path_ok(k, kn))
		return bad_key(err, k);
	f->kind = QN_FIELD;
	f->path = xstrdup(k);
	f->dotted = memchr(k, '.', kn) != NULL;
	f->topdate = is_topdate(k, kn);
	if (json_is_object(v) && json_object_get(v, "__type") == NULL &&
	    has_op_keys(v)) {
		if (depth > q->o.max_depth) {
			perr_set(err, 400, PERR_INVALID_QUERY,
				 "the where is nested deeper than %u levels",
				 q->o.max_depth);
			return MIST_EINVAL;
		}
		f->tcap = (uint32_t)json_object_size(v);
		f->terms = xcalloc(f->tcap, sizeof(*f->terms));
		const char *op;
		json_t *e;
		json_object_foreach(v, op, e) {
			if (op[0] != '$')
				return invalid(err,
					       "%.100s mixes operators and fields "
					       "(use $eq for an object with $ keys)",
					       k);
			int rc = compile_op(q, f, op, e, v, depth + 1, err);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	int rc = check_depth(q, v, depth, err);
	if (rc == 0)
		rc = count_term(q, err);
	if (rc != 0)
		return rc;
	f->tcap = 1;
	f->terms = xcalloc(1, sizeof(*f->terms));
	f->terms[0].op = OP_EQ;
	f->terms[0].val = operand(f, v);
	f->nterms = 1;
	return 0;
}

/* The where object @a w (at level @a depth) into the AND node @a n. */
static int
compile_where(struct query *q, struct qnode *n, json_t *w, uint32_t depth,
	      struct perr *err)
{
	if (!json_is_object(w))
		return invalid(err, "%s", "each where is a JSON object");
	if (depth > q->o.max_depth) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "the where is nested deeper than %u levels", q->o.max_depth);
		return MIST_EINVAL;
	}
	n->kind = QN_AND;
	n->kcap = (uint32_t)json_object_size(w);
	n->kids = xcalloc(n->kcap ? n->kcap : 1, sizeof(*n->kids));
	const char *k;
	json_t *v;
	json_object_foreach(w, k, v) {
		size_t kn = json_object_iter_key_len(json_object_key_to_iter(k));
		struct qnode *kid = &n->kids[n->nkids++];
		int rc;
		if (k[0] != '$') {
			rc = compile_field(q, kid, k, kn, v, depth + 1, err);
			if (rc != 0)
				return rc;
			continue;
		}
		enum qkind kind;
		if (strcmp(k, "$and") == 0)
			kind = QN_AND;
		else if (strcmp(k, "$or") == 0)
			kind = QN_OR;
		else if (strcmp(k, "$nor") == 0)
			kind = QN_NOR;
		else
			return refuse_op(k, err);
		if (!json_is_array(v) || json_array_size(v) == 0)
			return invalid(err, "%s needs a non-empty array of where objects",
				       k);
		if (depth + 1 > q->o.max_depth) {
			perr_set(err, 400, PERR_INVALID_QUERY,
				 "the where is nested deeper than %u levels",
				 q->o.max_depth);
			return MIST_EINVAL;
		}
		kid->kind = kind;
		size_t cnt = json_array_size(v);
		if (cnt > q->o.max_terms) {
			perr_set(err, 400, PERR_INVALID_QUERY,
				 "the where has more than %u conditions",
				 q->o.max_terms);
			return MIST_EINVAL;
		}
		kid->kcap = (uint32_t)cnt;
		kid->kids = xcalloc(cnt, sizeof(*kid->kids));
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if ((rc = count_term(q, err)) != 0)
				return rc;
			struct qnode *br = &kid->kids[kid->nkids++];
			if ((rc = compile_where(q, br, e, depth + 2, err)) != 0)
				return rc;
		}
	}
	return 0;
}

/* Cuts @a s ("a,-b") into q's list; @a order: '-' allowed. */
static int
compile_list(const char *s, bool order, char **buf, const char **names,
	     bool *desc, uint32_t max, uint32_t *count, struct perr *err)
{
	const char *what = order ? "order" : "keys";
	if (s == NULL || s[0] == '\0')
		return 0;
	size_t len = strlen(s);
	if (len > (size_t)max * (QUERY_PATH_MAX + 2)) {
		perr_set(err, 400, PERR_INVALID_QUERY, "%s is too long", what);
		return MIST_EINVAL;
	}
	*buf = xstrdup(s);
	char *p = *buf;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		bool minus = order && p[0] == '-';
		const char *name = minus ? p + 1 : p;
		if (*count == max) {
			perr_set(err, 400, PERR_INVALID_QUERY,
				 "%s lists more than %u fields", what, max);
			return MIST_EINVAL;
		}
		if (!path_ok(name, strlen(name))) {
			if (name[0] == '$')
				return invalid(err, "%.60s is not supported in order or keys",
					       name);
			return bad_key(err, name);
		}
		names[*count] = name;
		if (desc != NULL)
			desc[*count] = minus;
		(*count)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

struct query *
query_compile(const json_t *where, const char *order, const char *keys,
	      const struct query_opts *o, struct perr *err)
{
	struct query *q = xcalloc(1, sizeof(*q));
	query_opts_default(&q->o);
	if (o != NULL) { /* 0: the default */
		if (o->max_depth != 0)
			q->o.max_depth = o->max_depth;
		if (o->max_terms != 0)
			q->o.max_terms = o->max_terms;
		if (o->max_in != 0)
			q->o.max_in = o->max_in;
		if (o->regex_match_limit != 0)
			q->o.regex_match_limit = o->regex_match_limit;
		if (o->regex_depth_limit != 0)
			q->o.regex_depth_limit = o->regex_depth_limit;
	}
	q->mctx = pcre2_match_context_create(NULL);
	q->cctx = pcre2_compile_context_create(NULL);
	if (q->mctx == NULL || q->cctx == NULL)
		abort(); /* the allocation policy of util/mem.h */
	pcre2_set_match_limit(q->mctx, q->o.regex_match_limit);
	pcre2_set_depth_limit(q->mctx, q->o.regex_depth_limit);
	pcre2_set_heap_limit(q->mctx, QUERY_REGEX_HEAP_KIB);
	pcre2_set_max_pattern_length(q->cctx, QUERY_REGEX_MAX);
	int rc = 0;
	if (json_is_null(where)) {
		/* where=null: everything, as no where */
	} else if (where != NULL && !json_is_object(where)) {
		perr_set(err, 400, PERR_INVALID_JSON, "where must be a JSON object");
		rc = MIST_EINVAL;
	} else if (where != NULL) {
		rc = compile_where(q, &q->root, (json_t *)where, 1, err);
	}
	if (rc == 0)
		rc = compile_list(order, true, &q->order_buf, q->order, q->desc,
				  QUERY_ORDER_MAX, &q->norder, err);
	if (rc == 0)
		rc = compile_list(keys, false, &q->keys_buf, q->keys, NULL,
				  QUERY_KEYS_MAX, &q->nkeys, err);
	if (rc != 0) {
		query_free(q);
		return NULL;
	}
	return q;
}

/* ------------------------------------------------------------ match */

static bool
equals(struct cval v, const json_t *want)
{
	struct cval w = classify(want, false);
	if (cval_cmp(v, w) == 0)
		return true;
	if (v.rank != R_ARR)
		return false;
	size_t i;
	const json_t *e;
	json_array_foreach(v.j, i, e) {
		if (cval_cmp(classify(e, false), w) == 0)
			return true;
	}
	return false;
}

static bool
cmp_holds(enum qop op, int c)
{
	switch (op) {
	case OP_LT:
		return c < 0;
	case OP_LTE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	case OP_GTE:
		return c >= 0;
	default:
		return false;
	}
}

static bool
compares(struct cval v, enum qop op, const json_t *bound)
{
	if (v.j == NULL)
		return false;
	struct cval b = classify(bound, false);
	if (v.rank == b.rank && cmp_holds(op, cval_cmp(v, b)))
		return true;
	if (v.rank != R_ARR)
		return false;
	size_t i;
	const json_t *e;
	json_array_foreach(v.j, i, e) {
		struct cval ev = classify(e, false);
		if (ev.rank == b.rank && cmp_holds(op, cval_cmp(ev, b)))
			return true;
	}
	return false;
}

static bool
in_list(struct cval v, const json_t *list)
{
	size_t i;
	const json_t *e;
	json_array_foreach(list, i, e) {
		if (equals(v, e))
			return true;
	}
	return false;
}

static bool
has_all(struct cval v, const json_t *list)
{
	if (v.rank != R_ARR || json_array_size(list) == 0)
		return false;
	size_t i;
	const json_t *want;
	json_array_foreach(list, i, want) {
		struct cval w = classify(want, false);
		bool found = false;
		size_t j;
		const json_t *e;
		json_array_foreach(v.j, j, e) {
			if (cval_cmp(classify(e, false), w) == 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	return true;
}

static int
regex_one(const struct query *q, const struct qterm *t, const json_t *s,
	  const char *field, struct perr *err)
{
	int rc = pcre2_match(t->re, (PCRE2_SPTR)json_string_value(s),
			     json_string_length(s), 0, 0, t->md, q->mctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "the regular expression on %.100s needs more than its %s "
			 "limit: simplify it",
			 field,
			 rc == PCRE2_ERROR_MATCHLIMIT	? "match"
			 : rc == PCRE2_ERROR_DEPTHLIMIT ? "depth"
							: "memory");
		return MIST_E2BIG;
	}
	char msg[100];
	pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof(msg));
	perr_set(err, 400, PERR_INVALID_QUERY, "regular expression on %.60s: %s",
		 field, msg);
	return MIST_EINVAL;
}

static int
regex_match(const struct query *q, const struct qterm *t, struct cval v,
	    const char *field, struct perr *err)
{
	if (v.rank == R_STR)
		return regex_one(q, t, v.j, field, err);
	if (v.rank != R_ARR)
		return 0;
	size_t i;
	const json_t *e;
	json_array_foreach(v.j, i, e) {
		if (!json_is_string(e))
			continue;
		int rc = regex_one(q, t, e, field, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
term_match(const struct query *q, const struct qnode *f, const struct qterm *t,
	   struct cval v, struct perr *err)
{
	switch (t->op) {
	case OP_EQ:
		return equals(v, t->val);
	case OP_NE:
		return !equals(v, t->val);
	case OP_LT:
	case OP_LTE:
	case OP_GT:
	case OP_GTE:
		return compares(v, t->op, t->val);
	case OP_IN:
		return in_list(v, t->val);
	case OP_NIN:
		return !in_list(v, t->val);
	case OP_ALL:
		return has_all(v, t->val);
	case OP_EXISTS:
		return (v.j != NULL) == t->exists;
	case OP_REGEX:
		return regex_match(q, t, v, f->path, err);
	}
	return 0;
}

static int
node_match(const struct query *q, const struct qnode *n, const json_t *doc,
	   struct perr *err)
{
	if (n->kind == QN_FIELD) {
		struct cval v = doc_field(doc, n->path);
		for (uint32_t i = 0; i < n->nterms; i++) {
			int rc = term_match(q, n, &n->terms[i], v, err);
			if (rc <= 0)
				return rc;
		}
		return 1;
	}
	for (uint32_t i = 0; i < n->nkids; i++) {
		int rc = node_match(q, &n->kids[i], doc, err);
		if (rc < 0)
			return rc;
		if (n->kind == QN_AND && rc == 0)
			return 0;
		if (n->kind == QN_OR && rc == 1)
			return 1;
		if (n->kind == QN_NOR && rc == 1)
			return 0;
	}
	return n->kind == QN_OR ? 0 : 1;
}

int
query_match(const struct query *q, const json_t *doc, struct perr *err)
{
	return node_match(q, &q->root, doc, err);
}

/* ------------------------------------------------------- projection */

/* Copies @a doc's @a path into @a out, sharing the value. */
static void
project_path(json_t *out, const json_t *doc, const char *path)
{
	size_t len = strlen(path);
	const json_t *v = path_get(doc, path, len);
	if (v == NULL)
		return;
	const json_t *dcur = doc;
	json_t *ocur = out;
	size_t i = 0;
	for (;;) {
		const char *dot = memchr(path + i, '.', len - i);
		size_t n = dot != NULL ? (size_t)(dot - (path + i)) : len - i;
		const json_t *dv = json_object_getn(dcur, path + i, n);
		if (dot == NULL) {
			json_object_setn(ocur, path + i, n, (json_t *)dv);
			return;
		}
		json_t *ov = json_object_getn(ocur, path + i, n);
		if (ov == dv)
			return; /* a shorter key already holds all of it */
		if (ov == NULL) {
			ov = json_object();
			json_object_setn_new(ocur, path + i, n, ov);
		}
		dcur = dv;
		ocur = ov;
		i += n + 1;
	}
}

json_t *
query_project(const struct query *q, const json_t *doc)
{
	if (!json_is_object(doc))
		return json_incref((json_t *)doc);
	if (q->nkeys == 0)
		return json_copy((json_t *)doc);
	static const char *const always[] = {"objectId", "createdAt", "updatedAt",
					     "ACL"};
	json_t *out = json_object();
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
		json_t *v = json_object_get(doc, always[i]);
		if (v != NULL)
			json_object_set(out, always[i], v);
	}
	for (uint32_t i = 0; i < q->nkeys; i++)
		project_path(out, doc, q->keys[i]);
	return out;
}

/* ------------------------------------------------------------ pins */

static struct query_pin *
pin_for(const char *field, struct query_pin *out, uint32_t *n, uint32_t max)
{
	for (uint32_t i = 0; i < *n; i++)
		if (strcmp(out[i].field, field) == 0)
			return &out[i];
	if (*n == max)
		return NULL;
	struct query_pin *p = &out[(*n)++];
	memset(p, 0, sizeof(*p));
	p->field = field;
	p->kind = QP_RANGE;
	return p;
}

/* Keeps the tighter of two bounds (@a lower: a lower bound). */
static void
tighten(const json_t **cur, bool *incl, const json_t *v, bool vincl, bool lower)
{
	if (*cur == NULL) {
		*cur = v;
		*incl = vincl;
		return;
	}
	struct cval a = classify(*cur, false), b = classify(v, false);
	if (a.rank != b.rank)
		return; /* matches nothing; query_match says so */
	int c = cval_cmp(b, a);
	if (lower ? c > 0 : c < 0) {
		*cur = v;
		*incl = vincl;
	} else if (c == 0 && !vincl) {
		*incl = false;
	}
}

static void
collect_pins(const struct qnode *n, struct query_pin *out, uint32_t *cnt,
	     uint32_t max)
{
	for (uint32_t i = 0; i < n->nkids; i++) {
		const struct qnode *k = &n->kids[i];
		if (k->kind == QN_AND) {
			collect_pins(k, out, cnt, max);
			continue;
		}
		if (k->kind != QN_FIELD || k->dotted)
			continue;
		for (uint32_t t = 0; t < k->nterms; t++) {
			const struct qterm *term = &k->terms[t];
			if (term->op != OP_EQ && term->op != OP_LT &&
			    term->op != OP_LTE && term->op != OP_GT &&
			    term->op != OP_GTE)
				continue;
			struct query_pin *p = pin_for(k->path, out, cnt, max);
			if (p == NULL)
				continue; /* out is full; pins are only hints */
			if (term->op == OP_EQ) {
				if (p->kind != QP_EQ) {
					p->kind = QP_EQ;
					p->eq = term->val;
					p->lo = p->hi = NULL;
					p->lo_incl = p->hi_incl = false;
				}
			} else if (p->kind == QP_RANGE) {
				bool lower = term->op == OP_GT || term->op == OP_GTE;
				bool incl = term->op == OP_GTE || term->op == OP_LTE;
				const json_t *other = lower ? p->hi : p->lo;
				if (other != NULL && query_key_tag(other) !=
							     query_key_tag(term->val))
					continue; /* matches nothing; query_match says so */
				if (lower)
					tighten(&p->lo, &p->lo_incl, term->val, incl, true);
				else
					tighten(&p->hi, &p->hi_incl, term->val, incl, false);
			}
		}
	}
}

uint32_t
query_pins(const struct query *q, struct query_pin *out, uint32_t max)
{
	uint32_t n = 0;
	collect_pins(&q->root, out, &n, max);
	return n;
}

uint32_t
query_order_fields(const struct query *q, const char **fields, bool *desc,
		   uint32_t max)
{
	uint32_t n = q->norder < max ? q->norder : max;
	for (uint32_t i = 0; i < n; i++) {
		fields[i] = q->order[i];
		desc[i] = q->desc[i];
	}
	return n;
}
