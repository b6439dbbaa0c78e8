// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agents.c - the backend's pool of agents (rtraced) over the control link:
 * connect and exchange HELLO with each (bounded by connect_ms; an agent that
 * is down or refuses us stays down with the reason kept), send each request
 * as PING / TRACE messages (an atlas request is a TRACE plus an RR echo to the
 * client), respect the agent's in-flight limit with a wait queue, read
 * RESULT / ERROR messages from the event loop (the TLS socket is registered
 * with the probe engine's scheduler) and route them by request id, and fail
 * every request of an agent whose connection dies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "rtrace/log.h"
#include "rtrace/tlslink.h"
#include "backend_int.h"

#define SEND_MS 2000
#define TRACE_GAPLIMIT 5

struct rtb_agent {
	struct rtb *b;
	struct rtb_agent_info info;	/* where, name, addr, caps, up, error, counters */
	struct tls_client *c;
	int fd;				/* registered with the loop, -1 none */
	unsigned int inflight;		/* ctl requests sent and not released */
	unsigned int max_inflight;	/* the agent's limit (HELLO), 0 none */
	struct rtb_req *qhead, *qtail;	/* requests waiting for room */
};

bool rtb_agent_up(const struct rtb_agent *ag)
{
	return ag->info.up;
}

void rtb_agent_count_fail(struct rtb_agent *ag)
{
	ag->info.failed++;
}

size_t rtb_nagents(const struct rtb *b)
{
	return b->nagents;
}

void rtb_agent_get(const struct rtb *b, size_t i, struct rtb_agent_info *out)
{
	*out = b->agents[i].info;
}

struct rtb_agent *rtb_agent_by_addr(struct rtb *b, uint32_t addr)
{
	size_t i;

	for (i = 0; i < b->nagents; i++)
		if (b->agents[i].info.addr == addr)
			return &b->agents[i];
	return NULL;
}

size_t rtb_agents(const struct rtb *b, struct revtr_agent *out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < b->nagents && n < max; i++) {
		const struct rtb_agent_info *in = &b->agents[i].info;

		if (!in->up || !in->addr)
			continue;
		out[n].addr = in->addr;
		out[n].flags = 0;
		if ((in->caps & CTL_CAP_SPOOF) && (in->caps & CTL_CAP_PING))
			out[n].flags |= REVTR_AGENT_SPOOF;
		if (in->caps & CTL_CAP_TRACE)
			out[n].flags |= REVTR_AGENT_TRACE;
		n++;
	}
	return n;
}

/* ---- requests -------------------------------------------------------------------- */

static int send_msg(struct rtb_agent *ag, const struct ctl_msg *m)
{
	int err = tls_client_send(ag->c, m, SEND_MS);

	if (err)
		rt_warn("revtr: %s: send %s: %s", ag->info.where, ctl_type_str(m->type),
			tls_client_error(ag->c));
	return err;
}

static int send_trace(struct rtb_agent *ag, const struct rtb_req *req)
{
	const struct rtb_opts *o = &ag->b->o;
	struct ctl_msg m = { .type = CTL_TRACE };

	/* AGENT_TRACE names the agent's hop as target; both trace toward the client */
	m.u.trace.req_id = req->id;
	m.u.trace.target = req->rq.src;
	m.u.trace.first_ttl = 1;
	m.u.trace.max_ttl = o->trace_max_ttl > CTL_TTL_MAX ? CTL_TTL_MAX : o->trace_max_ttl;
	m.u.trace.attempts = o->trace_attempts;
	m.u.trace.gap_limit = TRACE_GAPLIMIT;
	m.u.trace.method = CTL_TRACE_ICMP_PARIS;
	m.u.trace.wait_ms = (uint16_t)(o->trace_wait_ms > 60000 ? 60000 : o->trace_wait_ms);
	return send_msg(ag, &m);
}

