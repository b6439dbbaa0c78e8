// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * errbuf.c - formatting a failure's explanation into a caller's buffer
 * (see include/rtrace/errbuf.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "rtrace/errbuf.h"

void rt_errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
