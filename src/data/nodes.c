/*
 * nodes.c -- the data manager's node table and its function names.
 *
 * A node is what gossip says of it (its metadata, data/meta.h) -- and for
 * this node, what the executor pool says -- plus what this owner learnt:
 * its attempts in flight and the time each function took there.
 *
 * Function names live in two tables, so that no client can starve
 * another of names:
 *  - the registry: names some member offers or offered, filled only from
 *    members' metadata (trusted, and each member lists a few dozen at
 *    most).  It carries what is learnt of a function across jobs.
 *  - each job's own table: the names its tasks call, interned as batches
 *    arrive, DATA_JOB_MAX_FNS at most.  A job that fills its table with
 *    junk is refused more names (E2BIG) and harms nobody else.  A name
 *    resolves to the registry when some member offers it, possibly later
 *    (gossip converges after the job starts).
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ the registry */

/* FNV-1a: the registry's keys are names members chose, not clients */
static uint64_t
fn_hash(const char *s, uint32_t len)
{
	return hash_fnv(HASH_FNV_INIT, s, len);
}

static bool
name_eq(const char *name, const char *s, uint32_t len)
{
	return strlen(name) == len && memcmp(name, s, len) == 0;
}

/* The index of @a s, or -1; *@a slot: where it is or would go. */
static int
names_lookup(const struct data *d, const char *s, uint32_t len, uint64_t *slot)
{
	/* a collision takes the next key: the map holds few, so a free key
	 * comes soon */
	for (uint64_t h = fn_hash(s, len);; h++) {
		void *v = map_get(&d->reg_index, h);
		*slot = h;
		if (v == NULL)
			return -1;
		uint32_t i = (uint32_t)((uintptr_t)v - 1);
		if (name_eq(d->reg[i].name, s, len))
			return (int)i;
	}
}

static int
names_find(const struct data *d, const char *s, uint32_t len)
{
	uint64_t slot;
	return names_lookup(d, s, len, &slot);
}

/* The index of offered name @a s, learnt if new; -1 if not a name or the
 * registry is full (said once). */
static int
names_offered(struct data *d, const char *s, uint32_t len)
{
	if (len == 0 || len >= EXEC_NAME_MAX)
		return -1;
	uint64_t slot;
	int i = names_lookup(d, s, len, &slot);
	if (i >= 0)
		return i;
	if (d->nreg == DATA_MAX_OFFERED) {
		if (!d->reg_full_said)
			log_warn("data: members offer more than %d distinct "
				 "functions; '%.*s' and later ones are not "
				 "learnt (tasks calling them fail: ENOFUNC)",
				 DATA_MAX_OFFERED, (int)len, s);
		d->reg_full_said = true;
		return -1;
	}
	if (d->nreg == d->capreg) {
		d->capreg = d->capreg ? 2 * d->capreg : 16;
		d->reg = xrealloc(d->reg, d->capreg * sizeof(*d->reg));
	}
	struct fnreg *f = &d->reg[d->nreg];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, s, len);
	f->ref_exec_ms = -1;
	map_put(&d->reg_index, slot, (void *)(uintptr_t)(d->nreg + 1));
	return (int)d->nreg++;
}

void
names_destroy(struct data *d)
{
	free(d->reg);
	map_destroy(&d->reg_index);
}

/* ------------------------------------------------------ a job's names */

int
names_job_intern(struct data *d, struct job *j, const char *s, uint32_t len)
{
	if (len == 0 || len >= EXEC_NAME_MAX)
		return MIST_EINVAL;
	for (uint32_t i = 0; i < j->nfns; i++)
		if (name_eq(j->fns[i].name, s, len))
			return (int)i;
	if (j->nfns == DATA_JOB_MAX_FNS) {
		log_warn("data: job %016llx calls more than %d distinct "
			 "functions: '%.*s' refused", (unsigned long long)j->id,
			 DATA_JOB_MAX_FNS, (int)len, s);
		return MIST_E2BIG;
	}
	if (j->nfns == j->capfns) {
		j->capfns = j->capfns ? 2 * j->capfns : 4;
		j->fns = xrealloc(j->fns, j->capfns * sizeof(*j->fns));
	}
	struct jobfn *f = &j->fns[j->nfns];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, s, len);
	f->reg = names_find(d, s, len);
	return (int)j->nfns++;
}

