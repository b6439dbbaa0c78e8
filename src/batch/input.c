// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * input.c - the target list of rtrace-batch: the target-list parser of the
 * probe module (targets.h) line by line, so that bad lines and refused
 * addresses are reported with their line numbers; each address once, in file
 * order; the blocklist applied (with the range that refuses an address and
 * the --allow that would open it); targets already done (--resume) left out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/batch.h"
#include "rtrace/log.h"
#include "rtrace/targets.h"

/* The --allow argument that opens the default range r (its CIDR), or NULL. */
static void allow_hint(const struct batch_range *r, char *buf, size_t len)
{
	const char *sp = strchr(r->what, ' ');

	/* default ranges are named "CIDR (Name, RFC n)"; user ones "CIDR (FILE:LINE)" */
	if (sp && strstr(r->what, "RFC"))
		snprintf(buf, len, "; --allow %.*s opens it", (int)(sp - r->what), r->what);
	else
		snprintf(buf, len, " (your blocklist)");
}

static int one_line(const char *line, size_t lineno, const char *name,
		    const struct batch_blocklist *bl, const struct batch_addrset *skip,
		    struct batch_addrset *seen, struct targets *t, struct batch_input_stats *st,
		    unsigned max_msgs)
{
	const struct batch_range *first = NULL;
	uint32_t lo, count, i, refused = 0;
	char hint[64], a[16];
	int rc = targets_parse_line(line, &lo, &count);

	if (rc == 0)
		return 0;
	if (rc < 0) {
		if (++st->bad <= max_msgs)
			rt_warn("%s:%zu: %s, skipped: '%.60s'", name, lineno,
				rc == -ERANGE ? "prefix shorter than /8"
					      : "not an IPv4 address or prefix",
				line);
		return 0;
	}
	for (i = 0; i < count; i++) {
		uint32_t addr = htonl(lo + i);
		const struct batch_range *r = bl ? batch_blocklist_match(bl, addr) : NULL;

		if (r) {
			if (!refused++)
				first = r;
			continue;
		}
		if (skip && batch_addrset_has(skip, addr)) {
			st->skipped++;
			continue;
		}
		rc = batch_addrset_add(seen, addr);
		if (rc < 0)
			return rc;
		if (!rc) {
			st->dups++;
			continue;
		}
		if (targets_add(t, addr))
			return -ENOMEM;
	}
	if (refused) {
		st->refused += refused;
		if (++st->refused_lines <= max_msgs) {
			struct in_addr in = {.s_addr = htonl(lo)};

			inet_ntop(AF_INET, &in, a, sizeof(a));
			allow_hint(first, hint, sizeof(hint));
			if (count == 1)
				rt_warn("%s:%zu: %s refused: in %s%s", name, lineno, a, first->what,
					hint);
			else
				rt_warn("%s:%zu: %u of the %u addresses of %s refused: in %s%s",
					name, lineno, refused, count, line, first->what, hint);
		}
	}
	return 0;
}

int batch_read_targets(FILE *f, const char *name, const struct batch_blocklist *bl,
		       const struct batch_addrset *skip, struct targets *t,
		       struct batch_input_stats *st, unsigned max_msgs)
{
	struct batch_addrset seen = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0;

	memset(st, 0, sizeof(*st));
	while ((len = getline(&line, &cap, f)) >= 0) {
		st->lines++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		err = one_line(line, st->lines, name, bl, skip, &seen, t, st, max_msgs);
		if (err)
			break;
	}
	if (!err && ferror(f))
		err = -EIO;
	if (st->bad > max_msgs)
		rt_warn("%s: %zu bad lines in all (first %u shown)", name, st->bad, max_msgs);
	if (st->refused_lines > max_msgs)
		rt_warn("%s: %zu lines with refused addresses in all (first %u shown)", name,
			st->refused_lines, max_msgs);
	free(line);
	batch_addrset_free(&seen);
	return err;
}
