/*
 * http.c -- the HTTP listener (http.h): sockets, TLS, H2O's context, the
 * catch-all handler, per-request deadlines, close.
 *
 * Life of a request:
 *   H2O calls http_on_req -> (OPTIONS, 431, 503 answered at once) ->
 *   copied, delivered, PENDING (in h->pending, its timer armed, a guard in
 *   H2O's pool) -> one of: http_respond (answered), the timer (504), the
 *   guard's dispose (the client left), http_close (503) -> forgotten: out
 *   of the map, guard detached, timer closed (the struct freed once libuv
 *   has closed it).
 *
 * Life of the listener: http_open binds with plain syscalls first, so a
 * bad address or a busy port fails before any libuv handle or H2O context
 * exists; http_close shuts every connection (H2O sees the end of the
 * stream and closes it in its own way), counts the handles down, takes
 * H2O's context apart and frees the struct two loop iterations later
 * (H2O's timers are closed with no callback of their own).
 */
#include "config.h"
#include "gateway/http.h"
#include "accessory/perr.h"
#include "mist.h"
#include "net/addr.h"
#include "util/container.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <h2o.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * http_ctx_dispose() takes an H2O 2.2 context apart by hand (see there);
 * another version must be checked against it before it is built.
 */
#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "http_ctx_dispose() mirrors H2O 2.2's h2o_context_dispose"
#endif

/* The listen(2) backlog: a burst of phones reconnecting waits there. */
#define HTTP_BACKLOG 511
/*
 * A TLS handshake must finish within this (H2O's own default): a phone on
 * a slow network completes one in a second or two; ten bounds a client
 * that opens connections and never speaks TLS.
 */
#define HTTP_HANDSHAKE_MS 10000
/*
 * What a browser may cache a preflight for: a day (Firefox's cap; Chrome
 * caps at two hours anyway).  The answer never changes while the agent
 * runs.
 */
#define HTTP_PREFLIGHT_MAX_AGE "86400"
/* Every header a Parse SDK or the JS SDK in a browser sends, and ours. */
#define HTTP_ALLOW_HEADERS                                                     \
	"X-Parse-Application-Id, X-Parse-REST-API-Key, "                       \
	"X-Parse-Javascript-Key, X-Parse-Client-Key, X-Parse-Master-Key, "     \
	"X-Parse-Session-Token, X-Parse-Installation-Id, "                     \
	"X-Parse-Client-Version, X-Parse-Revocable-Session, "                  \
	"X-Parse-Request-Id, X-Requested-With, X-Mist-Deadline-Ms, "           \
	"Content-Type, Pragma, Cache-Control"
#define HTTP_ALLOW_METHODS "GET, POST, PUT, DELETE, OPTIONS"
#define HTTP_JSON "application/json; charset=utf-8"

/*
 * At close, the answers on their way (the 503s among them) get this long
 * to leave before every connection is cut: a small response takes a round
 * trip, a second on the worst mobile network; a client that does not read
 * its socket must not hold the agent's shutdown.
 */
#define HTTP_CLOSE_GRACE_MS 2000

/* An address as text: "[v6 address]:port" takes at most 54. */
#define HTTP_ADDR_MAX 64

void
http_config_default(struct http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/*
	 * 1 MiB.  Parse Server's 20 MB (maxUploadSize) is for files, which go
	 * through the same express body parser; mist serves documents here,
	 * and a Parse object is a few KiB (MongoDB's own cap is 16 MB, but no
	 * SDK sends such a thing as JSON).  1 MiB carries a /batch of 50
	 * sizeable objects and bounds what one request costs: H2O buffers a
	 * body whole before the handler, and we copy it once.
	 */
	cfg->max_body = 1u << 20;
	/*
	 * 16384 connections: phones keep one connection each while the app
	 * is open, so a gateway holds far more idle connections than busy
	 * ones.  An idle plain connection costs a few KiB here, a TLS one
	 * tens of KiB (OpenSSL's buffers; docs/BENCHMARKS.md measures both):
	 * 16384 stay well under a GiB in the worst case.  More belong behind
	 * more agents; `mist agent --http-max-conns` sets it.  The process's
	 * open-file limit must be above it: the agent raises its soft limit,
	 * and http_open warns if it is still short.
	 */
	cfg->max_conns = 16384;
	/*
	 * 1024 requests with the actor at once.  A request is answered in
	 * milliseconds; a thousand waiting is already a queue of seconds, and
	 * a deeper one only turns into 504s later: refusing with 503 now lets
	 * the SDK retry (and a balancer pick another agent).
	 */
	cfg->max_pending = 1024;
	/*
	 * 64 MiB of request copies with the actor at once (H2O holds as much
	 * again until each is answered).  max_pending full-sized bodies would
	 * be a GiB; documents are small, so 64 MiB is thousands of ordinary
	 * requests and still a few dozen of the largest -- past it, 503 until
	 * some are answered, rather than an agent swapping.
	 */
	cfg->max_pending_bytes = 64u << 20;
	/*
	 * 30 s: under the 60 s an iOS NSURLSession waits by default, so the
	 * client reads our 504 with a Parse error code rather than its own
	 * timeout; a Parse request that needs longer is a cloud function,
	 * which the gateway re-arms for up to max_deadline_ms.
	 */
	cfg->default_deadline_ms = 30000;
	/*
	 * 120 s: the longest any request is held (and its copy kept), what a
	 * patient cloud function gets; past it the client is better told.
	 */
	cfg->max_deadline_ms = 120000;
	/*
	 * 30 s.  An app's screen fires its requests in bursts: keeping the
	 * connection 30 s saves a phone the TLS handshake (round trips and
	 * battery) between them, and a phone gone to the background stops
	 * costing a socket soon after.  H2O's default is 10 s.
	 */
	cfg->idle_timeout_ms = 30000;
}

