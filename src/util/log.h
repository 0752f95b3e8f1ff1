/*
 * log.h -- leveled logging to stderr.
 *
 * One process-wide level (set once at start, before any thread runs).  Lines
 * are "TIME LEVEL [name] message"; the name is the node's, set by the agent.
 */
#ifndef MIST_UTIL_LOG_H_INCLUDED
#define MIST_UTIL_LOG_H_INCLUDED

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/** Parse "error|warn|info|debug"; returns 0 or MIST_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level lvl);
void log_set_name(const char *name);
int log_is_enabled(enum log_level lvl);
void log_write(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_is_enabled(LOG_LVL_DEBUG))                             \
			log_write(LOG_LVL_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
