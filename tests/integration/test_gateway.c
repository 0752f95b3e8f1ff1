/*
 * test_gateway.c -- the gateway's door on a real agent (a process on
 * loopback, port 0), driven through libmist, `mist creds` and raw sockets:
 *   - revoking a credential closes every one of its connections -- 80 of
 *     them, more than any fixed batch -- while another credential's go on,
 *     and the revoked one opens no new connection;
 *   - a role change (a put of the credential, the message members spread
 *     credentials with) holds from that connection's next request, up and
 *     down;
 *   - half-open connections past the pending-handshake bound are refused
 *     at once without a word, an established client goes on, every
 *     pending one is cut by the handshake timeout, and the slots then
 *     serve new clients;
 *   - the first frame's version decides the rekey rule: a version-1
 *     client's stream is served past 2^20 frames without rekeying, a
 *     version-2 one with, and an unknown version is refused;
 *   - a client that floods requests and never reads its socket is no
 *     longer read once its unsent replies pass the gateway's bound: the
 *     agent's memory stays bounded and another client is served.
 */
#include "client/conn.h"
#include "gateway/native_proto.h"
#include "mist.h"
#include "net/noise.h"
#include "net/stream.h"
#include "net/wire.h"
#include "proc.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/hex.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What the agent's defaults are (gateway_config_default): the test
 * relies on them, it does not configure them. */
#define T_MAX_HANDSHAKES 256
#define T_HANDSHAKE_TIMEOUT_MS 10000
/* Connections of one credential revoked at once: more than 64, the batch
 * the gateway once closed per revocation. */
#define T_REVOKED_CONNS 80
/* Half-open connections past the bound. */
#define T_EXTRA 16

static char *tmp;
static char keyfile[512], dir[512], logpath[512], addr[64], gw[64];
static pid_t agent;

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	tmp = tu_tmpdir();
	snprintf(keyfile, sizeof(keyfile), "%s/cluster.key", tmp);
	cr_assert_eq(proc_keygen(keyfile, NULL), 0);
	snprintf(dir, sizeof(dir), "%s/g", tmp);
	snprintf(logpath, sizeof(logpath), "%s/g.log", tmp);
	char *av[] = {(char *)proc_mist(), "agent", "--data", dir, "--key",
		      keyfile, "--bind", "127.0.0.1:0", "--name", "g", NULL};
	agent = proc_start(av, logpath);
	char path[600];
	snprintf(path, sizeof(path), "%s/agent.addr", dir);
	cr_assert_eq(proc_wait_file(path, addr, sizeof(addr), 30000), 0,
		     "the agent did not start (see %s)", logpath);
	snprintf(path, sizeof(path), "%s/gateway.addr", dir);
	cr_assert_eq(proc_wait_file(path, gw, sizeof(gw), 30000), 0);
}

static void
teardown(void)
{
	if (agent > 0)
		proc_stop(agent, SIGKILL, 5000);
	tu_rmrf(tmp);
	free(tmp);
}

/* SIGTERM: the agent closes every connection and exits 0 (under ASan:
 * with nothing leaked). */
static void
agent_stop(void)
{
	cr_assert_eq(proc_stop(agent, SIGTERM, 20000), 0,
		     "the agent exits 0 (see %s)", logpath);
	agent = 0;
}

TestSuite(gateway, .init = setup, .fini = teardown, .timeout = 120);

/* `mist creds create` -> the credential's text (in @a out). */
static void
cred_create(const char *name, const char *role, char *out, size_t cap)
{
	char *argv[] = {(char *)proc_mist(), "creds", "create", "--name",
			(char *)name, "--role", (char *)role, "--agent", addr,
			"--key", keyfile, NULL};
	char *text = NULL;
	cr_assert_eq(proc_run(argv, &text, 10000), 0);
	snprintf(out, cap, "%s", text);
	out[strcspn(out, "\n")] = '\0';
	free(text);
	cr_assert_eq(strlen(out), CRED_TEXT_LEN, "%s", out);
}

static uint64_t
cred_id(const char *cred)
{
	uint64_t id;
	uint8_t secret[32];
	cr_assert_eq(cred_parse(cred, &id, secret), 0);
	return id;
}

