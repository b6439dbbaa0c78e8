// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * revtr.c - one reverse traceroute as a state machine: its lifecycle, the
 * request queue handed to the backend, result dispatch, probe accounting and
 * budget, and the path it assembles (appending with alias-aware duplicate
 * and loop detection, finishing with REACHES / FAILED). The technique ladder
 * itself is in revtr_tech.c. No I/O.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtrace/log.h"
#include "revtr_int.h"

static const char *const hop_names[] = {
	[REVTR_HOP_DST_REV_SEGMENT] = "DST_REV_SEGMENT",
	[REVTR_HOP_DST_SYM_REV_SEGMENT] = "DST_SYM_REV_SEGMENT",
	[REVTR_HOP_TR_TO_SRC_REV_SEGMENT] = "TR_TO_SRC_REV_SEGMENT",
	[REVTR_HOP_TR_TO_SRC_REV_SEGMENT_BETWEEN] = "TR_TO_SRC_REV_SEGMENT_BETWEEN",
	[REVTR_HOP_RR_REV_SEGMENT] = "RR_REV_SEGMENT",
	[REVTR_HOP_SPOOF_RR_REV_SEGMENT] = "SPOOF_RR_REV_SEGMENT",
	[REVTR_HOP_TS_ADJ_REV_SEGMENT] = "TS_ADJ_REV_SEGMENT",
	[REVTR_HOP_SPOOF_TS_ADJ_REV_SEGMENT] = "SPOOF_TS_ADJ_REV_SEGMENT",
	[REVTR_HOP_AGENT_TR_REV_SEGMENT] = "AGENT_TR_REV_SEGMENT",
};

const char *revtr_hop_type_name(enum revtr_hop_type t)
{
	if ((unsigned)t < sizeof(hop_names) / sizeof(hop_names[0]) && hop_names[t])
		return hop_names[t];
	return "UNKNOWN";
}

static const char *const req_names[] = {
	[REVTR_REQ_AGENT_TRACE] = "AGENT_TRACE",     [REVTR_REQ_RR_PING] = "RR_PING",
	[REVTR_REQ_SPOOF_RR_PING] = "SPOOF_RR_PING", [REVTR_REQ_TS_PRESPEC] = "TS_PRESPEC",
	[REVTR_REQ_ATLAS_TRACE] = "ATLAS_TRACE",     [REVTR_REQ_FWD_TRACE] = "FWD_TRACE",
};

const char *revtr_req_kind_name(enum revtr_req_kind k)
{
	if ((unsigned)k < sizeof(req_names) / sizeof(req_names[0]) && req_names[k])
		return req_names[k];
	return "UNKNOWN";
}

const char *rt_ntoa(uint32_t a, char buf[16])
{
	struct in_addr in = {.s_addr = a};

	if (!inet_ntop(AF_INET, &in, buf, 16))
		snprintf(buf, 16, "?");
	return buf;
}

void revtr_cfg_init(struct revtr_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_hops = 30;
	cfg->spoof_batch = 3;
	cfg->max_spoofers = 12;
	cfg->max_ts_cands = 4;
	cfg->ts_bogus = htonl(0xc0000201u); /* 192.0.2.1, TEST-NET-1 */
}

