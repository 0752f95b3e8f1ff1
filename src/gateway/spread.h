/*
 * spread.h -- how the gateway's replicated tables (credentials, apps)
 * reach every member: a "put" of one record, to one member or to every
 * live one, and the whole table to a member that comes into sight.
 *
 *   MSG_CREDS / MSG_APPS  {"op": "put", FIELD: record map with secrets}
 *
 * The record carries secrets, so the encoded bytes are wiped once sent.
 * The rules of merging (revocation and deletion win; higher revisions
 * win) are each table's own (creds.c, apps.c).
 *
 * Ownership: nothing is kept; @a pack writes the record into the packer.
 */
#ifndef MIST_GATEWAY_SPREAD_H_INCLUDED
#define MIST_GATEWAY_SPREAD_H_INCLUDED

#include <msgpack.h>
#include <stdint.h>

#include "actors/actor.h"
#include "util/map.h"

/** Writes @a rec (with its secrets) as one msgpack map. */
typedef void (*spread_pack_fn)(msgpack_packer *pk, const void *rec);

/** Sends {"op": "put", @a field: rec} as @a type to @a node's gateway. */
void spread_put(struct actor *self, uint64_t node, uint32_t type,
		const char *field, spread_pack_fn pack, const void *rec);
/** The same to every node of @a alive (node -> anything) but this one. */
void spread_put_alive(struct actor *self, const struct map *alive,
		      uint32_t type, const char *field, spread_pack_fn pack,
		      const void *rec);
/** Every record of @a table (key -> record) to @a node. */
void spread_put_all(struct actor *self, const struct map *table,
		    uint64_t node, uint32_t type, const char *field,
		    spread_pack_fn pack);

#endif
