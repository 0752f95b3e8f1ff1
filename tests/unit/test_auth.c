/*
 * test_auth.c -- accessory/auth: passwords, tokens, ACL, CLP, protected
 * fields and role closure, as pure functions.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "accessory/auth.h"

static json_t *
J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	cr_assert_not_null(j, "%s: %s", s, e.text);
	return j;
}

Test(auth, passwords_and_tokens)
{
	cr_assert_geq(sodium_init(), 0);
	char h[crypto_pwhash_STRBYTES];
	cr_assert_eq(auth_password_hash("secret", 6, h), 0);
	cr_assert(strncmp(h, "$argon2id$", 10) == 0, "%s", h);
	cr_assert(auth_password_verify(h, "secret", 6));
	cr_assert_not(auth_password_verify(h, "secreT", 6));
	cr_assert_not(auth_password_verify(h, "secret", 5));
	cr_assert_not(auth_password_verify("garbage", "secret", 6));
	char big[AUTH_PW_MAX + 2];
	memset(big, 'a', sizeof(big));
	cr_assert_neq(auth_password_hash(big, sizeof(big), h), 0);
	char t1[AUTH_TOKEN_MAX], t2[AUTH_TOKEN_MAX];
	auth_session_token_new(t1);
	auth_session_token_new(t2);
	cr_assert_eq(strlen(t1), 66);
	cr_assert(strncmp(t1, "r:", 2) == 0);
	cr_assert_str_neq(t1, t2);
	uint8_t a[AUTH_TOKEN_HASH], b[AUTH_TOKEN_HASH];
	auth_token_hash(t1, a);
	auth_token_hash(t1, b);
	cr_assert(memcmp(a, b, sizeof(a)) == 0);
	auth_token_hash(t2, b);
	cr_assert(memcmp(a, b, sizeof(a)) != 0);
}

Test(auth, acl)
{
	const char *roles[] = {"Mods"};
	struct auth_who pub = {0}, u1 = {.user = "u1"},
			u2 = {.user = "u2", .roles = roles, .nroles = 1},
			master = {.master = true};
	cr_assert(auth_acl_allows(NULL, &pub, true), "no ACL: public");
	json_t *acl = J("{\"*\":{\"read\":true},\"u1\":{\"write\":true},"
			"\"role:Mods\":{\"write\":true}}");
	cr_assert(auth_acl_allows(acl, &pub, false));
	cr_assert_not(auth_acl_allows(acl, &pub, true));
	cr_assert(auth_acl_allows(acl, &u1, true));
	cr_assert(auth_acl_allows(acl, &u2, true), "through role:Mods");
	json_decref(acl);
	acl = J("{}");
	cr_assert_not(auth_acl_allows(acl, &u1, false), "{}: master only");
	cr_assert(auth_acl_allows(acl, &master, true));
	json_decref(acl);
	acl = json_string("junk");
	cr_assert_not(auth_acl_allows(acl, &pub, false),
		      "a malformed ACL protects");
	json_decref(acl);
}

Test(auth, clp)
{
	struct auth_who pub = {0}, u1 = {.user = "u1"}, u2 = {.user = "u2"};
	cr_assert(auth_clp_allows(NULL, &pub, "find"));
	json_t *clp = J("{\"find\":{\"requiresAuthentication\":true},"
			"\"get\":{\"*\":true},\"create\":{\"u1\":true},"
			"\"delete\":{},\"count\":{\"role:X\":true}}");
	cr_assert_not(auth_clp_allows(clp, &pub, "find"));
	cr_assert(auth_clp_allows(clp, &u2, "find"));
	cr_assert(auth_clp_allows(clp, &pub, "get"));
	cr_assert(auth_clp_allows(clp, &u1, "create"));
	cr_assert_not(auth_clp_allows(clp, &u2, "create"));
	cr_assert_not(auth_clp_allows(clp, &u1, "delete"));
	cr_assert(auth_clp_allows(clp, &pub, "update"), "absent: public");
	cr_assert_not(auth_clp_allows(clp, &u1, "count"));
	cr_assert(auth_mentions_roles(clp));
	const char *roles[] = {"X"};
	struct auth_who x = {.user = "u3", .roles = roles, .nroles = 1};
	cr_assert(auth_clp_allows(clp, &x, "count"));
	json_decref(clp);
}

Test(auth, protected_fields)
{
	struct auth_who pub = {0}, self = {.user = "u1"}, other = {.user = "u2"},
			master = {.master = true};
	json_t *o = J("{\"objectId\":\"u1\",\"email\":\"a@b.c\",\"x\":1}");
	auth_protected_strip(o, NULL, &other, "_User");
	cr_assert_null(json_object_get(o, "email"), "_User hides email");
	cr_assert_not_null(json_object_get(o, "x"));
	json_decref(o);
	o = J("{\"objectId\":\"u1\",\"email\":\"a@b.c\"}");
	auth_protected_strip(o, NULL, &self, "_User");
	cr_assert_not_null(json_object_get(o, "email"), "one's own");
	auth_protected_strip(o, NULL, &master, "_User");
	cr_assert_not_null(json_object_get(o, "email"));
	json_decref(o);
	/* intersection of the lists that apply */
	json_t *clp = J("{\"protectedFields\":{\"*\":[\"a\",\"b\"],"
			"\"u2\":[\"a\"]}}");
	o = J("{\"objectId\":\"z\",\"a\":1,\"b\":2}");
	auth_protected_strip(o, clp, &other, "Thing");
	cr_assert_null(json_object_get(o, "a"));
	cr_assert_not_null(json_object_get(o, "b"), "u2's list narrows *");
	json_decref(o);
	o = J("{\"objectId\":\"z\",\"a\":1,\"b\":2}");
	auth_protected_strip(o, clp, &pub, "Thing");
	cr_assert_null(json_object_get(o, "a"));
	cr_assert_null(json_object_get(o, "b"));
	json_decref(o);
	json_decref(clp);
}

Test(auth, role_closure_follows_inheritance_and_cycles)
{
	const char *admins_users[] = {"cat"}, *mods_users[] = {"ben"};
	const char *mods_roles[] = {"Admins"}, *staff_roles[] = {"Mods"};
	const char *a_roles[] = {"B"}, *b_roles[] = {"A"};
	const char *a_users[] = {"dan"};
	struct auth_role all[] = {
		{"Admins", admins_users, 1, NULL, 0},
		{"Mods", mods_users, 1, mods_roles, 1},
		{"Staff", NULL, 0, staff_roles, 1},
		{"A", a_users, 1, a_roles, 1},
		{"B", NULL, 0, b_roles, 1},
	};
	const char *out[8];
	uint32_t n = auth_role_closure(all, 5, "cat", out, 8);
	cr_assert_eq(n, 3, "Admins, and Mods and Staff inherited");
	n = auth_role_closure(all, 5, "ben", out, 8);
	cr_assert_eq(n, 2, "Mods, Staff");
	cr_assert_str_eq(out[0], "Mods");
	n = auth_role_closure(all, 5, "dan", out, 8);
	cr_assert_eq(n, 2, "A, and B through a cycle, once each");
	cr_assert_eq(auth_role_closure(all, 5, "nobody", out, 8), 0);
	cr_assert_eq(auth_role_closure(all, 5, NULL, out, 8), 0);
}
