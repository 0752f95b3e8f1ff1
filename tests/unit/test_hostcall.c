/*
 * test_hostcall.c -- the host API's pieces below the gateway:
 *   - MSG_HOST_CALL's codec (function/hostcall.h): round trips, and every
 *     malformed or out-of-bounds request refused;
 *   - the executor's coroutines and host frames (exec/exec.h), by talking
 *     to a real executor (executor_main in a child, over a socketpair)
 *     running tests/plugins/hostfns.c: the hello carries the flags; three
 *     calls pipelined in one write each send their host request before
 *     any is answered (they wait on their own stacks, not in line);
 *     replies in any order resume the right task with the right answer;
 *     a job's task has no host API (MIST_EPERM, no frame); a reply for a
 *     call that does not wait is a protocol break (exit status 2);
 *   - the pool around real executors: host requests reach the host
 *     callback, pool_host_reply() resumes the task, and a wall-time kill
 *     fails the calls that waited for the host on that executor.
 * Every wait is bounded (poll with WAIT_MS).
 */
#include "exec/exec.h"
#include "function/hostcall.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 30000
#define CALL (UINT64_C(1) << 63)

/* ------------------------------------------------------------ codec */

static const uint8_t caller_map[] = {0x81, 0xa2, 'i', 'p', 0xa9, '1', '2',
				     '7', '.', '0', '.', '0', '.', '1'};

Test(hostcall, a_request_and_a_reply_round_trip)
{
	struct buf b = BUF_INIT;
	const char *path = "/classes/A?where=%7B%7D";
	hostcall_pack(&b, "app1", caller_map, sizeof(caller_map), 1500, true,
		      "PUT", path, (uint32_t)strlen(path),
		      (const uint8_t *)"{\"x\":1}", 7);
	struct hostcall_req q;
	cr_assert_eq(hostcall_unpack(b.data, b.len, &q), 0);
	cr_expect_eq(q.app_len, 4);
	cr_expect_eq(memcmp(q.app, "app1", 4), 0);
	cr_expect_eq(q.caller_len, sizeof(caller_map));
	cr_expect_eq(memcmp(q.caller, caller_map, sizeof(caller_map)), 0);
	cr_expect_eq(q.remaining_ms, 1500);
	cr_expect(q.master);
	cr_expect_str_eq(q.method, "PUT");
	cr_expect_eq(q.path_len, strlen(path));
	cr_expect_eq(memcmp(q.path, path, q.path_len), 0);
	cr_expect_eq(q.body_len, 7);
	buf_destroy(&b);

	/* no body: NULL */
	hostcall_pack(&b, "a", NULL, 0, 1, false, "GET", "/users/me", 9, NULL,
		      0);
	cr_assert_eq(hostcall_unpack(b.data, b.len, &q), 0);
	cr_expect_null(q.body);
	cr_expect(!q.master);
	buf_destroy(&b);

	hostcall_reply_pack(&b, 404, "{\"code\":101}", 12);
	int st;
	const uint8_t *body;
	uint32_t blen;
	cr_assert_eq(hostcall_reply_unpack(b.data, b.len, &st, &body, &blen), 0);
	cr_expect_eq(st, 404);
	cr_expect_eq(blen, 12);
	buf_destroy(&b);
	hostcall_reply_pack(&b, 99, "", 0);
	cr_expect_eq(hostcall_reply_unpack(b.data, b.len, &st, &body, &blen),
		     MIST_EPROTO, "status 99");
	buf_destroy(&b);
	hostcall_reply_pack(&b, 600, "", 0);
	cr_expect_eq(hostcall_reply_unpack(b.data, b.len, &st, &body, &blen),
		     MIST_EPROTO, "status 600");
	buf_destroy(&b);
}

/* Packs a request field by field, each replaceable. */
static void
pack_req(struct buf *b, int nfields, const char *app, bool caller_is_map,
	 uint64_t remaining, const char *method, const char *path,
	 size_t body_len)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, (uint32_t)nfields);
	const int n = nfields;
	if (n > 0)
		mp_pack_str(&pk, app);
	if (n > 1) {
		if (caller_is_map)
			buf_append(b, caller_map, sizeof(caller_map));
		else
			msgpack_pack_array(&pk, 0);
	}
	if (n > 2)
		msgpack_pack_uint64(&pk, remaining);
	if (n > 3)
		msgpack_pack_false(&pk);
	if (n > 4)
		mp_pack_str(&pk, method);
	if (n > 5)
		mp_pack_str(&pk, path);
	if (n > 6) {
		char *body = calloc(1, body_len + 1);
		msgpack_pack_bin_with_body(&pk, body, body_len);
		free(body);
	}
	if (n > 7)
		mp_pack_str(&pk, "a later field");
}

