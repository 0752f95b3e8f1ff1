/*
 * executor.c -- the executor process: loads plugins, runs tasks, each on a
 * coroutine of its own (exec.h has the model and the frames).
 *
 * Single-threaded on purpose.  It reads whatever the agent has sent,
 * starts every complete task in the buffer on its own stack and runs the
 * ready ones until each ends or makes a host call (which writes a request
 * frame into the out buffer and yields).  When no task is ready it writes
 * every frame gathered (results and host requests) in one write, and
 * blocks in one read, which brings new tasks and host replies together;
 * a reply makes its task ready again.  So 32 pipelined tasks doing one
 * host call each cost one write and one read for the 32 requests, not 32
 * round trips.
 *
 * Coroutines: each on an mmap'd stack of EXEC_STACK_SIZE bytes under a
 * PROT_NONE guard page (an overflow is a SIGSEGV, a crash the pool
 * reports, never a silent corruption of the neighbour's stack).  Stacks
 * are cached for reuse (EXEC_STACK_CACHE).  On x86-64 a switch is
 * ctx_switch below: it saves the callee-saved registers, the SSE and x87
 * control words and the stack pointer, and loads the other's -- no
 * system call.  glibc's swapcontext also saves and restores the signal
 * mask, one rt_sigprocmask per switch, which nothing here changes; it
 * stays the fallback on other machines.  Under AddressSanitizer the
 * switches are announced to it (__sanitizer_start_switch_fiber), so it
 * knows which stack is live.
 *
 * Limits: RLIMIT_AS once at start.  CPU: each task has its own budget of
 * cpu_ms.  ITIMER_PROF ticks every EXEC_CPU_TICK_US of the process's CPU
 * time (armed once; the kernel re-arms it), and the SIGPROF handler
 * charges the tick to the task running when it lands (S.cur; a tick
 * landing in the executor's own work between tasks is charged to none),
 * so interleaved tasks are each charged what they ran, to within a tick
 * per task over its life -- not one setitimer per switch (two per slice
 * before: four system calls for a call making one host call).  A task
 * whose charge reaches its budget gets SIGPROF's default action, which
 * ends the process: the pool sees the signal and fails that task (see
 * pool.c for how it is found).  The handler is SA_RESTART, so the ticks
 * do not make the functions' system calls fail with EINTR (a sleep
 * cut short by one still returns early, as under any profiler).  Frames
 * from the agent are bounded like any input, although the agent is
 * trusted.
 */
#include "config.h"
#include "exec/exec.h"
#include "function/fncall.h"
#include "function/fnread.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/mem.h"

#include <dlfcn.h>
#include <errno.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

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
#if EXEC_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

/* The CPU budget's tick (ITIMER_PROF's interval), microseconds: the
 * granularity a task is charged in.  1 ms: a busy executor takes 1000
 * SIGPROFs per CPU-second (a few microseconds each, under 1 %), and a
 * task that never yields is stopped within 1 ms of its budget (cpu_ms,
 * a minute by default). */
#define EXEC_CPU_TICK_US 1000

/* ------------------------------------------------------ context switch */

#if defined(__x86_64__)
/* The stack pointer is the whole context: ctx_switch pushes the
 * callee-saved registers (System V ABI: rbx, rbp, r12-r15) and the MXCSR
 * and x87 control words on the current stack, saves the stack pointer in
 * *from, loads @a to and pops the same from there.  A new context's stack
 * is laid out by ctx_make as if it had been switched out just before
 * entering its function. */
struct xctx {
	void *sp;
};
void mist_exec_ctx_switch(void **from, void *to);
__asm__(".text\n"
	".globl mist_exec_ctx_switch\n"
	".hidden mist_exec_ctx_switch\n"
	".type mist_exec_ctx_switch, @function\n"
	"mist_exec_ctx_switch:\n"
	"\tendbr64\n"
	"\tpushq %rbp\n"
	"\tpushq %rbx\n"
	"\tpushq %r12\n"
	"\tpushq %r13\n"
	"\tpushq %r14\n"
	"\tpushq %r15\n"
	"\tsubq $8, %rsp\n"
	"\tstmxcsr (%rsp)\n"
	"\tfnstcw 4(%rsp)\n"
	"\tmovq %rsp, (%rdi)\n"
	"\tmovq %rsi, %rsp\n"
	"\tldmxcsr (%rsp)\n"
	"\tfldcw 4(%rsp)\n"
	"\taddq $8, %rsp\n"
	"\tpopq %r15\n"
	"\tpopq %r14\n"
	"\tpopq %r13\n"
	"\tpopq %r12\n"
	"\tpopq %rbx\n"
	"\tpopq %rbp\n"
	"\tret\n"
	".size mist_exec_ctx_switch, .-mist_exec_ctx_switch\n");

