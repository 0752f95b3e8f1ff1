/*
 * spread.c -- puts of replicated gateway records to members (spread.h).
 */
#include "config.h"
#include "gateway/spread.h"
#include "net/mp.h"
#include "util/buf.h"

#include <sodium.h>

void
spread_put(struct actor *self, uint64_t node, uint32_t type,
	   const char *field, spread_pack_fn pack, const void *rec)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, "put");
	mp_pack_str(&pk, field);
	pack(&pk, rec);
	struct actor_ref to = {node, ACTOR_GATEWAY};
	actor_tell(self, to, type, b.data, (uint32_t)b.len);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}

void
spread_put_alive(struct actor *self, const struct map *alive, uint32_t type,
		 const char *field, spread_pack_fn pack, const void *rec)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(alive, &it, &k, &v))
		if (k != self->sys->node)
			spread_put(self, k, type, field, pack, rec);
}

void
spread_put_all(struct actor *self, const struct map *table, uint64_t node,
	       uint32_t type, const char *field, spread_pack_fn pack)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(table, &it, &k, &v))
		spread_put(self, node, type, field, pack, v);
}
