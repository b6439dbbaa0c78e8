// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * revtr_tech.c - the technique ladder for the current hop H, in the order of
 * Reverse Traceroute / revtr 2.0: reached the client side? known in the tree
 * cache? on the atlas (exactly, through an alias or RR address, or through
 * the /30-/31 mate of the previous hop)? an agent at H? RR ping from the
 * client; spoofed RR from the best-ranked VPs, a few at a time; TS prespec
 * adjacency [H, R] for candidates from known traceroutes, after a [H, bogus]
 * check, direct then spoofed; and last, the symmetry assumption (marked).
 * Every stage either issues requests, moves to the next stage, moves H, or
 * finishes the trace. No I/O.
 */
#include <errno.h>
#include <string.h>

#include "revtr_int.h"

#define ALIAS_MAX 16

/* ---- helpers ---------------------------------------------------------------------- */

static bool agent_at(const struct revtr *rt, uint32_t h, uint32_t *agent)
{
	size_t i;

	for (i = 0; i < rt->cfg.nagents; i++) {
		if (kb_same(rt->kb, rt->agents[i].addr, h)) {
			*agent = rt->agents[i].addr;
			return true;
		}
	}
	return false;
}

/* Index of the last responding hop of a stored path, -1 if none. */
static int last_responding(const struct ps_path *p)
{
	int i;

	for (i = p->n - 1; i >= 0; i--)
		if (p->hops[i].addr)
			return i;
	return -1;
}

/*
 * Find addr on a live path of ps whose suffix after it reaches the client
 * side; the shortest such suffix wins. 1 if found.
 */
static int find_suffix(const struct revtr *rt, const struct pathstore *ps, uint32_t addr,
		       uint32_t *path, int *pos, int *via_rr)
{
	int best = -1;
	uint32_t i;

	for (i = ps_first(ps, addr); i; i = ps->occ[i - 1].next) {
		const struct ps_occ *o = &ps->occ[i - 1];
		const struct ps_path *p = &ps->paths[o->path];
		int last = last_responding(p);

		if (p->dead || last <= o->pos || !kb_is_client_side(rt->kb, p->hops[last].addr))
			continue;
		if (best >= 0 && p->n - o->pos >= best)
			continue;
		best = p->n - o->pos;
		*path = o->path;
		*pos = o->pos;
		*via_rr = o->via_rr;
	}
	return best >= 0;
}

/* Append the suffix of a stored path after pos; the trace finishes on it. */
static void append_suffix(struct revtr *rt, const struct ps_path *p, int pos, int type,
			  bool from_cache)
{
	int i;

	for (i = pos + 1; i < p->n; i++) {
		enum revtr_hop_type t = type ? (enum revtr_hop_type)type : p->hops[i].type;

		if (rt_append_one(rt, p->hops[i].addr, t, from_cache, p->hops[i].rtt_us) < 0)
			return;
	}
	rt_finish(rt, REVTR_REACHES, NULL);
}

static bool use_tree(struct revtr *rt)
{
	uint32_t al[ALIAS_MAX], path;
	int n, i, pos, via_rr;

	n = kb_aliases(rt->kb, rt->cur, al, ALIAS_MAX);
	for (i = 0; i < n; i++) {
		if (find_suffix(rt, &rt->kb->tree, al[i], &path, &pos, &via_rr)) {
			append_suffix(rt, &rt->kb->tree.paths[path], pos, 0, true);
			return true;
		}
	}
	return false;
}

