// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_targets.c - the target list parser: addresses, prefixes, comments,
 * junk (with line numbers), and the reader on a real file stream.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtrace/targets.h"

struct pcase {
	const char *line;
	int rc;
	const char *first; /* dotted quad, host-order range start */
	uint32_t count;
};

Test(targets, parse_line_table)
{
	static const struct pcase c[] = {
		{"10.0.0.1", 1, "10.0.0.1", 1},
		{"  10.0.0.1  \n", 1, "10.0.0.1", 1},
		{"10.0.0.1 # a router", 1, "10.0.0.1", 1},
		{"10.0.0.1#x", 1, "10.0.0.1", 1},
		{"10.1.2.3/24", 1, "10.1.2.0", 256},
		{"10.1.0.0/16", 1, "10.1.0.0", 65536},
		{"10.1.2.3/32", 1, "10.1.2.3", 1},
		{"", 0, NULL, 0},
		{"   ", 0, NULL, 0},
		{"# comment", 0, NULL, 0},
		{"\t# comment 10.0.0.1", 0, NULL, 0},
		{"10.0.0", -EINVAL, NULL, 0},
		{"10.0.0.256", -EINVAL, NULL, 0},
		{"hello", -EINVAL, NULL, 0},
		{"10.0.0.1 10.0.0.2", -EINVAL, NULL, 0},
		{"10.0.0.1/33", -EINVAL, NULL, 0},
		{"10.0.0.1/", -EINVAL, NULL, 0},
		{"10.0.0.1/-1", -EINVAL, NULL, 0},
		{"10.0.0.0/7", -ERANGE, NULL, 0},
		{"::1", -EINVAL, NULL, 0},
		{"10.0.0.1extra", -EINVAL, NULL, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint32_t first = 0, count = 0;
		int rc = targets_parse_line(c[i].line, &first, &count);

		cr_expect_eq(rc, c[i].rc, "'%s': rc %d, want %d", c[i].line, rc, c[i].rc);
		if (rc == 1) {
			struct in_addr a;

			inet_pton(AF_INET, c[i].first, &a);
			cr_expect_eq(first, ntohl(a.s_addr), "'%s': first", c[i].line);
			cr_expect_eq(count, c[i].count, "'%s': count %u", c[i].line, count);
		}
	}
}

Test(targets, read_file_skips_junk)
{
	static const char text[] = "# targets\n"
				   "10.0.0.1\n"
				   "junk line\n"
				   "\n"
				   "10.0.1.0/30   # four\n"
				   "10.0.0.999\n"
				   "10.0.0.2";
	struct targets t = {0};
	char *copy = strdup(text);
	FILE *f = fmemopen(copy, strlen(copy), "r");
	size_t bad = 0;
	char s[16];

	cr_assert_not_null(f);
	cr_assert_eq(targets_read(&t, f, "test", &bad), 0);
	cr_assert_eq(bad, 2);
	cr_assert_eq(t.n, 6);
	inet_ntop(AF_INET, &t.addr[0], s, sizeof(s));
	cr_expect_str_eq(s, "10.0.0.1");
	inet_ntop(AF_INET, &t.addr[1], s, sizeof(s));
	cr_expect_str_eq(s, "10.0.1.0");
	inet_ntop(AF_INET, &t.addr[4], s, sizeof(s));
	cr_expect_str_eq(s, "10.0.1.3");
	inet_ntop(AF_INET, &t.addr[5], s, sizeof(s));
	cr_expect_str_eq(s, "10.0.0.2", "last line without newline");
	fclose(f);
	free(copy);
	targets_free(&t);
	cr_assert_eq(t.n, 0);
}

Test(targets, big_prefix)
{
	struct targets t = {0};

	cr_assert_eq(targets_add_line(&t, "10.7.0.0/16"), 1);
	cr_assert_eq(t.n, 65536);
	cr_assert_eq(ntohl(t.addr[65535]), 0x0a07ffffu);
	targets_free(&t);
}
