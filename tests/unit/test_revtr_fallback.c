// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_revtr_fallback.c - unit tests of the revtr core when techniques fail
 * (scaffolding in revtr_scenario.h): the symmetry fallback and the cache of
 * unresponsive hosts, an options-dropping destination without symmetry, a
 * loop, the probe budget and max hops, an unreachable destination, a host
 * that stamps every TS entry, and the switches that turn techniques off.
 */
#include "revtr_scenario.h"

/* C - G - R1 - R2 - D, with a spoofing agent VN on R2; D has flags dflags. */
static void vn_topo(unsigned dflags)
{
	int rr[2];

	chain("R", 2, rr);
	D = m_node(&M, "D", dflags);
	m_link(&M, rr[1], D, 0x0ac80000);
	VN = m_node(&M, "VN", 0);
	m_link(&M, rr[1], VN, 0);
	m_build(&M);
	add_agent(VN, REVTR_AGENT_SPOOF);
}

/* D drops every packet with options: symmetry is assumed and marked. */
static void sc_symmetry_fallback_marked_and_cached_unresponsive(int lifo)
{
	static const enum revtr_hop_type t[] = {
		REVTR_HOP_DST_REV_SEGMENT,
		REVTR_HOP_DST_SYM_REV_SEGMENT,
		REVTR_HOP_RR_REV_SEGMENT,
		REVTR_HOP_RR_REV_SEGMENT,
	};
	struct revtr_cfg cfg;
	struct revtr_kb *kb;
	struct revtr *rt;
	const struct revtr_report *r;
	char buf[2048];

	vn_topo(M_DROP_RR | M_DROP_TS);
	kb = revtr_kb_new(m_addr(&M, C));
	r = run_to(&cfg, D, kb, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_path(r, "D R2 R1 G");
	assert_types(r, t, 4);
	revtr_format_text(r, buf, sizeof(buf));
	cr_assert(strstr(buf, " 2  10.1.0.6         DST_SYM_REV_SEGMENT            3.000 ms  "
			      "(assumed symmetric, not measured)\n"),
		  "%s", buf);
	cr_assert_eq(revtr_unresp_get(kb, m_addr(&M, D)), REVTR_UNRESP_RR | REVTR_UNRESP_TS);
	revtr_free(rt);

	/* again without the tree cache: D is known not to answer options, so
	 * only R2 gets an RR ping */
	r = run_to(&cfg, D, kb, REVTR_NO_CACHE, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_types(r, t, 4);
	cr_assert_eq(r->probes.total, 1, "%u probes", r->probes.total);
	cr_assert_eq(r->probes.rr, 1);
	revtr_free(rt);

	/* and with it: nothing is probed at all */
	r = run_to(&cfg, D, kb, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_path(r, "D R2 R1 G");
	assert_types(r, t, 4);
	cr_assert_eq(r->probes.total, 0, "%u probes", r->probes.total);
	cr_assert(r->hops[1].from_cache && r->hops[3].from_cache);
	revtr_free(rt);
	revtr_kb_free(kb);
}

TEST_BOTH_ORDERS(symmetry_fallback_marked_and_cached_unresponsive)

Test(revtr, options_dropping_destination_without_symmetry_fails)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	char want[64], a[16];
	struct in_addr in;

	near_topo(M_DROP_RR | M_DROP_TS);
	r = run_to(&cfg, D, NULL, REVTR_NO_SYM, &rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_eq(r->nhops, 1);
	in.s_addr = m_addr(&M, D);
	inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(want, sizeof(want), "no technique found the hop after %s", a);
	cr_assert_str_eq(r->fail_reason, want);
	revtr_free(rt);
}

static uint32_t loop_d, loop_r2;

static int loop_hook(struct model *m, const struct revtr_req *q, struct revtr_result *res)
{
	(void)m;
	if (q->kind != REVTR_REQ_RR_PING)
		return 0;
	res->status = REVTR_RES_OK;
	res->rr_count = 6;
	res->rr[0] = ip4(10, 1, 0, 1);
	res->rr[1] = ip4(10, 1, 0, 5);
	if (q->target == loop_d) {
		/* D, D, then R2 */
		res->rr[2] = loop_d;
		res->rr[3] = loop_d;
		res->rr[4] = loop_r2;
		res->rr_count = 5;
	} else {
		/* R2, R2, then D again: a path that loops */
		res->rr[2] = loop_r2;
		res->rr[3] = loop_r2;
		res->rr[4] = loop_d;
		res->rr[5] = ip4(10, 0, 0, 1);
	}
	return 1;
}

Test(revtr, loop_is_detected)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	near_topo(0);
	loop_d = m_addr(&M, D);
	loop_r2 = ip4(10, 9, 9, 9);
	M.hook = loop_hook;
	r = run_to(&cfg, D, NULL, 0, &rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_eq(r->nhops, 2);
	cr_assert_eq(r->hops[1].addr, loop_r2);
	cr_assert(strstr(r->fail_reason, "loop: 10.200.0.2"), "%s", r->fail_reason);
	cr_assert(strstr(r->fail_reason, "is hop 1 already"), "%s", r->fail_reason);
	revtr_free(rt);
}

/*
 * The far topology with a limit in cfg (0: the default): the revtr gives up,
 * FAILED for reason with nhops hops. *rt is for the caller to free.
 */
static const struct revtr_report *far_gives_up(unsigned max_probes, unsigned max_hops,
					       const char *reason, size_t nhops, struct revtr **rt)
{
	struct revtr_cfg cfg;
	const struct revtr_report *r;

	far_topo(0);
	cfg_for(&cfg, D);
	if (max_probes)
		cfg.max_probes = max_probes;
	if (max_hops)
		cfg.max_hops = max_hops;
	r = run_revtr(&cfg, rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_str_eq(r->fail_reason, reason);
	cr_assert_eq(r->nhops, nhops);
	return r;
}

Test(revtr, probe_budget_exhausted)
{
	struct revtr *rt;
	const struct revtr_report *r;

	r = far_gives_up(3, 0, "probe budget exhausted (3 probes)", 1, &rt);
	cr_assert_eq(r->probes.total, 3);
	revtr_free(rt);
}

Test(revtr, max_hops)
{
	struct revtr *rt;
	const struct revtr_report *r;

	r = far_gives_up(0, 5, "max hops (5) reached", 5, &rt);
	assert_path(r, "D A8 A7 A6 A5");
	revtr_free(rt);
}

static void sc_unreachable_destination(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	vn_topo(M_NO_ECHO);
	r = run_to(&cfg, D, NULL, 0, &rt, lifo);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_eq(r->nhops, 1);
	cr_assert_eq(r->hops[0].type, REVTR_HOP_DST_REV_SEGMENT);
	cr_assert(strstr(r->fail_reason, "no technique found the hop after 10.200.0.2"), "%s",
		  r->fail_reason);
	revtr_free(rt);
}

TEST_BOTH_ORDERS(unreachable_destination)

Test(revtr, ts_stamp_everything_host_is_not_trusted)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	near_topo(M_DROP_RR | M_TS_ALL);
	cfg_for(&cfg, D);
	cfg.kb = revtr_kb_new(cfg.client);
	r = run_revtr(&cfg, &rt, 0);
	/* the [D, bogus] check catches it: no TS_ADJ hop, symmetry instead */
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	cr_assert_eq(r->hops[1].type, REVTR_HOP_DST_SYM_REV_SEGMENT);
	cr_assert_eq(r->probes.ts, 1);
	cr_assert_eq(revtr_unresp_get(cfg.kb, cfg.dst), REVTR_UNRESP_TS_ALL);
	revtr_free(rt);
	revtr_kb_free(cfg.kb);
}

Test(revtr, switches_no_spoof_no_atlas)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	far_topo(1);
	r = run_to(&cfg, D, NULL, REVTR_NO_SPOOF | REVTR_NO_ATLAS | REVTR_NO_TS, &rt, 0);
	cr_assert_eq(r->probes.spoof_rr, 0);
	cr_assert_eq(r->probes.atlas, 0);
	cr_assert_eq(r->probes.ts, 0);
	/* nothing but symmetry is left: every reverse hop is marked */
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	cr_assert_eq(r->hops[1].type, REVTR_HOP_DST_SYM_REV_SEGMENT);
	revtr_free(rt);
}
