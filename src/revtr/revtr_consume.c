// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * revtr_consume.c - what the results of the technique ladder's requests
 * teach the current hop: reverse hops from an RR reply (direct or spoofed),
 * an agent's trace back, Timestamp prespec answers (adjacency, the [H, bogus]
 * check, which VP's spoofed probes get through). Moving on is revtr_tech.c's
 * job (rt_advance). No I/O.
 */
#include <errno.h>
#include <string.h>

#include "revtr_int.h"

/* ---- results ----------------------------------------------------------------------- */

/* Copy the reverse hops of an RR reply, without empty slots. */
static int copy_rev(uint32_t *out, const uint32_t *rr, const struct revtr_rr_split *v)
{
	int i, n = 0;

	for (i = v->rev; i < v->rev + v->nrev; i++)
		if (rr[i])
			out[n++] = rr[i];
	return n;
}

static void consume_rr(struct revtr *rt, const struct rt_pend *p, const struct revtr_result *res)
{
	uint32_t rev[REVTR_RR_SLOTS];
	int nrev;
	struct rt_hop_state *hs = &rt->hs;
	bool dbl = !(rt->cfg.flags & REVTR_RR_SINGLE_STAMP);
	bool spoof = p->req.kind == REVTR_REQ_SPOOF_RR_PING;
	struct revtr_rr_split v;
	uint32_t egress;
	int err;

	if (res->status != REVTR_RES_OK || !res->rr_count) {
		if (spoof)
			revtr_rank_update(rt->kb, rt->cur, p->req.vp, -1);
		if (res->status == REVTR_RES_OK)
			*(spoof ? &hs->spoof_replied : &hs->rr_replied) = true;
		return;
	}
	err = revtr_rr_split(rt->kb, rt->cur, res->rr, res->rr_count,
			     spoof ? -1 : rt_fwd_pos(rt, rt->cur, NULL), dbl, &v);
	if (!err && res->rr[v.stamp] != rt->cur)
		revtr_alias_add(rt->kb, rt->cur, res->rr[v.stamp]);
	if (v.egress)
		revtr_alias_add(rt->kb, rt->cur, v.egress);
	egress = v.egress ? v.egress : rt->cur;
	nrev = copy_rev(rev, res->rr, &v);
	if (!spoof) {
		hs->rr_replied = true;
		hs->rr_n = res->rr_count;
		memcpy(hs->rr_raw, res->rr, res->rr_count * sizeof(res->rr[0]));
		rt_learn_rr_fwd(rt);
		hs->rr_nrev = nrev;
		memcpy(hs->rr_rev, rev, nrev * sizeof(rev[0]));
		hs->rr_egress = egress;
		return;
	}
	hs->spoof_replied = true;
	revtr_rank_update(rt->kb, rt->cur, p->req.vp, v.stamp);
	if (nrev > hs->best_nrev || (nrev && nrev == hs->best_nrev && p->aux < hs->best_rank)) {
		hs->best_nrev = nrev;
		hs->best_rank = p->aux;
		memcpy(hs->best_rev, rev, nrev * sizeof(rev[0]));
		hs->best_egress = egress;
	}
}

static void consume_agent(struct revtr *rt, const struct rt_pend *p, const struct revtr_result *res)
{
	uint32_t a[REVTR_MAX_HOPS];
	int i, n = 0;

	if (res->status != REVTR_RES_OK || !res->trace_n)
		return;
	if (!(rt->cfg.flags & REVTR_NO_ATLAS))
		revtr_atlas_add(rt->kb, p->req.vp, res->trace, res->trace_n, NULL, 0);
	for (i = 0; i < res->trace_n && n < REVTR_MAX_HOPS; i++)
		a[n++] = res->trace[i].addr;
	while (n > 0 && !a[n - 1])
		n--;
	rt_append_addrs(rt, a, n, REVTR_HOP_AGENT_TR_REV_SEGMENT, 0);
}

void rt_consume(struct revtr *rt, const struct rt_pend *p, const struct revtr_result *res)
{
	struct rt_hop_state *hs = &rt->hs;
	bool ok = res->status == REVTR_RES_OK;
	int n;

	switch (p->req.kind) {
	case REVTR_REQ_ATLAS_TRACE:
		if (ok && res->trace_n)
			revtr_atlas_add(rt->kb, p->req.vp, res->trace, res->trace_n, res->rr,
					res->rr_count);
		else
			kb_atlas_pending(rt->kb, p->req.vp, false);
		break;
	case REVTR_REQ_FWD_TRACE:
		if (ok && res->trace_n) {
			kb_fwd_add(rt->kb, p->req.target, res->trace, res->trace_n);
			if (p->req.target == rt->cur)
				rt_learn_rr_fwd(rt);
		}
		break;
	case REVTR_REQ_AGENT_TRACE:
		if (rt->stage == ST_AGENT && p->req.target == rt->cur)
			consume_agent(rt, p, res);
		break;
	case REVTR_REQ_RR_PING:
	case REVTR_REQ_SPOOF_RR_PING:
		if (p->req.target == rt->cur)
			consume_rr(rt, p, res);
		break;
	case REVTR_REQ_TS_PRESPEC:
		if (p->req.target != rt->cur)
			break;
		n = ok ? res->ts_count : 0;
		if (p->aux < 0 && p->req.vp) {
			/* spoofed [H, bogus] check by the VP of rank -1 - aux */
			if (n == 1 && (!hs->ts_vp || -1 - p->aux < hs->ts_vp_rank)) {
				hs->ts_vp = p->req.vp;
				hs->ts_vp_rank = -1 - p->aux;
			}
			if (n == 1)
				hs->ts_check = 1;
			else if (n >= 2 && hs->ts_check != 1)
				hs->ts_check = n;
		} else if (p->aux < 0) {
			hs->ts_check = n;
			hs->ts_replied = ok;
		} else if (n >= 2 && (hs->ts_hit < 0 || p->aux < hs->ts_hit)) {
			hs->ts_hit = p->aux;
		}
		break;
	}
}
