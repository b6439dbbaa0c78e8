// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_batch.c - unit tests of the rtrace-batch scheduler (batch.c): many
 * revtr cores over one backend and one shared knowledge base. The network
 * model of the revtr tests (test_revtr_model.h) answers the requests of all
 * running cores, one at a time in random order, as the real backend does.
 * Checked: one report per target, each equal to the model's router-level
 * truth whatever the answer order; the tree cache saves probes across
 * targets; the window bounds the traces in flight; slow start; the atlas is
 * asked for once; targets that found nothing are retried up to the cap; a
 * refused start is not lost; drain and abort; the per-/24 limiter.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "rtrace/batch.h"
#include "rtrace/sched.h"
#include "test_revtr_model.h"

#define NH 24 /* destination hosts */

static struct model M;
static int C, G, H[NH];
static struct revtr_agent agents[4];
static int nagents;

/*
 * The backend: drives each started core against the model like rtb does.
 * Requests of all running traces join one pool and are answered one at a
 * time in random order; a finished trace is reported from the loop, never
 * from inside start.
 */
#define MAXJOBS 256
struct job {
	struct revtr *rt;
	uint64_t tag;
	int live;
};
struct preq {
	int job;
	struct revtr_req q;
};
static struct job jobs[MAXJOBS];
static struct preq pool[8192];
static int npool;
static struct batch *B;
static uint32_t reports[NH * 4];
static char rpath[NH * 4][256];
static int nrep, nreach;
static uint64_t max_inflight;
static int atlas_reqs;
static uint32_t err_dst; /* RR pings to this destination time out */
static int err_always;	 /* ... on every attempt, not just the first */
static unsigned last_attempts;
static uint32_t start_order[NH * 4]; /* destinations in start order */
static int nstart;
static uint64_t start_ns[NH * 4];
static uint32_t refuse_dst; /* start() refuses this destination once */

static void topo(void)
{
	int r[8], i, vp;

	m_init(&M);
	nagents = 0;
	C = m_node(&M, "C", 0);
	G = m_node(&M, "G", 0);
	m_link(&M, G, C, 0x0a000000);
	M.client = C;
	for (i = 0; i < 6; i++) {
		char n[16];

		snprintf(n, sizeof(n), "R%d", i + 1);
		r[i] = m_node(&M, n, 0);
	}
	m_link(&M, G, r[0], 0);
	m_link(&M, r[0], r[1], 0);
	m_link(&M, r[0], r[2], 0);
	m_link(&M, r[1], r[3], 0);
	m_link(&M, r[2], r[3], 0);
	m_link(&M, r[3], r[4], 0);
	m_link(&M, r[3], r[5], 0);
	m_link(&M, r[4], r[5], 0);
	for (i = 0; i < NH; i++) {
		char n[16];

		snprintf(n, sizeof(n), "H%d", i + 1);
		H[i] = m_node(&M, n, 0);
		/* 6 hosts at R5, 5 at R6 (and the VP), 6 at R2, 6 at R3, 1 at R1 */
		m_link(&M, r[i < 6 ? 4 : i < 11 ? 5 : i < 17 ? 1 : i < 23 ? 2 : 0], H[i], 0);
	}
	vp = m_node(&M, "V", 0);
	m_link(&M, r[5], vp, 0);
	/* asymmetry: R4 returns to C through R3, R5 through R6 */
	m_route(&M, r[3], C, r[2]);
	m_route(&M, r[4], C, r[5]);
	m_build(&M);
	agents[nagents].addr = m_addr(&M, vp);
	agents[nagents++].flags = REVTR_AGENT_SPOOF | REVTR_AGENT_TRACE;
}

static int be_start(void *ctx, struct revtr *rt, uint64_t tag)
{
	int i;

	(void)ctx;
	if (refuse_dst && revtr_report(rt)->dst == refuse_dst) {
		refuse_dst = 0;
		return -ENOMEM;
	}
	for (i = 0; i < MAXJOBS && jobs[i].live; i++)
		;
	cr_assert_lt(i, MAXJOBS);
	jobs[i].rt = rt;
	jobs[i].tag = tag;
	jobs[i].live = 1;
	cr_assert_lt(nstart, NH * 4);
	start_order[nstart] = revtr_report(rt)->dst;
	start_ns[nstart++] = sched_now_ns();
	return 0;
}

