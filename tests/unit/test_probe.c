// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_probe.c - the probe engine end to end on a real veth pair in a private
 * network namespace, against a scripted network: a packet socket on the peer
 * end answers the engine's probes with frames synthesised by codec (echo
 * replies, time exceeded from a list of routers, unreachables), registered on
 * the engine's own event loop with sched_add_fd(). The script decides which
 * routers are silent, where an unreachable comes from, how much of the probe
 * routers quote, whether replies are duplicated or forged, so the trace
 * state machine (attempts, gap limit, stop reasons), O(1) matching with its
 * stale/forged rejection, Paris flow invariance, listen, cancel and pacing
 * are checked against known answers. Needs root (skips otherwise).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rtrace/codec.h"
#include "rtrace/probe.h"
#include "rtrace/sched.h"

#define DST_NET 0x0a320000u /* 10.50.0.0/16: every address answers like the destination */
#define ROUTER(t) htonl(0x0a080000u + (t))

struct net {
	int fd;		     /* packet socket on vb */
	int hops;	     /* the destination answers probes with TTL >= hops */
	uint8_t silent[64];  /* routers (by TTL) that send no time exceeded */
	int unreach_at;	     /* router at this TTL answers unreachable ... */
	int unreach_code;    /* ... with this code */
	size_t quote;	     /* bytes of L4 routers quote (8: RFC 792) */
	int dup;	     /* send every reply twice */
	int forge;	     /* corrupt cookie.aux of echo replies (checksum fixed) */
	int probes;	     /* probes seen */
	uint16_t flow[256];  /* ICMP checksum or UDP source port of each probe */
	uint16_t dport[256]; /* UDP destination ports */
	uint8_t ttl[256];    /* TTL of each probe */
};

struct got {
	int done;
	struct probe_result r;
	struct probe_trace_hop hops[64];
	struct probe_ping_reply replies[64];
	int responses;
	struct probe_listen_reply lr;
};

static void sh(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (network namespace, XDP)");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	sh("ip link set lo up && ip link add va type veth peer name vb && "
	   "ip addr add 10.9.0.1/24 dev va && ip link set va up && ip link set vb up && "
	   "ip neigh add 10.9.0.254 lladdr $(ip -br link show vb | awk '{print $3}') dev va "
	   "nud permanent "
	   "&& ip route add default via 10.9.0.254");
}

static void reply_out(struct net *n, const uint8_t *f, int len)
{
	int i;

	for (i = 0; i <= n->dup; i++)
		cr_assert_eq(send(n->fd, f, len, 0), len);
}

/* The scripted network: answer one probe frame. */
static void answer(struct net *n, const uint8_t *p, size_t len)
{
	const uint8_t *ip = p + 14;
	size_t ihl = (ip[0] & 15) * 4;
	uint8_t out[CODEC_FRAME_MAX], ttl = ip[8], proto = ip[9];
	uint32_t dst;
	int olen;

	memcpy(&dst, ip + 16, 4);
	if (p[12] != 0x08 || p[13] != 0 || (ntohl(dst) & 0xffff0000u) != DST_NET)
		return;
	if (n->probes < 256) {
		n->flow[n->probes] = proto == IPPROTO_ICMP ? (ip[ihl + 2] << 8 | ip[ihl + 3])
							   : (ip[ihl] << 8 | ip[ihl + 1]);
		n->dport[n->probes] = ip[ihl + 2] << 8 | ip[ihl + 3];
		n->ttl[n->probes] = ttl;
	}
	n->probes++;
	if (ttl >= n->hops) {
		if (proto == IPPROTO_UDP) {
			olen = codec_build_icmp_error(out, sizeof(out), p, len, dst, 3, 3, 1500, 0);
		} else {
			olen = codec_mirror_echo(out, sizeof(out), p, len, dst, 12345);
			if (n->forge) {
				uint8_t *icmp = out + 14 + (out[14] & 15) * 4;
				size_t ilen = olen - (icmp - out);
				uint16_t c;

				icmp[8 + 12] ^= 0x5a; /* cookie.aux */
				icmp[2] = icmp[3] = 0;
				c = codec_csum16(icmp, ilen);
				icmp[2] = c >> 8;
				icmp[3] = c & 0xff;
			}
		}
	} else if (ttl == n->unreach_at) {
		olen = codec_build_icmp_error(out, sizeof(out), p, len, ROUTER(ttl), 3,
					      n->unreach_code, n->quote, 0);
	} else if (!n->silent[ttl]) {
		olen = codec_build_icmp_error(out, sizeof(out), p, len, ROUTER(ttl), 11, 0,
					      n->quote, 0);
	} else {
		return;
	}
	cr_assert_gt(olen, 0);
	reply_out(n, out, olen);
}

