// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * timeouts.c - probe timeouts without one heap timer per probe. Probes with
 * the same timeout expire in the order they were sent, so each distinct
 * timeout value gets a FIFO of slots (doubly linked: a reply unlinks its
 * probe in O(1)) and a single loop timer for the queue. The timer is lazy:
 * a reply to the head does not move it; when it fires early it re-arms for
 * the head that is left. A sweep of 65k probes then costs a handful of heap
 * operations instead of 65k inserts and removals. Timeout values beyond
 * TQ_MAX distinct ones at a time (or a probe stamped before the tail of its
 * queue) fall back to the slot's own heap timer.
 */
#include <stddef.h>

#include "internal.h"

static void tq_fire(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct ptqueue *q = (struct ptqueue *)((char *)t - offsetof(struct ptqueue, tm));
	struct probe_engine *e = ctx;
	uint64_t now = sched_now_ns();
	struct pslot *ps;

	while ((ps = q->head) && ps->deadline_ns <= now) {
		q->head = ps->tnext;
		if (q->head)
			q->head->tprev = NULL;
		else
			q->tail = NULL;
		ps->tq = 0;
		engine_slot_timeout(e, ps);
	}
	if (q->head)
		sched_timer_arm(s, &q->tm, q->head->deadline_ns);
}

static void heap_fire(struct sched *s, struct sched_timer *t, void *ctx)
{
	(void)s;
	engine_slot_timeout(ctx, (struct pslot *)t); /* the timer is the first member */
}

/* The queue for wait_ms: the last one used, an existing one, an empty one, or a new one. */
static struct ptqueue *tq_for(struct probe_engine *e, uint32_t wait_ms)
{
	struct ptqueue *q = &e->tq[e->tq_last], *empty = NULL;
	unsigned int i;

	if (q->wait_ms == wait_ms && q->used)
		return q;
	for (i = 0; i < e->ntq; i++) {
		q = &e->tq[i];
		if (q->wait_ms == wait_ms)
			goto found;
		if (!q->head && !empty)
			empty = q;
	}
	if (empty) {
		q = empty;
	} else if (e->ntq < TQ_MAX) {
		q = &e->tq[e->ntq++];
		sched_timer_init(&q->tm, tq_fire, e);
	} else {
		return NULL;
	}
	q->wait_ms = wait_ms;
	q->used = 1;
found:
	e->tq_last = q - e->tq;
	return q;
}

void ptimeout_arm(struct probe_engine *e, struct pslot *ps, uint32_t wait_ms)
{
	struct ptqueue *q = tq_for(e, wait_ms);

	ps->deadline_ns = ps->tx_ns + wait_ms * 1000000ull;
	if (!q || (q->tail && q->tail->deadline_ns > ps->deadline_ns)) {
		ps->tq = 0;
		sched_timer_init(&ps->timer, heap_fire, e);
		sched_timer_arm(e->s, &ps->timer, ps->deadline_ns);
		return;
	}
	ps->tq = q - e->tq + 1;
	ps->tnext = NULL;
	ps->tprev = q->tail;
	if (q->tail)
		q->tail->tnext = ps;
	else
		q->head = ps;
	q->tail = ps;
	if (!sched_timer_armed(&q->tm))
		sched_timer_arm(e->s, &q->tm, ps->deadline_ns);
}

void ptimeout_cancel(struct probe_engine *e, struct pslot *ps)
{
	struct ptqueue *q;

	if (!ps->tq) {
		sched_timer_cancel(e->s, &ps->timer);
		return;
	}
	q = &e->tq[ps->tq - 1];
	if (ps->tprev)
		ps->tprev->tnext = ps->tnext;
	else
		q->head = ps->tnext;
	if (ps->tnext)
		ps->tnext->tprev = ps->tprev;
	else
		q->tail = ps->tprev;
	ps->tq = 0;
}

void ptimeout_stop(struct probe_engine *e)
{
	unsigned int i;

	for (i = 0; i < e->ntq; i++) {
		sched_timer_cancel(e->s, &e->tq[i].tm);
		e->tq[i].head = e->tq[i].tail = NULL;
	}
}
