/*
 * testfns.c -- functions for the tests: well-behaved ones and each kind of
 * misbehaviour the executor limits must contain.
 *
 *   noop     -> nil for each output
 *   echo     -> the args, for each output
 *   sum      args: int; inputs: ints -> args + sum(inputs)
 *   slowsum  sum, 20 ms later
 *   fail     mist_fail("boom")
 *   loop     spins forever (CPU-time / wall-time limits)
 *   sleep    args: ms; sleeps (wall-time limit)
 *   crash    writes through a NULL pointer
 *   hog      allocates and touches 8 GiB (memory limit)
 *   badout   returns bytes that are not msgpack
 *   scribble writes a frame of garbage into the executor's channel (fd 3)
 */
#include "mist_plugin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
read_int(const uint8_t *p, size_t len, int64_t *v)
{
	if (len == 0)
		return -1;
	uint8_t t = p[0];
	if (t <= 0x7f) { *v = t; return 0; }
	if (t >= 0xe0) { *v = (int8_t)t; return 0; }
	int n = t == 0xcc || t == 0xd0 ? 1 : t == 0xcd || t == 0xd1 ? 2
		: t == 0xce || t == 0xd2 ? 4 : t == 0xcf || t == 0xd3 ? 8 : 0;
	if (n == 0 || len < (size_t)n + 1)
		return -1;
	uint64_t u = 0;
	for (int i = 0; i < n; i++)
		u = u << 8 | p[1 + i];
	if (t >= 0xd0) {
		int shift = 64 - 8 * n;
		*v = (int64_t)(u << shift) >> shift;
	} else {
		*v = (int64_t)u;
	}
	return 0;
}

static int
write_int(uint8_t *out, int64_t v)
{
	out[0] = 0xd3;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	return 9;
}

static int
noop(struct mist_call *c)
{
	for (uint32_t i = 0; i < c->noutputs; i++)
		mist_output(c, i, "\xc0", 1);
	return 0;
}

static int
echo(struct mist_call *c)
{
	for (uint32_t i = 0; i < c->noutputs; i++)
		mist_output(c, i, c->args.data, c->args.len);
	return 0;
}

static int
sum(struct mist_call *c)
{
	int64_t total, v;
	if (read_int(c->args.data, c->args.len, &total) != 0) {
		mist_fail(c, "sum wants an integer argument");
		return -1;
	}
	for (uint32_t i = 0; i < c->ninputs; i++) {
		if (read_int(c->inputs[i].data, c->inputs[i].len, &v) != 0) {
			mist_fail(c, "sum wants integer inputs");
			return -1;
		}
		total = (int64_t)((uint64_t)total + (uint64_t)v); /* wraps */
	}
	uint8_t out[9];
	for (uint32_t i = 0; i < c->noutputs; i++)
		mist_output(c, i, out, (size_t)write_int(out, total));
	return 0;
}

/* sum, after sleeping 20 ms: slow enough to kill a node mid-job */
static int
slowsum(struct mist_call *c)
{
	struct timespec ts = {0, 20 * 1000000};
	nanosleep(&ts, NULL);
	return sum(c);
}

static int
fail(struct mist_call *c)
{
	mist_fail(c, "boom");
	return -1;
}

static int
loop(struct mist_call *c)
{
	volatile uint64_t x = 0;
	for (;;)
		x++;
	(void)c;
	return 0;
}

static int
sleep_ms(struct mist_call *c)
{
	int64_t ms = 0;
	read_int(c->args.data, c->args.len, &ms);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	return noop(c);
}

static int
crash(struct mist_call *c)
{
	volatile int *p = NULL;
	*p = 1;
	(void)c;
	return 0;
}

static int
hog(struct mist_call *c)
{
	size_t n = (size_t)8 << 30;
	char *p = malloc(n);
	if (p == NULL) {
		mist_fail(c, "out of memory");
		return -1;
	}
	memset(p, 1, n);
	free(p);
	return noop(c);
}

static int
badout(struct mist_call *c)
{
	for (uint32_t i = 0; i < c->noutputs; i++)
		mist_output(c, i, "\xc1", 1);
	return 0;
}

static int
scribble(struct mist_call *c)
{
	static const char junk[] = "\x00\x00\x00\x05hello";
	if (write(3, junk, sizeof(junk) - 1) < 0)
		return -1;
	return noop(c);
}

static const struct mist_function functions[] = {
	{"noop", noop},	  {"echo", echo},   {"sum", sum}, {"slowsum", slowsum},
	{"fail", fail},	  {"loop", loop},   {"sleep", sleep_ms},
	{"crash", crash}, {"hog", hog},	    {"badout", badout},
	{"scribble", scribble},
};

static const struct mist_plugin plugin = {
	MIST_PLUGIN_ABI, "testfns", functions,
	sizeof(functions) / sizeof(functions[0])};

MIST_PLUGIN_EXPORT const struct mist_plugin *mist_plugin_v1(void);

MIST_PLUGIN_EXPORT const struct mist_plugin *
mist_plugin_v1(void)
{
	return &plugin;
}
