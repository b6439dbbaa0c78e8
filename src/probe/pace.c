// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pace.c - pacing: the global token bucket and the per-destination limiter
 * (see include/rtrace/sched.h). Pure: the caller passes the time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/sched.h"

#define NS_PER_S 1000000000ull

uint64_t sched_tb_default_burst(uint64_t rate)
{
	uint64_t b = rate / 500;

	return b < 2 ? 2 : b;
}

void sched_tb_init(struct sched_tb *tb, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	tb->rate = rate;
	tb->burst = burst ? burst : sched_tb_default_burst(rate);
	tb->credit = NS_PER_S;
	tb->last_ns = now_ns;
}

uint64_t sched_tb_avail(struct sched_tb *tb, uint64_t now_ns)
{
	uint64_t max = tb->burst * NS_PER_S;

	if (!tb->rate)
		return UINT64_MAX;
	if (now_ns > tb->last_ns) {
		uint64_t dt = now_ns - tb->last_ns;

		/* dt * rate cannot overflow once dt is capped at a full bucket */
		if (dt >= max / tb->rate + 1)
			tb->credit = max;
		else
			tb->credit += dt * tb->rate;
		if (tb->credit > max)
			tb->credit = max;
		tb->last_ns = now_ns;
	}
	return tb->credit / NS_PER_S;
}

void sched_tb_take(struct sched_tb *tb, uint64_t n)
{
	uint64_t c;

	if (!tb->rate)
		return;
	c = n * NS_PER_S;
	tb->credit = c > tb->credit ? 0 : tb->credit - c;
}

uint64_t sched_tb_wait_ns(const struct sched_tb *tb, uint64_t n)
{
	uint64_t need = n * NS_PER_S;

	if (!tb->rate || tb->credit >= need)
		return 0;
	return (need - tb->credit + tb->rate - 1) / tb->rate;
}

/* ---- per-destination limiter ---- */

#define DSTLIM_MIN_CAP 1024u

static inline uint32_t dst_hash(uint32_t addr)
{
	return (addr * 0x9e3779b1u) ^ (addr >> 16);
}

int sched_dstlim_init(struct sched_dstlim *dl, uint64_t gap_ns)
{
	memset(dl, 0, sizeof(*dl));
	dl->gap_ns = gap_ns;
	if (!gap_ns)
		return 0;
	dl->ent = calloc(DSTLIM_MIN_CAP, sizeof(*dl->ent));
	if (!dl->ent)
		return -ENOMEM;
	dl->cap = DSTLIM_MIN_CAP;
	return 0;
}

void sched_dstlim_free(struct sched_dstlim *dl)
{
	free(dl->ent);
	dl->ent = NULL;
	dl->cap = dl->used = 0;
}

/* Rehash the live entries into a table sized for them. */
static int dstlim_rebuild(struct sched_dstlim *dl, uint64_t now_ns)
{
	uint32_t live = 0, cap, i;
	struct sched_dst_ent *n;

	for (i = 0; i < dl->cap; i++)
		if (dl->ent[i].addr && dl->ent[i].next_ns > now_ns)
			live++;
	cap = DSTLIM_MIN_CAP;
	while (cap < 4 * (live + 1))
		cap *= 2;
	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < dl->cap; i++) {
		struct sched_dst_ent *e = &dl->ent[i];
		uint32_t j;

		if (!e->addr || e->next_ns <= now_ns)
			continue;
		for (j = dst_hash(e->addr) & (cap - 1); n[j].addr; j = (j + 1) & (cap - 1))
			;
		n[j] = *e;
	}
	free(dl->ent);
	dl->ent = n;
	dl->cap = cap;
	dl->used = live;
	return 0;
}

uint64_t sched_dstlim_check(struct sched_dstlim *dl, uint32_t addr, uint64_t now_ns)
{
	struct sched_dst_ent *reuse = NULL, *e;
	uint32_t j;

	if (!dl->gap_ns || !addr)
		return 0;
	if (2 * (dl->used + 1) > dl->cap && dstlim_rebuild(dl, now_ns))
		return 0;
	for (j = dst_hash(addr) & (dl->cap - 1);; j = (j + 1) & (dl->cap - 1)) {
		e = &dl->ent[j];
		if (e->addr == addr) {
			if (e->next_ns > now_ns)
				return e->next_ns - now_ns;
			e->next_ns = now_ns + dl->gap_ns;
			return 0;
		}
		if (!e->addr)
			break;
		if (!reuse && e->next_ns <= now_ns)
			reuse = e;
	}
	if (reuse) {
		e = reuse;
	} else {
		dl->used++;
	}
	e->addr = addr;
	e->next_ns = now_ns + dl->gap_ns;
	return 0;
}
