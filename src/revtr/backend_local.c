// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * backend_local.c - the backend's own measurements on the probe engine: RR
 * and TS prespec pings and forward Paris traceroutes from the client, and the
 * listener that hands replies to agent-spoofed probes to their request (by
 * the cookie request id). Each finished measurement becomes the request's
 * result (rtb_req_answer); backend.c owns the requests' lifecycle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "rtrace/log.h"
#include "backend_int.h"

/* The RR slots and the count of stamped prespec entries of a reply, into req's result. */
static void res_opts(struct rtb_req *req, uint16_t flags, const struct rtrace_rr *rr,
		     const struct rtrace_ts *ts)
{
	if (flags & RTRACE_F_RR) {
		req->res.rr_count = rr->count > REVTR_RR_SLOTS ? REVTR_RR_SLOTS : rr->count;
		memcpy(req->res.rr, rr->addr, req->res.rr_count * sizeof(uint32_t));
	}
	if (flags & RTRACE_F_TS)
		req->res.ts_count = ts->count > req->rq.ts_n ? req->rq.ts_n : ts->count;
}

static void on_ping_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct rtb_req *req = ctx;
	const struct probe_ping_result *p = &r->ping;
	uint32_t i;

	(void)e;
	if (rtb_req_meas_done(req))
		return;
	req->res.probes = p->ping_sent;
	for (i = 0; i < p->nreplies; i++) {
		const struct probe_ping_reply *rp = &p->replies[i];

		if (rp->icmp_type != 0)
			continue;
		req->res.rtt_us = (uint32_t)((rp->rtt_ns + 500) / 1000);
		res_opts(req, rp->flags, &rp->rr, &rp->ts);
		rtb_req_answer(req, REVTR_RES_OK);
		return;
	}
	rtb_req_answer(req, r->error && r->error != -ECANCELED ? REVTR_RES_ERROR
							       : REVTR_RES_TIMEOUT);
}

static void on_trace_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct rtb_req *req = ctx;

	(void)e;
	if (rtb_req_meas_done(req))
		return;
	rtb_trace_hops(&r->trace, req->hops, &req->res);
	if (r->error && !req->res.trace_n)
		rtb_req_answer(req, REVTR_RES_ERROR);
	else
		rtb_req_answer(req, req->res.trace_n ? REVTR_RES_OK : REVTR_RES_TIMEOUT);
}

int rtb_local_start(struct rtb_req *req)
{
	struct rtb *b = req->b;
	const struct revtr_req *rq = &req->rq;
	int64_t id;

	if (rq->kind == REVTR_REQ_FWD_TRACE) {
		struct probe_trace_opts t = {
			.dst = rq->target,
			.method = PROBE_TRACE_ICMP_PARIS,
			.max_ttl = b->o.trace_max_ttl,
			.attempts = b->o.trace_attempts,
			.wait_ms = b->o.trace_wait_ms,
		};
		struct probe_cbs cbs = { .done = on_trace_done, .ctx = req };

		id = probe_trace(b->e, &t, &cbs);
		b->st.local_traces++;
	} else {
		struct probe_ping_opts p = {
			.dst = rq->target,
			.count = b->o.ping_count,
			.wait_ms = b->o.ping_wait_ms,
			.interval_ms = 100,
		};
		struct probe_cbs cbs = { .done = on_ping_done, .ctx = req };

		if (rq->kind == REVTR_REQ_RR_PING) {
			p.opt = PROBE_OPT_RR;
		} else {
			p.opt = PROBE_OPT_TSPRESPEC;
			p.ntsps = rq->ts_n;
			memcpy(p.tsps, rq->ts_addr, rq->ts_n * sizeof(uint32_t));
		}
		id = probe_ping(b->e, &p, &cbs);
		b->st.local_pings++;
	}
	if (id < 0)
		return (int)id;
	req->meas = id;
	return 0;
}

/* A reply to a probe an agent spoofed with our address. */
static void on_spoofed(struct probe_engine *e, const struct probe_result *r, const void *resp,
		       void *ctx)
{
	const struct probe_listen_reply *lr = resp;
	struct rtb *b = ctx;
	struct rtb_req *req = rtb_req_find(b, lr->req);

	(void)e;
	(void)r;
	b->st.spoofed_replies++;
	if (!req || req->id != lr->req || req->answered || !req->ag || lr->r.icmp_type != 0)
		return;
	if (req->rq.kind != REVTR_REQ_SPOOF_RR_PING && req->rq.kind != REVTR_REQ_TS_PRESPEC)
		return;
	if (lr->vp != req->rq.vp)
		rt_dbg("revtr: spoofed reply for request %u says VP %08x, expected %08x", req->id,
		       ntohl(lr->vp), ntohl(req->rq.vp));
	res_opts(req, lr->r.flags, &lr->r.rr, &lr->r.ts);
	rtb_req_answer(req, REVTR_RES_OK);
}

static void on_listen_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct rtb *b = ctx;

	(void)e;
	if (r->error && r->error != -ECANCELED)
		rt_warn("revtr: listener for spoofed replies stopped: %s", strerror(-r->error));
	b->listen_id = 0;
}

/* Listen for replies to probes agents spoof with our address (b->listen_id). */
void rtb_listen_start(struct rtb *b)
{
	struct probe_listen_opts lo = { 0 };
	struct probe_cbs cbs = { .done = on_listen_done, .response = on_spoofed, .ctx = b };
	int64_t id = probe_listen(b->e, &lo, &cbs);

	if (id < 0)
		rt_warn("revtr: no listener for spoofed replies: %s", strerror((int)-id));
	else
		b->listen_id = id;
}
