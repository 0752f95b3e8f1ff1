#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *
proc_mist(void)
{
	const char *b = getenv("MIST_BIN");
	return b ? b : BUILDDIR "/src/cmd/mist";
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t
proc_start(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log ? log : "/dev/null",
			      O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int
wait_exit(pid_t pid, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int st;
	while (now_ms() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

int
proc_run(char *const argv[], char **out, int timeout_ms)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		close(p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	long end = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pf = {p[0], POLLIN, 0};
		long left = end - now_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		if (n + 1024 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(p[0], buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	buf[n] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	long left = end - now_ms();
	return wait_exit(pid, left > 0 ? (int)left : 1);
}

int
proc_stop(pid_t pid, int sig, int timeout_ms)
{
	kill(pid, sig);
	return wait_exit(pid, timeout_ms);
}

int
proc_wait_file(const char *path, char *out, size_t len, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	while (now_ms() < end) {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			char *ok = fgets(out, (int)len, f);
			fclose(f);
			if (ok != NULL) {
				out[strcspn(out, "\n")] = '\0';
				return 0;
			}
		}
		usleep(10000);
	}
	return -1;
}

long
proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

void
proc_log_tail(const char *path, const char *prefix, int lines)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s(no log at %s)\n", prefix, path);
		return;
	}
	/* the last lines: a ring of offsets of line starts, one pass */
	enum { RING = 64 };
	long start[RING];
	int n = 0, c, prev = '\n';
	long at = 0;
	if (lines > RING)
		lines = RING;
	while ((c = fgetc(f)) != EOF) {
		if (prev == '\n')
			start[n++ % RING] = at;
		prev = c;
		at++;
	}
	int first = n > lines ? n - lines : 0;
	char line[512];
	if (n > 0 && fseek(f, start[first % RING], SEEK_SET) == 0)
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "%s%s%s", prefix, line,
				strchr(line, '\n') ? "" : "\n");
	fclose(f);
}

int
proc_keygen(const char *path, char key[65])
{
	char *argv[] = {(char *)proc_mist(), "keygen", NULL};
	char *out = NULL;
	int rc = proc_run(argv, &out, 5000);
	if (rc != 0 || out == NULL || strlen(out) != 65 || out[64] != '\n') {
		free(out);
		return -1;
	}
	FILE *f = fopen(path, "w");
	rc = f != NULL && fputs(out, f) >= 0 ? 0 : -1;
	if (f != NULL && fclose(f) != 0)
		rc = -1;
	if (key != NULL)
		snprintf(key, 65, "%.64s", out);
	free(out);
	return rc;
}
