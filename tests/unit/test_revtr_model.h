/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_revtr_model.h - a small network model that plays the backend of the revtr
 * core in unit tests (a test double for the pure core only; accuracy is
 * tested on the network-namespace test internet). Nodes joined by /30 links,
 * per-destination shortest-path routing with overrides (asymmetry), and the
 * Linux semantics the core relies on:
 *  - RR: every forwarding router writes its outgoing interface; the
 *    destination writes the probed address on receipt and its egress
 *    interface on the reply (ip_options_echo); slots stop at 9; the probe
 *    leaves the sender with an empty option (raw probes).
 *  - TS prespec: a node stamps when the next prespecified address is one of
 *    its own (the destination on receipt and again on the reply).
 *  - traceroute: time-exceeded from the incoming interface; echo reply from
 *    the destination.
 *  - flags: routers that drop packets with RR / TS options, silent routers,
 *    hosts that never answer, VPs whose provider filters spoofed sources,
 *    hosts that stamp every prespec entry.
 * Header-only, included by the revtr unit tests.
 */
#ifndef RTRACE_TEST_REVTR_MODEL_H
#define RTRACE_TEST_REVTR_MODEL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/revtr.h"

#define M_MAXN 48
#define M_MAXIF 8

enum m_flag {
	M_DROP_RR = 1 << 0,  /* drops packets carrying Record Route */
	M_DROP_TS = 1 << 1,  /* drops packets carrying Timestamp */
	M_SILENT = 1 << 2,   /* no time-exceeded */
	M_NO_ECHO = 1 << 3,  /* no echo replies */
	M_NO_SPOOF = 1 << 4, /* (VP) its spoofed probes are filtered */
	M_TS_ALL = 1 << 5,   /* stamps every prespec entry */
};

struct m_node {
	char name[16];
	unsigned flags;
	int nif;
	uint32_t ifa[M_MAXIF]; /* host order */
	int peer[M_MAXIF];     /* neighbour node through interface i */
};

struct model;
/* Scripted answer: return 1 if it filled res, 0 to let the model answer. */
typedef int (*m_override)(struct model *m, const struct revtr_req *q, struct revtr_result *res);

struct model {
	struct m_node n[M_MAXN];
	int nn;
	int nh[M_MAXN][M_MAXN];	 /* next-hop node from x toward node t */
	int ovr[M_MAXN][M_MAXN]; /* override + 1, 0 = none */
	uint32_t next_subnet;	 /* host order */
	int client;		 /* the client node */
	m_override hook;
	int no_atlas_rr; /* atlas answers carry no RR */
	struct revtr_trace_hop tbuf[64];
	int verbose;
};

static inline uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return htonl(a << 24 | b << 16 | c << 8 | d);
}

static inline void m_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->next_subnet = 0x0a010000; /* 10.1.0.0 */
	m->verbose = getenv("REVTR_TEST_VERBOSE") != NULL;
}

static inline int m_node(struct model *m, const char *name, unsigned flags)
{
	int i = m->nn++;

	snprintf(m->n[i].name, sizeof(m->n[i].name), "%s", name);
	m->n[i].flags = flags;
	return i;
}

static inline int m_find(const struct model *m, const char *name)
{
	int i;

	for (i = 0; i < m->nn; i++)
		if (!strcmp(m->n[i].name, name))
			return i;
	return -1;
}

/* Link a and b with the /30 subnet sn (host order, 0 = next automatic one). */
static inline void m_link(struct model *m, int a, int b, uint32_t sn)
{
	if (!sn) {
		sn = m->next_subnet;
		m->next_subnet += 4;
	}
	m->n[a].ifa[m->n[a].nif] = sn + 1;
	m->n[a].peer[m->n[a].nif++] = b;
	m->n[b].ifa[m->n[b].nif] = sn + 2;
	m->n[b].peer[m->n[b].nif++] = a;
}

/* Address (network order) of a's interface toward b. */
static inline uint32_t m_if(const struct model *m, int a, int b)
{
	int i;

	for (i = 0; i < m->n[a].nif; i++)
		if (m->n[a].peer[i] == b)
			return htonl(m->n[a].ifa[i]);
	return 0;
}

/* A node's first address (hosts have one), network order. */
static inline uint32_t m_addr(const struct model *m, int a)
{
	return htonl(m->n[a].ifa[0]);
}

static inline int m_owner(const struct model *m, uint32_t addr)
{
	uint32_t h = ntohl(addr);
	int i, j;

	for (i = 0; i < m->nn; i++)
		for (j = 0; j < m->n[i].nif; j++)
			if (m->n[i].ifa[j] == h)
				return i;
	return -1;
}

/* Route x toward node t via neighbour v (asymmetry). */
static inline void m_route(struct model *m, int x, int t, int v)
{
	m->ovr[x][t] = v + 1;
}

