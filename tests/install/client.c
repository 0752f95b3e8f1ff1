/*
 * client.c -- a tiny libmist program, built by test_install.sh against the
 * installed tree only (<mist.h> and -lmist from `pkg-config libmist`), the
 * way a user's program is.
 *
 *   client offline VERSION         the library answers without an agent
 *   client job GATEWAY CREDFILE    one echo task through a real agent
 *
 * Exit 0 when every check holds; otherwise each failed check is printed on
 * stderr and the exit code is 1.
 */
#include <mist.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a blocking call may take: an agent on loopback answers within
 * milliseconds; this is generous for a loaded machine under ASan. */
#define CLIENT_TIMEOUT_MS 30000
/* A credential's text: "mist1:" + 16 hex + ":" + 64 hex, and a newline. */
#define CLIENT_CRED_MAX 128

static int failures;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "client: FAILED: %s\n", what);
		failures++;
	}
}

/* A TCP port on 127.0.0.1 that refuses connections: bound, so nobody else
 * takes it while we hold it, but not listening.  -1 on error. */
static int
closed_port(int *fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(*fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	return ntohs(sa.sin_port);
}

static int
offline(const char *version)
{
	check(strcmp(mist_version(), version) == 0, "mist_version()");
	check(strcmp(mist_strerror(MIST_EAUTH), "authentication failed") == 0,
	      "mist_strerror(MIST_EAUTH)");
	check(strcmp(mist_err_name(MIST_EUNREACHABLE), "EUNREACHABLE") == 0,
	      "mist_err_name(MIST_EUNREACHABLE)");
	check(strcmp(mist_err_name(0), "OK") == 0, "mist_err_name(0)");

	/* a well-formed credential (its secret does not matter here) */
	const char *cred = "mist1:0123456789abcdef:"
			   "00112233445566778899aabbccddeeff"
			   "00112233445566778899aabbccddeeff";
	mist_client *c = (mist_client *)1;
	check(mist_connect("127.0.0.1:1", "not a credential", 1000, &c) ==
		      MIST_EINVAL && c == NULL,
	      "a malformed credential is MIST_EINVAL");
	int fd, port = closed_port(&fd);
	check(port > 0, "a bound, not listening port on 127.0.0.1");
	if (port > 0) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		c = (mist_client *)1;
		int rc = mist_connect(addr, cred, CLIENT_TIMEOUT_MS, &c);
		if (rc != MIST_EUNREACHABLE)
			fprintf(stderr, "client: mist_connect(%s): %s\n", addr,
				mist_err_name(rc));
		check(rc == MIST_EUNREACHABLE && c == NULL,
		      "a closed port is MIST_EUNREACHABLE");
	}
	if (fd >= 0)
		close(fd);
	return failures ? 1 : 0;
}

static int
job(const char *gateway, const char *credfile)
{
	char cred[CLIENT_CRED_MAX] = "";
	FILE *f = fopen(credfile, "r");
	if (f == NULL || fgets(cred, sizeof(cred), f) == NULL) {
		fprintf(stderr, "client: cannot read %s\n", credfile);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	cred[strcspn(cred, "\n")] = '\0';

	mist_client *c;
	int rc = mist_connect(gateway, cred, CLIENT_TIMEOUT_MS, &c);
	if (rc != 0) {
		fprintf(stderr, "client: mist_connect(%s): %s\n", gateway,
			mist_strerror(rc));
		return 1;
	}
	mist_job *j;
	rc = mist_job_create(c, &(struct mist_policy){.objective = "time"},
			     CLIENT_TIMEOUT_MS, &j);
	if (rc != 0) {
		fprintf(stderr, "client: mist_job_create: %s\n",
			mist_strerror(rc));
		mist_close(c);
		return 1;
	}
	/* tests/plugins/testfns.c's echo: its output is its arguments */
	static const char args[] = "\xa5hello"; /* msgpack "hello" */
	mist_ref r;
	rc = mist_task(j, "echo", args, sizeof(args) - 1, NULL, 0, 1, &r);
	check(rc == 0, "mist_task(echo)");
	void *v = NULL;
	size_t n = 0;
	if (rc == 0) {
		rc = mist_get(j, r, CLIENT_TIMEOUT_MS, &v, &n);
		if (rc != 0)
			fprintf(stderr, "client: mist_get: %s (%s)\n",
				mist_strerror(rc), mist_job_error(j));
		check(rc == 0 && n == sizeof(args) - 1 &&
			      memcmp(v, args, n) == 0,
		      "mist_get returns the echoed value");
	}
	mist_free(v);
	check(mist_job_close(j, CLIENT_TIMEOUT_MS) == 0, "mist_job_close");
	mist_close(c);
	return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "offline") == 0)
		return offline(argv[2]);
	if (argc == 4 && strcmp(argv[1], "job") == 0)
		return job(argv[2], argv[3]);
	fprintf(stderr, "usage: client offline VERSION | "
			"client job GATEWAY CREDFILE\n");
	return 2;
}
