/*
 * hostfns.c -- add-on functions that use the host API (mist_plugin.h's
 * mist_docs), for tests/integration/test_hostapi.c, tests/unit/
 * test_hostcall.c and the read1-vs-hello measurement:
 *
 *   read1       {cls?, id}         GET the object (cls: "Item" if not
 *                                  given): {status, body}
 *   crud        {cls}              create, get, update, get, delete, get:
 *                                  {statuses: [6 ints], id}
 *   slowread    {cls, id}          host calls 10 ms apart until one fails:
 *                                  {calls, rc} (killed at the deadline
 *                                  first, in practice)
 *   flood       {cls, id, n}       n GETs: {ok, limited, other, failed}
 *   mastercount {cls}              MIST_FN_MASTER: a find's result count,
 *                                  {status, count}
 *   twice       {cls, id}          two GETs in a row: {a, b} statuses
 *   jobdocs     (a job's task)     mist_docs on a call without host API:
 *                                  the rc
 *   anypath     {method, path, body?}  mist_docs as given: {status, body}
 *   spinafter   {cls, id}          one host call, then spins for ever
 *   burn        {cls, id, n}       a host call, n ms of CPU, a host call:
 *                                  {a, b} statuses
 *   findid      {cls, id}          mist_doc_find where {"id": id} limit 1:
 *                                  {status}
 *   read1d      {cls?, id}         read1, declaring the read
 *                                  "/classes/Item/{id}" (mist_plugin.h's
 *                                  declared reads): contrib/bench's case B
 *   bump        {id}               declares "/classes/Item/{id}"; GET,
 *                                  PUT n += 1, GET: {a, b, c} statuses
 *                                  and the last GET's body
 *   getuser     {uid}              declares "/users/{uid}"; GET /users/uid:
 *                                  {status, body}
 *
 * Outputs are msgpack maps.  The JSON bodies are read with a few string
 * searches: a test plugin, not an example of parsing.
 */
#include "mist_plugin.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARG_MAX 128

struct args {
	char cls[ARG_MAX], id[ARG_MAX], uid[ARG_MAX], method[ARG_MAX],
		path[4 * ARG_MAX], body[4 * ARG_MAX];
	long n;
};

static int
args_read(struct mist_call *c, struct args *a)
{
	memset(a, 0, sizeof(*a));
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)c->args.data, c->args.len,
				NULL) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&u);
		mist_fail(c, "params must be an object");
		return -1;
	}
	const msgpack_object_map *m = &u.data.via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		char *dst = NULL;
		size_t cap = ARG_MAX;
		if (k->via.str.size == 3 && memcmp(k->via.str.ptr, "cls", 3) == 0)
			dst = a->cls;
		else if (k->via.str.size == 6 &&
			 memcmp(k->via.str.ptr, "method", 6) == 0)
			dst = a->method;
		else if (k->via.str.size == 4 &&
			 memcmp(k->via.str.ptr, "path", 4) == 0)
			dst = a->path, cap = sizeof(a->path);
		else if (k->via.str.size == 4 &&
			 memcmp(k->via.str.ptr, "body", 4) == 0)
			dst = a->body, cap = sizeof(a->body);
		else if (k->via.str.size == 2 &&
			 memcmp(k->via.str.ptr, "id", 2) == 0)
			dst = a->id;
		else if (k->via.str.size == 3 &&
			 memcmp(k->via.str.ptr, "uid", 3) == 0)
			dst = a->uid;
		else if (k->via.str.size == 1 && k->via.str.ptr[0] == 'n' &&
			 v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			a->n = (long)v->via.u64;
		if (dst && v->type == MSGPACK_OBJECT_STR &&
		    v->via.str.size < cap) {
			memcpy(dst, v->via.str.ptr, v->via.str.size);
			dst[v->via.str.size] = '\0';
		}
	}
	msgpack_unpacked_destroy(&u);
	return 0;
}

