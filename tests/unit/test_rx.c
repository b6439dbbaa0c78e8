// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_rx.c - the receive path (src/engine/rx*.c) end to end on a veth pair
 * in private network namespaces: echo requests built by codec_build() go
 * out through the TX ring to the peer namespace, whose kernel answers; the
 * replies must come back as records through XDP (native, generic) or the
 * AF_PACKET ring, ours only, with counters that add up. Also: a foreign XDP
 * program is never replaced, ours is detached on close and when the process
 * dies, and missing capabilities give EPERM.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "engine_netns.h"
#include "rtrace/codec.h"
#include "rtrace/netinfo.h"
#include "rtrace/rx.h"
#include "rtrace/txring.h"

#define OUR_ID 0x1234
#define OTHER_ID 0x9999
#define MAXREC 1024

struct sink {
	unsigned int n;		       /* records received */
	struct rtrace_reply r[MAXREC]; /* the first MAXREC of them */
};

static void on_reply(void *ctx, const struct rtrace_reply *r)
{
	struct sink *s = ctx;

	if (s->n < MAXREC)
		s->r[s->n] = *r;
	s->n++;
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* Send @n ICMP echo requests (id @id, seq/req = first + i) from va to @dst. */
static void send_pings(const char *dst, uint16_t id, unsigned int first, unsigned int n,
		       enum codec_opt opt)
{
	struct codec_probe_spec s = {0};
	struct netinfo_path p;
	struct txring *t;
	unsigned int i;

	cr_assert_eq(netinfo_path_get(ip4(dst), "va", &p), 0);
	memcpy(s.src_mac, p.src_mac, 6);
	memcpy(s.dst_mac, p.dst_mac, 6);
	s.saddr = p.src;
	s.daddr = ip4(dst);
	s.ttl = 64;
	s.proto = CODEC_PROTO_ICMP;
	s.opt = opt;
	s.payload_len = 32;
	s.icmp_id = id;
	s.spoofer = p.src;
	t = txring_open("va", NULL);
	cr_assert_not_null(t);
	for (i = 0; i < n; i++) {
		size_t cap;
		void *f = txring_frame(t, &cap);
		int len;

		cr_assert_not_null(f);
		s.icmp_seq = first + i;
		s.req = first + i;
		s.ip_id = first + i;
		len = codec_build(f, cap, &s);
		cr_assert_gt(len, 0);
		cr_assert_eq(txring_commit(t, len), 0);
	}
	cr_assert_eq(txring_flush(t, 2000), 0);
	txring_close(t);
}

/* Poll @rx until @want records arrived or 2 s passed. */
static void collect(struct rx *rx, struct sink *s, unsigned int want)
{
	uint64_t end = mono_ns() + 2000000000ull;

	while (s->n < want && mono_ns() < end)
		cr_assert_geq(rx_poll(rx, 50), 0);
	rx_poll(rx, 100); /* and nothing more should come */
}

/* A raw ICMP socket: sees every ICMP packet the stack receives (after XDP). */
static int icmp_socket(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP), sz = 8 << 20;

	cr_assert_geq(fd, 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)), 0);
	return fd;
}

/* Count echo replies with identifier OTHER_ID and OUR_ID that reached the stack. */
static void stack_replies(int fd, unsigned int *other, unsigned int *ours)
{
	uint8_t buf[2048];
	ssize_t r;

	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
		unsigned int hl = (buf[0] & 0xf) * 4;
		const uint8_t *ic = buf + hl; /* type, code, checksum, id, seq */

		if ((size_t)r < hl + 8 || ic[0] != 0 /* echo reply */)
			continue;
		*other += (ic[4] << 8 | ic[5]) == OTHER_ID;
		*ours += (ic[4] << 8 | ic[5]) == OUR_ID;
	}
}

static uint32_t attached_prog_id(void)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	cr_assert_eq(bpf_xdp_query(if_nametoindex("va"), 0, &q), 0);
	return q.prog_id ? q.prog_id : q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
}

