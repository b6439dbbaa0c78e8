// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * output.c - scamper JSON and ping/traceroute-like text for the results of
 * probe.h (see include/rtrace/output.h). Field names and their order follow
 * what `scamper -O json` (20211212) prints for ping -R / -T and trace -P
 * icmp-paris / udp-paris; rtrace adds "vp" and "req" to listen records.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rtrace/output.h"

/*
 * Address to text in one of 8 rotating buffers, so that one printf can take
 * several (each call is a full expression of its own, so they never clash).
 */
static const char *A(uint32_t a)
{
	static __thread char abuf[8][INET_ADDRSTRLEN];
	static __thread unsigned int ai;
	char *buf = abuf[ai++ & 7];

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

void output_fmt_ms(char *buf, size_t len, uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;

	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, us / 1000, us % 1000);
}

static int done(FILE *f)
{
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}

/* scamper prints seconds of the timeouts. */
static unsigned int secs(uint32_t ms)
{
	return (ms + 999) / 1000;
}

static void json_rr_ts(FILE *f, const struct probe_ping_reply *p)
{
	unsigned int i;

	if (p->flags & RTRACE_F_RR) {
		fprintf(f, ", \"RR\":[");
		for (i = 0; i < p->rr.count && i < RTRACE_RR_SLOTS; i++)
			fprintf(f, "%s\"%s\"", i ? "," : "", A(p->rr.addr[i]));
		fprintf(f, "]");
	}
	if (p->flags & RTRACE_F_TS) {
		if (p->ts.flags == 0) {
			fprintf(f, ", \"tsonly\":[");
			for (i = 0; i < p->ts.count && i < RTRACE_TS_STAMPS; i++)
				fprintf(f, "%s%u", i ? "," : "", p->ts.stamp[i]);
		} else {
			fprintf(f, ", \"tsandaddr\":[");
			for (i = 0; i < p->ts.count && i < RTRACE_TS_PAIRS; i++)
				fprintf(f, "%s{\"ip\":\"%s\",\"ts\":%u}", i ? "," : "",
					A(p->ts.addr[i]), p->ts.stamp[i]);
		}
		fprintf(f, "]");
	}
}

static void json_tv(FILE *f, const char *name, const struct timeval *tv)
{
	fprintf(f, ", \"%s\":{\"sec\":%ld, \"usec\":%ld}", name, (long)tv->tv_sec,
		(long)tv->tv_usec);
}

static void json_ping_reply(FILE *f, const struct probe_ping_reply *p, int with_tx)
{
	char rtt[32];

	fprintf(f, "{\"from\":\"%s\", \"seq\":%u, \"reply_size\":%u, \"reply_ttl\":%u", A(p->from),
		p->seq, p->reply_size, p->reply_ttl);
	fprintf(f, ", \"reply_proto\":\"icmp\"");
	if (with_tx) {
		json_tv(f, "tx", &p->tx);
		json_tv(f, "rx", &p->rx);
		output_fmt_ms(rtt, sizeof(rtt), p->rtt_ns);
		fprintf(f, ", \"rtt\":%s, \"probe_ipid\":%u", rtt, p->probe_ipid);
	} else {
		json_tv(f, "rx", &p->rx);
	}
	fprintf(f, ", \"reply_ipid\":%u, \"icmp_type\":%u, \"icmp_code\":%u", p->reply_ipid,
		p->icmp_type, p->icmp_code);
	json_rr_ts(f, p);
	fprintf(f, "}");
}

static void json_ping_flags(FILE *f, uint8_t opt, int spoofed)
{
	int n = 0;

	if (opt != PROBE_OPT_RR && opt != PROBE_OPT_TSONLY && opt != PROBE_OPT_TSANDADDR &&
	    !spoofed)
		return;
	fprintf(f, ", \"flags\":[");
	if (opt == PROBE_OPT_RR)
		fprintf(f, "%s\"v4rr\"", n++ ? "," : "");
	if (spoofed)
		fprintf(f, "%s\"spoof\"", n++ ? "," : "");
	if (opt == PROBE_OPT_TSONLY)
		fprintf(f, "%s\"tsonly\"", n++ ? "," : "");
	if (opt == PROBE_OPT_TSANDADDR)
		fprintf(f, "%s\"tsandaddr\"", n++ ? "," : "");
	fprintf(f, "]");
}

