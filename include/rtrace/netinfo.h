/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * netinfo.h - what the transmit path needs to know about the local network,
 * asked from the kernel over rtnetlink (a raw NETLINK_ROUTE socket, no
 * libnl): interfaces (index, name, MAC, MTU), the route to a destination
 * (output interface, gateway, preferred source address) and the next hop's
 * MAC address, resolving it (ARP) when the neighbour table has no entry.
 *
 * All functions act in the caller's current network namespace, open their
 * own short-lived netlink socket (control path, not for per-packet use),
 * return 0 or -errno, and log one rt_err/rt_warn line on failures a person
 * must act on. Addresses are IPv4 in network byte order.
 */
#ifndef RTRACE_NETINFO_H
#define RTRACE_NETINFO_H

#include <net/if.h>
#include <stdint.h>

#define NETINFO_ALEN 6

/* One interface. */
struct netinfo_if {
	int ifindex;		   /* kernel interface index */
	char name[IF_NAMESIZE];	   /* interface name */
	uint8_t mac[NETINFO_ALEN]; /* hardware address (zero if none) */
	uint16_t arptype;	   /* ARPHRD_* (ARPHRD_ETHER for veth/eth) */
	unsigned int mtu;	   /* L3 MTU */
	unsigned int flags;	   /* IFF_* flags (IFF_UP, IFF_NOARP, ...) */
};

/* The kernel's route to one destination (RTM_GETROUTE). */
struct netinfo_route {
	uint32_t dst;	  /* the destination asked for */
	uint32_t gateway; /* RTA_GATEWAY, 0 if directly connected */
	uint32_t nexthop; /* gateway, or dst when directly connected */
	uint32_t prefsrc; /* preferred source address (RTA_PREFSRC), 0 if none */
	int oif;	  /* output interface index */
	uint8_t type;	  /* RTN_UNICAST, RTN_LOCAL, ... */
};

/* Everything needed to put a frame for @dst on the wire. */
struct netinfo_path {
	struct netinfo_route route;    /* route to the destination */
	struct netinfo_if ifc;	       /* the output interface */
	uint8_t src_mac[NETINFO_ALEN]; /* = ifc.mac */
	uint8_t dst_mac[NETINFO_ALEN]; /* next hop's MAC (zero on NOARP links) */
	uint32_t src;		       /* source address to use (prefsrc, or the
					* interface's first IPv4 address) */
};

/* Interface by index or name. -ENODEV if there is none. */
int netinfo_if_by_index(int ifindex, struct netinfo_if *out);
int netinfo_if_by_name(const char *name, struct netinfo_if *out);

/* First IPv4 address of @ifindex in *addr. -EADDRNOTAVAIL if it has none. */
int netinfo_if_addr(int ifindex, uint32_t *addr);

/*
 * The kernel's route to @dst; with @oif > 0 the lookup is restricted to that
 * output interface (RTA_OIF, like "ip route get DST oif DEV"). Returns 0,
 * -ENETUNREACH/-EHOSTUNREACH when there is no route, or another -errno.
 * "Which interface does the kernel route TARGET through" is r->oif of
 * netinfo_route_get(TARGET, 0, r).
 */
int netinfo_route_get(uint32_t dst, int oif, struct netinfo_route *r);

/*
 * The interface the kernel routes @dst through: its name into @ifname
 * (IF_NAMESIZE bytes) and the route (netinfo_route_get(dst, 0, r)) into *r,
 * whatever its type (r->type RTN_LOCAL: @dst is an address of this host, the
 * interface is the loopback). 0 or -errno (-ENETUNREACH: no route).
 */
int netinfo_route_iface(uint32_t dst, char *ifname, struct netinfo_route *r);

/*
 * Look up @addr in the neighbour table of @ifindex. Returns 0 and the MAC
 * in @mac if the entry is usable (REACHABLE, STALE, DELAY, PROBE, PERMANENT,
 * NOARP), -ENOENT if there is no usable entry (absent, INCOMPLETE, FAILED).
 */
int netinfo_neigh_get(int ifindex, uint32_t addr, uint8_t mac[NETINFO_ALEN]);

/*
 * Like netinfo_neigh_get(), but when there is no usable entry, make the
 * kernel resolve it (RTM_NEWNEIGH with NTF_USE, which starts ARP like a
 * transmitted packet would; if refused, a UDP datagram to port 9 of @addr)
 * and wait up to @timeout_ms (capped at 1000). Returns 0, or -EHOSTUNREACH
 * after one rt_err line naming the next hop and the interface.
 */
int netinfo_neigh_resolve(int ifindex, uint32_t addr, int timeout_ms, uint8_t mac[NETINFO_ALEN]);

/*
 * Route, interface, source address and next-hop MAC for @dst. @ifname
 * NULL or "" lets the kernel choose the interface; otherwise the route must
 * leave through @ifname (-ENETUNREACH otherwise). Local destinations
 * (RTN_LOCAL) give -EADDRNOTAVAIL: probes to ourselves never hit the wire.
 * Resolves the next hop (up to 1 s). Returns 0 or -errno with one log line.
 */
int netinfo_path_get(uint32_t dst, const char *ifname, struct netinfo_path *p);

/*
 * Route cache: netinfo_route_get(dst, oif) for many destinations (a sweep)
 * without a netlink round trip each. One long-lived socket asks the kernel
 * on a miss; the answer is kept for the whole block of addresses around dst
 * that the routing tables treat alike (with the three default rules and no
 * multipath route; otherwise per address), so sweeping a prefix behind one
 * route costs one lookup. A cache hit is a few hash probes, no system call.
 * The cache watches route and rule changes: poll netinfo_rcache_fd() for
 * EPOLLIN and call netinfo_rcache_events(), which empties the cache after a
 * change. Not thread-safe; the namespace is the caller's at creation.
 */
struct netinfo_rcache;

/* Counters of a route cache. */
struct netinfo_rcache_stats {
	uint64_t lookups;    /* netinfo_rcache_get() calls */
	uint64_t asked;	     /* ...that asked the kernel (misses) */
	uint64_t snapshots;  /* times the rules and tables were read */
	uint64_t flushes;    /* times the cache was emptied (changes) */
	unsigned int blocks; /* blocks cached now (gauge) */
	int per_address;     /* 1: rules or multipath routes: blocks are single addresses */
};

/* A cache for lookups restricted to output interface @oif (0: any). NULL + errno. */
struct netinfo_rcache *netinfo_rcache_new(int oif);
/* Free it (NULL-safe). */
void netinfo_rcache_free(struct netinfo_rcache *c);
/*
 * The route to @dst, as netinfo_route_get(dst, oif, r) answers it: 0, or
 * -ENETUNREACH/-EHOSTUNREACH (no route; cached as well), or another -errno.
 */
int netinfo_rcache_get(struct netinfo_rcache *c, uint32_t dst, struct netinfo_route *r);
/* The fd that becomes readable (EPOLLIN) when routes or rules change. */
int netinfo_rcache_fd(const struct netinfo_rcache *c);
/* Read the change notifications; empties the cache and returns 1 if there were any. */
int netinfo_rcache_events(struct netinfo_rcache *c);
/* Empty the cache (the tables are read again at the next miss). */
void netinfo_rcache_flush(struct netinfo_rcache *c);
void netinfo_rcache_stats(const struct netinfo_rcache *c, struct netinfo_rcache_stats *st);

#endif /* RTRACE_NETINFO_H */