/* ------------------------------------------------------------- structs */

struct http;

struct http_listener {
	uv_tcp_t tcp; /* first: the accept callback's stream */
	struct http *h;
	h2o_accept_ctx_t actx;
	struct sockaddr_storage bound;
	bool open;
};

struct http_conn {
	uv_tcp_t tcp; /* first: H2O's close callback hands us its address */
	struct http *h;
	struct http_conn *prev, *next;
};

struct http_pending;

/* In H2O's request pool: disposed with the request (h2o #1894). */
struct http_guard {
	struct http_pending *p; /* NULL once the request is answered */
};

struct http_pending {
	uv_timer_t timer; /* first: the timer callback's handle */
	struct http *h;
	uint64_t id;
	h2o_req_t *req;
	struct http_guard *guard;
	uint64_t arrived; /* uv_now() */
	size_t bytes;	  /* its copy, counted in h->pending_bytes */
};

struct http_handler {
	h2o_handler_t super;
	struct http *h;
};

struct http {
	uv_loop_t *loop;
	struct actor_sys *sys;
	uint32_t actor;
	struct http_config cfg;
	h2o_globalconf_t conf;
	h2o_context_t ctx;
	SSL_CTX *ssl;
	struct http_listener plain, tls;
	struct http_conn *conns;
	struct map pending; /* id -> struct http_pending */
	size_t pending_bytes;
	uint64_t next_id;
	uint32_t handles; /* ours open, + 1 until http_close */
	bool closing;
	void (*done)(void *);
	void *done_arg;
	uv_timer_t grace; /* http_close: cuts what is left */
	bool grace_open;
	uv_idle_t idle; /* counts two iterations after H2O's last close */
	int idle_runs;
	struct http_stats stats;
	uint64_t accept_errors;
};

/* A refusal that may repeat in a flood: logged at 1, 2, 4, ... */
static bool
http_log_now(uint64_t count)
{
	return (count & (count - 1)) == 0;
}

/* ------------------------------------------------------------- answers */

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: break;
	}
	if (status < 300)
		return "OK";
	if (status < 400)
		return "Redirection";
	return status < 500 ? "Client Error" : "Server Error";
}

/* A header name: an RFC 9110 token (what HTTP/2 also accepts, once in
 * lower case). */
static bool
http_hdr_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

/* A header value: visible characters, spaces and tabs (no CR, LF: no
 * header can be smuggled in). */
static bool
http_hdr_value_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 ? c != '\t' : c == 0x7f)
			return false;
	}
	return true;
}

/* Adds @a name (lowered) and @a value to the response, copied into the
 * request's pool (H2O keeps pointers). */
static void
http_add(h2o_req_t *req, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	char *n = h2o_mem_alloc_pool(&req->pool, nlen + 1);
	for (size_t i = 0; i <= nlen; i++)
		n[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32
								  : name[i]);
	h2o_iovec_t v = h2o_strdup(&req->pool, value, vlen);
	h2o_add_header_by_str(&req->pool, &req->res.headers, n, nlen, 1, NULL,
			      v.base, v.len);
}

/*
 * Sends the whole answer (H2O copies the body); the CORS filter adds
 * access-control-allow-origin.  @a req must be alive: callers hold a
 * pending request not yet forgotten, or are inside the handler.
 */
static void
http_send(h2o_req_t *req, int status, const struct http_hdr *hdrs,
	  uint32_t nhdrs, const void *body, size_t len, bool json)
{
	bool typed = false;
	req->res.status = status;
	req->res.reason = http_reason(status);
	for (uint32_t i = 0; i < nhdrs; i++) {
		typed |= strcasecmp(hdrs[i].name, "content-type") == 0;
		http_add(req, hdrs[i].name, hdrs[i].value);
	}
	if (json && !typed)
		h2o_add_header(&req->pool, &req->res.headers,
			       H2O_TOKEN_CONTENT_TYPE, NULL,
			       H2O_STRLIT(HTTP_JSON));
	req->res.content_length = len;
	h2o_send_inline(req, len > 0 ? body : "", len);
}

