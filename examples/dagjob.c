/*
 * dagjob.c -- a DAG job that checks its own answer: the client of the
 * chaos runs (contrib/chaos/jobs.sh), usable alone.
 *
 *   dagjob --gateway IP:PORT[,IP:PORT...] --cred FILE|mist1:...
 *          [--tasks N] [--width W] [--fn slowsum] [--timeout-s S]
 *          [--checkpoint K]
 *
 * Task i (1..N) calls FN (the test plugin's sum or slowsum: its argument
 * plus its inputs) on i with the outputs of tasks i-W (W chains side by
 * side, default 1: one chain) and i/2 as inputs, so every task depends on
 * earlier ones and a lost value is recomputed through a chain.  It prints
 * the job's time (contrib/bench/dask.sh, recovery.sh read it).  The client computes the same values itself, waits for
 * task N, and checks: the value is the expected one, and the owner's
 * count says every task done exactly once, none failed.
 *
 * --checkpoint K asks for checkpoints every K tasks (struct mist_policy's
 * checkpoint_every; 0, the default: none): the values of each partition
 * of K tasks are copied to a safe holder once it is done, so that a lost
 * worker re-runs only the partitions not yet copied.
 *
 * The owner may be killed while this runs -- and restarted (it resumes
 * the job from its journal) or not (its standby takes the job over): the
 * client does nothing about it.  libmist is given every gateway; on a
 * lost connection it redials another and sends again what was not
 * answered (the batches the owner may not have, the wait), and a request
 * the gateway could not deliver to a dead owner is retried until the
 * owner -- old or new -- answers.  This program only checks the answer.
 * Exit 0: right; 1: wrong or failed (said on stderr); 2: usage.
 */
#include "mist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAG_MAX_TASKS 1000000

static int
pack_int(uint8_t *out, int64_t v)
{
	out[0] = 0xd3;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	return 9;
}

static int
unpack_int(const uint8_t *p, size_t len, int64_t *v)
{
	if (len != 9 || p[0] != 0xd3)
		return -1;
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | p[1 + i];
	*v = (int64_t)u;
	return 0;
}

/* Task i's value, as the plugin computes it (wrapping). */
static int64_t
expected(uint32_t n, uint32_t w)
{
	uint64_t *v = calloc(n + 1, sizeof(*v));
	if (v == NULL)
		return 0;
	for (uint32_t i = 1; i <= n; i++) {
		v[i] = i;
		if (i > w)
			v[i] += v[i - w];
		if (i > 2)
			v[i] += v[i / 2];
	}
	int64_t r = (int64_t)v[n];
	free(v);
	return r;
}

/* Submits tasks first..n (numbered by the job: first must be its next). */
static int
submit(mist_job *j, uint32_t first, uint32_t n, uint32_t w, const char *fn)
{
	for (uint32_t i = first; i <= n; i++) {
		mist_ref in[2];
		uint32_t nin = 0;
		if (i > w)
			in[nin++] = (mist_ref){i - w, 0};
		if (i > 2)
			in[nin++] = (mist_ref){i / 2, 0};
		uint8_t args[9];
		int rc = mist_task(j, fn, args, (size_t)pack_int(args, i), in,
				   nin, 1, NULL);
		if (rc != 0)
			return rc;
	}
	return mist_flush(j);
}

int
main(int argc, char **argv)
{
	const char *gws = NULL, *credarg = NULL, *fn = "slowsum";
	long n = 300, timeout_s = 300, width = 1, ckpt = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--gateway") == 0)
			gws = argv[i + 1];
		else if (strcmp(argv[i], "--cred") == 0)
			credarg = argv[i + 1];
		else if (strcmp(argv[i], "--tasks") == 0)
			n = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--width") == 0)
			width = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--fn") == 0)
			fn = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-s") == 0)
			timeout_s = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--checkpoint") == 0)
			ckpt = atol(argv[i + 1]);
	}
	if (!gws || !credarg || n < 1 || n > DAG_MAX_TASKS || timeout_s < 1 ||
	    width < 1 || width > n || ckpt < 0 || ckpt > DAG_MAX_TASKS) {
		fputs("usage: dagjob --gateway IP:PORT[,IP:PORT...] --cred FILE "
		      "[--tasks N] [--width W] [--fn F] [--timeout-s S] "
		      "[--checkpoint K]\n", stderr);
		return 2;
	}
	char cred[128] = "";
	if (strncmp(credarg, "mist1:", 6) == 0) {
		snprintf(cred, sizeof(cred), "%s", credarg);
	} else {
		FILE *f = fopen(credarg, "r");
		if (!f || !fgets(cred, sizeof(cred), f)) {
			fprintf(stderr, "dagjob: cannot read %s\n", credarg);
			return 2;
		}
		fclose(f);
		cred[strcspn(cred, "\n")] = '\0';
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mist_client *c = NULL;
	mist_job *j = NULL;
	int rc = mist_connect(gws, cred, 10000, &c);
	if (rc == 0)
		rc = mist_job_create(c, &(struct mist_policy){
					     .name = "dagjob",
					     .checkpoint_every = (unsigned)ckpt},
				     10000, &j);
	if (rc == 0)
		rc = submit(j, 1, (uint32_t)n, (uint32_t)width, fn);
	if (rc != 0) {
		fprintf(stderr, "dagjob: starting the job: %s\n",
			mist_strerror(rc));
		return 1;
	}
	char id[64];
	snprintf(id, sizeof(id), "%s", mist_job_id(j));
	int64_t got = 0;
	void *val = NULL;
	size_t len = 0;
	rc = mist_get(j, (mist_ref){(uint32_t)n, 0}, (int)(timeout_s * 1000),
		      &val, &len);
	if (rc != 0) {
		fprintf(stderr, "dagjob: %s (%s)\n", mist_strerror(rc),
			mist_job_error(j));
		return 1;
	}
	int bad = unpack_int(val, len, &got);
	mist_free(val);
	if (bad) {
		fputs("dagjob: the value is not an int64\n", stderr);
		return 1;
	}
	int64_t want = expected((uint32_t)n, (uint32_t)width);
	struct mist_progress p;
	rc = mist_job_wait(j, 60000);
	if (rc == 0)
		rc = mist_job_progress(j, 10000, &p);
	if (rc != 0) {
		fprintf(stderr, "dagjob: %s\n", mist_strerror(rc));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("job %s: %ld tasks, value %lld (want %lld), %u done, "
	       "%u failed, seconds %.3f\n", id, n, (long long)got,
	       (long long)want, p.done, p.failed, secs);
	int ok = got == want && p.done == (uint32_t)n && p.failed == 0;
	mist_job_close(j, 10000);
	mist_close(c);
	if (!ok)
		fputs("dagjob: WRONG\n", stderr);
	return ok ? 0 : 1;
}
