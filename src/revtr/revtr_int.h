/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * revtr_int.h - internals shared by the files of src/revtr: the u32 hash map,
 * the path store behind the atlas, the tree cache and the forward traces,
 * and the layout of struct revtr_kb.
 */
#ifndef RTRACE_REVTR_INT_H
#define RTRACE_REVTR_INT_H

#include <stdint.h>

#include "rtrace/revtr.h"

/* ---- u32 -> u32 hash map (open addressing, linear probing) -------------- */

struct u32map {
	uint32_t *keys;
	uint32_t *vals;
	uint8_t *used;
	uint32_t cap; /* power of two or 0 */
	uint32_t n;   /* live entries */
};

/* Look key up: 1 and *val set if present, else 0. */
int u32map_get(const struct u32map *m, uint32_t key, uint32_t *val);
/* Insert or replace. 0 or -ENOMEM. */
int u32map_put(struct u32map *m, uint32_t key, uint32_t val);
void u32map_free(struct u32map *m);

/* ---- path store: paths of hops indexed by address ------------------------ */

/* One stored hop. */
struct ps_hop {
	uint32_t addr;	 /* 0 = no reply */
	uint32_t rr;	 /* atlas: RR address of the same router, 0 none */
	uint8_t type;	 /* enum revtr_hop_type (tree cache) */
	uint32_t rtt_us; /* client RTT (tree cache), 0 unknown */
};

struct ps_path {
	uint32_t key; /* vp (atlas), target (forward traces), 0 (tree) */
	uint16_t n;   /* hops */
	uint8_t dead; /* replaced; its index entries are stale */
	struct ps_hop *hops;
};

/* Occurrence of an address: (path, position), chained per address. */
struct ps_occ {
	uint32_t path;
	uint16_t pos;
	uint8_t via_rr; /* matched the hop's RR address, not its trace address */
	uint32_t next;	/* next occurrence + 1, 0 = end */
};

struct pathstore {
	struct ps_path *paths;
	uint32_t npaths, cap;
	struct ps_occ *occ;
	uint32_t nocc, occcap;
	struct u32map addr;  /* address -> first occurrence + 1 */
	struct u32map bykey; /* key -> path index (latest) */
};

/* Append a path (hops copied); replaces the live path of the same nonzero key. */
int ps_add(struct pathstore *ps, uint32_t key, const struct ps_hop *hops, int n);
/*
 * Find a live occurrence of addr: the one with the fewest hops after it.
 * Returns 1 and sets *path, *pos and *via_rr, or 0.
 */
int ps_find(const struct pathstore *ps, uint32_t addr, uint32_t *path, int *pos, int *via_rr);
/* The live path stored under key, or NULL. */
const struct ps_path *ps_bykey(const struct pathstore *ps, uint32_t key);
/* First occurrence + 1 of addr (0 none); walk with ps->occ[i - 1].next. */
uint32_t ps_first(const struct pathstore *ps, uint32_t addr);
void ps_free(struct pathstore *ps);

/* ---- the knowledge base --------------------------------------------------- */

/* Alias store: union-find over addresses, with a circular member list. */
struct aliases {
	struct u32map idx; /* address -> node */
	uint32_t *addr;	   /* node -> address */
	uint32_t *parent;  /* node -> parent node */
	uint32_t *ring;	   /* node -> next member of its class */
	uint32_t n, cap;
};

#define RANK_MAX_VPS REVTR_MAX_AGENTS

/* What one /24 knows about the VPs. */
struct rank_entry {
	uint32_t prefix; /* network order, low byte zero */
	uint16_t n;
	struct {
		uint32_t vp;
		int8_t slot;   /* best slot seen for the prefix, -1 none */
		uint8_t fails; /* tests without a usable stamp */
	} v[RANK_MAX_VPS];
};

struct revtr_kb {
	uint32_t client;
	uint32_t gw; /* first-hop router, 0 unknown */
	struct aliases al;
	struct pathstore atlas;	     /* key: vp */
	struct pathstore tree;	     /* key: 0 */
	struct pathstore fwd;	     /* key: target; client's forward traces */
	struct u32map atlas_pending; /* vp -> 1 while its trace is requested */
	struct u32map unresp;	     /* address -> enum revtr_unresp_flag */
	struct u32map rank_idx;	     /* /24 -> rank entry */
	struct rank_entry *rank;
	uint32_t nrank, rankcap;
};

/* Alias-aware membership: is a the same router as b (or equal)? */
bool kb_same(const struct revtr_kb *kb, uint32_t a, uint32_t b);
/* Members of addr's alias class (addr itself first), at most max. */
int kb_aliases(const struct revtr_kb *kb, uint32_t addr, uint32_t *out, int max);
/* Is addr the client or its first-hop router? */
bool kb_is_client_side(const struct revtr_kb *kb, uint32_t addr);
/* Add a forward trace of the client (target key) and learn the gateway. */
int kb_fwd_add(struct revtr_kb *kb, uint32_t target, const struct revtr_trace_hop *h, int n);
/* Add a REACHES path to the tree cache. */
int kb_tree_add(struct revtr_kb *kb, const struct revtr_hop *hops, int n);
/* Mark / clear a pending atlas request of vp. */
int kb_atlas_pending(struct revtr_kb *kb, uint32_t vp, bool pending);

