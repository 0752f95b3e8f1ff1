/*
 * conn.h -- a blocking, encrypted connection to one agent, for command-line
 * tools (mist members, mist ping) and tests.
 *
 * It speaks the link protocol of net/link.h as an initiator with role
 * "client": a fresh identity per connection, admitted by the cluster key,
 * never listed as a member.  Frames travel on the sealed stream
 * (net/stream.h), rekeyed in both directions like a link's.  Every read
 * is bounded (frame size) and every wait has a deadline.
 *
 * Ownership: struct conn is caller storage; conn_close() frees what
 * conn_open() allocated.  A reply returned by conn_request() is the
 * caller's (msg_delete).
 */
#ifndef MIST_CLIENT_CONN_H_INCLUDED
#define MIST_CLIENT_CONN_H_INCLUDED

#include <stdint.h>

#include "actors/msg.h"
#include "client/tcp.h" /* conn_tcp_connect(), shared with libmist */
#include "net/identity.h"
#include "net/link.h"
#include "net/stream.h"
#include "util/buf.h"

struct conn {
	int fd;
	struct stream st; /* frames both ways, and what was read */
	struct buf wbuf;  /* frames being written */
	struct identity id;
	uint64_t agent; /* the agent's node id */
	struct link_hello hello;
	uint32_t max_frame;
	int timeout_ms;
	uint64_t next_corr;
	uint8_t *scratch; /* an opened frame, max_frame bytes */
};

/**
 * Connects to @a addr and completes the handshake.  0, or MIST_EINVAL (bad
 * address), MIST_EUNREACHABLE (no agent there), MIST_EAUTH (handshake
 * refused: most likely another cluster key), MIST_ETIMEDOUT, MIST_EPROTO.
 */
int conn_open(struct conn *c, const char *addr, const uint8_t psk[32],
	      int timeout_ms);
/** Sends a request to @a actor on the agent and waits for its reply. */
int conn_request(struct conn *c, uint32_t actor, uint32_t type,
		 const void *body, uint32_t len, struct msg **reply);
void conn_close(struct conn *c);

#endif
