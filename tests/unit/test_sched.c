// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_sched.c - the scheduler: token bucket accuracy on synthetic and real
 * clocks, the per-destination limiter, the probe slot table (generations,
 * FIFO reuse, exhaustion) and the epoll loop (fds, timer order, cancel,
 * removal from inside a callback).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "rtrace/sched.h"

#define NS 1000000000ull

/*
 * Simulate a TX pump: wake every tick_ns (+ jitter), send what the bucket
 * allows (at most batch per wakeup), for dur_ns. Returns packets sent.
 */
static uint64_t pump(uint64_t rate, uint64_t tick_ns, uint64_t jitter_ns, uint64_t batch,
		     uint64_t dur_ns)
{
	struct sched_tb tb;
	uint64_t t = 1000, sent = 0;
	unsigned int seed = 7;

	sched_tb_init(&tb, rate, 0, t);
	while (t < 1000 + dur_ns) {
		uint64_t a = sched_tb_avail(&tb, t);

		if (a > batch)
			a = batch;
		sched_tb_take(&tb, a);
		sent += a;
		/* sleep until the next token, or one tick, plus scheduling jitter */
		uint64_t w = sched_tb_wait_ns(&tb, 1);

		if (w < tick_ns)
			w = tick_ns;
		t += w + (jitter_ns ? rand_r(&seed) % jitter_ns : 0);
	}
	return sent;
}

Test(tb, rates_within_5_percent)
{
	static const uint64_t rates[] = {100, 1000, 10000, 100000, 1000000, 5000000};
	size_t i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		uint64_t r = rates[i];
		/* 50 us jitter, 10 us minimum sleep, batches of 256 */
		uint64_t got = pump(r, 10000, 50000, 256, 2 * NS);
		double ratio = (double)got / (2.0 * r);

		cr_expect(ratio > 0.95 && ratio < 1.05, "rate %lu: sent %lu in 2 s (%.3f)",
			  (unsigned long)r, (unsigned long)got, ratio);
	}
}

Test(tb, unlimited_and_wait)
{
	struct sched_tb tb;

	sched_tb_init(&tb, 0, 0, 0);
	cr_assert_eq(sched_tb_avail(&tb, 5), UINT64_MAX);
	cr_assert_eq(sched_tb_wait_ns(&tb, 1000), 0);

	sched_tb_init(&tb, 1000, 10, 0);
	cr_assert_eq(sched_tb_avail(&tb, 0), 1);
	sched_tb_take(&tb, 1);
	cr_assert_eq(sched_tb_avail(&tb, 0), 0);
	cr_assert_eq(sched_tb_wait_ns(&tb, 1), 1000000);
	cr_assert_eq(sched_tb_avail(&tb, 999999), 0);
	cr_assert_eq(sched_tb_avail(&tb, 1000000), 1);
	/* the bucket holds at most burst tokens, even after a long idle time */
	cr_assert_eq(sched_tb_avail(&tb, 3600 * NS), 10);
	cr_assert_eq(sched_tb_default_burst(100), 2);
	cr_assert_eq(sched_tb_default_burst(1000000), 2000);
}

/* The real loop paces "packets" with a timer at 2000 pps for 0.5 s. */
struct rt_pump {
	struct sched_tb tb;
	struct sched_timer tm;
	uint64_t sent, end_ns;
};

static void rt_pump_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct rt_pump *p = ctx;
	uint64_t now = sched_now_ns(), a;

	(void)t;
	if (now >= p->end_ns) {
		sched_stop(s);
		return;
	}
	a = sched_tb_avail(&p->tb, now);
	sched_tb_take(&p->tb, a);
	p->sent += a;
	sched_timer_arm(s, &p->tm, now + sched_tb_wait_ns(&p->tb, 1));
}

Test(tb, real_loop_2000pps)
{
	struct sched *s = sched_new();
	struct rt_pump p = {0};
	uint64_t now;

	cr_assert_not_null(s);
	now = sched_now_ns();
	sched_tb_init(&p.tb, 2000, 0, now);
	p.end_ns = now + NS / 2;
	sched_timer_init(&p.tm, rt_pump_cb, &p);
	sched_timer_arm(s, &p.tm, now);
	cr_assert_eq(sched_run(s), 0);
	cr_expect(p.sent >= 950 && p.sent <= 1050, "sent %lu, want 1000 +-5%%",
		  (unsigned long)p.sent);
	sched_free(s);
}

