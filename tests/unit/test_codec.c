// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_codec.c - frame building, templates and build -> reply -> parse round
 * trips for every probe kind and IP option. Checksums are checked against an
 * independent, deliberately naive implementation (ref_csum below); replies
 * are made the way Linux makes them (codec_mirror_echo, codec_build_icmp_error).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/codec.h"

#define A(s) inet_addr(s)

/* RFC 1071 the obvious way: sum big-endian words in 64 bits, fold, invert. */
static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	unsigned long long s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += (i % 2 == 0) ? (unsigned long long)p[i] * 256 : p[i];
	while (s > 0xffff)
		s = (s % 65536) + s / 65536;
	return (uint16_t)(0xffff - s);
}

static unsigned hlen_of(const uint8_t *f)
{
	return (f[14] & 0xf) * 4;
}

/* 1 if the IP header and the ICMP/UDP checksums of the frame are right. */
static int frame_csums_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *l4 = ip + hlen_of(f);
	size_t tot = (size_t)ip[2] << 8 | ip[3], l4len = tot - hlen_of(f);
	uint8_t buf[CODEC_FRAME_MAX + 12];

	if (tot + 14 != len || ref_csum(ip, hlen_of(f)) != 0)
		return 0;
	if (ip[9] == 1)
		return ref_csum(l4, l4len) == 0;
	memcpy(buf, ip + 12, 8); /* pseudo header */
	buf[8] = 0;
	buf[9] = 17;
	buf[10] = l4len >> 8;
	buf[11] = l4len & 0xff;
	memcpy(buf + 12, l4, l4len);
	return (l4[6] | l4[7]) && ref_csum(buf, 12 + l4len) == 0;
}

static void base_spec(struct codec_probe_spec *s, enum codec_proto proto, enum codec_opt opt)
{
	static const uint8_t smac[6] = {2, 0, 0, 0, 0, 1}, dmac[6] = {2, 0, 0, 0, 0, 2};

	memset(s, 0, sizeof(*s));
	memcpy(s->src_mac, smac, 6);
	memcpy(s->dst_mac, dmac, 6);
	s->saddr = A("10.1.0.1");
	s->daddr = A("10.9.0.7");
	s->ttl = 64;
	s->proto = proto;
	s->opt = opt;
	s->payload_len = 40;
	s->icmp_id = 0x1234;
	s->icmp_seq = 7;
	s->ip_id = 0x0102;
	s->sport = 45000;
	s->dport = CODEC_UDP_DPORT;
	s->spoofer = s->saddr;
	s->req = 0x00010007;
	s->aux = 0xdeadbeef;
	if (opt == CODEC_OPT_TS_PRESPEC) {
		s->ts_addr[0] = s->daddr;
		s->ts_addr[1] = A("10.9.0.1");
		s->ts_naddr = 2;
	}
}

static const enum codec_opt all_opts[] = {CODEC_OPT_NONE, CODEC_OPT_RR, CODEC_OPT_TS_ONLY,
					  CODEC_OPT_TS_ADDR, CODEC_OPT_TS_PRESPEC};
#define NOPTS (sizeof(all_opts) / sizeof(all_opts[0]))

Test(csum, matches_reference_on_random_buffers)
{
	uint8_t buf[1600];
	unsigned i, n;

	srand(1);
	for (i = 0; i < 2000; i++) {
		n = rand() % sizeof(buf);
		for (unsigned k = 0; k < n; k++)
			buf[k] = (i % 7 == 0) ? 0xff : rand();
		cr_assert_eq(codec_csum16(buf, n), ref_csum(buf, n), "len %u", n);
	}
	cr_assert_eq(codec_csum16(buf, 0), 0xffff);
}

