/*
 * test_triggers.c -- the pure parts of gateway/triggers.h: trigger names
 * and whether an app lists one, the params a trigger gets, what its
 * result says, and the objects built for the client's answer and for an
 * after trigger.  The triggers around real writes are
 * tests/integration/test_triggers.c's.
 */
#include "gateway/apps.h"
#include "gateway/jsonmp.h"
#include "gateway/triggers.h"
#include "function/function.h"
#include "mist.h"
#include "util/buf.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

static json_t *
j(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	cr_assert_not_null(v, "bad JSON in the test: %s", text);
	return v;
}

/* Whether @a v equals the JSON @a text. */
static bool
jeq(const json_t *v, const char *text)
{
	json_t *w = j(text);
	bool eq = json_equal((json_t *)v, w);
	json_decref(w);
	return eq;
}

/* The params as JSON (they are one msgpack map with str keys). */
static json_t *
params_json(const struct buf *b)
{
	json_t *v = NULL;
	char why[JSONMP_WHY_MAX];
	cr_assert_eq(jsonmp_to_json(b->data, b->len, NULL, &v, why, sizeof(why)),
		     0, "params do not convert: %s", why);
	return v;
}

Test(triggers, names)
{
	char n[EXEC_NAME_MAX];
	cr_assert(trig_fn_name(TRIG_BEFORE_SAVE, "GameScore", n));
	cr_expect_str_eq(n, "beforeSave:GameScore");
	cr_assert(trig_fn_name(TRIG_AFTER_DELETE, "_User", n));
	cr_expect_str_eq(n, "afterDelete:_User");
	/* 13 + 50 = 63 bytes fit, 51 do not: no plugin can declare it */
	char cls[64];
	memset(cls, 'C', 50);
	cls[50] = '\0';
	cr_expect(trig_fn_name(TRIG_BEFORE_DELETE, cls, n));
	cls[50] = 'C';
	cls[51] = '\0';
	cr_expect_not(trig_fn_name(TRIG_BEFORE_DELETE, cls, n));
	cr_expect_not(trig_fn_name(TRIG_BEFORE_SAVE, "", n));
}

Test(triggers, only_a_listed_trigger_runs)
{
	struct app a;
	memset(&a, 0, sizeof(a));
	apps_defaults(&a);
	cr_expect_not(trig_listed(&a, TRIG_BEFORE_SAVE, "GameScore"));
	strcpy(a.functions[0], "hello");
	strcpy(a.functions[1], "beforeSave:GameScore");
	a.nfunctions = 2;
	cr_expect(trig_listed(&a, TRIG_BEFORE_SAVE, "GameScore"));
	cr_expect_not(trig_listed(&a, TRIG_AFTER_SAVE, "GameScore"));
	cr_expect_not(trig_listed(&a, TRIG_BEFORE_SAVE, "GameScores"));
	cr_expect_not(trig_listed(&a, TRIG_BEFORE_SAVE, "Game"));
	cr_expect_not(trig_listed(&a, TRIG_BEFORE_SAVE, "gamescore"));
}

Test(triggers, params_of_a_create)
{
	struct buf b = BUF_INIT;
	json_t *obj = j("{\"score\":5,\"tags\":[\"a\"]}");
	struct trig_ctx c = {"GameScore", "", false, "10.1.2.3", NULL, NULL,
			     false, NULL};
	struct perr e = {0};
	cr_assert_eq(trig_params_pack(&b, TRIG_BEFORE_SAVE, &c, obj, &e), 0,
		     "%s", e.msg);
	json_t *p = params_json(&b);
	cr_expect_str_eq(json_string_value(json_object_get(p, "triggerName")),
			 "beforeSave");
	cr_expect_str_eq(json_string_value(json_object_get(p, "className")),
			 "GameScore");
	cr_expect(json_equal(json_object_get(p, "object"), obj));
	cr_expect(json_is_null(json_object_get(p, "objectId")));
	cr_expect(json_is_false(json_object_get(p, "master")));
	cr_expect(json_is_null(json_object_get(p, "user")));
	cr_expect_str_eq(json_string_value(json_object_get(p, "ip")), "10.1.2.3");
	cr_expect_null(json_object_get(p, "installationId"));
	cr_expect_null(json_object_get(p, "context"));
	cr_expect_eq(json_object_size(p), 7);
	json_decref(p);
	json_decref(obj);
	buf_destroy(&b);
}

