// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * request.c - the agent's requests: admission (fresh id, per-agent bounds,
 * spoof authorisation, target blocklist, per-client and global caps), the
 * mapping of PING and TRACE onto the probe engine, the result sent back as
 * one final RESULT holding the scamper JSON line `rtrace-probe -j` prints,
 * CANCEL, and the cancellation of a departed client's requests.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/log.h"
#include "rtrace/output.h"
#include "rtrace/probe.h"
#include "rtrace/sched.h"
#include "rtrace/tlslink.h"
#include "agent_int.h"

static void vsend_error(struct tls_conn *c, uint32_t req_id, int code, const char *fmt, va_list ap)
{
	struct ctl_msg m = {.type = CTL_ERROR};

	m.u.error.req_id = req_id;
	m.u.error.code = code;
	vsnprintf(m.u.error.msg, sizeof(m.u.error.msg), fmt, ap);
	/* Error text must be one line. */
	for (char *p = m.u.error.msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (req_id)
		rt_info("client %s: request %u refused: %s: %s", tls_conn_desc(c), req_id,
			ctl_err_str(code), m.u.error.msg);
	if (tls_conn_send(c, &m) == -ENOBUFS)
		tls_conn_close(c, "client does not read its results");
}

void agent_send_error(struct tls_conn *c, uint32_t req_id, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsend_error(c, req_id, code, fmt, ap);
	va_end(ap);
}

/* Refuse request id of cl with an ERROR, counted in the stats. */
static void refuse(struct agent *ag, struct agent_client *cl, uint32_t id, int code,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void refuse(struct agent *ag, struct agent_client *cl, uint32_t id, int code,
		   const char *fmt, ...)
{
	va_list ap;

	ag->st.rejected++;
	va_start(ap, fmt);
	vsend_error(cl->conn, id, code, fmt, ap);
	va_end(ap);
}

/* Print the result as `rtrace-probe -j` does and send it as the final RESULT. */
static void send_result(struct agent_req *q, const struct probe_result *r)
{
	struct tls_conn *c = q->cl->conn;
	struct ctl_msg m = {.type = CTL_RESULT};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int err;

	if (!f || output_result(f, r, OUTPUT_JSON) || fclose(f)) {
		if (f)
			fclose(f);
		free(text);
		agent_send_error(c, q->req_id, CTL_ERR_INTERNAL, "cannot format the result");
		return;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len > CTL_RESULT_MAX) {
		agent_send_error(c, q->req_id, CTL_ERR_INTERNAL,
				 "result of %zu bytes exceeds the %d-byte message limit", len,
				 CTL_RESULT_MAX);
		free(text);
		return;
	}
	m.u.result.req_id = q->req_id;
	m.u.result.final = 1;
	m.u.result.len = len;
	m.u.result.text = text;
	err = tls_conn_send(c, &m);
	if (err == -ENOBUFS)
		tls_conn_close(c, "client does not read its results");
	else if (err && err != -EPIPE)
		rt_warn("client %s: request %u: result not sent: %s", tls_conn_desc(c), q->req_id,
			strerror(-err));
	free(text);
}

/* Take q off its client's list. */
static void unlink_req(struct agent_req *q)
{
	struct agent_req **pp = &q->cl->reqs;

	while (*pp && *pp != q)
		pp = &(*pp)->next;
	if (*pp)
		*pp = q->next;
	q->next = NULL;
}

/* Engine callback: a measurement of a request finished (or was cancelled). */
static void req_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct agent_req *q = ctx;
	struct agent *ag = q->ag;

	(void)e;
	policy_release(&ag->gusage);
	if (q->cl) {
		unlink_req(q);
		policy_release(&q->cl->usage);
		if (r->error && r->error != -ECANCELED)
			agent_send_error(q->cl->conn, q->req_id, CTL_ERR_INTERNAL, "%s failed: %s",
					 ctl_type_str(q->type), strerror(-r->error));
		else
			send_result(q, r);
		rt_dbg("client %s: request %u done", tls_conn_desc(q->cl->conn), q->req_id);
	}
	ag->st.served++;
	ag->st.active--;
	free(q);
}

static struct agent_req *find_req(struct agent_client *cl, uint32_t id)
{
	struct agent_req *q;

	for (q = cl->reqs; q; q = q->next)
		if (q->req_id == id)
			return q;
	return NULL;
}

/*
 * The checks every request passes: fresh id, target allowed, within the
 * caps. On success the request is admitted (usage taken) and a struct
 * agent_req is returned; otherwise an ERROR was sent and NULL returned.
 */
static struct agent_req *admit(struct agent *ag, struct agent_client *cl, uint8_t type, uint32_t id,
			       uint32_t target, uint32_t probes)
{
	struct policy_usage saved = cl->usage;
	uint64_t now = sched_now_ns();
	struct policy_limits glim;
	struct agent_req *q;
	char why[256];
	int err;

	if (find_req(cl, id)) {
		refuse(ag, cl, id, CTL_ERR_BAD_REQUEST, "request id %u is already running", id);
		return NULL;
	}
	if (policy_target_allowed(ag->pol, target, why, sizeof(why))) {
		refuse(ag, cl, id, CTL_ERR_BLOCKED, "%s", why);
		return NULL;
	}
	err = policy_admit(&cl->lim, &cl->usage, probes, now, why, sizeof(why));
	if (err) {
		refuse(ag, cl, id, err == -EBUSY ? CTL_ERR_BUSY : CTL_ERR_RATE, "client: %s", why);
		return NULL;
	}
	policy_global_limits(ag->pol, &glim);
	err = policy_admit(&glim, &ag->gusage, probes, now, why, sizeof(why));
	if (err) {
		cl->usage = saved;
		refuse(ag, cl, id, err == -EBUSY ? CTL_ERR_BUSY : CTL_ERR_RATE, "agent: %s", why);
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		cl->usage = saved;
		policy_release(&ag->gusage);
		refuse(ag, cl, id, CTL_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	q->ag = ag;
	q->cl = cl;
	q->req_id = id;
	q->type = type;
	return q;
}

/* Submitted (mid > 0) or failed: link it, or undo the admission and say why. */
static void submitted(struct agent *ag, struct agent_client *cl, struct agent_req *q, int64_t mid)
{
	if (mid < 0) {
		refuse(ag, cl, q->req_id, mid == -EINVAL ? CTL_ERR_BAD_REQUEST : CTL_ERR_INTERNAL,
		       "the probe engine refused the %s: %s", ctl_type_str(q->type),
		       strerror((int)-mid));
		policy_release(&cl->usage);
		policy_release(&ag->gusage);
		free(q);
		return;
	}
	q->mid = mid;
	q->next = cl->reqs;
	cl->reqs = q;
	ag->st.requests++;
	ag->st.active++;
}

/* The per-agent bounds of a PING and its spoof authorisation: 0, or refused. */
static int ping_allowed(struct agent *ag, struct agent_client *cl, const struct ctl_ping *p)
{
	uint32_t interval = p->interval_ms ? p->interval_ms : 1000;
	char why[256];

	if (p->count > AGENT_PING_COUNT_MAX) {
		refuse(ag, cl, p->req_id, CTL_ERR_BAD_REQUEST,
		       "count %u is over this agent's limit of %d per request", p->count,
		       AGENT_PING_COUNT_MAX);
		return -EINVAL;
	}
	if (p->count > 1 && interval < AGENT_PING_INTERVAL_MIN) {
		refuse(ag, cl, p->req_id, CTL_ERR_BAD_REQUEST,
		       "interval %u ms is under this agent's minimum of %d ms", interval,
		       AGENT_PING_INTERVAL_MIN);
		return -EINVAL;
	}
	if ((uint64_t)(p->count - 1) * interval > AGENT_PING_DURATION_MAX * 1000ull) {
		refuse(ag, cl, p->req_id, CTL_ERR_BAD_REQUEST,
		       "%u probes %u ms apart take longer than this agent's limit of %d s",
		       p->count, interval, AGENT_PING_DURATION_MAX);
		return -EINVAL;
	}
	if (!p->spoof_src)
		return 0;
	if (ag->no_spoof) {
		refuse(ag, cl, p->req_id, CTL_ERR_UNSUPPORTED,
		       "this agent does not send spoofed probes");
		return -EPERM;
	}
	if (policy_may_spoof(ag->pol, tls_conn_name(cl->conn), tls_conn_addr(cl->conn),
			     p->spoof_src, why, sizeof(why))) {
		refuse(ag, cl, p->req_id, CTL_ERR_DENIED, "%s", why);
		return -EPERM;
	}
	return 0;
}

void agent_handle_ping(struct agent *ag, struct agent_client *cl, const struct ctl_ping *p)
{
	static const uint8_t opt_of_ts[] = {
		[CTL_TS_NONE] = PROBE_OPT_NONE,
		[CTL_TS_TSONLY] = PROBE_OPT_TSONLY,
		[CTL_TS_TSANDADDR] = PROBE_OPT_TSANDADDR,
		[CTL_TS_PRESPEC] = PROBE_OPT_TSPRESPEC,
	};
	struct probe_ping_opts o = {0};
	struct probe_cbs cbs = {.done = req_done};
	struct agent_req *q;
	int olen;

	if (ping_allowed(ag, cl, p))
		return;
	q = admit(ag, cl, CTL_PING, p->req_id, p->target, p->count);
	if (!q)
		return;
	o.dst = p->target;
	o.spoof_src = p->spoof_src;
	o.spoof_req = p->cookie_req;
	o.count = p->count;
	o.ttl = p->ttl;
	o.opt = p->rr ? PROBE_OPT_RR : opt_of_ts[p->ts_mode];
	o.ntsps = p->ts_naddr;
	memcpy(o.tsps, p->ts_addr, sizeof(o.tsps));
	o.wait_ms = p->wait_ms;
	o.interval_ms = p->interval_ms;
	/* The protocol gives the ICMP payload; the engine wants the IP total length. */
	olen = o.opt == PROBE_OPT_NONE	      ? 0
	       : o.opt == PROBE_OPT_TSANDADDR ? 36
	       : o.opt == PROBE_OPT_TSPRESPEC ? 4 + 8 * o.ntsps
					      : 40;
	if (p->payload_size)
		o.size = 20 + olen + 8 + p->payload_size;
	cbs.ctx = q;
	rt_dbg("client %s: PING %u: count %u%s%s", tls_conn_desc(cl->conn), p->req_id, p->count,
	       p->rr ? " RR" : "", p->spoof_src ? " spoofed" : "");
	submitted(ag, cl, q, probe_ping(ag->eng, &o, &cbs));
}

void agent_handle_trace(struct agent *ag, struct agent_client *cl, const struct ctl_trace *t)
{
	uint32_t probes = (uint32_t)(t->max_ttl - t->first_ttl + 1) * t->attempts;
	struct probe_trace_opts o = {0};
	struct probe_cbs cbs = {.done = req_done};
	struct agent_req *q;

	if (probes > AGENT_TRACE_PROBES_MAX) {
		refuse(ag, cl, t->req_id, CTL_ERR_BAD_REQUEST,
		       "%u TTLs x %u attempts is over this agent's limit of %d probes",
		       t->max_ttl - t->first_ttl + 1, t->attempts, AGENT_TRACE_PROBES_MAX);
		return;
	}
	q = admit(ag, cl, CTL_TRACE, t->req_id, t->target, probes);
	if (!q)
		return;
	o.dst = t->target;
	o.method =
		t->method == CTL_TRACE_UDP_PARIS ? PROBE_TRACE_UDP_PARIS : PROBE_TRACE_ICMP_PARIS;
	o.first_ttl = t->first_ttl;
	o.max_ttl = t->max_ttl;
	o.attempts = t->attempts;
	o.gaplimit = t->gap_limit;
	o.wait_ms = t->wait_ms;
	cbs.ctx = q;
	rt_dbg("client %s: TRACE %u: ttl %u-%u", tls_conn_desc(cl->conn), t->req_id, t->first_ttl,
	       t->max_ttl);
	submitted(ag, cl, q, probe_trace(ag->eng, &o, &cbs));
}

void agent_handle_cancel(struct agent *ag, struct agent_client *cl, uint32_t req_id)
{
	struct agent_req *q = find_req(cl, req_id);

	/* The final RESULT comes from req_done() with what was collected. */
	if (!q || probe_cancel(ag->eng, q->mid))
		agent_send_error(cl->conn, req_id, CTL_ERR_UNKNOWN_REQ, "request %u is not running",
				 req_id);
}

unsigned int agent_drop_requests(struct agent *ag, struct agent_client *cl, int code,
				 const char *msg)
{
	struct agent_req *q, *n;
	unsigned int k = 0;

	for (q = cl->reqs; q; q = n) {
		n = q->next;
		q->cl = NULL;
		q->next = NULL;
		/* Its probes stop now; req_done() follows on the next loop pass. */
		probe_cancel(ag->eng, q->mid);
		policy_release(&cl->usage);
		if (code)
			agent_send_error(cl->conn, q->req_id, code, "%s", msg);
		k++;
	}
	cl->reqs = NULL;
	ag->st.cancelled += k;
	return k;
}
