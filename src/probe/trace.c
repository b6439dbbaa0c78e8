// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * trace.c - Paris traceroute with every TTL in flight at once.
 *
 * All TTLs first..max are queued at the start (the pump sends them back to
 * back, paced like everything else); a TTL that times out is retried up to
 * attempts times unless it lies beyond the point where the trace stops. The
 * trace stops at the smallest TTL the destination answered (COMPLETED), or
 * that drew an unreachable (UNREACH) or another ICMP error (ICMP), once every
 * TTL below it is answered or out of attempts; without such a TTL, at the
 * first run of gaplimit silent TTLs (GAPLIMIT) or at max (HOPLIMIT). Probes
 * keep the flow identifier constant: icmp-paris keeps the ICMP checksum (and
 * id), udp-paris the ports (codec's Paris mode).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TRACE_DEF_MAX 30
#define TRACE_DEF_ATTEMPTS 2
#define TRACE_DEF_GAPLIMIT 5
#define TRACE_DEF_SIZE 60
#define TRACE_DEF_WAIT_MS 2000

static void queue_push(struct trace_state *ts, uint8_t ttl)
{
	if (ts->qlen == 256)
		return;
	ts->queue[(ts->qhead + ts->qlen) & 255] = ttl;
	ts->qlen++;
}

/* The TTL at which the trace stops (0: not known yet) and why. */
static uint8_t stop_point(const struct trace_state *ts, uint8_t *reason, uint8_t *data)
{
	if (ts->dest_ttl && (!ts->stop_ttl || ts->dest_ttl <= ts->stop_ttl)) {
		*reason = PROBE_STOP_COMPLETED;
		*data = 0;
		return ts->dest_ttl;
	}
	*reason = ts->stop_reason;
	*data = ts->stop_data;
	return ts->stop_ttl;
}

static int trace_next(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	struct trace_state *ts = m->trace;
	uint8_t reason, data, stop = stop_point(ts, &reason, &data);

	(void)e;
	while (ts->qlen) {
		uint8_t t = ts->queue[ts->qhead];
		struct trace_ttl *tt = &ts->ttl[t];

		ts->qhead = (ts->qhead + 1) & 255;
		ts->qlen--;
		if (tt->answered || tt->inflight || (stop && t > stop))
			continue;
		ps->ttl = t;
		ps->attempt = ++tt->sent;
		tt->inflight = 1;
		tt->slot = ps->id;
		return 0;
	}
	return -EAGAIN;
}

static void trace_sent(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	(void)e;
	if (m->res.trace.probe_count++ == 0)
		m->trace->start_ns = ps->tx_ns;
}

static void trace_check(struct probe_engine *e, struct meas *m)
{
	struct probe_trace_result *r = &m->res.trace;
	struct trace_state *ts = m->trace;
	uint8_t reason, data, stop = stop_point(ts, &reason, &data);
	unsigned int t, run = 0;

	if (stop) {
		for (t = r->first_ttl; t < stop; t++)
			if (!ts->ttl[t].answered && !ts->ttl[t].exhausted)
				return;
		r->stop_reason = reason;
		r->stop_data = data;
		r->hop_count = stop;
		meas_finish(e, m);
		return;
	}
	for (t = r->first_ttl; t <= r->max_ttl; t++) {
		if (ts->ttl[t].answered) {
			run = 0;
		} else if (ts->ttl[t].exhausted) {
			if (++run >= r->gaplimit && r->gaplimit) {
				r->stop_reason = PROBE_STOP_GAPLIMIT;
				r->hop_count = t;
				meas_finish(e, m);
				return;
			}
		} else {
			return;
		}
	}
	r->stop_reason = PROBE_STOP_HOPLIMIT;
	r->hop_count = r->max_ttl;
	meas_finish(e, m);
}

/* What a reply at TTL t means for where the trace stops. */
static void classify(struct meas *m, uint8_t t, const struct rtrace_reply *rec)
{
	struct trace_state *ts = m->trace;
	int udp = m->res.trace.method == PROBE_TRACE_UDP_PARIS;
	uint8_t reason = 0, data = 0;

	switch (rec->kind) {
	case RTRACE_REPLY_ECHO:
		if (!udp && (!ts->dest_ttl || t < ts->dest_ttl))
			ts->dest_ttl = t;
		return;
	case RTRACE_REPLY_TIME_EXCEEDED:
		return;
	case RTRACE_REPLY_UNREACH:
		if (udp && rec->icmp_code == 3) { /* port unreachable: a host answered */
			if (!ts->dest_ttl || t < ts->dest_ttl)
				ts->dest_ttl = t;
			return;
		}
		reason = PROBE_STOP_UNREACH;
		data = rec->icmp_code;
		break;
	default:
		reason = PROBE_STOP_ICMP;
		data = rec->icmp_type;
		break;
	}
	if (!ts->stop_ttl || t < ts->stop_ttl) {
		ts->stop_ttl = t;
		ts->stop_reason = reason;
		ts->stop_data = data;
	}
}

static void trace_reply(struct probe_engine *e, struct meas *m, struct pslot *ps,
			const struct rtrace_reply *rec)
{
	struct probe_trace_result *r = &m->res.trace;
	struct trace_ttl *tt = &m->trace->ttl[ps->ttl];
	struct probe_trace_hop *h;

	tt->inflight = 0;
	tt->answered = 1;
	if (r->nhops < m->trace->caphops) {
		h = &r->hops[r->nhops++];
		memset(h, 0, sizeof(*h));
		h->addr = rec->saddr;
		h->probe_ttl = ps->ttl;
		h->probe_id = ps->attempt;
		h->probe_size = r->probe_size;
		h->tx_ns = ps->tx_ns;
		h->rtt_ns = rec->rx_ns > ps->tx_ns ? rec->rx_ns - ps->tx_ns : 0;
		h->reply_ttl = rec->ttl;
		h->reply_tos = rec->tos;
		h->reply_ipid = rec->ip_id;
		h->reply_size = rec->tot_len;
		h->icmp_type = rec->icmp_type;
		h->icmp_code = rec->icmp_code;
		h->flags = rec->flags;
		if (rec->flags & RTRACE_F_QUOTE) {
			h->icmp_q_ttl = rec->q.ttl;
			h->icmp_q_ipl = rec->q.tot_len;
		}
		if (m->cbs.response) {
			h->tx = engine_walltime(e, h->tx_ns);
			m->cbs.response(e, &m->res, h, m->cbs.ctx);
		}
	}
	classify(m, ps->ttl, rec);
	trace_check(e, m);
}

static void trace_timeout(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	struct trace_state *ts = m->trace;
	struct trace_ttl *tt = &ts->ttl[ps->ttl];
	uint8_t reason, data, stop = stop_point(ts, &reason, &data);

	tt->inflight = 0;
	if (!tt->answered) {
		if (tt->sent < m->res.trace.attempts && !(stop && ps->ttl >= stop)) {
			queue_push(ts, ps->ttl);
			meas_ready(e, m);
		} else {
			tt->exhausted = 1;
		}
	}
	trace_check(e, m);
}

static void trace_abort(struct probe_engine *e, struct meas *m)
{
	struct probe_trace_result *r = &m->res.trace;
	unsigned int t;

	for (t = r->first_ttl; t <= r->max_ttl; t++)
		if (m->trace->ttl[t].inflight) {
			meas_slot_abort(e, m, m->trace->ttl[t].slot);
			m->trace->ttl[t].inflight = 0;
		}
}

static int hop_cmp(const void *a, const void *b)
{
	const struct probe_trace_hop *x = a, *y = b;

	if (x->probe_ttl != y->probe_ttl)
		return x->probe_ttl - y->probe_ttl;
	return x->probe_id - y->probe_id;
}

static void trace_result(struct probe_engine *e, struct meas *m)
{
	struct probe_trace_result *r = &m->res.trace;
	uint32_t i, n = 0;

	(void)e;
	if (r->stop_reason == PROBE_STOP_HALTED && !r->hop_count)
		r->hop_count = r->max_ttl;
	r->start = engine_walltime(e, m->trace->start_ns ? m->trace->start_ns : sched_now_ns());
	qsort(r->hops, r->nhops, sizeof(*r->hops), hop_cmp);
	for (i = 0; i < r->nhops; i++) {
		if (r->hops[i].probe_ttl > r->hop_count)
			continue;
		r->hops[n] = r->hops[i];
		r->hops[n].tx = engine_walltime(e, r->hops[n].tx_ns);
		n++;
	}
	r->nhops = n;
}

static void trace_destroy(struct meas *m)
{
	free(m->res.trace.hops);
	free(m->trace);
}

const struct meas_ops trace_ops = {
	.next = trace_next,
	.sent = trace_sent,
	.reply = trace_reply,
	.timeout = trace_timeout,
	.result = trace_result,
	.abort = trace_abort,
	.destroy = trace_destroy,
};

int64_t probe_trace(struct probe_engine *e, const struct probe_trace_opts *o,
		    const struct probe_cbs *cbs)
{
	struct codec_probe_spec spec = {0};
	struct probe_trace_result *r;
	uint8_t first = o->first_ttl ? o->first_ttl : 1;
	uint8_t max = o->max_ttl ? o->max_ttl : TRACE_DEF_MAX;
	uint16_t size = o->size ? o->size : TRACE_DEF_SIZE;
	struct meas *m;
	unsigned int t;
	int err;

	if (!o->dst || first > max || o->method > PROBE_TRACE_UDP_PARIS ||
	    size < 20 + 8 + CODEC_PAYLOAD_MIN || size > 1500)
		return -EINVAL;
	spec.proto = o->method == PROBE_TRACE_UDP_PARIS ? CODEC_PROTO_UDP : CODEC_PROTO_ICMP;
	spec.paris = 1;
	spec.ttl = first;
	spec.payload_len = size - 28;
	err = engine_spec(e, o->dst, &spec);
	if (err)
		return err;
	m = meas_new(e, PROBE_TRACE, &trace_ops, cbs, &spec, &err);
	if (!m)
		return err;
	r = &m->res.trace;
	r->src = spec.saddr;
	r->dst = o->dst;
	r->method = o->method;
	r->first_ttl = first;
	r->max_ttl = max;
	r->attempts = o->attempts ? o->attempts : TRACE_DEF_ATTEMPTS;
	r->gaplimit = o->gaplimit ? o->gaplimit : TRACE_DEF_GAPLIMIT;
	r->probe_size = size;
	r->wait_ms = o->wait_ms ? o->wait_ms : TRACE_DEF_WAIT_MS;
	if (spec.proto == CODEC_PROTO_UDP) {
		r->sport = spec.sport;
		r->dport = spec.dport;
	} else {
		r->icmp_sum = m->tmpl->t.l4_csum;
	}
	m->wait_ms = r->wait_ms;
	m->trace = calloc(1, sizeof(*m->trace));
	r->hops = calloc((size_t)(max - first + 1) * r->attempts, sizeof(*r->hops));
	if (!m->trace || !r->hops) {
		meas_free(e, m);
		return -ENOMEM;
	}
	m->trace->caphops = (max - first + 1) * r->attempts;
	for (t = first; t <= max; t++)
		queue_push(m->trace, t);
	return meas_start(e, m, 1);
}
