// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * batch.c - the rtrace-batch scheduler: a window of reverse traceroutes (one
 * revtr core each) in flight over one backend, all sharing one struct
 * revtr_kb, so that what one trace learns (atlas, reverse-path tree, VP
 * ranking, unresponsive addresses, aliases, the client's gateway) serves
 * every later one.
 *
 * Slow start: the first trace runs alone, so that it, not a crowd of
 * concurrent traces, asks the agents for the atlas traceroutes and learns the
 * gateway; then the window grows by two per completed trace. The same holds
 * per destination /24: routing is per prefix, so the traces toward one /24
 * mostly share their reverse path, and a trace that starts after the first
 * one finished finds that path in the tree cache instead of measuring it
 * again (concurrent traces cannot share what none has finished). Targets
 * held back wait in a bounded queue while other /24s go ahead. Trace starts
 * may also be rate-limited per /24. A target whose trace found nothing beyond the
 * destination (lost replies, an agent down for a moment) runs again at the
 * end of the queue, up to the retry cap. Each target is reported once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/batch.h"
#include "rtrace/log.h"
#include "rtrace/sched.h"

/* Targets held back at most, so that other /24s go ahead meanwhile. */
#define HELD_MAX(b) (4 * (size_t)(b)->cfg.window)
/* Per-/24 slow start lets one more trace go after this long without a finish. */
#define SS_PATIENCE_NS 1000000000ull

/* One trace in flight. */
struct bslot {
	struct revtr *rt;  /* the core, NULL when free */
	uint32_t dst;	   /* its destination */
	uint32_t gen;	   /* bumped on every reuse: stale completions are refused */
	uint16_t attempts; /* runs of this target so far, this one included */
};

/* A target waiting to (re)start. */
struct bwait {
	uint32_t dst;	   /* network order */
	uint16_t attempts; /* runs so far */
};

/* A FIFO of waiting targets. */
struct bqueue {
	struct bwait *v;
	size_t head, n, cap; /* entries [head, n) are live */
};

/* Per-/24 slow start: traces running and finished toward one /24. */
struct p24ent {
	uint32_t key;	   /* (host-order address >> 8) | 1 << 31; 0 = empty */
	uint32_t running;  /* traces in flight */
	uint32_t finished; /* traces done (retries included) */
	uint64_t last_ns;  /* last start toward the /24 */
};

struct p24map {
	struct p24ent *e; /* open addressing */
	uint32_t cap, n;  /* cap: power of two */
};

struct batch {
	struct batch_cfg cfg;
	struct batch_counts c;
	uint32_t *targets;     /* the run's targets, in file order */
	size_t ntargets, next; /* next target to start */
	struct bqueue retry;   /* targets to run again */
	struct bqueue held;    /* targets held back (per-/24 limiter, slow start) */
	struct p24map ss;      /* per-/24 slow start */
	struct bslot *slots;   /* cfg.window slots */
	uint32_t *free;	       /* free slot indices (stack) */
	uint32_t nfree;
	struct sched_dstlim p24; /* per-/24 start limiter */
	struct sched_timer tm;	 /* wakes the pump for held targets */
	bool limited;		 /* p24 in use */
	uint64_t t_first;	 /* first trace started, ns */
	bool draining;		 /* no new traces */
	bool in_pump;		 /* reentrancy guard */
};

/* ns from then to now; 0 if then is later (then was taken after now). */
static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static uint64_t mk_tag(uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | idx;
}

static void p24_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	(void)s;
	(void)t;
	batch_pump(ctx);
}

struct batch *batch_new(const struct batch_cfg *cfg, const uint32_t *targets, size_t n)
{
	struct batch *b;
	uint32_t i;

