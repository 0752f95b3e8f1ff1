/*
 * accessory.h -- the accessory actor kind: one small, uniform front-end per
 * backend resource (documents, files).
 *
 * Paper 000 (Droi, section 4) puts an accessory in front of every storage
 * service so that the service layer never talks to a database directly.
 * Whatever the resource, an accessory does the same five things, and only
 * those:
 *
 *   1. keeps an access log (who, which app, which operation, cost, result);
 *   2. applies the app's quotas (operations per second, bytes stored);
 *   3. gives every request a deadline and cancels work past it;
 *   4. refuses heavy operations (a query that would scan more than the
 *      app's limit without an index) instead of running them slowly;
 *   5. turns the request into calls of its resource's driver (LMDB or
 *      PostgreSQL for documents, the file store for files).
 *
 * Every accessory speaks one message, MSG_ACC_REQUEST (docs/MBAAS.md draws
 * it with every operation's JSON body):
 *
 *   request  [app: str, op: u8, deadline_ms: u32, caller: map, body: bin]
 *   reply    [status: u16, body: bin, user: str]
 *
 * where op names the resource's operation (enum acc_doc_op for documents),
 * body is UTF-8 JSON text, status is the HTTP status of the answer and
 * the reply's body is Parse's response body (or {"code", "error"}), so the
 * gateway hands it to HTTP as it is.  caller carries what the gateway
 * authenticated and what the app allows ({"master", "session", "ip",
 * "install", "create_classes", "quota", "node"}), so the accessory applies
 * ACLs without trusting the body; user is the caller's user id ("" if
 * none), for the access log.  The gateway (or, later, a function actor)
 * sends it; replies go back to the sender.
 *
 * Actor ids: ACTOR_DOCS and ACTOR_FILES (actors/msgtype.h), one of each on
 * every node that serves apps.
 *
 * Ownership: an accessory owns its driver, its log and its quota counters;
 * request bodies change owner with the message, as every message does.
 */
#ifndef MIST_ACCESSORY_ACCESSORY_H_INCLUDED
#define MIST_ACCESSORY_ACCESSORY_H_INCLUDED

#include <stdint.h>

#include "actors/msgtype.h"

/** Operations of the documents accessory (ACTOR_DOCS). */
enum acc_doc_op {
	ACC_DOC_GET = 1,    /* {class, id, keys?, include?} -> object */
	ACC_DOC_QUERY = 2,  /* {class, where, order, limit, skip, keys, count,
			     * include} -> {results, count?} */
	ACC_DOC_CREATE = 3, /* {class, object} -> {objectId, createdAt} */
	ACC_DOC_UPDATE = 4, /* {class, id, changes} -> {updatedAt} */
	ACC_DOC_DELETE = 5, /* {class, id} -> {} */
	ACC_DOC_LOGIN = 6,  /* {username, password} -> user + sessionToken */
	ACC_DOC_LOGOUT = 7, /* {} (the caller's session) -> {} */
	ACC_DOC_ME = 8,	    /* {} -> user + sessionToken */
	ACC_DOC_SCHEMA_GET = 9,	    /* {class?} -> schema | {results} */
	ACC_DOC_SCHEMA_PUT = 10,    /* {class, fields?, indexes?,
				     * classLevelPermissions?, create} */
	ACC_DOC_SCHEMA_DELETE = 11, /* {class} -> {} */
	ACC_DOC_DROP_APP = 12,	    /* {} -> {}: every document of the app */
	/* {"class"?} -> {"budget", "auto_bytes", "indexes": [...],
	 * "shapes": [...]}: declared and automatic indexes with their
	 * statistics, and the query shapes seen (master only;
	 * `mist apps indexes`, docs/INDEXES.md) */
	ACC_DOC_INDEXES = 13
};

/** Operations of the files accessory (ACTOR_FILES). */
enum acc_file_op {
	ACC_FILE_PUT = 1, /* {name, type, bytes} -> {name, url} */
	ACC_FILE_GET = 2, /* {name} -> bytes */
	ACC_FILE_DELETE = 3
};

#endif
