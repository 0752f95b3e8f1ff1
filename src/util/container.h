/*
 * container.h -- container_of: from a pointer to a member, the struct that
 * embeds it.
 *
 * Intrusive structures (heap nodes, timers embedded in their owner) hand
 * back a pointer to the embedded member; this recovers the owner.  The
 * caller must know that @a p really points into a @a type (a timer's tag
 * or a field of the message says which kind it is): nothing is checked.
 */
#ifndef MIST_UTIL_CONTAINER_H_INCLUDED
#define MIST_UTIL_CONTAINER_H_INCLUDED

#include <stddef.h>

#define container_of(p, type, member)                                          \
	((type *)(void *)((char *)(p)-offsetof(type, member)))

#endif