static int
unpack_with(int nfields, const char *app, bool map, uint64_t remaining,
	    const char *method, const char *path, size_t body_len)
{
	struct buf b = BUF_INIT;
	pack_req(&b, nfields, app, map, remaining, method, path, body_len);
	struct hostcall_req q;
	int rc = hostcall_unpack(b.data, b.len, &q);
	buf_destroy(&b);
	return rc;
}

Test(hostcall, malformed_requests_are_refused)
{
	char longapp[80], *longpath = malloc(HOSTCALL_MAX_PATH + 2);
	memset(longapp, 'a', sizeof(longapp) - 1);
	longapp[sizeof(longapp) - 1] = '\0';
	longpath[0] = '/';
	memset(longpath + 1, 'p', HOSTCALL_MAX_PATH);
	longpath[HOSTCALL_MAX_PATH + 1] = '\0';
	cr_expect_eq(unpack_with(7, "app", true, 10, "GET", "/x", 0), 0);
	cr_expect_eq(unpack_with(8, "app", true, 10, "GET", "/x", 0), 0,
		     "later fields are skipped");
	cr_expect_eq(unpack_with(6, "app", true, 10, "GET", "/x", 0),
		     MIST_EPROTO, "six fields");
	cr_expect_eq(unpack_with(7, "", true, 10, "GET", "/x", 0), MIST_EPROTO,
		     "empty app");
	cr_expect_eq(unpack_with(7, longapp, true, 10, "GET", "/x", 0),
		     MIST_EPROTO, "long app");
	cr_expect_eq(unpack_with(7, "app", false, 10, "GET", "/x", 0),
		     MIST_EPROTO, "caller not a map");
	cr_expect_eq(unpack_with(7, "app", true, 0, "GET", "/x", 0),
		     MIST_EPROTO, "no time left");
	cr_expect_eq(unpack_with(7, "app", true, UINT64_C(1) << 32, "GET", "/x",
				 0),
		     MIST_EPROTO, "remaining over u32");
	cr_expect_eq(unpack_with(7, "app", true, 10, "PATCH", "/x", 0),
		     MIST_EPROTO, "PATCH");
	cr_expect_eq(unpack_with(7, "app", true, 10, "get", "/x", 0),
		     MIST_EPROTO, "lower-case method");
	cr_expect_eq(unpack_with(7, "app", true, 10, "GET", "x", 0),
		     MIST_EPROTO, "relative path");
	cr_expect_eq(unpack_with(7, "app", true, 10, "GET", "", 0), MIST_EPROTO,
		     "empty path");
	cr_expect_eq(unpack_with(7, "app", true, 10, "GET", longpath, 0),
		     MIST_EPROTO, "path over the bound");
	longpath[HOSTCALL_MAX_PATH] = '\0';
	cr_expect_eq(unpack_with(7, "app", true, 10, "GET", longpath, 0), 0,
		     "path at the bound");
	cr_expect_eq(unpack_with(7, "app", true, 10, "POST", "/x",
				 HOSTCALL_MAX_BODY),
		     0, "body at the bound");
	cr_expect_eq(unpack_with(7, "app", true, 10, "POST", "/x",
				 HOSTCALL_MAX_BODY + 1),
		     MIST_EPROTO, "body over the bound");
	/* truncated */
	struct buf b = BUF_INIT;
	pack_req(&b, 7, "app", true, 10, "GET", "/x", 3);
	struct hostcall_req q;
	for (size_t n = 0; n < b.len; n++)
		cr_expect_eq(hostcall_unpack(b.data, n, &q), MIST_EPROTO,
			     "cut at %zu", n);
	buf_destroy(&b);
	free(longpath);
}

/* -------------------------------------------------- a real executor */

struct xproc {
	pid_t pid;
	int fd;
	struct buf in;
};

