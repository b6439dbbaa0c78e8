// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_netinfo.c - rtnetlink lookups (src/engine/netinfo.c) against a real
 * kernel: each test runs in a private network namespace with a veth pair to
 * a peer namespace (tests/unit/engine_netns.h) and checks interface data,
 * route lookups, neighbour resolution by ARP and the all-in-one path lookup
 * against what `ip` configured.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "engine_netns.h"
#include "rtrace/netinfo.h"

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* MAC of @ifname in the current namespace, by ioctl (independent of netinfo). */
static void ioctl_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	strncpy(ifr.ifr_name, ifname, IF_NAMESIZE - 1);
	cr_assert_eq(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

static void peer_mac(struct tns *t, uint8_t mac[6])
{
	tns_enter_peer(t);
	ioctl_mac("vb", mac);
	tns_leave_peer(t);
}

Test(netinfo, interface_by_name_and_index)
{
	struct netinfo_if a, b;
	uint8_t mac[6];
	struct tns t;

	tns_setup(&t);
	tns_sh("ip link set va mtu 1400");
	ioctl_mac("va", mac);
	cr_assert_eq(netinfo_if_by_name("va", &a), 0);
	cr_assert_eq(a.ifindex, (int)if_nametoindex("va"));
	cr_assert_str_eq(a.name, "va");
	cr_assert_eq(a.mtu, 1400);
	cr_assert_eq(a.arptype, 1 /* ARPHRD_ETHER */);
	cr_assert(a.flags & IFF_UP);
	cr_assert_arr_eq(a.mac, mac, 6);
	cr_assert_eq(netinfo_if_by_index(a.ifindex, &b), 0);
	cr_assert_str_eq(b.name, "va");
	cr_assert_arr_eq(b.mac, mac, 6);
	cr_assert_eq(netinfo_if_by_name("nosuchif0", &b), -ENODEV);
	cr_assert_eq(netinfo_if_by_index(9999, &b), -ENODEV);
}

Test(netinfo, interface_address)
{
	struct tns t;
	uint32_t a;

	tns_setup(&t);
	cr_assert_eq(netinfo_if_addr(if_nametoindex("va"), &a), -EADDRNOTAVAIL);
	tns_addresses(&t);
	cr_assert_eq(netinfo_if_addr(if_nametoindex("va"), &a), 0);
	cr_assert_eq(a, ip4("10.9.0.1"));
}

Test(netinfo, route_lookup)
{
	struct netinfo_route r;
	struct tns t;
	int va;

	tns_setup(&t);
	tns_addresses(&t);
	va = if_nametoindex("va");
	/* through the gateway */
	cr_assert_eq(netinfo_route_get(ip4("10.99.0.5"), 0, &r), 0);
	cr_assert_eq(r.oif, va);
	cr_assert_eq(r.gateway, ip4("10.9.0.2"));
	cr_assert_eq(r.nexthop, ip4("10.9.0.2"));
	cr_assert_eq(r.prefsrc, ip4("10.9.0.1"));
	cr_assert_eq(r.dst, ip4("10.99.0.5"));
	/* directly connected */
	cr_assert_eq(netinfo_route_get(ip4("10.9.0.2"), va, &r), 0);
	cr_assert_eq(r.gateway, 0);
	cr_assert_eq(r.nexthop, ip4("10.9.0.2"));
	/* no route at all (no default route in this namespace) */
	cr_assert_eq(netinfo_route_get(ip4("192.0.2.1"), 0, &r), -ENETUNREACH);
	/* a preferred source set on the route is reported */
	tns_sh("ip addr add 10.9.0.11/24 dev va && ip route add 10.77.0.0/16 via 10.9.0.2 src "
	       "10.9.0.11");
	cr_assert_eq(netinfo_route_get(ip4("10.77.1.1"), 0, &r), 0);
	cr_assert_eq(r.prefsrc, ip4("10.9.0.11"));
}

Test(netinfo, neighbour_resolution)
{
	uint8_t want[6], mac[6];
	struct timespec t0, t1;
	struct tns t;
	int va;

	tns_setup(&t);
	tns_addresses(&t);
	va = if_nametoindex("va");
	peer_mac(&t, want);
	cr_assert_eq(netinfo_neigh_get(va, ip4("10.9.0.2"), mac), -ENOENT);
	cr_assert_eq(netinfo_neigh_resolve(va, ip4("10.9.0.2"), 1000, mac), 0);
	cr_assert_arr_eq(mac, want, 6);
	memset(mac, 0, 6);
	cr_assert_eq(netinfo_neigh_get(va, ip4("10.9.0.2"), mac), 0);
	cr_assert_arr_eq(mac, want, 6);

	/* nobody has 10.9.0.77: a clear error within the timeout */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(netinfo_neigh_resolve(va, ip4("10.9.0.77"), 300, mac), -EHOSTUNREACH);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 800);
}

Test(netinfo, path_through_gateway)
{
	struct netinfo_path p;
	uint8_t want[6], mine[6];
	struct tns t;

	tns_setup(&t);
	tns_addresses(&t);
	peer_mac(&t, want);
	ioctl_mac("va", mine);
	cr_assert_eq(netinfo_path_get(ip4("10.99.0.5"), NULL, &p), 0);
	cr_assert_str_eq(p.ifc.name, "va");
	cr_assert_eq(p.src, ip4("10.9.0.1"));
	cr_assert_eq(p.route.nexthop, ip4("10.9.0.2"));
	cr_assert_arr_eq(p.dst_mac, want, 6);
	cr_assert_arr_eq(p.src_mac, mine, 6);
	cr_assert_eq(netinfo_path_get(ip4("10.99.0.5"), "va", &p), 0);
	cr_assert_arr_eq(p.dst_mac, want, 6);
	/* errors a person can act on */
	cr_assert_eq(netinfo_path_get(ip4("10.9.0.1"), NULL, &p), -EADDRNOTAVAIL);
	cr_assert_eq(netinfo_path_get(ip4("192.0.2.1"), NULL, &p), -ENETUNREACH);
	cr_assert_eq(netinfo_path_get(ip4("10.99.0.5"), "nosuchif0", &p), -ENODEV);
	cr_assert_eq(netinfo_path_get(ip4("10.9.0.99"), NULL, &p), -EHOSTUNREACH);
}
