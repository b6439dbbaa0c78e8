/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * log.h - leveled logging to stderr, the only place library code prints.
 *
 * Library modules log one line with their module tag and the context
 * ("txring: eth0: mmap of 4 MiB failed: -12"); hot paths never log, they
 * bump counters instead. The mains set the level (-v raises it, -q lowers it).
 */
#ifndef RTRACE_LOG_H
#define RTRACE_LOG_H

enum rt_log_level {
	RT_LOG_ERROR = 0,
	RT_LOG_WARN = 1,
	RT_LOG_INFO = 2,
	RT_LOG_DEBUG = 3,
};

/* Set the most verbose level that is printed (default RT_LOG_WARN). */
void rt_log_set_level(enum rt_log_level level);
enum rt_log_level rt_log_get_level(void);
/* Prefix every line with a timestamp and the program name (daemons). */
void rt_log_set_prefix(const char *progname, int timestamps);

/* Print one line (a newline is added) if level is enabled. */
void rt_log(enum rt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rt_err(...) rt_log(RT_LOG_ERROR, __VA_ARGS__)
#define rt_warn(...) rt_log(RT_LOG_WARN, __VA_ARGS__)
#define rt_info(...) rt_log(RT_LOG_INFO, __VA_ARGS__)
#define rt_dbg(...) rt_log(RT_LOG_DEBUG, __VA_ARGS__)

#endif /* RTRACE_LOG_H */
