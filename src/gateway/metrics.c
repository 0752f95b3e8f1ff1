/*
 * metrics.c -- the gateway's counters and their Prometheus rendering (see
 * metrics.h).
 */
#include "config.h"
#include "gateway/metrics.h"
#include "actors/actor.h"
#include "function/function.h"
#include "net/link.h"
#include "net/mp.h"
#include "net/swim.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in seconds: from 0.5 ms (a cached
 * read on loopback) to 10 s (the longest default deadline). */
static const double bounds[METRICS_NBUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25,	0.5,   1,      2.5,   5,    10,	   30};

struct mseries {
	char app[64];
	enum preq_route route;
	int status;
	uint64_t count;
};

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	map_init(&m->series, randombytes_random());
}

void
metrics_destroy(struct metrics *m)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&m->series, &it, &k, &v))
		free(v);
	map_destroy(&m->series);
}

static uint64_t
series_key(const char *app, enum preq_route route, int status)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = app; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ (uint64_t)route) * 1099511628211ull;
	h = (h ^ (uint64_t)status) * 1099511628211ull;
	return h;
}

void
metrics_request(struct metrics *m, const char *app, enum preq_route route,
		int status, uint64_t ns)
{
	unsigned ri = (unsigned)route < METRICS_NROUTES ? (unsigned)route : 0;
	double s = (double)ns / 1e9;
	unsigned b = 0;
	while (b < METRICS_NBUCKETS && s > bounds[b])
		b++;
	m->hist[ri][b]++;
	m->sum[ri] += s;
	m->count[ri]++;
	if (status == 504)
		m->expired++;
	/* a colliding hash with another triple counts under the first:
	 * 64-bit FNV over a few thousand series makes that vanishingly rare */
	uint64_t k = series_key(app, route, status);
	struct mseries *se = map_get(&m->series, k);
	if (se == NULL && m->nseries >= METRICS_MAX_SERIES) {
		/* full: one series more at most, for everything left out */
		app = "_other";
		route = PR_NONE;
		status = 0;
		k = series_key(app, route, status);
		se = map_get(&m->series, k);
	}
	if (se == NULL) {
		se = xcalloc(1, sizeof(*se));
		snprintf(se->app, sizeof(se->app), "%s", app);
		se->route = route;
		se->status = status;
		map_put(&m->series, k, se);
		m->nseries++;
	}
	se->count++;
}

static void
put(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(out, line, (size_t)n < sizeof(line) ? (size_t)n
							       : sizeof(line) - 1);
}

/* App ids are [A-Za-z0-9_-] (apps.h), safe inside a label as they are. */

static void render_node(const struct metrics_node *n, struct buf *out);

void
metrics_render(const struct metrics *m, const struct metrics_node *node,
	       struct buf *out)
{
	const struct http_stats *hs = node->http;
	const uint8_t *docs = node->docs;
	uint32_t docs_len = node->docs_len;
	render_node(node, out);
	put(out, "# TYPE mist_http_requests_total counter\n");
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&m->series, &it, &k, &v)) {
		const struct mseries *se = v;
		put(out,
		    "mist_http_requests_total{app=\"%s\",route=\"%s\",status=\"%d\"} %" PRIu64
		    "\n",
		    se->app, preq_route_name(se->route), se->status, se->count);
	}
	put(out, "# TYPE mist_http_request_seconds histogram\n");
	for (unsigned r = 0; r < METRICS_NROUTES; r++) {
		if (m->count[r] == 0)
			continue;
		const char *rn = preq_route_name((enum preq_route)r);
		uint64_t cum = 0;
		for (unsigned b = 0; b < METRICS_NBUCKETS; b++) {
			cum += m->hist[r][b];
			put(out,
			    "mist_http_request_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64
			    "\n",
			    rn, bounds[b], cum);
		}
		cum += m->hist[r][METRICS_NBUCKETS];
		put(out,
		    "mist_http_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64
		    "\n",
		    rn, cum);
		put(out, "mist_http_request_seconds_sum{route=\"%s\"} %.6f\n", rn,
		    m->sum[r]);
		put(out,
		    "mist_http_request_seconds_count{route=\"%s\"} %" PRIu64 "\n",
		    rn, m->count[r]);
	}
	put(out, "# TYPE mist_http_ratelimited_total counter\n");
	put(out, "mist_http_ratelimited_total{scope=\"app\"} %" PRIu64 "\n",
	    m->rate_app);
	put(out, "mist_http_ratelimited_total{scope=\"user\"} %" PRIu64 "\n",
	    m->rate_user);
	put(out, "mist_http_ratelimited_total{scope=\"ip\"} %" PRIu64 "\n",
	    m->rate_ip);
	put(out, "# TYPE mist_http_deadline_expired_total counter\n");
	put(out, "mist_http_deadline_expired_total %" PRIu64 "\n",
	    m->expired + (hs ? hs->expired : 0));
	put(out, "mist_http_late_answers_total %" PRIu64 "\n", m->late);
	if (hs != NULL) {
		put(out, "mist_http_accepted_total %" PRIu64 "\n", hs->accepted);
		put(out, "mist_http_received_total %" PRIu64 "\n", hs->requests);
		put(out, "mist_http_answered_total %" PRIu64 "\n", hs->answered);
		put(out, "mist_http_refused_total %" PRIu64 "\n", hs->refused);
		put(out, "mist_http_reset_total %" PRIu64 "\n", hs->reset);
		put(out, "mist_http_bad_total %" PRIu64 "\n", hs->bad);
		put(out, "mist_http_connections %u\n", hs->conns);
		put(out, "mist_http_pending %u\n", hs->pending);
	}
	if (docs == NULL || docs_len == 0)
		return;
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, docs, docs_len);
	if (mp_read_map(&c, &n) != 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const char *name;
		uint32_t nlen;
		uint64_t val;
		if (mp_read_str(&c, &name, &nlen) != 0)
			return;
		if (mp_read_uint(&c, &val) != 0) {
			if (mp_skip(&c) != 0)
				return;
			continue;
		}
		/* only [a-z0-9_] names become metric names */
		bool ok = nlen > 0 && nlen < 64;
		for (uint32_t j = 0; ok && j < nlen; j++)
			ok = (name[j] >= 'a' && name[j] <= 'z') ||
			     (name[j] >= '0' && name[j] <= '9') || name[j] == '_';
		if (ok)
			put(out, "mist_docs_%.*s %" PRIu64 "\n", (int)nlen, name,
			    val);
	}
}

