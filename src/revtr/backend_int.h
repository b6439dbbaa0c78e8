/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * backend_int.h - what the files of the reverse-traceroute backend share
 * (backend.c: jobs, requests, local probes; agents.c: the agent pool over
 * the control link; agents_json.c: agents' scamper-JSON results). Not a
 * public header.
 */
#ifndef RTRACE_BACKEND_INT_H
#define RTRACE_BACKEND_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "rtrace/ctl.h"
#include "rtrace/probe.h"
#include "rtrace/revtr.h"
#include "rtrace/revtr_backend.h"
#include "rtrace/sched.h"

struct tls_ctx;
struct tls_client;
struct rtb_agent;

/* A submitted reverse trace. */
struct rtb_job {
	struct rtb_job *next, *prev;	/* b->jobs */
	struct rtb *b;
	struct revtr *rt;
	rtb_done_cb done;		/* called once, from the loop */
	void *ctx;
	bool in_pump;			/* rtb_pump is on the stack */
	bool finished;			/* revtr_done seen, done queued */
	struct sched_timer kick;	/* first pump, from the loop */
	struct sched_timer done_timer;	/* runs done from the loop */
};

/* One request of a job being run. */
struct rtb_req {
	struct rtb_req *next, *prev;	/* b->reqs (live requests) */
	struct rtb_req *hnext;		/* hash chain by id */
	struct rtb_req *qnext;		/* agent's wait queue */
	struct rtb *b;
	struct rtb_job *job;		/* NULL: orphaned (job gone), awaiting cleanup */
	struct revtr_req rq;		/* what the core asked for */
	uint32_t id;			/* backend id (even): ctl req_id, cookie req;
					 * id + 1 is the atlas RR echo's ctl req_id */
	int64_t meas;			/* local measurement id, 0 none */
	struct rtb_agent *ag;		/* agent running it, NULL local */
	uint8_t parts;			/* agent parts not final yet */
	bool queued;			/* waiting for an agent slot */
	bool sent;			/* spoofed: the agent reported its probes sent */
	bool answered;			/* result delivered to the core */
	struct sched_timer timer;	/* deadline */
	uint64_t t0;			/* started, CLOCK_MONOTONIC ns */
	struct revtr_result res;	/* the result being assembled */
	struct revtr_trace_hop hops[REVTR_MAX_HOPS];
};

#define RTB_HASH 1024

struct rtb {
	struct rtb_opts o;
	struct probe_engine *e;
	struct sched *s;
	uint32_t client;
	int64_t listen_id;		/* spoofed-reply listener, 0 none */
	struct rtb_job *jobs;
	unsigned int njobs;
	struct rtb_req *reqs;		/* live requests */
	struct rtb_req *orphans;	/* answered or dropped, measurement in flight */
	struct rtb_req *hash[RTB_HASH];
	uint32_t next_id;
	struct tls_ctx *tls;
	struct rtb_agent *agents;	/* array of nagents */
	size_t nagents;
	struct rtb_stats st;
};

/* ---- backend.c ------------------------------------------------------------- */

/* The live request with backend id (id or id + 1 of it), or NULL. */
struct rtb_req *rtb_req_find(struct rtb *b, uint32_t id);
/*
 * Deliver req's result (status given, the rest already in req->res) to its
 * job, once, then free req unless a local measurement still holds it.
 */
void rtb_req_answer(struct rtb_req *req, enum revtr_res_status status);
/* The engine is done with req's measurement: true if req was freed (its job was gone). */
bool rtb_req_meas_done(struct rtb_req *req);
/* backend_local.c: start req's measurement on the probe engine. 0 or -errno. */
int rtb_local_start(struct rtb_req *req);
/* backend_local.c: the listener for replies to agent-spoofed probes. */
void rtb_listen_start(struct rtb *b);

/* ---- agents.c ---------------------------------------------------------------- */

/* Connect and greet every agent of o; failures leave agents down. 0/-errno. */
int rtb_agents_open(struct rtb *b, char *err, size_t errlen);
void rtb_agents_close(struct rtb *b);
/* The agent whose probing address is addr (up or not), NULL if none. */
struct rtb_agent *rtb_agent_by_addr(struct rtb *b, uint32_t addr);
/*
 * Send req to its agent (req->ag), or queue it while the agent is at its
 * in-flight limit. On failure the caller answers ERROR. 0 or -errno.
 */
int rtb_agent_start(struct rtb_req *req);
/* The request ends (answered or orphaned): tell the agent, free its slot. */
void rtb_agent_release(struct rtb_req *req);
bool rtb_agent_up(const struct rtb_agent *ag);
void rtb_agent_count_fail(struct rtb_agent *ag);

/* ---- agents_json.c ----------------------------------------------------------- */

/*
 * Read one ping record (scamper JSON as rtrace-probe -j prints it) into res:
 * probes = ping_sent, and of the first echo reply: rtt_us, RR slots, stamped
 * prespec entries. Returns 1 if a reply was found, 0 if none, -EBADMSG.
 */
int rtb_json_ping(const char *text, size_t len, struct revtr_result *res);
/*
 * Read one trace record into hops[] (one per TTL from 1, first reply of each
 * TTL, 0 for silence) and res (trace_n, trace_reached, probes). Returns 0 or
 * -EBADMSG.
 */
int rtb_json_trace(const char *text, size_t len, struct revtr_trace_hop *hops,
		   struct revtr_result *res);
/* The same from a local trace result. */
void rtb_trace_hops(const struct probe_trace_result *t, struct revtr_trace_hop *hops,
		    struct revtr_result *res);

#endif /* RTRACE_BACKEND_INT_H */
