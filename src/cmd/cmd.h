/*
 * cmd.h -- the subcommands of the mist binary.
 *
 * Exit codes, for every command: 0 ok, 1 runtime error, 2 usage error.
 */
#ifndef MIST_CMD_CMD_H_INCLUDED
#define MIST_CMD_CMD_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "client/conn.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_keygen(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_members(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_creds(int argc, char **argv);
int cmd_apps(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_executor(int argc, char **argv);

/** One member of a MSG_MEMBERS reply, as the commands read it. */
struct member_row {
	char name[64], id[17], addr[64], tier[16], status[16];
	uint64_t inc, cores;
	double load;
	char tags[16][2][64];
	int ntags;
	char functions[256][64]; /* data/meta.h: META_MAX_FUNCTIONS names */
	int nfunctions;
	bool docs; /* hosts apps' documents (data/meta.h) */
};
struct mp_cur;
/** Reads the next member of a MSG_MEMBERS reply array; 0 or -1. */
int member_row_read(struct mp_cur *c, struct member_row *r);

/** Prints "mist VERSION" (for --version). */
void cmd_print_version(void);
/** Reads the cluster key file or prints why not; 0 or -1. */
int cmd_read_key(const char *path, uint8_t key[32]);
/** Opens a client connection or prints why not; 0 or -1. */
int cmd_connect(struct conn *c, const char *agent, const char *keyfile);
/**
 * Connects to @a agent with the key in @a keyfile, sends one request to
 * @a actor and waits for the reply (@a timeout_ms, 0 for the default).  On
 * any failure -- no agent, refused handshake, error reply -- prints why,
 * prefixed by @a cmd, and returns -1; else 0 and *reply (the caller's).
 */
int cmd_request(const char *cmd, const char *agent, const char *keyfile,
		uint32_t actor, uint32_t type, const void *body, uint32_t len,
		int timeout_ms, struct msg **reply);
/*
 * The options every operator command (members, keys, ping, creds, status,
 * job) shares: --agent, --key, --format table|json, --help, --version.
 * A command lists CMD_COMMON_OPTIONS in its getopt table, numbers its own
 * options from CMD_OPT_OWN, handles those, and passes every other getopt
 * result to cmd_common_opt().
 */
struct cmd_common {
	const char *agent, *key;
	bool json;
};

enum { CMD_OPT_AGENT = 256, CMD_OPT_KEY, CMD_OPT_FORMAT, CMD_OPT_VERSION,
       CMD_OPT_OWN };

#define CMD_COMMON_OPTIONS                                                     \
	{"agent", required_argument, 0, CMD_OPT_AGENT},                        \
	{"key", required_argument, 0, CMD_OPT_KEY},                            \
	{"format", required_argument, 0, CMD_OPT_FORMAT},                      \
	{"help", no_argument, 0, 'h'},                                         \
	{"version", no_argument, 0, CMD_OPT_VERSION}

#define CMD_COMMON_HELP                                                        \
	"  --agent IP:PORT   the agent to ask\n"                                \
	"  --key FILE        the cluster key file\n"                            \
	"  --format FMT      table (default) or json\n"                         \
	"  -h, --help        this text\n"                                       \
	"  --version         print the version\n"

/**
 * Handles getopt result @a c (a shared option, --help, --version or an
 * unknown option) for command @a cmd.  Returns -1 to go on parsing, or the
 * exit status to return at once (help, version, usage errors).
 */
int cmd_common_opt(struct cmd_common *co, int c, const char *cmd,
		   const char *usage);
/** After parsing: --agent and --key given?  Prints the usage if not. */
bool cmd_common_ok(const struct cmd_common *co, const char *usage);
/**
 * For a command whose first argument is its operation (`mist creds
 * create`, `mist apps list`): -1 when argv[1] is one, else the exit status
 * after printing --version, --help or the usage.
 */
int cmd_op_first(int argc, char **argv, const char *usage);

/** Writes @a s as a JSON string literal (quoted, escaped) to stdout. */
void cmd_json_str(const char *s);

#endif
