/*
 * swim.c -- SWIM membership with Lifeguard.
 *
 * The papers.  SWIM (Das, Gupta, Motivala 2002) detects failures by random
 * probing: every protocol period T a member pings one other; without an
 * ack within a timeout it asks k others to ping the target for it
 * (ping-req); without any ack by the end of the period the target becomes
 * *suspect*; a suspect that does not refute (by gossiping a higher
 * incarnation number) within a suspicion timeout is declared *dead*.
 * Membership changes travel piggybacked on the probe traffic, each sent a
 * bounded number of times (lambda * log n).  Lifeguard (Dadgar, Phillips,
 * Currey 2017, HashiCorp) makes this robust to slow members:
 *  - the local health multiplier (LHM, 0..S) grows when ping-req helpers
 *    do not even send a nack (or a probe fails with no helper to ask) and
 *    when we must refute a suspicion of ourselves -- signs that *we* are
 *    the slow one; a failed probe whose helpers all nacked is not -- and
 *    shrinks on every successful probe; probe interval and timeout are
 *    multiplied by LHM+1, so a slow member stops accusing healthy ones;
 *  - dynamic suspicion: a suspicion starts at the maximum timeout and
 *    shrinks towards the minimum as independent members confirm it,
 *      timeout = max(min, max - (max - min) * log(c+1) / log(k+1)),
 *    so a truly dead member is declared quickly, a lone false accusation
 *    slowly;
 *  - the buddy system: a ping to a suspect carries the suspicion first, so
 *    the suspect learns of it and refutes at once;
 *  - nacks: a ping-req helper that gets no ack answers with a nack, so the
 *    requester can tell "target silent" from "I cannot hear anybody".
 *
 * What we do differently, and why:
 *  - identity is the node key: members are keyed by node id (a hash of the
 *    public key), not by address.  A member that comes back from another
 *    address with a higher incarnation is the same member at a new address
 *    (memberlist refuses this, its issue #157).  A *different* node id
 *    claiming the name of a live member is refused and logged.
 *  - incarnations start at boots << 32 (the store counts boots), so a
 *    restarted node outranks everything its previous life said.
 *  - join and periodic anti-entropy (push/pull) exchange full state as
 *    actor requests over the encrypted TCP links, not over UDP.
 *  - metadata (tier, tags, ...) rides in the alive update; a change is a new
 *    incarnation, so it spreads and converges like any other update.
 *  - lost links as evidence.  A killed process's kernel closes its sockets,
 *    so the members holding an encrypted link to it (its seed at least:
 *    links stay up) see the link closed from its side at once; a slow
 *    member, a paused one or a lossy network never does that.  Such a
 *    member is probed at once (not when its turn comes), and if the probe
 *    fails -- direct and indirect -- its suspicion lasts
 *    lost_link_suspicion_ms (2 s) instead of the usual minimum (6 s at 32
 *    members); we keep probing it meanwhile, the ping carries the
 *    suspicion, and an answer puts the usual suspicion back.  A machine
 *    that vanishes (power, cable) resets nothing and gets the usual path.
 *  - stale rumours are answered: a suspicion or death of a life older than
 *    the alive one we know means the sender missed the refutation, and
 *    once its gossip budget is spent nothing may tell it before its own
 *    timer declares a live member dead (seen at 10 % loss); the receiver
 *    sends it the alive update straight back (one packet per packet).
 *    Likewise a suspect that refutes tells its accuser directly.
 *
 *  - right after start-up, anti-entropy runs after 0.25-0.5 s, then 0.25,
 *    0.5, 1, 2, 4, 8 and 16 s later before settling at its interval: in a
 *    join storm two late joiners can miss each other's alive updates with
 *    nothing to make either ping the other.  Starting at 1 s, a cluster of
 *    32 started at once knew itself after 1.2-1.35 s; from 0.25 s, after
 *    0.63-0.68 s (debug logs, 3 runs each), for 2 extra exchanges.
 *  - tried and rejected: having every member that hears a suspicion probe
 *    the suspect at once.  It declares real failures sooner, but at 10 %
 *    loss the burst of confirmations outran refutations and live members
 *    were declared dead (seeds 13, 16, 27 of the loss test).
 *
 * Defaults (each defended in swim_config_default): memberlist's LAN probe
 * profile, which Serf uses, so the benchmark compares like with like --
 * T = 1 s, probe timeout 500 ms, 3 helpers, lambda = 4, gossip every
 * 200 ms to 3 members, push/pull every 30 s, S = 8, suspicion from
 * 4 x log10(n) x T (2 confirmations) to 24 x log10(n) x T (alone), and
 * 2 x T after a lost link and a failed probe.
 *
 * Files: this one is the protocol; the wire format (packets, updates,
 * events) is drawn and coded in swim_codec.c; the member table and the
 * queries on it (swim.h's views, the MSG_MEMBERS listing) are in
 * swim_view.c; swim_view.h holds the state they share.
 */
#include "config.h"
#include "net/swim.h"
#include "mist.h"
#include "net/addr.h"
#include "net/mp.h"
#include "net/swim_codec.h"
#include "net/swim_view.h"
#include "util/buf.h"
#include "util/container.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/num.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_PROBE = 1, TAG_PROBE_TIMEOUT, TAG_GOSSIP, TAG_PUSHPULL, TAG_REAP,
       TAG_SUSPECT, TAG_RELAY };

/* a push/pull's reply must come within this: 10 s, far above any link's
 * round trip, so a slow one is not mistaken for a lost one */
#define SWIM_SYNC_TIMEOUT_MS 10000
#define SWIM_MAX_SYNC 65536 /* members in one push/pull */
/* the dead are gossiped to for 30 s (30 periods): a member declared dead
 * by mistake hears of it and refutes while we still try it */
#define SWIM_GOSSIP_DEAD_MS 30000
/* dead and left members are looked at every second for reaping: the
 * table is walked once per second, nothing next to dead_reap_ms (10 min) */
#define SWIM_REAP_EVERY_MS 1000
/* the first anti-entropy waits 0.25-0.5 s, then 0.25, 0.5, 1 ... s
 * (the essay above says why) */