/* Shortest-path next hops (BFS from every node, lowest id first), then overrides. */
static inline void m_build(struct model *m)
{
	int t, q[M_MAXN], qh, qt, seen[M_MAXN], x, i;

	for (t = 0; t < m->nn; t++) {
		memset(seen, 0, sizeof(seen));
		for (x = 0; x < m->nn; x++)
			m->nh[x][t] = -1;
		qh = qt = 0;
		q[qt++] = t;
		seen[t] = 1;
		while (qh < qt) {
			int u = q[qh++];

			for (i = 0; i < m->n[u].nif; i++) {
				int v = m->n[u].peer[i];

				if (seen[v])
					continue;
				seen[v] = 1;
				m->nh[v][t] = u;
				/* hosts are not transit */
				if (m->n[v].nif > 1)
					q[qt++] = v;
			}
		}
		for (x = 0; x < m->nn; x++)
			if (m->ovr[x][t])
				m->nh[x][t] = m->ovr[x][t] - 1;
	}
}

struct m_pkt {
	uint32_t src, dst; /* network order */
	int rr;		   /* carries RR */
	int rr_n;
	uint32_t rrs[REVTR_RR_SLOTS];
	int ts; /* carries TS prespec */
	int ts_n, ts_count;
	uint32_t ts_addr[REVTR_TS_MAX];
	int ttl;
};

static inline int m_owns(const struct model *m, int x, uint32_t addr)
{
	return m_owner(m, addr) == x;
}

static inline void m_ts_stamp(const struct model *m, int x, struct m_pkt *p)
{
	if (p->ts && p->ts_count < p->ts_n &&
	    ((m->n[x].flags & M_TS_ALL) || m_owns(m, x, p->ts_addr[p->ts_count])))
		p->ts_count++;
}

/*
 * Carry p from node `from` toward the owner of p->dst. Returns the node it
 * reaches (>= 0), -1 if dropped, or -2 - x if the TTL expired at router x
 * (*in_if = its incoming interface address).
 */
static inline int m_walk(const struct model *m, int from, struct m_pkt *p, uint32_t *in_if)
{
	int t = m_owner(m, p->dst), x = from, steps = 0;

	if (t < 0)
		return -1;
	while (x != t) {
		int nx = m->nh[x][t];

		if (nx < 0 || ++steps > 64)
			return -1;
		if (x != from) {
			/* x forwards */
			if ((p->rr && (m->n[x].flags & M_DROP_RR)) ||
			    (p->ts && (m->n[x].flags & M_DROP_TS)))
				return -1;
			if (p->rr && p->rr_n < REVTR_RR_SLOTS)
				p->rrs[p->rr_n++] = m_if(m, x, nx);
			m_ts_stamp(m, x, p);
		}
		if (--p->ttl <= 0 && nx != t) {
			*in_if = m_if(m, nx, x);
			return -2 - nx;
		}
		x = nx;
	}
	if ((p->rr && (m->n[t].flags & M_DROP_RR)) || (p->ts && (m->n[t].flags & M_DROP_TS)))
		return -1;
	return t;
}

/*
 * Echo request from node s with source p->src (spoofed if not s's); fills the
 * reply's options as the node owning p->src receives them. 1 = reply arrived.
 */
static inline int m_ping(const struct model *m, int s, struct m_pkt *p, int *hops)
{
	uint32_t in_if, dst = p->dst;
	int d, back, fwd_steps = 0, x;

	p->ttl = 64;
	d = m_walk(m, s, p, &in_if);
	if (d < 0 || (m->n[d].flags & M_NO_ECHO))
		return 0;
	back = m_owner(m, p->src);
	if (back < 0 || m->nh[d][back] < 0)
		return 0;
	/* destination: probed address on receipt, egress on the reply */
	if (p->rr && p->rr_n < REVTR_RR_SLOTS)
		p->rrs[p->rr_n++] = dst;
	if (p->rr && p->rr_n < REVTR_RR_SLOTS)
		p->rrs[p->rr_n++] = m_if(m, d, m->nh[d][back]);
	m_ts_stamp(m, d, p);
	m_ts_stamp(m, d, p);
	for (x = s; x != d && fwd_steps < 64; x = m->nh[x][d])
		fwd_steps++;
	p->dst = p->src;
	p->src = dst;
	p->ttl = 64;
	if (m_walk(m, d, p, &in_if) != back)
		return 0;
	for (x = d; x != back && fwd_steps < 128; x = m->nh[x][back])
		fwd_steps++;
	*hops = fwd_steps;
	return 1;
}

/* Paris traceroute from node s to addr; hops into m->tbuf. */
static inline int m_trace(struct model *m, int s, uint32_t addr, int *reached)
{
	int ttl, n = 0;

	*reached = 0;
	for (ttl = 1; ttl <= 30; ttl++) {
		struct m_pkt p = {.src = m_addr(m, s), .dst = addr, .ttl = ttl};
		uint32_t in_if = 0;
		int r = m_walk(m, s, &p, &in_if);

		m->tbuf[n].rtt_us = 500u * ttl * 2;
		if (r <= -2) {
			m->tbuf[n++].addr = (m->n[-2 - r].flags & M_SILENT) ? 0 : in_if;
			continue;
		}
		if (r >= 0 && !(m->n[r].flags & M_NO_ECHO)) {
			m->tbuf[n++].addr = addr;
			*reached = 1;
			break;
		}
		m->tbuf[n++].addr = 0;
		if (n >= 5 && !m->tbuf[n - 2].addr && !m->tbuf[n - 3].addr &&
		    !m->tbuf[n - 4].addr && !m->tbuf[n - 5].addr)
			break; /* a tracer's gap limit */
	}
	return n;
}

