/*
 * jobs.c -- the job commands: `mist creds`, `mist status`, `mist job watch`
 * and the internal `mist executor`.
 *
 * The operator commands talk to an agent over an admin connection (the
 * cluster key, like `mist members`); they speak to the data manager and
 * the gateway with the same bodies the gateway forwards for clients,
 * as role admin.
 */
#include "config.h"
#include "data/jobmsg.h"
#include "data/jobs.h"
#include "cmd/cmd.h"
#include "client/conn.h"
#include "exec/exec.h"
#include "mist.h"
#include "net/addr.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/clock.h"

#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_NAME = CMD_OPT_OWN, OPT_ROLE, OPT_ID, OPT_INTERVAL, OPT_MEMORY,
       OPT_CPU, OPT_PLUGIN };

/* Prints one msgpack object as JSON (bounded: the reply was checked). */
static int
mp_print_json(struct mp_cur *c, int depth)
{
	if (mp_cur_left(c) == 0 || depth > MP_MAX_DEPTH)
		return -1;
	uint8_t t = *c->p;
	uint32_t n;
	const char *s;
	uint64_t u;
	int64_t i;
	double d;
	bool b;
	if (mp_peek_nil(c)) {
		mp_read_nil(c);
		fputs("null", stdout);
	} else if (mp_read_bool(c, &b) == 0) {
		fputs(b ? "true" : "false", stdout);
	} else if ((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf) {
		mp_read_map(c, &n);
		putchar('{');
		for (uint32_t k = 0; k < n; k++) {
			if (k)
				putchar(',');
			if (mp_print_json(c, depth + 1) != 0)
				return -1;
			putchar(':');
			if (mp_print_json(c, depth + 1) != 0)
				return -1;
		}
		putchar('}');
	} else if (mp_read_array(c, &n) == 0) {
		putchar('[');
		for (uint32_t k = 0; k < n; k++) {
			if (k)
				putchar(',');
			if (mp_print_json(c, depth + 1) != 0)
				return -1;
		}
		putchar(']');
	} else if (mp_read_str(c, &s, &n) == 0) {
		char *z = strndup(s, n);
		cmd_json_str(z);
		free(z);
	} else if (t == 0xca || t == 0xcb) {
		mp_read_double(c, &d);
		printf("%.17g", d);
	} else if (mp_read_uint(c, &u) == 0) {
		printf("%" PRIu64, u);
	} else if (mp_read_int(c, &i) == 0) {
		printf("%" PRId64, i);
	} else {
		return mp_skip(c) == 0 ? (fputs("null", stdout), 0) : -1;
	}
	return 0;
}

/* ------------------------------------------------------------ executor */

int
cmd_executor(int argc, char **argv)
{
	static const struct option opts[] = {
		{"memory-mb", required_argument, 0, OPT_MEMORY},
		{"cpu-ms", required_argument, 0, OPT_CPU},
		{"plugin", required_argument, 0, OPT_PLUGIN},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	char *plugins[EXEC_MAX_PLUGINS];
	int np = 0, c;
	unsigned long mem = 0, cpu = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_MEMORY: mem = strtoul(optarg, NULL, 10); break;
		case OPT_CPU: cpu = strtoul(optarg, NULL, 10); break;
		case OPT_PLUGIN:
			if (np < EXEC_MAX_PLUGINS)
				plugins[np++] = optarg;
			break;
		case 'h':
			puts("usage: mist executor [--memory-mb N] [--cpu-ms N] "
			     "--plugin PATH...\n\nInternal: started by `mist "
			     "agent` with the socket to the agent as fd 3; runs "
			     "the plugins' functions for it.");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	struct stat st;
	if (fstat(3, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "mist executor: run by `mist agent`, not by hand\n");
		return EXIT_USAGE;
	}
	return executor_main(3, plugins, np, (uint64_t)mem << 20,
			     (uint32_t)cpu);
}

/* --------------------------------------------------------------- creds */

static const char creds_usage[] =
	"usage: mist creds create --name NAME [--role submit|admin] --agent IP:PORT --key FILE\n"
	"       mist creds list --agent IP:PORT --key FILE [--format json]\n"
	"       mist creds revoke --id ID --agent IP:PORT --key FILE\n"
	"\n"
	"Manages the credentials clients (libmist) connect with.  A change made\n"
	"on one agent spreads to every member; `create` prints the credential\n"
	"(mist1:...) once: keep it secret, pass it to mist_connect().\n"
	"Roles: submit (create and run own jobs), admin (any job, job list).\n"
	"\n"
	"  --name NAME       who the credential is for (create)\n"
	"  --role ROLE       submit (default) or admin (create)\n"
	"  --id ID           the credential's id, from `list` (revoke)\n"
	CMD_COMMON_HELP;

/* CREDS create's reply, {"credential": text, "info": {...}}: prints the
 * credential.  0 or -1 (malformed). */
static int
creds_print_created(struct mp_cur *c)
{
	const char *cred;
	uint32_t len;
	const struct mp_field f[] = {
		MP_STR("credential", &cred, &len, true),
	};
	if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0)
		return -1;
	printf("%.*s\n", (int)len, cred);
	return 0;
}

/* CREDS list's reply, an array of cred maps (gateway/creds.c, without
 * the secret): one line each.  0 or -1 (malformed, after the lines of
 * the maps before). */
static int
creds_print_list(struct mp_cur *c)
{
	uint32_t n;
	if (mp_read_array(c, &n) != 0)
		return -1;
	printf("%-16s  %-24s  %-6s  %s\n", "ID", "NAME", "ROLE", "STATUS");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t cid = 0;
		const char *name = "", *role = "";
		uint32_t namelen = 0, rolelen = 0;
		bool revoked = false;
		const struct mp_field f[] = {
			MP_UINT("id", &cid, false),
			MP_STR("name", &name, &namelen, false),
			MP_STR("role", &role, &rolelen, false),
			MP_BOOL("revoked", &revoked, false),
		};
		if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0)
			return -1;
		/* display only: as wide as the columns were */
		char cname[64], crole[16];
		snprintf(cname, sizeof(cname), "%.*s", (int)namelen, name);
		snprintf(crole, sizeof(crole), "%.*s", (int)rolelen, role);
		printf("%016" PRIx64 "  %-24s  %-6s  %s\n", cid, cname, crole,
		       revoked ? "revoked" : "active");
	}
	return 0;
}

