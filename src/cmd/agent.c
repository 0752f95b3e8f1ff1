/*
 * agent.c -- `mist agent`: the composition root of a node.
 *
 * Start-up order: options -> node identity (DATA/node.key) -> cluster key
 * -> store (DATA/store) -> actor system and the node's actors -> links
 * (listen, then joins) -> run.  Shutdown (SIGINT/SIGTERM) runs the other way:
 * actors get MSG_STOP, links close, the store flushes and closes, the loop
 * ends with every handle closed, exit 0.
 *
 * Once listening, the agent writes its bound address to DATA/agent.addr, so
 * scripts and tests can start agents on port 0 and find them.
 */
#include "config.h"
#include "actors/admin.h"
#include "data/data.h"
#include "data/meta.h"
#include "accessory/docs.h"
#include "function/function.h"
#include "gateway/gateway.h"
#include "cmd/cmd.h"
#include "mist.h"
#include "net/addr.h"
#include "net/keyring.h"
#include "net/link.h"
#include "net/loop.h"
#include "net/swim.h"
#include "net/udp.h"
#include "store/store.h"
#include "util/log.h"
#include "util/container.h"
#include "util/mem.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <inttypes.h>
#include <sodium.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGENT_MAX_JOINS 32
/* How often the advertised load is refreshed, and by how much it must move
 * to be gossiped again (each change is a new incarnation for everyone). */
#define AGENT_LOAD_EVERY_MS 10000
#define AGENT_LOAD_DELTA 0.25
/* Address space for LMDB; sparse, so only what is used costs disk. */
#define AGENT_MAP_SIZE (1ull << 30)

static const char usage[] =
	"usage: mist agent --data DIR --key FILE [OPTIONS]\n"
	"\n"
	"Runs a mist node in the foreground until SIGINT or SIGTERM.\n"
	"\n"
	"  --data DIR          data directory (node key, store); created if missing\n"
	"  --key FILE          cluster key file (from `mist keygen`)\n"
	"  --bind IP:PORT      where to listen for links (default 0.0.0.0:7946;\n"
	"                      port 0 picks a free port, see DIR/agent.addr)\n"
	"  --join ADDR:PORT    an agent to link to (IP or DNS name, resolved again\n"
	"                      before every retry); may repeat; retried with backoff\n"
	"  --tier TIER         fog, edge or cloud (default fog)\n"
	"  --name NAME         node name (default: the host name)\n"
	"  --log-level LEVEL   error, warn, info or debug (default info)\n"
	"  --max-frame BYTES   largest link frame accepted (default 1048576)\n"
	"  --tag KEY=VALUE     free-form metadata gossiped with the node; may repeat\n"
	"  --power WATTS       power draw, for energy-aware placement (default 0)\n"
	"  --price PER_HOUR    price, for cost-aware placement (default 0)\n"
	"  --speed FACTOR      relative speed of a core (default 1.0)\n"
	"  --no-lifeguard      plain SWIM (for comparisons; not for production)\n"
	"  --gateway IP:PORT   where clients (libmist) connect (default: the\n"
	"                      --bind address with port 0; see DIR/gateway.addr)\n"
	"  --plugin PATH       a shared object of functions to offer; may repeat\n"
	"  --executors N       executor processes (default: the number of cores)\n"
	"  --task-memory MB    address space per executor (default 1024)\n"
	"  --task-cpu-ms MS    CPU time per task attempt (default 60000)\n"
	"  --task-wall-ms MS   wall time per task attempt (default 120000)\n"
	"  --job-max-tasks N   tasks per job this agent owns (default 4194304)\n"
	"  --http IP:PORT      serve Parse's REST API (apps, documents, users,\n"
	"                      functions) over HTTP here; port 0 picks, see\n"
	"                      DIR/http.addr; docs/HTTP.md\n"
	"  --https IP:PORT     the same over TLS (1.2+, HTTP/2 by ALPN); needs\n"
	"                      --tls-cert and --tls-key (PEM); see DIR/https.addr\n"
	"  --tls-cert FILE     certificate chain for --https\n"
	"  --tls-key FILE      private key for --https\n"
	"  --access-log FILE   one JSON line per HTTP request (reopened on SIGHUP)\n"
	"  --http-max-body BYTES  largest request body (default 1048576)\n"
	"  --http-max-conns N  HTTP connections at once (default 16384)\n"
	"  --docs lmdb|postgres|none  host apps' documents here, in LMDB (default),\n"
	"                      in a PostgreSQL server every such agent shares (each\n"
	"                      then serves every app: no home), or not (gossiped:\n"
	"                      `mist apps create` homes no app here)\n"
	"  --docs-url CONNINFO the PostgreSQL server of --docs postgres: a libpq\n"
	"                      connection string or postgres:// URI; a password goes\n"
	"                      in a passfile (passfile=, PGPASSFILE), never here\n"
	"  -h, --help          this text\n"
	"  --version           print the version\n";

