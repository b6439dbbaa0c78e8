// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_output.c - the printers: exact scamper-style JSON for ping -R, ping
 * -T tsprespec, a lossy ping, icmp-paris and udp-paris traces and listen
 * records (compared byte for byte with what scamper 20211212 prints, our
 * additions aside); every JSON line is also run through python3's json
 * parser; ping statistics; traceroute-like text.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/output.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* Run a printer into a string. */
#define CAPTURE(buf, call)                                                                         \
	do {                                                                                       \
		size_t _len;                                                                       \
		FILE *f = open_memstream(&(buf), &_len);                                           \
		cr_assert_not_null(f);                                                             \
		cr_assert_eq((call), 0);                                                           \
		fclose(f);                                                                         \
	} while (0)

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The line must be valid JSON (python3 is part of the test dependencies). */
static void assert_json(const char *s)
{
	char path[] = "/tmp/rtrace-test-json.XXXXXX";
	char cmd[128];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs(s, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' %s", path);
	cr_expect_eq(system(cmd), 0, "not valid JSON: %s", s);
	unlink(path);
}

static struct probe_ping_reply rr_reply(uint16_t seq, uint64_t rtt_us)
{
	struct probe_ping_reply r = {0};

	r.from = ip("10.0.2.2");
	r.seq = seq;
	r.reply_size = 124;
	r.reply_ttl = 63;
	r.tx = (struct timeval){1796313092 + seq, 2591};
	r.rtt_ns = rtt_us * 1000;
	r.rx = (struct timeval){1796313092 + seq, 2591 + rtt_us};
	r.probe_ipid = 40507;
	r.reply_ipid = 38687;
	r.flags = RTRACE_F_RR;
	r.rr.count = 5;
	r.rr.addr[0] = ip("10.0.2.1");
	r.rr.addr[1] = ip("10.0.2.2");
	r.rr.addr[2] = ip("10.0.2.2");
	r.rr.addr[3] = ip("10.0.1.1");
	r.rr.addr[4] = ip("10.0.1.2");
	return r;
}

Test(output, ping_rr_json_matches_scamper)
{
	struct probe_ping_reply rep[2] = {rr_reply(0, 52), rr_reply(1, 69)};
	struct probe_ping_result p = {0};
	char *out = NULL;

	p.src = ip("10.0.1.2");
	p.dst = ip("10.0.2.2");
	p.start = (struct timeval){1796313092, 2486};
	p.ping_sent = 2;
	p.count = 2;
	p.probe_size = 124;
	p.ttl = 64;
	p.opt = PROBE_OPT_RR;
	p.wait_ms = 1000;
	p.interval_ms = 1000;
	p.nreplies = 2;
	p.replies = rep;
	CAPTURE(out, output_ping_json(f, &p));
	/* scamper's line minus "userid" and the "icmp_id/seq" later versions add */
	cr_assert_str_eq(
		out,
		"{\"type\":\"ping\", \"version\":\"0.4\", \"method\":\"icmp-echo\", "
		"\"src\":\"10.0.1.2\", "
		"\"dst\":\"10.0.2.2\", \"start\":{\"sec\":1796313092,\"usec\":2486}, "
		"\"ping_sent\":2, "
		"\"probe_size\":124, \"ttl\":64, \"wait\":1, \"timeout\":1, \"flags\":[\"v4rr\"], "
		"\"responses\":[{\"from\":\"10.0.2.2\", \"seq\":0, \"reply_size\":124, "
		"\"reply_ttl\":63, \"reply_proto\":\"icmp\", \"tx\":{\"sec\":1796313092, "
		"\"usec\":2591}, \"rx\":{\"sec\":1796313092, \"usec\":2643}, \"rtt\":0.052, "
		"\"probe_ipid\":40507, \"reply_ipid\":38687, \"icmp_type\":0, \"icmp_code\":0, "
		"\"RR\":[\"10.0.2.1\",\"10.0.2.2\",\"10.0.2.2\",\"10.0.1.1\",\"10.0.1.2\"]},"
		"{\"from\":\"10.0.2.2\", \"seq\":1, \"reply_size\":124, \"reply_ttl\":63, "
		"\"reply_proto\":\"icmp\", \"tx\":{\"sec\":1796313093, \"usec\":2591}, "
		"\"rx\":{\"sec\":1796313093, \"usec\":2660}, \"rtt\":0.069, \"probe_ipid\":40507, "
		"\"reply_ipid\":38687, \"icmp_type\":0, \"icmp_code\":0, "
		"\"RR\":[\"10.0.2.1\",\"10.0.2.2\",\"10.0.2.2\",\"10.0.1.1\",\"10.0.1.2\"]}],"
		"\"statistics\":{\"replies\":2, \"loss\":0, \"min\":0.052, \"max\":0.069, "
		"\"avg\":0.061, \"stddev\":0.009}}\n");
	assert_json(out);
	free(out);
}

Test(output, ping_tsprespec_and_loss)
{
	struct probe_ping_reply r = {0};
	struct probe_ping_result p = {0};
	char *out = NULL;

	r.from = ip("10.0.2.2");
	r.reply_size = 124;
	r.reply_ttl = 63;
	r.rtt_ns = 58000;
	r.flags = RTRACE_F_TS;
	r.ts.flags = 3;
	r.ts.count = 1; /* only the first prespecified address stamped */
	r.ts.addr[0] = ip("10.0.2.2");
	r.ts.addr[1] = ip("10.0.9.9");
	r.ts.stamp[0] = 57094060;
	p.src = ip("10.0.1.2");
	p.dst = ip("10.0.2.2");
	p.ping_sent = 2;
	p.probe_size = 104;
	p.ttl = 64;
	p.opt = PROBE_OPT_TSPRESPEC;
	p.tsps[0] = ip("10.0.2.2");
	p.tsps[1] = ip("10.0.9.9");
	p.ntsps = 2;
	p.wait_ms = 1000;
	p.interval_ms = 1000;
	p.nreplies = 1;
	p.replies = &r;
	CAPTURE(out, output_ping_json(f, &p));
	cr_expect(strstr(out, "\"probe_tsps\":[\"10.0.2.2\",\"10.0.9.9\"], \"responses\""), "%s",
		  out);
	cr_expect(strstr(out, "\"tsandaddr\":[{\"ip\":\"10.0.2.2\",\"ts\":57094060}]}]"), "%s",
		  out);
	cr_expect(strstr(out, "\"statistics\":{\"replies\":1, \"loss\":0.50, \"min\":0.058"), "%s",
		  out);
	cr_expect_null(strstr(out, "\"flags\""), "prespec has no flags in scamper: %s", out);
	assert_json(out);
	free(out);

	/* no replies at all: loss 1, no min/max */
	p.nreplies = 0;
	CAPTURE(out, output_ping_json(f, &p));
	cr_expect(strstr(out, "\"responses\":[],\"statistics\":{\"replies\":0, \"loss\":1}}\n"),
		  "%s", out);
	assert_json(out);
	free(out);
}

Test(output, ping_stats_dups)
{
	struct probe_ping_reply r[5] = {0};
	struct probe_ping_result p = {0};
	struct probe_ping_stats st;

	r[0].seq = 0, r[0].rtt_ns = 1000000;
	r[1].seq = 1, r[1].rtt_ns = 3000000;
	r[2].seq = 1, r[2].rtt_ns = 9000000; /* duplicate */
	r[3].seq = 3, r[3].rtt_ns = 2000000;
	r[4].seq = 2, r[4].rtt_ns = 1000, r[4].from = 1; /* an ICMP error from a router */
	p.ping_sent = 4;
	p.nreplies = 5;
	p.replies = r;
	probe_ping_stats(&p, &st);
	cr_assert_eq(st.replies, 3);
	cr_assert_eq(st.dups, 1);
	cr_assert_eq(st.errs, 1);
	cr_assert_float_eq(st.loss, 0.25, 1e-9);
	cr_assert_float_eq(st.min_ms, 1.0, 1e-9);
	cr_assert_float_eq(st.max_ms, 3.0, 1e-9);
	cr_assert_float_eq(st.avg_ms, 2.0, 1e-9);
	cr_assert_float_eq(st.stddev_ms, 0.816496581, 1e-6);
}

static struct probe_trace_result trace2(struct probe_trace_hop *h)
{
	struct probe_trace_result t = {0};

	memset(h, 0, 2 * sizeof(*h));
	h[0].addr = ip("10.0.1.1");
	h[0].probe_ttl = 1;
	h[0].probe_id = 1;
	h[0].probe_size = 44;
	h[0].tx = (struct timeval){1796313097, 236145};
	h[0].rtt_ns = 241000;
	h[0].reply_ttl = 64;
	h[0].reply_tos = 192;
	h[0].reply_ipid = 817;
	h[0].reply_size = 72;
	h[0].icmp_type = 11;
	h[0].icmp_q_ttl = 1;
	h[0].icmp_q_ipl = 44;
	h[0].flags = RTRACE_F_QUOTE;
	h[1].addr = ip("10.0.2.2");
	h[1].probe_ttl = 2;
	h[1].probe_id = 1;
	h[1].probe_size = 44;
	h[1].tx = (struct timeval){1796313097, 285513};
	h[1].rtt_ns = 30000;
	h[1].reply_ttl = 63;
	h[1].reply_ipid = 39515;
	h[1].reply_size = 44;
	t.src = ip("10.0.1.2");
	t.dst = ip("10.0.2.2");
	t.start = (struct timeval){1796313097, 236056};
	t.method = PROBE_TRACE_ICMP_PARIS;
	t.stop_reason = PROBE_STOP_COMPLETED;
	t.hop_count = 2;
	t.first_ttl = 1;
	t.max_ttl = 30;
	t.attempts = 2;
	t.gaplimit = 5;
	t.probe_size = 44;
	t.icmp_sum = 38013;
	t.wait_ms = 5000;
	t.probe_count = 2;
	t.nhops = 2;
	t.hops = h;
	return t;
}

Test(output, trace_icmp_paris_json)
{
	struct probe_trace_hop h[2];
	struct probe_trace_result t = trace2(h);
	char *out = NULL, *p;

	CAPTURE(out, output_trace_json(f, &t));
	cr_expect(starts(out,
			 "{\"type\":\"trace\",\"version\":\"0.1\", \"method\":\"icmp-echo-paris\", "
			 "\"src\":\"10.0.1.2\", \"dst\":\"10.0.2.2\", \"icmp_sum\":38013, "
			 "\"stop_reason\":\"COMPLETED\", \"stop_data\":0, "
			 "\"start\":{\"sec\":1796313097, "
			 "\"usec\":236056, \"ftime\":"),
		  "%s", out);
	p = strstr(out, "\"hops\":[");
	cr_assert_not_null(p);
	cr_expect_str_eq(
		p,
		"\"hops\":[{\"addr\":\"10.0.1.1\", \"probe_ttl\":1, \"probe_id\":1, "
		"\"probe_size\":44, \"tx\":{\"sec\":1796313097, \"usec\":236145}, \"rtt\":0.241, "
		"\"reply_ttl\":64, \"reply_tos\":192, \"reply_ipid\":817, \"reply_size\":72, "
		"\"icmp_type\":11, \"icmp_code\":0, \"icmp_q_ttl\":1, \"icmp_q_ipl\":44},"
		"{\"addr\":\"10.0.2.2\", \"probe_ttl\":2, \"probe_id\":1, \"probe_size\":44, "
		"\"tx\":{\"sec\":1796313097, \"usec\":285513}, \"rtt\":0.030, \"reply_ttl\":63, "
		"\"reply_tos\":0, \"reply_ipid\":39515, \"reply_size\":44, \"icmp_type\":0, "
		"\"icmp_code\":0}]}\n");
	cr_expect(strstr(out, "\"hop_count\":2, \"attempts\":2, \"hoplimit\":30, \"firsthop\":1"));
	assert_json(out);
	free(out);

	t.method = PROBE_TRACE_UDP_PARIS;
	t.sport = 38016;
	t.dport = 33435;
	t.stop_reason = PROBE_STOP_GAPLIMIT;
	CAPTURE(out, output_trace_json(f, &t));
	cr_expect(strstr(out,
			 "\"method\":\"udp-paris\", \"src\":\"10.0.1.2\", \"dst\":\"10.0.2.2\", "
			 "\"sport\":38016, \"dport\":33435, \"stop_reason\":\"GAPLIMIT\""),
		  "%s", out);
	assert_json(out);
	free(out);
}

Test(output, trace_text_like_traceroute)
{
	struct probe_trace_hop h[2];
	struct probe_trace_result t = trace2(h);
	char *out = NULL;

	t.first_ttl = 1;
	t.hop_count = 3;
	h[1].probe_ttl = 3;
	h[1].icmp_type = 3;
	h[1].icmp_code = 1;
	t.stop_reason = PROBE_STOP_UNREACH;
	CAPTURE(out, output_trace_text(f, &t));
	cr_assert_str_eq(out, "traceroute from 10.0.1.2 to 10.0.2.2 (icmp-echo-paris)\n"
			      " 1  10.0.1.1  0.241 ms\n"
			      " 2  *\n"
			      " 3  10.0.2.2  0.030 ms !H\n"
			      "stopped: UNREACH\n");
	free(out);
}

Test(output, listen_reply_json_and_text)
{
	struct probe_listen_reply lr = {0};
	char *out = NULL;

	lr.vp = ip("10.0.3.2");
	lr.req = 77;
	lr.to = ip("10.0.1.2");
	lr.r = rr_reply(0, 0);
	lr.r.rx = (struct timeval){5, 6};
	CAPTURE(out, output_listen_reply(f, &lr, OUTPUT_JSON));
	cr_expect(starts(out, "{\"type\":\"ping\", \"version\":\"0.4\", \"method\":\"icmp-echo\", "
			      "\"src\":\"10.0.1.2\", \"dst\":\"10.0.2.2\", \"vp\":\"10.0.3.2\", "
			      "\"req\":77, "
			      "\"start\":{\"sec\":5,\"usec\":6}, \"flags\":[\"spoof\",\"v4rr\"]"),
		  "%s", out);
	cr_expect_null(strstr(out, "\"rtt\""), "no rtt: the VP sent it");
	cr_expect(strstr(
		out, "\"RR\":[\"10.0.2.1\",\"10.0.2.2\",\"10.0.2.2\",\"10.0.1.1\",\"10.0.1.2\"]"));
	assert_json(out);
	free(out);
	CAPTURE(out, output_listen_reply(f, &lr, OUTPUT_TEXT));
	cr_expect(starts(out, "124 bytes from 10.0.2.2 to 10.0.1.2, spoofed by 10.0.3.2 req=77 "
			      "seq=0 ttl=63\n RR: 10.0.2.1\n"),
		  "%s", out);
	free(out);
}

Test(output, fmt_ms_rounding)
{
	char b[32];

	output_fmt_ms(b, sizeof(b), 52400);
	cr_expect_str_eq(b, "0.052");
	output_fmt_ms(b, sizeof(b), 52500);
	cr_expect_str_eq(b, "0.053");
	output_fmt_ms(b, sizeof(b), 1234567890);
	cr_expect_str_eq(b, "1234.568");
}

/* JSON -> result -> JSON gives the same line, so text printed from a parsed record is the same. */
static void roundtrip(const struct probe_result *r)
{
	struct probe_result back;
	char *json = NULL, *again = NULL, *text = NULL, *text2 = NULL;

	CAPTURE(json, output_result(f, r, OUTPUT_JSON));
	cr_assert_eq(output_parse_json(json, strlen(json) - 1, &back), 0);
	cr_assert_eq(back.kind, r->kind);
	CAPTURE(again, output_result(f, &back, OUTPUT_JSON));
	if (r->kind == PROBE_TRACE) { /* ftime is local time: compare from the hops on */
		cr_assert_str_eq(strstr(again, "\"hop_count\""), strstr(json, "\"hop_count\""));
	} else {
		cr_assert_str_eq(again, json);
	}
	CAPTURE(text, output_result(f, r, OUTPUT_TEXT));
	CAPTURE(text2, output_result(f, &back, OUTPUT_TEXT));
	cr_assert_str_eq(text2, text);
	output_parsed_free(&back);
	free(json);
	free(again);
	free(text);
	free(text2);
}

Test(output, json_read_back)
{
	struct probe_ping_reply rep[3] = {rr_reply(0, 52), rr_reply(1, 69), rr_reply(1, 70)};
	struct probe_result r = {.kind = PROBE_PING};
	struct probe_trace_hop h[2];
	struct probe_result none;

	r.ping.src = ip("10.0.1.2");
	r.ping.dst = ip("10.0.2.2");
	r.ping.start = (struct timeval){1796313092, 2486};
	r.ping.ping_sent = r.ping.count = 3;
	r.ping.probe_size = 124;
	r.ping.ttl = 64;
	r.ping.opt = PROBE_OPT_RR;
	r.ping.wait_ms = 2000;
	r.ping.interval_ms = 1000;
	r.ping.nreplies = 3;
	r.ping.replies = rep;
	roundtrip(&r);
	rep[2].flags = RTRACE_F_TS;
	rep[2].ts.flags = 1;
	rep[2].ts.count = 2;
	rep[2].ts.addr[0] = ip("10.0.0.1");
	rep[2].ts.stamp[0] = 123;
	rep[2].ts.addr[1] = ip("10.0.0.2");
	rep[2].ts.stamp[1] = 456;
	r.ping.opt = PROBE_OPT_TSANDADDR;
	r.ping.spoofed = 1;
	roundtrip(&r);

	r.kind = PROBE_TRACE;
	r.trace = trace2(h);
	roundtrip(&r);
	r.trace.method = PROBE_TRACE_UDP_PARIS;
	r.trace.stop_reason = PROBE_STOP_UNREACH;
	roundtrip(&r);

	cr_expect_eq(output_parse_json("{\"type\":\"x\"}", 12, &none), -EBADMSG);
	cr_expect_eq(output_parse_json("[1,2", 4, &none), -EBADMSG);
}
