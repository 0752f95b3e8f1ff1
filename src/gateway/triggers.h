/*
 * triggers.h -- Parse's Cloud Code triggers (beforeSave, afterSave,
 * beforeDelete, afterDelete) around the documents accessory's writes, run
 * in the gateway's REST layer as parse-server runs them in RestWrite,
 * above the database: the accessory never learns a trigger exists.
 *
 * Naming.  A plugin declares a trigger as a function named KIND ':' CLASS
 * ("beforeSave:GameScore", "afterDelete:_User"); the name travels in
 * gossip like any function's (at most 63 bytes, EXEC_NAME_MAX, so a
 * class with a trigger has a name of at most 50 bytes).  An app runs a
 * trigger only if it lists it in its functions (`mist apps set APP
 * --functions hello,beforeSave:GameScore`), as it does for callable
 * functions; a client can never call one through /functions/ (a name
 * with ':' is "Invalid function" there).  Classes: any under /classes,
 * _User (/users: signup, PUT, DELETE) and _Role (/roles); never _Session
 * (parse-server allows none on it but afterLogout).
 *
 * What runs when, for one request or one /batch sub-request (rest_route()
 * hands it here after the key, the rate limit -- one token for the
 * request, whatever its triggers cost -- and the deadline):
 *
 *   POST /classes/C, PUT /classes/C/id (also /users, /roles)
 *     beforeSave:C listed ──MSG_FN_CALL──▶ function ─┐
 *        fails, times out, no node: refused, nothing written
 *        nil or true: the body as sent; a map: that object instead
 *     ◀──────────────────────────────────────────────┘
 *     ──MSG_ACC_REQUEST (CREATE|UPDATE)──▶ home ──▶ the client's answer
 *        (+ the fields beforeSave changed, as parse-server answers them)
 *     afterSave:C listed and 2xx ──MSG_FN_CALL──▶ function
 *        (nobody waits; a failure is an access-log line and a warning)
 *
 *   PUT (an update) first reads the object as the caller
 *   (ACC_DOC_GET) for "original"; its 404 is not an answer (parse-server
 *   lets the write decide), a failure to read is.
 *
 *   DELETE /classes/C/id
 *     a delete trigger listed ──ACC_DOC_GET (as the caller)──▶ home
 *        404: the client gets it, nothing deleted
 *     beforeDelete:C ──▶ refuses as beforeSave does (its result ignored)
 *     ──ACC_DOC_DELETE──▶ home ──▶ the client's answer
 *     afterDelete:C and 2xx ──▶ function, as afterSave
 *
 * The trigger's params (one msgpack map, like Parse's request object):
 *   {"triggerName": "beforeSave", "className": "C",
 *    "object": the body sent (save) | the object read (delete) |
 *              for an after trigger, the object as answered over the
 *              fields sent (objectId, createdAt/updatedAt...),
 *    "objectId": the id, or nil for a create,
 *    "original" (an update's only): the object as stored before it, as
 *              the caller reads it (nil if it cannot: the write may
 *              still be allowed, as parse-server's update does),
 *    "master": bool, "user": nil (the gateway does not resolve
 *    sessions; the caller map of the call carries the session, which
 *    host calls act as), "ip": the client's address,
 *    "installationId"?: str, "context"?: X-Parse-Cloud-Context's object}
 *
 * Deadlines: a before trigger gets min(TRIG_LIMIT_MS, what is left of the
 * request's deadline), the write what is left after it; the function
 * actor kills the executor at that deadline.  An after trigger runs once
 * the client is answered, so it gets TRIG_LIMIT_MS of its own (what
 * Parse.com gave afterSave) -- a client's short X-Mist-Deadline-Ms must
 * not be a way to skip the afterSave that keeps a counter.
 *
 * Errors the client sees (a before trigger): the function's mist_fail()
 * message, 400 code 141 (SCRIPT_FAILED, as parse-server's resolveError
 * answers a thrown string; "Script failed." if it gave none); its
 * deadline, 504 code 124; no node offers it, 503 code 100; a result that
 * is not nil, true or a map, or a map that is not a valid body, 400 code
 * 141 naming the trigger.  Each trigger call and the delete's read get an
 * access-log line of their own, with parent = the request's req.
 *
 * Ownership: a struct trig_run is triggers.c's, allocated when a request
 * needs a trigger and freed when its last step ends; the rpend of the
 * step in flight (kind RP_TRIG, rest_int.h) points to it and is freed by
 * rest_reply() as any; trig_abandon() frees a run whose step rest_close()
 * finds pending.  The pure helpers below allocate only what they return
 * (the caller decrefs or destroys it).
 */
#ifndef MIST_GATEWAY_TRIGGERS_H_INCLUDED
#define MIST_GATEWAY_TRIGGERS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "accessory/perr.h"
#include "exec/exec.h"
#include "gateway/apps.h"
#include "util/buf.h"

