/*
 * executor.c -- the executor process: loads plugins, runs tasks in order.
 *
 * Blocking and single-threaded on purpose: it reads whatever the agent has
 * sent, runs every complete task in the buffer, and writes all their
 * replies in one write before it blocks again.  A pipelined batch of
 * tasks therefore costs one read and one write.
 *
 * Limits: RLIMIT_AS once at start; for each task ITIMER_PROF is armed with
 * the CPU budget (SIGPROF's default action ends the process: the pool sees
 * the signal and fails that task).  Frames from the agent are bounded like
 * any input, although the agent is trusted.
 */
#include "config.h"
#include "exec/exec.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/mem.h"

#include <dlfcn.h>
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

/* AddressSanitizer reserves terabytes of address space for its shadow:
 * under it RLIMIT_AS would stop the executor itself, so sanitized builds
 * (tests only) do not limit memory. */
#if defined(__SANITIZE_ADDRESS__)
#define EXEC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EXEC_SANITIZED 1
#endif
#endif
#ifndef EXEC_SANITIZED
#define EXEC_SANITIZED 0
#endif

/* Longest a finished task's reply waits for the rest of its batch. */
#define EXEC_FLUSH_US 10000

struct xfn {
	char name[EXEC_NAME_MAX];
	mist_fn fn;
};

struct xcall {
	struct mist_call call;
	struct mist_blob *outs;
	uint8_t **owned;
	char err[EXEC_ERR_MAX];
	bool failed;
};

static int
xcall_output(struct mist_call *c, uint32_t index, const void *data, size_t len)
{
	struct xcall *x = c->impl;
	if (index >= c->noutputs || len > EXEC_MAX_FRAME)
		return -1;
	free(x->owned[index]);
	x->owned[index] = xmalloc(len ? len : 1);
	if (len)
		memcpy(x->owned[index], data, len);
	x->outs[index].data = x->owned[index];
	x->outs[index].len = len;
	return 0;
}

static void
xcall_fail(struct mist_call *c, const char *message)
{
	struct xcall *x = c->impl;
	x->failed = true;
	snprintf(x->err, sizeof(x->err), "%s", message ? message : "failed");
}

static const struct mist_call_ops xcall_ops = {xcall_output, xcall_fail};

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
frame_begin(struct buf *out, size_t *at)
{
	*at = out->len;
	buf_reserve(out, 4);
	out->len += 4;
}

static void
frame_end(struct buf *out, size_t at)
{
	buf_put_u32be(out->data + at, (uint32_t)(out->len - at - 4));
}

static void
arm_cpu(uint32_t ms)
{
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_PROF, &it, NULL);
}

