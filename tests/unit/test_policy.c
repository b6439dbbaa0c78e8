// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_policy.c - the agent's authorisation and limits: parsing (good files,
 * every kind of bad line with its line number), spoof decisions, blocklist,
 * per-client limits and the token bucket / in-flight admission, table-driven.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "rtrace/policy.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "%s", s);
	return a.s_addr;
}

static const char *policy_text = "# rtraced policy for the lab\n"
				 "global rate 5000 inflight 100\n"
				 "default rate 200 inflight 4\n"
				 "client alice spoof 10.1.0.0/16 192.0.2.7\n"
				 "client alice spoof 198.51.100.0/24   # second line adds\n"
				 "client alice rate 1000 inflight 8\n"
				 "client bob inflight 2\n"
				 "client mallory deny\n"
				 "\n"
				 "   \t\n"
				 "blocklist 203.0.113.0/24 10.1.9.9\n"
				 "client carol spoof 0.0.0.0/0\r\n";

static struct policy *load(void)
{
	struct policy *p = policy_new();
	char err[256] = "";

	cr_assert_not_null(p);
	cr_assert_eq(policy_parse(p, policy_text, strlen(policy_text), err, sizeof(err)), 0, "%s",
		     err);
	return p;
}

Test(policy, spoof_table)
{
	struct {
		const char *name, *peer, *src;
		int want;
	} t[] = {
		/* own address and "no spoofing" always fine */
		{"dave", "10.0.0.5", "10.0.0.5", 0},
		{"dave", "10.0.0.5", "0.0.0.0", 0},
		/* anything else refused without a spoof line */
		{"dave", "10.0.0.5", "10.0.0.6", -EPERM},
		{"bob", "10.0.0.5", "10.1.2.3", -EPERM},
		/* alice's grants, across two lines, and a /32 */
		{"alice", "10.0.0.5", "10.1.2.3", 0},
		{"alice", "10.0.0.5", "10.1.255.255", 0},
		{"alice", "10.0.0.5", "10.2.0.0", -EPERM},
		{"alice", "10.0.0.5", "192.0.2.7", 0},
		{"alice", "10.0.0.5", "192.0.2.8", -EPERM},
		{"alice", "10.0.0.5", "198.51.100.200", 0},
		{"alice", "10.0.0.5", "10.0.0.5", 0},
		/* names are exact */
		{"alice2", "10.0.0.5", "10.1.2.3", -EPERM},
		{"Alice", "10.0.0.5", "10.1.2.3", -EPERM},
		/* carol may spoof anything */
		{"carol", "10.0.0.5", "8.8.8.8", 0},
		/* mallory may not even use her own address */
		{"mallory", "10.0.0.5", "10.0.0.5", -EPERM},
	};
	struct policy *p = load();

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char why[256] = "";
		int r = policy_may_spoof(p, t[i].name, ip(t[i].peer), ip(t[i].src), why,
					 sizeof(why));

		cr_assert_eq(r, t[i].want, "%s from %s spoofing %s: got %d (%s)", t[i].name,
			     t[i].peer, t[i].src, r, why);
		if (r)
			cr_assert_neq(why[0], '\0', "refusal without a reason");
	}
	/* The reason names the client, its address and the source. */
	char why[256];

	policy_may_spoof(p, "dave", ip("10.0.0.5"), ip("10.0.0.6"), why, sizeof(why));
	cr_assert(strstr(why, "dave") && strstr(why, "10.0.0.5") && strstr(why, "10.0.0.6"), "%s",
		  why);
	policy_free(p);
}

