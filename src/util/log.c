#include "config.h"
#include "util/log.h"
#include "util/clock.h"
#include "mist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * The process's log settings: the one piece of mutable state shared by
 * everything in a process, on purpose -- a process has one stderr, and two
 * agents simulated in one process (tests) log to it alike.  Set once, at
 * start, before any actor runs.
 */
static enum log_level log_level = LOG_LVL_INFO;
static char log_name[64];

static const char *const log_names[] = {"error", "warn", "info", "debug"};

int
log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return MIST_EINVAL;
}

void
log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

void
log_set_name(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

int
log_is_enabled(enum log_level lvl)
{
	return lvl <= log_level;
}

void
log_write(enum log_level lvl, const char *fmt, ...)
{
	if (!log_is_enabled(lvl))
		return;
	char line[1024];
	uint64_t ms = clock_wall_ms();
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03u %-5s [%s] ",
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000),
			 log_names[lvl], log_name[0] ? log_name : "mist");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent processes do not mix. */
	fprintf(stderr, "%s\n", line);
}
