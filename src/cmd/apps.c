/*
 * apps.c -- `mist apps`: create, list, show, change and delete the Parse
 * apps the cluster serves (MSG_APPS to the agent's gateway, drawn in
 * gateway/apps.h).
 *
 * The command checks what it can before asking (numbers, bounds, names,
 * networks: exit 2 with the rule broken); the agent checks everything
 * again and says why it refuses (exit 1 with its sentence): an id taken,
 * no such app, a --home that is not alive or hosts no documents.
 */
#include "config.h"
#include "accessory/accmsg.h"
#include "actors/msgtype.h"
#include "cmd/cmd.h"
#include "gateway/apps.h"
#include "mist.h"
#include "net/mp.h"
#include "net/swim.h"
#include "util/mem.h"
#include "util/buf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: mist apps create NAME [OPTIONS] --agent IP:PORT --key FILE\n"
	"       mist apps list --agent IP:PORT --key FILE\n"
	"       mist apps show ID --agent IP:PORT --key FILE\n"
	"       mist apps set ID [OPTIONS] [--rotate-keys] --agent IP:PORT --key FILE\n"
	"       mist apps delete ID --agent IP:PORT --key FILE\n"
	"       mist apps index ID CLASS [NAME FIELD[:-1]... | NAME --drop]\n"
	"                       --agent IP:PORT --key FILE\n"
	"       mist apps indexes ID [CLASS] --agent IP:PORT --key FILE\n"
	"\n"
	"Manages the Parse apps the cluster serves.  A change made on one agent\n"
	"spreads to every member; a deleted app's id is never reused.  create\n"
	"and show print the app's keys (applicationId, REST, JavaScript, client\n"
	"and master key): give the SDKs the first ones, keep the master key for\n"
	"servers -- it bypasses every ACL and is honoured only from --master-from.\n"
	"\n"
	"  --id ID                   the applicationId (create; default: 20 random\n"
	"                            letters and digits); A-Z a-z 0-9 _ -, 1..63\n"
	"  --rate N[/s]              requests/s for the whole app (0: unlimited)\n"
	"  --user-rate N[/s]         requests/s per user (0: unlimited)\n"
	"  --ip-rate N[/s]           requests/s per client address (0: unlimited)\n"
	"  --deadline-ms MS          a request's default deadline, 1..60000\n"
	"                            (default 10000)\n"
	"  --functions F,...         the add-on functions the app may call\n"
	"                            (at most 32; \"\" for none)\n"
	"  --home NODE               the node keeping the app's documents (a name\n"
	"                            or 16-hex id; default: the alive documents\n"
	"                            host with the fewest apps; set: the\n"
	"                            documents do not move with it)\n"
	"  --master-from CIDR        where the master key is accepted; may repeat\n"
	"                            (at most 8; default 127.0.0.0/8 and ::1;\n"
	"                            \"none\": nowhere)\n"
	"  --client-class-creation   clients may create classes (default: no)\n"
	"  --no-client-class-creation\n"
	"  --quota BYTES             storage quota, K/M/G/T suffixes (0: none)\n"
	"  --functions-master on|off functions that declare MIST_FN_MASTER use\n"
	"                            the master key in their host calls\n"
	"                            (default: off: they act as their caller)\n"
	"  --index-budget BYTES      room for automatic indexes, K/M/G/T suffixes\n"
	"                            (0: the default, 64M; docs/INDEXES.md)\n"
	"  --rotate-keys             new keys, the old ones stop working (set)\n"
	"\n"
	"index declares an index NAME on CLASS of app ID at its documents home\n"
	"(FIELD ascending, FIELD:-1 descending; several fields make a compound\n"
	"index), built online over the documents already there; --drop removes\n"
	"it; with CLASS alone it lists the class's indexes.  The same as\n"
	"/parse/schemas's \"indexes\" with the master key (docs/HTTP.md).\n"
	"\n"
	"indexes lists the declared and automatic indexes of app ID (of CLASS\n"
	"only if given) with their entries, bytes, hits, when and why each was\n"
	"built, then the query shapes its documents home watches and what it\n"
	"decided about each (docs/INDEXES.md).\n"
	CMD_COMMON_HELP
	"\n"
	"JSON output: an app is {\"applicationId\", \"name\", \"restKey\",\n"
	"\"javascriptKey\", \"clientKey\", \"masterKey\", \"home\", \"rate\", \"userRate\",\n"
	"\"ipRate\", \"deadlineMs\", \"functions\", \"masterFrom\",\n"
	"\"clientClassCreation\", \"quotaBytes\", \"indexBudget\", \"rev\", \"created\"};\n"
	"list leaves the keys out.\n";