int
cmd_creds(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_OPTIONS,
		{"name", required_argument, 0, OPT_NAME},
		{"role", required_argument, 0, OPT_ROLE},
		{"id", required_argument, 0, OPT_ID},
		{0, 0, 0, 0}};
	struct cmd_common co = {0};
	const char *name = NULL, *role = "submit", *idtext = NULL;
	int first = cmd_op_first(argc, argv, creds_usage);
	if (first >= 0)
		return first;
	const char *op = argv[1];
	argc--, argv++;
	int c, r;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME: name = optarg; break;
		case OPT_ROLE: role = optarg; break;
		case OPT_ID: idtext = optarg; break;
		default:
			if ((r = cmd_common_opt(&co, c, "creds", creds_usage)) >= 0)
				return r;
		}
	}
	bool create = strcmp(op, "create") == 0, list = strcmp(op, "list") == 0,
	     revoke = strcmp(op, "revoke") == 0;
	uint64_t id = 0;
	char *end = NULL;
	if (idtext)
		id = strtoull(idtext, &end, 16);
	if ((!create && !list && !revoke) || optind != argc || !co.agent ||
	    !co.key || (create && (!name || (strcmp(role, "submit") != 0 &&
					      strcmp(role, "admin") != 0))) ||
	    (revoke && (!idtext || *end != '\0' || id == 0))) {
		fputs(creds_usage, stderr);
		return EXIT_USAGE;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, create ? 3 : revoke ? 2 : 1);
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, op);
	if (create) {
		mp_pack_str(&pk, "name");
		mp_pack_str(&pk, name);
		mp_pack_str(&pk, "role");
		mp_pack_str(&pk, role);
	}
	if (revoke) {
		mp_pack_str(&pk, "id");
		msgpack_pack_uint64(&pk, id);
	}
	struct msg *reply;
	int rc = cmd_request("creds", co.agent, co.key, ACTOR_GATEWAY,
			     MSG_CREDS, b.data, (uint32_t)b.len, 0, &reply);
	buf_destroy(&b);
	if (rc != 0)
		return EXIT_RUNTIME;
	struct mp_cur cur;
	mp_cur_init(&cur, reply->body, reply->len);
	int out = EXIT_OK;
	if (co.json) {
		mp_print_json(&cur, 0);
		putchar('\n');
	} else if (create) {
		if (creds_print_created(&cur) != 0)
			out = EXIT_RUNTIME;
	} else if (list) {
		if (creds_print_list(&cur) != 0)
			out = EXIT_RUNTIME;
	} else {
		printf("revoked %016" PRIx64 "\n", id);
	}
	if (out != EXIT_OK)
		fputs("mist creds: bad reply\n", stderr);
	msg_delete(reply);
	return out;
}

