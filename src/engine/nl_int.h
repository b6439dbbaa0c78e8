/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * nl_int.h - the rtnetlink plumbing netinfo.c (one-shot questions, a socket
 * each) and rcache.c (the route cache, one long-lived socket) share. Not a
 * public header.
 */
#ifndef RTRACE_ENGINE_NL_INT_H
#define RTRACE_ENGINE_NL_INT_H

#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdint.h>

struct netinfo_route;

/* Bytes of the receive buffer of one request (a dump comes in several reads). */
#define NL_BUF 65536

/* A request: header, family header and room for a few attributes. */
struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
		struct ndmsg ndm;
	};
	char attrs[256];
};

/* Called for each data message of a reply; a non-zero return is the request's result. */
typedef int (*nl_cb)(const struct nlmsghdr *nh, void *arg);

/* Start a request of @type with @flags (NLM_F_ACK added unless a dump). */
void nl_init(struct nl_req *r, int type, int flags, size_t famlen);
/* Append one attribute. */
void nl_addattr(struct nl_req *r, int type, const void *data, size_t len);
/* Attributes of one message into tb[0..max], by type. */
void nl_parse(struct rtattr **tb, int max, struct rtattr *rta, int len);
/* A NETLINK_ROUTE socket (extended acks on). fd or -errno. */
int nl_open(void);
/*
 * Send @r on @fd (r->nh.nlmsg_seq set by the caller), hand every data message
 * of the reply carrying the same sequence number to @cb, until the ack or
 * NLMSG_DONE; messages of other sequence numbers are skipped. @buf of
 * @buflen bytes receives. Returns 0 or the -errno of the reply.
 */
int nl_talk_fd(int fd, struct nl_req *r, nl_cb cb, void *arg, char *buf, size_t buflen);
/* RTM_NEWROUTE reply -> struct netinfo_route (arg); type, oif, gateway, prefsrc. */
int nl_route_cb(const struct nlmsghdr *nh, void *arg);
/*
 * RTM_GETROUTE for @dst (restricted to output interface @oif if > 0) into *r
 * (type, oif, gateway, prefsrc; dst and nexthop left 0): on @fd with sequence
 * number @seq and receive buffer @buf (NL_BUF bytes), or on a socket of its
 * own if @fd < 0. 0, -ENETUNREACH (no output interface) or the reply's -errno.
 */
int nl_route_ask(int fd, uint32_t seq, char *buf, uint32_t dst, int oif, struct netinfo_route *r);

#endif /* RTRACE_ENGINE_NL_INT_H */
