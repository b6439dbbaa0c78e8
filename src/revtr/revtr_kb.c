// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * revtr_kb.c - the knowledge reverse traces toward one client share: alias
 * store (union-find), atlas of traceroutes toward the client, reverse-path
 * tree cache, client forward traces, VP ranking per /24, unresponsive cache;
 * and the interpretation of Record Route replies (revtr_rr_split), which
 * needs the alias store. No I/O.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "revtr_int.h"

struct revtr_kb *revtr_kb_new(uint32_t client)
{
	struct revtr_kb *kb;

	if (!client) {
		errno = EINVAL;
		return NULL;
	}
	kb = calloc(1, sizeof(*kb));
	if (!kb)
		return NULL;
	kb->client = client;
	return kb;
}

void revtr_kb_free(struct revtr_kb *kb)
{
	if (!kb)
		return;
	u32map_free(&kb->al.idx);
	free(kb->al.addr);
	free(kb->al.parent);
	free(kb->al.ring);
	ps_free(&kb->atlas);
	ps_free(&kb->tree);
	ps_free(&kb->fwd);
	u32map_free(&kb->atlas_pending);
	u32map_free(&kb->unresp);
	u32map_free(&kb->rank_idx);
	free(kb->rank);
	free(kb);
}

/* ---- alias store ------------------------------------------------------------ */