static void be_cancel(void *ctx, struct revtr *rt)
{
	int i, k = 0, j = -1;

	(void)ctx;
	for (i = 0; i < MAXJOBS; i++)
		if (jobs[i].live && jobs[i].rt == rt)
			j = i;
	cr_assert_geq(j, 0, "cancel of a trace the backend does not run");
	jobs[j].live = 0;
	for (i = 0; i < npool; i++)
		if (pool[i].job != j)
			pool[k++] = pool[i];
	npool = k;
}

/* Move new requests of every running core into the pool; report finished ones. */
static void collect(void)
{
	struct revtr_req q[16];
	int i, n, k;

	for (i = 0; i < MAXJOBS; i++) {
		if (!jobs[i].live)
			continue;
		while ((n = revtr_next_requests(jobs[i].rt, q, 16)) > 0) {
			for (k = 0; k < n; k++) {
				cr_assert_lt(npool, (int)(sizeof(pool) / sizeof(pool[0])));
				if (q[k].kind == REVTR_REQ_ATLAS_TRACE)
					atlas_reqs++;
				pool[npool].job = i;
				pool[npool++].q = q[k];
			}
		}
		if (revtr_done(jobs[i].rt)) {
			uint64_t tag = jobs[i].tag;

			be_cancel(NULL, jobs[i].rt);
			cr_assert_eq(batch_on_done(B, tag), 0);
		}
	}
}

static void on_done(const struct revtr_report *r, unsigned attempts, void *ctx)
{
	(void)ctx;
	cr_assert(nrep < (int)(sizeof(reports) / sizeof(reports[0])));
	reports[nrep] = r->dst;
	m_names(&M, r, rpath[nrep], sizeof(rpath[0]));
	nrep++;
	nreach += r->stop == REVTR_REACHES;
	last_attempts = attempts;
}

static struct revtr_kb *mkcfg(struct batch_cfg *bc, unsigned window)
{
	struct revtr_kb *kb = revtr_kb_new(m_addr(&M, C));

	cr_assert_not_null(kb);
	memset(bc, 0, sizeof(*bc));
	revtr_cfg_init(&bc->rcfg);
	bc->rcfg.client = m_addr(&M, C);
	bc->rcfg.client_gw = m_if(&M, G, C);
	bc->rcfg.agents = agents;
	bc->rcfg.nagents = (size_t)nagents;
	bc->rcfg.kb = kb;
	bc->be.start = be_start;
	bc->be.cancel = be_cancel;
	bc->window = window;
	bc->slow_start = true;
	bc->done = on_done;
	return kb;
}

static void reset(void)
{
	topo();
	memset(jobs, 0, sizeof(jobs));
	npool = nrep = nreach = atlas_reqs = nstart = 0;
	max_inflight = 0;
	err_dst = 0;
	err_always = 0;
	refuse_dst = 0;
}

/* Answer one pooled request (random order); 0 when the pool is empty. */
static int answer_one(unsigned *seed)
{
	struct revtr_result res;
	struct preq p;
	int i;

	collect();
	if (!npool)
		return 0;
	i = (int)(rand_r(seed) % (unsigned)npool);
	p = pool[i];
	pool[i] = pool[--npool];
	m_answer(&M, &p.q, &res);
	if (err_dst && p.q.kind == REVTR_REQ_RR_PING && p.q.target == err_dst) {
		memset(&res, 0, sizeof(res));
		res.status = REVTR_RES_TIMEOUT;
		if (!err_always)
			err_dst = 0;
	}
	revtr_on_result(jobs[p.job].rt, p.q.id, &res);
	collect();
	return 1;
}

static void run_async(unsigned seed)
{
	int guard = 0;

	cr_assert_geq(batch_pump(B), 0);
	while (!batch_idle(B) && guard++ < 1000000) {
		answer_one(&seed);
		if (batch_counts(B)->inflight > max_inflight)
			max_inflight = batch_counts(B)->inflight;
	}
	cr_assert(batch_idle(B), "batch did not finish");
}

static void targets_all(uint32_t *t)
{
	int i;

	for (i = 0; i < NH; i++)
		t[i] = m_addr(&M, H[i]);
}

static void check_truth(void)
{
	char want[256];
	int i, j;

	for (i = 0; i < nrep; i++) {
		for (j = 0; j < NH && m_addr(&M, H[j]) != reports[i]; j++)
			;
		cr_assert_lt(j, NH);
		m_truth(&M, H[j], want, sizeof(want));
		cr_assert_str_eq(rpath[i], want, "%s: got \"%s\" want \"%s\"", M.n[H[j]].name,
				 rpath[i], want);
	}
}

