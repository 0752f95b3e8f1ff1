/*
 * fuzz_triggers.c -- libFuzzer target for what a trigger's result says
 * (gateway/triggers.h, trig_result: the bytes come from user code in an
 * executor) and what the gateway builds from it: the fields for the
 * client's answer, an after trigger's object, the params of the next
 * trigger.  Checked besides the absence of crashes: a verdict is one of
 * the three; a replacement is an object within a body's bounds; a refusal
 * has a 400 and a message; a params pack refused leaves its buffer as it
 * was.
 *
 * Layout: one byte (the trigger kind, 0..3), then one msgpack object (the
 * function actor checks that a result is exactly one; other inputs are
 * skipped, as the gateway never sees them).
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays tests/fuzz/corpus/triggers (tests/fuzz/replay.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/parse_req.h"
#include "gateway/triggers.h"
#include "net/mp.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum trig_kind k = (enum trig_kind)(data[0] & 3);
	data++, size--;
	size_t used;
	if (size > UINT32_MAX || mp_check(data, size, MP_MAX_DEPTH, &used) != 0 ||
	    used != size)
		return 0;
	json_t *rep = NULL;
	struct perr e = {0};
	enum trig_verdict v = trig_result(k, "beforeSave:C", data,
					  (uint32_t)size, &rep, &e);
	if (v == TRIG_REFUSE) {
		if (rep != NULL || e.http != 400 || e.msg[0] == '\0')
			abort();
		return 0;
	}
	if (v == TRIG_KEEP) {
		if (rep != NULL)
			abort();
		return 0;
	}
	if (v != TRIG_REPLACE || k != TRIG_BEFORE_SAVE || !json_is_object(rep) ||
	    preq_body_check(rep, "x", &e) != 0)
		abort();
	json_t *sent = json_pack("{s:i}", "score", 1);
	json_t *ch = trig_changed(sent, rep);
	json_t *after = trig_after_object(rep, ch, "id1");
	if (!json_is_object(ch) || !json_is_object(after) ||
	    strcmp(json_string_value(json_object_get(after, "objectId")),
		   "id1") != 0)
		abort();
	struct buf b = BUF_INIT;
	buf_append(&b, "z", 1);
	struct trig_ctx c = {"C",  "id1", false, "127.0.0.1",
			     NULL, NULL, true, rep};
	if (trig_params_pack(&b, TRIG_AFTER_SAVE, &c, after, &e) != 0 &&
	    b.len != 1)
		abort();
	buf_destroy(&b);
	json_decref(after);
	json_decref(ch);
	json_decref(sent);
	json_decref(rep);
	return 0;
}