#define SWIM_PUSHPULL_FIRST_MS 250
/* strangers whose last push/pull we remember; past it the memory is
 * cleared, which costs at most one early push/pull per stranger */
#define SWIM_ASKED_MAX 4096

void
swim_config_default(struct swim_config *cfg)
{
	/* 1 s: memberlist's LAN value; one probe per member per second is
	 * ~100 bytes/s each way, nothing on any network we serve. */
	cfg->probe_interval_ms = 1000;
	/* 500 ms: well above a LAN or fog-link round trip (ms to tens of ms)
	 * and leaves half the period for the indirect probes. */
	cfg->probe_timeout_ms = 500;
	/* 3 helpers: SWIM's analysis; more adds traffic, not certainty. */
	cfg->indirect_checks = 3;
	/* Suspicion from 4 x log10(n) x T (6 s at 32 members), reached with
	 * k = 2 independent confirmations, up to 6 x that for a lone
	 * accusation: memberlist's values.  A shorter minimum (2 x log10 n)
	 * was tried: at 10 % loss confirmations then outran refutations and
	 * live members were declared dead (tests/sim/test_swim.c,
	 * ten_percent_loss...), so we keep Serf's false-positive margin. */
	cfg->suspicion_mult = 4;
	cfg->suspicion_max_mult = 6;
	cfg->suspicion_confirm = 2;
	/* lambda = 4: an update reaches all n members with high probability
	 * in 4 x log10(n+1) sends per holder (SWIM, memberlist). */
	cfg->retransmit_mult = 4;
	/* every 200 ms to 3 members: updates spread in ~log(n) x 200 ms. */
	cfg->gossip_interval_ms = 200;
	cfg->gossip_nodes = 3;
	/* 30 s full-state exchange (scaled up for > 32 members): repairs
	 * anything gossip missed, and heals partitions (dead are retried). */
	cfg->pushpull_interval_ms = 30000;
	/* dead and left members stay listed 10 minutes for operators and
	 * for late refutations, then are forgotten (memory stays bounded). */
	cfg->dead_reap_ms = 600000;
	/* S = 8: Lifeguard's value; at most 9 x the probe timeout. */
	cfg->lhm_max = 8;
	/*
	 * 2 x T (2 s) of suspicion for a member whose link its side closed or
	 * reset *and* that then failed a direct and k indirect probes -- the
	 * trace a killed process leaves (its kernel resets its sockets), which
	 * neither a slow member nor a lossy network produces.  The suspect
	 * is told at once (one round trip) and its refutation reaches us by
	 * gossip in ~log3(n) x 200 ms, well inside 2 s; the usual minimum
	 * (6 s at 32 members) is for suspicion on probe silence alone.
	 */
	cfg->lost_link_suspicion_ms = 2000;
	cfg->lifeguard = true;
	cfg->incarnation = 1;
}

/* ------------------------------------------------------------ helpers */

static uint32_t
swim_scale(const struct swim *s)
{
	return s->cfg.lifeguard ? s->lhm + 1 : 1;
}

static void
swim_lhm_add(struct swim *s, int delta)
{
	if (!s->cfg.lifeguard)
		return;
	if (delta < 0 && s->lhm > 0)
		s->lhm--;
	else if (delta > 0 && s->lhm < s->cfg.lhm_max)
		s->lhm++;
}

/* ------------------------------------------------------------- events */

static void
swim_event(struct swim *s, const struct swim_member *m, enum swim_event ev)
{
	log_debug("member %s (%016llx): %s, incarnation %llu", m->name,
		  (unsigned long long)m->node, swim_event_name(ev),
		  (unsigned long long)m->inc);
	if (s->nsubs == 0)
		return;
	struct buf b = BUF_INIT;
	swim_event_encode(&b, m, ev);
	for (int i = 0; i < s->nsubs; i++) {
		struct actor_ref to = {s->actor->sys->node, s->subs[i]};
		actor_tell(s->actor, to, MSG_MEMBER_EVENT, b.data,
			   (uint32_t)b.len);
	}
	buf_destroy(&b);
}

/* --------------------------------------------------------- broadcasts */

/* Queues an update; it supersedes any queued update about the same node. */
static void
swim_broadcast(struct swim *s, const struct swim_member *m, int kind,
	       uint64_t from)
{
	for (size_t i = 0; i < s->nbq; i++) {
		if (s->bq[i]->node == m->node) {
			free(s->bq[i]);
			s->bq[i] = s->bq[--s->nbq];
			break;
		}
	}
	struct buf b = BUF_INIT;
	swim_update_encode(&b, m, kind, from);
	struct swim_bcast *bc = xmalloc(sizeof(*bc) + b.len);
	bc->node = m->node;
	bc->transmits = 0;
	bc->len = (uint16_t)b.len;
	memcpy(bc->bytes, b.data, b.len);
	buf_destroy(&b);
	if (s->nbq == s->capbq) {
		s->capbq = s->capbq ? 2 * s->capbq : 16;
		s->bq = xrealloc(s->bq, s->capbq * sizeof(*s->bq));
	}
	s->bq[s->nbq++] = bc;
}

static uint32_t
swim_retransmit_limit(const struct swim *s)
{
	size_t n = swim_live_count(s);
	return s->cfg.retransmit_mult * num_ceil_log(n + 1, 10);
}

static int
bcast_cmp(const void *a, const void *b)
{
	const struct swim_bcast *x = *(struct swim_bcast *const *)a;
	const struct swim_bcast *y = *(struct swim_bcast *const *)b;
	return x->transmits < y->transmits ? -1 : x->transmits > y->transmits;
}

/*
 * Appends as many queued updates as fit in @a room bytes, least sent first;
 * each counts as one transmission and leaves the queue at the limit.
 * @a first: an update to put first (the buddy system's suspicion), or NULL.
 * Returns how many were added.
 */