enum { OPT_ID = CMD_OPT_OWN, OPT_RATE, OPT_USER_RATE, OPT_IP_RATE,
       OPT_DEADLINE, OPT_FUNCTIONS, OPT_HOME, OPT_MASTER_FROM, OPT_CCC,
       OPT_NO_CCC, OPT_QUOTA, OPT_ROTATE, OPT_DROP,
       OPT_FN_MASTER /* host API */, OPT_INDEX_BUDGET };

/* What the options asked for; a field not given is not sent. */
struct apps_opts {
	const char *id, *home;
	uint64_t rate, user_rate, ip_rate, deadline_ms, quota;
	bool has_rate, has_user_rate, has_ip_rate, has_deadline, has_quota;
	int ccc; /* -1 not given, 0 off, 1 on */
	int fn_master; /* --functions-master: -1 not given, 0 off, 1 on */
	bool rotate;
	uint64_t index_budget; /* automatic indexes */
	bool has_index_budget;
	bool has_functions;
	uint32_t nfunctions;
	char functions[APP_MAX_FUNCTIONS][EXEC_NAME_MAX];
	bool has_nets;
	uint32_t nnets;
	const char *nets[APP_MAX_NETS];
};

/* ------------------------------------------------------------- options */

static int
bad(const char *fmt, const char *arg)
{
	fputs("mist apps: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* An unsigned decimal of at most @a max; 0 or -1. */
static int
parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "N" or "N/s". */
static int
parse_rate(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	if (n > 2 && strcmp(s + n - 2, "/s") == 0)
		n -= 2;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	return parse_num(num, APP_MAX_RATE, out);
}

/* BYTES with an optional K, M, G or T (powers of 1024). */
static int
parse_bytes(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned shift = 0;
	if (n > 1) {
		const char *u = strchr("KMGT", s[n - 1]);
		if (u != NULL && s[n - 1] != '\0') {
			shift = 10 * (unsigned)(u - "KMGT" + 1);
			n--;
		}
	}
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	uint64_t v;
	if (parse_num(num, APP_MAX_QUOTA, &v) != 0 ||
	    v > (APP_MAX_QUOTA >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* "F,G,...": each a function name; "" is none. */
static int
parse_functions(const char *s, struct apps_opts *o)
{
	o->has_functions = true;
	o->nfunctions = 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (o->nfunctions == APP_MAX_FUNCTIONS) {
			fprintf(stderr, "mist apps: at most %d functions\n",
				APP_MAX_FUNCTIONS);
			return -1;
		}
		if (!apps_fn_valid(s, (uint32_t)n)) {
			fprintf(stderr, "mist apps: '%.*s' is no function name "
				"(1..%d printable bytes without space, ',' or "
				"'/')\n", (int)(n > 64 ? 64 : n), s,
				EXEC_NAME_MAX - 1);
			return -1;
		}
		memcpy(o->functions[o->nfunctions], s, n);
		o->functions[o->nfunctions++][n] = '\0';
		s += n + (comma != NULL);
		if (comma && *s == '\0')
			return bad("--functions '%s' ends with ','", s - n - 1),
			       -1;
	}
	return 0;
}

/* Parses every option after the op; an exit status, or -1 to go on. */
static int
opts_parse(int argc, char **argv, struct apps_opts *o, struct cmd_common *co)
{
	static const struct option opts[] = {
		CMD_COMMON_OPTIONS,
		{"id", required_argument, 0, OPT_ID},
		{"rate", required_argument, 0, OPT_RATE},
		{"user-rate", required_argument, 0, OPT_USER_RATE},
		{"ip-rate", required_argument, 0, OPT_IP_RATE},
		{"deadline-ms", required_argument, 0, OPT_DEADLINE},
		{"functions", required_argument, 0, OPT_FUNCTIONS},
		{"home", required_argument, 0, OPT_HOME},
		{"master-from", required_argument, 0, OPT_MASTER_FROM},
		{"client-class-creation", no_argument, 0, OPT_CCC},
		{"no-client-class-creation", no_argument, 0, OPT_NO_CCC},
		{"quota", required_argument, 0, OPT_QUOTA},
		{"rotate-keys", no_argument, 0, OPT_ROTATE},
		{"functions-master", required_argument, 0, OPT_FN_MASTER},
		{"index-budget", required_argument, 0, OPT_INDEX_BUDGET},
		{0, 0, 0, 0}};
	int c, r;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ID:
			if (!apps_id_valid(optarg, (uint32_t)strlen(optarg)))
				return bad("--id '%s': an applicationId is 1..63 "
					   "of A-Z a-z 0-9 _ -", optarg);
			o->id = optarg;
			break;
		case OPT_RATE:
		case OPT_USER_RATE:
		case OPT_IP_RATE: {
			uint64_t *dst = c == OPT_RATE ? &o->rate
					: c == OPT_USER_RATE ? &o->user_rate
							     : &o->ip_rate;
			if (parse_rate(optarg, dst) != 0)
				return bad("bad rate '%s': N or N/s, 0..1000000 "
					   "(0: unlimited)", optarg);
			*(c == OPT_RATE ? &o->has_rate
			  : c == OPT_USER_RATE ? &o->has_user_rate
					       : &o->has_ip_rate) = true;
			break;
		}
		case OPT_DEADLINE:
			if (parse_num(optarg, APP_MAX_DEADLINE_MS,
				      &o->deadline_ms) != 0 ||
			    o->deadline_ms == 0)
				return bad("--deadline-ms '%s': 1..60000", optarg);
			o->has_deadline = true;
			break;
		case OPT_FUNCTIONS:
			if (parse_functions(optarg, o) != 0)
				return EXIT_USAGE;
			break;
		case OPT_HOME:
			if (optarg[0] == '\0' || strlen(optarg) >= SWIM_NAME_MAX)
				return bad("--home '%s': a node's name or 16-hex "
					   "id", optarg);
			o->home = optarg;
			break;
		case OPT_MASTER_FROM: {
			struct app_net net;
			o->has_nets = true;
			if (strcmp(optarg, "none") == 0)
				break;
			if (o->nnets == APP_MAX_NETS)
				return bad("at most 8 --master-from%s", "");
			if (apps_net_parse(optarg, &net) != 0)
				return bad("--master-from '%s': ADDR or "
					   "ADDR/PREFIX, IPv4 or IPv6", optarg);
			o->nets[o->nnets++] = optarg;
			break;
		}
		case OPT_CCC: o->ccc = 1; break;
		case OPT_FN_MASTER:
			if (strcmp(optarg, "on") == 0)
				o->fn_master = 1;
			else if (strcmp(optarg, "off") == 0)
				o->fn_master = 0;
			else
				return bad("--functions-master '%s': on or off",
					   optarg);
			break;
		case OPT_NO_CCC: o->ccc = 0; break;
		case OPT_QUOTA:
			if (parse_bytes(optarg, &o->quota) != 0)
				return bad("--quota '%s': bytes (K, M, G, T "
					   "suffixes), at most 1P", optarg);
			o->has_quota = true;
			break;
		case OPT_ROTATE: o->rotate = true; break;
		case OPT_INDEX_BUDGET:
			if (parse_bytes(optarg, &o->index_budget) != 0)
				return bad("--index-budget '%s': bytes (K, M, G, "
					   "T suffixes), at most 1P", optarg);
			o->has_index_budget = true;
			break;
		default:
			if ((r = cmd_common_opt(co, c, "apps", usage)) >= 0)
				return r;
		}
	}
	return -1;
}

/* ------------------------------------------------------------- request */

static void
pack_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
	mp_pack_str(pk, key);
	msgpack_pack_uint64(pk, v);
}

/* The request body of @a op. */
static void
request_pack(struct buf *b, const char *op, const char *name, const char *id,
	     const struct apps_opts *o)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	bool fields = strcmp(op, "create") == 0 || strcmp(op, "set") == 0;
	uint32_t n = 1 + (name != NULL) + (id != NULL);
	if (fields)
		n += o->has_rate + o->has_user_rate + o->has_ip_rate +
		     o->has_deadline + o->has_quota + o->has_functions +
		     o->has_nets + (o->home != NULL) + (o->ccc >= 0) +
		     o->rotate + (o->fn_master >= 0);
	if (fields)
		n += o->has_index_budget;
	msgpack_pack_map(&pk, n);
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, op);
	if (name) {
		mp_pack_str(&pk, "name");
		mp_pack_str(&pk, name);
	}
	if (id) {
		mp_pack_str(&pk, "id");
		mp_pack_str(&pk, id);
	}
	if (!fields)
		return;
	if (o->has_rate)
		pack_uint(&pk, "rate", o->rate);
	if (o->has_user_rate)
		pack_uint(&pk, "user_rate", o->user_rate);
	if (o->has_ip_rate)
		pack_uint(&pk, "ip_rate", o->ip_rate);
	if (o->has_deadline)
		pack_uint(&pk, "deadline_ms", o->deadline_ms);
	if (o->has_quota)
		pack_uint(&pk, "quota_bytes", o->quota);
	if (o->has_index_budget)
		pack_uint(&pk, "index_budget", o->index_budget);
	if (o->has_functions) {
		mp_pack_str(&pk, "functions");
		msgpack_pack_array(&pk, o->nfunctions);
		for (uint32_t i = 0; i < o->nfunctions; i++)
			mp_pack_str(&pk, o->functions[i]);
	}
	if (o->has_nets) {
		mp_pack_str(&pk, "master_from");
		msgpack_pack_array(&pk, o->nnets);
		for (uint32_t i = 0; i < o->nnets; i++)
			mp_pack_str(&pk, o->nets[i]);
	}
	if (o->home) {
		mp_pack_str(&pk, "home");
		mp_pack_str(&pk, o->home);
	}
	if (o->ccc >= 0) {
		mp_pack_str(&pk, "client_class_creation");
		o->ccc ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	}
	if (o->fn_master >= 0) {
		mp_pack_str(&pk, "functions_master");
		o->fn_master ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	}
	if (o->rotate) {
		mp_pack_str(&pk, "rotate_keys");
		msgpack_pack_true(&pk);
	}
}