struct out {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void
out_init(struct out *o, uint32_t fields)
{
	msgpack_sbuffer_init(&o->sb);
	msgpack_packer_init(&o->pk, &o->sb, msgpack_sbuffer_write);
	msgpack_pack_map(&o->pk, fields);
}

static void
out_key(struct out *o, const char *k)
{
	msgpack_pack_str(&o->pk, strlen(k));
	msgpack_pack_str_body(&o->pk, k, strlen(k));
}

static void
out_int(struct out *o, const char *k, long v)
{
	out_key(o, k);
	msgpack_pack_int64(&o->pk, v);
}

static void
out_str(struct out *o, const char *k, const char *s, size_t len)
{
	out_key(o, k);
	msgpack_pack_str(&o->pk, len);
	msgpack_pack_str_body(&o->pk, s, len);
}

static int
out_done(struct mist_call *c, struct out *o)
{
	int rc = mist_output(c, 0, o->sb.data, o->sb.size);
	msgpack_sbuffer_destroy(&o->sb);
	return rc;
}

static int
read1(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	if (a.cls[0] == '\0') /* contrib/bench/http.sh's case B: {"id"} */
		memcpy(a.cls, "Item", sizeof("Item"));
	struct mist_doc_reply r;
	int rc = mist_doc_get(c, a.cls, a.id, &r);
	struct out o;
	out_init(&o, 2);
	out_int(&o, "status", rc == 0 ? r.status : rc);
	out_str(&o, "body", rc == 0 ? r.body : "", rc == 0 ? r.len : 0);
	return out_done(c, &o);
}

/* The "objectId" of a create's answer, into @a id. */
static void
object_id(const char *body, char *id, size_t cap)
{
	const char *p = strstr(body, "\"objectId\":\"");
	id[0] = '\0';
	if (p == NULL)
		return;
	p += strlen("\"objectId\":\"");
	size_t n = 0;
	while (p[n] && p[n] != '"' && n + 1 < cap)
		n++;
	memcpy(id, p, n);
	id[n] = '\0';
}

static int
crud(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	long st[6];
	char id[ARG_MAX] = "";
	struct mist_doc_reply r;
	int rc = mist_doc_create(c, a.cls, "{\"n\":1,\"who\":\"fn\"}", &r);
	st[0] = rc ? rc : r.status;
	if (rc == 0)
		object_id(r.body, id, sizeof(id));
	if (id[0] == '\0') {
		mist_fail(c, "create gave no objectId");
		return -1;
	}
	rc = mist_doc_get(c, a.cls, id, &r);
	st[1] = rc ? rc : r.status;
	rc = mist_doc_update(c, a.cls, id, "{\"n\":2}", &r);
	st[2] = rc ? rc : r.status;
	rc = mist_doc_get(c, a.cls, id, &r);
	st[3] = rc ? rc : (r.status == 200 && strstr(r.body, "\"n\":2") ? 200
									  : 0);
	rc = mist_doc_delete(c, a.cls, id, &r);
	st[4] = rc ? rc : r.status;
	rc = mist_doc_get(c, a.cls, id, &r);
	st[5] = rc ? rc : r.status;
	struct out o;
	out_init(&o, 2);
	out_key(&o, "statuses");
	msgpack_pack_array(&o.pk, 6);
	for (int i = 0; i < 6; i++)
		msgpack_pack_int64(&o.pk, st[i]);
	out_str(&o, "id", id, strlen(id));
	return out_done(c, &o);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int
slowread(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	long calls = 0;
	int rc;
	for (;;) {
		struct mist_doc_reply r;
		rc = mist_doc_get(c, a.cls, a.id, &r);
		if (rc != 0)
			break;
		calls++;
		sleep_ms(10);
	}
	struct out o;
	out_init(&o, 2);
	out_int(&o, "calls", calls);
	out_int(&o, "rc", rc);
	return out_done(c, &o);
}

static int
flood(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	long ok = 0, limited = 0, other = 0, failed = 0;
	for (long i = 0; i < a.n; i++) {
		struct mist_doc_reply r;
		int rc = mist_doc_get(c, a.cls, a.id, &r);
		if (rc != 0)
			failed++;
		else if (r.status == 200)
			ok++;
		else if (r.status == 429)
			limited++;
		else
			other++;
	}
	struct out o;
	out_init(&o, 4);
	out_int(&o, "ok", ok);
	out_int(&o, "limited", limited);
	out_int(&o, "other", other);
	out_int(&o, "failed", failed);
	return out_done(c, &o);
}

static int
mastercount(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	struct mist_doc_reply r;
	int rc = mist_doc_find(c, a.cls, NULL, 0, &r);
	long count = 0;
	if (rc == 0)
		for (const char *p = r.body; (p = strstr(p, "\"objectId\"")); p++)
			count++;
	struct out o;
	out_init(&o, 2);
	out_int(&o, "status", rc == 0 ? r.status : rc);
	out_int(&o, "count", count);
	return out_done(c, &o);
}

static int
twice(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	struct mist_doc_reply r1, r2;
	int rc1 = mist_doc_get(c, a.cls, a.id, &r1);
	long s1 = rc1 ? rc1 : r1.status;
	int rc2 = mist_doc_get(c, a.cls, a.id, &r2);
	struct out o;
	out_init(&o, 2);
	out_int(&o, "a", s1);
	out_int(&o, "b", rc2 ? rc2 : r2.status);
	return out_done(c, &o);
}

/* As a job's task: no host API.  Its output is the rc, as msgpack. */
static int
jobdocs(struct mist_call *c)
{
	struct mist_doc_reply r;
	int rc = mist_docs(c, "GET", "/classes/X/abc", NULL, 0, &r);
	uint8_t v = (uint8_t)(rc < 0 && rc >= -32 ? (0xe0 | (32 + rc)) : 0);
	/* a negative fixint: rc itself */
	return mist_output(c, 0, &v, 1);
}

static int
anypath(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	struct mist_doc_reply r;
	int rc = mist_docs(c, a.method, a.path, a.body, strlen(a.body), &r);
	struct out o;
	out_init(&o, 2);
	out_int(&o, "status", rc == 0 ? r.status : rc);
	out_str(&o, "body", rc == 0 ? r.body : "", rc == 0 ? r.len : 0);
	return out_done(c, &o);
}

static int
findid(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	char where[2 * ARG_MAX];
	snprintf(where, sizeof(where), "{\"id\":\"%s\"}", a.id);
	struct mist_doc_reply r;
	int rc = mist_doc_find(c, a.cls, where, 1, &r);
	struct out o;
	out_init(&o, 1);
	out_int(&o, "status", rc == 0 ? r.status : rc);
	return out_done(c, &o);
}

static int
spinafter(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	struct mist_doc_reply r;
	mist_doc_get(c, a.cls, a.id, &r);
	for (volatile unsigned long i = 0;; i++)
		;
	return 0;
}

static uint64_t
cpu_ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
burn(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	struct mist_doc_reply r;
	int rc1 = mist_doc_get(c, a.cls, a.id, &r);
	long s1 = rc1 ? rc1 : r.status;
	uint64_t t0 = cpu_ms_now();
	while (cpu_ms_now() - t0 < (uint64_t)a.n)
		;
	int rc2 = mist_doc_get(c, a.cls, a.id, &r);
	struct out o;
	out_init(&o, 2);
	out_int(&o, "a", s1);
	out_int(&o, "b", rc2 ? rc2 : r.status);
	return out_done(c, &o);
}

static int
bump(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	struct mist_doc_reply r;
	int st[3];
	int rc = mist_doc_get(c, "Item", a.id, &r);
	st[0] = rc ? rc : r.status;
	rc = mist_doc_update(c, "Item", a.id,
			     "{\"n\":{\"__op\":\"Increment\",\"amount\":1}}", &r);
	st[1] = rc ? rc : r.status;
	rc = mist_doc_get(c, "Item", a.id, &r);
	st[2] = rc ? rc : r.status;
	struct out o;
	out_init(&o, 4);
	out_int(&o, "a", st[0]);
	out_int(&o, "b", st[1]);
	out_int(&o, "c", st[2]);
	out_str(&o, "body", rc == 0 ? r.body : "", rc == 0 ? r.len : 0);
	return out_done(c, &o);
}

static int
getuser(struct mist_call *c)
{
	struct args a;
	if (args_read(c, &a) != 0)
		return -1;
	char path[2 * ARG_MAX];
	snprintf(path, sizeof(path), "/users/%s", a.uid);
	struct mist_doc_reply r;
	int rc = mist_docs(c, "GET", path, NULL, 0, &r);
	struct out o;
	out_init(&o, 2);
	out_int(&o, "status", rc == 0 ? r.status : rc);
	out_str(&o, "body", rc == 0 ? r.body : "", rc == 0 ? r.len : 0);
	return out_done(c, &o);
}

static const struct mist_function functions[] = {
	{"read1", read1},	{"crud", crud},		  {"slowread", slowread},
	{"flood", flood},	{"mastercount", mastercount}, {"twice", twice},
	{"jobdocs", jobdocs},	{"anypath", anypath},	  {"findid", findid},
	{"spinafter", spinafter}, {"burn", burn},
	{"read1d", read1},	{"bump", bump},		  {"getuser", getuser},
};
static const uint32_t flags[] = {0, 0, 0, 0, MIST_FN_MASTER, 0, 0,
				 0, 0, 0, 0, 0, 0, 0};
/* declared reads (ABI 3), parallel to functions */
static const char *const reads[] = {
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	"/classes/Item/{id}", "/classes/Item/{id}", "/users/{uid}"};

static const struct mist_plugin plugin = {
	.abi = MIST_PLUGIN_ABI, .name = "hostfns", .functions = functions,
	.nfunctions = sizeof(functions) / sizeof(functions[0]),
	.flags = flags, .reads = reads};

MIST_PLUGIN_EXPORT const struct mist_plugin *mist_plugin_v1(void);

const struct mist_plugin *
mist_plugin_v1(void)
{
	return &plugin;
}
