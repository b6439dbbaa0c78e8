/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parse.h - the one Ethernet / IPv4 / IP option / ICMP reply parser of
 * rtrace, compiled both into the XDP classifier (bpf/classify.bpf.c) and into
 * user space (src/codec/parse.c), so both receive paths accept and reject
 * exactly the same frames.
 *
 * Contract: rt_parse(data, data_end, r, sc) returns RT_PARSE_OK (1) when the frame
 * is an ICMP echo reply, time exceeded, destination unreachable or parameter
 * problem and fills *r (which the caller zeroed) as wire.h describes;
 * RT_PARSE_SKIP (0) for anything else (not IPv4, not ICMP, another ICMP
 * type, a non-first fragment); RT_PARSE_BAD (-1) when any length or pointer
 * is invalid: IHL < 5 or past the frame, total length short or past the
 * frame, bad IP header checksum, option length < 2 or past the header,
 * duplicate RR/TS, RR/TS pointer out of range or misaligned, unknown TS flag,
 * ICMP header or quoted IPv4 header (+ 8 bytes) truncated. On SKIP and BAD
 * *r holds garbage and must not be used (the user-space wrapper zeroes it).
 * All values come out in host order except IPv4 addresses (network order).
 * The IP header checksum is verified; the ICMP checksum is not (that would
 * be a loop over the whole payload in XDP for little gain: a corrupted reply
 * still has to match a probe slot and its cookie).
 *
 * Verifier notes: every access is checked against data_end right before it,
 * every loop has a constant bound, every offset is bounded by a constant.
 * Only headers that exist in both worlds are included.
 */
#ifndef RTRACE_PARSE_H
#define RTRACE_PARSE_H

#include <linux/types.h>

#include "rtrace/wire.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Keep loops rolled under clang: unrolled copies blow the 512-byte BPF stack. */
#ifdef __clang__
#define RT_NO_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define RT_NO_UNROLL
#endif

#define RT_PARSE_OK 1
#define RT_PARSE_SKIP 0
#define RT_PARSE_BAD (-1)

#define RT_ETH_HLEN 14
#define RT_ETH_P_IP 0x0800
#define RT_IPPROTO_ICMP 1
#define RT_IPPROTO_UDP 17
#define RT_IPOPT_EOL 0
#define RT_IPOPT_NOP 1
#define RT_IPOPT_RR 7
#define RT_IPOPT_TS 68
#define RT_ICMP_ECHOREPLY 0
#define RT_ICMP_UNREACH 3
#define RT_ICMP_ECHO 8
#define RT_ICMP_TIME_EXCEEDED 11
#define RT_ICMP_PARAMPROB 12
#define RT_TS_TSONLY 0
#define RT_TS_TSANDADDR 1
#define RT_TS_PRESPEC 3

/* Big-endian 16/32-bit load from an already bounds-checked pointer. */
static __always_inline __u16 rt_get16(const __u8 *p)
{
	return (__u16)((__u16)p[0] << 8 | p[1]);
}

static __always_inline __u32 rt_get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Big-endian 16/32-bit store (frame building in user space). */
static __always_inline void rt_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static __always_inline void rt_put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v & 0xff;
}

/* 4 bytes as stored (an address stays in network order). */
static __always_inline __u32 rt_getaddr(const __u8 *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, 4);
	return v;
}

/*
 * The record and the option walk live in memory the caller provides. In BPF
 * that is a per-CPU map value, accessed through volatile pointers so that
 * every load and store happens: the verifier does not track values in map
 * memory, so the states of different option sequences and option contents
 * look alike and prune, instead of multiplying with every option length and
 * RR/TS fill level (and the 176-byte record stays off the 512-byte stack).
 * In user space both are plain locals and RT_SCRATCH is empty.
 */
#ifdef __bpf__
#define RT_SCRATCH volatile
/* Keep clang from re-deriving a checked packet pointer from another base. */
#define RT_BARRIER_VAR(x) asm volatile("" : "+r"(x))
#else
#define RT_SCRATCH
#define RT_BARRIER_VAR(x) ((void)0)
#endif

