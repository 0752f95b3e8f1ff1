/*
 * metrics.h -- the gateway's counters, rendered for `GET /metrics` in
 * Prometheus's text format (version 0.0.4).
 *
 *   mist_http_requests_total{app,route,status}    one per answered request
 *   mist_http_request_seconds_bucket{route,le}     latency, per route
 *   mist_http_ratelimited_total{scope}             429s: app, user, ip
 *   mist_http_deadline_expired_total               504s
 *   mist_http_late_answers_total                   answers nobody waited for
 *   mist_http_{accepted,requests,...}              the listener's own counts
 *   mist_docs_<counter>                            the node's documents
 *                                                  accessory (MSG_ACC_STATS)
 *   mist_fn_*{fn}                                  add-on function calls
 *                                                  (function.h, func_stats)
 *   mist_actor_*, mist_link_*, mist_gossip_*       the runtime's, the
 *                                                  links' and gossip's
 *                                                  own counters
 *
 * Series are bounded: at most METRICS_MAX_SERIES (app, route, status)
 * triples are kept apart; past it the rest count in one series (app
 * "_other", route "none", status 0), so a
 * cluster with very many apps keeps a bounded scrape.
 *
 * Ownership: struct metrics is caller storage (the REST layer's);
 * metrics_destroy frees the series.
 */
#ifndef MIST_GATEWAY_METRICS_H_INCLUDED
#define MIST_GATEWAY_METRICS_H_INCLUDED

#include <stdint.h>

#include "gateway/http.h"
#include "gateway/parse_req.h"
#include "util/buf.h"
#include "util/map.h"

/* 4096 (app, route, status) series: 100 apps x 10 routes x 4 statuses,
 * and a scrape of ~400 KiB at most. */
#define METRICS_MAX_SERIES 4096
#define METRICS_NBUCKETS 15
#define METRICS_NROUTES 16

struct metrics {
	struct map series; /* hash(app, route, status) -> struct mseries */
	uint32_t nseries;
	uint64_t hist[METRICS_NROUTES][METRICS_NBUCKETS + 1];
	double sum[METRICS_NROUTES];
	uint64_t count[METRICS_NROUTES];
	uint64_t rate_app, rate_user, rate_ip;
	uint64_t expired;
	uint64_t late;
};

void metrics_init(struct metrics *m);
void metrics_destroy(struct metrics *m);
/** Counts one answered request that took @a ns. */
void metrics_request(struct metrics *m, const char *app,
		     enum preq_route route, int status, uint64_t ns);
struct func_stats;
struct actor_sys_stats;
struct link_stats;
struct swim;

/** The node's other counters a scrape shows (each may be NULL). */
struct metrics_node {
	const struct http_stats *http;
	const uint8_t *docs; /* a msgpack map of name -> uint */
	uint32_t docs_len;
	const struct func_stats *fn;
	const struct actor_sys_stats *sys;
	const struct link_stats *links;
	const struct swim *swim; /* gossip: members by status, probes... */
};

/** Renders everything into @a out. */
void metrics_render(const struct metrics *m, const struct metrics_node *n,
		    struct buf *out);

#endif
