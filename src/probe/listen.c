// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * listen.c - the listen measurement: report replies to probes that vantage
 * points spoofed with our address (records the classifier marked
 * RTRACE_F_SPOOFED), for a duration, optionally only one request id, up to
 * a number of replies. Each reply goes to the response callback as a struct
 * probe_listen_reply; the done callback gets the tally.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static void listen_end(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct meas *m = ctx;

	(void)s;
	(void)t;
	meas_finish(m->e, m);
}

int listen_deliver(struct probe_engine *e, struct meas *listeners, const struct rtrace_reply *r)
{
	struct probe_listen_reply lr;
	struct meas *m, *next;
	int n = 0;

	memset(&lr, 0, sizeof(lr));
	lr.vp = r->cookie.spoofer;
	lr.req = r->cookie.req;
	lr.aux = r->cookie.aux;
	lr.to = r->daddr;
	reply_from_record(&lr.r, r);
	lr.r.seq = r->icmp_seq;
	lr.r.rx = engine_walltime(e, r->rx_ns);
	for (m = listeners; m; m = next) {
		struct probe_listen_result *res = &m->res.listen;

		next = m->listen.lnext;
		if (m->done)
			continue;
		if (m->listen.match_req && lr.req != m->listen.req)
			continue;
		res->nreplies++;
		n++;
		if (m->cbs.response)
			m->cbs.response(e, &m->res, &lr, m->cbs.ctx);
		if (m->listen.max && res->nreplies >= m->listen.max)
			meas_finish(e, m);
	}
	return n;
}

static int listen_next(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	(void)e;
	(void)m;
	(void)ps;
	return -EAGAIN;
}

static void listen_none(struct probe_engine *e, struct meas *m, struct pslot *ps)
{
	(void)e;
	(void)m;
	(void)ps;
}

static void listen_reply(struct probe_engine *e, struct meas *m, struct pslot *ps,
			 const struct rtrace_reply *r)
{
	(void)e;
	(void)m;
	(void)ps;
	(void)r;
}

static void listen_result(struct probe_engine *e, struct meas *m)
{
	engine_listener_del(e, m);
	m->res.listen.start = engine_walltime(e, m->listen.start_ns);
	m->res.listen.duration_ms = (sched_now_ns() - m->listen.start_ns) / 1000000;
}

const struct meas_ops listen_ops = {
	.next = listen_next,
	.reply = listen_reply,
	.timeout = listen_none,
	.result = listen_result,
};

int64_t probe_listen(struct probe_engine *e, const struct probe_listen_opts *o,
		     const struct probe_cbs *cbs)
{
	struct meas *m;
	int err = 0;

	if (!engine_accepts_spoofed(e))
		return -EOPNOTSUPP;
	m = meas_new(e, PROBE_LISTEN, &listen_ops, cbs, NULL, &err);
	if (!m)
		return err;
	m->res.listen.addr = probe_engine_src(e);
	m->res.listen.duration_ms = o->duration_ms;
	m->listen.req = o->req;
	m->listen.match_req = o->match_req;
	m->listen.max = o->max_replies;
	m->listen.start_ns = sched_now_ns();
	sched_timer_init(&m->wake, listen_end, m);
	if (o->duration_ms)
		sched_timer_arm(engine_sched(e), &m->wake,
				m->listen.start_ns + o->duration_ms * 1000000ull);
	engine_listener_add(e, m);
	return meas_start(e, m, 0);
}
