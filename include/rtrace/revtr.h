/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * revtr.h - the reverse-traceroute technique engine (pure core, no I/O).
 *
 * One struct revtr measures the reverse path DEST -> client hop by hop with
 * the techniques of Reverse Traceroute (NSDI 2010) and revtr 2.0 (IMC 2022),
 * plus an agent at the destination. It sends nothing itself: the caller asks
 * it for measurement requests (revtr_next_requests), runs them with whatever
 * backend it has (the probe engine and the agents, or a test double) and
 * feeds each result back (revtr_on_result), until revtr_done(). Requests may
 * be answered in any order and at any time; the core never blocks and never
 * touches a socket, so the same code runs under the event loop and in unit
 * tests.
 *
 * Knowledge that outlives one reverse trace lives in a struct revtr_kb that
 * many traces toward the same client share (rtrace-batch): the traceroute
 * atlas toward the client, the reverse-path tree cache, the vantage-point
 * ranking per /24, the cache of addresses that never answer options probes,
 * the alias store and the forward traceroutes of the client. A kb is not
 * thread-safe; one event loop owns it.
 *
 * Conventions: IPv4 addresses are uint32_t in network byte order (0 means
 * "no address": a hop that did not answer); other numbers are host order;
 * RTTs are microseconds; functions return 0 or -errno.
 */
#ifndef RTRACE_REVTR_H
#define RTRACE_REVTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Record Route slots of an IPv4 header (same as RTRACE_RR_SLOTS). */
#define REVTR_RR_SLOTS 9
/* Prespecified addresses a Timestamp option can carry. */
#define REVTR_TS_MAX 4
/* Longest reverse path and longest traceroute the core keeps. */
#define REVTR_MAX_HOPS 64
/* Most agents a configuration may list. */
#define REVTR_MAX_AGENTS 64
/* Size of revtr_report.fail_reason. */
#define REVTR_REASON_LEN 128

/* ---- hop types (revtr 2.0 names plus AGENT_TR_REV_SEGMENT) --------------- */

enum revtr_hop_type {
	REVTR_HOP_NONE = 0,
	REVTR_HOP_DST_REV_SEGMENT = 1,		     /* the destination itself (hop 1) */
	REVTR_HOP_DST_SYM_REV_SEGMENT = 2,	     /* ASSUMED symmetric: penultimate
						      * hop of a forward traceroute */
	REVTR_HOP_TR_TO_SRC_REV_SEGMENT = 3,	     /* suffix of a traceroute toward
						      * the client, exact address match */
	REVTR_HOP_TR_TO_SRC_REV_SEGMENT_BETWEEN = 4, /* same, matched through an
						      * alias / RR address / subnet */
	REVTR_HOP_RR_REV_SEGMENT = 5,		     /* RR ping from the client */
	REVTR_HOP_SPOOF_RR_REV_SEGMENT = 6,	     /* RR ping spoofed by a VP */
	REVTR_HOP_TS_ADJ_REV_SEGMENT = 7,	     /* TS prespec adjacency, direct */
	REVTR_HOP_SPOOF_TS_ADJ_REV_SEGMENT = 8,	     /* TS prespec adjacency, spoofed */
	REVTR_HOP_AGENT_TR_REV_SEGMENT = 11,	     /* traceroute by an agent at the hop */
};

/* The revtr 2.0 name of a hop type ("RR_REV_SEGMENT"), "UNKNOWN" otherwise. */
const char *revtr_hop_type_name(enum revtr_hop_type t);

/* ---- requests (core -> backend) ------------------------------------------ */

