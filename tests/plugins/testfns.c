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
 *
 * and for add-on function calls (one output, params as args):
 *
 *   hello    params {"name": str, ...} -> {"hello": name}; else "hello"
 *   spin     burns CPU until it is killed (a call's deadline)
 *   sleepy   params {"ms": n, ...} or n: sleeps n ms -> n
 *
 * (echo returns the params, fail fails with "boom": the ones above.)
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

/* ------------------------------------ a little msgpack for the calls */

/* The length of a str at @a p (its bytes at *@a s), or -1. */
static int64_t
mp_str_at(const uint8_t *p, size_t len, const uint8_t **s)
{
	if (len < 1)
		return -1;
	size_t h, n;
	if ((p[0] & 0xe0) == 0xa0) {
		h = 1, n = p[0] & 0x1f;
	} else if (p[0] == 0xd9 && len >= 2) {
		h = 2, n = p[1];
	} else if (p[0] == 0xda && len >= 3) {
		h = 3, n = (size_t)p[1] << 8 | p[2];
	} else {
		return -1;
	}
	if (len - h < n)
		return -1;
	*s = p + h;
	return (int64_t)n;
}

/* The size of the object at @a p, or 0 if it is not one the calls use
 * (nil, bool, ints, floats, str, bin, arrays and maps of them). */
static size_t
mp_size(const uint8_t *p, size_t len, int depth)
{
	if (len == 0 || depth > 16)
		return 0;
	uint8_t t = p[0];
	size_t h = 1, body = 0, items = 0;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 1;
	if ((t & 0xe0) == 0xa0) {
		body = t & 0x1f;
	} else if ((t & 0xf0) == 0x90) {
		items = t & 0x0f;
	} else if ((t & 0xf0) == 0x80) {
		items = 2 * (size_t)(t & 0x0f);
	} else {
		switch (t) {
		case 0xcc: case 0xd0: body = 1; break;
		case 0xcd: case 0xd1: body = 2; break;
		case 0xca: case 0xce: case 0xd2: body = 4; break;
		case 0xcb: case 0xcf: case 0xd3: body = 8; break;
		case 0xc4: case 0xd9:
			if (len < 2) return 0;
			h = 2, body = p[1];
			break;
		case 0xc5: case 0xda:
			if (len < 3) return 0;
			h = 3, body = (size_t)p[1] << 8 | p[2];
			break;
		case 0xdc: case 0xde:
			if (len < 3) return 0;
			h = 3, items = (size_t)p[1] << 8 | p[2];
			if (t == 0xde) items *= 2;
			break;
		default:
			return 0;
		}
	}
	if (len - 1 < h - 1 + body)
		return 0;
	size_t off = h + body;
	for (size_t i = 0; i < items; i++) {
		size_t n = mp_size(p + off, len - off, depth + 1);
		if (n == 0)
			return 0;
		off += n;
	}
	return off;
}

/* The value of key @a key in the map @a p (*@a v, its size returned), or
 * 0 if @a p is not a map or has no such key. */
static size_t
mp_map_get(const uint8_t *p, size_t len, const char *key, const uint8_t **v)
{
	if (len == 0)
		return 0;
	size_t n, off;
	if ((p[0] & 0xf0) == 0x80) {
		n = p[0] & 0x0f, off = 1;
	} else if (p[0] == 0xde && len >= 3) {
		n = (size_t)p[1] << 8 | p[2], off = 3;
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *s;
		int64_t sl = mp_str_at(p + off, len - off, &s);
		size_t kn = mp_size(p + off, len - off, 0);
		if (kn == 0)
			return 0;
		off += kn;
		size_t vn = mp_size(p + off, len - off, 0);
		if (vn == 0)
			return 0;
		if (sl == (int64_t)strlen(key) && memcmp(s, key, (size_t)sl) == 0) {
			*v = p + off;
			return vn;
		}
		off += vn;
	}
	return 0;
}

static int
hello(struct mist_call *c)
{
	const uint8_t *v, *name;
	size_t vn = mp_map_get(c->args.data, c->args.len, "name", &v);
	int64_t nl = vn ? mp_str_at(v, vn, &name) : -1;
	if (nl < 0 || nl > 200) {
		mist_output(c, 0, "\xa5hello", 6);
		return 0;
	}
	uint8_t out[256] = {0x81, 0xa5, 'h', 'e', 'l', 'l', 'o', 0xd9,
			    (uint8_t)nl};
	memcpy(out + 9, name, (size_t)nl);
	mist_output(c, 0, out, 9 + (size_t)nl);
	return 0;
}

static int
sleepy(struct mist_call *c)
{
	const uint8_t *v;
	int64_t ms;
	size_t vn = mp_map_get(c->args.data, c->args.len, "ms", &v);
	if ((vn ? read_int(v, vn, &ms) : read_int(c->args.data, c->args.len,
						  &ms)) != 0 ||
	    ms < 0 || ms > 600000) {
		mist_fail(c, "sleepy wants {\"ms\": 0..600000}");
		return -1;
	}
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	uint8_t out[9];
	for (uint32_t i = 0; i < c->noutputs; i++)
		mist_output(c, i, out, (size_t)write_int(out, ms));
	return 0;
}

static const struct mist_function functions[] = {
	{"noop", noop},	  {"echo", echo},   {"sum", sum}, {"slowsum", slowsum},
	{"fail", fail},	  {"loop", loop},   {"sleep", sleep_ms},
	{"crash", crash}, {"hog", hog},	    {"badout", badout},
	{"scribble", scribble},
	{"hello", hello}, {"spin", loop}, {"sleepy", sleepy},
};

static const struct mist_plugin plugin = {
	/* ABI 1 on purpose: plugins built before the host API must keep
	 * loading; the executor never reads the flags or the reads of an
	 * ABI 1 table */
	.abi = 1, .name = "testfns", .functions = functions,
	.nfunctions = sizeof(functions) / sizeof(functions[0])};

MIST_PLUGIN_EXPORT const struct mist_plugin *mist_plugin_v1(void);

MIST_PLUGIN_EXPORT const struct mist_plugin *
mist_plugin_v1(void)
{
	return &plugin;
}
