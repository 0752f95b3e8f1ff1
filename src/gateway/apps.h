/*
 * apps.h -- the gateway's app table: the Parse applications this cluster
 * serves, their keys and their limits.  In memory for lookups (every HTTP
 * request names its app), in LMDB (table STORE_APPS: applicationId -> the
 * app map below, keys included) to survive restarts, and spread to every
 * member exactly like the credential table (creds.h).
 *
 * `mist apps create|list|show|set|delete` (MSG_APPS to ACTOR_GATEWAY)
 * applies on the agent it talks to, which "put"s the changed app to every
 * live member and pushes its whole table to members that come into sight
 * (apps_push_all).  The merge rule, the same on every member, whatever
 * order puts arrive in (apps_apply):
 *  - a deleted app (a tombstone) always wins and is never revived: not by
 *    a put with a higher rev, not by `create --id` of the same id, not by
 *    a member that missed the deletion and pushes its old copy;
 *  - otherwise the higher `rev` wins (create is rev 1, each set adds 1);
 *  - two different apps of the same rev (a set made on two agents before
 *    either heard of the other's) are ordered by their encoded bytes, so
 *    every member keeps the same one.
 * Tombstones are kept for ever (their keys wiped), which is why the table
 * bounds apps and tombstones separately (APPS_MAX, APPS_MAX_ENTRIES).
 *
 * Keys are 32 random bytes (libsodium) as 64 lowercase hex digits, like
 * Parse's.  apps_key_kind() says which of an app's four keys a string is,
 * comparing against all four in constant time.  The master key bypasses
 * every ACL, so it is honoured only from the app's master_nets (by default
 * 127.0.0.0/8 and ::1, as Parse Server's masterKeyIps): apps_master_allowed.
 *
 * Each app has a home: the node whose documents accessory (ACTOR_DOCS)
 * holds its documents.  create picks it through the caller's callback
 * (the gateway knows the members: gateway.c's gw_pick_home), which either
 * checks the node the operator named or picks the alive docs host with
 * the fewest apps.  Documents do not move when a set changes the home.
 *
 * MSG_APPS (98), msgpack maps to ACTOR_GATEWAY; replies are msgpack, and
 * a refused request gets an error reply (status MIST_E*) whose body is a
 * str saying why, for the operator:
 *
 *   request                                    reply
 *   {"op": "create", "name": str,              app map WITH keys
 *    "id"?: str, "rate"?: uint,
 *    "user_rate"?: uint, "ip_rate"?: uint,
 *    "deadline_ms"?: uint,
 *    "functions"?: [str...],
 *    "home"?: str (node name or 16-hex id),
 *    "master_from"?: [str CIDR...],
 *    "client_class_creation"?: bool,
 *    "functions_master"?: bool,
 *    "quota_bytes"?: uint,
 *    "index_budget"?: uint (automatic index bytes; 0: the default)}
 *   {"op": "list", "after"?: str}             [app map without keys...]:
 *                                              a page of the live apps
 *                                              with ids after "after", by
 *                                              id; empty past the last
 *   {"op": "show", "id": str}                  app map WITH keys
 *   {"op": "set", "id": str, any field of      app map WITH keys (rev+1)
 *    create but "id", "rotate_keys"?: bool}
 *   {"op": "delete", "id": str}                nil
 *   {"op": "put", "app": app map}              (member to member; nil if
 *                                              a request)
 *
 *   app map   {"applicationId": str, "name": str,
 *              "restKey": str, "javascriptKey": str,     (64 hex each;
 *              "clientKey": str, "masterKey": str,        "keys" above)
 *              "home": u64, "rate": u32, "userRate": u32, "ipRate": u32,
 *              "deadlineMs": u32, "functions": [str...],
 *              "masterFrom": [str CIDR...], "clientClassCreation": bool,
 *              "functionsMaster": bool (absent: false),
 *              "quotaBytes": u64, "indexBudget": u64,
 *              "rev": u64, "deleted": bool,
 *              "created": u64 (unix s)}
 *
 * Errors: EINVAL (a field out of bounds, said which), EEXIST (create --id
 * of an id in use or once used), ENOTFOUND (no such app; a --home that is
 * no alive member), EPERM (a --home that does not host documents), E2BIG
 * (APPS_MAX apps, or APPS_MAX_ENTRIES with tombstones), ENONODE (no alive
 * member hosts documents), EPROTO (malformed).
 *
 * Ownership: struct apps is the gateway actor's (caller storage); the apps
 * are allocated here and freed (keys wiped) by apps_destroy().  apps_get()
 * returns a pointer valid until the next apps_apply() or apps_request().
 */
