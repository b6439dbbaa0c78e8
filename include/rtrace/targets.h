/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * targets.h - target lists: one IPv4 address or prefix (A.B.C.D/N, N >= 8,
 * every address of the prefix) per line, '#' starts a comment, blank lines
 * are ignored. Pure parser plus a reader that reports bad lines with their
 * line number and skips them.
 */
#ifndef RTRACE_TARGETS_H
#define RTRACE_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Shortest prefix length a line may expand (2^24 addresses). */
#define TARGETS_MIN_PREFIX 8

/* A list of destinations, network order, in file order. */
struct targets {
	uint32_t *addr; /* the addresses */
	size_t n;	/* how many */
	size_t cap;	/* allocated entries */
};

/*
 * Parse one line (with or without its newline). Returns 1 and the range
 * [*first, *first + *count) (*first in host order so that ranges can be
 * walked by adding) for an address or prefix, 0 for a blank or comment line,
 * -EINVAL for anything else, -ERANGE for a prefix shorter than /8.
 */
int targets_parse_line(const char *line, uint32_t *first, uint32_t *count);

/* Append the targets of one line. 1 added, 0 nothing to add, or -errno as above / -ENOMEM. */
int targets_add_line(struct targets *t, const char *line);

/*
 * Read every line of f. Bad lines are logged ("NAME:LINE: ...", rt_warn)
 * and skipped; *nbad (may be NULL) gets their number. Returns 0, or -errno on
 * a read error or -ENOMEM.
 */
int targets_read(struct targets *t, FILE *f, const char *name, size_t *nbad);
/* targets_read() of the file at path ("-": stdin). 0, or -errno (open/read error). */
int targets_load(struct targets *t, const char *path, size_t *nbad);

/* Append one address (network order). 0 or -ENOMEM. */
int targets_add(struct targets *t, uint32_t addr);

/* Free the list (the struct may be reused). */
void targets_free(struct targets *t);

#endif /* RTRACE_TARGETS_H */
