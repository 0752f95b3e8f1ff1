/*
 * gateway.h -- ACTOR_GATEWAY: client connections (libmist) and credentials.
 *
 * The gateway is in files by job:
 *
 *   native_proto.h/.c  the client protocol both ends share (no libuv, no
 *                      store: libmist includes it) -- drawn there
 *   native.h/.c        the native client listener: accept, the NNpsk0
 *                      handshake, each connection's sealed stream
 *   creds.h/.c         the credential table: LMDB, spreading, MSG_CREDS
 *   apps.h/.c          the app table (Parse apps): LMDB, spreading,
 *                      MSG_APPS; gateway.c picks an app's home
 *   gateway.c          the actor: authentication, routing, replies,
 *                      membership
 *
 * Requests are job messages (MSG_JOB_*).  At every request the gateway
 * looks its connection's credential up in the table as it is now: the role
 * decides (JOB_LIST is for admins), the body is wrapped as [cred id, role,
 * body] and forwarded to the data manager of the job's owner (the first
 * element of the body) or, for a new job, of this node.  Replies travel
 * back the same way.  A revocation closes every connection of that
 * credential at once (requests in flight get no reply: the client sees
 * MIST_ECLOSED); a role change holds from the next request.
 *
 * Ownership: gateway_spawn() allocates everything; the actor frees it on
 * MSG_STOP, closing connections and the listener asynchronously.
 */
#ifndef MIST_GATEWAY_GATEWAY_H_INCLUDED
#define MIST_GATEWAY_GATEWAY_H_INCLUDED

#include <stdint.h>
#include <uv.h>

#include "actors/actor.h"
#include "gateway/apps.h"
#include "gateway/native_proto.h"
#include "gateway/rest.h"
#include "net/swim.h"
#include "store/store.h"

struct gateway_config {
	uint32_t max_frame;	       /* plaintext bound of a sealed frame */
	uint32_t max_conns;	       /* client connections at once */
	uint32_t max_handshakes;       /* of them, not yet authenticated */
	uint32_t max_inflight;	       /* unanswered requests per connection
					* before it is no longer read */
	uint32_t handshake_timeout_ms; /* cut unfinished handshakes */
	uint32_t request_timeout_ms;   /* when the client gives none */
	uint32_t max_backlog;	       /* unsent reply bytes per connection
					* before it is no longer read */
	/* apps (apps.h): this node as a candidate home for an app's
	 * documents -- the agent's --docs and --name */
	bool docs;		    /* this node hosts ACTOR_DOCS */
	bool docs_shared;	    /* ... on PostgreSQL: serves every app */
	char name[SWIM_NAME_MAX];   /* this node's name */
	/* the HTTP gateway (rest.h): Parse's REST API; no address, no HTTP */
	const char *http_addr;	    /* --http IP:PORT, or NULL */
	const char *https_addr;	    /* --https IP:PORT, or NULL */
	struct http_config http;    /* the listener's bounds, TLS files */
	struct rest_config rest;    /* mount, access log, batch cap */
};

/** The defaults, each defended in gateway.c. */
void gateway_config_default(struct gateway_config *cfg);

struct gateway;

/** Spawns ACTOR_GATEWAY listening on @a addr ("ip:port", port 0 picks). */
struct gateway *gateway_spawn(struct actor_sys *sys, uv_loop_t *loop,
			      struct store *store,
			      const struct gateway_config *cfg,
			      const char *addr, int *err);
/** Gossip's view for /metrics (the spawner's, once SWIM runs). */
void gateway_set_swim(struct gateway *g, const struct swim *s);
/** The HTTP listener's bound address ("" if none); @a tls: the TLS one. */
void gateway_http_addr(const struct gateway *g, bool tls, char *out,
		       size_t len);
/** The bound address "ip:port". */
void gateway_bound_addr(const struct gateway *g, char *out, size_t len);
/** The live app @a id, or NULL: valid until the gateway's next turn
 * (apps_get).  For the gateway's own modules (the REST core). */
const struct app *gateway_app(struct gateway *g, const char *id);
/** The gateway's app table (apps.h), for the gateway's own modules. */
struct apps *gateway_apps(struct gateway *g);

#endif
