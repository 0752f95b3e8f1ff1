/*
 * creds.h -- the gateway's credential table: in memory for lookups, in
 * LMDB (table "creds": id (8 bytes) -> the credential's map) to survive
 * restarts, and spread to every member.
 *
 * `mist creds create|list|revoke` (MSG_CREDS to ACTOR_GATEWAY) applies on
 * the agent it talks to, which forwards the change to every live member
 * ("put") and pushes its whole table to members that come into sight.  A
 * revocation always wins: a revoked credential is never brought back, not
 * by a put of the same id, not by a member that missed the revocation.
 * A put with another role changes the role; the gateway reads the table
 * at every request, so the change holds from the next request on.
 *
 *   MSG_CREDS  {"op": "create", "name": str (1..63 bytes),
 *               "role": "submit"|"admin"}
 *              -> {"credential": "mist1:...", "info": cred map}
 *              {"op": "list"} -> [cred map (no secret)...]
 *              {"op": "revoke", "id": u64} -> nil (ENOTFOUND: no such id)
 *              {"op": "put", "cred": cred map with "secret"} (member to member)
 *   cred map   {"id": u64, "name": str, "role": "submit"|"admin",
 *               "revoked": bool, "created": u64 (unix s), "secret": bin 32}
 *
 * Ownership: struct creds is the gateway actor's (caller storage); the
 * credentials are allocated here and freed (wiped) by creds_destroy().
 * creds_get() returns a pointer valid until the next creds_apply() or
 * creds_request() on the table.
 */
#ifndef MIST_GATEWAY_CREDS_H_INCLUDED
#define MIST_GATEWAY_CREDS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "actors/actor.h"
#include "store/store.h"
#include "util/map.h"

/** Bound on a credential's name, with its NUL. */
#define CRED_NAME_MAX 64

struct cred {
	uint64_t id;
	uint8_t secret[32];
	uint8_t role; /* enum job_role */
	bool revoked;
	char name[CRED_NAME_MAX];
	uint64_t created; /* unix seconds */
};

struct creds {
	struct map table;    /* id -> struct cred */
	struct store *store; /* may be NULL: memory only */
	/** Called once when a credential becomes revoked (may be NULL). */
	void (*revoked)(void *ctx, uint64_t id);
	void *ctx;
};

/** Sets up the table and loads what @a store holds. */
void creds_init(struct creds *t, struct store *store, uint64_t salt);
/** Wipes and frees every credential. */
void creds_destroy(struct creds *t);
/** The credential @a id, or NULL. */
const struct cred *creds_get(const struct creds *t, uint64_t id);
/**
 * Applies @a in (stored, and the revoked hook called if it revokes).  A
 * revocation always wins.  Returns true if the table changed.
 */
bool creds_apply(struct creds *t, const struct cred *in);
/** Sends credential @a c to node @a node's gateway (a put). */
void creds_push(struct actor *self, uint64_t node, const struct cred *c);
/** Sends every credential to node @a node's gateway. */
void creds_push_all(const struct creds *t, struct actor *self, uint64_t node);
/**
 * Handles MSG_CREDS @a m (create, list, revoke, put); @a alive (node ->
 * anything) are the members a change is spread to.  Replies to requests.
 */
void creds_request(struct creds *t, struct actor *self,
		   const struct map *alive, struct msg *m);

#endif
