/*
 * parse_req.c -- decoding a Parse REST request (see parse_req.h for the
 * routes, the two forms of keys and every bound).
 *
 * The order of the steps is parse-server's middleware order, so a request
 * that is wrong in two ways gets the error parse-server would give:
 * method, mount, /health (mounted before the body parser), the body
 * (bodyParser), _method (allowMethodOverride), the keys
 * (handleParseHeaders), the route, then the route's own checks (names,
 * query parameters).
 */
#include "config.h"
#include "gateway/parse_req.h"
#include "mist.h"
#include "util/mem.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ helpers */

static void
err_json(struct perr *err, const char *what, const json_error_t *je)
{
	perr_set(err, 400, PERR_INVALID_JSON, "%s is not valid JSON: %s", what,
		 je->text);
}

/* Echoes client text into an error message: printable ASCII only (the
 * message must stay valid UTF-8 JSON whatever was sent), at most
 * ECHO_MAX characters -- enough to recognize a name or a path. */
#define ECHO_MAX 64
struct echo {
	char s[ECHO_MAX + 4];
};

static const char *
echo(struct echo *e, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < ECHO_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		e->s[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n > ECHO_MAX) {
		memcpy(e->s + k, "...", 3);
		k += 3;
	}
	e->s[k] = '\0';
	return e->s;
}

/* Percent-decodes @a s (length @a n) into a new NUL-terminated string;
 * '+' is a space if @a plus (query strings).  0, -1 on a bad escape, -2
 * on a decoded NUL (every string here ends up a C string). */
static int
pct_decode(const char *s, size_t n, bool plus, char **out, size_t *outlen)
{
	char *d = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int v = 0;
			for (int j = 1; j <= 2; j++) {
				char h = i + (size_t)j < n ? s[i + (size_t)j] : '\0';
				int x = h >= '0' && h <= '9'	   ? h - '0'
					: h >= 'a' && h <= 'f' ? h - 'a' + 10
					: h >= 'A' && h <= 'F' ? h - 'A' + 10
							       : -1;
				if (x < 0) {
					free(d);
					return -1;
				}
				v = v << 4 | x;
			}
			if (v == 0) {
				free(d);
				return -2;
			}
			c = (char)v;
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		} else if (c == '\0') {
			free(d);
			return -2;
		}
		d[k++] = c;
	}
	d[k] = '\0';
	*out = d;
	if (outlen != NULL)
		*outlen = k;
	return 0;
}

/* Walks @a v checking the bounds of parse_req.h; @a what names it in the
 * error.  Recursion stops at @a max_depth + 1. */
struct jcheck {
	uint32_t values;
	int max_depth;
	int depth_code; /* the Parse code for too deep */
	const char *what;
};

static int
jcheck_walk(const json_t *v, int depth, struct jcheck *c, struct perr *err)
{
	if (depth > c->max_depth) {
		perr_set(err, 400, c->depth_code, "%s is nested deeper than %d",
			 c->what, c->max_depth);
		return MIST_EPROTO;
	}
	if (++c->values > PREQ_MAX_VALUES) {
		perr_set(err, 400, PERR_OBJECT_TOO_LARGE,
			 "%s has more than %d values", c->what, PREQ_MAX_VALUES);
		return MIST_EPROTO;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) > PREQ_MAX_STR_LEN) {
			perr_set(err, 400, PERR_OBJECT_TOO_LARGE,
				 "%s has a string longer than %d bytes",
				 c->what, PREQ_MAX_STR_LEN);
			return MIST_EPROTO;
		}
	} else if (json_is_object(v)) {
		if (json_object_size(v) > PREQ_MAX_KEYS) {
			perr_set(err, 400, PERR_OBJECT_TOO_LARGE,
				 "%s has an object of more than %d keys",
				 c->what, PREQ_MAX_KEYS);
			return MIST_EPROTO;
		}
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			if (strlen(k) > PREQ_MAX_KEY_LEN) {
				perr_set(err, 400, PERR_OBJECT_TOO_LARGE,
					 "%s has a key longer than %d bytes",
					 c->what, PREQ_MAX_KEY_LEN);
				return MIST_EPROTO;
			}
			int rc = jcheck_walk(x, depth + 1, c, err);
			if (rc < 0)
				return rc;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			int rc = jcheck_walk(x, depth + 1, c, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int
jcheck(const json_t *v, int max_depth, int depth_code, const char *what,
       struct perr *err)
{
	struct jcheck c = {0, max_depth, depth_code, what};
	return jcheck_walk(v, 1, &c, err);
}

int
preq_body_check(const json_t *v, const char *what, struct perr *err)
{
	return jcheck(v, PREQ_MAX_DEPTH, PERR_INVALID_JSON, what, err);
}

/*
 * An upper bound on the values @a len bytes of JSON text can hold, read
 * before jansson builds anything: every value past the first follows a
 * ',' or opens a container, outside strings.  jansson costs some 40 bytes
 * a value, so a 1 MiB body of "[0,0,0,...]" would build a 20 MiB tree
 * before jcheck could count it; this refuses it first.
 */
static size_t
json_values_bound(const char *p, size_t len)
{
	size_t n = 1;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == ',' || ch == '[' || ch == '{') {
			n++;
		}
	}
	return n;
}

