// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_revtr.c - unit tests of the revtr core, the techniques: scenarios in
 * which a small network model (test_revtr_model.h, scaffolding in
 * revtr_scenario.h) plays the network and the agents, one per technique
 * (pure RR, gateway from the forward trace, spoofed RR from a near VP and
 * its ranking, atlas intersection and exact atlas hit, TS adjacency direct
 * and spoofed, agent at the destination; the status line), checked against the model's
 * router-level ground truth. Fallbacks, failures and limits are in
 * test_revtr_fallback.c.
 */
#include "revtr_scenario.h"

Test(revtr, rr_within_8_hops_asymmetric)
{
	static const enum revtr_hop_type t[] = {
		REVTR_HOP_DST_REV_SEGMENT, REVTR_HOP_RR_REV_SEGMENT, REVTR_HOP_RR_REV_SEGMENT,
		REVTR_HOP_RR_REV_SEGMENT,  REVTR_HOP_RR_REV_SEGMENT,
	};
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	int rev;

	for (rev = 0; rev < 2; rev++) {
		near_topo(0);
		r = run_to(&cfg, D, NULL, 0, &rt, rev);
		cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
		assert_path(r, "D R2 R3 R1 G");
		assert_truth(r, D);
		assert_types(r, t, 5);
		cr_assert_eq(r->probes.rr, 1);
		cr_assert_eq(r->probes.total, 1);
		cr_assert_eq(r->hops[0].rtt_us, 9000, "D rtt %u", r->hops[0].rtt_us);
		revtr_free(rt);
	}
}

/* The status line names the hop looked for, the last hop found and what is outstanding. */
Test(revtr, status_line)
{
	struct revtr_req req[8];
	struct revtr_cfg cfg;
	struct revtr *rt;
	char buf[256], want[64], a[16];
	int n;

	near_topo(0);
	cfg_for(&cfg, D);
	rt = revtr_new(&cfg);
	cr_assert_not_null(rt);
	n = revtr_next_requests(rt, req, 8);
	cr_assert_eq(n, 1);
	cr_assert_eq(req[0].kind, REVTR_REQ_RR_PING);
	inet_ntop(AF_INET, &cfg.dst, a, sizeof(a));
	snprintf(want, sizeof(want), "hop 2 after %s: RR_PING", a);
	cr_assert_eq(revtr_status(rt, buf, sizeof(buf)), strlen(want));
	cr_assert_str_eq(buf, want);
	/* snprintf semantics: truncated, NUL-terminated, full length returned */
	cr_assert_eq(revtr_status(rt, buf, 8), strlen(want));
	cr_assert_str_eq(buf, "hop 2 a");
	revtr_free(rt);
	drive(rt = revtr_new(&cfg), 0);
	cr_assert(revtr_done(rt));
	revtr_status(rt, buf, sizeof(buf));
	cr_assert_str_eq(buf, "done");
	revtr_free(rt);
}

Test(revtr, gateway_learnt_from_forward_trace)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	near_topo(0);
	cfg_for(&cfg, D);
	cfg.client_gw = 0;
	r = run_revtr(&cfg, &rt, 0);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_path(r, "D R2 R3 R1 G");
	cr_assert_eq(r->probes.trace, 4, "trace probes %u", r->probes.trace);
	revtr_free(rt);
}

static void sc_far_needs_spoofed_rr_from_near_vp(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr_kb *kb;
	struct revtr *rt;
	const struct revtr_report *r;
	uint32_t cand[3], ord[3];
	size_t i;

	far_topo(0);
	kb = revtr_kb_new(m_addr(&M, C));
	r = run_to(&cfg, D, kb, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	assert_path(r, "D A8 A7 A6 A5 A4 A3 A2 A1 G");
	for (i = 1; i <= 6; i++)
		cr_assert_eq(r->hops[i].type, REVTR_HOP_SPOOF_RR_REV_SEGMENT, "hop %zu", i + 1);
	for (i = 7; i <= 9; i++)
		cr_assert_eq(r->hops[i].type, REVTR_HOP_RR_REV_SEGMENT, "hop %zu", i + 1);
	cr_assert_eq(r->probes.rr, 2);
	cr_assert_eq(r->probes.spoof_rr, 3);
	/* ranking for D's /24: VN (D in slot 1), VF (slot 8), VX (filtered) */
	cand[0] = m_addr(&M, VF);
	cand[1] = m_addr(&M, VX);
	cand[2] = m_addr(&M, VN);
	cr_assert_eq(revtr_rank_order(kb, m_addr(&M, D), cand, 3, ord), 3);
	cr_assert_eq(ord[0], m_addr(&M, VN));
	cr_assert_eq(ord[1], m_addr(&M, VF));
	cr_assert_eq(ord[2], m_addr(&M, VX));
	revtr_free(rt);

	/* D2 shares D's /24: the ranking sends it to VN first, and the path
	 * meets the tree cache at A3 */
	cfg_for(&cfg, D2);
	cfg.kb = kb;
	cfg.spoof_batch = 1;
	r = run_revtr(&cfg, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D2);
	cr_assert_eq(r->probes.spoof_rr, 1);
	cr_assert_eq(r->probes.rr, 1);
	cr_assert(!r->hops[6].from_cache);
	for (i = 7; i <= 9; i++)
		cr_assert(r->hops[i].from_cache, "hop %zu not from cache", i + 1);
	revtr_free(rt);
	revtr_kb_free(kb);
}

TEST_BOTH_ORDERS(far_needs_spoofed_rr_from_near_vp)

static void sc_atlas_intersection_via_rr_and_via_mate(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	int pass;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		far_topo(1);
		M.no_atlas_rr = pass; /* pass 1: only the /30 mate of A4's address */
		r = run_to(&cfg, D, NULL, 0, &rt, lifo);
		cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
		assert_truth(r, D);
		cr_assert_eq(r->probes.rr, 1, "the client's RR ping to A3 is not needed");
		cr_assert_eq(r->probes.atlas, 7, "atlas probes %u", r->probes.atlas);
		for (i = 7; i <= 9; i++)
			cr_assert_eq(r->hops[i].type, REVTR_HOP_TR_TO_SRC_REV_SEGMENT_BETWEEN,
				     "hop %zu: %s", i + 1, revtr_hop_type_name(r->hops[i].type));
		revtr_free(rt);
	}
}