static struct rx *open_rx(enum rx_mode mode, struct sink *s, struct rtrace_match *m)
{
	struct rx_opts o = {.match = m, .mode = mode, .cb = on_reply, .ctx = s};

	memset(m, 0, sizeof(*m));
	m->addr = ip4("10.9.0.1");
	m->icmp_id = OUR_ID;
	return rx_open(if_nametoindex("va"), &o);
}

static void echo_roundtrip(enum rx_mode mode)
{
	static struct sink s;
	struct rtrace_match m;
	struct rx_stats st;
	unsigned int i, seen[200] = {0};
	uint64_t t0 = mono_ns();
	struct tns ns;
	struct rx *rx;
	int raw;

	tns_setup(&ns);
	tns_addresses(&ns);
	rx = open_rx(mode, &s, &m);
	cr_assert_not_null(rx, "rx_open(%s): %m", rx_mode_name(mode));
	cr_assert_eq(rx_mode_used(rx), mode);
	cr_assert_geq(rx_fd(rx), 0);
	if (mode != RX_MODE_RING)
		cr_assert_neq(attached_prog_id(), 0);
	raw = icmp_socket();
	send_pings("10.9.0.2", OUR_ID, 0, 100, CODEC_OPT_NONE);
	send_pings("10.99.0.5", OUR_ID, 100, 100, CODEC_OPT_NONE);
	send_pings("10.9.0.2", OTHER_ID, 0, 50, CODEC_OPT_NONE);
	collect(rx, &s, 200);
	cr_assert_eq(s.n, 200, "%u records, want 200", s.n);
	for (i = 0; i < s.n; i++) {
		const struct rtrace_reply *r = &s.r[i];

		cr_assert_eq(r->kind, RTRACE_REPLY_ECHO);
		cr_assert_eq(r->icmp_id, OUR_ID);
		cr_assert_eq(r->daddr, ip4("10.9.0.1"));
		cr_assert_eq(r->saddr, r->icmp_seq < 100 ? ip4("10.9.0.2") : ip4("10.99.0.5"));
		cr_assert_eq(r->ifindex, if_nametoindex("va"));
		cr_assert(r->flags & RTRACE_F_COOKIE);
		cr_assert_eq(r->cookie.req, r->icmp_seq);
		cr_assert(r->rx_ns >= t0 && r->rx_ns <= mono_ns(), "rx_ns %llu not monotonic now",
			  (unsigned long long)r->rx_ns);
		cr_assert_lt(r->icmp_seq, 200);
		seen[r->icmp_seq]++;
	}
	for (i = 0; i < 200; i++)
		cr_assert_eq(seen[i], 1, "seq %u seen %u times", i, seen[i]);
	cr_assert_eq(rx_stats(rx, &st), 0);
	cr_assert_eq(st.ours, 200);
	cr_assert_eq(st.delivered, 200);
	cr_assert_geq(st.seen, 250);
	cr_assert_eq(st.ringfull, 0);
	cr_assert_eq(st.malformed, 0);
	/* XDP drops ours and passes the rest; the ring only copies */
	{
		unsigned int other = 0, ours = 0;

		stack_replies(raw, &other, &ours);
		cr_assert_eq(other, 50);
		cr_assert_eq(ours, mode == RX_MODE_RING ? 200 : 0, "%u of ours reached the stack",
			     ours);
	}
	rx_close(rx);
	if (mode != RX_MODE_RING)
		cr_assert_eq(attached_prog_id(), 0, "our XDP program is still attached");
}

Test(rx, xdp_native_roundtrip)
{
	echo_roundtrip(RX_MODE_XDP_NATIVE);
}

Test(rx, xdp_generic_roundtrip)
{
	echo_roundtrip(RX_MODE_XDP_GENERIC);
}

Test(rx, ring_roundtrip)
{
	echo_roundtrip(RX_MODE_RING);
}

