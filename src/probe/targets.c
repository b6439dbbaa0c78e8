// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * targets.c - target list parser (see include/rtrace/targets.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/log.h"
#include "rtrace/targets.h"

int targets_parse_line(const char *line, uint32_t *first, uint32_t *count)
{
	char buf[64];
	const char *p = line, *end;
	size_t n;
	char *slash;
	struct in_addr a;
	unsigned long plen = 32;

	while (*p && isspace((unsigned char)*p))
		p++;
	end = p;
	while (*end && *end != '#' && !isspace((unsigned char)*end))
		end++;
	n = end - p;
	/* after the token only blanks or a comment may follow */
	while (*end && isspace((unsigned char)*end))
		end++;
	if (*end && *end != '#')
		return -EINVAL;
	if (n == 0)
		return 0;
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash) {
		char *e;

		*slash = '\0';
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		plen = strtoul(slash + 1, &e, 10);
		if (*e || plen > 32)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	if (plen < TARGETS_MIN_PREFIX)
		return -ERANGE;
	*count = plen == 32 ? 1 : 1u << (32 - plen);
	*first = ntohl(a.s_addr) & (plen == 0 ? 0 : ~0u << (32 - plen));
	return 1;
}

int targets_add(struct targets *t, uint32_t addr)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		uint32_t *a = realloc(t->addr, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		t->addr = a;
		t->cap = cap;
	}
	t->addr[t->n++] = addr;
	return 0;
}

int targets_add_line(struct targets *t, const char *line)
{
	uint32_t first, count, i;
	int rc = targets_parse_line(line, &first, &count);

	if (rc <= 0)
		return rc;
	for (i = 0; i < count; i++)
		if (targets_add(t, htonl(first + i)))
			return -ENOMEM;
	return 1;
}

int targets_read(struct targets *t, FILE *f, const char *name, size_t *nbad)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0, bad = 0;
	ssize_t len;
	int err = 0;

	while ((len = getline(&line, &cap, f)) >= 0) {
		int rc;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		rc = targets_add_line(t, line);
		if (rc == -ENOMEM) {
			err = rc;
			break;
		}
		if (rc < 0) {
			bad++;
			rt_warn("%s:%zu: %s, skipped: '%.60s'", name, lineno,
				rc == -ERANGE ? "prefix shorter than /8"
					      : "not an IPv4 address or prefix",
				line);
		}
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	if (nbad)
		*nbad = bad;
	return err;
}

void targets_free(struct targets *t)
{
	free(t->addr);
	memset(t, 0, sizeof(*t));
}

int targets_load(struct targets *t, const char *path, size_t *nbad)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int err;

	if (!f)
		return -errno;
	err = targets_read(t, f, path, nbad);
	if (f != stdin)
		fclose(f);
	return err;
}
