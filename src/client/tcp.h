/*
 * tcp.h -- the client side's TCP plumbing, shared by libmist (client/mist.c)
 * and the tools' admin connection (client/conn.h): a non-blocking connect
 * and waits with a deadline on the monotonic clock (util/clock.h).
 *
 * Part of the conn module (prefix conn_), in a file of its own because
 * libmist needs only this: it includes and links no libuv (conn.c speaks
 * the link protocol of net/link.h, which does).
 *
 * Ownership: a descriptor returned by conn_tcp_connect() is the caller's.
 */
#ifndef MIST_CLIENT_TCP_H_INCLUDED
#define MIST_CLIENT_TCP_H_INCLUDED

#include <stdint.h>

/**
 * Waits until @a fd is ready for @a events (poll(2) flags) or the monotonic
 * clock (clock_mono_ms(), util/clock.h) reaches @a deadline (ms): 0,
 * MIST_ETIMEDOUT or MIST_EIO.
 */
int conn_wait(int fd, short events, int64_t deadline);
/**
 * A non-blocking TCP connection to @a addr within @a timeout_ms.  0 and
 * *fd, or MIST_EINVAL, MIST_EUNREACHABLE, MIST_ETIMEDOUT, MIST_EIO; *fd
 * (>= 0) is the caller's to close either way.
 */
int conn_tcp_connect(const char *addr, int timeout_ms, int *fd);

#endif
