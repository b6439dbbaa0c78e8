// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rcache.c - the route cache (see netinfo_rcache_new() in
 * include/rtrace/netinfo.h): netinfo_route_get() answers for many
 * destinations, asked over one long-lived netlink socket and cached per
 * block of addresses the kernel routes alike.
 *
 * A block is the largest prefix d/L around a destination d that every route
 * of the local, main and default tables either contains whole or misses
 * whole: L = max over the routes Q of (qlen if Q contains d, else the first
 * bit where d and Q differ + 1). Every address of d/L then meets exactly the
 * same routes in the tables, so the kernel's lookup (longest prefix, oif
 * filter, type, gateway) is the same for all of them, and one RTM_GETROUTE
 * answers the whole block (a /16 sweep behind a default route costs one
 * lookup). This holds only when the routing rules are the three defaults
 * and the route that matches is not multipath (the kernel hashes the
 * address to choose the next hop): otherwise, or when the tables hold more
 * than RC_MAX_ROUTES routes, blocks are single addresses. The tables and
 * rules are read once (a dump) and read again after a change: a second
 * socket listens to the IPv4 route and rule groups; the owner polls its fd
 * and calls netinfo_rcache_events(). Per-destination exceptions (ICMP
 * redirects) are not seen, as with any cached route.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rtrace/log.h"
#include "rtrace/netinfo.h"
#include "nl_int.h"

#define RC_CAP 8192u	     /* cached blocks (power of two); emptied when half full */
#define RC_MAX_ROUTES 65536u /* larger tables: per-address cache only */

/* One route of the snapshot, host order. */
struct rc_route {
	uint32_t net;	 /* prefix, masked */
	uint8_t len;	 /* prefix length */
	uint8_t nocache; /* multipath / nexthop object: per-address */
};

/* One cached block. */
struct rc_ent {
	uint32_t net;		/* block, host order, masked */
	uint8_t len;		/* block prefix length */
	uint8_t used;		/* entry in use */
	int err;		/* 0, or the lookup's -errno (no route) */
	struct netinfo_route r; /* the kernel's answer (dst, nexthop per address) */
};

struct netinfo_rcache {
	int oif;			/* lookups restricted to this interface (0: any) */
	int fd;				/* request socket */
	int mon;			/* change notifications (route, rule groups) */
	uint32_t seq;			/* request sequence numbers */
	char *buf;			/* receive buffer, NL_BUF */
	struct rc_ent *ent;		/* RC_CAP blocks */
	unsigned int used;		/* entries in use */
	uint64_t lens;			/* bit L: some block of length L is cached */
	struct rc_route *routes;	/* snapshot of the tables */
	unsigned int nroutes, cap;	/* its size and capacity */
	int snap;			/* 0 not read, 1 blocks usable, -1 per address */
	struct netinfo_rcache_stats st; /* counters */
};

static inline uint32_t mask_of(unsigned int len)
{
	return len ? 0xffffffffu << (32 - len) : 0;
}

static inline uint32_t rc_hash(uint32_t net, unsigned int len)
{
	return ((net * 0x9e3779b1u) ^ (len * 0x85ebca6bu)) >> 19;
}

static void rc_clear(struct netinfo_rcache *c)
{
	memset(c->ent, 0, RC_CAP * sizeof(*c->ent));
	c->used = 0;
	c->lens = 0;
}

/* ---- snapshot of the rules and tables ---- */

struct rule_arg {
	unsigned int n; /* rules seen */
	int plain;	/* every rule so far is one of the three defaults */
};

static int rule_cb(const struct nlmsghdr *nh, void *arg)
{
	const struct fib_rule_hdr *h = NLMSG_DATA(nh);
	struct rule_arg *a = arg;
	const struct rtattr *rta =
		(const struct rtattr *)((const char *)h + NLMSG_ALIGN(sizeof(*h)));
	int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*h));
	uint32_t table = h->table;

	if (nh->nlmsg_type != RTM_NEWRULE)
		return 0;
	a->n++;
	if (h->dst_len || h->src_len || h->tos || h->action != FR_ACT_TO_TBL ||
	    (h->flags & FIB_RULE_INVERT))
		a->plain = 0;
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		uint32_t v = RTA_PAYLOAD(rta) >= 4 ? *(const uint32_t *)RTA_DATA(rta) : 0;

		switch (rta->rta_type) {
		case FRA_PRIORITY:
		case FRA_PROTOCOL:
		case FRA_PAD:
			break;
		case FRA_TABLE:
			table = v;
			break;
		case FRA_SUPPRESS_PREFIXLEN:
		case FRA_SUPPRESS_IFGROUP:
			if (v != 0xffffffffu)
				a->plain = 0;
			break;
		default: /* any selector (iif, oif, mark, uid, ports, l3mdev...) */
			a->plain = 0;
		}
	}
	if (table != RT_TABLE_LOCAL && table != RT_TABLE_MAIN && table != RT_TABLE_DEFAULT)
		a->plain = 0;
	return 0;
}

