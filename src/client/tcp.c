/*
 * tcp.c -- connect and wait with deadlines (see tcp.h).
 */
#include "config.h"
#include "client/tcp.h"
#include "mist.h"
#include "net/addr.h"
#include "util/clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

int
conn_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - (int64_t)clock_mono_ms();
		if (left <= 0)
			return MIST_ETIMEDOUT;
		struct pollfd p = {fd, events, 0};
		int rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return MIST_EIO;
	}
}

int
conn_tcp_connect(const char *addr, int timeout_ms, int *fd)
{
	struct sockaddr_storage sa;
	*fd = -1;
	if (addr_parse(addr, &sa) != 0)
		return MIST_EINVAL;
	*fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return MIST_EIO;
	int64_t deadline = (int64_t)clock_mono_ms() + timeout_ms;
	socklen_t len = sa.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6);
	if (connect(*fd, (struct sockaddr *)&sa, len) != 0) {
		if (errno != EINPROGRESS)
			return MIST_EUNREACHABLE;
		int rc = conn_wait(*fd, POLLOUT, deadline);
		if (rc != 0)
			return rc;
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(*fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0)
			return MIST_EUNREACHABLE;
	}
	int one = 1;
	setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}
