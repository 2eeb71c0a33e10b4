/*
 * Structured-enough logging to stderr: "ts level [node] message". The
 * macros check the level before evaluating their arguments. Never pass a
 * secret value, data key or anything derived from one.
 */
#ifndef COFFER_UTIL_LOG_H
#define COFFER_UTIL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

extern int log_threshold;

/* Set the prefix printed with each line (e.g. "us-east-1/n1"). Copied. */
void log_set_prefix(const char *prefix);
void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                          \
	do {                                      \
		if ((lvl) >= log_threshold)       \
			log_write((lvl), __VA_ARGS__); \
	} while (0)
#define logd(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define logi(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define logw(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define loge(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

#endif
