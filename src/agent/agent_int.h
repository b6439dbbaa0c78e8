/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * agent_int.h - the agent's per-client and per-request state, shared by
 * agent.c (server, connections, HELLO, shutdown) and request.c (admission,
 * PING/TRACE on the probe engine, results). Private to src/agent.
 */
#ifndef RTRACE_AGENT_INT_H
#define RTRACE_AGENT_INT_H

#include <stdint.h>

#include "rtrace/agent.h"
#include "rtrace/ctl.h"
#include "rtrace/policy.h"

struct agent_client;
struct tls_conn;
struct tls_server;
struct sched;

/* A request running on the engine. */
struct agent_req {
	struct agent *ag;	 /* owner */
	struct agent_client *cl; /* NULL once the client is gone (result dropped) */
	struct agent_req *next;	 /* in cl->reqs */
	uint32_t req_id;	 /* the client's id */
	int64_t mid;		 /* engine measurement id */
	uint8_t type;		 /* CTL_PING or CTL_TRACE */
};

/* One authenticated connection. */
struct agent_client {
	struct tls_conn *conn;		  /* its connection */
	struct agent_client *next, *prev; /* in ag->clients */
	int hello;			  /* HELLO received and answered */
	struct policy_limits lim;	  /* this client's caps (fixed at connect) */
	struct policy_usage usage;	  /* its bucket and in-flight count */
	struct agent_req *reqs;		  /* running requests */
};

struct agent {
	struct probe_engine *eng;     /* probes for every client */
	struct sched *s;	      /* the engine's loop, which also runs the server */
	struct tls_server *srv;	      /* the control server */
	struct policy *pol;	      /* current policy (ours) */
	char name[CTL_NAME_MAX + 1];  /* our name in HELLO */
	int no_spoof;		      /* refuse spoofed probes */
	int stopping;		      /* agent_shutdown() started */
	struct policy_usage gusage;   /* all clients together */
	struct agent_client *clients; /* connected clients */
	struct agent_stats st;	      /* counters (conns, active kept current) */
};

/*
 * Send an ERROR (req_id 0: about the connection) to c; logs request refusals.
 * A client that does not read its output is closed.
 */
void agent_send_error(struct tls_conn *c, uint32_t req_id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Requests of an authenticated client (request.c); refusals are answered with an ERROR. */
void agent_handle_ping(struct agent *ag, struct agent_client *cl, const struct ctl_ping *p);
void agent_handle_trace(struct agent *ag, struct agent_client *cl, const struct ctl_trace *t);
void agent_handle_cancel(struct agent *ag, struct agent_client *cl, uint32_t req_id);

/*
 * Cancel every request of cl and detach them (their results are dropped when
 * the engine delivers them). With code != 0 each request's client gets an
 * ERROR of that code first. Returns the number cancelled.
 */
unsigned int agent_drop_requests(struct agent *ag, struct agent_client *cl, int code,
				 const char *msg);

#endif /* RTRACE_AGENT_INT_H */
