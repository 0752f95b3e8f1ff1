/*
 * native.h -- the gateway's native client listener: TCP accept, the
 * NNpsk0 handshake (native_proto.h) and the sealed stream (net/stream.h)
 * of each client connection.
 *
 * Who does what.  As with every I/O source (net/link.c, net/udp.c), the
 * libuv callbacks move bytes, keep transport bounds, and turn events into
 * messages to the owning actor, ACTOR_GATEWAY; they never look at a
 * credential, a request or a reply:
 *
 *   accept      refuses a connection past max_conns, or past
 *               max_handshakes not yet authenticated (closed at once,
 *               counted, logged); starts reading it.
 *   read        the first frame (at most GATEWAY_HELLO_MAX) goes to the
 *               actor as MSG_GW_HELLO, and the connection is not read
 *               again until the actor has decided; each later frame is
 *               opened (its tag checked, the stream's counters and
 *               rekeying) into MSG_GW_FRAME.  A broken frame, an oversized
 *               length or the end of the stream closes the connection.
 *   timer       closes every handshake older than handshake_timeout.
 *               Handshakes expire in accept order, so one timer set for
 *               the oldest serves them all, and each firing closes all
 *               that are due.
 *   write done  starts the next write; a connection no longer read for
 *               its unsent output (below) is read again once that is
 *               under half of max_backlog.
 *
 *   MSG_GW_HELLO  local, corr = connection id, body = the first frame
 *                 [version][cred id: 8][NNpsk0 message 1]
 *   MSG_GW_FRAME  local, corr = connection id, body = one opened frame:
 *                 envelopes back to back (net/wire.h)
 *
 * The actor, in its turn, on the loop thread, calls the functions below:
 * it authenticates (native_handshake, with the secret it looked up),
 * queues replies (native_send: sealed and written by a prepare handle
 * once per loop iteration, like links), closes (native_close,
 * native_close_cred) and throttles (native_pause /
 * native_resume).  A connection whose MSG_GW_FRAME fills the actor's
 * mailbox past its high-water mark is not read until it drains, and one
 * whose replies wait unsent past max_backlog bytes (a client asking
 * without reading its socket) is not read until half are written.
 *
 * Ownership: struct native lives in the gateway's state; connections are
 * allocated and freed here (freed once libuv has closed their socket, so
 * the actor keeps connection ids, never pointers, across turns).
 * native_shutdown() is asynchronous: @a done runs once every handle is
 * closed.
 */
#ifndef MIST_GATEWAY_NATIVE_H_INCLUDED
#define MIST_GATEWAY_NATIVE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "actors/actor.h"
#include "gateway/gateway.h"
#include "net/outq.h"
#include "net/stream.h"
#include "util/buf.h"
#include "util/map.h"

/* Why a connection is not read (bits of struct gconn.paused). */
enum native_pause {
	NATIVE_PAUSE_HELLO = 1,	   /* its first frame is with the actor */
	NATIVE_PAUSE_MAILBOX = 2,  /* the actor's mailbox is full */
	NATIVE_PAUSE_INFLIGHT = 4, /* max_inflight requests unanswered */
	NATIVE_PAUSE_OUTPUT = 8	   /* max_backlog reply bytes unsent */
};

enum gconn_state { GC_NEW, GC_HANDSHAKE, GC_HELLO, GC_OPEN, GC_CLOSING };

/** A peer's address as text: "[v6 address]:port" takes at most 54. */
#define NATIVE_PEER_MAX 64

struct native;

struct gconn {
	uint64_t id;
	struct native *n;
	uv_tcp_t tcp;
	enum gconn_state state;
	struct stream st;
	struct buf out;	     /* plaintext envelopes to seal */
	struct outq oq;	     /* frames to the socket */
	uint64_t cred;	     /* authenticated as (GC_OPEN) */
	uint32_t requests;   /* the actor's: forwarded, unanswered */
	unsigned paused;     /* enum native_pause bits */
	bool reading;
	bool want_input, want_flush; /* what the prepare handle owes it */
	uint64_t hs_deadline;
	struct gconn *hs_next, *hs_prev;     /* handshaking, accept order */
	struct gconn *cred_next, *cred_prev; /* same credential */
	struct gconn *todo_next, *todo_prev; /* owed work */
	bool in_todo;
	char peer[NATIVE_PEER_MAX];
};