enum revtr_req_kind {
	/*
	 * The agent running at .target (an rtraced) runs a Paris traceroute
	 * toward the client. Result: .trace (hop 1 first, the client last if
	 * reached).
	 */
	REVTR_REQ_AGENT_TRACE = 1,
	/*
	 * The client sends an ICMP echo with Record Route to .target, the
	 * option empty when it leaves (raw probe: the sender does not stamp).
	 * Result: .rr as found in the echo reply (every filled slot), .rtt_us.
	 */
	REVTR_REQ_RR_PING = 2,
	/*
	 * Agent .vp sends an ICMP echo with Record Route to .target with the
	 * CLIENT's address as source; the client receives the reply. Result:
	 * .rr of that reply as the client saw it.
	 */
	REVTR_REQ_SPOOF_RR_PING = 3,
	/*
	 * ICMP echo to .target with Timestamp prespec .ts_addr[0..ts_n): from
	 * the client if .vp == 0, else spoofed by agent .vp with the client's
	 * address. Result: .ts_count (stamped prespec entries, in order).
	 */
	REVTR_REQ_TS_PRESPEC = 4,
	/*
	 * Agent .vp runs a Paris traceroute toward the client (.target). The
	 * result goes into the shared atlas, so it is requested once per kb.
	 * Result: .trace; optionally .rr of an RR echo the agent sent to the
	 * client (its forward slots give the routers' addresses toward the
	 * client and make atlas intersections with RR hops exact).
	 */
	REVTR_REQ_ATLAS_TRACE = 5,
	/*
	 * The client runs a Paris traceroute to .target (the symmetry guess,
	 * candidate adjacencies for TS, the forward hop count, the client's
	 * first-hop router). Result: .trace.
	 */
	REVTR_REQ_FWD_TRACE = 6,
};

/* One measurement the core wants; filled by revtr_next_requests(). */
struct revtr_req {
	uint32_t id;			/* request id, unique within this revtr;
					 * give it back to revtr_on_result() */
	enum revtr_req_kind kind;	/* what to run, see enum revtr_req_kind */
	uint32_t target;		/* probed address (network order); the
					 * client for ATLAS_TRACE */
	uint32_t vp;			/* agent that runs it (network order); 0 =
					 * the client itself */
	uint32_t src;			/* source address the probe must carry:
					 * the client's address, also when spoofed */
	uint8_t ts_n;			/* TS_PRESPEC: number of prespec addresses */
	uint32_t ts_addr[REVTR_TS_MAX]; /* TS_PRESPEC: prespec addresses, in order */
};

/* Name of a request kind ("RR_PING"). */
const char *revtr_req_kind_name(enum revtr_req_kind k);

/* ---- results (backend -> core) ------------------------------------------- */

enum revtr_res_status {
	REVTR_RES_OK = 0,      /* a reply / a trace came back */
	REVTR_RES_TIMEOUT = 1, /* no reply within the backend's timeout */
	REVTR_RES_ERROR = 2,   /* could not run (agent down, refused, no route) */
};

/* One traceroute hop. */
struct revtr_trace_hop {
	uint32_t addr;	 /* responding address (network order), 0 = no reply */
	uint32_t rtt_us; /* RTT from the tracer, us; 0 if unknown */
};

/*
 * The answer to one request. Only the fields of the request's kind are read;
 * zero the rest. Pointers need to stay valid only during revtr_on_result().
 */
struct revtr_result {
	enum revtr_res_status status;	     /* OK, TIMEOUT or ERROR */
	uint32_t rtt_us;		     /* pings: RTT of the reply, us; 0 unknown */
	uint32_t probes;		     /* probes the backend really sent for this
					      * request; 0 = let the core count
					      * (1 per ping, 1 per trace hop) */
	uint8_t rr_count;		     /* RR: filled slots (0..9) */
	uint32_t rr[REVTR_RR_SLOTS];	     /* RR: slots in order, as received */
	uint8_t ts_count;		     /* TS_PRESPEC: how many prespec entries were
					      * stamped (they are stamped in order) */
	uint16_t trace_n;		     /* traces: number of hops in .trace */
	const struct revtr_trace_hop *trace; /* traces: hop i is TTL i+1 */
	bool trace_reached;		     /* traces: the last hop is the target */
};

/* ---- shared knowledge ------------------------------------------------------ */

struct revtr_kb;

/*
 * A knowledge base for reverse traces toward client (network order). NULL
 * with errno set on failure.
 */
struct revtr_kb *revtr_kb_new(uint32_t client);
/* Free a kb (NULL-safe). No revtr may still use it. */
void revtr_kb_free(struct revtr_kb *kb);

