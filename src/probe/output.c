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
#include "obuf.h"

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

static void json_rr_ts(struct obuf *b, const struct probe_ping_reply *p)
{
	unsigned int i;

	if (p->flags & RTRACE_F_RR) {
		OB_LIT(b, ", \"RR\":[");
		for (i = 0; i < p->rr.count && i < RTRACE_RR_SLOTS; i++) {
			if (i)
				ob_char(b, ',');
			ob_qip(b, p->rr.addr[i]);
		}
		ob_char(b, ']');
	}
	if (p->flags & RTRACE_F_TS) {
		if (p->ts.flags == 0) {
			OB_LIT(b, ", \"tsonly\":[");
			for (i = 0; i < p->ts.count && i < RTRACE_TS_STAMPS; i++) {
				if (i)
					ob_char(b, ',');
				ob_u64(b, p->ts.stamp[i]);
			}
		} else {
			OB_LIT(b, ", \"tsandaddr\":[");
			for (i = 0; i < p->ts.count && i < RTRACE_TS_PAIRS; i++) {
				if (i)
					ob_char(b, ',');
				OB_LIT(b, "{\"ip\":\"");
				ob_ip(b, p->ts.addr[i]);
				OB_LIT(b, "\",\"ts\":");
				ob_u64(b, p->ts.stamp[i]);
				ob_char(b, '}');
			}
		}
		ob_char(b, ']');
	}
}

/* ", "NAME":{"sec":S, "usec":U}" (NAME a literal with its quotes and colon). */
#define JSON_TV(b, name, tv)                                                                       \
	do {                                                                                       \
		OB_LIT(b, ", " name "{\"sec\":");                                                  \
		ob_sec(b, (tv)->tv_sec);                                                           \
		OB_LIT(b, ", \"usec\":");                                                          \
		ob_i64(b, (tv)->tv_usec);                                                          \
		ob_char(b, '}');                                                                   \
	} while (0)

static void json_ping_reply(struct obuf *b, const struct probe_ping_reply *p, int with_tx)
{
	OB_LIT(b, "{\"from\":");
	ob_qip(b, p->from);
	OB_LIT(b, ", \"seq\":");
	ob_u64(b, p->seq);
	OB_LIT(b, ", \"reply_size\":");
	ob_u64(b, p->reply_size);
	OB_LIT(b, ", \"reply_ttl\":");
	ob_u64(b, p->reply_ttl);
	OB_LIT(b, ", \"reply_proto\":\"icmp\"");
	if (with_tx) {
		JSON_TV(b, "\"tx\":", &p->tx);
		JSON_TV(b, "\"rx\":", &p->rx);
		OB_LIT(b, ", \"rtt\":");
		ob_ms(b, p->rtt_ns);
		OB_LIT(b, ", \"probe_ipid\":");
		ob_u64(b, p->probe_ipid);
	} else {
		JSON_TV(b, "\"rx\":", &p->rx);
	}
	OB_LIT(b, ", \"reply_ipid\":");
	ob_u64(b, p->reply_ipid);
	OB_LIT(b, ", \"icmp_type\":");
	ob_u64(b, p->icmp_type);
	OB_LIT(b, ", \"icmp_code\":");
	ob_u64(b, p->icmp_code);
	json_rr_ts(b, p);
	ob_char(b, '}');
}

/* One entry of a list: a comma before all but the first. */
static void ob_flag(struct obuf *b, const char *s, int n)
{
	if (n)
		ob_char(b, ',');
	ob_str(b, s);
}

static void json_ping_flags(struct obuf *b, uint8_t opt, int spoofed)
{
	int n = 0;

	if (opt != PROBE_OPT_RR && opt != PROBE_OPT_TSONLY && opt != PROBE_OPT_TSANDADDR &&
	    !spoofed)
		return;
	OB_LIT(b, ", \"flags\":[");
	if (opt == PROBE_OPT_RR)
		ob_flag(b, "\"v4rr\"", n++);
	if (spoofed)
		ob_flag(b, "\"spoof\"", n++);
	if (opt == PROBE_OPT_TSONLY)
		ob_flag(b, "\"tsonly\"", n++);
	if (opt == PROBE_OPT_TSANDADDR)
		ob_flag(b, "\"tsandaddr\"", n++);
	ob_char(b, ']');
}

