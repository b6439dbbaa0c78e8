// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netinfo.c - interfaces, routes and neighbours from rtnetlink (see
 * include/rtrace/netinfo.h). A raw NETLINK_ROUTE socket per call (the route
 * cache of rcache.c keeps one open instead); every
 * request carries NLM_F_ACK (or is a dump), so the reply stream always ends
 * with an NLMSG_ERROR (0 = ack) or NLMSG_DONE, and nl_talk() hands each data
 * message to a callback on the way. Resolution of a missing next hop is
 * started with RTM_NEWNEIGH + NTF_USE (the kernel then behaves as if a packet
 * were waiting for that neighbour: it creates the entry INCOMPLETE and sends
 * ARP requests), with a UDP datagram to the discard port as a fallback, and
 * the entry is then polled until it becomes valid or FAILED.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtrace/log.h"
#include "rtrace/netinfo.h"
#include "nl_int.h"

#define NEIGH_MAX_WAIT_MS 1000
#define NEIGH_POLL_MS 5
/* Usable neighbour states (the kernel's NUD_VALID, not exported to user space). */
#define NUD_VALID (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

void nl_addattr(struct nl_req *r, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

void nl_init(struct nl_req *r, int type, int flags, size_t famlen)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(famlen);
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	if (!(flags & NLM_F_DUMP))
		r->nh.nlmsg_flags |= NLM_F_ACK;
}

int nl_open(void)
{
	int fd, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	return fd;
}

int nl_talk_fd(int fd, struct nl_req *r, nl_cb cb, void *arg, char *buf, size_t buflen)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int err = 0, done = 0;

	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	while (!done) {
		ssize_t n = recv(fd, buf, buflen, 0);
		struct nlmsghdr *nh;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != r->nh.nlmsg_seq)
				continue; /* a late answer to an earlier request */
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				if (!err)
					err = e->error;
				done = 1;
				break;
			}
			if (cb && !err)
				err = cb(nh, arg);
		}
	}
	return err;
}

/* One request on a socket of its own. */
static int nl_talk(struct nl_req *r, nl_cb cb, void *arg)
{
	int fd = nl_open(), err;
	char *buf;

	if (fd < 0)
		return fd;
	buf = malloc(NL_BUF);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	r->nh.nlmsg_seq = 1;
	err = nl_talk_fd(fd, r, cb, arg, buf, NL_BUF);
	free(buf);
	close(fd);
	return err;
}

void nl_parse(struct rtattr **tb, int max, struct rtattr *rta, int len)
{
	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type <= max)
			tb[rta->rta_type] = rta;
}

static int link_cb(const struct nlmsghdr *nh, void *arg)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	struct netinfo_if *out = arg;
	struct rtattr *tb[IFLA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWLINK)
		return 0;
	nl_parse(tb, IFLA_MAX, IFLA_RTA(ifi), IFLA_PAYLOAD(nh));
	memset(out, 0, sizeof(*out));
	out->ifindex = ifi->ifi_index;
	out->arptype = ifi->ifi_type;
	out->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME])
		snprintf(out->name, sizeof(out->name), "%s", (char *)RTA_DATA(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		out->mtu = *(__u32 *)RTA_DATA(tb[IFLA_MTU]);
	if (tb[IFLA_ADDRESS] && RTA_PAYLOAD(tb[IFLA_ADDRESS]) == NETINFO_ALEN)
		memcpy(out->mac, RTA_DATA(tb[IFLA_ADDRESS]), NETINFO_ALEN);
	return 0;
}

static int if_get(int ifindex, const char *name, struct netinfo_if *out)
{
	struct nl_req r;
	int err;

	nl_init(&r, RTM_GETLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	if (name)
		nl_addattr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	out->ifindex = 0;
	err = nl_talk(&r, link_cb, out);
	if (!err && !out->ifindex)
		err = -ENODEV;
	return err;
}

int netinfo_if_by_index(int ifindex, struct netinfo_if *out)
{
	if (ifindex <= 0)
		return -ENODEV;
	return if_get(ifindex, NULL, out);
}

int netinfo_if_by_name(const char *name, struct netinfo_if *out)
{
	if (!name || !*name || strlen(name) >= IF_NAMESIZE)
		return -ENODEV;
	return if_get(0, name, out);
}

struct addr_arg {
	int ifindex;   /* wanted interface */
	uint32_t addr; /* first address found */
	int found;
};

static int addr_cb(const struct nlmsghdr *nh, void *arg)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	struct addr_arg *a = arg;
	struct rtattr *tb[IFA_MAX + 1];
	struct rtattr *at;

	if (nh->nlmsg_type != RTM_NEWADDR || a->found || ifa->ifa_family != AF_INET ||
	    (int)ifa->ifa_index != a->ifindex)
		return 0;
	nl_parse(tb, IFA_MAX, IFA_RTA(ifa), IFA_PAYLOAD(nh));
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (at && RTA_PAYLOAD(at) == 4) {
		memcpy(&a->addr, RTA_DATA(at), 4);
		a->found = 1;
	}
	return 0;
}

int netinfo_if_addr(int ifindex, uint32_t *addr)
{
	struct addr_arg a = {.ifindex = ifindex};
	struct nl_req r;
	int err;

	nl_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(r.ifa));
	r.ifa.ifa_family = AF_INET;
	err = nl_talk(&r, addr_cb, &a);
	if (err)
		return err;
	if (!a.found)
		return -EADDRNOTAVAIL;
	*addr = a.addr;
	return 0;
}

