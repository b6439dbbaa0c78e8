/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * internal.h - what the probe engine (engine.c) and its measurement state
 * machines (ping.c, trace.c, listen.c) share. Not a public header.
 *
 * A measurement (struct meas) is driven through struct meas_ops: the pump
 * asks next() for a probe whenever the measurement sits in the ready queue and
 * a token, a TX frame and a probe slot are available; matched replies and
 * timeouts come back through reply() and timeout() with the probe's slot
 * (struct pslot). A measurement ends with meas_finish(); its done callback
 * runs later from the reap timer (never from inside the pump or the RX
 * callback), and its memory is freed once no probe of it is in flight.
 */
#ifndef RTRACE_PROBE_INTERNAL_H
#define RTRACE_PROBE_INTERNAL_H

#include <stdint.h>

#include "rtrace/codec.h"
#include "rtrace/netinfo.h"
#include "rtrace/probe.h"
#include "rtrace/sched.h"

struct meas;

/* One probe in flight: an entry of the slot table (one cache line). */
struct pslot {
	struct pslot *tnext; /* timeout queue links (timeouts.c) */
	struct pslot *tprev;
	uint64_t deadline_ns; /* timeout */
	struct meas *m;	      /* owning measurement */
	uint64_t tx_ns;	      /* written to the ring, CLOCK_MONOTONIC */
	uint32_t id;	      /* slot id (index + generation) */
	uint32_t aux;	      /* cookie.aux the probe carried */
	uint32_t dst;	      /* probe destination, network order */
	uint16_t ip_id;	      /* probe IP ID */
	uint16_t seq;	      /* ping: probe number */
	uint8_t ttl;	      /* probe TTL */
	uint8_t attempt;      /* trace: attempt, 1-based */
	uint8_t proto;	      /* enum codec_proto */
	uint8_t tq;	      /* 1 + timeout queue index, 0: none */
};

/* Probes with one timeout value, by deadline (timeouts.c). */
#define TQ_MAX 16
struct ptqueue {
	uint32_t wait_ms;      /* the timeout */
	uint8_t used;	       /* wait_ms is set */
	struct pslot *head;    /* earliest deadline */
	struct pslot *tail;    /* latest deadline */
	struct sched_timer tm; /* armed at or before head's deadline */
};

/* A frame template shared by the measurements whose probes differ only in
 * the fields codec_tmpl_write() patches. */
struct tmpl_ent {
	struct tmpl_ent *next;	     /* engine's list */
	unsigned int refs;	     /* measurements using it */
	struct codec_probe_spec key; /* spec with the patched fields zeroed */
	struct codec_tmpl t;	     /* the template */
};

struct meas_ops {
	/*
	 * Fill ps->seq/ttl/attempt for the next probe (ps->id is set). 0: send
	 * it; -EAGAIN: nothing to send now (the measurement leaves the ready
	 * queue until it calls meas_ready() again).
	 */
	int (*next)(struct probe_engine *e, struct meas *m, struct pslot *ps);
	/* The probe of ps was written (tx_ns set). Optional. */
	void (*sent)(struct probe_engine *e, struct meas *m, struct pslot *ps);
	/* A reply matched ps (m->inflight already decremented). */
	void (*reply)(struct probe_engine *e, struct meas *m, struct pslot *ps,
		      const struct rtrace_reply *r);
	/* ps timed out (m->inflight already decremented). */
	void (*timeout)(struct probe_engine *e, struct meas *m, struct pslot *ps);
	/* Complete m->res before the done callback (wall clock, sorting). Optional. */
	void (*result)(struct probe_engine *e, struct meas *m);
	/* Release probes still in flight at finish (trace). Optional. */
	void (*abort)(struct probe_engine *e, struct meas *m);
	/* Free the kind's allocations. Optional. */
	void (*destroy)(struct meas *m);
};

/* ping.c's state. */
struct ping_state {
	uint16_t next_seq; /* probes handed out */
	uint8_t may_send;  /* the interval has passed */
	uint8_t pad;
	uint32_t spoof_req; /* cookie.req of spoofed probes */
	uint64_t start_ns;  /* first probe's tx time */
};

