/*
 * msgtype.h -- every message type, in one table.
 *
 * Types below 64 are the runtime's own; the rest belong to the actor kinds.
 * Numbers are wire-visible: never renumber, only append.  docs/PROTOCOL.md
 * draws each body.
 */
#ifndef MIST_ACTORS_MSGTYPE_H_INCLUDED
#define MIST_ACTORS_MSGTYPE_H_INCLUDED

#include <stdint.h>

enum msg_type {
	/* runtime */
	MSG_STOP = 1,	   /* local: orderly shutdown, last message */
	MSG_TIMER = 2,	   /* local: corr carries the timer's tag */
	MSG_ERROR = 3,	   /* a reply carrying only a status */
	MSG_LINK_UP = 4,   /* local: {"node", "name", "tier", "addr"} */
	MSG_LINK_DOWN = 5, /* local: same body + "lost": the peer hung up */
	MSG_GOSSIP_PACKET = 6, /* local: body = sockaddr_storage + plaintext */
	/* node admin actor */
	MSG_MEMBERS = 64,  /* req: nil; reply: array of member maps */
	MSG_PING = 65,	   /* req: {node, count, size, flood}; reply: stats */
	MSG_ECHO = 66,	   /* req: any; reply: the same body */
	MSG_SINK = 67,	   /* one-way: counted and dropped */
	MSG_SINK_SYNC = 68, /* req: nil; reply: number of sink messages seen */
	/* gossip (ACTOR_SWIM) */
	MSG_SWIM_SYNC = 69,	 /* req/reply: array of member updates (push/pull) */
	MSG_MEMBER_EVENT = 70,	 /* to subscribers: a member changed */
	MSG_SWIM_SUBSCRIBE = 71, /* one-way: send me MSG_MEMBER_EVENT */
	MSG_SWIM_JOIN = 72,	 /* local one-way: {"node": u64} push/pull now */
	MSG_SWIM_LEAVE = 73,	 /* req: leave gracefully; reply when sent */
	/* keyring (ACTOR_ADMIN) */
	MSG_KEYS = 74,	     /* req {op, key}: apply on every live member */
	MSG_KEYS_LOCAL = 75, /* req {op, key}: apply here; reply {keys, primary} */
	/* jobs: function actor (ACTOR_FUNCTION) */
	MSG_TASK_RUN = 76,   /* owner -> worker: run one attempt of a task */
	/* jobs: data manager (ACTOR_DATA) */
	MSG_TASK_DONE = 77,  /* worker -> owner: an attempt ended */
	MSG_VALUE_GET = 78,  /* req: a chunk of a value held here */
	MSG_VALUE_FREE = 79, /* owner -> holder: drop values of a job */
	/* client requests, MSG_JOB_CREATE..MSG_JOB_LIST (msgtype_is_client_job):
	 * the gateway forwards them wrapped [cred, role, body] */
	MSG_JOB_CREATE = 80,
	MSG_JOB_ATTACH = 81,
	MSG_JOB_TASKS = 82,
	MSG_JOB_WAIT = 83,
	MSG_JOB_READ = 84,
	MSG_JOB_STATUS = 85,
	MSG_JOB_CANCEL = 86,
	MSG_JOB_RELEASE = 87,
	MSG_JOB_CLOSE = 88,
	MSG_JOB_LIST = 89,
	/* gateway (ACTOR_GATEWAY) */
	MSG_CREDS = 90, /* req {op, name, role, id}: manage client credentials */
	/* accessories (ACTOR_DOCS, ACTOR_FILES): accessory/accessory.h */
	MSG_ACC_REQUEST = 91, /* req [app, op, deadline_ms, caller, body] */
	/* gateway (ACTOR_GATEWAY), from its own listener: gateway/native.h */
	MSG_GW_HELLO = 92, /* local: corr = connection, body = first frame */
	MSG_GW_FRAME = 93, /* local: corr = connection, body = envelopes */
	/* executor pool -> job actors, local: function/function.h */
	MSG_EXEC_DONE = 94,	 /* local: attempts ended (ptr: the results) */
	MSG_EXEC_FUNCTIONS = 95, /* local: [name...] the executors offer */
	/* gossip (ACTOR_SWIM), local */
	MSG_SWIM_META = 96, /* local one-way: body = our new metadata */
	/* mobile backend: docs/MBAAS.md */
	MSG_HTTP_REQUEST = 97, /* local, to ACTOR_GATEWAY: ptr = struct http_req */
	MSG_APPS = 98,	       /* req {op, ...}: manage apps (gateway/apps.h) */
	MSG_FN_CALL = 99,      /* req [app, fn, deadline_ms, caller, params]:
				* run an add-on function (function/function.h) */
	MSG_ACC_STATS = 100,   /* req nil: an accessory's counters (metrics) */
	MSG_REOPEN_LOGS = 101, /* local one-way: SIGHUP, reopen log files */
	/* documents accessory (ACTOR_DOCS), local: accessory/docs.h */
	MSG_DOCS_DONE = 102, /* local: ptr = a write group now durable */
	/* host API (issue 14): function/hostcall.h, docs/PROTOCOL.md */
	MSG_EXEC_HOST = 103, /* local: executor pool -> ACTOR_FUNCTION,
			      * ptr = host requests of one read */
	MSG_HOST_CALL = 104, /* local req, ACTOR_FUNCTION -> ACTOR_GATEWAY:
			      * [app, caller, remaining_ms, master, method,
			      * path, body]; reply [status, body] */
	/* jobs: the owner's lease check (data/jobmsg.h) */
	MSG_ATTEMPTS = 110 /* req nil, owner -> ACTOR_FUNCTION: my attempts
			    * you hold; reply [complete, [[job, task,
			    * attempt]...]] */
	,
	/* a job outlives its owner (data/jobmsg.h, docs/PROTOCOL.md 6.9) */
	MSG_JOB_REPLICA = 111, /* req, owner -> standby ACTOR_DATA: a journal
			       * record of the job; reply nil once kept */
	MSG_JOB_MOVED = 112 /* one-way, a job's new owner -> every member's
			     * ACTOR_GATEWAY: [origin, job, owner] */
	,
	/* checkpoints (data/ckpt.c, docs/PROTOCOL.md 6.10) */
	MSG_VALUE_COPY = 113 /* req, owner's ACTOR_DATA -> a safe holder's
			      * ACTOR_FUNCTION: fetch this value from its
			      * holders and keep it; reply nil once held */
};

