/*
 * doc.c -- Parse's value types, document validation, ISO-8601 dates (see
 * doc.h).
 */
#include "config.h"
#include "accessory/doc.h"

#include <string.h>

#include "mist.h"

/* ------------------------------------------------------------ dates */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30,
					       31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* @a n decimal digits at @a p into @a out. */
static bool
digits(const char *p, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*out = v;
	return true;
}

/* The earliest and latest instants a 4-digit year holds. */
#define DATE_MS_MIN (-62167219200000LL)	 /* 0000-01-01T00:00:00.000Z */
#define DATE_MS_MAX (253402300799999LL) /* 9999-12-31T23:59:59.999Z */

int
doc_date_parsen(const char *s, size_t len, int64_t *ms)
{
	unsigned y, mo, d, h, mi, sec, frac = 0;
	/* YYYY-MM-DDTHH:MM:SS is 19 bytes */
	if (len < 20 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return MIST_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return MIST_EINVAL;
	size_t i = 19;
	if (s[i] == '.') {
		size_t n = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
			if (n < 3)
				frac = frac * 10 + (unsigned)(s[i] - '0');
		}
		if (n == 0 || n > 9)
			return MIST_EINVAL;
		for (; n < 3; n++)
			frac *= 10;
	}
	int64_t off = 0;
	if (i < len && s[i] == 'Z') {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		unsigned oh, om;
		if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return MIST_EINVAL;
		off = ((int64_t)oh * 60 + om) * 60000;
		if (s[i] == '-')
			off = -off;
		i += 6;
	} else {
		return MIST_EINVAL;
	}
	if (i != len)
		return MIST_EINVAL;
	int64_t t = days_from_civil(y, mo, d) * 86400000LL +
		    (((int64_t)h * 60 + mi) * 60 + sec) * 1000 + frac - off;
	if (t < DATE_MS_MIN || t > DATE_MS_MAX)
		return MIST_EINVAL; /* an offset pushed it out of 0000-9999 */
	*ms = t;
	return 0;
}

int
doc_date_parse(const char *s, int64_t *ms)
{
	return doc_date_parsen(s, strlen(s), ms);
}

int
doc_date_format(int64_t ms, char out[DOC_DATE_MAX])
{
	out[0] = '\0';
	if (ms < DATE_MS_MIN || ms > DATE_MS_MAX)
		return MIST_EINVAL;
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = ms - days * 86400000; /* [0, 86400000) */
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	unsigned r = (unsigned)rem;
	unsigned msec = r % 1000, sec = r / 1000 % 60, mi = r / 60000 % 60,
		 h = r / 3600000;
	/* every field is bounded: the output is exactly 24 bytes */
	static const char dig[] = "0123456789";
	char *p = out;
	unsigned yy = (unsigned)y;
	*p++ = dig[yy / 1000];
	*p++ = dig[yy / 100 % 10];
	*p++ = dig[yy / 10 % 10];
	*p++ = dig[yy % 10];
	*p++ = '-';
	*p++ = dig[m / 10];
	*p++ = dig[m % 10];
	*p++ = '-';
	*p++ = dig[d / 10];
	*p++ = dig[d % 10];
	*p++ = 'T';
	*p++ = dig[h / 10];
	*p++ = dig[h % 10];
	*p++ = ':';
	*p++ = dig[mi / 10];
	*p++ = dig[mi % 10];
	*p++ = ':';
	*p++ = dig[sec / 10];
	*p++ = dig[sec % 10];
	*p++ = '.';
	*p++ = dig[msec / 100];
	*p++ = dig[msec / 10 % 10];
	*p++ = dig[msec % 10];
	*p++ = 'Z';
	*p = '\0';
	return 0;
}

/* ------------------------------------------------------------ types */

static bool
is_str(const json_t *o, const char *key)
{
	return json_is_string(json_object_get(o, key));
}

/* The only keys a typed object may have besides "__type". */
static bool
only_keys(const json_t *o, const char *a, const char *b)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		(void)v;
		if (strcmp(k, "__type") != 0 && strcmp(k, a) != 0 &&
		    (b == NULL || strcmp(k, b) != 0))
			return false;
	}
	return true;
}

