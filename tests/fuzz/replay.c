/*
 * replay.c -- runs every file of a fuzz corpus through its fuzz target
 * (a plain build, no libFuzzer), printing TAP: one test per file.  Under
 * ASan/UBSan any crash the fuzzer once found fails `make check` again.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The corpus folder's name under tests/fuzz/corpus/, one per target
 * (-DFUZZ_CORPUS='"name"' in Makefile.am). */
#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "wire"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	const char *dir =
		argc > 1 ? argv[1] : SRCDIR "/tests/fuzz/corpus/" FUZZ_CORPUS;
	DIR *d = opendir(dir);
	if (d == NULL) {
		printf("1..0 # cannot open %s\nBail out!\n", dir);
		return 1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "rb");
		if (f == NULL) {
			printf("not ok %zu - %s (unreadable)\n", i + 1, names[i]);
			continue;
		}
		uint8_t *buf = malloc(1 << 20);
		size_t len = fread(buf, 1, 1 << 20, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		printf("ok %zu - %s\n", i + 1, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}