#ifndef MIST_GATEWAY_APPS_H_INCLUDED
#define MIST_GATEWAY_APPS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/actor.h"
#include "exec/exec.h"
#include "store/store.h"
#include "util/map.h"

struct mp_cur;
struct msgpack_packer;

/** applicationId: [A-Za-z0-9_-]{1,63}, NUL included. */
#define APP_ID_MAX 64
/** Length of a generated applicationId: 20 of [A-Za-z0-9] (119 bits), as
 * Parse.com's dashboard made them. */
#define APP_ID_GEN_LEN 20
/** Keys: 32 random bytes as 64 hex digits, NUL included. */
#define APP_KEY_MAX 65
/** A name: 1..63 printable ASCII bytes, NUL included (shown in tables). */
#define APP_NAME_MAX 64
/** Add-on functions an app may call: a handful in practice; 32 x 64 bytes
 * keeps an app map a few KiB, cheap to push to every member. */
#define APP_MAX_FUNCTIONS 32
/** Networks the master key is accepted from: an operator's few admin
 * networks and loopback. */
#define APP_MAX_NETS 8
/*
 * Rates (requests/s; 0 = unlimited) at most a million: one agent's
 * listener serves on the order of 10^5 requests/s, so 10^6 is a cluster
 * of ten at full speed -- more is a typo, not a plan.
 */
#define APP_MAX_RATE 1000000u
/*
 * A request's default deadline, 10 s: a phone user gives up after a few
 * seconds, and Parse.com cut cloud functions at 15 s.  At most 60 s: the
 * idle timeout of most carrier proxies and load balancers, past which
 * the connection is likely gone anyway.
 */
#define APP_DEFAULT_DEADLINE_MS 10000u
#define APP_MAX_DEADLINE_MS 60000u
/** Storage quota at most 1 PiB (2^50): past any one home's disk, and far
 * from overflowing the byte counts the accessory adds to it. */
#define APP_MAX_QUOTA (1ull << 50)
/** The automatic indexes' budget (docs/INDEXES.md): bounded as the
 * quota is, for the same reason. */
#define APP_MAX_INDEX_BUDGET (1ull << 50)
/*
 * 4096 apps per cluster: every member keeps every app (a few KiB each, so
 * ~10 MiB) and pushes them all to a member that comes into sight.
 */
#define APPS_MAX 4096u
/* Apps and tombstones together: tombstones are kept so that no member
 * revives a deleted app; four per live app bounds the table to ~40 MiB
 * while allowing a lot of churn.  Past it create is refused (E2BIG). */
#define APPS_MAX_ENTRIES (4u * APPS_MAX)

struct app_net {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes; bits past prefix 0 */
	uint8_t family;	  /* 4 or 6 */
	uint8_t prefix;	  /* 0..32 or 0..128 */
};

struct app {
	char id[APP_ID_MAX];
	char name[APP_NAME_MAX];
	char rest_key[APP_KEY_MAX], js_key[APP_KEY_MAX],
		client_key[APP_KEY_MAX], master_key[APP_KEY_MAX];
	uint64_t home;			   /* node holding its documents */
	uint32_t rate, user_rate, ip_rate; /* requests/s, 0 = unlimited */
	uint32_t deadline_ms;		   /* a request's default deadline */
	uint32_t nfunctions;
	char functions[APP_MAX_FUNCTIONS][EXEC_NAME_MAX]; /* callable */
	uint32_t nnets;
	struct app_net master_nets[APP_MAX_NETS]; /* where the master key is
						     accepted; 0 nets: nowhere */
	bool client_class_creation; /* clients may create classes */
	bool functions_master; /* MIST_FN_MASTER functions' host calls use
				* the master key (default off) */
	uint64_t quota_bytes;	    /* 0 = none */
	/* bytes of automatic index entries at its home (0: the accessory's
	 * default, DOCS_INDEX_BUDGET); the caller map's "index_budget" */
	uint64_t index_budget;
	uint64_t rev;		    /* higher wins when spreading */
	bool deleted;		    /* a tombstone: keys wiped */
	uint64_t created;	    /* unix seconds */
};

