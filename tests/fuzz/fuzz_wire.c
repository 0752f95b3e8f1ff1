/*
 * fuzz_wire.c -- libFuzzer target for every decoder that reads link bytes:
 * the frame splitter, the envelope decoder (through the batched payload
 * decoder), the link hello and the msgpack walker.  The first byte picks
 * the decoder, so one corpus covers all of them.
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays the corpus (tests/fuzz/corpus/wire, every crash ever found
 * included) through the same function with tests/fuzz/replay.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "actors/msg.h"
#include "net/link.h"
#include "net/mp.h"
#include "net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
drop_cb(void *ctx, struct msg *m)
{
	(void)ctx;
	msg_delete(m);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0] % 3;
	data++, size--;
	if (mode == 0) {
		/* a stream of frames, each a batch of envelopes */
		while (size > 0) {
			const uint8_t *p;
			size_t n;
			int used = wire_frame_parse(data, size, 65536, &p, &n);
			if (used <= 0)
				break;
			wire_payload_decode(p, n, 65536, 1000, drop_cb, NULL);
			data += used;
			size -= (size_t)used;
		}
	} else if (mode == 1) {
		struct link_hello h;
		link_hello_decode(data, size, &h);
	} else {
		size_t used;
		if (mp_check(data, size, MP_MAX_DEPTH, &used) == 0) {
			struct mp_cur c;
			mp_cur_init(&c, data, used);
			while (mp_cur_left(&c) > 0 && mp_skip(&c) == 0)
				;
		}
	}
	return 0;
}