static void
x_start_cpu(struct xproc *x, uint32_t cpu_ms)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		char *plugins[] = {BUILDDIR "/tests/plugins/.libs/hostfns.so"};
		_exit(executor_main(sv[1], plugins, 1, 0, cpu_ms));
	}
	close(sv[1]);
	x->pid = pid;
	x->fd = sv[0];
	x->in = (struct buf)BUF_INIT;
}

static void
x_start(struct xproc *x)
{
	x_start_cpu(x, 10000);
}

/* The next frame from the executor (into x->in, returned at *p), or
 * fails the test after WAIT_MS. */
static size_t
x_read(struct xproc *x, const uint8_t **p)
{
	for (;;) {
		if (x->in.len >= 4) {
			uint32_t n = buf_get_u32be(x->in.data);
			if (x->in.len >= 4 + (size_t)n) {
				*p = x->in.data + 4;
				return n;
			}
		}
		struct pollfd pfd = {x->fd, POLLIN, 0};
		cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1, "no frame from the executor");
		buf_reserve(&x->in, 65536);
		ssize_t r = read(x->fd, x->in.data + x->in.len,
				 x->in.cap - x->in.len);
		cr_assert_gt(r, 0, "the executor closed");
		x->in.len += (size_t)r;
	}
}

static void
x_next(struct xproc *x, size_t n)
{
	buf_consume(&x->in, 4 + n);
}

static void
x_send(struct xproc *x, const struct buf *b)
{
	cr_assert_eq(write(x->fd, b->data, b->len), (ssize_t)b->len);
}

static void
frame_begin(struct buf *b, size_t *at)
{
	*at = b->len;
	buf_reserve(b, 4);
	b->len += 4;
}

static void
frame_end(struct buf *b, size_t at)
{
	buf_put_u32be(b->data + at, (uint32_t)(b->len - at - 4));
}

/* A call's task: args {"cls": cls, "id": id}; with @a path, one
 * declared read's answer [path, status, body] (exec.h: the sixth
 * field). */
static void
task_frame_read(struct buf *b, uint64_t seq, uint32_t fn, const char *cls,
		const char *id, const char *path, int status, const char *body)
{
	size_t at;
	frame_begin(b, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, path ? 6 : 5);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint32(&pk, fn);
	struct buf a = BUF_INIT;
	msgpack_packer apk;
	msgpack_packer_init(&apk, &a, buf_msgpack_write);
	msgpack_pack_map(&apk, 2);
	mp_pack_str(&apk, "cls");
	mp_pack_str(&apk, cls);
	mp_pack_str(&apk, "id");
	mp_pack_str(&apk, id);
	msgpack_pack_bin_with_body(&pk, a.data, a.len);
	buf_destroy(&a);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_uint32(&pk, 1);
	if (path) {
		msgpack_pack_array(&pk, 1);
		msgpack_pack_array(&pk, 3);
		mp_pack_str(&pk, path);
		msgpack_pack_int(&pk, status);
		msgpack_pack_bin_with_body(&pk, body, strlen(body));
	}
	frame_end(b, at);
}

static void
task_frame(struct buf *b, uint64_t seq, uint32_t fn, const char *id)
{
	task_frame_read(b, seq, fn, "C", id, NULL, 0, NULL);
}

