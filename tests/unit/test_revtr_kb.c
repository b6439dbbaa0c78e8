// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_revtr_kb.c - unit tests of the revtr pieces below the state machine:
 * the Record Route interpretation (table-driven), the alias store and its
 * RR-vs-traceroute learning, atlas and tree lookups, VP ranking, the
 * unresponsive cache, the API's argument checks and the text/JSON output.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/revtr.h"

/* 10.0.0.x in network order, as a constant expression */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define A(x) __builtin_bswap32(0x0a000000u | (x))
#else
#define A(x) (0x0a000000u | (x))
#endif
#define T A(100)
#define E A(101)
#define T2 A(102)

struct rr_case {
	const char *name;
	uint32_t rr[9];
	int n;
	int fwd_hops;
	bool dbl;
	int err, stamp, rev, nrev;
	uint32_t egress;
};

static const struct rr_case rr_cases[] = {
	{"double stamp, same address", {A(1), A(2), T, T, A(3), A(4)}, 6, -1, true, 0, 2, 4, 2, 0},
	{"double stamp, egress interface", {A(1), T, E, A(3)}, 4, -1, true, 0, 1, 3, 1, E},
	{"single-stamp destination", {A(1), T, E, A(3)}, 4, -1, false, 0, 1, 2, 2, 0},
	{"full of forward hops",
	 {A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9)},
	 9,
	 -1,
	 true,
	 -ENOENT,
	 -1,
	 9,
	 0,
	 0},
	{"stamp in the last slot",
	 {A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), T},
	 9,
	 -1,
	 true,
	 0,
	 8,
	 9,
	 0,
	 0},
	{"unknown alias after the forward hops",
	 {A(1), A(2), A(50), A(50), A(3)},
	 5,
	 2,
	 true,
	 0,
	 2,
	 4,
	 1,
	 0},
	{"known alias", {A(1), T2, T2, A(3), A(4)}, 5, -1, true, 0, 1, 3, 2, 0},
	{"empty", {0}, 0, -1, true, -ENOENT, -1, 0, 0, 0},
};

Test(revtr_kb, rr_split_table)
{
	struct revtr_kb *kb = revtr_kb_new(A(200));
	struct revtr_rr_split v;
	size_t i;

	cr_assert_eq(revtr_alias_add(kb, T, T2), 0);
	for (i = 0; i < sizeof(rr_cases) / sizeof(rr_cases[0]); i++) {
		const struct rr_case *c = &rr_cases[i];
		int err = revtr_rr_split(kb, T, c->rr, c->n, c->fwd_hops, c->dbl, &v);

		cr_assert_eq(err, c->err, "%s: err %d", c->name, err);
		cr_assert_eq(v.stamp, c->stamp, "%s: stamp %d", c->name, v.stamp);
		cr_assert_eq(v.rev, c->rev, "%s: rev %d", c->name, v.rev);
		cr_assert_eq(v.nrev, c->nrev, "%s: nrev %d", c->name, v.nrev);
		cr_assert_eq(v.egress, c->egress, "%s: egress", c->name);
	}
	revtr_kb_free(kb);
}

Test(revtr_kb, aliases_union_and_learning)
{
	struct revtr_kb *kb = revtr_kb_new(A(200));
	const uint32_t rr[] = {A(1), A(2), A(3), T, T};
	const struct revtr_trace_hop tr[] = {{A(11), 0}, {0, 0}, {A(13), 0}, {T, 0}};

	cr_assert(!revtr_alias_same(kb, A(1), A(2)));
	cr_assert(revtr_alias_same(kb, A(1), A(1)));
	cr_assert(!revtr_alias_same(kb, 0, 0));
	cr_assert_eq(revtr_alias_add(kb, A(1), A(2)), 0);
	cr_assert_eq(revtr_alias_add(kb, A(3), A(4)), 0);
	cr_assert(revtr_alias_same(kb, A(2), A(1)));
	cr_assert(!revtr_alias_same(kb, A(1), A(3)));
	cr_assert_eq(revtr_alias_add(kb, A(2), A(4)), 0);
	cr_assert(revtr_alias_same(kb, A(1), A(3)));
	cr_assert_eq(revtr_alias_add(kb, A(1), A(3)), 0);

	/* slot i and hop i are one router; the silent hop and T's stamp teach nothing */
	cr_assert_eq(revtr_alias_learn_rr_trace(kb, T, rr, 5, tr, 4), 2);
	cr_assert(revtr_alias_same(kb, A(11), A(1)));
	cr_assert(revtr_alias_same(kb, A(13), A(4)));
	cr_assert(!revtr_alias_same(kb, A(13), T));
	revtr_kb_free(kb);
}

