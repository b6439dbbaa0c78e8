// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_batch_blocklist.c - unit tests of rtrace-batch's blocklist against the
 * IANA IPv4 Special-Purpose Address Registry (every entry, its first and last
 * address and the addresses just outside, written here from the registry
 * independently of blocklist.c's table), --allow, user blocklist files and
 * CIDR parsing. Output files, resume and status are in test_batch_io.c.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/batch.h"

static uint32_t A(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad address %s", s);
	return a.s_addr;
}

static uint32_t H(uint32_t host)
{
	return htonl(host);
}

/* ---- blocklist ----------------------------------------------------------------------- */

/*
 * The registry (iana-ipv4-special-registry, top-level entries) as its CSV
 * lists them: address block, name. Nested entries (192.0.0.0/29, .8/32 ...)
 * are inside 192.0.0.0/24.
 */
static const struct {
	const char *block, *name;
	bool nested; /* listed inside a larger entry of the registry */
} registry[] = {
	{"0.0.0.0/8", "This network", false},
	{"0.0.0.0/32", "This host on this network", true},
	{"10.0.0.0/8", "Private-Use", false},
	{"100.64.0.0/10", "Shared Address Space", false},
	{"127.0.0.0/8", "Loopback", false},
	{"169.254.0.0/16", "Link Local", false},
	{"172.16.0.0/12", "Private-Use", false},
	{"192.0.0.0/24", "IETF Protocol Assignments", false},
	{"192.0.0.0/29", "IPv4 Service Continuity Prefix", true},
	{"192.0.0.8/32", "IPv4 dummy address", true},
	{"192.0.0.9/32", "Port Control Protocol Anycast", true},
	{"192.0.0.10/32", "Traversal Using Relays around NAT Anycast", true},
	{"192.0.0.170/32", "NAT64/DNS64 Discovery", true},
	{"192.0.0.171/32", "NAT64/DNS64 Discovery", true},
	{"192.0.2.0/24", "Documentation (TEST-NET-1)", false},
	{"192.31.196.0/24", "AS112-v4", false},
	{"192.52.193.0/24", "AMT", false},
	{"192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", false},
	{"192.168.0.0/16", "Private-Use", false},
	{"192.175.48.0/24", "Direct Delegation AS112 Service", false},
	{"198.18.0.0/15", "Benchmarking", false},
	{"198.51.100.0/24", "Documentation (TEST-NET-2)", false},
	{"203.0.113.0/24", "Documentation (TEST-NET-3)", false},
	{"240.0.0.0/4", "Reserved", false},
	{"255.255.255.255/32", "Limited Broadcast", false},
};

static struct batch_blocklist BL;

/*
 * Every address of the NULL-terminated list is open (blocked false) or
 * blocked in BL; OPEN(...) and BLOCKED(...) take the addresses as arguments.
 */
static void expect_blocked(bool blocked, const char *const *addrs)
{
	const struct batch_range *r;

	for (; *addrs; addrs++) {
		r = batch_blocklist_match(&BL, A(*addrs));
		if (blocked)
			cr_assert_not_null(r, "%s open", *addrs);
		else
			cr_assert_null(r, "%s blocked by %s", *addrs, r->what);
	}
}

#define OPEN(...) expect_blocked(false, (const char *const[]){__VA_ARGS__, NULL})
#define BLOCKED(...) expect_blocked(true, (const char *const[]){__VA_ARGS__, NULL})

static void bl_default(void)
{
	cr_assert_eq(batch_blocklist_init(&BL), 0);
	cr_assert_eq(batch_blocklist_finish(&BL), 0);
}

static void prefix_bounds(const char *cidr, uint32_t *lo, uint32_t *hi)
{
	char buf[32], *sl;
	int plen;

	snprintf(buf, sizeof(buf), "%s", cidr);
	sl = strchr(buf, '/');
	cr_assert_not_null(sl);
	*sl = 0;
	plen = atoi(sl + 1);
	*lo = ntohl(A(buf));
	*hi = *lo | (plen == 32 ? 0 : (0xffffffffu >> plen));
}

Test(blocklist, every_registry_entry_is_blocked)
{
	size_t i;

	bl_default();
	for (i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		uint32_t lo, hi;

		prefix_bounds(registry[i].block, &lo, &hi);
		cr_assert_not_null(batch_blocklist_match(&BL, H(lo)), "%s (%s): first address open",
				   registry[i].block, registry[i].name);
		cr_assert_not_null(batch_blocklist_match(&BL, H(hi)), "%s (%s): last address open",
				   registry[i].block, registry[i].name);
		cr_assert_not_null(batch_blocklist_match(&BL, H(lo + (hi - lo) / 2)),
				   "%s: middle open", registry[i].block);
	}
	batch_blocklist_free(&BL);
}

/* Addresses just outside the ranges, and the classic typo 192.18 for 198.18. */
Test(blocklist, neighbours_are_open)
{
	static const char *const open_[] = {
		"1.0.0.0",	   "9.255.255.255",   "11.0.0.0",	 "100.63.255.255",
		"100.128.0.0",	   "126.255.255.255", "128.0.0.0",	 "169.253.255.255",
		"169.255.0.0",	   "172.15.255.255",  "172.32.0.0",	 "191.255.255.255",
		"192.0.1.0",	   "192.0.3.0",	      "192.18.0.1",	 "192.19.255.255",
		"192.31.195.255",  "192.31.197.0",    "192.52.192.255",	 "192.52.194.0",
		"192.88.98.255",   "192.88.100.0",    "192.167.255.255", "192.169.0.0",
		"192.175.47.255",  "192.175.49.0",    "198.17.255.255",	 "198.20.0.0",
		"198.51.99.255",   "198.51.101.0",    "203.0.112.255",	 "203.0.114.0",
		"223.255.255.255", "8.8.8.8",	      "1.1.1.1",
	};
	size_t i;

	bl_default();
	for (i = 0; i < sizeof(open_) / sizeof(open_[0]); i++)
		OPEN(open_[i]);
	/* the registry says 198.18.0.0/15, not 192.18 */
	BLOCKED("198.18.0.0", "198.19.255.255");
	/* multicast is refused too (not in that registry, never a unicast target) */
	BLOCKED("224.0.0.1", "239.255.255.255");
	batch_blocklist_free(&BL);
}

/* The implementation's table lists exactly the registry's top-level entries. */
Test(blocklist, table_matches_registry)
{
	size_t n, i, j, top = 0;
	const struct batch_special *sp = batch_special_ranges(&n);

	for (i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (registry[i].nested)
			continue;
		top++;
		for (j = 0; j < n && strcmp(sp[j].cidr, registry[i].block); j++)
			;
		cr_assert_lt(j, n, "registry entry %s missing from the table", registry[i].block);
	}
	cr_assert_eq(n, top + 1, "table has %zu entries, registry %zu top-level + multicast", n,
		     top);
	cr_assert_eq(top, 18);
}

Test(blocklist, match_names_the_range)
{
	const struct batch_range *r;

	bl_default();
	r = batch_blocklist_match(&BL, A("198.18.5.5"));
	cr_assert_not_null(r);
	cr_assert(strstr(r->what, "198.18.0.0/15") && strstr(r->what, "Benchmarking") &&
			  strstr(r->what, "RFC 2544"),
		  "%s", r->what);
	batch_blocklist_free(&BL);
}

Test(blocklist, allow_opens_only_that_part)
{
	batch_blocklist_init(&BL);
	cr_assert_eq(batch_blocklist_allow(&BL, "10.1.0.0/16"), 0);
	cr_assert_eq(batch_blocklist_allow(&BL, "10.200.0.0/15"), 0);
	cr_assert_eq(batch_blocklist_allow(&BL, "10.1.0.0/24"), 0); /* nested: merged */
	cr_assert_eq(batch_blocklist_finish(&BL), 0);
	OPEN("10.1.0.0", "10.1.255.255", "10.201.3.4");
	BLOCKED("10.0.255.255", "10.2.0.0", "10.199.255.255", "10.202.0.0", "192.168.1.1");
	batch_blocklist_free(&BL);

	/* opening all of 10/8 and the whole of a range at its edges */
	batch_blocklist_init(&BL);
	batch_blocklist_allow(&BL, "10.0.0.0/8");
	batch_blocklist_allow(&BL, "255.255.255.255/32");
	batch_blocklist_finish(&BL);
	OPEN("10.0.0.0", "10.255.255.255", "255.255.255.255", "9.255.255.255");
	BLOCKED("255.255.255.254");
	batch_blocklist_free(&BL);
}

Test(blocklist, user_file_and_allow_does_not_override_it)
{
	const char *text = "# my blocklist\n"
			   "8.8.8.0/24\n"
			   "  1.2.3.4   # one host\n"
			   "\n"
			   "10.1.2.0/24\n"
			   "bogus\n"
			   "1.2.3.0/23\n"	/* host bits set */
			   "5.6.7.8 9.9.9.9\n"; /* two tokens */
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	const struct batch_range *r;
	size_t bad = 0;

	batch_blocklist_init(&BL);
	batch_blocklist_allow(&BL, "10.0.0.0/8");
	cr_assert_eq(batch_blocklist_read(&BL, f, "bl.txt", &bad), 0);
	fclose(f);
	cr_assert_eq(bad, 3);
	cr_assert_eq(batch_blocklist_finish(&BL), 0);
	r = batch_blocklist_match(&BL, A("8.8.8.8"));
	cr_assert_not_null(r);
	cr_assert(strstr(r->what, "bl.txt:2"), "%s", r->what);
	cr_assert_not_null(batch_blocklist_match(&BL, A("1.2.3.4")));
	cr_assert_null(batch_blocklist_match(&BL, A("1.2.3.5")));
	cr_assert_null(batch_blocklist_match(&BL, A("8.8.9.0")));
	cr_assert_null(batch_blocklist_match(&BL, A("10.1.1.1")));
	cr_assert_not_null(batch_blocklist_match(&BL, A("10.1.2.3")), "user entry wins");
	batch_blocklist_free(&BL);
}

Test(blocklist, cidr_parse)
{
	uint32_t lo, hi;

	cr_assert_eq(batch_cidr_parse("0.0.0.0/0", &lo, &hi), 0);
	cr_assert(lo == 0 && hi == 0xffffffffu);
	cr_assert_eq(batch_cidr_parse("1.2.3.4", &lo, &hi), 0);
	cr_assert(lo == hi && lo == 0x01020304u);
	cr_assert_eq(batch_cidr_parse("1.2.3.4/33", &lo, &hi), -EINVAL);
	cr_assert_eq(batch_cidr_parse("1.2.3.4/", &lo, &hi), -EINVAL);
	cr_assert_eq(batch_cidr_parse("1.2.3.4/24", &lo, &hi), -EINVAL);
	cr_assert_eq(batch_cidr_parse("1.2.3/24", &lo, &hi), -EINVAL);
	cr_assert_eq(batch_cidr_parse("", &lo, &hi), -EINVAL);
}