/* The other end(s) of a point-to-point link: /31 mate and /30 mate (or 0). */
void addr_mates(uint32_t a, uint32_t out[2]);

/* ---- one reverse traceroute ---------------------------------------------- */

#define REVTR_MAX_PEND 64
#define REVTR_MAX_CANDS 8
#define REVTR_MAX_RTT 128

/* Stages of the per-hop technique ladder. */
enum rt_stage {
	ST_START = 0, /* first call: destination hop, atlas, gateway */
	ST_CHECK,     /* reached? tree cache? atlas? agent at the hop? */
	ST_AGENT,     /* agent traceroute outstanding / evaluated */
	ST_RR,	      /* RR ping from the client */
	ST_SPOOF,     /* spoofed RR, batch by batch */
	ST_TS,	      /* TS prespec adjacency */
	ST_SYM,	      /* assume symmetry */
	ST_DONE,
};

/* Steps of the TS stage. */
enum rt_ts_step {
	TS_CANDS = 0, /* gather candidates (maybe a forward trace first) */
	TS_CHECK,     /* [H, bogus] direct outstanding */
	TS_TEST,      /* [H, R] direct outstanding */
	TS_SCHECK,    /* [H, bogus] spoofed outstanding */
	TS_STEST,     /* [H, R] spoofed outstanding */
};

/* A request handed out (or about to be). */
struct rt_pend {
	struct revtr_req req;
	uint8_t issued; /* given to the caller by revtr_next_requests */
	int16_t aux;	/* TS: candidate index, -1 = bogus check;
			 * spoof RR: rank position */
};

/* State of the current hop H; reset whenever H changes. */
struct rt_hop_state {
	uint32_t prev_out; /* outgoing address of the router before H
			    * (RR hops), for the /30-/31 mate intersection */
	bool agent_tried;
	bool fwd_tried; /* forward trace to H requested */
	/* RR */
	int rr_state; /* 0 not sent, 1 answered */
	int rr_nrev;
	bool rr_replied;
	int rr_n; /* raw slots of the client's RR reply */
	uint32_t rr_raw[REVTR_RR_SLOTS];
	uint32_t rr_rev[REVTR_RR_SLOTS];
	uint32_t rr_egress;
	/* spoofed RR */
	uint32_t tried[REVTR_MAX_AGENTS];
	int ntried;
	bool spoof_replied;
	int best_nrev, best_rank;
	uint32_t best_rev[REVTR_RR_SLOTS];
	uint32_t best_egress;
	/* TS */
	enum rt_ts_step ts;
	uint32_t cands[REVTR_MAX_CANDS];
	int ncands;
	int ts_check;	 /* stamps of the last [H, bogus] check */
	bool ts_replied; /* the last check got a reply */
	int ts_hit;	 /* lowest candidate index adjacent, -1 none */
	bool mates_tried; /* the /30-/31 mates of H were made candidates */
	uint32_t ts_vp;
	int ts_vp_rank; /* rank of ts_vp among the VPs that checked H */
};

struct revtr {
	struct revtr_cfg cfg;
	struct revtr_agent agents[REVTR_MAX_AGENTS];
	struct revtr_kb *kb;
	bool own_kb;
	struct revtr_report rep;
	uint64_t t0;
	uint32_t next_id;
	struct rt_pend pend[REVTR_MAX_PEND];
	int npend;
	enum rt_stage stage;
	uint32_t cur; /* current hop H */
	struct rt_hop_state hs;
	struct {
		uint32_t addr, rtt_us;
	} rtt[REVTR_MAX_RTT];
	int nrtt;
};

/* revtr.c: helpers the stages use */
bool rt_issue(struct revtr *rt, enum revtr_req_kind kind, uint32_t target, uint32_t vp,
	      const uint32_t *ts, int ts_n, int aux);
void rt_finish(struct revtr *rt, enum revtr_stop stop, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int rt_append_one(struct revtr *rt, uint32_t a, enum revtr_hop_type type, bool from_cache,
		  uint32_t rtt_us);
int rt_append_addrs(struct revtr *rt, const uint32_t *addrs, int n, enum revtr_hop_type type,
		    uint32_t first_prev_out);
void rt_set_cur(struct revtr *rt, uint32_t addr, uint32_t prev_out);
int rt_spoof_vps(const struct revtr *rt, uint32_t *out);
const char *rt_ntoa(uint32_t a, char buf[16]);

/* revtr_tech.c: run the stage ladder until requests are outstanding or done */
void rt_advance(struct revtr *rt);
/* revtr_tech.c helpers the result consumers share (see there). */
int rt_fwd_pos(const struct revtr *rt, uint32_t key, const struct ps_path **pp);
void rt_learn_rr_fwd(struct revtr *rt);
/* revtr_tech.c: consume one result of a stage */
void rt_consume(struct revtr *rt, const struct rt_pend *p, const struct revtr_result *res);

#endif /* RTRACE_REVTR_INT_H */
