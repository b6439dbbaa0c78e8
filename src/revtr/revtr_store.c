// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * revtr_store.c - the data structures under the revtr knowledge base: a u32
 * hash map (open addressing), the path store (paths of hops with an address
 * index, so "is this address on any stored path, and what follows it" is
 * O(1) per occurrence) and small address helpers. No I/O.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/hash.h"

#include "revtr_int.h"

/* ---- u32map ---------------------------------------------------------------- */

int u32map_get(const struct u32map *m, uint32_t key, uint32_t *val)
{
	uint32_t i;

	if (!m->cap)
		return 0;
	for (i = rt_hash32(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i])
			return 0;
		if (m->keys[i] == key) {
			if (val)
				*val = m->vals[i];
			return 1;
		}
	}
}

static int u32map_grow(struct u32map *m)
{
	struct u32map nm = {0};
	uint32_t i, j;

	nm.cap = m->cap ? m->cap * 2 : 64;
	nm.keys = calloc(nm.cap, sizeof(*nm.keys));
	nm.vals = calloc(nm.cap, sizeof(*nm.vals));
	nm.used = calloc(nm.cap, 1);
	if (!nm.keys || !nm.vals || !nm.used) {
		u32map_free(&nm);
		return -ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		for (j = rt_hash32(m->keys[i]) & (nm.cap - 1); nm.used[j];
		     j = (j + 1) & (nm.cap - 1))
			;
		nm.used[j] = 1;
		nm.keys[j] = m->keys[i];
		nm.vals[j] = m->vals[i];
	}
	nm.n = m->n;
	u32map_free(m);
	*m = nm;
	return 0;
}

int u32map_put(struct u32map *m, uint32_t key, uint32_t val)
{
	uint32_t i;
	int err;

	if ((m->n + 1) * 10 > m->cap * 7) {
		err = u32map_grow(m);
		if (err)
			return err;
	}
	for (i = rt_hash32(key) & (m->cap - 1); m->used[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
	}
	m->used[i] = 1;
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void u32map_free(struct u32map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

/* ---- path store ------------------------------------------------------------ */

static int ps_index(struct pathstore *ps, uint32_t addr, uint32_t path, int pos, int via_rr)
{
	uint32_t head = 0;
	struct ps_occ *o;

	if (!addr)
		return 0;
	if (ps->nocc == ps->occcap) {
		uint32_t ncap = ps->occcap ? ps->occcap * 2 : 256;
		struct ps_occ *n = realloc(ps->occ, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ps->occ = n;
		ps->occcap = ncap;
	}
	u32map_get(&ps->addr, addr, &head);
	o = &ps->occ[ps->nocc];
	o->path = path;
	o->pos = (uint16_t)pos;
	o->via_rr = (uint8_t)via_rr;
	o->next = head;
	ps->nocc++;
	return u32map_put(&ps->addr, addr, ps->nocc);
}

int ps_add(struct pathstore *ps, uint32_t key, const struct ps_hop *hops, int n)
{
	struct ps_path *p;
	uint32_t old, idx;
	int i, err;

	if (n < 0 || n > REVTR_MAX_HOPS)
		return -EINVAL;
	if (ps->npaths == ps->cap) {
		uint32_t ncap = ps->cap ? ps->cap * 2 : 16;
		struct ps_path *np = realloc(ps->paths, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		ps->paths = np;
		ps->cap = ncap;
	}
	idx = ps->npaths;
	p = &ps->paths[idx];
	memset(p, 0, sizeof(*p));
	p->hops = calloc(n ? n : 1, sizeof(*p->hops));
	if (!p->hops)
		return -ENOMEM;
	if (n)
		memcpy(p->hops, hops, n * sizeof(*hops));
	p->key = key;
	p->n = (uint16_t)n;
	ps->npaths++;
	if (key && u32map_get(&ps->bykey, key, &old))
		ps->paths[old].dead = 1;
	if (key) {
		err = u32map_put(&ps->bykey, key, idx);
		if (err)
			return err;
	}
	for (i = 0; i < n; i++) {
		err = ps_index(ps, hops[i].addr, idx, i, 0);
		if (!err && hops[i].rr && hops[i].rr != hops[i].addr)
			err = ps_index(ps, hops[i].rr, idx, i, 1);
		if (err)
			return err;
	}
	return 0;
}

uint32_t ps_first(const struct pathstore *ps, uint32_t addr)
{
	uint32_t head = 0;

	if (!addr)
		return 0;
	u32map_get(&ps->addr, addr, &head);
	return head;
}

int ps_find(const struct pathstore *ps, uint32_t addr, uint32_t *path, int *pos, int *via_rr)
{
	int best = -1, left;
	uint32_t i;

	for (i = ps_first(ps, addr); i; i = ps->occ[i - 1].next) {
		const struct ps_occ *o = &ps->occ[i - 1];

		if (ps->paths[o->path].dead)
			continue;
		left = ps->paths[o->path].n - 1 - o->pos;
		if (best >= 0 && left >= best)
			continue;
		best = left;
		*path = o->path;
		*pos = o->pos;
		if (via_rr)
			*via_rr = o->via_rr;
	}
	return best >= 0;
}

const struct ps_path *ps_bykey(const struct pathstore *ps, uint32_t key)
{
	uint32_t idx;

	if (!u32map_get(&ps->bykey, key, &idx))
		return NULL;
	return ps->paths[idx].dead ? NULL : &ps->paths[idx];
}

void ps_free(struct pathstore *ps)
{
	uint32_t i;

	for (i = 0; i < ps->npaths; i++)
		free(ps->paths[i].hops);
	free(ps->paths);
	free(ps->occ);
	u32map_free(&ps->addr);
	u32map_free(&ps->bykey);
	memset(ps, 0, sizeof(*ps));
}

/* ---- addresses ------------------------------------------------------------- */

void addr_mates(uint32_t a, uint32_t out[2])
{
	uint32_t h = ntohl(a);

	out[0] = htonl(h ^ 1);
	out[1] = ((h & 3) == 1 || (h & 3) == 2) ? htonl(h ^ 3) : 0;
}