Test(csum, incremental_update_equals_recompute)
{
	uint8_t buf[64];
	unsigned i, k;

	srand(2);
	for (i = 0; i < 5000; i++) {
		uint16_t c, old16, new16;
		uint32_t old32, new32;

		for (k = 0; k < sizeof(buf); k++)
			buf[k] = rand();
		c = ref_csum(buf, sizeof(buf));
		k = 2 * (rand() % 28);
		old16 = buf[k] << 8 | buf[k + 1];
		new16 = (i % 5 == 0) ? (uint16_t)~old16 : rand();
		buf[k] = new16 >> 8;
		buf[k + 1] = new16 & 0xff;
		c = codec_csum_update16(c, old16, new16);
		/* equal as one's complement numbers: 0x0000 == 0xffff */
		cr_assert_eq(c % 0xffff, ref_csum(buf, sizeof(buf)) % 0xffff);
		memcpy(&old32, buf + 40, 4);
		new32 = rand();
		memcpy(buf + 40, &new32, 4);
		c = codec_csum_update32(c, old32, new32);
		cr_assert_eq(c % 0xffff, ref_csum(buf, sizeof(buf)) % 0xffff);
	}
}

Test(build, every_kind_has_valid_checksums_and_layout)
{
	uint8_t f[CODEC_FRAME_MAX];
	struct codec_probe_spec s;

	for (int proto = 0; proto < 2; proto++) {
		for (unsigned o = 0; o < NOPTS; o++) {
			int len;

			base_spec(&s, proto, all_opts[o]);
			len = codec_build(f, sizeof(f), &s);
			cr_assert_gt(len, 0);
			cr_assert_eq(len, codec_frame_len(&s));
			cr_assert(frame_csums_ok(f, len), "proto %d opt %d", proto, all_opts[o]);
			cr_assert_eq(f[12], 0x08);
			cr_assert_eq(f[14 + 8], 64);
			cr_assert_eq(f[14 + 9], proto == CODEC_PROTO_ICMP ? 1 : 17);
			cr_assert_eq(memcmp(f + 14 + 12, &s.saddr, 4), 0);
			cr_assert_eq(len, 14 + 20 +
						  (all_opts[o] == CODEC_OPT_NONE	 ? 0
						   : all_opts[o] == CODEC_OPT_TS_ADDR	 ? 36
						   : all_opts[o] == CODEC_OPT_TS_PRESPEC ? 20
											 : 40) +
						  8 + 40);
		}
	}
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	codec_build(f, sizeof(f), &s);
	/* NOP, RR len 39 ptr 4, as ping -R */
	cr_assert_eq(f[34], 1);
	cr_assert_eq(f[35], 7);
	cr_assert_eq(f[36], 39);
	cr_assert_eq(f[37], 4);
}

Test(build, rejects_bad_specs)
{
	uint8_t f[CODEC_FRAME_MAX];
	struct codec_probe_spec s;

	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_NONE);
	s.payload_len = CODEC_PAYLOAD_MIN - 1;
	cr_assert_eq(codec_build(f, sizeof(f), &s), -EINVAL);
	s.payload_len = CODEC_FRAME_MAX;
	cr_assert_eq(codec_build(f, sizeof(f), &s), -EINVAL);
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_TS_PRESPEC);
	s.ts_naddr = 0;
	cr_assert_eq(codec_build(f, sizeof(f), &s), -EINVAL);
	s.ts_naddr = 5;
	cr_assert_eq(codec_build(f, sizeof(f), &s), -EINVAL);
	s.ts_naddr = 4;
	cr_assert_eq(codec_build(f, sizeof(f), &s), 14 + 20 + 36 + 8 + 40);
	cr_assert_eq(codec_build(f, 50, &s), -ENOSPC);
	base_spec(&s, 7, CODEC_OPT_NONE);
	cr_assert_eq(codec_build(f, sizeof(f), &s), -EINVAL);
	/* the largest frame fits exactly */
	base_spec(&s, CODEC_PROTO_UDP, CODEC_OPT_RR);
	s.payload_len = CODEC_FRAME_MAX - 14 - 60 - 8;
	cr_assert_eq(codec_build(f, sizeof(f), &s), CODEC_FRAME_MAX);
	cr_assert(frame_csums_ok(f, CODEC_FRAME_MAX));
}