struct agent {
	uv_loop_t loop;
	struct loop_driver drv;
	struct actor_sys sys;
	struct link_mgr links;
	struct store *store;
	struct identity id;
	struct keyring keys;
	struct udp_transport udp;
	struct swim *swim;
	struct meta meta; /* what we gossip about ourselves (data/meta.h) */
	const char *docs_url; /* --docs postgres: argv's */
	uv_timer_t load_timer;
	bool udp_open; /* the UDP handle needs closing */
	struct pool *pool; /* NULL: no --plugin, this node offers nothing */
	uv_signal_t sigint, sigterm, sighup;
	bool stopping;
};

static void
agent_links_closed(struct link_mgr *m)
{
	loop_driver_close(&container_of(m, struct agent, links)->drv);
}

static void
agent_stop(struct agent *a, const char *why)
{
	if (a->stopping)
		return;
	a->stopping = true;
	log_info("stopping (%s)", why);
	/* actors first: each handles MSG_STOP as its last message */
	actor_sys_shutdown(&a->sys);
	while (actor_sys_has_work(&a->sys))
		actor_sys_run(&a->sys, UINT32_MAX);
	uv_close((uv_handle_t *)&a->load_timer, NULL);
	if (a->pool)
		pool_close(a->pool);
	if (a->udp_open)
		udp_close(&a->udp, NULL);
	link_mgr_close(&a->links, agent_links_closed);
	store_close(a->store);
	uv_close((uv_handle_t *)&a->sigint, NULL);
	uv_close((uv_handle_t *)&a->sigterm, NULL);
	uv_close((uv_handle_t *)&a->sighup, NULL);
}

static void agent_keyring_save(struct agent *a);

/* Key rotation: applied here by the admin actor, persisted at once. */
static int
agent_keys(void *ctx, enum admin_key_op op, const uint8_t key[32],
	   uint8_t keys[][32], int *n, int *primary)
{
	struct agent *a = ctx;
	int rc = 0;
	switch (op) {
	case KEYS_LIST: break;
	case KEYS_INSTALL: rc = keyring_install(&a->keys, key); break;
	case KEYS_USE: rc = keyring_use(&a->keys, key); break;
	case KEYS_REMOVE: rc = keyring_remove(&a->keys, key); break;
	}
	if (rc != 0)
		return rc;
	if (op != KEYS_LIST) {
		agent_keyring_save(a);
		/* new links start with the primary key */
		memcpy(a->links.psk, keyring_primary(&a->keys), 32);
		log_info("keyring: %s done, %d keys", op == KEYS_INSTALL ? "install"
			 : op == KEYS_USE ? "use" : "remove", a->keys.n);
	}
	for (int i = 0; i < a->keys.n; i++)
		memcpy(keys[i], a->keys.keys[i], 32);
	*n = a->keys.n;
	*primary = a->keys.primary;
	return 0;
}

/* On-demand links: gossip knows where every member is. */
static int
agent_resolve(void *ctx, uint64_t node, struct sockaddr_storage *out)
{
	struct agent *a = ctx;
	return a->swim ? swim_member_addr(a->swim, node, out) : MIST_ENOTFOUND;
}