struct apps {
	struct map table; /* keyed siphash of the id (probing) -> struct app */
	struct store *store; /* may be NULL: memory only */
	uint8_t hkey[16];    /* the siphash key, random per table */
	uint32_t live;	     /* entries not deleted */
};

/** Which key of an app a string is (apps_key_kind). */
enum app_key_kind {
	APP_KEY_NONE = 0,
	APP_KEY_REST,
	APP_KEY_JS,
	APP_KEY_CLIENT,
	APP_KEY_MASTER,
};

/** The bounds of an id, a name and a function name (@a n bytes at @a s,
 * no NUL needed), the same in the gateway and the CLI. */
bool apps_id_valid(const char *s, uint32_t n);
bool apps_name_valid(const char *s, uint32_t n);
bool apps_fn_valid(const char *s, uint32_t n);
/** Sets up the table and loads what @a store holds (may be NULL). */
void apps_init(struct apps *t, struct store *store);
/** Wipes and frees every app. */
void apps_destroy(struct apps *t);
/** The live app @a id (NUL-terminated), or NULL (none, or deleted). */
const struct app *apps_get(const struct apps *t, const char *id);
/** Live apps in the table. */
uint32_t apps_count(const struct apps *t);
/** Live apps whose home is @a node. */
uint32_t apps_homed(const struct apps *t, uint64_t node);
/**
 * Which of @a a's keys @a key is (NUL-terminated, any length): all four
 * are compared in constant time (sodium_memcmp), whatever matches.
 */
enum app_key_kind apps_key_kind(const struct app *a, const char *key);
/** True if the master key may be used from address @a ip (IPv4, IPv6 or
 * an IPv4-mapped IPv6 text); false for anything that does not parse. */
bool apps_master_allowed(const struct app *a, const char *ip);
/** Parses "ADDR[/PREFIX]" (IPv4 or IPv6; an IPv4-mapped IPv6 network is
 * taken as IPv4) into @a out, host bits cleared.  0 or MIST_EINVAL. */
int apps_net_parse(const char *text, struct app_net *out);
/** "ADDR/PREFIX" of @a n into @a out (INET6_ADDRSTRLEN + 4 suffices). */
void apps_net_format(const struct app_net *n, char *out, size_t len);
/** The defaults of a new app: deadline, master nets (loopback). */
void apps_defaults(struct app *a);
/**
 * Applies @a in by the merge rule above (stored if it changes the table).
 * Returns true if the table changed.  Refused (false, logged) past
 * APPS_MAX_ENTRIES for an id not in the table.
 */
bool apps_apply(struct apps *t, const struct app *in);
/** Appends app map @a a to @a pk, keys included if @a with_keys. */
void apps_pack(struct msgpack_packer *pk, const struct app *a,
	       bool with_keys);
/**
 * Reads one app map at @a c into @a a, every field bounded as create
 * bounds it; the keys are required if @a need_keys and the app is not
 * deleted.  0 or MIST_EPROTO.
 */
int apps_read(struct mp_cur *c, struct app *a, bool need_keys);
/** Sends app @a a to node @a node's gateway (a put). */
void apps_push(struct actor *self, uint64_t node, const struct app *a);
/** Sends every app (tombstones too) to node @a node's gateway. */
void apps_push_all(const struct apps *t, struct actor *self, uint64_t node);
/**
 * Where a new app's documents go: @a want is the node the operator named
 * (a name or 16 hex digits), or NULL to pick one.  Returns 0 and the node
 * in *@a home, or an error with a sentence in @a why.
 */
typedef int (*apps_home_fn)(void *ctx, const char *want, uint64_t *home,
			    char *why, size_t whylen);
/**
 * Handles MSG_APPS @a m (create, list, show, set, delete, put); a change
 * is spread to @a alive (node -> anything); @a pick_home chooses homes.
 * Replies to requests.
 */
void apps_request(struct apps *t, struct actor *self, const struct map *alive,
		  apps_home_fn pick_home, void *ctx, struct msg *m);

#endif
