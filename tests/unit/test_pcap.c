// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_pcap.c - codec frames checked by an independent decoder: the test
 * writes probes and Linux-like replies (RR, TS tsonly/tsandaddr/prespec,
 * time exceeded quoting an RR probe, UDP and Paris template probes) to a
 * pcap file, runs `tcpdump -vvv -n -r FILE`, and asserts on its text: the
 * option contents tcpdump prints must be the ones codec_parse_frame()
 * decoded, and tcpdump must find every checksum right.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/codec.h"

#define A(s) inet_addr(s)
#define NMAX 32

struct pkt {
	uint8_t f[CODEC_FRAME_MAX];
	int len;
	char want[8][512]; /* substrings tcpdump must print for this packet */
	int nwant;
};

static struct pkt pkts[NMAX];
static int npkt;

static struct pkt *add(const uint8_t *f, int len)
{
	struct pkt *p = &pkts[npkt++];

	cr_assert_leq(npkt, NMAX);
	cr_assert_gt(len, 0);
	memcpy(p->f, f, len);
	p->len = len;
	p->nwant = 0;
	return p;
}

static void want(struct pkt *p, const char *s)
{
	snprintf(p->want[p->nwant++], sizeof(p->want[0]), "%s", s);
}

static const char *ip(uint32_t a)
{
	static char buf[8][INET_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 8;
	return inet_ntop(AF_INET, &a, buf[i], sizeof(buf[i]));
}

/* What tcpdump prints for the RR option we parsed: "RR a, b, c, 0.0.0.0 ..." */
static void rr_text(char *out, size_t n, const struct rtrace_rr *rr)
{
	int k = snprintf(out, n, "RR");

	for (int i = 0; i < (rr->len - 3) / 4; i++)
		k += snprintf(out + k, n - k, " %s%s", ip(i < rr->count ? rr->addr[i] : 0),
			      i < rr->count ? "," : "");
}

/* ... and for the TS option: "TS{TS+ADDR 5@10.0.0.1 ^ 0@0.0.0.0}" */
static void ts_text(char *out, size_t n, const struct rtrace_ts *ts)
{
	static const char *name[4] = {"TSONLY", "TS+ADDR", "?", "PRESPEC"};
	int k = snprintf(out, n, "TS{%s", name[ts->flags & 3]);

	for (int i = 0; i < ts->slots; i++) {
		uint32_t stamp = i < ts->count ? ts->stamp[i] : 0;

		if (i == ts->count)
			k += snprintf(out + k, n - k, " ^");
		if (ts->flags == 0)
			k += snprintf(out + k, n - k, " %u@", stamp);
		else
			k += snprintf(out + k, n - k, " %u@%s", stamp, ip(ts->addr[i]));
	}
	snprintf(out + k, n - k, "}");
}

static void spec(struct codec_probe_spec *s, enum codec_proto p, enum codec_opt o)
{
	memset(s, 0, sizeof(*s));
	s->src_mac[5] = 1;
	s->dst_mac[5] = 2;
	s->saddr = A("10.1.0.1");
	s->daddr = A("10.9.0.7");
	s->ttl = 64;
	s->proto = p;
	s->opt = o;
	s->payload_len = 40;
	s->icmp_id = 4660;
	s->icmp_seq = 7;
	s->ip_id = 119;
	s->sport = 45000;
	s->dport = CODEC_UDP_DPORT;
	s->req = 7;
	if (o == CODEC_OPT_TS_PRESPEC) {
		s->ts_addr[0] = A("10.9.0.7");
		s->ts_addr[1] = A("10.9.0.1");
		s->ts_naddr = 2;
	}
}

/* An echo reply after @hops hosts have recorded/stamped: 10.0.0.1, .2, ... */
static int reply_after(uint8_t *out, const struct codec_probe_spec *s, int hops)
{
	uint8_t a[CODEC_FRAME_MAX];
	int len = codec_build(a, sizeof(a), s);

	for (int i = 0; i < hops; i++) {
		len = codec_mirror_echo(out, CODEC_FRAME_MAX, a, len, htonl(0x0a000001 + i),
					1000 * (i + 1));
		memcpy(a, out, len);
		a[14 + (a[14] & 0xf) * 4] = 8; /* a request again for the next host */
	}
	return len;
}

static void add_option_reply(enum codec_opt o, int hops)
{
	uint8_t f[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	struct rtrace_reply r;
	struct pkt *p;
	char t[512];
	int len;

	spec(&s, CODEC_PROTO_ICMP, o);
	s.ts_addr[0] = htonl(0x0a000001); /* prespec: the first host stamps */
	len = reply_after(f, &s, hops);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	p = add(f, len);
	want(p, "ICMP echo reply, id 4660, seq 7, length 48");
	if (o == CODEC_OPT_RR) {
		cr_assert_eq(r.rr.count, hops);
		rr_text(t, sizeof(t), &r.rr);
		want(p, t);
	} else {
		cr_assert(r.flags & RTRACE_F_TS);
		ts_text(t, sizeof(t), &r.ts);
		want(p, t);
	}
}

static void build_all(void)
{
	uint8_t probe[CODEC_FRAME_MAX], f[CODEC_FRAME_MAX];
	static struct codec_tmpl t;
	struct codec_probe_spec s;
	struct rtrace_reply r;
	struct pkt *p;
	char buf[512];
	int len, pl;

	npkt = 0;
	/* the probes themselves */
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	p = add(probe, codec_build(probe, sizeof(probe), &s));
	want(p, "options (NOP,RR 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0 "
		"0.0.0.0)");
	want(p, "10.1.0.1 > 10.9.0.7: ICMP echo request, id 4660, seq 7, length 48");
	want(p, "ttl 64, id 119");
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_TS_PRESPEC);
	p = add(probe, codec_build(probe, sizeof(probe), &s));
	want(p, "TS{PRESPEC ^ 0@10.9.0.7 0@10.9.0.1}");

	/* replies: RR and every TS flavour, decoded by us and by tcpdump */
	add_option_reply(CODEC_OPT_RR, 3);
	add_option_reply(CODEC_OPT_RR, 1);
	add_option_reply(CODEC_OPT_TS_ONLY, 2);
	add_option_reply(CODEC_OPT_TS_ADDR, 2);
	add_option_reply(CODEC_OPT_TS_PRESPEC, 1);
	/* the prespec stamp must sit with the prespecified address */
	want(&pkts[npkt - 1], "TS{PRESPEC 1000@10.0.0.1 ^ 0@10.9.0.1}");

	/* time exceeded quoting an RR probe, outer RR echoed by the router */
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	s.icmp_seq = 291;
	s.ttl = 1;
	pl = codec_build(probe, sizeof(probe), &s);
	len = codec_build_icmp_error(f, sizeof(f), probe, pl, A("10.5.0.1"), 11, 0, 64, 1);
	cr_assert_eq(codec_parse_frame(f, len, &r), 1);
	cr_assert(r.flags & RTRACE_F_Q_RR);
	p = add(f, len);
	want(p, "10.5.0.1 > 10.1.0.1: ICMP time exceeded in-transit");
	rr_text(buf, sizeof(buf), &r.rr);
	want(p, buf);
	want(p, "ttl 1, id 119, offset 0, flags [none], proto ICMP (1), length 108, options "
		"(NOP,RR 0.0.0.0");
	snprintf(buf, sizeof(buf), "ICMP echo request, id %u, seq %u", r.icmp_id, r.icmp_seq);
	want(p, buf);

	/* UDP and Paris UDP / ICMP probes from a template */
	spec(&s, CODEC_PROTO_UDP, CODEC_OPT_NONE);
	p = add(probe, codec_build(probe, sizeof(probe), &s));
	want(p, "10.1.0.1.45000 > 10.9.0.7.33435: [udp sum ok] UDP, length 40");
	for (int proto = 0; proto < 2; proto++) {
		spec(&s, proto, proto ? CODEC_OPT_NONE : CODEC_OPT_RR);
		s.paris = 1;
		cr_assert_eq(codec_tmpl_init(&t, &s), 0);
		for (int i = 0; i < 3; i++) {
			struct codec_patch pa = {
				.daddr = htonl(0x0a090000 + 7 + i), .ttl = 1 + i, .aux = 12345 * i};

			codec_patch_set_slot(&pa, proto, 0x10000 * i + 5 + i);
			len = codec_tmpl_write(&t, f, &pa);
			p = add(f, len);
			snprintf(buf, sizeof(buf), "ttl %d, id %u", 1 + i, pa.ip_id);
			want(p, buf);
			if (proto)
				snprintf(buf, sizeof(buf),
					 "10.1.0.1.45000 > %s.33435: [udp sum ok]", ip(pa.daddr));
			else
				snprintf(buf, sizeof(buf),
					 "> %s: ICMP echo request, id 4660, seq %u", ip(pa.daddr),
					 pa.icmp_seq);
			want(p, buf);
		}
	}
}

static void write_pcap(const char *path)
{
	FILE *fp = fopen(path, "w");
	const uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 /* Ethernet */};

	cr_assert_not_null(fp);
	fwrite(gh, 4, 6, fp);
	for (int i = 0; i < npkt; i++) {
		uint32_t rh[4] = {1700000000u, i, pkts[i].len, pkts[i].len};

		fwrite(rh, 4, 4, fp);
		fwrite(pkts[i].f, 1, pkts[i].len, fp);
	}
	cr_assert_eq(fclose(fp), 0);
}

