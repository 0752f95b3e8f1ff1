/*
 * addr.h -- "ip:port" text <-> socket addresses ("[v6]:port" for IPv6),
 * and "host:port" with a DNS name, for seeds that move (--join).
 */
#ifndef MIST_NET_ADDR_H_INCLUDED
#define MIST_NET_ADDR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** Parses @a text; 0 or MIST_EINVAL.  Port 0 is allowed. */
int addr_parse(const char *text, struct sockaddr_storage *out);
/** Longest host name (RFC 1035: 253 characters), NUL included. */
#define ADDR_HOST_MAX 254
/**
 * Splits "host:port" where host is a DNS name (letters, digits, '-' and
 * '.', labels of 1..63, 253 at most; not an IP address: addr_parse
 * takes those) into @a host (ADDR_HOST_MAX bytes) and @a port.  0 or
 * MIST_EINVAL.  Resolving is the caller's (uv_getaddrinfo, off the loop).
 */
int addr_split_name(const char *text, char host[ADDR_HOST_MAX],
		    unsigned *port);
/** An address list's limits (libmist's gateways, `mist job watch`'s
 * agents): this many addresses, each shorter than ADDR_TEXT_MAX. */
#define ADDR_LIST_MAX 16
#define ADDR_TEXT_MAX 300
/**
 * Splits "a,b,c" into @a out (ADDR_LIST_MAX entries) and *n; the entries
 * are copied, not checked as addresses.  0, or MIST_EINVAL: empty, an
 * empty entry (",," or a trailing comma), too many, one too long.
 */
int addr_list_parse(const char *list, char out[][ADDR_TEXT_MAX],
		    uint32_t *n);
/** Formats @a sa as "ip:port" into @a out. */
void addr_format(const struct sockaddr *sa, char *out, size_t len);
/** True for 0.0.0.0 and :: */
int addr_is_any(const struct sockaddr *sa);

#endif