struct native_stats {
	uint64_t accepted, refused_full, refused_busy, timeouts;
	uint64_t handshakes_ok, handshakes_failed, bad_frames, oversized;
	uint64_t overloaded, revoked, output_paused;
};

struct native_replay {
	uint64_t h, expires;
};

struct native {
	uv_loop_t *loop;
	struct actor_sys *sys;
	struct gateway_config cfg;
	uv_tcp_t listener;
	uv_prepare_t flush;
	uv_timer_t hs_timer;
	struct sockaddr_storage bound;
	struct map conns;   /* id -> struct gconn, until it closes */
	struct map by_cred; /* cred id -> its first struct gconn */
	struct gconn *hs_head, *hs_tail;
	struct gconn *todo;
	uint32_t handshaking; /* GC_HANDSHAKE and GC_HELLO */
	uint64_t next_id;
	uint8_t *rshared; /* one read into a connection with nothing pending */
	/* ephemeral keys of first messages seen (replay), in time order */
	struct native_replay *ring;
	uint32_t rhead, rlen;
	struct map seen;
	int handles;
	bool listening, closing;
	void (*done)(void *ctx);
	void *done_ctx;
	struct native_stats stats;
};

/**
 * Listens on @a addr ("ip:port", port 0 picks).  0 or MIST_E*; either
 * way its handles are open: native_shutdown() closes them.
 */
int native_listen(struct native *n, uv_loop_t *loop, struct actor_sys *sys,
		  const struct gateway_config *cfg, const char *addr);
void native_bound_addr(const struct native *n, char *out, size_t len);
/**
 * The connection @a id if it is still to be served (not closing), or
 * NULL.
 */
struct gconn *native_conn(struct native *n, uint64_t id);
/**
 * The credential id a first frame claims.  0, or MIST_EPROTO (too short,
 * or a version other than GATEWAY_VERSION and GATEWAY_VERSION_NOREKEY).
 */
int native_hello_cred(const uint8_t *frame, size_t len, uint64_t *cred);
/**
 * The actor's half of the handshake of @a c (in GC_HELLO), with its first
 * frame (which native_hello_cred() has accepted, claiming credential
 * @a id) and that credential's secret: reads NNpsk0 message
 * 1 (its payload into @a scratch, @a cap bytes), checks the client's clock
 * and the replay cache, queues message 2, keys the stream and files @a c
 * under its credential.  Returns 0 with the requests that rode in message
 * 1 at @a *early (@a *elen bytes, inside @a scratch); on failure closes
 * @a c and returns MIST_EAUTH or MIST_EPROTO.
 */
int native_handshake(struct native *n, struct gconn *c, uint64_t id,
		     const uint8_t secret[32], const uint8_t *frame,
		     size_t len, uint8_t *scratch, size_t cap,
		     const uint8_t **early, size_t *elen);
/**
 * Queues a reply envelope to @a c (sealed in the next loop iteration).  A
 * reply no frame could carry goes as MSG_ERROR with MIST_E2BIG instead.
 */
void native_send(struct gconn *c, uint32_t type, int status, uint64_t corr,
		 const uint8_t *body, uint32_t len);
/** Closes @a c now; what it had not sent is dropped. */
void native_close(struct gconn *c, const char *why);
/** Closes every connection of credential @a cred; returns how many. */
size_t native_close_cred(struct native *n, uint64_t cred, const char *why);
/** Stops (or, once no reason is left, resumes) reading @a c. */
void native_pause(struct gconn *c, enum native_pause why);
void native_resume(struct gconn *c, enum native_pause why);
/** Closes the listener and every connection; @a done(@a ctx) at the end. */
void native_shutdown(struct native *n, void (*done)(void *ctx), void *ctx);

#endif