static void
reply_frame(struct buf *b, uint64_t seq, uint32_t hid, int status,
	    const char *body)
{
	size_t at;
	frame_begin(b, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint32(&pk, hid);
	msgpack_pack_int(&pk, status);
	msgpack_pack_bin_with_body(&pk, body, strlen(body));
	frame_end(b, at);
}

/* The hello's functions, by index. */
#define XFNS 64
static char xnames[XFNS][64], xreads[XFNS][MIST_READ_MAX];
static uint32_t xflags[XFNS], nxfns;

/* The string at @a c into @a out (@a cap bytes with its NUL). */
static void
read_cstr(struct mp_cur *c, char *out, size_t cap)
{
	const char *s;
	uint32_t l;
	cr_assert_eq(mp_read_str(c, &s, &l), 0);
	cr_assert_lt(l, cap);
	memcpy(out, s, l);
	out[l] = '\0';
}

/* Reads the hello (it must carry the flags and the declared reads) into
 * xnames, xflags and xreads. */
static void
x_hello(struct xproc *x)
{
	const uint8_t *p;
	size_t n = x_read(x, &p);
	struct mp_cur c;
	mp_cur_init(&c, p, n);
	uint32_t len, nn, nf;
	uint64_t zero;
	cr_assert_eq(mp_read_array(&c, &len), 0);
	cr_assert_eq(len, 4, "the hello carries the flags and the reads");
	cr_assert_eq(mp_read_uint(&c, &zero), 0);
	cr_assert_eq(mp_read_array(&c, &nn), 0);
	cr_assert_leq(nn, XFNS);
	for (uint32_t i = 0; i < nn; i++)
		read_cstr(&c, xnames[i], sizeof(xnames[i]));
	cr_assert_eq(mp_read_array(&c, &nf), 0);
	cr_assert_eq(nf, nn);
	for (uint32_t i = 0; i < nf; i++) {
		uint64_t f;
		cr_assert_eq(mp_read_uint(&c, &f), 0);
		xflags[i] = (uint32_t)f;
	}
	cr_assert_eq(mp_read_array(&c, &nf), 0);
	cr_assert_eq(nf, nn);
	for (uint32_t i = 0; i < nf; i++)
		read_cstr(&c, xreads[i], sizeof(xreads[i]));
	nxfns = nn;
	x_next(x, n);
}

static uint32_t
xfn(const char *name)
{
	for (uint32_t i = 0; i < nxfns; i++)
		if (strcmp(xnames[i], name) == 0)
			return i;
	cr_assert_fail("no function %s", name);
	return 0;
}

/* What a frame from the executor is: a host request (kind 2) with its
 * seq and hid, or a result (0/1). */
struct xframe {
	uint64_t seq;
	uint64_t kind;
	uint64_t hid;
	char method[8];
	char path[64];
	const uint8_t *out; /* a success's first output */
	uint32_t out_len;
};

static struct xframe
x_frame(struct xproc *x, uint8_t *copy, size_t cap)
{
	const uint8_t *p;
	size_t n = x_read(x, &p);
	cr_assert_leq(n, cap);
	memcpy(copy, p, n);
	x_next(x, n);
	struct xframe f = {0};
	struct mp_cur c;
	mp_cur_init(&c, copy, n);
	uint32_t len;
	cr_assert_eq(mp_read_array(&c, &len), 0);
	cr_assert_eq(mp_read_uint(&c, &f.seq), 0);
	cr_assert_eq(mp_read_uint(&c, &f.kind), 0);
	if (f.kind == 2) {
		cr_assert_eq(len, 6);
		const char *m, *path;
		uint32_t ml, pl;
		cr_assert_eq(mp_read_uint(&c, &f.hid), 0);
		cr_assert_eq(mp_read_str(&c, &m, &ml), 0);
		cr_assert_lt(ml, sizeof(f.method));
		memcpy(f.method, m, ml);
		cr_assert_eq(mp_read_str(&c, &path, &pl), 0);
		cr_assert_lt(pl, sizeof(f.path));
		memcpy(f.path, path, pl);
	} else {
		cr_assert_eq(len, 4);
		uint64_t us;
		uint32_t nout;
		cr_assert_eq(mp_read_uint(&c, &us), 0);
		cr_assert_eq(f.kind, 0, "the task failed");
		cr_assert_eq(mp_read_array(&c, &nout), 0);
		cr_assert_eq(nout, 1);
		cr_assert_eq(mp_read_bin(&c, &f.out, &f.out_len), 0);
	}
	return f;
}

/* The int under key @a k of the msgpack map @a p. */
static int64_t
map_int(const uint8_t *p, uint32_t n, const char *k)
{
	struct mp_cur c;
	uint32_t m;
	mp_cur_init(&c, p, n);
	cr_assert_eq(mp_read_map(&c, &m), 0);
	for (uint32_t i = 0; i < m; i++) {
		const char *s;
		uint32_t l;
		int64_t v;
		cr_assert_eq(mp_read_str(&c, &s, &l), 0);
		if (mp_str_eq(s, l, k)) {
			cr_assert_eq(mp_read_int(&c, &v), 0);
			return v;
		}
		cr_assert_eq(mp_skip(&c), 0);
	}
	cr_assert_fail("no key %s", k);
	return 0;
}

/* The string under key @a k of the msgpack map @a p, into @a out. */
static void
map_str(const uint8_t *p, uint32_t n, const char *k, char *out, size_t cap)
{
	struct mp_cur c;
	uint32_t m;
	mp_cur_init(&c, p, n);
	cr_assert_eq(mp_read_map(&c, &m), 0);
	for (uint32_t i = 0; i < m; i++) {
		const char *s, *v;
		uint32_t l, vl;
		cr_assert_eq(mp_read_str(&c, &s, &l), 0);
		if (mp_str_eq(s, l, k)) {
			cr_assert_eq(mp_read_str(&c, &v, &vl), 0);
			cr_assert_lt(vl, cap);
			memcpy(out, v, vl);
			out[vl] = '\0';
			return;
		}
		cr_assert_eq(mp_skip(&c), 0);
	}
	cr_assert_fail("no key %s", k);
}

static int
x_stop(struct xproc *x)
{
	close(x->fd);
	int st;
	cr_assert_eq(waitpid(x->pid, &st, 0), x->pid);
	buf_destroy(&x->in);
	return st;
}

Test(hostcall, pipelined_calls_wait_on_their_own_stacks, .timeout = 60)
{
	struct xproc x;
	x_start(&x);
	x_hello(&x);
	uint32_t twice = xfn("twice"), jobdocs = xfn("jobdocs");
	cr_expect_eq(xflags[twice], 0);
	cr_expect_eq(xflags[xfn("mastercount")], MIST_FN_MASTER,
		     "the plugin's flags travel");

	/* three calls in one write */
	struct buf b = BUF_INIT;
	for (uint64_t k = 1; k <= 3; k++) {
		char id[8];
		snprintf(id, sizeof(id), "o%u", (unsigned)k);
		task_frame(&b, CALL | k, twice, id);
	}
	x_send(&x, &b);
	buf_reset(&b);
	/* each asks the host before any is answered: 3 requests, hid 1 */
	uint8_t copy[4096];
	bool seen[4] = {0};
	for (int i = 0; i < 3; i++) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		cr_assert_eq(f.kind, 2, "a host request, not a result");
		cr_assert_eq(f.hid, 1);
		uint64_t k = f.seq & ~CALL;
		cr_assert(k >= 1 && k <= 3 && !seen[k]);
		seen[k] = true;
		char want[32];
		snprintf(want, sizeof(want), "/classes/C/o%u", (unsigned)k);
		cr_expect_str_eq(f.path, want);
	}
	/* answered in reverse order, each its own status, in one write */
	for (uint64_t k = 3; k >= 1; k--)
		reply_frame(&b, CALL | k, 1, 200 + (int)k, "{}");
	x_send(&x, &b);
	buf_reset(&b);
	for (int i = 0; i < 3; i++) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		cr_assert_eq(f.kind, 2);
		cr_assert_eq(f.hid, 2, "each task's second call");
	}
	/* the second answers fail each with a code of its own */
	for (uint64_t k = 1; k <= 3; k++)
		reply_frame(&b, CALL | k, 2, -(int)k, "");
	x_send(&x, &b);
	buf_reset(&b);
	for (int i = 0; i < 3; i++) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		cr_assert_eq(f.kind, 0, "a result");
		uint64_t k = f.seq & ~CALL;
		cr_expect_eq(map_int(f.out, f.out_len, "a"), 200 + (int64_t)k);
		cr_expect_eq(map_int(f.out, f.out_len, "b"), -(int64_t)k);
	}

	/* a job's task (no high bit): no host API, no frame, MIST_EPERM */
	task_frame(&b, 7, jobdocs, "x");
	x_send(&x, &b);
	buf_reset(&b);
	struct xframe f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 0);
	cr_assert_eq(f.seq, 7);
	cr_assert_eq(f.out_len, 1);
	cr_expect_eq((int8_t)f.out[0], MIST_EPERM);

	/* mist_doc_find builds the path, escaping what needs it */
	uint32_t findid = xfn("findid");
	task_frame(&b, CALL | 8, findid, "a b\"c");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 2);
	cr_expect_str_eq(f.path, "/classes/C?where=%7B%22id%22%3A%22a%20b%22c"
				 "%22%7D&limit=1");
	reply_frame(&b, CALL | 8, 1, 200, "{\"results\":[]}");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 0);
	cr_expect_eq(map_int(f.out, f.out_len, "status"), 200);

	/* a reply nobody waits for breaks the protocol */
	reply_frame(&b, CALL | 1, 3, 200, "{}");
	x_send(&x, &b);
	buf_destroy(&b);
	int st = x_stop(&x);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
}