/* id: the ctl request id; spoof: with the client's source and cookie id. */
static int send_ping(struct rtb_agent *ag, const struct rtb_req *req, uint32_t id, bool spoof)
{
	const struct rtb_opts *o = &ag->b->o;
	struct ctl_msg m = { .type = CTL_PING };
	struct ctl_ping *p = &m.u.ping;

	p->req_id = id;
	/* the atlas RR echo goes to the client (its forward slots name the routers) */
	p->target = req->rq.kind == REVTR_REQ_ATLAS_TRACE ? req->rq.src : req->rq.target;
	if (spoof) {
		p->spoof_src = req->rq.src;
		p->cookie_req = req->id;
	}
	p->count = o->ping_count;
	p->wait_ms = (uint16_t)(o->ping_wait_ms > 60000 ? 60000 : o->ping_wait_ms);
	if (req->rq.kind == REVTR_REQ_TS_PRESPEC) {
		p->ts_mode = CTL_TS_PRESPEC;
		p->ts_naddr = req->rq.ts_n;
		memcpy(p->ts_addr, req->rq.ts_addr, req->rq.ts_n * sizeof(uint32_t));
	} else {
		p->rr = 1;
	}
	return send_msg(ag, &m);
}

/* Bits of rtb_req.parts: the ctl requests (id, id + 1) not final yet. */
static unsigned int parts_of(const struct rtb_req *req)
{
	return req->rq.kind == REVTR_REQ_ATLAS_TRACE && !req->b->o.no_atlas_rr ? 3 : 1;
}

static unsigned int nparts(unsigned int parts)
{
	return (parts & 1) + ((parts >> 1) & 1);
}

/* One ctl request of the agent is over. */
static void part_done(struct rtb_agent *ag, struct rtb_req *req, unsigned int bit)
{
	if (!(req->parts & bit))
		return;
	req->parts &= ~bit;
	if (ag->inflight)
		ag->inflight--;
}

/* Send req now; its deadline starts. */
static int agent_send(struct rtb_agent *ag, struct rtb_req *req)
{
	struct rtb *b = ag->b;
	int err;

	switch (req->rq.kind) {
	case REVTR_REQ_AGENT_TRACE:
	case REVTR_REQ_ATLAS_TRACE:
		err = send_trace(ag, req);
		if (!err && parts_of(req) == 3)
			err = send_ping(ag, req, req->id + 1, false);
		break;
	case REVTR_REQ_SPOOF_RR_PING:
	case REVTR_REQ_TS_PRESPEC:
		err = send_ping(ag, req, req->id, true);
		break;
	default:
		err = -EINVAL;
	}
	if (err)
		return err;
	req->parts = (uint8_t)parts_of(req);
	ag->inflight += nparts(req->parts);
	ag->info.requests++;
	b->st.agent_reqs += nparts(req->parts);
	return sched_timer_arm(b->s, &req->timer, sched_now_ns() + b->o.agent_req_ms * 1000000ull);
}

static bool has_room(const struct rtb_agent *ag, const struct rtb_req *req)
{
	return !ag->max_inflight || ag->inflight + nparts(parts_of(req)) <= ag->max_inflight;
}

int rtb_agent_start(struct rtb_req *req)
{
	struct rtb_agent *ag = req->ag;

	if (!ag->info.up)
		return -ENOTCONN;
	if (has_room(ag, req) && !ag->qhead)
		return agent_send(ag, req);
	req->queued = true;
	req->qnext = NULL;
	if (ag->qtail)
		ag->qtail->qnext = req;
	else
		ag->qhead = req;
	ag->qtail = req;
	return 0;
}

static void dequeue(struct rtb_agent *ag, struct rtb_req *req)
{
	struct rtb_req **pp;

	for (pp = &ag->qhead; *pp; pp = &(*pp)->qnext) {
		if (*pp == req) {
			*pp = req->qnext;
			break;
		}
	}
	ag->qtail = NULL;
	for (req = ag->qhead; req; req = req->qnext)
		ag->qtail = req;
}

/* Send queued requests while there is room (a failed send answers ERROR). */
static void drain(struct rtb_agent *ag)
{
	while (ag->info.up && ag->qhead && has_room(ag, ag->qhead)) {
		struct rtb_req *req = ag->qhead;

		dequeue(ag, req);
		req->queued = false;
		if (agent_send(ag, req))
			rtb_req_answer(req, REVTR_RES_ERROR);
	}
}

void rtb_agent_release(struct rtb_req *req)
{
	struct rtb_agent *ag = req->ag;
	struct ctl_msg m = { .type = CTL_CANCEL };
	unsigned int bit;

	if (req->queued) {
		dequeue(ag, req);
		req->queued = false;
		return;
	}
	/* stop what still runs on the agent */
	for (bit = 1; bit <= 2; bit <<= 1) {
		if (!(req->parts & bit))
			continue;
		part_done(ag, req, bit);
		if (!ag->info.up)
			continue;
		m.u.cancel.req_id = req->id + (bit == 2);
		if (tls_client_send(ag->c, &m, SEND_MS))
			rt_dbg("revtr: %s: cancel %u: %s", ag->info.where, m.u.cancel.req_id,
			       tls_client_error(ag->c));
	}
	drain(ag);
}