/* Statistics (ms, double) back to ns, clamped: a cast out of range is undefined. */
static uint64_t ms_ns(double ms)
{
	double ns = ms * 1e6 + 0.5;

	if (!(ns > 0))
		return 0;
	return ns >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)ns;
}

/* The head every ping record starts with (results and listen replies alike). */
static void json_ping_head(struct obuf *b, uint32_t src, uint32_t dst)
{
	OB_LIT(b, "{\"type\":\"ping\", \"version\":\"0.4\", \"method\":\"icmp-echo\", \"src\":");
	ob_qip(b, src);
	OB_LIT(b, ", \"dst\":");
	ob_qip(b, dst);
}

static void ping_json(FILE *f, const struct probe_ping_result *p)
{
	struct probe_ping_stats st;
	struct obuf b;
	uint32_t i;

	ob_init(&b, f);
	json_ping_head(&b, p->src, p->dst);
	OB_LIT(&b, ", \"start\":{\"sec\":");
	ob_sec(&b, p->start.tv_sec);
	OB_LIT(&b, ",\"usec\":");
	ob_i64(&b, p->start.tv_usec);
	OB_LIT(&b, "}, \"ping_sent\":");
	ob_u64(&b, p->ping_sent);
	OB_LIT(&b, ", \"probe_size\":");
	ob_u64(&b, p->probe_size);
	OB_LIT(&b, ", \"ttl\":");
	ob_u64(&b, p->ttl);
	OB_LIT(&b, ", \"wait\":");
	ob_u64(&b, secs(p->interval_ms));
	OB_LIT(&b, ", \"timeout\":");
	ob_u64(&b, secs(p->wait_ms));
	json_ping_flags(&b, p->opt, p->spoofed);
	if (p->opt == PROBE_OPT_TSPRESPEC) {
		OB_LIT(&b, ", \"probe_tsps\":[");
		for (i = 0; i < p->ntsps && i < RTRACE_TS_PAIRS; i++) {
			if (i)
				ob_char(&b, ',');
			ob_qip(&b, p->tsps[i]);
		}
		ob_char(&b, ']');
	}
	OB_LIT(&b, ", \"responses\":[");
	for (i = 0; i < p->nreplies; i++) {
		if (i)
			ob_char(&b, ',');
		json_ping_reply(&b, &p->replies[i], 1);
	}
	probe_ping_stats(p, &st);
	OB_LIT(&b, "],\"statistics\":{\"replies\":");
	ob_u64(&b, st.replies);
	if (p->ping_sent) {
		if (st.replies == 0) {
			OB_LIT(&b, ", \"loss\":1");
		} else if (st.replies >= p->ping_sent) {
			OB_LIT(&b, ", \"loss\":0");
		} else {
			char l[32];

			snprintf(l, sizeof(l), ", \"loss\":%.2f", st.loss);
			ob_str(&b, l);
		}
	}
	if (st.replies) {
		OB_LIT(&b, ", \"min\":");
		ob_ms(&b, ms_ns(st.min_ms));
		OB_LIT(&b, ", \"max\":");
		ob_ms(&b, ms_ns(st.max_ms));
		OB_LIT(&b, ", \"avg\":");
		ob_ms(&b, ms_ns(st.avg_ms));
		OB_LIT(&b, ", \"stddev\":");
		ob_ms(&b, ms_ns(st.stddev_ms));
	}
	if (st.dups) {
		OB_LIT(&b, ", \"ndups\":");
		ob_u64(&b, st.dups);
	}
	if (st.errs) {
		OB_LIT(&b, ", \"nerrs\":");
		ob_u64(&b, st.errs);
	}
	OB_LIT(&b, "}}\n");
	ob_spill(&b);
}

