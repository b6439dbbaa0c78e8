/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * remote.h - ping and trace measurements run by an agent (rtraced) over the
 * TLS control link: the client side of `rtrace-probe -a`. Requests go out
 * through a window (at most the agent's in-flight grant), each result is
 * printed as it arrives: the agent's scamper JSON as it is, or text made from
 * it (output_parse_json()); refusals are reported per target.
 */
#ifndef RTRACE_REMOTE_H
#define RTRACE_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rtrace/output.h"
#include "rtrace/probe.h"

/* What to run where. */
struct remote_job {
	const char *agent;		      /* ADDR[:PORT] of the agent */
	const char *certdir;		      /* our CA and certificate */
	const char *name;		      /* our certificate name */
	enum probe_kind kind;		      /* PROBE_PING or PROBE_TRACE */
	const struct probe_ping_opts *ping;   /* ping options (dst ignored) */
	const struct probe_trace_opts *trace; /* trace options (dst ignored) */
	const uint32_t *targets;	      /* destinations, network order */
	size_t ntargets;		      /* how many */
	unsigned int window;		      /* requests in flight at most (0: the grant) */
	FILE *out;			      /* where results go */
	enum output_fmt fmt;		      /* JSON as the agent sends it, or text */
	int stop_fd;			      /* readable = stop (e.g. a signalfd); -1 none */
};

/* How it went. */
struct remote_stats {
	size_t requested;     /* requests sent */
	size_t results;	      /* results printed */
	unsigned long failed; /* targets the agent refused */
	int stopped;	      /* stop_fd became readable */
	int out_err;	      /* writing results failed */
};

/*
 * Connect, say hello, run every target, print the results. Returns 0 when the
 * agent answered every request (refusals count in st->failed), or -errno
 * after one rt_err line saying why (TLS, connection, agent error). Blocks;
 * stops early when stop_fd becomes readable.
 */
int remote_run(const struct remote_job *j, struct remote_stats *st);

#endif /* RTRACE_REMOTE_H */