static bool
is_b64(const char *s, size_t n)
{
	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool pad = c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '=');
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' || pad))
			return false;
	}
	return true;
}

/* A class name: ^[A-Za-z_][A-Za-z0-9_]*$ of at most DOC_CLASS_MAX bytes
 * (Parse's own classes start with '_'). */
static bool
class_ok(const json_t *s)
{
	if (!json_is_string(s))
		return false;
	const char *p = json_string_value(s);
	size_t n = json_string_length(s);
	if (n == 0 || n > DOC_CLASS_MAX || (p[0] >= '0' && p[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static enum doc_type
typed(const json_t *v, const char *t)
{
	if (strcmp(t, "Date") == 0) {
		const json_t *iso = json_object_get(v, "iso");
		int64_t ms;
		if (!json_is_string(iso) || !only_keys(v, "iso", NULL) ||
		    doc_date_parsen(json_string_value(iso), json_string_length(iso),
				    &ms) != 0)
			return DOC_INVALID;
		return DOC_DATE;
	}
	if (strcmp(t, "Pointer") == 0)
		return class_ok(json_object_get(v, "className")) &&
				       is_str(v, "objectId") &&
				       only_keys(v, "className", "objectId")
			       ? DOC_POINTER
			       : DOC_INVALID;
	if (strcmp(t, "Relation") == 0)
		return class_ok(json_object_get(v, "className")) &&
				       only_keys(v, "className", NULL)
			       ? DOC_RELATION
			       : DOC_INVALID;
	if (strcmp(t, "Bytes") == 0) {
		const json_t *b = json_object_get(v, "base64");
		return json_is_string(b) && only_keys(v, "base64", NULL) &&
				       is_b64(json_string_value(b), json_string_length(b))
			       ? DOC_BYTES
			       : DOC_INVALID;
	}
	if (strcmp(t, "GeoPoint") == 0) {
		const json_t *la = json_object_get(v, "latitude");
		const json_t *lo = json_object_get(v, "longitude");
		if (!json_is_number(la) || !json_is_number(lo) ||
		    !only_keys(v, "latitude", "longitude"))
			return DOC_INVALID;
		double a = json_number_value(la), o = json_number_value(lo);
		return a >= -90 && a <= 90 && o >= -180 && o <= 180 ? DOC_GEOPOINT
								  : DOC_INVALID;
	}
	if (strcmp(t, "File") == 0) {
		const json_t *url = json_object_get(v, "url");
		return is_str(v, "name") && (url == NULL || json_is_string(url)) &&
				       only_keys(v, "name", "url")
			       ? DOC_FILE
			       : DOC_INVALID;
	}
	return DOC_INVALID;
}

enum doc_type
doc_type(const json_t *v)
{
	if (v == NULL)
		return DOC_NULL;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return DOC_NULL;
	case JSON_INTEGER:
	case JSON_REAL:
		return DOC_NUMBER;
	case JSON_STRING:
		return DOC_STRING;
	case JSON_TRUE:
	case JSON_FALSE:
		return DOC_BOOLEAN;
	case JSON_ARRAY:
		return DOC_ARRAY;
	case JSON_OBJECT: {
		const json_t *t = json_object_get(v, "__type");
		if (t == NULL)
			return DOC_OBJECT;
		if (!json_is_string(t))
			return DOC_INVALID;
		return typed(v, json_string_value(t));
	}
	}
	return DOC_INVALID;
}

const char *
doc_type_name(const json_t *v)
{
	switch (doc_type(v)) {
	case DOC_NUMBER:
		return "Number";
	case DOC_STRING:
		return "String";
	case DOC_BOOLEAN:
		return "Boolean";
	case DOC_ARRAY:
		return "Array";
	case DOC_OBJECT:
		return "Object";
	case DOC_DATE:
		return "Date";
	case DOC_POINTER:
		return "Pointer";
	case DOC_RELATION:
		return "Relation";
	case DOC_BYTES:
		return "Bytes";
	case DOC_GEOPOINT:
		return "GeoPoint";
	case DOC_FILE:
		return "File";
	case DOC_NULL:
	case DOC_INVALID:
		break;
	}
	return NULL;
}

/* ------------------------------------------------------- validation */

static bool
top_name_ok(const char *k, size_t n)
{
	if (n == 0 || n > DOC_FIELD_MAX || !((k[0] >= 'A' && k[0] <= 'Z') ||
					     (k[0] >= 'a' && k[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static bool
nested_key_ok(const char *k, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] == '$' || k[i] == '.' || k[i] == '\0')
			return false;
	return true;
}

static int
bad(struct perr *err, int code, const char *what, const char *field)
{
	perr_set(err, 400, code, "%s: %.100s", what, field);
	return MIST_EINVAL;
}

/* A value at @a depth (the top-level object's fields are depth 2). */
static int
validate_value(const json_t *v, const char *field, uint32_t depth,
	       uint32_t max, struct perr *err)
{
	if (!json_is_array(v) && !json_is_object(v))
		return 0;
	if (depth > max) {
		perr_set(err, 400, PERR_INVALID_JSON,
			 "field %.100s is nested deeper than %u levels", field, max);
		return MIST_EINVAL;
	}
	if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			int rc = validate_value(e, field, depth + 1, max, err);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	if (json_object_get(v, "__op") != NULL)
		return bad(err, PERR_INCORRECT_TYPE,
			   "unapplied operation (__op) in field", field);
	if (json_object_get(v, "__type") != NULL) {
		if (doc_type(v) == DOC_INVALID) {
			const json_t *t = json_object_get(v, "__type");
			perr_set(err, 400, PERR_INCORRECT_TYPE,
				 "field %.80s: malformed or unsupported %.40s value",
				 field, json_is_string(t) ? json_string_value(t) : "__type");
			return MIST_EINVAL;
		}
		return 0;
	}
	const char *k;
	const json_t *e;
	json_object_foreach((json_t *)v, k, e) {
		size_t kn = json_object_iter_key_len(json_object_key_to_iter(k));
		if (!nested_key_ok(k, kn))
			return bad(err, PERR_INVALID_NESTED_KEY,
				   "nested keys may not be empty nor hold '$' or '.', in field",
				   field);
		int rc = validate_value(e, field, depth + 1, max, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
validate_acl(const json_t *acl, struct perr *err)
{
	if (!json_is_object(acl))
		return bad(err, PERR_INVALID_ACL, "ACL must be an object", "ACL");
	const char *who;
	const json_t *perm;
	json_object_foreach((json_t *)acl, who, perm) {
		if (!json_is_object(perm) || who[0] == '\0')
			return bad(err, PERR_INVALID_ACL,
				   "ACL entries are {\"read\":bool,\"write\":bool}", who);
		const char *k;
		const json_t *b;
		json_object_foreach((json_t *)perm, k, b) {
			if ((strcmp(k, "read") != 0 && strcmp(k, "write") != 0) ||
			    !json_is_boolean(b))
				return bad(err, PERR_INVALID_ACL,
					   "ACL entries are {\"read\":bool,\"write\":bool}",
					   who);
		}
	}
	return 0;
}

int
doc_validate(const json_t *obj, uint32_t max_depth, struct perr *err)
{
	if (max_depth == 0)
		max_depth = DOC_DEFAULT_MAX_DEPTH;
	if (!json_is_object(obj)) {
		perr_set(err, 400, PERR_INVALID_JSON, "a document is a JSON object");
		return MIST_EINVAL;
	}
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		size_t kn = json_object_iter_key_len(json_object_key_to_iter(k));
		if (!top_name_ok(k, kn))
			return bad(err, PERR_INVALID_KEY_NAME, "invalid field name", k);
		int rc = 0;
		if (strcmp(k, "objectId") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0)
				rc = bad(err, PERR_INCORRECT_TYPE,
					 "must be a non-empty string", k);
		} else if (strcmp(k, "createdAt") == 0 || strcmp(k, "updatedAt") == 0) {
			int64_t ms;
			if (!json_is_string(v) ||
			    doc_date_parsen(json_string_value(v), json_string_length(v),
					    &ms) != 0)
				rc = bad(err, PERR_INCORRECT_TYPE,
					 "must be an ISO-8601 date string", k);
		} else if (strcmp(k, "ACL") == 0) {
			rc = validate_acl(v, err);
		} else {
			rc = validate_value(v, k, 2, max_depth, err);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}
