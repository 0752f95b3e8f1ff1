/*
 * addr.h -- "ip:port" text <-> socket addresses ("[v6]:port" for IPv6).
 */
#ifndef MIST_NET_ADDR_H_INCLUDED
#define MIST_NET_ADDR_H_INCLUDED

#include <stddef.h>
#include <sys/socket.h>

/** Parses @a text; 0 or MIST_EINVAL.  Port 0 is allowed. */
int addr_parse(const char *text, struct sockaddr_storage *out);
/** Formats @a sa as "ip:port" into @a out. */
void addr_format(const struct sockaddr *sa, char *out, size_t len);
/** True for 0.0.0.0 and :: */
int addr_is_any(const struct sockaddr *sa);

#endif
