// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * jsonin.c - the reverse of output.c's JSON printers: one scamper-JSON ping
 * or trace record (as `rtrace-probe -j` and rtraced print them) back into the
 * result structs of probe.h, with libjansson, so that results an agent sent
 * can be printed as text. Only the fields the printers use are read; absent
 * fields stay zero, and a record that is not a ping or trace object is
 * refused (-EBADMSG).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/output.h"

/* A real as a uint64_t, clamped (a cast of an out-of-range double is undefined). */
static uint64_t clamp(double d)
{
	if (!(d > 0)) /* also NaN */
		return 0;
	return d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
}

static uint64_t num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? 0 : (uint64_t)json_integer_value(v);
	return json_is_real(v) ? clamp(json_real_value(v)) : 0;
}

/* Milliseconds (scamper's "rtt") to ns. */
static uint64_t ms_ns(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? clamp(json_number_value(v) * 1e6 + 0.5) : 0;
}

static uint32_t addr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	struct in_addr a = {0};

	if (s)
		inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct timeval tv_of(json_t *o, const char *key)
{
	json_t *t = json_object_get(o, key);
	struct timeval tv = {0};

	if (json_is_object(t)) {
		tv.tv_sec = num(t, "sec");
		tv.tv_usec = num(t, "usec");
	}
	return tv;
}

static int has_flag(json_t *o, const char *flag)
{
	json_t *a = json_object_get(o, "flags"), *v;
	size_t i;

	json_array_foreach(a, i, v) if (json_is_string(v) &&
					!strcmp(json_string_value(v), flag)) return 1;
	return 0;
}

static void ping_reply_in(json_t *o, struct probe_ping_reply *p)
{
	json_t *a, *v;
	size_t i;

	p->from = addr(o, "from");
	p->seq = num(o, "seq");
	p->reply_size = num(o, "reply_size");
	p->reply_ttl = num(o, "reply_ttl");
	p->reply_ipid = num(o, "reply_ipid");
	p->probe_ipid = num(o, "probe_ipid");
	p->icmp_type = num(o, "icmp_type");
	p->icmp_code = num(o, "icmp_code");
	p->rtt_ns = ms_ns(o, "rtt");
	p->tx = tv_of(o, "tx");
	p->rx = tv_of(o, "rx");
	if ((a = json_object_get(o, "RR")) && json_is_array(a)) {
		p->flags |= RTRACE_F_RR;
		json_array_foreach(a, i, v) if (i < RTRACE_RR_SLOTS)
		{
			struct in_addr x = {0};

			inet_pton(AF_INET, json_string_value(v) ? json_string_value(v) : "", &x);
			p->rr.addr[p->rr.count++] = x.s_addr;
		}
	}
	if ((a = json_object_get(o, "tsonly")) && json_is_array(a)) {
		p->flags |= RTRACE_F_TS;
		json_array_foreach(a, i, v) if (i < RTRACE_TS_STAMPS) p->ts.stamp[p->ts.count++] =
			json_integer_value(v);
	} else if ((a = json_object_get(o, "tsandaddr")) && json_is_array(a)) {
		p->flags |= RTRACE_F_TS;
		p->ts.flags = 1;
		json_array_foreach(a, i, v) if (i < RTRACE_TS_PAIRS && json_is_object(v))
		{
			p->ts.addr[p->ts.count] = addr(v, "ip");
			p->ts.stamp[p->ts.count++] = num(v, "ts");
		}
	}
}

static int ping_in(json_t *o, struct probe_ping_result *p)
{
	json_t *a = json_object_get(o, "responses"), *v, *tsps;
	size_t i, n = json_array_size(a);

	p->src = addr(o, "src");
	p->dst = addr(o, "dst");
	p->start = tv_of(o, "start");
	p->ping_sent = num(o, "ping_sent");
	p->count = p->ping_sent;
	p->probe_size = num(o, "probe_size");
	p->ttl = num(o, "ttl");
	p->wait_ms = num(o, "timeout") * 1000;
	p->interval_ms = num(o, "wait") * 1000;
	p->spoofed = has_flag(o, "spoof");
	if (has_flag(o, "v4rr"))
		p->opt = PROBE_OPT_RR;
	else if (has_flag(o, "tsonly"))
		p->opt = PROBE_OPT_TSONLY;
	else if (has_flag(o, "tsandaddr"))
		p->opt = PROBE_OPT_TSANDADDR;
	if ((tsps = json_object_get(o, "probe_tsps")) && json_is_array(tsps)) {
		p->opt = PROBE_OPT_TSPRESPEC;
		json_array_foreach(tsps, i, v) if (i < RTRACE_TS_PAIRS)
		{
			struct in_addr x = {0};

			inet_pton(AF_INET, json_string_value(v) ? json_string_value(v) : "", &x);
			p->tsps[p->ntsps++] = x.s_addr;
		}
	}
	if (!n)
		return 0;
	p->replies = calloc(n, sizeof(*p->replies));
	if (!p->replies)
		return -ENOMEM;
	json_array_foreach(a, i, v) if (json_is_object(v))
		ping_reply_in(v, &p->replies[p->nreplies++]);
	for (i = 0; i < p->nreplies; i++)
		if (p->replies[i].seq >= p->count)
			p->count = p->replies[i].seq + 1;
	return 0;
}