Test(dstlim, gap_per_destination)
{
	struct sched_dstlim dl;
	uint32_t a;

	cr_assert_eq(sched_dstlim_init(&dl, 0), 0);
	cr_assert_eq(sched_dstlim_check(&dl, 1, 0), 0);
	cr_assert_eq(sched_dstlim_check(&dl, 1, 0), 0, "off: never waits");

	cr_assert_eq(sched_dstlim_init(&dl, 1000), 0);
	cr_assert_eq(sched_dstlim_check(&dl, 0x0a000001, 5000), 0);
	cr_assert_eq(sched_dstlim_check(&dl, 0x0a000001, 5400), 600);
	cr_assert_eq(sched_dstlim_check(&dl, 0x0a000002, 5400), 0, "other dst is free");
	cr_assert_eq(sched_dstlim_check(&dl, 0x0a000001, 6000), 0);
	cr_assert_eq(sched_dstlim_check(&dl, 0x0a000001, 6001), 999);
	/* many destinations over time: expired entries are dropped, no growth */
	for (a = 1; a <= 200000; a++)
		cr_assert_eq(sched_dstlim_check(&dl, a, 10000 + a * 100), 0);
	cr_expect(dl.cap <= 4096, "table grew to %u", dl.cap);
	/* many live destinations at once: all booked, all limited */
	for (a = 1; a <= 5000; a++)
		sched_dstlim_check(&dl, 0x7f000000 + a, NS);
	for (a = 1; a <= 5000; a++)
		cr_assert_eq(sched_dstlim_check(&dl, 0x7f000000 + a, NS + 10), 990);
	sched_dstlim_free(&dl);
}

struct ent {
	uint32_t id;
	uint32_t val;
};

Test(slots, alloc_lookup_release_generation)
{
	struct sched_slots st;
	uint32_t id, id2, i, ids[16];
	struct ent *e;

	cr_assert_eq(sched_slots_init(&st, 10, sizeof(struct ent)), 0);
	cr_assert_eq(st.nslots, 16);
	for (i = 0; i < 16; i++) {
		e = sched_slots_alloc(&st, &ids[i]);
		cr_assert_not_null(e);
		cr_assert_eq(e->val, 0, "entries are zeroed");
		e->val = i + 100;
	}
	cr_assert_null(sched_slots_alloc(&st, &id), "full table");
	cr_assert_eq(sched_slots_inuse(&st), 16);
	for (i = 0; i < 16; i++) {
		e = sched_slots_lookup(&st, ids[i]);
		cr_assert_not_null(e);
		cr_assert_eq(e->val, i + 100);
	}
	/* release, reuse: the old id is stale, the new one has a new generation */
	cr_assert_eq(sched_slots_release(&st, ids[3]), 0);
	cr_assert_eq(sched_slots_release(&st, ids[3]), -ENOENT, "double release");
	cr_assert_null(sched_slots_lookup(&st, ids[3]), "released slot");
	cr_assert_not_null(sched_slots_alloc(&st, &id));
	cr_assert_eq(id & 15, ids[3] & 15, "same index");
	cr_assert_neq(id, ids[3], "new generation");
	cr_assert_null(sched_slots_lookup(&st, ids[3]), "stale reply rejected");
	cr_assert_not_null(sched_slots_lookup(&st, id));
	/* a forged id with a wrong generation for an in-use index is rejected */
	cr_assert_null(sched_slots_lookup(&st, id ^ (1u << 20)));
	/* FIFO reuse: release a, b; the next allocations return a then b */
	cr_assert_eq(sched_slots_release(&st, ids[7]), 0);
	cr_assert_eq(sched_slots_release(&st, ids[1]), 0);
	sched_slots_alloc(&st, &id);
	sched_slots_alloc(&st, &id2);
	cr_assert_eq(id & 15, 7);
	cr_assert_eq(id2 & 15, 1);
	sched_slots_free(&st);
}

Test(slots, generation_wraps_and_limits)
{
	struct sched_slots st;
	uint32_t id = 0, first, i;

	cr_assert_eq(sched_slots_init(&st, 1u << 25, 8), -EINVAL);
	cr_assert_eq(sched_slots_init(&st, 1u << 24, 8), 0);
	cr_assert_eq(st.idx_bits, 24);
	sched_slots_free(&st);
	/* 16 slots: 28 generation bits; cycle one index through many generations */
	cr_assert_eq(sched_slots_init(&st, 16, 8), 0);
	sched_slots_alloc(&st, &first);
	sched_slots_release(&st, first);
	for (i = 0; i < 100000; i++) {
		cr_assert_not_null(sched_slots_alloc(&st, &id));
		cr_assert_eq(sched_slots_release(&st, id), 0);
	}
	cr_assert_null(sched_slots_lookup(&st, first));
	cr_assert_eq(sched_slots_inuse(&st), 0);
	sched_slots_free(&st);
}