Test(revtr_kb, atlas_tree_rank_unresp)
{
	struct revtr_kb *kb = revtr_kb_new(A(200));
	const struct revtr_trace_hop h1[] = {{A(1), 0}, {A(2), 0}, {0, 0}, {A(200), 0}};
	const struct revtr_trace_hop h2[] = {{A(5), 0}, {A(2), 0}, {A(200), 0}};
	const uint32_t rr[] = {A(21), A(22), A(23), A(200), A(200)};
	uint32_t vp = 0, cand[3] = {A(90), A(91), A(92)}, ord[3];

	cr_assert(!revtr_atlas_has(kb, A(90)));
	cr_assert_eq(revtr_atlas_add(kb, A(90), h1, 4, rr, 5), 0);
	cr_assert(revtr_atlas_has(kb, A(90)));
	cr_assert_eq(revtr_atlas_find(kb, A(1), &vp), 3);
	cr_assert_eq(vp, A(90));
	cr_assert_eq(revtr_atlas_find(kb, A(22), NULL), 2, "RR addresses are indexed");
	cr_assert(revtr_alias_same(kb, A(21), A(1)), "RR slot and hop aligned");
	cr_assert_eq(revtr_atlas_find(kb, A(99), NULL), -ENOENT);
	/* shortest suffix wins; replacing a vp's trace drops the old one */
	cr_assert_eq(revtr_atlas_add(kb, A(91), h2, 3, NULL, 0), 0);
	cr_assert_eq(revtr_atlas_find(kb, A(2), &vp), 1);
	cr_assert_eq(revtr_atlas_add(kb, A(90), h2, 3, NULL, 0), 0);
	cr_assert_eq(revtr_atlas_find(kb, A(1), NULL), -ENOENT);

	cr_assert_eq(revtr_tree_find(kb, A(1)), -ENOENT);

	cr_assert_eq(revtr_rank_update(kb, A(0x50), A(92), 2), 0);
	cr_assert_eq(revtr_rank_update(kb, A(0x60), A(91), 5), 0);
	cr_assert_eq(revtr_rank_update(kb, A(0x61), A(90), -1), 0);
	cr_assert_eq(revtr_rank_order(kb, A(0x70), cand, 3, ord), 3);
	cr_assert_eq(ord[0], A(92), "same /24 as 10.0.0.0x50");
	cr_assert_eq(ord[1], A(91));
	cr_assert_eq(ord[2], A(90));
	/* another /24 knows nothing: configured order */
	cr_assert_eq(revtr_rank_order(kb, htonl(0x0a000100), cand, 3, ord), 3);
	cr_assert_eq(ord[0], A(90));

	cr_assert_eq(revtr_unresp_get(kb, A(7)), 0);
	cr_assert_eq(revtr_unresp_set(kb, A(7), REVTR_UNRESP_RR), 0);
	cr_assert_eq(revtr_unresp_set(kb, A(7), REVTR_UNRESP_TS), 0);
	cr_assert_eq(revtr_unresp_get(kb, A(7)), REVTR_UNRESP_RR | REVTR_UNRESP_TS);
	revtr_kb_free(kb);
}