/* Walk state: offsets from the IPv4 header; rr/ts 0 = option absent. */
struct rt_scan {
	__u32 off;   /* offset of the next option */
	__u32 rr;    /* offset of the Record Route option */
	__u32 ts;    /* offset of the Timestamp option */
	__u32 other; /* 1 if any other option was present */
	__u32 qoff;  /* ICMP errors: frame offset of the quoted header */
	__u32 qend;  /* ICMP errors: frame offset of the end of the quote */
};

/*
 * Walk the options of the IPv4 header at @ip (header length @hlen, 21..60,
 * already checked to lie inside the frame): validate every option length and
 * note where RR and TS are. RT_PARSE_BAD on any inconsistency.
 */
static __always_inline int rt_scan_opts(const __u8 *ip, __u32 hlen, const __u8 *end,
					RT_SCRATCH struct rt_scan *sc)
{
	int n;

	sc->off = 20;
	sc->rr = 0;
	sc->ts = 0;
	sc->other = 0;
	RT_NO_UNROLL
	for (n = 0; n < 40; n++) {
		const __u8 *p;
		__u32 off = sc->off, type, olen;

		if (off >= hlen || off >= 60)
			break;
		p = ip + off;
		if (p + 1 > end)
			return RT_PARSE_BAD;
		type = p[0];
		if (type == RT_IPOPT_EOL)
			break;
		if (type == RT_IPOPT_NOP) {
			sc->off = off + 1;
			continue;
		}
		if (p + 2 > end)
			return RT_PARSE_BAD;
		olen = p[1];
		if (olen < 2 || off + olen > hlen)
			return RT_PARSE_BAD;
		if (type == RT_IPOPT_RR) {
			if (sc->rr)
				return RT_PARSE_BAD;
			sc->rr = off;
		} else if (type == RT_IPOPT_TS) {
			if (sc->ts)
				return RT_PARSE_BAD;
			sc->ts = off;
		} else {
			sc->other = 1;
		}
		sc->off = off + olen;
	}
	return 0;
}

/*
 * Validate the Record Route option at @o (its length already checked by
 * rt_scan_opts) and, if @store, decode it into @rr.
 */
static __always_inline int rt_parse_rr(const __u8 *o, const __u8 *end,
				       RT_SCRATCH struct rtrace_rr *rr, int store)
{
	__u32 len, ptr, count;
	int j;

	if (o + 3 > end)
		return RT_PARSE_BAD;
	len = o[1];
	ptr = o[2];
	if (len < 3 || len > 40 || ptr < 4 || (ptr & 3) || ptr > len + 1)
		return RT_PARSE_BAD;
	count = (ptr - 4) >> 2;
	if (count > RTRACE_RR_SLOTS)
		return RT_PARSE_BAD;
	if (!store)
		return 0;
	rr->len = len;
	rr->ptr = ptr;
	rr->count = count;
	RT_NO_UNROLL
	for (j = 0; j < RTRACE_RR_SLOTS; j++) {
		const __u8 *a = o + 3 + 4 * j;

		if ((__u32)j >= count)
			break;
		RT_BARRIER_VAR(a);
		if (a + 4 > end)
			return RT_PARSE_BAD;
		rr->addr[j] = rt_getaddr(a);
	}
	return 0;
}

