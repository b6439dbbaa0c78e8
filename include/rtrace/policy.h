/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * policy.h - what an agent lets each authenticated client do.
 *
 * Clients are known by the CN of their certificate (verified against the
 * private CA by tlslink). The policy file is line-based; '#' starts a comment:
 *   global rate PPS                   probes/s over all clients together
 *   global inflight N                 requests running at once, all clients
 *   default rate PPS inflight N       limits of clients without a client line
 *   client NAME rate PPS inflight N   limits of client NAME
 *   client NAME spoof PREFIX...       sources NAME may spoof (A.B.C.D[/LEN])
 *   client NAME deny                  NAME may not use this agent at all
 *   blocklist PREFIX...               targets no client may probe
 * A client may always spoof the address it connects from (its own); anything
 * else only if a "spoof" line of its name covers it. Decisions are pure
 * functions of the policy and their arguments, and come with a reason string
 * a person can act on. Addresses are in network byte order.
 */
#ifndef RTRACE_POLICY_H
#define RTRACE_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* Limits without a policy file or a matching line. */
#define POLICY_DEFAULT_RATE 1000   /* probes/s per client */
#define POLICY_DEFAULT_INFLIGHT 16 /* requests per client */
#define POLICY_DEFAULT_GLOBAL_RATE 20000
#define POLICY_DEFAULT_GLOBAL_INFLIGHT 256

/* Limits of one client (or of all clients together). */
struct policy_limits {
	uint32_t rate_pps; /* probes per second */
	uint32_t inflight; /* requests at once */
};

/* Token bucket and request count of one client or of the agent; caller-owned. */
struct policy_usage {
	uint32_t inflight; /* requests running */
	double tokens;	   /* probes that may start now */
	uint64_t last_ns;  /* time tokens was last refilled, 0 = never */
};

struct policy;

/* An empty policy (all defaults), or NULL with errno = ENOMEM. */
struct policy *policy_new(void);

/* Free p (NULL-safe). */
void policy_free(struct policy *p);

/*
 * Parse the text of a policy file (len bytes, need not be NUL-terminated) into
 * p, adding to what p holds. Returns 0, or -EINVAL with err holding
 * "line N: reason" (p is then partly filled: discard it).
 */
int policy_parse(struct policy *p, const char *text, size_t len, char *err, size_t errlen);

/*
 * Read and parse the policy file at path into a new policy. Returns 0 with
 * *out set, or -errno with err holding "PATH: reason" or "PATH: line N: ...".
 */
int policy_load(struct policy **out, const char *path, char *err, size_t errlen);

/*
 * May client NAME, connected from peer (network order), use the agent at all?
 * Returns 0, or -EPERM with the reason in why.
 */
int policy_may_connect(const struct policy *p, const char *name, uint32_t peer, char *why,
		       size_t whylen);

/*
 * May client NAME, connected from peer, send probes with source src? src 0
 * (the agent's own address) is always allowed; src == peer is allowed; other
 * sources only when a "client NAME spoof" prefix covers them. Returns 0 or
 * -EPERM with the reason ("client c1 (from 10.0.0.5) may not spoof
 * 10.9.0.1: ...") in why.
 */
int policy_may_spoof(const struct policy *p, const char *name, uint32_t peer, uint32_t src,
		     char *why, size_t whylen);

/* May target be probed? 0, or -EPERM with the blocklist entry in why. */
int policy_target_allowed(const struct policy *p, uint32_t target, char *why, size_t whylen);

/* The limits of client NAME (its line, else the default line, else the built-in default). */
void policy_client_limits(const struct policy *p, const char *name, struct policy_limits *lim);

/* The limits over all clients together. */
void policy_global_limits(const struct policy *p, struct policy_limits *lim);

/*
 * Admit a request costing `probes` probes against the limits lim and the
 * usage u at time now_ns (CLOCK_MONOTONIC): the request must fit under the
 * in-flight cap, and the bucket (refilled at lim->rate_pps, holding at most
 * one second of probes, or the request's cost if larger) must hold its cost.
 * On success takes the tokens, counts the request in flight and returns 0;
 * otherwise changes nothing and returns -EBUSY (in-flight cap) or -EAGAIN
 * (rate), with the reason in why. The caller calls policy_release() when the
 * request ends.
 */
int policy_admit(const struct policy_limits *lim, struct policy_usage *u, uint32_t probes,
		 uint64_t now_ns, char *why, size_t whylen);

/* A request admitted by policy_admit() on u has ended. */
void policy_release(struct policy_usage *u);

/*
 * Parse "A.B.C.D" or "A.B.C.D/LEN" into prefix (network order, host bits
 * cleared) and len. Returns 0 or -EINVAL (bad syntax or host bits set).
 */
int policy_parse_prefix(const char *s, uint32_t *prefix, int *len);

#endif /* RTRACE_POLICY_H */
