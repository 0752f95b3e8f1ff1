/*
 * plugin.c -- HeatSweeper's functions for `mist agent --plugin`:
 *
 *   simulate  args [grid, steps, [spot...]]  -> [score, [spot...]]
 *   get_best  inputs: results                -> the best of them
 */
#include "heat.h"
#include "mist_plugin.h"

#include <stdio.h>

/* Reads a positive fixint / uint8 / uint16 / uint32 at *p. */
static int
read_uint(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
	if (*p >= end)
		return -1;
	uint8_t t = *(*p)++;
	if (t <= 0x7f) {
		*v = t;
		return 0;
	}
	int n = t == 0xcc ? 1 : t == 0xcd ? 2 : t == 0xce ? 4 : 0;
	if (n == 0 || end - *p < n)
		return -1;
	*v = 0;
	for (int i = 0; i < n; i++)
		*v = *v << 8 | *(*p)++;
	return 0;
}

static int
simulate(struct mist_call *c)
{
	const uint8_t *p = c->args.data, *end = p + c->args.len;
	uint32_t grid, steps, n, s;
	uint8_t spots[HEAT_MAX_SOURCES];
	if (p >= end || *p++ != 0x93 || read_uint(&p, end, &grid) != 0 ||
	    read_uint(&p, end, &steps) != 0 || p >= end ||
	    (*p & 0xf0) != 0x90) {
		mist_fail(c, "simulate wants [grid, steps, [spot...]]");
		return -1;
	}
	n = *p++ & 0x0f;
	if (n == 0 || n > HEAT_MAX_SOURCES) {
		mist_fail(c, "simulate wants 1..8 spots");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (read_uint(&p, end, &s) != 0 || s >= HEAT_SPOTS) {
			mist_fail(c, "a spot is 0..24");
			return -1;
		}
		spots[i] = (uint8_t)s;
	}
	struct heat_result r;
	if (heat_simulate(grid, steps, spots, n, &r) != 0) {
		mist_fail(c, "bad grid (5..4096) or out of memory");
		return -1;
	}
	uint8_t out[64];
	size_t len;
	heat_result_pack(&r, out, sizeof(out), &len);
	return mist_output(c, 0, out, len);
}

static int
get_best(struct mist_call *c)
{
	struct heat_result best, r;
	if (c->ninputs == 0) {
		mist_fail(c, "get_best needs at least one input");
		return -1;
	}
	for (uint32_t i = 0; i < c->ninputs; i++) {
		if (heat_result_unpack(c->inputs[i].data, c->inputs[i].len,
				       &r) != 0) {
			char msg[64];
			snprintf(msg, sizeof(msg), "input %u is not a result", i);
			mist_fail(c, msg);
			return -1;
		}
		if (i == 0 || heat_better(&r, &best))
			best = r;
	}
	uint8_t out[64];
	size_t len;
	heat_result_pack(&best, out, sizeof(out), &len);
	return mist_output(c, 0, out, len);
}

static const struct mist_function functions[] = {
	{"simulate", simulate},
	{"get_best", get_best},
};

/* ABI 1: no flags, no host API (a job's tasks have none) */
static const struct mist_plugin plugin = {
	.abi = 1, .name = "heatsweeper", .functions = functions,
	.nfunctions = 2};

MIST_PLUGIN_EXPORT const struct mist_plugin *mist_plugin_v1(void);

MIST_PLUGIN_EXPORT const struct mist_plugin *
mist_plugin_v1(void)
{
	return &plugin;
}
