// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * engine.c - the probe engine (see include/rtrace/probe.h): TX pump with
 * global and per-destination pacing, RX dispatch with O(1) slot matching,
 * probe timeouts, engine setup and teardown. Measurement lifecycle, next-hop
 * and template caches are in meas.c.
 *
 * Hot paths (pump, on_record, probe timeouts) neither allocate nor log.
 * The pump writes at most PUMP_MAX probes per call and then yields to the
 * loop so that the ring buffer is drained while a large sweep is sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include <linux/rtnetlink.h>

#include "rtrace/log.h"
#include "rtrace/netinfo.h"
#include "rtrace/rx.h"
#include "rtrace/txring.h"
#include "internal.h"

#define PUMP_MAX 2048	  /* probes per pump call before yielding */
#define KICK_EVERY 256	  /* frames per send() */
#define RETRY_NS 20000ull /* ring or device queue full: try again after */
#define DEF_SLOTS 65536u

struct sched *engine_sched(struct probe_engine *e)
{
	return e->s;
}

int engine_accepts_spoofed(const struct probe_engine *e)
{
	return e->accept_spoofed;
}

struct timeval engine_walltime(struct probe_engine *e, uint64_t mono_ns)
{
	struct timeval tv;
	uint64_t ns;

	/* the two clocks are read again once the times asked for move by 10 ms */
	if (mono_ns - e->wall_at_ns + 10000000ull > 20000000ull) {
		struct timespec r, m;

		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_MONOTONIC, &m);
		e->wall_off_ns =
			((int64_t)r.tv_sec - m.tv_sec) * 1000000000ll + (r.tv_nsec - m.tv_nsec);
		e->wall_at_ns = mono_ns;
	}
	ns = mono_ns + e->wall_off_ns;
	tv.tv_sec = ns / 1000000000ull;
	tv.tv_usec = (ns % 1000000000ull) / 1000;
	return tv;
}

/* ---- slots ---- */

static void slot_put(struct probe_engine *e, struct pslot *ps)
{
	struct meas *m = ps->m;

	sched_slots_release(&e->slots, ps->id);
	if (e->slot_wait) {
		e->slot_wait = 0;
		engine_pump_soon(e);
	}
	if (m->reaped && !m->inflight)
		meas_free(e, m);
}

void meas_slot_abort(struct probe_engine *e, struct meas *m, uint32_t slot)
{
	struct pslot *ps = sched_slots_lookup(&e->slots, slot);

	if (!ps || ps->m != m)
		return;
	ptimeout_cancel(e, ps);
	m->inflight--;
	sched_slots_release(&e->slots, slot);
	if (e->slot_wait) {
		e->slot_wait = 0;
		engine_pump_soon(e);
	}
}

void engine_slot_timeout(struct probe_engine *e, struct pslot *ps)
{
	struct meas *m = ps->m;

	e->st.timeouts++;
	m->inflight--;
	if (!m->done)
		m->ops->timeout(e, m, ps);
	slot_put(e, ps);
}

/* ---- TX ---- */

static void pump_cb(struct sched *s, struct sched_timer *t, void *ctx);

void engine_pump_soon(struct probe_engine *e)
{
	if (!sched_timer_armed(&e->pump_tm) || e->pump_tm.when_ns > 0)
		sched_timer_arm(e->s, &e->pump_tm, 0);
}

static inline uint32_t aux_of(const struct probe_engine *e, uint32_t id)
{
	return (id * 0x9e3779b1u) ^ e->secret;
}

/* Write m's next probe into frame; 0, or -EAGAIN when m has nothing to send. */
static int emit(struct probe_engine *e, struct meas *m, void *frame, struct pslot *ps)
{
	struct codec_patch p = {0};
	int len;

	if (m->ops->next(e, m, ps))
		return -EAGAIN;
	p.daddr = m->dst;
	p.ttl = ps->ttl;
	if (m->spoofed) {
		p.icmp_seq = ps->seq;
		p.ip_id = (uint16_t)(e->secret + ps->seq);
		p.req = m->ping.spoof_req;
		p.aux = ps->seq;
	} else {
		codec_patch_set_slot(&p, m->proto, ps->id);
		p.aux = aux_of(e, ps->id);
	}
	len = codec_tmpl_write(&m->tmpl->t, frame, &p);
	txring_commit(e->tx, len);
	ps->tx_ns = sched_now_ns();
	ps->ip_id = p.ip_id;
	ps->aux = p.aux;
	ps->dst = m->dst;
	ps->proto = m->proto;
	e->st.probes++;
	return 0;
}