Test(batch, every_target_once_truth)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	int i, j;

	reset();
	kb = mkcfg(&bc, 8);
	targets_all(t);
	B = batch_new(&bc, t, NH);
	cr_assert_not_null(B);
	run_async(1);
	cr_assert_eq(nrep, NH, "%d reports for %d targets", nrep, NH);
	for (i = 0; i < NH; i++)
		for (j = i + 1; j < NH; j++)
			cr_assert_neq(reports[i], reports[j], "duplicate report");
	cr_assert_eq(nreach, NH);
	check_truth();
	cr_assert_leq(max_inflight, 8, "window 8 but %llu in flight",
		      (unsigned long long)max_inflight);
	cr_assert_eq(atlas_reqs, 1, "atlas traced %d times, want once (slow start)", atlas_reqs);
	cr_assert_eq(batch_counts(B)->done, NH);
	cr_assert_eq(batch_counts(B)->reached, NH);
	cr_assert_eq(batch_counts(B)->inflight, 0);
	batch_free(B);
	revtr_kb_free(kb);
}

/* Different answer orders, same reports. */
Test(batch, order_independent)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	unsigned seed;

	for (seed = 100; seed < 110; seed++) {
		reset();
		kb = mkcfg(&bc, 1 + seed % 7 * 5);
		targets_all(t);
		B = batch_new(&bc, t, NH);
		run_async(seed);
		cr_assert_eq(nrep, NH, "seed %u", seed);
		check_truth();
		batch_free(B);
		revtr_kb_free(kb);
	}
}

/*
 * The shared kb saves probes: without the atlas (which alone would serve every
 * target here), the reverse-path tree built by the first traces serves the
 * later ones; the same targets with the tree cache off cost more.
 */
Test(batch, shared_kb_saves_probes)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	uint64_t with, without;

	reset();
	kb = mkcfg(&bc, 4);
	bc.rcfg.flags |= REVTR_NO_ATLAS;
	targets_all(t);
	B = batch_new(&bc, t, NH);
	run_async(7);
	with = batch_counts(B)->probes;
	cr_assert_eq(nrep, NH);
	check_truth();
	cr_assert_geq(batch_counts(B)->cache_hit, NH / 3, "tree cache hits %llu",
		      (unsigned long long)batch_counts(B)->cache_hit);
	batch_free(B);
	revtr_kb_free(kb);

	reset();
	kb = mkcfg(&bc, 4);
	bc.rcfg.flags |= REVTR_NO_CACHE | REVTR_NO_ATLAS;
	B = batch_new(&bc, t, NH);
	run_async(7);
	without = batch_counts(B)->probes;
	cr_assert_eq(nrep, NH);
	batch_free(B);
	revtr_kb_free(kb);
	cr_assert_lt(with, without, "probes with the tree cache %llu, without %llu",
		     (unsigned long long)with, (unsigned long long)without);
}

/* Slow start: one trace alone, then the window opens by two per completion. */
Test(batch, slow_start)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	unsigned seed = 3;

	reset();
	kb = mkcfg(&bc, 64);
	targets_all(t);
	B = batch_new(&bc, t, NH);
	cr_assert_eq(batch_pump(B), 1, "slow start begins with one trace");
	while (nrep == 0)
		cr_assert(answer_one(&seed));
	cr_assert_leq(batch_counts(B)->inflight, 3);
	while (!batch_idle(B))
		answer_one(&seed);
	cr_assert_eq(nrep, NH);
	batch_free(B);
	revtr_kb_free(kb);
}

