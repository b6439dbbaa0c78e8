// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_revtr.c - unit tests of the revtr core: scenarios in which a small
 * network model (test_revtr_model.h) plays the network and the agents, one
 * per technique and failure mode (pure RR, spoofed RR from a near VP, atlas
 * intersection, TS adjacency, symmetry fallback, options-dropping
 * destination, agent at the destination, tree cache, loop, probe budget,
 * unreachable), checked against the model's router-level ground truth; plus
 * the RR interpretation table and the knowledge-base pieces.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "rtrace/revtr.h"
#include "test_revtr_model.h"

/* ---- scenario scaffolding --------------------------------------------------------- */

static struct model M;
static int C, G, D, D2, VN, VF, VX, VA;
static struct revtr_agent agents[8];
static int nagents;

static void add_agent(int node, unsigned flags)
{
	agents[nagents].addr = m_addr(&M, node);
	agents[nagents].flags = flags;
	nagents++;
}

/* C - G - R1 .. Rn; returns the last router. */
static int chain(const char *pfx, int n, int *r)
{
	char name[16];
	int i, prev = G;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", pfx, i + 1);
		r[i] = m_node(&M, name, 0);
		m_link(&M, prev, r[i], 0);
		prev = r[i];
	}
	return prev;
}

static void base(void)
{
	m_init(&M);
	nagents = 0;
	C = m_node(&M, "C", 0);
	G = m_node(&M, "G", 0);
	m_link(&M, G, C, 0x0a000000); /* 10.0.0.0/30: G .1, C .2 */
	M.client = C;
	D2 = VN = VF = VX = VA = -1;
}

static void cfg_for(struct revtr_cfg *cfg, int dst)
{
	revtr_cfg_init(cfg);
	cfg->client = m_addr(&M, C);
	cfg->client_gw = m_if(&M, G, C);
	cfg->dst = m_addr(&M, dst);
	cfg->agents = agents;
	cfg->nagents = (size_t)nagents;
}

/*
 * Run the revtr against the model. Requests handed out join a pool; one is
 * answered per round, the oldest (lifo 0) or the newest (lifo 1), and the
 * core is asked for new requests after every answer, so results arrive
 * interleaved with others still outstanding.
 */
static const struct revtr_report *drive(struct revtr *rt, int lifo)
{
	struct revtr_req pool[64], r;
	struct revtr_result res;
	int it, k, n = 0, err;

	for (it = 0; it < 1000 && !revtr_done(rt); it++) {
		k = revtr_next_requests(rt, pool + n, 64 - n);
		cr_assert(k >= 0);
		n += k;
		cr_assert_eq(revtr_outstanding(rt), n, "outstanding %d, pool %d",
			     revtr_outstanding(rt), n);
		if (!n) {
			cr_assert(revtr_done(rt), "no requests while running");
			break;
		}
		if (lifo) {
			r = pool[--n];
		} else {
			r = pool[0];
			memmove(pool, pool + 1, --n * sizeof(pool[0]));
		}
		cr_assert_eq(r.src, m_addr(&M, C));
		m_answer(&M, &r, &res);
		err = revtr_on_result(rt, r.id, &res);
		cr_assert(err == 0 || (err == -ENOENT && revtr_done(rt)), "on_result %d", err);
	}
	cr_assert(revtr_done(rt), "did not finish");
	cr_assert_eq(revtr_outstanding(rt), 0);
	if (M.verbose) {
		char buf[4096];

		revtr_format_text(revtr_report(rt), buf, sizeof(buf));
		fprintf(stderr, "%s", buf);
	}
	return revtr_report(rt);
}

static void assert_path(const struct revtr_report *r, const char *want)
{
	char got[512];

	m_names(&M, r, got, sizeof(got));
	cr_assert_str_eq(got, want, "path \"%s\", want \"%s\" (%s)", got, want, r->fail_reason);
}

static void assert_truth(const struct revtr_report *r, int dst)
{
	char want[512];

	m_truth(&M, dst, want, sizeof(want));
	assert_path(r, want);
}

static void assert_types(const struct revtr_report *r, const enum revtr_hop_type *t, size_t n)
{
	size_t i;

	cr_assert_eq(r->nhops, n, "%zu hops, want %zu", r->nhops, n);
	for (i = 0; i < n; i++)
		cr_assert_eq(r->hops[i].type, t[i], "hop %zu is %s, want %s", i + 1,
			     revtr_hop_type_name(r->hops[i].type), revtr_hop_type_name(t[i]));
}

/*
 * Near: C - G - R1 - R2 - D, and R2 returns to C through R3 (asymmetric);
 * the RR ping from the client has room for all reverse hops.
 */