static void
cred_revoke(const char *cred)
{
	char id[17];
	snprintf(id, sizeof(id), "%016" PRIx64, cred_id(cred));
	char *argv[] = {(char *)proc_mist(), "creds", "revoke", "--id", id,
			"--agent", addr, "--key", keyfile, NULL};
	cr_assert_eq(proc_run(argv, NULL, 10000), 0);
}

/*
 * Gives credential @a cred the role @a role by a put, as a member
 * spreading credentials does (the CLI cannot change a role).
 */
static void
cred_put_role(const char *cred, const char *name, const char *role)
{
	uint64_t id;
	uint8_t secret[32], key[32];
	cr_assert_eq(cred_parse(cred, &id, secret), 0);
	char hex[128] = "";
	FILE *f = fopen(keyfile, "r");
	cr_assert(fgets(hex, sizeof(hex), f) != NULL);
	fclose(f);
	hex[strcspn(hex, "\n")] = '\0';
	cr_assert_eq(hex_decode(key, 32, hex), 0);
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, "put", 3);
	msgpack_pack_str_with_body(&pk, "cred", 4);
	msgpack_pack_map(&pk, 6);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, id);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, name, strlen(name));
	msgpack_pack_str_with_body(&pk, "role", 4);
	msgpack_pack_str_with_body(&pk, role, strlen(role));
	msgpack_pack_str_with_body(&pk, "revoked", 7);
	msgpack_pack_false(&pk);
	msgpack_pack_str_with_body(&pk, "created", 7);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_str_with_body(&pk, "secret", 6);
	msgpack_pack_bin_with_body(&pk, secret, 32);
	struct conn c;
	cr_assert_eq(conn_open(&c, addr, key, 10000), 0);
	struct msg *reply = NULL;
	cr_assert_eq(conn_request(&c, ACTOR_GATEWAY, MSG_CREDS, b.data,
				  (uint32_t)b.len, &reply), 0);
	cr_assert_eq(reply->status, 0);
	msg_delete(reply);
	conn_close(&c);
	buf_destroy(&b);
	sodium_memzero(secret, sizeof(secret));
}

/* mist_job_attach's status; a handle it gives is let go at once. */
static int
attach(mist_client *c, const char *jid)
{
	mist_job *j = NULL;
	int rc = mist_job_attach(c, jid, 10000, &j);
	if (j != NULL)
		mist_job_detach(j);
	return rc;
}

static mist_client *
client(const char *cred)
{
	mist_client *c;
	cr_assert_eq(mist_connect(gw, cred, 10000, &c), 0);
	return c;
}

Test(gateway, revoking_a_credential_closes_every_one_of_its_connections)
{
	char cr[128], other[128], jid[64];
	cred_create("many", "submit", cr, sizeof(cr));
	cred_create("bystander", "submit", other, sizeof(other));
	mist_client *owner = client(cr), *by = client(other);
	mist_job *j;
	cr_assert_eq(mist_job_create(owner, NULL, 10000, &j), 0);
	snprintf(jid, sizeof(jid), "%s", mist_job_id(j));
	mist_job *bj;
	cr_assert_eq(mist_job_create(by, NULL, 10000, &bj), 0);
	/* T_REVOKED_CONNS connections of one credential, each working */
	mist_client *cs[T_REVOKED_CONNS];
	for (int i = 0; i < T_REVOKED_CONNS; i++) {
		cs[i] = client(cr);
		cr_assert_eq(attach(cs[i], jid), 0, "connection %d works", i);
	}
	cred_revoke(cr);
	/*
	 * Every one is closed by the revocation itself: the next request
	 * finds the connection gone (ECLOSED), not merely refused (EAUTH,
	 * what a request on a connection left open would get).
	 */
	for (int i = 0; i < T_REVOKED_CONNS; i++)
		cr_assert_eq(attach(cs[i], jid), MIST_ECLOSED,
			     "connection %d of the revoked credential", i);
	cr_assert_eq(attach(owner, jid), MIST_ECLOSED);
	/* the revoked credential opens nothing new */
	mist_client *again = client(cr);
	cr_assert_eq(attach(again, jid), MIST_EAUTH);
	/* another credential's connection is untouched */
	struct mist_progress p;
	cr_assert_eq(mist_job_progress(bj, 10000, &p), 0);
	for (int i = 0; i < T_REVOKED_CONNS; i++)
		mist_close(cs[i]);
	mist_close(again);
	mist_close(owner);
	mist_close(by);
	agent_stop();
}