/* -------------------------------------------------------------- status */

struct jstat {
	uint64_t owner, job;
	char name[64], state[16], error[256]; /* display only: cut */
	uint64_t tasks, waiting, ready, running, done, failed;
	struct {
		uint64_t node;
		char name[64], tier[8];
		uint64_t running, done, oldest_ms;
	} nodes[JOBMSG_STATUS_MAX_NODES];
	uint32_t nnodes, more_nodes;
	uint64_t ready_oldest_ms;
	char ready_why[JOBMSG_WHY_MAX + 1];
	struct {
		uint64_t nodes_lost, failed_over, recomputed, owner_changes;
		uint64_t last_ms;
		char last[JOBMSG_RECOVERY_TEXT_MAX + 1];
	} rec;
};

/* Control characters of a reply's text, shown as '?'. */
static void
jstat_clean(char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* A status map (data/jobmsg.h) at @a c, for display.  0 or -1.  Keys it
 * does not know are skipped (a newer agent); the lengths are bounded by
 * jobmsg_status_read and cut again by the buffers here. */
static int
jstat_read(struct mp_cur *c, struct jstat *j)
{
	struct jobmsg_status_view v;
	memset(j, 0, sizeof(*j));
	if (jobmsg_status_read(c, &v) != 0)
		return -1;
	j->owner = v.owner;
	j->job = v.job;
	snprintf(j->name, sizeof(j->name), "%.*s", (int)v.name_len, v.name);
	snprintf(j->state, sizeof(j->state), "%.*s", (int)v.state_len, v.state);
	snprintf(j->error, sizeof(j->error), "%.*s", (int)v.error_len, v.error);
	j->tasks = v.tasks;
	j->waiting = v.waiting;
	j->ready = v.ready;
	j->running = v.running;
	j->done = v.done;
	j->failed = v.failed;
	j->more_nodes = v.more_nodes;
	j->ready_oldest_ms = v.ready_oldest_ms;
	snprintf(j->ready_why, sizeof(j->ready_why), "%.*s",
		 (int)v.ready_why_len, v.ready_why);
	j->rec.nodes_lost = v.rec.nodes_lost;
	j->rec.failed_over = v.rec.failed_over;
	j->rec.recomputed = v.rec.recomputed;
	j->rec.owner_changes = v.rec.owner_changes;
	j->rec.last_ms = v.rec.last_ms;
	snprintf(j->rec.last, sizeof(j->rec.last), "%.*s",
		 (int)v.rec.last_len, v.rec.last);
	/* jobmsg_status_read bounds nnodes by JOBMSG_STATUS_MAX_NODES */
	for (; j->nnodes < v.nnodes; j->nnodes++) {
		struct jobmsg_status_node_view nv;
		typeof(j->nodes[0]) *nd = &j->nodes[j->nnodes];
		if (jobmsg_status_next_node(&v.nodes, &nv) != 0)
			return -1;
		nd->node = nv.node;
		nd->running = nv.running;
		nd->done = nv.done;
		nd->oldest_ms = nv.oldest_ms;
		snprintf(nd->name, sizeof(nd->name), "%.*s", (int)nv.name_len,
			 nv.name);
		snprintf(nd->tier, sizeof(nd->tier), "%.*s", (int)nv.tier_len,
			 nv.tier);
		jstat_clean(nd->name);
		jstat_clean(nd->tier);
	}
	jstat_clean(j->name);
	jstat_clean(j->error);
	jstat_clean(j->ready_why);
	jstat_clean(j->rec.last);
	return 0;
}

/* A duration for people: 850ms, 3.4s, 2m05s, 1h02m, 3d04h. */
static const char *
jstat_age(uint64_t ms, char *out, size_t size)
{
	uint64_t s = ms / 1000;
	if (ms < 1000)
		snprintf(out, size, "%" PRIu64 "ms", ms);
	else if (ms < 60000)
		snprintf(out, size, "%" PRIu64 ".%" PRIu64 "s", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(out, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s / 60 % 60);
	else
		snprintf(out, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
			 s / 3600 % 24);
	return out;
}

/* The job's summary line (no newline). */
static void
jstat_head(const struct jstat *j, char *out, size_t size)
{
	snprintf(out, size,
		 "%016" PRIx64 "-%016" PRIx64 "  %-14s %-9s %6" PRIu64
		 " tasks: %" PRIu64 " done, %" PRIu64 " running, %" PRIu64
		 " queued, %" PRIu64 " failed",
		 j->owner, j->job, j->name[0] ? j->name : "-", j->state, j->tasks,
		 j->done, j->running, j->waiting + j->ready, j->failed);
}

/* Line @a i of the job's detail below its summary into @a out (no
 * newline): the per-node table (a header, a row per node, the nodes not
 * listed), what waits, the recoveries, the first failure.  False past
 * the last line. */
static bool
jstat_line(const struct jstat *j, uint32_t i, char *out, size_t size)
{
	char a[32];
	if (j->nnodes > 0 && i == 0) {
		snprintf(out, size, "    %-16s %-5s %8s %8s  %s", "NODE", "TIER",
			 "RUNNING", "DONE", "OLDEST RUNNING");
		return true;
	}
	if (j->nnodes > 0)
		i--;
	if (i < j->nnodes) {
		const typeof(j->nodes[0]) *n = &j->nodes[i];
		snprintf(out, size, "    %-16s %-5s %8" PRIu64 " %8" PRIu64 "  %s",
			 n->name, n->tier, n->running, n->done,
			 n->running ? jstat_age(n->oldest_ms, a, sizeof(a)) : "-");
		return true;
	}
	i -= j->nnodes;
	if (j->more_nodes > 0 && i-- == 0) {
		snprintf(out, size, "    (%u more nodes, not listed)", j->more_nodes);
		return true;
	}
	if (j->waiting + j->ready > 0 && i-- == 0) {
		int n = snprintf(out, size, "    waiting: %" PRIu64
				 " for inputs, %" PRIu64 " ready", j->waiting,
				 j->ready);
		if (j->ready && j->ready_oldest_ms && n >= 0 && (size_t)n < size)
			snprintf(out + n, size - (size_t)n, " (oldest for %s%s%s)",
				 jstat_age(j->ready_oldest_ms, a, sizeof(a)),
				 j->ready_why[0] ? ": " : "", j->ready_why);
		return true;
	}
	if (j->rec.nodes_lost + j->rec.failed_over + j->rec.recomputed +
		    j->rec.owner_changes > 0 && i-- == 0) {
		int n = snprintf(out, size, "    recoveries: %" PRIu64
				 " node%s lost, %" PRIu64 " attempt%s failed over, %"
				 PRIu64 " value%s recomputed, %" PRIu64
				 " owner change%s",
				 j->rec.nodes_lost, j->rec.nodes_lost == 1 ? "" : "s",
				 j->rec.failed_over, j->rec.failed_over == 1 ? "" : "s",
				 j->rec.recomputed, j->rec.recomputed == 1 ? "" : "s",
				 j->rec.owner_changes,
				 j->rec.owner_changes == 1 ? "" : "s");
		if (j->rec.last_ms && n >= 0 && (size_t)n < size)
			snprintf(out + n, size - (size_t)n, "; last %s ago: %s",
				 jstat_age(j->rec.last_ms, a, sizeof(a)),
				 j->rec.last);
		return true;
	}
	if (j->error[0] && i-- == 0) {
		snprintf(out, size, "    first failure: %s", j->error);
		return true;
	}
	return false;
}

/* Display lines are cut here: a row of the table, a recovery's words. */
#define JSTAT_LINE_MAX 640

static void
jstat_print(const struct jstat *j)
{
	char line[JSTAT_LINE_MAX];
	jstat_head(j, line, sizeof(line));
	puts(line);
	for (uint32_t i = 0; jstat_line(j, i, line, sizeof(line)); i++)
		puts(line);
}

/* A request as the gateway forwards one, from credential 0 as admin:
 * JOB_LIST's nil (@a owner 0) or JOB_STATUS's [owner, job]. */
static void
admin_body(struct buf *b, uint64_t owner, uint64_t job)
{
	struct buf body = BUF_INIT;
	if (owner != 0)
		jobmsg_job_pack(&body, MSG_JOB_STATUS, owner, job);
	jobmsg_request_pack(b, 0, ROLE_ADMIN, body.data, (uint32_t)body.len);
	buf_destroy(&body);
}

static const char status_usage[] =
	"usage: mist status --agent IP:PORT --key FILE [--here] [--format json]\n"
	"\n"
	"Lists the jobs of the cluster with their progress: done, running,\n"
	"queued and failed tasks; per node (with its tier) the tasks running and\n"
	"done there and how long its oldest running attempt has run; the tasks\n"
	"waiting for inputs and those ready but not placed (how long the oldest\n"
	"has waited, and why: no node offers the function, all are busy, nodes\n"
	"away); and the job's recoveries: nodes lost, attempts failed over,\n"
	"values recomputed, owner changes, and the last one.  Each job is owned\n"
	"by the agent whose gateway accepted it (or the standby that took it\n"
	"over); every member the asked agent sees alive is asked for its own.\n"
	"Ended jobs (done, failed, cancelled, closed) stay listed for an hour.\n"
	"The recoveries are counted over the job's life (a new owner goes on\n"
	"from the last one's counts); owner changes count every takeover and\n"
	"owner restart.\n"
	"\n"
	"  --here        only the jobs the asked agent owns\n"
	"\n" CMD_COMMON_HELP;

#define STATUS_MAX_MEMBERS 1024

/* The agent addresses of the members @a agent sees alive. */
static int
alive_members(const struct cmd_common *co, char (*addrs)[64], int cap)
{
	struct msg *reply;
	if (cmd_request("status", co->agent, co->key, ACTOR_SWIM, MSG_MEMBERS,
			NULL, 0, 0, &reply) != 0)
		return -1;
	struct mp_cur c;
	uint32_t n;
	int got = 0;
	struct member_row r;
	mp_cur_init(&c, reply->body, reply->len);
	if (mp_read_array(&c, &n) != 0)
		n = 0;
	for (uint32_t i = 0; i < n && got < cap && member_row_read(&c, &r) == 0; i++)
		if (strcmp(r.status, "alive") == 0 && r.addr[0])
			snprintf(addrs[got++], 64, "%s", r.addr);
	msg_delete(reply);
	return got;
}

/* Prints the jobs in one JOB_LIST reply; returns how many, or -1. */
static int
status_print(const struct msg *reply, bool json, bool *first)
{
	struct mp_cur cur;
	uint32_t n;
	mp_cur_init(&cur, reply->body, reply->len);
	if (mp_read_array(&cur, &n) != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (json) {
			printf("%s", *first ? "" : ",");
			if (mp_print_json(&cur, 0) != 0)
				return -1;
		} else {
			struct jstat *j = malloc(sizeof(*j));
			int rc = j ? jstat_read(&cur, j) : -1;
			if (rc == 0)
				jstat_print(j);
			free(j);
			if (rc != 0)
				return -1;
		}
		*first = false;
	}
	return (int)n;
}

int
cmd_status(int argc, char **argv)
{
	enum { OPT_HERE = CMD_OPT_OWN };
	static const struct option opts[] = {
		CMD_COMMON_OPTIONS, {"here", no_argument, 0, OPT_HERE}, {0, 0, 0, 0}};
	struct cmd_common co = {0};
	bool here = false;
	int c, r;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_HERE)
			here = true;
		else if ((r = cmd_common_opt(&co, c, "status", status_usage)) >= 0)
			return r;
	}
	if (optind != argc || !cmd_common_ok(&co, status_usage))
		return EXIT_USAGE;
	static char addrs[STATUS_MAX_MEMBERS][64];
	int n = 1;
	snprintf(addrs[0], sizeof(addrs[0]), "%s", co.agent);
	if (!here && (n = alive_members(&co, addrs, STATUS_MAX_MEMBERS)) < 0)
		return EXIT_RUNTIME;
	struct buf b = BUF_INIT;
	admin_body(&b, 0, 0);
	bool first = true;
	int jobs = 0, asked = 0;
	if (co.json)
		putchar('[');
	for (int i = 0; i < n; i++) {
		struct msg *reply;
		/* a member that left since, or is unreachable, is said and skipped */
		if (cmd_request("status", addrs[i], co.key, ACTOR_DATA, MSG_JOB_LIST,
				b.data, (uint32_t)b.len, 5000, &reply) != 0)
			continue;
		asked++;
		int k = status_print(reply, co.json, &first);
		msg_delete(reply);
		if (k < 0) {
			fprintf(stderr, "mist status: bad reply from %s\n", addrs[i]);
			continue;
		}
		jobs += k;
	}
	buf_destroy(&b);
	if (co.json)
		puts("]");
	else if (jobs == 0)
		puts("no jobs");
	return asked > 0 ? EXIT_OK : EXIT_RUNTIME;
}