int output_ping_json(FILE *f, const struct probe_ping_result *p)
{
	ping_json(f, p);
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

static void ping_text(FILE *f, const struct probe_ping_result *p)
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
}

int output_ping_text(FILE *f, const struct probe_ping_result *p)
{
	ping_text(f, p);
	return done(f);
}

static const char *method_name(uint8_t m)
{
	return m == PROBE_TRACE_UDP_PARIS ? "udp-paris" : "icmp-echo-paris";
}

static void trace_json(FILE *f, const struct probe_trace_result *t)
{
	char ftime[32];
	struct tm tm;
	time_t sec = t->start.tv_sec;
	struct obuf b;
	uint32_t i;

	localtime_r(&sec, &tm);
	strftime(ftime, sizeof(ftime), "%Y-%m-%d %H:%M:%S", &tm);
	ob_init(&b, f);
	OB_LIT(&b, "{\"type\":\"trace\",\"version\":\"0.1\", \"method\":\"");
	ob_str(&b, method_name(t->method));
	OB_LIT(&b, "\", \"src\":");
	ob_qip(&b, t->src);
	OB_LIT(&b, ", \"dst\":");
	ob_qip(&b, t->dst);
	if (t->method == PROBE_TRACE_UDP_PARIS) {
		OB_LIT(&b, ", \"sport\":");
		ob_u64(&b, t->sport);
		OB_LIT(&b, ", \"dport\":");
		ob_u64(&b, t->dport);
	} else {
		OB_LIT(&b, ", \"icmp_sum\":");
		ob_u64(&b, t->icmp_sum);
	}
	OB_LIT(&b, ", \"stop_reason\":\"");
	ob_str(&b, probe_stop_name(t->stop_reason));
	OB_LIT(&b, "\", \"stop_data\":");
	ob_u64(&b, t->stop_data);
	OB_LIT(&b, ", \"start\":{\"sec\":");
	ob_i64(&b, t->start.tv_sec);
	OB_LIT(&b, ", \"usec\":");
	ob_i64(&b, t->start.tv_usec);
	OB_LIT(&b, ", \"ftime\":\"");
	ob_str(&b, ftime);
	OB_LIT(&b, "\"}, \"hop_count\":");
	ob_u64(&b, t->hop_count);
	OB_LIT(&b, ", \"attempts\":");
	ob_u64(&b, t->attempts);
	OB_LIT(&b, ", \"hoplimit\":");
	ob_u64(&b, t->max_ttl);
	OB_LIT(&b, ", \"firsthop\":");
	ob_u64(&b, t->first_ttl);
	OB_LIT(&b, ", \"gaplimit\":");
	ob_u64(&b, t->gaplimit);
	OB_LIT(&b, ", \"wait\":");
	ob_u64(&b, secs(t->wait_ms));
	OB_LIT(&b, ", \"wait_probe\":0, \"tos\":0, \"probe_size\":");
	ob_u64(&b, t->probe_size);
	OB_LIT(&b, ", \"probe_count\":");
	ob_u64(&b, t->probe_count);
	OB_LIT(&b, ", \"hops\":[");
	for (i = 0; i < t->nhops; i++) {
		const struct probe_trace_hop *h = &t->hops[i];

		if (i)
			ob_char(&b, ',');
		OB_LIT(&b, "{\"addr\":");
		ob_qip(&b, h->addr);
		OB_LIT(&b, ", \"probe_ttl\":");
		ob_u64(&b, h->probe_ttl);
		OB_LIT(&b, ", \"probe_id\":");
		ob_u64(&b, h->probe_id);
		OB_LIT(&b, ", \"probe_size\":");
		ob_u64(&b, h->probe_size);
		JSON_TV(&b, "\"tx\":", &h->tx);
		OB_LIT(&b, ", \"rtt\":");
		ob_ms(&b, h->rtt_ns);
		OB_LIT(&b, ", \"reply_ttl\":");
		ob_u64(&b, h->reply_ttl);
		OB_LIT(&b, ", \"reply_tos\":");
		ob_u64(&b, h->reply_tos);
		OB_LIT(&b, ", \"reply_ipid\":");
		ob_u64(&b, h->reply_ipid);
		OB_LIT(&b, ", \"reply_size\":");
		ob_u64(&b, h->reply_size);
		OB_LIT(&b, ", \"icmp_type\":");
		ob_u64(&b, h->icmp_type);
		OB_LIT(&b, ", \"icmp_code\":");
		ob_u64(&b, h->icmp_code);
		if (h->flags & RTRACE_F_QUOTE) {
			OB_LIT(&b, ", \"icmp_q_ttl\":");
			ob_u64(&b, h->icmp_q_ttl);
			OB_LIT(&b, ", \"icmp_q_ipl\":");
			ob_u64(&b, h->icmp_q_ipl);
		}
		ob_char(&b, '}');
	}
	OB_LIT(&b, "]}\n");
	ob_spill(&b);
}

