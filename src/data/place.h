/*
 * place.h -- the decision engine: which node runs a ready task.
 *
 * Pure function of its inputs (documented in docs/PLACEMENT.md); the job
 * owner gathers them from gossip metadata and what it has learnt.
 *
 * For each candidate node n (alive, offers the function, tier allowed by
 * the job, queue below its limit):
 *
 *   exec_n     = learnt execution time of the function on n, else the
 *                function's learnt time on any node scaled by speed
 *                (t * speed_m / speed_n), else default_exec_ms / speed_n
 *   queue_n    = inflight_n * exec_n / cores_n          (wait for a slot)
 *   transfer_n = missing_bytes_n / bandwidth             (inputs not on n)
 *   end_n      = queue_n + transfer_n + exec_n           (ms from now)
 *   energy_n   = (exec_n + transfer_n) * power_n         (mJ; W * ms)
 *   cost_n     = exec_n * price_n / 3 600 000            (price per hour)
 *
 * score_n = w_time * end_n / min(end) + w_energy * energy_n / min(energy)
 *         + w_cost * cost_n / min(cost), each ratio over the candidates'
 *         minimum (a zero minimum makes that criterion a tie).  The lowest
 *         score wins; scores within 1 % are a tie, broken by the bytes of
 *         inputs already on the node, then by the shorter queue, then by
 *         node id (deterministic).
 */
#ifndef MIST_DATA_PLACE_H_INCLUDED
#define MIST_DATA_PLACE_H_INCLUDED

#include <stdint.h>
#include <string.h>

enum place_tier { TIER_FOG = 1, TIER_EDGE = 2, TIER_CLOUD = 4, TIER_ANY = 7 };

/*
 * The tiers' names, as the wire spells them (JOB_CREATE's "tiers", a
 * node's metadata, JOB_STATUS).  Inline: the job codec (data/jobmsg.c)
 * speaks them in libmist, which links no placement engine.
 */

/** "fog", "edge", "cloud" -> the bit; 0 if unknown. */
static inline int
place_tier_parse(const char *s, uint32_t len)
{
	if (len == 3 && memcmp(s, "fog", 3) == 0)
		return TIER_FOG;
	if (len == 4 && memcmp(s, "edge", 4) == 0)
		return TIER_EDGE;
	if (len == 5 && memcmp(s, "cloud", 5) == 0)
		return TIER_CLOUD;
	return 0;
}

/** The name of one tier bit; "?" for anything else. */
static inline const char *
place_tier_name(int tier)
{
	return tier == TIER_FOG ? "fog" : tier == TIER_EDGE ? "edge"
	       : tier == TIER_CLOUD ? "cloud" : "?";
}

struct place_policy {
	double w_time, w_energy, w_cost;
	uint32_t tiers; /* allowed tiers, a mask of enum place_tier */
};

struct place_node {
	uint64_t id;
	int tier;
	uint32_t cores;
	double speed, power, price;
	uint32_t inflight; /* tasks this owner has queued or running there */
	uint32_t limit;	   /* backpressure: no more than this in flight */
	double exec_ms;	   /* learnt for this function here; < 0: unknown */
	uint64_t local_bytes;	/* inputs already there */
	uint64_t missing_bytes; /* inputs to move there */
};

struct place_forecast {
	double end_ms, energy_mj, cost, score;
};

/**
 * Picks among @a n candidates.  @a ref_exec_ms / @a ref_speed: the
 * function's learnt time on some node of that speed (< 0: unknown).
 * Returns the index, or -1 when every candidate is at its limit or excluded.
 * @a out (may be NULL) receives the forecast of the choice.
 */
int place_choose(const struct place_policy *pol, const struct place_node *n,
		 int count, double ref_exec_ms, double ref_speed,
		 double default_exec_ms, double bytes_per_ms,
		 struct place_forecast *out);

#endif
