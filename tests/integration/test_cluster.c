/*
 * test_cluster.c -- three real agent processes on loopback (port 0, each
 * on its own 127.0.0.x), driven through the mist command line as an
 * operator would: keygen, agent, members, ping, SIGTERM, restart.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "json.h"
#include "net/addr.h"
#include "proc.h"
#include "testutil.h"

struct agent {
	char name[8];
	char dir[512];
	char addr[64];
	char log[512];
	pid_t pid;
};

static char *tmp;
static char keyfile[512];
static struct agent ag[3];

static char *
mist(void)
{
	return (char *)proc_mist();
}

static void
agent_start(struct agent *a, const char *ip, const char *join1,
	    const char *join2)
{
	char bind[64];
	snprintf(bind, sizeof(bind), "%s:0", ip);
	snprintf(a->dir, sizeof(a->dir), "%s/%s", tmp, a->name);
	snprintf(a->log, sizeof(a->log), "%s/%s.log", tmp, a->name);
	char path[600];
	snprintf(path, sizeof(path), "%s/agent.addr", a->dir);
	unlink(path);
	char *argv[20] = {mist(), "agent", "--data", a->dir, "--key", keyfile,
			  "--bind", bind, "--name", a->name, "--tier", "fog"};
	int n = 12;
	if (join1) {
		argv[n++] = "--join";
		argv[n++] = (char *)join1;
	}
	if (join2) {
		argv[n++] = "--join";
		argv[n++] = (char *)join2;
	}
	argv[n] = NULL;
	a->pid = proc_start(argv, a->log);
	cr_assert_eq(proc_wait_file(path, a->addr, sizeof(a->addr), 10000), 0,
		     "agent %s did not start (see %s)", a->name, a->log);
}

/* `mist members --format json` parsed; NULL if the command failed. */
static struct json *
members(const struct agent *a)
{
	char *out;
	char *argv[] = {mist(), "members", "--agent", (char *)a->addr, "--key",
			keyfile, "--format", "json", NULL};
	int rc = proc_run(argv, &out, 10000);
	struct json *j = rc == 0 ? json_parse(out) : NULL;
	free(out);
	return j;
}

static int
alive_count(const struct agent *a)
{
	struct json *j = members(a);
	if (j == NULL || j->type != JSON_ARR) {
		json_free(j);
		return -1;
	}
	int n = 0;
	for (size_t i = 0; i < j->n; i++) {
		const struct json *st = json_get(j->kids[i], "status");
		const struct json *id = json_get(j->kids[i], "id");
		const struct json *ad = json_get(j->kids[i], "addr");
		cr_assert(id && strlen(id->str) == 16);
		cr_assert(ad && strchr(ad->str, ':'));
		if (st && strcmp(st->str, "alive") == 0)
			n++;
	}
	json_free(j);
	return n;
}

static void
wait_alive(const struct agent *a, int want)
{
	int got = -1;
	for (int i = 0; i < 200 && (got = alive_count(a)) != want; i++)
		usleep(50000);
	cr_assert_eq(got, want, "%s sees %d alive, wants %d", a->name, got, want);
}

/* SIGTERM every agent: each must exit 0 (under ASan: with no leak). */
static void
stop_all(void)
{
	for (int i = 0; i < 3; i++) {
		if (ag[i].pid <= 0)
			continue;
		cr_assert_eq(proc_stop(ag[i].pid, SIGTERM, 10000), 0,
			     "%s exits 0 on SIGTERM (see %s)", ag[i].name,
			     ag[i].log);
		ag[i].pid = 0;
	}
}

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	tmp = tu_tmpdir();
	snprintf(keyfile, sizeof(keyfile), "%s/cluster.key", tmp);
	cr_assert_eq(proc_keygen(keyfile, NULL), 0,
		     "keygen prints one line of 64 hex digits");
	memset(ag, 0, sizeof(ag));
	strcpy(ag[0].name, "a");
	strcpy(ag[1].name, "b");
	strcpy(ag[2].name, "c");
}

static struct agent big[16];

static void
teardown(void)
{
	for (int i = 0; i < 3; i++)
		if (ag[i].pid > 0)
			proc_stop(ag[i].pid, SIGKILL, 5000);
	for (int i = 0; i < 16; i++)
		if (big[i].pid > 0)
			proc_stop(big[i].pid, SIGKILL, 5000);
	tu_rmrf(tmp);
	free(tmp);
}

