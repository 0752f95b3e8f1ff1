/*
 * vstore.h -- the values this node holds, for any job of any owner.
 *
 * A value is named (owner node, job, task, output) and immutable.  The
 * function actor puts the outputs of the attempts it ran and the inputs it
 * fetched; the data manager serves them to peers and frees them when their
 * owner says so.  Both actors run on the node's one thread and share it.
 *
 * Ownership: the store owns the bytes.  vstore_get() returns a pointer
 * valid until the next vstore_put/vstore_free* call on the same store.
 */
#ifndef MIST_DATA_VSTORE_H_INCLUDED
#define MIST_DATA_VSTORE_H_INCLUDED

#include <stdint.h>

#include "util/map.h"

struct vkey {
	uint64_t owner, job;
	uint32_t task, out;
};

struct vstore {
	struct map m; /* hash -> chain of struct sval */
	uint64_t bytes, count;
};

void vstore_init(struct vstore *vs);
void vstore_destroy(struct vstore *vs);
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