int output_ping_json(FILE *f, const struct probe_ping_result *p)
{
	struct probe_ping_stats st;
	char b[4][32];
	uint32_t i;

	fprintf(f, "{\"type\":\"ping\", \"version\":\"0.4\", \"method\":\"icmp-echo\"");
	fprintf(f, ", \"src\":\"%s\", \"dst\":\"%s\"", A(p->src), A(p->dst));
	fprintf(f, ", \"start\":{\"sec\":%ld,\"usec\":%ld}", (long)p->start.tv_sec,
		(long)p->start.tv_usec);
	fprintf(f, ", \"ping_sent\":%u, \"probe_size\":%u, \"ttl\":%u, \"wait\":%u, \"timeout\":%u",
		p->ping_sent, p->probe_size, p->ttl, secs(p->interval_ms), secs(p->wait_ms));
	json_ping_flags(f, p->opt, p->spoofed);
	if (p->opt == PROBE_OPT_TSPRESPEC) {
		fprintf(f, ", \"probe_tsps\":[");
		for (i = 0; i < p->ntsps && i < RTRACE_TS_PAIRS; i++)
			fprintf(f, "%s\"%s\"", i ? "," : "", A(p->tsps[i]));
		fprintf(f, "]");
	}
	fprintf(f, ", \"responses\":[");
	for (i = 0; i < p->nreplies; i++) {
		if (i)
			fputc(',', f);
		json_ping_reply(f, &p->replies[i], 1);
	}
	probe_ping_stats(p, &st);
	fprintf(f, "],\"statistics\":{\"replies\":%u", st.replies);
	if (p->ping_sent) {
		if (st.replies == 0)
			fprintf(f, ", \"loss\":1");
		else if (st.replies >= p->ping_sent)
			fprintf(f, ", \"loss\":0");
		else
			fprintf(f, ", \"loss\":%.2f", st.loss);
	}
	if (st.replies) {
		output_fmt_ms(b[0], 32, (uint64_t)(st.min_ms * 1e6 + 0.5));
		output_fmt_ms(b[1], 32, (uint64_t)(st.max_ms * 1e6 + 0.5));
		output_fmt_ms(b[2], 32, (uint64_t)(st.avg_ms * 1e6 + 0.5));
		output_fmt_ms(b[3], 32, (uint64_t)(st.stddev_ms * 1e6 + 0.5));
		fprintf(f, ", \"min\":%s, \"max\":%s, \"avg\":%s, \"stddev\":%s", b[0], b[1], b[2],
			b[3]);
	}
	if (st.dups)
		fprintf(f, ", \"ndups\":%u", st.dups);
	if (st.errs)
		fprintf(f, ", \"nerrs\":%u", st.errs);
	fprintf(f, "}}\n");
	return done(f);
}

static void text_rr_ts(FILE *f, const struct probe_ping_reply *p)
{
	unsigned int i;

	if (p->flags & RTRACE_F_RR)
		for (i = 0; i < p->rr.count && i < RTRACE_RR_SLOTS; i++)
			fprintf(f, "%s%s\n", i ? "     " : " RR: ", A(p->rr.addr[i]));
	if ((p->flags & RTRACE_F_TS) && p->ts.flags == 0)
		for (i = 0; i < p->ts.count && i < RTRACE_TS_STAMPS; i++)
			fprintf(f, "%s%u\n", i ? "     " : " TS: ", p->ts.stamp[i]);
	else if (p->flags & RTRACE_F_TS)
		for (i = 0; i < p->ts.count && i < RTRACE_TS_PAIRS; i++)
			fprintf(f, "%s%-15s %u\n", i ? "     " : " TS: ", A(p->ts.addr[i]),
				p->ts.stamp[i]);
}