Test(batch, retry_when_nothing_found)
{
	struct batch_cfg bc;
	uint32_t t[2];
	struct revtr_kb *kb;

	reset();
	kb = mkcfg(&bc, 4);
	bc.rcfg.flags |= REVTR_NO_SPOOF | REVTR_NO_TS | REVTR_NO_SYM | REVTR_NO_ATLAS;
	bc.retries = 1;
	t[0] = m_addr(&M, H[0]);
	err_dst = t[0];
	B = batch_new(&bc, t, 1);
	run_async(3);
	cr_assert_eq(nrep, 1);
	cr_assert_eq(batch_counts(B)->retries, 1);
	cr_assert_eq(last_attempts, 2);
	cr_assert_eq(nreach, 1, "second attempt should reach");
	batch_free(B);
	revtr_kb_free(kb);

	/* never answering: capped at 1 + retries runs, then reported once */
	reset();
	kb = mkcfg(&bc, 4);
	bc.rcfg.flags |= REVTR_NO_SPOOF | REVTR_NO_TS | REVTR_NO_SYM | REVTR_NO_ATLAS;
	bc.retries = 2;
	t[0] = m_addr(&M, H[0]);
	t[1] = m_addr(&M, H[7]);
	err_dst = t[0];
	err_always = 1;
	B = batch_new(&bc, t, 2);
	run_async(3);
	cr_assert_eq(nrep, 2);
	cr_assert_eq(nstart, 4, "2 targets, one run 3 times: %d starts", nstart);
	cr_assert_eq(batch_counts(B)->retries, 2);
	cr_assert_eq(batch_counts(B)->failed, 1);
	cr_assert_eq(nreach, 1);
	batch_free(B);
	revtr_kb_free(kb);
}

Test(batch, refused_start_is_kept)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	unsigned seed = 4;

	reset();
	kb = mkcfg(&bc, 4);
	bc.be.start = NULL;
	cr_assert_null(batch_new(&bc, t, 2), "no backend must be refused");
	bc.be.start = be_start;
	bc.slow_start = false;
	targets_all(t);
	refuse_dst = t[0];
	B = batch_new(&bc, t, NH);
	cr_assert_lt(batch_pump(B), 0, "a refused start is reported");
	while (!batch_idle(B)) {
		if (!answer_one(&seed))
			batch_pump(B);
	}
	cr_assert_eq(nrep, NH, "the refused target ran later");
	batch_free(B);
	revtr_kb_free(kb);
}

Test(batch, drain_and_abort)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	unsigned seed = 5;
	int i;

	reset();
	kb = mkcfg(&bc, 4);
	bc.slow_start = false;
	targets_all(t);
	B = batch_new(&bc, t, NH);
	batch_pump(B);
	for (i = 0; i < 3; i++)
		answer_one(&seed);
	batch_drain(B);
	while (!batch_idle(B) && answer_one(&seed))
		;
	cr_assert(batch_idle(B));
	cr_assert_lt(nrep, NH, "drain must not start new traces");
	cr_assert_gt(nrep, 0);
	cr_assert_eq(nrep, nstart, "every started trace is reported after a drain");
	batch_free(B);
	revtr_kb_free(kb);

	reset();
	kb = mkcfg(&bc, 4);
	bc.slow_start = false;
	B = batch_new(&bc, t, NH);
	batch_pump(B);
	for (i = 0; i < 2; i++)
		answer_one(&seed);
	i = nrep;
	batch_abort(B);
	cr_assert(batch_idle(B));
	cr_assert_eq(npool, 0, "abort cancels what runs");
	for (i = 0; i < MAXJOBS; i++)
		cr_assert_eq(jobs[i].live, 0);
	batch_free(B);
	revtr_kb_free(kb);
}

/* Per-/24 limiter: trace starts in one /24 are spaced by 1/rate on the real clock. */
Test(batch, per24_limiter)
{
	struct batch_cfg bc;
	uint32_t t[NH];
	struct revtr_kb *kb;
	struct sched *s = sched_new();
	unsigned seed = 9;
	int i;

	cr_assert_not_null(s);
	reset();
	kb = mkcfg(&bc, 16);
	bc.sched = s;
	bc.p24_rate = 100; /* every host is in 10.1.0.0/24: 24 starts take >= 0.23 s */
	bc.slow_start = false;
	targets_all(t);
	B = batch_new(&bc, t, NH);
	batch_pump(B);
	while (!batch_idle(B)) {
		if (!answer_one(&seed))
			sched_run_once(s, 10);
	}
	cr_assert_eq(nrep, NH);
	cr_assert_eq(nstart, NH);
	for (i = 1; i < nstart; i++)
		cr_assert_geq(start_ns[i] - start_ns[i - 1], 9500000ull,
			      "starts %d and %d %.3f ms apart", i - 1, i,
			      (start_ns[i] - start_ns[i - 1]) / 1e6);
	cr_assert_leq(start_ns[nstart - 1] - start_ns[0], 23 * 10000000ull * 13 / 10);
	batch_free(B);
	revtr_kb_free(kb);
	sched_free(s);
}