Test(hostcall, the_cpu_budget_is_per_task_across_host_calls, .timeout = 60)
{
	/* slowread sleeps between host calls: sleeping costs no CPU, so
	 * with a 10 s budget many rounds pass; the executor must not die of
	 * SIGPROF while tasks wait (the timer is disarmed between them) */
	struct xproc x;
	x_start(&x);
	x_hello(&x);
	uint32_t slow = xfn("slowread");
	struct buf b = BUF_INIT;
	task_frame(&b, CALL | 1, slow, "a");
	task_frame(&b, CALL | 2, slow, "b");
	x_send(&x, &b);
	buf_reset(&b);
	uint8_t copy[4096];
	int rounds = 0;
	for (int i = 0; i < 40; i++) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		cr_assert_eq(f.kind, 2);
		/* the 20th answer of each ends it: the call gets -6 */
		reply_frame(&b, f.seq, (uint32_t)f.hid, f.hid < 20 ? 200 : -6,
			    "{}");
		x_send(&x, &b);
		buf_reset(&b);
		rounds++;
	}
	for (int i = 0; i < 2; i++) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		cr_assert_eq(f.kind, 0);
		cr_expect_eq(map_int(f.out, f.out_len, "calls"), 19);
		cr_expect_eq(map_int(f.out, f.out_len, "rc"), -6);
	}
	cr_expect_eq(rounds, 40);
	buf_destroy(&b);
	int st = x_stop(&x);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