static void
three_agents(void)
{
	agent_start(&ag[0], "127.0.0.1", NULL, NULL);
	agent_start(&ag[1], "127.0.0.2", ag[0].addr, NULL);
	agent_start(&ag[2], "127.0.0.3", ag[0].addr, ag[1].addr);
	for (int i = 0; i < 3; i++)
		wait_alive(&ag[i], 3);
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 120);

Test(cluster, three_agents_link_and_exchange_messages_both_ways)
{
	three_agents();
	/* every ordered pair: the agent sends echo requests over its link and
	 * checks each reply's content; the tool exits 1 on any mismatch */
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			if (i == j)
				continue;
			char *out;
			char *argv[] = {mist(), "ping", "--agent", ag[i].addr,
					"--key", keyfile, "--count", "50",
					"--size", "100", "--format", "json",
					ag[j].name, NULL};
			cr_assert_eq(proc_run(argv, &out, 20000), 0,
				     "ping %s -> %s", ag[i].name, ag[j].name);
			struct json *r = json_parse(out);
			cr_assert_not_null(r, "json: %s", out);
			cr_assert_eq(json_get(r, "count")->num, 50);
			cr_assert_eq(json_get(r, "errors")->num, 0);
			json_free(r);
			free(out);
		}
	}
	/* a one-way flood arrives whole (the sink count is checked by syncs) */
	char *argv[] = {mist(), "ping", "--agent", ag[2].addr, "--key", keyfile,
			"--flood", "--count", "20000", ag[0].name, NULL};
	cr_assert_eq(proc_run(argv, NULL, 30000), 0);
	stop_all(); /* clean shutdown, exit 0 */
}

Test(cluster, identity_persists_and_the_key_file_is_private)
{
	agent_start(&ag[0], "127.0.0.1", NULL, NULL);
	struct json *j = members(&ag[0]);
	cr_assert_not_null(j);
	char id[32];
	snprintf(id, sizeof(id), "%s", json_get(j->kids[0], "id")->str);
	json_free(j);
	char path[600];
	snprintf(path, sizeof(path), "%s/node.key", ag[0].dir);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(proc_stop(ag[0].pid, SIGINT, 10000), 0);
	agent_start(&ag[0], "127.0.0.4", NULL, NULL);
	j = members(&ag[0]);
	cr_assert_str_eq(json_get(j->kids[0], "id")->str, id,
			 "same key, same node, whatever the address");
	json_free(j);
	stop_all();
}

Test(cluster, a_wrong_key_is_refused_with_a_clear_error)
{
	agent_start(&ag[0], "127.0.0.1", NULL, NULL);
	char other[600];
	snprintf(other, sizeof(other), "%s/other.key", tmp);
	FILE *f = fopen(other, "w");
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	char *argv[] = {mist(), "members", "--agent", ag[0].addr, "--key",
			other, NULL};
	cr_assert_eq(proc_run(argv, NULL, 10000), 1);
	/* and it still serves the right key */
	cr_assert_eq(alive_count(&ag[0]), 1);
	stop_all();
}

static void
hostile_round(const char *addr, int i)
{
	struct sockaddr_storage sa;
	addr_parse(addr, &sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(struct sockaddr_in)) != 0) {
		close(fd);
		return;
	}
	uint8_t junk[2048];
	randombytes_buf(junk, sizeof(junk));
	switch (i % 3) {
	case 0: /* a length prefix far beyond the limit */
		send(fd, "\x7f\xff\xff\xff", 4, MSG_NOSIGNAL);
		break;
	case 1: /* a plausible handshake frame full of noise */
		junk[0] = junk[1] = 0;
		junk[2] = 0;
		junk[3] = 200;
		send(fd, junk, 204, MSG_NOSIGNAL);
		break;
	default: /* noise */
		send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
	}
	char b[64];
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_leq(recv(fd, b, sizeof(b), 0), 0, "the agent hangs up");
	close(fd);
}