	if (!cfg || !cfg->rcfg.kb || !cfg->rcfg.client || !cfg->be.start || (n && !targets)) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = *cfg;
	if (b->cfg.sched)
		sched_timer_init(&b->tm, p24_cb, b);
	if (!b->cfg.window)
		b->cfg.window = 256;
	b->targets = malloc((n ? n : 1) * sizeof(*targets));
	b->slots = calloc(b->cfg.window, sizeof(*b->slots));
	b->free = malloc(b->cfg.window * sizeof(*b->free));
	if (!b->targets || !b->slots || !b->free)
		goto fail;
	if (n)
		memcpy(b->targets, targets, n * sizeof(*targets));
	b->ntargets = n;
	b->c.total = n;
	for (i = 0; i < b->cfg.window; i++)
		b->free[i] = b->cfg.window - 1 - i;
	b->nfree = b->cfg.window;
	if (b->cfg.sched && b->cfg.p24_rate) {
		uint64_t gap = 1000000000ull / b->cfg.p24_rate;

		if (sched_dstlim_init(&b->p24, gap ? gap : 1))
			goto fail;
		b->limited = true;
	}
	return b;
fail:
	batch_free(b);
	errno = ENOMEM;
	return NULL;
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	if (b->slots)
		batch_abort(b);
	if (b->cfg.sched)
		sched_timer_cancel(b->cfg.sched, &b->tm);
	if (b->limited)
		sched_dstlim_free(&b->p24);
	free(b->targets);
	free(b->retry.v);
	free(b->held.v);
	free(b->ss.e);
	free(b->slots);
	free(b->free);
	free(b);
}

const struct batch_counts *batch_counts(const struct batch *b)
{
	return &b->c;
}

/* ---- queues ---------------------------------------------------------------------- */

static int q_push(struct bqueue *q, uint32_t dst, uint16_t attempts)
{
	if (q->n == q->cap && q->head) {
		memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof(*q->v));
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		struct bwait *v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n].dst = dst;
	q->v[q->n].attempts = attempts;
	q->n++;
	return 0;
}

static size_t q_len(const struct bqueue *q)
{
	return q->n - q->head;
}

static struct bwait q_pop(struct bqueue *q)
{
	return q->v[q->head++];
}

/* ---- per-/24 slow start ------------------------------------------------------------ */

static uint32_t p24_key(uint32_t dst)
{
	return ntohl(dst) >> 8 | 1u << 31;
}

/* The entry of dst's /24 (made on first use), NULL without memory. */
static struct p24ent *ss_get(struct p24map *m, uint32_t dst)
{
	uint32_t k = p24_key(dst), i, j;

	if ((m->n + 1) * 2 > m->cap) {
		uint32_t cap = m->cap ? 2 * m->cap : 256;
		struct p24ent *e = calloc(cap, sizeof(*e));

		if (!e)
			return NULL;
		for (i = 0; i < m->cap; i++) {
			if (!m->e[i].key)
				continue;
			for (j = (m->e[i].key * 2654435761u) & (cap - 1); e[j].key;
			     j = (j + 1) & (cap - 1))
				;
			e[j] = m->e[i];
		}
		free(m->e);
		m->e = e;
		m->cap = cap;
	}
	for (i = (k * 2654435761u) & (m->cap - 1); m->e[i].key; i = (i + 1) & (m->cap - 1))
		if (m->e[i].key == k)
			return &m->e[i];
	m->e[i].key = k;
	m->n++;
	return &m->e[i];
}

/*
 * May one more trace toward dst's /24 run: 1 + 2 per finished one, or one
 * more each SS_PATIENCE_NS while the first ones are slow (timeouts), so that
 * a /24 is never stuck behind one long trace. Else *wait gets when to look
 * again (with a loop to wake the pump).
 */
static bool ss_ok(struct batch *b, uint32_t dst, uint64_t now, uint64_t *wait)
{
	struct p24ent *e;
	uint64_t w;

	if (!b->cfg.slow_start)
		return true;
	e = ss_get(&b->ss, dst);
	if (!e || e->running < 1 + 2 * (uint64_t)e->finished)
		return true;
	if (!b->cfg.sched)
		return false;
	if (since(now, e->last_ns) >= SS_PATIENCE_NS)
		return true;
	w = SS_PATIENCE_NS - since(now, e->last_ns);
	if (!*wait || w < *wait)
		*wait = w;
	return false;
}