static bool use_atlas(struct revtr *rt)
{
	uint32_t al[ALIAS_MAX], m[2], path;
	int n, i, pos, via_rr;

	n = kb_aliases(rt->kb, rt->cur, al, ALIAS_MAX);
	for (i = 0; i < n; i++) {
		if (find_suffix(rt, &rt->kb->atlas, al[i], &path, &pos, &via_rr)) {
			append_suffix(rt, &rt->kb->atlas.paths[path], pos,
				      (i || via_rr) ? REVTR_HOP_TR_TO_SRC_REV_SEGMENT_BETWEEN
						    : REVTR_HOP_TR_TO_SRC_REV_SEGMENT,
				      false);
			return true;
		}
	}
	/* H's incoming interface from the previous router: the other end of the
	 * previous router's outgoing point-to-point link */
	if (!rt->hs.prev_out)
		return false;
	addr_mates(rt->hs.prev_out, m);
	for (i = 0; i < 2; i++) {
		if (m[i] && find_suffix(rt, &rt->kb->atlas, m[i], &path, &pos, &via_rr)) {
			revtr_alias_add(rt->kb, rt->cur, m[i]);
			append_suffix(rt, &rt->kb->atlas.paths[path], pos,
				      REVTR_HOP_TR_TO_SRC_REV_SEGMENT_BETWEEN, false);
			return true;
		}
	}
	return false;
}

/*
 * Position of H (or an alias) in the client's forward trace to key (H
 * itself, or the destination: when H is on the trace to the destination,
 * that trace read backwards is the symmetry guess of the whole path, not a
 * new guess per hop), -1 if not on it. *pp (if pp) gets the trace.
 */
int rt_fwd_pos(const struct revtr *rt, uint32_t key, const struct ps_path **pp)
{
	const struct ps_path *p = ps_bykey(&rt->kb->fwd, key);
	int i;

	if (pp)
		*pp = p;
	for (i = p ? p->n - 1 : -1; i >= 0; i--)
		if (kb_same(rt->kb, p->hops[i].addr, rt->cur))
			return i;
	return -1;
}

/* Learn aliases from H's RR reply against the client's forward trace to H. */
void rt_learn_rr_fwd(struct revtr *rt)
{
	const struct ps_path *p = ps_bykey(&rt->kb->fwd, rt->cur);
	struct revtr_trace_hop th[REVTR_MAX_HOPS];
	int i;

	if (!p || !rt->hs.rr_replied)
		return;
	for (i = 0; i < p->n; i++) {
		th[i].addr = p->hops[i].addr;
		th[i].rtt_us = 0;
	}
	revtr_alias_learn_rr_trace(rt->kb, rt->cur, rt->hs.rr_raw, rt->hs.rr_n, th, p->n);
}

static void add_cand(struct revtr *rt, uint32_t a)
{
	struct rt_hop_state *hs = &rt->hs;
	size_t j;
	int i;

	if (!a || kb_same(rt->kb, a, rt->cur) || hs->ncands >= (int)rt->cfg.max_ts_cands)
		return;
	for (i = 0; i < hs->ncands; i++)
		if (kb_same(rt->kb, hs->cands[i], a))
			return;
	for (j = 0; j < rt->rep.nhops; j++)
		if (kb_same(rt->kb, rt->rep.hops[j].addr, a))
			return;
	hs->cands[hs->ncands++] = a;
}

/*
 * Candidate next hops of H toward the client: the hop after H on atlas
 * traces (they go toward the client) and the hop before H on the client's
 * forward traces (the symmetric guess, checked by TS here).
 */
static void build_cands(struct revtr *rt)
{
	const struct pathstore *ps[2] = {&rt->kb->atlas, &rt->kb->fwd};
	uint32_t al[ALIAS_MAX], o;
	int n, i, k, d;

	n = kb_aliases(rt->kb, rt->cur, al, ALIAS_MAX);
	for (k = 0; k < 2; k++) {
		d = k == 0 ? 1 : -1;
		for (i = 0; i < n; i++) {
			for (o = ps_first(ps[k], al[i]); o; o = ps[k]->occ[o - 1].next) {
				const struct ps_occ *oc = &ps[k]->occ[o - 1];
				const struct ps_path *p = &ps[k]->paths[oc->path];
				int j = oc->pos + d;

				if (!p->dead && j >= 0 && j < p->n)
					add_cand(rt, p->hops[j].addr);
			}
		}
	}
}

/* ---- stages ------------------------------------------------------------------------ */