static void
ctx_switch(struct xctx *from, struct xctx *to)
{
	mist_exec_ctx_switch(&from->sp, to->sp);
}

/* A context that starts @a entry on the stack [@a lo, @a lo + @a size). */
static void
ctx_make(struct xctx *c, uint8_t *lo, size_t size, void (*entry)(void))
{
	/* 16-aligned top; entry's return slot 16-aligned, so that entry
	 * starts with rsp = 8 mod 16, as after a call */
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)(top - 16);
	sp[1] = 0;			/* entry never returns */
	sp[0] = (uint64_t)(uintptr_t)entry; /* popped by ret */
	sp -= 6;
	memset(sp, 0, 6 * sizeof(*sp)); /* r15 r14 r13 r12 rbx rbp */
	sp -= 1;
	/* the current control words: MXCSR (32 bits), x87's (16) */
	uint32_t ctl[2] = {0, 0};
	uint16_t cw;
	__asm__ volatile("stmxcsr %0" : "=m"(ctl[0]));
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	ctl[1] = cw;
	memcpy(sp, ctl, sizeof(ctl));
	c->sp = sp;
}
#else
/* Elsewhere: ucontext (one rt_sigprocmask per switch). */
struct xctx {
	ucontext_t uc;
};

static void
ctx_switch(struct xctx *from, struct xctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

static void
ctx_make(struct xctx *c, uint8_t *lo, size_t size, void (*entry)(void))
{
	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = lo;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL; /* entry switches back itself */
	makecontext(&c->uc, entry, 0);
}
#endif

/* Longest a finished task's reply waits for the rest of its batch. */
#define EXEC_FLUSH_US 10000
/* Freed stacks kept for the next tasks: a full pipeline's worth (the
 * pool's default depth), so a busy executor maps no stack per task. */
#define EXEC_STACK_CACHE 32

struct xfn {
	char name[EXEC_NAME_MAX];
	mist_fn fn;
	uint32_t flags;
	char read[MIST_READ_MAX]; /* its declared read's template, or "" */
};


enum tstate { T_READY, T_WAIT, T_DONE };

/* A task on its coroutine.  xcall first: the call's impl is the task. */
struct xtask {
	struct mist_call call;
	struct xtask *next; /* in the ready queue */
	struct mist_blob *outs;
	uint8_t **owned;
	char err[EXEC_ERR_MAX];
	bool failed;
	enum tstate state;
	int rc;
	uint64_t seq;
	uint32_t fn, nout;
	uint8_t *frame; /* our copy of the task's frame: args, inputs */
	struct mist_blob *in;
	struct xctx ctx;
	uint8_t *stack; /* the mapping, guard page first */
	/* CPU ticks (EXEC_CPU_TICK_US) left of its budget: the SIGPROF
	 * handler's, while it runs */
	volatile uint64_t cpu_ticks_left;
	uint64_t t0;
	/* the host call in flight, then its answer */
	uint32_t hid;
	int hstatus;
	uint8_t *hbody; /* NUL-terminated; freed at the next call or end */
	size_t hlen;
	/* the declared reads' answers (pointers into frame): until the
	 * task's first write */
	struct fncall_read reads[EXEC_TASK_READS];
	uint32_t nreads;
#if EXEC_SANITIZED
	void *fake; /* ASan's fake stack of the task while switched out */
#endif
};

/* The executor's one scheduler (one thread, one per process). */
static struct {
	struct xctx main;
	/* the task running (read by the SIGPROF handler) */
	struct xtask *volatile cur;
	struct xtask *ready, *ready_tail;
	struct xtask *live[EXEC_MAX_TASKS];
	uint32_t nlive;
	uint8_t *stacks[EXEC_STACK_CACHE];
	uint32_t nstacks;
	size_t page;
	struct buf *out;
	uint32_t cpu_ms;
	const struct xfn *fns;
#if EXEC_SANITIZED
	const void *main_bottom;
	size_t main_size;
	void *main_fake;
#endif
} S;

static void
ready_push(struct xtask *t)
{
	t->state = T_READY;
	t->next = NULL;
	if (S.ready_tail)
		S.ready_tail->next = t;
	else
		S.ready = t;
	S.ready_tail = t;
}

static struct xtask *
ready_pop(void)
{
	struct xtask *t = S.ready;
	if (t) {
		S.ready = t->next;
		if (S.ready == NULL)
			S.ready_tail = NULL;
	}
	return t;
}

static int
xcall_output(struct mist_call *c, uint32_t index, const void *data, size_t len)
{
	struct xtask *x = c->impl;
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
	struct xtask *x = c->impl;
	x->failed = true;
	snprintf(x->err, sizeof(x->err), "%s", message ? message : "failed");
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

/* Switches from the task back to the scheduler. */
static void
task_yield(struct xtask *t)
{
#if EXEC_SANITIZED
	__sanitizer_start_switch_fiber(&t->fake, S.main_bottom, S.main_size);
#endif
	ctx_switch(&t->ctx, &S.main);
#if EXEC_SANITIZED
	__sanitizer_finish_switch_fiber(t->fake, &S.main_bottom, &S.main_size);
#endif
}

static bool
method_ok(const char *m)
{
	return m != NULL && (strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0 ||
			     strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0);
}

/* The host API (mist_docs): a request frame out, then wait for the
 * answer, other tasks running meanwhile. */
static int
xcall_docs(struct mist_call *c, const char *method, const char *path,
	   const char *body, size_t blen, struct mist_doc_reply *out)
{
	struct xtask *t = c->impl;
	if (out == NULL || !method_ok(method) || path == NULL ||
	    path[0] != '/' || (body == NULL && blen > 0))
		return MIST_EINVAL;
	size_t plen = strnlen(path, MIST_HOST_PATH_MAX + 1);
	if (plen > MIST_HOST_PATH_MAX || blen > MIST_HOST_BODY_MAX)
		return MIST_E2BIG;
	free(t->hbody); /* the previous answer's lifetime ends here */
	t->hbody = NULL;
	t->hlen = 0;
	bool get = strcmp(method, "GET") == 0;
	if (!get)
		t->nreads = 0; /* from now on, reads see the writes */
	for (uint32_t i = 0; i < t->nreads; i++) {
		const struct fncall_read *r = &t->reads[i];
		if (r->path_len != plen || memcmp(r->path, path, plen) != 0)
			continue;
		/* declared: the gateway read it when the call arrived */
		t->hbody = xmalloc((size_t)r->body_len + 1);
		memcpy(t->hbody, r->body, r->body_len);
		t->hbody[r->body_len] = '\0';
		t->hlen = r->body_len;
		out->status = r->status;
		out->body = (const char *)t->hbody;
		out->len = t->hlen;
		return 0;
	}
	t->hid++;
	exec_host_req_pack(S.out, t->seq, t->hid, method, path, plen, body,
			   blen);
	t->state = T_WAIT;
	task_yield(t);
	if (t->hstatus < 0)
		return t->hstatus;
	out->status = t->hstatus;
	out->body = (const char *)t->hbody;
	out->len = t->hlen;
	return 0;
}

static const struct mist_call_ops xcall_ops = {xcall_output, xcall_fail,
					       xcall_docs};
/* a job's task: no app, no host API */
static const struct mist_call_ops xcall_ops_job = {xcall_output, xcall_fail,
						   NULL};

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

/* SIGPROF, every EXEC_CPU_TICK_US of the process's CPU: a tick of the
 * running task's budget; at its end, SIGPROF's default action (the
 * process ends, the pool fails the task).  Async-signal-safe: reads and
 * writes the running task's counter, sigaction, raise. */
static void
cpu_tick(int sig)
{
	struct xtask *t = S.cur;
	if (t == NULL || t->cpu_ticks_left-- > 1)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	raise(sig); /* delivered as the handler returns: blocked in it */
}

/* Installs cpu_tick and starts the ticks (once). */
static void
cpu_ticks_start(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cpu_tick;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval it = {{0, EXEC_CPU_TICK_US}, {0, EXEC_CPU_TICK_US}};
	setitimer(ITIMER_PROF, &it, NULL);
}

static uint8_t *
stack_get(void)
{
	if (S.nstacks > 0)
		return S.stacks[--S.nstacks];
	void *p = mmap(NULL, EXEC_STACK_SIZE + S.page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, S.page, PROT_NONE) != 0) {
		munmap(p, EXEC_STACK_SIZE + S.page);
		return NULL;
	}
	return p;
}

static void
stack_put(uint8_t *s)
{
	if (S.nstacks < EXEC_STACK_CACHE)
		S.stacks[S.nstacks++] = s;
	else
		munmap(s, EXEC_STACK_SIZE + S.page);
}

/* The coroutine's body: runs the function, returns to the scheduler
 * (uc_link). */
static void
task_entry(void)
{
	struct xtask *t = S.cur;
#if EXEC_SANITIZED
	__sanitizer_finish_switch_fiber(NULL, &S.main_bottom, &S.main_size);
#endif
	t->rc = S.fns[t->fn].fn(&t->call);
	t->state = T_DONE;
#if EXEC_SANITIZED
	/* NULL: this fiber's fake stack is finished with */
	__sanitizer_start_switch_fiber(NULL, S.main_bottom, S.main_size);
#endif
	/* never resumed: the scheduler frees the stack */
	ctx_switch(&t->ctx, &S.main);
	abort();
}

static void
live_remove(struct xtask *t)
{
	for (uint32_t i = 0; i < S.nlive; i++)
		if (S.live[i] == t) {
			S.live[i] = S.live[--S.nlive];
			return;
		}
}

static void
task_free(struct xtask *t)
{
	live_remove(t);
	for (uint32_t i = 0; i < t->nout; i++)
		free(t->owned[i]);
	free(t->owned);
	free(t->outs);
	free(t->in);
	free(t->frame);
	free(t->hbody);
	if (t->stack)
		stack_put(t->stack);
	free(t);
}

/* Appends task @a t's result frame. */
static void
task_reply(struct xtask *t)
{
	uint64_t dt = clock_mono_us() - t->t0;
	if (t->rc != 0 && !t->failed)
		xcall_fail(&t->call, "the function returned an error");
	if (!t->failed)
		for (uint32_t i = 0; i < t->nout; i++)
			if (t->owned[i] == NULL) {
				snprintf(t->err, sizeof(t->err),
					 "the function did not set output %u",
					 i);
				t->failed = true;
				break;
			}
	size_t at;
	frame_begin(S.out, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, S.out, buf_msgpack_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, t->seq);
	msgpack_pack_uint32(&pk, t->failed ? 1 : 0);
	msgpack_pack_uint64(&pk, dt);
	if (t->failed) {
		mp_pack_str(&pk, t->err);
	} else {
		msgpack_pack_array(&pk, t->nout);
		for (uint32_t i = 0; i < t->nout; i++)
			msgpack_pack_bin_with_body(&pk, t->outs[i].data,
						   t->outs[i].len);
	}
	frame_end(S.out, at);
}

/* Runs @a t until it ends or waits for the host; ends it if it ended. */
static void
task_resume(struct xtask *t)
{
	S.cur = t;
#if EXEC_SANITIZED
	__sanitizer_start_switch_fiber(&S.main_fake, t->stack + S.page,
				       EXEC_STACK_SIZE);
#endif
	ctx_switch(&S.main, &t->ctx);
#if EXEC_SANITIZED
	__sanitizer_finish_switch_fiber(S.main_fake, NULL, NULL);
#endif
	S.cur = NULL;
	if (t->state == T_DONE) {
		task_reply(t);
		task_free(t);
	}
}

/* The declared reads of a task frame: [[path str, status int, body bin]
 * ...], at most EXEC_TASK_READS.  0 or -1. */
static int
task_reads(struct mp_cur *c, struct xtask *t)
{
	uint32_t n;
	if (mp_read_array(c, &n) != 0 || n > EXEC_TASK_READS)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (fncall_read_next(c, &t->reads[i]) != 0)
			return -1;
	t->nreads = n;
	return 0;
}

/* A task frame: [seq, fn, args, [input...], nout] or, a call's with
 * declared reads, [seq, fn, args, [input...], nout, [read...]].  The task
 * is queued ready (or answered at once if it cannot have a stack).  -1 on
 * a malformed frame. */
static int
task_new(const uint8_t *p, size_t n, uint32_t nfns)
{
	if (S.nlive >= EXEC_MAX_TASKS)
		return -1; /* the pool's depth is clamped below this */
	struct xtask *t = xcalloc(1, sizeof(*t));
	t->frame = xmalloc(n ? n : 1);
	memcpy(t->frame, p, n);
	struct mp_cur c;
	mp_cur_init(&c, t->frame, n);
	uint32_t len, nin, alen;
	uint64_t fn, nout;
	const uint8_t *args;
	if (mp_read_array(&c, &len) != 0 || (len != 5 && len != 6) ||
	    mp_read_uint(&c, &t->seq) != 0 || mp_read_uint(&c, &fn) != 0 ||
	    mp_read_bin(&c, &args, &alen) != 0 ||
	    mp_read_array(&c, &nin) != 0 || nin > mp_cur_left(&c))
		goto bad;
	t->in = xcalloc(nin + 1, sizeof(*t->in));
	for (uint32_t i = 0; i < nin; i++) {
		uint32_t l;
		if (mp_read_bin(&c, &t->in[i].data, &l) != 0)
			goto bad;
		t->in[i].len = l;
	}
	if (mp_read_uint(&c, &nout) != 0 || nout > EXEC_MAX_OUTPUTS ||
	    fn >= nfns || (len == 6 && task_reads(&c, t) != 0))
		goto bad;
	t->fn = (uint32_t)fn;
	t->nout = (uint32_t)nout;
	t->outs = xcalloc(nout + 1, sizeof(*t->outs));
	t->owned = xcalloc(nout + 1, sizeof(*t->owned));
	/* a call (FUNC_CALL_KEY, the high bit) has an app behind it; a
	 * job's attempt has none, so no host API */
	bool call = (t->seq >> 63) != 0;
	t->call = (struct mist_call){S.fns[fn].name, {args, alen}, t->in, nin,
				     (uint32_t)nout,
				     call ? &xcall_ops : &xcall_ops_job, t};
	/* cpu_ms rounded up to whole ticks; 0: no limit (no ticks) */
	t->cpu_ticks_left = ((uint64_t)S.cpu_ms * 1000 + EXEC_CPU_TICK_US - 1) /
			    EXEC_CPU_TICK_US;
	t->t0 = clock_mono_us();
	S.live[S.nlive++] = t;
	t->stack = stack_get();
	if (t->stack == NULL) {
		xcall_fail(&t->call, "no memory for the task's stack");
		task_reply(t);
		task_free(t);
		return 0;
	}
	ctx_make(&t->ctx, t->stack + S.page, EXEC_STACK_SIZE, task_entry);
	ready_push(t);
	return 0;
bad:
	free(t->in);
	free(t->frame);
	free(t);
	return -1;
}

/* A host reply: [seq, hid, status int, body bin], for a waiting task.
 * -1 if malformed or for no waiting call. */
static int
host_reply(const uint8_t *p, size_t n)
{
	uint32_t blen, hid;
	uint64_t seq;
	int status;
	const uint8_t *body;
	if (exec_host_reply_parse(p, n, &seq, &hid, &status, &body, &blen) != 0)
		return -1;
	for (uint32_t i = 0; i < S.nlive; i++) {
		struct xtask *t = S.live[i];
		if (t->seq != seq)
			continue;
		if (t->state != T_WAIT || t->hid != hid)
			return -1;
		t->hstatus = status;
		t->hbody = xmalloc((size_t)blen + 1);
		memcpy(t->hbody, body, blen);
		t->hbody[blen] = '\0';
		t->hlen = blen;
		ready_push(t);
		return 0;
	}
	return -1;
}

/* One frame from the agent: a task (5 or 6 fields) or a host reply (4). */
static int
frame_in(const uint8_t *p, size_t n, uint32_t nfns)
{
	struct mp_cur c;
	uint32_t len;
	mp_cur_init(&c, p, n);
	if (mp_check(p, n, MP_MAX_DEPTH, &(size_t){0}) != 0 ||
	    mp_read_array(&c, &len) != 0)
		return -1;
	return len == 5 || len == 6 ? task_new(p, n, nfns)
	       : len == 4	    ? host_reply(p, n)
				    : -1;
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
		if (pl == NULL || pl->abi < 1 || pl->abi > MIST_PLUGIN_ABI) {
			fprintf(stderr, "mist executor: %s: no %s with ABI 1..%d\n",
				plugins[i], MIST_PLUGIN_SYMBOL, MIST_PLUGIN_ABI);
			return 1;
		}
		/* flags exist only in an ABI 2 table, reads in an ABI 3
		 * one: an older table ends before them */
		const uint32_t *flags = pl->abi >= 2 ? pl->flags : NULL;
		const char *const *reads = pl->abi >= 3 ? pl->reads : NULL;
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
			fns[nfns].flags = flags ? flags[j] & EXEC_FN_FLAGS : 0;
			const char *rd = reads ? reads[j] : NULL;
			size_t rlen = rd ? strnlen(rd, MIST_READ_MAX) : 0;
			struct fnread d;
			if (rd != NULL && fnread_parse(rd, rlen, &d) != 0) {
				fprintf(stderr, "mist executor: %s: %s: the read "
					"declared is not /classes/CLASS/{param}, "
					"/users/{param} or /roles/{param}\n",
					plugins[i], name);
				return 1;
			}
			if (rd != NULL && (fns[nfns].flags & MIST_FN_MASTER))
				fprintf(stderr, "mist executor: %s: %s: its "
					"declared read is ignored (MIST_FN_MASTER: "
					"its reads act with the master key)\n",
					plugins[i], name);
			else if (rd != NULL)
				memcpy(fns[nfns].read, rd, rlen);
			fns[nfns++].fn = pl->functions[j].fn;
		}
	}
	if (memory_bytes && !EXEC_SANITIZED) {
		struct rlimit rl = {memory_bytes, memory_bytes};
		setrlimit(RLIMIT_AS, &rl);
	}
	long pg = sysconf(_SC_PAGESIZE);
	S.page = pg > 0 ? (size_t)pg : 4096;
	S.cpu_ms = cpu_ms;
	S.fns = fns;
	if (cpu_ms)
		cpu_ticks_start();
	struct buf out = BUF_INIT, in = BUF_INIT;
	S.out = &out;
	size_t at;
	frame_begin(&out, &at);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &out, buf_msgpack_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_array(&pk, nfns);
	for (uint32_t i = 0; i < nfns; i++)
		mp_pack_str(&pk, fns[i].name);
	msgpack_pack_array(&pk, nfns);
	for (uint32_t i = 0; i < nfns; i++)
		msgpack_pack_uint32(&pk, fns[i].flags);
	msgpack_pack_array(&pk, nfns);
	for (uint32_t i = 0; i < nfns; i++)
		mp_pack_str(&pk, fns[i].read);
	frame_end(&out, at);
	int status = 0;
	uint64_t flushed = clock_mono_us();
	for (;;) {
		struct xtask *t;
		while ((t = ready_pop()) != NULL) {
			task_resume(t);
			/* batch frames, but never hold one back for long: the
			 * pool times the head of the queue from its last
			 * reply */
			if (out.len && clock_mono_us() - flushed > EXEC_FLUSH_US) {
				if (write_all(fd, out.data, out.len) != 0)
					goto done;
				buf_reset(&out);
				flushed = clock_mono_us();
			}
		}
		if (out.len && write_all(fd, out.data, out.len) != 0)
			break;
		buf_reset(&out);
		buf_reserve(&in, 65536);
		ssize_t r = read(fd, in.data + in.len, in.cap - in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		flushed = clock_mono_us();
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
			if (frame_in(in.data + off + 4, n, nfns) != 0) {
				fprintf(stderr, "mist executor: bad frame\n");
				status = 2;
				goto done;
			}
			off += 4 + n;
		}
		buf_consume(&in, off);
	}
done:
	/* tasks still waiting on the host: the agent is gone, so are they */
	while (S.nlive > 0)
		task_free(S.live[S.nlive - 1]);
	while (S.nstacks > 0)
		munmap(S.stacks[--S.nstacks], EXEC_STACK_SIZE + S.page);
	buf_destroy(&in);
	buf_destroy(&out);
	free(fns);
	return status;
}