/*
 * Sends @a b and waits for the reply (in *@a reply).  A refusal prints the
 * agent's sentence (gateway/apps.h: an error reply's body is a str).
 * EXIT_OK or EXIT_RUNTIME.
 */
static int
request(const struct cmd_common *co, const struct buf *b, struct msg **reply)
{
	struct conn conn;
	*reply = NULL;
	if (cmd_connect(&conn, co->agent, co->key) != 0)
		return EXIT_RUNTIME;
	int rc = conn_request(&conn, ACTOR_GATEWAY, MSG_APPS, b->data,
			      (uint32_t)b->len, reply);
	conn_close(&conn);
	if (rc == 0 && (*reply)->status == 0)
		return EXIT_OK;
	const char *why = NULL;
	uint32_t len = 0;
	if (rc == 0) {
		struct mp_cur c;
		mp_cur_init(&c, (*reply)->body, (*reply)->len);
		rc = (*reply)->status;
		if (mp_read_str(&c, &why, &len) != 0)
			why = NULL;
	}
	if (why != NULL)
		fprintf(stderr, "mist apps: %.*s\n", (int)len, why);
	else
		fprintf(stderr, "mist apps: %s\n", mist_strerror(rc));
	if (*reply)
		msg_delete(*reply);
	*reply = NULL;
	return EXIT_RUNTIME;
}