static void net_cb(struct sched *s, int fd, uint32_t ev, void *ctx)
{
	uint8_t buf[2048];
	struct sockaddr_ll sll;
	socklen_t sl = sizeof(sll);
	ssize_t len;

	(void)s;
	(void)ev;
	while ((len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&sll, &sl)) >
	       0) {
		if (sll.sll_pkttype != PACKET_OUTGOING)
			answer(ctx, buf, len);
		sl = sizeof(sll);
	}
}

static struct probe_engine *start(struct net *n, uint64_t pps, int spoofed)
{
	struct probe_engine_opts o = {.ifname = "va", .pps = pps, .accept_spoofed = spoofed};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct probe_engine *e = probe_engine_new(&o);

	cr_assert_not_null(e, "probe_engine_new: %s", strerror(errno));
	n->fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	cr_assert_geq(n->fd, 0);
	sll.sll_ifindex = if_nametoindex("vb");
	cr_assert_eq(bind(n->fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	if (!n->quote)
		n->quote = 1500;
	cr_assert_eq(sched_add_fd(probe_engine_sched(e), n->fd, EPOLLIN, net_cb, n), 0);
	return e;
}

static void on_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct got *g = ctx;

	(void)e;
	g->done++;
	g->r = *r;
	if (r->kind == PROBE_TRACE) {
		cr_assert_leq(r->trace.nhops, 64);
		memcpy(g->hops, r->trace.hops, r->trace.nhops * sizeof(*g->hops));
	} else if (r->kind == PROBE_PING && r->ping.replies) {
		cr_assert_leq(r->ping.nreplies, 64);
		memcpy(g->replies, r->ping.replies, r->ping.nreplies * sizeof(*g->replies));
	}
}

static void on_resp(struct probe_engine *e, const struct probe_result *r, const void *resp,
		    void *ctx)
{
	struct got *g = ctx;

	(void)e;
	g->responses++;
	if (r->kind == PROBE_LISTEN)
		g->lr = *(const struct probe_listen_reply *)resp;
}

/* The MAC of an interface (sysfs shows the root namespace's interfaces). */
static void mac_of(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	cr_assert_eq(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

TestSuite(probe, .init = setup, .timeout = 30);

Test(probe, ping_matches_every_reply)
{
	struct net n = {.hops = 3};
	struct probe_engine *e = start(&n, 0, 0);
	struct probe_ping_opts o = {
		.dst = ip("10.50.0.7"), .count = 4, .interval_ms = 20, .opt = PROBE_OPT_RR};
	struct probe_cbs cb = {.done = on_done, .response = on_resp};
	struct probe_stats st;
	struct got g = {0};
	uint32_t i;

	cb.ctx = &g;
	cr_assert_gt(probe_ping(e, &o, &cb), 0);
	cr_assert_eq(probe_engine_run(e), 0);
	cr_assert_eq(g.done, 1);
	cr_assert_eq(g.r.ping.ping_sent, 4);
	cr_assert_eq(g.r.ping.nreplies, 4);
	cr_assert_eq(g.responses, 4);
	cr_assert_eq(g.r.ping.probe_size, 124, "84 + 40 bytes of RR");
	for (i = 0; i < 4; i++) {
		cr_expect_eq(g.replies[i].seq, i);
		cr_expect_eq(g.replies[i].from, o.dst);
		cr_expect_gt(g.replies[i].rtt_ns, 0);
		cr_expect_lt(g.replies[i].rtt_ns, 100000000ull);
		cr_expect(g.replies[i].flags & RTRACE_F_RR);
		cr_expect_eq(g.replies[i].rr.count, 1, "the destination stamped RR");
	}
	probe_engine_stats(e, &st);
	cr_expect_eq(st.probes, 4);
	cr_expect_eq(st.matched, 4);
	cr_expect_eq(st.stale + st.unmatched, 0);
	probe_engine_free(e);
}

Test(probe, duplicates_are_stale_forged_are_unmatched)
{
	struct net n = {.hops = 1, .dup = 1};
	struct probe_engine *e = start(&n, 0, 0);
	struct probe_ping_opts o = {
		.dst = ip("10.50.0.9"), .count = 3, .interval_ms = 10, .wait_ms = 200};
	struct probe_cbs cb = {.done = on_done};
	struct probe_stats st;
	struct got g = {0};

	cb.ctx = &g;
	cr_assert_gt(probe_ping(e, &o, &cb), 0);
	cr_assert_eq(probe_engine_run(e), 0);
	probe_engine_stats(e, &st);
	cr_expect_eq(g.r.ping.nreplies, 3);
	cr_expect_eq(st.matched, 3);
	cr_expect_eq(st.stale, 3, "each duplicate arrives after its slot was released");

	n.dup = 0;
	n.forge = 1;
	memset(&g, 0, sizeof(g));
	cr_assert_gt(probe_ping(e, &o, &cb), 0);
	cr_assert_eq(probe_engine_run(e), 0);
	probe_engine_stats(e, &st);
	cr_expect_eq(g.r.ping.nreplies, 0, "a reply with a wrong cookie check is not ours");
	cr_expect_eq(st.unmatched, 3);
	cr_expect_eq(st.timeouts, 3);
	probe_engine_free(e);
}

static void run_trace(struct net *n, struct probe_trace_opts *o, struct got *g)
{
	struct probe_engine *e = start(n, 0, 0);
	struct probe_cbs cb = {.done = on_done, .ctx = g};

	cr_assert_gt(probe_trace(e, o, &cb), 0);
	cr_assert_eq(probe_engine_run(e), 0);
	cr_assert_eq(g->done, 1);
	probe_engine_free(e);
}

Test(probe, trace_completed_with_silent_router_and_paris_flow)
{
	struct net n = {.hops = 5};
	struct probe_trace_opts o = {.dst = ip("10.50.1.1"), .wait_ms = 200, .max_ttl = 10};
	struct got g = {0};
	int i;

	n.silent[3] = 1;
	run_trace(&n, &o, &g);
	cr_assert_eq(g.r.trace.stop_reason, PROBE_STOP_COMPLETED);
	cr_assert_eq(g.r.trace.hop_count, 5);
	cr_assert_eq(g.r.trace.nhops, 4, "TTLs 1, 2, 4, 5 answer");
	cr_expect_eq(g.hops[0].addr, ROUTER(1));
	cr_expect_eq(g.hops[1].addr, ROUTER(2));
	cr_expect_eq(g.hops[2].addr, ROUTER(4));
	cr_expect_eq(g.hops[2].probe_ttl, 4);
	cr_expect_eq(g.hops[3].addr, o.dst);
	cr_expect_eq(g.hops[3].icmp_type, 0);
	cr_expect_eq(g.hops[0].icmp_type, 11);
	cr_expect_eq(g.hops[0].icmp_q_ttl, 1);
	/* all 10 TTLs once, TTL 3 a second time */
	cr_expect_eq(g.r.trace.probe_count, 11);
	cr_expect_eq(n.probes, 11);
	for (i = 1; i < n.probes; i++)
		cr_expect_eq(n.flow[i], n.flow[0], "Paris: ICMP checksum constant (%d)", i);
	cr_expect_eq(g.r.trace.icmp_sum, n.flow[0]);
}

Test(probe, trace_gaplimit_and_hoplimit)
{
	struct net n = {.hops = 200};
	struct probe_trace_opts o = {.dst = ip("10.50.1.2"),
				     .wait_ms = 150,
				     .max_ttl = 12,
				     .gaplimit = 3,
				     .attempts = 1};
	struct got g = {0};
	int t;

	for (t = 2; t <= 12; t++)
		n.silent[t] = 1;
	run_trace(&n, &o, &g);
	cr_expect_eq(g.r.trace.stop_reason, PROBE_STOP_GAPLIMIT);
	cr_expect_eq(g.r.trace.hop_count, 4, "TTLs 2, 3, 4 silent");
	cr_expect_eq(g.r.trace.nhops, 1);

	memset(&g, 0, sizeof(g));
	memset(&n.silent, 0, sizeof(n.silent));
	n.probes = 0;
	o.max_ttl = 6;
	run_trace(&n, &o, &g);
	cr_expect_eq(g.r.trace.stop_reason, PROBE_STOP_HOPLIMIT);
	cr_expect_eq(g.r.trace.hop_count, 6);
	cr_expect_eq(g.r.trace.nhops, 6);
}

Test(probe, trace_unreachable_udp_with_short_quotes)
{
	struct net n = {.hops = 9, .unreach_at = 3, .unreach_code = 1, .quote = 8};
	struct probe_trace_opts o = {.dst = ip("10.50.2.2"),
				     .wait_ms = 200,
				     .max_ttl = 12,
				     .method = PROBE_TRACE_UDP_PARIS};
	struct got g = {0};
	int i;

	run_trace(&n, &o, &g);
	cr_expect_eq(g.r.trace.stop_reason, PROBE_STOP_UNREACH);
	cr_expect_eq(g.r.trace.stop_data, 1);
	cr_expect_eq(g.r.trace.hop_count, 3);
	cr_assert_eq(g.r.trace.nhops, 3, "RFC 792 quotes (8 bytes) still match via IP ID");
	cr_expect_eq(g.hops[2].addr, ROUTER(3));
	cr_expect_eq(g.hops[2].icmp_type, 3);
	for (i = 1; i < n.probes; i++) {
		cr_expect_eq(n.flow[i], n.flow[0], "Paris UDP: source port constant");
		cr_expect_eq(n.dport[i], CODEC_UDP_DPORT);
	}
	cr_expect_eq(g.r.trace.sport, n.flow[0]);

	/* udp-paris to a destination that answers: port unreachable = COMPLETED */
	memset(&g, 0, sizeof(g));
	n.unreach_at = 0;
	n.hops = 4;
	n.quote = 1500;
	run_trace(&n, &o, &g);
	cr_expect_eq(g.r.trace.stop_reason, PROBE_STOP_COMPLETED);
	cr_expect_eq(g.r.trace.hop_count, 4);
	cr_expect_eq(g.hops[3].icmp_code, 3);
}

Test(probe, listen_receives_spoofed_replies)
{
	struct net n = {.hops = 1};
	struct probe_engine *e = start(&n, 0, 1);
	struct probe_listen_opts lo = {
		.duration_ms = 3000, .req = 777, .match_req = 1, .max_replies = 1};
	struct probe_cbs cb = {.done = on_done, .response = on_resp};
	struct codec_probe_spec s = {0};
	uint8_t probe[CODEC_FRAME_MAX], reply[CODEC_FRAME_MAX];
	struct got g = {0};
	int len, rlen;

	cb.ctx = &g;
	cr_assert_gt(probe_listen(e, &lo, &cb), 0);
	/* what a VP sends for us: our source address, the spoof id, req 777 */
	s.saddr = ip("10.9.0.1");
	s.daddr = ip("10.50.3.3");
	s.ttl = 64;
	s.proto = CODEC_PROTO_ICMP;
	s.opt = CODEC_OPT_RR;
	s.payload_len = 56;
	s.icmp_id = RTRACE_SPOOF_ICMP_ID;
	s.icmp_seq = 5;
	s.spoofer = ip("10.7.7.7");
	s.req = 777;
	len = codec_build(probe, sizeof(probe), &s);
	cr_assert_gt(len, 0);
	/* the destination's reply comes to us (vb -> va): swap the MACs */
	rlen = codec_mirror_echo(reply, sizeof(reply), probe, len, s.daddr, 1);
	cr_assert_gt(rlen, 0);
	mac_of("va", reply);
	mac_of("vb", reply + 6);
	cr_assert_eq(send(n.fd, reply, rlen, 0), rlen);
	cr_assert_eq(probe_engine_run(e), 0);
	cr_assert_eq(g.done, 1);
	cr_expect_eq(g.r.listen.nreplies, 1);
	cr_expect_eq(g.responses, 1);
	cr_expect_eq(g.lr.vp, ip("10.7.7.7"));
	cr_expect_eq(g.lr.req, 777);
	cr_expect_eq(g.lr.r.from, s.daddr);
	cr_expect_eq(g.lr.r.seq, 5);
	cr_expect_eq(g.lr.r.rr.count, 1);
	probe_engine_free(e);
}

Test(probe, cancel_and_option_errors)
{
	struct net n = {.hops = 200};
	struct probe_engine *e = start(&n, 0, 0);
	struct probe_trace_opts to = {.dst = ip("10.50.4.4"), .wait_ms = 5000};
	struct probe_ping_opts po = {.dst = ip("10.50.4.4")};
	struct probe_listen_opts lo = {0};
	struct probe_cbs cb = {.done = on_done};
	struct got g = {0};
	int64_t id;
	int i;

	for (i = 1; i < 64; i++)
		n.silent[i] = 1;
	cb.ctx = &g;
	id = probe_trace(e, &to, &cb);
	cr_assert_gt(id, 0);
	for (i = 0; i < 20; i++)
		probe_engine_run_once(e, 5);
	cr_assert_eq(probe_cancel(e, id), 0);
	cr_assert_eq(probe_cancel(e, id), -ENOENT);
	cr_assert_eq(probe_engine_run(e), 0);
	cr_expect_eq(g.done, 1);
	cr_expect_eq(g.r.trace.stop_reason, PROBE_STOP_HALTED);
	cr_expect_eq(probe_engine_active(e), 0);

	po.opt = PROBE_OPT_TSPRESPEC;
	po.ntsps = 5;
	cr_expect_eq(probe_ping(e, &po, &cb), -EINVAL);
	po.opt = PROBE_OPT_RR;
	po.size = 80; /* < 20 + 40 + 8 + cookie and Paris word (86) */
	cr_expect_eq(probe_ping(e, &po, &cb), -EINVAL);
	po.size = 0;
	po.dst = ip("10.9.0.1");
	cr_expect_eq(probe_ping(e, &po, &cb), -EADDRNOTAVAIL);
	to.first_ttl = 9;
	to.max_ttl = 3;
	cr_expect_eq(probe_trace(e, &to, &cb), -EINVAL);
	cr_expect_eq(probe_listen(e, &lo, &cb), -EOPNOTSUPP, "engine without accept_spoofed");
	probe_engine_free(e);

	errno = 0;
	cr_expect_null(probe_engine_new(&(struct probe_engine_opts){.ifname = "nope0"}));
	cr_expect_eq(errno, ENODEV);
}

Test(probe, engine_pacing_2000pps)
{
	struct net n = {.hops = 1};
	struct probe_engine *e = start(&n, 2000, 0);
	struct probe_cbs cb = {0};
	uint64_t t0 = sched_now_ns(), dt;
	struct probe_stats st;
	int i;

	for (i = 0; i < 1001; i++) {
		struct probe_ping_opts o = {.dst = htonl(DST_NET + 256 + i), .count = 1};

		cr_assert_gt(probe_ping(e, &o, &cb), 0);
	}
	cr_assert_eq(probe_engine_run(e), 0);
	dt = sched_now_ns() - t0;
	probe_engine_stats(e, &st);
	cr_expect_eq(st.matched, 1001);
	/* 1000 intervals at 2000 pps: 0.5 s (+ the last reply) */
	cr_expect(dt > 475000000ull && dt < 545000000ull, "1001 probes took %lu ns",
		  (unsigned long)dt);
	probe_engine_free(e);
}

struct tmo {
	uint64_t done_ns; /* when done ran */
	uint32_t nreplies;
	uint16_t sent;
};

static void on_tmo_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct tmo *t = ctx;

	(void)e;
	t->done_ns = sched_now_ns();
	t->nreplies = r->ping.nreplies;
	t->sent = r->ping.ping_sent;
}

/*
 * Probe timeouts: more distinct timeout values than the engine keeps queues
 * for (some go to the heap), submitted out of order, with replies to some
 * probes of each value unlinking them from the middle of their queue: every
 * unanswered ping ends after its own timeout, not before, not much later.
 */
Test(probe, timeouts_of_many_values_expire_on_time)
{
	struct net n = {.hops = 1};
	struct probe_engine *e = start(&n, 0, 0);
	struct tmo t[60] = {{0}};
	uint64_t t0 = sched_now_ns();
	struct probe_stats st;
	int i;

	for (i = 0; i < 60; i++) {
		/* waits 40..230 ms, 20 distinct values, in a scrambled order */
		uint32_t wait = 40 + 10 * ((i * 7) % 20);
		/* every third target answers (10.50/16), the others are silent (10.51/16) */
		uint32_t dst = htonl((i % 3 ? 0x0a330000u : DST_NET) + 256 + i);
		struct probe_ping_opts o = {.dst = dst, .count = 1, .wait_ms = wait};
		struct probe_cbs cb = {.done = on_tmo_done, .ctx = &t[i]};

		cr_assert_gt(probe_ping(e, &o, &cb), 0);
	}
	cr_assert_eq(probe_engine_run(e), 0);
	for (i = 0; i < 60; i++) {
		uint32_t wait = 40 + 10 * ((i * 7) % 20);
		uint64_t took = t[i].done_ns - t0;

		cr_expect_eq(t[i].sent, 1);
		if (i % 3 == 0) {
			cr_expect_eq(t[i].nreplies, 1, "ping %d answered", i);
			continue;
		}
		cr_expect_eq(t[i].nreplies, 0);
		cr_expect_geq(took, wait * 1000000ull, "ping %d (wait %u ms) ended after %lu ns", i,
			      wait, (unsigned long)took);
		cr_expect_lt(took, (wait + 60) * 1000000ull, "ping %d (wait %u ms) ended after %lu ns",
			     i, wait, (unsigned long)took);
	}
	probe_engine_stats(e, &st);
	cr_expect_eq(st.timeouts, 40);
	cr_expect_eq(st.matched, 20);
	probe_engine_free(e);
}
