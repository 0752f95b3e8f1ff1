/*
 * http.h -- mist's HTTP listener: H2O 2.2.5 (the libuv build) on the
 * agent's own loop, plain HTTP and TLS, HTTP/1.1 with keep-alive and
 * HTTP/2 (ALPN "h2" over TLS; prior-knowledge h2c and Upgrade: h2c on the
 * plain port, which H2O offers by itself).  The Parse REST API reaches the
 * gateway actor through it.
 *
 * Who does what.  Like every I/O source of the agent (net/link.c,
 * gateway/native.c), the callbacks here move bytes, keep transport bounds
 * and turn events into messages; they never look at a key, an app or a
 * JSON document, and never act for an actor:
 *
 *   accept     refuses a connection past max_conns (closed at once,
 *              counted, logged at 1, 2, 4, ... refusals) and hands the
 *              others to H2O (TLS: the handshake first).
 *   request    H2O has read the head and the whole body (at most max_body:
 *              past it H2O answers 413 itself over HTTP/1.1 and resets the
 *              stream over HTTP/2).  One handler catches every path:
 *                OPTIONS            answered here: the CORS preflight
 *                > HTTP_MAX_HEADERS headers, or a head (method, path and
 *                headers) over HTTP_MAX_HEAD bytes    431 (over HTTP/1.1,
 *                past H2O_MAX_HEADERS = 100 H2O's parser answers 400)
 *                max_pending requests (or max_pending_bytes of their
 *                copies) already unanswered    503
 *              and every other request is copied into ONE allocation
 *              (struct http_req, gateway/http_req.h: header names in lower
 *              case, H2O's :authority as "host") and delivered to the
 *              actor; a refused delivery (the actor system stopping, the
 *              mailbox at its hard cap) answers 503.
 *   deadline   every pending request has its own timer, armed at
 *              default_deadline_ms on arrival and re-armed by
 *              http_set_deadline() (never past max_deadline_ms after
 *              arrival); when it fires, the listener answers 504
 *              {"code":124,"error":"Request timed out"} and forgets the
 *              request.
 *   reset      a client that resets its HTTP/2 stream or closes its
 *              connection frees the request under us (H2O disposes its
 *              memory pool: h2o #1894); a guard allocated in that pool
 *              tells us, the pending request is forgotten and the late
 *              answer dropped.  (HTTP/1.1 in H2O 2.2.5 stops reading a
 *              connection while its request is with the handler, so
 *              there a client gone is learnt when the answer -- at the
 *              latest the 504 -- cannot be written.)
 *
 *   MSG_HTTP_REQUEST  local, listener -> @a actor, corr = the request id,
 *                     ptr = struct http_req (ptr_free = free: the message
 *                     owns it; a handler keeping it sets ptr to NULL)
 *
 *         client            H2O + http.c                 actor
 *           | -- request --> |                              |
 *           |                | -- MSG_HTTP_REQUEST(id) ---> |
 *           |                |        (timer armed)         |
 *           |                | <-- http_set_deadline(id) -- |  optional
 *           |                | <--- http_respond(id) ------ |  its turn
 *           | <-- response - |                              |
 *      or:  | <-- 504 ------ |  timer fired: the late http_respond()
 *           |                |  returns MIST_ENOTFOUND
 *
 * Every response -- the actor's, the listener's own and H2O's 413 and
 * 417 (not the 400 its HTTP/1.1 parser writes raw) -- carries
 * `access-control-allow-origin: *` (Parse Server allows every origin; its
 * keys, not the origin, guard an app); the actor's answers get
 * `content-type: application/json; charset=utf-8` unless they name one,
 * and always a content-length (never chunked).
 *
 * Threading and ownership: everything here runs on the loop thread; the
 * actor calls http_respond() and http_set_deadline() in its own turn.
 * Requests are known by id, never by pointer: nothing of H2O's reaches a
 * message.  struct http is allocated by http_open() and freed by
 * http_close(), which is asynchronous: pending requests are answered 503,
 * connections are shut, and @a done runs once every handle of the listener
 * (H2O's timers included) is closed; until then the loop must run.  The
 * process must ignore SIGPIPE (the agent does): a client gone mid-write is
 * an error, not a signal.
 */
