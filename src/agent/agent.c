// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * agent.c - the agent's control server (see include/rtrace/agent.h): the TLS
 * server on the probe engine's loop, one struct agent_client per admitted
 * connection, HELLO, message dispatch, the cancellation of a departed
 * client's requests, the orderly shutdown that tells every client why, and
 * the counters. Requests themselves are request.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "rtrace/log.h"
#include "rtrace/probe.h"
#include "rtrace/sched.h"
#include "rtrace/tlslink.h"
#include "agent_int.h"

#define SHUTDOWN_MSG "agent shutting down"

static int handle_hello(struct agent *ag, struct agent_client *cl, const struct ctl_hello *h)
{
	struct ctl_msg m = {.type = CTL_HELLO};

	if (cl->hello) {
		agent_send_error(cl->conn, 0, CTL_ERR_PROTOCOL, "second HELLO");
		return -EPROTO;
	}
	if (strcmp(h->name, tls_conn_name(cl->conn))) {
		agent_send_error(cl->conn, 0, CTL_ERR_DENIED,
				 "HELLO name '%s' is not the certificate's name '%s'", h->name,
				 tls_conn_name(cl->conn));
		return -EPERM;
	}
	cl->hello = 1;
	m.u.hello.version = CTL_VERSION;
	m.u.hello.caps =
		CTL_CAP_AGENT | CTL_CAP_PING | CTL_CAP_TRACE | (ag->no_spoof ? 0 : CTL_CAP_SPOOF);
	m.u.hello.addr = probe_engine_src(ag->eng);
	m.u.hello.rate_pps = cl->lim.rate_pps;
	m.u.hello.max_inflight = cl->lim.inflight;
	snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", ag->name);
	return tls_conn_send(cl->conn, &m);
}

static int on_msg(struct tls_conn *c, const struct ctl_msg *m, void *arg)
{
	struct agent *ag = arg;
	struct agent_client *cl = tls_conn_get_data(c);

	if (m->type == CTL_HELLO)
		return handle_hello(ag, cl, &m->u.hello);
	if (m->type == CTL_KEEPALIVE)
		return 0;
	if (!cl->hello) {
		agent_send_error(c, 0, CTL_ERR_PROTOCOL, "%s before HELLO", ctl_type_str(m->type));
		return -EPROTO;
	}
	if (ag->stopping && (m->type == CTL_PING || m->type == CTL_TRACE)) {
		agent_send_error(c, m->u.ping.req_id, CTL_ERR_SHUTDOWN, SHUTDOWN_MSG);
		return 0;
	}
	switch (m->type) {
	case CTL_PING:
		agent_handle_ping(ag, cl, &m->u.ping);
		return 0;
	case CTL_TRACE:
		agent_handle_trace(ag, cl, &m->u.trace);
		return 0;
	case CTL_CANCEL:
		agent_handle_cancel(ag, cl, m->u.cancel.req_id);
		return 0;
	default:
		agent_send_error(c, 0, CTL_ERR_PROTOCOL, "%s is not a request",
				 ctl_type_str(m->type));
		return -EPROTO;
	}
}