/* ---- messages from the agent ------------------------------------------------------ */

static void on_result(struct rtb_agent *ag, const struct ctl_result *r)
{
	struct rtb_req *req = rtb_req_find(ag->b, r->req_id);
	bool rr_part = r->req_id & 1;
	struct revtr_result tmp;
	int ret;

	if (!req || req->ag != ag || req->answered || !(req->parts & (rr_part ? 2 : 1)))
		return;
	if (r->len) {
		switch (req->rq.kind) {
		case REVTR_REQ_AGENT_TRACE:
		case REVTR_REQ_ATLAS_TRACE:
			if (rr_part) {
				memset(&tmp, 0, sizeof(tmp));
				if (rtb_json_ping(r->text, r->len, &tmp) > 0) {
					req->res.rr_count = tmp.rr_count;
					memcpy(req->res.rr, tmp.rr, sizeof(tmp.rr));
				}
			} else if (rtb_json_trace(r->text, r->len, req->hops, &req->res)) {
				rt_warn("revtr: %s: request %u: unreadable trace record",
					ag->info.where, req->id);
			}
			break;
		default:
			/* spoofed pings: the agent sees no replies; they come to us */
			memset(&tmp, 0, sizeof(tmp));
			ret = rtb_json_ping(r->text, r->len, &tmp);
			if (ret >= 0 && tmp.probes)
				req->res.probes = tmp.probes;
			break;
		}
	}
	if (!r->final)
		return;
	part_done(ag, req, rr_part ? 2 : 1);
	if (req->parts)
		return;
	if (req->rq.kind == REVTR_REQ_SPOOF_RR_PING || req->rq.kind == REVTR_REQ_TS_PRESPEC) {
		/* probes are out: the reply may still be on its way to us */
		req->sent = true;
		sched_timer_arm(ag->b->s, &req->timer,
				sched_now_ns() + ag->b->o.spoof_wait_ms * 1000000ull);
		drain(ag);
		return;
	}
	rtb_req_answer(req, req->res.trace_n ? REVTR_RES_OK : REVTR_RES_ERROR);
}

static void agent_down(struct rtb_agent *ag, const char *why);

static void on_error(struct rtb_agent *ag, const struct ctl_error *e)
{
	struct rtb_req *req;
	char why[CTL_ERRMSG_MAX + 64];

	if (!e->req_id) {
		snprintf(why, sizeof(why), "agent error: %s: %s", ctl_err_str(e->code), e->msg);
		agent_down(ag, why);
		return;
	}
	req = rtb_req_find(ag->b, e->req_id);
	if (!req || req->ag != ag || req->answered)
		return;
	rt_info("revtr: %s refused %s request %u: %s: %s", ag->info.where,
		revtr_req_kind_name(req->rq.kind), e->req_id, ctl_err_str(e->code), e->msg);
	if ((e->req_id & 1) && (req->parts & 1)) {
		/* only the atlas RR echo failed: the trace still counts */
		part_done(ag, req, 2);
		return;
	}
	rtb_req_answer(req, REVTR_RES_ERROR);
}

static void on_readable(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct rtb_agent *ag = ctx;
	struct ctl_msg m;
	int r;

	(void)s;
	(void)fd;
	(void)events;
	while (ag->info.up) {
		r = tls_client_recv(ag->c, &m, 0);
		if (r == -EAGAIN)
			return;
		if (r) {
			agent_down(ag, tls_client_error(ag->c));
			return;
		}
		switch (m.type) {
		case CTL_RESULT:
			on_result(ag, &m.u.result);
			break;
		case CTL_ERROR:
			on_error(ag, &m.u.error);
			break;
		case CTL_KEEPALIVE:
			break;
		default:
			rt_warn("revtr: %s: unexpected %s message, ignored", ag->info.where,
				ctl_type_str(m.type));
		}
	}
}

