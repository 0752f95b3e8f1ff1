/*
 * autoindex.h -- the shapes of the queries an accessory serves, and when
 * one of them deserves an index of its own (issue 14, item 3).
 *
 * Paper 000 (Droi, section 5) asks the accessory to learn from the
 * traffic it sees; Parse.com built indexes from its query logs and Parse
 * Server does not (parse-server #1381).  mist does it in the documents
 * accessory: every query is reduced to a SHAPE and counted here; when a
 * shape has cost enough (the thresholds below, defended one by one) the
 * accessory (docs.c) builds the index the shape wants, online, within the
 * app's index budget.  This module is pure bookkeeping: no I/O, no clock
 * of its own (the caller passes "now"), so it is tested on its own and a
 * PostgreSQL driver keeps it unchanged.
 *
 *   docs_op_query ──autoix_observe(key, scanned, returned, rejected,
 *        │                         refused, now)──▶ struct autoix_table
 *        │◀── the shape, its counters in the current window ──┘
 *        └── autoix_due(params, shape)? ─▶ docs.c builds autoix_fields()
 *
 * A shape is (app, class, the equality fields sorted by name, at most one
 * range-or-sort field with its direction, and whether the caller's ACL
 * filter is worth indexing: "acl").  Two queries with the same shape are
 * served by the same index whatever their values.  Its index leads with
 * "_rperm" (the object's readers, docs.c) when acl is set, then the
 * equality fields, then the range or sort field.
 *
 * Counters live in a window (params.window_ns): a shape last reset more
 * than a window ago starts again, so a pattern of yesterday does not
 * build an index today.  The table holds at most AUTOIX_SHAPES shapes;
 * a new one evicts the shape that has wasted least (ties: the least
 * recently seen), so the costly patterns stay.
 *
 * Ownership: the table owns its shapes; a returned shape pointer is valid
 * until the next autoix_observe() or autoix_table_destroy().
 */
#ifndef MIST_ACCESSORY_AUTOINDEX_H_INCLUDED
#define MIST_ACCESSORY_AUTOINDEX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field names: as docs.c's index and field names (63 bytes + NUL). */
#define AUTOIX_FIELD_MAX 64
/* Equality fields per shape: an index has DOCS_INDEX_FIELDS (4) fields;
 * one goes to "_rperm" when the shape is an ACL one, one to the range or
 * sort field: two equalities remain.  A query pinning more fields is
 * counted under its first two by name (the index still narrows it). */
#define AUTOIX_EQ_MAX 2
/*
 * Shapes remembered at once (all apps of the node).  An app has a few
 * dozen query patterns (one per screen or list of the mobile app); 1024
 * holds those of some 30 busy apps, at ~400 bytes each (400 KiB).  Past
 * it the shape that wasted least goes (its pattern costs little anyway).
 */
#define AUTOIX_SHAPES 1024

enum autoix_last { AUTOIX_NONE = 0, AUTOIX_RANGE = 1, AUTOIX_SORT = 2 };

struct autoix_key {
	char app[AUTOIX_FIELD_MAX];
	char cls[AUTOIX_FIELD_MAX + 64]; /* DOC_CLASS_MAX is 127 */
	uint32_t neq;
	char eq[AUTOIX_EQ_MAX][AUTOIX_FIELD_MAX];
	int last; /* enum autoix_last */
	char last_field[AUTOIX_FIELD_MAX];
	bool desc; /* the sort is descending */
	bool acl;  /* lead with _rperm */
};

/* What the accessory decided about a shape (shown by `mist apps indexes`). */
enum autoix_verdict {
	AUTOIX_WATCHING = 0, /* counted, below the thresholds */
	AUTOIX_BUILT = 1,    /* its index was created */
	AUTOIX_REFUSED = 2,  /* due, but not built: note says why */
};

struct autoix_shape {
	struct autoix_key key;
	uint64_t hash;
	/* in the current window: */
	uint64_t count;	       /* queries */
	uint64_t scanned;      /* objects examined (refused: up to the bound) */
	uint64_t returned;     /* objects matched */
	uint64_t refusals;     /* refused as too heavy (400 code 102) */
	uint64_t rejected;     /* objects the ACL filter turned away */
	uint64_t max_scanned;  /* the most one query examined */
	uint64_t window_start; /* ns, the caller's clock */
	uint64_t last_seen;    /* ns */
	int verdict;	       /* enum autoix_verdict */
	char note[160];	       /* why (built, or not built) */
	uint64_t eval_saves;   /* what it would save when last refused */
	uint64_t eval_gen;     /* the caller's generation of what refused it */
};