static uint32_t
swim_take_updates(struct swim *s, struct buf *out, size_t room,
		  const struct buf *first)
{
	uint32_t n = 0;
	if (first != NULL && first->len <= room) {
		buf_append(out, first->data, first->len);
		room -= first->len;
		n++;
	}
	if (s->nbq == 0)
		return n;
	qsort(s->bq, s->nbq, sizeof(*s->bq), bcast_cmp);
	uint32_t limit = swim_retransmit_limit(s);
	size_t keep = 0;
	for (size_t i = 0; i < s->nbq; i++) {
		struct swim_bcast *b = s->bq[i];
		if (b->len <= room && n < 255) {
			buf_append(out, b->bytes, b->len);
			room -= b->len;
			n++;
			if (++b->transmits >= limit) {
				free(b);
				continue;
			}
		}
		s->bq[keep++] = b;
	}
	s->nbq = keep;
	return n;
}

/* -------------------------------------------------------------- packets */

static void
swim_send(struct swim *s, const struct sockaddr_storage *to, int type,
	  uint32_t seq, uint64_t target, const struct sockaddr_storage *taddr,
	  const struct buf *first)
{
	struct buf head = BUF_INIT, upd = BUF_INIT;
	swim_packet_begin(&head, type, s->self.node, seq, target, taddr);
	size_t room = SWIM_MAX_PACKET - head.len - SWIM_UPDATES_HEAD_MAX;
	uint32_t n = swim_take_updates(s, &upd, room, first);
	swim_packet_end(&head, n, &upd);
	s->tr.send(s->tr.ctx, to, head.data, head.len);
	s->stats.packets_out++;
	buf_destroy(&head);
	buf_destroy(&upd);
}

/* --------------------------------------------------------- suspicion */

/* The suspicion timeout bounds for the current cluster size. */
static void
swim_suspicion_bounds(const struct swim *s, uint64_t *min, uint64_t *max)
{
	double n = (double)swim_live_count(s);
	double scale = num_max(1.0, num_log10(num_max(1.0, n)));
	*min = (uint64_t)(s->cfg.suspicion_mult * scale *
			  s->cfg.probe_interval_ms);
	*max = s->cfg.lifeguard ? *min * s->cfg.suspicion_max_mult : *min;
}

static uint64_t
swim_suspicion_timeout(const struct swim *s, uint32_t confirmations)
{
	uint64_t min, max;
	swim_suspicion_bounds(s, &min, &max);
	if (!s->cfg.lifeguard)
		return min;
	/* k: confirmations we can expect, fewer in a tiny cluster */
	double n = (double)swim_live_count(s);
	double k = s->cfg.suspicion_confirm;
	if (n - 2 < k)
		k = 0;
	if (k < 1)
		return min;
	double frac = num_ln((double)confirmations + 1) / num_ln(k + 1);
	double t = (double)max - (double)(max - min) * frac;
	return t < (double)min ? min : (uint64_t)t;
}

static void
swim_suspect_rearm(struct swim *s, struct swim_member *m)
{
	/* confirmations: suspicions independent of the one who raised it */
	uint64_t timeout = swim_suspicion_timeout(s, m->nconfirm - 1);
	if (m->short_suspicion && s->cfg.lost_link_suspicion_ms != 0 &&
	    timeout > s->cfg.lost_link_suspicion_ms)
		timeout = s->cfg.lost_link_suspicion_ms;
	uint64_t now = swim_now(s), due = m->suspect_start + timeout;
	actor_timer_start(s->actor, &m->suspect_timer, due > now ? due - now : 0,
			  0, TAG_SUSPECT);
}

/* ------------------------------------------------------ applying updates */

static void
swim_refute(struct swim *s, uint64_t inc)
{
	if (s->leaving)
		return;
	if (inc >= s->self.inc)
		s->self.inc = inc + 1;
	s->stats.refutes++;
	swim_lhm_add(s, +1);
	swim_broadcast(s, &s->self, SWIM_UPD_ALIVE, 0);
}

static void
swim_apply_alive(struct swim *s, uint64_t node, uint64_t inc,
		 const struct sockaddr_storage *addr, const char *name,
		 const uint8_t *meta, uint16_t meta_len)
{
	if (node == s->self.node) {
		/* our previous life, or a stale rumour: outrank it */
		if (inc > s->self.inc && !s->leaving)
			swim_refute(s, inc);
		return;
	}
	struct swim_member *m = swim_find(s, node);
	if (m != NULL && inc <= m->inc)
		return;
	/* identity is the key: another key may not take a live name */
	for (size_t i = 0; i < s->norder; i++) {
		struct swim_member *o = s->order[i];
		if (o->node != node && o->status <= SWIM_SUSPECT &&
		    strcmp(o->name, name) == 0) {
			s->stats.name_conflicts++;
			log_warn("refusing node %016llx: the name '%s' belongs "
				 "to live node %016llx (another key)",
				 (unsigned long long)node, name,
				 (unsigned long long)o->node);
			return;
		}
	}
	if (strcmp(s->self.name, name) == 0) {
		s->stats.name_conflicts++;
		log_warn("refusing node %016llx: it claims our name '%s'",
			 (unsigned long long)node, name);
		return;
	}
	enum swim_event ev;
	if (m == NULL) {
		m = swim_add(s, node);
		ev = SWIM_EV_JOIN;
	} else if (m->status == SWIM_DEAD || m->status == SWIM_LEFT) {
		ev = SWIM_EV_JOIN;
	} else if (m->status == SWIM_SUSPECT) {
		ev = SWIM_EV_ALIVE;
	} else {
		ev = SWIM_EV_UPDATED;
	}
	bool moved = memcmp(&m->addr, addr, sizeof(*addr)) != 0;
	if (ev == SWIM_EV_UPDATED && !moved && meta_len == m->meta_len &&
	    (meta_len == 0 || memcmp(m->meta, meta, meta_len) == 0))
		ev = SWIM_EV_ALIVE; /* just a refutation or a restart */
	if (moved && m->inc != 0) {
		char a[SWIM_ADDR_TEXT], b[SWIM_ADDR_TEXT];
		addr_format((struct sockaddr *)&m->addr, a, sizeof(a));
		addr_format((const struct sockaddr *)addr, b, sizeof(b));
		log_info("member %s (%016llx) moved from %s to %s", name,
			 (unsigned long long)node, a, b);
	}
	m->inc = inc;
	m->addr = *addr;
	snprintf(m->name, sizeof(m->name), "%s", name);
	swim_set_meta_of(m, meta, meta_len);
	if (m->status != SWIM_ALIVE)
		m->since = swim_now(s);
	m->status = SWIM_ALIVE;
	m->nconfirm = 0;
	m->short_suspicion = false;
	m->link_lost_at = 0;
	actor_timer_stop(s->actor, &m->suspect_timer);
	swim_broadcast(s, m, SWIM_UPD_ALIVE, 0);
	swim_event(s, m, ev);
}