static void
agent_signal_cb(uv_signal_t *h, int signum)
{
	agent_stop(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Descriptors beyond the clients': links, the store, executors, logs. */
#define AGENT_NOFILE_SPARE 1024

/*
 * Raises the soft open-file limit towards @a want (at most the hard
 * limit): Debian's soft default of 1024 would cap an HTTP gateway far
 * below its connection bound, and the hard limit is the operator's.
 */
static void
agent_raise_nofile(uint64_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rlim_t old = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
			      ? (rlim_t)want
			      : rl.rlim_max;
	if (rl.rlim_cur > old && setrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("open-file limit raised from %llu to %llu",
			 (unsigned long long)old,
			 (unsigned long long)rl.rlim_cur);
}

/* SIGHUP (logrotate): the gateway reopens its access log, in its turn. */
static void
agent_sighup_cb(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;
	(void)signum;
	actor_sys_deliver(&a->sys, actor_local_msg(&a->sys, ACTOR_GATEWAY,
						   MSG_REOPEN_LOGS, NULL, 0));
}

/* Counts boots in the store: incarnations start at boots << 32. */
static uint64_t
agent_count_boot(struct agent *a)
{
	struct buf b = BUF_INIT;
	uint64_t boots = 0;
	if (store_get(a->store, STORE_META, "boots", 5, &b) == 0 &&
	    b.len == sizeof(boots))
		memcpy(&boots, b.data, sizeof(boots));
	boots++;
	store_put(a->store, STORE_META, "boots", 5, &boots, sizeof(boots),
		  NULL, NULL);
	buf_destroy(&b);
	log_info("boot #%" PRIu64, boots);
	return boots;
}

/*
 * The keyring lives in the store ("keyring": n, primary, n x 32 bytes), so
 * rotations survive restarts; --key is installed into it if missing.
 */
static void
agent_keyring_save(struct agent *a)
{
	uint8_t b[2 + KEYRING_MAX * 32];
	b[0] = (uint8_t)a->keys.n;
	b[1] = (uint8_t)a->keys.primary;
	for (int i = 0; i < a->keys.n; i++)
		memcpy(b + 2 + 32 * i, a->keys.keys[i], 32);
	store_put(a->store, STORE_META, "keyring", 7, b, 2 + 32 * (size_t)a->keys.n,
		  NULL, NULL);
	sodium_memzero(b, sizeof(b));
}

static void
agent_keyring_load(struct agent *a, const uint8_t psk[32])
{
	struct buf b = BUF_INIT;
	keyring_init(&a->keys, psk);
	if (store_get(a->store, STORE_META, "keyring", 7, &b) == 0 && b.len >= 2 &&
	    b.data[0] >= 1 && b.data[0] <= KEYRING_MAX &&
	    b.len == 2 + 32 * (size_t)b.data[0] && b.data[1] < b.data[0]) {
		struct keyring k;
		keyring_init(&k, b.data + 2 + 32 * b.data[1]);
		for (int i = 0; i < b.data[0]; i++)
			keyring_install(&k, b.data + 2 + 32 * i);
		keyring_install(&k, psk);
		a->keys = k;
		sodium_memzero(&k, sizeof(k));
	}
	if (b.data)
		sodium_memzero(b.data, b.cap);
	buf_destroy(&b);
	agent_keyring_save(a);
}

static double
agent_loadavg(void)
{
	double l[1];
	return getloadavg(l, 1) == 1 ? l[0] : 0.0;
}

static void
agent_load_cb(uv_timer_t *t)
{
	struct agent *a = t->data;
	double load = agent_loadavg();
	if (load - a->meta.load < AGENT_LOAD_DELTA &&
	    a->meta.load - load < AGENT_LOAD_DELTA)
		return;
	a->meta.load = load;
	struct buf b = BUF_INIT;
	if (meta_encode(&a->meta, &b) == 0)
		swim_set_meta(&a->sys, b.data, (uint16_t)b.len);
	buf_destroy(&b);
}

static int
agent_write_addr(const char *dir, const char *addr)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/agent.addr", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%s\n", addr);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path); /* readers never see a partial file */
}

/*
 * The executors announced their functions: offer them to the cluster (our
 * gossiped metadata) and tell the data manager, by a message.  The pool's
 * context is the actor system (func_pool_done posts results to it).
 */
static void
agent_pool_ready(void *ctx, const char *const *names,
		 const char *const *reads, uint32_t n)
{
	struct agent *a = container_of(ctx, struct agent, sys);
	a->meta.nfunctions = 0;
	a->meta.nreads = 0;
	uint32_t nreads = 0;
	for (uint32_t i = 0; i < n && i < EXEC_MAX_FUNCTIONS; i++) {
		if (reads[i] != NULL && a->meta.nreads < META_MAX_READS) {
			a->meta.reads[a->meta.nreads].fn = a->meta.nfunctions;
			snprintf(a->meta.reads[a->meta.nreads++].tmpl,
				 MIST_READ_MAX, "%s", reads[i]);
		}
		nreads += reads[i] != NULL;
		snprintf(a->meta.functions[a->meta.nfunctions++],
			 EXEC_NAME_MAX, "%s", names[i]);
	}
	struct buf b = BUF_INIT;
	/* a declared read is a shortcut (without it the function's read
	 * goes through the host API), a function is a service: reads go
	 * first */
	while (meta_encode(&a->meta, &b) != 0 &&
	       (a->meta.nreads > 0 || a->meta.nfunctions > 0)) {
		if (a->meta.nreads > 0)
			a->meta.nreads--;
		else
			a->meta.nfunctions--;
		buf_reset(&b);
	}
	if (a->meta.nreads < nreads)
		log_warn("gossiping %u of %u declared reads: metadata is "
			 "limited to %d bytes (the others read through the "
			 "host API)", a->meta.nreads, nreads, META_MAX_BYTES);
	if (a->meta.nfunctions < n)
		log_warn("offering %u of %u functions: metadata is limited to "
			 "%d bytes", a->meta.nfunctions, n, META_MAX_BYTES);
	if (a->swim)
		swim_set_meta(&a->sys, b.data, (uint16_t)b.len);
	/* the gateway routes add-on functions here first when we offer them */
	actor_sys_deliver(&a->sys, actor_local_msg(&a->sys, ACTOR_GATEWAY,
						   MSG_SWIM_META, b.data,
						   (uint32_t)b.len));
	buf_destroy(&b);
	const char *ptrs[EXEC_MAX_FUNCTIONS];
	for (uint32_t i = 0; i < a->meta.nfunctions; i++)
		ptrs[i] = a->meta.functions[i];
	data_functions_post(&a->sys, ptrs, a->meta.nfunctions);
	log_info("offering %u function(s)", a->meta.nfunctions);
}

