/*
 * test_apps.c -- the app table on real agents (processes on loopback,
 * port 0), driven through `mist apps` as an operator would:
 *   - an app created on one agent is shown by another with the same keys;
 *     a set there (rotating the keys) reaches the first; a delete on the
 *     second makes it gone on the first;
 *   - a restarted agent still has its apps (LMDB) and still knows which
 *     were deleted; a member that joins later gets both from it;
 *   - homes: a member running --docs none is refused as a --home and never
 *     picked; without --home the alive documents hosts share the apps; a
 *     killed member is no home, named or picked; a set moves the home with
 *     the same checks;
 *   - bad input: refused by the command before asking (exit 2), or by the
 *     agent with its reason (exit 1) -- and the agent checks on its own,
 *     for a request that did not come through the command.
 */
#include "actors/msgtype.h"
#include "client/conn.h"
#include "json.h"
#include "mist.h"
#include "proc.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/hex.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounded waits: 200 polls 50 ms apart, 10 s for gossip and puts. */
#define T_POLLS 200
#define T_POLL_US 50000

struct agent {
	char name[16];
	char dir[512], log[512], addr[64];
	pid_t pid;
};

static char *tmp;
static char keyfile[512], keyhex[65];
static struct agent ag[3];

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	tmp = tu_tmpdir();
	snprintf(keyfile, sizeof(keyfile), "%s/cluster.key", tmp);
	cr_assert_eq(proc_keygen(keyfile, keyhex), 0);
	memset(ag, 0, sizeof(ag));
	strcpy(ag[0].name, "a");
	strcpy(ag[1].name, "b");
	strcpy(ag[2].name, "c");
}

static void
teardown(void)
{
	for (int i = 0; i < 3; i++)
		if (ag[i].pid > 0)
			proc_stop(ag[i].pid, SIGKILL, 5000);
	tu_rmrf(tmp);
	free(tmp);
}

TestSuite(apps, .init = setup, .fini = teardown, .timeout = 180);

/* Starts @a a (its data directory kept across restarts), linked to
 * @a join if not NULL, with --docs @a docs if not NULL. */
static void
agent_start(struct agent *a, const char *join, const char *docs)
{
	snprintf(a->dir, sizeof(a->dir), "%s/%s", tmp, a->name);
	snprintf(a->log, sizeof(a->log), "%s/%s.log", tmp, a->name);
	char path[600];
	snprintf(path, sizeof(path), "%s/agent.addr", a->dir);
	unlink(path);
	char *argv[20] = {(char *)proc_mist(), "agent", "--data", a->dir,
			  "--key", keyfile, "--bind", "127.0.0.1:0", "--name",
			  a->name};
	int n = 10;
	if (join) {
		argv[n++] = "--join";
		argv[n++] = (char *)join;
	}
	if (docs) {
		argv[n++] = "--docs";
		argv[n++] = (char *)docs;
	}
	argv[n] = NULL;
	a->pid = proc_start(argv, a->log);
	cr_assert_eq(proc_wait_file(path, a->addr, sizeof(a->addr), 30000), 0,
		     "agent %s did not start (see %s)", a->name, a->log);
}

/* SIGTERM: exits 0 (under ASan: with nothing leaked). */
static void
agent_stop(struct agent *a)
{
	cr_assert_eq(proc_stop(a->pid, SIGTERM, 20000), 0,
		     "%s exits 0 (see %s)", a->name, a->log);
	a->pid = 0;
}

/*
 * Runs `mist apps ARGS... --agent A --key K` (NULL-terminated ARGS);
 * stdout and stderr together in *@a out (the caller frees; may be NULL).
 * The exit code.
 */
static int
apps(const struct agent *a, char **out, ...)
{
	char *argv[40] = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1",
			  (char *)proc_mist(), "apps"};
	int n = 5;
	va_list ap;
	va_start(ap, out);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
		argv[n++] = (char *)s;
	va_end(ap);
	if (a != NULL) {
		argv[n++] = "--agent";
		argv[n++] = (char *)a->addr;
		argv[n++] = "--key";
		argv[n++] = keyfile;
	}
	argv[n] = NULL;
	char *text = NULL;
	int rc = proc_run(argv, &text, 20000);
	if (out)
		*out = text;
	else
		free(text);
	return rc;
}

