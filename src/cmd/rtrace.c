// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rtrace - one reverse traceroute: the path from DEST back to this host,
 * measured hop by hop with every technique (an agent at the hop, Record Route
 * from here, spoofed Record Route from agents, Timestamp adjacency tests, the
 * traceroute atlas, and symmetry as a marked last resort). A thin shell over
 * the technique engine (revtr.h) and its backend (revtr_backend.h): parse
 * options, open the probe engine and the agents, run until the trace is done
 * or the deadline, print the report as traceroute-like text or one JSON object.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/cli.h"
#include "rtrace/log.h"
#include "rtrace/revtr.h"
#include "rtrace/revtr_backend.h"
#include "rtrace/sched.h"

static const char usage_text[] =
	"usage: rtrace [-i IFACE] [-a AGENT[:PORT]]... [-c CERTDIR -n NAME] [-j] [options] DEST\n"
	"\n"
	"Measure the path from DEST back to this host (reverse traceroute).\n"
	"\n"
	"  -i IFACE        probe on IFACE (default: the interface of the route to DEST)\n"
	"  -a AGENT[:PORT] an rtraced to use (repeat for several; default port 7777);\n"
	"                  agents near DEST spoof Record Route / Timestamp probes with our\n"
	"                  address, agents anywhere run traceroutes toward us (the atlas),\n"
	"                  and an agent at DEST itself traces the whole path back\n"
	"  -c CERTDIR      certificates made by tools/rtrace-keygen (ca.crt, NAME.crt/.key)\n"
	"  -n NAME         our certificate name in CERTDIR (-c and -n are needed with -a)\n"
	"  -j              one JSON object (revtr 2.0 field names) instead of text\n"
	"  --no-spoof      no spoofed probes from agents\n"
	"  --no-ts         no Timestamp prespec adjacency tests\n"
	"  --no-atlas      no traceroutes toward us from agents (atlas)\n"
	"  --no-sym        never assume symmetry (the trace FAILS instead)\n"
	"  --no-agent      do not ask an agent at a hop to trace the rest\n"
	"  --max-probes N  probe budget of this trace (default 0: no limit)\n"
	"  --max-hops N    longest reverse path (default 30)\n"
	"  --timeout S     give up after S seconds with the partial path (default 60)\n"
	"  --wait S        wait S seconds for a reply to each ping or traceroute probe\n"
	"                  (default 1; replies to spoofed probes get 1.5 x S)\n"
	"  -r PPS          our probe rate (default: no limit)\n"
	"  -v              more log lines (-vv debug); -q only errors\n"
	"  -h, --help      this text\n"
	"\n"
	"Output: one line per hop: number, address ('*' = did not answer inside a\n"
	"traceroute), the technique that found it, RTT from here; hops marked\n"
	"DST_SYM_REV_SEGMENT are ASSUMED from the forward path, not measured.\n"
	"While it runs, a status line on a terminal's stderr says what the trace waits\n"
	"for (not with -v, -q, or stderr redirected).\n"
	"Needs root (raw probes and the XDP receive path).\n"
	"Exit status: 0 the path reaches us, 3 the trace FAILED (the partial path and\n"
	"fail_reason are printed), 1 could not run, 2 usage error.\n";

struct app {
	int done;
	int stop;
};

static void on_done(struct rtb *b, struct revtr *rt, void *ctx)
{
	(void)b;
	(void)rt;
	((struct app *)ctx)->done = 1;
}

static void on_signal(struct sched *s, int fd, uint32_t events, void *ctx)
{
	(void)s;
	(void)events;
	if (cli_signal_read(fd))
		((struct app *)ctx)->stop = 1;
}

/*
 * On a terminal (and without -v/-q), a status line on stderr redrawn in place
 * while the trace runs: a single reverse trace waits on timeouts for seconds
 * per hop when probes go unanswered, and this says on what.
 */
