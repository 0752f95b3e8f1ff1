/*
 * triggers.c -- Cloud Code triggers for the mobile backend, as an app
 * developer writes them: functions named KIND:CLASS (docs/HTTP.md,
 * "Triggers"), which the gateway runs around a class's writes when the
 * app lists them:
 *
 *   mist agent ... --plugin .libs/triggers.so
 *   mist apps set myapp \
 *        --functions beforeSave:GameScore,beforeDelete:GameScore
 *   curl -X POST http://HOST/parse/classes/GameScore \
 *        -H 'X-Parse-Application-Id: ...' -H 'X-Parse-REST-API-Key: ...' \
 *        -d '{"playerName": "fog", "score": 99999}'
 *   -> 201 {"objectId":"...","createdAt":"...","score":1000,"checked":true}
 *
 * Each trigger gets one msgpack map, Parse's request object:
 * {"triggerName", "className", "object", "objectId", "master", "user",
 *  "ip", ...}.  A beforeSave answers nil or true (save the object as
 * sent), a map (save that instead), or mist_fail(message): the write is
 * refused and the client gets 400 {"code":141,"error":message}.  After
 * triggers run once the client has its answer; their result is ignored.
 *
 * The GameScore triggers are the example, with submitScore, a function
 * whose write through the host API runs them as a client's does.  The
 * others are the tests' (tests/integration/test_triggers.c): each
 * misbehaves in one way a trigger can, and beforeSave:Echo writes its own
 * class (a trigger's writes run no trigger).
 */
#include "mist_plugin.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The highest score a GameScore may hold: the example's rule. */
#define SCORE_MAX 1000

/* ------------------------------------------------------------ helpers */

/* The value of @a key in map @a m, or NULL. */
static const msgpack_object *
map_get(const msgpack_object *m, const char *key)
{
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t n = strlen(key);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

static bool
key_is(const msgpack_object *k, const char *key)
{
	size_t n = strlen(key);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, key, n) == 0;
}

static void
pack_cstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* Decodes the params into @a u; the request's "object" map, or NULL
 * after mist_fail(). */
static const msgpack_object *
request_object(struct mist_call *c, msgpack_unpacked *u)
{
	msgpack_unpacked_init(u);
	if (msgpack_unpack_next(u, (const char *)c->args.data, c->args.len,
				NULL) != MSGPACK_UNPACK_SUCCESS ||
	    u->data.type != MSGPACK_OBJECT_MAP) {
		mist_fail(c, "a trigger's params are a map");
		return NULL;
	}
	const msgpack_object *o = map_get(&u->data, "object");
	if (o == NULL || o->type != MSGPACK_OBJECT_MAP) {
		mist_fail(c, "the trigger got no object");
		return NULL;
	}
	return o;
}

/* Outputs one msgpack byte: nil (0xc0) or true (0xc3). */
static int
output_byte(struct mist_call *c, const char *b)
{
	return mist_output(c, 0, b, 1);
}

/* -------------------------------------------------------- the example */

/* A score needs a player, and is clamped to 0..SCORE_MAX; the saved
 * object says it was checked. */