static void pump(struct probe_engine *e)
{
	uint64_t now = sched_now_ns(), avail = sched_tb_avail(&e->tb, now), wait;
	unsigned int n = 0, since_kick = 0;
	struct pslot spoof_ps;

	while (avail && e->rhead && n < PUMP_MAX) {
		struct meas *m = e->rhead;
		struct pslot *ps;
		uint32_t id = 0;
		size_t cap;
		void *frame;

		if (!m->spoofed && !e->slots.nfree) {
			e->st.slots_full++;
			e->slot_wait = 1;
			break;
		}
		wait = sched_dstlim_check(&e->dl, m->dst, now);
		if (wait) {
			meas_idle(e, m);
			sched_timer_arm(e->s, &m->lim, now + wait);
			continue;
		}
		frame = txring_frame(e->tx, &cap);
		if (!frame) {
			txring_kick(e->tx);
			since_kick = 0;
			frame = txring_frame(e->tx, &cap);
		}
		if (!frame || cap < m->tmpl->t.len) {
			e->st.ring_full++;
			sched_timer_arm(e->s, &e->pump_tm, now + RETRY_NS);
			break;
		}
		if (m->spoofed) {
			ps = &spoof_ps;
			memset(ps, 0, sizeof(*ps));
		} else {
			ps = sched_slots_alloc(&e->slots, &id);
			ps->id = id;
			ps->m = m;
		}
		if (emit(e, m, frame, ps)) {
			if (!m->spoofed)
				sched_slots_release(&e->slots, id);
			meas_idle(e, m);
			continue;
		}
		if (!m->spoofed) {
			ptimeout_arm(e, ps, m->wait_ms);
			m->inflight++;
		}
		if (m->ops->sent)
			m->ops->sent(e, m, ps);
		sched_tb_take(&e->tb, 1);
		avail--;
		n++;
		/* round robin: the measurement goes to the back of the queue */
		if (m->queued && m->rnext) {
			meas_idle(e, m);
			meas_requeue(e, m);
		}
		if (++since_kick == KICK_EVERY) {
			txring_kick(e->tx);
			since_kick = 0;
		}
	}
	if (since_kick) {
		int err = txring_kick(e->tx);

		if (err && err != -EAGAIN && err != -ENOBUFS)
			e->st.tx_errors++;
	}
	if (!e->rhead || e->slot_wait || sched_timer_armed(&e->pump_tm))
		return;
	if (n >= PUMP_MAX) /* yield: RX is served before the next pass */
		sched_timer_arm(e->s, &e->pump_tm, sched_now_ns() + 1);
	else
		sched_timer_arm(e->s, &e->pump_tm, now + sched_tb_wait_ns(&e->tb, 1));
}

static void pump_cb(struct sched *s, struct sched_timer *t, void *ctx)
{
	(void)s;
	(void)t;
	pump(ctx);
}

/* ---- RX ---- */

void reply_from_record(struct probe_ping_reply *p, const struct rtrace_reply *r)
{
	p->from = r->saddr;
	p->reply_ipid = r->ip_id;
	p->reply_size = r->tot_len;
	p->reply_ttl = r->ttl;
	p->reply_tos = r->tos;
	p->icmp_type = r->icmp_type;
	p->icmp_code = r->icmp_code;
	p->flags = r->flags;
	p->rx_ns = r->rx_ns;
	if (r->flags & RTRACE_F_RR)
		p->rr = r->rr;
	if (r->flags & RTRACE_F_TS)
		p->ts = r->ts;
}

/* UDP errors quoting 8 bytes give the low 16 bits of the slot only. */
static struct pslot *lookup_partial(struct probe_engine *e, uint32_t low16,
				    const struct rtrace_reply *r)
{
	struct pslot *ps;
	uint32_t idx = low16 & (e->slots.nslots - 1);

	if (e->slots.idx_bits > 16 || !(e->slots.meta[idx] & 1))
		return NULL;
	ps = (struct pslot *)(e->slots.ents + (size_t)idx * e->slots.entsize);
	if (ps->proto != CODEC_PROTO_UDP || !(r->flags & RTRACE_F_QUOTE) || r->q.daddr != ps->dst ||
	    r->q.ip_id != ps->ip_id)
		return NULL;
	return ps;
}