/* Parses @a len bytes of JSON text (any value), bounded as a body. */
static json_t *
json_parse(const char *p, size_t len, const char *what, struct perr *err)
{
	if (json_values_bound(p, len) > PREQ_MAX_VALUES) {
		perr_set(err, 400, PERR_OBJECT_TOO_LARGE,
			 "%s has more than %d values", what, PREQ_MAX_VALUES);
		return NULL;
	}
	json_error_t je;
	json_t *v = json_loadb(p, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			       &je);
	if (v == NULL) {
		err_json(err, what, &je);
		return NULL;
	}
	if (jcheck(v, PREQ_MAX_DEPTH, PERR_INVALID_JSON, what, err) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

const char *
preq_method_name(enum preq_method m)
{
	switch (m) {
	case PM_GET:
		return "GET";
	case PM_POST:
		return "POST";
	case PM_PUT:
		return "PUT";
	case PM_DELETE:
		return "DELETE";
	}
	return "?";
}

static int
method_parse(const char *s, bool any_case, enum preq_method *m)
{
	static const char *const names[] = {"GET", "POST", "PUT", "DELETE"};
	for (int i = 0; i < 4; i++)
		if (any_case ? strcasecmp(s, names[i]) == 0
			     : strcmp(s, names[i]) == 0) {
			*m = (enum preq_method)i;
			return 0;
		}
	return MIST_EINVAL;
}

void
preq_clear(struct preq *p)
{
	json_decref(p->body);
	json_decref(p->params);
	json_decref(p->context);
	memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------- keys */

enum cred_kind { CRED_KEY, CRED_SESSION, CRED_OTHER };

/* Copies a key-like value @a v (@a n bytes) into @a dst of @a cap bytes,
 * or fails with the error its kind calls for: a key that cannot be stored
 * whole cannot match (403 unauthorized, as parse-server answers a wrong
 * key), a session token that cannot is invalid (209). */
static int
cred_set(char *dst, size_t cap, const char *v, size_t n, enum cred_kind kind,
	 const char *what, struct perr *err)
{
	if (n < cap && text_is_printable(v, n)) {
		memcpy(dst, v, n);
		dst[n] = '\0';
		return 0;
	}
	if (kind == CRED_KEY)
		perr_set(err, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
	else if (kind == CRED_SESSION)
		perr_set(err, 400, PERR_INVALID_SESSION_TOKEN,
			 "Invalid session token");
	else
		perr_set(err, 400, PERR_INVALID_JSON,
			 "%s is longer than %zu bytes or not printable", what,
			 cap - 1);
	return MIST_EPROTO;
}

static int
cred_header(const struct http_req *r, const char *lname, char *dst, size_t cap,
	    enum cred_kind kind, struct perr *err)
{
	const char *v = http_req_header(r, lname);
	if (v == NULL)
		return 0;
	return cred_set(dst, cap, v, strlen(v), kind, lname, err);
}

/* A context: an object, or a string holding one (parse-server's rule). */
static int
context_set(struct preq *out, json_t *v, struct perr *err)
{
	json_t *c = NULL;
	if (json_is_object(v)) {
		c = json_incref(v);
	} else if (json_is_string(v)) {
		json_error_t je;
		c = json_loadb(json_string_value(v), json_string_length(v),
			       JSON_REJECT_DUPLICATES, &je);
		if (c != NULL &&
		    jcheck(c, PREQ_MAX_DEPTH, PERR_INVALID_JSON, "context",
			   err) < 0) {
			json_decref(c);
			return MIST_EPROTO;
		}
	}
	if (!json_is_object(c)) {
		json_decref(c);
		perr_set(err, 400, PERR_INVALID_JSON,
			 "Invalid object for context.");
		return MIST_EPROTO;
	}
	json_decref(out->context);
	out->context = c;
	return 0;
}

static int
keys_from_headers(const struct http_req *r, struct preq *out, struct perr *err)
{
	int rc;
	if ((rc = cred_header(r, "x-parse-application-id", out->app_id,
			      sizeof(out->app_id), CRED_KEY, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-rest-api-key", out->rest_key,
			      sizeof(out->rest_key), CRED_KEY, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-javascript-key", out->js_key,
			      sizeof(out->js_key), CRED_KEY, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-client-key", out->client_key,
			      sizeof(out->client_key), CRED_KEY, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-master-key", out->master_key,
			      sizeof(out->master_key), CRED_KEY, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-session-token", out->session,
			      sizeof(out->session), CRED_SESSION, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-installation-id", out->install,
			      sizeof(out->install), CRED_OTHER, err)) < 0 ||
	    (rc = cred_header(r, "x-parse-client-version",
			      out->client_version, sizeof(out->client_version),
			      CRED_OTHER, err)) < 0)
		return rc;
	const char *ctx = http_req_header(r, "x-parse-cloud-context");
	if (ctx != NULL) {
		json_t *s = json_string(ctx);
		rc = context_set(out, s, err);
		json_decref(s);
		if (rc < 0)
			return rc;
	}
	const char *dl = http_req_header(r, "x-mist-deadline-ms");
	if (dl != NULL) {
		uint64_t v = 0;
		size_t n = strlen(dl);
		bool ok = n >= 1 && n <= 9;
		for (size_t i = 0; ok && i < n; i++) {
			ok = dl[i] >= '0' && dl[i] <= '9';
			v = v * 10 + (uint64_t)(dl[i] - '0');
		}
		if (!ok || v == 0 || v > PREQ_DEADLINE_MAX) {
			perr_set(err, 400, PERR_INVALID_JSON,
				 "X-Mist-Deadline-Ms must be a number of "
				 "milliseconds from 1 to %u",
				 PREQ_DEADLINE_MAX);
			return MIST_EPROTO;
		}
		out->deadline_ms = (uint32_t)v;
	}
	return 0;
}

/* The body's _ fields: removed whatever the form, used (as parse-server)
 * only if no X-Parse-Application-Id header came. */
static int
keys_from_body(json_t *body, bool use, struct preq *out, struct perr *err)
{
	static const struct {
		const char *name;
		size_t off, cap;
		enum cred_kind kind;
	} f[] = {
#define F(n, m, k) {n, offsetof(struct preq, m), sizeof(((struct preq *)0)->m), k}
		F("_ApplicationId", app_id, CRED_KEY),
		F("_JavaScriptKey", js_key, CRED_KEY),
		F("_ClientKey", client_key, CRED_KEY),
		F("_RestAPIKey", rest_key, CRED_KEY),
		F("_MasterKey", master_key, CRED_KEY),
		F("_SessionToken", session, CRED_SESSION),
		F("_InstallationId", install, CRED_OTHER),
		F("_ClientVersion", client_version, CRED_OTHER),
#undef F
	};
	static const char *const drop[] = {"_ContentType", "_RevocableSession",
					   "_noBody"};
	use = use && json_object_get(body, "_ApplicationId") != NULL;
	if (use) {
		out->body_form = true;
		out->js_key[0] = '\0'; /* _JavaScriptKey || '' */
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++) {
		json_t *v = json_object_get(body, f[i].name);
		if (v == NULL)
			continue;
		if (use) {
			char *dst = (char *)out + f[i].off;
			int rc = json_is_string(v)
					 ? cred_set(dst, f[i].cap,
						    json_string_value(v),
						    json_string_length(v),
						    f[i].kind, f[i].name, err)
					 : cred_set(dst, f[i].cap, "", f[i].cap,
						    f[i].kind, f[i].name, err);
			if (rc < 0)
				return rc;
		}
		json_object_del(body, f[i].name);
	}
	json_t *ctx = json_object_get(body, "_context");
	if (ctx != NULL) {
		if (use) {
			int rc = context_set(out, ctx, err);
			if (rc < 0)
				return rc;
		}
		json_object_del(body, "_context");
	}
	for (size_t i = 0; i < sizeof(drop) / sizeof(*drop); i++)
		json_object_del(body, drop[i]);
	return 0;
}

/* ------------------------------------------------------ query strings */

/* The URL's query string as an object of decoded strings. */
static int
query_split(const char *q, json_t **out, struct perr *err)
{
	*out = NULL;
	size_t qlen = strlen(q);
	if (qlen == 0)
		return 0;
	if (qlen > PREQ_MAX_QUERY) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "the query string is longer than %d bytes",
			 PREQ_MAX_QUERY);
		return MIST_EPROTO;
	}
	json_t *o = json_object();
	const char *p = q, *end = q + qlen;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp != NULL ? amp : end;
		if (e > p) {
			const char *eq = memchr(p, '=', (size_t)(e - p));
			const char *ke = eq != NULL ? eq : e;
			const char *vs = eq != NULL ? eq + 1 : e;
			char *k = NULL, *v = NULL;
			size_t kl = 0, vl = 0;
			int rc = pct_decode(p, (size_t)(ke - p), true, &k, &kl);
			if (rc == 0) {
				rc = pct_decode(vs, (size_t)(e - vs), true, &v, &vl);
				if (rc < 0)
					free(k);
			}
			if (rc < 0) {
				perr_set(err, 400, PERR_INVALID_QUERY,
					 rc == -1 ? "bad percent-encoding in the query string"
						  : "a NUL in the query string");
				json_decref(o);
				return MIST_EPROTO;
			}
			const char *why = NULL;
			json_t *s = json_stringn(v, vl);
			if (json_object_size(o) >= PREQ_MAX_PARAMS)
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "more than %d query parameters",
					 PREQ_MAX_PARAMS);
			else if (kl == 0)
				why = "an empty query parameter name";
			else if (json_object_get(o, k) != NULL)
				why = "a query parameter twice";
			else if (s == NULL ||
				 json_object_setn_new(o, k, kl, json_incref(s)) < 0)
				why = "a query parameter that is not UTF-8";
			else
				rc = 1; /* stored */
			json_decref(s);
			if (rc != 1) {
				if (why != NULL) {
					struct echo ek;
					perr_set(err, 400, PERR_INVALID_QUERY,
						 "%s: %s", why, echo(&ek, k, kl));
				}
				free(k);
				free(v);
				json_decref(o);
				return MIST_EPROTO;
			}
			free(k);
			free(v);
		}
		p = e + 1;
	}
	*out = o;
	return 0;
}