/*
 * A suspicion, death or leave of an older life than the alive one we know
 * (or of our own older life): the sender missed the refutation, and with
 * its gossip budget spent nothing else may tell it before its suspicion
 * runs out -- a false death (seen at 10 % loss).  Noted while reading a
 * packet; swim_packet answers the sender with the alive update.
 */
static void
swim_note_stale(struct swim *s, uint64_t node, uint64_t inc)
{
	if (!s->in_packet || s->stale != 0)
		return;
	if (node == s->self.node) {
		if (inc < s->self.inc && !s->leaving)
			s->stale = node;
		return;
	}
	struct swim_member *m = swim_find(s, node);
	if (m != NULL && m->status == SWIM_ALIVE && inc < m->inc)
		s->stale = node;
}

static void
swim_apply_suspect(struct swim *s, uint64_t node, uint64_t inc, uint64_t from)
{
	swim_note_stale(s, node, inc);
	if (node == s->self.node) {
		if (inc >= s->self.inc && !s->leaving) {
			swim_refute(s, inc);
			/* and tell the accuser straight away: it may hold
			 * the short, lost-link suspicion */
			struct swim_member *acc = swim_find(s, from);
			if (acc != NULL && acc->status <= SWIM_SUSPECT)
				swim_send(s, &acc->addr, SWIM_PKT_GOSSIP, 0, 0,
					  NULL, NULL);
		}
		return;
	}
	struct swim_member *m = swim_find(s, node);
	if (m == NULL || m->status >= SWIM_DEAD || inc < m->inc)
		return;
	/*
	 * A suspicion of a life we have not seen alive (a restart, a move):
	 * adopting its incarnation would pin the old address, and the alive
	 * update that carries the new one would then look stale.  Wait for
	 * that alive update; a real failure still arrives as DEAD.  Invariant:
	 * m->inc is always the incarnation of m->addr.
	 */
	if (inc > m->inc)
		return;
	if (m->status == SWIM_SUSPECT && inc == m->inc) {
		/* an independent confirmation shortens the suspicion */
		for (uint32_t i = 0; i < m->nconfirm; i++)
			if (m->confirmers[i] == from)
				return;
		if (m->nconfirm == SWIM_CONFIRM_MAX)
			return;
		m->confirmers[m->nconfirm++] = from;
		swim_suspect_rearm(s, m);
		swim_broadcast(s, m, SWIM_UPD_SUSPECT, from);
		return;
	}
	m->inc = inc;
	m->status = SWIM_SUSPECT;
	m->since = m->suspect_start = swim_now(s);
	m->confirmers[0] = from;
	m->nconfirm = 1;
	swim_suspect_rearm(s, m);
	swim_broadcast(s, m, SWIM_UPD_SUSPECT, from);
	swim_event(s, m, SWIM_EV_SUSPECT);
}

static void
swim_apply_dead(struct swim *s, uint64_t node, uint64_t inc, uint64_t from,
		bool left)
{
	swim_note_stale(s, node, inc);
	if (node == s->self.node) {
		if (!left && inc >= s->self.inc)
			swim_refute(s, inc);
		return;
	}
	struct swim_member *m = swim_find(s, node);
	if (m == NULL || m->status >= SWIM_DEAD || inc < m->inc)
		return;
	/*
	 * The incarnation we keep is the one whose address we know: only an
	 * alive update may raise it (see swim_apply_suspect).  A death of a
	 * newer life is recorded against the life we know.
	 */
	m->status = left ? SWIM_LEFT : SWIM_DEAD;
	m->since = swim_now(s);
	actor_timer_stop(s->actor, &m->suspect_timer);
	swim_broadcast(s, m, left ? SWIM_UPD_LEFT : SWIM_UPD_DEAD, from);
	swim_event(s, m, left ? SWIM_EV_LEFT : SWIM_EV_DEAD);
	/* what waits on a dead or departed node ends now, not at its own
	 * timeout: a fetch goes to another copy, a call fails over (a
	 * silent partition closes no link, so the transport cannot tell) */
	size_t failed = actor_sys_fail_node(s->actor->sys, m->node,
					    MIST_EUNREACHABLE);
	if (failed > 0)
		log_info("member %s (%016llx) %s: %zu request%s to it failed",
			 m->name, (unsigned long long)m->node,
			 left ? "left" : "dead", failed, failed == 1 ? "" : "s");
	if (!left) {
		s->stats.deaths_declared += from == s->self.node;
		log_info("member %s (%016llx) is dead", m->name,
			 (unsigned long long)m->node);
	}
}

/* Decodes one update at the cursor and applies it.  0 or MIST_EPROTO. */
static int
swim_read_update(struct swim *s, struct mp_cur *c)
{
	struct swim_update u;
	if (swim_update_decode(c, &u) != 0)
		return MIST_EPROTO;
	if (u.kind == SWIM_UPD_ALIVE)
		swim_apply_alive(s, u.node, u.inc, &u.addr, u.name, u.meta,
				 u.meta_len);
	else if (u.kind == SWIM_UPD_SUSPECT)
		swim_apply_suspect(s, u.node, u.inc, u.from);
	else
		swim_apply_dead(s, u.node, u.inc, u.from,
				u.kind == SWIM_UPD_LEFT);
	return 0;
}

/* ---------------------------------------------------------- probing */