/* Subscribes local actor @a actor to gossip's member events, as if it
 * had asked (ACTOR_SWIM takes subscriptions from its own node). */
static void
agent_subscribe(struct actor_sys *sys, uint32_t actor)
{
	struct msg *m = msg_new(MSG_SWIM_SUBSCRIBE, NULL, 0);
	m->flags = MSG_F_LOCAL;
	m->from = (struct actor_ref){sys->node, actor};
	m->to = (struct actor_ref){sys->node, ACTOR_SWIM};
	actor_sys_deliver(sys, m);
}

static int
agent_write_file(const char *dir, const char *file, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%s\n", text);
	return fclose(f);
}

static int
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static bool
valid_tier(const char *t)
{
	return strcmp(t, "fog") == 0 || strcmp(t, "edge") == 0 ||
	       strcmp(t, "cloud") == 0;
}

/* A libpq connection string or URI that parses and names no password
 * (it would sit in the process list and in logs: a passfile holds it). */
static bool
agent_conninfo_ok(const char *s)
{
	char *err = NULL;
	PQconninfoOption *o = PQconninfoParse(s, &err);
	PQfreemem(err);
	if (o == NULL)
		return false;
	bool ok = true;
	for (PQconninfoOption *i = o; i->keyword != NULL; i++)
		if (strcmp(i->keyword, "password") == 0 && i->val != NULL &&
		    i->val[0] != '\0')
			ok = false;
	PQconninfoFree(o);
	return ok;
}

