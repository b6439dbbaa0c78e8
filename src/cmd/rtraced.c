// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rtraced - the rtrace agent: runs the probe engine on one interface and
 * serves authenticated clients over the TLS control link. A client asks for
 * pings (with Record Route / Timestamp options, possibly spoofing its own or
 * an authorised source) and Paris traceroutes; each request's result comes
 * back as one RESULT holding the scamper-style JSON line rtrace-probe -j
 * prints. Authorisation, spoof grants, rate and in-flight caps and the target
 * blocklist come from the policy file (policy.h). SIGTERM/SIGINT stop
 * cleanly, SIGHUP reloads the certificates and the policy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "rtrace/ctl.h"
#include "rtrace/log.h"
#include "rtrace/output.h"
#include "rtrace/policy.h"
#include "rtrace/probe.h"
#include "rtrace/sched.h"
#include "rtrace/tlslink.h"

/* Per-request bounds that keep a result's JSON under CTL_RESULT_MAX. */
#define AGENT_PING_COUNT_MAX 100
#define AGENT_TRACE_PROBES_MAX 150

static const char usage_text[] =
	"usage: rtraced -i IFACE -l [ADDR:]PORT -c CERTDIR [-n NAME] [options]\n"
	"\n"
	"  -i IFACE         probe on IFACE\n"
	"  -l [ADDR:]PORT   listen for clients there (TLS 1.3, port default 7777)\n"
	"  -c CERTDIR       ca.crt and NAME.crt/NAME.key (tools/rtrace-keygen CERTDIR NAME)\n"
	"  -n NAME          our certificate name (default: the host name)\n"
	"  --policy FILE    who may spoof what, rates, blocklist (see include/rtrace/policy.h);\n"
	"                   default: clients spoof only their own address, 1000 pps, 16 requests\n"
	"  -r PPS           engine probe rate (default: the policy's global rate)\n"
	"  --no-spoof       refuse every spoofed probe (the network filters them anyway)\n"
	"  -v / -q          more / less logging (default info)\n"
	"  -h, --help       this text\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop, SIGHUP reloads certificates and policy.\n"
	"Needs cap_net_raw, cap_net_admin and cap_bpf (run as root).\n"
	"Exit status: 0 clean stop, 1 runtime error, 2 usage error.\n";

struct client;

/* A request running on the engine. */
struct req {
	struct agent *ag;
	struct client *cl; /* NULL once the client is gone */
	struct req *next;  /* in cl->reqs */
	uint32_t req_id;   /* the client's id */
	int64_t mid;	   /* engine measurement id */
	uint8_t type;	   /* CTL_PING or CTL_TRACE */
};

/* One authenticated connection. */
struct client {
	struct tls_conn *conn;
	int hello;		   /* HELLO received and answered */
	struct policy_limits lim;  /* this client's caps */
	struct policy_usage usage; /* its bucket and in-flight count */
	struct req *reqs;	   /* running requests */
};

struct agent {
	struct probe_engine *eng;
	struct sched *s;
	struct tls_ctx *tls;
	struct tls_server *srv;
	struct policy *pol;
	const char *policy_path;
	const char *name;
	int no_spoof;
	struct policy_usage gusage; /* all clients together */
	int sigfd;
	int stopping;
	unsigned long served, refused;
};