int output_ping_text(FILE *f, const struct probe_ping_result *p)
{
	struct probe_ping_stats st;
	char ms[32];
	uint32_t i;

	fprintf(f, "ping %s to %s: %u byte packets%s\n", A(p->src), A(p->dst), p->probe_size,
		p->spoofed ? " (spoofed source: replies go there)" : "");
	for (i = 0; i < p->nreplies; i++) {
		const struct probe_ping_reply *r = &p->replies[i];

		output_fmt_ms(ms, sizeof(ms), r->rtt_ns);
		if (r->icmp_type == 0)
			fprintf(f, "%u bytes from %s, seq=%u ttl=%u time=%s ms\n", r->reply_size,
				A(r->from), r->seq, r->reply_ttl, ms);
		else
			fprintf(f, "icmp type %u code %u from %s, seq=%u ttl=%u time=%s ms\n",
				r->icmp_type, r->icmp_code, A(r->from), r->seq, r->reply_ttl, ms);
		text_rr_ts(f, r);
	}
	probe_ping_stats(p, &st);
	fprintf(f, "--- %s ping statistics ---\n", A(p->dst));
	fprintf(f, "%u packets transmitted, %u packets received, ", p->ping_sent, st.replies);
	if (st.errs)
		fprintf(f, "%u errors, ", st.errs);
	fprintf(f, "%.0f%% packet loss\n", st.loss * 100);
	if (st.replies)
		fprintf(f, "round-trip min/avg/max/stddev = %.3f/%.3f/%.3f/%.3f ms\n", st.min_ms,
			st.avg_ms, st.max_ms, st.stddev_ms);
	return done(f);
}

static const char *method_name(uint8_t m)
{
	return m == PROBE_TRACE_UDP_PARIS ? "udp-paris" : "icmp-echo-paris";
}

