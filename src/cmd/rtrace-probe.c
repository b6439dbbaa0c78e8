// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rtrace-probe - the probe primitives on the command line: ping (with Record
 * Route, Timestamp, spoofed source), Paris traceroute, and listen (replies to
 * probes vantage points spoofed with our address). A thin shell over the
 * probe engine (probe.h) and the printers (output.h): parse options, read
 * targets, submit measurements through a window, print each result as it
 * completes, stop cleanly on SIGINT/SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio_ext.h>
#include <sys/signalfd.h>

#include "rtrace/ctl.h"
#include "rtrace/log.h"
#include "rtrace/netinfo.h"
#include "rtrace/output.h"
#include "rtrace/probe.h"
#include "rtrace/rx.h"
#include "rtrace/sched.h"
#include "rtrace/targets.h"
#include "rtrace/tlslink.h"
#include "rtrace/txring.h"

static const char usage_text[] =
	"usage: rtrace-probe [global options] ping|trace|listen [options] [TARGET...]\n"
	"\n"
	"global options (before the command):\n"
	"  -i IFACE       probe on IFACE (default: the interface the kernel routes the\n"
	"                 first target through; listen needs -i)\n"
	"  -r PPS         global probe rate in packets/s (default 0: as fast as the ring goes)\n"
	"  -o FILE        write results to FILE (default stdout)\n"
	"  -j             JSON, one object per line (scamper field names), flushed per record\n"
	"  -f FILE        read targets from FILE ('-' = stdin): one address or prefix\n"
	"                 (A.B.C.D/N, N >= 8) per line, '#' comments; bad lines are\n"
	"                 reported with their line number and skipped\n"
	"  -a AGENT -c CERTDIR -n NAME\n"
	"                 run the measurement on the agent AGENT (rtraced) instead\n"
	"  -w N           measurements in flight at most (default 10000)\n"
	"  -v             verbose (stats line at exit); -vv debug\n"
	"  -h, --help     this text\n"
	"  --dst-pps N    at most N probes/s to any one destination (default: no limit)\n"
	"  --slots N      probes in flight at most (default 65536)\n"
	"  --tx ring|sendmmsg        transmit backend (default: ring, sendmmsg fallback)\n"
	"  --rx auto|xdp|xdp-generic|ring  receive path (default: XDP, RX ring fallback)\n"
	"\n"
	"ping [-c N] [-R] [-T tsprespec=IP[,IP..4]|tsonly|tsandaddr] [-S SRC [-Q REQ]]\n"
	"     [-m TTL] [-s SIZE] [-i SECONDS] [-W SECONDS] TARGET...\n"
	"  -c N           probes per target (default 4)\n"
	"  -R             IP Record Route option\n"
	"  -T MODE        IP Timestamp option: tsonly, tsandaddr, or tsprespec=IP[,IP..] (1-4)\n"
	"  -S SRC         spoof the source address SRC: replies go to SRC (run 'listen' there);\n"
	"                 the ping completes once its probes are sent\n"
	"  -Q REQ         request id the spoofed probes carry (default: random)\n"
	"  -m TTL         probe TTL (default 64)\n"
	"  -s SIZE        probe size, IP total length (default 84 + option bytes)\n"
	"  -i SECONDS     interval between probes (default 1)\n"
	"  -W SECONDS     time to wait for each reply (default 1)\n"
	"\n"
	"trace [-f FIRST] [-m MAX] [-q ATTEMPTS] [-g GAPLIMIT] [-P icmp-paris|udp-paris]\n"
	"      [-s SIZE] [-W SECONDS] TARGET...\n"
	"  Paris traceroute with all TTLs in flight at once; stops at the destination,\n"
	"  an unreachable, GAPLIMIT silent hops in a row, or MAX.\n"
	"  -f FIRST       first TTL (default 1)     -m MAX     last TTL (default 30)\n"
	"  -q ATTEMPTS    probes per TTL (default 2) -g GAPLIMIT (default 5)\n"
	"  -P METHOD      icmp-paris (default) or udp-paris\n"
	"  -s SIZE        probe size (default 60)   -W SECONDS wait per probe (default 2)\n"
	"\n"
	"listen [-t SECONDS]\n"
	"  print replies to probes that vantage points spoofed with our address\n"
	"  (rtrace-probe ping -S OURADDR run at the VP) for SECONDS (default: until ^C)\n"
	"\n"
	"Needs cap_net_raw (TX ring) and cap_net_admin + cap_bpf (XDP): run as root.\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage error.\n";

