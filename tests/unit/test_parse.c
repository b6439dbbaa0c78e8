// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_parse.c - the parser's rejections: a table of malformed frames (the
 * length and pointer classes behind tcpdump CVE-2017-13022 / -13037 and
 * friends), each of which must come back -EBADMSG with an all-zero record;
 * frames that are not replies (0); RFC 4884 extensions; and random
 * corruption of valid frames checking the invariants of whatever parses.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/codec.h"

#define A(s) inet_addr(s)

enum base {
	B_ECHO_NONE,   /* echo reply, no option (hlen 20) */
	B_ECHO_RR,     /* echo reply, NOP + RR (hlen 60, RR at ip+21) */
	B_ECHO_TSADDR, /* echo reply, TS tsandaddr (hlen 56, TS at ip+20) */
	B_TE_NONE,     /* time exceeded quoting an optionless ICMP probe, 8 bytes */
	B_TE_RR,       /* time exceeded quoting an RR probe, 64 bytes (quote at 42) */
	B_MAX,
};

static int make_base(enum base b, uint8_t *f)
{
	static const enum codec_opt opt[B_MAX] = {CODEC_OPT_NONE, CODEC_OPT_RR, CODEC_OPT_TS_ADDR,
						  CODEC_OPT_NONE, CODEC_OPT_RR};
	struct codec_probe_spec s = {
		.src_mac = {2, 0, 0, 0, 0, 1},
		.dst_mac = {2, 0, 0, 0, 0, 2},
		.saddr = A("10.1.0.1"),
		.daddr = A("10.9.0.7"),
		.ttl = 9,
		.opt = opt[b],
		.payload_len = 40,
		.icmp_id = 0x1234,
		.icmp_seq = 3,
		.ip_id = 1,
		.spoofer = A("10.1.0.1"),
		.req = 3,
		.aux = 5,
	};
	uint8_t probe[CODEC_FRAME_MAX];
	int len = codec_build(probe, sizeof(probe), &s);

	if (b <= B_ECHO_TSADDR)
		return codec_mirror_echo(f, CODEC_FRAME_MAX, probe, len, s.daddr, 77);
	return codec_build_icmp_error(f, CODEC_FRAME_MAX, probe, len, A("10.5.0.1"), 11, 0,
				      b == B_TE_NONE ? 8 : 64, 0);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Recompute the outer IP header checksum after a mutation (if it can). */
static void fix_ip(uint8_t *f, int len)
{
	unsigned hlen = (f[14] & 0xf) * 4;

	if (hlen < 20 || 14 + (int)hlen > len)
		return;
	put16(f + 24, 0);
	put16(f + 24, codec_csum16(f + 14, hlen));
}

#define IP 14 /* outer IPv4 header */
#define Q 42  /* quoted IPv4 header in B_TE_* (outer hlen 20) */

/*
 * The mutations and the table stay one line each: a table reads better than
 * 45 four-line functions.
 */
/* clang-format off */
#define MUT(name) static void name(__attribute__((unused)) uint8_t *f, \
				   __attribute__((unused)) int *len)

struct bad {
	const char *name;
	enum base base;
	int expect;		/* -EBADMSG, 0 (not a reply) or 1 */
	int nofix;		/* 1: do not repair the IP checksum */
	void (*mut)(uint8_t *f, int *len);
};

