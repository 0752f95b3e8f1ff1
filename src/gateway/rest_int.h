/*
 * rest_int.h -- the REST layer's insides, shared by the files of the
 * gateway that extend it (rest.c, and the host calls and triggers that
 * route through the same checks).  Nothing outside src/gateway includes
 * this; the layer's public face is rest.h.
 *
 * Everything here runs in the gateway actor's turn, on the loop thread.
 * Ownership: struct rest is the gateway's (rest.h); a struct rpend is
 * allocated by rest_pend_new() and is either freed by whoever answers it
 * or kept in rest->pending (corr -> rpend) until the reply comes.
 */
#ifndef MIST_GATEWAY_REST_INT_H_INCLUDED
#define MIST_GATEWAY_REST_INT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

#include "accessory/perr.h"
#include "exec/exec.h"
#include "function/fnread.h"
#include "gateway/apps.h"
#include "gateway/metrics.h"
#include "gateway/parse_req.h"
#include "gateway/rest.h"
#include "util/map.h"

/* The gateway's timer tags that are rest's. */
#define REST_TIMER_FLUSH 0x7265737401ull

/* The access log is flushed at least this often (and when its 64 KiB
 * buffer fills): a line per request written at once would cost a system
 * call per request; a second is what `tail -f` users wait anyway. */
#define REST_FLUSH_MS 1000
#define REST_LOG_BUF (64u << 10)

/* Distinct rate-limit keys (app, app+session, app+address) remembered at
 * once: a hostile client inventing addresses or tokens evicts only the
 * oldest idle buckets (ratelimit.h), never grows the table. */
#define REST_MAX_BUCKETS 65536

/* Nodes whose offered functions we remember: the cluster's size bound
 * (swim.h) is far below it. */
#define REST_MAX_FN_NODES 4096

/*
 * Three clocks per request, each a little after the one before: the
 * accessory or the function actor ends the work at the deadline and says
 * why; our request times out 100 ms later (the answer crossed a link);
 * the listener's timer, 200 ms later, is the backstop for an answer that
 * never comes.  A client sees at most 200 ms past its deadline.
 */
#define REST_REPLY_SLACK_MS 100
#define REST_DEADLINE_SLACK_MS 200

/* How long /metrics waits for the accessory's counters. */
#define REST_STATS_TIMEOUT_MS 500

enum rp_kind {
	RP_DOCS,
	RP_FN,
	RP_STATS,
	RP_TRIG, /* a step of a request's triggers (triggers.h) */
};

struct rbatch;
struct trig_run;
struct rread;

/* A request sent for an HTTP request (or a batch's sub-request). */
struct rpend {
	enum rp_kind kind;
	uint64_t req;		/* this request's id in the access log */
	uint64_t parent;	/* the request that caused it (a host call,
				 * a trigger), or 0 */
	uint64_t http_id;	/* 0 for a batch's sub-request */
	struct rbatch *batch;	/* or NULL */
	uint32_t index;		/* in the batch */
	uint64_t started_ns;
	uint64_t node;		/* where it went */
	enum preq_route route;
	char app[APP_ID_MAX];
	char method[8];
	char cls[PREQ_NAME_MAX];
	char ip[48];
	char path[128];
	/* host API (gateway/hostcall.c): a function's document call,
	 * answered to the function actor's MSG_HOST_CALL, not to HTTP */
	bool host;
	struct actor_ref host_from;
	uint64_t host_corr;
	struct trig_run *trig;	/* RP_TRIG: triggers.c's run, else NULL */
	/* a declared read (gateway/reads.c), host set too: its answer goes
	 * with the function call it was made for, not to HTTP */
	struct rread *read;
};

/* A /batch: its sub-requests' answers, in order, until all are in. */
struct rbatch {
	uint64_t http_id;
	uint32_t n, left;
	json_t *results; /* array of n */
	uint64_t started_ns;
};

/* A function's declared read, as a member gossips it. */
struct fnode_read {
	uint32_t fn; /* in names */
	struct fnread d;
};

struct fnode {
	uint32_t n;
	char (*names)[EXEC_NAME_MAX];
	uint32_t nreads;
	struct fnode_read *reads;
	bool http; /* serves HTTP: counts in an app's rate share */
	bool docs_shared; /* its ACTOR_DOCS serves every app (PostgreSQL) */
};

struct rest {
	struct actor *self;
	struct rest_config cfg;
	char mount[64];
	struct http *http;
	struct apps *apps;
	struct ratelimit *rl;
	struct map pending; /* corr -> struct rpend */
	struct map fnodes;  /* node -> struct fnode: what members offer */
	uint32_t gateways;  /* alive HTTP gateways besides us: rate shares */
	FILE *log;
	char *log_path;
	struct actor_timer flush;
	struct metrics metrics;
	const struct swim *swim; /* for /metrics, or NULL */
	uint64_t next_req;	 /* request ids: random at open, then +1 */
	/* triggers.c: after triggers' failures warned of at most once per
	 * TRIG_WARN_MS (each has its access-log line anyway) */
	uint64_t trig_warned_ns;
	uint64_t trig_unwarned;
	/* triggers.c: after triggers in flight per app (hash of the app id
	 * -> count): bounded by TRIG_AFTER_PER_APP */
	struct map trig_after;
};