static struct swim_member *
swim_next_target(struct swim *s)
{
	if (s->urgent != 0) {
		struct swim_member *m = swim_find(s, s->urgent);
		s->urgent = 0;
		if (m != NULL && m->status <= SWIM_SUSPECT)
			return m;
	}
	for (size_t tries = 0; tries < s->norder; tries++) {
		if (s->probe_idx >= s->norder) {
			s->probe_idx = 0;
			/* reshuffle each round (Fisher-Yates) */
			for (size_t i = s->norder; i > 1; i--) {
				size_t j = (size_t)swim_rand(s, i);
				struct swim_member *t = s->order[i - 1];
				s->order[i - 1] = s->order[j];
				s->order[j] = t;
			}
		}
		struct swim_member *m = s->order[s->probe_idx++];
		if (m->status <= SWIM_SUSPECT)
			return m;
	}
	return NULL;
}

static void
swim_probe_finish(struct swim *s)
{
	if (!s->probe.active)
		return;
	s->probe.active = false;
	struct swim_member *m = swim_find(s, s->probe.node);
	bool lost = m != NULL && m->link_lost_at != 0;
	/* this probe was the test, unless it was answered before the loss */
	if (lost && (!s->probe.acked || s->probe_started >= m->link_lost_at))
		m->link_lost_at = 0;
	if (s->probe.acked)
		return;
	/*
	 * Our own health (LHM), refined by the nacks as memberlist does:
	 * helpers that nacked are alive and hear us, so the silence is the
	 * target's, not ours; each missing nack counts against us; with no
	 * helper to ask, the failed probe itself does.  (Counting every
	 * failed probe slowed the members probing a dead node -- the very
	 * ones whose confirmations shorten its suspicion.)
	 */
	if (s->probe.expect_nacks == 0)
		swim_lhm_add(s, +1);
	for (uint32_t i = s->probe.nacks; i < s->probe.expect_nacks; i++)
		swim_lhm_add(s, +1);
	if (m != NULL && m->status <= SWIM_SUSPECT) {
		/* raises the suspicion, or confirms one we heard of */
		s->stats.suspects_raised += m->status == SWIM_ALIVE;
		if (lost && s->cfg.lost_link_suspicion_ms != 0) {
			m->short_suspicion = true;
			s->stats.lost_link_suspects++;
			log_info("member %s (%016llx) hung up its link and "
				 "does not answer: suspect for %u ms", m->name,
				 (unsigned long long)m->node,
				 s->cfg.lost_link_suspicion_ms);
		}
		swim_apply_suspect(s, m->node, m->inc, s->self.node);
		if (m->short_suspicion && m->status == SWIM_SUSPECT) {
			/* (a suspicion we had raised before is not rearmed
			 * by our own repeat) */
			swim_suspect_rearm(s, m);
			/* probe it again at once: the ping carries the
			 * suspicion (the suspect hears it first), and an
			 * answer takes the shortcut back */
			s->urgent = m->node;
		}
	}
}

static void
swim_probe_start(struct swim *s)
{
	swim_probe_finish(s);
	uint32_t scale = swim_scale(s);
	actor_timer_start(s->actor, &s->t_probe,
			  (uint64_t)s->cfg.probe_interval_ms * scale, 0,
			  TAG_PROBE);
	if (s->leaving)
		return;
	struct swim_member *m = swim_next_target(s);
	if (m == NULL)
		return;
	s->probe.active = true;
	s->probe.acked = false;
	s->probe.node = m->node;
	s->probe.seq = ++s->seq;
	s->probe.nacks = s->probe.expect_nacks = 0;
	s->probe_started = swim_now(s);
	s->stats.probes++;
	struct buf buddy = BUF_INIT;
	if ((s->cfg.lifeguard || m->short_suspicion) &&
	    m->status == SWIM_SUSPECT)
		swim_update_encode(&buddy, m, SWIM_UPD_SUSPECT, s->self.node);
	swim_send(s, &m->addr, SWIM_PKT_PING, s->probe.seq, m->node, NULL,
		  buddy.len ? &buddy : NULL);
	buf_destroy(&buddy);
	actor_timer_start(s->actor, &s->t_probe_timeout,
			  (uint64_t)s->cfg.probe_timeout_ms * scale, 0,
			  TAG_PROBE_TIMEOUT);
}

/*
 * A link to @a node was lost on its side (MSG_LINK_DOWN "lost").  A killed
 * process leaves exactly this, so probe the member now rather than when
 * its turn comes (within n periods); if that probe fails too, the
 * suspicion is the short one (lost_link_suspicion_ms).  A probe of another
 * member still waiting for its ack is not cut short: the member goes next.
 * At most one early start per probe timeout, however many links go.
 */
static void
swim_link_lost(struct swim *s, uint64_t node)
{
	struct swim_member *m = swim_find(s, node);
	if (m == NULL || m->status > SWIM_SUSPECT || s->leaving)
		return;
	s->stats.links_lost++;
	m->link_lost_at = swim_now(s);
	if (s->probe.active && !s->probe.acked && s->probe.node == node)
		return; /* the probe waiting for its ack decides */
	s->urgent = node;
	uint64_t gap = (uint64_t)s->cfg.probe_timeout_ms * swim_scale(s);
	if ((!s->probe.active || s->probe.acked) &&
	    swim_now(s) - s->probe_started >= gap) {
		actor_timer_stop(s->actor, &s->t_probe_timeout);
		swim_probe_start(s);
	}
}

static void
swim_probe_timeout(struct swim *s)
{
	if (!s->probe.active || s->probe.acked)
		return;
	struct swim_member *target = swim_find(s, s->probe.node);
	if (target == NULL)
		return;
	/* k random helpers among the others */
	size_t cand = 0;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i] != target && s->order[i]->status == SWIM_ALIVE)
			cand++;
	uint32_t k = s->cfg.indirect_checks;
	for (size_t i = 0; i < s->norder && k > 0 && cand > 0; i++) {
		struct swim_member *h = s->order[i];
		if (h == target || h->status != SWIM_ALIVE)
			continue;
		/* selection sampling: each remaining helper with k/cand */
		if (swim_rand(s, cand--) < k) {
			swim_send(s, &h->addr, SWIM_PKT_PING_REQ, s->probe.seq,
				  target->node, &target->addr, NULL);
			s->stats.ping_reqs++;
			k--;
			if (s->cfg.lifeguard)
				s->probe.expect_nacks++;
		}
	}
}