MUT(ihl4) { f[IP] = 0x44; }
MUT(ihl_past_frame) { f[IP] = 0x4f; put16(f + IP + 2, 56); *len = IP + 56; }
MUT(version6) { f[IP] = 0x65; }
MUT(totlen_past_frame) { put16(f + IP + 2, *len - IP + 1); }
MUT(totlen_below_ihl) { put16(f + IP + 2, 19); }
MUT(bad_ip_csum) { f[IP + 10] ^= 0x40; }
MUT(short_frame) { *len = IP + 19; }
MUT(rr_len1) { f[IP + 22] = 1; }
MUT(other_len0) { f[IP + 20] = 0x94; f[IP + 21] = 0; }
MUT(rr_len_past_ihl) { f[IP + 22] = 40; }
MUT(opt_len_byte_missing) { f[IP + 22] = 38; f[IP + 59] = 0x44; }
MUT(rr_ptr3) { f[IP + 23] = 3; }
MUT(rr_ptr_misaligned) { f[IP + 23] = 9; }
MUT(rr_ptr_past_len) { f[IP + 23] = 44; }
/* CVE-2017-13022 class: a short RR whose pointer claims slots it has not */
MUT(rr_short_ptr_beyond) { f[IP + 22] = 5; f[IP + 23] = 8; f[IP + 26] = 1; f[IP + 27] = 0; }
MUT(rr_len2) { f[IP + 22] = 2; f[IP + 23] = 1; }
static void dup_rr(uint8_t *f, int *len)
{
	(void)len;
	f[IP + 22] = 19; /* RR at 21..39 */
	f[IP + 23] = 4;
	f[IP + 40] = 7;	 /* RR again at 40..59 */
	f[IP + 41] = 20;
	f[IP + 42] = 4;
}
static void dup_ts(uint8_t *f, int *len)
{
	(void)len;
	f[IP + 21] = 16; /* TS at 20..35, ptr 5, tsandaddr */
	f[IP + 22] = 5;
	f[IP + 36] = 68;  /* TS again at 36..55 */
	f[IP + 37] = 20;
	f[IP + 38] = 5;
	f[IP + 39] = 1;
}
MUT(ts_ptr4) { f[IP + 22] = 4; }
MUT(ts_ptr_past_len) { f[IP + 22] = 45; }
MUT(ts_ptr_misaligned) { f[IP + 22] = 17; }
MUT(ts_flag2) { f[IP + 23] = 2; }
MUT(ts_len3) { f[IP + 21] = 3; f[IP + 22] = 4; }
/* CVE-2017-13037 class: a short tsandaddr whose pointer runs past it */
MUT(ts_short_ptr_beyond) { f[IP + 21] = 8; f[IP + 22] = 13; f[IP + 28] = 1; f[IP + 29] = 0; }
MUT(icmp_truncated) { put16(f + IP + 2, 20 + 4); }
MUT(quote_truncated) { put16(f + IP + 2, 20 + 8 + 10); }
MUT(quote_ihl4) { f[Q] = 0x44; }
MUT(quote_version6) { f[Q] = 0x65; }
MUT(quote_ihl_past_quote) { f[Q] = 0x4f; }
MUT(quote_l4_short) { put16(f + IP + 2, *len - IP - 1); }
MUT(quote_rr_ptr_bad) { f[Q + 23] = 3; }
MUT(quote_rr_len_past_ihl) { f[Q + 22] = 41; }
MUT(quote_opt_len0) { f[Q + 20] = 0x83; f[Q + 21] = 0; }
/* not replies */
MUT(arp) { put16(f + 12, 0x0806); }
MUT(tcp) { f[IP + 9] = 6; }
MUT(echo_request) { f[IP + 20] = 8; }
MUT(redirect) { f[IP + 20] = 5; }
MUT(later_fragment) { put16(f + IP + 6, 0x0010); }
MUT(tiny) { *len = 10; }
/* valid oddities */
MUT(first_fragment) { put16(f + IP + 6, 0x2000); }
MUT(trailing_padding) { memset(f + *len, 0, 6); *len += 6; }
MUT(router_alert)
{	/* router alert (4 bytes) at 21, then RR len 30 at 25 */
	f[IP + 21] = 0x94; f[IP + 22] = 4; f[IP + 23] = 0; f[IP + 24] = 0;
	f[IP + 25] = 7; f[IP + 26] = 30; f[IP + 27] = 4;
}
MUT(rr_full) { f[IP + 23] = 40; }
MUT(rr_empty_len3) { f[IP + 22] = 3; f[IP + 23] = 4; }
MUT(ts_full_overflow) { f[IP + 22] = 37; f[IP + 23] = 0xf1; }