/* An args map {cls: "C", id: "x", n: @a n} as a task frame. */
static void
burn_frame(struct buf *b, uint64_t seq, uint32_t fn, uint32_t n)
{
	size_t at;
	frame_begin(b, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint32(&pk, fn);
	struct buf a = BUF_INIT;
	msgpack_packer apk;
	msgpack_packer_init(&apk, &a, buf_msgpack_write);
	msgpack_pack_map(&apk, 3);
	mp_pack_str(&apk, "cls");
	mp_pack_str(&apk, "C");
	mp_pack_str(&apk, "id");
	mp_pack_str(&apk, "x");
	mp_pack_str(&apk, "n");
	msgpack_pack_uint32(&apk, n);
	msgpack_pack_bin_with_body(&pk, a.data, a.len);
	buf_destroy(&a);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_uint32(&pk, 1);
	frame_end(b, at);
}

Test(hostcall, the_cpu_budget_is_each_task_s_own, .timeout = 60)
{
	/* 300 ms of CPU per task.  Two tasks interleaved, each burning
	 * 200 ms between two host calls: 400 ms of the process's CPU, but
	 * within each one's budget, so both end.  Then a task that spins
	 * after its host call uses up its own: SIGPROF ends the executor. */
	struct xproc x;
	x_start_cpu(&x, 300);
	x_hello(&x);
	uint32_t burn = xfn("burn"), spin = xfn("spinafter"), twice = xfn("twice");
	struct buf b = BUF_INIT;
	burn_frame(&b, CALL | 3, burn, 200);
	burn_frame(&b, CALL | 4, burn, 200);
	x_send(&x, &b);
	buf_reset(&b);
	uint8_t copy[4096];
	int results = 0;
	while (results < 2) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		if (f.kind == 0) {
			cr_expect_eq(map_int(f.out, f.out_len, "a"), 200);
			cr_expect_eq(map_int(f.out, f.out_len, "b"), 200);
			results++;
			continue;
		}
		reply_frame(&b, f.seq, (uint32_t)f.hid, 200, "{}");
		x_send(&x, &b);
		buf_reset(&b);
	}
	task_frame(&b, CALL | 2, twice, "w");
	task_frame(&b, CALL | 1, spin, "s");
	x_send(&x, &b);
	buf_reset(&b);
	for (int i = 0; i < 2; i++) {
		struct xframe f = x_frame(&x, copy, sizeof(copy));
		cr_assert_eq(f.kind, 2);
	}
	reply_frame(&b, CALL | 1, 1, 200, "{}");
	x_send(&x, &b);
	buf_destroy(&b);
	int st;
	cr_assert_eq(waitpid(x.pid, &st, 0), x.pid);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGPROF,
		  "the hog's budget, not the waiting call's: status %d", st);
	close(x.fd);
	buf_destroy(&x.in);
}