Test(pcap, tcpdump_decodes_what_we_built)
{
	char dir[] = "/tmp/rtrace-pcap.XXXXXX", path[64], cmd[160], line[4096];
	static char text[NMAX][16384];
	int cur = -1;
	FILE *out;

	build_all();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/codec.pcap", dir);
	write_pcap(path);
	snprintf(cmd, sizeof(cmd), "tcpdump -vvv -n -r %s 2>/dev/null", path);
	out = popen(cmd, "r");
	cr_assert_not_null(out);
	memset(text, 0, sizeof(text));
	/* a packet starts with its timestamp at column 0; continuation lines are indented */
	while (fgets(line, sizeof(line), out)) {
		if (line[0] >= '0' && line[0] <= '9')
			cur++;
		cr_assert_lt(cur, NMAX);
		if (cur >= 0)
			strncat(text[cur], line, sizeof(text[0]) - strlen(text[cur]) - 1);
	}
	cr_assert_eq(pclose(out), 0, "tcpdump failed (is it installed? tools/install-deps)");
	unlink(path);
	rmdir(dir);
	cr_assert_eq(cur + 1, npkt, "tcpdump printed %d packets, wrote %d", cur + 1, npkt);
	for (int i = 0; i < npkt; i++) {
		cr_expect_null(strstr(text[i], "bad "), "packet %d: %s", i, text[i]);
		cr_expect_null(strstr(text[i], "wrong"), "packet %d: %s", i, text[i]);
		cr_expect_null(strstr(text[i], "[|"), "packet %d truncated: %s", i, text[i]);
		for (int k = 0; k < pkts[i].nwant; k++)
			cr_expect_not_null(strstr(text[i], pkts[i].want[k]),
					   "packet %d: tcpdump did not print\n  %s\nbut\n%s", i,
					   pkts[i].want[k], text[i]);
	}
}