/* How each known parameter is read (parse-server's ClassesRouter). */
enum ptype {
	PT_WHERE,  /* an object (a string: parsed) */
	PT_STR,	   /* a string */
	PT_INT,	   /* 0..INT32_MAX (a number or decimal text) */
	PT_BOOL,   /* count: 0/1/true/false -> a boolean */
	PT_ANY,	   /* as sent */
	PT_UNKNOWN /* not a parameter of this route */
};

enum pkind { PK_NONE, PK_FIND, PK_GET };

static const struct {
	const char *name;
	enum ptype type;
	bool get; /* allowed on a get too */
} params_known[] = {
	{"where", PT_WHERE, false},
	{"order", PT_STR, false},
	{"keys", PT_STR, true},
	{"excludeKeys", PT_STR, true},
	{"include", PT_STR, true},
	{"redirectClassNameForKey", PT_STR, false},
	{"readPreference", PT_STR, true},
	{"includeReadPreference", PT_STR, true},
	{"subqueryReadPreference", PT_STR, true},
	{"limit", PT_INT, false},
	{"skip", PT_INT, false},
	{"count", PT_BOOL, false},
	{"includeAll", PT_ANY, false},
	{"hint", PT_ANY, false},
	{"explain", PT_ANY, false},
	{"comment", PT_ANY, false},
};