/* A new entry at the end of the snapshot, or NULL. */
static struct rc_route *rc_push(struct netinfo_rcache *c)
{
	if (c->nroutes == c->cap) {
		unsigned int ncap = c->cap ? 2 * c->cap : 64;
		struct rc_route *n = realloc(c->routes, ncap * sizeof(*n));

		if (!n)
			return NULL;
		c->routes = n;
		c->cap = ncap;
	}
	return &c->routes[c->nroutes++];
}

static int route_dump_cb(const struct nlmsghdr *nh, void *arg)
{
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	struct netinfo_rcache *c = arg;
	struct rtattr *tb[RTA_MAX + 1];
	uint32_t table = rtm->rtm_table, net = 0;
	struct rc_route *q;

	if (nh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != AF_INET ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	nl_parse(tb, RTA_MAX, RTM_RTA(rtm), RTM_PAYLOAD(nh));
	if (tb[RTA_TABLE])
		table = *(uint32_t *)RTA_DATA(tb[RTA_TABLE]);
	if (table != RT_TABLE_LOCAL && table != RT_TABLE_MAIN && table != RT_TABLE_DEFAULT)
		return 0;
	if (c->nroutes == RC_MAX_ROUTES) {
		c->snap = -1;
		return 0;
	}
	q = rc_push(c);
	if (!q)
		return -ENOMEM;
	if (tb[RTA_DST] && RTA_PAYLOAD(tb[RTA_DST]) == 4)
		memcpy(&net, RTA_DATA(tb[RTA_DST]), 4);
	q->len = rtm->rtm_dst_len > 32 ? 32 : rtm->rtm_dst_len;
	q->net = ntohl(net) & mask_of(q->len);
	q->nocache = tb[RTA_MULTIPATH] || tb[RTA_NH_ID];
	return 0;
}

/*
 * Address classes the kernel treats by themselves whatever the tables say
 * (this network, multicast, class E and the limited broadcast): pseudo-routes
 * that blocks never straddle, and inside them every address is its own block.
 */
static const struct rc_route rc_special[] = {
	{0x00000000u, 8, 1},
	{0xe0000000u, 4, 1},
	{0xf0000000u, 4, 1},
};

/* Read the rules and the tables; c->snap = 1 (blocks) or -1 (per address). */
static void rc_snapshot(struct netinfo_rcache *c)
{
	struct rule_arg ra = {.plain = 1};
	struct nl_req r;
	unsigned int i;
	int err;

	c->nroutes = 0;
	c->snap = -1;
	c->st.snapshots++;
	nl_init(&r, RTM_GETRULE, NLM_F_DUMP, sizeof(struct fib_rule_hdr));
	((struct fib_rule_hdr *)&r.rtm)->family = AF_INET;
	r.nh.nlmsg_seq = ++c->seq;
	err = nl_talk_fd(c->fd, &r, rule_cb, &ra, c->buf, NL_BUF);
	if (err || ra.n != 3 || !ra.plain)
		return;
	nl_init(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof(r.rtm));
	r.rtm.rtm_family = AF_INET;
	r.nh.nlmsg_seq = ++c->seq;
	c->snap = 1;
	err = nl_talk_fd(c->fd, &r, route_dump_cb, c, c->buf, NL_BUF);
	for (i = 0; !err && i < sizeof(rc_special) / sizeof(rc_special[0]); i++) {
		struct rc_route *q = rc_push(c);

		if (!q)
			err = -ENOMEM;
		else
			*q = rc_special[i];
	}
	if (err)
		c->snap = -1;
}

/* The block length around d (host order), or 32 when d must be cached alone. */
static unsigned int rc_block_len(const struct netinfo_rcache *c, uint32_t d)
{
	unsigned int i, l = 0;

	if (c->snap != 1)
		return 32;
	for (i = 0; i < c->nroutes; i++) {
		const struct rc_route *q = &c->routes[i];
		unsigned int k;

		if ((d & mask_of(q->len)) == q->net) {
			if (q->nocache)
				return 32;
			k = q->len;
		} else {
			k = __builtin_clz(d ^ q->net) + 1;
		}
		if (k > l)
			l = k;
	}
	return l;
}

/* ---- the cache ---- */

struct netinfo_rcache *netinfo_rcache_new(int oif)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_ROUTE | (1u << (RTNLGRP_IPV4_RULE - 1)),
	};
	struct netinfo_rcache *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		goto out_errno;
	c->oif = oif;
	c->fd = c->mon = -1;
	c->buf = malloc(NL_BUF);
	c->ent = calloc(RC_CAP, sizeof(*c->ent));
	if (!c->buf || !c->ent)
		goto out_free;
	c->fd = nl_open();
	if (c->fd < 0) {
		err = c->fd;
		goto out_free;
	}
	c->mon = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (c->mon < 0 || bind(c->mon, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out_free;
	}
	return c;

out_free:
	rt_err("netinfo: route cache: netlink socket: %s", strerror(-err));
	netinfo_rcache_free(c);
out_errno:
	errno = -err;
	return NULL;
}