static void
render_node(const struct metrics_node *n, struct buf *out)
{
	const struct func_stats *f = n->fn;
	if (f != NULL) {
		put(out, "mist_fn_calls_total %" PRIu64 "\n", f->calls);
		put(out, "mist_fn_ok_total %" PRIu64 "\n", f->ok);
		put(out, "mist_fn_failures_total %" PRIu64 "\n", f->failures);
		put(out, "mist_fn_timeouts_total %" PRIu64 "\n", f->timeouts);
		put(out, "mist_fn_overloaded_total %" PRIu64 "\n", f->overloaded);
		put(out, "mist_fn_unknown_total %" PRIu64 "\n", f->unknown);
		put(out, "mist_fn_in_flight %u\n", f->in_flight);
		/* host API: functions' document calls (gateway/hostcall.c) */
		put(out, "mist_fn_host_calls_total %" PRIu64 "\n", f->host_calls);
		put(out, "mist_fn_host_refused_total %" PRIu64 "\n",
		    f->host_refused);
		for (uint32_t i = 0; i < f->nfns && i < EXEC_MAX_FUNCTIONS; i++) {
			const struct func_fn_stats *s = &f->fns[i];
			if (s->name[0] == '\0')
				continue;
			/* function names are [A-Za-z0-9_.-] (apps.h) */
			put(out, "mist_fn_function_calls_total{fn=\"%s\"} %" PRIu64 "\n",
			    s->name, s->calls);
			put(out, "mist_fn_function_failures_total{fn=\"%s\"} %" PRIu64 "\n",
			    s->name, s->failures);
			put(out, "mist_fn_function_timeouts_total{fn=\"%s\"} %" PRIu64 "\n",
			    s->name, s->timeouts);
			put(out, "mist_fn_function_exec_seconds_total{fn=\"%s\"} %.6f\n",
			    s->name, (double)s->exec_us / 1e6);
		}
	}
	const struct actor_sys_stats *a = n->sys;
	if (a != NULL) {
		put(out, "mist_actor_delivered_total %" PRIu64 "\n", a->delivered);
		put(out, "mist_actor_late_replies_total %" PRIu64 "\n",
		    a->late_replies);
		put(out, "mist_actor_expired_total %" PRIu64 "\n", a->expired);
		put(out, "mist_actor_refused_total %" PRIu64 "\n", a->refused);
		put(out, "mist_actor_no_actor_total %" PRIu64 "\n", a->no_actor);
	}
	if (n->swim != NULL) {
		static const struct {
			enum swim_status st;
			const char *name;
		} sts[] = {{SWIM_ALIVE, "alive"},
			   {SWIM_SUSPECT, "suspect"},
			   {SWIM_DEAD, "dead"},
			   {SWIM_LEFT, "left"}};
		for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
			put(out, "mist_gossip_members{status=\"%s\"} %zu\n",
			    sts[i].name, swim_member_count(n->swim, sts[i].st));
		const struct swim_stats *g = swim_stats(n->swim);
		put(out, "mist_gossip_probes_total %" PRIu64 "\n", g->probes);
		put(out, "mist_gossip_acks_total %" PRIu64 "\n", g->acks);
		put(out, "mist_gossip_suspects_total %" PRIu64 "\n",
		    g->suspects_raised);
		put(out, "mist_gossip_deaths_total %" PRIu64 "\n",
		    g->deaths_declared);
		put(out, "mist_gossip_refutes_total %" PRIu64 "\n", g->refutes);
		put(out, "mist_gossip_bad_packets_total %" PRIu64 "\n",
		    g->bad_packets);
	}
	const struct link_stats *l = n->links;
	if (l != NULL) {
		put(out, "mist_link_accepted_total %" PRIu64 "\n", l->accepted);
		put(out, "mist_link_handshakes_ok_total %" PRIu64 "\n",
		    l->handshakes_ok);
		put(out, "mist_link_handshakes_failed_total %" PRIu64 "\n",
		    l->handshakes_failed);
		put(out, "mist_link_bad_frames_total %" PRIu64 "\n", l->bad_frames);
		put(out, "mist_link_frames_in_total %" PRIu64 "\n", l->frames_in);
		put(out, "mist_link_frames_out_total %" PRIu64 "\n", l->frames_out);
		put(out, "mist_link_msgs_in_total %" PRIu64 "\n", l->msgs_in);
		put(out, "mist_link_msgs_out_total %" PRIu64 "\n", l->msgs_out);
		put(out, "mist_link_rekeys_total %" PRIu64 "\n", l->rekeys);
	}
}