/* Results are buffered (OUT_BUF, larger than any record) and flushed at a record
 * boundary before the loop waits, or after OUT_FLUSH_NS under load. */
#define OUT_BUF (1u << 20)
#define OUT_FLUSH_NS 100000000ull

static void usage_exit(const char *msg)
{
	if (msg)
		fprintf(stderr, "rtrace-probe: %s\n", msg);
	fprintf(stderr, "%s", usage_text);
	exit(2);
}

struct app {
	struct probe_engine *e;
	enum probe_kind cmd;
	enum output_fmt fmt;
	FILE *out;
	struct targets tg;
	size_t next;	       /* next target to submit */
	unsigned int window;   /* measurements in flight at most */
	unsigned int inflight; /* submitted, not done */
	int stopping;	       /* SIGINT/SIGTERM seen */
	int out_err;	       /* writing results failed */
	uint64_t flushed_ns;   /* last flush of out */
	unsigned int nout;     /* records written */
	unsigned long failed;  /* targets that could not be measured */
	struct probe_ping_opts ping;
	struct probe_trace_opts trace;
	struct probe_listen_opts listen;
};

static double parse_num(const char *s, double lo, double hi, const char *what)
{
	char *end, msg[160];
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%s: '%s' is not a number in [%g, %g]", what, s, lo, hi);
		usage_exit(msg);
	}
	return v;
}

static uint32_t parse_ip(const char *s, const char *what)
{
	struct in_addr a;
	char msg[160];

	if (inet_pton(AF_INET, s, &a) != 1) {
		snprintf(msg, sizeof(msg), "%s: '%s' is not an IPv4 address", what, s);
		usage_exit(msg);
	}
	return a.s_addr;
}

static void parse_ts(struct probe_ping_opts *p, const char *arg)
{
	char buf[128], *tok, *save = NULL;

	if (!strcmp(arg, "tsonly")) {
		p->opt = PROBE_OPT_TSONLY;
		return;
	}
	if (!strcmp(arg, "tsandaddr")) {
		p->opt = PROBE_OPT_TSANDADDR;
		return;
	}
	if (strncmp(arg, "tsprespec=", 10) || strlen(arg) >= sizeof(buf))
		usage_exit("-T: want tsonly, tsandaddr or tsprespec=IP[,IP..4]");
	p->opt = PROBE_OPT_TSPRESPEC;
	strcpy(buf, arg + 10);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (p->ntsps == RTRACE_TS_PAIRS)
			usage_exit("-T tsprespec: at most 4 addresses");
		p->tsps[p->ntsps++] = parse_ip(tok, "-T tsprespec");
	}
	if (!p->ntsps)
		usage_exit("-T tsprespec: at least one address");
}

static int parse_ping(struct app *a, int argc, char **argv)
{
	struct probe_ping_opts *p = &a->ping;
	int c, have_req = 0, nopt = 0;

	while ((c = getopt(argc, argv, "+c:RT:S:Q:m:s:i:W:")) != -1) {
		switch (c) {
		case 'c':
			p->count = parse_num(optarg, 1, 65535, "-c");
			break;
		case 'R':
			p->opt = PROBE_OPT_RR;
			nopt++;
			break;
		case 'T':
			parse_ts(p, optarg);
			nopt++;
			break;
		case 'S':
			p->spoof_src = parse_ip(optarg, "-S");
			break;
		case 'Q':
			p->spoof_req = parse_num(optarg, 0, 4294967295.0, "-Q");
			have_req = 1;
			break;
		case 'm':
			p->ttl = parse_num(optarg, 1, 255, "-m");
			break;
		case 's':
			p->size = parse_num(optarg, 1, 1500, "-s");
			break;
		case 'i':
			p->interval_ms = parse_num(optarg, 0.001, 3600, "-i") * 1000;
			break;
		case 'W':
			p->wait_ms = parse_num(optarg, 0.001, 3600, "-W") * 1000;
			break;
		default:
			usage_exit(NULL);
		}
	}
	if (nopt > 1)
		usage_exit("ping: -R and -T are exclusive (one IP option per probe)");
	if (p->spoof_src && !have_req)
		p->spoof_req = (uint32_t)random();
	return optind;
}

