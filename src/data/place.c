/*
 * place.c -- the forecast and the choice (model in place.h and
 * docs/PLACEMENT.md).  A handful of candidates per task: a linear pass.
 */
#include "config.h"
#include "data/place.h"
#include "util/num.h"

#include <math.h> /* INFINITY: a constant, no libm */
#include <string.h>

#define PLACE_MAX_CANDIDATES 1024
#define PLACE_TIE 0.01

int
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

const char *
place_tier_name(int tier)
{
	return tier == TIER_FOG ? "fog" : tier == TIER_EDGE ? "edge"
	       : tier == TIER_CLOUD ? "cloud" : "?";
}

static double
ratio(double x, double min)
{
	return min > 0 ? x / min : (x > 0 ? 2.0 : 1.0);
}

int
place_choose(const struct place_policy *pol, const struct place_node *n,
	     int count, double ref_exec_ms, double ref_speed,
	     double default_exec_ms, double bytes_per_ms,
	     struct place_forecast *out)
{
	static __thread struct place_forecast f[PLACE_MAX_CANDIDATES];
	static __thread int ok[PLACE_MAX_CANDIDATES];
	if (count > PLACE_MAX_CANDIDATES)
		count = PLACE_MAX_CANDIDATES;
	double min_end = INFINITY, min_en = INFINITY, min_cost = INFINITY;
	int any = 0;
	for (int i = 0; i < count; i++) {
		const struct place_node *c = &n[i];
		ok[i] = (pol->tiers & (uint32_t)c->tier) && c->inflight < c->limit;
		if (!ok[i])
			continue;
		double speed = c->speed > 0 ? c->speed : 1.0;
		double exec = c->exec_ms >= 0 ? c->exec_ms
			      : ref_exec_ms >= 0
				      ? ref_exec_ms * (ref_speed > 0 ? ref_speed : 1.0) / speed
				      : default_exec_ms / speed;
		double cores = c->cores ? c->cores : 1;
		double queue = c->inflight * exec / cores;
		double xfer = bytes_per_ms > 0 ? c->missing_bytes / bytes_per_ms
					       : 0;
		f[i].end_ms = queue + xfer + exec;
		f[i].energy_mj = (exec + xfer) * c->power;
		f[i].cost = exec * c->price / 3600000.0;
		min_end = num_min(min_end, f[i].end_ms);
		min_en = num_min(min_en, f[i].energy_mj);
		min_cost = num_min(min_cost, f[i].cost);
		any = 1;
	}
	if (!any)
		return -1;
	int best = -1;
	for (int i = 0; i < count; i++) {
		if (!ok[i])
			continue;
		f[i].score = pol->w_time * ratio(f[i].end_ms, min_end) +
			     pol->w_energy * ratio(f[i].energy_mj, min_en) +
			     pol->w_cost * ratio(f[i].cost, min_cost);
		if (best < 0) {
			best = i;
			continue;
		}
		double a = f[i].score, b = f[best].score;
		if (a < b * (1 - PLACE_TIE)) {
			best = i;
		} else if (a <= b * (1 + PLACE_TIE)) {
			/* a tie: data locality, then the shorter queue, then id */
			const struct place_node *x = &n[i], *y = &n[best];
			if (x->local_bytes != y->local_bytes) {
				if (x->local_bytes > y->local_bytes)
					best = i;
			} else if (x->inflight != y->inflight) {
				if (x->inflight < y->inflight)
					best = i;
			} else if (x->id < y->id) {
				best = i;
			}
		}
	}
	if (out)
		*out = f[best];
	return best;
}