/* `show ID --format json` on @a a: the app, or NULL (*@a out: what it
 * printed, if @a out). */
static struct json *
show(const struct agent *a, const char *id, char **out)
{
	char *text;
	int rc = apps(a, &text, "show", id, "--format", "json", NULL);
	struct json *j = rc == 0 ? json_parse(text) : NULL;
	if (out)
		*out = text;
	else
		free(text);
	return j;
}

static const char *
jstr(const struct json *j, const char *key)
{
	const struct json *v = json_get(j, key);
	cr_assert(v != NULL && v->type == JSON_STR, "no string %s", key);
	return v->str;
}

static double
jnum(const struct json *j, const char *key)
{
	const struct json *v = json_get(j, key);
	cr_assert(v != NULL && v->type == JSON_NUM, "no number %s", key);
	return v->num;
}

static const char *const key_names[] = {"restKey", "javascriptKey",
					"clientKey", "masterKey"};

/* The four keys of @a x and @a y are the same (or, @a same false, all
 * different). */
static void
keys_compare(const struct json *x, const struct json *y, bool same)
{
	for (int i = 0; i < 4; i++) {
		const char *kx = jstr(x, key_names[i]), *ky = jstr(y, key_names[i]);
		cr_assert_eq(strlen(kx), 64, "%s: %s", key_names[i], kx);
		cr_assert_eq(strcmp(kx, ky) == 0, same, "%s: %s vs %s",
			     key_names[i], kx, ky);
	}
}

/* An app created on @a a from the JSON it printed. */
static struct json *
create(const struct agent *a, const char *name, const char *id)
{
	char *out;
	int rc = id ? apps(a, &out, "create", name, "--id", id, "--format",
			   "json", NULL)
		    : apps(a, &out, "create", name, "--format", "json", NULL);
	cr_assert_eq(rc, 0, "create %s: %s", name, out);
	struct json *j = json_parse(out);
	cr_assert_not_null(j, "%s", out);
	free(out);
	return j;
}

/* `mist members --format json` of @a a. */
static struct json *
members(const struct agent *a)
{
	char *out;
	char *argv[] = {(char *)proc_mist(), "members", "--agent",
			(char *)a->addr, "--key", keyfile, "--format", "json",
			NULL};
	int rc = proc_run(argv, &out, 10000);
	struct json *j = rc == 0 ? json_parse(out) : NULL;
	free(out);
	return j;
}

static int
alive_count(const struct agent *a)
{
	struct json *j = members(a);
	int n = 0;
	for (size_t i = 0; j && i < j->n; i++) {
		const struct json *st = json_get(j->kids[i], "status");
		n += st && strcmp(st->str, "alive") == 0;
	}
	json_free(j);
	return n;
}

static void
wait_alive(const struct agent *a, int want)
{
	int got = -1;
	for (int i = 0; i < T_POLLS && (got = alive_count(a)) != want; i++)
		usleep(T_POLL_US);
	cr_assert_eq(got, want, "%s sees %d alive, wants %d", a->name, got,
		     want);
}

/* Node @a name's 16-hex id, as @a a's members list says. */
static void
node_id(const struct agent *a, const char *name, char out[17])
{
	struct json *j = members(a);
	cr_assert_not_null(j);
	out[0] = '\0';
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(jstr(j->kids[i], "name"), name) == 0)
			snprintf(out, 17, "%s", jstr(j->kids[i], "id"));
	json_free(j);
	cr_assert_eq(strlen(out), 16, "no member %s", name);
}

/* ------------------------------------------------------------ spreading */