static int parse_trace(struct app *a, int argc, char **argv)
{
	struct probe_trace_opts *t = &a->trace;
	int c;

	while ((c = getopt(argc, argv, "+f:m:q:g:P:s:W:")) != -1) {
		switch (c) {
		case 'f':
			t->first_ttl = parse_num(optarg, 1, 255, "-f");
			break;
		case 'm':
			t->max_ttl = parse_num(optarg, 1, 255, "-m");
			break;
		case 'q':
			t->attempts = parse_num(optarg, 1, 10, "-q");
			break;
		case 'g':
			t->gaplimit = parse_num(optarg, 1, 255, "-g");
			break;
		case 'P':
			if (!strcmp(optarg, "icmp-paris"))
				t->method = PROBE_TRACE_ICMP_PARIS;
			else if (!strcmp(optarg, "udp-paris"))
				t->method = PROBE_TRACE_UDP_PARIS;
			else
				usage_exit("-P: want icmp-paris or udp-paris");
			break;
		case 's':
			t->size = parse_num(optarg, 1, 1500, "-s");
			break;
		case 'W':
			t->wait_ms = parse_num(optarg, 0.001, 3600, "-W") * 1000;
			break;
		default:
			usage_exit(NULL);
		}
	}
	if (t->first_ttl && t->max_ttl && t->first_ttl > t->max_ttl)
		usage_exit("trace: -f FIRST is larger than -m MAX");
	return optind;
}

static int parse_listen(struct app *a, int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "+t:")) != -1) {
		switch (c) {
		case 't':
			a->listen.duration_ms = parse_num(optarg, 0.001, 31536000, "-t") * 1000;
			break;
		default:
			usage_exit(NULL);
		}
	}
	return optind;
}

static const char *errtext(int err, uint32_t dst)
{
	static char buf[128];
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	switch (err) {
	case -ENETUNREACH:
		snprintf(buf, sizeof(buf), "%s: no route through the probing interface", ip);
		break;
	case -EHOSTUNREACH:
		snprintf(buf, sizeof(buf), "%s: next hop unreachable (no ARP answer)", ip);
		break;
	case -EADDRNOTAVAIL:
		snprintf(buf, sizeof(buf), "%s: is a local address (nothing to probe)", ip);
		break;
	case -EINVAL:
		snprintf(buf, sizeof(buf), "%s: invalid options (size too small for the option?)",
			 ip);
		break;
	default:
		snprintf(buf, sizeof(buf), "%s: %s", ip, strerror(-err));
	}
	return buf;
}

static void on_done(struct probe_engine *e, const struct probe_result *r, void *ctx);

static void on_listen_reply(struct probe_engine *e, const struct probe_result *r, const void *resp,
			    void *ctx)
{
	struct app *a = ctx;

	(void)e;
	(void)r;
	if (output_listen_reply(a->out, resp, a->fmt))
		a->out_err = 1;
}

/* Submit targets until the window is full or the list is done. */
static void feed(struct app *a)
{
	struct probe_cbs cbs = {.done = on_done, .ctx = a};

	while (!a->stopping && a->inflight < a->window && a->next < a->tg.n) {
		uint32_t dst = a->tg.addr[a->next++];
		int64_t id;

		if (a->cmd == PROBE_PING) {
			a->ping.dst = dst;
			id = probe_ping(a->e, &a->ping, &cbs);
		} else {
			a->trace.dst = dst;
			id = probe_trace(a->e, &a->trace, &cbs);
		}
		if (id < 0) {
			rt_err("%s", errtext((int)id, dst));
			a->failed++;
			continue;
		}
		a->inflight++;
	}
}

/* Write what is buffered (whole records only: the buffer is larger than any record). */
static void out_flush(struct app *a)
{
	if (__fpending(a->out) && fflush(a->out))
		a->out_err = 1;
	a->flushed_ns = sched_now_ns();
}

/* The loop is about to wait: nothing printed stays behind in the buffer. */
static void on_idle(struct sched *s, void *ctx)
{
	(void)s;
	out_flush(ctx);
}

