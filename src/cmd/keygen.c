/*
 * keygen.c -- `mist keygen`: print a new cluster key.
 */
#include "config.h"
#include "cmd/cmd.h"
#include "net/identity.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
	"usage: mist keygen\n"
	"\n"
	"Prints a new random 32-byte cluster key as 64 hex digits on one line.\n"
	"Every agent of a cluster is started with the same key (--key FILE):\n"
	"it admits nodes to the cluster and keys their encrypted links.\n"
	"\n"
	"  mist keygen > cluster.key && chmod 600 cluster.key\n";

int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"version", no_argument, 0, 'V'},
					     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return EXIT_OK;
		case 'V':
			cmd_print_version();
			return EXIT_OK;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	char key[65];
	cluster_key_generate(key);
	printf("%s\n", key);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