static void
swim_relay_start(struct swim *s, const struct sockaddr_storage *from,
		 uint32_t seq, uint64_t target,
		 const struct sockaddr_storage *taddr)
{
	for (int i = 0; i < SWIM_RELAYS; i++) {
		struct swim_relay *r = &s->relays[i];
		if (r->used)
			continue;
		r->used = true;
		r->my_seq = ++s->seq;
		r->their_seq = seq;
		r->requester = *from;
		swim_send(s, taddr, SWIM_PKT_PING, r->my_seq, target, NULL,
			  NULL);
		/* nack at 80 % of the probe timeout, so it arrives in time */
		actor_timer_start(s->actor, &r->timer,
				  s->cfg.probe_timeout_ms * 4 / 5, 0, TAG_RELAY);
		return;
	}
	/* no slot: stay silent, the requester counts a missing nack */
}

static void
swim_handle_ack(struct swim *s, uint32_t seq)
{
	if (s->probe.active && !s->probe.acked && seq == s->probe.seq) {
		s->probe.acked = true;
		s->stats.acks++;
		swim_lhm_add(s, -1);
		struct swim_member *m = swim_find(s, s->probe.node);
		if (m != NULL && m->short_suspicion &&
		    m->status == SWIM_SUSPECT) {
			/* it answers: the lost link meant nothing; until it
			 * refutes, the usual suspicion runs */
			m->short_suspicion = false;
			swim_suspect_rearm(s, m);
		}
		actor_timer_stop(s->actor, &s->t_probe_timeout);
		return;
	}
	for (int i = 0; i < SWIM_RELAYS; i++) {
		struct swim_relay *r = &s->relays[i];
		if (r->used && r->my_seq == seq) {
			swim_send(s, &r->requester, SWIM_PKT_ACK, r->their_seq,
				  0, NULL, NULL);
			actor_timer_stop(s->actor, &r->timer);
			r->used = false;
			return;
		}
	}
}

static void swim_pushpull(struct swim *s, uint64_t node);

static void
swim_packet(struct swim *s, const struct msg *msg)
{
	struct sockaddr_storage from;
	if (msg->len < sizeof(from)) {
		s->stats.bad_packets++;
		return;
	}
	memcpy(&from, msg->body, sizeof(from));
	struct swim_packet h;
	struct mp_cur c;
	const uint8_t *p = msg->body + sizeof(from);
	if (swim_packet_decode(p, msg->len - sizeof(from), &h, &c) != 0)
		goto bad;
	s->stats.packets_in++;
	bool bad_update = false;
	s->in_packet = true;
	s->stale = 0;
	for (uint32_t i = 0; i < h.nupdates && !bad_update; i++)
		bad_update = swim_read_update(s, &c) != 0;
	s->in_packet = false;
	if (s->stale != 0) {
		/* one answer per packet received: no amplification */
		const struct swim_member *m =
			s->stale == s->self.node ? &s->self
						 : swim_find(s, s->stale);
		struct buf fresh = BUF_INIT;
		swim_update_encode(&fresh, m, SWIM_UPD_ALIVE, 0);
		swim_send(s, &from, SWIM_PKT_GOSSIP, 0, 0, NULL, &fresh);
		buf_destroy(&fresh);
		s->stats.corrections++;
	}
	if (bad_update)
		goto bad;
	/*
	 * A packet from a member we do not know: its alive update ran out of
	 * retransmissions before reaching us.  Ask it for the full state
	 * rather than wait for the next anti-entropy round (at most once per
	 * probe interval per stranger).
	 */
	if (h.from != s->self.node && h.from != 0 &&
	    swim_find(s, h.from) == NULL) {
		uint64_t now = swim_now(s);
		uintptr_t last = (uintptr_t)map_get(&s->asked, h.from);
		if (last == 0 || now - last >= s->cfg.probe_interval_ms) {
			if (s->asked.len > SWIM_ASKED_MAX)
				map_destroy(&s->asked), map_init(&s->asked, now);
			map_put(&s->asked, h.from, (void *)(uintptr_t)now);
			swim_pushpull(s, h.from);
		}
	}
	switch (h.type) {
	case SWIM_PKT_PING:
		/* a ping meant for the node that had this address before */
		if (h.target != 0 && h.target != s->self.node)
			return;
		swim_send(s, &from, SWIM_PKT_ACK, h.seq, 0, NULL, NULL);
		break;
	case SWIM_PKT_ACK:
		swim_handle_ack(s, h.seq);
		break;
	case SWIM_PKT_PING_REQ:
		if (!h.have_taddr || h.target == 0)
			goto bad;
		swim_relay_start(s, &from, h.seq, h.target, &h.taddr);
		break;
	case SWIM_PKT_NACK:
		if (s->probe.active && h.seq == s->probe.seq)
			s->probe.nacks++;
		s->stats.nacks++;
		break;
	default:
		break;
	}
	return;
bad:
	s->stats.bad_packets++;
}

/* ------------------------------------------------------ dissemination */

/* Gossip goes to the live and to the recently dead, so they learn and
 * refute. */
static bool
swim_is_gossip_target(const struct swim_member *m, uint64_t now)
{
	return m->status <= SWIM_SUSPECT ||
	       (m->status == SWIM_DEAD && now - m->since < SWIM_GOSSIP_DEAD_MS);
}

static void
swim_gossip(struct swim *s)
{
	actor_timer_start(s->actor, &s->t_gossip, s->cfg.gossip_interval_ms, 0,
			  TAG_GOSSIP);
	if (s->nbq == 0)
		return;
	uint64_t now = swim_now(s);
	size_t cand = 0;
	for (size_t i = 0; i < s->norder; i++)
		if (swim_is_gossip_target(s->order[i], now))
			cand++;
	uint32_t k = s->cfg.gossip_nodes;
	for (size_t i = 0; i < s->norder && k > 0 && cand > 0 && s->nbq > 0;
	     i++) {
		struct swim_member *m = s->order[i];
		if (!swim_is_gossip_target(m, now))
			continue;
		if (swim_rand(s, cand--) < k) {
			swim_send(s, &m->addr, SWIM_PKT_GOSSIP, 0, 0, NULL,
				  NULL);
			k--;
		}
	}
}

