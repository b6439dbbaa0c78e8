// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * remote.c - the client of measurements run on an agent (see
 * include/rtrace/remote.h): probe options become CTL_PING / CTL_TRACE
 * requests (request id = target index + 1), results stream back as
 * CTL_RESULT messages holding one scamper-JSON record each, printed as
 * they come (or turned into text first), and CTL_ERROR refusals are
 * reported with the target they concern.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "rtrace/ctl.h"
#include "rtrace/log.h"
#include "rtrace/remote.h"
#include "rtrace/tlslink.h"

#define REMOTE_TIMEOUT_MS 5000

/* IP option bytes of a ping's option (to turn the IP size into a payload size). */
static int ping_opt_len(const struct probe_ping_opts *p)
{
	switch (p->opt) {
	case PROBE_OPT_NONE:
		return 0;
	case PROBE_OPT_TSANDADDR:
		return 36;
	case PROBE_OPT_TSPRESPEC:
		return 4 + 8 * p->ntsps;
	default:
		return 40;
	}
}

/* The PING or TRACE request for target i. */
static void request_of(const struct remote_job *j, size_t i, struct ctl_msg *m)
{
	static const uint8_t ts_of_opt[] = {
		[PROBE_OPT_TSONLY] = CTL_TS_TSONLY,
		[PROBE_OPT_TSANDADDR] = CTL_TS_TSANDADDR,
		[PROBE_OPT_TSPRESPEC] = CTL_TS_PRESPEC,
	};
	const struct probe_ping_opts *p = j->ping;
	const struct probe_trace_opts *t = j->trace;

	memset(m, 0, sizeof(*m));
	if (j->kind == PROBE_PING) {
		int olen = ping_opt_len(p);

		m->type = CTL_PING;
		m->u.ping.req_id = i + 1;
		m->u.ping.target = j->targets[i];
		m->u.ping.spoof_src = p->spoof_src;
		m->u.ping.cookie_req = p->spoof_req;
		m->u.ping.count = p->count ? p->count : 4;
		if (p->size > 20 + olen + 8)
			m->u.ping.payload_size = p->size - 20 - olen - 8;
		m->u.ping.wait_ms = p->wait_ms > 65535 ? 65535 : p->wait_ms;
		m->u.ping.interval_ms = p->interval_ms > CTL_PING_INTERVAL_MAX
						? CTL_PING_INTERVAL_MAX
						: p->interval_ms;
		m->u.ping.ttl = p->ttl;
		m->u.ping.rr = p->opt == PROBE_OPT_RR;
		if (p->opt >= PROBE_OPT_TSONLY && p->opt <= PROBE_OPT_TSPRESPEC)
			m->u.ping.ts_mode = ts_of_opt[p->opt];
		m->u.ping.ts_naddr = p->opt == PROBE_OPT_TSPRESPEC ? p->ntsps : 0;
		memcpy(m->u.ping.ts_addr, p->tsps, sizeof(m->u.ping.ts_addr));
	} else {
		m->type = CTL_TRACE;
		m->u.trace.req_id = i + 1;
		m->u.trace.target = j->targets[i];
		m->u.trace.first_ttl = t->first_ttl ? t->first_ttl : 1;
		m->u.trace.max_ttl = t->max_ttl ? t->max_ttl : 30;
		m->u.trace.attempts = t->attempts ? t->attempts : 2;
		m->u.trace.gap_limit = t->gaplimit ? t->gaplimit : 5;
		m->u.trace.method = t->method == PROBE_TRACE_UDP_PARIS ? CTL_TRACE_UDP_PARIS
								       : CTL_TRACE_ICMP_PARIS;
		m->u.trace.wait_ms = t->wait_ms > 65535 ? 65535 : t->wait_ms;
	}
}

/* One RESULT record: as it is (JSON) or as text. */
static void print_result(const struct remote_job *j, const struct ctl_result *res,
			 struct remote_stats *st)
{
	struct probe_result r;

