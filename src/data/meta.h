/*
 * meta.h -- a node's gossiped metadata: the schema and its one codec.
 *
 * Every agent describes itself to the cluster in the `meta` field of its
 * SWIM ALIVE updates (net/swim.h carries the bytes without reading them).
 * The agent writes it (cmd/agent.c), the data manager reads it to place
 * tasks (data/nodes.c: tier, cores, speed, power, price, functions), and
 * `mist members` shows it (cmd/members.c: tier, load, cores, tags).  The
 * data manager owns the schema because placement is what consumes it.
 * The same drawing is in docs/PROTOCOL.md, section 6.4.
 *
 *   meta = msgpack map, at most META_MAX_BYTES encoded, keys in any order:
 *   +-------------+-------------------------------------------------------+
 *   | "gateway"   | str   where clients connect ("ip:port"; "" if none)   |
 *   | "tier"      | str   "fog" | "edge" | "cloud"                         |
 *   | "cores"     | uint  cores the executors share                         |
 *   | "speed"     | float relative speed of one core (1.0: reference)       |
 *   | "power"     | float watts drawn when busy (energy-aware placement)    |
 *   | "price"     | float price per hour (cost-aware placement)             |
 *   | "load"      | float the 1-minute load average when last gossiped      |
 *   | "functions" | [str...]  the functions this node's executors offer     |
 *   | "tags"      | {str: str}  free-form operator labels (--tag K=V)       |
 *   | "docs"      | bool  hosts the documents accessory (ACTOR_DOCS), so    |
 *   |             |       apps may be homed here (`mist agent --docs`)      |
 *   | "http"      | bool  serves Parse's REST API (`--http`/`--https`): an  |
 *   |             |       app's rate is shared among these gateways         |
 *   | "docs_shared" bool  its ACTOR_DOCS keeps documents in a shared      |
 *   |             |       PostgreSQL (`--docs postgres`)                    |
 *   | "reads"     | [[uint, str]...]  declared reads (mist_plugin.h): the   |
 *   |             |       index of a function in "functions" and its read's |
 *   |             |       template (function/fnread.h); absent when none;   |
 *   |             |       the first dropped when the map would not fit; an  |
 *   |             |       entry a reader cannot use is dropped, not the map |
 *   +-------------+-------------------------------------------------------+
 *
 * A reader skips keys it does not know (newer agents may add some),
 * refuses a known key twice or of the wrong type (mp_read_fields' rules,
 * net/mp.h) and takes a missing key as its default (meta_init()).  Every
 * string and count is bounded below; a map that breaks a bound is refused
 * whole (MIST_EPROTO), never cut -- only an agent that is not ours writes
 * one.
 *
 * Ownership: struct meta is plain caller storage; decoding copies every
 * string into it, so it does not point into the input.
 */
#ifndef MIST_DATA_META_H_INCLUDED
#define MIST_DATA_META_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "exec/exec.h"
#include "net/swim.h"
#include "util/buf.h"

struct mp_cur;

/** Encoded size at most: what gossip carries per member. */
#define META_MAX_BYTES SWIM_MAX_META
/** Longest tier name, NUL included ("cloud" and room to grow). */
#define META_TIER_MAX 16
/** Longest gateway address, NUL included: an IPv6 address and a port. */
#define META_GATEWAY_MAX 64
/** Functions listed at most: all that a node's executors can offer. */
#define META_MAX_FUNCTIONS EXEC_MAX_FUNCTIONS
/** Operator tags at most, and the longest key or value (NUL included):
 * labels for humans (`mist members`), not a data store. */
#define META_MAX_TAGS 16
#define META_TAG_MAX 64
/** Declared reads listed at most: each costs 10-60 bytes of the 512. */
#define META_MAX_READS 16

struct meta {
	char gateway[META_GATEWAY_MAX];
	char tier[META_TIER_MAX];
	uint32_t cores;
	double speed, power, price, load;
	uint32_t nfunctions;
	char functions[META_MAX_FUNCTIONS][EXEC_NAME_MAX];
	uint32_t ntags;
	char tags[META_MAX_TAGS][2][META_TAG_MAX];
	bool docs; /* hosts ACTOR_DOCS (apps can be homed here) */
	/* its ACTOR_DOCS keeps documents in a PostgreSQL server the other
	 * agents share (--docs postgres): it serves every app, home or not */
	bool docs_shared;
	bool http; /* serves HTTP (an app's rate is shared among these) */
	/* the functions' declared reads: functions[fn]'s is tmpl */
	uint32_t nreads;
	struct {
		uint32_t fn;
		char tmpl[MIST_READ_MAX];
	} reads[META_MAX_READS];
};

/** The defaults of a missing key: speed 1.0, everything else zero or
 * empty (tier "" and cores 0 mean unknown: placement reads them as fog
 * and one core); docs true (an agent from before "docs" hosts them). */
void meta_init(struct meta *m);
/** Appends @a m encoded; 0, or MIST_E2BIG if it exceeds META_MAX_BYTES
 * (the bytes are appended all the same, for the caller to measure). */
int meta_encode(const struct meta *m, struct buf *out);
/** Reads one metadata map at @a c (advancing it) into @a m, which starts
 * from meta_init().  0 or MIST_EPROTO. */
int meta_read(struct mp_cur *c, struct meta *m);
/** The same on a whole buffer (the `meta` bin of a member event). */
int meta_decode(const uint8_t *p, uint32_t len, struct meta *m);

#endif