/* ------------------------------------------------ the pool around it */

#define PMAX 256
static struct {
	uint64_t key;
	uint32_t hid;
} preqs[PMAX];
static int npreqs, nanswered;
static int pstatus[8];
static char perr[8][EXEC_ERR_MAX];
static int pfinished;
static bool pready;

static void
p_done(void *ctx, const struct pool_result *rs, uint32_t n)
{
	(void)ctx;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t k = rs[i].key & ~CALL;
		cr_assert(k >= 1 && k < 8);
		pstatus[k] = rs[i].status ? rs[i].status : 1;
		snprintf(perr[k], sizeof(perr[k]), "%s",
			 rs[i].status ? rs[i].err : "");
		pfinished++;
	}
}

static void
p_ready(void *ctx, const char *const *names,
	 const char *const *reads, uint32_t n)
{
	(void)ctx, (void)names, (void)reads, (void)n;
	pready = true;
}

/* The host callback: only records (the pool must not be called here). */
static void
p_host(void *ctx, const struct pool_host_req *rs, uint32_t n)
{
	(void)ctx;
	for (uint32_t i = 0; i < n && npreqs < PMAX; i++) {
		cr_assert_str_eq(rs[i].method, "GET");
		preqs[npreqs].key = rs[i].key;
		preqs[npreqs++].hid = rs[i].hid;
	}
}

static void
submit(struct pool *p, uint64_t k, const char *fn, uint32_t wall_ms)
{
	static const uint8_t args[] = {0x82, 0xa3, 'c', 'l', 's', 0xa1, 'C',
				       0xa2, 'i', 'd', 0xa1, 'x'};
	int idx = pool_fn_index(p, fn, (uint32_t)strlen(fn));
	cr_assert(idx >= 0, "no %s", fn);
	cr_assert_eq(pool_submit(p, CALL | k, (uint32_t)idx, args, sizeof(args),
				 NULL, 0, 1, wall_ms),
		     0);
}

/* A call past its wall time while it waits for the host is not killed:
 * its host call ends with MIST_ETIMEDOUT and it returns.  A call past its
 * wall time while it runs is killed with its executor, and that fails the
 * call that waited for the host on it (it may have written: not run
 * again); the replacement serves host calls. */
Test(hostcall, a_killed_executor_fails_the_calls_that_used_the_host,
     .timeout = 60)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct pool_config cfg;
	pool_config_default(&cfg);
	cfg.exe = getenv("MIST_BIN");
	cr_assert(cfg.exe, "MIST_BIN is set by make check");
	cfg.plugins[cfg.nplugins++] = BUILDDIR "/tests/plugins/.libs/hostfns.so";
	cfg.executors = 1;
	struct pool *p = pool_open(&loop, &cfg, p_done, p_ready, NULL);
	pool_set_host(p, p_host);
	while (!pready)
		uv_run(&loop, UV_RUN_ONCE);
	cr_expect_eq(pool_fn_flags(p, (uint32_t)pool_fn_index(p, "mastercount", 11)),
		     MIST_FN_MASTER);
	/* 4 asks twice with 200 ms and is never answered: each of its
	 * host calls is ended at its wall time, it returns, nothing dies */
	submit(p, 4, "twice", 200);
	while (pfinished < 1)
		uv_run(&loop, UV_RUN_ONCE);
	cr_expect_eq(pstatus[4], 1, "twice ended normally: %s", perr[4]);
	/* 1 asks once (answered), then spins past its 300 ms; 2 asks once
	 * and is never answered */
	submit(p, 1, "spinafter", 300);
	submit(p, 2, "twice", 0);
	while (pfinished < 3) {
		uv_run(&loop, UV_RUN_ONCE);
		for (; nanswered < npreqs; nanswered++)
			if ((preqs[nanswered].key & ~CALL) == 1)
				cr_assert_eq(pool_host_reply(p, preqs[nanswered].key,
							     preqs[nanswered].hid,
							     200, "{}", 2),
					     0);
	}
	cr_expect_eq(pstatus[1], MIST_ETASK);
	cr_expect(strstr(perr[1], "wall-time limit (300 ms)"), "%s", perr[1]);
	cr_expect_eq(pstatus[2], MIST_ETASK);
	cr_expect(strstr(perr[2], "used the host API"), "%s", perr[2]);
	/* a late answer for 2 finds no task */
	cr_expect_eq(pool_host_reply(p, CALL | 2, 1, 200, "{}", 2),
		     MIST_ENOTFOUND);
	/* the replacement executor serves a host call */
	submit(p, 3, "read1", 0);
	while (pfinished < 4) {
		uv_run(&loop, UV_RUN_ONCE);
		for (; nanswered < npreqs; nanswered++)
			if ((preqs[nanswered].key & ~CALL) == 3)
				cr_assert_eq(pool_host_reply(p, preqs[nanswered].key,
							     preqs[nanswered].hid,
							     200, "{\"v\":1}", 7),
					     0);
	}
	cr_expect_eq(pstatus[3], 1, "read1 succeeded: %s", perr[3]);
	pool_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