static uint64_t rt_now(const struct revtr *rt)
{
	struct timespec ts;

	if (rt->cfg.clock_ns)
		return rt->cfg.clock_ns(rt->cfg.clock_arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct revtr *revtr_new(const struct revtr_cfg *cfg)
{
	struct revtr *rt;

	if (!cfg || !cfg->client || !cfg->dst || cfg->nagents > REVTR_MAX_AGENTS ||
	    (cfg->nagents && !cfg->agents) || (cfg->kb && cfg->kb->client != cfg->client)) {
		errno = EINVAL;
		return NULL;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->cfg = *cfg;
	if (cfg->nagents)
		memcpy(rt->agents, cfg->agents, cfg->nagents * sizeof(*rt->agents));
	rt->cfg.agents = rt->agents;
	if (!rt->cfg.max_hops || rt->cfg.max_hops > REVTR_MAX_HOPS)
		rt->cfg.max_hops = REVTR_MAX_HOPS;
	if (!rt->cfg.spoof_batch)
		rt->cfg.spoof_batch = 1;
	if (rt->cfg.max_ts_cands > REVTR_MAX_CANDS)
		rt->cfg.max_ts_cands = REVTR_MAX_CANDS;
	rt->kb = cfg->kb;
	if (!rt->kb) {
		rt->kb = revtr_kb_new(cfg->client);
		if (!rt->kb) {
			free(rt);
			return NULL;
		}
		rt->own_kb = true;
	}
	rt->rep.src = cfg->client;
	rt->rep.dst = cfg->dst;
	rt->next_id = 1;
	rt->t0 = rt_now(rt);
	rt->stage = ST_START;
	return rt;
}

void revtr_free(struct revtr *rt)
{
	int i;

	if (!rt)
		return;
	/* atlas traces we asked for and will never see: let others ask again */
	for (i = 0; i < rt->npend; i++)
		if (rt->pend[i].req.kind == REVTR_REQ_ATLAS_TRACE)
			kb_atlas_pending(rt->kb, rt->pend[i].req.vp, false);
	if (rt->own_kb)
		revtr_kb_free(rt->kb);
	free(rt);
}

static void rt_rtt_note(struct revtr *rt, uint32_t addr, uint32_t rtt_us)
{
	int i;

	if (!addr || !rtt_us)
		return;
	for (i = 0; i < rt->nrtt; i++) {
		if (rt->rtt[i].addr == addr) {
			if (rtt_us < rt->rtt[i].rtt_us)
				rt->rtt[i].rtt_us = rtt_us;
			return;
		}
	}
	if (rt->nrtt < REVTR_MAX_RTT) {
		rt->rtt[rt->nrtt].addr = addr;
		rt->rtt[rt->nrtt].rtt_us = rtt_us;
		rt->nrtt++;
	}
}

static uint32_t rt_rtt_of(const struct revtr *rt, uint32_t addr)
{
	int i;

	for (i = 0; addr && i < rt->nrtt; i++)
		if (rt->rtt[i].addr == addr)
			return rt->rtt[i].rtt_us;
	return 0;
}

void rt_finish(struct revtr *rt, enum revtr_stop stop, const char *fmt, ...)
{
	struct revtr_report *r = &rt->rep;
	va_list ap;
	size_t i;

	if (rt->stage == ST_DONE)
		return;
	rt->stage = ST_DONE;
	r->stop = stop;
	r->fail_reason[0] = 0;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(r->fail_reason, sizeof(r->fail_reason), fmt, ap);
		va_end(ap);
	}
	for (i = 0; i < r->nhops; i++)
		if (!r->hops[i].rtt_us)
			r->hops[i].rtt_us = rt_rtt_of(rt, r->hops[i].addr);
	r->runtime_ns = rt_now(rt) - rt->t0;
	/* outstanding requests are dropped; their results get -ENOENT */
	for (i = 0; i < (size_t)rt->npend; i++)
		if (rt->pend[i].req.kind == REVTR_REQ_ATLAS_TRACE)
			kb_atlas_pending(rt->kb, rt->pend[i].req.vp, false);
	rt->npend = 0;
	if (stop == REVTR_REACHES && !(rt->cfg.flags & REVTR_NO_CACHE) &&
	    kb_tree_add(rt->kb, r->hops, (int)r->nhops))
		rt_warn("revtr: tree cache: out of memory");
}

/* Probes a request costs up front (traces are charged when they return). */
static uint32_t *probe_counter(struct revtr *rt, enum revtr_req_kind kind, uint32_t vp)
{
	struct revtr_probes *p = &rt->rep.probes;

	switch (kind) {
	case REVTR_REQ_AGENT_TRACE:
		return &p->agent;
	case REVTR_REQ_RR_PING:
		return &p->rr;
	case REVTR_REQ_SPOOF_RR_PING:
		return &p->spoof_rr;
	case REVTR_REQ_TS_PRESPEC:
		return vp ? &p->spoof_ts : &p->ts;
	case REVTR_REQ_ATLAS_TRACE:
		return &p->atlas;
	case REVTR_REQ_FWD_TRACE:
		return &p->trace;
	}
	return &p->total;
}

static bool is_trace(enum revtr_req_kind k)
{
	return k == REVTR_REQ_AGENT_TRACE || k == REVTR_REQ_ATLAS_TRACE || k == REVTR_REQ_FWD_TRACE;
}

static void charge(struct revtr *rt, enum revtr_req_kind kind, uint32_t vp, uint32_t n)
{
	*probe_counter(rt, kind, vp) += n;
	rt->rep.probes.total += n;
}

static bool over_budget(const struct revtr *rt, uint32_t more)
{
	const struct revtr_probes *p = &rt->rep.probes;

	return rt->cfg.max_probes && p->total - p->atlas + more > rt->cfg.max_probes;
}

bool rt_issue(struct revtr *rt, enum revtr_req_kind kind, uint32_t target, uint32_t vp,
	      const uint32_t *ts, int ts_n, int aux)
{
	struct rt_pend *p;
	uint32_t cost = is_trace(kind) ? 0 : 1;

	if (rt->stage == ST_DONE)
		return false;
	if (kind != REVTR_REQ_ATLAS_TRACE && over_budget(rt, cost ? cost : 1)) {
		rt_finish(rt, REVTR_FAILED, "probe budget exhausted (%u probes)",
			  rt->cfg.max_probes);
		return false;
	}
	if (rt->npend == REVTR_MAX_PEND) {
		rt_finish(rt, REVTR_FAILED, "internal: too many outstanding requests");
		return false;
	}
	p = &rt->pend[rt->npend++];
	memset(p, 0, sizeof(*p));
	p->req.id = rt->next_id++;
	p->req.kind = kind;
	p->req.target = target;
	p->req.vp = vp;
	p->req.src = rt->cfg.client;
	p->aux = (int16_t)aux;
	if (ts_n > REVTR_TS_MAX)
		ts_n = REVTR_TS_MAX;
	if (ts_n > 0) {
		p->req.ts_n = (uint8_t)ts_n;
		memcpy(p->req.ts_addr, ts, ts_n * sizeof(*ts));
	}
	if (kind == REVTR_REQ_ATLAS_TRACE)
		kb_atlas_pending(rt->kb, vp, true);
	charge(rt, kind, vp, cost);
	return true;
}

int revtr_next_requests(struct revtr *rt, struct revtr_req *out, int max)
{
	int i, n = 0;

	if (!rt || max < 0 || (max && !out))
		return -EINVAL;
	if (rt->stage != ST_DONE && rt->npend == 0)
		rt_advance(rt);
	for (i = 0; i < rt->npend && n < max; i++) {
		if (rt->pend[i].issued)
			continue;
		rt->pend[i].issued = 1;
		out[n++] = rt->pend[i].req;
	}
	return n;
}

static int check_result(const struct rt_pend *p, const struct revtr_result *res)
{
	if (res->status > REVTR_RES_ERROR || res->rr_count > REVTR_RR_SLOTS ||
	    res->trace_n > REVTR_MAX_HOPS * 4 || (res->trace_n && !res->trace))
		return -EINVAL;
	if (p->req.kind == REVTR_REQ_TS_PRESPEC && res->ts_count > p->req.ts_n)
		return -EINVAL;
	return 0;
}

int revtr_on_result(struct revtr *rt, uint32_t req_id, const struct revtr_result *res)
{
	struct rt_pend p;
	int i, err;

	if (!rt || !res)
		return -EINVAL;
	for (i = 0; i < rt->npend; i++)
		if (rt->pend[i].req.id == req_id && rt->pend[i].issued)
			break;
	if (i == rt->npend)
		return -ENOENT;
	err = check_result(&rt->pend[i], res);
	if (err)
		return err;
	p = rt->pend[i];
	memmove(&rt->pend[i], &rt->pend[i + 1], (rt->npend - i - 1) * sizeof(rt->pend[0]));
	rt->npend--;

	if (is_trace(p.req.kind))
		charge(rt, p.req.kind, p.req.vp, res->probes ? res->probes : res->trace_n);
	else if (res->probes > 1)
		charge(rt, p.req.kind, p.req.vp, res->probes - 1);
	if (res->status == REVTR_RES_OK) {
		if (p.req.kind == REVTR_REQ_RR_PING ||
		    (p.req.kind == REVTR_REQ_TS_PRESPEC && !p.req.vp))
			rt_rtt_note(rt, p.req.target, res->rtt_us);
		if (p.req.kind == REVTR_REQ_FWD_TRACE)
			for (i = 0; i < res->trace_n; i++)
				rt_rtt_note(rt, res->trace[i].addr, res->trace[i].rtt_us);
	}
	rt_consume(rt, &p, res);
	if (rt->stage != ST_DONE && rt->npend == 0)
		rt_advance(rt);
	rt->rep.runtime_ns = (rt->stage == ST_DONE) ? rt->rep.runtime_ns : rt_now(rt) - rt->t0;
	return 0;
}

bool revtr_done(const struct revtr *rt)
{
	return rt->stage == ST_DONE;
}

int revtr_outstanding(const struct revtr *rt)
{
	int i, n = 0;

	for (i = 0; i < rt->npend; i++)
		n += rt->pend[i].issued;
	return n;
}

const struct revtr_report *revtr_report(const struct revtr *rt)
{
	return &rt->rep;
}

/* ---- the path ------------------------------------------------------------------ */

void rt_set_cur(struct revtr *rt, uint32_t addr, uint32_t prev_out)
{
	rt->cur = addr;
	memset(&rt->hs, 0, sizeof(rt->hs));
	rt->hs.prev_out = prev_out;
	rt->hs.ts_hit = -1;
	rt->hs.best_rank = -1;
	rt->stage = ST_CHECK;
}

static int path_index(const struct revtr *rt, uint32_t a)
{
	size_t i;

	for (i = 0; i < rt->rep.nhops; i++)
		if (kb_same(rt->kb, rt->rep.hops[i].addr, a))
			return (int)i;
	return -1;
}

/*
 * Append one hop. A repeat of the newest hop (same router) is skipped (0);
 * the client ends the path before it, its first-hop router after it
 * (REACHES, -1); a router seen before is a loop (FAILED, -1); a zero address
 * is an unknown hop. Returns 1 when appended.
 */
int rt_append_one(struct revtr *rt, uint32_t a, enum revtr_hop_type type, bool from_cache,
		  uint32_t rtt_us)
{
	struct revtr_report *r = &rt->rep;
	char b[16];
	int at;

	if (a && r->nhops && kb_same(rt->kb, r->hops[r->nhops - 1].addr, a))
		return 0;
	if (a == rt->cfg.client) {
		rt_finish(rt, REVTR_REACHES, NULL);
		return -1;
	}
	at = a ? path_index(rt, a) : -1;
	if (at >= 0) {
		rt_finish(rt, REVTR_FAILED, "loop: %s (%s) is hop %d already", rt_ntoa(a, b),
			  revtr_hop_type_name(type), at + 1);
		return -1;
	}
	if (r->nhops >= rt->cfg.max_hops) {
		rt_finish(rt, REVTR_FAILED, "max hops (%u) reached", rt->cfg.max_hops);
		return -1;
	}
	r->hops[r->nhops].addr = a;
	r->hops[r->nhops].type = type;
	r->hops[r->nhops].rtt_us = rtt_us ? rtt_us : rt_rtt_of(rt, a);
	r->hops[r->nhops].from_cache = from_cache;
	r->nhops++;
	if (a && kb_is_client_side(rt->kb, a)) {
		rt_finish(rt, REVTR_REACHES, NULL);
		return -1;
	}
	return 1;
}

/*
 * Append measured addresses in order (see rt_append_one). Returns the number
 * of hops appended, or -1 if the trace finished. If any responded, H becomes
 * the newest responding hop, remembering the outgoing address of the router
 * before it (first_prev_out for the first one) for the /30-/31 intersection.
 */
int rt_append_addrs(struct revtr *rt, const uint32_t *addrs, int n, enum revtr_hop_type type,
		    uint32_t first_prev_out)
{
	bool rr = type == REVTR_HOP_RR_REV_SEGMENT || type == REVTR_HOP_SPOOF_RR_REV_SEGMENT;
	uint32_t last = 0, prev_out = first_prev_out, last_prev = 0;
	int i, ret, added = 0;

	for (i = 0; i < n; i++) {
		ret = rt_append_one(rt, addrs[i], type, false, 0);
		if (ret < 0)
			return -1;
		added += ret;
		if (ret && addrs[i]) {
			last = addrs[i];
			last_prev = prev_out;
		}
		prev_out = addrs[i];
	}
	/* only RR addresses are outgoing interfaces */
	if (last)
		rt_set_cur(rt, last, rr ? last_prev : 0);
	return added;
}

/* Agents allowed to spoof the client's address (not the hop itself). */
int rt_spoof_vps(const struct revtr *rt, uint32_t *out)
{
	size_t i;
	int n = 0;

	if (rt->cfg.flags & REVTR_NO_SPOOF)
		return 0;
	for (i = 0; i < rt->cfg.nagents; i++)
		if ((rt->agents[i].flags & REVTR_AGENT_SPOOF) && rt->agents[i].addr != rt->cur)
			out[n++] = rt->agents[i].addr;
	return n;
}
