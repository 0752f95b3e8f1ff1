/*
 * emptytasks.c -- throughput of empty tasks through libmist (the
 * benchmark in contrib/bench/tasks.sh): N independent `noop` tasks, then
 * wait for all of them.  Prints "tasks N seconds S rate R".
 *
 *   emptytasks --gateway IP:PORT --cred FILE|mist1:... [--count N]
 */
#include "mist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int
main(int argc, char **argv)
{
	const char *gw = NULL, *credarg = NULL;
	long n = 100000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--gateway") == 0)
			gw = argv[i + 1];
		else if (strcmp(argv[i], "--cred") == 0)
			credarg = argv[i + 1];
		else if (strcmp(argv[i], "--count") == 0)
			n = atol(argv[i + 1]);
	}
	if (!gw || !credarg || n < 1) {
		fputs("usage: emptytasks --gateway IP:PORT --cred FILE [--count N]\n",
		      stderr);
		return 2;
	}
	char cred[128] = "";
	if (strncmp(credarg, "mist1:", 6) == 0) {
		snprintf(cred, sizeof(cred), "%s", credarg);
	} else {
		FILE *f = fopen(credarg, "r");
		if (!f || !fgets(cred, sizeof(cred), f))
			return 2;
		fclose(f);
		cred[strcspn(cred, "\n")] = '\0';
	}
	mist_client *c;
	mist_job *j;
	int rc = mist_connect(gw, cred, 10000, &c);
	if (rc == 0)
		rc = mist_job_create(c, &(struct mist_policy){.name = "empty"},
				     10000, &j);
	if (rc != 0) {
		fprintf(stderr, "emptytasks: %s\n", mist_strerror(rc));
		return 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n && rc == 0; i++)
		rc = mist_task(j, "noop", "\xc0", 1, NULL, 0, 1, NULL);
	if (rc == 0)
		rc = mist_job_wait(j, 600000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc != 0) {
		fprintf(stderr, "emptytasks: %s %s\n", mist_strerror(rc),
			mist_job_error(j));
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("tasks %ld seconds %.3f rate %.0f; client CPU per task %.2f us\n",
	    n, s, (double)n / s, cpu * 1e6 / (double)n);
	mist_job_close(j, 10000);
	mist_close(c);
	return 0;
}
