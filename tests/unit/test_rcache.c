// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_rcache.c - the route cache (netinfo_rcache_*, src/engine/rcache.c)
 * against the kernel in a private network namespace (engine_netns.h): its
 * answers must equal netinfo_route_get()'s (one netlink question each) for
 * addresses all over a table with nested prefixes, a blackhole, a multipath
 * route and local addresses; a sweep behind one route must cost one
 * question; a route added later must be seen after the change notification;
 * a non-default rule must turn blocks into single addresses.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/epoll.h>

#include "engine_netns.h"
#include "rtrace/netinfo.h"

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void setup_routes(struct tns *t)
{
	tns_setup(t);
	tns_sh("ip addr add 10.9.0.1/24 dev va && ip route add default via 10.9.0.2 && "
	       "ip route add 10.50.0.0/16 via 10.9.0.3 && ip route add 10.50.7.0/24 via 10.9.0.4 "
	       "&& "
	       "ip route add blackhole 10.60.0.0/16 && "
	       "ip route add 10.70.0.0/16 nexthop via 10.9.0.2 nexthop via 10.9.0.3");
}

/* The cache and the one-shot lookup agree on @dst (result, type, gateway, nexthop). */
static void agree(struct netinfo_rcache *c, uint32_t dst, int oif)
{
	struct netinfo_route a, b;
	char ip[INET_ADDRSTRLEN];
	int ea, eb;

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ea = netinfo_rcache_get(c, dst, &a);
	eb = netinfo_route_get(dst, oif, &b);
	cr_assert_eq(ea, eb, "%s: cache %d, kernel %d", ip, ea, eb);
	if (ea)
		return;
	cr_assert_eq(a.type, b.type, "%s: type %u vs %u", ip, a.type, b.type);
	cr_assert_eq(a.gateway, b.gateway, "%s: gateway %08x vs %08x", ip, a.gateway, b.gateway);
	cr_assert_eq(a.nexthop, b.nexthop, "%s: nexthop", ip);
	cr_assert_eq(a.oif, b.oif, "%s: oif", ip);
	cr_assert_eq(a.dst, dst, "%s: dst", ip);
}

static const char *const probes[] = {
	"10.50.0.1",   "10.50.6.255",	"10.50.7.0",   "10.50.7.200", "10.50.8.0",
	"10.50.255.1", "10.49.255.255", "10.51.0.0",   "10.60.1.1",   "10.60.255.0",
	"10.70.1.1",   "10.70.1.2",	"10.70.200.3", "10.9.0.1",    "10.9.0.77",
	"10.9.0.255",  "10.9.1.0",	"127.0.0.1",   "127.3.4.5",   "8.8.8.8",
	"10.200.3.4",  "192.0.2.1",	"10.50.7.255", "0.0.0.1",     "255.255.255.254",
};

Test(rcache, agrees_with_the_kernel_everywhere)
{
	struct netinfo_rcache *c;
	struct tns t;
	unsigned int i, r;

	setup_routes(&t);
	for (int oif = 0; oif <= 1; oif++) {
		int ifx = oif ? (int)if_nametoindex("va") : 0;

		c = netinfo_rcache_new(ifx);
		cr_assert_not_null(c);
		for (r = 0; r < 2; r++) /* second round: from the cache */
			for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
				agree(c, ip4(probes[i]), ifx);
		/* a pseudo-random walk over the whole address space */
		for (i = 0, r = 12345; i < 3000; i++) {
			r = r * 1103515245u + 12345u;
			agree(c, htonl(r), ifx);
		}
		netinfo_rcache_free(c);
	}
}

Test(rcache, sweep_behind_one_route_is_one_question)
{
	struct netinfo_rcache_stats st;
	struct netinfo_route r;
	struct netinfo_rcache *c;
	struct tns t;
	uint32_t i;

	setup_routes(&t);
	c = netinfo_rcache_new(if_nametoindex("va"));
	cr_assert_not_null(c);
	for (i = 0; i < 65536; i++) {
		cr_assert_eq(netinfo_rcache_get(c, htonl(0x0ac80000 | i), &r), 0);
		cr_assert_eq(r.gateway, ip4("10.9.0.2"));
	}
	netinfo_rcache_stats(c, &st);
	cr_assert_eq(st.lookups, 65536);
	cr_assert_eq(st.asked, 1, "asked %lu times", (unsigned long)st.asked);
	cr_assert_eq(st.per_address, 0);
	/* inside 10.50/16 the /24 splits the space: a few blocks, still not per address */
	for (i = 0; i < 65536; i++)
		cr_assert_eq(netinfo_rcache_get(c, htonl(0x0a320000 | i), &r), 0);
	netinfo_rcache_stats(c, &st);
	cr_assert_lt(st.asked, 1 + 16, "asked %lu times", (unsigned long)st.asked);
	/* multipath: per address */
	for (i = 0; i < 100; i++)
		cr_assert_eq(netinfo_rcache_get(c, htonl(0x0a460000 | i), &r), 0);
	netinfo_rcache_stats(c, &st);
	cr_assert_geq(st.asked, 100);
	netinfo_rcache_free(c);
}

Test(rcache, route_change_is_seen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct netinfo_route r;
	struct netinfo_rcache *c;
	struct tns t;
	int ep;

	setup_routes(&t);
	c = netinfo_rcache_new(0);
	cr_assert_not_null(c);
	cr_assert_eq(netinfo_rcache_get(c, ip4("10.200.5.9"), &r), 0);
	cr_assert_eq(r.gateway, ip4("10.9.0.2"));
	tns_sh("ip route add 10.200.5.0/24 via 10.9.0.4");
	ep = epoll_create1(0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, netinfo_rcache_fd(c), &ev), 0);
	cr_assert_eq(epoll_wait(ep, &ev, 1, 1000), 1, "no change notification");
	cr_assert_eq(netinfo_rcache_events(c), 1);
	cr_assert_eq(netinfo_rcache_get(c, ip4("10.200.5.9"), &r), 0);
	cr_assert_eq(r.gateway, ip4("10.9.0.4"));
	cr_assert_eq(netinfo_rcache_get(c, ip4("10.200.6.9"), &r), 0);
	cr_assert_eq(r.gateway, ip4("10.9.0.2"));
	close(ep);
	netinfo_rcache_free(c);
}

Test(rcache, rules_make_blocks_single_addresses)
{
	struct netinfo_rcache_stats st;
	struct netinfo_rcache *c;
	struct tns t;
	uint32_t i;

	setup_routes(&t);
	tns_sh("ip route add 10.200.0.0/24 via 10.9.0.4 table 100 && "
	       "ip rule add to 10.200.0.128/25 table 100 pref 100");
	c = netinfo_rcache_new(0);
	cr_assert_not_null(c);
	for (i = 0; i < 256; i++)
		agree(c, htonl(0x0ac80000 | i), 0);
	netinfo_rcache_stats(c, &st);
	cr_assert_eq(st.per_address, 1);
	cr_assert_eq(st.asked, 256);
	netinfo_rcache_free(c);
}
