/*
 * swim_view.c -- SWIM's member table and the queries on it.
 *
 * The table holds every member we know but ourselves, keyed by node id (a
 * hash of its public key: identity, not address, is the key -- swim.c), and
 * an array of the same members in probe order.  A member joins the order at
 * a random place and the order is reshuffled each round (swim.c), so new
 * members are probed in random order.  Dead and left members stay listed
 * until reaped (dead_reap_ms) so operators see them and late refutations
 * still find them; incarnations only grow (swim.c applies updates).
 *
 * The queries: the read-only views of swim.h, for tests and the agent (same
 * thread), and the MSG_MEMBERS listing, for `mist members` and the admin
 * actor's key rotation.
 */
#include "config.h"
#include "net/swim_view.h"
#include "mist.h"
#include "net/mp.h"
#include "net/swim_codec.h"
#include "util/mem.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Probe-order slots allocated first; doubled when full. */
#define SWIM_ORDER_FIRST 16

/* ------------------------------------------------------- member table */

struct swim_member *
swim_find(const struct swim *s, uint64_t node)
{
	return map_get(&s->members, node);
}

void
swim_set_meta_of(struct swim_member *m, const uint8_t *meta, uint16_t len)
{
	free(m->meta);
	m->meta = NULL;
	m->meta_len = 0;
	if (len) {
		m->meta = xmalloc(len);
		memcpy(m->meta, meta, len);
		m->meta_len = len;
	}
}

struct swim_member *
swim_add(struct swim *s, uint64_t node)
{
	struct swim_member *m = xcalloc(1, sizeof(*m));
	m->node = node;
	map_put(&s->members, node, m);
	if (s->norder == s->capder) {
		s->capder = s->capder ? 2 * s->capder : SWIM_ORDER_FIRST;
		s->order = xrealloc(s->order, s->capder * sizeof(*s->order));
	}
	/* insert at a random place: new members are probed in random order */
	size_t at = (size_t)swim_rand(s, s->norder + 1);
	s->order[s->norder++] = s->order[at];
	s->order[at] = m;
	return m;
}

void
swim_remove(struct swim *s, struct swim_member *m)
{
	for (size_t i = 0; i < s->norder; i++) {
		if (s->order[i] == m) {
			s->order[i] = s->order[--s->norder];
			break;
		}
	}
	actor_timer_stop(s->actor, &m->suspect_timer);
	map_del(&s->members, m->node);
	free(m->meta);
	free(m);
}

void
swim_table_free(struct swim *s)
{
	for (size_t i = 0; i < s->norder; i++) {
		actor_timer_stop(s->actor, &s->order[i]->suspect_timer);
		free(s->order[i]->meta);
		free(s->order[i]);
	}
	free(s->order);
	s->order = NULL;
	s->norder = s->capder = 0;
	map_destroy(&s->members);
}

size_t
swim_live_count(const struct swim *s)
{
	size_t n = 1;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i]->status <= SWIM_SUSPECT)
			n++;
	return n;
}

/* ------------------------------------------------------------ listing */

/*
 * MSG_MEMBERS reply: an array of maps, ourselves first, then the table in
 * probe order (the dead and left included, until reaped):
 *
 *   [{"name": str, "id": u64, "addr": str,
 *     "status": "alive"|"suspect"|"dead"|"left", "incarnation": u64,
 *     "meta": map (the member's metadata as it is, {} if none)}, ...]
 */
void
swim_members_reply(struct swim *s, const struct msg *req)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, (uint32_t)s->norder + 1);
	for (size_t i = 0; i <= s->norder; i++) {
		const struct swim_member *m =
			i == 0 ? &s->self : s->order[i - 1];
		msgpack_pack_map(&pk, 6);
		mp_pack_str(&pk, "name");
		mp_pack_str(&pk, m->name);
		mp_pack_str(&pk, "id");
		msgpack_pack_uint64(&pk, m->node);
		mp_pack_str(&pk, "addr");
		swim_addr_pack(&pk, &m->addr);
		mp_pack_str(&pk, "status");
		mp_pack_str(&pk, swim_status_name(m->status));
		mp_pack_str(&pk, "incarnation");
		msgpack_pack_uint64(&pk, m->inc);
		mp_pack_str(&pk, "meta");
		if (m->meta_len)
			buf_append(&b, m->meta, m->meta_len); /* a map */
		else
			msgpack_pack_map(&pk, 0);
	}
	actor_reply(s->actor, req, MSG_MEMBERS, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* ------------------------------------------------------ swim.h views */

size_t
swim_member_count(const struct swim *s, enum swim_status st)
{
	size_t n = st == s->self.status ? 1 : 0;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i]->status == st)
			n++;
	return n;
}

int
swim_member_status(const struct swim *s, uint64_t node, enum swim_status *st,
		   uint64_t *inc)
{
	const struct swim_member *m =
		node == s->self.node ? &s->self : swim_find(s, node);
	if (m == NULL)
		return MIST_ENOTFOUND;
	*st = m->status;
	if (inc)
		*inc = m->inc;
	return 0;
}

int
swim_member_addr(const struct swim *s, uint64_t node,
		 struct sockaddr_storage *out)
{
	const struct swim_member *m = swim_find(s, node);
	if (m == NULL)
		return MIST_ENOTFOUND;
	*out = m->addr;
	return 0;
}

uint32_t
swim_lhm(const struct swim *s)
{
	return s->lhm;
}

const struct swim_stats *
swim_stats(const struct swim *s)
{
	return &s->stats;
}

uint64_t
swim_incarnation(const struct swim *s)
{
	return s->self.inc;
}