int nl_route_cb(const struct nlmsghdr *nh, void *arg)
{
	struct rtmsg *rtm = NLMSG_DATA(nh);
	struct netinfo_route *rt = arg;
	struct rtattr *tb[RTA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	nl_parse(tb, RTA_MAX, RTM_RTA(rtm), RTM_PAYLOAD(nh));
	rt->type = rtm->rtm_type;
	if (tb[RTA_OIF])
		rt->oif = *(__u32 *)RTA_DATA(tb[RTA_OIF]);
	if (tb[RTA_GATEWAY] && RTA_PAYLOAD(tb[RTA_GATEWAY]) == 4)
		memcpy(&rt->gateway, RTA_DATA(tb[RTA_GATEWAY]), 4);
	if (tb[RTA_PREFSRC] && RTA_PAYLOAD(tb[RTA_PREFSRC]) == 4)
		memcpy(&rt->prefsrc, RTA_DATA(tb[RTA_PREFSRC]), 4);
	return 0;
}

int nl_route_ask(int fd, uint32_t seq, char *buf, uint32_t dst, int oif, struct netinfo_route *r)
{
	struct nl_req req;
	int err;

	memset(r, 0, sizeof(*r));
	nl_init(&req, RTM_GETROUTE, 0, sizeof(req.rtm));
	req.rtm.rtm_family = AF_INET;
	req.rtm.rtm_dst_len = 32;
	nl_addattr(&req, RTA_DST, &dst, 4);
	if (oif > 0)
		nl_addattr(&req, RTA_OIF, &oif, 4);
	if (fd < 0) {
		err = nl_talk(&req, nl_route_cb, r);
	} else {
		req.nh.nlmsg_seq = seq;
		err = nl_talk_fd(fd, &req, nl_route_cb, r, buf, NL_BUF);
	}
	if (!err && !r->oif)
		err = -ENETUNREACH;
	return err;
}

int netinfo_route_get(uint32_t dst, int oif, struct netinfo_route *r)
{
	int err = nl_route_ask(-1, 0, NULL, dst, oif, r);

	if (err)
		return err;
	r->dst = dst;
	r->nexthop = r->gateway ? r->gateway : dst;
	return 0;
}

int netinfo_route_iface(uint32_t dst, char *ifname, struct netinfo_route *r)
{
	struct netinfo_if ifc;
	int err = netinfo_route_get(dst, 0, r);

	if (err)
		return err;
	err = netinfo_if_by_index(r->oif, &ifc);
	if (err)
		return err;
	snprintf(ifname, IF_NAMESIZE, "%s", ifc.name);
	return 0;
}

struct neigh_arg {
	uint8_t mac[NETINFO_ALEN];
	uint16_t state; /* NUD_* of the entry, 0 if none */
	int has_mac;
};

static int neigh_cb(const struct nlmsghdr *nh, void *arg)
{
	struct ndmsg *ndm = NLMSG_DATA(nh);
	struct neigh_arg *a = arg;
	struct rtattr *tb[NDA_MAX + 1];

	if (nh->nlmsg_type != RTM_NEWNEIGH)
		return 0;
	nl_parse(tb, NDA_MAX, (struct rtattr *)((char *)ndm + NLMSG_ALIGN(sizeof(*ndm))),
		 nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ndm)));
	a->state = ndm->ndm_state;
	if (tb[NDA_LLADDR] && RTA_PAYLOAD(tb[NDA_LLADDR]) == NETINFO_ALEN) {
		memcpy(a->mac, RTA_DATA(tb[NDA_LLADDR]), NETINFO_ALEN);
		a->has_mac = 1;
	}
	return 0;
}

/* The entry for @addr on @ifindex: 0 and a->state (0 if absent), or -errno. */
static int neigh_query(int ifindex, uint32_t addr, struct neigh_arg *a)
{
	struct nl_req r;
	int err;

	memset(a, 0, sizeof(*a));
	nl_init(&r, RTM_GETNEIGH, 0, sizeof(r.ndm));
	r.ndm.ndm_family = AF_INET;
	r.ndm.ndm_ifindex = ifindex;
	nl_addattr(&r, NDA_DST, &addr, 4);
	err = nl_talk(&r, neigh_cb, a);
	return err == -ENOENT ? 0 : err;
}

