// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ping.c - the ping measurement: count ICMP echo probes, one per interval,
 * optionally with Record Route or a Timestamp option, optionally with a
 * spoofed source (then the replies go to that source: the measurement ends
 * once the last probe is written, and the probes carry RTRACE_SPOOF_ICMP_ID,
 * our address as cookie.spoofer and the client's request id as cookie.req).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/log.h"
#include "internal.h"

#define PING_DEF_COUNT 4
#define PING_DEF_TTL 64
#define PING_DEF_WAIT_MS 1000
#define PING_DEF_INTERVAL_MS 1000
#define PING_BASE_SIZE 84 /* IP 20 + ICMP 8 + 56 payload, as ping and scamper */

static void ping_wake(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct meas *m = ctx;

	(void)s;
	(void)t;
	m->ping.may_send = 1;
	meas_ready(m->e, m);
}

static int ping_next(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	struct probe_ping_result *r = &m->res.ping;

	(void)e;
	if (!m->ping.may_send || m->ping.next_seq >= r->count)
		return -EAGAIN;
	ps->seq = m->ping.next_seq++;
	ps->ttl = r->ttl;
	m->ping.may_send = 0;
	return 0;
}

static void ping_check_done(struct probe_engine *e, struct meas *m)
{
	if (m->ping.next_seq >= m->res.ping.count && !m->inflight)
		meas_finish(e, m);
}

static void ping_sent(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	struct probe_ping_result *r = &m->res.ping;

	if (r->ping_sent++ == 0)
		m->ping.start_ns = ps->tx_ns;
	if (m->ping.next_seq < r->count) {
		if (r->interval_ms)
			sched_timer_arm(engine_sched(e), &m->wake,
					ps->tx_ns + r->interval_ms * 1000000ull);
		else
			m->ping.may_send = 1;
	} else if (m->spoofed) {
		meas_finish(e, m);
	}
	if (!m->ping.may_send)
		meas_idle(e, m);
}

static void ping_reply(struct probe_engine *e, struct meas *m, struct pslot *ps,
		       const struct rtrace_reply *rec)
{
	struct probe_ping_result *r = &m->res.ping;
	struct probe_ping_reply *p;

	if (r->nreplies < r->count) {
		p = &r->replies[r->nreplies++];
		memset(p, 0, sizeof(*p));
		reply_from_record(p, rec);
		p->seq = ps->seq;
		p->probe_ipid = ps->ip_id;
		p->tx_ns = ps->tx_ns;
		p->rtt_ns = p->rx_ns > p->tx_ns ? p->rx_ns - p->tx_ns : 0;
		if (m->cbs.response) {
			p->tx = engine_walltime(e, p->tx_ns);
			p->rx = engine_walltime(e, p->rx_ns);
			m->cbs.response(e, &m->res, p, m->cbs.ctx);
		}
	}
	ping_check_done(e, m);
}

static void ping_timeout(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	(void)ps;
	ping_check_done(e, m);
}

static void ping_result(struct probe_engine *e, struct meas *m)
{
	struct probe_ping_result *r = &m->res.ping;
	uint32_t i;

	(void)e;
	r->start = engine_walltime(e, m->ping.start_ns ? m->ping.start_ns : sched_now_ns());
	for (i = 0; i < r->nreplies; i++) {
		r->replies[i].tx = engine_walltime(e, r->replies[i].tx_ns);
		r->replies[i].rx = engine_walltime(e, r->replies[i].rx_ns);
	}
}

static void ping_destroy(struct meas *m)
{
	if (m->res.ping.replies != &m->reply1)
		free(m->res.ping.replies);
}

const struct meas_ops ping_ops = {
	.next = ping_next,
	.sent = ping_sent,
	.reply = ping_reply,
	.timeout = ping_timeout,
	.result = ping_result,
	.destroy = ping_destroy,
};

/* IP option bytes of a ping option (what codec builds). */
static int opt_len(const struct probe_ping_opts *o)
{
	switch (o->opt) {
	case PROBE_OPT_NONE:
		return 0;
	case PROBE_OPT_RR:
	case PROBE_OPT_TSONLY:
		return 40;
	case PROBE_OPT_TSANDADDR:
		return 36;
	case PROBE_OPT_TSPRESPEC:
		if (o->ntsps < 1 || o->ntsps > RTRACE_TS_PAIRS)
			return -EINVAL;
		return 4 + 8 * o->ntsps;
	}
	return -EINVAL;
}

static const enum codec_opt opt_map[] = {
	[PROBE_OPT_NONE] = CODEC_OPT_NONE,
	[PROBE_OPT_RR] = CODEC_OPT_RR,
	[PROBE_OPT_TSONLY] = CODEC_OPT_TS_ONLY,
	[PROBE_OPT_TSANDADDR] = CODEC_OPT_TS_ADDR,
	[PROBE_OPT_TSPRESPEC] = CODEC_OPT_TS_PRESPEC,
};

int64_t probe_ping(struct probe_engine *e, const struct probe_ping_opts *o,
		   const struct probe_cbs *cbs)
{
	struct codec_probe_spec spec = {0};
	struct probe_ping_result *r;
	int olen = opt_len(o), size, err;
	struct meas *m;

	if (!o->dst || olen < 0)
		return -EINVAL;
	size = o->size ? o->size : PING_BASE_SIZE + olen;
	if (size < 20 + olen + 8 + CODEC_PAYLOAD_MIN || size > 1500)
		return -EINVAL;
	spec.proto = CODEC_PROTO_ICMP;
	spec.opt = opt_map[o->opt];
	spec.ttl = o->ttl ? o->ttl : PING_DEF_TTL;
	spec.payload_len = size - 20 - olen - 8;
	memcpy(spec.ts_addr, o->tsps, sizeof(spec.ts_addr));
	spec.ts_naddr = o->opt == PROBE_OPT_TSPRESPEC ? o->ntsps : 0;
	if (o->spoof_src) {
		spec.saddr = o->spoof_src;
		spec.icmp_id = RTRACE_SPOOF_ICMP_ID;
		spec.req = o->spoof_req;
	}
	err = engine_spec(e, o->dst, &spec);
	if (err)
		return err;
	m = meas_new(e, PROBE_PING, &ping_ops, cbs, &spec, &err);
	if (!m)
		return err;
	r = &m->res.ping;
	r->src = spec.saddr;
	r->dst = o->dst;
	r->count = o->count ? o->count : PING_DEF_COUNT;
	r->probe_size = size;
	r->ttl = spec.ttl;
	r->opt = o->opt;
	memcpy(r->tsps, o->tsps, sizeof(r->tsps));
	r->ntsps = spec.ts_naddr;
	r->spoofed = !!o->spoof_src;
	r->wait_ms = o->wait_ms ? o->wait_ms : PING_DEF_WAIT_MS;
	r->interval_ms = o->interval_ms ? o->interval_ms : PING_DEF_INTERVAL_MS;
	m->wait_ms = r->wait_ms;
	m->spoofed = r->spoofed;
	m->ping.spoof_req = o->spoof_req;
	m->ping.may_send = 1;
	sched_timer_init(&m->wake, ping_wake, m);
	if (!m->spoofed) {
		/* entries zeroed when filled; a sweep's one-probe ping allocates nothing */
		r->replies = r->count == 1 ? &m->reply1 : malloc(r->count * sizeof(*r->replies));
		if (!r->replies) {
			meas_free(e, m);
			return -ENOMEM;
		}
	}
	return meas_start(e, m, 1);
}