Test(rx, auto_prefers_native)
{
	static struct sink s;
	struct rtrace_match m;
	struct tns ns;
	struct rx *rx;

	tns_setup(&ns);
	rx = open_rx(RX_MODE_AUTO, &s, &m);
	cr_assert_not_null(rx);
	cr_assert_eq(rx_mode_used(rx), RX_MODE_XDP_NATIVE);
	rx_close(rx);
	cr_assert_eq(attached_prog_id(), 0);
}

Test(rx, record_route_reply)
{
	static struct sink s;
	struct rtrace_match m;
	struct tns ns;
	struct rx *rx;
	unsigned int i;

	tns_setup(&ns);
	tns_addresses(&ns);
	rx = open_rx(RX_MODE_XDP_NATIVE, &s, &m);
	cr_assert_not_null(rx);
	send_pings("10.99.0.5", OUR_ID, 7, 3, CODEC_OPT_RR);
	collect(rx, &s, 3);
	cr_assert_eq(s.n, 3);
	for (i = 0; i < 3; i++) {
		cr_assert(s.r[i].flags & RTRACE_F_RR);
		cr_assert_geq(s.r[i].rr.count, 1);
		/* the destination stamps its address on receive (ip_options_compile) */
		cr_assert_eq(s.r[i].rr.addr[0], ip4("10.99.0.5"), "first RR slot %x count %u",
			     s.r[i].rr.addr[0], s.r[i].rr.count);
	}
	rx_close(rx);
}

/* Load and attach a trivial XDP_PASS program the way another tool would (netlink). */
static int foreign_prog(uint32_t flags, uint32_t *id)
{
	struct bpf_insn insns[] = {
		{.code = 0xb7, .dst_reg = 0, .imm = XDP_PASS}, /* r0 = XDP_PASS */
		{.code = 0x95},				       /* exit */
	};
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "not_rtrace", "GPL", insns, 2, NULL);
	cr_assert_geq(fd, 0, "bpf_prog_load: %s", strerror(-fd));
	cr_assert_eq(bpf_xdp_attach(if_nametoindex("va"), fd, flags, NULL), 0);
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	*id = info.id;
	return fd;
}

static void refuse_foreign(uint32_t flags)
{
	static struct sink s;
	struct rtrace_match m;
	struct tns ns;
	struct rx *rx;
	uint32_t id;

	tns_setup(&ns);
	tns_addresses(&ns);
	foreign_prog(flags, &id);
	cr_assert_null(open_rx(RX_MODE_XDP_NATIVE, &s, &m));
	cr_assert_eq(errno, EBUSY);
	cr_assert_null(open_rx(RX_MODE_XDP_GENERIC, &s, &m));
	cr_assert_eq(errno, EBUSY);
	cr_assert_eq(attached_prog_id(), id, "the foreign program was replaced");
	/* auto: leave it alone, capture with the ring instead */
	rx = open_rx(RX_MODE_AUTO, &s, &m);
	cr_assert_not_null(rx);
	cr_assert_eq(rx_mode_used(rx), RX_MODE_RING);
	send_pings("10.9.0.2", OUR_ID, 0, 10, CODEC_OPT_NONE);
	collect(rx, &s, 10);
	cr_assert_eq(s.n, 10);
	rx_close(rx);
	cr_assert_eq(attached_prog_id(), id, "rx_close detached a foreign program");
}

Test(rx, refuses_foreign_native_program)
{
	refuse_foreign(XDP_FLAGS_DRV_MODE);
}

Test(rx, refuses_foreign_generic_program)
{
	refuse_foreign(XDP_FLAGS_SKB_MODE);
}