int
cmd_agent(int argc, char **argv)
{
	enum { OPT_DATA = 256, OPT_KEY, OPT_BIND, OPT_JOIN, OPT_TIER, OPT_NAME,
	       OPT_LOG, OPT_MAXFRAME, OPT_VERSION, OPT_TAG, OPT_POWER,
	       OPT_PRICE, OPT_SPEED, OPT_NOLIFEGUARD, OPT_GATEWAY, OPT_PLUGIN,
	       OPT_EXECUTORS, OPT_TMEM, OPT_TCPU, OPT_TWALL, OPT_JMAX, OPT_DOCS,
	       OPT_HTTP, OPT_HTTPS, OPT_TLSCERT, OPT_TLSKEY, OPT_ALOG,
	       OPT_HTTPBODY, OPT_HTTPCONNS, OPT_DOCSURL };
	static const struct option opts[] = {
		{"data", required_argument, 0, OPT_DATA},
		{"key", required_argument, 0, OPT_KEY},
		{"bind", required_argument, 0, OPT_BIND},
		{"join", required_argument, 0, OPT_JOIN},
		{"tier", required_argument, 0, OPT_TIER},
		{"name", required_argument, 0, OPT_NAME},
		{"log-level", required_argument, 0, OPT_LOG},
		{"max-frame", required_argument, 0, OPT_MAXFRAME},
		{"tag", required_argument, 0, OPT_TAG},
		{"power", required_argument, 0, OPT_POWER},
		{"price", required_argument, 0, OPT_PRICE},
		{"speed", required_argument, 0, OPT_SPEED},
		{"no-lifeguard", no_argument, 0, OPT_NOLIFEGUARD},
		{"gateway", required_argument, 0, OPT_GATEWAY},
		{"plugin", required_argument, 0, OPT_PLUGIN},
		{"executors", required_argument, 0, OPT_EXECUTORS},
		{"task-memory", required_argument, 0, OPT_TMEM},
		{"task-cpu-ms", required_argument, 0, OPT_TCPU},
		{"task-wall-ms", required_argument, 0, OPT_TWALL},
		{"job-max-tasks", required_argument, 0, OPT_JMAX},
		{"docs", required_argument, 0, OPT_DOCS},
		{"docs-url", required_argument, 0, OPT_DOCSURL},
		{"http", required_argument, 0, OPT_HTTP},
		{"https", required_argument, 0, OPT_HTTPS},
		{"tls-cert", required_argument, 0, OPT_TLSCERT},
		{"tls-key", required_argument, 0, OPT_TLSKEY},
		{"access-log", required_argument, 0, OPT_ALOG},
		{"http-max-body", required_argument, 0, OPT_HTTPBODY},
		{"http-max-conns", required_argument, 0, OPT_HTTPCONNS},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0}};
	const char *data = NULL, *keyfile = NULL, *bind = "0.0.0.0:7946";
	const char *tier = "fog", *joins[AGENT_MAX_JOINS];
	char name[LINK_NAME_MAX] = "";
	int njoins = 0;
	struct link_config lcfg;
	link_config_default(&lcfg);
	enum log_level level = LOG_LVL_INFO;
	struct meta meta;
	meta_init(&meta);
	const char *docs_url = NULL;
	long ncores = sysconf(_SC_NPROCESSORS_ONLN);
	meta.cores = ncores > 0 ? (uint32_t)ncores : 1;
	bool lifeguard = true;
	const char *gateway = NULL;
	const char *http = NULL, *https = NULL, *tls_cert = NULL;
	const char *tls_key = NULL, *access_log = NULL;
	unsigned long http_max_body = 0, http_max_conns = 0;
	struct pool_config pcfg;
	pool_config_default(&pcfg);
	uint32_t job_max_tasks = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_KEY: keyfile = optarg; break;
		case OPT_BIND: bind = optarg; break;
		case OPT_JOIN:
			if (njoins == AGENT_MAX_JOINS) {
				fprintf(stderr, "mist agent: at most %d --join\n",
					AGENT_MAX_JOINS);
				return EXIT_USAGE;
			}
			joins[njoins++] = optarg;
			break;
		case OPT_TIER: tier = optarg; break;
		case OPT_NAME:
			if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(name)) {
				fprintf(stderr, "mist agent: --name must be 1..%zu "
					"characters\n", sizeof(name) - 1);
				return EXIT_USAGE;
			}
			snprintf(name, sizeof(name), "%s", optarg);
			break;
		case OPT_LOG:
			if (log_level_parse(optarg, &level) != 0) {
				fprintf(stderr, "mist agent: --log-level must be "
					"error, warn, info or debug\n");
				return EXIT_USAGE;
			}
			break;
		case OPT_MAXFRAME: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v < 4096 || v > (64ul << 20)) {
				fprintf(stderr, "mist agent: --max-frame must be "
					"4096..67108864\n");
				return EXIT_USAGE;
			}
			lcfg.max_frame = (uint32_t)v;
			break;
		}
		case OPT_TAG: {
			const char *eq = strchr(optarg, '=');
			if (meta.ntags == META_MAX_TAGS || eq == NULL ||
			    eq == optarg || eq - optarg >= META_TAG_MAX ||
			    strlen(eq + 1) >= META_TAG_MAX) {
				fprintf(stderr, "mist agent: --tag wants KEY=VALUE (at "
					"most %d, each side < %d bytes)\n",
					META_MAX_TAGS, META_TAG_MAX);
				return EXIT_USAGE;
			}
			snprintf(meta.tags[meta.ntags][0], META_TAG_MAX, "%.*s",
				 (int)(eq - optarg), optarg);
			snprintf(meta.tags[meta.ntags][1], META_TAG_MAX, "%s",
				 eq + 1);
			meta.ntags++;
			break;
		}
		case OPT_POWER:
		case OPT_PRICE:
		case OPT_SPEED: {
			char *end;
			double v = strtod(optarg, &end);
			if (*end != '\0' || !(v >= 0) || v > 1e9) {
				fprintf(stderr, "mist agent: --%s wants a number >= 0\n",
					c == OPT_POWER ? "power"
					: c == OPT_PRICE ? "price" : "speed");
				return EXIT_USAGE;
			}
			*(c == OPT_POWER ? &meta.power
			  : c == OPT_PRICE ? &meta.price : &meta.speed) = v;
			break;
		}
		case OPT_NOLIFEGUARD: lifeguard = false; break;
		case OPT_GATEWAY: gateway = optarg; break;
		case OPT_PLUGIN:
			if (pcfg.nplugins == EXEC_MAX_PLUGINS ||
			    access(optarg, R_OK) != 0) {
				fprintf(stderr, "mist agent: --plugin %s: %s\n",
					optarg,
					pcfg.nplugins == EXEC_MAX_PLUGINS
						? "too many plugins"
						: strerror(errno));
				return EXIT_USAGE;
			}
			pcfg.plugins[pcfg.nplugins++] = optarg;
			break;
		case OPT_EXECUTORS:
		case OPT_TMEM:
		case OPT_TCPU:
		case OPT_TWALL:
		case OPT_JMAX: {
			uint32_t *dst = c == OPT_EXECUTORS ? &pcfg.executors
					: c == OPT_TMEM ? &pcfg.memory_mb
					: c == OPT_TCPU ? &pcfg.cpu_ms
					: c == OPT_TWALL ? &pcfg.wall_ms
							: &job_max_tasks;
			uint32_t max = c == OPT_EXECUTORS ? 256 : 1u << 30;
			if (parse_u32(optarg, 1, max, dst) != 0) {
				fprintf(stderr, "mist agent: bad number '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_HTTP: http = optarg; break;
		case OPT_HTTPS: https = optarg; break;
		case OPT_TLSCERT: tls_cert = optarg; break;
		case OPT_TLSKEY: tls_key = optarg; break;
		case OPT_ALOG: access_log = optarg; break;
		case OPT_HTTPBODY: {
			char *end;
			http_max_body = strtoul(optarg, &end, 10);
			/* 1 KiB .. 64 MiB: below, no Parse object fits; above,
			 * a body should be a file upload (a later issue) */
			if (*end != '\0' || http_max_body < 1024 ||
			    http_max_body > (64ul << 20)) {
				fprintf(stderr, "mist agent: --http-max-body must be "
					"1024..67108864\n");
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_HTTPCONNS: {
			char *end;
			http_max_conns = strtoul(optarg, &end, 10);
			/* 16 .. 1M: a million descriptors is what a kernel's
			 * default nr_open allows one process */
			if (*end != '\0' || http_max_conns < 16 ||
			    http_max_conns > (1ul << 20)) {
				fprintf(stderr, "mist agent: --http-max-conns must "
					"be 16..1048576\n");
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_DOCS:
			if (strcmp(optarg, "lmdb") != 0 &&
			    strcmp(optarg, "postgres") != 0 &&
			    strcmp(optarg, "none") != 0) {
				fprintf(stderr, "mist agent: --docs must be lmdb, "
					"postgres or none\n");
				return EXIT_USAGE;
			}
			meta.docs = strcmp(optarg, "none") != 0;
			meta.docs_shared = strcmp(optarg, "postgres") == 0;
			break;
		case OPT_DOCSURL:
			if (strlen(optarg) > DOCS_PG_CONNINFO_MAX ||
			    !agent_conninfo_ok(optarg)) {
				fprintf(stderr, "mist agent: --docs-url must be a "
					"libpq connection string or URI of at "
					"most %d bytes, with no password (use a "
					"passfile)\n", DOCS_PG_CONNINFO_MAX);
				return EXIT_USAGE;
			}
			docs_url = optarg;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case OPT_VERSION: cmd_print_version(); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || data == NULL || keyfile == NULL) {
		fprintf(stderr, "mist agent: --data and --key are required\n\n%s",
			usage);
		return EXIT_USAGE;
	}
	if (!valid_tier(tier)) {
		fprintf(stderr, "mist agent: --tier must be fog, edge or cloud\n");
		return EXIT_USAGE;
	}
	if (https != NULL && (tls_cert == NULL || tls_key == NULL)) {
		fprintf(stderr, "mist agent: --https needs --tls-cert and --tls-key\n");
		return EXIT_USAGE;
	}
	if ((tls_cert != NULL || tls_key != NULL) && https == NULL) {
		fprintf(stderr, "mist agent: --tls-cert and --tls-key go with --https\n");
		return EXIT_USAGE;
	}
	snprintf(meta.tier, sizeof(meta.tier), "%s", tier);
	if (meta.docs_shared != (docs_url != NULL)) {
		fprintf(stderr, "mist agent: --docs postgres and --docs-url go "
			"together\n");
		return EXIT_USAGE;
	}
	meta.http = http != NULL || https != NULL;
	meta.load = agent_loadavg();
	struct buf metabuf = BUF_INIT;
	if (meta_encode(&meta, &metabuf) != 0) {
		fprintf(stderr, "mist agent: the tags are too large to gossip "
			"(%zu bytes, at most %d)\n", metabuf.len, META_MAX_BYTES);
		buf_destroy(&metabuf);
		return EXIT_USAGE;
	}
	struct sockaddr_storage probe;
	if (addr_parse(bind, &probe) != 0) {
		fprintf(stderr, "mist agent: --bind wants IP:PORT, got '%s'\n", bind);
		return EXIT_USAGE;
	}
	for (int i = 0; i < njoins; i++) {
		char host[ADDR_HOST_MAX];
		unsigned port;
		if (addr_parse(joins[i], &probe) != 0 &&
		    addr_split_name(joins[i], host, &port) != 0) {
			fprintf(stderr, "mist agent: --join wants IP:PORT or "
					"HOST:PORT, got '%s'\n",
				joins[i]);
			return EXIT_USAGE;
		}
	}
	if (name[0] == '\0' && gethostname(name, sizeof(name) - 1) != 0)
		snprintf(name, sizeof(name), "mist");
	log_set_level(level);
	log_set_name(name);

	struct agent *a = xcalloc(1, sizeof(*a));
	uint8_t psk[32];
	int status = EXIT_RUNTIME;
	if (cmd_read_key(keyfile, psk) != 0)
		goto out_free;
	if (identity_load_or_create(data, &a->id) != 0)
		goto out_free;
	uv_loop_init(&a->loop);
	a->store = store_open(&a->loop, data, AGENT_MAP_SIZE);
	if (a->store == NULL) {
		uv_loop_close(&a->loop);
		goto out_free;
	}
	uint64_t boots = agent_count_boot(a);
	agent_keyring_load(a, psk);
	a->meta = meta;
	a->docs_url = docs_url;

	struct actor_sys_env env;
	loop_driver_env(&a->drv, &a->loop, &env);
	actor_sys_init(&a->sys, a->id.node, &env, NULL, rand_process_seed());

	struct link_hello hello = {.role = LINK_ROLE_AGENT};
	snprintf(hello.name, sizeof(hello.name), "%s", name);
	snprintf(hello.tier, sizeof(hello.tier), "%s", tier);
	link_mgr_init(&a->links, &a->loop, &a->sys, &a->id,
		      keyring_primary(&a->keys), &lcfg, &hello);
	a->links.keys = &a->keys;
	sodium_memzero(psk, sizeof(psk));
	a->drv.remote_send = link_mgr_send;
	a->drv.drained = link_mgr_resume;
	a->drv.net_ctx = &a->links;
	a->links.notify_actor = ACTOR_SWIM; /* a new link is a join: sync */
	a->links.resolve = agent_resolve;
	a->links.resolve_ctx = a;
	uv_timer_init(&a->loop, &a->load_timer);
	a->load_timer.data = a;
	loop_driver_start(&a->drv, &a->sys);

	uv_signal_init(&a->loop, &a->sigint);
	uv_signal_init(&a->loop, &a->sigterm);
	a->sigint.data = a->sigterm.data = a;
	/* A peer or client that resets its connection while we write to it
	 * must cost that connection (EPIPE from the write), not the agent:
	 * libuv does not ignore SIGPIPE for us. */
	signal(SIGPIPE, SIG_IGN);
	uv_signal_start(&a->sigint, agent_signal_cb, SIGINT);
	uv_signal_start(&a->sigterm, agent_signal_cb, SIGTERM);
	uv_signal_init(&a->loop, &a->sighup);
	a->sighup.data = a;
	uv_signal_start(&a->sighup, agent_sighup_cb, SIGHUP);

	char bound[LINK_NAME_MAX];
	struct gateway *gw = NULL;
	bool http_failed = false;
	int lrc = link_mgr_listen(&a->links, bind);
	if (lrc == 0) {
		link_mgr_bound_addr(&a->links, bound, sizeof(bound));
		/* gossip uses the same port, over UDP */
		lrc = udp_open(&a->udp, &a->loop, &a->sys, &a->keys, bound);
		a->udp_open = true;
	}
	if (lrc != 0) {
		agent_stop(a, "cannot listen");
		status = EXIT_RUNTIME;
	} else {
		snprintf(a->links.hello.addr, sizeof(a->links.hello.addr), "%s",
			 bound);
		struct admin_self self;
		snprintf(self.name, sizeof(self.name), "%s", name);
		snprintf(self.tier, sizeof(self.tier), "%s", tier);
		snprintf(self.addr, sizeof(self.addr), "%s", bound);
		struct admin_hooks hooks = {agent_keys, a};
		admin_spawn(&a->sys, &self, &hooks);
		char gwaddr[LINK_NAME_MAX];
		if (gateway) {
			snprintf(gwaddr, sizeof(gwaddr), "%s", gateway);
		} else {
			/* the link address's IP, any free port */
			snprintf(gwaddr, sizeof(gwaddr), "%s", bound);
			char *colon = strrchr(gwaddr, ':');
			if (colon)
				snprintf(colon, sizeof(gwaddr) - (size_t)(colon - gwaddr), ":0");
		}
		struct gateway_config gcfg;
		gateway_config_default(&gcfg);
		gcfg.max_frame = lcfg.max_frame;
		gcfg.docs = a->meta.docs;
		gcfg.docs_shared = a->meta.docs_shared;
		gcfg.http_addr = http;
		gcfg.https_addr = https;
		gcfg.http.tls_cert = tls_cert;
		gcfg.http.tls_key = tls_key;
		if (http_max_body)
			gcfg.http.max_body = http_max_body;
		if (http_max_conns)
			gcfg.http.max_conns = (uint32_t)http_max_conns;
		if (http != NULL || https != NULL)
			agent_raise_nofile(gcfg.http.max_conns +
					   gcfg.max_conns + AGENT_NOFILE_SPARE);
		gcfg.rest.access_log = access_log;
		gcfg.rest.link_stats = &a->links.stats;
		snprintf(gcfg.name, sizeof(gcfg.name), "%s", name);
		int gerr;
		gw = gateway_spawn(&a->sys, &a->loop, a->store, &gcfg, gwaddr,
				   &gerr);
		if (gw != NULL && gerr != 0) {
			/* the HTTP listener failed: the actor exists and is
			 * stopped with the others below */
			log_error("cannot serve HTTP: %s", mist_strerror(gerr));
			http_failed = true;
		}
		if (gw)
			gateway_bound_addr(gw, a->meta.gateway,
					   sizeof(a->meta.gateway));
		buf_reset(&metabuf);
		meta_encode(&a->meta, &metabuf);
		struct swim_config scfg;
		swim_config_default(&scfg);
		scfg.incarnation = boots << 32;
		scfg.lifeguard = lifeguard;
		struct swim_self sself = {0};
		snprintf(sself.name, sizeof(sself.name), "%s", name);
		addr_parse(bound, &sself.addr);
		memcpy(sself.meta, metabuf.data, metabuf.len);
		sself.meta_len = (uint16_t)metabuf.len;
		struct swim_transport tr = udp_swim_transport(&a->udp);
		a->swim = swim_spawn(&a->sys, &scfg, &tr, &sself);
		/* the gateway came first (its address is in our metadata) and
		 * does not subscribe itself (ACTOR_SWIM did not exist yet):
		 * made here, or it never learns the members it gives
		 * credentials */
		if (gw) {
			agent_subscribe(&a->sys, ACTOR_GATEWAY);
			gateway_set_swim(gw, a->swim);
		}
		if (pcfg.nplugins > 0) {
			char exe[4096];
			size_t exelen = sizeof(exe);
			uv_exepath(exe, &exelen);
			pcfg.exe = exe;
			a->pool = pool_open(&a->loop, &pcfg, func_pool_done,
					    agent_pool_ready, &a->sys);
			/* host API: functions' document calls, through the
			 * function actor to the gateway (function.h) */
			if (a->pool)
				pool_set_host(a->pool, func_pool_host);
		}
		struct func_config fcfg;
		func_config_default(&fcfg);
		snprintf(fcfg.name, sizeof(fcfg.name), "%s", name);
		func_spawn(&a->sys, &fcfg, a->pool ? &pool_real_ops : NULL,
			   a->pool);
		if (a->meta.docs) {
			/* ACTOR_DOCS: the documents of the apps homed here */
			struct docs_config docfg;
			docs_config_default(&docfg);
			docfg.pg_conninfo = a->docs_url; /* NULL: LMDB */
			int derr;
			if (docs_spawn(&a->sys, &a->loop, data, &docfg, &derr) ==
			    NULL) {
				log_error("cannot open the documents store: %s",
					  mist_strerror(derr));
				http_failed = true;
			}
		}
		struct data_config dcfg;
		data_config_default(&dcfg);
		if (job_max_tasks)
			dcfg.max_tasks = job_max_tasks;
		data_spawn(&a->sys, &dcfg, a->store, boots, name, &a->meta);
		uv_timer_start(&a->load_timer, agent_load_cb, AGENT_LOAD_EVERY_MS,
			       AGENT_LOAD_EVERY_MS);
		char id[17];
		identity_node_str(id, a->id.node);
		log_info("mist %s agent %s id %s tier %s listening on %s",
			 mist_version(), name, id, tier, bound);
		if (agent_write_addr(data, bound) != 0)
			log_warn("cannot write %s/agent.addr: %s", data,
				 strerror(errno));
		if (gw != NULL) {
			if (agent_write_file(data, "gateway.addr", a->meta.gateway) != 0)
				log_warn("cannot write %s/gateway.addr", data);
			log_info("gateway listening on %s", a->meta.gateway);
			char haddr[LINK_NAME_MAX];
			gateway_http_addr(gw, false, haddr, sizeof(haddr));
			if (haddr[0] != '\0' &&
			    agent_write_file(data, "http.addr", haddr) != 0)
				log_warn("cannot write %s/http.addr", data);
			gateway_http_addr(gw, true, haddr, sizeof(haddr));
			if (haddr[0] != '\0' &&
			    agent_write_file(data, "https.addr", haddr) != 0)
				log_warn("cannot write %s/https.addr", data);
		}
		for (int i = 0; i < njoins; i++)
			link_mgr_join(&a->links, joins[i]);
		status = EXIT_OK;
		if (gw == NULL || http_failed) {
			agent_stop(a, "cannot listen for clients");
			status = EXIT_RUNTIME;
		}
	}
	uv_run(&a->loop, UV_RUN_DEFAULT);
	actor_sys_destroy(&a->sys);
	if (uv_loop_close(&a->loop) != 0)
		log_warn("loop closed with handles still open");
	log_info("stopped");
out_free:
	sodium_memzero(psk, sizeof(psk));
	buf_destroy(&metabuf);
	free(a);
	return status;
}
