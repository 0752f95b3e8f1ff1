/*
 * testutil.h -- helpers shared by the test programs.
 */
#ifndef MIST_TESTS_TESTUTIL_H_INCLUDED
#define MIST_TESTS_TESTUTIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/** Decodes a hex string into a malloc'd buffer; *len gets its size. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/** A fresh temporary directory (mkdtemp under $TMPDIR); caller frees. */
char *tu_tmpdir(void);
/** rm -rf @a dir. */
void tu_rmrf(const char *dir); /* kept when MIST_KEEP_TMP is set */
/** The test seed: MIST_SEED or time-based; printed to stderr. */
uint64_t tu_seed(void);

#endif