static void on_record(void *ctx, const struct rtrace_reply *r)
{
	struct probe_engine *e = ctx;
	struct pslot *ps;
	struct meas *m;
	uint32_t id;
	int rc;

	e->st.replies++;
	if (r->flags & RTRACE_F_SPOOFED) {
		if (listen_deliver(e, e->listeners, r))
			e->st.spoofed++;
		else
			e->st.unmatched++;
		return;
	}
	rc = codec_reply_slot(r, &id);
	if (rc < 0) {
		e->st.unmatched++;
		return;
	}
	ps = rc == 0 ? sched_slots_lookup(&e->slots, id) : lookup_partial(e, id, r);
	if (!ps) {
		e->st.stale++;
		return;
	}
	if (((r->flags & RTRACE_F_COOKIE) && r->cookie.aux != ps->aux) ||
	    ((r->flags & RTRACE_F_QUOTE) && r->q.daddr != ps->dst)) {
		e->st.unmatched++;
		return;
	}
	e->st.matched++;
	ptimeout_cancel(e, ps);
	m = ps->m;
	m->inflight--;
	if (!m->done)
		m->ops->reply(e, m, ps, r);
	slot_put(e, ps);
}

static void rx_ready(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct probe_engine *e = ctx;

	(void)s;
	(void)fd;
	(void)events;
	rx_consume(e->rx);
}

/* ---- engine ---- */

static void routes_ready(struct sched *s, int fd, uint32_t events, void *ctx)
{
	(void)s;
	(void)fd;
	(void)events;
	engine_routes_changed(ctx);
}

static int engine_io(struct probe_engine *e, const struct probe_engine_opts *o)
{
	struct txring_opts to = {.backend = o->tx_backend, .frame_count = o->tx_frames};
	struct rtrace_match match = {0};
	struct rx_opts ro = {0};
	int err;

	e->tx = txring_open(e->ifc.name, &to);
	if (!e->tx)
		return -errno;
	match.addr = e->src;
	match.icmp_id = e->icmp_id;
	match.udp_sport = e->udp_sport;
	match.accept_spoofed = !!o->accept_spoofed;
	ro.match = &match;
	ro.mode = o->rx_mode;
	ro.cb = on_record;
	ro.ctx = e;
	e->rx = rx_open(e->ifc.ifindex, &ro);
	if (!e->rx)
		return -errno;
	err = sched_add_fd(e->s, rx_fd(e->rx), EPOLLIN, rx_ready, e);
	if (err) {
		rt_err("probe: %s: cannot watch the receive path: %s", e->ifc.name, strerror(-err));
		return err;
	}
	e->rc = netinfo_rcache_new(e->ifc.ifindex);
	if (!e->rc)
		return -errno;
	err = sched_add_fd(e->s, netinfo_rcache_fd(e->rc), EPOLLIN, routes_ready, e);
	if (err)
		rt_err("probe: %s: cannot watch route changes: %s", e->ifc.name, strerror(-err));
	return err;
}

struct probe_engine *probe_engine_new(const struct probe_engine_opts *o)
{
	struct probe_engine *e;
	uint32_t rnd[2] = {0};
	int err;

