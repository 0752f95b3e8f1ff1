/*
 * auth.c -- password hashes, session tokens and the permission checks of
 * Parse (accessory/auth.h says what each one means).
 */
#include "config.h"
#include "accessory/auth.h"
#include "mist.h"
#include "util/hex.h"

#include <stdio.h>
#include <string.h>

/* ----------------------------------------------------- passwords, tokens */

int
auth_password_hash(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES])
{
	if (len > AUTH_PW_MAX)
		return MIST_EINVAL;
	if (crypto_pwhash_str(out, pw, len, AUTH_PW_OPSLIMIT,
			      AUTH_PW_MEMLIMIT) != 0)
		return MIST_ENOMEM;
	return 0;
}

bool
auth_password_verify(const char *hash, const char *pw, size_t len)
{
	if (len > AUTH_PW_MAX || hash == NULL)
		return false;
	if (strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
		return false;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

void
auth_session_token_new(char out[AUTH_TOKEN_MAX])
{
	uint8_t r[32];
	randombytes_buf(r, sizeof(r));
	out[0] = 'r';
	out[1] = ':';
	hex_encode(out + 2, r, sizeof(r));
	sodium_memzero(r, sizeof(r));
}

void
auth_token_hash(const char *token, uint8_t out[AUTH_TOKEN_HASH])
{
	crypto_generichash(out, AUTH_TOKEN_HASH, (const uint8_t *)token,
			   strlen(token), NULL, 0);
}

/* ------------------------------------------------------------ checks */

/* True if the permission map @a perm (an ACL entry's or a CLP op's keys)
 * has key @a k set to true, or (ACL) {"read"/"write": true}. */
static bool
auth_key_true(const json_t *perm, const char *k, const char *field)
{
	const json_t *v = json_object_get(perm, k);
	if (v == NULL)
		return false;
	if (field == NULL)
		return json_is_true(v);
	return json_is_object(v) && json_is_true(json_object_get(v, field));
}

/* Does any key that @a w is (*, its id, its roles) hold? */
static bool
auth_who_matches(const json_t *perm, const struct auth_who *w,
		 const char *field)
{
	if (auth_key_true(perm, "*", field))
		return true;
	if (w->user != NULL && auth_key_true(perm, w->user, field))
		return true;
	for (uint32_t i = 0; i < w->nroles; i++) {
		char k[160];
		int n = snprintf(k, sizeof(k), "role:%s", w->roles[i]);
		if (n > 0 && (size_t)n < sizeof(k) &&
		    auth_key_true(perm, k, field))
			return true;
	}
	return false;
}

bool
auth_acl_allows(const json_t *acl, const struct auth_who *w, bool write)
{
	if (w->master || acl == NULL || json_is_null(acl))
		return true;
	if (!json_is_object(acl))
		return false; /* a malformed ACL protects, it does not open */
	return auth_who_matches(acl, w, write ? "write" : "read");
}

bool
auth_clp_allows(const json_t *clp, const struct auth_who *w, const char *op)
{
	if (w->master || clp == NULL || !json_is_object(clp))
		return true;
	const json_t *perm = json_object_get(clp, op);
	if (perm == NULL)
		return true;
	if (!json_is_object(perm))
		return false;
	if (w->user != NULL && auth_key_true(perm, "requiresAuthentication",
					     NULL))
		return true;
	return auth_who_matches(perm, w, NULL);
}

bool
auth_mentions_roles(const json_t *j)
{
	if (!json_is_object(j))
		return false;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)j, k, v)
	{
		if (strncmp(k, "role:", 5) == 0)
			return true;
		if (json_is_object(v) && auth_mentions_roles(v))
			return true;
	}
	return false;
}

/* Intersects @a hidden (a set: object of name -> true) with the list
 * @a list; a first list (!*started) sets it. */
static void
auth_hidden_meet(json_t *hidden, const json_t *list, bool *started)
{
	if (!json_is_array(list))
		return;
	if (!*started) {
		size_t i;
		json_t *f;
		json_array_foreach(list, i, f)
		{
			if (json_is_string(f))
				json_object_set_new(hidden, json_string_value(f),
						    json_true());
		}
		*started = true;
		return;
	}
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(hidden, tmp, k, v)
	{
		bool in = false;
		size_t i;
		json_t *f;
		json_array_foreach(list, i, f)
		{
			if (json_is_string(f) &&
			    strcmp(json_string_value(f), k) == 0)
				in = true;
		}
		if (!in)
			json_object_del(hidden, k);
	}
}

/* The set (object of name -> true) of fields @a clp hides from @a w in
 * class @a cls, before the owner's exemption; NULL if none. */
static json_t *
auth_hidden_set(const json_t *clp, const struct auth_who *w, const char *cls)
{
	if (w->master)
		return NULL;
	const json_t *pf = json_is_object(clp)
				   ? json_object_get(clp, "protectedFields")
				   : NULL;
	json_t *dflt = NULL;
	if (!json_is_object(pf)) {
		if (strcmp(cls, "_User") != 0)
			return NULL;
		dflt = json_pack("{s:[s]}", "*", "email");
		pf = dflt;
	}
	json_t *hidden = json_object();
	bool started = false;
	auth_hidden_meet(hidden, json_object_get(pf, "*"), &started);
	if (!started) {
		/* no "*" entry: nothing hidden from the public; the keys
		 * below can only narrow, so nothing is hidden at all */
		json_decref(hidden);
		json_decref(dflt);
		return NULL;
	}
	if (w->user != NULL) {
		auth_hidden_meet(hidden, json_object_get(pf, w->user),
				 &started);
		auth_hidden_meet(hidden, json_object_get(pf, "authenticated"),
				 &started);
	}
	for (uint32_t i = 0; i < w->nroles; i++) {
		char k[160];
		int n = snprintf(k, sizeof(k), "role:%s", w->roles[i]);
		if (n > 0 && (size_t)n < sizeof(k))
			auth_hidden_meet(hidden, json_object_get(pf, k),
					 &started);
	}
	json_decref(dflt);
	if (json_object_size(hidden) == 0) {
		json_decref(hidden);
		return NULL;
	}
	return hidden;
}

