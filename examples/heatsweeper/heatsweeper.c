/*
 * heatsweeper.c -- the client of paper 003's HeatSweeper, on libmist.
 *
 * Sequential-looking code: one `simulate` task per placement of 1..N heat
 * sources among 25 spots, then `get_best` tasks folding the results FOLD
 * at a time, level by level, until one value remains; only that value is
 * read.  --local computes the same thing in this process, one placement
 * after the other, for comparison.
 *
 *   heatsweeper --gateway IP:PORT --cred FILE [--sources N] [--grid G]
 *               [--steps S] [--fold K] [--local]
 */
#include "heat.h"
#include "mist.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t nsources = 2, grid = 40, steps = 2000, fold = 16;

/* Calls @a fn for every combination of k spots, k = 1..nsources. */
static uint32_t
for_each_placement(void (*fn)(void *, const uint8_t *, uint32_t), void *arg)
{
	uint32_t count = 0;
	for (uint32_t k = 1; k <= nsources; k++) {
		uint8_t idx[HEAT_MAX_SOURCES];
		for (uint32_t i = 0; i < k; i++)
			idx[i] = (uint8_t)i;
		for (;;) {
			fn(arg, idx, k);
			count++;
			int i = (int)k - 1;
			while (i >= 0 && idx[i] == HEAT_SPOTS - k + (uint32_t)i)
				i--;
			if (i < 0)
				break;
			idx[i]++;
			for (uint32_t j = (uint32_t)i + 1; j < k; j++)
				idx[j] = idx[j - 1] + 1;
		}
	}
	return count;
}

static void
print_result(const struct heat_result *r)
{
	printf("best placement of up to %u sources (grid %u, %u steps): spots [",
	       nsources, grid, steps);
	for (uint32_t i = 0; i < r->n; i++)
		printf("%s%u", i ? ", " : "", r->spots[i]);
	printf("], mean temperature %.17g\n", r->score);
}

/* ----------------------------------------------------------- sequential */

struct local {
	struct heat_result best;
	uint32_t n;
	int err;
};

static void
local_one(void *arg, const uint8_t *spots, uint32_t k)
{
	struct local *l = arg;
	struct heat_result r;
	if (heat_simulate(grid, steps, spots, k, &r) != 0) {
		l->err = 1;
		return;
	}
	if (l->n++ == 0 || heat_better(&r, &l->best))
		l->best = r;
}

/* ---------------------------------------------------------- distributed */

struct dist {
	mist_job *job;
	mist_ref *refs;
	uint32_t n, cap;
	int err;
};

static void
dist_one(void *arg, const uint8_t *spots, uint32_t k)
{
	struct dist *d = arg;
	uint8_t args[4 + 5 + 5 + HEAT_MAX_SOURCES];
	size_t n = 0;
	args[n++] = 0x93;
	args[n++] = 0xce;
	for (int i = 3; i >= 0; i--)
		args[n++] = (uint8_t)(grid >> (8 * i));
	args[n++] = 0xce;
	for (int i = 3; i >= 0; i--)
		args[n++] = (uint8_t)(steps >> (8 * i));
	args[n++] = (uint8_t)(0x90 | k);
	for (uint32_t i = 0; i < k; i++)
		args[n++] = spots[i];
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 512;
		d->refs = realloc(d->refs, d->cap * sizeof(*d->refs));
	}
	int rc = mist_task(d->job, "simulate", args, n, NULL, 0, 1,
			   &d->refs[d->n++]);
	if (rc != 0 && d->err == 0)
		d->err = rc;
}

static void
progress(void *arg, const struct mist_progress *p)
{
	(void)arg;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r%u/%u tasks done, %u running  ", p->done,
			p->tasks, p->running);
}