/*
 * request() for an answer of the documents accessory ([status, body
 * (JSON), user]): EXIT_OK with *@a out the JSON body (the caller's), or
 * EXIT_RUNTIME with the error said on stderr.
 */
static int
acc_answer(const struct cmd_common *co, const struct buf *b, json_t **out)
{
	struct msg *reply;
	*out = NULL;
	int r = request(co, b, &reply);
	if (r != EXIT_OK)
		return r;
	int status;
	uint32_t blen, ulen;
	const uint8_t *body;
	const char *user;
	if (acc_reply_unpack(reply->body, reply->len, &status, &body, &blen,
			     &user, &ulen) != 0) {
		msg_delete(reply);
		fputs("mist apps: bad reply\n", stderr);
		return EXIT_RUNTIME;
	}
	json_t *j = json_loadb((const char *)body, blen, 0, NULL);
	msg_delete(reply);
	if (status >= 300 || j == NULL) {
		const char *why =
			j ? json_string_value(json_object_get(j, "error")) : NULL;
		fprintf(stderr, "mist apps: %s\n", why ? why : "bad reply");
		json_decref(j);
		return EXIT_RUNTIME;
	}
	*out = j;
	return EXIT_OK;
}

/* -------------------------------------------------------------- output */

static void
print_json_app(const struct app *a, bool keys)
{
	char home[17];
	snprintf(home, sizeof(home), "%016" PRIx64, a->home);
	fputs("{\"applicationId\":", stdout);
	cmd_json_str(a->id);
	fputs(",\"name\":", stdout);
	cmd_json_str(a->name);
	if (keys) {
		printf(",\"restKey\":\"%s\",\"javascriptKey\":\"%s\","
		       "\"clientKey\":\"%s\",\"masterKey\":\"%s\"",
		       a->rest_key, a->js_key, a->client_key, a->master_key);
	}
	printf(",\"home\":\"%s\",\"rate\":%u,\"userRate\":%u,\"ipRate\":%u,"
	       "\"deadlineMs\":%u,\"functions\":[",
	       home, a->rate, a->user_rate, a->ip_rate, a->deadline_ms);
	for (uint32_t i = 0; i < a->nfunctions; i++) {
		if (i)
			putchar(',');
		cmd_json_str(a->functions[i]);
	}
	fputs("],\"masterFrom\":[", stdout);
	for (uint32_t i = 0; i < a->nnets; i++) {
		char net[64];
		apps_net_format(&a->master_nets[i], net, sizeof(net));
		printf("%s\"%s\"", i ? "," : "", net);
	}
	printf("],\"functionsMaster\":%s", a->functions_master ? "true" : "false");
	printf(",\"clientClassCreation\":%s,\"quotaBytes\":%" PRIu64,
	       a->client_class_creation ? "true" : "false", a->quota_bytes);
	printf(",\"indexBudget\":%" PRIu64, a->index_budget);
	printf(",\"rev\":%" PRIu64 ",\"created\":%" PRIu64 "}", a->rev,
	       a->created);
}