Test(policy, connect_and_blocklist)
{
	struct policy *p = load();
	char why[256];
	struct {
		const char *target;
		int want;
	} t[] = {
		{"203.0.113.0", -EPERM}, {"203.0.113.255", -EPERM}, {"203.0.114.1", 0},
		{"10.1.9.9", -EPERM},	 {"10.1.9.8", 0},	    {"192.0.2.1", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(policy_target_allowed(p, ip(t[i].target), why, sizeof(why)), t[i].want,
			     "%s", t[i].target);
	policy_target_allowed(p, ip("203.0.113.9"), why, sizeof(why));
	cr_assert(strstr(why, "203.0.113.0/24"), "%s", why);

	cr_assert_eq(policy_may_connect(p, "alice", ip("10.0.0.1"), why, sizeof(why)), 0);
	cr_assert_eq(policy_may_connect(p, "mallory", ip("10.0.0.1"), why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "mallory"), "%s", why);
	policy_free(p);
}

Test(policy, limits_table)
{
	struct policy *p = load(), *empty = policy_new();
	struct policy_limits l;
	struct {
		struct policy *p;
		const char *name;
		uint32_t rate, inflight;
	} t[] = {
		{p, "alice", 1000, 8},
		{p, "bob", 200, 2}, /* rate from the default line */
		{p, "zed", 200, 4},
		{empty, "zed", POLICY_DEFAULT_RATE, POLICY_DEFAULT_INFLIGHT},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		policy_client_limits(t[i].p, t[i].name, &l);
		cr_assert_eq(l.rate_pps, t[i].rate, "%s", t[i].name);
		cr_assert_eq(l.inflight, t[i].inflight, "%s", t[i].name);
	}
	policy_global_limits(p, &l);
	cr_assert_eq(l.rate_pps, 5000);
	cr_assert_eq(l.inflight, 100);
	policy_global_limits(empty, &l);
	cr_assert_eq(l.rate_pps, POLICY_DEFAULT_GLOBAL_RATE);
	policy_free(p);
	policy_free(empty);
}

Test(policy, bad_files_table)
{
	struct {
		const char *text, *want;
	} t[] = {
		{"global rate\n", "line 1"},
		{"\n\nglobal rate 0\n", "line 3"},
		{"global rate -5\n", "line 1"},
		{"global rate 10 rate 20\n", "line 1"},
		{"global speed 10\n", "line 1"},
		{"frobnicate\n", "unknown keyword"},
		{"client alice\n", "line 1"},
		{"client alice spoof\n", "PREFIX"},
		{"client alice spoof 10.0.0.1/24\n", "host bits"},
		{"client alice spoof 10.0.0.0/33\n", "bad prefix"},
		{"client alice spoof 10.0.0\n", "bad prefix"},
		{"client alice spoof 10.0.0.0/\n", "bad prefix"},
		{"client alice spoof 10.0.0.0/+8\n", "bad prefix"},
		{"client alice rate fast\n", "positive number"},
		{"client alice deny now\n", "line 1"},
		{"blocklist\n", "PREFIX"},
		{"blocklist 300.0.0.0/8\n", "bad prefix"},
		{"client aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa rate "
		 "1\n",
		 "line 1"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct policy *p = policy_new();
		char err[256] = "";

		cr_assert_eq(policy_parse(p, t[i].text, strlen(t[i].text), err, sizeof(err)),
			     -EINVAL, "accepted: %s", t[i].text);
		cr_assert(strstr(err, t[i].want), "'%s': error '%s' lacks '%s'", t[i].text, err,
			  t[i].want);
		policy_free(p);
	}
}

Test(policy, prefixes)
{
	uint32_t net;
	int len;

	cr_assert_eq(policy_parse_prefix("10.0.0.0/8", &net, &len), 0);
	cr_assert_eq(net, ip("10.0.0.0"));
	cr_assert_eq(len, 8);
	cr_assert_eq(policy_parse_prefix("1.2.3.4", &net, &len), 0);
	cr_assert_eq(len, 32);
	cr_assert_eq(policy_parse_prefix("0.0.0.0/0", &net, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(policy_parse_prefix("1.2.3.4/8", &net, &len), -EINVAL);
	cr_assert_eq(policy_parse_prefix("", &net, &len), -EINVAL);
	cr_assert_eq(policy_parse_prefix("/8", &net, &len), -EINVAL);
	cr_assert_eq(policy_parse_prefix("1.2.3.0/24x", &net, &len), -EINVAL);
}

Test(policy, admission)
{
	struct policy_limits lim = {.rate_pps = 100, .inflight = 2};
	struct policy_usage u = {0};
	char why[256];
	uint64_t t0 = 1000000000ull;

	/* A fresh bucket holds one second of probes. */
	cr_assert_eq(policy_admit(&lim, &u, 60, t0, why, sizeof(why)), 0);
	cr_assert_eq(policy_admit(&lim, &u, 60, t0, why, sizeof(why)), -EAGAIN);
	cr_assert(strstr(why, "rate limit 100"), "%s", why);
	cr_assert_eq(u.inflight, 1, "a refused request must not count");
	/* 200 ms later 20 more tokens: 60 fit again. */
	cr_assert_eq(policy_admit(&lim, &u, 60, t0 + 200000000ull, why, sizeof(why)), 0);
	/* In-flight cap before rate. */
	cr_assert_eq(policy_admit(&lim, &u, 1, t0 + 5000000000ull, why, sizeof(why)), -EBUSY);
	cr_assert(strstr(why, "in flight"), "%s", why);
	policy_release(&u);
	cr_assert_eq(policy_admit(&lim, &u, 1, t0 + 5000000000ull, why, sizeof(why)), 0);
	/* The bucket never holds more than a second's worth. */
	policy_release(&u);
	policy_release(&u);
	cr_assert_eq(policy_admit(&lim, &u, 100, t0 + 900000000000ull, why, sizeof(why)), 0);
	cr_assert_eq(policy_admit(&lim, &u, 1, t0 + 900000000000ull, why, sizeof(why)), -EAGAIN);
	/* A request bigger than one second of rate is still possible once the bucket fills. */
	struct policy_usage v = {0};

	cr_assert_eq(policy_admit(&lim, &v, 250, t0, why, sizeof(why)), 0);
	cr_assert_eq(policy_admit(&lim, &v, 250, t0 + 1000000000ull, why, sizeof(why)), -EAGAIN);
	cr_assert_eq(policy_admit(&lim, &v, 250, t0 + 2600000000ull, why, sizeof(why)), 0);
	cr_assert_eq(v.inflight, 2);
	cr_assert_eq(policy_admit(&lim, &v, 1, t0 + 9000000000ull, why, sizeof(why)), -EBUSY);
}

Test(policy, load_file)
{
	char path[] = "/tmp/rtrace-policy-XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	struct policy *p = NULL;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, policy_text, strlen(policy_text)), (ssize_t)strlen(policy_text));
	close(fd);
	cr_assert_eq(policy_load(&p, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(policy_may_spoof(p, "alice", ip("10.0.0.1"), ip("10.1.0.1"), NULL, 0), 0);
	policy_free(p);

	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_eq(write(fd, "global rate 5\nbogus\n", 20), 20);
	close(fd);
	p = NULL;
	cr_assert_eq(policy_load(&p, path, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, path) && strstr(err, "line 2"), "%s", err);
	cr_assert_null(p);
	unlink(path);

	cr_assert_eq(policy_load(&p, "/nonexistent/policy", err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/policy: No such file"), "%s", err);
}
