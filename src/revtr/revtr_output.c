// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * revtr_output.c - a reverse traceroute report as traceroute-like text or as
 * one JSON object with revtr 2.0's field names (revtr_hops, hop_ip,
 * hop_type, stop_reason...). Both format into a caller buffer with snprintf
 * semantics, so the callers can write them to stdout, a file or a gzip
 * stream; and the one-line status of a running trace. No I/O.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rtrace/revtr.h"
#include "revtr_int.h"

/* An snprintf-style appender: counts what the whole text needs. */
struct sbuf {
	char *buf;
	size_t size;
	size_t len;
};

static void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	size_t room = sb->len < sb->size ? sb->size - sb->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? sb->buf + sb->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->len += (size_t)n;
}

static size_t sb_end(struct sbuf *sb)
{
	if (sb->size)
		sb->buf[sb->len < sb->size ? sb->len : sb->size - 1] = 0;
	return sb->len;
}

static const char *ntoa(uint32_t a, char buf[16])
{
	struct in_addr in = {.s_addr = a};

	if (!a || !inet_ntop(AF_INET, &in, buf, 16))
		snprintf(buf, 16, "*");
	return buf;
}

static const char *stop_name(enum revtr_stop s)
{
	return s == REVTR_REACHES ? "REACHES" : s == REVTR_FAILED ? "FAILED" : "RUNNING";
}

/* JSON string body with the escapes RFC 8259 requires. */
static void sb_json_str(struct sbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(sb, "\\%c", c);
		else if (c < 0x20)
			sb_printf(sb, "\\u%04x", c);
		else
			sb_printf(sb, "%c", c);
	}
}

static const struct {
	const char *name;
	size_t off;
} probe_fields[] = {
	{"agent", offsetof(struct revtr_probes, agent)},
	{"rr", offsetof(struct revtr_probes, rr)},
	{"spoof_rr", offsetof(struct revtr_probes, spoof_rr)},
	{"ts", offsetof(struct revtr_probes, ts)},
	{"spoof_ts", offsetof(struct revtr_probes, spoof_ts)},
	{"trace", offsetof(struct revtr_probes, trace)},
	{"atlas", offsetof(struct revtr_probes, atlas)},
	{"total", offsetof(struct revtr_probes, total)},
};

static uint32_t probe_field(const struct revtr_probes *p, size_t i)
{
	uint32_t v;

	memcpy(&v, (const char *)p + probe_fields[i].off, sizeof(v));
	return v;
}

size_t revtr_format_text(const struct revtr_report *r, char *buf, size_t size)
{
	struct sbuf sb = {buf, size, 0};
	char a[16], b[16];
	size_t i;

	sb_printf(&sb, "reverse traceroute from %s back to %s\n", ntoa(r->dst, a), ntoa(r->src, b));
	for (i = 0; i < r->nhops; i++) {
		const struct revtr_hop *h = &r->hops[i];

		bool more = h->rtt_us || h->from_cache || h->type == REVTR_HOP_DST_SYM_REV_SEGMENT;

		sb_printf(&sb, "%2zu  %-15s  %-*s", i + 1, ntoa(h->addr, a), more ? 29 : 0,
			  revtr_hop_type_name(h->type));
		if (h->rtt_us)
			sb_printf(&sb, "  %u.%03u ms", h->rtt_us / 1000, h->rtt_us % 1000);
		if (h->type == REVTR_HOP_DST_SYM_REV_SEGMENT)
			sb_printf(&sb, "  (assumed symmetric, not measured)");
		if (h->from_cache)
			sb_printf(&sb, "  (cached)");
		sb_printf(&sb, "\n");
	}
	sb_printf(&sb, "%s", stop_name(r->stop));
	if (r->stop == REVTR_FAILED && r->fail_reason[0]) {
		sb_printf(&sb, ": ");
		for (i = 0; r->fail_reason[i]; i++)
			sb_printf(&sb, "%c",
				  (unsigned char)r->fail_reason[i] < 0x20 ? ' '
									  : r->fail_reason[i]);
	}
	sb_printf(&sb, "; %u probes (", r->probes.total);
	for (i = 0; i + 1 < sizeof(probe_fields) / sizeof(probe_fields[0]); i++)
		sb_printf(&sb, "%s%s %u", i ? ", " : "", probe_fields[i].name,
			  probe_field(&r->probes, i));
	sb_printf(&sb, "); %llu.%03llu s\n", (unsigned long long)(r->runtime_ns / 1000000000ull),
		  (unsigned long long)(r->runtime_ns / 1000000ull % 1000));
	return sb_end(&sb);
}

size_t revtr_format_json(const struct revtr_report *r, char *buf, size_t size)
{
	struct sbuf sb = {buf, size, 0};
	char a[16];
	size_t i;

	sb_printf(&sb, "{\"type\":\"revtr\",\"src\":\"%s\"", ntoa(r->src, a));
	sb_printf(&sb, ",\"dst\":\"%s\",\"stop_reason\":\"%s\",\"fail_reason\":\"", ntoa(r->dst, a),
		  stop_name(r->stop));
	sb_json_str(&sb, r->fail_reason);
	sb_printf(&sb, "\",\"revtr_hops\":[");
	for (i = 0; i < r->nhops; i++) {
		const struct revtr_hop *h = &r->hops[i];

		sb_printf(&sb, "%s{\"hop_number\":%zu,\"hop_ip\":\"%s\",\"hop_type\":\"%s\"",
			  i ? "," : "", i + 1, ntoa(h->addr, a), revtr_hop_type_name(h->type));
		if (h->rtt_us)
			sb_printf(&sb, ",\"rtt\":%u.%03u", h->rtt_us / 1000, h->rtt_us % 1000);
		if (h->from_cache)
			sb_printf(&sb, ",\"from_cache\":true");
		sb_printf(&sb, "}");
	}
	sb_printf(&sb, "],\"runtime\":%llu,\"probes\":{", (unsigned long long)r->runtime_ns);
	for (i = 0; i < sizeof(probe_fields) / sizeof(probe_fields[0]); i++)
		sb_printf(&sb, "%s\"%s\":%u", i ? "," : "", probe_fields[i].name,
			  probe_field(&r->probes, i));
	sb_printf(&sb, "}}");
	return sb_end(&sb);
}

size_t revtr_status(const struct revtr *rt, char *buf, size_t size)
{
	int n[REVTR_REQ_FWD_TRACE + 1] = {0}, via[REVTR_REQ_FWD_TRACE + 1] = {0};
	struct sbuf sb = {buf, size, 0};
	char a[16];
	int i, k;

	if (rt->stage == ST_DONE) {
		sb_printf(&sb, "done");
		return sb_end(&sb);
	}
	sb_printf(&sb, "hop %zu after %s:", rt->rep.nhops + 1, ntoa(rt->cur, a));
	for (i = 0; i < rt->npend; i++) {
		k = rt->pend[i].req.kind;
		if (rt->pend[i].issued && k >= 0 && k <= REVTR_REQ_FWD_TRACE) {
			n[k]++;
			via[k] += rt->pend[i].req.vp != 0;
		}
	}
	for (k = 0; k <= REVTR_REQ_FWD_TRACE; k++) {
		if (!n[k])
			continue;
		sb_printf(&sb, " %s", revtr_req_kind_name(k));
		if (n[k] > 1)
			sb_printf(&sb, " x%d", n[k]);
		if (via[k])
			sb_printf(&sb, " (via %d agent%s)", via[k], via[k] > 1 ? "s" : "");
	}
	return sb_end(&sb);
}
