/*
 * outq.c -- a connection's output, double-buffered (outq.h).
 */
#include "config.h"
#include "net/outq.h"
#include "util/mem.h"

void
outq_read_buf(struct stream *st, uint8_t **shared, uv_buf_t *b)
{
	if (*shared == NULL)
		*shared = xmalloc(STREAM_READ);
	size_t cap;
	uint8_t *p = stream_in_space(st, *shared, &cap);
	*b = uv_buf_init((char *)p, (unsigned)cap);
}

void
outq_destroy(struct outq *q)
{
	buf_destroy(&q->wq);
	buf_destroy(&q->inflight);
}

int
outq_start(struct outq *q, uv_stream_t *s, uv_write_cb cb, void *data)
{
	if (q->writing || q->wq.len == 0)
		return 0;
	struct buf t = q->inflight;
	q->inflight = q->wq;
	q->wq = t;
	q->wq.len = 0;
	uv_buf_t b = uv_buf_init((char *)q->inflight.data,
				 (unsigned)q->inflight.len);
	q->req.data = data;
	int rc = uv_write(&q->req, s, &b, 1, cb);
	if (rc < 0)
		return rc;
	q->writing = true;
	return 0;
}

void
outq_done(struct outq *q, size_t keep)
{
	q->writing = false;
	q->inflight.len = 0;
	buf_trim(&q->inflight, keep);
}