static void random_patch(struct codec_patch *p, enum codec_proto proto)
{
	p->daddr = htonl(0x0a000000u | (rand() & 0xffffff));
	p->ttl = rand() % 256;
	codec_patch_set_slot(p, proto, (uint32_t)rand() << 1 ^ rand());
	p->aux = rand();
}

Test(tmpl, write_equals_full_build)
{
	static struct codec_tmpl t;
	uint8_t a[CODEC_FRAME_MAX], b[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	struct codec_patch p;

	srand(3);
	for (int proto = 0; proto < 2; proto++) {
		for (unsigned o = 0; o < NOPTS; o++) {
			base_spec(&s, proto, all_opts[o]);
			s.payload_len = 18 + rand() % 100; /* odd lengths too */
			cr_assert_eq(codec_tmpl_init(&t, &s), 0);
			for (int i = 0; i < 500; i++) {
				int la, lb;

				random_patch(&p, proto);
				la = codec_tmpl_write(&t, a, &p);
				s.daddr = p.daddr;
				s.ttl = p.ttl;
				s.ip_id = p.ip_id;
				if (proto == CODEC_PROTO_ICMP)
					s.icmp_seq = p.icmp_seq;
				s.req = p.req;
				s.aux = p.aux;
				lb = codec_build(b, sizeof(b), &s);
				cr_assert_eq(la, lb);
				cr_assert(frame_csums_ok(a, la));
				/* byte-identical, except the value of an all-zero
				 * one's complement sum may come out as 0 or 0xffff */
				if (memcmp(a, b, la)) {
					size_t c = 14 + 20 + (hlen_of(a) - 20) +
						   (proto == CODEC_PROTO_ICMP ? 2 : 6);
					cr_assert_eq(memcmp(a, b, c), 0);
					cr_assert_eq(memcmp(a + c + 2, b + c + 2, la - c - 2), 0);
				}
			}
		}
	}
}

Test(tmpl, paris_keeps_l4_checksum_constant)
{
	static struct codec_tmpl t;
	uint8_t f[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	struct codec_patch p;

	srand(4);
	for (int proto = 0; proto < 2; proto++) {
		unsigned coff;
		uint16_t first = 0;

		base_spec(&s, proto, CODEC_OPT_NONE);
		s.paris = 1;
		cr_assert_eq(codec_tmpl_init(&t, &s), 0);
		coff = 14 + 20 + (proto == CODEC_PROTO_ICMP ? 2 : 6);
		for (int i = 0; i < 2000; i++) {
			uint16_t csum;

			random_patch(&p, proto);
			codec_tmpl_write(&t, f, &p);
			cr_assert(frame_csums_ok(f, t.len), "proto %d probe %d", proto, i);
			csum = f[coff] << 8 | f[coff + 1];
			if (i == 0)
				first = csum;
			cr_assert_eq(csum, first, "flow checksum changed");
			/* ports constant for UDP Paris */
			if (proto == CODEC_PROTO_UDP)
				cr_assert_eq(f[34] << 8 | f[35], 45000);
		}
	}
}

/* Build a probe, have the destination answer it, parse the answer. */
static int echo_roundtrip(const struct codec_probe_spec *s, uint32_t replier,
			  struct rtrace_reply *r)
{
	uint8_t probe[CODEC_FRAME_MAX], reply[CODEC_FRAME_MAX];
	int plen = codec_build(probe, sizeof(probe), s), rlen;

	cr_assert_gt(plen, 0);
	rlen = codec_mirror_echo(reply, sizeof(reply), probe, plen, replier, 0x00a0b0c0);
	cr_assert_eq(rlen, plen);
	cr_assert(frame_csums_ok(reply, rlen));
	return codec_parse_frame(reply, rlen, r);
}

Test(roundtrip, echo_reply_every_option)
{
	struct codec_probe_spec s;
	struct rtrace_reply r;
	struct rtrace_match m = {.addr = A("10.1.0.1"), .icmp_id = 0x1234};
	uint32_t slot;

	for (unsigned o = 0; o < NOPTS; o++) {
		base_spec(&s, CODEC_PROTO_ICMP, all_opts[o]);
		cr_assert_eq(echo_roundtrip(&s, s.daddr, &r), 1, "opt %d", all_opts[o]);
		cr_assert_eq(r.kind, RTRACE_REPLY_ECHO);
		cr_assert_eq(r.saddr, s.daddr);
		cr_assert_eq(r.daddr, s.saddr);
		cr_assert_eq(r.ttl, 64);
		cr_assert_eq(r.icmp_type, 0);
		cr_assert_eq(r.icmp_id, 0x1234);
		cr_assert_eq(r.icmp_seq, 7);
		cr_assert(r.flags & RTRACE_F_COOKIE);
		cr_assert_eq(r.cookie.magic, RTRACE_COOKIE_MAGIC);
		cr_assert_eq(r.cookie.spoofer, s.saddr);
		cr_assert_eq(r.cookie.req, s.req);
		cr_assert_eq(r.cookie.aux, s.aux);
		cr_assert_not(r.flags & (RTRACE_F_QUOTE | RTRACE_F_SPOOFED | RTRACE_F_OTHEROPT));
		cr_assert_eq(codec_reply_is_ours(&r, &m), 1);
		cr_assert_eq(codec_reply_slot(&r, &slot), 0);
		cr_assert_eq(slot, s.req);
		switch (all_opts[o]) {
		case CODEC_OPT_NONE:
			cr_assert_not(r.flags & (RTRACE_F_RR | RTRACE_F_TS));
			break;
		case CODEC_OPT_RR:
			cr_assert(r.flags & RTRACE_F_RR);
			cr_assert_eq(r.rr.len, 39);
			cr_assert_eq(r.rr.ptr, 8);
			cr_assert_eq(r.rr.count, 1);
			cr_assert_eq(r.rr.addr[0], s.daddr);
			cr_assert_eq(r.rr.addr[1], 0);
			break;
		case CODEC_OPT_TS_ONLY:
			cr_assert(r.flags & RTRACE_F_TS);
			cr_assert_eq(r.ts.flags, 0);
			cr_assert_eq(r.ts.slots, 9);
			cr_assert_eq(r.ts.count, 1);
			cr_assert_eq(r.ts.stamp[0], 0x00a0b0c0);
			break;
		case CODEC_OPT_TS_ADDR:
			cr_assert_eq(r.ts.flags, 1);
			cr_assert_eq(r.ts.slots, 4);
			cr_assert_eq(r.ts.count, 1);
			cr_assert_eq(r.ts.addr[0], s.daddr);
			cr_assert_eq(r.ts.stamp[0], 0x00a0b0c0);
			break;
		case CODEC_OPT_TS_PRESPEC:
			cr_assert_eq(r.ts.flags, 3);
			cr_assert_eq(r.ts.slots, 2);
			cr_assert_eq(r.ts.count, 1); /* the destination stamped itself */
			cr_assert_eq(r.ts.addr[0], s.daddr);
			cr_assert_eq(r.ts.addr[1], A("10.9.0.1")); /* still waiting */
			cr_assert_eq(r.ts.stamp[0], 0x00a0b0c0);
			cr_assert_eq(r.ts.stamp[1], 0);
			break;
		}
	}
}

Test(roundtrip, rr_fills_up_and_ts_overflows)
{
	uint8_t a[CODEC_FRAME_MAX], b[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	struct rtrace_reply r;
	int len;

	/* 10 hosts record into 9 slots: the last one finds RR full */
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	len = codec_build(a, sizeof(a), &s);
	for (int i = 0; i < 10; i++) {
		len = codec_mirror_echo(b, sizeof(b), a, len, htonl(0x0a000001 + i), i);
		cr_assert_gt(len, 0);
		memcpy(a, b, len);
		a[14 + hlen_of(a)] = 8; /* an echo request again for the next host */
	}
	cr_assert_eq(codec_parse_frame(b, len, &r), 1);
	cr_assert_eq(r.rr.count, 9);
	cr_assert_eq(r.rr.ptr, 40);
	for (int i = 0; i < 9; i++)
		cr_assert_eq(r.rr.addr[i], htonl(0x0a000001 + i));

	/* 7 hosts stamp 4 tsandaddr pairs: 3 overflows */
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_TS_ADDR);
	len = codec_build(a, sizeof(a), &s);
	for (int i = 0; i < 7; i++) {
		len = codec_mirror_echo(b, sizeof(b), a, len, htonl(0x0a000001 + i), 100 + i);
		memcpy(a, b, len);
		a[14 + hlen_of(a)] = 8;
	}
	cr_assert_eq(codec_parse_frame(b, len, &r), 1);
	cr_assert_eq(r.ts.count, 4);
	cr_assert_eq(r.ts.ptr, 37);
	cr_assert_eq(r.ts.overflow, 3);
	cr_assert_eq(r.ts.addr[3], htonl(0x0a000004));
	cr_assert_eq(r.ts.stamp[3], 103);
}

Test(roundtrip, time_exceeded_quotes_probe)
{
	uint8_t probe[CODEC_FRAME_MAX], err[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	struct rtrace_reply r;
	struct rtrace_match m = {.addr = A("10.1.0.1"), .icmp_id = 0x1234, .udp_sport = 45000};
	uint32_t router = A("10.5.0.1"), slot;

	for (int proto = 0; proto < 2; proto++) {
		for (unsigned o = 0; o < NOPTS; o++) {
			for (int ql = 8; ql <= 64; ql += 56) {
				for (int echo = 0; echo < 2; echo++) {
					int plen, elen;
					struct codec_patch p = {
						.daddr = A("10.9.0.7"), .ttl = 1, .aux = 99};
					static struct codec_tmpl t;

					base_spec(&s, proto, all_opts[o]);
					codec_tmpl_init(&t, &s);
					codec_patch_set_slot(&p, proto, 0x00050123);
					plen = codec_tmpl_write(&t, probe, &p);
					elen = codec_build_icmp_error(err, sizeof(err), probe, plen,
								      router, 11, 0, ql, echo);
					cr_assert_gt(elen, 0);
					cr_assert(frame_csums_ok(err, elen));
					cr_assert_eq(codec_parse_frame(err, elen, &r), 1);
					cr_assert_eq(r.kind, RTRACE_REPLY_TIME_EXCEEDED);
					cr_assert_eq(r.saddr, router);
					cr_assert_eq(r.daddr, s.saddr);
					cr_assert(r.flags & RTRACE_F_QUOTE);
					cr_assert_eq(r.q.saddr, s.saddr);
					cr_assert_eq(r.q.daddr, p.daddr);
					cr_assert_eq(r.q.ttl, 1);
					cr_assert_eq(r.q.ip_id, p.ip_id);
					cr_assert_eq(r.q.proto, proto ? 17 : 1);
					cr_assert_eq(r.q.ihl * 4, hlen_of(probe));
					cr_assert_eq(memcmp(r.q.l4, probe + 14 + hlen_of(probe), 8),
						     0);
					cr_assert_eq(codec_reply_is_ours(&r, &m), 1);
					if (ql == 64) {
						cr_assert(r.flags & RTRACE_F_COOKIE);
						cr_assert_eq(r.cookie.req, 0x00050123);
						cr_assert_eq(r.cookie.aux, 99);
					} else {
						cr_assert_not(r.flags & RTRACE_F_COOKIE);
					}
					if (proto == CODEC_PROTO_ICMP) {
						cr_assert_eq(r.icmp_id, 0x1234);
						cr_assert_eq(r.icmp_seq, 0x0123);
						cr_assert_eq(codec_reply_slot(&r, &slot), 0);
						cr_assert_eq(slot, 0x00050123);
					} else {
						cr_assert_eq(r.icmp_id, 45000);
						cr_assert_eq(r.icmp_seq, CODEC_UDP_DPORT);
						cr_assert_eq(codec_reply_slot(&r, &slot),
							     ql == 8 ? 1 : 0);
						cr_assert_eq(slot, ql == 8 ? 0x0123 : 0x00050123);
					}
					if (all_opts[o] == CODEC_OPT_RR) {
						cr_assert(r.flags & RTRACE_F_Q_RR);
						cr_assert_eq(!!(r.flags & RTRACE_F_RR), echo);
						/* outer RR (router recorded) or the empty quoted
						 * one */
						cr_assert_eq(r.rr.count, echo ? 1 : 0);
						if (echo)
							cr_assert_eq(r.rr.addr[0], router);
					}
					if (all_opts[o] >= CODEC_OPT_TS_ONLY) {
						cr_assert(r.flags & RTRACE_F_Q_TS);
						cr_assert_eq(!!(r.flags & RTRACE_F_TS), echo);
					}
				}
			}
		}
	}
}

Test(match, spoofed_and_foreign_replies)
{
	struct codec_probe_spec s;
	struct rtrace_reply r;
	struct rtrace_match m = {.addr = A("10.1.0.1"), .icmp_id = 0x1234};
	uint32_t slot;

	/* a VP spoofed our address; the reply comes to us */
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	s.icmp_id = RTRACE_SPOOF_ICMP_ID;
	s.spoofer = A("10.7.0.1");
	s.req = 4242;
	cr_assert_eq(echo_roundtrip(&s, s.daddr, &r), 1);
	cr_assert(r.flags & RTRACE_F_SPOOFED);
	cr_assert_eq(r.cookie.spoofer, A("10.7.0.1"));
	cr_assert_eq(codec_reply_is_ours(&r, &m), 0);
	m.accept_spoofed = 1;
	cr_assert_eq(codec_reply_is_ours(&r, &m), 1);
	cr_assert_eq(codec_reply_slot(&r, &slot), 0);
	cr_assert_eq(slot, 4242);
	/* addressed to someone else */
	m.addr = A("10.1.0.2");
	cr_assert_eq(codec_reply_is_ours(&r, &m), 0);
	m.addr = 0;
	cr_assert_eq(codec_reply_is_ours(&r, &m), 1);
	/* another instance's echo */
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_NONE);
	s.icmp_id = 0x4321;
	cr_assert_eq(echo_roundtrip(&s, s.daddr, &r), 1);
	cr_assert_eq(codec_reply_is_ours(&r, &m), 0);
	/* the spoof id without the cookie magic is not a spoofed reply */
	base_spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_NONE);
	s.icmp_id = RTRACE_SPOOF_ICMP_ID;
	{
		uint8_t probe[CODEC_FRAME_MAX], reply[CODEC_FRAME_MAX];
		int len = codec_build(probe, sizeof(probe), &s);

		probe[14 + 20 + 8] ^= 0xff; /* break the magic */
		len = codec_mirror_echo(reply, sizeof(reply), probe, len, s.daddr, 0);
		cr_assert_eq(codec_parse_frame(reply, len, &r), 1);
		cr_assert_not(r.flags & (RTRACE_F_SPOOFED | RTRACE_F_COOKIE));
		cr_assert_eq(codec_reply_is_ours(&r, &m), 0);
		cr_assert_eq(codec_reply_slot(&r, &slot), 1);
	}
}