static void on_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct app *a = ctx;

	(void)e;
	a->inflight--;
	if (output_write(a->out, r, a->fmt))
		a->out_err = 1;
	/* under load the loop never waits: flush by size and at least every OUT_FLUSH_NS
	 * (the clock is read every 64 records) */
	if (__fpending(a->out) > OUT_BUF / 2 ||
	    (!(++a->nout & 63) && sched_now_ns() - a->flushed_ns > OUT_FLUSH_NS))
		out_flush(a);
	feed(a);
}

static void on_signal(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct signalfd_siginfo si;
	struct app *a = ctx;

	(void)s;
	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	a->stopping = 1;
	probe_engine_stop(a->e);
}

static void print_stats(struct app *a, int verbose)
{
	struct probe_stats st;
	int dropped;

	probe_engine_stats(a->e, &st);
	dropped = st.rx_ringfull || st.ring_full || st.tx_errors || st.rx_malformed;
	if (!verbose && !dropped && !a->failed)
		return;
	fprintf(stderr,
		"rtrace-probe: tx %s rx %s: %lu probes, %lu replies (%lu matched, %lu spoofed, "
		"%lu stale, %lu unmatched), %lu timeouts; dropped: %lu rx ring buffer full, "
		"%lu tx ring full, %lu tx errors; %lu malformed; %lu targets failed\n",
		st.tx_mode, st.rx_mode, (unsigned long)st.probes, (unsigned long)st.replies,
		(unsigned long)st.matched, (unsigned long)st.spoofed, (unsigned long)st.stale,
		(unsigned long)st.unmatched, (unsigned long)st.timeouts,
		(unsigned long)st.rx_ringfull, (unsigned long)st.ring_full,
		(unsigned long)st.tx_errors, (unsigned long)st.rx_malformed, a->failed);
}

/* Interface (and source address) the kernel routes dst through. */
static int route_iface(uint32_t dst, char *ifname, uint32_t *src)
{
	struct netinfo_route r;
	struct netinfo_if ifc;
	int err = netinfo_route_get(dst, 0, &r);

	if (err)
		return err;
	err = netinfo_if_by_index(r.oif, &ifc);
	if (err)
		return err;
	snprintf(ifname, IF_NAMESIZE, "%s", ifc.name);
	*src = r.prefsrc;
	return 0;
}

static int parse_mode(const char *s, int rx)
{
	if (rx) {
		if (!strcmp(s, "auto"))
			return RX_MODE_AUTO;
		if (!strcmp(s, "xdp"))
			return RX_MODE_XDP_NATIVE;
		if (!strcmp(s, "xdp-generic"))
			return RX_MODE_XDP_GENERIC;
		if (!strcmp(s, "ring"))
			return RX_MODE_RING;
		usage_exit("--rx: want auto, xdp, xdp-generic or ring");
	}
	if (!strcmp(s, "ring"))
		return TXRING_RING;
	if (!strcmp(s, "sendmmsg"))
		return TXRING_MMSG;
	usage_exit("--tx: want ring or sendmmsg");
	return 0;
}

static int engine_error(const char *ifname, int err)
{
	switch (err) {
	case ENODEV:
		fprintf(stderr, "rtrace-probe: %s: no such interface\n", ifname);
		break;
	case EPERM:
	case EACCES:
		fprintf(stderr,
			"rtrace-probe: %s: permission denied: the TX ring needs cap_net_raw, the "
			"XDP classifier cap_net_admin and cap_bpf (run as root)\n",
			ifname);
		break;
	case EADDRNOTAVAIL:
		fprintf(stderr, "rtrace-probe: %s: the interface has no IPv4 address\n", ifname);
		break;
	default:
		fprintf(stderr, "rtrace-probe: %s: cannot start the probe engine: %s\n", ifname,
			strerror(err));
	}
	return 1;
}

/* ---- -a AGENT: the same measurements run by rtraced over the control link ---- */