/* ---- event loop ---- */

struct order {
	int seen[8];
	int n;
	struct sched_timer t[8];
};

static void order_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct order *o = ctx;

	(void)s;
	o->seen[o->n++] = (int)(t - o->t);
}

Test(loop, timers_fire_in_deadline_order)
{
	static const int delay_ms[8] = {30, 5, 20, 1, 25, 10, 15, 2};
	struct sched *s = sched_new();
	struct order o = {0};
	uint64_t now = sched_now_ns();
	int i, guard = 0;

	cr_assert_not_null(s);
	for (i = 0; i < 8; i++) {
		sched_timer_init(&o.t[i], order_cb, &o);
		cr_assert_eq(sched_timer_arm(s, &o.t[i], now + delay_ms[i] * 1000000ull), 0);
	}
	sched_timer_cancel(s, &o.t[4]);
	cr_assert_not(sched_timer_armed(&o.t[4]));
	/* re-arm t[0] earlier than all others */
	sched_timer_arm(s, &o.t[0], now);
	cr_assert_eq(sched_timer_count(s), 7);
	while (o.n < 7 && guard++ < 1000)
		cr_assert_geq(sched_run_once(s, 100), 0);
	cr_assert_eq(o.n, 7);
	static const int want[7] = {0, 3, 7, 1, 5, 6, 2};
	for (i = 0; i < 7; i++)
		cr_expect_eq(o.seen[i], want[i], "position %d: timer %d", i, o.seen[i]);
	cr_assert_geq(sched_now_ns() - now, 20000000ull, "timers did not fire early");
	sched_free(s);
}

struct fdctx {
	int fds[2];
	int calls;
	struct sched *s;
};

static void fd_cb(struct sched *s, int fd, uint32_t ev, void *ctx)
{
	struct fdctx *c = ctx;
	char b[16];

	cr_assert(ev & EPOLLIN);
	cr_assert_gt(read(fd, b, sizeof(b)), 0);
	c->calls++;
	/* remove ourselves from inside the callback */
	cr_assert_eq(sched_del_fd(s, fd), 0);
}

Test(loop, fd_events_and_removal)
{
	struct sched *s = sched_new();
	struct fdctx c = {0};

	cr_assert_not_null(s);
	cr_assert_eq(pipe(c.fds), 0);
	cr_assert_eq(sched_add_fd(s, c.fds[0], EPOLLIN, fd_cb, &c), 0);
	cr_assert_eq(sched_add_fd(s, c.fds[0], EPOLLIN, fd_cb, &c), -EEXIST);
	cr_assert_eq(sched_run_once(s, 0), 0, "nothing readable yet");
	cr_assert_eq(write(c.fds[1], "x", 1), 1);
	cr_assert_eq(sched_run_once(s, 1000), 1);
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(write(c.fds[1], "y", 1), 1);
	cr_assert_eq(sched_run_once(s, 10), 0, "removed: no more callbacks");
	cr_assert_eq(sched_del_fd(s, c.fds[0]), -ENOENT);
	cr_assert_eq(sched_mod_fd(s, c.fds[0], EPOLLIN), -ENOENT);
	close(c.fds[0]);
	close(c.fds[1]);
	sched_free(s);
}

Test(loop, many_timers_reserved)
{
	struct sched *s = sched_new();
	struct sched_timer *t;
	uint64_t now = sched_now_ns();
	int i, n = 50000, fired = 0, guard = 0;

	cr_assert_not_null(s);
	t = calloc(n, sizeof(*t));
	cr_assert_eq(sched_timer_reserve(s, n), 0);
	for (i = 0; i < n; i++) {
		sched_timer_init(&t[i], (sched_timer_cb)order_cb, NULL);
		sched_timer_arm(s, &t[i], now + (uint64_t)((i * 7919) % 1000) * 10000);
	}
	/* cancel every other one */
	for (i = 0; i < n; i += 2)
		sched_timer_cancel(s, &t[i]);
	cr_assert_eq(sched_timer_count(s), (size_t)n / 2);
	for (i = 0; i < n; i++)
		sched_timer_cancel(s, &t[i]);
	cr_assert_eq(sched_timer_count(s), 0);
	while (guard++ < 3 && (fired = sched_run_once(s, 1)) == 0)
		;
	cr_assert_eq(fired, 0);
	free(t);
	sched_free(s);
}