static void send_error(struct tls_conn *c, uint32_t req_id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void send_error(struct tls_conn *c, uint32_t req_id, int code, const char *fmt, ...)
{
	struct ctl_msg m = {.type = CTL_ERROR};
	va_list ap;

	m.u.error.req_id = req_id;
	m.u.error.code = code;
	va_start(ap, fmt);
	vsnprintf(m.u.error.msg, sizeof(m.u.error.msg), fmt, ap);
	va_end(ap);
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

/* Print the result as `rtrace-probe -j` does and send it as the final RESULT. */
static void send_result(struct req *q, const struct probe_result *r)
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
		send_error(c, q->req_id, CTL_ERR_INTERNAL, "cannot format the result");
		return;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len > CTL_RESULT_MAX) {
		send_error(c, q->req_id, CTL_ERR_INTERNAL,
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

/* Engine callback: a measurement of a request finished. */
static void req_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct req *q = ctx;
	struct agent *ag = q->ag;

	(void)e;
	policy_release(&ag->gusage);
	if (q->cl) {
		struct req **pp = &q->cl->reqs;

		while (*pp && *pp != q)
			pp = &(*pp)->next;
		if (*pp)
			*pp = q->next;
		policy_release(&q->cl->usage);
		if (r->error && r->error != -ECANCELED)
			send_error(q->cl->conn, q->req_id, CTL_ERR_INTERNAL, "%s failed: %s",
				   ctl_type_str(q->type), strerror(-r->error));
		else
			send_result(q, r);
		rt_dbg("client %s: request %u done", tls_conn_desc(q->cl->conn), q->req_id);
	}
	ag->served++;
	free(q);
}

static struct req *find_req(struct client *cl, uint32_t id)
{
	struct req *q;

	for (q = cl->reqs; q; q = q->next)
		if (q->req_id == id)
			return q;
	return NULL;
}

/*
 * The checks every request passes: HELLO done, fresh id, target allowed,
 * within the caps. On success the request is admitted (usage taken) and a
 * struct req is returned; otherwise an ERROR was sent and NULL returned.
 */
static struct req *admit(struct agent *ag, struct client *cl, uint8_t type, uint32_t id,
			 uint32_t target, uint32_t probes)
{
	struct tls_conn *c = cl->conn;
	struct policy_usage saved = cl->usage;
	uint64_t now = sched_now_ns();
	struct policy_limits glim;
	char why[256];
	struct req *q;
	int err;

	if (find_req(cl, id)) {
		send_error(c, id, CTL_ERR_BAD_REQUEST, "request id %u is already running", id);
		return NULL;
	}
	if (policy_target_allowed(ag->pol, target, why, sizeof(why))) {
		send_error(c, id, CTL_ERR_BLOCKED, "%s", why);
		return NULL;
	}
	err = policy_admit(&cl->lim, &cl->usage, probes, now, why, sizeof(why));
	if (err) {
		send_error(c, id, err == -EBUSY ? CTL_ERR_BUSY : CTL_ERR_RATE, "client: %s", why);
		return NULL;
	}
	policy_global_limits(ag->pol, &glim);
	err = policy_admit(&glim, &ag->gusage, probes, now, why, sizeof(why));
	if (err) {
		cl->usage = saved;
		send_error(c, id, err == -EBUSY ? CTL_ERR_BUSY : CTL_ERR_RATE, "agent: %s", why);
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		cl->usage = saved;
		policy_release(&ag->gusage);
		send_error(c, id, CTL_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	q->ag = ag;
	q->cl = cl;
	q->req_id = id;
	q->type = type;
	return q;
}

/* Submitted (mid > 0) or failed: link it, or undo the admission and say why. */
static void submitted(struct agent *ag, struct client *cl, struct req *q, int64_t mid)
{
	if (mid < 0) {
		send_error(cl->conn, q->req_id,
			   mid == -EINVAL ? CTL_ERR_BAD_REQUEST : CTL_ERR_INTERNAL,
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
}

static void handle_ping(struct agent *ag, struct client *cl, const struct ctl_ping *p)
{
	static const uint8_t opt_of_ts[] = {
		[CTL_TS_NONE] = PROBE_OPT_NONE,
		[CTL_TS_TSONLY] = PROBE_OPT_TSONLY,
		[CTL_TS_TSANDADDR] = PROBE_OPT_TSANDADDR,
		[CTL_TS_PRESPEC] = PROBE_OPT_TSPRESPEC,
	};
	struct probe_ping_opts o = {0};
	struct probe_cbs cbs = {.done = req_done};
	char why[256];
	struct req *q;
	int olen;

	if (p->count > AGENT_PING_COUNT_MAX) {
		send_error(cl->conn, p->req_id, CTL_ERR_BAD_REQUEST,
			   "count %u is over this agent's limit of %d per request", p->count,
			   AGENT_PING_COUNT_MAX);
		return;
	}
	if (p->spoof_src) {
		if (ag->no_spoof) {
			send_error(cl->conn, p->req_id, CTL_ERR_UNSUPPORTED,
				   "this agent does not send spoofed probes");
			return;
		}
		if (policy_may_spoof(ag->pol, tls_conn_name(cl->conn), tls_conn_addr(cl->conn),
				     p->spoof_src, why, sizeof(why))) {
			send_error(cl->conn, p->req_id, CTL_ERR_DENIED, "%s", why);
			return;
		}
	}
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

static void handle_trace(struct agent *ag, struct client *cl, const struct ctl_trace *t)
{
	uint32_t probes = (uint32_t)(t->max_ttl - t->first_ttl + 1) * t->attempts;
	struct probe_trace_opts o = {0};
	struct probe_cbs cbs = {.done = req_done};
	struct req *q;

	if (probes > AGENT_TRACE_PROBES_MAX) {
		send_error(cl->conn, t->req_id, CTL_ERR_BAD_REQUEST,
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

static int handle_hello(struct agent *ag, struct client *cl, const struct ctl_hello *h)
{
	struct ctl_msg m = {.type = CTL_HELLO};

	if (cl->hello) {
		send_error(cl->conn, 0, CTL_ERR_PROTOCOL, "second HELLO");
		return -EPROTO;
	}
	if (strcmp(h->name, tls_conn_name(cl->conn))) {
		send_error(cl->conn, 0, CTL_ERR_DENIED,
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
	struct client *cl = tls_conn_get_data(c);
	struct req *q;

	if (m->type == CTL_HELLO)
		return handle_hello(ag, cl, &m->u.hello);
	if (m->type == CTL_KEEPALIVE)
		return 0;
	if (!cl->hello) {
		send_error(c, 0, CTL_ERR_PROTOCOL, "%s before HELLO", ctl_type_str(m->type));
		return -EPROTO;
	}
	if (ag->stopping && (m->type == CTL_PING || m->type == CTL_TRACE)) {
		send_error(c, m->u.ping.req_id, CTL_ERR_SHUTDOWN, "the agent is stopping");
		return 0;
	}
	switch (m->type) {
	case CTL_PING:
		handle_ping(ag, cl, &m->u.ping);
		return 0;
	case CTL_TRACE:
		handle_trace(ag, cl, &m->u.trace);
		return 0;
	case CTL_CANCEL:
		q = find_req(cl, m->u.cancel.req_id);
		if (!q || probe_cancel(ag->eng, q->mid))
			send_error(c, m->u.cancel.req_id, CTL_ERR_UNKNOWN_REQ,
				   "request %u is not running", m->u.cancel.req_id);
		return 0;
	default:
		send_error(c, 0, CTL_ERR_PROTOCOL, "%s is not a request", ctl_type_str(m->type));
		return -EPROTO;
	}
}

static int on_open(struct tls_conn *c, void *arg)
{
	struct agent *ag = arg;
	struct client *cl;
	char why[256];

	if (policy_may_connect(ag->pol, tls_conn_name(c), tls_conn_addr(c), why, sizeof(why))) {
		rt_warn("client %s: refused: %s", tls_conn_desc(c), why);
		send_error(c, 0, CTL_ERR_DENIED, "%s", why);
		ag->refused++;
		return -EPERM;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->conn = c;
	policy_client_limits(ag->pol, tls_conn_name(c), &cl->lim);
	tls_conn_set_data(c, cl);
	return 0;
}

/* The client is gone: its requests are cancelled, their results dropped. */
static void on_close(struct tls_conn *c, const char *reason, void *arg)
{
	struct agent *ag = arg;
	struct client *cl = tls_conn_get_data(c);
	struct req *q, *n;

	if (!cl)
		return;
	for (q = cl->reqs; q; q = n) {
		n = q->next;
		q->cl = NULL;
		q->next = NULL;
		probe_cancel(ag->eng, q->mid);
	}
	rt_info("client %s: gone (%s)", tls_conn_desc(c), reason);
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

static void reload(struct agent *ag)
{
	char err[512];
	struct policy *p;

	if (tls_ctx_reload(ag->tls, err, sizeof(err)))
		rt_err("SIGHUP: certificates not reloaded, keeping the old ones: %s", err);
	else
		rt_info("SIGHUP: certificates reloaded from the certificate directory");
	if (!ag->policy_path)
		return;
	if (policy_load(&p, ag->policy_path, err, sizeof(err))) {
		rt_err("SIGHUP: policy not reloaded, keeping the old one: %s", err);
		return;
	}
	policy_free(ag->pol);
	ag->pol = p;
	rt_info("SIGHUP: policy %s reloaded (applies to new connections)", ag->policy_path);
}

static void on_signal(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct agent *ag = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload(ag);
			continue;
		}
		rt_info("%s: stopping", strsignal(si.ssi_signo));
		ag->stopping = 1;
		sched_stop(s);
	}
}

static void usage_exit(const char *msg)
{
	if (msg)
		fprintf(stderr, "rtraced: %s\n", msg);
	fputs(usage_text, msg ? stderr : stdout);
	exit(msg ? 2 : 0);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"policy", required_argument, NULL, 'P'},
		{"no-spoof", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static const struct tls_server_ops ops = {on_open, on_msg, on_close};
	const char *ifname = NULL, *listen = NULL, *certdir = NULL;
	struct agent ag = {.sigfd = -1};
	struct tls_server_cfg cfg = {0};
	struct probe_engine_opts eo = {0};
	struct policy_limits glim;
	struct probe_stats st;
	char host[65], err[512];
	int verbose = RT_LOG_INFO, opt, rc = 1;
	unsigned long pps = 0;
	sigset_t mask;

	while ((opt = getopt_long(argc, argv, "i:l:c:n:r:vqh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'c':
			certdir = optarg;
			break;
		case 'n':
			ag.name = optarg;
			break;
		case 'r':
			pps = strtoul(optarg, NULL, 10);
			break;
		case 'P':
			ag.policy_path = optarg;
			break;
		case 'N':
			ag.no_spoof = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			verbose--;
			break;
		case 'h':
			usage_exit(NULL);
			break;
		default:
			usage_exit("bad option");
		}
	}
	if (optind != argc)
		usage_exit("unexpected argument");
	if (!ifname || !listen || !certdir)
		usage_exit("-i IFACE, -l [ADDR:]PORT and -c CERTDIR are required");
	if (!ag.name) {
		if (gethostname(host, sizeof(host)))
			usage_exit("no -n NAME and no host name");
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		ag.name = host;
	}
	rt_log_set_level(verbose < RT_LOG_ERROR	  ? RT_LOG_ERROR
			 : verbose > RT_LOG_DEBUG ? RT_LOG_DEBUG
						  : verbose);
	rt_log_set_prefix("rtraced", 1);

	if (ag.policy_path) {
		if (policy_load(&ag.pol, ag.policy_path, err, sizeof(err))) {
			rt_err("policy: %s", err);
			return 1;
		}
	} else if (!(ag.pol = policy_new())) {
		rt_err("out of memory");
		return 1;
	}
	if (tls_ctx_new(&ag.tls, TLS_SERVER, certdir, ag.name, err, sizeof(err))) {
		rt_err("certificates: %s", err);
		goto out;
	}
	policy_global_limits(ag.pol, &glim);
	eo.ifname = ifname;
	eo.pps = pps ? pps : glim.rate_pps;
	ag.eng = probe_engine_new(&eo);
	if (!ag.eng) {
		rt_err("%s: cannot start the probe engine: %s", ifname, strerror(errno));
		goto out;
	}
	ag.s = probe_engine_sched(ag.eng);
	cfg.listen = listen;
	if (tls_server_new(&ag.srv, ag.tls, &cfg, &ops, &ag, err, sizeof(err))) {
		rt_err("listen: %s", err);
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ag.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ag.sigfd < 0 || sched_add_fd(ag.s, ag.sigfd, EPOLLIN, on_signal, &ag) ||
	    sched_add_fd(ag.s, tls_server_fd(ag.srv), EPOLLIN, on_server, &ag)) {
		rt_err("event loop setup: %s", strerror(errno));
		goto out;
	}
	{
		char a[INET_ADDRSTRLEN];
		uint32_t src = probe_engine_src(ag.eng);

		rt_info("agent %s on %s (%s), %lu pps, listening on port %u%s", ag.name, ifname,
			inet_ntop(AF_INET, &src, a, sizeof(a)), (unsigned long)eo.pps,
			tls_server_port(ag.srv), ag.no_spoof ? ", no spoofing" : "");
	}
	rc = sched_run(ag.s) ? 1 : 0;
	probe_engine_stats(ag.eng, &st);
	rt_info("stopped: %lu requests served, %lu clients refused, %llu probes, %llu replies",
		ag.served, ag.refused, (unsigned long long)st.probes,
		(unsigned long long)st.replies);
out:
	if (ag.srv)
		sched_del_fd(ag.s, tls_server_fd(ag.srv));
	tls_server_free(ag.srv); /* on_close cancels every request */
	/* Let the engine deliver the cancelled requests' done callbacks (frees them). */
	for (int i = 0; ag.eng && probe_engine_active(ag.eng) && i < 100; i++)
		sched_run_once(ag.s, 10);
	if (ag.eng)
		sched_run_once(ag.s, 0);
	if (ag.sigfd >= 0)
		close(ag.sigfd);
	probe_engine_free(ag.eng);
	tls_ctx_free(ag.tls);
	policy_free(ag.pol);
	return rc;
}
