/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * revtr_backend.h - runs the requests of the reverse-traceroute core
 * (revtr.h) for real: the client's own probes through the probe engine
 * (probe.h: RR ping, TS prespec ping, Paris traceroute, and a listener for
 * replies to probes that agents spoof with the client's address) and the
 * agents' measurements over the control link (ctl.h, tlslink.h: traceroutes
 * toward the client, spoofed RR / TS pings).
 *
 * One struct rtb owns the probe engine, its event loop and a pool of agent
 * connections (connected and greeted in rtb_new). Many reverse traces can
 * run at once (rtb_submit), all driven from the one loop (rtb_run_once):
 * each request gets a backend id, which is also the control-link request id
 * and the cookie request id of spoofed probes, so agents' RESULT messages
 * and spoofed replies find their request in O(1). Every request ends with a
 * result (OK, TIMEOUT or ERROR) within its deadline, also when an agent dies
 * or refuses; a reverse trace that is done has its leftovers cancelled.
 *
 * Addresses are network order; times are ms unless named _ns.
 */
#ifndef RTRACE_REVTR_BACKEND_H
#define RTRACE_REVTR_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "rtrace/revtr.h"

struct rtb;
struct sched;

/* Backend configuration; zero fields take the defaults in brackets. */
struct rtb_opts {
	const char *ifname;		/* probing interface (required) */
	uint32_t src;			/* client address [the interface's] */
	uint64_t pps;			/* the client's global probe rate [no limit] */
	uint64_t dst_pps;		/* the client's probes per destination per
					 * second [no limit] (rtrace-batch) */
	const char *const *agents;	/* "HOST[:PORT]" of each rtraced */
	size_t nagents;			/* entries in agents (<= REVTR_MAX_AGENTS) */
	const char *certdir;		/* certificates (tools/rtrace-keygen); needed
					 * with agents */
	const char *name;		/* our certificate name in certdir */
	uint32_t connect_ms;		/* TCP + TLS + HELLO per agent [3000] */
	uint32_t ping_wait_ms;		/* wait for a ping reply [1000] */
	uint32_t spoof_wait_ms;		/* wait for a spoofed reply after the agent
					 * reported its probe sent [1500] */
	uint32_t trace_wait_ms;		/* per-probe wait of traceroutes [1000] */
	uint32_t agent_req_ms;		/* deadline of one agent request [20000] */
	uint8_t ping_count;		/* probes per ping request [1] */
	uint8_t trace_attempts;		/* probes per TTL of traceroutes [2] */
	uint8_t trace_max_ttl;		/* last TTL of traceroutes [30] */
	uint8_t no_atlas_rr;		/* 1: atlas requests only trace (no RR echo
					 * from the agent to the client) */
};

/* What is known about one agent of the pool. */
struct rtb_agent_info {
	char where[80];		/* "HOST[:PORT]" as given */
	char name[65];		/* certificate name ("" if never connected) */
	uint32_t addr;		/* its probing address (HELLO), 0 unknown */
	uint16_t caps;		/* enum ctl_cap of its HELLO */
	uint8_t up;		/* 1 connected and greeted */
	char error[256];	/* why it is down ("" if up) */
	uint32_t requests;	/* requests sent to it */
	uint32_t failed;	/* requests that ended in ERROR or TIMEOUT */
};

/*
 * Open the probe engine on o->ifname (listening for spoofed replies when
 * agents are given) and connect to every agent (in parallel is not needed:
 * each connect is bounded by connect_ms). Agents that cannot be reached or
 * refuse us are kept as down (rtb_agent_get says why); that is not an error.
 * Returns NULL with errno set and a reason in err (no such interface,
 * permission, certificate directory unreadable).
 */
struct rtb *rtb_new(const struct rtb_opts *o, char *err, size_t errlen);

/* Cancel everything, close agents and the engine, free (NULL-safe). */
void rtb_free(struct rtb *b);

/* The event loop (register more fds, e.g. a signalfd). */
struct sched *rtb_sched(struct rtb *b);

/* The client's address (the engine's source). */
uint32_t rtb_client(const struct rtb *b);

/*
 * The agents that are up, as revtr_cfg wants them (address and
 * REVTR_AGENT_SPOOF / REVTR_AGENT_TRACE from their HELLO caps). Returns the
 * number written (at most max).
 */
size_t rtb_agents(const struct rtb *b, struct revtr_agent *out, size_t max);

/* Pool size and one agent's state (i < rtb_nagents). */
size_t rtb_nagents(const struct rtb *b);
void rtb_agent_get(const struct rtb *b, size_t i, struct rtb_agent_info *out);

/* Called once when a submitted reverse trace is done (revtr_done). */
typedef void (*rtb_done_cb)(struct rtb *b, struct revtr *rt, void *ctx);

/*
 * Start driving rt: its requests are run as they come, its results fed back
 * until revtr_done(rt); then done(b, rt, ctx) runs (from rtb_run_once, never
 * from inside rtb_submit). rt must stay alive until done or rtb_cancel.
 * 0 or -errno.
 */
int rtb_submit(struct rtb *b, struct revtr *rt, rtb_done_cb done, void *ctx);

/*
 * Stop driving rt (its outstanding requests are cancelled, their results
 * dropped; done is not called). 0 or -ENOENT.
 */
int rtb_cancel(struct rtb *b, struct revtr *rt);

/* Reverse traces submitted and not done. */
unsigned int rtb_active(const struct rtb *b);

/* One loop iteration, waiting up to timeout_ms. Callbacks run or -errno. */
int rtb_run_once(struct rtb *b, int timeout_ms);

/*
 * Drive rt alone until it is done or deadline_ns (CLOCK_MONOTONIC) passes.
 * Returns 0 when done, -ETIMEDOUT at the deadline (rt is cancelled, its
 * report holds the partial path, stop REVTR_RUNNING), or another -errno.
 */
int rtb_run(struct rtb *b, struct revtr *rt, uint64_t deadline_ns);

/* Requests per kind run so far, for statistics. */
struct rtb_stats {
	uint32_t local_pings;	/* RR / TS pings from the client */
	uint32_t local_traces;	/* forward traceroutes of the client */
	uint32_t agent_reqs;	/* PING / TRACE requests sent to agents */
	uint32_t spoofed_replies; /* replies to spoofed probes received */
	uint32_t timeouts;	/* requests answered TIMEOUT */
	uint32_t errors;	/* requests answered ERROR */
};
void rtb_get_stats(const struct rtb *b, struct rtb_stats *st);

#endif /* RTRACE_REVTR_BACKEND_H */
