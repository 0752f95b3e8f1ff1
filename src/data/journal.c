/*
 * journal.c -- the data manager's jobs in LMDB (table "jobs"), and their
 * replay when the agent starts.
 *
 * Key = job id (8 bytes, big-endian) + kind (1) + seq (4, big-endian):
 *
 *   'A' 0    [cred u64, create body bin]   the job, as JOB_CREATE made it
 *   'B' n    [first, [task...]]            the n-th task batch, as the
 *                                          client sent it (jobmsg.h)
 *   'C' n    [[task u32, node u64, [size u64...]]...]  completions,
 *                                          batched every tick
 *   'D' 0    ""                            cancelled
 *   'E' n    [[task u32, out u32, node u64]...]  checkpoint copies made
 *                                          (ckpt.c), with the completions
 *   'F' 0    [nodes_lost u32, failed_over u32, recomputed u32, last str]
 *                                          the recovery counts after the
 *                                          last recovery (client.c; one
 *                                          key, rewritten each time)
 *
 * The kinds sort in replay order.  Completions are written in batches, so
 * a crash loses at most one tick of them: those tasks run again, which is
 * harmless because functions are deterministic.  Completions on the owner
 * itself are not replayed (its values died with it).
 *
 * Every record is also kept in the job's memory (j->recs) and shipped to
 * its standby (standby.c), which keeps the same records -- its replica --
 * and replays them as below when it takes the job over.  Only the jobs
 * this node created are in its LMDB table (the key names no owner); a
 * job taken over lives on in the replica at its new standby.
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "net/mp.h"
#include "util/log.h"

#include <msgpack.h>
#include <string.h>

/* job (8) + kind (1) + seq (4) */
#define JOURNAL_KEY_LEN 13

static void
journal_key(uint8_t k[JOURNAL_KEY_LEN], uint64_t job, char kind, uint32_t seq)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(job >> (56 - 8 * i));
	k[8] = (uint8_t)kind;
	buf_put_u32be(k + 9, seq);
}

/* Record framing in j->recs: kind u8, seq u32be, len u32be, bytes. */
void
journal_rec_append(struct job *j, char kind, uint32_t seq, const void *val,
		   size_t len)
{
	uint8_t h[9];
	h[0] = (uint8_t)kind;
	buf_put_u32be(h + 1, seq);
	buf_put_u32be(h + 5, (uint32_t)len);
	buf_append(&j->recs, h, sizeof(h));
	buf_append(&j->recs, val, len);
}

void
journal_put(struct data *d, struct job *j, char kind, uint32_t seq,
	    const void *val, size_t len)
{
	if (d->replaying)
		return;
	journal_rec_append(j, kind, seq, val, len);
	standby_send(d, j, kind, seq, val, len);
	if (d->store == NULL || j->origin != data_self(d))
		return;
	uint8_t k[JOURNAL_KEY_LEN];
	journal_key(k, j->id, kind, seq);
	store_put(d->store, STORE_JOBS, k, sizeof(k), val, len, NULL, NULL);
}

void
journal_created(struct data *d, struct job *j, const uint8_t *body,
		uint32_t len)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, j->cred);
	msgpack_pack_bin_with_body(&pk, body, len);
	journal_put(d, j, 'A', 0, b.data, b.len);
	buf_destroy(&b);
}

void
journal_completed(struct job *j, uint32_t task, uint64_t node,
		  const uint64_t *sizes, uint32_t n)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, &j->dlog, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, task);
	msgpack_pack_uint64(&pk, node);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		msgpack_pack_uint64(&pk, sizes[i]);
	j->dcount++;
	if (j->dlog.len > DATA_JOURNAL_FLUSH_BYTES)
		journal_flush(j);
}

