/*
 * pgtest.c -- see pgtest.h.
 */
#include "pgtest.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *
pgt_server(void)
{
	const char *s = getenv("MIST_TEST_PG");
	return s != NULL && *s != '\0' ? s : NULL;
}

static void
pgt_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "drop cascades to ..." */
}

static bool
pgt_exec(const char *sql, const char **why)
{
	static char err[256];
	PGconn *c = PQconnectdb(pgt_server());
	bool ok = false;
	if (PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, pgt_quiet, NULL);
		PGresult *r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok) {
		snprintf(err, sizeof(err), "%s", PQerrorMessage(c));
		if (why)
			*why = err;
	}
	PQfinish(c);
	return ok;
}

bool
pgt_fresh(char *schema, size_t slen, char *out, size_t olen,
	  const char **why)
{
	static unsigned seq;
	const char *base = pgt_server();
	if (base == NULL) {
		*why = "MIST_TEST_PG is not set";
		return false;
	}
	/* the pid, the time and a count: a schema a crashed run left behind
	 * under a reused pid is never met */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(schema, slen, "mist_t_%ld_%u_%lx", (long)getpid(), seq++,
		 (unsigned long)(ts.tv_nsec ^ (ts.tv_sec << 20)));
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
	if (!pgt_exec(sql, why))
		return false;
	if (strncmp(base, "postgres", 8) == 0) /* a URI */
		snprintf(out, olen, "%s%coptions=-csearch_path%%3D%s", base,
			 strchr(base, '?') ? '&' : '?', schema);
	else
		snprintf(out, olen, "%s options='-c search_path=%s'", base,
			 schema);
	return true;
}

bool
pgt_drop(const char *schema)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
	return pgt_exec(sql, NULL);
}
