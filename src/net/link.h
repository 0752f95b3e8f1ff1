/*
 * link.h -- encrypted links between nodes over TCP.
 *
 * A link is one TCP connection, authenticated and encrypted with
 *
 *     Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b,  prologue "mist/link/1"
 *
 * Both sides prove their static key (the node identity); the cluster key as
 * PSK proves membership (a node without it fails the third message).  Then
 * the sealed stream (net/stream.h) carries batches of envelopes (wire.h):
 * each frame sealed with a counter nonce, both sides rekeying (Noise
 * Rekey()) every rekey_frames frames in each direction, without a message.
 *
 *   initiator                                     responder
 *     -> e                                     (frame: 32 bytes)
 *     <- e, ee, s, es          + hello payload (encrypted)
 *     -> s, se, psk            + hello payload (encrypted)
 *     <- (empty transport frame)  confirms: the responder accepted the PSK
 *    <=> transport frames    [len u32][ciphertext of envelopes + tag]
 *
 *   hello (msgpack map): {"v": 1, "name": str, "tier": str,
 *                         "addr": "ip:port", "role": 0 agent | 1 client}
 *
 * The initiator counts the link as up only when the confirmation arrives:
 * with XXpsk3 the responder checks the PSK in the third message, after the
 * initiator has finished, so a node holding the wrong key would otherwise
 * believe itself linked until the responder hangs up.
 *
 * Hostile peers: every length is bounded before buffering (a handshake
 * frame by LINK_HS_MAX, a transport frame by max_frame), a handshake that
 * does not finish within handshake_timeout is cut, at most max_handshakes
 * may be in progress at once, and any failure -- a bad tag (wrong key,
 * flipped bit, replayed or reordered frame), a malformed envelope, an
 * envelope claiming another sender or a type only the node itself may
 * produce (msgtype_is_local) -- closes that connection and only that
 * one.  Counters in struct link_stats record every reason.
 *
 * One link per pair of nodes: when a second one comes up (both sides
 * connected at once, or a peer reconnecting), the one initiated by the
 * smaller node id is kept; if both were initiated by the same side, the
 * newer one.  Both sides apply the same rule and agree.
 *
 * Events: notify_actor gets MSG_LINK_UP when a link to an agent is up and
 * MSG_LINK_DOWN when it goes; "lost" is true when the peer's side closed
 * or reset it (EOF, ECONNRESET, EPIPE) rather than us -- what a process
 * that died leaves behind, since its kernel closes its sockets.  SWIM
 * takes it as a reason to probe that member at once.
 *
 * Ownership: struct link_mgr is caller storage; links are allocated and
 * freed here.  link_mgr_close() is asynchronous: @a done runs once every
 * handle is closed.
 */
#ifndef MIST_NET_LINK_H_INCLUDED
#define MIST_NET_LINK_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "actors/actor.h"
#include "net/identity.h"
#include "net/keyring.h"
#include "net/noise.h"
#include "util/buf.h"
#include "util/map.h"

#define LINK_PROTOCOL "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
#define LINK_PROLOGUE "mist/link/1"
/** Bound on a handshake frame: e + s + tags + a hello of a few fields. */
#define LINK_HS_MAX 1024
#define LINK_NAME_MAX 64

enum link_role { LINK_ROLE_AGENT = 0, LINK_ROLE_CLIENT = 1 };

struct link_hello {
	char name[LINK_NAME_MAX];
	char tier[16];
	char addr[LINK_NAME_MAX];
	uint8_t role;
};

/** Encodes / decodes (bounded) a hello payload.  0 or MIST_EPROTO. */
void link_hello_encode(struct buf *out, const struct link_hello *h);
int link_hello_decode(const uint8_t *p, size_t len, struct link_hello *h);

