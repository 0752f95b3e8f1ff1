/*
 * place.c -- the forecast and the choice (model in place.h and
 * docs/PLACEMENT.md).  A handful of candidates per task: linear passes,
 * and no state (no buffer of its own, so any number of data managers may
 * call it).
 */
#include "config.h"
#include "data/place.h"
#include "util/num.h"

#include <math.h> /* INFINITY: a constant, no libm */
#include <stdbool.h>

/* Scores within 1 % are a tie: the forecasts are estimates, and a tie
 * lets data locality and queue length decide instead of noise. */
#define PLACE_TIE 0.01

static double
ratio(double x, double min)
{
	return min > 0 ? x / min : (x > 0 ? 2.0 : 1.0);
}

/* The forecast of candidate @a c; false when it is excluded (tier, full). */
static bool
forecast(const struct place_policy *pol, const struct place_node *c,
	 double ref_exec_ms, double ref_speed, double default_exec_ms,
	 double bytes_per_ms, struct place_forecast *f)
{
	if (!(pol->tiers & (uint32_t)c->tier) || c->inflight >= c->limit)
		return false;
	double speed = c->speed > 0 ? c->speed : 1.0;
	double exec = c->exec_ms >= 0 ? c->exec_ms
		      : ref_exec_ms >= 0
			      ? ref_exec_ms * (ref_speed > 0 ? ref_speed : 1.0) / speed
			      : default_exec_ms / speed;
	double cores = c->cores ? c->cores : 1;
	double queue = c->inflight * exec / cores;
	double xfer = bytes_per_ms > 0 ? c->missing_bytes / bytes_per_ms : 0;
	f->end_ms = queue + xfer + exec;
	f->energy_mj = (exec + xfer) * c->power;
	f->cost = exec * c->price / 3600000.0;
	return true;
}

/*
 * Two passes over the candidates, the forecast computed in each (it is
 * cheap): the first finds the minima the scores are relative to, the
 * second scores and picks.  No array per candidate, so no bound on them.
 */
int
place_choose(const struct place_policy *pol, const struct place_node *n,
	     int count, double ref_exec_ms, double ref_speed,
	     double default_exec_ms, double bytes_per_ms,
	     struct place_forecast *out)
{
	double min_end = INFINITY, min_en = INFINITY, min_cost = INFINITY;
	struct place_forecast f, fbest = {0};
	int any = 0;
	for (int i = 0; i < count; i++) {
		if (!forecast(pol, &n[i], ref_exec_ms, ref_speed,
			      default_exec_ms, bytes_per_ms, &f))
			continue;
		min_end = num_min(min_end, f.end_ms);
		min_en = num_min(min_en, f.energy_mj);
		min_cost = num_min(min_cost, f.cost);
		any = 1;
	}
	if (!any)
		return -1;
	int best = -1;
	for (int i = 0; i < count; i++) {
		if (!forecast(pol, &n[i], ref_exec_ms, ref_speed,
			      default_exec_ms, bytes_per_ms, &f))
			continue;
		f.score = pol->w_time * ratio(f.end_ms, min_end) +
			  pol->w_energy * ratio(f.energy_mj, min_en) +
			  pol->w_cost * ratio(f.cost, min_cost);
		if (best < 0) {
			best = i;
			fbest = f;
			continue;
		}
		double a = f.score, b = fbest.score;
		bool take = false;
		if (a < b * (1 - PLACE_TIE)) {
			take = true;
		} else if (a <= b * (1 + PLACE_TIE)) {
			/* a tie: data locality, then the shorter queue, then id */
			const struct place_node *x = &n[i], *y = &n[best];
			if (x->local_bytes != y->local_bytes)
				take = x->local_bytes > y->local_bytes;
			else if (x->inflight != y->inflight)
				take = x->inflight < y->inflight;
			else
				take = x->id < y->id;
		}
		if (take) {
			best = i;
			fbest = f;
		}
	}
	if (out)
		*out = fbest;
	return best;
}