void netinfo_rcache_free(struct netinfo_rcache *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->mon >= 0)
		close(c->mon);
	free(c->buf);
	free(c->ent);
	free(c->routes);
	free(c);
}

int netinfo_rcache_fd(const struct netinfo_rcache *c)
{
	return c->mon;
}

void netinfo_rcache_flush(struct netinfo_rcache *c)
{
	rc_clear(c);
	c->snap = 0;
	c->st.flushes++;
}

int netinfo_rcache_events(struct netinfo_rcache *c)
{
	int changed = 0;

	for (;;) {
		ssize_t n = recv(c->mon, c->buf, NL_BUF, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ENOBUFS) /* EAGAIN: drained */
			break;
		changed = 1; /* a notification, or some were lost (ENOBUFS) */
	}
	if (changed)
		netinfo_rcache_flush(c);
	return changed;
}

static struct rc_ent *rc_find(struct netinfo_rcache *c, uint32_t d)
{
	uint64_t lens = c->lens;

	while (lens) {
		unsigned int len = 63 - __builtin_clzll(lens);
		uint32_t net = d & mask_of(len), j;

		lens &= ~(1ull << len);
		for (j = rc_hash(net, len) & (RC_CAP - 1); c->ent[j].used;
		     j = (j + 1) & (RC_CAP - 1))
			if (c->ent[j].net == net && c->ent[j].len == len)
				return &c->ent[j];
	}
	return NULL;
}

static void rc_insert(struct netinfo_rcache *c, uint32_t d, unsigned int len, int err,
		      const struct netinfo_route *r)
{
	uint32_t net = d & mask_of(len), j;

	if (2 * (c->used + 1) > RC_CAP)
		rc_clear(c);
	for (j = rc_hash(net, len) & (RC_CAP - 1); c->ent[j].used; j = (j + 1) & (RC_CAP - 1))
		;
	c->ent[j].net = net;
	c->ent[j].len = len;
	c->ent[j].used = 1;
	c->ent[j].err = err;
	c->ent[j].r = *r;
	c->used++;
	c->lens |= 1ull << len;
}

int netinfo_rcache_get(struct netinfo_rcache *c, uint32_t dst, struct netinfo_route *r)
{
	uint32_t d = ntohl(dst);
	struct rc_ent *e = rc_find(c, d);
	int err;

	c->st.lookups++;
	if (!e) {
		struct netinfo_route nr;

		c->st.asked++;
		if (!c->snap)
			rc_snapshot(c);
		err = nl_route_ask(c->fd, ++c->seq, c->buf, dst, c->oif, &nr);
		if (err && err != -ENETUNREACH && err != -EHOSTUNREACH)
			return err; /* not an answer about the route: do not cache */
		rc_insert(c, d, rc_block_len(c, d), err, &nr);
		e = rc_find(c, d);
	}
	if (e->err)
		return e->err;
	*r = e->r;
	r->dst = dst;
	r->nexthop = r->gateway ? r->gateway : dst;
	return 0;
}

void netinfo_rcache_stats(const struct netinfo_rcache *c, struct netinfo_rcache_stats *st)
{
	*st = c->st;
	st->blocks = c->used;
	st->per_address = c->snap == -1;
}