/* The connection is gone: every request of the agent fails. */
static void agent_down(struct rtb_agent *ag, const char *why)
{
	struct rtb *b = ag->b;
	struct rtb_req *r;

	if (!ag->info.up)
		return;
	rt_warn("revtr: agent %s is down: %s", ag->info.where, why);
	ag->info.up = 0;
	snprintf(ag->info.error, sizeof(ag->info.error), "%s", why);
	if (ag->fd >= 0)
		sched_del_fd(b->s, ag->fd);
	ag->fd = -1;
	/* answering may start other requests: restart the walk after each */
	for (;;) {
		for (r = b->reqs; r && r->ag != ag; r = r->next)
			;
		if (!r)
			break;
		rtb_req_answer(r, REVTR_RES_ERROR);
	}
}

/* ---- connect ---------------------------------------------------------------------- */

static void agent_connect(struct rtb *b, struct rtb_agent *ag, const char *myname)
{
	struct ctl_hello mine = { .version = CTL_VERSION, .caps = 0 }, theirs;
	char err[256];
	int r;

	r = tls_client_connect(&ag->c, b->tls, ag->info.where, NULL, (int)b->o.connect_ms, err,
			       sizeof(err));
	if (r) {
		snprintf(ag->info.error, sizeof(ag->info.error), "%s", err);
		return;
	}
	mine.addr = b->client;
	snprintf(mine.name, sizeof(mine.name), "%s", myname);
	r = tls_client_hello(ag->c, &mine, &theirs, (int)b->o.connect_ms);
	if (r) {
		snprintf(ag->info.error, sizeof(ag->info.error), "%s", tls_client_error(ag->c));
		tls_client_close(ag->c);
		ag->c = NULL;
		return;
	}
	snprintf(ag->info.name, sizeof(ag->info.name), "%s", theirs.name);
	ag->info.addr = theirs.addr;
	ag->info.caps = theirs.caps;
	ag->max_inflight = theirs.max_inflight;
	if (!theirs.addr) {
		snprintf(ag->info.error, sizeof(ag->info.error),
			 "agent %s: its HELLO gives no probing address", ag->info.where);
		tls_client_close(ag->c);
		ag->c = NULL;
		return;
	}
	ag->fd = tls_client_fd(ag->c);
	if (sched_add_fd(b->s, ag->fd, EPOLLIN, on_readable, ag)) {
		snprintf(ag->info.error, sizeof(ag->info.error), "agent %s: cannot watch its socket",
			 ag->info.where);
		tls_client_close(ag->c);
		ag->c = NULL;
		ag->fd = -1;
		return;
	}
	ag->info.up = 1;
}

int rtb_agents_open(struct rtb *b, char *err, size_t errlen)
{
	size_t i, j;
	int r;

	r = tls_ctx_new(&b->tls, TLS_CLIENT, b->o.certdir, b->o.name, err, errlen);
	if (r)
		return r;
	b->agents = calloc(b->o.nagents, sizeof(*b->agents));
	if (!b->agents) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->nagents = b->o.nagents;
	for (i = 0; i < b->nagents; i++) {
		struct rtb_agent *ag = &b->agents[i];

		ag->b = b;
		ag->fd = -1;
		snprintf(ag->info.where, sizeof(ag->info.where), "%s", b->o.agents[i]);
		agent_connect(b, ag, b->o.name);
		if (!ag->info.up) {
			rt_warn("revtr: agent %s not used: %s", ag->info.where, ag->info.error);
			continue;
		}
		for (j = 0; j < i; j++)
			if (b->agents[j].info.up && b->agents[j].info.addr == ag->info.addr)
				break;
		if (j < i) {
			rt_warn("revtr: agent %s is %s again, not used twice", ag->info.where,
				b->agents[j].info.where);
			agent_down(ag, "duplicate of another agent");
			continue;
		}
		rt_info("revtr: agent %s (%s) up: caps 0x%x", ag->info.where, ag->info.name,
			ag->info.caps);
	}
	return 0;
}

void rtb_agents_close(struct rtb *b)
{
	size_t i;

	for (i = 0; i < b->nagents; i++) {
		struct rtb_agent *ag = &b->agents[i];

		if (ag->fd >= 0)
			sched_del_fd(b->s, ag->fd);
		tls_client_close(ag->c);
	}
	free(b->agents);
	b->agents = NULL;
	b->nagents = 0;
	tls_ctx_free(b->tls);
	b->tls = NULL;
}