/* Answers {"code":N,"error":"..."} with @a status. */
static void
http_send_perr(h2o_req_t *req, int status, int code, const char *msg)
{
	struct perr e;
	char body[PERR_JSON_MAX];
	perr_set(&e, status, code, "%s", msg);
	size_t len = perr_json(&e, body, sizeof(body));
	http_send(req, status, NULL, 0, body, len, true);
}

/* ------------------------------------------------------------- pending */

static void http_unref(struct http *h);

static void
http_pending_closed(uv_handle_t *t)
{
	struct http_pending *p = container_of(t, struct http_pending, timer);
	struct http *h = p->h;
	free(p);
	http_unref(h);
}

/* Forgets @a p: nothing refers to it, its request is not touched again
 * here.  Returns its request (NULL if the client left). */
static h2o_req_t *
http_pending_forget(struct http_pending *p)
{
	h2o_req_t *req = p->req;
	map_del(&p->h->pending, p->id);
	p->h->pending_bytes -= p->bytes;
	if (p->guard != NULL)
		p->guard->p = NULL;
	p->guard = NULL;
	p->req = NULL;
	uv_close((uv_handle_t *)&p->timer, http_pending_closed);
	return req;
}

/* H2O frees the request's pool: answered (the guard is detached), or the
 * client reset its stream or left. */
static void
http_guard_dispose(void *ptr)
{
	struct http_guard *g = ptr;
	struct http_pending *p = g->p;
	if (p == NULL)
		return;
	p->guard = NULL;
	p->h->stats.reset++;
	http_pending_forget(p);
}

static void
http_deadline_cb(uv_timer_t *t)
{
	struct http_pending *p = container_of(t, struct http_pending, timer);
	struct http *h = p->h;
	h2o_req_t *req = http_pending_forget(p);
	h->stats.expired++;
	http_send_perr(req, 504, PERR_TIMEOUT, "Request timed out");
}

/* Arms @a p to fire @a ms from now, but not past max_deadline_ms after
 * its arrival. */
static void
http_pending_arm(struct http_pending *p, uint32_t ms)
{
	struct http *h = p->h;
	uint64_t now = uv_now(h->loop);
	uint64_t due = now + ms, last = p->arrived + h->cfg.max_deadline_ms;
	if (due > last)
		due = last;
	uv_timer_start(&p->timer, http_deadline_cb, due > now ? due - now : 0,
		       0);
}

/* ------------------------------------------------------------- handler */

/* The client's address (without its port) into @a out. */
static void
http_peer_ip(h2o_req_t *req, char *out, size_t len)
{
	struct sockaddr_storage ss;
	out[0] = '\0';
	if (req->conn->callbacks->get_peername == NULL ||
	    req->conn->callbacks->get_peername(req->conn,
					       (struct sockaddr *)&ss) == 0)
		return;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out,
			  (socklen_t)len);
	} else if (ss.ss_family == AF_INET6) {
		struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) /* a v4 client on a v6 socket */
			inet_ntop(AF_INET, a->s6_addr + 12, out,
				  (socklen_t)len);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)len);
	}
}

/* Appends @a len bytes of @a s and a NUL at *@a at; returns the copy. */
static const char *
http_put(char **at, const char *s, size_t len)
{
	char *d = *at;
	if (len > 0)
		memcpy(d, s, len);
	d[len] = '\0';
	*at += len + 1;
	return d;
}