static void near_topo(unsigned dflags)
{
	int r[2], r3;

	base();
	chain("R", 2, r);
	D = m_node(&M, "D", dflags);
	m_link(&M, r[1], D, 0x0ac80000); /* 10.200.0.0/30 */
	r3 = m_node(&M, "R3", 0);
	m_link(&M, r[1], r3, 0);
	m_link(&M, r3, r[0], 0);
	m_build(&M);
	m_route(&M, r[1], C, r3);
	m_build(&M);
}

/*
 * Far: C - G - A1 .. A8 - D (nine routers: RR from the client fills up on
 * the way out). VPs: VN next to D (on A8), VF far (on A1), VX on A8 behind a
 * spoof filter, VA (atlas only) on A5; D2 is D's neighbour on A8.
 */
static void far_topo(int with_atlas)
{
	int a[8];

	base();
	chain("A", 8, a);
	D = m_node(&M, "D", 0);
	m_link(&M, a[7], D, 0x0ac80000);
	D2 = m_node(&M, "D2", 0);
	m_link(&M, a[7], D2, 0x0ac80004);
	VF = m_node(&M, "VF", 0);
	m_link(&M, a[0], VF, 0);
	VN = m_node(&M, "VN", 0);
	m_link(&M, a[7], VN, 0);
	VX = m_node(&M, "VX", M_NO_SPOOF);
	m_link(&M, a[7], VX, 0);
	m_build(&M);
	add_agent(VF, REVTR_AGENT_SPOOF);
	add_agent(VN, REVTR_AGENT_SPOOF);
	add_agent(VX, REVTR_AGENT_SPOOF);
	if (with_atlas) {
		VA = m_node(&M, "VA", 0);
		m_link(&M, a[4], VA, 0);
		m_build(&M);
		add_agent(VA, REVTR_AGENT_TRACE);
	}
}

/* ---- scenarios ---------------------------------------------------------------------- */

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
		cfg_for(&cfg, D);
		rt = revtr_new(&cfg);
		cr_assert_not_null(rt);
		r = drive(rt, rev);
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

Test(revtr, gateway_learnt_from_forward_trace)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	near_topo(0);
	cfg_for(&cfg, D);
	cfg.client_gw = 0;
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
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
	cfg_for(&cfg, D);
	cfg.kb = kb;
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
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
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
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

Test(revtr, far_needs_spoofed_rr_from_near_vp)
{
	sc_far_needs_spoofed_rr_from_near_vp(0);
	sc_far_needs_spoofed_rr_from_near_vp(1);
}

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
		cfg_for(&cfg, D);
		rt = revtr_new(&cfg);
		r = drive(rt, lifo);
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

Test(revtr, atlas_intersection_via_rr_and_via_mate)
{
	sc_atlas_intersection_via_rr_and_via_mate(0);
	sc_atlas_intersection_via_rr_and_via_mate(1);
}

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
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
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

	base();
	chain("B", 3, b);
	M.n[b[2]].flags |= M_DROP_RR;
	D = m_node(&M, "D", 0);
	m_link(&M, b[2], D, 0x0ac80000);
	m_build(&M);
	cfg_for(&cfg, D);
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	assert_types(r, t, 5);
	cr_assert_eq(r->probes.ts, 4, "ts probes %u", r->probes.ts);
	revtr_free(rt);
}

Test(revtr, ts_adjacency_when_rr_is_dropped)
{
	sc_ts_adjacency_when_rr_is_dropped(0);
	sc_ts_adjacency_when_rr_is_dropped(1);
}

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

	base();
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
	cfg_for(&cfg, D);
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	cr_assert_eq(r->hops[1].type, REVTR_HOP_SPOOF_TS_ADJ_REV_SEGMENT, "%s",
		     revtr_hop_type_name(r->hops[1].type));
	cr_assert_gt(r->probes.spoof_ts, 1);
	revtr_free(rt);
}

Test(revtr, spoofed_ts_adjacency)
{
	sc_spoofed_ts_adjacency(0);
	sc_spoofed_ts_adjacency(1);
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
	int rr[2];

	base();
	chain("R", 2, rr);
	D = m_node(&M, "D", M_DROP_RR | M_DROP_TS);
	m_link(&M, rr[1], D, 0x0ac80000);
	VN = m_node(&M, "VN", 0);
	m_link(&M, rr[1], VN, 0);
	m_build(&M);
	add_agent(VN, REVTR_AGENT_SPOOF);
	kb = revtr_kb_new(m_addr(&M, C));
	cfg_for(&cfg, D);
	cfg.kb = kb;
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
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
	cfg_for(&cfg, D);
	cfg.kb = kb;
	cfg.flags |= REVTR_NO_CACHE;
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_types(r, t, 4);
	cr_assert_eq(r->probes.total, 1, "%u probes", r->probes.total);
	cr_assert_eq(r->probes.rr, 1);
	revtr_free(rt);

	/* and with it: nothing is probed at all */
	cfg_for(&cfg, D);
	cfg.kb = kb;
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_path(r, "D R2 R1 G");
	assert_types(r, t, 4);
	cr_assert_eq(r->probes.total, 0, "%u probes", r->probes.total);
	cr_assert(r->hops[1].from_cache && r->hops[3].from_cache);
	revtr_free(rt);
	revtr_kb_free(kb);
}