int output_trace_json(FILE *f, const struct probe_trace_result *t)
{
	char ftime[32], rtt[32];
	struct tm tm;
	time_t sec = t->start.tv_sec;
	uint32_t i;

	localtime_r(&sec, &tm);
	strftime(ftime, sizeof(ftime), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(f, "{\"type\":\"trace\",\"version\":\"0.1\", \"method\":\"%s\"",
		method_name(t->method));
	fprintf(f, ", \"src\":\"%s\", \"dst\":\"%s\"", A(t->src), A(t->dst));
	if (t->method == PROBE_TRACE_UDP_PARIS)
		fprintf(f, ", \"sport\":%u, \"dport\":%u", t->sport, t->dport);
	else
		fprintf(f, ", \"icmp_sum\":%u", t->icmp_sum);
	fprintf(f, ", \"stop_reason\":\"%s\", \"stop_data\":%u", probe_stop_name(t->stop_reason),
		t->stop_data);
	fprintf(f, ", \"start\":{\"sec\":%ld, \"usec\":%ld, \"ftime\":\"%s\"}",
		(long)t->start.tv_sec, (long)t->start.tv_usec, ftime);
	fprintf(f,
		", \"hop_count\":%u, \"attempts\":%u, \"hoplimit\":%u, \"firsthop\":%u"
		", \"gaplimit\":%u, \"wait\":%u, \"wait_probe\":0, \"tos\":0, \"probe_size\":%u"
		", \"probe_count\":%u",
		t->hop_count, t->attempts, t->max_ttl, t->first_ttl, t->gaplimit, secs(t->wait_ms),
		t->probe_size, t->probe_count);
	fprintf(f, ", \"hops\":[");
	for (i = 0; i < t->nhops; i++) {
		const struct probe_trace_hop *h = &t->hops[i];

		output_fmt_ms(rtt, sizeof(rtt), h->rtt_ns);
		fprintf(f,
			"%s{\"addr\":\"%s\", \"probe_ttl\":%u, \"probe_id\":%u, \"probe_size\":%u",
			i ? "," : "", A(h->addr), h->probe_ttl, h->probe_id, h->probe_size);
		json_tv(f, "tx", &h->tx);
		fprintf(f,
			", \"rtt\":%s, \"reply_ttl\":%u, \"reply_tos\":%u, \"reply_ipid\":%u"
			", \"reply_size\":%u, \"icmp_type\":%u, \"icmp_code\":%u",
			rtt, h->reply_ttl, h->reply_tos, h->reply_ipid, h->reply_size, h->icmp_type,
			h->icmp_code);
		if (h->flags & RTRACE_F_QUOTE)
			fprintf(f, ", \"icmp_q_ttl\":%u, \"icmp_q_ipl\":%u", h->icmp_q_ttl,
				h->icmp_q_ipl);
		fprintf(f, "}");
	}
	fprintf(f, "]}\n");
	return done(f);
}

/* traceroute's annotation of an ICMP unreachable ("!H"...), "" otherwise. */
static const char *unreach_mark(const struct probe_trace_result *t, const struct probe_trace_hop *h)
{
	if (h->icmp_type != 3)
		return "";
	switch (h->icmp_code) {
	case 0:
		return " !N";
	case 1:
		return " !H";
	case 2:
		return " !P";
	case 3:
		return h->addr == t->dst ? "" : " !";
	case 13:
		return " !X";
	default:
		return " !?";
	}
}

int output_trace_text(FILE *f, const struct probe_trace_result *t)
{
	uint32_t i = 0, ttl;
	char ms[32];

	fprintf(f, "traceroute from %s to %s (%s)\n", A(t->src), A(t->dst), method_name(t->method));
	for (ttl = t->first_ttl; ttl <= t->hop_count; ttl++) {
		uint32_t last = 0;
		int any = 0;

		fprintf(f, "%2u ", ttl);
		for (; i < t->nhops && t->hops[i].probe_ttl < ttl; i++)
			;
		for (; i < t->nhops && t->hops[i].probe_ttl == ttl; i++) {
			const struct probe_trace_hop *h = &t->hops[i];

			output_fmt_ms(ms, sizeof(ms), h->rtt_ns);
			if (!any || h->addr != last)
				fprintf(f, " %s ", A(h->addr));
			fprintf(f, " %s ms%s", ms, unreach_mark(t, h));
			last = h->addr;
			any = 1;
		}
		if (!any)
			fprintf(f, " *");
		fputc('\n', f);
	}
	if (t->stop_reason != PROBE_STOP_COMPLETED)
		fprintf(f, "stopped: %s\n", probe_stop_name(t->stop_reason));
	return done(f);
}

int output_result(FILE *f, const struct probe_result *r, enum output_fmt fmt)
{
	switch (r->kind) {
	case PROBE_PING:
		return fmt == OUTPUT_JSON ? output_ping_json(f, &r->ping)
					  : output_ping_text(f, &r->ping);
	case PROBE_TRACE:
		return fmt == OUTPUT_JSON ? output_trace_json(f, &r->trace)
					  : output_trace_text(f, &r->trace);
	case PROBE_LISTEN:
		if (fmt == OUTPUT_TEXT)
			fprintf(f, "listen on %s: %u replies to spoofed probes in %u s\n",
				A(r->listen.addr), r->listen.nreplies, secs(r->listen.duration_ms));
		return done(f);
	}
	return 0;
}

int output_listen_reply(FILE *f, const struct probe_listen_reply *lr, enum output_fmt fmt)
{
	const struct probe_ping_reply *p = &lr->r;

	if (fmt == OUTPUT_TEXT) {
		fprintf(f, "%u bytes from %s to %s, spoofed by %s req=%u seq=%u ttl=%u\n",
			p->reply_size, A(p->from), A(lr->to), A(lr->vp), lr->req, p->seq,
			p->reply_ttl);
		text_rr_ts(f, p);
		return done(f);
	}
	fprintf(f, "{\"type\":\"ping\", \"version\":\"0.4\", \"method\":\"icmp-echo\"");
	fprintf(f, ", \"src\":\"%s\", \"dst\":\"%s\", \"vp\":\"%s\", \"req\":%u", A(lr->to),
		A(p->from), A(lr->vp), lr->req);
	fprintf(f, ", \"start\":{\"sec\":%ld,\"usec\":%ld}", (long)p->rx.tv_sec,
		(long)p->rx.tv_usec);
	fprintf(f, ", \"flags\":[\"spoof\"%s%s]", (p->flags & RTRACE_F_RR) ? ",\"v4rr\"" : "",
		(p->flags & RTRACE_F_TS) ? (p->ts.flags ? ",\"tsandaddr\"" : ",\"tsonly\"") : "");
	fprintf(f, ", \"responses\":[");
	json_ping_reply(f, p, 0);
	fprintf(f, "]}\n");
	return done(f);
}