	if (!res->len)
		return;
	if (j->fmt == OUTPUT_JSON) {
		fwrite(res->text, 1, res->len, j->out);
		fputc('\n', j->out);
		if (fflush(j->out))
			st->out_err = 1;
	} else if (output_parse_json(res->text, res->len, &r) == 0) {
		if (output_result(j->out, &r, OUTPUT_TEXT))
			st->out_err = 1;
		output_parsed_free(&r);
	} else {
		rt_warn("agent %s: a result that is not a ping or trace record (%u bytes): "
			"use -j to see it",
			j->agent, res->len);
		return;
	}
	st->results++;
}

/* A refusal of one request (req_id names the target) or of everything (0). */
static int print_error(const struct remote_job *j, const struct ctl_error *e,
		       struct remote_stats *st)
{
	char ip[INET_ADDRSTRLEN];

	if (!e->req_id || e->req_id > j->ntargets) {
		rt_err("agent %s: %s: %s", j->agent, ctl_err_str(e->code), e->msg);
		return -EPROTO;
	}
	inet_ntop(AF_INET, &j->targets[e->req_id - 1], ip, sizeof(ip));
	rt_err("%s: agent %s refused: %s: %s", ip, j->agent, ctl_err_str(e->code), e->msg);
	st->failed++;
	return 0;
}

/* Wait for the agent or the stop fd; 1 = stop. */
static int wait_input(const struct remote_job *j, struct tls_client *c)
{
	struct pollfd pf[2] = {{tls_client_fd(c), POLLIN, 0}, {j->stop_fd, POLLIN, 0}};

	if (tls_client_pending(c))
		return 0;
	return poll(pf, j->stop_fd >= 0 ? 2 : 1, -1) > 0 && (pf[1].revents & POLLIN);
}

/* The request/result loop on a connected client. */
static int run_loop(const struct remote_job *j, struct tls_client *c, size_t window,
		    struct remote_stats *st)
{
	size_t next = 0, inflight = 0;
	struct ctl_msg m;
	int r;

	while (next < j->ntargets || inflight) {
		while (inflight < window && next < j->ntargets) {
			request_of(j, next, &m);
			r = tls_client_send(c, &m, REMOTE_TIMEOUT_MS);
			if (r < 0) {
				rt_err("agent %s: %s", j->agent, tls_client_error(c));
				return r;
			}
			next++;
			inflight++;
			st->requested++;
		}
		if (wait_input(j, c)) {
			st->stopped = 1;
			return 0;
		}
		r = tls_client_recv(c, &m, 0);
		if (r == -EAGAIN)
			continue;
		if (r < 0) {
			rt_err("agent %s: %s", j->agent, tls_client_error(c));
			return r;
		}
		if (m.type == CTL_RESULT) {
			print_result(j, &m.u.result, st);
			inflight -= m.u.result.final;
		} else if (m.type == CTL_ERROR) {
			r = print_error(j, &m.u.error, st);
			if (r)
				return r;
			inflight--;
		}
	}
	return 0;
}

int remote_run(const struct remote_job *j, struct remote_stats *st)
{
	struct ctl_hello mine = {.version = CTL_VERSION}, theirs;
	struct tls_client *c = NULL;
	struct tls_ctx *ctx = NULL;
	char err[512];
	size_t window;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = tls_ctx_new(&ctx, TLS_CLIENT, j->certdir, j->name, err, sizeof(err));
	if (rc < 0) {
		rt_err("%s", err);
		return rc;
	}
	rc = tls_client_connect(&c, ctx, j->agent, NULL, REMOTE_TIMEOUT_MS, err, sizeof(err));
	if (rc < 0) {
		rt_err("%s", err);
		goto out_ctx;
	}
	snprintf(mine.name, sizeof(mine.name), "%s", j->name);
	rc = tls_client_hello(c, &mine, &theirs, REMOTE_TIMEOUT_MS);
	if (rc < 0) {
		rt_err("%s", tls_client_error(c));
		goto out;
	}
	window = theirs.max_inflight ? theirs.max_inflight : 1;
	if (j->window && window > j->window)
		window = j->window;
	rc = run_loop(j, c, window, st);
out:
	tls_client_close(c);
out_ctx:
	tls_ctx_free(ctx);
	return rc;
}