static const char *
limit_text(uint32_t v, char *buf, size_t len, const char *unit)
{
	if (v == 0)
		return "unlimited";
	snprintf(buf, len, "%u%s", v, unit);
	return buf;
}

static void
print_table_app(const struct app *a)
{
	char t1[32], t2[32], t3[32];
	printf("applicationId        %s\n", a->id);
	printf("name                 %s\n", a->name);
	printf("restKey              %s\n", a->rest_key);
	printf("javascriptKey        %s\n", a->js_key);
	printf("clientKey            %s\n", a->client_key);
	printf("masterKey            %s\n", a->master_key);
	printf("home                 %016" PRIx64 "\n", a->home);
	printf("rate                 %s\n", limit_text(a->rate, t1, sizeof(t1), "/s"));
	printf("user rate            %s\n",
	       limit_text(a->user_rate, t2, sizeof(t2), "/s"));
	printf("ip rate              %s\n",
	       limit_text(a->ip_rate, t3, sizeof(t3), "/s"));
	printf("deadline             %u ms\n", a->deadline_ms);
	printf("functions            ");
	for (uint32_t i = 0; i < a->nfunctions; i++)
		printf("%s%s", i ? "," : "", a->functions[i]);
	printf("%s\n", a->nfunctions ? "" : "(none)");
	printf("master key from      ");
	for (uint32_t i = 0; i < a->nnets; i++) {
		char net[64];
		apps_net_format(&a->master_nets[i], net, sizeof(net));
		printf("%s%s", i ? " " : "", net);
	}
	printf("%s\n", a->nnets ? "" : "(nowhere)");
	printf("client classes       %s\n",
	       a->client_class_creation ? "clients may create" : "no");
	printf("functions master     %s\n",
	       a->functions_master ? "on (MIST_FN_MASTER functions)" : "off");
	if (a->quota_bytes)
		printf("quota                %" PRIu64 " bytes\n", a->quota_bytes);
	else
		printf("quota                none\n");
	if (a->index_budget)
		printf("index budget         %" PRIu64 " bytes\n",
		       a->index_budget);
	else
		printf("index budget         the default\n");
	time_t when = (time_t)a->created;
	struct tm tm;
	char date[32] = "?";
	if (gmtime_r(&when, &tm))
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("created              %s (rev %" PRIu64 ")\n", date, a->rev);
}

/* One app from the reply (keys included if @a keys).  0 or -1. */
static int
print_app(struct mp_cur *c, bool json, bool keys)
{
	struct app *a = xmalloc(sizeof(*a));
	if (apps_read(c, a, keys) != 0) {
		free(a);
		return -1;
	}
	if (json)
		print_json_app(a, keys);
	else
		print_table_app(a);
	if (json)
		putchar('\n');
	sodium_memzero(a, sizeof(*a));
	free(a);
	return 0;
}

/* One page of a list reply: its rows (*@a shown so far, for the JSON
 * commas), the last id in @a last ("" if the page is empty).  0 or -1. */
static int
print_page(struct mp_cur *c, bool json, uint32_t *shown,
	   char last[APP_ID_MAX])
{
	uint32_t n;
	last[0] = '\0';
	if (mp_read_array(c, &n) != 0)
		return -1;
	struct app *a = xmalloc(sizeof(*a));
	int rc = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (apps_read(c, a, false) != 0) {
			rc = -1;
			break;
		}
		snprintf(last, APP_ID_MAX, "%s", a->id);
		if (json) {
			if ((*shown)++)
				putchar(',');
			print_json_app(a, false);
			continue;
		}
		char rate[32], dl[32];
		snprintf(dl, sizeof(dl), "%u ms", a->deadline_ms);
		printf("%-20s  %-24s  %016" PRIx64 "  %-9s  %-8s  ", a->id,
		       a->name, a->home,
		       limit_text(a->rate, rate, sizeof(rate), "/s"), dl);
		for (uint32_t f = 0; f < a->nfunctions; f++)
			printf("%s%s", f ? "," : "", a->functions[f]);
		printf("%s\n", a->nfunctions ? "" : "-");
	}
	free(a);
	return rc;
}

