/*
 * vstore.h -- the values this node holds, for any job of any owner.
 *
 * A value is named (owner node, job, task, output) and immutable.  The
 * store belongs to the node's function actor (function/function.h), the
 * one actor that touches it: it keeps the outputs of the attempts it ran
 * and the inputs it fetched, serves them to peers (VALUE_GET) and frees
 * them when their owner says so (VALUE_FREE).
 *
 * Values are held as struct vval, one allocation each, so that bytes made
 * elsewhere -- an executor's output, read once from its pipe -- can be
 * handed over (vstore_adopt) instead of copied again.
 *
 * Ownership: the store owns the values it holds.  vstore_get() returns a
 * pointer valid until the next vstore_put/adopt/free* call on the store.
 * A struct vval not yet adopted is its creator's (vval_delete()).
 */
#ifndef MIST_FUNCTION_VSTORE_H_INCLUDED
#define MIST_FUNCTION_VSTORE_H_INCLUDED

#include <stdint.h>

#include "util/map.h"

struct vkey {
	uint64_t owner, job;
	uint32_t task, out;
};

/** A value's bytes, on their own until a store adopts them. */
struct vval;

/** A value of @a len bytes copied from @a data. */
struct vval *vval_new(const void *data, uint32_t len);
/** A value of @a len bytes to be written through vval_data(). */
struct vval *vval_alloc(uint32_t len);
uint8_t *vval_data(struct vval *v);
uint32_t vval_len(const struct vval *v);
void vval_delete(struct vval *v);

struct vstore {
	struct map m; /* hash -> chain of struct vval */
	uint64_t bytes, count;
};

void vstore_init(struct vstore *vs);
void vstore_destroy(struct vstore *vs);
/** Takes @a v as the value of @a k (replacing an older one). */
void vstore_adopt(struct vstore *vs, const struct vkey *k, struct vval *v);
/** Stores a copy of @a data (replacing an older copy). */
void vstore_put(struct vstore *vs, const struct vkey *k, const uint8_t *data,
		uint32_t len);
/** The bytes of @a k or NULL. */
const uint8_t *vstore_get(const struct vstore *vs, const struct vkey *k,
			  uint32_t *len);
void vstore_free(struct vstore *vs, const struct vkey *k);
/** Frees every value of (owner, job). */
void vstore_free_job(struct vstore *vs, uint64_t owner, uint64_t job);

#endif
