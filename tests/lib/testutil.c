#define _GNU_SOURCE
#include "testutil.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint8_t *
tu_unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *out = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	*len = n;
	return out;
}

char *
tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/mist-test-XXXXXX", base ? base : "/tmp") < 0)
		abort();
	if (mkdtemp(path) == NULL)
		abort();
	return path;
}

static int
tu_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void
tu_rmrf(const char *dir)
{
	if (getenv("MIST_KEEP_TMP")) {
		fprintf(stderr, "kept %s (MIST_KEEP_TMP)\n", dir);
		return;
	}
	nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t
tu_seed(void)
{
	const char *env = getenv("MIST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10)
			    : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	fprintf(stderr, "seed %" PRIu64 " (replay with MIST_SEED=%" PRIu64 ")\n",
		seed, seed);
	return seed;
}
