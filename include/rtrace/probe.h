/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * probe.h - the probe engine: many ping / Paris-traceroute / listen
 * measurements in flight at once on one interface, paced, matched in O(1).
 *
 * A struct probe_engine owns a TX ring (txring.h), the XDP (or RX ring)
 * receive path (rx.h) and runs on a struct sched event loop (its own, or one
 * the caller passes so that control sockets share the loop). Measurements are
 * submitted with probe_ping(), probe_trace(), probe_listen(); each runs as a
 * small state machine and calls its completion callback once with the
 * result struct (data model below; printing is output.h's job). Optional
 * per-response callbacks see every reply as it is matched.
 *
 * Probe identity (codec.h): a probe slot (sched.h) per probe in flight; its
 * 32-bit id travels in the probe and comes back in the reply, so matching is
 * one table access plus a generation check. RTT = XDP receive time (rx_ns)
 * minus the CLOCK_MONOTONIC time the probe was written into the ring.
 *
 * Threading: none; everything runs from the loop's thread. Callbacks may
 * submit new measurements. Addresses are network order; times in results are
 * CLOCK_MONOTONIC ns (*_ns) or wall-clock struct timeval (tx, rx, start).
 */
#ifndef RTRACE_PROBE_H
#define RTRACE_PROBE_H

#include <stdint.h>
#include <sys/time.h>

#include "rtrace/wire.h"

struct sched;
struct probe_engine;

/* ---- data model ---------------------------------------------------------- */

enum probe_kind {
	PROBE_PING = 1,
	PROBE_TRACE = 2,
	PROBE_LISTEN = 3,
};

/* The IP option of a ping. */
enum probe_ipopt {
	PROBE_OPT_NONE = 0,
	PROBE_OPT_RR = 1,	 /* Record Route (scamper ping -R) */
	PROBE_OPT_TSONLY = 2,	 /* Timestamp, stamps only (-T tsonly) */
	PROBE_OPT_TSANDADDR = 3, /* Timestamp, address + stamp (-T tsandaddr) */
	PROBE_OPT_TSPRESPEC = 4, /* Timestamp, prespecified (-T tsprespec=IP,..) */
};

/* Traceroute methods (scamper names: icmp-echo-paris, udp-paris). */
enum probe_trace_method {
	PROBE_TRACE_ICMP_PARIS = 0,
	PROBE_TRACE_UDP_PARIS = 1,
};

/* Why a trace stopped (scamper's stop_reason names). */
enum probe_stop {
	PROBE_STOP_NONE = 0,
	PROBE_STOP_COMPLETED = 1, /* the destination answered */
	PROBE_STOP_UNREACH = 2,	  /* an ICMP unreachable (stop_data = code) */
	PROBE_STOP_ICMP = 3,	  /* another ICMP error (stop_data = type) */
	PROBE_STOP_LOOP = 4,	  /* (not produced) */
	PROBE_STOP_GAPLIMIT = 5,  /* gaplimit hops in a row were silent */
	PROBE_STOP_ERROR = 6,	  /* could not probe (see result error) */
	PROBE_STOP_HOPLIMIT = 7,  /* max TTL reached without an answer from dst */
	PROBE_STOP_HALTED = 8,	  /* cancelled */
};

/* One reply to a ping probe (also one spoofed reply seen by a listener). */
struct probe_ping_reply {
	uint32_t from;	     /* reply source, network order */
	uint16_t seq;	     /* probe number within the ping, 0-based */
	uint16_t probe_ipid; /* IP ID of the probe */
	uint16_t reply_ipid; /* IP ID of the reply */
	uint16_t reply_size; /* IP total length of the reply */
	uint8_t reply_ttl;   /* TTL of the reply */
	uint8_t reply_tos;   /* TOS of the reply */
	uint8_t icmp_type;   /* ICMP type (0 = echo reply) */
	uint8_t icmp_code;   /* ICMP code */
	uint16_t flags;	     /* enum rtrace_reply_flag bits of the record */
	uint64_t tx_ns;	     /* probe written to the ring, CLOCK_MONOTONIC (0 if unknown) */
	uint64_t rx_ns;	     /* reply seen by XDP, CLOCK_MONOTONIC */
	uint64_t rtt_ns;     /* rx_ns - tx_ns (0 if tx unknown) */
	struct timeval tx;   /* tx_ns as wall-clock time */
	struct timeval rx;   /* rx_ns as wall-clock time */
	struct rtrace_rr rr; /* Record Route of the reply (flags & RTRACE_F_RR) */
	struct rtrace_ts ts; /* Timestamp of the reply (flags & RTRACE_F_TS) */
};

/* Everything a ping measured. */
struct probe_ping_result {
	uint32_t src;			  /* source address of the probes */
	uint32_t dst;			  /* destination */
	struct timeval start;		  /* first probe's wall-clock time */
	uint16_t ping_sent;		  /* probes sent */
	uint16_t count;			  /* probes asked for */
	uint16_t probe_size;		  /* IP total length of each probe */
	uint8_t ttl;			  /* probe TTL */
	uint8_t opt;			  /* enum probe_ipopt */
	uint32_t tsps[RTRACE_TS_PAIRS];	  /* prespecified addresses (opt TSPRESPEC) */
	uint8_t ntsps;			  /* how many of tsps */
	uint8_t spoofed;		  /* 1: src was spoofed, replies go to src */
	uint16_t pad;			  /* explicit padding */
	uint32_t wait_ms;		  /* per-probe timeout */
	uint32_t interval_ms;		  /* time between probes */
	uint32_t nreplies;		  /* entries in replies[] */
	struct probe_ping_reply *replies; /* in arrival order */
};

/* One response in a trace. */
struct probe_trace_hop {
	uint32_t addr;	     /* responder, network order */
	uint8_t probe_ttl;   /* TTL of the probe */
	uint8_t probe_id;    /* attempt that drew it, 1-based */
	uint16_t probe_size; /* IP total length of the probe */
	uint64_t tx_ns;	     /* probe sent, CLOCK_MONOTONIC */
	uint64_t rtt_ns;     /* round-trip time */
	struct timeval tx;   /* tx_ns as wall-clock time */
	uint8_t reply_ttl;   /* TTL of the reply */
	uint8_t reply_tos;   /* TOS of the reply */
	uint16_t reply_ipid; /* IP ID of the reply */
	uint16_t reply_size; /* IP total length of the reply */
	uint8_t icmp_type;   /* ICMP type of the reply */
	uint8_t icmp_code;   /* ICMP code of the reply */
	uint8_t icmp_q_ttl;  /* TTL left in the quoted probe (errors only) */
	uint8_t pad;	     /* explicit padding */
	uint16_t icmp_q_ipl; /* IP length of the quoted probe (errors only) */
	uint16_t flags;	     /* enum rtrace_reply_flag bits of the record */
};

/* Everything a trace measured. */
struct probe_trace_result {
	uint32_t src;		      /* source address */
	uint32_t dst;		      /* destination */
	struct timeval start;	      /* wall-clock start */
	uint8_t method;		      /* enum probe_trace_method */
	uint8_t stop_reason;	      /* enum probe_stop */
	uint8_t stop_data;	      /* ICMP code/type for UNREACH/ICMP */
	uint8_t hop_count;	      /* last TTL that belongs to the path */
	uint8_t first_ttl;	      /* first TTL probed */
	uint8_t max_ttl;	      /* largest TTL probed */
	uint8_t attempts;	      /* probes per TTL at most */
	uint8_t gaplimit;	      /* silent TTLs in a row that stop the trace */
	uint16_t probe_size;	      /* IP total length of each probe */
	uint16_t sport;		      /* UDP source port (udp-paris) */
	uint16_t dport;		      /* UDP destination port (udp-paris) */
	uint16_t icmp_sum;	      /* constant ICMP checksum (icmp-echo-paris) */
	uint32_t wait_ms;	      /* timeout per probe */
	uint32_t probe_count;	      /* probes sent */
	uint32_t nhops;		      /* entries in hops[] */
	struct probe_trace_hop *hops; /* sorted by probe_ttl, then probe_id */
};

/* A listen measurement's tally (its replies go to the response callback). */
struct probe_listen_result {
	uint32_t addr;	      /* our address the spoofed probes carried */
	struct timeval start; /* wall-clock start */
	uint32_t duration_ms; /* how long it listened */
	uint32_t nreplies;    /* replies delivered */
};

/* A reply to a probe a vantage point spoofed with our address. */
struct probe_listen_reply {
	uint32_t vp;		   /* cookie.spoofer: the VP that sent the probe */
	uint32_t req;		   /* cookie.req: the request id */
	uint32_t aux;		   /* cookie.aux */
	uint32_t to;		   /* our address (outer destination) */
	struct probe_ping_reply r; /* the reply (tx unknown: tx_ns 0) */
};

/* A finished measurement. */
struct probe_result {
	enum probe_kind kind; /* which member of the union is valid */
	uint64_t id;	      /* what probe_ping()/probe_trace()/probe_listen() returned */
	int error;	      /* 0, or -errno if it could not run to the end */
	union {
		struct probe_ping_result ping;
		struct probe_trace_result trace;
		struct probe_listen_result listen;
	};
};

/*
 * Summary of a ping's replies, scamper's rules: a probe counts as answered
 * by its first reply from the destination; replies from elsewhere (ICMP
 * errors from routers) are errors.
 */
struct probe_ping_stats {
	uint32_t replies;			  /* probes answered by the destination */
	uint32_t dups;				  /* further replies to answered probes */
	uint32_t errs;				  /* replies from another address (ICMP errors) */
	double loss;				  /* fraction of probes unanswered */
	double min_ms, max_ms, avg_ms, stddev_ms; /* RTT statistics */
};

/* Compute *st from r (pure). */
void probe_ping_stats(const struct probe_ping_result *r, struct probe_ping_stats *st);
/* scamper's name of a stop reason ("COMPLETED"...). */
const char *probe_stop_name(enum probe_stop s);

/* ---- measurement options ------------------------------------------------- */

/* ping [-c N] [-R] [-T ...] [-S SRC] [-m TTL] [-s SIZE]; zero fields = defaults. */
struct probe_ping_opts {
	uint32_t dst;			/* destination (required) */
	uint32_t spoof_src;		/* -S: source to put in the probes; 0 = ours */
	uint32_t spoof_req;		/* cookie.req of spoofed probes (the client's id) */
	uint16_t count;			/* probes (default 4, like scamper) */
	uint16_t size;			/* IP total length (default 84 + option bytes) */
	uint8_t ttl;			/* TTL (default 64) */
	uint8_t opt;			/* enum probe_ipopt */
	uint8_t ntsps;			/* addresses in tsps (tsprespec: 1..4) */
	uint8_t pad;			/* explicit padding */
	uint32_t tsps[RTRACE_TS_PAIRS]; /* tsprespec addresses */
	uint32_t wait_ms;		/* timeout per probe (default 1000) */
	uint32_t interval_ms;		/* between probes (default 1000) */
};

/* trace [-f FIRST] [-m MAX] [-q ATTEMPTS] [-g GAPLIMIT] [-P METHOD]. */
struct probe_trace_opts {
	uint32_t dst;	   /* destination (required) */
	uint8_t method;	   /* enum probe_trace_method (default icmp-paris) */
	uint8_t first_ttl; /* default 1 */
	uint8_t max_ttl;   /* default 30 */
	uint8_t attempts;  /* probes per TTL (default 2, like scamper) */
	uint8_t gaplimit;  /* default 5 */
	uint8_t pad;	   /* explicit padding */
	uint16_t size;	   /* IP total length (default 60) */
	uint32_t wait_ms;  /* timeout per probe (default 2000) */
};

/* listen [-t SECONDS]: replies to probes spoofed on our behalf. */
struct probe_listen_opts {
	uint32_t duration_ms; /* how long (0: until cancelled) */
	uint32_t max_replies; /* finish after this many (0: no limit) */
	uint32_t req;	      /* with match_req: only this request id */
	uint8_t match_req;    /* 1: filter on req */
	uint8_t pad[3];	      /* explicit padding */
};

/*
 * Callbacks of one measurement. done is called exactly once (also for
 * errors and cancellation) with a result that is valid only during the call.
 * response (optional) is called for every matched reply: resp points to a
 * struct probe_ping_reply (ping), struct probe_trace_hop (trace) or struct
 * probe_listen_reply (listen).
 */
struct probe_cbs {
	void (*done)(struct probe_engine *e, const struct probe_result *r, void *ctx);
	void (*response)(struct probe_engine *e, const struct probe_result *r, const void *resp,
			 void *ctx);
	void *ctx;
};

/* ---- the engine ---------------------------------------------------------- */

/* Engine configuration; zero fields = defaults. */
struct probe_engine_opts {
	const char *ifname;	/* probing interface (required) */
	uint32_t src;		/* our source address; 0: the interface's first */
	uint64_t pps;		/* global probe rate; 0 = as fast as the ring goes */
	uint64_t dst_pps;	/* per-destination probe rate; 0 = no limit */
	uint32_t slots;		/* probes in flight at most (default 65536) */
	uint16_t icmp_id;	/* instance id (ICMP id); 0 = random */
	uint16_t udp_sport;	/* instance UDP source port; 0 = derived */
	int accept_spoofed;	/* 1: receive replies to probes VPs spoofed for us */
	int tx_backend;		/* enum txring_backend (0 auto) */
	int rx_mode;		/* enum rx_mode (0 auto) */
	unsigned int tx_frames; /* TX ring frames (0: txring default) */
	struct sched *sched;	/* loop to run on (NULL: the engine makes one) */
};

/* Counters (monotonic since probe_engine_new()). */
struct probe_stats {
	uint64_t submitted;    /* measurements accepted */
	uint64_t completed;    /* measurements finished (done called) */
	uint64_t active;       /* measurements running (gauge) */
	uint64_t probes;       /* probes written to the ring */
	uint64_t replies;      /* records read from the RX path */
	uint64_t matched;      /* records matched to a probe in flight */
	uint64_t spoofed;      /* records of spoofed probes delivered to a listener */
	uint64_t stale;	       /* records whose slot was free or reused (late, dup) */
	uint64_t unmatched;    /* records without usable identity / not ours */
	uint64_t timeouts;     /* probes that timed out */
	uint64_t slots_full;   /* pump stalls: every slot in flight */
	uint64_t ring_full;    /* pump stalls: TX ring full */
	uint64_t tx_errors;    /* failed kicks (other than queue full) */
	uint64_t rx_ringfull;  /* replies lost: XDP ring buffer full / RX ring drops */
	uint64_t rx_malformed; /* malformed IPv4/ICMP seen by the classifier */
	const char *rx_mode;   /* "xdp-native", "xdp-generic", "ring" */
	const char *tx_mode;   /* "ring" or "sendmmsg" */
};

/*
 * Open the engine on o->ifname: TX ring, XDP classifier (or RX ring), event
 * loop registration. Needs cap_net_raw (ring) and cap_net_admin + cap_bpf
 * (XDP). Returns NULL with errno set (ENODEV unknown interface, EPERM
 * missing capability, EADDRNOTAVAIL interface without IPv4 address) after one
 * rt_err line.
 */
struct probe_engine *probe_engine_new(const struct probe_engine_opts *o);
/*
 * Close: active measurements are dropped without callbacks, XDP detached,
 * ring closed; the loop is freed if the engine made it. NULL-safe.
 */
void probe_engine_free(struct probe_engine *e);
/* The loop the engine runs on (register control sockets here). */
struct sched *probe_engine_sched(struct probe_engine *e);
/* Our source address (network order) and instance ICMP id. */
uint32_t probe_engine_src(const struct probe_engine *e);
uint16_t probe_engine_icmp_id(const struct probe_engine *e);

/*
 * Submit a measurement. Returns its id (> 0), or -errno: -EINVAL bad
 * options, -ENETUNREACH/-EHOSTUNREACH no route / next hop did not resolve,
 * -ENOMEM. done is never called for a failed submit.
 */
int64_t probe_ping(struct probe_engine *e, const struct probe_ping_opts *o,
		   const struct probe_cbs *cbs);
int64_t probe_trace(struct probe_engine *e, const struct probe_trace_opts *o,
		    const struct probe_cbs *cbs);
/* Listen needs an engine opened with accept_spoofed. */
int64_t probe_listen(struct probe_engine *e, const struct probe_listen_opts *o,
		     const struct probe_cbs *cbs);
/*
 * Stop measurement id now; done is called (trace: stop_reason HALTED; ping and
 * listen: what was collected, error -ECANCELED). 0 or -ENOENT.
 */
int probe_cancel(struct probe_engine *e, uint64_t id);
/* Measurements not finished yet. */
unsigned int probe_engine_active(const struct probe_engine *e);

/*
 * One loop iteration (see sched_run_once()). Returns callbacks run or -errno.
 */
int probe_engine_run_once(struct probe_engine *e, int timeout_ms);
/*
 * Run the loop until no measurement is active (listen counts as active) or
 * probe_engine_stop()/sched_stop(). 0 or -errno.
 */
int probe_engine_run(struct probe_engine *e);
/* Make probe_engine_run() return (safe from callbacks; not from signal handlers). */
void probe_engine_stop(struct probe_engine *e);
/* Fill *st (also pulls the RX path counters). */
void probe_engine_stats(struct probe_engine *e, struct probe_stats *st);

#endif /* RTRACE_PROBE_H */
