/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * agent.h - what rtraced serves: authenticated clients of the control link
 * (tlslink.h) asking the probe engine (probe.h) for pings and Paris
 * traceroutes.
 *
 * The agent owns the TLS server and one state per connected client (its
 * limits, token bucket, running requests). A request passes admission (HELLO
 * done, fresh id, per-agent bounds, spoof authorisation, target blocklist,
 * per-client and global caps of policy.h), is mapped onto the probe engine,
 * and its result comes back to the client as one final RESULT holding the
 * scamper JSON line `rtrace-probe -j` prints, or as an ERROR with the reason.
 * A client that goes away has its requests cancelled at once (their probes
 * stop). Everything runs on the probe engine's event loop; the caller keeps
 * the loop running (sched_run) and owns signals and the process.
 */
#ifndef RTRACE_AGENT_H
#define RTRACE_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct policy;
struct probe_engine;
struct tls_ctx;

/* Per-request bounds that keep a result's JSON under CTL_RESULT_MAX and runs short. */
#define AGENT_PING_COUNT_MAX 100    /* probes per PING */
#define AGENT_PING_INTERVAL_MIN 10  /* ms between the probes of a PING, at least */
#define AGENT_PING_DURATION_MAX 120 /* s: count x interval, at most */
#define AGENT_TRACE_PROBES_MAX 150  /* TTLs x attempts per TRACE */

/* Agent configuration; zero fields take the defaults in brackets. */
struct agent_cfg {
	const char *name;	/* our name, sent in HELLO (the certificate's CN; required) */
	const char *listen;	/* "[ADDR:]PORT" to listen on (required; port 0 = any) */
	int no_spoof;		/* 1: refuse every spoofed probe, do not offer CTL_CAP_SPOOF */
	int handshake_ms;	/* TLS handshake deadline [tlslink default, 5000] */
	int frame_ms;		/* one message, first to last byte [tlslink default, 10000] */
	int idle_ms;		/* no message from the client [tlslink default, 300000] */
	unsigned int max_conns; /* clients at once [tlslink default, 256] */
};

/* Counters since agent_new(). */
struct agent_stats {
	uint64_t clients;   /* connections admitted (HELLO may still fail) */
	uint64_t refused;   /* connections refused by the policy or while stopping */
	uint64_t requests;  /* requests admitted and started on the engine */
	uint64_t rejected;  /* requests refused with an ERROR */
	uint64_t served;    /* requests finished (result sent, or dropped: client gone) */
	uint64_t cancelled; /* requests cancelled because their client went away or we stop */
	uint32_t conns;	    /* clients connected now */
	uint32_t active;    /* requests running now */
};

/*
 * Start serving on cfg->listen with the server context tls and the policy
 * pol, probing with eng; the server is registered on probe_engine_sched(eng).
 * eng and tls must outlive the agent; pol becomes the agent's on success
 * (freed by agent_set_policy() or agent_free()). Returns 0 with *out set, or
 * -errno with err holding the reason ("listen: 0.0.0.0:7777: bind: Address
 * already in use").
 */
int agent_new(struct agent **out, struct probe_engine *eng, struct tls_ctx *tls, struct policy *pol,
	      const struct agent_cfg *cfg, char *err, size_t errlen);

/* The TCP port listened on (host order). */
uint16_t agent_port(const struct agent *ag);

/*
 * Replace the policy (SIGHUP). Admission of new requests and the spoof checks
 * use it at once; limits of connected clients stay those they were given at
 * connect. Frees the old policy.
 */
void agent_set_policy(struct agent *ag, struct policy *pol);

/*
 * Stop serving: refuse new clients and requests, cancel every running request
 * (its client gets an ERROR "agent shutting down" for it), send every client
 * a connection ERROR "agent shutting down" and close after the flush. Runs the
 * event loop until every client is gone and the engine delivered every
 * cancelled request, at most timeout_ms. Returns 0, or -ETIMEDOUT if clients
 * or requests were still there (agent_free() drops them).
 */
int agent_shutdown(struct agent *ag, int timeout_ms);

/* Fill *st. */
void agent_stats(const struct agent *ag, struct agent_stats *st);

/*
 * Close every connection (their requests cancelled), stop listening, let the
 * engine deliver the cancelled requests (bounded), free ag and its policy.
 * NULL-safe. The engine and the TLS context stay the caller's.
 */
void agent_free(struct agent *ag);

#endif /* RTRACE_AGENT_H */