struct autoix_params {
	/*
	 * Queries of a shape before its index is considered: one costly
	 * query is an accident (an operator's ad-hoc look), three in a
	 * window are a pattern.
	 */
	uint32_t min_queries;
	/*
	 * Refusals (400 code 102) of a shape that build its index whatever
	 * the other counters say: the app cannot run that query at all, and
	 * the refusal already told the developer which index it wants.
	 */
	uint32_t refusals;
	/*
	 * The waste (objects examined but not returned) of a shape in the
	 * window must pass both max(waste_min, build_factor x the largest
	 * scan one query of it made).  A build reads the class once and
	 * writes one entry per object: about build_factor (2) class scans;
	 * an index saves (scanned - returned) per query.  Past the bound the
	 * build has paid for itself within the window.  waste_min (10000
	 * objects, some 10 ms of parsing, DOCS_SCAN_MAX's measure) keeps a
	 * small class scanned: an index costs a key on every write forever,
	 * and scanning 50 objects is cheaper than that.
	 */
	uint64_t waste_min;
	uint32_t build_factor;
	/*
	 * Selectivity: the shape's results must be at most 1/selectivity of
	 * what it examined (4: an index then reads a quarter of the objects
	 * or less; a query returning most of a class gains little from one).
	 */
	uint32_t selectivity;
	/*
	 * An ACL shape (an index leading with _rperm): the objects the ACL
	 * filter rejected are at least acl_ratio times what the shape
	 * returned (4: a user sees a quarter or less of what it scans).
	 */
	uint32_t acl_ratio;
	/* 10 minutes: long enough to see a screen's pattern repeat, short
	 * enough that a pattern gone for the day restarts from zero. */
	uint64_t window_ns;
};

#define AUTOIX_MIN_QUERIES 3
#define AUTOIX_REFUSALS 3
#define AUTOIX_WASTE_MIN 10000
#define AUTOIX_BUILD_FACTOR 2
#define AUTOIX_SELECTIVITY 4
#define AUTOIX_ACL_RATIO 4
#define AUTOIX_WINDOW_NS (600ull * 1000000000)

void autoix_params_default(struct autoix_params *p);

struct autoix_table {
	struct autoix_shape *v;
	uint32_t n, max;
	uint64_t evictions;
};

void autoix_table_init(struct autoix_table *t, uint32_t max);
void autoix_table_destroy(struct autoix_table *t);

/** Fills @a k's hash-relevant defaults: zeroes it. */
void autoix_key_init(struct autoix_key *k, const char *app, const char *cls);
/** Adds an equality field (kept sorted, deduplicated; past AUTOIX_EQ_MAX
 * the later names are not part of the shape).  false if @a f is too long. */
bool autoix_key_eq(struct autoix_key *k, const char *f);

/**
 * Counts one query of shape @a k: @a scanned objects examined, @a returned
 * matched, @a rejected turned away by the ACL filter, @a refused as too
 * heavy.  Returns the shape (created, evicting, if new).
 */
struct autoix_shape *autoix_observe(struct autoix_table *t,
				    const struct autoix_key *k,
				    uint64_t scanned, uint64_t returned,
				    uint64_t rejected, bool refused,
				    uint64_t now, const struct autoix_params *p);

/** Is @a s due for its index (and not built already)?  @a why (160 bytes)
 * says which threshold it passed. */
bool autoix_due(const struct autoix_params *p, const struct autoix_shape *s,
		char *why, size_t len);

/** The index @a k wants: up to 4 fields ("_rperm" first for an ACL shape)
 * with their directions; returns how many. */
uint32_t autoix_fields(const struct autoix_key *k,
		       const char *fields[4], bool desc[4]);
/** Its name: "auto_" and the fields ("_d" after a descending one), or
 * "auto_" and 16 hex digits of the shape's hash if that is longer than
 * @a len - 1 (index names are at most 63 bytes). */
void autoix_name(const struct autoix_key *k, char *out, size_t len);
/** "eq a, b; range c" / "eq a; sort -c; acl" (for reasons and listings). */
void autoix_describe(const struct autoix_key *k, char *out, size_t len);
/** The shape of @a app, @a cls with that hash; NULL if none. */
struct autoix_shape *autoix_find(struct autoix_table *t,
				 const struct autoix_key *k);

#endif
