// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * log.c - leveled logging to stderr (see include/rtrace/log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "rtrace/log.h"

static enum rt_log_level log_level = RT_LOG_WARN;
static const char *log_prog;
static int log_ts;

void rt_log_set_level(enum rt_log_level level)
{
	log_level = level;
}

enum rt_log_level rt_log_get_level(void)
{
	return log_level;
}

void rt_log_set_prefix(const char *progname, int timestamps)
{
	log_prog = progname;
	log_ts = timestamps;
}

void rt_log(enum rt_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	va_list ap;
	int n = 0;

	if (level > log_level)
		return;
	if (log_ts) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n += strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	if (log_prog)
		n += snprintf(line + n, sizeof(line) - n, "%s: ", log_prog);
	if (level != RT_LOG_INFO)
		n += snprintf(line + n, sizeof(line) - n, "%s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