static inline void m_print_req(const struct model *m, const struct revtr_req *q)
{
	char a[16], b[16];
	struct in_addr x = {q->target}, y = {q->vp};

	inet_ntop(AF_INET, &x, a, sizeof(a));
	inet_ntop(AF_INET, &y, b, sizeof(b));
	fprintf(stderr, "  req %u %s target %s (%s) vp %s", q->id, revtr_req_kind_name(q->kind), a,
		m_owner(m, q->target) >= 0 ? m->n[m_owner(m, q->target)].name : "?", b);
	if (q->ts_n == 2) {
		struct in_addr z = {q->ts_addr[1]};

		inet_ntop(AF_INET, &z, a, sizeof(a));
		fprintf(stderr, " ts [H, %s]", a);
	}
	fprintf(stderr, "\n");
}

/* Answer one request of the core the way the modelled network would. */
static inline void m_answer(struct model *m, const struct revtr_req *q, struct revtr_result *res)
{
	struct m_pkt p = {0};
	int s, hops = 0, reached, i;

	memset(res, 0, sizeof(*res));
	res->status = REVTR_RES_TIMEOUT;
	if (m->verbose)
		m_print_req(m, q);
	if (m->hook && m->hook(m, q, res))
		return;
	s = q->vp ? m_owner(m, q->vp) : m->client;
	if (s < 0) {
		res->status = REVTR_RES_ERROR;
		return;
	}
	switch (q->kind) {
	case REVTR_REQ_AGENT_TRACE:
	case REVTR_REQ_ATLAS_TRACE:
	case REVTR_REQ_FWD_TRACE:
		/* agents trace toward the client, the client toward the target */
		res->trace_n = (uint16_t)m_trace(
			m, s, q->kind == REVTR_REQ_FWD_TRACE ? q->target : q->src, &reached);
		res->trace = m->tbuf;
		res->trace_reached = reached;
		res->status = REVTR_RES_OK;
		if (q->kind == REVTR_REQ_ATLAS_TRACE && !m->no_atlas_rr) {
			/* the agent's RR echo to the client, as it comes back */
			p.src = m_addr(m, s);
			p.dst = q->target;
			p.rr = 1;
			if (m_ping(m, s, &p, &hops)) {
				res->rr_count = (uint8_t)p.rr_n;
				memcpy(res->rr, p.rrs, sizeof(p.rrs));
			}
		}
		return;
	case REVTR_REQ_RR_PING:
	case REVTR_REQ_SPOOF_RR_PING:
	case REVTR_REQ_TS_PRESPEC:
		if (q->vp && (m->n[s].flags & M_NO_SPOOF))
			return;
		p.src = q->src;
		p.dst = q->target;
		p.rr = q->kind != REVTR_REQ_TS_PRESPEC;
		p.ts = q->kind == REVTR_REQ_TS_PRESPEC;
		p.ts_n = q->ts_n;
		for (i = 0; i < q->ts_n; i++)
			p.ts_addr[i] = q->ts_addr[i];
		if (!m_ping(m, s, &p, &hops))
			return;
		res->status = REVTR_RES_OK;
		res->rtt_us = 1000u * (unsigned)hops;
		res->rr_count = p.rr ? (uint8_t)p.rr_n : 0;
		memcpy(res->rr, p.rrs, sizeof(p.rrs));
		res->ts_count = (uint8_t)p.ts_count;
		return;
	}
}

/* The router-level ground truth: node names from t back to the client. */
static inline void m_truth(const struct model *m, int t, char *buf, size_t len)
{
	size_t o = 0;
	int x;

	buf[0] = 0;
	for (x = t; x >= 0 && x != m->client && o + 17 < len; x = m->nh[x][m->client])
		o += snprintf(buf + o, len - o, "%s%s", o ? " " : "", m->n[x].name);
}

/* The report as node names ("?" unknown address, "*" no reply). */
static inline void m_names(const struct model *m, const struct revtr_report *r, char *buf,
			   size_t len)
{
	size_t o = 0, i;

	buf[0] = 0;
	for (i = 0; i < r->nhops && o + 17 < len; i++) {
		int x = r->hops[i].addr ? m_owner(m, r->hops[i].addr) : -2;

		o += snprintf(buf + o, len - o, "%s%s", i ? " " : "",
			      x >= 0	? m->n[x].name
			      : x == -2 ? "*"
					: "?");
	}
}

#endif /* RTRACE_TEST_REVTR_MODEL_H */