/* A call sent with a declared read's answer (exec.h, the task's sixth
 * field): its GET of exactly that path is answered from it, with no host
 * request; a GET of another path goes to the host; after the task's
 * first write, the declared path goes to the host too (it reads its own
 * writes). */
Test(hostcall, a_declared_read_is_answered_in_the_executor_until_a_write,
     .timeout = 60)
{
	struct xproc x;
	x_start(&x);
	x_hello(&x);
	uint32_t read1d = xfn("read1d"), bump = xfn("bump");
	cr_expect_str_eq(xreads[read1d], "/classes/Item/{id}",
			 "the declared reads travel in the hello");
	cr_expect_str_eq(xreads[xfn("read1")], "");
	cr_expect_str_eq(xreads[xfn("mastercount")], "");
	struct buf b = BUF_INIT;
	uint8_t copy[4096];
	char body[256];

	/* the declared path: the answer at once, the read's own */
	task_frame_read(&b, CALL | 1, read1d, "Item", "o1", "/classes/Item/o1",
			404, "{\"code\":101,\"error\":\"Object not found.\"}");
	x_send(&x, &b);
	buf_reset(&b);
	struct xframe f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 0, "a result, no host request");
	cr_expect_eq(f.seq, CALL | 1);
	cr_expect_eq(map_int(f.out, f.out_len, "status"), 404);
	map_str(f.out, f.out_len, "body", body, sizeof(body));
	cr_expect_str_eq(body, "{\"code\":101,\"error\":\"Object not found.\"}");

	/* another path: to the host */
	task_frame_read(&b, CALL | 2, read1d, "Other", "o2", "/classes/Item/o2",
			200, "{}");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 2, "a host request");
	cr_expect_str_eq(f.path, "/classes/Other/o2");
	reply_frame(&b, CALL | 2, (uint32_t)f.hid, 200, "{\"x\":1}");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 0);
	map_str(f.out, f.out_len, "body", body, sizeof(body));
	cr_expect_str_eq(body, "{\"x\":1}", "the host's answer");

	/* bump: GET (declared), PUT, GET: the PUT and the second GET go to
	 * the host */
	task_frame_read(&b, CALL | 3, bump, "Item", "o3", "/classes/Item/o3",
			200, "{\"n\":1}");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 2, "the PUT");
	cr_expect_str_eq(f.method, "PUT");
	cr_expect_eq(f.hid, 1, "the declared GET was no host call");
	reply_frame(&b, CALL | 3, (uint32_t)f.hid, 200, "{}");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 2, "the GET after the write");
	cr_expect_str_eq(f.method, "GET");
	cr_expect_str_eq(f.path, "/classes/Item/o3");
	reply_frame(&b, CALL | 3, (uint32_t)f.hid, 200, "{\"n\":2}");
	x_send(&x, &b);
	buf_reset(&b);
	f = x_frame(&x, copy, sizeof(copy));
	cr_assert_eq(f.kind, 0);
	cr_expect_eq(map_int(f.out, f.out_len, "a"), 200);
	map_str(f.out, f.out_len, "body", body, sizeof(body));
	cr_expect_str_eq(body, "{\"n\":2}");
	buf_destroy(&b);
	cr_expect_eq(x_stop(&x), 0);
}