static const char *
http_put_lower(char **at, const char *s, size_t len)
{
	char *d = *at;
	for (size_t i = 0; i < len; i++)
		d[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	d[len] = '\0';
	*at += len + 1;
	return d;
}

/* The size of @a req's copy, whose head (method, path, authority + 4
 * for "host", headers) is @a head bytes.  Every string gets its NUL:
 * method, path, query, ip, the body, and each header's name and value
 * (host included). */
static size_t
http_req_size(h2o_req_t *req, size_t head)
{
	return sizeof(struct http_req) + head + INET6_ADDRSTRLEN +
	       (req->entity.base ? req->entity.len : 0) + 5 +
	       2 * (req->headers.size + 1);
}

/*
 * The one copy of @a req handed to the actor, @a size bytes
 * (http_req_size): the struct, then every string, then the body
 * (NUL-terminated too, for the decoder's comfort).
 */
static struct http_req *
http_req_copy(struct http *h, h2o_req_t *req, uint64_t id, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	http_peer_ip(req, ip, sizeof(ip));
	size_t plen = req->input.path.len, qat = req->input.query_at;
	if (qat == SIZE_MAX || qat > plen)
		qat = plen;
	size_t ilen = strlen(ip), blen = req->entity.base ? req->entity.len : 0;
	struct http_req *r = xcalloc(1, size);
	char *at = (char *)(r + 1);
	r->id = id;
	r->method =
		http_put(&at, req->input.method.base, req->input.method.len);
	r->path = http_put(&at, req->input.path.base, qat);
	r->query = qat < plen ? http_put(&at, req->input.path.base + qat + 1,
					 plen - qat - 1)
			      : http_put(&at, "", 0);
	r->ip = http_put(&at, ip, ilen);
	r->tls = req->input.scheme == &H2O_URL_SCHEME_HTTPS;
	if (req->input.authority.len > 0) {
		r->hdrs[r->nhdrs].name = http_put(&at, "host", 4);
		r->hdrs[r->nhdrs++].value =
			http_put(&at, req->input.authority.base,
				 req->input.authority.len);
	}
	for (size_t i = 0; i < req->headers.size; i++) {
		const h2o_header_t *x = req->headers.entries + i;
		r->hdrs[r->nhdrs].name =
			http_put_lower(&at, x->name->base, x->name->len);
		r->hdrs[r->nhdrs++].value =
			http_put(&at, x->value.base, x->value.len);
	}
	r->body = (const uint8_t *)http_put(&at, req->entity.base, blen);
	r->body_len = blen;
	r->received_ms = uv_now(h->loop);
	assert(at <= (char *)r + size);
	return r;
}

/* The CORS preflight, answered here (Parse Server's own answer). */
static void
http_preflight(h2o_req_t *req)
{
	static const struct http_hdr cors[] = {
		{"access-control-allow-methods", HTTP_ALLOW_METHODS},
		{"access-control-allow-headers", HTTP_ALLOW_HEADERS},
		{"access-control-max-age", HTTP_PREFLIGHT_MAX_AGE},
	};
	http_send(req, 200, cors, 3, NULL, 0, false);
}

static int
http_on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct http *h = ((struct http_handler *)self)->h;
	h->stats.requests++;
	if (h2o_memis(req->input.method.base, req->input.method.len,
		      H2O_STRLIT("OPTIONS"))) {
		http_preflight(req);
		return 0;
	}
	if (h->closing) {
		h->stats.refused++;
		http_send_perr(req, 503, PERR_INTERNAL_SERVER_ERROR,
			       "The server is shutting down");
		return 0;
	}
	/* the bounds: headers, head bytes, body */
	size_t nhdrs = req->headers.size + (req->input.authority.len > 0);
	size_t head = req->input.method.len + req->input.path.len +
		      req->input.authority.len + 4;
	for (size_t i = 0; i < req->headers.size; i++)
		head += req->headers.entries[i].name->len +
			req->headers.entries[i].value.len;
	if (nhdrs > HTTP_MAX_HEADERS || head > HTTP_MAX_HEAD) {
		char msg[96];
		snprintf(msg, sizeof(msg),
			 nhdrs > HTTP_MAX_HEADERS
				 ? "Too many headers (at most %u)"
				 : "Request head too large (at most %u bytes)",
			 nhdrs > HTTP_MAX_HEADERS ? HTTP_MAX_HEADERS
						  : HTTP_MAX_HEAD);
		h->stats.bad++;
		http_send_perr(req, 431, PERR_OTHER_CAUSE, msg);
		return 0;
	}
	if (req->entity.base != NULL && req->entity.len > h->cfg.max_body) {
		/* H2O's max_request_entity_size stops it first; kept in
		 * case a path around it appears */
		h->stats.bad++;
		http_send_perr(req, 413, PERR_OBJECT_TOO_LARGE,
			       "Request body too large");
		return 0;
	}
	if (h->pending.len >= h->cfg.max_pending) {
		if (http_log_now(++h->stats.refused))
			log_warn("http: %u requests pending, answering 503 "
				 "(%llu so far)",
				 h->cfg.max_pending,
				 (unsigned long long)h->stats.refused);
		http_send_perr(req, 503, PERR_INTERNAL_SERVER_ERROR,
			       "Too many requests in progress");
		return 0;
	}
	size_t size = http_req_size(req, head);
	if (h->pending_bytes + size > h->cfg.max_pending_bytes) {
		if (http_log_now(++h->stats.refused))
			log_warn("http: %zu bytes of requests pending, "
				 "answering 503 (%llu so far)",
				 h->pending_bytes,
				 (unsigned long long)h->stats.refused);
		http_send_perr(req, 503, PERR_INTERNAL_SERVER_ERROR,
			       "Too many requests in progress");
		return 0;
	}
	uint64_t id = ++h->next_id;
	struct msg *m = actor_local_msg(h->sys, h->actor, MSG_HTTP_REQUEST,
					NULL, 0);
	m->corr = id;
	m->ptr = http_req_copy(h, req, id, size);
	m->ptr_free = free;
	/* 1 (the mailbox past its high-water mark) is fine: max_pending is
	 * the bound here */
	int rc = actor_sys_deliver(h->sys, m);
	if (rc < 0) {
		if (http_log_now(++h->stats.refused))
			log_warn("http: a request was refused by the actor "
				 "system (%s), answering 503 (%llu so far)",
				 mist_strerror(rc),
				 (unsigned long long)h->stats.refused);
		http_send_perr(req, 503, PERR_INTERNAL_SERVER_ERROR,
			       "The server is overloaded");
		return 0;
	}
	struct http_pending *p = xcalloc(1, sizeof(*p));
	p->h = h;
	p->id = id;
	p->req = req;
	p->arrived = uv_now(h->loop);
	p->bytes = size;
	h->pending_bytes += size;
	p->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*p->guard),
					http_guard_dispose);
	p->guard->p = p;
	uv_timer_init(h->loop, &p->timer);
	h->handles++;
	map_put(&h->pending, id, p);
	http_pending_arm(p, h->cfg.default_deadline_ms);
	return 0;
}