static void st_start(struct revtr *rt)
{
	struct revtr_kb *kb = rt->kb;
	size_t i;

	rt->rep.hops[0].addr = rt->cfg.dst;
	rt->rep.hops[0].type = REVTR_HOP_DST_REV_SEGMENT;
	rt->rep.nhops = 1;
	rt_set_cur(rt, rt->cfg.dst, 0);
	if (rt->cfg.client_gw)
		revtr_kb_set_gateway(kb, rt->cfg.client_gw);
	for (i = 0; !(rt->cfg.flags & REVTR_NO_ATLAS) && i < rt->cfg.nagents; i++) {
		uint32_t vp = rt->agents[i].addr;

		if ((rt->agents[i].flags & REVTR_AGENT_TRACE) && !revtr_atlas_has(kb, vp))
			if (!rt_issue(rt, REVTR_REQ_ATLAS_TRACE, rt->cfg.client, vp, NULL, 0, 0))
				return;
	}
	/* the client's first-hop router, the forward hop count, candidates */
	if (!kb->gw && !ps_bykey(&kb->fwd, rt->cfg.dst)) {
		rt->hs.fwd_tried = true;
		rt_issue(rt, REVTR_REQ_FWD_TRACE, rt->cfg.dst, 0, NULL, 0, 0);
	}
}

static void st_check(struct revtr *rt)
{
	uint32_t agent;

	if (kb_is_client_side(rt->kb, rt->cur)) {
		rt_finish(rt, REVTR_REACHES, NULL);
		return;
	}
	if (!(rt->cfg.flags & REVTR_NO_CACHE) && use_tree(rt))
		return;
	if (!(rt->cfg.flags & REVTR_NO_ATLAS) && use_atlas(rt))
		return;
	if (!(rt->cfg.flags & REVTR_NO_AGENT) && !rt->hs.agent_tried &&
	    agent_at(rt, rt->cur, &agent)) {
		rt->hs.agent_tried = true;
		rt->stage = ST_AGENT;
		rt_issue(rt, REVTR_REQ_AGENT_TRACE, rt->cur, agent, NULL, 0, 0);
		return;
	}
	rt->stage = ST_RR;
}

static void st_rr(struct revtr *rt)
{
	struct rt_hop_state *hs = &rt->hs;

	if (!hs->rr_state) {
		if (revtr_unresp_get(rt->kb, rt->cur) & REVTR_UNRESP_RR) {
			rt->stage = ST_TS;
			return;
		}
		hs->rr_state = 1;
		rt_issue(rt, REVTR_REQ_RR_PING, rt->cur, 0, NULL, 0, 0);
		return;
	}
	if (hs->rr_nrev > 0 &&
	    rt_append_addrs(rt, hs->rr_rev, hs->rr_nrev, REVTR_HOP_RR_REV_SEGMENT, hs->rr_egress))
		return;
	rt->stage = ST_SPOOF;
}

static void st_spoof(struct revtr *rt)
{
	struct rt_hop_state *hs = &rt->hs;
	uint32_t cand[REVTR_MAX_AGENTS], ord[REVTR_MAX_AGENTS];
	int n, i, j, issued = 0;

	if (hs->best_nrev > 0) {
		n = hs->best_nrev;
		hs->best_nrev = 0;
		if (rt_append_addrs(rt, hs->best_rev, n, REVTR_HOP_SPOOF_RR_REV_SEGMENT,
				    hs->best_egress))
			return;
	}
	n = rt_spoof_vps(rt, cand);
	n = revtr_rank_order(rt->kb, rt->cur, cand, n, ord);
	for (i = 0;
	     i < n && issued < (int)rt->cfg.spoof_batch && hs->ntried < (int)rt->cfg.max_spoofers;
	     i++) {
		for (j = 0; j < hs->ntried && hs->tried[j] != ord[i]; j++)
			;
		if (j < hs->ntried)
			continue;
		hs->tried[hs->ntried++] = ord[i];
		if (!rt_issue(rt, REVTR_REQ_SPOOF_RR_PING, rt->cur, ord[i], NULL, 0, i))
			return;
		issued++;
	}
	if (issued)
		return;
	/* neither the client nor any VP got an RR reply from H */
	if (hs->ntried && !hs->rr_replied && !hs->spoof_replied)
		revtr_unresp_set(rt->kb, rt->cur, REVTR_UNRESP_RR);
	rt->stage = ST_TS;
}