static uint8_t stop_of(const char *name)
{
	enum probe_stop s;

	for (s = PROBE_STOP_NONE; s <= PROBE_STOP_HALTED; s++)
		if (name && !strcmp(name, probe_stop_name(s)))
			return s;
	return PROBE_STOP_NONE;
}

static int trace_in(json_t *o, struct probe_trace_result *t)
{
	json_t *a = json_object_get(o, "hops"), *v;
	const char *method = json_string_value(json_object_get(o, "method"));
	size_t i, n = json_array_size(a);

	t->src = addr(o, "src");
	t->dst = addr(o, "dst");
	t->start = tv_of(o, "start");
	t->method = method && !strcmp(method, "udp-paris") ? PROBE_TRACE_UDP_PARIS
							   : PROBE_TRACE_ICMP_PARIS;
	t->stop_reason = stop_of(json_string_value(json_object_get(o, "stop_reason")));
	t->stop_data = num(o, "stop_data");
	t->hop_count = num(o, "hop_count");
	t->first_ttl = num(o, "firsthop");
	t->max_ttl = num(o, "hoplimit");
	t->attempts = num(o, "attempts");
	t->gaplimit = num(o, "gaplimit");
	t->probe_size = num(o, "probe_size");
	t->probe_count = num(o, "probe_count");
	t->wait_ms = num(o, "wait") * 1000;
	t->sport = num(o, "sport");
	t->dport = num(o, "dport");
	t->icmp_sum = num(o, "icmp_sum");
	if (!n)
		return 0;
	t->hops = calloc(n, sizeof(*t->hops));
	if (!t->hops)
		return -ENOMEM;
	json_array_foreach(a, i, v)
	{
		struct probe_trace_hop *h = &t->hops[t->nhops];

		if (!json_is_object(v))
			continue;
		h->addr = addr(v, "addr");
		h->probe_ttl = num(v, "probe_ttl");
		h->probe_id = num(v, "probe_id");
		h->probe_size = num(v, "probe_size");
		h->tx = tv_of(v, "tx");
		h->rtt_ns = ms_ns(v, "rtt");
		h->reply_ttl = num(v, "reply_ttl");
		h->reply_tos = num(v, "reply_tos");
		h->reply_ipid = num(v, "reply_ipid");
		h->reply_size = num(v, "reply_size");
		h->icmp_type = num(v, "icmp_type");
		h->icmp_code = num(v, "icmp_code");
		if (json_object_get(v, "icmp_q_ttl")) {
			h->flags |= RTRACE_F_QUOTE;
			h->icmp_q_ttl = num(v, "icmp_q_ttl");
			h->icmp_q_ipl = num(v, "icmp_q_ipl");
		}
		t->nhops++;
	}
	return 0;
}

int output_parse_json(const char *text, size_t len, struct probe_result *r)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	const char *type;
	int err = -EBADMSG;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		goto out;
	type = json_string_value(json_object_get(o, "type"));
	if (type && !strcmp(type, "ping")) {
		r->kind = PROBE_PING;
		err = ping_in(o, &r->ping);
	} else if (type && !strcmp(type, "trace")) {
		r->kind = PROBE_TRACE;
		err = trace_in(o, &r->trace);
	}
	if (err)
		output_parsed_free(r);
out:
	json_decref(o);
	return err;
}

void output_parsed_free(struct probe_result *r)
{
	if (r->kind == PROBE_PING)
		free(r->ping.replies);
	else if (r->kind == PROBE_TRACE)
		free(r->trace.hops);
	memset(r, 0, sizeof(*r));
}