/* Every response leaves with access-control-allow-origin: *, H2O's own
 * errors (413, 417) included. */
static void
http_cors_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
	h2o_add_header_by_str(&req->pool, &req->res.headers,
			      H2O_STRLIT("access-control-allow-origin"), 0,
			      NULL, H2O_STRLIT("*"));
	h2o_setup_next_ostream(req, slot);
}

/* ------------------------------------------------------------ the API */

int
http_respond(struct http *h, uint64_t id, int status,
	     const struct http_hdr *hdrs, uint32_t nhdrs, const void *body,
	     size_t len)
{
	if (status < 200 || status > 599 || (len > 0 && body == NULL) ||
	    (nhdrs > 0 && hdrs == NULL))
		return MIST_EINVAL;
	for (uint32_t i = 0; i < nhdrs; i++)
		if (hdrs[i].name == NULL || hdrs[i].value == NULL ||
		    !http_hdr_name_ok(hdrs[i].name) ||
		    !http_hdr_value_ok(hdrs[i].value) ||
		    strcasecmp(hdrs[i].name, "content-length") == 0)
			return MIST_EINVAL;
	struct http_pending *p = h->closing ? NULL : map_get(&h->pending, id);
	if (p == NULL)
		return MIST_ENOTFOUND;
	h2o_req_t *req = http_pending_forget(p);
	h->stats.answered++;
	http_send(req, status, hdrs, nhdrs, body, len, true);
	return 0;
}

int
http_set_deadline(struct http *h, uint64_t id, uint32_t ms)
{
	struct http_pending *p = h->closing ? NULL : map_get(&h->pending, id);
	if (p == NULL)
		return MIST_ENOTFOUND;
	http_pending_arm(p, ms);
	return 0;
}

struct http_stats
http_stats(const struct http *h)
{
	struct http_stats s = h->stats;
	s.pending = (uint32_t)h->pending.len;
	s.pending_bytes = h->pending_bytes;
	return s;
}

void
http_bound_addr(const struct http *h, bool tls, char *out, size_t len)
{
	const struct http_listener *l = tls ? &h->tls : &h->plain;
	if (len == 0)
		return;
	out[0] = '\0';
	if (l->open)
		addr_format((const struct sockaddr *)&l->bound, out, len);
}

/* ---------------------------------------------------------- connections */

static void http_grace_stop(struct http *h);

static void
http_conn_closed(uv_handle_t *t)
{
	struct http_conn *c = container_of(t, struct http_conn, tcp);
	struct http *h = c->h;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->stats.conns--;
	free(c);
	if (h->closing && h->conns == NULL)
		http_grace_stop(h);
	http_unref(h);
}

static void
http_conn_refused(uv_handle_t *t)
{
	struct http_conn *c = container_of(t, struct http_conn, tcp);
	struct http *h = c->h;
	free(c);
	http_unref(h);
}