int netinfo_neigh_get(int ifindex, uint32_t addr, uint8_t mac[NETINFO_ALEN])
{
	struct neigh_arg a;
	int err = neigh_query(ifindex, addr, &a);

	if (err)
		return err;
	if (!(a.state & NUD_VALID))
		return -ENOENT;
	if (a.state & NUD_NOARP)
		memset(mac, 0, NETINFO_ALEN);
	else if (a.has_mac)
		memcpy(mac, a.mac, NETINFO_ALEN);
	else
		return -ENOENT;
	return 0;
}

/* Start resolution the way a waiting packet would (NTF_USE). */
static int neigh_kick(int ifindex, uint32_t addr)
{
	struct nl_req r;

	nl_init(&r, RTM_NEWNEIGH, NLM_F_CREATE, sizeof(r.ndm));
	r.ndm.ndm_family = AF_INET;
	r.ndm.ndm_ifindex = ifindex;
	r.ndm.ndm_state = NUD_NONE;
	r.ndm.ndm_flags = NTF_USE;
	nl_addattr(&r, NDA_DST, &addr, 4);
	return nl_talk(&r, NULL, NULL);
}

/* Fallback trigger: a one-byte UDP datagram to the discard port, leaving through @ifindex. */
static int neigh_kick_udp(int ifindex, uint32_t addr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
	char name[IF_NAMESIZE];
	int fd, err = 0;

	sin.sin_addr.s_addr = addr;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (if_indextoname(ifindex, name))
		(void)setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, strlen(name) + 1);
	if (sendto(fd, "", 1, MSG_DONTWAIT, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int netinfo_neigh_resolve(int ifindex, uint32_t addr, int timeout_ms, uint8_t mac[NETINFO_ALEN])
{
	char ip[INET_ADDRSTRLEN], name[IF_NAMESIZE] = "?";
	struct neigh_arg a;
	int err, waited;

	err = netinfo_neigh_get(ifindex, addr, mac);
	if (err != -ENOENT)
		return err;
	if (timeout_ms < 0 || timeout_ms > NEIGH_MAX_WAIT_MS)
		timeout_ms = NEIGH_MAX_WAIT_MS;
	err = neigh_kick(ifindex, addr);
	if (err)
		err = neigh_kick_udp(ifindex, addr);
	if (err && err != -EHOSTUNREACH) /* the latter: ARP just failed, report below */
		goto out_fail;
	for (waited = 0;; waited += NEIGH_POLL_MS) {
		err = neigh_query(ifindex, addr, &a);
		if (err)
			goto out_fail;
		if (a.state & NUD_VALID)
			return netinfo_neigh_get(ifindex, addr, mac);
		if ((a.state & NUD_FAILED) || waited >= timeout_ms)
			break;
		nanosleep(&(struct timespec){.tv_nsec = NEIGH_POLL_MS * 1000000L}, NULL);
	}
	err = -EHOSTUNREACH;
out_fail:
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	if_indextoname(ifindex, name);
	rt_err("netinfo: next hop %s on %s: no ARP reply (%s)", ip, name, strerror(-err));
	return err;
}

int netinfo_path_get(uint32_t dst, const char *ifname, struct netinfo_path *p)
{
	char ip[INET_ADDRSTRLEN];
	int oif = 0, err;

	memset(p, 0, sizeof(*p));
	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	if (ifname && *ifname) {
		err = netinfo_if_by_name(ifname, &p->ifc);
		if (err) {
			rt_err("netinfo: %s: no such interface", ifname);
			return err;
		}
		oif = p->ifc.ifindex;
	}
	err = netinfo_route_get(dst, oif, &p->route);
	if (err) {
		rt_err("netinfo: no route to %s%s%s: %s", ip, oif ? " via " : "", oif ? ifname : "",
		       strerror(-err));
		return err;
	}
	if (p->route.type == RTN_LOCAL) {
		rt_err("netinfo: %s is a local address: probes to it never reach a wire", ip);
		return -EADDRNOTAVAIL;
	}
	if (p->route.type != RTN_UNICAST) {
		rt_err("netinfo: %s: route type %u is not unicast", ip, p->route.type);
		return -ENETUNREACH;
	}
	if (oif && p->route.oif != oif) {
		rt_err("netinfo: the route to %s does not leave through %s", ip, ifname);
		return -ENETUNREACH;
	}
	err = netinfo_if_by_index(p->route.oif, &p->ifc);
	if (err)
		return err;
	memcpy(p->src_mac, p->ifc.mac, NETINFO_ALEN);
	p->src = p->route.prefsrc;
	if (!p->src && netinfo_if_addr(p->ifc.ifindex, &p->src)) {
		rt_err("netinfo: %s has no IPv4 address to send from", p->ifc.name);
		return -EADDRNOTAVAIL;
	}
	if ((p->ifc.flags & IFF_NOARP) || p->ifc.arptype != ARPHRD_ETHER)
		return 0; /* no next-hop MAC on this link */
	return netinfo_neigh_resolve(p->ifc.ifindex, p->route.nexthop, NEIGH_MAX_WAIT_MS,
				     p->dst_mac);
}