/* list: page after page (gateway/apps.h), until an empty one. */
static int
list_apps(const struct cmd_common *co)
{
	char after[APP_ID_MAX] = "";
	uint32_t shown = 0;
	if (co->json)
		putchar('[');
	else
		printf("%-20s  %-24s  %-16s  %-9s  %-8s  %s\n", "ID", "NAME",
		       "HOME", "RATE", "DEADLINE", "FUNCTIONS");
	/* every page holds one app at least: the table bounds the pages */
	for (uint32_t page = 0; page <= APPS_MAX_ENTRIES; page++) {
		struct buf b = BUF_INIT;
		msgpack_packer pk;
		msgpack_packer_init(&pk, &b, buf_msgpack_write);
		msgpack_pack_map(&pk, after[0] ? 2 : 1);
		mp_pack_str(&pk, "op");
		mp_pack_str(&pk, "list");
		if (after[0]) {
			mp_pack_str(&pk, "after");
			mp_pack_str(&pk, after);
		}
		struct msg *reply;
		int r = request(co, &b, &reply);
		buf_destroy(&b);
		if (r != EXIT_OK)
			return r;
		struct mp_cur c;
		mp_cur_init(&c, reply->body, reply->len);
		int prc = print_page(&c, co->json, &shown, after);
		msg_delete(reply);
		if (prc != 0) {
			fputs("mist apps: bad reply\n", stderr);
			return EXIT_RUNTIME;
		}
		if (after[0] == '\0')
			break;
	}
	if (co->json)
		puts("]");
	return EXIT_OK;
}

/* --------------------------------------------------------------- index */

/* Index fields per request: the accessory's compound-index bound is
 * smaller; this only bounds the command line. */
#define APPS_INDEX_FIELDS_MAX 16

static int
apps_index(int argc, char **argv)
{
	static const struct option opts[] = {
		CMD_COMMON_OPTIONS,
		{"drop", no_argument, 0, OPT_DROP},
		{0, 0, 0, 0}};
	struct cmd_common co = {0};
	bool drop = false;
	int c, r;
	optind = 1;
	/* GNU getopt moves the operands after the options it reads */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_DROP) {
			drop = true;
			continue;
		}
		if ((r = cmd_common_opt(&co, c, "apps", usage)) >= 0)
			return r;
	}
	/* the operands: ID CLASS [NAME [FIELD...]] */
	const char *pos[3 + APPS_INDEX_FIELDS_MAX];
	int npos = 0;
	for (; optind < argc; optind++) {
		if (npos == (int)(sizeof(pos) / sizeof(pos[0])))
			return bad("index: at most %s fields", "16");
		pos[npos++] = argv[optind];
	}
	if (npos < 2)
		return bad("index: which app and class? (%s)",
			   "mist apps index ID CLASS [NAME FIELD...]");
	if (npos == 3 && !drop)
		return bad("index %s: which fields? (FIELD or FIELD:-1)", pos[2]);
	if (drop && npos != 3)
		return bad("index --drop: give the app, the class and the index "
			   "name only%s", "");
	if (!cmd_common_ok(&co, usage))
		return EXIT_USAGE;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, npos >= 3 ? 5 : 3);
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, "index");
	mp_pack_str(&pk, "id");
	mp_pack_str(&pk, pos[0]);
	mp_pack_str(&pk, "class");
	mp_pack_str(&pk, pos[1]);
	if (npos >= 3) {
		mp_pack_str(&pk, "name");
		mp_pack_str(&pk, pos[2]);
		if (drop) {
			mp_pack_str(&pk, "drop");
			msgpack_pack_true(&pk);
		} else {
			mp_pack_str(&pk, "fields");
			msgpack_pack_map(&pk, (uint32_t)(npos - 3));
			for (int i = 3; i < npos; i++) {
				char f[128];
				snprintf(f, sizeof(f), "%s", pos[i]);
				int dir = 1;
				char *colon = strrchr(f, ':');
				if (colon != NULL) {
					if (strcmp(colon, ":-1") == 0)
						dir = -1;
					else if (strcmp(colon, ":1") != 0) {
						buf_destroy(&b);
						return bad("index: %s is not FIELD, "
							   "FIELD:1 or FIELD:-1",
							   pos[i]);
					}
					*colon = '\0';
				}
				mp_pack_str(&pk, f);
				msgpack_pack_int(&pk, dir);
			}
		}
	}
	json_t *j;
	r = acc_answer(&co, &b, &j);
	buf_destroy(&b);
	if (r != EXIT_OK)
		return r;
	json_t *ix = json_object_get(j, "indexes");
	if (co.json) {
		char *s = ix ? json_dumps(ix, JSON_COMPACT) : NULL;
		puts(s ? s : "{}");
		free(s);
	} else {
		printf("%-24s %s\n", "INDEX", "FIELDS");
		const char *k;
		json_t *v;
		json_object_foreach(ix, k, v)
		{
			char *s = json_dumps(v, JSON_COMPACT);
			printf("%-24s %s\n", k, s);
			free(s);
		}
	}
	json_decref(j);
	return EXIT_OK;
}