/** A client's job request (what a gateway may forward to ACTOR_DATA). */
static inline int
msgtype_is_client_job(uint32_t type)
{
	return type >= MSG_JOB_CREATE && type <= MSG_JOB_LIST;
}

/**
 * Types that only the node itself may produce: I/O events, timers, the
 * shutdown, commands to the gossip actor.  Their handlers trust them (a
 * timer carries a pointer), so a message of such a type arriving from the
 * network is a protocol violation: net/link.c refuses it and closes the
 * link.  Keep this in step with the table above.
 */
static inline int
msgtype_is_local(uint32_t type)
{
	switch (type) {
	case MSG_STOP:
	case MSG_TIMER:
	case MSG_LINK_UP:
	case MSG_LINK_DOWN:
	case MSG_GOSSIP_PACKET:
	case MSG_MEMBER_EVENT:
	case MSG_SWIM_SUBSCRIBE:
	case MSG_SWIM_JOIN:
	case MSG_SWIM_LEAVE:
	case MSG_GW_HELLO:
	case MSG_GW_FRAME:
	case MSG_EXEC_DONE:
	case MSG_EXEC_FUNCTIONS:
	case MSG_SWIM_META:
	case MSG_HTTP_REQUEST:
	case MSG_REOPEN_LOGS:
	case MSG_DOCS_DONE:
	case MSG_EXEC_HOST:
	case MSG_HOST_CALL: /* the gateway trusts its caller map */
		return 1;
	default:
		return 0;
	}
}

/* Well-known actor ids on every node. */
enum actor_wellknown {
	ACTOR_ADMIN = 1, /* membership view, ping, diagnostics */
	ACTOR_ECHO = 2,	 /* echo and sink for link tests and benchmarks */
	ACTOR_SWIM = 3,	 /* gossip membership (SWIM + Lifeguard) */
	ACTOR_GATEWAY = 4,  /* client connections, credentials */
	ACTOR_FUNCTION = 5, /* runs task attempts on the executors */
	ACTOR_DATA = 6,	    /* data manager: job owner, values held here */
	ACTOR_DOCS = 7,	    /* accessory in front of the documents store */
	ACTOR_FILES = 8,    /* accessory in front of the file store */
	ACTOR_FIRST_DYNAMIC = 64
};

#endif