/* Our program must not outlive a process that dies without rx_close(). */
Test(rx, detached_when_process_dies)
{
	static struct sink s;
	struct rtrace_match m;
	struct tns ns;
	int p[2], status;
	pid_t pid;
	char c;

	tns_setup(&ns);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rx *rx = open_rx(RX_MODE_XDP_NATIVE, &s, &m);

		c = rx ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause(); /* killed below, no cleanup at all */
		_exit(0);
	}
	cr_assert_eq(read(p[0], &c, 1), 1);
	cr_assert_eq(c, 'y');
	cr_assert_neq(attached_prog_id(), 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	for (int i = 0; i < 100 && attached_prog_id(); i++)
		usleep(10000);
	cr_assert_eq(attached_prog_id(), 0, "XDP program left attached by a killed process");
}

Test(rx, ringbuf_full_is_counted)
{
	static struct sink s;
	struct rtrace_match m = {.icmp_id = OUR_ID};
	struct rx_opts o = {.match = &m,
			    .mode = RX_MODE_XDP_NATIVE,
			    .cb = on_reply,
			    .ctx = &s,
			    .ringbuf_bytes = 4096};
	struct rx_stats st;
	struct tns ns;
	struct rx *rx;

	tns_setup(&ns);
	tns_addresses(&ns);
	rx = rx_open(if_nametoindex("va"), &o);
	cr_assert_not_null(rx);
	send_pings("10.9.0.2", OUR_ID, 0, 300, CODEC_OPT_NONE);
	usleep(200000);
	cr_assert_eq(rx_stats(rx, &st), 0);
	cr_assert_gt(st.ringfull, 0);
	cr_assert_lt(st.ours, 30, "%llu records fit a 4 KiB ring buffer?",
		     (unsigned long long)st.ours);
	cr_assert_eq(st.ours + st.ringfull, 300);
	cr_assert_eq(rx_consume(rx), (int)st.ours);
	cr_assert_eq(s.n, st.ours);
	rx_close(rx);
}

static void drop_caps(uint64_t drop)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	cr_assert_eq(syscall(SYS_capget, &h, d), 0);
	for (int i = 0; i < 2; i++) {
		d[i].effective &= ~(uint32_t)(drop >> (32 * i));
		d[i].permitted &= ~(uint32_t)(drop >> (32 * i));
	}
	cr_assert_eq(syscall(SYS_capset, &h, d), 0, "capset: %m");
}

Test(rx, eperm_without_capabilities)
{
	static struct sink s;
	struct rtrace_match m;
	struct tns ns;
	struct rx *rx;

	tns_setup(&ns);
	drop_caps(1ull << CAP_BPF | 1ull << CAP_SYS_ADMIN | 1ull << CAP_NET_ADMIN |
		  1ull << CAP_PERFMON);
	cr_assert_null(open_rx(RX_MODE_XDP_NATIVE, &s, &m));
	cr_assert_eq(errno, EPERM);
	/* cap_net_raw is left: auto falls back to the ring */
	rx = open_rx(RX_MODE_AUTO, &s, &m);
	cr_assert_not_null(rx);
	cr_assert_eq(rx_mode_used(rx), RX_MODE_RING);
	rx_close(rx);
	drop_caps(1ull << CAP_NET_RAW);
	cr_assert_null(open_rx(RX_MODE_AUTO, &s, &m));
	cr_assert_eq(errno, EPERM);
}

Test(rx, bad_options)
{
	struct rtrace_match m = {0};
	struct rx_opts o = {.match = &m, .cb = on_reply};
	struct rx_opts nomatch = {.cb = on_reply};
	struct rx_opts badrb = {.match = &m, .cb = on_reply, .ringbuf_bytes = 5000};
	struct tns ns;

	tns_setup(&ns);
	cr_assert_null(rx_open(if_nametoindex("va"), &nomatch));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rx_open(if_nametoindex("va"), &badrb));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rx_open(9999, &o));
	cr_assert_eq(errno, ENODEV);
	cr_assert_null(rx_open(if_nametoindex("va"), NULL));
	rx_close(NULL);
	cr_assert_str_eq(rx_mode_name(RX_MODE_XDP_GENERIC), "xdp-generic");
}