/* Fill a PING or TRACE request for target i. */
static void agent_request(struct app *a, size_t i, struct ctl_msg *m)
{
	static const uint8_t ts_of_opt[] = {
		[PROBE_OPT_TSONLY] = CTL_TS_TSONLY,
		[PROBE_OPT_TSANDADDR] = CTL_TS_TSANDADDR,
		[PROBE_OPT_TSPRESPEC] = CTL_TS_PRESPEC,
	};
	const struct probe_ping_opts *p = &a->ping;
	const struct probe_trace_opts *t = &a->trace;

	memset(m, 0, sizeof(*m));
	if (a->cmd == PROBE_PING) {
		int olen = p->opt == PROBE_OPT_NONE	   ? 0
			   : p->opt == PROBE_OPT_TSANDADDR ? 36
			   : p->opt == PROBE_OPT_TSPRESPEC ? 4 + 8 * p->ntsps
							   : 40;

		m->type = CTL_PING;
		m->u.ping.req_id = i + 1;
		m->u.ping.target = a->tg.addr[i];
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
		if (p->opt >= PROBE_OPT_TSONLY)
			m->u.ping.ts_mode = ts_of_opt[p->opt];
		m->u.ping.ts_naddr = p->opt == PROBE_OPT_TSPRESPEC ? p->ntsps : 0;
		memcpy(m->u.ping.ts_addr, p->tsps, sizeof(m->u.ping.ts_addr));
	} else {
		m->type = CTL_TRACE;
		m->u.trace.req_id = i + 1;
		m->u.trace.target = a->tg.addr[i];
		m->u.trace.first_ttl = t->first_ttl ? t->first_ttl : 1;
		m->u.trace.max_ttl = t->max_ttl ? t->max_ttl : 30;
		m->u.trace.attempts = t->attempts ? t->attempts : 2;
		m->u.trace.gap_limit = t->gaplimit ? t->gaplimit : 5;
		m->u.trace.method = t->method == PROBE_TRACE_UDP_PARIS ? CTL_TRACE_UDP_PARIS
								       : CTL_TRACE_ICMP_PARIS;
		m->u.trace.wait_ms = t->wait_ms > 65535 ? 65535 : t->wait_ms;
	}
}

/*
 * Run every target on the agent: requests go out through a window of the
 * agent's in-flight grant, each RESULT (scamper JSON, as -j prints it) is
 * written as it comes. Returns the exit status.
 */
static int run_agent(struct app *a, const char *agent, const char *certdir, const char *name)
{
	struct ctl_hello mine = {.version = CTL_VERSION}, theirs;
	struct tls_client *c = NULL;
	struct tls_ctx *ctx = NULL;
	size_t inflight = 0, window;
	char err[512];
	sigset_t sigs;
	int rc = 0, sfd;

	if (a->fmt != OUTPUT_JSON)
		rt_warn("-a: the agent sends scamper JSON: printing JSON (as with -j)");
	if (tls_ctx_new(&ctx, TLS_CLIENT, certdir, name, err, sizeof(err)) < 0) {
		fprintf(stderr, "rtrace-probe: %s\n", err);
		return 1;
	}
	if (tls_client_connect(&c, ctx, agent, NULL, 5000, err, sizeof(err)) < 0) {
		fprintf(stderr, "rtrace-probe: %s\n", err);
		tls_ctx_free(ctx);
		return 1;
	}
	snprintf(mine.name, sizeof(mine.name), "%s", name);
	if (tls_client_hello(c, &mine, &theirs, 5000) < 0) {
		fprintf(stderr, "rtrace-probe: %s\n", tls_client_error(c));
		rc = 1;
		goto out;
	}
	window = theirs.max_inflight ? theirs.max_inflight : 1;
	if (window > a->window)
		window = a->window;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	while (!a->stopping && (a->next < a->tg.n || inflight)) {
		struct pollfd pf[2] = {{tls_client_fd(c), POLLIN, 0}, {sfd, POLLIN, 0}};
		struct ctl_msg m;
		int r;

		while (inflight < window && a->next < a->tg.n) {
			agent_request(a, a->next, &m);
			r = tls_client_send(c, &m, 5000);
			if (r < 0) {
				fprintf(stderr, "rtrace-probe: %s\n", tls_client_error(c));
				rc = 1;
				goto out_sig;
			}
			a->next++;
			inflight++;
		}
		if (!tls_client_pending(c) && poll(pf, sfd >= 0 ? 2 : 1, -1) > 0 &&
		    (pf[1].revents & POLLIN)) {
			a->stopping = 1;
			break;
		}
		r = tls_client_recv(c, &m, 0);
		if (r == -EAGAIN)
			continue;
		if (r < 0) {
			fprintf(stderr, "rtrace-probe: %s\n", tls_client_error(c));
			rc = 1;
			break;
		}
		if (m.type == CTL_RESULT) {
			if (m.u.result.len) {
				fwrite(m.u.result.text, 1, m.u.result.len, a->out);
				fputc('\n', a->out);
				if (fflush(a->out))
					a->out_err = 1;
			}
			inflight -= m.u.result.final;
		} else if (m.type == CTL_ERROR && m.u.error.req_id && m.u.error.req_id <= a->tg.n) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &a->tg.addr[m.u.error.req_id - 1], ip, sizeof(ip));
			fprintf(stderr, "rtrace-probe: %s: agent %s refused: %s: %s\n", ip, agent,
				ctl_err_str(m.u.error.code), m.u.error.msg);
			a->failed++;
			inflight--;
		} else if (m.type == CTL_ERROR) {
			fprintf(stderr, "rtrace-probe: agent %s: %s: %s\n", agent,
				ctl_err_str(m.u.error.code), m.u.error.msg);
			rc = 1;
			break;
		}
	}
