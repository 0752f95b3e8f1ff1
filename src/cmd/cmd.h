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

/** Prints "mist VERSION" (for --version). */
void cmd_print_version(void);
/** Reads the cluster key file or prints why not; 0 or -1. */
int cmd_read_key(const char *path, uint8_t key[32]);
/** Opens a client connection or prints why not; 0 or -1. */
int cmd_connect(struct conn *c, const char *agent, const char *keyfile);
/** Writes @a s as a JSON string literal (quoted, escaped) to stdout. */
void cmd_json_str(const char *s);

#endif
