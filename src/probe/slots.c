// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * slots.c - the probe slot table (see include/rtrace/sched.h): fixed-size
 * entries, a FIFO of free indices and a generation per index, so that a slot
 * id recovered from a reply finds its probe with one array access and a late
 * reply to a reused slot is recognised as stale.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rtrace/sched.h"

int sched_slots_init(struct sched_slots *st, uint32_t n, size_t entsize)
{
	uint32_t bits = 4, i;

	memset(st, 0, sizeof(*st));
	if (n > (1u << SCHED_SLOTS_MAX_BITS) || !entsize)
		return -EINVAL;
	while ((1u << bits) < n)
		bits++;
	st->idx_bits = bits;
	st->nslots = 1u << bits;
	st->entsize = entsize;
	st->ents = calloc(st->nslots, entsize);
	st->meta = calloc(st->nslots, sizeof(*st->meta));
	st->fifo = malloc(st->nslots * sizeof(*st->fifo));
	if (!st->ents || !st->meta || !st->fifo) {
		sched_slots_free(st);
		return -ENOMEM;
	}
	/*
	 * Random first generations: probe IP IDs (high bits of the id) look
	 * random, and replies to a previous run's probes do not match.
	 */
	if (getrandom(st->meta, st->nslots * sizeof(*st->meta), 0) < 0)
		memset(st->meta, 0, st->nslots * sizeof(*st->meta));
	for (i = 0; i < st->nslots; i++) {
		st->meta[i] = (st->meta[i] & ((1u << (32 - bits)) - 1)) << 1;
		st->fifo[i] = i;
	}
	st->head = 0;
	st->nfree = st->nslots;
	return 0;
}

void sched_slots_free(struct sched_slots *st)
{
	free(st->ents);
	free(st->meta);
	free(st->fifo);
	memset(st, 0, sizeof(*st));
}

void *sched_slots_alloc(struct sched_slots *st, uint32_t *id)
{
	uint32_t idx, gen;
	void *e;

	if (!st->nfree)
		return NULL;
	idx = st->fifo[st->head];
	st->head = (st->head + 1) & (st->nslots - 1);
	st->nfree--;
	st->meta[idx] |= 1;
	gen = st->meta[idx] >> 1;
	*id = (gen << st->idx_bits) | idx;
	e = st->ents + (size_t)idx * st->entsize;
	memset(e, 0, st->entsize);
	return e;
}

int sched_slots_release(struct sched_slots *st, uint32_t id)
{
	uint32_t idx = id & (st->nslots - 1);
	uint32_t gmask = (st->idx_bits >= 32 ? 0 : (1u << (32 - st->idx_bits)) - 1);
	uint32_t gen;

	if (!sched_slots_lookup(st, id))
		return -ENOENT;
	gen = ((st->meta[idx] >> 1) + 1) & gmask;
	st->meta[idx] = gen << 1;
	st->fifo[(st->head + st->nfree) & (st->nslots - 1)] = idx;
	st->nfree++;
	return 0;
}
