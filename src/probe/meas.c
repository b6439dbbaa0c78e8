// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * meas.c - the measurement side of the probe engine: next-hop MACs (route
 * from netinfo's route cache, MAC per next hop cached, asked on a miss),
 * shared frame templates, the measurement lifecycle (ready queue, finish,
 * reap with the done callback, free once no probe is in flight), listeners
 * and cancel. The engine struct lives in internal.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include "rtrace/netinfo.h"
#include "internal.h"

/* ---- next hop ---- */

static int nh_mac(struct probe_engine *e, uint32_t nh, uint8_t mac[6])
{
	unsigned int i;
	int err;

	for (i = 0; i < e->nnh; i++)
		if (e->nh[i].addr == nh) {
			memcpy(mac, e->nh[i].mac, 6);
			return 0;
		}
	if (e->ifc.flags & IFF_NOARP || e->ifc.arptype != 1 /* ARPHRD_ETHER */) {
		memset(mac, 0, 6);
	} else {
		err = netinfo_neigh_resolve(e->ifc.ifindex, nh, 1000, mac);
		if (err)
			return err;
	}
	if (e->nnh == NH_CACHE)
		e->nnh = 0;
	e->nh[e->nnh].addr = nh;
	memcpy(e->nh[e->nnh].mac, mac, 6);
	e->nnh++;
	return 0;
}

/* MAC of the next hop towards dst through our interface (route and MAC cached). */
static int dst_mac(struct probe_engine *e, uint32_t dst, uint8_t mac[6])
{
	struct netinfo_route r;
	int err;

	/* our own address: the oif-restricted lookup below would not say "local" */
	if (dst == e->src || (ntohl(dst) >> 24) == 127)
		return -EADDRNOTAVAIL;
	err = netinfo_rcache_get(e->rc, dst, &r);
	if (err)
		return err;
	if (r.type == RTN_LOCAL)
		return -EADDRNOTAVAIL;
	if (r.type != RTN_UNICAST)
		return -ENETUNREACH;
	return nh_mac(e, r.nexthop, mac);
}

void engine_routes_changed(struct probe_engine *e)
{
	if (netinfo_rcache_events(e->rc))
		e->nnh = 0;
}

int engine_spec(struct probe_engine *e, uint32_t dst, struct codec_probe_spec *s)
{
	int err = dst_mac(e, dst, s->dst_mac);

	if (err)
		return err;
	memcpy(s->src_mac, e->ifc.mac, 6);
	if (!s->saddr)
		s->saddr = e->src;
	s->daddr = dst;
	s->spoofer = e->src;
	if (!s->icmp_id)
		s->icmp_id = e->icmp_id;
	if (s->proto == CODEC_PROTO_UDP && !s->sport) {
		s->sport = e->udp_sport;
		s->dport = CODEC_UDP_DPORT;
	}
	return 0;
}

/* ---- templates ---- */

static struct tmpl_ent *tmpl_get(struct probe_engine *e, const struct codec_probe_spec *s, int *err)
{
	struct codec_probe_spec key = *s;
	struct tmpl_ent *t;

	key.daddr = 0;
	key.ttl = 0;
	key.ip_id = 0;
	key.icmp_seq = 0;
	key.req = 0;
	key.aux = 0;
	for (t = e->tmpls; t; t = t->next)
		if (!memcmp(&t->key, &key, sizeof(key))) {
			t->refs++;
			return t;
		}
	t = calloc(1, sizeof(*t));
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = codec_tmpl_init(&t->t, s);
	if (*err) {
		free(t);
		return NULL;
	}
	t->key = key;
	t->refs = 1;
	t->next = e->tmpls;
	e->tmpls = t;
	return t;
}