static int
swim_update_kind(enum swim_status st)
{
	return st == SWIM_ALIVE	    ? SWIM_UPD_ALIVE
	       : st == SWIM_SUSPECT ? SWIM_UPD_SUSPECT
	       : st == SWIM_DEAD    ? SWIM_UPD_DEAD
				    : SWIM_UPD_LEFT;
}

/*
 * Full state as an array of updates (the push/pull body): ourselves, then
 * every member as an alive update (which carries its address, name and
 * metadata) followed, unless it is alive, by its current status.
 */
static void
swim_encode_state(struct swim *s, struct buf *b)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	size_t members = s->norder < SWIM_MAX_SYNC / 2 ? s->norder
						       : SWIM_MAX_SYNC / 2;
	uint32_t n = 1;
	for (size_t i = 0; i < members; i++)
		n += s->order[i]->status == SWIM_ALIVE ? 1 : 2;
	msgpack_pack_array(&pk, n);
	swim_update_encode(b, &s->self, SWIM_UPD_ALIVE, 0);
	for (size_t i = 0; i < members; i++) {
		struct swim_member *m = s->order[i];
		swim_update_encode(b, m, SWIM_UPD_ALIVE, 0);
		if (m->status != SWIM_ALIVE)
			swim_update_encode(b, m, swim_update_kind(m->status),
				      s->self.node);
	}
}

static void
swim_merge_state(struct swim *s, const uint8_t *p, size_t len)
{
	struct mp_cur c;
	uint32_t n;
	size_t used;
	if (mp_check(p, len, SWIM_PACKET_DEPTH, &used) != 0)
		return;
	mp_cur_init(&c, p, used);
	if (mp_read_array(&c, &n) != 0 || n > SWIM_MAX_SYNC)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (swim_read_update(s, &c) != 0) {
			s->stats.bad_packets++;
			return;
		}
	s->stats.syncs++;
}

static void
swim_pushpull(struct swim *s, uint64_t node)
{
	struct buf b = BUF_INIT;
	swim_encode_state(s, &b);
	struct actor_ref to = {node, ACTOR_SWIM};
	actor_request(s->actor, to, MSG_SWIM_SYNC, b.data, (uint32_t)b.len,
		      SWIM_SYNC_TIMEOUT_MS, NULL);
	buf_destroy(&b);
}

static void
swim_pushpull_tick(struct swim *s)
{
	/* scale with the cluster so total push/pull traffic stays flat */
	size_t n = swim_live_count(s);
	uint64_t every = s->cfg.pushpull_interval_ms;
	if (n > 32)
		every *= num_ceil_log(n, 2) - 4; /* ceil(log2(n/32)) + 1 */
	/*
	 * Right after start-up, exchange state sooner (0.25 ... 16 s): in a
	 * join storm, updates about early joiners are sent only a few times
	 * (the budget follows the cluster size at that moment), and two late
	 * joiners can miss each other with nothing to make either ping the
	 * other.  A handful of full exchanges repairs it in seconds.
	 */
	if (s->pushpull_next < every) {
		every = s->pushpull_next;
		s->pushpull_next *= 2;
	}
	actor_timer_start(s->actor, &s->t_pushpull, every, 0, TAG_PUSHPULL);
	size_t cand = 0;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i]->status == SWIM_ALIVE)
			cand++;
	size_t pick = cand ? (size_t)swim_rand(s, cand) : SIZE_MAX;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i]->status == SWIM_ALIVE && pick-- == 0) {
			swim_pushpull(s, s->order[i]->node);
			break;
		}
	/*
	 * Reconnect: also try one member we believe dead (not left).  After a
	 * partition heals this is how the two sides find each other again;
	 * the request simply times out while the member is really gone.
	 */
	size_t dead = 0;
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i]->status == SWIM_DEAD)
			dead++;
	if (dead == 0)
		return;
	pick = (size_t)swim_rand(s, dead);
	for (size_t i = 0; i < s->norder; i++)
		if (s->order[i]->status == SWIM_DEAD && pick-- == 0) {
			swim_pushpull(s, s->order[i]->node);
			return;
		}
}

static void
swim_reap(struct swim *s)
{
	actor_timer_start(s->actor, &s->t_reap, SWIM_REAP_EVERY_MS, 0,
			  TAG_REAP);
	uint64_t now = swim_now(s);
	for (size_t i = 0; i < s->norder;) {
		struct swim_member *m = s->order[i];
		if (m->status >= SWIM_DEAD && now - m->since >= s->cfg.dead_reap_ms) {
			swim_remove(s, m); /* moves the last one to i */
			continue;
		}
		i++;
	}
}

/* -------------------------------------------------------------- actor */

static void
swim_leave(struct swim *s)
{
	if (s->leaving)
		return;
	s->leaving = true;
	s->self.status = SWIM_LEFT;
	swim_broadcast(s, &s->self, SWIM_UPD_LEFT, s->self.node);
	/* tell a few members right away: we will not be here to gossip */
	uint32_t k = s->cfg.gossip_nodes, sent = 0;
	for (size_t i = 0; i < s->norder && sent < k; i++) {
		struct swim_member *m = s->order[i];
		if (m->status == SWIM_ALIVE) {
			swim_send(s, &m->addr, SWIM_PKT_GOSSIP, 0, 0, NULL,
				  NULL);
			sent++;
		}
	}
}

static void
swim_free(struct swim *s)
{
	swim_table_free(s);
	map_destroy(&s->asked);
	for (size_t i = 0; i < s->nbq; i++)
		free(s->bq[i]);
	free(s->bq);
	actor_timer_stop(s->actor, &s->t_probe);
	actor_timer_stop(s->actor, &s->t_probe_timeout);
	actor_timer_stop(s->actor, &s->t_gossip);
	actor_timer_stop(s->actor, &s->t_pushpull);
	actor_timer_stop(s->actor, &s->t_reap);
	for (int i = 0; i < SWIM_RELAYS; i++)
		actor_timer_stop(s->actor, &s->relays[i].timer);
	free(s->self.meta);
	free(s);
}