Test(revtr_kb, api_checks)
{
	struct revtr_cfg cfg;
	struct revtr_kb *kb = revtr_kb_new(A(200));
	struct revtr_result res;
	struct revtr_req q[4];
	struct revtr *rt;

	revtr_cfg_init(&cfg);
	cr_assert_null(revtr_new(&cfg));
	cr_assert_eq(errno, EINVAL);
	cfg.client = A(201);
	cfg.dst = A(100);
	cfg.kb = kb; /* made for another client */
	cr_assert_null(revtr_new(&cfg));
	cfg.kb = NULL;
	rt = revtr_new(&cfg);
	cr_assert_not_null(rt);
	cr_assert_eq(revtr_next_requests(rt, q, 4), 1);
	cr_assert_eq(q[0].kind, REVTR_REQ_FWD_TRACE, "gateway unknown: trace first");
	cr_assert_eq(revtr_next_requests(rt, q, 4), 0, "handed out once");
	memset(&res, 0, sizeof(res));
	cr_assert_eq(revtr_on_result(rt, q[0].id + 1, &res), -ENOENT);
	res.rr_count = 10;
	cr_assert_eq(revtr_on_result(rt, q[0].id, &res), -EINVAL);
	res.rr_count = 0;
	res.status = REVTR_RES_TIMEOUT;
	cr_assert_eq(revtr_on_result(rt, q[0].id, &res), 0);
	cr_assert_eq(revtr_on_result(rt, q[0].id, &res), -ENOENT, "answered already");
	cr_assert_eq(revtr_next_requests(rt, q, 4), 1);
	cr_assert_eq(q[0].kind, REVTR_REQ_RR_PING);
	cr_assert_eq(q[0].target, A(100));
	cr_assert_eq(q[0].src, A(201));
	cr_assert_eq(revtr_outstanding(rt), 1);
	revtr_free(rt);
	revtr_kb_free(kb);
}

static void sample(struct revtr_report *r)
{
	memset(r, 0, sizeof(*r));
	r->src = A(2);
	r->dst = A(100);
	r->stop = REVTR_FAILED;
	snprintf(r->fail_reason, sizeof(r->fail_reason), "say \"why\"\n");
	r->nhops = 3;
	r->hops[0] = (struct revtr_hop){A(100), REVTR_HOP_DST_REV_SEGMENT, 12345, false};
	r->hops[1] = (struct revtr_hop){A(9), REVTR_HOP_DST_SYM_REV_SEGMENT, 0, false};
	r->hops[2] = (struct revtr_hop){0, REVTR_HOP_TR_TO_SRC_REV_SEGMENT, 0, true};
	r->probes.rr = 2;
	r->probes.ts = 1;
	r->probes.total = 3;
	r->runtime_ns = 1500000000ull;
}

Test(revtr_kb, json_output)
{
	static const char want[] =
		"{\"type\":\"revtr\",\"src\":\"10.0.0.2\",\"dst\":\"10.0.0.100\","
		"\"stop_reason\":\"FAILED\",\"fail_reason\":\"say \\\"why\\\"\\u000a\","
		"\"revtr_hops\":[{\"hop_number\":1,\"hop_ip\":\"10.0.0.100\","
		"\"hop_type\":\"DST_REV_SEGMENT\",\"rtt\":12.345},"
		"{\"hop_number\":2,\"hop_ip\":\"10.0.0.9\",\"hop_type\":\"DST_SYM_REV_SEGMENT\"},"
		"{\"hop_number\":3,\"hop_ip\":\"*\",\"hop_type\":\"TR_TO_SRC_REV_SEGMENT\","
		"\"from_cache\":true}],\"runtime\":1500000000,\"probes\":{\"agent\":0,\"rr\":2,"
		"\"spoof_rr\":0,\"ts\":1,\"spoof_ts\":0,\"trace\":0,\"atlas\":0,\"total\":3}}";
	struct revtr_report r;
	char buf[1024], small[16];
	size_t n;

	sample(&r);
	n = revtr_format_json(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, want);
	cr_assert_eq(n, strlen(want));
	/* snprintf semantics: full length, truncated and terminated */
	cr_assert_eq(revtr_format_json(&r, small, sizeof(small)), n);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(revtr_format_json(&r, NULL, 0), n);
}

Test(revtr_kb, text_output)
{
	struct revtr_report r;
	char buf[1024];

	sample(&r);
	revtr_format_text(&r, buf, sizeof(buf));
	cr_assert_str_eq(buf, "reverse traceroute from 10.0.0.100 back to 10.0.0.2\n"
			      " 1  10.0.0.100       DST_REV_SEGMENT                12.345 ms\n"
			      " 2  10.0.0.9         DST_SYM_REV_SEGMENT            "
			      "(assumed symmetric, not measured)\n"
			      " 3  *                TR_TO_SRC_REV_SEGMENT          (cached)\n"
			      "FAILED: say \"why\" ; 3 probes (agent 0, rr 2, spoof_rr 0, ts 1, "
			      "spoof_ts 0, trace 0, atlas 0); 1.500 s\n");
}

/* xorshift32, deterministic */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state % n;
}