Test(gateway, a_role_change_holds_from_the_next_request)
{
	char a[128], b[128], jid[64];
	cred_create("alice", "submit", a, sizeof(a));
	cred_create("bob", "submit", b, sizeof(b));
	mist_client *ca = client(a), *cb = client(b);
	mist_job *j;
	cr_assert_eq(mist_job_create(ca, NULL, 10000, &j), 0);
	snprintf(jid, sizeof(jid), "%s", mist_job_id(j));
	/* alice's job is hers: bob (submit) may not touch it */
	cr_assert_eq(attach(cb, jid), MIST_EPERM);
	/* bob becomes admin: his very next request on the same connection
	 * may (admins reach every job) */
	cred_put_role(b, "bob", "admin");
	cr_assert_eq(attach(cb, jid), 0, "the new role holds at once");
	/* and back: the next request is refused again */
	cred_put_role(b, "bob", "submit");
	cr_assert_eq(attach(cb, jid), MIST_EPERM, "so does the old one");
	/* the connection itself was never in question */
	mist_job *own;
	cr_assert_eq(mist_job_create(cb, NULL, 10000, &own), 0);
	mist_close(ca);
	mist_close(cb);
	agent_stop();
}

/* A TCP connection to the gateway that never says a word. */
static int
silent_connect(void)
{
	char ip[64];
	int port;
	cr_assert_eq(sscanf(gw, "%63[^:]:%d", ip, &port), 2);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, ip, &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "%s", strerror(errno));
	return fd;
}

/* True once the gateway has closed @a fd (without sending a byte). */
static bool
closed_silently(int fd)
{
	uint8_t b[64];
	ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	cr_assert(r <= 0, "the gateway said nothing to a silent peer");
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

/*
 * Waits (bounded, on poll) until each of @a fds is closed by the gateway;
 * returns how many are.
 */
static int
wait_closed(const int *fds, int n, int timeout_ms)
{
	bool *done = calloc((size_t)n, sizeof(*done));
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	int closed = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int k = 0;
		for (int i = 0; i < n; i++)
			if (!done[i])
				p[k++] = (struct pollfd){fds[i], POLLIN, 0};
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 +
					  (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (k == 0 || left <= 0)
			break;
		if (poll(p, (nfds_t)k, (int)left) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (!done[i] && closed_silently(fds[i])) {
				done[i] = true;
				closed++;
			}
		}
	}
	free(p);
	free(done);
	return closed;
}

/* True if none of @a fds has been closed by the gateway yet. */
static bool
all_open(const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct pollfd p = {fds[i], POLLIN, 0};
		if (poll(&p, 1, 0) != 0)
			return false;
	}
	return true;
}

static uint64_t
mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

Test(gateway, pending_handshakes_are_bounded_and_each_one_times_out)
{
	char cr[128], jid[64];
	cred_create("e", "submit", cr, sizeof(cr));
	mist_client *e = client(cr);
	mist_job *j;
	cr_assert_eq(mist_job_create(e, NULL, 10000, &j), 0);
	snprintf(jid, sizeof(jid), "%s", mist_job_id(j));
	/* every pending slot taken by a silent peer, then some more */
	uint64_t t0 = mono_ms();
	int held[T_MAX_HANDSHAKES], extra[T_EXTRA];
	for (int i = 0; i < T_MAX_HANDSHAKES; i++)
		held[i] = silent_connect();
	for (int i = 0; i < T_EXTRA; i++)
		extra[i] = silent_connect();
	/* the ones past the bound are refused at once, without a word */
	cr_assert_eq(wait_closed(extra, T_EXTRA, T_HANDSHAKE_TIMEOUT_MS / 2),
		     T_EXTRA, "every connection past the bound is refused");
	/* (the held ones are still waiting, unless the timeout has come --
	 * only then can the test not tell) */
	if (mono_ms() - t0 < T_HANDSHAKE_TIMEOUT_MS)
		cr_assert(all_open(held, T_MAX_HANDSHAKES),
			  "the bound refused only what was past it");
	/* the established client is unharmed */
	cr_assert_eq(attach(e, jid), 0);
	/* the handshake timeout cuts every held one: no cap per tick */
	cr_assert_eq(wait_closed(held, T_MAX_HANDSHAKES,
				 3 * T_HANDSHAKE_TIMEOUT_MS),
		     T_MAX_HANDSHAKES, "every pending handshake timed out");
	for (int i = 0; i < T_MAX_HANDSHAKES; i++)
		close(held[i]);
	for (int i = 0; i < T_EXTRA; i++)
		close(extra[i]);
	/* the slots are free again: a new client gets in */
	mist_client *n = client(cr);
	cr_assert_eq(attach(n, jid), 0);
	cr_assert_eq(attach(e, jid), 0);
	mist_close(n);
	mist_close(e);
	agent_stop();
}