/*
 * Alias store: addresses of one router. revtr_alias_add() merges the classes
 * of a and b (0 or -ENOMEM; a == b and zero addresses are ignored);
 * revtr_alias_same() is true if a == b or both are known aliases.
 */
int revtr_alias_add(struct revtr_kb *kb, uint32_t a, uint32_t b);
bool revtr_alias_same(const struct revtr_kb *kb, uint32_t a, uint32_t b);

/*
 * Learn aliases from a Record Route list and a traceroute along the same path
 * (same source, same target): RR slot i (outgoing interface of router i+1)
 * and trace hop i (TTL i+1, incoming interface of router i+1) are one
 * router. Slots from the target's own stamp on are ignored. Returns the
 * number of pairs learnt or -ENOMEM.
 */
int revtr_alias_learn_rr_trace(struct revtr_kb *kb, uint32_t target, const uint32_t *rr, int rr_n,
			       const struct revtr_trace_hop *trace, int trace_n);

/* Set the client's first-hop router address (LAN side). 0 or -ENOMEM. */
int revtr_kb_set_gateway(struct revtr_kb *kb, uint32_t gw);

/*
 * Atlas: add a traceroute from agent vp toward the client (rr optional, the
 * slots of an RR echo from vp to the client, NULL/0 if none). Replaces an
 * earlier trace of vp. Lookups by any hop address are O(1). 0 or -errno.
 */
int revtr_atlas_add(struct revtr_kb *kb, uint32_t vp, const struct revtr_trace_hop *hops, int n,
		    const uint32_t *rr, int rr_n);
/* true if the atlas holds a trace (or a pending request) from vp. */
bool revtr_atlas_has(const struct revtr_kb *kb, uint32_t vp);
/*
 * Find addr on the atlas. Returns the number of hops after it toward the
 * client (>= 0) and its trace's vp in *vp, or -ENOENT.
 */
int revtr_atlas_find(const struct revtr_kb *kb, uint32_t addr, uint32_t *vp);

/* Address flags of the unresponsive cache. */
enum revtr_unresp_flag {
	REVTR_UNRESP_RR = 1 << 0,     /* no RR reply, direct nor spoofed */
	REVTR_UNRESP_TS = 1 << 1,     /* does not stamp TS prespec */
	REVTR_UNRESP_TS_ALL = 1 << 2, /* stamps every prespec entry (useless) */
};
/* Flags known for addr (0 if none). */
unsigned revtr_unresp_get(const struct revtr_kb *kb, uint32_t addr);
/* Add flags to addr. 0 or -ENOMEM. */
int revtr_unresp_set(struct revtr_kb *kb, uint32_t addr, unsigned flags);

/*
 * VP ranking per /24 of a destination. revtr_rank_update() records what an RR
 * ping from vp to addr showed: slot = index of addr's stamp (0-based), or -1
 * if addr's stamp was missing / no reply. revtr_rank_order() writes the vps
 * of cand[0..n) to out[] best first: VPs that saw the stamp early enough
 * (slot + 2 < 9: double stamp and one reverse hop fit) by slot, then
 * untested ones in the given order, then those whose stamp came too late to
 * leave room for reverse hops, then those that failed. Returns n.
 */
int revtr_rank_update(struct revtr_kb *kb, uint32_t addr, uint32_t vp, int slot);
int revtr_rank_order(const struct revtr_kb *kb, uint32_t addr, const uint32_t *cand, int n,
		     uint32_t *out);

/*
 * Reverse-path tree cache: the measured path from some hop to the client.
 * revtr_tree_find() returns the number of cached hops after addr (>= 0) or
 * -ENOENT. Paths are added by revtr when a trace REACHES the client.
 */
int revtr_tree_find(const struct revtr_kb *kb, uint32_t addr);

/* ---- RR interpretation (exposed for tests and tools) --------------------- */

/* Where the reverse hops of one RR reply are. */
struct revtr_rr_split {
	int stamp;	 /* slot of the target's stamp, -1 if not found */
	int rev;	 /* first slot of the reverse hops */
	int nrev;	 /* number of reverse hops (0 if none or stamp not found) */
	uint32_t egress; /* the target's second (reply) stamp if it differs from
			  * the target's address, else 0 */
};

