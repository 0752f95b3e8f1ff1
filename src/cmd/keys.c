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

/*
 * The reply, {"nodes", "ok", "failed": [str], "keys": [{"key", "nodes",
 * "primary"}]}, is printed as it is read: JSON in the reply's own order.
 */
struct keys_out {
	bool json;
	bool first; /* nothing printed yet: no comma */
	uint64_t nodes, ok;
};

static void
keys_json_key(struct keys_out *o, const char *key)
{
	if (o->json)
		printf("%s\"%s\":", o->first ? "" : ",", key);
	o->first = false;
}

static int
keys_count_print(struct mp_cur *v, struct keys_out *o, const char *key,
		 uint64_t *out)
{
	if (mp_read_uint(v, out) != 0)
		return MIST_EPROTO;
	keys_json_key(o, key);
	if (o->json)
		printf("%llu", (unsigned long long)*out);
	return 0;
}

static int
keys_nodes_print(struct mp_cur *v, void *ctx)
{
	struct keys_out *o = ctx;
	return keys_count_print(v, o, "nodes", &o->nodes);
}

static int
keys_ok_print(struct mp_cur *v, void *ctx)
{
	struct keys_out *o = ctx;
	return keys_count_print(v, o, "ok", &o->ok);
}

static int
keys_failed_print(struct mp_cur *v, void *ctx)
{
	struct keys_out *o = ctx;
	uint32_t m;
	if (mp_read_array(v, &m) != 0)
		return MIST_EPROTO;
	keys_json_key(o, "failed");
	if (o->json)
		putchar('[');
	int rc = 0;
	for (uint32_t j = 0; j < m; j++) {
		const char *s;
		uint32_t sl;
		char line[128];
		if (mp_read_str(v, &s, &sl) != 0) {
			rc = MIST_EPROTO;
			break;
		}
		snprintf(line, sizeof(line), "%.*s", (int)sl, s);
		if (o->json) {
			printf("%s", j ? "," : "");
			cmd_json_str(line);
		} else {
			fprintf(stderr, "failed on %s\n", line);
		}
	}
	if (o->json)
		putchar(']');
	return rc;
}

static int
keys_keys_print(struct mp_cur *v, void *ctx)
{
	struct keys_out *o = ctx;
	uint32_t m;
	if (mp_read_array(v, &m) != 0)
		return MIST_EPROTO;
	keys_json_key(o, "keys");
	if (o->json)
		putchar('[');
	else
		printf("%-64s %-6s %s\n", "KEY", "NODES", "PRIMARY");
	int rc = 0;
	for (uint32_t j = 0; j < m && rc == 0; j++) {
		const uint8_t *kb = NULL;
		uint32_t kbl = 0;
		uint64_t cnt = 0, prim = 0;
		const struct mp_field f[] = {
			MP_BIN("key", &kb, &kbl, false),
			MP_UINT("nodes", &cnt, false),
			MP_UINT("primary", &prim, false),
		};
		if ((rc = mp_read_fields(v, f, MP_NFIELDS(f), NULL)) != 0)
			break;
		char hex[65] = "?";
		if (kb != NULL && kbl == 32)
			hex_encode(hex, kb, 32);
		if (o->json)
			printf("%s{\"key\":\"%s\",\"nodes\":%llu,"
			       "\"primary\":%llu}", j ? "," : "", hex,
			       (unsigned long long)cnt, (unsigned long long)prim);
		else
			printf("%-64s %-6llu %llu\n", hex,
			       (unsigned long long)cnt, (unsigned long long)prim);
	}
	if (o->json)
		putchar(']');
	return rc;
}

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
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, ops[op]);
	if (op != KEYS_LIST) {
		mp_pack_str(&pk, "key");
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
	struct keys_out o = {.json = json, .first = true};
	const struct mp_field f[] = {
		MP_FN("nodes", keys_nodes_print, &o, false),
		MP_FN("ok", keys_ok_print, &o, false),
		MP_FN("failed", keys_failed_print, &o, false),
		MP_FN("keys", keys_keys_print, &o, false),
	};
	int status = EXIT_OK;
	if (json)
		putchar('{');
	int drc = mp_decode_fields(reply->body, reply->len, f, MP_NFIELDS(f),
				   NULL);
	if (json)
		printf("}\n");
	else
		printf("%llu of %llu live members applied '%s'\n",
		       (unsigned long long)o.ok, (unsigned long long)o.nodes,
		       ops[op]);
	if (drc != 0) {
		fprintf(stderr, "mist keys: the agent's reply is malformed\n");
		status = EXIT_RUNTIME;
	}
	if (o.ok != o.nodes)
		status = EXIT_RUNTIME;
	msg_delete(reply);
	return status;
}