/* ------------------------------------------------ a raw native client */

/* The plaintext bound the raw client keys its stream with (the
 * gateway's default, WIRE_DEFAULT_MAX_FRAME). */
#define T_RAW_MAX_FRAME WIRE_DEFAULT_MAX_FRAME
/* Empty frames sealed per write when pushing a stream past a rekey. */
#define T_FILL_BATCH 4096

struct raw {
	int fd;
	struct stream st;
	uint64_t corr;
};

static void
raw_write(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		cr_assert_gt(w, 0, "write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Reads into @a r's stream; false at the end of the stream. */
static bool
raw_read(struct raw *r)
{
	size_t cap;
	uint8_t *p = stream_in_space(&r->st, NULL, &cap);
	ssize_t n = read(r->fd, p, cap);
	if (n <= 0)
		return false;
	stream_in_commit(&r->st, (size_t)n);
	return true;
}

/*
 * Connects with credential @a cred, sending first-frame version
 * @a version; the raw client's own stream rekeys every @a rekey frames.
 * Returns 0 once the handshake is done, or MIST_ECLOSED if the gateway
 * hung up instead.
 */
static int
raw_open(struct raw *r, const char *cred, uint8_t version, uint64_t rekey)
{
	uint64_t id;
	uint8_t secret[32];
	cr_assert_eq(cred_parse(cred, &id, secret), 0);
	r->fd = silent_connect();
	r->corr = 0;
	stream_init(&r->st, T_RAW_MAX_FRAME, rekey);
	uint8_t prologue[GATEWAY_PROLOGUE_LEN];
	gateway_prologue(prologue, id);
	struct noise_hs hs;
	cr_assert_eq(noise_hs_init(&hs, GATEWAY_PROTOCOL, true, prologue,
				   sizeof(prologue), NULL, NULL, secret), 0);
	struct buf pl = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &pl, buf_msgpack_write);
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	msgpack_pack_uint64(&pk, (uint64_t)t.tv_sec * 1000 +
					 (uint64_t)t.tv_nsec / 1000000);
	uint8_t f[GATEWAY_HELLO_MAX];
	f[0] = version;
	cred_id_put(f + 1, id);
	size_t m1;
	cr_assert_eq(noise_hs_write(&hs, pl.data, pl.len,
				    f + GATEWAY_HELLO_HDR, NOISE_MAX_MSG, &m1),
		     0);
	buf_destroy(&pl);
	struct buf out = BUF_INIT;
	stream_put_raw(&out, f, GATEWAY_HELLO_HDR + m1);
	raw_write(r->fd, out.data, out.len);
	buf_destroy(&out);
	const uint8_t *m2;
	size_t len;
	int rc;
	while ((rc = stream_in_frame(&r->st, GATEWAY_REPLY_MAX, &m2, &len)) ==
	       0) {
		if (!raw_read(r)) {
			noise_hs_wipe(&hs);
			return MIST_ECLOSED;
		}
	}
	cr_assert_eq(rc, 1);
	uint8_t none[1];
	size_t nlen;
	cr_assert_eq(noise_hs_read(&hs, m2, len, none, sizeof(none), &nlen), 0);
	stream_split(&r->st, &hs);
	noise_hs_wipe(&hs);
	stream_in_keep(&r->st);
	return 0;
}

static void
raw_close(struct raw *r)
{
	close(r->fd);
	stream_destroy(&r->st);
}

/* Seals @a n empty frames (the gateway drops them): counts towards the
 * rekey rule and nothing else. */
static void
raw_fill(struct raw *r, uint64_t n)
{
	struct buf out = BUF_INIT;
	while (n > 0) {
		out.len = 0;
		for (int i = 0; i < T_FILL_BATCH && n > 0; i++, n--)
			cr_assert_geq(stream_seal(&r->st, NULL, 0, &out), 0);
		raw_write(r->fd, out.data, out.len);
	}
	buf_destroy(&out);
}

/* Sends @a count requests of @a type (PING: refused by the gateway itself
 * with EPERM) in one frame. */
static void
raw_requests(struct raw *r, uint32_t type, int count)
{
	struct buf pt = BUF_INIT, out = BUF_INIT;
	for (int i = 0; i < count; i++) {
		struct msg *m = msg_new(type, NULL, 0);
		m->flags = MSG_F_REQUEST;
		m->corr = ++r->corr;
		m->to.id = ACTOR_GATEWAY;
		wire_envelope_encode(&pt, m, 0);
		msg_delete(m);
	}
	cr_assert_geq(stream_seal(&r->st, pt.data, pt.len, &out), 0);
	raw_write(r->fd, out.data, out.len);
	buf_destroy(&pt);
	buf_destroy(&out);
}

static int
raw_on_reply(void *ctx, struct msg *m)
{
	int *status = ctx;
	if (m->flags & MSG_F_REPLY)
		*status = m->status;
	msg_delete(m);
	return 0;
}

/* The status of the next reply, or MIST_ECLOSED if the gateway hung up
 * (or sealed under another key: the frame does not open). */
static int
raw_reply(struct raw *r)
{
	static uint8_t pt[T_RAW_MAX_FRAME];
	for (;;) {
		size_t n;
		int rc = stream_in_open(&r->st, pt, &n);
		if (rc < 0)
			return MIST_ECLOSED;
		if (rc == 0) {
			if (!raw_read(r))
				return MIST_ECLOSED;
			continue;
		}
		int status = 1;
		cr_assert_eq(wire_payload_decode(pt, n, T_RAW_MAX_FRAME, 0,
						 raw_on_reply, &status), 0);
		if (status != 1)
			return status;
	}
}

/*
 * Pushes a stream past the gateway's rekey point and asks once more:
 * the reply's status, or MIST_ECLOSED when the two ends disagreed.
 */
static int
raw_past_rekey(const char *cred, uint8_t version, uint64_t rekey)
{
	struct raw r;
	cr_assert_eq(raw_open(&r, cred, version, rekey), 0);
	raw_requests(&r, MSG_PING, 1);
	cr_assert_eq(raw_reply(&r), MIST_EPERM, "served before the rekey");
	raw_fill(&r, STREAM_REKEY_FRAMES);
	raw_requests(&r, MSG_PING, 1);
	int rc = raw_reply(&r);
	raw_close(&r);
	return rc;
}

Test(gateway, the_first_frame_version_decides_the_rekey_rule)
{
	char cr[128];
	cred_create("v", "submit", cr, sizeof(cr));
	/* version 2 rekeys every STREAM_REKEY_FRAMES, as libmist does */
	cr_assert_eq(raw_past_rekey(cr, GATEWAY_VERSION, STREAM_REKEY_FRAMES),
		     MIST_EPERM, "a version-2 stream rekeys");
	/* version 1 never does: served past the point ... */
	cr_assert_eq(raw_past_rekey(cr, GATEWAY_VERSION_NOREKEY,
				    STREAM_REKEY_NEVER),
		     MIST_EPERM, "a version-1 stream does not rekey");
	/* ... and a version-1 client that rekeyed would be cut there */
	cr_assert_eq(raw_past_rekey(cr, GATEWAY_VERSION_NOREKEY,
				    STREAM_REKEY_FRAMES),
		     MIST_ECLOSED, "the gateway kept version 1's key");
	/* an unknown version is refused at connect */
	struct raw r;
	cr_assert_eq(raw_open(&r, cr, GATEWAY_VERSION + 1, STREAM_REKEY_FRAMES),
		     MIST_ECLOSED, "an unknown version is refused");
	raw_close(&r);
	/* libmist (version 2) is served */
	mist_client *c = client(cr);
	mist_job *j;
	cr_assert_eq(mist_job_create(c, NULL, 10000, &j), 0);
	mist_job_detach(j);
	mist_close(c);
	agent_stop();
}

/* Requests per frame of the flood (PING, refused with EPERM by the
 * gateway itself: a reply per request, nothing forwarded). */
#define T_FLOOD_BATCH 20000
/* Request bytes the flood sends at most: their replies, if all were
 * kept, would be several times the memory bound asserted below. */
#define T_FLOOD_BYTES (512u << 20)
/* How long the flood waits for its socket to take more before deciding
 * the gateway stopped reading it (not a timing assertion: the memory
 * assertion decides, whether it stopped for this or for the volume). */
#define T_FLOOD_STALL_MS 3000
/* Growth of the agent's RSS allowed during the flood: the gateway's
 * max_backlog (4 MiB) and what its mailbox and socket buffers hold, with
 * a wide margin -- far under what T_FLOOD_BYTES of replies would take. */
#if defined(__SANITIZE_ADDRESS__)
/* ASan holds freed blocks back (its default quarantine: 256 MiB) and maps
 * shadow memory for them (an eighth more, 32 MiB), so the agent's RSS
 * grows by that much under any steady allocation; 64 MiB of margin over
 * both (a run measured 375 MiB), still under the 512 MiB flood's bytes
 * alone and far under their replies */
#define T_FLOOD_RSS_KIB ((96u + 256u + 64u) << 10)
#else
#define T_FLOOD_RSS_KIB (96u << 10)
#endif

Test(gateway, a_client_that_never_reads_is_no_longer_read)
{
	char cr[128];
	cred_create("f", "submit", cr, sizeof(cr));
	long rss0 = proc_rss_kib(agent);
	cr_assert_gt(rss0, 0);
	struct raw r;
	cr_assert_eq(raw_open(&r, cr, GATEWAY_VERSION, STREAM_REKEY_FRAMES),
		     0);
	int fl = fcntl(r.fd, F_GETFL);
	cr_assert_eq(fcntl(r.fd, F_SETFL, fl | O_NONBLOCK), 0);
	/* one frame of requests, sealed anew each time (its nonce) */
	struct buf pt = BUF_INIT, out = BUF_INIT;
	size_t sent = 0;
	bool stalled = false;
	while (sent < T_FLOOD_BYTES && !stalled) {
		pt.len = out.len = 0;
		for (int i = 0; i < T_FLOOD_BATCH; i++) {
			struct msg *m = msg_new(MSG_PING, NULL, 0);
			m->flags = MSG_F_REQUEST;
			m->corr = ++r.corr;
			wire_envelope_encode(&pt, m, 0);
			msg_delete(m);
		}
		cr_assert_geq(stream_seal(&r.st, pt.data, pt.len, &out), 0);
		size_t off = 0;
		while (off < out.len) {
			ssize_t w = write(r.fd, out.data + off, out.len - off);
			if (w > 0) {
				off += (size_t)w;
				continue;
			}
			cr_assert(w < 0 && errno == EAGAIN, "write: %s",
				  strerror(errno));
			struct pollfd p = {r.fd, POLLOUT, 0};
			if (poll(&p, 1, T_FLOOD_STALL_MS) == 0) {
				stalled = true;
				break;
			}
		}
		sent += off;
	}
	buf_destroy(&pt);
	buf_destroy(&out);
	long rss1 = proc_rss_kib(agent);
	cr_assert_lt(rss1 - rss0, (long)T_FLOOD_RSS_KIB,
		     "the agent grew by %ld KiB for a client that never reads "
		     "(%zu request bytes sent)", rss1 - rss0, sent);
	cr_assert(stalled, "the gateway read all %zu bytes of requests", sent);
	/* another client is served meanwhile */
	mist_client *c = client(cr);
	mist_job *j;
	cr_assert_eq(mist_job_create(c, NULL, 10000, &j), 0);
	mist_job_detach(j);
	mist_close(c);
	raw_close(&r);
	agent_stop();
}