/* The same for the Timestamp option. */
static __always_inline int rt_parse_ts(const __u8 *o, const __u8 *end,
				       RT_SCRATCH struct rtrace_ts *ts, int store)
{
	__u32 len, ptr, flags, shift, slots, count;
	int j;

	if (o + 4 > end)
		return RT_PARSE_BAD;
	len = o[1];
	ptr = o[2];
	flags = o[3] & 0xf;
	if (len < 4 || len > 40 || ptr < 5 || ptr > len + 1)
		return RT_PARSE_BAD;
	if (flags == RT_TS_TSONLY)
		shift = 2;
	else if (flags == RT_TS_TSANDADDR || flags == RT_TS_PRESPEC)
		shift = 3;
	else
		return RT_PARSE_BAD;
	if ((ptr - 5) & ((1u << shift) - 1))
		return RT_PARSE_BAD;
	slots = (len - 4) >> shift;
	count = (ptr - 5) >> shift;
	if (count > slots || slots > RTRACE_TS_STAMPS)
		return RT_PARSE_BAD;
	if (!store)
		return 0;
	ts->len = len;
	ts->ptr = ptr;
	ts->flags = flags;
	ts->overflow = o[3] >> 4;
	ts->count = count;
	ts->slots = slots;
	if (flags == RT_TS_TSONLY) {
		RT_NO_UNROLL
		for (j = 0; j < RTRACE_TS_STAMPS; j++) {
			const __u8 *a = o + 4 + 4 * j;

			if ((__u32)j >= count)
				break;
			RT_BARRIER_VAR(a);
			if (a + 4 > end)
				return RT_PARSE_BAD;
			ts->stamp[j] = rt_get32(a);
		}
		return 0;
	}
	if (slots > RTRACE_TS_PAIRS)
		return RT_PARSE_BAD;
	RT_NO_UNROLL
	for (j = 0; j < RTRACE_TS_PAIRS; j++) {
		const __u8 *a = o + 4 + 8 * j;

		if ((__u32)j >= slots)
			break;
		RT_BARRIER_VAR(a);
		if (a + 8 > end)
			return RT_PARSE_BAD;
		/* prespec keeps the addresses still waiting for a stamp too */
		if ((__u32)j < count || flags == RT_TS_PRESPEC)
			ts->addr[j] = rt_getaddr(a);
		if ((__u32)j < count)
			ts->stamp[j] = rt_get32(a + 4);
	}
	return 0;
}

/*
 * Validate and decode the options of the IPv4 header at @ip. The outer
 * header (@quoted 0) sets RTRACE_F_RR/TS/OTHEROPT; a quoted one sets
 * RTRACE_F_Q_* and fills r->rr / r->ts only where the outer had none.
 */
static __always_inline int rt_parse_opts(const __u8 *ip, __u32 hlen, const __u8 *end,
					 RT_SCRATCH struct rtrace_reply *r,
					 RT_SCRATCH struct rt_scan *sc, int quoted)
{
	__u32 rr, ts;

	if (hlen <= 20)
		return 0;
	if (rt_scan_opts(ip, hlen, end, sc) < 0)
		return RT_PARSE_BAD;
	rr = sc->rr;
	ts = sc->ts;
	if (rr) {
		if (rr < 20 || rr > 58)
			return RT_PARSE_BAD;
		/* a quoted RR is validated always, kept if the outer has none */
		if (rt_parse_rr(ip + rr, end, &r->rr, !(r->flags & RTRACE_F_RR)) < 0)
			return RT_PARSE_BAD;
		r->flags |= quoted ? RTRACE_F_Q_RR : RTRACE_F_RR;
	}
	if (ts) {
		if (ts < 20 || ts > 58)
			return RT_PARSE_BAD;
		if (rt_parse_ts(ip + ts, end, &r->ts, !(r->flags & RTRACE_F_TS)) < 0)
			return RT_PARSE_BAD;
		r->flags |= quoted ? RTRACE_F_Q_TS : RTRACE_F_TS;
	}
	if (sc->other)
		r->flags |= quoted ? RTRACE_F_Q_OTHEROPT : RTRACE_F_OTHEROPT;
	return 0;
}

/* Copy the cookie at @p if it fits before @lim and @end and carries the magic. */
static __always_inline void rt_parse_cookie(const __u8 *p, const __u8 *lim, const __u8 *end,
					    RT_SCRATCH struct rtrace_reply *r)
{
	if (p + sizeof(struct rtrace_cookie) > lim || p + sizeof(struct rtrace_cookie) > end)
		return;
	if (rt_get32(p) != RTRACE_COOKIE_MAGIC)
		return;
	r->cookie.magic = RTRACE_COOKIE_MAGIC;
	r->cookie.spoofer = rt_getaddr(p + 4);
	r->cookie.req = rt_get32(p + 8);
	r->cookie.aux = rt_get32(p + 12);
	r->flags |= RTRACE_F_COOKIE;
}