int
names_job_reg(struct data *d, struct job *j, uint16_t fn)
{
	struct jobfn *f = &j->fns[fn];
	if (f->reg < 0) /* offered since? */
		f->reg = names_find(d, f->name, (uint32_t)strlen(f->name));
	return f->reg;
}

/* --------------------------------------------------------- the nodes */

struct nodeinfo *
nodes_get(struct data *d, uint64_t id)
{
	struct nodeinfo *n = map_get(&d->nodes, id);
	if (n == NULL) {
		n = xcalloc(1, sizeof(*n));
		n->id = id;
		n->cores = 1;
		n->speed = 1;
		n->tier = TIER_FOG;
		map_put(&d->nodes, id, n);
	}
	return n;
}

void
nodes_free(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &it, &k, &v)) {
		free(((struct nodeinfo *)v)->fns);
		free(v);
	}
	map_destroy(&d->nodes);
}

struct nodefn *
nodes_fn(const struct nodeinfo *n, uint32_t fn)
{
	return fn < n->nfns && n->fns[fn].fn == fn ? &n->fns[fn] : NULL;
}

void
nodes_set_fns(struct data *d, struct nodeinfo *n, const char *const *names,
	     const uint32_t *lens, uint32_t count)
{
	int *f = xmalloc((count ? count : 1) * sizeof(*f));
	uint32_t len = 0;
	for (uint32_t i = 0; i < count; i++) {
		f[i] = names_offered(d, names[i], lens[i]); /* < 0: said */
		if (f[i] >= 0 && (uint32_t)f[i] + 1 > len)
			len = (uint32_t)f[i] + 1;
	}
	/* indexed by registry index (below DATA_MAX_OFFERED): a name listed
	 * twice counts once, and what was learnt of a name kept is kept */
	struct nodefn *fns = xmalloc((len ? len : 1) * sizeof(*fns));
	for (uint32_t i = 0; i < len; i++)
		fns[i] = (struct nodefn){NODES_FN_NONE, -1};
	for (uint32_t i = 0; i < count; i++) {
		if (f[i] < 0)
			continue;
		struct nodefn *old = nodes_fn(n, (uint32_t)f[i]);
		fns[f[i]] = (struct nodefn){(uint32_t)f[i],
					    old ? old->exec_ms : -1};
	}
	free(f);
	free(n->fns);
	n->fns = fns;
	n->nfns = len;
}

void
nodes_apply_meta(struct data *d, struct nodeinfo *n, const struct meta *m)
{
	int t = place_tier_parse(m->tier, (uint32_t)strlen(m->tier));
	n->tier = t ? t : TIER_FOG;
	n->cores = m->cores == 0 ? 1
		   : m->cores > DATA_MAX_CORES ? DATA_MAX_CORES : m->cores;
	n->speed = m->speed > 0 && m->speed < DATA_MAX_SPEED ? m->speed : 1;
	n->power = m->power >= 0 && m->power < DATA_MAX_POWER ? m->power : 0;
	n->price = m->price >= 0 && m->price < DATA_MAX_PRICE ? m->price : 0;
	const char *names[META_MAX_FUNCTIONS];
	uint32_t lens[META_MAX_FUNCTIONS];
	for (uint32_t i = 0; i < m->nfunctions; i++) {
		names[i] = m->functions[i];
		lens[i] = (uint32_t)strlen(m->functions[i]);
	}
	nodes_set_fns(d, n, names, lens, m->nfunctions);
}
