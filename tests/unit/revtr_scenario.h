/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * revtr_scenario.h - the scaffolding of the revtr scenario tests (test_revtr.c,
 * test_revtr_fallback.c): one model (test_revtr_model.h) with the client C
 * behind its gateway G, named nodes the scenarios fill in, the agents list,
 * the near and far topologies, run_revtr() that drives a revtr against the
 * model answering requests in either order, and the path/type assertions
 * against the model's ground truth. Include it once per test file.
 */
#ifndef RTRACE_TESTS_REVTR_SCENARIO_H
#define RTRACE_TESTS_REVTR_SCENARIO_H

#include <criterion/criterion.h>
#include <errno.h>

#include "rtrace/revtr.h"
#include "test_revtr_model.h"

static struct model M;
static int C, G, D, D2, VN, VF, VX, VA;
static struct revtr_agent agents[8];
static int nagents;

static inline void add_agent(int node, unsigned flags)
{
	agents[nagents].addr = m_addr(&M, node);
	agents[nagents].flags = flags;
	nagents++;
}

/* A new model: the client C behind its gateway G (10.0.0.0/30), no agents. */
static inline void base(void)
{
	m_init(&M);
	nagents = 0;
	C = m_node(&M, "C", 0);
	G = m_node(&M, "G", 0);
	m_link(&M, G, C, 0x0a000000); /* 10.0.0.0/30: G .1, C .2 */
	M.client = C;
	D2 = VN = VF = VX = VA = -1;
}

/* A new model C - G - R1 .. Rn (base()); returns the last router. */
static inline int chain(const char *pfx, int n, int *r)
{
	char name[16];
	int i, prev;

	base();
	prev = G;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", pfx, i + 1);
		r[i] = m_node(&M, name, 0);
		m_link(&M, prev, r[i], 0);
		prev = r[i];
	}
	return prev;
}

static inline void cfg_for(struct revtr_cfg *cfg, int dst)
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
static inline const struct revtr_report *drive(struct revtr *rt, int lifo)
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

static inline void assert_path(const struct revtr_report *r, const char *want)
{
	char got[512];

	m_names(&M, r, got, sizeof(got));
	cr_assert_str_eq(got, want, "path \"%s\", want \"%s\" (%s)", got, want, r->fail_reason);
}

static inline void assert_truth(const struct revtr_report *r, int dst)
{
	char want[512];

	m_truth(&M, dst, want, sizeof(want));
	assert_path(r, want);
}

static inline void assert_types(const struct revtr_report *r, const enum revtr_hop_type *t,
				size_t n)
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
static inline void near_topo(unsigned dflags)
{
	int r[2], r3;

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
static inline void far_topo(int with_atlas)
{
	int a[8];

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

/*
 * A new revtr for cfg driven to its end (lifo as in drive()); *rt is for the
 * caller to free.
 */
static inline const struct revtr_report *run_revtr(const struct revtr_cfg *cfg, struct revtr **rt,
						   int lifo)
{
	*rt = revtr_new(cfg);
	cr_assert_not_null(*rt);
	return drive(*rt, lifo);
}

/* run_revtr() with cfg_for(cfg, dst), the knowledge base kb and flags set. */
static inline const struct revtr_report *run_to(struct revtr_cfg *cfg, int dst, struct revtr_kb *kb,
						unsigned flags, struct revtr **rt, int lifo)
{
	cfg_for(cfg, dst);
	cfg->kb = kb;
	cfg->flags |= flags;
	return run_revtr(cfg, rt, lifo);
}

/* Test(revtr, NAME) running the scenario sc_NAME(lifo) with both answer orders. */
#define TEST_BOTH_ORDERS(name)                                                                     \
	Test(revtr, name)                                                                          \
	{                                                                                          \
		sc_##name(0);                                                                      \
		sc_##name(1);                                                                      \
	}

#endif /* RTRACE_TESTS_REVTR_SCENARIO_H */