Test(cluster, hostile_bytes_cost_no_memory_and_no_service)
{
	three_agents();
	for (int i = 0; i < 60; i++)
		hostile_round(ag[0].addr, i); /* warm up allocator pools */
	long before = proc_rss_kib(ag[0].pid);
	for (int i = 0; i < 900; i++)
		hostile_round(ag[0].addr, i);
	long after = proc_rss_kib(ag[0].pid);
	cr_log_info("rss before %ld KiB, after 900 hostile connections %ld KiB",
		    before, after);
	cr_assert_gt(before, 0);
#ifndef __SANITIZE_ADDRESS__
	/* (under ASan the quarantine keeps freed memory resident; there the
	 * leak check at exit below is the stronger test) */
	cr_assert_lt(after - before, 2048, "rss grew by %ld KiB", after - before);
#endif
	cr_assert_eq(alive_count(&ag[0]), 3, "still serving its members");
	char *argv[] = {mist(), "ping", "--agent", ag[1].addr, "--key", keyfile,
			"--count", "20", ag[0].name, NULL};
	cr_assert_eq(proc_run(argv, NULL, 20000), 0);
	stop_all();
}

Test(cluster, every_command_has_help_version_and_usage_errors)
{
	const char *cmds[] = {"keygen", "agent", "members", "ping", "keys",
			      "creds", "status", "job"};
	for (int i = 0; i < 8; i++) {
		char *out;
		char *h[] = {mist(), (char *)cmds[i], "--help", NULL};
		cr_assert_eq(proc_run(h, &out, 5000), 0);
		cr_assert(strstr(out, "usage: mist") != NULL, "%s --help", cmds[i]);
		free(out);
		char *v[] = {mist(), (char *)cmds[i], "--version", NULL};
		cr_assert_eq(proc_run(v, &out, 5000), 0);
		cr_assert(strncmp(out, "mist ", 5) == 0);
		free(out);
		char *bad[] = {mist(), (char *)cmds[i], "--no-such-flag", NULL};
		cr_assert_eq(proc_run(bad, NULL, 5000), 2, "%s usage error", cmds[i]);
	}
	char *none[] = {mist(), NULL};
	cr_assert_eq(proc_run(none, NULL, 5000), 2);
	char *unknown[] = {mist(), "frobnicate", NULL};
	cr_assert_eq(proc_run(unknown, NULL, 5000), 2);
	char *toomany[] = {mist(), "ping", "--agent", "127.0.0.1:1", "--key",
			   keyfile, "--count", "2000000", "x", NULL};
	cr_assert_eq(proc_run(toomany, NULL, 5000), 2,
		     "round trips are bounded (8 bytes each on the agent)");
	char *noport[] = {mist(), "members", "--agent", "127.0.0.1:1", "--key",
			  keyfile, NULL};
	cr_assert_eq(proc_run(noport, NULL, 10000), 1, "runtime error: exit 1");
}

/* ------------------------------------------------------------ gossip */

#define BIG 16

static int
count_status(const struct agent *a, const char *name, const char *want)
{
	struct json *j = members(a);
	if (j == NULL)
		return -1;
	int n = 0;
	for (size_t i = 0; i < j->n; i++) {
		const struct json *st = json_get(j->kids[i], "status");
		const struct json *nm = json_get(j->kids[i], "name");
		if (st && strcmp(st->str, want) == 0 &&
		    (name == NULL || strcmp(nm->str, name) == 0))
			n++;
	}
	json_free(j);
	return n;
}

static bool
wait_status(const struct agent *a, const char *name, const char *want,
	    int count, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (count_status(a, name, want) == count)
			return true;
		usleep(100000);
	}
	return false;
}

static void
big_start(int i, const char *ip, const char *seed)
{
	snprintf(big[i].name, sizeof(big[i].name), "g%02d", i);
	agent_start(&big[i], ip, seed, NULL);
}