/*
 * Split the RR slots of a reply from target: the target's stamp is the first
 * slot holding the target or a known alias of it, or, if none and fwd_hops >=
 * 0 (routers before the target on the forward path), slot fwd_hops. A
 * destination that stamps twice (Linux: its address on receipt, its egress
 * interface on the reply; double_stamp true) fills the next slot too; the
 * reverse hops are the slots after that. kb may be NULL. Returns 0, or
 * -ENOENT if the target's stamp was not found (v->nrev = 0).
 */
int revtr_rr_split(const struct revtr_kb *kb, uint32_t target, const uint32_t *rr, int n,
		   int fwd_hops, bool double_stamp, struct revtr_rr_split *v);

/* ---- one reverse traceroute ---------------------------------------------- */

/* Bits of revtr_agent.flags. */
enum revtr_agent_flag {
	REVTR_AGENT_SPOOF = 1 << 0, /* may send probes with the client's source */
	REVTR_AGENT_TRACE = 1 << 1, /* runs traceroutes toward the client (atlas) */
};

/* An rtraced the client may use. */
struct revtr_agent {
	uint32_t addr;	/* its address (network order) */
	uint32_t flags; /* enum revtr_agent_flag; an agent at the
			 * current hop always runs AGENT_TRACE */
};

/* Bits of revtr_cfg.flags. */
enum revtr_cfg_flag {
	REVTR_NO_SPOOF = 1 << 0,	/* no spoofed RR / TS */
	REVTR_NO_TS = 1 << 1,		/* no TS prespec adjacency tests */
	REVTR_NO_ATLAS = 1 << 2,	/* no atlas traceroutes, no intersection */
	REVTR_NO_SYM = 1 << 3,		/* never assume symmetry */
	REVTR_NO_AGENT = 1 << 4,	/* do not ask agents at hops to trace */
	REVTR_NO_CACHE = 1 << 5,	/* do not use the reverse-path tree cache */
	REVTR_RR_SINGLE_STAMP = 1 << 6, /* destinations stamp RR once (not Linux) */
};

struct revtr_cfg {
	uint32_t client;		  /* the source S the path goes back to */
	uint32_t dst;			  /* the destination D the path starts at */
	uint32_t client_gw;		  /* S's first-hop router (LAN side), 0 =
					   * learn it from a forward traceroute */
	const struct revtr_agent *agents; /* agents (copied), may be NULL */
	size_t nagents;			  /* number of agents (<= REVTR_MAX_AGENTS) */
	unsigned flags;			  /* enum revtr_cfg_flag */
	unsigned max_hops;		  /* reverse hops before giving up (30) */
	unsigned max_probes;		  /* probe budget, 0 = unlimited; checked
					   * before each request; a traceroute is
					   * charged its hops when it returns (may
					   * overshoot by one trace); atlas traces
					   * are shared and not charged */
	unsigned spoof_batch;		  /* VPs per spoofed-RR round (3) */
	unsigned max_spoofers;		  /* VPs tried per hop (12) */
	unsigned max_ts_cands;		  /* candidate adjacencies tested per hop (4) */
	uint32_t ts_bogus;		  /* address no router owns, for the stamp-
					   * everything check (192.0.2.1) */
	struct revtr_kb *kb;		  /* shared knowledge for cfg.client; NULL =
					   * a private kb freed with the revtr */
	uint64_t (*clock_ns)(void *arg);  /* monotonic clock, NULL = CLOCK_MONOTONIC */
	void *clock_arg;		  /* passed to clock_ns */
};

/* Fill cfg with the defaults (zero addresses, no agents). */
void revtr_cfg_init(struct revtr_cfg *cfg);

enum revtr_stop {
	REVTR_RUNNING = 0, /* not finished */
	REVTR_REACHES = 1, /* the path reaches the client (or its first hop) */
	REVTR_FAILED = 2,  /* stopped with a partial path; see fail_reason */
};

