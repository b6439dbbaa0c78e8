// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rtrace-probe - the probe primitives on the command line: ping (with Record
 * Route, Timestamp, spoofed source), Paris traceroute, and listen (replies to
 * probes vantage points spoofed with our address), here or on an agent (-a).
 * A thin shell: options (probecli.h), targets (targets.h), the probe engine
 * (probe.h) fed through a window, results printed as they complete
 * (output.h, by a writer thread, whole records), or the agent client
 * (remote.h); SIGINT/SIGTERM stop cleanly.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/cli.h"
#include "rtrace/log.h"
#include "rtrace/netinfo.h"
#include "rtrace/output.h"
#include "rtrace/probe.h"
#include "rtrace/probecli.h"
#include "rtrace/remote.h"
#include "rtrace/sched.h"
#include "rtrace/targets.h"

static const char usage_text[] =
	"usage: rtrace-probe [global options] ping|trace|listen [options] [TARGET...]\n"
	"\n"
	"global options (before the command):\n"
	"  -i IFACE       probe on IFACE (default: the interface the kernel routes the\n"
	"                 first target through; listen needs -i)\n"
	"  -r PPS         global probe rate in packets/s (default 0: as fast as the ring goes)\n"
	"  -o FILE        write results to FILE (default stdout)\n"
	"  -j             JSON, one object per line (scamper field names); records are\n"
	"                 written whole as they complete (no partial lines)\n"
	"  -f FILE        read targets from FILE ('-' = stdin): one address or prefix\n"
	"                 (A.B.C.D/N, N >= 8) per line, '#' comments; bad lines are\n"
	"                 reported with their line number and skipped\n"
	"  -a AGENT -c CERTDIR -n NAME\n"
	"                 run the measurement on the agent AGENT (rtraced) instead\n"
	"                 (results as text unless -j, which prints the agent's JSON)\n"
	"  -w N           measurements in flight at most (default 10000)\n"
	"  -v             verbose (stats line at exit); -vv debug\n"
	"  -h, --help     this text\n"
	"  --dst-pps N    at most N probes/s to any one destination (default: no limit)\n"
	"  --slots N      probes in flight at most (default 65536)\n"
	"  --tx ring|sendmmsg        transmit backend (default: ring, sendmmsg fallback)\n"
	"  --rx auto|xdp|xdp-generic|ring  receive path (default: XDP, RX ring fallback)\n"
	"\n";

/* After probecli_help. */
static const char usage_tail[] =
	"\n"
	"Needs cap_net_raw (TX ring) and cap_net_admin + cap_bpf (XDP): run as root.\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage error.\n";

/* The text cli_usage_exit() and cli_help_exit() print: ours, the commands', the tail. */
static void usage_init(void)
{
	static char *text;

	if (asprintf(&text, "%s%s%s", usage_text, probecli_help, usage_tail) < 0)
		text = (char *)usage_text; /* out of memory at start: the head only */
	cli_init("rtrace-probe", text);
}

struct app {
	struct probe_engine *e;
	enum probe_kind cmd;
	enum output_fmt fmt;
	FILE *out;
	struct targets tg;
	size_t next;			    /* next target to submit */
	unsigned int window;		    /* measurements in flight at most */
	unsigned int inflight;		    /* submitted, not done */
	int stopping;			    /* SIGINT/SIGTERM seen */
	int out_err;			    /* writing results failed */
	struct output_stream *os;	    /* results (local measurements), by a writer thread */
	unsigned long failed;		    /* targets that could not be measured */
	int verbose;			    /* -v count */
	const char *ifname;		    /* -i */
	const char *outfile;		    /* -o */
	const char *tfile;		    /* -f */
	const char *agent, *certdir, *name; /* -a -c -n */
	struct probe_engine_opts eo;
	struct probe_ping_opts ping;
	struct probe_trace_opts trace;
	struct probe_listen_opts listen;
};

static void on_done(struct probe_engine *e, const struct probe_result *r, void *ctx);

/* Queuing a result failed (err != 0): nowhere to put results, so stop measuring. */
static void out_check(struct app *a, int err)
{
	if (!err || a->out_err)
		return;
	a->out_err = 1;
	a->stopping = 1;
	probe_engine_stop(a->e);
}

static void on_listen_reply(struct probe_engine *e, const struct probe_result *r, const void *resp,
			    void *ctx)
{
	struct app *a = ctx;

	(void)e;
	(void)r;
	out_check(a, output_stream_put_listen(a->os, resp));
}