static int al_node(struct aliases *al, uint32_t a, uint32_t *node)
{
	int err;

	if (u32map_get(&al->idx, a, node))
		return 0;
	if (al->n == al->cap) {
		uint32_t ncap = al->cap ? al->cap * 2 : 64;
		uint32_t *na = realloc(al->addr, ncap * sizeof(*na));
		uint32_t *np, *nr;

		if (!na)
			return -ENOMEM;
		al->addr = na;
		np = realloc(al->parent, ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		al->parent = np;
		nr = realloc(al->ring, ncap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		al->ring = nr;
		al->cap = ncap;
	}
	*node = al->n;
	al->addr[al->n] = a;
	al->parent[al->n] = al->n;
	al->ring[al->n] = al->n;
	err = u32map_put(&al->idx, a, al->n);
	if (err)
		return err;
	al->n++;
	return 0;
}

static uint32_t al_root(const struct aliases *al, uint32_t n)
{
	while (al->parent[n] != n)
		n = al->parent[n];
	return n;
}

int revtr_alias_add(struct revtr_kb *kb, uint32_t a, uint32_t b)
{
	struct aliases *al = &kb->al;
	uint32_t na, nb, ra, rb, t;
	int err;

	if (!a || !b || a == b)
		return 0;
	err = al_node(al, a, &na);
	if (!err)
		err = al_node(al, b, &nb);
	if (err)
		return err;
	ra = al_root(al, na);
	rb = al_root(al, nb);
	if (ra == rb)
		return 0;
	al->parent[rb] = ra;
	/* splice the two member rings */
	t = al->ring[na];
	al->ring[na] = al->ring[nb];
	al->ring[nb] = t;
	return 0;
}

bool revtr_alias_same(const struct revtr_kb *kb, uint32_t a, uint32_t b)
{
	return kb_same(kb, a, b);
}

bool kb_same(const struct revtr_kb *kb, uint32_t a, uint32_t b)
{
	uint32_t na, nb;

	if (a == b)
		return a != 0;
	if (!kb || !a || !b)
		return false;
	if (!u32map_get(&kb->al.idx, a, &na) || !u32map_get(&kb->al.idx, b, &nb))
		return false;
	return al_root(&kb->al, na) == al_root(&kb->al, nb);
}

int kb_aliases(const struct revtr_kb *kb, uint32_t addr, uint32_t *out, int max)
{
	uint32_t start, n;
	int k = 0;

	if (max <= 0 || !addr)
		return 0;
	out[k++] = addr;
	if (!kb || !u32map_get(&kb->al.idx, addr, &start))
		return k;
	for (n = kb->al.ring[start]; n != start && k < max; n = kb->al.ring[n])
		out[k++] = kb->al.addr[n];
	return k;
}

int revtr_alias_learn_rr_trace(struct revtr_kb *kb, uint32_t target, const uint32_t *rr, int rr_n,
			       const struct revtr_trace_hop *trace, int trace_n)
{
	int i, learnt = 0, err;

	for (i = 0; i < rr_n && i < trace_n; i++) {
		if (kb_same(kb, rr[i], target) || kb_same(kb, trace[i].addr, target))
			break;
		if (!rr[i] || !trace[i].addr || rr[i] == trace[i].addr)
			continue;
		err = revtr_alias_add(kb, rr[i], trace[i].addr);
		if (err)
			return err;
		learnt++;
	}
	return learnt;
}

/* ---- gateway, atlas, tree, forward traces ------------------------------------ */

int revtr_kb_set_gateway(struct revtr_kb *kb, uint32_t gw)
{
	if (!gw)
		return 0;
	if (!kb->gw) {
		kb->gw = gw;
		return 0;
	}
	return revtr_alias_add(kb, kb->gw, gw);
}

bool kb_is_client_side(const struct revtr_kb *kb, uint32_t addr)
{
	uint32_t m[2];

	if (!addr)
		return false;
	if (addr == kb->client || (kb->gw && kb_same(kb, addr, kb->gw)))
		return true;
	/* the far end of a /30-/31 client link is the first-hop router */
	addr_mates(addr, m);
	return m[0] == kb->client || m[1] == kb->client;
}

int revtr_atlas_add(struct revtr_kb *kb, uint32_t vp, const struct revtr_trace_hop *hops, int n,
		    const uint32_t *rr, int rr_n)
{
	struct ps_hop ph[REVTR_MAX_HOPS];
	int i;

	if (!vp || n < 0 || (n && !hops))
		return -EINVAL;
	if (n > REVTR_MAX_HOPS)
		n = REVTR_MAX_HOPS;
	memset(ph, 0, sizeof(ph));
	for (i = 0; i < n; i++) {
		ph[i].addr = hops[i].addr;
		ph[i].type = REVTR_HOP_TR_TO_SRC_REV_SEGMENT;
	}
	/* RR slot i is router i+1 = trace hop i, until the client's own stamp */
	for (i = 0; rr && i < rr_n && i < n; i++) {
		if (!rr[i] || rr[i] == kb->client)
			break;
		ph[i].rr = rr[i];
		if (ph[i].addr && ph[i].addr != rr[i]) {
			int err = revtr_alias_add(kb, ph[i].addr, rr[i]);

			if (err)
				return err;
		}
	}
	kb_atlas_pending(kb, vp, false);
	return ps_add(&kb->atlas, vp, ph, n);
}

int kb_atlas_pending(struct revtr_kb *kb, uint32_t vp, bool pending)
{
	return u32map_put(&kb->atlas_pending, vp, pending);
}

bool revtr_atlas_has(const struct revtr_kb *kb, uint32_t vp)
{
	uint32_t p = 0;

	if (ps_bykey(&kb->atlas, vp))
		return true;
	return u32map_get(&kb->atlas_pending, vp, &p) && p;
}

int revtr_atlas_find(const struct revtr_kb *kb, uint32_t addr, uint32_t *vp)
{
	uint32_t path;
	int pos;

	if (!ps_find(&kb->atlas, addr, &path, &pos, NULL))
		return -ENOENT;
	if (vp)
		*vp = kb->atlas.paths[path].key;
	return kb->atlas.paths[path].n - 1 - pos;
}

int kb_fwd_add(struct revtr_kb *kb, uint32_t target, const struct revtr_trace_hop *h, int n)
{
	struct ps_hop ph[REVTR_MAX_HOPS];
	int i, err;

	if (n > REVTR_MAX_HOPS)
		n = REVTR_MAX_HOPS;
	memset(ph, 0, sizeof(ph));
	for (i = 0; i < n; i++) {
		ph[i].addr = h[i].addr;
		ph[i].rtt_us = h[i].rtt_us;
	}
	/* hop 1 of the client's own trace is its first-hop router */
	if (n > 0 && h[0].addr && h[0].addr != target) {
		err = revtr_kb_set_gateway(kb, h[0].addr);
		if (err)
			return err;
	}
	return ps_add(&kb->fwd, target, ph, n);
}

/*
 * Is hops[1..n) stored already as the rest of a tree path (same addresses to
 * the end)? Then the new path adds only its destination.
 */
static bool tree_has_branch(const struct revtr_kb *kb, const struct revtr_hop *hops, int n)
{
	uint32_t o;
	int i;

	if (n < 2 || !hops[1].addr)
		return false;
	for (o = ps_first(&kb->tree, hops[1].addr); o; o = kb->tree.occ[o - 1].next) {
		const struct ps_occ *oc = &kb->tree.occ[o - 1];
		const struct ps_path *p = &kb->tree.paths[oc->path];

		if (p->dead || oc->via_rr || p->n - oc->pos != n - 1)
			continue;
		for (i = 1; i < n && p->hops[oc->pos + i - 1].addr == hops[i].addr; i++)
			;
		if (i == n)
			return true;
	}
	return false;
}

int kb_tree_add(struct revtr_kb *kb, const struct revtr_hop *hops, int n)
{
	struct ps_hop ph[REVTR_MAX_HOPS];
	int i;

	/* Reverse paths toward the client form a tree: a batch of many
	 * destinations behind one router would otherwise store that router's
	 * branch once per destination (memory and lookup chains growing with
	 * the batch). Only the destination is lost, which a later trace meets
	 * as a hop only if it is a router, and then one hop later finds the
	 * branch anyway. */
	if (tree_has_branch(kb, hops, n))
		return 0;
	memset(ph, 0, sizeof(ph));
	for (i = 0; i < n && i < REVTR_MAX_HOPS; i++) {
		ph[i].addr = hops[i].addr;
		ph[i].type = (uint8_t)hops[i].type;
		ph[i].rtt_us = hops[i].rtt_us;
	}
	return ps_add(&kb->tree, 0, ph, i);
}

int revtr_tree_find(const struct revtr_kb *kb, uint32_t addr)
{
	uint32_t path;
	int pos;

	if (!ps_find(&kb->tree, addr, &path, &pos, NULL))
		return -ENOENT;
	return kb->tree.paths[path].n - 1 - pos;
}

/* ---- unresponsive cache -------------------------------------------------------- */

unsigned revtr_unresp_get(const struct revtr_kb *kb, uint32_t addr)
{
	uint32_t f = 0;

	u32map_get(&kb->unresp, addr, &f);
	return f;
}

int revtr_unresp_set(struct revtr_kb *kb, uint32_t addr, unsigned flags)
{
	return u32map_put(&kb->unresp, addr, revtr_unresp_get(kb, addr) | flags);
}

/* ---- VP ranking ----------------------------------------------------------------- */

static uint32_t prefix24(uint32_t a)
{
	return a & htonl(0xffffff00u);
}

static struct rank_entry *rank_get(const struct revtr_kb *kb, uint32_t addr)
{
	uint32_t i;

	if (!u32map_get(&kb->rank_idx, prefix24(addr), &i))
		return NULL;
	return &kb->rank[i];
}

int revtr_rank_update(struct revtr_kb *kb, uint32_t addr, uint32_t vp, int slot)
{
	struct rank_entry *e = rank_get(kb, addr);
	int i, err;

	if (!e) {
		if (kb->nrank == kb->rankcap) {
			uint32_t ncap = kb->rankcap ? kb->rankcap * 2 : 16;
			struct rank_entry *n = realloc(kb->rank, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			kb->rank = n;
			kb->rankcap = ncap;
		}
		err = u32map_put(&kb->rank_idx, prefix24(addr), kb->nrank);
		if (err)
			return err;
		e = &kb->rank[kb->nrank++];
		memset(e, 0, sizeof(*e));
		e->prefix = prefix24(addr);
	}
	for (i = 0; i < e->n && e->v[i].vp != vp; i++)
		;
	if (i == e->n) {
		if (e->n == RANK_MAX_VPS)
			return -ENOSPC;
		e->n++;
		e->v[i].vp = vp;
		e->v[i].slot = -1;
		e->v[i].fails = 0;
	}
	if (slot >= 0 && (e->v[i].slot < 0 || slot < e->v[i].slot))
		e->v[i].slot = (int8_t)slot;
	if (slot < 0 && e->v[i].fails < 255)
		e->v[i].fails++;
	return 0;
}

/*
 * Sort key: VPs that saw the stamp with room for reverse hops after the
 * double stamp (slot + 2 < 9) by slot, untested 100, stamp too late for
 * reverse hops 150, failed 200 + fails.
 */
static int rank_key(const struct rank_entry *e, uint32_t vp)
{
	int i;

	for (i = 0; e && i < e->n; i++) {
		if (e->v[i].vp != vp)
			continue;
		if (e->v[i].slot >= 0)
			return e->v[i].slot + 2 < REVTR_RR_SLOTS ? e->v[i].slot : 150;
		return e->v[i].fails ? 200 + e->v[i].fails : 100;
	}
	return 100;
}

int revtr_rank_order(const struct revtr_kb *kb, uint32_t addr, const uint32_t *cand, int n,
		     uint32_t *out)
{
	const struct rank_entry *e = rank_get(kb, addr);
	int key[RANK_MAX_VPS];
	int i, j;

	if (n > RANK_MAX_VPS)
		n = RANK_MAX_VPS;
	/* insertion sort, stable: ties keep the configured order */
	for (i = 0; i < n; i++) {
		int k = rank_key(e, cand[i]);

		for (j = i; j > 0 && key[j - 1] > k; j--) {
			key[j] = key[j - 1];
			out[j] = out[j - 1];
		}
		key[j] = k;
		out[j] = cand[i];
	}
	return n;
}

/* ---- Record Route interpretation ------------------------------------------------ */

int revtr_rr_split(const struct revtr_kb *kb, uint32_t target, const uint32_t *rr, int n,
		   int fwd_hops, bool double_stamp, struct revtr_rr_split *v)
{
	int i, s = -1;

	memset(v, 0, sizeof(*v));
	v->stamp = -1;
	if (n > REVTR_RR_SLOTS)
		n = REVTR_RR_SLOTS;
	for (i = 0; i < n && s < 0; i++)
		if (kb_same(kb, rr[i], target))
			s = i;
	if (s < 0 && fwd_hops >= 0 && fwd_hops < n)
		s = fwd_hops;
	if (s < 0) {
		v->rev = n;
		return -ENOENT;
	}
	v->stamp = s;
	i = s + 1;
	/* the reply's stamp: the same address again, an alias, or (Linux) the
	 * egress interface of the reply */
	if (i < n && (kb_same(kb, rr[i], target) || kb_same(kb, rr[i], rr[s]))) {
		i++;
	} else if (i < n && double_stamp) {
		v->egress = rr[i];
		i++;
	}
	/* a destination that stamped several times more */
	while (i < n && (kb_same(kb, rr[i], target) || kb_same(kb, rr[i], rr[s])))
		i++;
	v->rev = i;
	v->nrev = n - i;
	return 0;
}