out_sig:
	if (sfd >= 0)
		close(sfd);
out:
	tls_client_close(c);
	tls_ctx_free(ctx);
	if (a->out_err) {
		fprintf(stderr, "rtrace-probe: writing results failed\n");
		rc = 1;
	}
	return rc ? rc : a->failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},      {"dst-pps", required_argument, NULL, 1},
		{"slots", required_argument, NULL, 2}, {"tx", required_argument, NULL, 3},
		{"rx", required_argument, NULL, 4},    {NULL, 0, NULL, 0},
	};
	struct probe_engine_opts eo = {0};
	struct app a = {.out = stdout, .window = 10000};
	const char *ifname = NULL, *outfile = NULL, *tfile = NULL, *agent = NULL;
	const char *certdir = NULL, *name = NULL, *cmd;
	static char outbuf[OUT_BUF];
	char ifbuf[IF_NAMESIZE] = "";
	int c, verbose = 0, rc = 0, i;
	sigset_t sigs;
	int sfd;

	srandom(getpid() ^ (unsigned int)sched_now_ns());
	while ((c = getopt_long(argc, argv, "+i:r:o:jf:a:c:n:w:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'r':
			eo.pps = parse_num(optarg, 0, 1e9, "-r");
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'j':
			a.fmt = OUTPUT_JSON;
			break;
		case 'f':
			tfile = optarg;
			break;
		case 'a':
			agent = optarg;
			break;
		case 'c':
			certdir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'w':
			a.window = parse_num(optarg, 1, 10000000, "-w");
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			printf("%s", usage_text);
			return 0;
		case 1:
			eo.dst_pps = parse_num(optarg, 1, 1e9, "--dst-pps");
			break;
		case 2:
			eo.slots = parse_num(optarg, 16, 1 << 24, "--slots");
			break;
		case 3:
			eo.tx_backend = parse_mode(optarg, 0);
			break;
		case 4:
			eo.rx_mode = parse_mode(optarg, 1);
			break;
		default:
			usage_exit(NULL);
		}
	}
	if (verbose)
		rt_log_set_level(verbose > 1 ? RT_LOG_DEBUG : RT_LOG_INFO);
	rt_log_set_prefix("rtrace-probe", 0);
	if (optind >= argc)
		usage_exit("missing command: ping, trace or listen");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if (!strcmp(cmd, "ping"))
		a.cmd = PROBE_PING, i = parse_ping(&a, argc, argv);
	else if (!strcmp(cmd, "trace"))
		a.cmd = PROBE_TRACE, i = parse_trace(&a, argc, argv);
	else if (!strcmp(cmd, "listen"))
		a.cmd = PROBE_LISTEN, i = parse_listen(&a, argc, argv);
	else
		usage_exit("unknown command (want ping, trace or listen)");

	if ((agent || certdir || name) && !(agent && certdir && name))
		usage_exit("-a AGENT needs -c CERTDIR and -n NAME");
	if (agent && a.cmd == PROBE_LISTEN)
		usage_exit("listen runs here, not on an agent (drop -a)");
	for (; i < argc; i++) {
		int r = targets_add_line(&a.tg, argv[i]);

		if (r <= 0) {
			fprintf(stderr, "rtrace-probe: '%s': not an IPv4 address or prefix\n",
				argv[i]);
			return 2;
		}
	}
	if (tfile) {
		FILE *f = strcmp(tfile, "-") ? fopen(tfile, "r") : stdin;
		size_t bad = 0;

		if (!f) {
			fprintf(stderr, "rtrace-probe: %s: %s\n", tfile, strerror(errno));
			return 1;
		}
		if (targets_read(&a.tg, f, tfile, &bad)) {
			fprintf(stderr, "rtrace-probe: %s: read error\n", tfile);
			return 1;
		}
		if (f != stdin)
			fclose(f);
		if (bad)
			fprintf(stderr, "rtrace-probe: %s: %zu bad lines skipped\n", tfile, bad);
	}
	if (agent) {
		if (!a.tg.n)
			usage_exit("no targets (give TARGET... or -f FILE)");
		if (outfile) {
			a.out = fopen(outfile, "w");
			if (!a.out) {
				fprintf(stderr, "rtrace-probe: %s: %s\n", outfile, strerror(errno));
				return 1;
			}
		}
		rc = run_agent(&a, agent, certdir, name);
		if (a.out != stdout && fclose(a.out))
			rc = 1;
		targets_free(&a.tg);
		return rc;
	}
	if (a.cmd == PROBE_LISTEN) {
		if (a.tg.n)
			usage_exit("listen takes no targets");
		if (!ifname)
			usage_exit("listen needs -i IFACE");
		eo.accept_spoofed = 1;
	} else if (!a.tg.n) {
		usage_exit("no targets (give TARGET... or -f FILE)");
	}
	if (!ifname) {
		int err = route_iface(a.tg.addr[0], ifbuf, &eo.src);

		if (err) {
			char ip[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &a.tg.addr[0], ip, sizeof(ip));
			fprintf(stderr, "rtrace-probe: %s: no route to the first target: %s\n", ip,
				strerror(-err));
			return 1;
		}
		ifname = ifbuf;
	}
	if (outfile) {
		a.out = fopen(outfile, "w");
		if (!a.out) {
			fprintf(stderr, "rtrace-probe: %s: %s\n", outfile, strerror(errno));
			return 1;
		}
	}
	eo.ifname = ifname;
	a.e = probe_engine_new(&eo);
	if (!a.e)
		return engine_error(ifname, errno);
	/* glibc ignores the size without a buffer: give it one that outlives the stream */
	setvbuf(a.out, outbuf, _IOFBF, OUT_BUF);
	sched_set_idle(probe_engine_sched(a.e), on_idle, &a);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd >= 0)
		sched_add_fd(probe_engine_sched(a.e), sfd, EPOLLIN, on_signal, &a);

	if (a.cmd == PROBE_LISTEN) {
		struct probe_cbs cbs = {.done = on_done, .response = on_listen_reply, .ctx = &a};
		int64_t id = probe_listen(a.e, &a.listen, &cbs);

		if (id < 0) {
			fprintf(stderr, "rtrace-probe: listen: %s\n", strerror((int)-id));
			rc = 1;
		}
		a.inflight++;
	} else {
		feed(&a);
	}
	if (!rc && probe_engine_run(a.e) < 0)
		rc = 1;
	if (a.stopping && verbose)
		fprintf(stderr, "rtrace-probe: interrupted, %u measurements unfinished\n",
			probe_engine_active(a.e));
	out_flush(&a);
	print_stats(&a, verbose);
	if (sfd >= 0) {
		sched_del_fd(probe_engine_sched(a.e), sfd);
		close(sfd);
	}
	probe_engine_free(a.e);
	if (a.out != stdout && fclose(a.out))
		a.out_err = 1;
	if (a.out == stdout && fflush(stdout))
		a.out_err = 1;
	if (a.out_err) {
		fprintf(stderr, "rtrace-probe: writing results failed\n");
		rc = 1;
	}
	if (a.failed && !rc)
		rc = 1;
	targets_free(&a.tg);
	return rc;
}