/* Submit targets until the window is full or the list is done. */
static void feed(struct app *a)
{
	struct probe_cbs cbs = {.done = on_done, .ctx = a};
	char msg[128];

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
			rt_err("%s", probecli_target_error((int)id, dst, msg, sizeof(msg)));
			a->failed++;
			continue;
		}
		a->inflight++;
	}
}

/* Once per loop iteration: what the last batch of replies completed goes out. */
static void on_idle(struct sched *s, void *ctx)
{
	struct app *a = ctx;

	(void)s;
	output_stream_flush(a->os);
}

static void on_done(struct probe_engine *e, const struct probe_result *r, void *ctx)
{
	struct app *a = ctx;

	(void)e;
	a->inflight--;
	out_check(a, output_stream_put(a->os, r));
	feed(a);
}

static void on_signal(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct app *a = ctx;

	(void)s;
	(void)events;
	if (!cli_signal_read(fd))
		return;
	a->stopping = 1;
	probe_engine_stop(a->e);
}

/* Global options, the command and its options, target arguments. */
static void parse_args(struct app *a, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},      {"dst-pps", required_argument, NULL, 1},
		{"slots", required_argument, NULL, 2}, {"tx", required_argument, NULL, 3},
		{"rx", required_argument, NULL, 4},    {NULL, 0, NULL, 0},
	};
	const char *cmd;
	char err[160];
	int c, i;

	while ((c = getopt_long(argc, argv, "+i:r:o:jf:a:c:n:w:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			a->ifname = optarg;
			break;
		case 'r':
			a->eo.pps = cli_num(optarg, 0, 1e9, "-r");
			break;
		case 'o':
			a->outfile = optarg;
			break;
		case 'j':
			a->fmt = OUTPUT_JSON;
			break;
		case 'f':
			a->tfile = optarg;
			break;
		case 'a':
			a->agent = optarg;
			break;
		case 'c':
			a->certdir = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'w':
			a->window = cli_num(optarg, 1, 10000000, "-w");
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			cli_help_exit();
		case 1:
			a->eo.dst_pps = cli_num(optarg, 1, 1e9, "--dst-pps");
			break;
		case 2:
			a->eo.slots = cli_num(optarg, 16, 1 << 24, "--slots");
			break;
		case 3:
			if ((a->eo.tx_backend = probecli_tx_mode(optarg)) < 0)
				cli_usage_exit("--tx: want ring or sendmmsg");
			break;
		case 4:
			if ((a->eo.rx_mode = probecli_rx_mode(optarg)) < 0)
				cli_usage_exit("--rx: want auto, xdp, xdp-generic or ring");
			break;
		default:
			cli_usage_exit(NULL);
		}
	}
	if (optind >= argc)
		cli_usage_exit("missing command: ping, trace or listen");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if (!strcmp(cmd, "ping"))
		a->cmd = PROBE_PING, i = probecli_ping(argc, argv, &a->ping, err, sizeof(err));
	else if (!strcmp(cmd, "trace"))
		a->cmd = PROBE_TRACE, i = probecli_trace(argc, argv, &a->trace, err, sizeof(err));
	else if (!strcmp(cmd, "listen"))
		a->cmd = PROBE_LISTEN,
		i = probecli_listen(argc, argv, &a->listen, err, sizeof(err));
	else
		cli_usage_exit("unknown command (want ping, trace or listen)");
	if (i < 0)
		cli_usage_exit(err);
	if ((a->agent || a->certdir || a->name) && !(a->agent && a->certdir && a->name))
		cli_usage_exit("-a AGENT needs -c CERTDIR and -n NAME");
	if (a->agent && a->cmd == PROBE_LISTEN)
		cli_usage_exit("listen runs here, not on an agent (drop -a)");
	for (; i < argc; i++) {
		if (targets_add_line(&a->tg, argv[i]) <= 0) {
			fprintf(stderr, "rtrace-probe: '%s': not an IPv4 address or prefix\n",
				argv[i]);
			exit(2);
		}
	}
}

/* SIGINT/SIGTERM: stop cleanly (if no signalfd can be had, they kill us). */
static const int stop_sigs[] = {SIGINT, SIGTERM, 0};