Test(apps, spread_set_delete)
{
	agent_start(&ag[0], NULL, NULL);
	agent_start(&ag[1], ag[0].addr, NULL);
	wait_alive(&ag[0], 2);
	wait_alive(&ag[1], 2);

	char *out;
	cr_assert_eq(apps(&ag[0], &out, "create", "Shop", "--id", "shop1",
			  "--rate", "50/s", "--functions", "f1,f2",
			  "--deadline-ms", "2500", "--format", "json", NULL),
		     0);
	struct json *made = json_parse(out);
	cr_assert_not_null(made, "%s", out);
	free(out);
	cr_assert_str_eq(jstr(made, "applicationId"), "shop1");
	cr_assert_eq(jnum(made, "rate"), 50);
	cr_assert_eq(jnum(made, "deadlineMs"), 2500);

	/* the other agent: the same app, the same keys */
	struct json *seen = NULL;
	for (int i = 0; i < T_POLLS && (seen = show(&ag[1], "shop1", NULL)) == NULL;
	     i++)
		usleep(T_POLL_US);
	cr_assert_not_null(seen, "b never got shop1");
	keys_compare(made, seen, true);
	cr_assert_str_eq(jstr(seen, "name"), "Shop");
	cr_assert_eq(jnum(seen, "rate"), 50);
	const struct json *fns = json_get(seen, "functions");
	cr_assert(fns && fns->n == 2 && strcmp(fns->kids[1]->str, "f2") == 0);
	json_free(seen);

	/* set on b, rotating the keys: a sees the new ones */
	cr_assert_eq(apps(&ag[1], &out, "set", "shop1", "--rotate-keys",
			  "--deadline-ms", "3000", "--format", "json", NULL),
		     0, "%s", out);
	struct json *rotated = json_parse(out);
	cr_assert_not_null(rotated, "%s", out);
	free(out);
	keys_compare(made, rotated, false);
	cr_assert_eq(jnum(rotated, "rev"), 2);
	cr_assert_eq(jnum(rotated, "deadlineMs"), 3000);
	cr_assert_eq(jnum(rotated, "rate"), 50, "what set does not name stays");
	for (int i = 0; i < T_POLLS; i++, usleep(T_POLL_US)) {
		seen = show(&ag[0], "shop1", NULL);
		if (seen && jnum(seen, "rev") == 2)
			break;
		json_free(seen);
		seen = NULL;
	}
	cr_assert_not_null(seen, "a never got the set");
	keys_compare(rotated, seen, true);
	cr_assert_eq(jnum(seen, "deadlineMs"), 3000);
	json_free(seen);

	/* delete on b: gone on a */
	cr_assert_eq(apps(&ag[1], NULL, "delete", "shop1", NULL), 0);
	int rc = 0;
	for (int i = 0; i < T_POLLS; i++, usleep(T_POLL_US)) {
		seen = show(&ag[0], "shop1", &out);
		rc = seen == NULL;
		json_free(seen);
		if (rc) {
			cr_assert(strstr(out, "shop1 was deleted"), "%s", out);
			free(out);
			break;
		}
		free(out);
	}
	cr_assert(rc, "a still shows shop1");
	cr_assert_eq(apps(&ag[0], &out, "list", "--format", "json", NULL), 0);
	struct json *l = json_parse(out);
	cr_assert(l && l->type == JSON_ARR && l->n == 0, "%s", out);
	free(out);
	json_free(l);
	json_free(made);
	json_free(rotated);
	agent_stop(&ag[1]);
	agent_stop(&ag[0]);
}

Test(apps, restart_and_late_member)
{
	agent_start(&ag[0], NULL, NULL);
	struct json *keep = create(&ag[0], "Keep", "keep1");
	struct json *drop = create(&ag[0], "Drop", "drop1");
	struct json *anon = create(&ag[0], "Anon", NULL);
	const char *gen = jstr(anon, "applicationId");
	cr_assert_eq(strlen(gen), 20, "a generated id: %s", gen);
	for (const char *p = gen; *p; p++)
		cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
				 "tuvwxyz0123456789", *p), "%s", gen);
	cr_assert_eq(apps(&ag[0], NULL, "delete", "drop1", NULL), 0);
	agent_stop(&ag[0]);

	/* restarted: the apps and the deletion are still there */
	agent_start(&ag[0], NULL, NULL);
	char *out;
	struct json *j = show(&ag[0], "keep1", &out);
	cr_assert_not_null(j, "after a restart: %s", out);
	free(out);
	keys_compare(keep, j, true);
	json_free(j);
	cr_assert_null(show(&ag[0], "drop1", &out));
	cr_assert(strstr(out, "drop1 was deleted"), "%s", out);
	free(out);

	/* a member joining later gets both from a's push */
	agent_start(&ag[2], ag[0].addr, NULL);
	wait_alive(&ag[2], 2);
	j = NULL;
	for (int i = 0; i < T_POLLS && (j = show(&ag[2], "keep1", NULL)) == NULL;
	     i++)
		usleep(T_POLL_US);
	cr_assert_not_null(j, "c never got keep1");
	keys_compare(keep, j, true);
	json_free(j);
	j = show(&ag[2], gen, NULL);
	for (int i = 0; i < T_POLLS && j == NULL; i++, usleep(T_POLL_US))
		j = show(&ag[2], gen, NULL);
	cr_assert_not_null(j, "c never got %s", gen);
	keys_compare(anon, j, true);
	json_free(j);
	bool dead = false;
	for (int i = 0; i < T_POLLS && !dead; i++, usleep(T_POLL_US)) {
		cr_assert_null(show(&ag[2], "drop1", &out));
		dead = strstr(out, "drop1 was deleted") != NULL;
		free(out);
	}
	cr_assert(dead, "c never learnt that drop1 was deleted");
	/* and the deleted id is not reused, here or there */
	cr_assert_eq(apps(&ag[2], &out, "create", "Again", "--id", "drop1",
			  NULL), 1);
	cr_assert(strstr(out, "never reused"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[0], NULL, "create", "Again", "--id", "keep1",
			  NULL), 1);
	json_free(keep);
	json_free(drop);
	json_free(anon);
	agent_stop(&ag[2]);
	agent_stop(&ag[0]);
}