static void ss_account(struct batch *b, uint32_t dst, int started, uint64_t now)
{
	struct p24ent *e;

	if (!b->cfg.slow_start || !(e = ss_get(&b->ss, dst)))
		return;
	if (started) {
		e->running++;
		e->last_ns = now;
	} else {
		e->running--;
		e->finished++;
	}
}

/* ---- traces ---------------------------------------------------------------------- */

/*
 * The window now: with slow start 1 + 2 per finished trace, and (with a loop
 * for the timer) one more per SS_PATIENCE_NS since the first start, so that
 * a slow first trace (timeouts) does not hold everything up.
 */
static unsigned window_now(const struct batch *b, uint64_t now)
{
	uint64_t w = b->cfg.window, ss;

	if (!b->cfg.slow_start)
		return (unsigned)w;
	ss = 1 + 2 * b->c.done;
	if (b->cfg.sched && b->t_first)
		ss += since(now, b->t_first) / SS_PATIENCE_NS;
	return (unsigned)(ss < w ? ss : w);
}

static bool can_start(const struct batch *b, uint64_t now)
{
	return !b->draining && b->nfree && b->c.inflight < window_now(b, now);
}

/* Start one trace of dst in a free slot. 0 or -errno. */
static int start(struct batch *b, uint32_t dst, uint16_t attempts)
{
	struct revtr_cfg rc = b->cfg.rcfg;
	uint32_t idx = b->free[b->nfree - 1];
	struct bslot *s = &b->slots[idx];
	int err;

	rc.dst = dst;
	s->rt = revtr_new(&rc);
	if (!s->rt)
		return -errno;
	s->dst = dst;
	s->gen++;
	s->attempts = attempts + 1;
	err = b->cfg.be.start(b->cfg.be.ctx, s->rt, mk_tag(idx, s->gen));
	if (err) {
		revtr_free(s->rt);
		s->rt = NULL;
		return err;
	}
	b->nfree--;
	if (!b->t_first)
		b->t_first = sched_now_ns();
	b->c.inflight++;
	b->c.started++;
	ss_account(b, dst, 1, sched_now_ns());
	return 0;
}

/*
 * May dst start now (per-/24 limiter)? If not, *wait gets the soonest time
 * one of the held targets may go.
 */
static bool p24_ok(struct batch *b, uint32_t dst, uint64_t now, uint64_t *wait)
{
	uint64_t w;

	if (!b->limited)
		return true;
	w = sched_dstlim_check(&b->p24, dst & htonl(0xffffff00u), now);
	if (!w)
		return true;
	if (!*wait || w < *wait)
		*wait = w;
	return false;
}

static bool have_targets(const struct batch *b)
{
	return b->next < b->ntargets || q_len(&b->retry);
}

/* Held targets whose /24 may go now. */
static int run_held(struct batch *b, uint64_t now, uint64_t *wait, int *started)
{
	size_t i, k, n = b->held.n;
	int err = 0;

	for (i = k = b->held.head; i < n; i++) {
		struct bwait w = b->held.v[i];

		if (err || !can_start(b, now) || !ss_ok(b, w.dst, now, wait) ||
		    !p24_ok(b, w.dst, now, wait)) {
			b->held.v[k++] = w;
			continue;
		}
		err = start(b, w.dst, w.attempts);
		if (err)
			b->held.v[k++] = w;
		else
			(*started)++;
	}
	b->held.n = k;
	return err;
}