/* -a: every target on the agent. Exit status. */
static int run_remote(struct app *a)
{
	struct remote_job j = {
		.agent = a->agent,
		.certdir = a->certdir,
		.name = a->name,
		.kind = a->cmd,
		.ping = &a->ping,
		.trace = &a->trace,
		.targets = a->tg.addr,
		.ntargets = a->tg.n,
		.window = a->window,
		.out = a->out,
		.fmt = a->fmt,
	};
	struct remote_stats st;
	int rc;

	j.stop_fd = cli_sigfd(stop_sigs);
	rc = remote_run(&j, &st);
	if (j.stop_fd >= 0)
		close(j.stop_fd);
	if (st.out_err)
		fprintf(stderr, "rtrace-probe: writing results failed\n");
	return rc || st.out_err || st.failed ? 1 : 0;
}

/* The measurements here, on our own engine. Exit status. */
static int run_local(struct app *a)
{
	char ifbuf[IF_NAMESIZE] = "";
	struct netinfo_route route;
	int rc = 0, sfd;

	if (a->cmd == PROBE_LISTEN) {
		if (a->tg.n)
			cli_usage_exit("listen takes no targets");
		if (!a->ifname)
			cli_usage_exit("listen needs -i IFACE");
		a->eo.accept_spoofed = 1;
	}
	if (!a->ifname) {
		int err = netinfo_route_iface(a->tg.addr[0], ifbuf, &route);

		if (err) {
			char msg[128];

			fprintf(stderr, "rtrace-probe: no route to the first target: %s\n",
				probecli_target_error(err, a->tg.addr[0], msg, sizeof(msg)));
			return 1;
		}
		a->ifname = ifbuf;
		a->eo.src = route.prefsrc;
	}
	a->eo.ifname = a->ifname;
	a->e = probe_engine_new(&a->eo);
	if (!a->e) {
		char msg[256];

		fprintf(stderr, "rtrace-probe: %s\n",
			probecli_engine_error(a->ifname, errno, msg, sizeof(msg)));
		return 1;
	}
	a->os = output_stream_new(a->out, a->fmt);
	if (!a->os) {
		fprintf(stderr, "rtrace-probe: output writer thread: %s\n", strerror(errno));
		probe_engine_free(a->e);
		return 1;
	}
	sched_set_idle(probe_engine_sched(a->e), on_idle, a);
	sfd = cli_signalfd(probe_engine_sched(a->e), stop_sigs, on_signal, a);
	if (a->cmd == PROBE_LISTEN) {
		struct probe_cbs cbs = {.done = on_done, .response = on_listen_reply, .ctx = a};
		int64_t id = probe_listen(a->e, &a->listen, &cbs);

		if (id < 0) {
			fprintf(stderr, "rtrace-probe: listen: %s\n", strerror((int)-id));
			rc = 1;
		}
		a->inflight++;
	} else {
		feed(a);
	}
	if (!rc && probe_engine_run(a->e) < 0)
		rc = 1;
	if (a->stopping && a->verbose)
		fprintf(stderr, "rtrace-probe: interrupted, %u measurements unfinished\n",
			probe_engine_active(a->e));
	if (output_stream_close(a->os))
		a->out_err = 1;
	probecli_print_stats(stderr, a->e, a->failed, a->verbose);
	if (sfd >= 0) {
		sched_del_fd(probe_engine_sched(a->e), sfd);
		close(sfd);
	}
	probe_engine_free(a->e);
	return rc || a->failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct app a = {.out = stdout, .window = 10000};
	int rc;

	srandom(getpid() ^ (unsigned int)sched_now_ns());
	usage_init();
	parse_args(&a, argc, argv);
	cli_log_level(a.verbose, false);
	rt_log_set_prefix("rtrace-probe", 0);
	if (a.tfile) {
		size_t bad = 0;
		int err = targets_load(&a.tg, a.tfile, &bad);

		if (err) {
			fprintf(stderr, "rtrace-probe: %s: %s\n", a.tfile, strerror(-err));
			return 1;
		}
		if (bad)
			fprintf(stderr, "rtrace-probe: %s: %zu bad lines skipped\n", a.tfile, bad);
	}
	if (a.cmd != PROBE_LISTEN && !a.tg.n)
		cli_usage_exit("no targets (give TARGET... or -f FILE)");
	if (a.outfile) {
		a.out = fopen(a.outfile, "w");
		if (!a.out) {
			fprintf(stderr, "rtrace-probe: %s: %s\n", a.outfile, strerror(errno));
			return 1;
		}
	}
	rc = a.agent ? run_remote(&a) : run_local(&a);
	if (a.out != stdout ? fclose(a.out) : fflush(stdout))
		a.out_err = 1;
	if (a.out_err && !a.agent) {
		fprintf(stderr, "rtrace-probe: writing results failed\n");
		rc = 1;
	}
	targets_free(&a.tg);
	return rc;
}