TEST_BOTH_ORDERS(atlas_intersection_via_rr_and_via_mate)

Test(revtr, atlas_exact_and_budget_excludes_atlas)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	struct revtr_kb *kb;
	int a8 = -1, i;

	far_topo(0);
	kb = revtr_kb_new(m_addr(&M, C));
	/* a traceroute toward the client that passes D itself */
	for (i = 0; i < M.nn; i++)
		if (!strcmp(M.n[i].name, "A8"))
			a8 = i;
	{
		struct revtr_trace_hop h[16];
		int n = m_trace(&M, VN, m_addr(&M, C), &i);

		memcpy(h + 1, M.tbuf, n * sizeof(h[0]));
		h[0].addr = m_addr(&M, D);
		h[0].rtt_us = 0;
		cr_assert_eq(revtr_atlas_add(kb, m_addr(&M, VN), h, n + 1, NULL, 0), 0);
	}
	cr_assert_eq(revtr_atlas_find(kb, m_addr(&M, D), NULL), 10);
	cr_assert_eq(revtr_atlas_find(kb, m_if(&M, a8, D), NULL), -ENOENT);
	cfg_for(&cfg, D);
	cfg.kb = kb;
	cfg.max_probes = 1;
	r = run_revtr(&cfg, &rt, 0);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	cr_assert_eq(r->probes.total, 0);
	cr_assert_eq(r->hops[1].type, REVTR_HOP_TR_TO_SRC_REV_SEGMENT);
	assert_path(r, "D A8 A7 A6 A5 A4 A3 A2 A1 G");
	revtr_free(rt);
	revtr_kb_free(kb);
}

/* C - G - B1 - B2 - B3 - D, B3 drops packets with RR (not TS). */
static void sc_ts_adjacency_when_rr_is_dropped(int lifo)
{
	static const enum revtr_hop_type t[] = {
		REVTR_HOP_DST_REV_SEGMENT,    REVTR_HOP_TS_ADJ_REV_SEGMENT,
		REVTR_HOP_TS_ADJ_REV_SEGMENT, REVTR_HOP_RR_REV_SEGMENT,
		REVTR_HOP_RR_REV_SEGMENT,
	};
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	int b[3];

	chain("B", 3, b);
	M.n[b[2]].flags |= M_DROP_RR;
	D = m_node(&M, "D", 0);
	m_link(&M, b[2], D, 0x0ac80000);
	m_build(&M);
	r = run_to(&cfg, D, NULL, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	assert_types(r, t, 5);
	cr_assert_eq(r->probes.ts, 4, "ts probes %u", r->probes.ts);
	revtr_free(rt);
}

TEST_BOTH_ORDERS(ts_adjacency_when_rr_is_dropped)

/*
 * D drops RR. The client's forward path to D crosses X, which drops TS; D's
 * reverse path and VN's path avoid it: the direct TS check times out, the
 * spoofed one works.
 */
static void sc_spoofed_ts_adjacency(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	int b[2], x;

	chain("B", 2, b);
	D = m_node(&M, "D", M_DROP_RR);
	m_link(&M, b[1], D, 0x0ac80000);
	x = m_node(&M, "X", M_DROP_TS);
	m_link(&M, b[0], x, 0);
	m_link(&M, x, b[1], 0);
	VN = m_node(&M, "VN", 0);
	m_link(&M, b[1], VN, 0);
	m_build(&M);
	m_route(&M, b[0], D, x);
	m_build(&M);
	add_agent(VN, REVTR_AGENT_SPOOF);
	r = run_to(&cfg, D, NULL, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	cr_assert_eq(r->hops[1].type, REVTR_HOP_SPOOF_TS_ADJ_REV_SEGMENT, "%s",
		     revtr_hop_type_name(r->hops[1].type));
	cr_assert_gt(r->probes.spoof_ts, 1);
	revtr_free(rt);
}

TEST_BOTH_ORDERS(spoofed_ts_adjacency)

static void sc_agent_at_destination(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	size_t i;

	near_topo(0);
	add_agent(D, 0);
	r = run_to(&cfg, D, NULL, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	for (i = 1; i < r->nhops; i++)
		cr_assert_eq(r->hops[i].type, REVTR_HOP_AGENT_TR_REV_SEGMENT);
	cr_assert_eq(r->probes.agent, 5);
	cr_assert_eq(r->probes.rr, 0);
	revtr_free(rt);
}

TEST_BOTH_ORDERS(agent_at_destination)