static const struct bad table[] = {
	{"IHL < 5", B_ECHO_NONE, -EBADMSG, 0, ihl4},
	{"IHL past the frame", B_ECHO_NONE, -EBADMSG, 1, ihl_past_frame},
	{"IP version 6 in an IPv4 frame", B_ECHO_NONE, -EBADMSG, 0, version6},
	{"total length past the frame", B_ECHO_NONE, -EBADMSG, 0, totlen_past_frame},
	{"total length below IHL", B_ECHO_NONE, -EBADMSG, 0, totlen_below_ihl},
	{"bad IP header checksum", B_ECHO_RR, -EBADMSG, 1, bad_ip_csum},
	{"frame shorter than an IPv4 header", B_ECHO_NONE, -EBADMSG, 1, short_frame},
	{"RR length 1", B_ECHO_RR, -EBADMSG, 0, rr_len1},
	{"unknown option with length 0", B_ECHO_RR, -EBADMSG, 0, other_len0},
	{"RR length past IHL", B_ECHO_RR, -EBADMSG, 0, rr_len_past_ihl},
	{"option length byte past IHL", B_ECHO_RR, -EBADMSG, 0, opt_len_byte_missing},
	{"RR pointer 3", B_ECHO_RR, -EBADMSG, 0, rr_ptr3},
	{"RR pointer misaligned", B_ECHO_RR, -EBADMSG, 0, rr_ptr_misaligned},
	{"RR pointer past length", B_ECHO_RR, -EBADMSG, 0, rr_ptr_past_len},
	{"RR short, pointer beyond (CVE-2017-13022)", B_ECHO_RR, -EBADMSG, 0, rr_short_ptr_beyond},
	{"RR length 2 (no pointer)", B_ECHO_RR, -EBADMSG, 0, rr_len2},
	{"duplicate RR", B_ECHO_RR, -EBADMSG, 0, dup_rr},
	{"duplicate TS", B_ECHO_TSADDR, -EBADMSG, 0, dup_ts},
	{"TS pointer 4", B_ECHO_TSADDR, -EBADMSG, 0, ts_ptr4},
	{"TS pointer past length", B_ECHO_TSADDR, -EBADMSG, 0, ts_ptr_past_len},
	{"TS pointer misaligned", B_ECHO_TSADDR, -EBADMSG, 0, ts_ptr_misaligned},
	{"TS unknown flag 2", B_ECHO_TSADDR, -EBADMSG, 0, ts_flag2},
	{"TS length 3", B_ECHO_TSADDR, -EBADMSG, 0, ts_len3},
	{"TS short, pointer beyond (CVE-2017-13037)", B_ECHO_TSADDR, -EBADMSG, 0, ts_short_ptr_beyond},
	{"ICMP header truncated", B_ECHO_NONE, -EBADMSG, 0, icmp_truncated},
	{"quoted header truncated", B_TE_RR, -EBADMSG, 0, quote_truncated},
	{"quoted IHL < 5", B_TE_RR, -EBADMSG, 0, quote_ihl4},
	{"quoted version 6", B_TE_RR, -EBADMSG, 0, quote_version6},
	{"quoted IHL past the quote", B_TE_NONE, -EBADMSG, 0, quote_ihl_past_quote},
	{"quoted L4 shorter than 8 bytes", B_TE_NONE, -EBADMSG, 0, quote_l4_short},
	{"quoted RR pointer 3", B_TE_RR, -EBADMSG, 0, quote_rr_ptr_bad},
	{"quoted RR length past quoted IHL", B_TE_RR, -EBADMSG, 0, quote_rr_len_past_ihl},
	{"quoted option length 0", B_TE_RR, -EBADMSG, 0, quote_opt_len0},
	{"ARP", B_ECHO_NONE, 0, 0, arp},
	{"TCP", B_ECHO_NONE, 0, 0, tcp},
	{"echo request", B_ECHO_NONE, 0, 0, echo_request},
	{"ICMP redirect", B_ECHO_NONE, 0, 0, redirect},
	{"non-first fragment", B_ECHO_NONE, 0, 0, later_fragment},
	{"runt frame", B_ECHO_NONE, 0, 1, tiny},
	{"first fragment (MF)", B_ECHO_NONE, 1, 0, first_fragment},
	{"Ethernet padding after the packet", B_ECHO_NONE, 1, 0, trailing_padding},
	{"router alert + shorter RR", B_ECHO_RR, 1, 0, router_alert},
	{"RR full", B_ECHO_RR, 1, 0, rr_full},
	{"RR with no slots", B_ECHO_RR, 1, 0, rr_empty_len3},
	{"TS full with overflow 15", B_ECHO_TSADDR, 1, 0, ts_full_overflow},
};
/* clang-format on */

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

Test(parse, malformed_table)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		uint8_t f[CODEC_FRAME_MAX + 16] = {0};
		struct rtrace_reply r;
		int len = make_base(table[i].base, f), rc;

		cr_assert_gt(len, 0);
		memset(&r, 0xaa, sizeof(r));
		cr_assert_eq(codec_parse_frame(f, len, &r), 1, "base of %s", table[i].name);
		table[i].mut(f, &len);
		if (!table[i].nofix)
			fix_ip(f, len);
		memset(&r, 0xaa, sizeof(r));
		rc = codec_parse_frame(f, len, &r);
		cr_expect_eq(rc, table[i].expect, "%s: got %d, want %d", table[i].name, rc,
			     table[i].expect);
		if (table[i].expect != 1)
			cr_expect(all_zero(&r, sizeof(r)), "%s: record not zeroed", table[i].name);
	}
}

