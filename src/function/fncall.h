/*
 * fncall.h -- the codec of MSG_FN_CALL, an add-on function call (the
 * mobile backend's POST /functions/:name), for the gateway that sends it
 * and the function actor that answers it (function/function.h says how a
 * call runs; docs/MBAAS.md where it fits).
 *
 *   request: a msgpack array of 5, or 6 with declared reads (later
 *   versions may append; a decoder skips what follows)
 *   +-----+-----+-------------+--------+--------+-----------+
 *   | app | fn  | deadline_ms | caller | params | reads     |
 *   +-----+-----+-------------+--------+--------+-----------+
 *     str   str   u32           map      bin      [read...]
 *     1..63 any   0: spent      any      one msgpack object, or empty
 *     bytes                              (nil); at most
 *                                        FUNC_CALL_MAX_PARAMS (the
 *                                        actor's bound, E2BIG)
 *
 *   read: the answer of a read the function declared (mist_plugin.h,
 *   "Declared reads"), made by the gateway as the caller when the call
 *   arrived; at most FNCALL_MAX_READS
 *   +---------------------------+------------+--------------------------+
 *   | path                      | status     | body                     |
 *   +---------------------------+------------+--------------------------+
 *     str 1..FNREAD_PATH_MAX-1    int          bin <= MIST_HOST_BODY_MAX
 *     bytes, '/' first: the GET   100..599     Parse's JSON answer
 *     mist_doc_get builds         (HTTP)
 *
 *   reply body (status 0):
 *   +---+--------------------------+
 *   | 0 | result: bin              |   the function's one output: one
 *   +---+--------------------------+   msgpack object
 *   | 1 | message: str             |   the function failed: why
 *   +---+--------------------------+
 *    u8
 *
 * Actor-level errors (not run, or not answered by the function) are error
 * replies with no body: MIST_EPROTO, MIST_ENOTFOUND, MIST_E2BIG,
 * MIST_ETIMEDOUT, MIST_EOVERLOAD, MIST_ECLOSED (function/function.h).
 *
 * Ownership: the unpackers return pointers into the caller's bytes (valid
 * as long as they are); the packers append to the caller's buffer.
 */
#ifndef MIST_FUNCTION_FNCALL_H_INCLUDED
#define MIST_FUNCTION_FNCALL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "exec/exec.h"
#include "function/fnread.h"
#include "util/buf.h"

struct mp_cur;

/** Longest app id in a call, NUL included (gateway/apps.h's APP_ID_MAX). */
#define FNCALL_APP_MAX 64
/** Declared reads a call carries at most: what a task frame takes. */
#define FNCALL_MAX_READS EXEC_TASK_READS
/** A declared read's body the gateway sends with a call at most (a
 * larger answer is left to the host call): twice the largest object the
 * documents accessory stores by default, a quarter of a link frame. */
#define FNCALL_READ_BODY_MAX (256u << 10)

/** One declared read's answer (the packer's input). */
struct fncall_read {
	const char *path;
	uint32_t path_len;
	int status; /* 100..599 */
	const char *body;
	uint32_t body_len;
};

/** A decoded request: pointers into the message's body. */
struct fncall_req {
	const char *app;
	uint32_t app_len;
	const char *fn;
	uint32_t fn_len;
	uint32_t deadline_ms;
	const uint8_t *caller; /* the map, as bytes */
	uint32_t caller_len;
	const uint8_t *params; /* one msgpack object: never empty (an empty
				* bin reads as nil) */
	uint32_t params_len;
	/* the reads' array as bytes (checked: what a task frame carries,
	 * exec.h), NULL if none */
	const uint8_t *reads;
	uint32_t reads_len, nreads;
};

/**
 * Appends a request to @a b.  @a caller: a msgpack map's bytes, or NULL
 * for an empty one (no check: the gateway builds it); @a params: one
 * msgpack object (@a params_len 0: none).
 */
void fncall_pack(struct buf *b, const char *app, const char *fn,
		 uint32_t deadline_ms, const uint8_t *caller,
		 uint32_t caller_len, const uint8_t *params,
		 uint32_t params_len);
/** The same with @a nreads declared reads' answers (0: as fncall_pack). */
void fncall_pack_reads(struct buf *b, const char *app, const char *fn,
		       uint32_t deadline_ms, const uint8_t *caller,
		       uint32_t caller_len, const uint8_t *params,
		       uint32_t params_len, const struct fncall_read *reads,
		       uint32_t nreads);
/**
 * Decodes a request (the whole body: one validated msgpack array).  0, or
 * MIST_EPROTO: not an array of at least 5, a field of the wrong type, an
 * app id empty or too long, a deadline over u32, caller not a map, params
 * not exactly one msgpack object, or reads (when there) not as drawn.  A long fn is not an error here (no
 * function has that name: the actor answers MIST_ENOTFOUND).
 */
int fncall_unpack(const uint8_t *p, size_t len, struct fncall_req *out);

/**
 * Reads one read ([path, status, body], as drawn) at @a c into @a r
 * (pointers into the bytes), advancing @a c: 0 or MIST_EPROTO.  The one
 * decoder of the element, for fncall_unpack and for the executor, which
 * gets the array verbatim in its task frame (exec.h).
 */
int fncall_read_next(struct mp_cur *c, struct fncall_read *r);

/** Appends the reply [0, result]. */
void fncall_reply_ok_pack(struct buf *b, const uint8_t *result, uint32_t len);
/** Appends the reply [1, message]. */
void fncall_reply_fail_pack(struct buf *b, const char *message);
/**
 * Decodes a reply body: *@a failed 0 with the result (one msgpack object,
 * checked) in @a data, or 1 with the message (not NUL-terminated) in
 * @a data.  0, or MIST_EPROTO.
 */
int fncall_reply_unpack(const uint8_t *p, size_t len, int *failed,
			const uint8_t **data, uint32_t *dlen);

#endif