static enum ptype
param_type(const char *k, enum pkind kind)
{
	for (size_t i = 0; i < sizeof(params_known) / sizeof(*params_known); i++)
		if (strcmp(k, params_known[i].name) == 0)
			return kind == PK_FIND || params_known[i].get
				       ? params_known[i].type
				       : PT_UNKNOWN;
	return PT_UNKNOWN;
}

/* A URL value as parse-server's JSONFromQuery reads it: JSON if it
 * parses, else the text; text-typed parameters stay text. */
static int
query_value(const char *k, json_t *s, enum pkind kind, json_t **out,
	    struct perr *err)
{
	enum ptype t = param_type(k, kind);
	*out = NULL;
	if (t == PT_STR || t == PT_UNKNOWN) {
		*out = json_incref(s);
		return 0;
	}
	json_error_t je;
	json_t *v = json_loadb(json_string_value(s), json_string_length(s),
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (v == NULL) {
		*out = json_incref(s);
		return 0;
	}
	if (jcheck(v, PREQ_MAX_DEPTH, PERR_INVALID_JSON, k, err) < 0) {
		json_decref(v);
		return MIST_EPROTO;
	}
	*out = v;
	return 0;
}

static int
param_int(const char *k, json_t *v, json_t **out, struct perr *err)
{
	long long n = -1;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= 0 && d <= 2147483647.0 && d == (double)(long long)d)
			n = (long long)d;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (len >= 1 && len <= 10) {
			n = 0;
			for (size_t i = 0; i < len && n >= 0; i++)
				n = s[i] >= '0' && s[i] <= '9'
					    ? n * 10 + (s[i] - '0')
					    : -1;
		}
	}
	if (n < 0 || n > 2147483647LL) {
		perr_set(err, 400, PERR_INVALID_QUERY,
			 "%s must be an integer from 0 to 2147483647", k);
		return MIST_EPROTO;
	}
	*out = json_integer(n);
	return 0;
}