static void ts_issue_cands(struct revtr *rt, uint32_t vp)
{
	int i;

	for (i = 0; i < rt->hs.ncands; i++) {
		uint32_t ts[2] = {rt->cur, rt->hs.cands[i]};

		if (!rt_issue(rt, REVTR_REQ_TS_PRESPEC, rt->cur, vp, ts, 2, i))
			return;
	}
}

static void ts_spoof_check(struct revtr *rt)
{
	uint32_t cand[REVTR_MAX_AGENTS], ord[REVTR_MAX_AGENTS];
	uint32_t ts[2] = {rt->cur, rt->cfg.ts_bogus};
	int n = rt_spoof_vps(rt, cand), i;

	if (!n) {
		rt->stage = ST_SYM;
		return;
	}
	revtr_rank_order(rt->kb, rt->cur, cand, n, ord);
	/* the best-ranked VP may not reach H without crossing a TS dropper:
	 * check with a batch of them; the best-ranked one that gets H's stamp
	 * runs the tests */
	rt->hs.ts_vp = 0;
	rt->hs.ts_check = 0;
	rt->hs.ts = TS_SCHECK;
	for (i = 0; i < n && i < (int)rt->cfg.spoof_batch; i++)
		if (!rt_issue(rt, REVTR_REQ_TS_PRESPEC, rt->cur, ord[i], ts, 2, -1 - i))
			return;
}

/*
 * Candidates of last resort: H's address faces the client (a traceroute's
 * ICMP source, an RR egress), so the other end of its point-to-point link is
 * the likely next router, also one that never answers traceroutes and so is
 * on no trace. Replaces the candidates by the mates not tested yet; true if
 * there are any.
 */
static bool ts_mate_cands(struct revtr *rt)
{
	struct rt_hop_state *hs = &rt->hs;
	uint32_t old[REVTR_MAX_CANDS], m[2];
	int nold = hs->ncands, i, k;

	if (hs->mates_tried)
		return false;
	hs->mates_tried = true;
	memcpy(old, hs->cands, sizeof(old));
	hs->ncands = 0;
	hs->ts_hit = -1;
	addr_mates(rt->cur, m);
	for (k = 1; k >= 0; k--) {
		for (i = 0; i < nold && old[i] != m[k]; i++)
			;
		if (i == nold)
			add_cand(rt, m[k]);
	}
	return hs->ncands > 0;
}

static void ts_adjacent(struct revtr *rt, enum revtr_hop_type type, uint32_t vp)
{
	uint32_t r;

	if (rt->hs.ts_hit >= 0) {
		r = rt->hs.cands[rt->hs.ts_hit];
		if (rt_append_addrs(rt, &r, 1, type, 0))
			return;
	} else if (ts_mate_cands(rt)) {
		ts_issue_cands(rt, vp);
		return;
	}
	rt->stage = ST_SYM;
}

