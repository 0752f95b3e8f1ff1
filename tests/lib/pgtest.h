/*
 * pgtest.h -- a fresh PostgreSQL schema per test, on the server the
 * environment variable MIST_TEST_PG names (a libpq connection string;
 * contrib/pgtest.sh starts a private one and prints it).  The tests of the
 * PostgreSQL documents driver and the integration tests run with agents on
 * `--docs postgres` when it is set.
 */
#ifndef MIST_TESTS_PGTEST_H_INCLUDED
#define MIST_TESTS_PGTEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/** MIST_TEST_PG, or NULL when unset or empty. */
const char *pgt_server(void);
/**
 * Creates a schema of a fresh name (in @a schema, @a slen bytes) and
 * writes into @a out the connection string whose search_path is it.
 * False (with *why) when the server refuses.
 */
bool pgt_fresh(char *schema, size_t slen, char *out, size_t olen,
	       const char **why);
/** Drops @a schema and everything in it; false if the server refuses. */
bool pgt_drop(const char *schema);

#endif