/* Checks and normalizes the merged parameters @a raw for @a kind. */
static int
params_normalize(json_t *raw, enum pkind kind, json_t **out, struct perr *err)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(raw, k, v) {
		enum ptype t = param_type(k, kind);
		json_t *n = NULL;
		if (t == PT_UNKNOWN) {
			struct echo e;
			if (kind == PK_FIND)
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "Invalid parameter for query: %s",
					 echo(&e, k, strlen(k)));
			else
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "Improper encode of parameter");
			goto fail;
		}
		if (json_is_null(v))
			continue; /* parse-server: absent */
		switch (t) {
		case PT_WHERE:
			if (json_is_string(v)) {
				json_error_t je;
				n = json_loadb(json_string_value(v),
					       json_string_length(v),
					       JSON_DECODE_ANY |
						       JSON_REJECT_DUPLICATES,
					       &je);
				if (n == NULL) {
					err_json(err, "where", &je);
					goto fail;
				}
			} else {
				n = json_incref(v);
			}
			if (!json_is_object(n)) {
				json_decref(n);
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "where must be a JSON object");
				goto fail;
			}
			if (jcheck(n, PREQ_WHERE_DEPTH, PERR_INVALID_QUERY,
				   "where", err) < 0) {
				json_decref(n);
				goto fail;
			}
			break;
		case PT_STR:
			if (!json_is_string(v)) {
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "%s must be a string", k);
				goto fail;
			}
			n = json_incref(v);
			break;
		case PT_INT:
			if (param_int(k, v, &n, err) < 0)
				goto fail;
			break;
		case PT_BOOL:
			if (json_is_boolean(v))
				n = json_incref(v);
			else if (json_is_integer(v))
				n = json_boolean(json_integer_value(v) != 0);
			else if (json_is_string(v) &&
				 (strcmp(json_string_value(v), "0") == 0 ||
				  strcmp(json_string_value(v), "1") == 0))
				n = json_boolean(json_string_value(v)[0] == '1');
			else {
				perr_set(err, 400, PERR_INVALID_QUERY,
					 "count must be 0, 1, true or false");
				goto fail;
			}
			break;
		case PT_ANY:
			n = json_incref(v);
			break;
		case PT_UNKNOWN:
			break;
		}
		json_object_set_new(o, k, n);
	}
	*out = o;
	return 0;
fail:
	json_decref(o);
	return MIST_EPROTO;
}

/* -------------------------------------------------------------- routes */

/* What a path names before its segments are validated. */
struct rpath {
	enum preq_route route;
	const char *cls;    /* fixed class, or NULL */
	const char *seg_cls; /* raw segment: class name */
	size_t seg_cls_len;
	const char *seg_id; /* raw segment: object id */
	size_t seg_id_len;
	const char *seg_fn;
	size_t seg_fn_len;
	enum pkind pkind;
	bool login;
};

static bool
seg_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

#define M(x) (1u << (x))
#define M_ALL (M(PM_GET) | M(PM_POST) | M(PM_PUT) | M(PM_DELETE))

/* Matches @a rel (the path after the mount, starting with '/') and @a m
 * against parse-server's routes.  true if one takes them. */
static bool
route_match(const char *rel, enum preq_method m, struct rpath *rp)
{
	const char *seg[4];
	size_t len[4];
	int n = 0;
	const char *p = rel;
	memset(rp, 0, sizeof(*rp));
	size_t total = strlen(rel);
	if (total == 0 || rel[0] != '/')
		return false;
	if (total > 1 && rel[total - 1] == '/')
		total--; /* one trailing slash */
	const char *end = rel + total;
	p++;
	while (p <= end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		const char *e = s != NULL ? s : end;
		if (n == 4)
			return false;
		seg[n] = p;
		len[n] = (size_t)(e - p);
		if (len[n] == 0 || seg_is(p, len[n], ".") ||
		    seg_is(p, len[n], ".."))
			return false;
		n++;
		if (s == NULL)
			break;
		p = s + 1;
	}
	uint32_t allowed = 0;
	const char *s0 = seg[0];
	size_t l0 = len[0];
	bool classes = seg_is(s0, l0, "classes"), roles = seg_is(s0, l0, "roles"),
	     users = seg_is(s0, l0, "users"),
	     sessions = seg_is(s0, l0, "sessions");
	if (classes && n >= 2 && n <= 3) {
		rp->route = PR_CLASSES;
		rp->seg_cls = seg[1];
		rp->seg_cls_len = len[1];
		if (n == 3) {
			rp->seg_id = seg[2];
			rp->seg_id_len = len[2];
			allowed = M(PM_GET) | M(PM_PUT) | M(PM_DELETE);
			rp->pkind = PK_GET;
		} else {
			allowed = M(PM_GET) | M(PM_POST);
			rp->pkind = PK_FIND;
		}
	} else if ((roles || users || sessions) && n <= 2) {
		rp->route = roles ? PR_ROLES : users ? PR_USERS : PR_SESSIONS;
		rp->cls = roles ? "_Role" : users ? "_User" : "_Session";
		if (n == 2 && !roles && m == PM_GET && seg_is(seg[1], len[1], "me")) {
			rp->route = users ? PR_USERS_ME : PR_SESSIONS_ME;
			rp->pkind = PK_GET;
			allowed = M(PM_GET);
		} else if (n == 2) {
			rp->seg_id = seg[1];
			rp->seg_id_len = len[1];
			rp->pkind = PK_GET;
			allowed = M(PM_GET) | M(PM_PUT) | M(PM_DELETE);
		} else {
			rp->pkind = PK_FIND;
			allowed = M(PM_GET) | M(PM_POST);
		}
	} else if (n == 1 && seg_is(s0, l0, "login")) {
		rp->route = PR_LOGIN;
		rp->login = true;
		allowed = M(PM_GET) | M(PM_POST);
	} else if (n == 1 && seg_is(s0, l0, "logout")) {
		rp->route = PR_LOGOUT;
		allowed = M(PM_POST);
	} else if (seg_is(s0, l0, "schemas") && n <= 2) {
		rp->route = PR_SCHEMAS;
		if (n == 2) {
			rp->seg_cls = seg[1];
			rp->seg_cls_len = len[1];
			allowed = M_ALL;
		} else {
			allowed = M(PM_GET) | M(PM_POST);
		}
	} else if (seg_is(s0, l0, "functions") && n == 2) {
		rp->route = PR_FUNCTIONS;
		rp->seg_fn = seg[1];
		rp->seg_fn_len = len[1];
		allowed = M(PM_POST);
	} else if (n == 1 && seg_is(s0, l0, "batch")) {
		rp->route = PR_BATCH;
		allowed = M(PM_POST);
	} else if (n == 1 && seg_is(s0, l0, "health")) {
		rp->route = PR_HEALTH;
		allowed = M_ALL;
	}
	if (rp->route == PR_NONE || !(allowed & M(m))) {
		rp->route = PR_NONE;
		return false;
	}
	return true;
}

