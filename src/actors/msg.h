/*
 * msg.h -- the message: what actors send, what a link carries.
 *
 * A message is one allocation: this header followed by its body, a single
 * msgpack object of @a len bytes.  Ownership moves with the message: whoever
 * holds the pointer frees it, and actor_send() takes it (on success and on
 * failure alike).  A handler does not own the message it is given: the
 * runtime frees it when the handler returns.
 *
 * Local-only messages (I/O events, timers) may carry a pointer in @a ptr
 * instead of a body; they are flagged MSG_F_LOCAL and can never be sent to
 * another node.  If @a ptr_free is set, the message owns what @a ptr points
 * at: msg_delete() frees it, so a message the runtime drops (a refused
 * delivery, a stopped actor's mail, a system destroyed undrained) leaks
 * nothing.  A handler that keeps the pointer takes it by setting @a ptr to
 * NULL.  Timer messages leave @a ptr_free NULL (the timer is the actor's).
 */
#ifndef MIST_ACTORS_MSG_H_INCLUDED
#define MIST_ACTORS_MSG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

struct actor_ref {
	uint64_t node; /* node id: a hash of the node's public key */
	uint32_t id;   /* actor id within the node */
};

enum msg_flags {
	MSG_F_REQUEST = 1, /* the sender waits for a reply (corr) */
	MSG_F_REPLY = 2,   /* answers the request with the same corr */
	MSG_F_LOCAL = 4,   /* never leaves the node; may carry ptr */
};

struct msg {
	struct msg *next; /* mailbox link, owned by the runtime */
	uint32_t type;
	uint16_t flags;
	int16_t status; /* replies: 0 or a MIST_E* code */
	struct actor_ref from;
	struct actor_ref to;
	uint64_t corr;
	uint64_t deadline; /* absolute, local clock in ms; 0 = none */
	void *ptr;	   /* MSG_F_LOCAL only */
	void (*ptr_free)(void *ptr); /* NULL: @a ptr is not the message's */
	uint32_t len;
	uint8_t body[];
};

/** A message with room for @a len body bytes (copied from @a body if set). */
struct msg *msg_new(uint32_t type, const void *body, uint32_t len);
void msg_delete(struct msg *m);

#endif