static void tmpl_put(struct probe_engine *e, struct tmpl_ent *t)
{
	struct tmpl_ent **pp;

	if (!t || --t->refs)
		return;
	for (pp = &e->tmpls; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	free(t);
}

/* ---- measurements ---- */

/* Freed measurements are kept for reuse (a sweep allocates one per target);
 * not under ASan, which must see every use after free. */
#ifdef __SANITIZE_ADDRESS__
#define MEAS_FREE_MAX 0u
#else
#define MEAS_FREE_MAX 16384u
#endif

static struct meas *meas_alloc(struct probe_engine *e)
{
	struct meas *m = e->mfree;

	if (!m)
		return calloc(1, sizeof(*m));
	e->mfree = m->next;
	e->nmfree--;
	memset(m, 0, offsetof(struct meas, reply1));
	return m;
}

static void meas_release(struct probe_engine *e, struct meas *m)
{
	if (e->nmfree == MEAS_FREE_MAX) {
		free(m);
		return;
	}
	m->next = e->mfree;
	e->mfree = m;
	e->nmfree++;
}

void meas_free_cache(struct probe_engine *e)
{
	struct meas *m;

	while ((m = e->mfree)) {
		e->mfree = m->next;
		free(m);
	}
	e->nmfree = 0;
}

struct meas *meas_new(struct probe_engine *e, enum probe_kind kind, const struct meas_ops *ops,
		      const struct probe_cbs *cbs, const struct codec_probe_spec *spec, int *err)
{
	struct meas *m = meas_alloc(e);

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	m->e = e;
	m->ops = ops;
	if (cbs)
		m->cbs = *cbs;
	m->res.kind = kind;
	sched_timer_init(&m->wake, NULL, m);
	sched_timer_init(&m->lim, NULL, m);
	if (spec) {
		m->tmpl = tmpl_get(e, spec, err);
		if (!m->tmpl) {
			meas_release(e, m);
			return NULL;
		}
		m->dst = spec->daddr;
		m->proto = spec->proto;
	}
	return m;
}

void meas_free(struct probe_engine *e, struct meas *m)
{
	sched_timer_cancel(e->s, &m->wake);
	sched_timer_cancel(e->s, &m->lim);
	if (m->prev)
		m->prev->next = m->next;
	else if (e->all == m)
		e->all = m->next;
	if (m->next)
		m->next->prev = m->prev;
	if (m->ops->destroy)
		m->ops->destroy(m);
	tmpl_put(e, m->tmpl);
	meas_release(e, m);
}

static void lim_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct meas *m = ctx;

	(void)s;
	(void)t;
	if (!m->done)
		meas_ready(m->e, m);
}

int64_t meas_start(struct probe_engine *e, struct meas *m, int ready)
{
	m->id = ++e->next_id;
	m->res.id = m->id;
	m->lim.cb = lim_cb;
	m->next = e->all;
	if (e->all)
		e->all->prev = m;
	e->all = m;
	e->active++;
	e->st.submitted++;
	if (ready)
		meas_ready(e, m);
	return (int64_t)m->id;
}

/* Append m to the ready queue (doubly linked: O(1) removal anywhere). */
static void ready_append(struct probe_engine *e, struct meas *m)
{
	m->queued = 1;
	m->rnext = NULL;
	m->rprev = e->rtail;
	if (e->rtail)
		e->rtail->rnext = m;
	else
		e->rhead = m;
	e->rtail = m;
}

/* Take m out of the ready queue. */
static void ready_remove(struct probe_engine *e, struct meas *m)
{
	if (!m->queued)
		return;
	if (m->rprev)
		m->rprev->rnext = m->rnext;
	else
		e->rhead = m->rnext;
	if (m->rnext)
		m->rnext->rprev = m->rprev;
	else
		e->rtail = m->rprev;
	m->rnext = m->rprev = NULL;
	m->queued = 0;
}

void meas_ready(struct probe_engine *e, struct meas *m)
{
	if (m->queued || m->done)
		return;
	ready_append(e, m);
	engine_pump_soon(e);
}

void meas_idle(struct probe_engine *e, struct meas *m)
{
	ready_remove(e, m);
}

void meas_requeue(struct probe_engine *e, struct meas *m)
{
	if (!m->queued && !m->done)
		ready_append(e, m);
}

void meas_finish(struct probe_engine *e, struct meas *m)
{
	if (m->done)
		return;
	m->done = 1;
	ready_remove(e, m);
	sched_timer_cancel(e->s, &m->wake);
	sched_timer_cancel(e->s, &m->lim);
	if (m->ops->abort)
		m->ops->abort(e, m);
	m->dnext = NULL;
	if (e->dtail)
		e->dtail->dnext = m;
	else
		e->dhead = m;
	e->dtail = m;
	sched_timer_arm(e->s, &e->reap_tm, 0);
}

void meas_reap_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct probe_engine *e = ctx;
	struct meas *m;

	(void)s;
	(void)t;
	while ((m = e->dhead)) {
		e->dhead = m->dnext;
		if (!e->dhead)
			e->dtail = NULL;
		m->dnext = NULL;
		if (m->ops->result)
			m->ops->result(e, m);
		m->reaped = 1;
		e->active--;
		e->st.completed++;
		if (m->cbs.done)
			m->cbs.done(e, &m->res, m->cbs.ctx);
		if (!m->inflight)
			meas_free(e, m);
	}
}

/* ---- listeners ---- */

void engine_listener_add(struct probe_engine *e, struct meas *m)
{
	m->listen.lnext = e->listeners;
	e->listeners = m;
}

void engine_listener_del(struct probe_engine *e, struct meas *m)
{
	struct meas **pp;

	for (pp = &e->listeners; *pp; pp = &(*pp)->listen.lnext)
		if (*pp == m) {
			*pp = m->listen.lnext;
			return;
		}
}

int probe_cancel(struct probe_engine *e, uint64_t id)
{
	struct meas *m;

	for (m = e->all; m; m = m->next)
		if (m->id == id && !m->done)
			break;
	if (!m)
		return -ENOENT;
	if (m->res.kind == PROBE_TRACE)
		m->res.trace.stop_reason = PROBE_STOP_HALTED;
	else
		m->res.error = -ECANCELED;
	meas_finish(e, m);
	return 0;
}