/* trace.c's per-TTL state. */
struct trace_ttl {
	uint32_t slot;	   /* slot id of the probe in flight */
	uint8_t sent;	   /* attempts sent */
	uint8_t inflight;  /* a probe is in flight */
	uint8_t answered;  /* a reply came back */
	uint8_t exhausted; /* every attempt timed out */
};

struct trace_state {
	struct trace_ttl ttl[256]; /* by TTL */
	uint8_t queue[256];	   /* TTLs waiting to be (re)sent, ring */
	uint16_t qhead, qlen;	   /* queue position and length */
	uint8_t dest_ttl;	   /* smallest TTL the destination answered */
	uint8_t stop_ttl;	   /* smallest TTL with an unreachable/ICMP stop */
	uint8_t stop_reason;	   /* for stop_ttl */
	uint8_t stop_data;	   /* for stop_ttl */
	uint32_t caphops;	   /* hops[] capacity */
	uint64_t start_ns;	   /* first probe's tx time */
};

/* listen.c's state. */
struct listen_state {
	struct meas *lnext; /* engine's listener list */
	uint64_t start_ns;  /* when it started */
	uint32_t req;	    /* request id filter */
	uint32_t max;	    /* finish after this many replies (0: no limit) */
	uint8_t match_req;  /* filter on req */
};

struct meas {
	struct probe_engine *e;	    /* owning engine */
	uint64_t id;		    /* measurement id */
	const struct meas_ops *ops; /* its kind */
	struct probe_cbs cbs;	    /* user callbacks */
	struct probe_result res;    /* result being built */
	struct meas *prev, *next;   /* every allocated measurement */
	struct meas *rnext, *rprev; /* ready queue links */
	struct meas *dnext;	    /* reap list link */
	uint8_t queued;		    /* in the ready queue */
	uint8_t done;		    /* finished: ops are not called any more */
	uint8_t reaped;		    /* done callback has run */
	uint8_t spoofed;	    /* probes carry a spoofed source: no slots */
	uint8_t proto;		    /* enum codec_proto of its probes */
	uint32_t inflight;	    /* slots held */
	uint32_t dst;		    /* probe destination */
	uint32_t wait_ms;	    /* probe timeout */
	struct tmpl_ent *tmpl;	    /* frame template */
	struct sched_timer wake;    /* kind timer (ping interval, listen end) */
	struct sched_timer lim;	    /* per-destination limiter wait */
	union {
		struct ping_state ping;
		struct trace_state *trace; /* large: allocated */
		struct listen_state listen;
	};
	/* the reply of a one-probe ping (a sweep's): no allocation, and hot when the
	 * measurement is reused; not zeroed by meas_new() (zeroed when filled) */
	struct probe_ping_reply reply1;
};

/* The engine (engine.c: I/O, pump, matching; meas.c: measurements, caches). */
#define NH_CACHE 32 /* next hops with a cached MAC */

struct nh_ent {
	uint32_t addr;	/* next hop */
	uint8_t mac[6]; /* its MAC */
};

struct probe_engine {
	struct sched *s;	       /* event loop */
	int own_sched;		       /* we made s */
	int stop;		       /* probe_engine_stop() */
	struct txring *tx;	       /* transmit ring */
	struct rx *rx;		       /* receive path */
	struct netinfo_if ifc;	       /* probing interface */
	uint32_t src;		       /* our address */
	uint16_t icmp_id;	       /* instance id */
	uint16_t udp_sport;	       /* instance UDP port */
	uint32_t secret;	       /* mixes cookie.aux */
	int accept_spoofed;	       /* listen allowed */
	struct sched_tb tb;	       /* global pacing */
	struct sched_dstlim dl;	       /* per-destination pacing */
	struct sched_slots slots;      /* probes in flight */
	struct sched_timer pump_tm;    /* runs pump() */
	struct sched_timer reap_tm;    /* runs reap() */
	struct meas *rhead, *rtail;    /* ready queue */
	struct meas *dhead, *dtail;    /* finished, done callback pending */
	struct meas *all;	       /* every allocated measurement */
	struct meas *mfree;	       /* freed ones kept for reuse (next links) */
	unsigned int nmfree;	       /* how many */
	struct meas *listeners;	       /* listen measurements */
	struct tmpl_ent *tmpls;	       /* template cache */
	struct netinfo_rcache *rc;     /* destination -> route (next hop) */
	struct nh_ent nh[NH_CACHE];    /* next hop -> MAC */
	unsigned int nnh;	       /* used entries of nh */
	uint64_t next_id;	       /* measurement ids */
	unsigned int active;	       /* measurements not finished */
	int slot_wait;		       /* pump stalled on slots */
	struct ptqueue tq[TQ_MAX + 1]; /* probe timeouts by value, + the sorted one */
	unsigned int ntq;	       /* queues in use */
	unsigned int tq_last;	       /* queue of the last probe */
	int64_t wall_off_ns;	       /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t wall_at_ns;	       /* when wall_off_ns was sampled */
	struct probe_stats st;	       /* counters */
};

