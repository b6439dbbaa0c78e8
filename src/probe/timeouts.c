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
 * queue) go to one more queue kept sorted by deadline, inserted from the
 * tail (rare, so the linear insert does not matter). No slot carries a
 * timer of its own: a slot stays one cache line.
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
	} else {
		return NULL;
	}
	q->wait_ms = wait_ms;
	q->used = 1;
found:
	e->tq_last = q - e->tq;
	return q;
}

/* Link ps into q after @after (NULL: at the head). */
static void tq_link(struct ptqueue *q, struct pslot *after, struct pslot *ps)
{
	ps->tprev = after;
	ps->tnext = after ? after->tnext : q->head;
	if (ps->tnext)
		ps->tnext->tprev = ps;
	else
		q->tail = ps;
	if (after)
		after->tnext = ps;
	else
		q->head = ps;
}

void ptimeout_arm(struct probe_engine *e, struct pslot *ps, uint32_t wait_ms)
{
	struct ptqueue *q = tq_for(e, wait_ms);
	struct pslot *after;

	ps->deadline_ns = ps->tx_ns + wait_ms * 1000000ull;
	if (!q || (q->tail && q->tail->deadline_ns > ps->deadline_ns))
		q = &e->tq[TQ_MAX]; /* the sorted queue */
	for (after = q->tail; after && after->deadline_ns > ps->deadline_ns; after = after->tprev)
		;
	tq_link(q, after, ps);
	ps->tq = q - e->tq + 1;
	if (!sched_timer_armed(&q->tm) || q->tm.when_ns > q->head->deadline_ns)
		sched_timer_arm(e->s, &q->tm, q->head->deadline_ns);
}

void ptimeout_cancel(struct probe_engine *e, struct pslot *ps)
{
	struct ptqueue *q;

	if (!ps->tq)
		return;
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

void ptimeout_init(struct probe_engine *e)
{
	unsigned int i;

	for (i = 0; i <= TQ_MAX; i++)
		sched_timer_init(&e->tq[i].tm, tq_fire, e);
}

void ptimeout_stop(struct probe_engine *e)
{
	unsigned int i;

	for (i = 0; i <= TQ_MAX; i++) {
		sched_timer_cancel(e->s, &e->tq[i].tm);
		e->tq[i].head = e->tq[i].tail = NULL;
	}
}