int output_trace_json(FILE *f, const struct probe_trace_result *t)
{
	trace_json(f, t);
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

static void trace_text(FILE *f, const struct probe_trace_result *t)
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
}

int output_trace_text(FILE *f, const struct probe_trace_result *t)
{
	trace_text(f, t);
	return done(f);
}

int output_write(FILE *f, const struct probe_result *r, enum output_fmt fmt)
{
	switch (r->kind) {
	case PROBE_PING:
		if (fmt == OUTPUT_JSON)
			ping_json(f, &r->ping);
		else
			ping_text(f, &r->ping);
		break;
	case PROBE_TRACE:
		if (fmt == OUTPUT_JSON)
			trace_json(f, &r->trace);
		else
			trace_text(f, &r->trace);
		break;
	case PROBE_LISTEN:
		if (fmt == OUTPUT_TEXT)
			fprintf(f, "listen on %s: %u replies to spoofed probes in %u s\n",
				A(r->listen.addr), r->listen.nreplies, secs(r->listen.duration_ms));
		break;
	}
	return ferror(f) ? -EIO : 0;
}

int output_result(FILE *f, const struct probe_result *r, enum output_fmt fmt)
{
	int err = output_write(f, r, fmt);

	return done(f) ? -EIO : err;
}

int output_listen_reply(FILE *f, const struct probe_listen_reply *lr, enum output_fmt fmt)
{
	int err = output_listen_write(f, lr, fmt);

	return done(f) ? -EIO : err;
}

int output_listen_write(FILE *f, const struct probe_listen_reply *lr, enum output_fmt fmt)
{
	const struct probe_ping_reply *p = &lr->r;
	struct obuf b;

	if (fmt == OUTPUT_TEXT) {
		fprintf(f, "%u bytes from %s to %s, spoofed by %s req=%u seq=%u ttl=%u\n",
			p->reply_size, A(p->from), A(lr->to), A(lr->vp), lr->req, p->seq,
			p->reply_ttl);
		text_rr_ts(f, p);
		return ferror(f) ? -EIO : 0;
	}
	ob_init(&b, f);
	json_ping_head(&b, lr->to, p->from);
	OB_LIT(&b, ", \"vp\":");
	ob_qip(&b, lr->vp);
	OB_LIT(&b, ", \"req\":");
	ob_u64(&b, lr->req);
	OB_LIT(&b, ", \"start\":{\"sec\":");
	ob_i64(&b, p->rx.tv_sec);
	OB_LIT(&b, ",\"usec\":");
	ob_i64(&b, p->rx.tv_usec);
	OB_LIT(&b, "}, \"flags\":[\"spoof\"");
	if (p->flags & RTRACE_F_RR)
		OB_LIT(&b, ",\"v4rr\"");
	if (p->flags & RTRACE_F_TS)
		ob_str(&b, p->ts.flags ? ",\"tsandaddr\"" : ",\"tsonly\"");
	OB_LIT(&b, "], \"responses\":[");
	json_ping_reply(&b, p, 0);
	OB_LIT(&b, "]}\n");
	ob_spill(&b);
	return ferror(f) ? -EIO : 0;
}
