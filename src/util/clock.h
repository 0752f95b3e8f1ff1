/*
 * clock.h -- the one reader of the real clocks.
 *
 * Protocol code never calls these: it asks its seam (actor_sys_now() in
 * actors/actor.h, uv_now() through net/loop.c), so that tests can run it in
 * virtual time.  These are for the places that genuinely need the machine's
 * clocks and have no seam: deadlines of blocking client calls, the
 * executor's measurements, log timestamps, credential creation times.
 *
 * Monotonic readings only ever go forward and are meaningful only as
 * differences (their origin is unspecified: boot, typically).  Wall-clock
 * readings are milliseconds since the Unix epoch (UTC) and may jump when
 * the system clock is set: never measure a duration with them.
 */
#ifndef MIST_UTIL_CLOCK_H_INCLUDED
#define MIST_UTIL_CLOCK_H_INCLUDED

#include <stdint.h>

/** Monotonic time in milliseconds. */
uint64_t clock_mono_ms(void);
/** Monotonic time in microseconds. */
uint64_t clock_mono_us(void);
/** Wall-clock time: milliseconds since 1970-01-01 00:00 UTC. */
uint64_t clock_wall_ms(void);

#endif
