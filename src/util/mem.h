/*
 * mem.h -- allocation with an explicit out-of-memory policy.
 *
 * Small, bounded allocations (headers, table entries, buffers whose size has
 * already been checked against a configured limit) go through xmalloc and
 * friends, which abort on failure: a node that cannot allocate a few hundred
 * bytes cannot make progress, and crashing loudly beats limping (Redis's
 * zmalloc policy).  Sizes that come from the network are never passed here
 * before they are bounded by the caller.
 */
#ifndef MIST_UTIL_MEM_H_INCLUDED
#define MIST_UTIL_MEM_H_INCLUDED

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