static void
http_accept_cb(uv_stream_t *server, int status)
{
	struct http_listener *l = container_of(server, struct http_listener,
					       tcp);
	struct http *h = l->h;
	if (status < 0) {
		/* EMFILE above all: libuv sheds the connection itself */
		if (http_log_now(++h->accept_errors))
			log_warn("http: accept: %s (%llu so far)",
				 uv_strerror(status),
				 (unsigned long long)h->accept_errors);
		return;
	}
	if (h->closing)
		return;
	struct http_conn *c = xcalloc(1, sizeof(*c));
	c->h = h;
	uv_tcp_init(h->loop, &c->tcp);
	h->handles++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, http_conn_refused);
		return;
	}
	if (h->stats.conns >= h->cfg.max_conns) {
		if (http_log_now(++h->stats.conns_refused))
			log_warn("http: %u connections open, refusing one "
				 "(%llu so far)",
				 h->cfg.max_conns,
				 (unsigned long long)h->stats.conns_refused);
		uv_close((uv_handle_t *)&c->tcp, http_conn_refused);
		return;
	}
	h->stats.accepted++;
	h->stats.conns++;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	uv_tcp_nodelay(&c->tcp, 1);
	h2o_socket_t *sock =
		h2o_uv_socket_create((uv_stream_t *)&c->tcp, http_conn_closed);
	h2o_accept(&l->actx, sock);
}

/* ---------------------------------------------------------------- close */

/*
 * h2o_context_dispose() of H2O 2.2.5 minus its last line, which runs the
 * loop (uv_run NOWAIT) to reap the timers it closed: from inside a
 * callback -- an actor's turn, say -- that would run the loop re-entered.
 * The rest is the same calls, in the same order; the timers' handles,
 * embedded in h->ctx, are reaped by the loop itself before http_idle_cb
 * frees h.
 */
static void
http_ctx_dispose(h2o_context_t *ctx)
{
	h2o_globalconf_t *config = ctx->globalconf;
	for (size_t i = 0; config->hosts[i] != NULL; i++) {
		h2o_hostconf_t *hc = config->hosts[i];
		for (size_t j = 0; j != hc->paths.size; j++)
			h2o_context_dispose_pathconf_context(
				ctx, hc->paths.entries + j);
		h2o_context_dispose_pathconf_context(ctx, &hc->fallback_path);
	}
	free(ctx->_pathconfs_inited.entries);
	free(ctx->_module_configs);
	h2o_timeout_dispose(ctx->loop, &ctx->zero_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->one_sec_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->hundred_ms_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->handshake_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->http1.req_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->http2.idle_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->http2.graceful_shutdown_timeout);
	h2o_timeout_dispose(ctx->loop, &ctx->proxy.io_timeout);
	h2o_filecache_destroy(ctx->filecache);
	ctx->filecache = NULL;
	for (size_t i = 0; i != ctx->storage.size; i++)
		if (ctx->storage.entries[i].dispose != NULL)
			ctx->storage.entries[i].dispose(
				ctx->storage.entries[i].data);
	free(ctx->storage.entries);
	h2o_multithread_unregister_receiver(ctx->queue,
					    &ctx->receivers.hostinfo_getaddr);
	h2o_multithread_destroy_queue(ctx->queue);
	if (ctx->_timestamp_cache.value != NULL)
		h2o_mem_release_shared(ctx->_timestamp_cache.value);
}

static void
http_freed(uv_handle_t *t)
{
	struct http *h = container_of(t, struct http, idle);
	void (*done)(void *) = h->done;
	void *arg = h->done_arg;
	map_destroy(&h->pending);
	free(h);
	if (done != NULL)
		done(arg);
}

/*
 * Handles closed in one iteration are reaped by the end of the next (one
 * closed while the loop reaps others waits for the next pass): the
 * second run of this callback comes after H2O's timers are gone.
 */
static void
http_idle_cb(uv_idle_t *t)
{
	struct http *h = container_of(t, struct http, idle);
	if (++h->idle_runs < 2)
		return;
	uv_idle_stop(t);
	uv_close((uv_handle_t *)t, http_freed);
}

static void
http_unref(struct http *h)
{
	if (--h->handles > 0)
		return;
	/* closing, and every connection, timer and listener is closed */
	http_ctx_dispose(&h->ctx);
	h2o_config_dispose(&h->conf);
	if (h->ssl != NULL)
		SSL_CTX_free(h->ssl);
	uv_idle_init(h->loop, &h->idle);
	uv_idle_start(&h->idle, http_idle_cb);
}

static void
http_listener_closed(uv_handle_t *t)
{
	struct http_listener *l = container_of(t, struct http_listener, tcp);
	http_unref(l->h);
}

static void
http_conns_shut(struct http *h, int how)
{
	for (struct http_conn *c = h->conns; c != NULL; c = c->next) {
		uv_os_fd_t fd;
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			shutdown(fd, how);
	}
}

static void
http_grace_closed(uv_handle_t *t)
{
	http_unref(container_of(t, struct http, grace));
}

static void
http_grace_stop(struct http *h)
{
	if (!h->grace_open)
		return;
	h->grace_open = false;
	uv_close((uv_handle_t *)&h->grace, http_grace_closed);
}

