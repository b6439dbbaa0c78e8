// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * backend.c - the reverse-traceroute backend: drives reverse traces (jobs)
 * by turning each request of the core into a measurement, locally through
 * the probe engine (RR / TS prespec pings, forward Paris traceroutes) or on
 * an agent (agents.c), and each finished measurement back into a result.
 * Replies to probes agents spoof with our address arrive through one probe
 * engine listener and find their request by the cookie request id, which is
 * the request's backend id. Every request is answered exactly once; requests
 * still running when their job ends are orphaned and cleaned up. No request
 * is answered from inside rtb_submit, and done callbacks run from the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/log.h"
#include "backend_int.h"

#define PUMP_BATCH 16

static void rtb_pump(struct rtb_job *job);

/* ---- request table ------------------------------------------------------------- */

static struct rtb_req **bucket(struct rtb *b, uint32_t id)
{
	return &b->hash[(id >> 1) & (RTB_HASH - 1)];
}

struct rtb_req *rtb_req_find(struct rtb *b, uint32_t id)
{
	struct rtb_req *r;

	id &= ~1u;
	for (r = *bucket(b, id); r; r = r->hnext)
		if (r->id == id)
			return r;
	return NULL;
}

static void list_del(struct rtb_req **head, struct rtb_req *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else if (*head == req)
		*head = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->next = req->prev = NULL;
}

static void list_add(struct rtb_req **head, struct rtb_req *req)
{
	req->prev = NULL;
	req->next = *head;
	if (*head)
		(*head)->prev = req;
	*head = req;
}

static void req_timeout(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct rtb_req *req = ctx;

	(void)s;
	(void)t;
	rtb_req_answer(req, REVTR_RES_TIMEOUT);
}

static struct rtb_req *req_new(struct rtb_job *job, const struct revtr_req *rq)
{
	struct rtb *b = job->b;
	struct rtb_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->b = b;
	req->job = job;
	req->rq = *rq;
	req->t0 = sched_now_ns();
	b->next_id += 2;
	if (!b->next_id)
		b->next_id = 2;
	req->id = b->next_id;
	sched_timer_init(&req->timer, req_timeout, req);
	req->hnext = *bucket(b, req->id);
	*bucket(b, req->id) = req;
	list_add(&b->reqs, req);
	return req;
}

/* Keep req (no job, no id) until the engine's done callback frees it. */
static void req_keep_orphan(struct rtb_req *req)
{
	req->job = NULL;
	list_add(&req->b->orphans, req);
}

/* The engine is done with req's measurement: free req if nothing else holds it. */
bool rtb_req_meas_done(struct rtb_req *req)
{
	req->meas = 0;
	if (req->job)
		return false;
	list_del(&req->b->orphans, req);
	free(req);
	return true;
}

/* Take req out of the list and the hash: no reply finds it any more. */
static void req_unlink(struct rtb_req *req)
{
	struct rtb *b = req->b;
	struct rtb_req **pp;

	for (pp = bucket(b, req->id); *pp; pp = &(*pp)->hnext) {
		if (*pp == req) {
			*pp = req->hnext;
			break;
		}
	}
	list_del(&b->reqs, req);
	sched_timer_cancel(b->s, &req->timer);
}

static void log_req(const struct rtb_req *req, const char *what)
{
	char t[16], v[16];

	inet_ntop(AF_INET, &req->rq.target, t, sizeof(t));
	inet_ntop(AF_INET, &req->rq.vp, v, sizeof(v));
	rt_dbg("revtr: %8.3f ms %s %u %s %s%s%s rr %u ts %u trace %u",
	       (double)(sched_now_ns() - req->t0) / 1e6, what, req->id,
	       revtr_req_kind_name(req->rq.kind), t, req->rq.vp ? " via " : "",
	       req->rq.vp ? v : "", req->res.rr_count, req->res.ts_count, req->res.trace_n);
}

void rtb_req_answer(struct rtb_req *req, enum revtr_res_status status)
{
	struct rtb_job *job = req->job;
	int err;

	if (req->answered)
		return;
	req->answered = true;
	req->res.status = status;
	if (rt_log_get_level() >= RT_LOG_DEBUG)
		log_req(req, status == REVTR_RES_OK ? "ok" : status == REVTR_RES_TIMEOUT ? "timeout"
											  : "error");
	if (status == REVTR_RES_TIMEOUT)
		req->b->st.timeouts++;
	else if (status == REVTR_RES_ERROR)
		req->b->st.errors++;
	if (req->ag) {
		if (status != REVTR_RES_OK)
			rtb_agent_count_fail(req->ag);
		rtb_agent_release(req);
	}
	req_unlink(req);
	if (job) {
		err = revtr_on_result(job->rt, req->rq.id, &req->res);
		if (err && err != -ENOENT)
			rt_warn("revtr: result of %s request %u refused: %s",
				revtr_req_kind_name(req->rq.kind), req->rq.id, strerror(-err));
	}
	if (req->meas)
		req_keep_orphan(req); /* the engine's done callback frees it */
	else
		free(req);
	if (job)
		rtb_pump(job);
}