int batch_pump(struct batch *b)
{
	uint64_t now = sched_now_ns(), wait = 0;
	int err = 0, started = 0;
	struct bwait w;

	if (b->in_pump)
		return 0;
	b->in_pump = true;
	if (q_len(&b->held))
		err = run_held(b, now, &wait, &started);
	while (!err && can_start(b, now) && q_len(&b->held) < HELD_MAX(b)) {
		if (q_len(&b->retry)) {
			w = q_pop(&b->retry);
		} else if (b->next < b->ntargets) {
			w.dst = b->targets[b->next++];
			w.attempts = 0;
		} else {
			break;
		}
		if (!ss_ok(b, w.dst, now, &wait) || !p24_ok(b, w.dst, now, &wait)) {
			err = q_push(&b->held, w.dst, w.attempts);
			continue;
		}
		err = start(b, w.dst, w.attempts);
		if (err)
			q_push(&b->held, w.dst, w.attempts); /* not lost: try again later */
		else
			started++;
	}
	if (b->cfg.slow_start && b->nfree && b->c.inflight >= window_now(b, now) &&
	    (have_targets(b) || q_len(&b->held)) && b->t_first) {
		/* the global slow start holds: look again when it grows by one */
		uint64_t w = SS_PATIENCE_NS - since(now, b->t_first) % SS_PATIENCE_NS;

		if (!wait || w < wait)
			wait = w;
	}
	if (wait && b->cfg.sched && !b->draining)
		sched_timer_arm(b->cfg.sched, &b->tm, now + wait);
	b->in_pump = false;
	if (err) {
		rt_err("batch: cannot start a reverse trace: %s", strerror(-err));
		return err;
	}
	return started;
}

/* The trace found nothing beyond the destination: worth another run. */
static bool worth_retry(const struct batch *b, const struct bslot *s, const struct revtr_report *r)
{
	return r->stop == REVTR_FAILED && r->nhops <= 1 && s->attempts <= b->cfg.retries &&
	       !b->draining;
}

int batch_on_done(struct batch *b, uint64_t tag)
{
	uint32_t idx = (uint32_t)tag, i;
	const struct revtr_report *r;
	struct bslot *s;

	if (idx >= b->cfg.window)
		return -EINVAL;
	s = &b->slots[idx];
	if (!s->rt || s->gen != (uint32_t)(tag >> 32))
		return -ENOENT;
	r = revtr_report(s->rt);
	if (worth_retry(b, s, r) && q_push(&b->retry, s->dst, s->attempts) == 0) {
		b->c.retries++;
	} else {
		b->c.done++;
		b->c.probes += r->probes.total;
		if (r->stop == REVTR_REACHES)
			b->c.reached++;
		else
			b->c.failed++;
		for (i = 0; i < r->nhops; i++) {
			if (r->hops[i].from_cache) {
				b->c.cache_hit++;
				break;
			}
		}
		if (b->cfg.done)
			b->cfg.done(r, s->attempts, b->cfg.ctx);
	}
	ss_account(b, s->dst, 0, 0);
	revtr_free(s->rt);
	s->rt = NULL;
	s->gen++;
	b->free[b->nfree++] = idx;
	b->c.inflight--;
	batch_pump(b);
	return 0;
}

void batch_drain(struct batch *b)
{
	b->draining = true;
	if (b->cfg.sched)
		sched_timer_cancel(b->cfg.sched, &b->tm);
}

void batch_abort(struct batch *b)
{
	uint32_t i;

	batch_drain(b);
	for (i = 0; i < b->cfg.window; i++) {
		struct bslot *s = &b->slots[i];

		if (!s->rt)
			continue;
		if (b->cfg.be.cancel)
			b->cfg.be.cancel(b->cfg.be.ctx, s->rt);
		revtr_free(s->rt);
		s->rt = NULL;
		s->gen++;
		b->free[b->nfree++] = i;
		b->c.inflight--;
	}
}

bool batch_idle(const struct batch *b)
{
	if (b->c.inflight)
		return false;
	return b->draining || (b->next == b->ntargets && !q_len(&b->retry) && !q_len(&b->held));
}