struct rest;
struct rpend;
struct preq;
struct msg;

/*
 * A trigger's own limit, before the request's deadline lowers it:
 * Parse.com's (hosted Parse gave triggers 3 s, functions 15 s).  A
 * trigger validates or adjusts one object; past 3 s it is doing a job's
 * work on a client's request, and every write behind it waits.
 */
#define TRIG_LIMIT_MS 3000u

/*
 * An after trigger's failure is the status of its access-log line and a
 * warning in the agent's log -- at most one warning this often, saying
 * how many failed since the last: an afterSave that always fails would
 * otherwise write a warning per write (233 176 in 10 s of a benchmark).
 */
#define TRIG_WARN_MS 1000u
/*
 * After triggers of one app in flight at most, on one gateway.  They run
 * once the client has its answer, outside the request's own bounds, so
 * without a bound a client within its rate could keep the node's function
 * slots (FUNC_MAX_CALLS) busy with slow afterSaves and starve every other
 * app's functions; 64 is what 64 requests a second of 1 s triggers need.
 * Past it an after trigger is not run, and said (the log, once a second).
 */
#define TRIG_AFTER_PER_APP 64u

enum trig_kind {
	TRIG_BEFORE_SAVE,
	TRIG_AFTER_SAVE,
	TRIG_BEFORE_DELETE,
	TRIG_AFTER_DELETE,
};

/** "beforeSave", "afterSave", "beforeDelete", "afterDelete". */
const char *trig_kind_name(enum trig_kind k);

/**
 * The function name of @a k on class @a cls into @a out
 * (EXEC_NAME_MAX bytes).  false if it would not fit (no plugin can
 * declare it: the class has no such trigger).
 */
bool trig_fn_name(enum trig_kind k, const char *cls, char out[EXEC_NAME_MAX]);

/** Whether app @a a lists trigger @a k for @a cls. */
bool trig_listed(const struct app *a, enum trig_kind k, const char *cls);

/** What a request's trigger is told besides its object. */
struct trig_ctx {
	const char *cls;
	const char *id;	     /* "" or NULL: a create */
	bool master;
	const char *ip;
	const char *install; /* "" or NULL: none */
	const json_t *context; /* or NULL */
	bool update;	     /* a save of an existing object: "original" */
	const json_t *original; /* the stored object, or NULL (nil) */
};

/**
 * Appends the params map of trigger @a k (see the top) to @a out.
 * @a object may be NULL (nil).  0, or MIST_E2BIG / MIST_EINVAL with @a e
 * set (the object does not convert, nests too deep for the map around
 * it, or is over FUNC_CALL_MAX_PARAMS); @a out is then unchanged.
 */
int trig_params_pack(struct buf *out, enum trig_kind k,
		     const struct trig_ctx *c, const json_t *object,
		     struct perr *e);

enum trig_verdict {
	TRIG_KEEP,    /* write as sent */
	TRIG_REPLACE, /* write *replace instead */
	TRIG_REFUSE,  /* refused: the error is in @a e */
};

/**
 * What a before trigger's result (one msgpack object, @a len bytes) says,
 * @a name naming the trigger in errors.  beforeSave: nil or true keep, a
 * map replaces (converted and checked as a body, *@a replace a new
 * reference), anything else refuses.  beforeDelete: its result is not
 * read (as parse-server), always TRIG_KEEP.
 */
enum trig_verdict trig_result(enum trig_kind k, const char *name,
			      const uint8_t *res, uint32_t len,
			      json_t **replace, struct perr *e);

/**
 * The fields of @a written that are not in @a sent or differ from it: a
 * new object (maybe empty) to add to the client's answer, so an SDK
 * learns the values a beforeSave set.  Fields a trigger removed are not
 * reported.
 */
json_t *trig_changed(const json_t *sent, const json_t *written);

/**
 * An after trigger's object: @a sent's fields, then @a answer's over them
 * (objectId, createdAt, updatedAt...), then "objectId": @a id if @a id is
 * not empty.  A new object; @a sent and @a answer may be NULL.
 */
json_t *trig_after_object(const json_t *sent, const json_t *answer,
			  const char *id);

/* ------------------------------------------------- the REST layer's side */

/**
 * Called by rest_route() for request @a p once it is checked, limited and
 * has its @a deadline: runs what @a q needs of the app's triggers.  true
 * if it took @a p (answered, or under way); false if @a q has no trigger
 * of @a a to run (the caller sends it as usual).
 */
bool trig_route(struct rest *r, struct rpend *p, const struct app *a,
		const struct preq *q, const char *ip, bool master,
		uint32_t deadline);
/** The reply to a step of ours (@a p->kind RP_TRIG); does not free @a p. */
void trig_reply(struct rest *r, struct rpend *p, struct msg *m);
/** rest_close() found @a p (RP_TRIG) pending: frees its run. */
void trig_abandon(struct rpend *p);

#endif