Test(triggers, params_of_a_delete_with_everything)
{
	struct buf b = BUF_INIT;
	json_t *ctx = j("{\"from\":\"test\"}");
	struct trig_ctx c = {"_User", "abc123", true, "::1", "inst-1", ctx,
			     false, NULL};
	struct perr e = {0};
	cr_assert_eq(trig_params_pack(&b, TRIG_BEFORE_DELETE, &c, NULL, &e), 0);
	json_t *p = params_json(&b);
	cr_expect_str_eq(json_string_value(json_object_get(p, "triggerName")),
			 "beforeDelete");
	cr_expect(json_is_null(json_object_get(p, "object")));
	cr_expect_str_eq(json_string_value(json_object_get(p, "objectId")),
			 "abc123");
	cr_expect(json_is_true(json_object_get(p, "master")));
	cr_expect_str_eq(json_string_value(json_object_get(p, "installationId")),
			 "inst-1");
	cr_expect(json_equal(json_object_get(p, "context"), ctx));
	json_decref(p);
	json_decref(ctx);
	buf_destroy(&b);
}

/* @a k arrays, one inside the other, the innermost holding 1. */
static json_t *
nest(int k)
{
	json_t *v = json_array();
	json_array_append_new(v, json_integer(1));
	for (int i = 1; i < k; i++) {
		json_t *o = json_array();
		json_array_append_new(o, v);
		v = o;
	}
	return v;
}

Test(triggers, params_of_an_update_have_the_original)
{
	struct buf b = BUF_INIT;
	json_t *obj = j("{\"score\":{\"__op\":\"Increment\",\"amount\":1}}");
	json_t *orig = j("{\"objectId\":\"u1\",\"score\":4}");
	struct trig_ctx c = {"C", "u1", false, "1.2.3.4", NULL, NULL, true, orig};
	struct perr e = {0};
	cr_assert_eq(trig_params_pack(&b, TRIG_BEFORE_SAVE, &c, obj, &e), 0);
	json_t *p = params_json(&b);
	cr_expect(json_equal(json_object_get(p, "original"), orig));
	cr_expect(json_equal(json_object_get(p, "object"), obj));
	cr_expect_eq(json_object_size(p), 8);
	json_decref(p);
	/* an update the caller cannot read: original is nil */
	buf_reset(&b);
	c.original = NULL;
	cr_assert_eq(trig_params_pack(&b, TRIG_BEFORE_SAVE, &c, obj, &e), 0);
	p = params_json(&b);
	cr_expect(json_is_null(json_object_get(p, "original")));
	json_decref(p);
	json_decref(orig);
	json_decref(obj);
	buf_destroy(&b);
}

Test(triggers, params_refused_leave_the_buffer_as_it_was)
{
	struct buf b = BUF_INIT;
	buf_append(&b, "xy", 2);
	struct trig_ctx c = {"C", "", false, "1.2.3.4", NULL, NULL, false, NULL};
	struct perr e = {0};
	/* the params map around the object is a level: an object of 31
	 * levels of containers fits MP_MAX_DEPTH (32), one of 32 does not
	 * (a body preq_decode let through never has more than 31) */
	json_t *obj = json_object();
	json_object_set_new(obj, "d", nest(30));
	cr_expect_eq(trig_params_pack(&b, TRIG_BEFORE_SAVE, &c, obj, &e), 0,
		     "%s", e.msg);
	b.len = 2;
	json_decref(obj);
	obj = json_object();
	json_object_set_new(obj, "d", nest(31));
	cr_expect_neq(trig_params_pack(&b, TRIG_BEFORE_SAVE, &c, obj, &e), 0);
	cr_expect_eq(e.http, 400);
	cr_expect_eq(b.len, 2, "the buffer grew by %zu", b.len - 2);
	json_decref(obj);
	/* over the params bound: 3 strings of 200 KiB */
	obj = json_object();
	char *big = malloc(200 * 1024 + 1);
	memset(big, 'a', 200 * 1024);
	big[200 * 1024] = '\0';
	json_object_set_new(obj, "a", json_string(big));
	json_object_set_new(obj, "b", json_string(big));
	json_object_set_new(obj, "c", json_string(big));
	free(big);
	memset(&e, 0, sizeof(e));
	cr_expect_eq(trig_params_pack(&b, TRIG_BEFORE_SAVE, &c, obj, &e),
		     MIST_E2BIG);
	cr_expect_eq(e.code, PERR_OBJECT_TOO_LARGE, "%d %s", e.code, e.msg);
	cr_expect_eq(b.len, 2);
	json_decref(obj);
	buf_destroy(&b);
}

/* The msgpack of @a text (any JSON value). */
static void
mp_of(struct buf *b, const char *text)
{
	json_t *v = j(text);
	char why[JSONMP_WHY_MAX];
	cr_assert_eq(jsonmp_from_json(v, NULL, b, why, sizeof(why)), 0);
	json_decref(v);
}