/* Validate the IPv4 header checksum (@hlen bytes at @ip, inside the frame). */
static __always_inline int rt_ip_csum_ok(const __u8 *ip, __u32 hlen, const __u8 *end)
{
	__u32 sum = 0;
	int k;

	RT_NO_UNROLL
	for (k = 0; k < 30; k++) {
		const __u8 *p = ip + 2 * k;

		if ((__u32)(2 * k) >= hlen)
			break;
		if (p + 2 > end)
			return 0;
		sum += rt_get16(p);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * Decode the probe an ICMP error quotes: it starts sc->qoff bytes into the
 * frame @d and ends sc->qend bytes in (the end of the IP packet, or of the
 * original datagram under RFC 4884). The offsets go through the scratch
 * memory on purpose: in BPF they come back as plain bounded scalars, so every
 * path through the outer header enters here in the same verifier state.
 */
static __always_inline int rt_parse_quote(const __u8 *d, const __u8 *end,
					  RT_SCRATCH struct rtrace_reply *r,
					  RT_SCRATCH struct rt_scan *sc)
{
	__u32 qoff = sc->qoff, qend = sc->qend;
	const __u8 *q, *qlim;
	const __u8 *l4;
	__u32 qhlen;

	if (qoff > RT_ETH_HLEN + 60 + 8 || qend > RT_ETH_HLEN + 0xffff)
		return RT_PARSE_BAD;
	q = d + qoff;
	qlim = d + qend;
	if (q + 20 > qlim || q + 20 > end)
		return RT_PARSE_BAD;
	if ((q[0] >> 4) != 4 || (q[0] & 0xf) < 5)
		return RT_PARSE_BAD;
	qhlen = (q[0] & 0xf) * 4;
	l4 = q + qhlen;
	if (l4 + RTRACE_QUOTE_L4 > qlim || l4 + RTRACE_QUOTE_L4 > end)
		return RT_PARSE_BAD;
	r->q.saddr = rt_getaddr(q + 12);
	r->q.daddr = rt_getaddr(q + 16);
	r->q.ip_id = rt_get16(q + 4);
	r->q.tot_len = rt_get16(q + 2);
	r->q.ttl = q[8];
	r->q.proto = q[9];
	r->q.ihl = q[0] & 0xf;
	r->q.l4[0] = l4[0];
	r->q.l4[1] = l4[1];
	r->q.l4[2] = l4[2];
	r->q.l4[3] = l4[3];
	r->q.l4[4] = l4[4];
	r->q.l4[5] = l4[5];
	r->q.l4[6] = l4[6];
	r->q.l4[7] = l4[7];
	r->flags |= RTRACE_F_QUOTE;
	if (rt_parse_opts(q, qhlen, end, r, sc, 1) < 0)
		return RT_PARSE_BAD;
	if (r->q.proto == RT_IPPROTO_ICMP) {
		if (l4[0] != RT_ICMP_ECHO)
			return 0;
		r->icmp_id = rt_get16(l4 + 4);
		r->icmp_seq = rt_get16(l4 + 6);
		if (r->icmp_id == RTRACE_SPOOF_ICMP_ID)
			r->flags |= RTRACE_F_SPOOFED;
	} else if (r->q.proto == RT_IPPROTO_UDP) {
		r->icmp_id = rt_get16(l4);
		r->icmp_seq = rt_get16(l4 + 2);
	} else {
		return 0;
	}
	rt_parse_cookie(l4 + 8, qlim, end, r);
	return 0;
}

/*
 * The parser; see the head of the file. @r must be zeroed by the caller, @sc
 * is scratch space for the option walk.
 */
static __always_inline int rt_parse(const void *data, const void *data_end,
				    RT_SCRATCH struct rtrace_reply *r,
				    RT_SCRATCH struct rt_scan *sc)
{
	const __u8 *d = data, *end = data_end, *ip, *icmp, *l3end;
	__u32 hlen, tot, type;

	if (d + RT_ETH_HLEN > end)
		return RT_PARSE_SKIP;
	if (rt_get16(d + 12) != RT_ETH_P_IP)
		return RT_PARSE_SKIP;
	ip = d + RT_ETH_HLEN;
	if (ip + 20 > end)
		return RT_PARSE_BAD;
	if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
		return RT_PARSE_BAD;
	hlen = (ip[0] & 0xf) * 4;
	tot = rt_get16(ip + 2);
	if (ip + hlen > end || tot < hlen || ip + tot > end)
		return RT_PARSE_BAD;
	if (!rt_ip_csum_ok(ip, hlen, end))
		return RT_PARSE_BAD;
	if (rt_get16(ip + 6) & 0x1fff)
		return RT_PARSE_SKIP; /* not the first fragment */
	if (ip[9] != RT_IPPROTO_ICMP)
		return RT_PARSE_SKIP;
	icmp = ip + hlen;
	l3end = ip + tot;
	if (icmp + 8 > l3end || icmp + 8 > end)
		return RT_PARSE_BAD;
	type = icmp[0];
	if (type != RT_ICMP_ECHOREPLY && type != RT_ICMP_UNREACH && type != RT_ICMP_TIME_EXCEEDED &&
	    type != RT_ICMP_PARAMPROB)
		return RT_PARSE_SKIP;

	r->saddr = rt_getaddr(ip + 12);
	r->daddr = rt_getaddr(ip + 16);
	r->ip_id = rt_get16(ip + 4);
	r->tot_len = tot;
	r->ttl = ip[8];
	r->tos = ip[1];
	r->icmp_type = type;
	r->icmp_code = icmp[1];
	if (rt_parse_opts(ip, hlen, end, r, sc, 0) < 0)
		return RT_PARSE_BAD;

	if (type == RT_ICMP_ECHOREPLY) {
		r->kind = RTRACE_REPLY_ECHO;
		r->icmp_id = rt_get16(icmp + 4);
		r->icmp_seq = rt_get16(icmp + 6);
		rt_parse_cookie(icmp + 8, l3end, end, r);
		if (r->icmp_id == RTRACE_SPOOF_ICMP_ID && (r->flags & RTRACE_F_COOKIE))
			r->flags |= RTRACE_F_SPOOFED;
		return RT_PARSE_OK;
	}
	if (type == RT_ICMP_UNREACH)
		r->kind = RTRACE_REPLY_UNREACH;
	else if (type == RT_ICMP_TIME_EXCEEDED)
		r->kind = RTRACE_REPLY_TIME_EXCEEDED;
	else
		r->kind = RTRACE_REPLY_PARAM_PROB;
	/*
	 * RFC 4884: a non-zero length (32-bit words, byte 5) delimits the
	 * original datagram, extensions follow. A length that does not fit
	 * is taken as a pre-4884 sender's garbage and ignored.
	 */
	sc->qoff = RT_ETH_HLEN + hlen + 8;
	sc->qend = RT_ETH_HLEN + tot;
	if (icmp[5] && icmp + 8 + icmp[5] * 4 <= l3end) {
		sc->qend = RT_ETH_HLEN + hlen + 8 + icmp[5] * 4;
		r->flags |= RTRACE_F_EXT;
	}
	if (rt_parse_quote(d, end, r, sc) < 0)
		return RT_PARSE_BAD;
	return RT_PARSE_OK;
}

/* The match rule of struct rtrace_match (wire.h): 1 if @r answers our probe. */
static __always_inline int rt_reply_is_ours(const RT_SCRATCH struct rtrace_reply *r,
					    const struct rtrace_match *m)
{
	if (m->addr && r->daddr != m->addr)
		return 0;
	if (r->kind == RTRACE_REPLY_ECHO) {
		if (r->icmp_id == m->icmp_id && r->icmp_id != RTRACE_SPOOF_ICMP_ID)
			return 1;
		return m->accept_spoofed && (r->flags & RTRACE_F_SPOOFED);
	}
	if (!(r->flags & RTRACE_F_QUOTE))
		return 0;
	if (m->addr && r->q.saddr != m->addr)
		return 0;
	if (r->q.proto == RT_IPPROTO_ICMP) {
		if (r->q.l4[0] != RT_ICMP_ECHO)
			return 0;
		if (r->icmp_id == m->icmp_id && r->icmp_id != RTRACE_SPOOF_ICMP_ID)
			return 1;
		return m->accept_spoofed && (r->flags & RTRACE_F_SPOOFED);
	}
	if (r->q.proto == RT_IPPROTO_UDP)
		return m->udp_sport && r->icmp_id == m->udp_sport;
	return 0;
}

#endif /* RTRACE_PARSE_H */