/* An address from a small pool, so that hops repeat, loop and meet. */
static uint32_t rnd_addr(const struct revtr_req *q)
{
	switch (rnd(12)) {
	case 0:
		return q->target;
	case 1:
		return A(2); /* the client */
	case 2:
		return 0;
	default:
		return A(10 + rnd(24));
	}
}

/*
 * A backend that answers nonsense: random status, RR slots, stamps and
 * traces over a small address pool. Whatever it says, the core finishes,
 * never repeats a router, explains every failure and types every hop.
 */
Test(revtr_kb, random_backend_properties)
{
	struct revtr_agent ag[4] = {
		{A(50), REVTR_AGENT_SPOOF | REVTR_AGENT_TRACE},
		{A(51), REVTR_AGENT_SPOOF},
		{A(12), 0},
		{A(53), REVTR_AGENT_TRACE},
	};
	struct revtr_kb *kb = revtr_kb_new(A(2));
	struct revtr_trace_hop th[40];
	struct revtr_req q[64];
	struct revtr_result res;
	int run, it, k, i, j;

	for (run = 0; run < 400; run++) {
		const struct revtr_report *r;
		struct revtr_cfg cfg;
		struct revtr *rt;
		char buf[8192];

		revtr_cfg_init(&cfg);
		cfg.client = A(2);
		cfg.client_gw = run % 3 ? A(1) : 0;
		cfg.dst = A(10 + rnd(24));
		cfg.agents = ag;
		cfg.nagents = 4;
		cfg.kb = run % 2 ? kb : NULL;
		cfg.max_probes = rnd(3) ? 0 : 1 + rnd(30);
		cfg.flags = rnd(4) ? 0 : rnd(128);
		rt = revtr_new(&cfg);
		cr_assert_not_null(rt);
		for (it = 0; it < 2000 && !revtr_done(rt); it++) {
			k = revtr_next_requests(rt, q, 64);
			cr_assert(k > 0 || revtr_done(rt), "run %d stalled", run);
			for (i = 0; i < k; i++) {
				memset(&res, 0, sizeof(res));
				res.status = (enum revtr_res_status)rnd(3);
				res.rtt_us = rnd(100000);
				res.rr_count = (uint8_t)rnd(10);
				for (j = 0; j < res.rr_count; j++)
					res.rr[j] = rnd_addr(&q[i]);
				res.ts_count = (uint8_t)rnd(q[i].ts_n + 1u);
				res.trace_n = (uint16_t)rnd(40);
				for (j = 0; j < res.trace_n; j++) {
					th[j].addr = rnd_addr(&q[i]);
					th[j].rtt_us = rnd(100000);
				}
				res.trace = th;
				cr_assert_eq(revtr_on_result(rt, q[i].id, &res) == 0 ||
						     revtr_done(rt),
					     1);
			}
		}
		cr_assert(revtr_done(rt), "run %d did not finish", run);
		r = revtr_report(rt);
		cr_assert(r->nhops >= 1 && r->nhops <= REVTR_MAX_HOPS);
		cr_assert_eq(r->hops[0].addr, cfg.dst);
		cr_assert_eq(r->hops[0].type, REVTR_HOP_DST_REV_SEGMENT);
		cr_assert_eq(r->stop == REVTR_FAILED, r->fail_reason[0] != 0, "run %d: %s", run,
			     r->fail_reason);
		for (i = 0; i < (int)r->nhops; i++) {
			cr_assert_str_neq(revtr_hop_type_name(r->hops[i].type), "UNKNOWN");
			cr_assert_neq(r->hops[i].addr, cfg.client, "the client is not a hop");
			for (j = 0; j < i; j++)
				cr_assert(!r->hops[i].addr || r->hops[i].addr != r->hops[j].addr,
					  "run %d: hop %d repeats hop %d", run, i + 1, j + 1);
		}
		if (cfg.max_probes)
			cr_assert_leq(r->probes.total - r->probes.atlas - r->probes.trace -
					      r->probes.agent,
				      cfg.max_probes, "run %d: budget", run);
		cr_assert_lt(revtr_format_json(r, buf, sizeof(buf)), sizeof(buf));
		if (getenv("REVTR_TEST_VERBOSE"))
			fprintf(stderr, "%s\n", buf);
		revtr_free(rt);
	}
	revtr_kb_free(kb);
}