static bool
name_ok(const char *s, size_t n, size_t max, const char *extra, bool first_alpha)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  c == '_' || (c >= '0' && c <= '9' && (i > 0 || !first_alpha)) ||
			  (c != '\0' && strchr(extra, c) != NULL);
		if (!ok)
			return false;
	}
	return true;
}

bool
preq_class_ok(const char *s, size_t n)
{
	return name_ok(s, n, PREQ_NAME_MAX - 1, "", true);
}

bool
preq_id_ok(const char *s, size_t n)
{
	return name_ok(s, n, PREQ_ID_MAX - 1, "-", false);
}

/* Decodes and validates the segment at @a s into @a dst (@a cap bytes). */
static int
seg_decode(const char *s, size_t n, char *dst, size_t cap, int which,
	   struct perr *err)
{
	char *d = NULL;
	size_t dl = 0;
	int rc = pct_decode(s, n, false, &d, &dl);
	if (rc < 0) {
		perr_set(err, 400, PERR_INVALID_JSON,
			 rc == -1 ? "bad percent-encoding in the path"
				  : "a NUL in the path");
		return MIST_EPROTO;
	}
	bool ok = dl < cap && (which == 0   ? preq_class_ok(d, dl)
			       : which == 1 ? preq_id_ok(d, dl)
					    : name_ok(d, dl, cap - 1, ".-", false));
	if (!ok) {
		struct echo e;
		if (which == 0)
			perr_set(err, 400, PERR_INVALID_CLASS_NAME,
				 "Invalid classname: %s, classnames can only "
				 "have alphanumeric characters and _, and must "
				 "start with an alpha character",
				 echo(&e, d, dl));
		else if (which == 1)
			perr_set(err, 404, PERR_OBJECT_NOT_FOUND,
				 "Object not found.");
		else
			perr_set(err, 400, PERR_SCRIPT_FAILED,
				 "Invalid function: \"%s\"", echo(&e, d, dl));
		free(d);
		return MIST_EPROTO;
	}
	memcpy(dst, d, dl + 1);
	free(d);
	return 0;
}

/* Adds @a from's members to @a into; existing ones are kept unless
 * @a override.  Both objects; @a into's bounds are rechecked by caller. */
static void
merge(json_t *into, json_t *from, bool override)
{
	const char *k;
	json_t *v;
	json_object_foreach(from, k, v) {
		if (override || json_object_get(into, k) == NULL)
			json_object_set(into, k, v);
	}
}

/* The body of a /batch: what parse-server's handleBatch checks, plus the
 * count. */
static int
batch_check(const json_t *body, struct perr *err)
{
	json_t *reqs = json_object_get(body, "requests");
	if (!json_is_array(reqs)) {
		perr_set(err, 400, PERR_INVALID_JSON, "requests must be an array");
		return MIST_EPROTO;
	}
	if (json_array_size(reqs) > PREQ_BATCH_MAX) {
		perr_set(err, 400, PERR_INVALID_JSON,
			 "Batch request contains %zu sub-requests, which "
			 "exceeds the limit of %d.",
			 json_array_size(reqs), PREQ_BATCH_MAX);
		return MIST_EPROTO;
	}
	size_t i;
	json_t *r;
	json_array_foreach(reqs, i, r) {
		json_t *m = json_object_get(r, "method");
		json_t *b = json_object_get(r, "body");
		if (!json_is_object(r) || !json_is_string(json_object_get(r, "path"))) {
			perr_set(err, 400, PERR_INVALID_JSON,
				 "batch request path must be a string");
			return MIST_EPROTO;
		}
		if ((m != NULL && !json_is_string(m)) ||
		    (b != NULL && !json_is_object(b) && !json_is_null(b))) {
			perr_set(err, 400, PERR_INVALID_JSON,
				 "batch request %zu: method must be a string, "
				 "body an object",
				 i);
			return MIST_EPROTO;
		}
	}
	json_t *t = json_object_get(body, "transaction");
	if (t != NULL && !json_is_boolean(t)) {
		perr_set(err, 400, PERR_INVALID_JSON,
			 "transaction must be a boolean");
		return MIST_EPROTO;
	}
	return 0;
}