/* The job no longer wants req: drop it without a result. */
static void req_orphan(struct rtb_req *req)
{
	struct rtb *b = req->b;
	int64_t meas = req->meas;

	req->answered = true;
	if (req->ag)
		rtb_agent_release(req);
	req_unlink(req);
	if (!meas) {
		free(req);
		return;
	}
	req_keep_orphan(req);
	/* done comes (maybe even now) and frees req */
	if (probe_cancel(b->e, (uint64_t)meas))
		rt_dbg("revtr: cancel of measurement %lld: already finished", (long long)meas);
}

/* ---- jobs ---------------------------------------------------------------------- */

static bool needs_agent(const struct revtr_req *rq)
{
	return rq->vp != 0 && rq->kind != REVTR_REQ_RR_PING && rq->kind != REVTR_REQ_FWD_TRACE;
}

static void req_start(struct rtb_job *job, const struct revtr_req *rq)
{
	struct rtb *b = job->b;
	struct rtb_req *req = req_new(job, rq);
	char ip[16];
	int err;

	if (!req) {
		struct revtr_result res = { .status = REVTR_RES_ERROR };

		revtr_on_result(job->rt, rq->id, &res);
		return;
	}
	if (rt_log_get_level() >= RT_LOG_DEBUG)
		log_req(req, "start");
	if (needs_agent(rq)) {
		req->ag = rtb_agent_by_addr(b, rq->vp);
		if (!req->ag || !rtb_agent_up(req->ag)) {
			inet_ntop(AF_INET, &rq->vp, ip, sizeof(ip));
			rt_dbg("revtr: %s for agent %s: agent is down", revtr_req_kind_name(rq->kind),
			       ip);
			req->ag = NULL;
			rtb_req_answer(req, REVTR_RES_ERROR);
			return;
		}
		err = rtb_agent_start(req);
	} else {
		err = rtb_local_start(req);
	}
	if (err) {
		inet_ntop(AF_INET, &rq->target, ip, sizeof(ip));
		rt_info("revtr: %s to %s: %s", revtr_req_kind_name(rq->kind), ip, strerror(-err));
		rtb_req_answer(req, REVTR_RES_ERROR);
	}
}

static void job_done_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct rtb_job *job = ctx;
	struct rtb *b = job->b;

	(void)s;
	(void)t;
	if (job->prev)
		job->prev->next = job->next;
	else
		b->jobs = job->next;
	if (job->next)
		job->next->prev = job->prev;
	b->njobs--;
	if (job->done)
		job->done(b, job->rt, job->ctx);
	free(job);
}

/* Orphan every live request of job. */
static void job_drop_reqs(struct rtb_job *job)
{
	struct rtb_req *r, *next;

	for (r = job->b->reqs; r; r = next) {
		next = r->next;
		if (r->job == job)
			req_orphan(r);
	}
}

static void rtb_pump(struct rtb_job *job)
{
	struct revtr_req rq[PUMP_BATCH];
	int n, i;

	if (job->in_pump || job->finished)
		return;
	job->in_pump = true;
	while (!revtr_done(job->rt) && (n = revtr_next_requests(job->rt, rq, PUMP_BATCH)) > 0)
		for (i = 0; i < n && !revtr_done(job->rt); i++)
			req_start(job, &rq[i]);
	job->in_pump = false;
	if (revtr_done(job->rt) && !job->finished) {
		job->finished = true;
		job_drop_reqs(job);
		sched_timer_arm(job->b->s, &job->done_timer, 0);
	}
}

static void job_kick(struct sched *s, struct sched_timer *t, void *ctx)
{
	(void)s;
	(void)t;
	rtb_pump(ctx);
}

int rtb_submit(struct rtb *b, struct revtr *rt, rtb_done_cb done, void *ctx)
{
	struct rtb_job *job;

	if (!b || !rt)
		return -EINVAL;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->b = b;
	job->rt = rt;
	job->done = done;
	job->ctx = ctx;
	sched_timer_init(&job->done_timer, job_done_cb, job);
	sched_timer_init(&job->kick, job_kick, job);
	job->next = b->jobs;
	if (b->jobs)
		b->jobs->prev = job;
	b->jobs = job;
	b->njobs++;
	/* start from the loop so that nothing is answered inside rtb_submit */
	if (sched_timer_arm(b->s, &job->kick, 0)) {
		rtb_cancel(b, rt);
		return -ENOMEM;
	}
	return 0;
}