/* The grace is over: writes fail now, and H2O closes on the error. */
static void
http_grace_cb(uv_timer_t *t)
{
	struct http *h = container_of(t, struct http, grace);
	if (h->conns != NULL)
		log_warn("http: %u connections still open %u ms into the "
			 "close: cut",
			 h->stats.conns, HTTP_CLOSE_GRACE_MS);
	http_conns_shut(h, SHUT_RDWR);
	http_grace_stop(h);
}

void
http_close(struct http *h, void (*done)(void *), void *arg)
{
	if (h->closing)
		return;
	h->closing = true;
	h->done = done;
	h->done_arg = arg;
	/* every pending request is answered (the handler answers new ones
	 * 503 too: nothing is added while this runs) */
	while (h->pending.len > 0) {
		size_t it = 0;
		uint64_t k;
		void *v;
		map_next(&h->pending, &it, &k, &v);
		h2o_req_t *req = http_pending_forget(v);
		h->stats.refused++;
		http_send_perr(req, 503, PERR_INTERNAL_SERVER_ERROR,
			       "The server is shutting down");
	}
	struct http_listener *ls[2] = {&h->plain, &h->tls};
	for (int i = 0; i < 2; i++)
		if (ls[i]->open) {
			ls[i]->open = false;
			uv_close((uv_handle_t *)&ls[i]->tcp,
				 http_listener_closed);
		}
	/* H2O reads the end of each stream and closes the connection the
	 * way it would for any client, once what it writes is written */
	http_conns_shut(h, SHUT_RD);
	if (h->conns != NULL) {
		uv_timer_init(h->loop, &h->grace);
		h->handles++;
		h->grace_open = true;
		uv_timer_start(&h->grace, http_grace_cb, HTTP_CLOSE_GRACE_MS,
			       0);
	}
	http_unref(h); /* the reference http_open gave */
}

/* ----------------------------------------------------------------- open */

/* A listening socket on @a text, or -1 (logged, *err set). */
static int
http_bind(const char *text, struct sockaddr_storage *bound, int *err)
{
	struct sockaddr_storage sa;
	if (addr_parse(text, &sa) != 0) {
		log_error("http: bad address '%s'", text);
		*err = MIST_EINVAL;
		return -1;
	}
	socklen_t salen = sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in);
	int one = 1;
	int fd = socket(sa.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, salen) != 0 ||
	    listen(fd, HTTP_BACKLOG) != 0) {
		log_error("http: cannot listen on %s: %s", text,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		*err = MIST_EIO;
		return -1;
	}
	socklen_t blen = sizeof(*bound);
	getsockname(fd, (struct sockaddr *)bound, &blen);
	return fd;
}

/* Logs OpenSSL's queued errors after @a what. */
static void
http_ssl_log(const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	log_error("http: %s %s: %s", what, file ? file : "", buf);
}

/*
 * The TLS context: TLS 1.2 at least (what every SDK's platform has had
 * for a decade; 1.0 and 1.1 are deprecated by RFC 8996), 1.3 offered, no
 * compression (CRIME), no renegotiation, ALPN h2 then http/1.1.
 */
static SSL_CTX *
http_ssl_new(const struct http_config *cfg, int *err)
{
	*err = MIST_EAUTH;
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		log_error("http: a TLS address needs tls_cert and tls_key");
		*err = MIST_EINVAL;
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		http_ssl_log("cannot create a TLS context", NULL);
		*err = MIST_ENOMEM;
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, 0); /* the highest: 1.3 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/*
	 * No close_notify exchange when a connection ends: H2O 2.2.5 waits
	 * for the peer's close_notify after sending its own, and a client
	 * that has already gone (a phone losing its network, any client
	 * closing an idle keep-alive connection) left the connection open
	 * for ever -- a descriptor per departed client, measured at 29 of
	 * 32 connections closed by wrk.  HTTP needs no close_notify: every
	 * message is framed by its length, so a cut is never read as a
	 * complete answer (nginx ends most connections the same way).
	 */
	SSL_CTX_set_quiet_shutdown(ctx, 1);
	/* an idle connection gives its 34 KiB of record buffers back
	 * (OpenSSL allocates them again for the next record): phones keep
	 * connections open far longer than they use them */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		http_ssl_log("cannot load the certificate", cfg->tls_cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) !=
		    1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		http_ssl_log("cannot load the key (or it does not match)",
			     cfg->tls_key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
	return ctx;
}

static void
http_listener_start(struct http *h, struct http_listener *l, int fd,
		    SSL_CTX *ssl)
{
	l->h = h;
	l->actx.ctx = &h->ctx;
	l->actx.hosts = h->conf.hosts;
	l->actx.ssl_ctx = ssl;
	uv_tcp_init(h->loop, &l->tcp);
	h->handles++;
	l->open = true;
	int rc = uv_tcp_open(&l->tcp, fd);
	if (rc != 0)
		close(fd); /* not adopted: closing the handle will not */
	else
		rc = uv_listen((uv_stream_t *)&l->tcp, HTTP_BACKLOG,
			       http_accept_cb);
	if (rc != 0) {
		/* a socket that listens already: not seen in practice */
		log_error("http: cannot watch a listening socket: %s",
			  uv_strerror(rc));
		l->open = false;
		uv_close((uv_handle_t *)&l->tcp, http_listener_closed);
	}
}

