/*
 * hostcall.h -- the codec of MSG_HOST_CALL, a function's host call (the
 * plugin's mist_docs(), mist_plugin.h) on its way from the function actor
 * to this node's gateway, which runs it as a Parse REST request of the
 * calling app (gateway/hostcall.c; docs/MBAAS.md draws the path).
 *
 *   executor --host request frame--> pool --MSG_EXEC_HOST--> ACTOR_FUNCTION
 *   ACTOR_FUNCTION --MSG_HOST_CALL (request, local)--> ACTOR_GATEWAY
 *   ACTOR_GATEWAY --MSG_ACC_REQUEST--> the app's ACTOR_DOCS --> ... back
 *
 *   request: a msgpack array of 7 (later versions may append; a decoder
 *   skips what follows)
 *   +-----+--------+--------------+--------+--------+------+------+
 *   | app | caller | remaining_ms | master | method | path | body |
 *   +-----+--------+--------------+--------+--------+------+------+
 *     str   map      u32            bool     str      str    bin
 *     1..63 the      > 0: what is   the      GET      "/.." JSON, at most
 *     bytes call's   left of the    function POST     at    HOSTCALL_MAX_BODY
 *           caller   call's         declared PUT      most  (empty: none)
 *           map      deadline       MIST_FN_ DELETE   HOSTCALL_MAX_PATH
 *           (rest.c)                MASTER
 *
 *   reply body (status 0):
 *   +--------+------+
 *   | status | body |   status: the HTTP status of the answer (100..599);
 *   +--------+------+   body: its JSON
 *     u32      bin
 *
 * The caller map is the one the gateway gave the function call (session,
 * installation, "ip", "req", "master"): the host call acts as that caller.
 * MSG_HOST_CALL is local (msgtype_is_local): the gateway trusts the map,
 * so it must never come from another node.  Actor-level errors are error
 * replies with no body (MIST_EPROTO malformed, MIST_ETIMEDOUT, ...).
 *
 * Ownership: the unpackers return pointers into the caller's bytes (valid
 * as long as they are); the packers append to the caller's buffer.
 */
#ifndef MIST_FUNCTION_HOSTCALL_H_INCLUDED
#define MIST_FUNCTION_HOSTCALL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mist_plugin.h"
#include "util/buf.h"

/** Bounds of a request: the plugin API's (mist_plugin.h). */
#define HOSTCALL_MAX_PATH MIST_HOST_PATH_MAX
#define HOSTCALL_MAX_BODY MIST_HOST_BODY_MAX
/** Longest app id, NUL included (fncall.h's FNCALL_APP_MAX). */
#define HOSTCALL_APP_MAX 64
/** Longest method name, NUL included ("DELETE"). */
#define HOSTCALL_METHOD_MAX 8

/** A decoded request: pointers into the message's body. */
struct hostcall_req {
	const char *app;
	uint32_t app_len;
	const uint8_t *caller; /* the map, as bytes */
	uint32_t caller_len;
	uint32_t remaining_ms;
	bool master;
	char method[HOSTCALL_METHOD_MAX]; /* NUL-terminated */
	const char *path;		  /* not NUL-terminated */
	uint32_t path_len;
	const uint8_t *body; /* JSON, or NULL if empty */
	uint32_t body_len;
};

/** Appends a request to @a b (@a caller: a map's bytes; no check). */
void hostcall_pack(struct buf *b, const char *app, const uint8_t *caller,
		   uint32_t caller_len, uint32_t remaining_ms, bool master,
		   const char *method, const char *path, uint32_t path_len,
		   const uint8_t *body, uint32_t body_len);
/**
 * Decodes a request (the whole body).  0, or MIST_EPROTO: not an array of
 * at least 7, a wrong type, an app id empty or too long, caller not a map,
 * remaining 0 or over u32, a method not GET/POST/PUT/DELETE, a path empty,
 * not starting with '/' or over HOSTCALL_MAX_PATH, a body over
 * HOSTCALL_MAX_BODY.
 */
int hostcall_unpack(const uint8_t *p, size_t len, struct hostcall_req *out);

/** Appends the reply [status, body]. */
void hostcall_reply_pack(struct buf *b, uint32_t status, const void *body,
			 size_t len);
/** Decodes a reply body.  0, or MIST_EPROTO (status outside 100..599). */
int hostcall_reply_unpack(const uint8_t *p, size_t len, int *status,
			  const uint8_t **body, uint32_t *blen);

#endif