/* Probes per technique. */
struct revtr_probes {
	uint32_t agent;	   /* agent traceroutes (hops) */
	uint32_t rr;	   /* RR pings from the client */
	uint32_t spoof_rr; /* spoofed RR pings */
	uint32_t ts;	   /* TS prespec pings from the client */
	uint32_t spoof_ts; /* spoofed TS prespec pings */
	uint32_t trace;	   /* forward traceroutes of the client (hops) */
	uint32_t atlas;	   /* atlas traceroutes this revtr caused (hops) */
	uint32_t total;	   /* sum of the above */
};

/* One hop of the reverse path. */
struct revtr_hop {
	uint32_t addr;		  /* network order; 0 = did not respond
				   * (inside a traceroute segment) */
	enum revtr_hop_type type; /* the technique that found it */
	uint32_t rtt_us;	  /* the client's RTT to addr, 0 unknown */
	bool from_cache;	  /* taken from the reverse-path tree cache */
};

/* The outcome of a reverse traceroute (valid while the revtr lives). */
struct revtr_report {
	uint32_t src;			    /* the client (where the path ends) */
	uint32_t dst;			    /* the destination (hop 1) */
	enum revtr_stop stop;		    /* REVTR_REACHES / REVTR_FAILED */
	char fail_reason[REVTR_REASON_LEN]; /* why it FAILED, "" otherwise */
	size_t nhops;			    /* hops[0] is the destination */
	struct revtr_hop hops[REVTR_MAX_HOPS];
	struct revtr_probes probes; /* probes per technique */
	uint64_t runtime_ns;	    /* revtr_new() to the end (so far) */
};

struct revtr;

/*
 * Start a reverse traceroute from cfg->dst back to cfg->client. cfg->kb, if
 * set, must have been made for cfg->client and must outlive the revtr.
 * Returns NULL with errno set (EINVAL, ENOMEM).
 */
struct revtr *revtr_new(const struct revtr_cfg *cfg);
/* Free it (NULL-safe); results still outstanding are simply forgotten. */
void revtr_free(struct revtr *rt);

/*
 * Copy up to max new requests into out[] and return how many. Returns 0 when
 * the core waits for results or is done. Each request is handed out once.
 */
int revtr_next_requests(struct revtr *rt, struct revtr_req *out, int max);

/*
 * Feed the result of request req_id. Results may come in any order. Returns
 * 0; -ENOENT if req_id is not outstanding (unknown, answered already, or the
 * revtr finished meanwhile: ignore it); -EINVAL if res is malformed.
 */
int revtr_on_result(struct revtr *rt, uint32_t req_id, const struct revtr_result *res);

/* true when the trace has finished (REACHES or FAILED). */
bool revtr_done(const struct revtr *rt);
/* Requests handed out and not yet answered. */
int revtr_outstanding(const struct revtr *rt);
/* The report, also while running (partial path, stop REVTR_RUNNING). */
const struct revtr_report *revtr_report(const struct revtr *rt);
/*
 * One line on what the trace is doing now, for a person watching: the hop
 * being looked for, the last hop found, and the requests it waits for, e.g.
 * "hop 4 after 10.0.0.58: SPOOF_RR_PING x3 (via 3 agents)"; "done" once
 * finished. snprintf semantics, no newline.
 */
size_t revtr_status(const struct revtr *rt, char *buf, size_t size);

/* ---- output (revtr_output.c) --------------------------------------------- */

/*
 * Format a report like traceroute (header line, one line per hop with
 * number, address, technique, RTT; assumed-symmetric hops visibly marked;
 * a summary line). snprintf semantics: writes at most size bytes including
 * the NUL and returns the length the full text needs.
 */
size_t revtr_format_text(const struct revtr_report *r, char *buf, size_t size);

/*
 * Format a report as one JSON object on one line, no newline: {"type":
 * "revtr", "src", "dst", "stop_reason" ("REACHES"/"FAILED"), "fail_reason",
 * "revtr_hops": [{"hop_number", "hop_ip" ("*" if none), "hop_type", "rtt"
 * (ms, only when known), "from_cache" (only when true)}], "runtime" (ns, as
 * revtr 2.0), "probes": {per technique, "total"}}. snprintf semantics.
 */
size_t revtr_format_json(const struct revtr_report *r, char *buf, size_t size);

#endif /* RTRACE_REVTR_H */