/*
 * The common half of both decoders: @a rel (the path after the mount) and
 * @a m routed; @a body (owned, an object or NULL) and @a query (owned,
 * decoded strings or NULL) become out->body and out->params.
 */
static int
route_fill(struct preq *out, const char *rel, enum preq_method m, json_t *body,
	   json_t *query, bool sub, struct perr *err)
{
	struct rpath rp;
	int rc = MIST_EPROTO;
	json_t *raw = NULL;
	bool ok = route_match(rel, m, &rp);
	if (!ok) {
		struct echo e;
		perr_set(err, sub ? 400 : 404, PERR_INVALID_JSON,
			 "cannot route %s %s", preq_method_name(m),
			 echo(&e, rel, strlen(rel)));
		goto out;
	}
	out->route = rp.route;
	out->method = m;
	if (rp.cls != NULL)
		snprintf(out->cls, sizeof(out->cls), "%s", rp.cls);
	if (rp.seg_cls != NULL &&
	    seg_decode(rp.seg_cls, rp.seg_cls_len, out->cls, sizeof(out->cls), 0,
		       err) < 0)
		goto out;
	if (rp.seg_id != NULL &&
	    seg_decode(rp.seg_id, rp.seg_id_len, out->id, sizeof(out->id), 1,
		       err) < 0)
		goto out;
	if (rp.seg_fn != NULL &&
	    seg_decode(rp.seg_fn, rp.seg_fn_len, out->fn, sizeof(out->fn), 2,
		       err) < 0)
		goto out;

	if (rp.login)
		out->session[0] = '\0'; /* parse-server drops it for /login */
	if (rp.login || rp.route == PR_FUNCTIONS) {
		/* the fields go to the body: for /login the body's win over
		 * the query's, for a function the query's win */
		if (body == NULL)
			body = json_object();
		if (query != NULL)
			merge(body, query, rp.route == PR_FUNCTIONS);
		if (jcheck(body, PREQ_MAX_DEPTH, PERR_INVALID_JSON, "the body",
			   err) < 0)
			goto out;
		out->body = body;
		body = NULL;
	} else if (m == PM_GET) {
		if (rp.pkind != PK_NONE && (body != NULL || query != NULL)) {
			raw = json_object();
			if (body != NULL)
				merge(raw, body, true);
			if (query != NULL) {
				const char *k;
				json_t *s;
				json_object_foreach(query, k, s) {
					json_t *v;
					if (query_value(k, s, rp.pkind, &v, err) < 0)
						goto out;
					json_object_set_new(raw, k, v);
				}
			}
			if (params_normalize(raw, rp.pkind, &out->params, err) < 0)
				goto out;
		}
	} else if (rp.route == PR_BATCH) {
		if (body == NULL)
			body = json_object();
		if (batch_check(body, err) < 0)
			goto out;
		out->body = body;
		body = NULL;
	} else {
		out->body = body;
		body = NULL;
	}
	rc = 0;
out:
	json_decref(raw);
	json_decref(body);
	json_decref(query);
	return rc;
}

/* -------------------------------------------------------------- decode */

/* The path after @a mount, or NULL if @a path is not under it. */
static const char *
under_mount(const char *path, const char *mount)
{
	size_t ml = strlen(mount);
	while (ml > 0 && mount[ml - 1] == '/')
		ml--;
	if (strncmp(path, mount, ml) != 0)
		return NULL;
	const char *rel = path + ml;
	return rel[0] == '/' ? rel : NULL;
}