/* ---------------------------------------------------------------- homes */

Test(apps, homes)
{
	agent_start(&ag[0], NULL, NULL);
	agent_start(&ag[1], ag[0].addr, "none");
	agent_start(&ag[2], ag[0].addr, "lmdb");
	wait_alive(&ag[0], 3);
	char ida[17], idb[17], idc[17];
	node_id(&ag[0], "a", ida);
	node_id(&ag[0], "b", idb);
	node_id(&ag[0], "c", idc);
	struct json *mj = members(&ag[0]);
	for (size_t i = 0; i < mj->n; i++) {
		const struct json *d = json_get(mj->kids[i], "docs");
		cr_assert(d && d->type == JSON_BOOL);
		cr_assert_eq(d->num != 0,
			     strcmp(jstr(mj->kids[i], "name"), "b") != 0,
			     "mist members shows docs: %s",
			     jstr(mj->kids[i], "name"));
	}
	json_free(mj);

	char *out;
	cr_assert_eq(apps(&ag[0], &out, "create", "X", "--home", "b", NULL), 1);
	cr_assert(strstr(out, "does not host documents"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[0], &out, "create", "X", "--home", idb, NULL), 1);
	cr_assert(strstr(out, "does not host documents"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[0], &out, "create", "X", "--home", "nosuch",
			  NULL), 1);
	cr_assert(strstr(out, "no alive member nosuch"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[0], &out, "list", NULL), 0);
	cr_assert(strstr(out, " X ") == NULL, "nothing was made: %s", out);
	free(out);

	/* without --home: the documents hosts with the fewest apps, by turns */
	int on_a = 0, on_c = 0;
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "auto%d", i);
		struct json *j = create(&ag[0], name, NULL);
		const char *home = jstr(j, "home");
		cr_assert(strcmp(home, idb) != 0, "homed on b (--docs none)");
		on_a += strcmp(home, ida) == 0;
		on_c += strcmp(home, idc) == 0;
		json_free(j);
	}
	cr_assert_eq(on_a, 2, "a has %d, c %d", on_a, on_c);
	cr_assert_eq(on_c, 2);

	/* named, by name or id */
	struct json *j = NULL;
	cr_assert_eq(apps(&ag[0], &out, "create", "OnC", "--id", "onc",
			  "--home", "c", "--format", "json", NULL), 0, "%s", out);
	j = json_parse(out);
	free(out);
	cr_assert_str_eq(jstr(j, "home"), idc);
	json_free(j);
	cr_assert_eq(apps(&ag[2], &out, "create", "OnA", "--home", ida,
			  "--format", "json", NULL), 0, "%s", out);
	j = json_parse(out);
	free(out);
	cr_assert_str_eq(jstr(j, "home"), ida, "by its id");
	json_free(j);
	/* a set moving an app is checked the same (on c, once it has onc) */
	for (int i = 0; i < T_POLLS && (j = show(&ag[2], "onc", NULL)) == NULL;
	     i++)
		usleep(T_POLL_US);
	cr_assert_not_null(j, "c never got onc");
	json_free(j);
	cr_assert_eq(apps(&ag[2], &out, "set", "onc", "--home", "b", NULL), 1);
	cr_assert(strstr(out, "does not host documents"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[2], &out, "set", "onc", "--home", "c",
			  "--format", "json", NULL), 0, "%s", out);
	j = json_parse(out);
	free(out);
	cr_assert_str_eq(jstr(j, "home"), idc, "this node by its name");
	json_free(j);
	cr_assert_eq(apps(&ag[2], &out, "set", "onc", "--home", "a",
			  "--format", "json", NULL), 0, "%s", out);
	j = json_parse(out);
	free(out);
	cr_assert_str_eq(jstr(j, "home"), ida);
	cr_assert_eq(jnum(j, "rev"), 3);
	json_free(j);

	/* c killed: no longer a home, named or picked */
	cr_assert_eq(proc_stop(ag[2].pid, SIGKILL, 5000), 128 + SIGKILL);
	ag[2].pid = 0;
	wait_alive(&ag[0], 2);
	cr_assert_eq(apps(&ag[0], &out, "create", "Late", "--home", "c", NULL),
		     1);
	cr_assert(strstr(out, "no alive member c") ||
			  strstr(out, "c is suspect, not alive"), "%s", out);
	free(out);
	for (int i = 0; i < 3; i++) {
		j = create(&ag[0], "afterc", NULL);
		cr_assert_str_eq(jstr(j, "home"), ida, "a is the one docs host");
		json_free(j);
	}
	agent_stop(&ag[1]);
	agent_stop(&ag[0]);
}