static int
run_distributed(const char *gateway, const char *cred)
{
	mist_client *c;
	int rc = mist_connect(gateway, cred, 10000, &c);
	if (rc != 0) {
		fprintf(stderr, "heatsweeper: cannot connect to %s: %s\n",
			gateway, mist_strerror(rc));
		return 1;
	}
	struct mist_policy pol = {.name = "heatsweeper", .objective = "time"};
	struct dist d = {0};
	rc = mist_job_create(c, &pol, 10000, &d.job);
	if (rc != 0) {
		fprintf(stderr, "heatsweeper: cannot create the job: %s\n",
			mist_strerror(rc));
		mist_close(c);
		return 1;
	}
	fprintf(stderr, "job %s\n", mist_job_id(d.job));
	for_each_placement(dist_one, &d);
	/* fold: get_best over groups of `fold`, until one value is left */
	uint32_t level = d.n;
	while (rc == 0 && d.err == 0 && level > 1) {
		uint32_t next = 0;
		for (uint32_t i = 0; i < level; i += fold) {
			uint32_t k = level - i < fold ? level - i : fold;
			mist_ref out;
			rc = mist_task(d.job, "get_best", "\x90", 1, &d.refs[i],
				       k, 1, &out);
			/* we never read the partial results ourselves */
			mist_release(d.job, &d.refs[i], k);
			d.refs[next++] = out;
		}
		level = next;
	}
	if (rc == 0)
		rc = d.err;
	void *val = NULL;
	size_t len = 0;
	if (rc == 0) {
		mist_job_on_progress(d.job, progress, NULL, 250);
		rc = mist_get(d.job, d.refs[0], 600000, &val, &len);
		if (isatty(STDERR_FILENO))
			fputc('\n', stderr);
	}
	struct heat_result best;
	if (rc == 0 && heat_result_unpack(val, len, &best) != 0)
		rc = MIST_EPROTO;
	if (rc == 0)
		print_result(&best);
	else
		fprintf(stderr, "heatsweeper: %s%s%s\n", mist_strerror(rc),
			mist_job_error(d.job)[0] ? ": " : "",
			mist_job_error(d.job));
	mist_free(val);
	mist_job_close(d.job, 10000);
	mist_close(c);
	free(d.refs);
	return rc == 0 ? 0 : 1;
}

static int
read_cred(const char *arg, char *out, size_t cap)
{
	if (strncmp(arg, "mist1:", 6) == 0) {
		snprintf(out, cap, "%s", arg);
		return 0;
	}
	FILE *f = fopen(arg, "r");
	if (f == NULL)
		return -1;
	int ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return ok ? 0 : -1;
}

static const char usage[] =
	"usage: heatsweeper --gateway IP:PORT --cred FILE|mist1:... [options]\n"
	"       heatsweeper --local [options]\n"
	"\n"
	"Finds the placement of 1..N heat sources among 25 spots that makes a\n"
	"plate warmest (paper 003, section 5), as mist tasks or sequentially.\n"
	"\n"
	"  --sources N   up to N sources (default 2: 325 simulations)\n"
	"  --grid G      plate of G x G cells (default 40)\n"
	"  --steps S     Jacobi iterations at most (default 2000)\n"
	"  --fold K      get_best folds K results per task (default 16)\n"
	"  --local       compute here, sequentially\n";

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"gateway", required_argument, 0, 'g'},
		{"cred", required_argument, 0, 'c'},
		{"sources", required_argument, 0, 'n'},
		{"grid", required_argument, 0, 'G'},
		{"steps", required_argument, 0, 's'},
		{"fold", required_argument, 0, 'f'},
		{"local", no_argument, 0, 'l'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const char *gateway = NULL, *credarg = NULL;
	int local = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'g': gateway = optarg; break;
		case 'c': credarg = optarg; break;
		case 'n': nsources = (uint32_t)atoi(optarg); break;
		case 'G': grid = (uint32_t)atoi(optarg); break;
		case 's': steps = (uint32_t)atoi(optarg); break;
		case 'f': fold = (uint32_t)atoi(optarg); break;
		case 'l': local = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (nsources < 1 || nsources > 4 || grid < 5 || grid > 4096 ||
	    fold < 2 || fold > 4096 || (!local && (!gateway || !credarg))) {
		fputs(usage, stderr);
		return 2;
	}
	if (local) {
		struct local l = {0};
		for_each_placement(local_one, &l);
		if (l.err) {
			fputs("heatsweeper: simulation failed\n", stderr);
			return 1;
		}
		print_result(&l.best);
		return 0;
	}
	char cred[128];
	if (read_cred(credarg, cred, sizeof(cred)) != 0) {
		fprintf(stderr, "heatsweeper: cannot read the credential %s\n",
			credarg);
		return 2;
	}
	return run_distributed(gateway, cred);
}