/* Warns when max_conns cannot be reached under the open-file limit. */
static void
http_check_nofile(uint32_t max_conns)
{
	struct rlimit rl;
	/* a margin for the agent's own files, links and executors */
	const rlim_t margin = 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max_conns + margin)
		log_warn("http: max_conns is %u but the open-file limit is "
			 "%llu: accepts will fail first (raise LimitNOFILE)",
			 max_conns, (unsigned long long)rl.rlim_cur);
}

struct http *
http_open(uv_loop_t *loop, struct actor_sys *sys, uint32_t actor,
	  const struct http_config *cfg, const char *plain_addr,
	  const char *tls_addr, int *err)
{
	int dummy, pfd = -1, tfd = -1;
	if (err == NULL)
		err = &dummy;
	*err = MIST_EINVAL;
	if ((plain_addr == NULL && tls_addr == NULL) || cfg->max_body == 0 ||
	    cfg->max_conns == 0 || cfg->max_pending == 0 ||
	    cfg->max_pending_bytes == 0 ||
	    cfg->max_deadline_ms == 0 || cfg->idle_timeout_ms == 0) {
		log_error("http: nothing to listen on, or a zero limit");
		return NULL;
	}
	/* everything that may fail, before any handle exists */
	SSL_CTX *ssl = NULL;
	struct sockaddr_storage pbound, tbound;
	if (tls_addr != NULL && (ssl = http_ssl_new(cfg, err)) == NULL)
		return NULL;
	if (plain_addr != NULL &&
	    (pfd = http_bind(plain_addr, &pbound, err)) < 0)
		goto fail;
	if (tls_addr != NULL && (tfd = http_bind(tls_addr, &tbound, err)) < 0)
		goto fail;
	http_check_nofile(cfg->max_conns);

	struct http *h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->sys = sys;
	h->actor = actor;
	h->cfg = *cfg;
	h->cfg.tls_cert = h->cfg.tls_key = NULL; /* read, not kept */
	if (h->cfg.default_deadline_ms > h->cfg.max_deadline_ms)
		h->cfg.default_deadline_ms = h->cfg.max_deadline_ms;
	h->ssl = ssl;
	h->handles = 1; /* until http_close */
	map_init(&h->pending, randombytes_random());

	/* H2O: the configuration and its one handler first, then the
	 * context (h2o_context_init reads the paths) */
	h2o_config_init(&h->conf);
	h->conf.server_name = h2o_iovec_init(H2O_STRLIT("mist"));
	h->conf.max_request_entity_size = cfg->max_body;
	h->conf.handshake_timeout = HTTP_HANDSHAKE_MS;
	h->conf.http1.req_timeout = cfg->idle_timeout_ms;
	h->conf.http2.idle_timeout = cfg->idle_timeout_ms;
	h2o_hostconf_t *host = h2o_config_register_host(
		&h->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	struct http_handler *hd = (struct http_handler *)h2o_create_handler(
		path, sizeof(*hd));
	hd->super.on_req = http_on_req;
	hd->h = h;
	h2o_create_filter(path, sizeof(h2o_filter_t))->on_setup_ostream =
		http_cors_setup;
	h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))
		->on_setup_ostream = http_cors_setup;
	h2o_context_init(&h->ctx, loop, &h->conf);

	if (pfd >= 0) {
		h->plain.bound = pbound;
		http_listener_start(h, &h->plain, pfd, NULL);
	}
	if (tfd >= 0) {
		h->tls.bound = tbound;
		http_listener_start(h, &h->tls, tfd, ssl);
	}
	if ((pfd >= 0 && !h->plain.open) || (tfd >= 0 && !h->tls.open)) {
		*err = MIST_EIO;
		http_close(h, NULL, NULL); /* freed once the loop runs */
		return NULL;
	}
	char pa[HTTP_ADDR_MAX], ta[HTTP_ADDR_MAX];
	http_bound_addr(h, false, pa, sizeof(pa));
	http_bound_addr(h, true, ta, sizeof(ta));
	log_info("http: listening on %s%s%s%s", pa[0] ? pa : "",
		 pa[0] && ta[0] ? " and " : "", ta[0] ? ta : "",
		 ta[0] ? " (TLS)" : "");
	*err = 0;
	return h;
fail:
	if (pfd >= 0)
		close(pfd);
	if (ssl != NULL)
		SSL_CTX_free(ssl);
	return NULL;
}
