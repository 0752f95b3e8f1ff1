/*
 * heat.c -- the Jacobi solver and the result encoding (see heat.h).
 * Hand-rolled msgpack for the few shapes used, so the plugin needs no
 * library and decodes defensively (its inputs come over the network).
 */
#include "heat.h"

#include <stdlib.h>
#include <string.h>

int
heat_simulate(uint32_t grid, uint32_t steps, const uint8_t *spots, uint32_t n,
	      struct heat_result *out)
{
	if (grid < 5 || grid > 4096 || n == 0 || n > HEAT_MAX_SOURCES)
		return -1;
	size_t cells = (size_t)grid * grid;
	double *a = calloc(cells, sizeof(double));
	double *b = calloc(cells, sizeof(double));
	uint8_t *fixed = calloc(cells, 1);
	if (!a || !b || !fixed) {
		free(a), free(b), free(fixed);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (spots[i] >= HEAT_SPOTS) {
			free(a), free(b), free(fixed);
			return -1;
		}
		uint32_t r = (uint32_t)((spots[i] / 5 + 0.5) * grid / 5);
		uint32_t c = (uint32_t)((spots[i] % 5 + 0.5) * grid / 5);
		fixed[(size_t)r * grid + c] = 1;
		a[(size_t)r * grid + c] = b[(size_t)r * grid + c] = 1.0;
	}
	for (uint32_t s = 0; s < steps; s++) {
		double delta = 0;
		for (uint32_t r = 1; r + 1 < grid; r++)
			for (uint32_t c = 1; c + 1 < grid; c++) {
				size_t k = (size_t)r * grid + c;
				if (fixed[k])
					continue;
				double v = 0.25 * (a[k - 1] + a[k + 1] +
						   a[k - grid] + a[k + grid]);
				double d = v > a[k] ? v - a[k] : a[k] - v;
				if (d > delta)
					delta = d;
				b[k] = v;
			}
		double *t = a;
		a = b;
		b = t;
		if (delta < 1e-9)
			break;
	}
	double sum = 0;
	for (size_t k = 0; k < cells; k++)
		sum += a[k];
	out->score = sum / (double)cells;
	out->n = n;
	memcpy(out->spots, spots, n);
	free(a), free(b), free(fixed);
	return 0;
}

int
heat_better(const struct heat_result *a, const struct heat_result *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	uint32_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->spots, b->spots, n);
	return c != 0 ? c < 0 : a->n < b->n;
}

int
heat_result_pack(const struct heat_result *r, uint8_t *out, size_t cap,
		 size_t *len)
{
	if (cap < 2 + 9 + 1 + 2 * HEAT_MAX_SOURCES || r->n > HEAT_MAX_SOURCES)
		return -1;
	size_t k = 0;
	out[k++] = 0x92;
	out[k++] = 0xcb;
	uint64_t bits;
	memcpy(&bits, &r->score, 8);
	for (int i = 7; i >= 0; i--)
		out[k++] = (uint8_t)(bits >> (8 * i));
	out[k++] = (uint8_t)(0x90 | r->n);
	for (uint32_t i = 0; i < r->n; i++)
		out[k++] = r->spots[i]; /* < 25: positive fixint */
	*len = k;
	return 0;
}

int
heat_result_unpack(const uint8_t *p, size_t len, struct heat_result *r)
{
	if (len < 11 || p[0] != 0x92 || p[1] != 0xcb)
		return -1;
	uint64_t bits = 0;
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | p[2 + i];
	memcpy(&r->score, &bits, 8);
	uint32_t n = p[10] & 0x0f;
	if ((p[10] & 0xf0) != 0x90 || n == 0 || n > HEAT_MAX_SOURCES ||
	    len != 11 + n)
		return -1;
	r->n = n;
	for (uint32_t i = 0; i < n; i++) {
		if (p[11 + i] >= HEAT_SPOTS)
			return -1;
		r->spots[i] = p[11 + i];
	}
	return 0;
}
