/*
 * proc.h -- real mist processes for integration tests.
 */
#ifndef MIST_TESTS_PROC_H_INCLUDED
#define MIST_TESTS_PROC_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

/** The mist binary under test ($MIST_BIN, set by `make check`). */
const char *proc_mist(void);
/** Starts argv (NULL-terminated) with stderr to @a log; returns the pid. */
pid_t proc_start(char *const argv[], const char *log);
/**
 * Runs argv to completion with a time limit; stdout into @a out (malloc'd,
 * NUL-terminated, may be NULL).  Returns the exit code, or -1.
 */
int proc_run(char *const argv[], char **out, int timeout_ms);
/** Sends @a sig and waits up to @a timeout_ms; returns the exit code or -1. */
int proc_stop(pid_t pid, int sig, int timeout_ms);
/** Waits for @a path to exist and reads its first line into @a out. */
int proc_wait_file(const char *path, char *out, size_t len, int timeout_ms);
/**
 * Runs `mist keygen` and writes its output (one line of 64 hex digits) to
 * @a path; if @a key is not NULL, the 64 digits go there too (NUL ended).
 * 0, or -1 if keygen failed or printed anything else.
 */
int proc_keygen(const char *path, char key[65]);
/** Resident set size of @a pid in KiB, or -1. */
long proc_rss_kib(pid_t pid);
/** Copies the last @a lines lines of the log at @a path to stderr, each
 * after @a prefix: what a failing test shows of an agent before its
 * folder is removed. */
void proc_log_tail(const char *path, const char *prefix, int lines);

#endif