/* ----------------------------------------------------------- job watch */

static const char job_usage[] =
	"usage: mist job watch ID --agent IP:PORT[,IP:PORT...] --key FILE\n"
	"                 [--interval MS]\n"
	"                 [--format json]\n"
	"\n"
	"Follows a job (ID as printed by `mist status` or mist_job_id()) until\n"
	"it ends: its progress line, the per-node table (tier, running, done,\n"
	"the oldest running attempt's age) and what waits, redrawn in place on\n"
	"a terminal, printed again per change otherwise; each recovery as it\n"
	"happens, on a line that stays (\"recovery: node n2 lost: 14 attempts\n"
	"failed over, 3 values recomputed\").  --format json prints the whole\n"
	"status map (as `mist status --format json`) per change.  --agent is\n"
	"the job's owner (the agent whose gateway accepted it) or a list of\n"
	"agents holding it: when the one asked is lost or no longer holds the\n"
	"job (its standby took it over), the next is asked, round after round,\n"
	"until one answers -- for at most 60 s without an answer.  Exit status\n"
	"0 when the job is done, 1 if it failed or was cancelled.\n"
	"\n"
	"  --interval MS     how often to ask (default 500)\n"
	CMD_COMMON_HELP;

/* The agents `mist job watch` may ask (--agent A,B,...), the one it
 * asks now and its connection. */
