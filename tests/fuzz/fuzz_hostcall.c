/*
 * fuzz_hostcall.c -- libFuzzer target for the host API's codecs: MSG_HOST_CALL
 * (function/hostcall.h) and the executor's host frames (exec/exec.h,
 * hostframe.c), checking round trips as well as the absence of crashes:
 * whatever parses must repack to bytes that parse to the same fields.
 *
 * Layout: one byte picks the decoder (0 request, 1 reply, 2 host request
 * frame, 3 host reply frame; taken mod 4), then its input.
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays tests/fuzz/corpus/hostcall (tests/fuzz/replay.c).
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "function/hostcall.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
request(const uint8_t *p, size_t n)
{
	struct hostcall_req q, q2;
	if (hostcall_unpack(p, n, &q) != 0)
		return;
	char app[HOSTCALL_APP_MAX];
	memcpy(app, q.app, q.app_len);
	app[q.app_len] = '\0';
	if (strlen(app) != q.app_len)
		return; /* a NUL inside: packs differently, not a codec bug */
	struct buf b = BUF_INIT;
	hostcall_pack(&b, app, q.caller, q.caller_len, q.remaining_ms,
		      q.master, q.method, q.path, q.path_len, q.body,
		      q.body_len);
	if (hostcall_unpack(b.data, b.len, &q2) != 0 ||
	    q2.remaining_ms != q.remaining_ms || q2.master != q.master ||
	    strcmp(q2.method, q.method) != 0 || q2.path_len != q.path_len ||
	    memcmp(q2.path, q.path, q.path_len) != 0 ||
	    q2.body_len != q.body_len || q2.caller_len != q.caller_len ||
	    memcmp(q2.caller, q.caller, q.caller_len) != 0)
		abort();
	buf_destroy(&b);
}

static void
reply(const uint8_t *p, size_t n)
{
	int st, st2;
	const uint8_t *body, *body2;
	uint32_t len, len2;
	if (hostcall_reply_unpack(p, n, &st, &body, &len) != 0)
		return;
	struct buf b = BUF_INIT;
	hostcall_reply_pack(&b, (uint32_t)st, body, len);
	if (hostcall_reply_unpack(b.data, b.len, &st2, &body2, &len2) != 0 ||
	    st2 != st || len2 != len || (len && memcmp(body, body2, len) != 0))
		abort();
	buf_destroy(&b);
}

static void
host_req(const uint8_t *p, size_t n)
{
	struct pool_host_req r, r2;
	if (exec_host_req_parse(p, n, &r) != 0)
		return;
	struct buf b = BUF_INIT;
	exec_host_req_pack(&b, r.key, r.hid, r.method, r.path, r.path_len,
			   r.body, r.body_len);
	if (exec_host_req_parse(b.data + 4, b.len - 4, &r2) != 0 ||
	    r2.key != r.key || r2.hid != r.hid ||
	    strcmp(r2.method, r.method) != 0 || r2.path_len != r.path_len ||
	    memcmp(r2.path, r.path, r.path_len) != 0 ||
	    r2.body_len != r.body_len)
		abort();
	buf_destroy(&b);
}

static void
host_reply(const uint8_t *p, size_t n)
{
	uint64_t seq, seq2;
	uint32_t hid, hid2, len, len2;
	int st, st2;
	const uint8_t *body, *body2;
	if (exec_host_reply_parse(p, n, &seq, &hid, &st, &body, &len) != 0)
		return;
	struct buf b = BUF_INIT;
	exec_host_reply_pack(&b, seq, hid, st, body, len);
	if (exec_host_reply_parse(b.data + 4, b.len - 4, &seq2, &hid2, &st2,
				  &body2, &len2) != 0 ||
	    seq2 != seq || hid2 != hid || st2 != st || len2 != len)
		abort();
	buf_destroy(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: request(data + 1, size - 1); break;
	case 1: reply(data + 1, size - 1); break;
	case 2: host_req(data + 1, size - 1); break;
	default: host_reply(data + 1, size - 1); break;
	}
	return 0;
}
