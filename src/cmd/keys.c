/*
 * keys.c -- `mist keys`: rotate the cluster key on a running cluster.
 *
 * The agent named by --agent applies the operation on every live member
 * (its admin actor fans it out over the links) and reports per node.  A
 * rotation is: install NEW (everywhere), use NEW, then remove OLD.  Gossip
 * packets name their key, and links accept any installed key, so the
 * cluster keeps talking throughout.
 */
#include "config.h"
#include "actors/admin.h"
#include "actors/msgtype.h"
#include "cmd/cmd.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/hex.h"

#include <getopt.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: mist keys list --agent IP:PORT --key FILE [--format table|json]\n"
	"       mist keys install|use|remove KEY --agent IP:PORT --key FILE\n"
	"\n"
	"Manages the cluster keyring on every live member at once.  KEY is 64\n"
	"hex digits (from `mist keygen`).  To rotate: install the new key, use\n"
	"it, then remove the old one.  --key is any key the cluster accepts.\n"
	"Exits 1 if any live member failed to apply the operation.\n";

int
cmd_keys(int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS, {0, 0, 0, 0}};
	struct cmd_common co = {0};
	int c, r;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if ((r = cmd_common_opt(&co, c, "keys", usage)) >= 0)
			return r;
	const char *agent = co.agent, *keyfile = co.key;
	static const char *const ops[] = {"list", "install", "use", "remove"};
	int op = -1;
	if (optind < argc)
		for (int i = 0; i < 4; i++)
			if (strcmp(argv[optind], ops[i]) == 0)
				op = i;
	bool json = co.json;
	uint8_t key[32];
	if (op < 0 || agent == NULL || keyfile == NULL ||
	    optind + (op == KEYS_LIST ? 1 : 2) != argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (op != KEYS_LIST && (strlen(argv[optind + 1]) != 64 ||
				hex_decode(key, 32, argv[optind + 1]) != 0)) {
		fprintf(stderr, "mist keys: KEY must be 64 hex digits\n");
		return EXIT_USAGE;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, op == KEYS_LIST ? 1 : 2);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, ops[op], strlen(ops[op]));
	if (op != KEYS_LIST) {
		msgpack_pack_str_with_body(&pk, "key", 3);
		msgpack_pack_bin_with_body(&pk, key, 32);
	}
	struct msg *reply;
	int rc = cmd_request("keys", agent, keyfile, ACTOR_ADMIN, MSG_KEYS,
			     b.data, (uint32_t)b.len, 0, &reply);
	sodium_memzero(b.data, b.cap);
	buf_destroy(&b);
	sodium_memzero(key, sizeof(key));
	if (rc != 0)
		return EXIT_RUNTIME;
	struct mp_cur cur;
	uint32_t n;
	uint64_t nodes = 0, ok = 0;
	int status = EXIT_OK;
	mp_cur_init(&cur, reply->body, reply->len);
	if (mp_read_map(&cur, &n) != 0)
		n = 0;
	if (json)
		putchar('{');
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl, m;
		if (mp_read_str(&cur, &k, &kl) != 0)
			break;
		if (mp_str_eq(k, kl, "nodes") || mp_str_eq(k, kl, "ok")) {
			uint64_t v = 0;
			mp_read_uint(&cur, &v);
			*(mp_str_eq(k, kl, "ok") ? &ok : &nodes) = v;
			if (json)
				printf("%s\"%.*s\":%llu", i ? "," : "", (int)kl, k,
				       (unsigned long long)v);
		} else if (mp_str_eq(k, kl, "failed") &&
			   mp_read_array(&cur, &m) == 0) {
			if (json)
				printf("%s\"failed\":[", i ? "," : "");
			for (uint32_t j = 0; j < m; j++) {
				const char *s;
				uint32_t sl;
				char line[128];
				if (mp_read_str(&cur, &s, &sl) != 0)
					break;
				snprintf(line, sizeof(line), "%.*s", (int)sl, s);
				if (json) {
					printf("%s", j ? "," : "");
					cmd_json_str(line);
				} else {
					fprintf(stderr, "failed on %s\n", line);
				}
			}
			if (json)
				putchar(']');
		} else if (mp_str_eq(k, kl, "keys") &&
			   mp_read_array(&cur, &m) == 0) {
			if (json)
				printf("%s\"keys\":[", i ? "," : "");
			else
				printf("%-64s %-6s %s\n", "KEY", "NODES", "PRIMARY");
			for (uint32_t j = 0; j < m; j++) {
				uint32_t f;
				const uint8_t *kb = NULL;
				uint64_t cnt = 0, prim = 0;
				if (mp_read_map(&cur, &f) != 0)
					break;
				for (uint32_t x = 0; x < f; x++) {
					const char *fk;
					uint32_t fkl, bl;
					if (mp_read_str(&cur, &fk, &fkl) != 0)
						break;
					if (mp_str_eq(fk, fkl, "key"))
						mp_read_bin(&cur, &kb, &bl);
					else if (mp_str_eq(fk, fkl, "nodes"))
						mp_read_uint(&cur, &cnt);
					else if (mp_str_eq(fk, fkl, "primary"))
						mp_read_uint(&cur, &prim);
					else
						mp_skip(&cur);
				}
				char hex[65] = "?";
				if (kb)
					hex_encode(hex, kb, 32);
				if (json)
					printf("%s{\"key\":\"%s\",\"nodes\":%llu,"
					       "\"primary\":%llu}", j ? "," : "", hex,
					       (unsigned long long)cnt,
					       (unsigned long long)prim);
				else
					printf("%-64s %-6llu %llu\n", hex,
					       (unsigned long long)cnt,
					       (unsigned long long)prim);
			}
			if (json)
				putchar(']');
		} else {
			mp_skip(&cur);
		}
	}
	if (json)
		printf("}\n");
	else
		printf("%llu of %llu live members applied '%s'\n",
		       (unsigned long long)ok, (unsigned long long)nodes, ops[op]);
	if (ok != nodes)
		status = EXIT_RUNTIME;
	msg_delete(reply);
	return status;
}
