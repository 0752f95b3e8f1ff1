/*
 * main.c -- the mist binary: one executable, subcommands.
 */
#include "config.h"
#include "cmd/cmd.h"
#include "mist.h"
#include "net/identity.h"

#include <ctype.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: mist COMMAND [OPTIONS]\n"
	"\n"
	"mist is a distributed runtime for fog-to-cloud computing: every\n"
	"machine runs `mist agent`; agents link over encrypted channels.\n"
	"\n"
	"commands:\n"
	"  keygen     print a new cluster key\n"
	"  agent      run a node in the foreground\n"
	"  members    list the nodes an agent knows\n"
	"  ping       measure round trips or message rate between two agents\n"
	"  keys       list, install, use or remove cluster keys on every member\n"
	"  creds      create, list or revoke client credentials (libmist)\n"
	"  apps       create, list, show, change or delete Parse apps\n"
	"  status     list an agent's jobs and their progress\n"
	"  job watch  follow one job's progress live\n"
	"  executor   (internal) a worker process started by the agent\n"
	"\n"
	"Run `mist COMMAND --help` for a command's options.\n"
	"Exit codes: 0 ok, 1 runtime error, 2 usage error.\n";

void
cmd_print_version(void)
{
	printf("mist %s\n", mist_version());
}

int
cmd_read_key(const char *path, uint8_t key[32])
{
	int rc = cluster_key_read(path, key);
	if (rc != 0) {
		fprintf(stderr, "mist: cannot read cluster key %s: %s\n", path,
			rc == MIST_EPROTO ? "not a key (expected 64 hex digits "
					    "from `mist keygen`)"
					  : "cannot open the file");
		return -1;
	}
	return 0;
}

int
cmd_connect(struct conn *c, const char *agent, const char *keyfile)
{
	uint8_t key[32];
	if (cmd_read_key(keyfile, key) != 0)
		return -1;
	int rc = conn_open(c, agent, key, 10000);
	sodium_memzero(key, sizeof(key));
	if (rc != 0) {
		const char *why = rc == MIST_EAUTH
					  ? "the agent refused the handshake "
					    "(is this the cluster's key?)"
					  : mist_strerror(rc);
		fprintf(stderr, "mist: cannot talk to the agent at %s: %s\n",
			agent, why);
		conn_close(c);
		return -1;
	}
	return 0;
}

int
cmd_request(const char *cmd, const char *agent, const char *keyfile,
	    uint32_t actor, uint32_t type, const void *body, uint32_t len,
	    int timeout_ms, struct msg **reply)
{
	struct conn conn;
	*reply = NULL;
	if (cmd_connect(&conn, agent, keyfile) != 0)
		return -1;
	if (timeout_ms > 0)
		conn.timeout_ms = timeout_ms;
	int rc = conn_request(&conn, actor, type, body, len, reply);
	conn_close(&conn);
	if (rc == 0 && (*reply)->status != 0)
		rc = (*reply)->status;
	if (rc == 0)
		return 0;
	fprintf(stderr, "mist %s: %s\n", cmd,
		rc == MIST_EAUTH ? "the agent refused the handshake (is this "
				   "the cluster's key?)"
				 : mist_strerror(rc));
	if (*reply != NULL)
		msg_delete(*reply);
	*reply = NULL;
	return -1;
}

int
cmd_common_opt(struct cmd_common *co, int c, const char *cmd,
	       const char *help)
{
	switch (c) {
	case CMD_OPT_AGENT: co->agent = optarg; return -1;
	case CMD_OPT_KEY: co->key = optarg; return -1;
	case CMD_OPT_FORMAT:
		if (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0) {
			co->json = optarg[0] == 'j';
			return -1;
		}
		fprintf(stderr, "mist %s: --format is table or json\n", cmd);
		return EXIT_USAGE;
	case 'h': fputs(help, stdout); return EXIT_OK;
	case CMD_OPT_VERSION: cmd_print_version(); return EXIT_OK;
	default: fputs(help, stderr); return EXIT_USAGE;
	}
}

int
cmd_op_first(int argc, char **argv, const char *help)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		cmd_print_version();
		return EXIT_OK;
	}
	if (argc >= 2 && argv[1][0] != '-')
		return -1;
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "--help") == 0)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	fputs(help, stderr);
	return EXIT_USAGE;
}

bool
cmd_common_ok(const struct cmd_common *co, const char *help)
{
	if (co->agent && co->key)
		return true;
	fputs(help, stderr);
	return false;
}

void
cmd_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "mist: libsodium failed to initialise\n");
		return EXIT_RUNTIME;
	}
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		cmd_print_version();
		return EXIT_OK;
	}
	argc--, argv++;
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(cmd, "agent") == 0)
		return cmd_agent(argc, argv);
	if (strcmp(cmd, "members") == 0)
		return cmd_members(argc, argv);
	if (strcmp(cmd, "ping") == 0)
		return cmd_ping(argc, argv);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(argc, argv);
	if (strcmp(cmd, "creds") == 0)
		return cmd_creds(argc, argv);
	if (strcmp(cmd, "apps") == 0)
		return cmd_apps(argc, argv);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc, argv);
	if (strcmp(cmd, "job") == 0)
		return cmd_job(argc, argv);
	if (strcmp(cmd, "executor") == 0)
		return cmd_executor(argc, argv);
	fprintf(stderr, "mist: unknown command '%s'\n\n%s", cmd, usage);
	return EXIT_USAGE;
}
