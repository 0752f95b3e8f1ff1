/*
 * members.c -- `mist members`: the nodes an agent knows.
 */
#include "config.h"
#include "actors/msgtype.h"
#include "cmd/cmd.h"
#include "data/meta.h"
#include "mist.h"
#include "net/mp.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: mist members --agent IP:PORT --key FILE [--format table|json]\n"
	"\n"
	"Asks a running agent which nodes it knows and prints one row per\n"
	"node as gossip sees it: name, node id, address, tier, status (alive,\n"
	"suspect, dead, left), incarnation, load and tags.  JSON output is an\n"
	"array of objects with the keys name, id, addr, tier, status,\n"
	"incarnation, load, cores, tags (an object), functions (an array\n"
	"of the names the node's executors offer, as it gossips them) and docs\n"
	"(whether it hosts apps' documents: `mist agent --docs`).\n";

/* A string for display: cut to @a cap bytes with the NUL. */
static void
row_text(char *dst, size_t cap, const char *s, uint32_t n)
{
	if (n >= cap)
		n = (uint32_t)cap - 1; /* display only: truncate */
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* The member's gossiped metadata (data/meta.h): what the table shows. */
static int
row_meta(struct mp_cur *c, struct member_row *r)
{
	struct meta m;
	meta_init(&m);
	if (meta_read(c, &m) != 0)
		return -1;
	_Static_assert(sizeof(r->tier) >= META_TIER_MAX &&
			       sizeof(r->tags) / sizeof(r->tags[0]) >= META_MAX_TAGS &&
			       sizeof(r->tags[0][0]) >= META_TAG_MAX &&
			       sizeof(r->functions) / sizeof(r->functions[0]) >=
				       META_MAX_FUNCTIONS &&
			       sizeof(r->functions[0]) >= EXEC_NAME_MAX,
		       "a member row holds what the metadata may carry");
	memcpy(r->tier, m.tier, sizeof(m.tier));
	r->load = m.load;
	r->cores = m.cores;
	r->docs = m.docs;
	r->ntags = (int)m.ntags;
	for (uint32_t i = 0; i < m.ntags; i++) {
		memcpy(r->tags[i][0], m.tags[i][0], META_TAG_MAX);
		memcpy(r->tags[i][1], m.tags[i][1], META_TAG_MAX);
	}
	r->nfunctions = (int)m.nfunctions;
	for (uint32_t i = 0; i < m.nfunctions; i++)
		memcpy(r->functions[i], m.functions[i], EXEC_NAME_MAX);
	return 0;
}

/* mp_read_fields callbacks of a member row: the id as text, the
 * metadata into the row @a ctx. */
static int
row_id(struct mp_cur *v, void *ctx)
{
	struct member_row *r = ctx;
	uint64_t id;
	if (mp_read_uint(v, &id) != 0)
		return MIST_EPROTO;
	snprintf(r->id, sizeof(r->id), "%016" PRIx64, id);
	return 0;
}

static int
row_meta_field(struct mp_cur *v, void *ctx)
{
	return row_meta(v, ctx) == 0 ? 0 : MIST_EPROTO;
}

int
member_row_read(struct mp_cur *c, struct member_row *r)
{
	const char *name = "", *addr = "", *status = "";
	uint32_t namelen = 0, addrlen = 0, statuslen = 0;
	memset(r, 0, sizeof(*r));
	const struct mp_field f[] = {
		MP_FN("id", row_id, r, false),
		MP_STR("name", &name, &namelen, false),
		MP_STR("addr", &addr, &addrlen, false),
		MP_STR("status", &status, &statuslen, false),
		MP_UINT("incarnation", &r->inc, false),
		MP_FN("meta", row_meta_field, r, false),
	};
	if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0)
		return -1;
	row_text(r->name, sizeof(r->name), name, namelen);
	row_text(r->addr, sizeof(r->addr), addr, addrlen);
	row_text(r->status, sizeof(r->status), status, statuslen);
	return 0;
}

static void
row_print_json(const struct member_row *r, bool first)
{
	printf("%s{\"name\":", first ? "" : ",");
	cmd_json_str(r->name);
	printf(",\"id\":\"%s\",\"addr\":", r->id);
	cmd_json_str(r->addr);
	printf(",\"tier\":");
	cmd_json_str(r->tier);
	printf(",\"status\":");
	cmd_json_str(r->status);
	printf(",\"incarnation\":%" PRIu64 ",\"load\":%.2f,\"cores\":%" PRIu64
	       ",\"tags\":{", r->inc, r->load, r->cores);
	for (int i = 0; i < r->ntags && i < 16; i++) {
		printf("%s", i ? "," : "");
		cmd_json_str(r->tags[i][0]);
		putchar(':');
		cmd_json_str(r->tags[i][1]);
	}
	printf("},\"functions\":[");
	for (int i = 0; i < r->nfunctions; i++) {
		printf("%s", i ? "," : "");
		cmd_json_str(r->functions[i]);
	}
	printf("],\"docs\":%s}", r->docs ? "true" : "false");
}

static void
row_print_table(const struct member_row *r)
{
	char tags[256] = "";
	size_t off = 0;
	for (int i = 0; i < r->ntags && i < 16 && off < sizeof(tags); i++)
		off += (size_t)snprintf(tags + off, sizeof(tags) - off, "%s%s=%s",
					i ? "," : "", r->tags[i][0], r->tags[i][1]);
	printf("%-20s %-16s %-22s %-6s %-8s %-14" PRIu64 " %-5.2f %s\n", r->name,
	       r->id, r->addr, r->tier, r->status, r->inc, r->load, tags);
}

int
cmd_members(int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS, {0, 0, 0, 0}};
	struct cmd_common co = {0};
	int c, rc;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if ((rc = cmd_common_opt(&co, c, "members", usage)) >= 0)
			return rc;
	if (optind != argc || !cmd_common_ok(&co, usage))
		return EXIT_USAGE;
	bool json = co.json;
	const char *agent = co.agent, *key = co.key;
	struct msg *reply;
	if (cmd_request("members", agent, key, ACTOR_SWIM, MSG_MEMBERS, NULL, 0,
			0, &reply) != 0)
		return EXIT_RUNTIME;
	struct mp_cur cur;
	uint32_t n;
	mp_cur_init(&cur, reply->body, reply->len);
	if (mp_read_array(&cur, &n) != 0) {
		fprintf(stderr, "mist members: malformed reply\n");
		msg_delete(reply);
		return EXIT_RUNTIME;
	}
	if (json)
		putchar('[');
	else
		printf("%-20s %-16s %-22s %-6s %-8s %-14s %-5s %s\n", "NAME", "ID",
		       "ADDRESS", "TIER", "STATUS", "INCARNATION", "LOAD", "TAGS");
	int status = EXIT_OK;
	for (uint32_t i = 0; i < n; i++) {
		struct member_row r;
		if (member_row_read(&cur, &r) != 0) {
			fprintf(stderr, "mist members: malformed reply\n");
			status = EXIT_RUNTIME;
			break;
		}
		if (json)
			row_print_json(&r, i == 0);
		else
			row_print_table(&r);
	}
	if (json)
		printf("]\n");
	msg_delete(reply);
	return status;
}