/* ------------------------------------------------------------- indexes */

/* "12.3K" for @a v bytes. */
static const char *
human_bytes(uint64_t v, char *out, size_t len)
{
	static const char units[] = "BKMGTP";
	double x = (double)v;
	int u = 0;
	while (x >= 1024 && u < 5)
		x /= 1024, u++;
	if (u == 0)
		snprintf(out, len, "%llu", (unsigned long long)v);
	else
		snprintf(out, len, "%.1f%c", x, units[u]);
	return out;
}

static void
print_indexes(const json_t *j)
{
	char b1[32], b2[32];
	json_int_t budget = json_integer_value(json_object_get(j, "budget"));
	json_int_t used = json_integer_value(json_object_get(j, "auto_bytes"));
	printf("automatic indexes use %s of a budget of %s bytes\n\n",
	       human_bytes((uint64_t)used, b1, sizeof(b1)),
	       human_bytes((uint64_t)budget, b2, sizeof(b2)));
	printf("%-16s %-24s %-24s %-8s %-8s %8s %8s %8s %-20s %s\n", "CLASS",
	       "INDEX", "FIELDS", "KIND", "STATE", "ENTRIES", "BYTES", "HITS",
	       "CREATED", "REASON");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(j, "indexes"), i, x)
	{
		char *f = json_dumps(json_object_get(x, "fields"), JSON_COMPACT);
		time_t when = (time_t)(json_integer_value(
					       json_object_get(x, "created")) /
				       1000);
		struct tm tm;
		char date[32] = "-";
		if (when > 0 && gmtime_r(&when, &tm))
			strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		const char *reason =
			json_string_value(json_object_get(x, "reason"));
		printf("%-16s %-24s %-24s %-8s %-8s %8lld %8s %8lld %-20s %s\n",
		       json_string_value(json_object_get(x, "class")),
		       json_string_value(json_object_get(x, "name")),
		       f ? f : "?",
		       json_string_value(json_object_get(x, "kind")),
		       json_string_value(json_object_get(x, "state")),
		       (long long)json_integer_value(
			       json_object_get(x, "entries")),
		       human_bytes((uint64_t)json_integer_value(
					   json_object_get(x, "bytes")),
				   b1, sizeof(b1)),
		       (long long)json_integer_value(json_object_get(x, "hits")),
		       date, reason && *reason ? reason : "-");
		free(f);
	}
	printf("\n%-16s %-28s %8s %10s %10s %8s %-10s %s\n", "CLASS",
	       "QUERY SHAPE", "QUERIES", "SCANNED", "RETURNED", "REFUSED",
	       "STATE", "NOTE");
	json_array_foreach(json_object_get(j, "shapes"), i, x)
	{
		const char *note = json_string_value(json_object_get(x, "note"));
		const char *shape =
			json_string_value(json_object_get(x, "shape"));
		printf("%-16s %-28s %8lld %10lld %10lld %8lld %-10s %s\n",
		       json_string_value(json_object_get(x, "class")),
		       shape && *shape ? shape : "(all)",
		       (long long)json_integer_value(
			       json_object_get(x, "queries")),
		       (long long)json_integer_value(
			       json_object_get(x, "scanned")),
		       (long long)json_integer_value(
			       json_object_get(x, "returned")),
		       (long long)json_integer_value(
			       json_object_get(x, "refusals")),
		       json_string_value(json_object_get(x, "state")),
		       note && *note ? note : "-");
	}
}

/* `mist apps indexes ID [CLASS]`: MSG_APPS {"op": "indexes", "id",
 * "class"?}, answered by the app's documents home (ACC_DOC_INDEXES). */
