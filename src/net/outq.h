/*
 * outq.h -- a connection's output, double-buffered over one libuv stream.
 *
 * Sealed frames are appended to @a wq while a write of @a inflight is in
 * progress; when it ends, the two buffers swap and everything queued goes
 * out in one uv_write.  So a connection has at most one write in flight,
 * never copies queued bytes, and a burst of frames costs one system call.
 * Links (net/link.c) and the gateway's client connections
 * (gateway/native.c) both write this way.
 *
 * Ownership: caller storage, embedded in the connection; zeroed storage is
 * an empty queue.  The buffers are
 * the queue's and freed by outq_destroy(), which the owner calls from its
 * handle's close callback (a write in flight is cancelled by uv_close and
 * its callback runs before the close callback).
 */
#ifndef MIST_NET_OUTQ_H_INCLUDED
#define MIST_NET_OUTQ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/stream.h"
#include "util/buf.h"

struct outq {
	struct buf wq;	     /* sealed frames waiting for the socket */
	struct buf inflight; /* the bytes of the write in progress */
	uv_write_t req;
	bool writing;
};

void outq_destroy(struct outq *q);
/**
 * Starts writing everything queued to @a s if no write is in flight and
 * something is queued; @a cb gets req->data = @a data.  0, or the negative
 * libuv error of uv_write (the connection is broken: close it).
 */
int outq_start(struct outq *q, uv_stream_t *s, uv_write_cb cb, void *data);
/** Called first in the write callback: the write ended; a buffer grown
 * past @a keep bytes is freed (an idle connection holds little). */
void outq_done(struct outq *q, size_t keep);
/**
 * The read callback's buffer for stream @a st (a uv_alloc_cb's work):
 * stream_in_space() with the event loop's shared read buffer @a *shared,
 * allocated (STREAM_READ bytes) on first use; its owner frees it.
 */
void outq_read_buf(struct stream *st, uint8_t **shared, uv_buf_t *b);
/** Bytes queued or being written. */
static inline size_t
outq_pending(const struct outq *q)
{
	return q->wq.len + q->inflight.len;
}
/** Nothing queued and no write in flight. */
static inline bool
outq_is_idle(const struct outq *q)
{
	return !q->writing && q->wq.len == 0;
}

#endif
