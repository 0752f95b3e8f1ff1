/*
 * fnread.c -- declared reads' templates (fnread.h).
 */
#include "config.h"
#include "function/fnread.h"

#include <string.h>

/* Whether @a s starts with @a lit; its length then in @a n. */
static bool
starts(const char *s, size_t len, const char *lit, size_t *n)
{
	*n = strlen(lit);
	return len >= *n && memcmp(s, lit, *n) == 0;
}

/* A parameter's name: a class name's rule (an identifier), shorter. */
static bool
param_ok(const char *s, size_t n)
{
	return n < FNREAD_PARAM_MAX && preq_class_ok(s, n);
}

int
fnread_parse(const char *t, size_t len, struct fnread *out)
{
	memset(out, 0, sizeof(*out));
	if (t == NULL || len >= FNREAD_MAX)
		return -1;
	size_t n;
	const char *rest;
	if (starts(t, len, "/classes/", &n)) {
		const char *slash = memchr(t + n, '/', len - n);
		if (slash == NULL || !preq_class_ok(t + n, (size_t)(slash - t) - n))
			return -1;
		out->route = FNREAD_CLASSES;
		memcpy(out->cls, t + n, (size_t)(slash - t) - n);
		rest = slash + 1;
	} else if (starts(t, len, "/users/", &n)) {
		out->route = FNREAD_USERS;
		memcpy(out->cls, "_User", sizeof("_User"));
		rest = t + n;
	} else if (starts(t, len, "/roles/", &n)) {
		out->route = FNREAD_ROLES;
		memcpy(out->cls, "_Role", sizeof("_Role"));
		rest = t + n;
	} else {
		return -1;
	}
	size_t left = len - (size_t)(rest - t);
	if (left < 3 || rest[0] != '{' || rest[left - 1] != '}' ||
	    !param_ok(rest + 1, left - 2))
		return -1;
	memcpy(out->param, rest + 1, left - 2);
	return 0;
}

size_t
fnread_path(const struct fnread *d, const char *id, char out[FNREAD_PATH_MAX])
{
	/* the class and the id need no escape under their rules, so this
	 * is byte for byte what mist_doc_get builds (mist_host_path_) */
	char *e = out;
	if (d->route == FNREAD_CLASSES)
		e = stpcpy(stpcpy(stpcpy(e, "/classes/"), d->cls), "/");
	else
		e = stpcpy(e, d->route == FNREAD_USERS ? "/users/" : "/roles/");
	e = stpcpy(e, id);
	return (size_t)(e - out);
}