static int
apps_indexes(int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS, {0, 0, 0, 0}};
	struct cmd_common co = {0};
	int c, r;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if ((r = cmd_common_opt(&co, c, "apps", usage)) >= 0)
			return r;
	const char *pos[2];
	int npos = 0;
	for (; optind < argc; optind++) {
		if (npos == 2)
			return bad("indexes: ID [CLASS] only%s", "");
		pos[npos++] = argv[optind];
	}
	if (npos < 1)
		return bad("indexes: which app? (%s)",
			   "mist apps indexes ID [CLASS]");
	if (!apps_id_valid(pos[0], (uint32_t)strlen(pos[0])))
		return bad("'%s' is no applicationId", pos[0]);
	if (!cmd_common_ok(&co, usage))
		return EXIT_USAGE;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, npos == 2 ? 3 : 2);
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, "indexes");
	mp_pack_str(&pk, "id");
	mp_pack_str(&pk, pos[0]);
	if (npos == 2) {
		mp_pack_str(&pk, "class");
		mp_pack_str(&pk, pos[1]);
	}
	json_t *j;
	r = acc_answer(&co, &b, &j);
	buf_destroy(&b);
	if (r != EXIT_OK)
		return r;
	if (co.json) {
		char *s = json_dumps(j, JSON_COMPACT);
		puts(s ? s : "{}");
		free(s);
	} else {
		print_indexes(j);
	}
	json_decref(j);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- main */

int
cmd_apps(int argc, char **argv)
{
	int first = cmd_op_first(argc, argv, usage);
	if (first >= 0)
		return first;
	const char *op = argv[1];
	if (strcmp(op, "index") == 0)
		return apps_index(argc - 1, argv + 1);
	if (strcmp(op, "indexes") == 0)
		return apps_indexes(argc - 1, argv + 1);
	bool create = strcmp(op, "create") == 0, list = strcmp(op, "list") == 0,
	     show = strcmp(op, "show") == 0, set = strcmp(op, "set") == 0,
	     del = strcmp(op, "delete") == 0;
	if (!create && !list && !show && !set && !del) {
		fprintf(stderr, "mist apps: unknown command '%s'\n\n%s", op,
			usage);
		return EXIT_USAGE;
	}
	argc--, argv++;
	/* the operand (create's NAME, the others' ID) comes first */
	const char *arg = NULL;
	if (!list && argc >= 2 && argv[1][0] != '-') {
		arg = argv[1];
		argv[1] = argv[0];
		argc--, argv++;
	}
	struct apps_opts *o = xcalloc(1, sizeof(*o));
	o->ccc = -1;
	o->fn_master = -1;
	struct cmd_common co = {0};
	int r = opts_parse(argc, argv, o, &co);
	if (r >= 0)
		goto out;
	r = EXIT_USAGE;
	if (!list && arg == NULL && optind < argc)
		arg = argv[optind++]; /* after the options (getopt moved it) */
	if (optind != argc) {
		fprintf(stderr, "mist apps %s: unexpected '%s'\n", op,
			argv[optind]);
		goto out;
	}
	if (!list && arg == NULL) {
		fprintf(stderr, "mist apps %s: which %s?\n\n%s", op,
			create ? "name" : "app (its id)", usage);
		goto out;
	}
	if (create && !apps_name_valid(arg, (uint32_t)strlen(arg))) {
		fprintf(stderr, "mist apps: an app's name is 1..%d printable "
			"ASCII bytes\n", APP_NAME_MAX - 1);
		goto out;
	}
	if (!list && !create && !apps_id_valid(arg, (uint32_t)strlen(arg))) {
		fprintf(stderr, "mist apps: '%s' is no applicationId (1..63 of "
			"A-Z a-z 0-9 _ -)\n", arg);
		goto out;
	}
	bool fields = o->has_rate || o->has_user_rate || o->has_ip_rate ||
		      o->has_deadline || o->has_quota || o->has_functions ||
		      o->has_nets || o->home || o->ccc >= 0 ||
		      o->fn_master >= 0;
	fields = fields || o->has_index_budget;
	if ((!create && !set && (fields || o->id || o->rotate)) ||
	    (set && o->id) || (create && o->rotate)) {
		fprintf(stderr, "mist apps %s: an option it does not take\n\n%s",
			op, usage);
		goto out;
	}
	if (!cmd_common_ok(&co, usage))
		goto out;
	if (list) {
		r = list_apps(&co);
		goto out;
	}
	struct buf b = BUF_INIT;
	request_pack(&b, op, create ? arg : NULL, create ? o->id : arg, o);
	struct msg *reply;
	r = request(&co, &b, &reply);
	buf_destroy(&b);
	if (r != EXIT_OK)
		goto out;
	struct mp_cur c;
	mp_cur_init(&c, reply->body, reply->len);
	int prc = 0;
	if (del)
		co.json ? puts("null") : printf("deleted %s\n", arg);
	else
		prc = print_app(&c, co.json, true);
	if (prc != 0) {
		fputs("mist apps: bad reply\n", stderr);
		r = EXIT_RUNTIME;
	}
	sodium_memzero(reply->body, reply->len);
	msg_delete(reply);
out:
	free(o);
	return r;
}