uint64_t rest_now_ns(const struct rest *r);
/** Answers @a p (to HTTP, or into its batch), counts and logs it; does not
 * free it. */
void rest_finish(struct rest *r, struct rpend *p, int status, const char *body,
		 size_t len, const char *user, uint32_t ulen);
void rest_finish_err(struct rest *r, struct rpend *p, const struct perr *e);
/** Where function @a fn runs (this node first), or 0. */
uint64_t rest_fn_node(struct rest *r, const char *fn);
/** The read function @a fn declared on @a node, or NULL (none, or not
 * gossiped). */
const struct fnread *rest_fn_read(struct rest *r, uint64_t node,
				  const char *fn);
/** The app of @a q if its key is right (master: from an allowed net). */
const struct app *rest_check_app(struct rest *r, const struct preq *q,
				 const char *ip, bool *master, struct perr *e);
/** Takes a token from the app's, session's and address's buckets. */
bool rest_check_rate(struct rest *r, const struct app *a, const struct preq *q,
		     const char *ip, uint32_t *retry, uint32_t *remaining,
		     uint32_t *limit);
void rest_answer_429(struct rest *r, struct rpend *p, uint64_t http_id,
		     uint32_t retry, uint32_t limit);
/** The request's deadline: the app's, lowered by X-Mist-Deadline-Ms. */
uint32_t rest_deadline_of(const struct app *a, const struct preq *q);
/** The caller map every accessory and function request carries:
 * {"req": the request's log id, "master", "ip", "create_classes", "quota",
 * "node", "route", "session"?, "install"?}. */
void rest_pack_caller(msgpack_packer *pk, const struct rest *r,
		      const struct app *a, const struct preq *q, const char *ip,
		      bool master, uint64_t req);
struct rpend *rest_pend_new(struct rest *r, enum rp_kind kind, uint64_t http_id,
			    const struct preq *q, const char *app,
			    const char *method, const char *path,
			    const char *ip);
/** Send @a q to the app's documents home, or to a node offering its
 * function; take @a p (answered and freed, or kept pending). */
void rest_send_docs(struct rest *r, struct rpend *p, const struct app *a,
		    const struct preq *q, const char *ip, bool master,
		    uint32_t deadline);
/** The same with the caller map @a packed already packed (borrowed):
 * the documents accessory reads neither its "req" nor its "route", so a
 * function call's map serves its declared read (reads.c). */
void rest_send_docs_as(struct rest *r, struct rpend *p, const struct app *a,
		       const struct preq *q, const char *ip, bool master,
		       uint32_t deadline, const struct buf *packed);
void rest_send_fn(struct rest *r, struct rpend *p, const struct app *a,
		  const struct preq *q, const char *ip, bool master,
		  uint32_t deadline);
/** Sends MSG_FN_CALL @a b for @a p to @a node's ACTOR_FUNCTION and keeps
 * @a p pending (@a deadline: the call's, for the request's own). */
void rest_fn_dispatch(struct rest *r, struct rpend *p, uint64_t node,
		      const struct buf *b, uint32_t deadline);
/** One request or sub-request: checked, limited, routed; takes @a p. */
void rest_route(struct rest *r, struct rpend *p, const struct preq *q,
		const char *ip, uint64_t http_id);

/* ---- declared reads (gateway/reads.c) ---- */
/**
 * If function call @a p (of @a q, to @a node; @a caller and @a params
 * packed, taken when this returns true) declared a read its params name,
 * makes the read and sends the call when it is answered: true (@a p is
 * taken).  false: nothing done, the caller sends the call as it is.
 */
bool rest_read_route(struct rest *r, struct rpend *p, const struct app *a,
		     const struct preq *q, const char *ip, bool master,
		     uint32_t deadline, uint64_t node, struct buf *caller,
		     struct buf *params);
/** The read of @a p (p->read) was answered: the call goes, with it. */
void rest_read_done(struct rest *r, struct rpend *p, int status,
		    const char *body, size_t len);
/** At close: frees the read of @a p (p->read, then NULL) and returns the
 * call's struct rpend it held, for the caller to drop. */
struct rpend *rest_read_abandon(struct rpend *p);

/* ---- host API (gateway/hostcall.c) ---- */
/** rest_finish's answer of a host call's @a p: the MSG_HOST_CALL reply. */
void rest_host_finish(struct rest *r, struct rpend *p, int status,
		      const char *body, size_t len);
/* ---- for triggers.c */
/** Whether app @a a's documents home can be sent to now (rest_send_docs
 * answers @a e otherwise); false with @a e set. */
bool rest_docs_home(struct rest *r, const struct app *a, struct perr *e);
/** The node whose ACTOR_DOCS serves @a a now, or 0 (rest.c). */
uint64_t rest_docs_node(struct rest *r, const struct app *a);
/** Answers @a p from @a m, a MSG_ACC_REQUEST's reply, as rest_reply()
 * does; does not free @a p. */
void rest_docs_reply(struct rest *r, struct rpend *p, struct msg *m);
/** The access-log line of @a p, a request caused by another (a trigger's
 * call, its read): logged, not answered, not counted in the metrics. */
void rest_log_caused(struct rest *r, const struct rpend *p, int status,
		     size_t bytes);

#endif
