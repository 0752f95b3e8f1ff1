/*
 * fnread.h -- a function's declared read (mist_plugin.h, "Declared
 * reads"): the one parser of its template, for the executor that checks
 * it at load and the gateway that makes the read, and the path both sides
 * must agree on -- the gateway sends the answer under the path mist_doc_get
 * builds, and the executor answers a GET of exactly that path from it.
 *
 *   template               the read                     the path
 *   /classes/CLASS/{p}     GET the object of CLASS      /classes/CLASS/ID
 *   /users/{p}             GET the user                 /users/ID
 *   /roles/{p}             GET the role                 /roles/ID
 *
 * CLASS by parse_req.h's class-name rule; p ^[A-Za-z_][A-Za-z0-9_]{0,62}$,
 * the member of the call's params (a JSON object) whose string value ID
 * (parse_req.h's object-id rule) names the object.  The whole template at
 * most MIST_READ_MAX - 1 bytes.
 *
 * Ownership: plain caller storage; nothing points into the input.
 */
#ifndef MIST_FUNCTION_FNREAD_H_INCLUDED
#define MIST_FUNCTION_FNREAD_H_INCLUDED

#include <stddef.h>

#include "gateway/parse_req.h"
#include "mist_plugin.h"

/** A template's length at most, NUL included. */
#define FNREAD_MAX MIST_READ_MAX
/** A parameter's name at most, NUL included. */
#define FNREAD_PARAM_MAX 64
/** A read's path at most, NUL included: "/classes/" + a class name + "/"
 * + an id (neither needs escaping under their rules). */
#define FNREAD_PATH_MAX (16 + PREQ_NAME_MAX + PREQ_ID_MAX)

enum fnread_route { FNREAD_CLASSES, FNREAD_USERS, FNREAD_ROLES };

struct fnread {
	enum fnread_route route;
	char cls[PREQ_NAME_MAX]; /* "_User", "_Role" for users, roles */
	char param[FNREAD_PARAM_MAX];
};

/** Parses template @a t (@a len bytes, no NUL needed).  0, or -1 if it
 * is not one of the forms above. */
int fnread_parse(const char *t, size_t len, struct fnread *out);

/**
 * The read's path for object @a id (NUL-terminated; must pass
 * preq_id_ok) into @a out (FNREAD_PATH_MAX bytes), NUL-terminated; its
 * length.
 */
size_t fnread_path(const struct fnread *d, const char *id,
		   char out[FNREAD_PATH_MAX]);

#endif