struct link_config {
	uint32_t max_frame;	       /* plaintext bound of one frame */
	uint32_t handshake_timeout_ms; /* cut unfinished handshakes */
	uint32_t max_handshakes;       /* concurrent unauthenticated */
	uint64_t rekey_frames;	       /* frames per key, each direction */
	uint32_t max_backlog;	       /* queued outbound bytes per link */
	uint32_t join_backoff_min_ms;
	uint32_t join_backoff_max_ms;
	uint32_t user_timeout_ms;      /* TCP_USER_TIMEOUT (0: the kernel's) */
};

void link_config_default(struct link_config *cfg);

struct link_stats {
	uint64_t accepted, handshakes_ok, handshakes_failed, timeouts;
	uint64_t refused_busy, bad_frames, oversized, spoofed, local_types,
		frames_in,
		frames_out, msgs_in, msgs_out, rekeys;
};

struct link;

struct link_mgr {
	uv_loop_t *loop;
	struct actor_sys *sys;
	struct identity id;
	uint8_t psk[32];		  /* what we initiate with */
	const struct keyring *keys; /* also accepted as responder; may be NULL */
	struct link_config cfg;
	struct link_hello hello; /* what we tell peers */
	uv_tcp_t listener;
	bool listening;
	struct sockaddr_storage bound;
	struct map by_node;	/* node id -> struct link (up) */
	struct map connecting;	/* node id -> struct link (on demand) */
	/** Finds a node's address for on-demand links (NULL: none). */
	int (*resolve)(void *ctx, uint64_t node, struct sockaddr_storage *out);
	void *resolve_ctx;
	struct link *links;	/* every link, any state */
	struct link *dirty;	/* links with output to seal */
	/* shared by every link (one thread, used within one callback): */
	uint8_t *rshared;	/* a read into a link with nothing pending */
	uint8_t *scratch;	/* a decrypted frame, max_frame bytes */
	uv_prepare_t flush;
	struct join *joins;
	uint32_t handshaking;
	uint32_t notify_actor;	/* gets MSG_LINK_UP/DOWN; 0 = none */
	bool closing;
	int open_handles;
	void (*done)(struct link_mgr *);
	struct link_stats stats;
};

/** Sets up the manager (no I/O yet). */
void link_mgr_init(struct link_mgr *m, uv_loop_t *loop, struct actor_sys *sys,
		   const struct identity *id, const uint8_t psk[32],
		   const struct link_config *cfg, const struct link_hello *hello);
/** Listens on @a addr ("ip:port", port 0 picks one).  0 or MIST_E*. */
int link_mgr_listen(struct link_mgr *m, const char *addr);
/** The bound address as "ip:port" into @a out. */
void link_mgr_bound_addr(const struct link_mgr *m, char *out, size_t len);
/** Keeps a link to @a addr ("ip:port", or "host:port" with a DNS name
 * resolved again before every attempt), retrying with backoff.  0 or
 * EINVAL. */
int link_mgr_join(struct link_mgr *m, const char *addr);
/** Connects once to @a addr (no retry). */
int link_mgr_connect(struct link_mgr *m, const char *addr);
/**
 * The actor transport: seals @a m onto the link to m->to.node.  Without a
 * link, if resolve() knows the node's address, a link is opened and the
 * message waits on it (bounded by max_backlog); if that link fails or
 * reaches another node, waiting messages are dropped (requests time out).
 */
int link_mgr_send(void *mgr, struct msg *m);
/** Resumes reading paused links (actor mailboxes drained). */
void link_mgr_resume(void *mgr);
/** Number of links that are up. */
size_t link_mgr_count(const struct link_mgr *m);
/** Calls @a cb for each link that is up. */
void link_mgr_foreach(struct link_mgr *m,
		      void (*cb)(void *ctx, uint64_t node,
				 const struct link_hello *h),
		      void *ctx);
/** Closes everything; @a done runs when the last handle is closed. */
void link_mgr_close(struct link_mgr *m, void (*done)(struct link_mgr *));

#endif