static int on_open(struct tls_conn *c, void *arg)
{
	struct agent *ag = arg;
	struct agent_client *cl;
	char why[256];

	if (ag->stopping) {
		agent_send_error(c, 0, CTL_ERR_SHUTDOWN, SHUTDOWN_MSG);
		ag->st.refused++;
		return -ESHUTDOWN;
	}
	if (policy_may_connect(ag->pol, tls_conn_name(c), tls_conn_addr(c), why, sizeof(why))) {
		rt_warn("client %s: refused: %s", tls_conn_desc(c), why);
		agent_send_error(c, 0, CTL_ERR_DENIED, "%s", why);
		ag->st.refused++;
		return -EPERM;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->conn = c;
	policy_client_limits(ag->pol, tls_conn_name(c), &cl->lim);
	tls_conn_set_data(c, cl);
	cl->next = ag->clients;
	if (ag->clients)
		ag->clients->prev = cl;
	ag->clients = cl;
	ag->st.clients++;
	ag->st.conns++;
	return 0;
}

/* The client is gone: its requests are cancelled (their probes stop), results dropped. */
static void on_close(struct tls_conn *c, const char *reason, void *arg)
{
	struct agent *ag = arg;
	struct agent_client *cl = tls_conn_get_data(c);
	unsigned int k;

	if (!cl)
		return;
	k = agent_drop_requests(ag, cl, 0, NULL);
	if (k)
		rt_info("client %s: gone (%s), %u running requests cancelled", tls_conn_desc(c),
			reason, k);
	else
		rt_info("client %s: gone (%s)", tls_conn_desc(c), reason);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ag->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ag->st.conns--;
	tls_conn_set_data(c, NULL);
	free(cl);
}

static void on_server(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct agent *ag = ctx;
	int err = tls_server_poll(ag->srv, 0);

	(void)fd;
	(void)events;
	if (err) {
		rt_err("control server: %s", strerror(-err));
		sched_stop(s);
	}
}

int agent_new(struct agent **out, struct probe_engine *eng, struct tls_ctx *tls, struct policy *pol,
	      const struct agent_cfg *cfg, char *err, size_t errlen)
{
	static const struct tls_server_ops ops = {on_open, on_msg, on_close};
	struct tls_server_cfg scfg = {0};
	struct agent *ag;
	int ret;

	if (!cfg->name || !cfg->name[0] || strlen(cfg->name) > CTL_NAME_MAX) {
		snprintf(err, errlen, "agent name must be 1..%d characters", CTL_NAME_MAX);
		return -EINVAL;
	}
	ag = calloc(1, sizeof(*ag));
	if (!ag) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ag->eng = eng;
	ag->s = probe_engine_sched(eng);
	snprintf(ag->name, sizeof(ag->name), "%s", cfg->name);
	ag->no_spoof = cfg->no_spoof;
	scfg.listen = cfg->listen;
	scfg.handshake_ms = cfg->handshake_ms;
	scfg.frame_ms = cfg->frame_ms;
	scfg.idle_ms = cfg->idle_ms;
	scfg.max_conns = cfg->max_conns;
	ret = tls_server_new(&ag->srv, tls, &scfg, &ops, ag, err, errlen);
	if (ret) {
		free(ag);
		return ret;
	}
	ret = sched_add_fd(ag->s, tls_server_fd(ag->srv), EPOLLIN, on_server, ag);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		tls_server_free(ag->srv);
		free(ag);
		return ret;
	}
	ag->pol = pol;
	*out = ag;
	return 0;
}

uint16_t agent_port(const struct agent *ag)
{
	return tls_server_port(ag->srv);
}

void agent_set_policy(struct agent *ag, struct policy *pol)
{
	policy_free(ag->pol);
	ag->pol = pol;
}

int agent_shutdown(struct agent *ag, int timeout_ms)
{
	uint64_t end = sched_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
	struct agent_client *cl;
	unsigned int k = 0;

	ag->stopping = 1;
	tls_server_unlisten(ag->srv);
	for (cl = ag->clients; cl; cl = cl->next) {
		k += agent_drop_requests(ag, cl, CTL_ERR_SHUTDOWN, SHUTDOWN_MSG);
		agent_send_error(cl->conn, 0, CTL_ERR_SHUTDOWN, SHUTDOWN_MSG);
		tls_conn_close(cl->conn, SHUTDOWN_MSG);
	}
	if (ag->st.conns || k)
		rt_info("stopping: %u clients told, %u running requests cancelled",
			(unsigned int)ag->st.conns, k);
	/* Flush the goodbyes, let the clients close, let the engine deliver. */
	while (tls_server_nconns(ag->srv) || ag->st.active) {
		uint64_t now = sched_now_ns();

		if (now >= end)
			return -ETIMEDOUT;
		sched_run_once(ag->s,
			       (int)((end - now) / 1000000 < 20 ? (end - now) / 1000000 : 20));
	}
	return 0;
}

void agent_stats(const struct agent *ag, struct agent_stats *st)
{
	*st = ag->st;
}

void agent_free(struct agent *ag)
{
	if (!ag)
		return;
	sched_del_fd(ag->s, tls_server_fd(ag->srv));
	tls_server_free(ag->srv); /* on_close cancels every request */
	/* Let the engine deliver the cancelled requests' done callbacks (frees them). */
	for (int i = 0; ag->st.active && i < 100; i++)
		sched_run_once(ag->s, 10);
	if (ag->st.active)
		rt_warn("agent: %u requests not delivered by the engine", ag->st.active);
	policy_free(ag->pol);
	free(ag);
}