Test(cluster, sixteen_agents_gossip_detect_a_kill_and_welcome_it_back,
     .timeout = 240)
{
	char ip[32];
	memset(big, 0, sizeof(big));
	big_start(0, "127.0.1.1", NULL);
	for (int i = 1; i < BIG; i++) {
		snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
		big_start(i, ip, big[0].addr); /* everyone through one seed */
	}
	for (int i = 0; i < BIG; i++) {
		if (wait_status(&big[i], NULL, "alive", BIG, 30))
			continue;
		/* the folder goes at teardown: what the agent said, first */
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "# %s: ", big[i].name);
		proc_log_tail(big[i].log, prefix, 30);
		cr_assert_fail("%s sees %d alive", big[i].name,
			       count_status(&big[i], NULL, "alive"));
	}
	/* SIGKILL one: no goodbye, gossip must notice */
	int victim = 5;
	struct json *j = members(&big[victim]);
	char id[32];
	snprintf(id, sizeof(id), "%s", json_get(j->kids[0], "id")->str);
	json_free(j);
	uint64_t t0 = uv_hrtime();
	cr_assert_eq(proc_stop(big[victim].pid, SIGKILL, 5000), 128 + SIGKILL);
	big[victim].pid = 0;
	for (int i = 0; i < BIG; i++) {
		if (i == victim)
			continue;
		cr_assert(wait_status(&big[i], big[victim].name, "dead", 1, 60),
			  "%s does not see %s dead", big[i].name,
			  big[victim].name);
	}
	cr_log_info("all %d others saw the kill as dead after %.2f s (with "
		    "the CLI polling)", BIG - 1, (uv_hrtime() - t0) / 1e9);
	/* it comes back from another address with the same data directory */
	agent_start(&big[victim], "127.0.2.77", big[0].addr, NULL);
	for (int i = 0; i < BIG; i++) {
		cr_assert(wait_status(&big[i], big[victim].name, "alive", 1, 60),
			  "%s does not see %s alive again", big[i].name,
			  big[victim].name);
		struct json *m = members(&big[i]);
		for (size_t k = 0; k < m->n; k++) {
			if (strcmp(json_get(m->kids[k], "name")->str,
				   big[victim].name) != 0)
				continue;
			cr_assert_str_eq(json_get(m->kids[k], "id")->str, id,
					 "same node id");
			cr_assert(strncmp(json_get(m->kids[k], "addr")->str,
					  "127.0.2.77:", 11) == 0,
				  "%s has the new address", big[i].name);
		}
		json_free(m);
	}
	for (int i = 0; i < BIG; i++) {
		if (big[i].pid > 0)
			cr_assert_eq(proc_stop(big[i].pid, SIGTERM, 10000), 0);
		big[i].pid = 0;
	}
}

static int
keys_op(const char *agent, const char *keyf, const char *op, const char *key)
{
	char *argv[] = {mist(), "keys", (char *)op, (char *)key, "--agent",
			(char *)agent, "--key", (char *)keyf, NULL};
	if (key == NULL) {
		argv[3] = "--agent";
		argv[4] = (char *)agent;
		argv[5] = "--key";
		argv[6] = (char *)keyf;
		argv[7] = NULL;
	}
	char *out;
	int rc = proc_run(argv, &out, 20000);
	free(out);
	return rc;
}

Test(cluster, keys_rotate_on_a_running_cluster)
{
	three_agents();
	char newfile[600], newkey[80];
	snprintf(newfile, sizeof(newfile), "%s/new.key", tmp);
	cr_assert_eq(proc_keygen(newfile, newkey), 0);
	char oldkey[80];
	FILE *f = fopen(keyfile, "r");
	cr_assert_not_null(fgets(oldkey, sizeof(oldkey), f));
	fclose(f);
	oldkey[64] = '\0';
	cr_assert_eq(keys_op(ag[0].addr, keyfile, "install", newkey), 0);
	cr_assert_eq(keys_op(ag[1].addr, keyfile, "use", newkey), 0);
	cr_assert_eq(keys_op(ag[2].addr, newfile, "remove", oldkey), 0);
	cr_assert_eq(keys_op(ag[0].addr, newfile, "list", NULL), 0);
	/* the old key no longer opens anything; the cluster stays whole */
	char *argv[] = {mist(), "members", "--agent", ag[0].addr, "--key",
			keyfile, NULL};
	cr_assert_eq(proc_run(argv, NULL, 10000), 1);
	strcpy(keyfile, newfile);
	/* Several gossip rounds under the new key only: the 3 s of polling
	 * span three probe periods (1 s each), and every member must
	 * stay alive in every view at every poll -- a key mismatch would
	 * fail the probes and show as a suspect within one period. */
	for (int poll = 0; poll < 30; poll++) {
		for (int i = 0; i < 3; i++)
			cr_assert_eq(alive_count(&ag[i]), 3,
				     "%s lost a member under the new key",
				     ag[i].name);
		usleep(100000);
	}
	/* and the keyring survives a restart */
	cr_assert_eq(proc_stop(ag[1].pid, SIGTERM, 10000), 0);
	agent_start(&ag[1], "127.0.0.2", ag[0].addr, NULL);
	wait_alive(&ag[1], 3);
	stop_all();
}