static void st_ts(struct revtr *rt)
{
	struct rt_hop_state *hs = &rt->hs;
	uint32_t ts[2] = {rt->cur, rt->cfg.ts_bogus};

	if ((rt->cfg.flags & REVTR_NO_TS) ||
	    (revtr_unresp_get(rt->kb, rt->cur) & (REVTR_UNRESP_TS | REVTR_UNRESP_TS_ALL))) {
		rt->stage = ST_SYM;
		return;
	}
	switch (hs->ts) {
	case TS_CANDS:
		if (!hs->fwd_tried && !ps_bykey(&rt->kb->fwd, rt->cur)) {
			hs->fwd_tried = true;
			rt_issue(rt, REVTR_REQ_FWD_TRACE, rt->cur, 0, NULL, 0, 0);
			return;
		}
		build_cands(rt);
		if (!hs->ncands)
			ts_mate_cands(rt);
		if (!hs->ncands) {
			rt->stage = ST_SYM;
			return;
		}
		hs->ts = TS_CHECK;
		rt_issue(rt, REVTR_REQ_TS_PRESPEC, rt->cur, 0, ts, 2, -1);
		return;
	case TS_CHECK:
		if (hs->ts_check >= 2) {
			revtr_unresp_set(rt->kb, rt->cur, REVTR_UNRESP_TS_ALL);
			rt->stage = ST_SYM;
		} else if (hs->ts_check == 1) {
			hs->ts = TS_TEST;
			ts_issue_cands(rt, 0);
		} else if (hs->ts_replied) {
			/* H answered but did not stamp its own slot */
			revtr_unresp_set(rt->kb, rt->cur, REVTR_UNRESP_TS);
			rt->stage = ST_SYM;
		} else {
			ts_spoof_check(rt);
		}
		return;
	case TS_TEST:
		ts_adjacent(rt, REVTR_HOP_TS_ADJ_REV_SEGMENT, 0);
		return;
	case TS_SCHECK:
		if (hs->ts_check >= 2) {
			revtr_unresp_set(rt->kb, rt->cur, REVTR_UNRESP_TS_ALL);
			rt->stage = ST_SYM;
		} else if (hs->ts_check == 1) {
			hs->ts = TS_STEST;
			ts_issue_cands(rt, hs->ts_vp);
		} else {
			revtr_unresp_set(rt->kb, rt->cur, REVTR_UNRESP_TS);
			rt->stage = ST_SYM;
		}
		return;
	case TS_STEST:
		ts_adjacent(rt, REVTR_HOP_SPOOF_TS_ADJ_REV_SEGMENT, hs->ts_vp);
		return;
	}
}

static void st_sym(struct revtr *rt)
{
	const struct ps_path *p;
	char b[16];
	int k, j;

	if (!(rt->cfg.flags & REVTR_NO_SYM)) {
		k = rt_fwd_pos(rt, rt->cfg.dst, &p);
		if (k <= 0)
			k = rt_fwd_pos(rt, rt->cur, &p);
		if (!p && !rt->hs.fwd_tried) {
			rt->hs.fwd_tried = true;
			rt_issue(rt, REVTR_REQ_FWD_TRACE, rt->cur, 0, NULL, 0, 0);
			return;
		}
		if (k == 0) {
			/* H is hop 1 of the client's own trace: its first-hop router */
			revtr_kb_set_gateway(rt->kb, rt->cur);
			rt_finish(rt, REVTR_REACHES, NULL);
			return;
		}
		for (j = k - 1; j >= 0; j--) {
			uint32_t a = p->hops[j].addr;

			if (a && rt_append_addrs(rt, &a, 1, REVTR_HOP_DST_SYM_REV_SEGMENT, 0))
				return;
			if (a)
				break;
		}
	}
	rt_finish(rt, REVTR_FAILED, "no technique found the hop after %s", rt_ntoa(rt->cur, b));
}

void rt_advance(struct revtr *rt)
{
	int guard = 0;

	while (rt->stage != ST_DONE && rt->npend == 0) {
		if (++guard > 10000) {
			rt_finish(rt, REVTR_FAILED, "internal: no progress");
			return;
		}
		switch (rt->stage) {
		case ST_START:
			st_start(rt);
			break;
		case ST_CHECK:
			st_check(rt);
			break;
		case ST_AGENT:
			/* the agent's trace did not move H */
			rt->stage = ST_RR;
			break;
		case ST_RR:
			st_rr(rt);
			break;
		case ST_SPOOF:
			st_spoof(rt);
			break;
		case ST_TS:
			st_ts(rt);
			break;
		case ST_SYM:
			st_sym(rt);
			break;
		case ST_DONE:
			break;
		}
	}
}
