/*
 * auth.h -- who may do what: password hashes, session tokens, ACLs,
 * class-level permissions, protected fields and role closure, as Parse
 * Server defines them.  Pure functions: no I/O; docs.c feeds them.
 *
 * Passwords: Argon2id through libsodium's crypto_pwhash_str (the string
 * carries its algorithm, salt and parameters, so they can be raised later
 * and old hashes still verify).  Parameters: AUTH_PW_OPSLIMIT passes over
 * AUTH_PW_MEMLIMIT bytes -- t=2, m=19 MiB, OWASP's Argon2id baseline
 * (Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1).  libsodium's
 * INTERACTIVE preset (t=2, m=64 MiB) costs three times the memory and
 * twice the time per login for little more strength against a GPU, and
 * every concurrent login holds that memory.  Measured on the development
 * machine (2 cores shared, load average 8): 69 ms per hash with these
 * parameters against 154 ms with INTERACTIVE; about a third of that on an
 * idle core (tests/unit/test_docs.c logs a signup's and a login's time).
 * docs.c runs hashes on libuv's thread pool, never on the loop.  Parse
 * itself uses bcrypt cost 10 (about 70 ms).
 *
 * Session tokens: "r:" + 32 random bytes (randombytes_buf) as 64 hex
 * digits, like Parse's "r:" tokens; the store keeps only their BLAKE2b-256
 * hash (auth_token_hash), so a copy of the store does not hand out
 * sessions.
 *
 * ACL (an object's "ACL" field), as Parse: a JSON object whose keys are
 * "*" (everyone), a user's objectId, or "role:Name", each mapping to
 * {"read": true, "write": true}.  A missing ACL is public read and write;
 * an empty one ({}) is master-only.  The master key passes every check.
 *
 * Class-level permissions (the schema's classLevelPermissions): for each
 * operation ("get", "find", "count", "create", "update", "delete",
 * "addField") a map of "*", user ids, "role:Name" and
 * "requiresAuthentication" to true.  A missing CLP or a missing operation
 * allows everyone (Parse's default {"*": true}); an operation present
 * allows only the keys it lists; "requiresAuthentication" allows any
 * logged-in user.  "protectedFields": {"*": [fields], "userId": [...],
 * "role:X": [...], "authenticated": [...]}: the fields hidden from a
 * caller are the INTERSECTION of the lists of every key that applies to
 * it (as Parse), "*" always applying; _User defaults to {"*": ["email"]};
 * a user reading its own _User object and the master see everything.
 *
 * Roles: a _Role has "name", "users" (user objectIds) and "roles" (role
 * names).  mist stores Parse's two relations as plain arrays of ids and
 * names inside the role object.  As in Parse, a role's "roles" lists the
 * roles whose members inherit it: if Admin is in Moderator.roles, admins
 * are moderators.  auth_role_closure() computes a user's roles.
 *
 * Ownership: nothing allocated except where said; pointers in struct
 * auth_who are the caller's.
 */
#ifndef MIST_ACCESSORY_AUTH_H_INCLUDED
#define MIST_ACCESSORY_AUTH_H_INCLUDED

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_PW_OPSLIMIT 2ull
#define AUTH_PW_MEMLIMIT ((size_t)19 << 20)
/* Passwords longer than this are refused (a megabyte password would be
 * hashed; 1 KiB is far beyond any passphrase). */
#define AUTH_PW_MAX 1024
/* "r:" + 64 hex digits + NUL */
#define AUTH_TOKEN_MAX 67
#define AUTH_TOKEN_HASH 32
/* Role lookups stop here: an app with more roles than this refuses the
 * closure (MIST_E2BIG) rather than scan without end. */
#define AUTH_ROLES_MAX 1000

/** Argon2id hash (a NUL-terminated string).  0, or MIST_EINVAL (too long),
 * MIST_ENOMEM (the memory limit could not be had). */
int auth_password_hash(const char *pw, size_t len,
		       char out[crypto_pwhash_STRBYTES]);
bool auth_password_verify(const char *hash, const char *pw, size_t len);
/** A new session token ("r:" + 64 hex digits). */
void auth_session_token_new(char out[AUTH_TOKEN_MAX]);
/** What is stored of a token: BLAKE2b-256 of its text. */
void auth_token_hash(const char *token, uint8_t out[AUTH_TOKEN_HASH]);

/** The caller, as the checks see it.  @a roles: role names (no "role:"). */
struct auth_who {
	bool master;
	const char *user; /* objectId or NULL */
	const char *const *roles;
	uint32_t nroles;
};

/** True if @a acl (NULL: public) lets @a w read (or write). */
bool auth_acl_allows(const json_t *acl, const struct auth_who *w, bool write);
/** True if @a clp (NULL: public) lets @a w do @a op. */
bool auth_clp_allows(const json_t *clp, const struct auth_who *w,
		     const char *op);
/** True if @a acl or @a clp name any role (so the caller's roles matter). */
bool auth_mentions_roles(const json_t *acl_or_clp);
/**
 * Removes from @a obj (modified in place, and returned) the fields @a clp's
 * protectedFields hide from @a w; _User's default hides "email".
 */
json_t *auth_protected_strip(json_t *obj, const json_t *clp,
			     const struct auth_who *w, const char *cls);
/** True if auth_protected_strip would remove anything from @a obj
 * (which is not changed): a reader may then answer the object as stored. */
bool auth_protected_any(const json_t *obj, const json_t *clp,
			const struct auth_who *w, const char *cls);

/**
 * True if @a where (its fields, through $or/$and/$nor, "a.b" counting as
 * a) or @a order ("a,-b", may be NULL) names a field @a clp's
 * protectedFields hide from @a w in @a cls -- a query on a hidden field
 * would reveal it (parse-server refuses these too, GHSA-72hp-qff8-4pvv,
 * GHSA-r2m8-pxm9-9c4g).  The field is written into @a field.  The owner's
 * exemption does not apply: a query spans other users' records.
 */
bool auth_query_protected(const json_t *where, const char *order,
			  const json_t *clp, const struct auth_who *w,
			  const char *cls, char *field, size_t len);

/** One role, as docs.c reads it from _Role (pointers are the caller's). */
struct auth_role {
	const char *name;
	const char *const *users; /* objectIds */
	uint32_t nusers;
	const char *const *roles; /* names of roles inheriting this one */
	uint32_t nroles;
};
/**
 * The names of every role @a user holds among @a all (@a n of them): those
 * listing it in users, then, to a fixpoint, those listing a held role in
 * their roles.  Writes up to @a max names (pointers into @a all) into
 * @a out; returns how many.
 */
uint32_t auth_role_closure(const struct auth_role *all, uint32_t n,
			   const char *user, const char **out, uint32_t max);

#endif