/* ------------------------------------------------------------ bad input */

Test(apps, bad_input)
{
	agent_start(&ag[0], NULL, NULL);
	char long_name[80];
	memset(long_name, 'n', 64);
	long_name[64] = '\0';
	char many[40 * 4] = "";
	for (int i = 0; i < 33; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%sf%d", i ? "," : "", i);
	/* refused by the command: exit 2, with the rule */
	struct {
		const char *args[6];
		const char *says;
	} usage[] = {
		{{"create", long_name}, "printable"},
		{{"create", "x", "--rate", "abc"}, "bad rate"},
		{{"create", "x", "--rate", "1000001/s"}, "bad rate"},
		{{"create", "x", "--ip-rate", "-1"}, "bad rate"},
		{{"create", "x", "--deadline-ms", "0"}, "1..60000"},
		{{"create", "x", "--deadline-ms", "60001"}, "1..60000"},
		{{"create", "x", "--functions", "a b"}, "no function name"},
		{{"create", "x", "--functions", many}, "at most 32"},
		{{"create", "x", "--master-from", "1.2.3.4/33"}, "ADDR/PREFIX"},
		{{"create", "x", "--id", "bad id!"}, "applicationId"},
		{{"create", "x", "--quota", "2P"}, "--quota"},
		{{"create", "x", "--rotate-keys"}, "does not take"},
		{{"show"}, "which app"},
		{{"show", "a/b"}, "no applicationId"},
		{{"set", "x", "--id", "y"}, "does not take"},
		{{"frob"}, "unknown command"},
		{{"list", "extra"}, "unexpected"},
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		const char *const *a = usage[i].args;
		char *out;
		int rc = apps(&ag[0], &out, a[0], a[1], a[2], a[3], a[4], a[5]);
		cr_assert_eq(rc, 2, "%s %s %s: exit %d: %s", a[0],
			     a[1] ? a[1] : "", a[2] ? a[2] : "", rc, out);
		cr_assert(strstr(out, usage[i].says), "%s %s: says %s", a[0],
			  a[1] ? a[1] : "", out);
		free(out);
	}
	/* refused by the agent: exit 1, with its reason */
	char *out;
	cr_assert_eq(apps(&ag[0], &out, "show", "nosuch", NULL), 1);
	cr_assert(strstr(out, "no app nosuch"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[0], NULL, "create", "One", "--id", "dup", NULL), 0);
	cr_assert_eq(apps(&ag[0], &out, "create", "Two", "--id", "dup", NULL), 1);
	cr_assert(strstr(out, "dup is taken"), "%s", out);
	free(out);
	cr_assert_eq(apps(&ag[0], &out, "delete", "nosuch", NULL), 1);
	cr_assert(strstr(out, "no app nosuch"), "%s", out);
	free(out);
	cr_assert_eq(apps(NULL, &out, "list", NULL), 2, "no --agent: %s", out);
	free(out);

	/* the agent checks on its own: requests that skip the command */
	uint8_t key[32];
	cr_assert_eq(hex_decode(key, 32, keyhex), 0);
	struct conn c;
	cr_assert_eq(conn_open(&c, ag[0].addr, key, 10000), 0);
	struct {
		const char *op, *name;
		const char *num_key;
		uint64_t num;
		int status;
		const char *says;
	} raw[] = {
		{"create", "x", "deadline_ms", 0, MIST_EINVAL, "deadline"},
		{"create", "x", "rate", 2000000, MIST_EINVAL, "rate"},
		{"create", "x", "quota_bytes", UINT64_MAX, MIST_EINVAL, "quota"},
		{"create", "", NULL, 0, MIST_EINVAL, "name"},
		{"create", NULL, NULL, 0, MIST_EINVAL, "needs a name"},
		{"frob", NULL, NULL, 0, MIST_EPROTO, "unknown op"},
		{"put", NULL, NULL, 0, MIST_EPROTO, "needs an app"},
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		struct buf b = BUF_INIT;
		msgpack_packer pk;
		msgpack_packer_init(&pk, &b, buf_msgpack_write);
		msgpack_pack_map(&pk, 1 + (raw[i].name != NULL) +
					      (raw[i].num_key != NULL));
		msgpack_pack_str_with_body(&pk, "op", 2);
		msgpack_pack_str_with_body(&pk, raw[i].op, strlen(raw[i].op));
		if (raw[i].name) {
			msgpack_pack_str_with_body(&pk, "name", 4);
			msgpack_pack_str_with_body(&pk, raw[i].name,
						   strlen(raw[i].name));
		}
		if (raw[i].num_key) {
			msgpack_pack_str_with_body(&pk, raw[i].num_key,
						   strlen(raw[i].num_key));
			msgpack_pack_uint64(&pk, raw[i].num);
		}
		struct msg *reply = NULL;
		cr_assert_eq(conn_request(&c, ACTOR_GATEWAY, MSG_APPS, b.data,
					  (uint32_t)b.len, &reply), 0);
		cr_assert_eq(reply->status, raw[i].status, "%s %s: %d",
			     raw[i].op, raw[i].num_key ? raw[i].num_key : "",
			     reply->status);
		/* the reason: a str */
		cr_assert_geq(reply->len, 1);
		char why[256];
		uint32_t n = 0;
		const uint8_t *p = reply->body;
		if (p[0] >= 0xa0 && p[0] <= 0xbf) {
			n = p[0] & 0x1f;
			p++;
		} else if (p[0] == 0xd9) {
			n = p[1];
			p += 2;
		}
		cr_assert(n > 0 && n < sizeof(why) && n < reply->len);
		memcpy(why, p, n);
		why[n] = '\0';
		cr_assert(strstr(why, raw[i].says), "%s: %s", raw[i].op, why);
		msg_delete(reply);
		buf_destroy(&b);
	}
	conn_close(&c);
	sodium_memzero(key, sizeof(key));
	cr_assert_eq(apps(&ag[0], &out, "list", NULL), 0);
	cr_assert(strstr(out, "dup ") && !strstr(out, " x "),
		  "only dup was made: %s", out);
	free(out);
	agent_stop(&ag[0]);
}

Test(apps, help_version_usage)
{
	char *out;
	cr_assert_eq(apps(NULL, &out, "--help", NULL), 0);
	cr_assert(strstr(out, "usage: mist apps create NAME"), "%s", out);
	cr_assert(strstr(out, "--master-from CIDR"), "%s", out);
	free(out);
	cr_assert_eq(apps(NULL, &out, "create", "--help", NULL), 0);
	cr_assert(strstr(out, "usage: mist apps"), "%s", out);
	free(out);
	cr_assert_eq(apps(NULL, &out, "--version", NULL), 0);
	cr_assert(strncmp(out, "mist ", 5) == 0, "%s", out);
	free(out);
	cr_assert_eq(apps(NULL, NULL, "--no-such-flag", NULL), 2);
	cr_assert_eq(apps(NULL, NULL, "list", "--no-such-flag", NULL), 2);
	cr_assert_eq(apps(NULL, NULL, NULL), 2, "no subcommand");
	/* listed by mist --help, and the agent's --docs by its own */
	char *h[] = {(char *)proc_mist(), "--help", NULL};
	cr_assert_eq(proc_run(h, &out, 5000), 0);
	cr_assert(strstr(out, "  apps  "), "%s", out);
	free(out);
	char *ah[] = {(char *)proc_mist(), "agent", "--help", NULL};
	cr_assert_eq(proc_run(ah, &out, 5000), 0);
	cr_assert(strstr(out, "--docs lmdb|postgres|none"), "%s", out);
	cr_assert(strstr(out, "--docs-url CONNINFO"), "%s", out);
	free(out);
	char *bad[] = {(char *)proc_mist(), "agent", "--data", "/nonexistent",
		       "--key", keyfile, "--docs", "mongo", NULL};
	cr_assert_eq(proc_run(bad, NULL, 5000), 2, "--docs lmdb or none");
}

/* Apps whose maps are large (32 long function names, ~2.3 KiB): more
 * than one list page (64 KiB) holds. */
#define T_BIG_APPS 60

Test(apps, list_pages)
{
	agent_start(&ag[0], NULL, NULL);
	uint8_t key[32];
	cr_assert_eq(hex_decode(key, 32, keyhex), 0);
	struct conn c;
	cr_assert_eq(conn_open(&c, ag[0].addr, key, 10000), 0);
	struct msg *reply;
	for (int i = 0; i < T_BIG_APPS; i++) {
		struct buf b = BUF_INIT;
		msgpack_packer pk;
		msgpack_packer_init(&pk, &b, buf_msgpack_write);
		msgpack_pack_map(&pk, 4);
		msgpack_pack_str_with_body(&pk, "op", 2);
		msgpack_pack_str_with_body(&pk, "create", 6);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "big", 3);
		char id[16];
		snprintf(id, sizeof(id), "big%02d", i);
		msgpack_pack_str_with_body(&pk, "id", 2);
		msgpack_pack_str_with_body(&pk, id, strlen(id));
		msgpack_pack_str_with_body(&pk, "functions", 9);
		msgpack_pack_array(&pk, 32);
		for (int f = 0; f < 32; f++) {
			char fn[64];
			snprintf(fn, sizeof(fn), "%02d_%s", f,
				 "a_rather_long_function_name_for_one_page__x");
			fn[63] = '\0';
			msgpack_pack_str_with_body(&pk, fn, strlen(fn));
		}
		cr_assert_eq(conn_request(&c, ACTOR_GATEWAY, MSG_APPS, b.data,
					  (uint32_t)b.len, &reply), 0);
		cr_assert_eq(reply->status, 0, "create %s: %d", id,
			     reply->status);
		msg_delete(reply);
		buf_destroy(&b);
	}
	/* one page is not all of them */
	uint8_t list[] = {0x81, 0xa2, 'o', 'p', 0xa4, 'l', 'i', 's', 't'};
	cr_assert_eq(conn_request(&c, ACTOR_GATEWAY, MSG_APPS, list,
				  sizeof(list), &reply), 0);
	cr_assert_eq(reply->status, 0);
	cr_assert_eq(reply->body[0], 0xdc, "an array16 of apps");
	uint32_t n = (uint32_t)reply->body[1] << 8 | reply->body[2];
	cr_assert(n > 0 && n < T_BIG_APPS, "a page of %u apps", n);
	cr_assert_leq(reply->len, (64u << 10) + 4096);
	msg_delete(reply);
	conn_close(&c);
	sodium_memzero(key, sizeof(key));
	/* the command reads every page: all of them, once, in order */
	char *out;
	cr_assert_eq(apps(&ag[0], &out, "list", "--format", "json", NULL), 0);
	struct json *j = json_parse(out);
	cr_assert(j && j->type == JSON_ARR, "%.200s", out);
	free(out);
	cr_assert_eq(j->n, T_BIG_APPS);
	for (size_t i = 0; i < j->n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "big%02zu", i);
		cr_assert_str_eq(jstr(j->kids[i], "applicationId"), id);
		cr_assert_eq(json_get(j->kids[i], "restKey"), NULL,
			     "list shows no keys");
		cr_assert_eq(json_get(j->kids[i], "functions")->n, 32);
	}
	json_free(j);
	cr_assert_eq(apps(&ag[0], &out, "list", NULL), 0);
	cr_assert(strstr(out, "big00") && strstr(out, "big59"), "%.300s", out);
	free(out);
	agent_stop(&ag[0]);
}