Test(revtr, symmetry_fallback_marked_and_cached_unresponsive)
{
	sc_symmetry_fallback_marked_and_cached_unresponsive(0);
	sc_symmetry_fallback_marked_and_cached_unresponsive(1);
}

Test(revtr, options_dropping_destination_without_symmetry_fails)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	char want[64], a[16];
	struct in_addr in;

	near_topo(M_DROP_RR | M_DROP_TS);
	cfg_for(&cfg, D);
	cfg.flags |= REVTR_NO_SYM;
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_eq(r->nhops, 1);
	in.s_addr = m_addr(&M, D);
	inet_ntop(AF_INET, &in, a, sizeof(a));
	snprintf(want, sizeof(want), "no technique found the hop after %s", a);
	cr_assert_str_eq(r->fail_reason, want);
	revtr_free(rt);
}

static void sc_agent_at_destination(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	size_t i;

	near_topo(0);
	add_agent(D, 0);
	cfg_for(&cfg, D);
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	assert_truth(r, D);
	for (i = 1; i < r->nhops; i++)
		cr_assert_eq(r->hops[i].type, REVTR_HOP_AGENT_TR_REV_SEGMENT);
	cr_assert_eq(r->probes.agent, 5);
	cr_assert_eq(r->probes.rr, 0);
	revtr_free(rt);
}

Test(revtr, agent_at_destination)
{
	sc_agent_at_destination(0);
	sc_agent_at_destination(1);
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
	cfg_for(&cfg, D);
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_eq(r->nhops, 2);
	cr_assert_eq(r->hops[1].addr, loop_r2);
	cr_assert(strstr(r->fail_reason, "loop: 10.200.0.2"), "%s", r->fail_reason);
	cr_assert(strstr(r->fail_reason, "is hop 1 already"), "%s", r->fail_reason);
	revtr_free(rt);
}

Test(revtr, probe_budget_exhausted)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	far_topo(0);
	cfg_for(&cfg, D);
	cfg.max_probes = 3;
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_str_eq(r->fail_reason, "probe budget exhausted (3 probes)");
	cr_assert_eq(r->nhops, 1);
	cr_assert_eq(r->probes.total, 3);
	revtr_free(rt);
}

Test(revtr, max_hops)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	far_topo(0);
	cfg_for(&cfg, D);
	cfg.max_hops = 5;
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_str_eq(r->fail_reason, "max hops (5) reached");
	cr_assert_eq(r->nhops, 5);
	assert_path(r, "D A8 A7 A6 A5");
	revtr_free(rt);
}

static void sc_unreachable_destination(int lifo)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;
	int rr[2];

	base();
	chain("R", 2, rr);
	D = m_node(&M, "D", M_NO_ECHO);
	m_link(&M, rr[1], D, 0x0ac80000);
	VN = m_node(&M, "VN", 0);
	m_link(&M, rr[1], VN, 0);
	m_build(&M);
	add_agent(VN, REVTR_AGENT_SPOOF);
	cfg_for(&cfg, D);
	rt = revtr_new(&cfg);
	r = drive(rt, lifo);
	cr_assert_eq(r->stop, REVTR_FAILED);
	cr_assert_eq(r->nhops, 1);
	cr_assert_eq(r->hops[0].type, REVTR_HOP_DST_REV_SEGMENT);
	cr_assert(strstr(r->fail_reason, "no technique found the hop after 10.200.0.2"), "%s",
		  r->fail_reason);
	revtr_free(rt);
}

Test(revtr, unreachable_destination)
{
	sc_unreachable_destination(0);
	sc_unreachable_destination(1);
}

Test(revtr, ts_stamp_everything_host_is_not_trusted)
{
	struct revtr_cfg cfg;
	struct revtr *rt;
	const struct revtr_report *r;

	near_topo(M_DROP_RR | M_TS_ALL);
	cfg_for(&cfg, D);
	cfg.kb = revtr_kb_new(cfg.client);
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
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
	cfg_for(&cfg, D);
	cfg.flags |= REVTR_NO_SPOOF | REVTR_NO_ATLAS | REVTR_NO_TS;
	rt = revtr_new(&cfg);
	r = drive(rt, 0);
	cr_assert_eq(r->probes.spoof_rr, 0);
	cr_assert_eq(r->probes.atlas, 0);
	cr_assert_eq(r->probes.ts, 0);
	/* nothing but symmetry is left: every reverse hop is marked */
	cr_assert_eq(r->stop, REVTR_REACHES, "%s", r->fail_reason);
	cr_assert_eq(r->hops[1].type, REVTR_HOP_DST_SYM_REV_SEGMENT);
	revtr_free(rt);
}
