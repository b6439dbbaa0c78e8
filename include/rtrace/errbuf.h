/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * errbuf.h - the "char *err, size_t errlen" convention of functions that
 * explain a failure to a person: one formatter that tolerates a caller who
 * passed no buffer.
 */
#ifndef RTRACE_ERRBUF_H
#define RTRACE_ERRBUF_H

#include <stddef.h>

/* printf into buf (truncated to len - 1 characters); nothing if buf is NULL or len 0. */
void rt_errf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* RTRACE_ERRBUF_H */
