/*
 * http_req.h -- one HTTP request as the listener (gateway/http.c) hands it
 * to the gateway actor, and as the Parse decoder (gateway/parse_req.c)
 * reads it.  Apart from http.h so that the decoder, its tests and its fuzz
 * target need neither H2O nor libuv.
 *
 *   MSG_HTTP_REQUEST  local, listener -> ACTOR_GATEWAY, ptr = struct
 *                     http_req (owned by the message: ptr_free frees it)
 *
 * Ownership: a struct http_req is one allocation holding every string it
 * points at; whoever holds it frees it with free() (the message does, as
 * its ptr_free).  Nothing in it points into H2O's memory, so it outlives
 * the request it was copied from: the answer goes back by @a id
 * (http_respond), and a request that is gone by then drops the answer.
 */
#ifndef MIST_GATEWAY_HTTP_REQ_H_INCLUDED
#define MIST_GATEWAY_HTTP_REQ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Headers kept per request: the Parse headers are seven, a browser sends
 * about twenty; past 64 the request is refused (431), never truncated. */
#define HTTP_MAX_HEADERS 64

/** A header: both strings NUL-terminated, the name in lower case. */
struct http_hdr {
	const char *name;
	const char *value;
};

struct http_req {
	uint64_t id;	    /* the listener's handle, for http_respond() */
	const char *method; /* "GET", "POST", "PUT", "DELETE", "OPTIONS", ... */
	const char *path;   /* before '?', as sent (not percent-decoded) */
	const char *query;  /* after '?', raw; "" if none */
	const char *ip;	    /* the client's address, as text */
	bool tls;
	uint32_t nhdrs;
	struct http_hdr hdrs[HTTP_MAX_HEADERS];
	const uint8_t *body; /* the whole body, bounded by the listener */
	size_t body_len;
	uint64_t received_ms; /* the loop's clock when it arrived */
};

/** The value of header @a lname (lower case), or NULL. */
static inline const char *
http_req_header(const struct http_req *r, const char *lname)
{
	for (uint32_t i = 0; i < r->nhdrs; i++) {
		const char *a = r->hdrs[i].name, *b = lname;
		while (*a != '\0' && *a == *b)
			a++, b++;
		if (*a == '\0' && *b == '\0')
			return r->hdrs[i].value;
	}
	return NULL;
}

#endif