	if (!o || !o->ifname || !*o->ifname) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	/* no log line for these two: errno says it all (ENODEV, EADDRNOTAVAIL) and
	 * every caller reports it with the interface name */
	err = netinfo_if_by_name(o->ifname, &e->ifc);
	if (err)
		goto out;
	e->src = o->src;
	if (!e->src) {
		err = netinfo_if_addr(e->ifc.ifindex, &e->src);
		if (err)
			goto out;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd[0] = (uint32_t)sched_now_ns(), rnd[1] = rnd[0] * 2654435761u;
	e->icmp_id = o->icmp_id ? o->icmp_id : (uint16_t)(rnd[0] | 1);
	if (e->icmp_id == RTRACE_SPOOF_ICMP_ID)
		e->icmp_id ^= 0x100;
	e->udp_sport = o->udp_sport ? o->udp_sport : 40000 + (rnd[0] >> 16) % 20000;
	e->secret = rnd[1];
	e->accept_spoofed = !!o->accept_spoofed;
	if (o->sched) {
		e->s = o->sched;
	} else {
		e->s = sched_new();
		if (!e->s) {
			err = -errno;
			goto out;
		}
		e->own_sched = 1;
	}
	sched_timer_init(&e->pump_tm, pump_cb, e);
	sched_timer_init(&e->reap_tm, meas_reap_cb, e);
	ptimeout_init(e);
	err = sched_slots_init(&e->slots, o->slots ? o->slots : DEF_SLOTS, sizeof(struct pslot));
	if (!err)
		err = sched_timer_reserve(e->s, e->slots.nslots + 1024);
	if (!err)
		err = sched_dstlim_init(&e->dl, o->dst_pps ? 1000000000ull / o->dst_pps : 0);
	if (err) {
		rt_err("probe: out of memory for %u probe slots", o->slots ? o->slots : DEF_SLOTS);
		goto out;
	}
	sched_tb_init(&e->tb, o->pps, 0, sched_now_ns());
	err = engine_io(e, o);
	if (err)
		goto out;
	e->st.rx_mode = rx_mode_name(rx_mode_used(e->rx));
	e->st.tx_mode = txring_backend_used(e->tx) == TXRING_RING ? "ring" : "sendmmsg";
	rt_info("probe: %s src %u.%u.%u.%u icmp id %u udp port %u, tx %s, rx %s, %u slots",
		e->ifc.name, ((uint8_t *)&e->src)[0], ((uint8_t *)&e->src)[1],
		((uint8_t *)&e->src)[2], ((uint8_t *)&e->src)[3], e->icmp_id, e->udp_sport,
		e->st.tx_mode, e->st.rx_mode, e->slots.nslots);
	return e;
out:
	probe_engine_free(e);
	errno = -err;
	return NULL;
}

void probe_engine_free(struct probe_engine *e)
{
	struct meas *m, *n;

	if (!e)
		return;
	for (m = e->all; m; m = n) {
		n = m->next;
		meas_free(e, m);
	}
	meas_free_cache(e);
	if (e->s) {
		sched_timer_cancel(e->s, &e->pump_tm);
		sched_timer_cancel(e->s, &e->reap_tm);
		if (e->rx)
			sched_del_fd(e->s, rx_fd(e->rx));
		if (e->rc)
			sched_del_fd(e->s, netinfo_rcache_fd(e->rc));
	}
	/* the timeout queues' timers */
	if (e->s)
		ptimeout_stop(e);
	rx_close(e->rx);
	netinfo_rcache_free(e->rc);
	if (e->tx)
		txring_flush(e->tx, 100);
	txring_close(e->tx);
	sched_slots_free(&e->slots);
	sched_dstlim_free(&e->dl);
	if (e->own_sched)
		sched_free(e->s);
	free(e);
}

struct sched *probe_engine_sched(struct probe_engine *e)
{
	return e->s;
}

uint32_t probe_engine_src(const struct probe_engine *e)
{
	return e->src;
}

uint16_t probe_engine_icmp_id(const struct probe_engine *e)
{
	return e->icmp_id;
}

unsigned int probe_engine_active(const struct probe_engine *e)
{
	return e->active;
}

int probe_engine_run_once(struct probe_engine *e, int timeout_ms)
{
	return sched_run_once(e->s, timeout_ms);
}

int probe_engine_run(struct probe_engine *e)
{
	e->stop = 0;
	sched_resume(e->s);
	while (!e->stop && (e->active || e->dhead)) {
		int err = sched_run_once(e->s, -1);

		if (err < 0)
			return err;
		if (sched_stopped(e->s))
			break;
	}
	return 0;
}

void probe_engine_stop(struct probe_engine *e)
{
	e->stop = 1;
	sched_stop(e->s);
}

void probe_engine_stats(struct probe_engine *e, struct probe_stats *st)
{
	struct rx_stats rs;

	*st = e->st;
	st->active = e->active;
	if (e->rx && rx_stats(e->rx, &rs) == 0) {
		st->rx_ringfull = rs.ringfull;
		st->rx_malformed = rs.malformed;
	}
}