Test(parse, valid_oddities_decode)
{
	uint8_t f[CODEC_FRAME_MAX];
	struct rtrace_reply r;
	int len = make_base(B_ECHO_RR, f);

	router_alert(f, &len);
	fix_ip(f, len);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	cr_assert(r.flags & RTRACE_F_OTHEROPT);
	cr_assert(r.flags & RTRACE_F_RR);
	cr_assert_eq(r.rr.len, 30);
	cr_assert_eq(r.rr.count, 0);

	len = make_base(B_ECHO_TSADDR, f);
	ts_full_overflow(f, &len);
	fix_ip(f, len);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	cr_assert_eq(r.ts.count, 4);
	cr_assert_eq(r.ts.overflow, 15);
}

/* Append RFC 4884 extensions to a time exceeded quoting 64 bytes. */
static int add_extension(uint8_t *f, int len, unsigned words)
{
	uint8_t *icmp = f + IP + 20;
	int qlen = len - IP - 28, tot;

	memset(f + len, 0, 128 - qlen); /* original datagram padded to 128 */
	len += 128 - qlen;
	icmp[5] = words;
	/* extension header (version 2) + one MPLS object with one entry */
	f[len] = 0x20;
	f[len + 4] = 0;
	f[len + 5] = 8;
	f[len + 6] = 1;
	f[len + 7] = 1;
	f[len + 8] = 0x12;
	len += 12;
	tot = len - IP;
	put16(f + IP + 2, tot);
	fix_ip(f, len);
	put16(icmp + 2, 0);
	put16(icmp + 2, codec_csum16(icmp, tot - 20));
	return len;
}

Test(parse, rfc4884_extensions_tolerated)
{
	uint8_t f[CODEC_FRAME_MAX];
	struct rtrace_reply r;
	int len = make_base(B_TE_RR, f);

	len = add_extension(f, len, 32);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	cr_assert(r.flags & RTRACE_F_EXT);
	cr_assert(r.flags & RTRACE_F_COOKIE);
	cr_assert(r.flags & RTRACE_F_Q_RR);
	cr_assert_eq(r.icmp_seq, 3);
	cr_assert_eq(r.cookie.req, 3);

	/* a length too large for the packet: a pre-4884 sender's garbage */
	len = make_base(B_TE_RR, f);
	len = add_extension(f, len, 200);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	cr_assert_not(r.flags & RTRACE_F_EXT);
	cr_assert(r.flags & RTRACE_F_COOKIE);

	/* a length that cuts the quoted header: malformed */
	len = make_base(B_TE_RR, f);
	len = add_extension(f, len, 4);
	cr_assert_eq(codec_parse_frame(f, len, &r), -EBADMSG);
	/* a length that cuts the cookie off: still a reply, no cookie */
	len = make_base(B_TE_RR, f);
	len = add_extension(f, len, 18);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	cr_assert_not(r.flags & RTRACE_F_COOKIE);
}

/* Whatever survives random corruption must be self-consistent. */
Test(parse, random_corruption_invariants)
{
	srand(5);
	for (int i = 0; i < 200000; i++) {
		uint8_t f[CODEC_FRAME_MAX];
		struct rtrace_reply r;
		int len = make_base(rand() % B_MAX, f), rc, n = 1 + rand() % 4;

		for (int k = 0; k < n; k++) {
			int at = IP + rand() % (len - IP);

			f[at] = (rand() & 1) ? rand() : f[at] + (rand() % 5) - 2;
		}
		if (rand() % 4)
			fix_ip(f, len);
		if (rand() % 8 == 0)
			len = IP + rand() % (len - IP);
		memset(&r, 0xaa, sizeof(r));
		rc = codec_parse_frame(f, len, &r);
		if (rc != 1) {
			cr_assert(rc == 0 || rc == -EBADMSG);
			cr_assert(all_zero(&r, sizeof(r)));
			continue;
		}
		cr_assert(r.kind >= RTRACE_REPLY_ECHO && r.kind <= RTRACE_REPLY_PARAM_PROB);
		cr_assert_leq(r.rr.count, RTRACE_RR_SLOTS);
		cr_assert_leq(r.ts.count, r.ts.slots);
		cr_assert_leq(r.ts.slots, RTRACE_TS_STAMPS);
		cr_assert_leq(r.tot_len + IP, len);
		if (r.flags & RTRACE_F_RR)
			cr_assert_leq(r.rr.ptr, r.rr.len + 1);
		if (r.flags & RTRACE_F_QUOTE)
			cr_assert_geq(r.q.ihl, 5);
		if (r.flags & RTRACE_F_COOKIE)
			cr_assert_eq(r.cookie.magic, RTRACE_COOKIE_MAGIC);
	}
}
