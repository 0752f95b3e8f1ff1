/*
 * rest.h -- the gateway's Parse REST layer: the core functions.
 *
 * Paper 000 splits the service layer into core functions (CRUD on the
 * backend resources, compiled into the platform) and add-on functions (the
 * app developer's code).  In mist the core functions run in the gateway
 * actor, in the turn that handles the request: each maps one Parse route
 * to one accessory operation (docs/MBAAS.md draws them) -- a hop to
 * another actor would add a turn and a copy to every request, and these
 * functions hold no state of their own.  Add-on functions run in executor
 * processes (function/function.h); rest.c only routes to them.
 *
 * For every MSG_HTTP_REQUEST (gateway/http_req.h) the layer, in order:
 *
 *   1. decodes it (gateway/parse_req.h): route, keys, session, body;
 *   2. finds the app and checks the key given against it; the master key
 *      only from the app's allowed networks;
 *   3. takes a token from the app's, the session's and the client
 *      address's buckets (gateway/ratelimit.h) -- 429 with Retry-After;
 *   4. sets the deadline: the app's, lowered by X-Mist-Deadline-Ms; the
 *      listener answers 504 if nobody did by then, and the budget left
 *      travels with the request;
 *   5. sends MSG_ACC_REQUEST to the app's home ACTOR_DOCS, or MSG_FN_CALL
 *      to a node offering the function (this node first), or fans a
 *      /batch out into its sub-requests, each going through 3-5 alone;
 *      a write of a class with triggers the app lists goes through
 *      gateway/triggers.h instead (before trigger, write, after trigger);
 *   6. answers from the reply, and writes one access-log line.
 *
 * Ownership: struct rest is the gateway's (rest_open allocates it, the
 * gateway's MSG_STOP closes it); everything it holds -- the listener, the
 * pending requests, the buckets, the log -- is freed by rest_close.
 */
#ifndef MIST_GATEWAY_REST_H_INCLUDED
#define MIST_GATEWAY_REST_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "actors/actor.h"
#include "gateway/apps.h"
#include "gateway/http.h"
#include "net/link.h"
#include "net/swim.h"

struct rest_config {
	const char *mount;	     /* "/parse" */
	const char *access_log;	     /* path, or NULL: none */
	uint32_t max_batch;	     /* sub-requests of one /batch */
	uint32_t max_fn_params;	     /* bytes of a function's params */
	/* the node's links, for /metrics (read on the loop thread; may be
	 * NULL) */
	const struct link_stats *link_stats;
};

void rest_config_default(struct rest_config *cfg);

struct rest;

/**
 * Opens the HTTP listener(s) for @a self (ACTOR_GATEWAY) with the app
 * table @a apps (the gateway's, read at every request).  NULL with *err.
 */
struct rest *rest_open(struct actor *self, uv_loop_t *loop, struct apps *apps,
		       const struct rest_config *rcfg,
		       const struct http_config *hcfg, const char *plain_addr,
		       const char *tls_addr, int *err);
/** MSG_HTTP_REQUEST. */
void rest_request(struct rest *r, struct msg *m);
/** A reply to a request rest sent; false if it was not one of ours. */
bool rest_reply(struct rest *r, struct msg *m);
/** MSG_HOST_CALL (local request): a running function's document call,
 * through the same checks as a client's (gateway/hostcall.c). */
void rest_host_call(struct rest *r, struct msg *m);
/** MSG_TIMER with a tag of rest's (REST_TIMER_TAG); false otherwise. */
bool rest_timer(struct rest *r, struct msg *m);
/** A member's metadata (what it offers), or its end (@a meta NULL). */
void rest_member(struct rest *r, uint64_t node, const uint8_t *meta,
		 uint32_t meta_len, bool alive);
/** Gossip's view, for /metrics (read on the loop thread; may be NULL). */
void rest_set_swim(struct rest *r, const struct swim *s);
/** SIGHUP: reopen the access log (logrotate moved it). */
void rest_reopen_log(struct rest *r);
void rest_bound_addr(const struct rest *r, bool tls, char *out, size_t len);
/** Closes the listener (asynchronously) and frees everything else. */
void rest_close(struct rest *r);

#endif