Test(triggers, a_before_save_keeps_replaces_or_refuses)
{
	json_t *rep = NULL;
	struct perr e = {0};
	const char *name = "beforeSave:C";
	cr_expect_eq(trig_result(TRIG_BEFORE_SAVE, name,
				 (const uint8_t *)"\xc0", 1, &rep, &e),
		     TRIG_KEEP, "nil keeps");
	cr_expect_eq(trig_result(TRIG_BEFORE_SAVE, name,
				 (const uint8_t *)"\xc3", 1, &rep, &e),
		     TRIG_KEEP, "true keeps");
	cr_expect_null(rep);
	cr_expect_eq(trig_result(TRIG_BEFORE_SAVE, name,
				 (const uint8_t *)"\xc2", 1, &rep, &e),
		     TRIG_REFUSE, "false refuses");
	cr_expect_eq(e.code, PERR_SCRIPT_FAILED);
	cr_expect_not_null(strstr(e.msg, "beforeSave:C returned false"), "%s",
			   e.msg);

	struct buf b = BUF_INIT;
	mp_of(&b, "{\"score\":1000,\"checked\":true}");
	cr_assert_eq(trig_result(TRIG_BEFORE_SAVE, name, b.data,
				 (uint32_t)b.len, &rep, &e),
		     TRIG_REPLACE);
	cr_expect(jeq(rep, "{\"score\":1000,\"checked\":true}"));
	json_decref(rep);
	rep = NULL;
	buf_reset(&b);

	static const char *const bad[] = {"42", "\"text\"", "[1,2]", "1.5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mp_of(&b, bad[i]);
		memset(&e, 0, sizeof(e));
		cr_expect_eq(trig_result(TRIG_BEFORE_SAVE, name, b.data,
					 (uint32_t)b.len, &rep, &e),
			     TRIG_REFUSE, "%s", bad[i]);
		cr_expect_eq(e.http, 400);
		cr_expect_eq(e.code, PERR_SCRIPT_FAILED);
		cr_expect_null(rep);
		buf_reset(&b);
	}
	/* a map with an int key has no JSON form */
	memset(&e, 0, sizeof(e));
	cr_expect_eq(trig_result(TRIG_BEFORE_SAVE, name,
				 (const uint8_t *)"\x81\x01\x02", 3, &rep, &e),
		     TRIG_REFUSE);
	cr_expect_not_null(strstr(e.msg, "no JSON form"), "%s", e.msg);
	/* a map past a body's bounds: a key of 300 bytes */
	json_t *o = json_object();
	char key[301];
	memset(key, 'k', 300);
	key[300] = '\0';
	json_object_set_new(o, key, json_true());
	char why[JSONMP_WHY_MAX];
	cr_assert_eq(jsonmp_from_json(o, NULL, &b, why, sizeof(why)), 0);
	json_decref(o);
	memset(&e, 0, sizeof(e));
	cr_expect_eq(trig_result(TRIG_BEFORE_SAVE, name, b.data,
				 (uint32_t)b.len, &rep, &e),
		     TRIG_REFUSE);
	cr_expect_eq(e.code, PERR_OBJECT_TOO_LARGE, "%d %s", e.code, e.msg);
	cr_expect_not_null(strstr(e.msg, "beforeSave:C"), "%s", e.msg);
	buf_destroy(&b);
}

Test(triggers, other_kinds_results_are_not_read)
{
	json_t *rep = NULL;
	struct perr e = {0};
	cr_expect_eq(trig_result(TRIG_BEFORE_DELETE, "beforeDelete:C",
				 (const uint8_t *)"\x2a", 1, &rep, &e),
		     TRIG_KEEP);
	cr_expect_eq(trig_result(TRIG_AFTER_SAVE, "afterSave:C",
				 (const uint8_t *)"\x81\x01\x02", 3, &rep, &e),
		     TRIG_KEEP);
	cr_expect_null(rep);
}

Test(triggers, changed_fields_and_after_objects)
{
	json_t *sent = j("{\"a\":1,\"b\":{\"x\":[1]},\"gone\":true}");
	json_t *written = j("{\"a\":1,\"b\":{\"x\":[2]},\"new\":\"n\"}");
	json_t *ch = trig_changed(sent, written);
	cr_expect(jeq(ch, "{\"b\":{\"x\":[2]},\"new\":\"n\"}"));
	json_decref(ch);
	ch = trig_changed(sent, sent);
	cr_expect_eq(json_object_size(ch), 0);
	json_decref(ch);

	json_t *answer = j("{\"objectId\":\"X1\",\"createdAt\":\"t\",\"a\":2}");
	json_t *o = trig_after_object(sent, answer, "");
	cr_expect_str_eq(json_string_value(json_object_get(o, "objectId")), "X1");
	cr_expect_eq(json_integer_value(json_object_get(o, "a")), 2,
		     "the answer wins over the fields sent");
	cr_expect(json_is_true(json_object_get(o, "gone")));
	json_decref(o);
	o = trig_after_object(NULL, NULL, "Y2");
	cr_expect(jeq(o, "{\"objectId\":\"Y2\"}"));
	json_decref(o);
	json_decref(answer);
	json_decref(sent);
	json_decref(written);
}