/* Runs one task frame; appends its reply.  -1 on a malformed frame. */
static int
run_one(const uint8_t *p, size_t n, const struct xfn *fns, uint32_t nfns,
	uint32_t cpu_ms, struct buf *out)
{
	struct mp_cur c;
	mp_cur_init(&c, p, n);
	uint32_t len, nin;
	uint64_t seq, fn, nout;
	const uint8_t *args;
	uint32_t alen;
	if (mp_check(p, n, MP_MAX_DEPTH, &(size_t){0}) != 0 ||
	    mp_read_array(&c, &len) != 0 || len != 5 ||
	    mp_read_uint(&c, &seq) != 0 || mp_read_uint(&c, &fn) != 0 ||
	    mp_read_bin(&c, &args, &alen) != 0 ||
	    mp_read_array(&c, &nin) != 0 || nin > mp_cur_left(&c))
		return -1;
	struct mist_blob *in = xcalloc(nin + 1, sizeof(*in));
	for (uint32_t i = 0; i < nin; i++) {
		uint32_t l;
		if (mp_read_bin(&c, &in[i].data, &l) != 0) {
			free(in);
			return -1;
		}
		in[i].len = l;
	}
	if (mp_read_uint(&c, &nout) != 0 || nout > EXEC_MAX_OUTPUTS ||
	    fn >= nfns) {
		free(in);
		return -1;
	}
	struct xcall x = {0};
	x.outs = xcalloc(nout + 1, sizeof(*x.outs));
	x.owned = xcalloc(nout + 1, sizeof(*x.owned));
	x.call = (struct mist_call){fns[fn].name, {args, alen}, in, nin,
				    (uint32_t)nout, &xcall_ops, &x};
	uint64_t t0 = clock_mono_us();
	if (cpu_ms)
		arm_cpu(cpu_ms);
	int rc = fns[fn].fn(&x.call);
	if (cpu_ms)
		arm_cpu(0);
	uint64_t dt = clock_mono_us() - t0;
	if (rc != 0 && !x.failed)
		xcall_fail(&x.call, "the function returned an error");
	if (!x.failed)
		for (uint32_t i = 0; i < nout; i++)
			if (x.owned[i] == NULL) {
				snprintf(x.err, sizeof(x.err),
					 "the function did not set output %u",
					 i);
				x.failed = true;
				break;
			}
	size_t at;
	frame_begin(out, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_uint32(&pk, x.failed ? 1 : 0);
	msgpack_pack_uint64(&pk, dt);
	if (x.failed) {
		mp_pack_str(&pk, x.err);
	} else {
		msgpack_pack_array(&pk, (uint32_t)nout);
		for (uint32_t i = 0; i < nout; i++)
			msgpack_pack_bin_with_body(&pk, x.outs[i].data,
						   x.outs[i].len);
	}
	frame_end(out, at);
	for (uint32_t i = 0; i < nout; i++)
		free(x.owned[i]);
	free(x.owned);
	free(x.outs);
	free(in);
	return 0;
}

int
executor_main(int fd, char *const *plugins, int nplugins,
	      uint64_t memory_bytes, uint32_t cpu_ms)
{
	struct xfn *fns = xcalloc(EXEC_MAX_FUNCTIONS, sizeof(*fns));
	uint32_t nfns = 0;
	for (int i = 0; i < nplugins; i++) {
		void *h = dlopen(plugins[i], RTLD_NOW | RTLD_LOCAL);
		if (h == NULL) {
			fprintf(stderr, "mist executor: cannot load %s: %s\n",
				plugins[i], dlerror());
			return 1;
		}
		const struct mist_plugin *(*entry)(void);
		*(void **)&entry = dlsym(h, MIST_PLUGIN_SYMBOL);
		const struct mist_plugin *pl = entry ? entry() : NULL;
		if (pl == NULL || pl->abi != MIST_PLUGIN_ABI) {
			fprintf(stderr, "mist executor: %s: no %s with ABI %d\n",
				plugins[i], MIST_PLUGIN_SYMBOL, MIST_PLUGIN_ABI);
			return 1;
		}
		for (uint32_t j = 0; j < pl->nfunctions; j++) {
			const char *name = pl->functions[j].name;
			if (name == NULL || strlen(name) >= EXEC_NAME_MAX ||
			    pl->functions[j].fn == NULL ||
			    nfns == EXEC_MAX_FUNCTIONS) {
				fprintf(stderr, "mist executor: %s: bad function "
					"entry %u\n", plugins[i], j);
				return 1;
			}
			snprintf(fns[nfns].name, EXEC_NAME_MAX, "%s", name);
			fns[nfns++].fn = pl->functions[j].fn;
		}
	}
	if (memory_bytes && !EXEC_SANITIZED) {
		struct rlimit rl = {memory_bytes, memory_bytes};
		setrlimit(RLIMIT_AS, &rl);
	}
	struct buf out = BUF_INIT, in = BUF_INIT;
	size_t at;
	frame_begin(&out, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &out, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_array(&pk, nfns);
	for (uint32_t i = 0; i < nfns; i++)
		mp_pack_str(&pk, fns[i].name);
	frame_end(&out, at);
	int status = 0;
	uint64_t flushed;
	for (;;) {
		if (out.len && write_all(fd, out.data, out.len) != 0)
			break;
		buf_reset(&out);
		flushed = clock_mono_us();
		buf_reserve(&in, 65536);
		ssize_t r = read(fd, in.data + in.len, in.cap - in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		in.len += (size_t)r;
		size_t off = 0;
		while (in.len - off >= 4) {
			uint32_t n = buf_get_u32be(in.data + off);
			if (n > EXEC_MAX_FRAME) {
				status = 2;
				goto done;
			}
			if (in.len - off - 4 < n) {
				buf_reserve(&in, n + 4);
				break;
			}
			if (run_one(in.data + off + 4, n, fns, nfns, cpu_ms,
				    &out) != 0) {
				fprintf(stderr, "mist executor: bad task frame\n");
				status = 2;
				goto done;
			}
			off += 4 + n;
			/* batch replies, but never hold one back for long: the
			 * pool times the head of the queue from its last reply */
			if (clock_mono_us() - flushed > EXEC_FLUSH_US) {
				if (write_all(fd, out.data, out.len) != 0)
					goto done;
				buf_reset(&out);
				flushed = clock_mono_us();
			}
		}
		buf_consume(&in, off);
	}
done:
	buf_destroy(&in);
	buf_destroy(&out);
	free(fns);
	return status;
}
