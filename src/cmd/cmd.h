/*
 * cmd.h -- the subcommands of the mist binary.
 *
 * Exit codes, for every command: 0 ok, 1 runtime error, 2 usage error.
 */
#ifndef MIST_CMD_CMD_H_INCLUDED
#define MIST_CMD_CMD_H_INCLUDED

#include <stdint.h>

#include "client/conn.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_keygen(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_members(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_creds(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_executor(int argc, char **argv);

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
/** Writes @a s as a JSON string literal (quoted, escaped) to stdout. */
void cmd_json_str(const char *s);

#endif