static int
before_save_score(struct mist_call *c)
{
	msgpack_unpacked u;
	const msgpack_object *o = request_object(c, &u);
	if (o == NULL) {
		msgpack_unpacked_destroy(&u);
		return -1;
	}
	const msgpack_object *name = map_get(o, "playerName");
	const msgpack_object *id = map_get(&u.data, "objectId");
	bool create = id == NULL || id->type == MSGPACK_OBJECT_NIL;
	if (create && (name == NULL || name->type != MSGPACK_OBJECT_STR ||
		       name->via.str.size == 0)) {
		msgpack_unpacked_destroy(&u);
		mist_fail(c, "a GameScore needs a playerName");
		return -1;
	}
	const msgpack_object *score = map_get(o, "score");
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint32_t n = 0;
	for (uint32_t i = 0; i < o->via.map.size; i++)
		if (!key_is(&o->via.map.ptr[i].key, "checked"))
			n++;
	msgpack_pack_map(&pk, n + 1);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		if (key_is(&kv->key, "checked"))
			continue;
		msgpack_pack_object(&pk, kv->key);
		if (&kv->val == score &&
		    score->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    score->via.u64 > SCORE_MAX)
			msgpack_pack_int(&pk, SCORE_MAX);
		else if (&kv->val == score &&
			 score->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			msgpack_pack_int(&pk, 0);
		else
			msgpack_pack_object(&pk, kv->val);
	}
	pack_cstr(&pk, "checked");
	msgpack_pack_true(&pk);
	msgpack_unpacked_destroy(&u);
	int rc = mist_output(c, 0, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* A locked score is not deleted: the trigger reads the object the
 * gateway fetched before the delete. */
static int
before_delete_score(struct mist_call *c)
{
	msgpack_unpacked u;
	const msgpack_object *o = request_object(c, &u);
	if (o == NULL) {
		msgpack_unpacked_destroy(&u);
		return -1;
	}
	const msgpack_object *locked = map_get(o, "locked");
	bool refuse = locked != NULL && locked->type == MSGPACK_OBJECT_BOOLEAN &&
		      locked->via.boolean;
	msgpack_unpacked_destroy(&u);
	if (refuse) {
		mist_fail(c, "this score is locked");
		return -1;
	}
	return output_byte(c, "\xc0");
}

/* After triggers: a real one would update a leaderboard (through the
 * host API); this one only checks what it was given. */
static int
after_score(struct mist_call *c)
{
	msgpack_unpacked u;
	const msgpack_object *o = request_object(c, &u);
	bool ok = o != NULL && map_get(o, "objectId") != NULL;
	msgpack_unpacked_destroy(&u);
	if (!ok) {
		if (o != NULL)
			mist_fail(c, "the saved object has no objectId");
		return -1;
	}
	return output_byte(c, "\xc0");
}

/* Users: "root" is reserved; anything else saves as sent (true). */
static int
before_save_user(struct mist_call *c)
{
	msgpack_unpacked u;
	const msgpack_object *o = request_object(c, &u);
	if (o == NULL) {
		msgpack_unpacked_destroy(&u);
		return -1;
	}
	const msgpack_object *name = map_get(o, "username");
	bool root = name != NULL && name->type == MSGPACK_OBJECT_STR &&
		    name->via.str.size == 4 &&
		    memcmp(name->via.str.ptr, "root", 4) == 0;
	msgpack_unpacked_destroy(&u);
	if (root) {
		mist_fail(c, "the username root is reserved");
		return -1;
	}
	return output_byte(c, "\xc3");
}

/* ------------------------------------------- misbehaving, for the tests */

/* Never ends: the gateway's deadline must refuse the write. */
static int
before_save_spin(struct mist_call *c)
{
	(void)c;
	for (volatile unsigned long i = 0;; i++)
		;
	return 0;
}

/* Fails after the write: the client still gets its 201. */
static int
after_save_flaky(struct mist_call *c)
{
	mist_fail(c, "afterSave:Flaky failed on purpose");
	return -1;
}

/* Takes 300 ms: a slow afterSave, to fill the after triggers' bound. */
static int
after_save_slow(struct mist_call *c)
{
	struct timespec ts = {0, 300 * 1000000};
	nanosleep(&ts, NULL);
	return mist_output(c, 0, "\xc0", 1);
}

/* Crashes the executor (SIGABRT: the same death in a sanitized build,
 * whose handlers would report a stray store instead): the write is
 * refused with the executor's reason, and the agent starts another. */
static int
before_save_crash(struct mist_call *c)
{
	(void)c;
	abort();
}

/* Returns a number: not nil, true or an object, so refused. */
static int
before_save_bad(struct mist_call *c)
{
	return mist_output(c, 0, "\x2a", 1);
}

/* Saves what it was told, so a test can read the params back:
 * sawTrigger, sawClass, sawMaster, sawIp, sawId, sawContext
 * (X-Parse-Cloud-Context) and sawOriginalX (an update's: the stored
 * object's x). */
static int
before_save_probe(struct mist_call *c)
{
	msgpack_unpacked u;
	const msgpack_object *o = request_object(c, &u);
	if (o == NULL) {
		msgpack_unpacked_destroy(&u);
		return -1;
	}
	static const char *const keys[][2] = {{"triggerName", "sawTrigger"},
					      {"className", "sawClass"},
					      {"master", "sawMaster"},
					      {"ip", "sawIp"},
					      {"objectId", "sawId"},
					      {"context", "sawContext"}};
	const uint32_t nkeys = sizeof(keys) / sizeof(keys[0]);
	const msgpack_object *vals[sizeof(keys) / sizeof(keys[0])];
	uint32_t n = o->via.map.size;
	for (uint32_t i = 0; i < nkeys; i++) {
		vals[i] = map_get(&u.data, keys[i][0]);
		if (vals[i] != NULL && vals[i]->type == MSGPACK_OBJECT_NIL)
			vals[i] = NULL; /* a create has no id */
		n += vals[i] != NULL;
	}
	const msgpack_object *ox = map_get(map_get(&u.data, "original"), "x");
	n += ox != NULL;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		msgpack_pack_object(&pk, o->via.map.ptr[i].key);
		msgpack_pack_object(&pk, o->via.map.ptr[i].val);
	}
	for (uint32_t i = 0; i < nkeys; i++) {
		if (vals[i] == NULL)
			continue;
		pack_cstr(&pk, keys[i][1]);
		msgpack_pack_object(&pk, *vals[i]);
	}
	if (ox != NULL) {
		pack_cstr(&pk, "sawOriginalX");
		msgpack_pack_object(&pk, *ox);
	}
	msgpack_unpacked_destroy(&u);
	int rc = mist_output(c, 0, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* ---------------------------------------- writes through the host API */

/*
 * submitScore {playerName, score}: a plain function saving a GameScore
 * through the host API, as its caller.  The write runs the class's
 * triggers as a client's does, so the score it stores is clamped:
 * {status, body} (the create's answer).
 */
static int
submit_score(struct mist_call *c)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)c->args.data, c->args.len,
				NULL) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&u);
		mist_fail(c, "params: one msgpack map");
		return -1;
	}
	const msgpack_object *name = map_get(&u.data, "playerName");
	const msgpack_object *score = map_get(&u.data, "score");
	char json[160];
	bool ok = name != NULL && name->type == MSGPACK_OBJECT_STR &&
		  name->via.str.size > 0 && name->via.str.size < 64 &&
		  score != NULL &&
		  (score->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		   score->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
	for (uint32_t i = 0; ok && i < name->via.str.size; i++) {
		char ch = name->via.str.ptr[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9');
	}
	if (!ok) {
		msgpack_unpacked_destroy(&u);
		mist_fail(c, "params: {playerName: letters and digits, score: "
			     "an integer}");
		return -1;
	}
	snprintf(json, sizeof(json), "{\"playerName\":\"%.*s\",\"score\":%lld}",
		 (int)name->via.str.size, name->via.str.ptr,
		 (long long)score->via.i64);
	msgpack_unpacked_destroy(&u);
	struct mist_doc_reply r;
	int rc = mist_doc_create(c, "GameScore", json, &r);
	if (rc != 0) {
		mist_fail(c, "the host API gave no answer");
		return -1;
	}
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pack_cstr(&pk, "status");
	msgpack_pack_int(&pk, r.status);
	pack_cstr(&pk, "body");
	msgpack_pack_str_with_body(&pk, r.body, r.len);
	rc = mist_output(c, 0, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* beforeSave:Echo saves a copy of every Echo through the host API: a
 * trigger's own writes run no trigger, so one client save makes two
 * objects, not a chain (the tests count them). */
static int
before_save_echo(struct mist_call *c)
{
	struct mist_doc_reply r;
	if (mist_doc_create(c, "Echo", "{\"copy\":true}", &r) != 0 ||
	    r.status != 201) {
		mist_fail(c, "the copy was not saved");
		return -1;
	}
	return output_byte(c, "\xc3"); /* true: save the object as sent */
}

/* Marks what it saves: an app that does not list it must not run it. */
static int
before_save_unlisted(struct mist_call *c)
{
	return mist_output(c, 0, "\x81\xa7touched\xc3", 10);
}

static const struct mist_function functions[] = {
	{"beforeSave:GameScore", before_save_score},
	{"afterSave:GameScore", after_score},
	{"beforeDelete:GameScore", before_delete_score},
	{"afterDelete:GameScore", after_score},
	{"beforeSave:_User", before_save_user},
	{"beforeSave:Spin", before_save_spin},
	{"afterSave:Flaky", after_save_flaky},
	{"afterSave:Slow", after_save_slow},
	{"beforeSave:Bad", before_save_bad},
	{"beforeSave:Crash", before_save_crash},
	{"beforeSave:Probe", before_save_probe},
	{"beforeSave:Unlisted", before_save_unlisted},
	{"submitScore", submit_score},
	{"beforeSave:Echo", before_save_echo},
};

static const struct mist_plugin plugin = {
	.abi = MIST_PLUGIN_ABI, .name = "triggers", .functions = functions,
	.nfunctions = sizeof(functions) / sizeof(functions[0])};

MIST_PLUGIN_EXPORT const struct mist_plugin *mist_plugin_v1(void);

MIST_PLUGIN_EXPORT const struct mist_plugin *
mist_plugin_v1(void)
{
	return &plugin;
}