void
journal_flush(struct job *j)
{
	if (j->dcount == 0) {
		ckpt_flush(j->d, j);
		return;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, j->dcount);
	buf_append(&b, j->dlog.data, j->dlog.len);
	journal_put(j->d, j, 'C', j->dseq++, b.data, b.len);
	buf_destroy(&b);
	buf_reset(&j->dlog);
	j->dcount = 0;
	/* checkpoint copies after the completions they name: a replay in
	 * record order (a standby's) applies a copy to a task done */
	ckpt_flush(j->d, j);
}

void
journal_drop(struct data *d, struct job *j)
{
	if (d->store == NULL || j->origin != data_self(d))
		return;
	uint8_t k[JOURNAL_KEY_LEN];
	journal_key(k, j->id, 'A', 0);
	store_del(d->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	for (uint32_t i = 0; i < j->tseq; i++) {
		journal_key(k, j->id, 'B', i);
		store_del(d->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	}
	for (uint32_t i = 0; i < j->dseq; i++) {
		journal_key(k, j->id, 'C', i);
		store_del(d->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	}
	journal_key(k, j->id, 'D', 0);
	store_del(d->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	for (uint32_t i = 0; i < j->ck.eseq; i++) {
		journal_key(k, j->id, 'E', i);
		store_del(d->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	}
}

/* ------------------------------------------------------------- replay */

struct replay {
	struct data *d;
	struct job *j;
};

static void
replay_created(struct replay *r, uint64_t jid, const void *val, size_t vlen)
{
	struct data *d = r->d;
	struct mp_cur c;
	uint32_t n;
	uint64_t cred;
	const uint8_t *inner;
	uint32_t ilen;
	mp_cur_init(&c, val, vlen);
	if (mp_check(val, vlen, MP_MAX_DEPTH, &(size_t){0}) != 0 ||
	    mp_read_array(&c, &n) != 0 || n != 2 ||
	    mp_read_uint(&c, &cred) != 0 || mp_read_bin(&c, &inner, &ilen) != 0)
		return;
	/* a restart is a new epoch: the old process's attempts are stale */
	r->j = data_job_new(d, data_self(d), jid, cred, (uint32_t)d->boot);
	if (r->j == NULL)
		return;
	journal_rec_append(r->j, 'A', 0, val, vlen);
	client_apply_create(r->j, inner, ilen);
	if ((uint32_t)jid > d->next_job && jid >> 32 == d->boot)
		d->next_job = (uint32_t)jid;
}

void
journal_apply_completed(struct data *d, struct job *j, const void *val,
			size_t vlen, uint64_t skip)
{
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, val, vlen);
	if (mp_read_array(&c, &n) != 0 || n > vlen)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t three, ns;
		uint64_t task, node, sizes[JOBS_MAX_OUTPUTS];
		if (mp_read_array(&c, &three) != 0 || three != 3 ||
		    mp_read_uint(&c, &task) != 0 ||
		    mp_read_uint(&c, &node) != 0 ||
		    mp_read_array(&c, &ns) != 0 || ns > JOBS_MAX_OUTPUTS)
			return;
		for (uint32_t s = 0; s < ns; s++)
			if (mp_read_uint(&c, &sizes[s]) != 0)
				return;
		struct gtask *t = task <= UINT32_MAX
			? graph_task(&j->g, (uint32_t)task) : NULL;
		if (node == skip || t == NULL || t->nout != ns)
			continue;
		if (t->state == G_DONE) {
			/* done again (its value was lost and recomputed):
			 * one more holder of each output still kept */
			for (uint32_t o = 0; o < ns; o++) {
				struct gref r = {(uint32_t)task, o};
				if (!graph_value(&j->g, r)->freed)
					graph_value_copied(&j->g, r, node);
			}
			continue;
		}
		if (t->state != G_READY)
			continue;
		uint32_t a = graph_start(&j->g, (uint32_t)task, node);
		graph_done(&j->g, (uint32_t)task, a, node, sizes);
	}
}

static int
replay_cb(void *arg, const void *key, size_t klen, const void *val,
	  size_t vlen)
{
	struct replay *r = arg;
	struct data *d = r->d;
	const uint8_t *k = key;
	if (klen != JOURNAL_KEY_LEN || vlen > UINT32_MAX)
		return 0;
	uint64_t jid = 0;
	for (int i = 0; i < 8; i++)
		jid = jid << 8 | k[i];
	uint32_t seq = buf_get_u32be(k + 9);
	if (k[8] == 'A') {
		replay_created(r, jid, val, vlen);
		return 0;
	}
	struct job *j = r->j;
	if (j == NULL || j->id != jid)
		return 0;
	if (k[8] >= 'B' && k[8] <= 'F')
		journal_rec_append(j, (char)k[8], seq, val, vlen);
	if (k[8] == 'B') {
		if (client_add_tasks(d, j, val, (uint32_t)vlen) == 0)
			j->tseq = seq + 1;
	} else if (k[8] == 'C') {
		j->dseq = seq + 1;
		/* this node's own values died with its last process */
		journal_apply_completed(d, j, val, vlen, data_self(d));
	} else if (k[8] == 'D') {
		j->cancelled = true;
		graph_cancel(&j->g, MIST_ECANCELED, "the job was cancelled");
	} else if (k[8] == 'E') {
		j->ck.eseq = seq + 1;
		/* copies on this node died with it, as its completions did */
		ckpt_apply_copied(j, val, vlen, data_self(d));
	} else if (k[8] == 'F') {
		journal_apply_recovered(d, j, val, vlen);
	}
	return 0;
}

/* Takes @a j's records of @a kind out of j->recs. */
static void
rec_drop(struct job *j, char kind)
{
	uint8_t *p = j->recs.data, *end = p + j->recs.len;
	while (p + 9 <= end) {
		size_t n = 9 + buf_get_u32be(p + 5);
		if (p[0] != (uint8_t)kind) {
			p += n;
			continue;
		}
		memmove(p, p + n, (size_t)(end - p) - n);
		end -= n;
		j->recs.len -= n;
	}
}

void
journal_recovered(struct data *d, struct job *j)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, j->rec.nodes_lost);
	msgpack_pack_uint32(&pk, j->g.lost_attempts);
	msgpack_pack_uint32(&pk, j->g.recomputed);
	mp_pack_str(&pk, j->rec.last);
	/* one 'F' in the job's records, as on disk: the last counts say all
	 * (a re-ship sends that one; a standby already sent older ones
	 * replays them in order, the last winning) */
	rec_drop(j, 'F');
	journal_put(d, j, 'F', 0, b.data, b.len);
	buf_destroy(&b);
}

void
journal_apply_recovered(struct data *d, struct job *j, const void *val,
			size_t vlen)
{
	struct mp_cur c;
	uint32_t n, tl;
	uint64_t lost, over, again;
	const char *t;
	mp_cur_init(&c, val, vlen);
	if (mp_read_array(&c, &n) != 0 || n < 4 ||
	    mp_read_uint(&c, &lost) != 0 || lost > UINT32_MAX ||
	    mp_read_uint(&c, &over) != 0 || over > UINT32_MAX ||
	    mp_read_uint(&c, &again) != 0 || again > UINT32_MAX ||
	    mp_read_str(&c, &t, &tl) != 0 || tl >= sizeof(j->rec.last))
		return;
	j->rec.nodes_lost = (uint32_t)lost;
	j->g.lost_attempts = (uint32_t)over;
	j->g.recomputed = (uint32_t)again;
	memcpy(j->rec.last, t, tl);
	j->rec.last[tl] = '\0';
	j->rec.last_at = tl ? data_now(d) : 0;
	if (tl && j->rec.last_at == 0)
		j->rec.last_at = 1;
}

void
journal_replay(struct data *d)
{
	if (d->store == NULL)
		return;
	struct replay r = {d, NULL};
	d->replaying = true;
	store_scan(d->store, STORE_JOBS, NULL, 0, replay_cb, &r);
	d->replaying = false;
	if (d->jobs.len)
		log_info("resumed %zu job(s) from the journal", d->jobs.len);
}