int
preq_decode(const struct http_req *r, const char *mount, struct preq *out,
	    struct perr *err)
{
	memset(out, 0, sizeof(*out));
	enum preq_method m;
	if (r->method == NULL || method_parse(r->method, false, &m) < 0) {
		perr_set(err, 405, PERR_INVALID_JSON,
			 "method not allowed: GET, POST, PUT or DELETE");
		return MIST_EPROTO;
	}
	const char *rel = r->path != NULL ? under_mount(r->path, mount) : NULL;
	if (rel == NULL) {
		struct echo e;
		const char *p = r->path != NULL ? r->path : "";
		perr_set(err, 404, PERR_INVALID_JSON, "cannot route %s %s",
			 preq_method_name(m), echo(&e, p, strlen(p)));
		return MIST_EPROTO;
	}
	if (seg_is(rel, strlen(rel), "/health") ||
	    seg_is(rel, strlen(rel), "/health/")) {
		/* mounted before the body parser and the keys: nothing read */
		out->route = PR_HEALTH;
		out->method = m;
		return 0;
	}
	int rc = keys_from_headers(r, out, err);
	if (rc < 0)
		goto fail;
	json_t *body = NULL;
	if (r->body_len > 0) {
		body = json_parse((const char *)r->body, r->body_len, "the body",
				  err);
		if (body == NULL) {
			rc = MIST_EPROTO;
			goto fail;
		}
		if (!json_is_object(body)) {
			json_decref(body);
			perr_set(err, 400, PERR_INVALID_JSON,
				 "the body must be a JSON object");
			rc = MIST_EPROTO;
			goto fail;
		}
		json_t *mo = json_object_get(body, "_method");
		if (mo != NULL) {
			enum preq_method om;
			if (!json_is_string(mo) ||
			    method_parse(json_string_value(mo), true, &om) < 0) {
				json_decref(body);
				perr_set(err, 400, PERR_INVALID_JSON,
					 "_method must be GET, POST, PUT or DELETE");
				rc = MIST_EPROTO;
				goto fail;
			}
			if (m == PM_POST)
				m = om;
			json_object_del(body, "_method");
		}
		rc = keys_from_body(body, out->app_id[0] == '\0', out, err);
		if (rc < 0) {
			json_decref(body);
			goto fail;
		}
		if (json_object_size(body) == 0 && m == PM_GET) {
			json_decref(body);
			body = NULL;
		}
	}
	json_t *query = NULL;
	if (r->query != NULL && (rc = query_split(r->query, &query, err)) < 0) {
		json_decref(body);
		goto fail;
	}
	rc = route_fill(out, rel, m, body, query, false, err);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	preq_clear(out);
	return rc;
}

int
preq_decode_sub(const struct preq *parent, const char *method,
		const char *path, json_t *body, const char *mount,
		struct preq *out, struct perr *err)
{
	memset(out, 0, sizeof(*out));
	enum preq_method m = PM_GET;
	struct echo e, e2;
	const char *p = path != NULL ? path : "";
	if (method != NULL && method_parse(method, true, &m) < 0) {
		perr_set(err, 400, PERR_INVALID_JSON, "cannot route %s %s",
			 echo(&e, method, strlen(method)),
			 echo(&e2, p, strlen(p)));
		return MIST_EPROTO;
	}
	const char *rel = under_mount(p, mount);
	if (rel == NULL || strchr(rel, '?') != NULL) {
		perr_set(err, 400, PERR_INVALID_JSON,
			 "cannot route batch path %s", echo(&e, p, strlen(p)));
		return MIST_EPROTO;
	}
	if (body != NULL && !json_is_object(body) && !json_is_null(body)) {
		perr_set(err, 400, PERR_INVALID_JSON,
			 "the body of a batch request must be an object");
		return MIST_EPROTO;
	}
	json_t *b = json_is_object(body) ? json_deep_copy(body) : NULL;
	if (b != NULL &&
	    jcheck(b, PREQ_MAX_DEPTH, PERR_INVALID_JSON, "the body", err) < 0) {
		json_decref(b);
		return MIST_EPROTO;
	}
	/* the keys are the batch's */
	memcpy(out->app_id, parent->app_id, sizeof(out->app_id));
	memcpy(out->rest_key, parent->rest_key, sizeof(out->rest_key));
	memcpy(out->js_key, parent->js_key, sizeof(out->js_key));
	memcpy(out->client_key, parent->client_key, sizeof(out->client_key));
	memcpy(out->master_key, parent->master_key, sizeof(out->master_key));
	memcpy(out->session, parent->session, sizeof(out->session));
	memcpy(out->install, parent->install, sizeof(out->install));
	memcpy(out->client_version, parent->client_version,
	       sizeof(out->client_version));
	out->deadline_ms = parent->deadline_ms;
	out->body_form = parent->body_form;
	if (parent->context != NULL)
		out->context = json_incref(parent->context);
	struct rpath rp;
	if (route_match(rel, m, &rp) && rp.route == PR_BATCH) {
		json_decref(b);
		preq_clear(out);
		perr_set(err, 400, PERR_INVALID_JSON,
			 "nested batch requests are not allowed");
		return MIST_EPROTO;
	}
	if (rp.route == PR_HEALTH) {
		out->route = PR_HEALTH;
		out->method = m;
		json_decref(b);
		return 0;
	}
	int rc = route_fill(out, rel, m, b, NULL, true, err);
	if (rc < 0)
		preq_clear(out);
	return rc;
}

const char *
preq_route_name(enum preq_route r)
{
	static const char *const names[] = {
		[PR_NONE] = "none",	   [PR_CLASSES] = "classes",
		[PR_USERS] = "users",	   [PR_USERS_ME] = "users_me",
		[PR_LOGIN] = "login",	   [PR_LOGOUT] = "logout",
		[PR_ROLES] = "roles",	   [PR_SESSIONS] = "sessions",
		[PR_SESSIONS_ME] = "sessions_me", [PR_SCHEMAS] = "schemas",
		[PR_FUNCTIONS] = "functions", [PR_BATCH] = "batch",
		[PR_HEALTH] = "health",
	};
	return (unsigned)r < sizeof(names) / sizeof(names[0]) && names[r]
		       ? names[r]
		       : "none";
}