int rtb_cancel(struct rtb *b, struct revtr *rt)
{
	struct rtb_job *job;

	for (job = b->jobs; job && job->rt != rt; job = job->next)
		;
	if (!job)
		return -ENOENT;
	job->finished = true;
	job_drop_reqs(job);
	sched_timer_cancel(b->s, &job->kick);
	sched_timer_cancel(b->s, &job->done_timer);
	job->done = NULL;
	job_done_cb(b->s, &job->done_timer, job);
	return 0;
}

unsigned int rtb_active(const struct rtb *b)
{
	return b->njobs;
}

int rtb_run_once(struct rtb *b, int timeout_ms)
{
	return probe_engine_run_once(b->e, timeout_ms);
}

static void run_done(struct rtb *b, struct revtr *rt, void *ctx)
{
	(void)b;
	(void)rt;
	*(int *)ctx = 1;
}

int rtb_run(struct rtb *b, struct revtr *rt, uint64_t deadline_ns)
{
	int done = 0, err;

	err = rtb_submit(b, rt, run_done, &done);
	if (err)
		return err;
	while (!done) {
		uint64_t now = sched_now_ns();
		int wait;

		if (now >= deadline_ns) {
			rtb_cancel(b, rt);
			return -ETIMEDOUT;
		}
		wait = (int)((deadline_ns - now) / 1000000 + 1);
		err = rtb_run_once(b, wait > 200 ? 200 : wait);
		if (err < 0) {
			rtb_cancel(b, rt);
			return err;
		}
	}
	return 0;
}

/* ---- lifecycle ----------------------------------------------------------------- */

static void opts_defaults(struct rtb_opts *o)
{
	if (!o->connect_ms)
		o->connect_ms = 3000;
	if (!o->ping_wait_ms)
		o->ping_wait_ms = 1000;
	if (!o->spoof_wait_ms)
		o->spoof_wait_ms = 1500;
	if (!o->trace_wait_ms)
		o->trace_wait_ms = 1000;
	if (!o->agent_req_ms)
		o->agent_req_ms = 20000;
	if (!o->ping_count)
		o->ping_count = 1;
	if (!o->trace_attempts)
		o->trace_attempts = 2;
	if (!o->trace_max_ttl)
		o->trace_max_ttl = 30;
}

struct rtb *rtb_new(const struct rtb_opts *o, char *err, size_t errlen)
{
	struct probe_engine_opts eo = { 0 };
	struct rtb *b;
	int e;

	if (!o || !o->ifname || o->nagents > REVTR_MAX_AGENTS ||
	    (o->nagents && (!o->certdir || !o->name))) {
		snprintf(err, errlen, "bad backend options (agents need a certificate directory "
				      "and a name)");
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->o = *o;
	opts_defaults(&b->o);
	eo.ifname = o->ifname;
	eo.src = o->src;
	eo.pps = o->pps;
	eo.dst_pps = o->dst_pps;
	eo.accept_spoofed = o->nagents > 0;
	b->e = probe_engine_new(&eo);
	if (!b->e) {
		e = errno;
		snprintf(err, errlen, "%s: cannot start the probe engine: %s%s", o->ifname,
			 strerror(e),
			 e == EPERM || e == EACCES ? " (needs cap_net_raw, cap_net_admin and "
						     "cap_bpf: run as root)"
						   : "");
		free(b);
		errno = e;
		return NULL;
	}
	b->s = probe_engine_sched(b->e);
	b->client = probe_engine_src(b->e);
	if (o->nagents) {
		rtb_listen_start(b);
		e = rtb_agents_open(b, err, errlen);
		if (e) {
			rtb_free(b);
			errno = -e;
			return NULL;
		}
	}
	return b;
}

void rtb_free(struct rtb *b)
{
	if (!b)
		return;
	while (b->jobs)
		rtb_cancel(b, b->jobs->rt);
	rtb_agents_close(b);
	probe_engine_free(b->e);
	/* the engine drops its measurements without callbacks: free their requests */
	while (b->orphans) {
		struct rtb_req *r = b->orphans;

		b->orphans = r->next;
		free(r);
	}
	free(b);
}

struct sched *rtb_sched(struct rtb *b)
{
	return b->s;
}

uint32_t rtb_client(const struct rtb *b)
{
	return b->client;
}

void rtb_get_stats(const struct rtb *b, struct rtb_stats *st)
{
	*st = b->st;
}