json_t *
auth_protected_strip(json_t *obj, const json_t *clp, const struct auth_who *w,
		     const char *cls)
{
	if (w->master || !json_is_object(obj))
		return obj;
	if (strcmp(cls, "_User") == 0 && w->user != NULL) {
		const json_t *id = json_object_get(obj, "objectId");
		if (json_is_string(id) &&
		    strcmp(json_string_value(id), w->user) == 0)
			return obj; /* one's own record */
	}
	json_t *hidden = auth_hidden_set(clp, w, cls);
	const char *k;
	json_t *v;
	json_object_foreach(hidden, k, v)
	{
		(void)v;
		json_object_del(obj, k);
	}
	json_decref(hidden);
	return obj;
}

bool
auth_protected_any(const json_t *obj, const json_t *clp,
		   const struct auth_who *w, const char *cls)
{
	if (w->master || !json_is_object(obj))
		return false;
	if (strcmp(cls, "_User") == 0 && w->user != NULL) {
		const json_t *id = json_object_get(obj, "objectId");
		if (json_is_string(id) &&
		    strcmp(json_string_value(id), w->user) == 0)
			return false; /* one's own record */
	}
	json_t *hidden = auth_hidden_set(clp, w, cls);
	bool any = false;
	const char *k;
	json_t *v;
	json_object_foreach(hidden, k, v)
	{
		(void)v;
		any |= json_object_get(obj, k) != NULL;
	}
	json_decref(hidden);
	return any;
}

/* The first path segment of @a path ("a.b" -> "a") into @a out. */
static void
auth_top(const char *path, char *out, size_t len)
{
	size_t n = strcspn(path, ".");
	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = 0;
}

/* The first hidden field a where names (through $or/$and/$nor), or NULL. */
static const char *
auth_where_hidden(const json_t *where, const json_t *hidden, int depth)
{
	if (!json_is_object(where) || depth > 64)
		return NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)where, k, v)
	{
		if (strcmp(k, "$or") == 0 || strcmp(k, "$and") == 0 ||
		    strcmp(k, "$nor") == 0) {
			size_t i;
			json_t *x;
			json_array_foreach(v, i, x)
			{
				const char *f =
					auth_where_hidden(x, hidden, depth + 1);
				if (f)
					return f;
			}
			continue;
		}
		char top[160];
		auth_top(k, top, sizeof(top));
		if (json_object_get(hidden, top) != NULL)
			return k;
	}
	return NULL;
}

bool
auth_query_protected(const json_t *where, const char *order,
		     const json_t *clp, const struct auth_who *w,
		     const char *cls, char *field, size_t len)
{
	json_t *hidden = auth_hidden_set(clp, w, cls);
	if (hidden == NULL)
		return false;
	const char *f = auth_where_hidden(where, hidden, 0);
	bool bad = f != NULL;
	if (bad)
		snprintf(field, len, "%s", f);
	if (!bad && order != NULL) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "%s", order);
		for (char *save, *p = strtok_r(buf, ",", &save); p && !bad;
		     p = strtok_r(NULL, ",", &save)) {
			while (*p == ' ' || *p == '-')
				p++;
			char top[160];
			auth_top(p, top, sizeof(top));
			if (json_object_get(hidden, top) != NULL) {
				bad = true;
				snprintf(field, len, "%s", p);
			}
		}
	}
	json_decref(hidden);
	return bad;
}

/* ----------------------------------------------------------- roles */

static bool
auth_in(const char *const *list, uint32_t n, const char *s)
{
	for (uint32_t i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], s) == 0)
			return true;
	return false;
}

uint32_t
auth_role_closure(const struct auth_role *all, uint32_t n, const char *user,
		  const char **out, uint32_t max)
{
	uint32_t got = 0;
	if (user == NULL || n == 0 || max == 0)
		return 0;
	bool held[AUTH_ROLES_MAX] = {false};
	if (n > AUTH_ROLES_MAX)
		n = AUTH_ROLES_MAX; /* docs.c refuses more before calling */
	for (uint32_t i = 0; i < n; i++)
		held[i] = auth_in(all[i].users, all[i].nusers, user);
	/* to a fixpoint: at most n rounds, each adding a role or ending */
	for (bool grew = true; grew;) {
		grew = false;
		for (uint32_t i = 0; i < n; i++) {
			if (held[i])
				continue;
			for (uint32_t j = 0; j < all[i].nroles && !held[i];
			     j++) {
				for (uint32_t r = 0; r < n; r++)
					if (held[r] && all[r].name &&
					    all[i].roles[j] &&
					    strcmp(all[r].name,
						   all[i].roles[j]) == 0) {
						held[i] = true;
						grew = true;
						break;
					}
			}
		}
	}
	for (uint32_t i = 0; i < n && got < max; i++)
		if (held[i] && all[i].name != NULL)
			out[got++] = all[i].name;
	return got;
}