static void show_status(const struct revtr *rt, uint64_t t0)
{
	char what[384], line[512];

	revtr_status(rt, what, sizeof(what));
	snprintf(line, sizeof(line), "rtrace: %.1f s, %u probes; %s",
		 (double)(sched_now_ns() - t0) / 1e9, revtr_report(rt)->probes.total, what);
	cli_status_redraw(line);
}

static int print_report(const struct revtr_report *r, int json, const struct rtb *b)
{
	size_t need = json ? revtr_format_json(r, NULL, 0) : revtr_format_text(r, NULL, 0);
	char *buf = malloc(need + 1);
	size_t i, n = b ? rtb_nagents(b) : 0, up = 0;

	if (!buf)
		return -ENOMEM;
	if (json)
		revtr_format_json(r, buf, need + 1);
	else
		revtr_format_text(r, buf, need + 1);
	if (!json) {
		fputs(buf, stdout);
	} else {
		/* the core's object, plus the agents' state */
		if (need && buf[need - 1] == '}')
			buf[need - 1] = 0;
		fputs(buf, stdout);
		printf(",\"agents\":[");
		for (i = 0; i < n; i++) {
			struct rtb_agent_info ai;
			char a[16], *p;

			rtb_agent_get(b, i, &ai);
			inet_ntop(AF_INET, &ai.addr, a, sizeof(a));
			for (p = ai.error; *p; p++)
				if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
					*p = '\'';
			printf("%s{\"agent\":\"%s\",\"addr\":\"%s\",\"up\":%s,\"requests\":%u,"
			       "\"failed\":%u%s%s%s}",
			       i ? "," : "", ai.where, ai.addr ? a : "", ai.up ? "true" : "false",
			       ai.requests, ai.failed, ai.error[0] ? ",\"error\":\"" : "", ai.error,
			       ai.error[0] ? "\"" : "");
			up += ai.up;
		}
		printf("],\"agents_up\":%zu}\n", up);
	}
	free(buf);
	return fflush(stdout) ? -EIO : 0;
}

/* A FAILED report without hops, for a trace that could not start. */
static int fail_early(uint32_t src, uint32_t dst, int json, const char *why)
{
	struct revtr_report r;

	memset(&r, 0, sizeof(r));
	r.src = src;
	r.dst = dst;
	r.stop = REVTR_FAILED;
	snprintf(r.fail_reason, sizeof(r.fail_reason), "%.*s", (int)sizeof(r.fail_reason) - 1, why);
	fprintf(stderr, "rtrace: %s\n", why);
	print_report(&r, json, NULL);
	return 3;
}

