/*
 * heat.h -- HeatSweeper's computation (paper 003, section 5), shared by the
 * plugin the agents run and the sequential mode of the client, so both
 * compute bit for bit the same thing.
 *
 * A square plate of grid x grid cells with cold edges (0).  Heat sources
 * held at 1.0 sit on some of 25 spots, a 5 x 5 lattice.  Jacobi iterations
 * (at most `steps`, or until the largest change falls below 1e-9) spread
 * the heat; a placement's score is the plate's mean temperature.  The
 * search: every placement of 1..N sources; the best is the highest score,
 * ties going to the lexicographically smaller list of spots.
 */
#ifndef HEAT_H_INCLUDED
#define HEAT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define HEAT_SPOTS 25
#define HEAT_MAX_SOURCES 8

struct heat_result {
	double score;
	uint32_t n;
	uint8_t spots[HEAT_MAX_SOURCES];
};

/** Simulates one placement.  0, or -1 on bad parameters / no memory. */
int heat_simulate(uint32_t grid, uint32_t steps, const uint8_t *spots,
		  uint32_t n, struct heat_result *out);
/** True if @a a beats @a b. */
int heat_better(const struct heat_result *a, const struct heat_result *b);

/* msgpack: a result is [score (float64), [spot...]] */
int heat_result_pack(const struct heat_result *r, uint8_t *out, size_t cap,
		     size_t *len);
int heat_result_unpack(const uint8_t *p, size_t len, struct heat_result *r);

#endif