#define WATCH_LOST_MS 60000 /* no agent answered for this long: give up */
struct watch_agents {
	char addr[ADDR_LIST_MAX][ADDR_TEXT_MAX];
	uint32_t n, at;
	struct conn conn;
	bool open;
};

static void
watch_agents_close(struct watch_agents *wa)
{
	if (wa->open)
		conn_close(&wa->conn);
	wa->open = false;
}

static void
watch_sleep(uint32_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* An answer that another agent, or the same one later, may not give:
 * the agent lost, or not (or no longer) holding the job. */
static bool
watch_elsewhere(int rc)
{
	return rc == MIST_ECLOSED || rc == MIST_ETIMEDOUT ||
	       rc == MIST_EUNREACHABLE || rc == MIST_ENOTFOUND ||
	       rc == MIST_EIO;
}

/*
 * One MSG_JOB_STATUS, from the agent asked now or, if it is lost or does
 * not hold the job, from the next ones in turn, a round of them every
 * 500 ms, until one answers (0, *reply the caller's) or WATCH_LOST_MS
 * pass without an answer.  A job no agent has ever shown (@a seen false)
 * is not waited for: a round that all say "not found" ends it.
 */
static int
watch_ask(struct watch_agents *wa, const uint8_t psk[32], uint64_t owner,
	  uint64_t job, bool seen, struct msg **reply)
{
	uint64_t give_up = clock_mono_ms() + WATCH_LOST_MS;
	uint32_t notfound = 0, tried = 0;
	for (;;) {
		int rc = 0;
		if (!wa->open) {
			rc = conn_open(&wa->conn, wa->addr[wa->at], psk, 5000);
			wa->open = rc == 0;
			if (rc != 0)
				conn_close(&wa->conn);
		}
		if (rc == 0) {
			struct buf b = BUF_INIT;
			admin_body(&b, owner, job);
			*reply = NULL;
			rc = conn_request(&wa->conn, ACTOR_DATA, MSG_JOB_STATUS,
					  b.data, (uint32_t)b.len, reply);
			buf_destroy(&b);
			if (rc == 0 && (*reply)->status != 0)
				rc = (*reply)->status;
			if (rc != 0 && *reply != NULL) {
				msg_delete(*reply);
				*reply = NULL;
			}
		}
		if (rc == 0)
			return 0;
		if (!watch_elsewhere(rc))
			return rc;
		notfound += rc == MIST_ENOTFOUND;
		tried++;
		if (!seen && tried == wa->n && notfound == wa->n)
			return MIST_ENOTFOUND;
		if (clock_mono_ms() >= give_up)
			return rc;
		fprintf(stderr, "mist job: %s: %s; asking %s\n",
			wa->addr[wa->at], mist_strerror(rc),
			wa->addr[(wa->at + 1) % wa->n]);
		watch_agents_close(wa);
		wa->at = (wa->at + 1) % wa->n;
		if (wa->at == 0 || wa->n == 1) {
			watch_sleep(500); /* a round: the takeover takes seconds */
			notfound = tried = 0;
		}
	}
}

/* The terminal's width, less one (a line as wide as the terminal wraps
 * on some); 80 if it does not say. */
static int
term_cols(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col - 1;
	return 79;
}

/* What `mist job watch` showed last. */
struct watch {
	bool first;
	char key[JSTAT_LINE_MAX]; /* what a change is told by */
	uint64_t recoveries;	  /* counted so far, all kinds */
	uint32_t lines;		  /* the block's lines on the terminal */
};

/* The counts a change is told by: the progress, each node's share, the
 * recoveries (not the ages, which change at every look). */
static bool
watch_changed(const struct jstat *j, struct watch *w)
{
	char key[JSTAT_LINE_MAX];
	int n = snprintf(key, sizeof(key), "%s %" PRIu64 " %" PRIu64 " %" PRIu64
			 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			 " %" PRIu64 " %" PRIu64, j->state, j->tasks, j->done,
			 j->running, j->waiting, j->ready, j->failed,
			 j->rec.nodes_lost, j->rec.failed_over, j->rec.recomputed,
			 j->rec.owner_changes);
	for (uint32_t i = 0; i < j->nnodes && n >= 0 && (size_t)n < sizeof(key); i++)
		n += snprintf(key + n, sizeof(key) - (size_t)n, " %" PRIx64 ":%"
			      PRIu64 "/%" PRIu64, j->nodes[i].node,
			      j->nodes[i].running, j->nodes[i].done);
	if (!w->first && strcmp(key, w->key) == 0)
		return false;
	snprintf(w->key, sizeof(w->key), "%s", key);
	return true;
}

/*
 * Shows one look at the job.  A recovery since the last look is said on
 * a line of its own, which stays ("node n2 lost: 14 attempts failed
 * over, 3 values recomputed").  On a terminal the block -- the progress
 * line, the per-node table, what waits -- is redrawn in place at every
 * look (its ages move); otherwise it is printed again when a count
 * changed.
 */
static void
watch_show(const struct jstat *j, struct watch *w, bool tty)
{
	bool first = w->first;
	bool changed = watch_changed(j, w);
	w->first = false;
	uint64_t rec = j->rec.nodes_lost + j->rec.failed_over +
		       j->rec.recomputed + j->rec.owner_changes;
	if (tty && w->lines > 0) /* back to the block's first line */
		printf("\r\033[%uA\033[J", w->lines);
	w->lines = 0;
	if (rec != w->recoveries && !first)
		printf("recovery: %s (in all: %" PRIu64 " node%s lost, %" PRIu64
		       " attempt%s failed over, %" PRIu64 " value%s recomputed, %"
		       PRIu64 " owner change%s)\n",
		       j->rec.last[0] ? j->rec.last : "?", j->rec.nodes_lost,
		       j->rec.nodes_lost == 1 ? "" : "s", j->rec.failed_over,
		       j->rec.failed_over == 1 ? "" : "s", j->rec.recomputed,
		       j->rec.recomputed == 1 ? "" : "s", j->rec.owner_changes,
		       j->rec.owner_changes == 1 ? "" : "s");
	w->recoveries = rec;
	if (!tty && !changed)
		return;
	char line[JSTAT_LINE_MAX];
	unsigned pct = j->tasks ? (unsigned)(100 * j->done / j->tasks) : 0;
	snprintf(line, sizeof(line), "%-9s %3u%%  %" PRIu64 "/%" PRIu64
		 " done, %" PRIu64 " running, %" PRIu64 " queued, %" PRIu64
		 " failed", j->state, pct, j->done, j->tasks, j->running,
		 j->waiting + j->ready, j->failed);
	for (uint32_t i = 0; i == 0 || jstat_line(j, i - 1, line, sizeof(line));
	     i++) {
		if (tty) /* no wrapped lines: the block's height is known */
			printf("%.*s\n", term_cols(), line);
		else
			puts(line);
		w->lines++;
	}
	if (!tty)
		w->lines = 0;
}

int
cmd_job(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_OPTIONS, {"interval", required_argument, 0, OPT_INTERVAL},
		{0, 0, 0, 0}};
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		cmd_print_version();
		return EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "watch") != 0) {
		bool help = argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
					  strcmp(argv[1], "--help") == 0);
		fputs(job_usage, help ? stdout : stderr);
		return help ? EXIT_OK : EXIT_USAGE;
	}
	argc--, argv++;
	struct cmd_common co = {0};
	long interval = 500;
	int c, r;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != OPT_INTERVAL) {
			if ((r = cmd_common_opt(&co, c, "job", job_usage)) >= 0)
				return r;
			continue;
		}
		char *end;
		interval = strtol(optarg, &end, 10);
		if (*end != '\0' || interval < 10 || interval > 60000) {
			fputs("mist job: --interval is 10..60000\n", stderr);
			return EXIT_USAGE;
		}
	}
	uint64_t owner, job;
	char tail;
	struct watch_agents wa = {0};
	if (optind + 1 != argc || !co.agent || !co.key ||
	    sscanf(argv[optind], "%16" SCNx64 "-%16" SCNx64 "%c", &owner, &job,
		   &tail) != 2 ||
	    addr_list_parse(co.agent, wa.addr, &wa.n) != 0) {
		fputs(job_usage, stderr);
		return EXIT_USAGE;
	}
	uint8_t psk[32];
	if (cmd_read_key(co.key, psk) != 0)
		return EXIT_RUNTIME;
	bool tty = isatty(STDOUT_FILENO);
	struct watch seen = {.first = true};
	int status = EXIT_RUNTIME;
	bool held = false; /* an agent has shown the job */
	for (;;) {
		struct msg *reply = NULL;
		int rc = watch_ask(&wa, psk, owner, job, held, &reply);
		if (rc != 0) {
			fprintf(stderr, "mist job: %s%s\n", mist_strerror(rc),
				rc == MIST_ENOTFOUND
					? " (is --agent the job's owner?)"
					: "");
			break;
		}
		held = true;
		struct jstat *js = malloc(sizeof(*js));
		struct mp_cur cur;
		mp_cur_init(&cur, reply->body, reply->len);
		int ok = js ? jstat_read(&cur, js) : -1;
		if (ok == 0 && co.json && watch_changed(js, &seen)) {
			/* the whole status map, a line per change */
			mp_cur_init(&cur, reply->body, reply->len);
			mp_print_json(&cur, 0);
			putchar('\n');
		} else if (ok == 0 && !co.json) {
			watch_show(js, &seen, tty);
		}
		fflush(stdout);
		msg_delete(reply);
		if (ok != 0) {
			free(js);
			fputs("mist job: bad reply\n", stderr);
			break;
		}
		bool ended = strcmp(js->state, "running") != 0;
		if (ended) {
			if (js->error[0])
				fprintf(stderr, "first failure: %s\n", js->error);
			status = strcmp(js->state, "done") == 0 ? EXIT_OK
								: EXIT_RUNTIME;
		}
		free(js);
		if (ended)
			break;
		watch_sleep((uint32_t)interval);
	}
	sodium_memzero(psk, sizeof(psk));
	watch_agents_close(&wa);
	return status;
}