#ifndef MIST_GATEWAY_HTTP_H_INCLUDED
#define MIST_GATEWAY_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "actors/actor.h"
#include "gateway/http_req.h"

/*
 * The request head kept: method, path, query and every header name and
 * value together.  Node's http parser -- so Parse Server -- refuses heads
 * over 16 KiB; twice that passes whatever a Parse SDK ever sent there (a
 * GET's `where` travels in the query string) and bounds the one copy each
 * request costs.  Past it: 431.
 */
#define HTTP_MAX_HEAD (32u * 1024)

/** Tunables; every default is defended in http.c (http_config_default). */
struct http_config {
	size_t max_body;	      /* request body bytes (413 past it) */
	uint32_t max_conns;	      /* open connections, plain and TLS */
	uint32_t max_pending;	      /* requests unanswered, whole listener */
	size_t max_pending_bytes;     /* and the bytes of their copies */
	uint32_t default_deadline_ms; /* a request's deadline on arrival */
	uint32_t max_deadline_ms;     /* no deadline past this after arrival */
	uint32_t idle_timeout_ms;     /* a connection with no request open;
					 also how long HTTP/1.1 waits for a
					 whole request head and body */
	const char *tls_cert;	      /* PEM chain (leaf first), for tls_addr */
	const char *tls_key;	      /* PEM private key, for tls_addr */
};

void http_config_default(struct http_config *cfg);

struct http; /* the listener(s) of one agent */

/**
 * Listens on @a plain_addr and/or @a tls_addr ("ip:port", port 0 picks;
 * NULL for none, not both NULL) and delivers requests to the local actor
 * @a actor (ACTOR_GATEWAY in the agent).  @a cfg is copied (the TLS file
 * names are read here and not kept).  NULL with *err = MIST_EINVAL (bad
 * address or configuration), MIST_EIO (cannot listen) or MIST_EAUTH (the
 * certificate or key cannot be loaded, or do not match); the reason is
 * logged.
 */
struct http *http_open(uv_loop_t *loop, struct actor_sys *sys, uint32_t actor,
		       const struct http_config *cfg, const char *plain_addr,
		       const char *tls_addr, int *err);

/** The bound address of the plain (@a tls false) or TLS listener as
 * "ip:port"; "" if that one is not open. */
void http_bound_addr(const struct http *h, bool tls, char *out, size_t len);

/**
 * Answers request @a id once: @a status (200..599), @a nhdrs extra headers
 * (names in any case; content-length is the listener's: MIST_EINVAL), @a
 * len body bytes, all copied.  MIST_ENOTFOUND if the request is gone (the
 * client left, the deadline answered 504, or it was answered already).
 */
int http_respond(struct http *h, uint64_t id, int status,
		 const struct http_hdr *hdrs, uint32_t nhdrs, const void *body,
		 size_t len);

/**
 * Re-arms request @a id's deadline to fire @a ms from now, but never past
 * max_deadline_ms after its arrival (the gateway lowers it to the app's
 * deadline); on expiry the listener answers 504 {"code":124,...} itself.
 * MIST_ENOTFOUND if the request is gone.
 */
int http_set_deadline(struct http *h, uint64_t id, uint32_t ms);

struct http_stats {
	uint64_t accepted;	/* connections taken (within max_conns) */
	uint64_t conns_refused; /* connections closed at once past max_conns */
	uint64_t requests;	/* requests that reached the handler */
	uint64_t answered;	/* answered by http_respond() */
	uint64_t expired;	/* answered 504 by their deadline */
	uint64_t refused;	/* answered 503: max_pending(_bytes), delivery
				   refused, or the listener closing */
	uint64_t reset;		/* the client left while its request waited */
	uint64_t bad;		/* answered 431 (or 413) by the listener */
	uint32_t conns;		/* connections open now */
	uint32_t pending;	/* requests with the actor now */
	uint64_t pending_bytes; /* the bytes of their copies */
};

struct http_stats http_stats(const struct http *h);

/**
 * Closes everything (asynchronous, see the top); @a done(@a arg) runs once
 * every handle is closed and @a h is freed: from then on @a h must not be
 * used (requests still in the actor's mailbox are answered to no one).
 * Between the two, http_respond() and http_set_deadline() return
 * MIST_ENOTFOUND and http_stats() still reads.
 */
void http_close(struct http *h, void (*done)(void *), void *arg);

#endif