/* engine.c services for the measurement kinds. */
/* Allocate a measurement of a kind with a destination (frame template from spec). */
struct meas *meas_new(struct probe_engine *e, enum probe_kind kind, const struct meas_ops *ops,
		      const struct probe_cbs *cbs, const struct codec_probe_spec *spec, int *err);
/* Free a measurement (one that meas_start() never saw, or a finished one). */
void meas_free(struct probe_engine *e, struct meas *m);
/* Free the measurements kept for reuse. */
void meas_free_cache(struct probe_engine *e);
/* Start it: link, count, put in the ready queue if it has probes. Returns its id. */
int64_t meas_start(struct probe_engine *e, struct meas *m, int ready);
/* Put m in the ready queue (no-op if queued or done). */
void meas_ready(struct probe_engine *e, struct meas *m);
/* Take m out of the ready queue (it has nothing to send until meas_ready()). */
void meas_idle(struct probe_engine *e, struct meas *m);
/* Put m at the back of the ready queue without waking the pump (round robin). */
void meas_requeue(struct probe_engine *e, struct meas *m);
/* The reap timer: runs the done callbacks of finished measurements (ctx: engine). */
void meas_reap_cb(struct sched *s, struct sched_timer *t, void *ctx);
/* End m; done runs from the reap timer. Idempotent. */
void meas_finish(struct probe_engine *e, struct meas *m);
/* Release an in-flight slot of m without a reply (abort). */
void meas_slot_abort(struct probe_engine *e, struct meas *m, uint32_t slot);
/* Run the pump soon (from the loop, not from inside the caller). */
void engine_pump_soon(struct probe_engine *e);
/* Fill the engine-level frame fields (MACs, source, ids) of a spec for dst. 0 or -errno. */
int engine_spec(struct probe_engine *e, uint32_t dst, struct codec_probe_spec *s);
/* Routes or rules changed (the route cache's fd is readable): drop the caches. */
void engine_routes_changed(struct probe_engine *e);
/* CLOCK_MONOTONIC ns -> wall clock (offset sampled at most every 10 ms). */
struct timeval engine_walltime(struct probe_engine *e, uint64_t mono_ns);
/* ps timed out (timeouts.c calls it; the slot is off its queue). */
void engine_slot_timeout(struct probe_engine *e, struct pslot *ps);
/* timeouts.c: set up, arm ps's timeout (tx_ns set), cancel it, stop every queue. */
void ptimeout_init(struct probe_engine *e);
void ptimeout_arm(struct probe_engine *e, struct pslot *ps, uint32_t wait_ms);
void ptimeout_cancel(struct probe_engine *e, struct pslot *ps);
void ptimeout_stop(struct probe_engine *e);
/* The engine's loop. */
struct sched *engine_sched(struct probe_engine *e);
/* Listener registry for listen.c. */
void engine_listener_add(struct probe_engine *e, struct meas *m);
void engine_listener_del(struct probe_engine *e, struct meas *m);
int engine_accepts_spoofed(const struct probe_engine *e);
/* Fill a ping reply from a record (tx fields left to the caller). */
void reply_from_record(struct probe_ping_reply *p, const struct rtrace_reply *r);

extern const struct meas_ops ping_ops, trace_ops, listen_ops;
/* listen.c: deliver a record of a spoofed probe; returns listeners reached. */
int listen_deliver(struct probe_engine *e, struct meas *listeners, const struct rtrace_reply *r);

#endif /* RTRACE_PROBE_INTERNAL_H */