enum { O_MAXHOPS = CLI_O_FIRST_FREE, O_TIMEOUT, O_WAIT };

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},
		CLI_REVTR_LONGOPTS,
		{"max-hops", required_argument, NULL, O_MAXHOPS},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"wait", required_argument, NULL, O_WAIT},
		{NULL, 0, NULL, 0},
	};
	struct cli_revtr o;
	struct rtb_opts *bo = &o.bo;
	struct revtr_cfg *cfg = &o.rcfg;
	struct revtr_agent ra[REVTR_MAX_AGENTS];
	struct revtr_report rep;
	struct app app = {0};
	struct revtr *rt;
	struct rtb *b;
	char ifbuf[IF_NAMESIZE] = "", err[512];
	const char *ifname;
	uint32_t dst, src = 0, gw = 0;
	double timeout_s = 60;
	int c, json = 0, quiet = 0, rc, r, sfd;
	uint64_t deadline, t0, shown = 0;
	struct in_addr in;
	int status;

	cli_init("rtrace", usage_text);
	cli_revtr_init(&o);
	while ((c = getopt_long(argc, argv, CLI_REVTR_SHORTOPTS "jqh", lopts, NULL)) != -1) {
		if (cli_revtr_opt(&o, c, optarg))
			continue;
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			cli_help_exit();
		case O_MAXHOPS:
			cfg->max_hops = (unsigned)cli_num(optarg, 1, REVTR_MAX_HOPS, "--max-hops");
			break;
		case O_TIMEOUT:
			timeout_s = cli_num(optarg, 0.1, 86400, "--timeout");
			break;
		case O_WAIT:
			bo->ping_wait_ms = (uint32_t)(cli_num(optarg, 0.01, 60, "--wait") * 1000);
			bo->trace_wait_ms = bo->ping_wait_ms;
			bo->spoof_wait_ms = bo->ping_wait_ms * 3 / 2;
			break;
		default:
			cli_usage_exit(NULL);
		}
	}
	cli_log_level(o.verbose, quiet);
	rt_log_set_prefix("rtrace", 0);
	if (optind != argc - 1)
		cli_usage_exit(optind >= argc ? "missing DEST" : "one DEST only");
	if (inet_pton(AF_INET, argv[optind], &in) != 1)
		cli_usage_exit("DEST must be an IPv4 address");
	dst = in.s_addr;
	cli_revtr_check(&o);

	r = cli_route_of(dst, ifbuf, &src, &gw);
	if (r) {
		snprintf(err, sizeof(err), "%s: %s", argv[optind],
			 r == -EADDRNOTAVAIL ? "is an address of this host"
					     : "no route from this host (unreachable destination)");
		return fail_early(src, dst, json, err);
	}
	ifname = o.ifname ? o.ifname : ifbuf;
	if (strcmp(ifname, ifbuf))
		gw = 0; /* the route does not use IFACE: learn the gateway by tracing */
	bo->ifname = ifname;
	bo->src = strcmp(ifname, ifbuf) ? 0 : src;
	b = rtb_new(bo, err, sizeof(err));
	if (!b) {
		fprintf(stderr, "rtrace: %s\n", err);
		return 1;
	}
	cfg->client = rtb_client(b);
	cfg->dst = dst;
	cfg->client_gw = gw;
	cfg->agents = ra;
	cfg->nagents = rtb_agents(b, ra, REVTR_MAX_AGENTS);
	if (bo->nagents && !cfg->nagents && !quiet)
		fprintf(stderr,
			"rtrace: none of the %zu agents is usable: measuring from here "
			"only\n",
			bo->nagents);
	rt = revtr_new(cfg);
	if (!rt) {
		fprintf(stderr, "rtrace: cannot start the trace: %s\n", strerror(errno));
		rtb_free(b);
		return 1;
	}

	sfd = cli_signalfd(rtb_sched(b), (const int[]){SIGINT, SIGTERM, 0}, on_signal, &app);
	rc = rtb_submit(b, rt, on_done, &app);
	t0 = sched_now_ns();
	deadline = t0 + (uint64_t)(timeout_s * 1e9);
	status = isatty(STDERR_FILENO) && !quiet && !o.verbose;
	while (!rc && !app.done && !app.stop && sched_now_ns() < deadline) {
		r = rtb_run_once(b, 200);
		if (r < 0) {
			fprintf(stderr, "rtrace: event loop: %s\n", strerror(-r));
			break;
		}
		if (status && sched_now_ns() - shown >= 200000000ull) {
			show_status(rt, t0);
			shown = sched_now_ns();
		}
	}
	if (shown)
		cli_status_clear();
	rep = *revtr_report(rt);
	if (!app.done) {
		int out = revtr_outstanding(rt);

		rtb_cancel(b, rt);
		rep.stop = REVTR_FAILED;
		snprintf(rep.fail_reason, sizeof(rep.fail_reason),
			 "%s after %.1f s with %d requests outstanding",
			 app.stop ? "interrupted" : "timed out", (double)rep.runtime_ns / 1e9, out);
	}
	if (rep.stop == REVTR_FAILED && bo->nagents && !cfg->nagents) {
		size_t l = strlen(rep.fail_reason);

		snprintf(rep.fail_reason + l, sizeof(rep.fail_reason) - l,
			 " (no agent usable: %zu down)", bo->nagents);
	}
	rc = print_report(&rep, json, b) ? 1 : rep.stop == REVTR_REACHES ? 0 : 3;
	revtr_free(rt);
	if (sfd >= 0)
		sched_del_fd(rtb_sched(b), sfd);
	rtb_free(b);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