static void
swim_timer(struct swim *s, struct msg *m)
{
	switch (m->corr) {
	case TAG_PROBE: /* (a tick from before an early restart is
			   dropped by the runtime) */
		swim_probe_start(s);
		break;
	case TAG_PROBE_TIMEOUT:
		swim_probe_timeout(s);
		break;
	case TAG_GOSSIP:
		swim_gossip(s);
		break;
	case TAG_PUSHPULL:
		swim_pushpull_tick(s);
		break;
	case TAG_REAP:
		swim_reap(s);
		break;
	case TAG_SUSPECT: {
		struct swim_member *mb =
			container_of(m->ptr, struct swim_member, suspect_timer);
		if (mb->status == SWIM_SUSPECT)
			swim_apply_dead(s, mb->node, mb->inc, s->self.node,
					false);
		break;
	}
	case TAG_RELAY: {
		struct swim_relay *r =
			container_of(m->ptr, struct swim_relay, timer);
		if (r->used) {
			if (s->cfg.lifeguard)
				swim_send(s, &r->requester, SWIM_PKT_NACK,
					  r->their_seq, 0, NULL, NULL);
			r->used = false;
		}
		break;
	}
	}
}

/* In the actor's turn (MSG_SWIM_META): a new incarnation, gossiped. */
static void
swim_meta_changed(struct swim *s, const uint8_t *meta, uint32_t len)
{
	if (len > SWIM_MAX_META) {
		log_warn("swim: metadata of %u bytes refused (at most %d)", len,
			 SWIM_MAX_META);
		return;
	}
	swim_set_meta_of(&s->self, meta, (uint16_t)len);
	s->self.inc++;
	swim_broadcast(s, &s->self, SWIM_UPD_ALIVE, 0);
}

static void
swim_fn(struct actor *self, struct msg *m)
{
	struct swim *s = self->state;
	switch (m->type) {
	case MSG_GOSSIP_PACKET:
		swim_packet(s, m);
		break;
	case MSG_TIMER:
		swim_timer(s, m);
		break;
	case MSG_SWIM_SYNC:
		if (m->flags & MSG_F_REQUEST) {
			swim_merge_state(s, m->body, m->len);
			struct buf b = BUF_INIT;
			swim_encode_state(s, &b);
			actor_reply(self, m, MSG_SWIM_SYNC, b.data,
				    (uint32_t)b.len);
			buf_destroy(&b);
		} else if ((m->flags & MSG_F_REPLY) && m->status == 0) {
			swim_merge_state(s, m->body, m->len);
		}
		break;
	case MSG_LINK_UP:
	case MSG_LINK_DOWN: {
		uint64_t node;
		bool lost;
		if (swim_link_event_decode(m->body, m->len, &node, &lost) != 0)
			break;
		if (m->type == MSG_LINK_UP)
			swim_pushpull(s, node); /* a new link: this is join */
		else if (lost)
			swim_link_lost(s, node);
		break;
	}
	case MSG_SWIM_JOIN: {
		struct mp_cur c;
		uint64_t node;
		mp_cur_init(&c, m->body, m->len);
		if (mp_read_uint(&c, &node) == 0)
			swim_pushpull(s, node);
		break;
	}
	case MSG_SWIM_SUBSCRIBE:
		if (m->from.node != self->sys->node)
			break;
		if (s->nsubs < SWIM_MAX_SUBS)
			s->subs[s->nsubs++] = m->from.id;
		else
			log_warn("swim: refusing a %dth subscriber (actor %u)",
				 SWIM_MAX_SUBS + 1, m->from.id);
		break;
	case MSG_MEMBERS:
		if (m->flags & MSG_F_REQUEST)
			swim_members_reply(s, m);
		break;
	case MSG_SWIM_META:
		if (m->from.node == self->sys->node)
			swim_meta_changed(s, m->body, m->len);
		break;
	case MSG_SWIM_LEAVE:
		swim_leave(s);
		if (m->flags & MSG_F_REQUEST)
			actor_reply(self, m, MSG_SWIM_LEAVE, NULL, 0);
		break;
	case MSG_STOP:
		swim_leave(s);
		swim_free(s);
		self->state = NULL;
		break;
	default:
		if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

struct swim *
swim_spawn(struct actor_sys *sys, const struct swim_config *cfg,
	   const struct swim_transport *tr, const struct swim_self *self)
{
	struct swim *s = xcalloc(1, sizeof(*s));
	if (cfg)
		s->cfg = *cfg;
	else
		swim_config_default(&s->cfg);
	s->tr = *tr;
	s->actor = actor_spawn(sys, ACTOR_SWIM, "swim", swim_fn, s);
	if (s->actor == NULL) {
		free(s);
		return NULL;
	}
	map_init(&s->members, rng_next(&sys->rng));
	map_init(&s->asked, rng_next(&sys->rng));
	s->self.node = sys->node;
	snprintf(s->self.name, sizeof(s->self.name), "%s", self->name);
	s->self.addr = self->addr;
	s->self.inc = s->cfg.incarnation;
	s->self.status = SWIM_ALIVE;
	swim_set_meta_of(&s->self, self->meta, self->meta_len);
	/* start at a random phase so a cluster started at once desynchronises */
	actor_timer_start(s->actor, &s->t_probe,
			  swim_rand(s, s->cfg.probe_interval_ms) + 1, 0,
			  TAG_PROBE);
	actor_timer_start(s->actor, &s->t_gossip, s->cfg.gossip_interval_ms, 0,
			  TAG_GOSSIP);
	s->pushpull_next = SWIM_PUSHPULL_FIRST_MS;
	uint64_t first = SWIM_PUSHPULL_FIRST_MS +
			 swim_rand(s, SWIM_PUSHPULL_FIRST_MS);
	actor_timer_start(s->actor, &s->t_pushpull, first, 0, TAG_PUSHPULL);
	actor_timer_start(s->actor, &s->t_reap, SWIM_REAP_EVERY_MS, 0,
			  TAG_REAP);
	return s;
}

/* ---------------------------------------------------------- metadata */

int
swim_set_meta(struct actor_sys *sys, const uint8_t *meta, uint16_t len)
{
	return actor_sys_deliver(
		sys, actor_local_msg(sys, ACTOR_SWIM, MSG_SWIM_META, meta, len));
}
