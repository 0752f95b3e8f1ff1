/*
 * ping.c -- `mist ping`: round trips or message rate between two agents.
 *
 * The agent named by --agent does the work: it sends actor messages over its
 * encrypted link to the target node's echo actor and reports what it
 * measured.  The client only asks and prints.
 */
#include "config.h"
#include "actors/admin.h"
#include "actors/msgtype.h"
#include "cmd/cmd.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"

#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: mist ping --agent IP:PORT --key FILE [OPTIONS] NODE\n"
	"\n"
	"Has the agent send actor messages to NODE (a node id from `mist\n"
	"members`, or a node name) over their encrypted link, and prints what\n"
	"it measured.\n"
	"\n"
	"  --count N     messages (default 10)\n"
	"  --size BYTES  payload bytes per message (default 100)\n"
	"  --flood       one-way messages as fast as the link takes them, and\n"
	"                report the rate (default: request/response round trips,\n"
	"                each reply checked against what was sent)\n"
	"  --format F    table (default) or json\n";

/* Finds a node id by name through the members list. */
static int
resolve(struct conn *conn, const char *target, uint64_t *node)
{
	char *end;
	if (strlen(target) == 16) {
		*node = strtoull(target, &end, 16);
		if (*end == '\0')
			return 0;
	}
	struct msg *reply;
	int rc = conn_request(conn, ACTOR_SWIM, MSG_MEMBERS, NULL, 0, &reply);
	if (rc != 0)
		return rc;
	struct mp_cur c;
	uint32_t n;
	struct member_row r;
	rc = MIST_ENOTFOUND;
	mp_cur_init(&c, reply->body, reply->len);
	if (mp_read_array(&c, &n) != 0)
		n = 0;
	for (uint32_t i = 0; i < n && rc == MIST_ENOTFOUND &&
			     member_row_read(&c, &r) == 0; i++)
		if (strcmp(r.name, target) == 0) {
			*node = strtoull(r.id, NULL, 16);
			rc = 0;
		}
	msg_delete(reply);
	return rc;
}

int
cmd_ping(int argc, char **argv)
{
	enum { OPT_COUNT = CMD_OPT_OWN, OPT_SIZE, OPT_FLOOD };
	static const struct option opts[] = {
		CMD_COMMON_OPTIONS,
		{"count", required_argument, 0, OPT_COUNT},
		{"size", required_argument, 0, OPT_SIZE},
		{"flood", no_argument, 0, OPT_FLOOD},
		{0, 0, 0, 0}};
	struct cmd_common co = {0};
	unsigned long count = 10, size = 100;
	bool flood = false;
	char *end;
	int c, r;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_COUNT:
			count = strtoul(optarg, &end, 10);
			if (*end || count == 0 || count > ADMIN_PING_MAX_COUNT) {
				fprintf(stderr, "mist ping: --count must be 1..%u\n",
					ADMIN_PING_MAX_COUNT);
				return EXIT_USAGE;
			}
			break;
		case OPT_SIZE:
			size = strtoul(optarg, &end, 10);
			if (*end || size < 4 || size > ADMIN_PING_MAX_SIZE) {
				fprintf(stderr, "mist ping: --size must be 4..%u\n",
					ADMIN_PING_MAX_SIZE);
				return EXIT_USAGE;
			}
			break;
		case OPT_FLOOD: flood = true; break;
		default:
			if ((r = cmd_common_opt(&co, c, "ping", usage)) >= 0)
				return r;
		}
	}
	const char *agent = co.agent, *key = co.key;
	if (!flood && count > ADMIN_PING_MAX_RTTS) {
		fprintf(stderr, "mist ping: --count is at most %u without --flood\n",
			ADMIN_PING_MAX_RTTS);
		return EXIT_USAGE;
	}
	bool json = co.json;
	if (optind + 1 != argc || agent == NULL || key == NULL) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct conn conn;
	if (cmd_connect(&conn, agent, key) != 0)
		return EXIT_RUNTIME;
	/* a flood of many messages may take a while: scale the wait */
	conn.timeout_ms = 10000 + (int)(count / 50);
	uint64_t node;
	int rc = resolve(&conn, argv[optind], &node);
	if (rc != 0) {
		fprintf(stderr, "mist ping: cannot resolve node '%s': %s\n",
			argv[optind],
			rc == MIST_EAUTH ? "the agent refused the handshake "
					   "(is this the cluster's key?)"
					 : mist_strerror(rc));
		conn_close(&conn);
		return EXIT_RUNTIME;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 4);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint64(&pk, node);
	mp_pack_str(&pk, "count");
	msgpack_pack_uint64(&pk, count);
	mp_pack_str(&pk, "size");
	msgpack_pack_uint64(&pk, size);
	mp_pack_str(&pk, "flood");
	if (flood)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	struct msg *reply = NULL;
	rc = conn_request(&conn, ACTOR_ADMIN, MSG_PING, b.data, (uint32_t)b.len,
			  &reply);
	buf_destroy(&b);
	conn_close(&conn);
	if (rc == 0 && reply->status != 0)
		rc = reply->status;
	if (rc != 0) {
		fprintf(stderr, "mist ping: %s\n", mist_strerror(rc));
		if (reply)
			msg_delete(reply);
		return EXIT_RUNTIME;
	}
	/* the reply is a flat map of unsigned numbers */
	struct mp_cur cur;
	uint32_t n;
	mp_cur_init(&cur, reply->body, reply->len);
	if (mp_read_map(&cur, &n) != 0)
		n = 0;
	uint64_t count_done = 0, errors = 0, elapsed = 1;
	if (json)
		putchar('{');
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		uint64_t v;
		if (mp_read_str(&cur, &k, &kl) != 0 || mp_read_uint(&cur, &v) != 0)
			break;
		if (mp_str_eq(k, kl, "count"))
			count_done = v;
		else if (mp_str_eq(k, kl, "errors"))
			errors = v;
		else if (mp_str_eq(k, kl, "elapsed_ns"))
			elapsed = v ? v : 1;
		if (json)
			printf("%s\"%.*s\":%" PRIu64, i ? "," : "", (int)kl, k, v);
		else if (kl > 3 && memcmp(k + kl - 3, "_ns", 3) == 0)
			printf("%-.*s_us %.1f\n", (int)kl - 3, k, (double)v / 1e3);
		else
			printf("%-.*s %" PRIu64 "\n", (int)kl, k, v);
	}
	double rate = (double)count_done * 1e9 / (double)elapsed;
	if (json)
		printf(",\"rate\":%.0f}\n", rate);
	else
		printf("rate_per_s %.0f\n", rate);
	msg_delete(reply);
	if (errors != 0) {
		fprintf(stderr, "mist ping: %" PRIu64 " replies differed from "
			"what was sent\n", errors);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
