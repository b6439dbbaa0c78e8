// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rtrace-batch - many reverse traceroutes at once: every target of a list,
 * a window of traces in flight over one probe engine and one set of agent
 * connections (revtr_backend.h), sharing what they learn (batch.h). Writes
 * one JSON record per target (the object `rtrace -j` prints) to a file,
 * gzip if it ends in .gz, each record on disk as soon as it is done; a kill
 * -9 loses nothing finished and --resume continues where the run stopped.
 * SIGINT/SIGTERM stop starting traces, give the running ones a moment, then
 * close the file validly. A thin shell: options, targets, file, loop, status.
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

#include "rtrace/batch.h"
#include "rtrace/cli.h"
#include "rtrace/log.h"
#include "rtrace/revtr.h"
#include "rtrace/revtr_backend.h"
#include "rtrace/sched.h"
#include "rtrace/targets.h"

static const char usage_text[] =
	"usage: rtrace-batch [-i IFACE] [-a AGENT[:PORT]]... [-c CERTDIR -n NAME] -f TARGETS\n"
	"                    -o OUT.jsonl[.gz] [-r PPS] [-w WINDOW] [--resume] [--allow "
	"PREFIX]...\n"
	"                    [--blocklist FILE]... [-q] [options]\n"
	"\n"
	"Reverse traceroutes (the path from each target back to this host) for every\n"
	"target of a list, many at once, sharing what they learn.\n"
	"\n"
	"  -f TARGETS      one address or prefix (A.B.C.D/N, N >= 8) per line, '#' comments;\n"
	"                  bad lines are reported with their line number and skipped\n"
	"  -o OUT          one JSON object per line per target (as rtrace -j); gzip if OUT\n"
	"                  ends in .gz; refused if OUT exists, unless --resume\n"
	"  --resume        continue OUT: skip the targets it holds, append the rest\n"
	"  -i IFACE        probe on IFACE (default: the interface of the route to the first\n"
	"                  target)\n"
	"  -a AGENT[:PORT] an rtraced to use (repeat; default port 7777); -c CERTDIR and\n"
	"                  -n NAME: certificates made by tools/rtrace-keygen\n"
	"  -r PPS          our global probe rate (default 10000)\n"
	"  -w WINDOW       reverse traces in flight at most (default 256)\n"
	"  --dst-pps N     probes per second to one destination at most (default 100)\n"
	"  --p24-rate N    reverse traces started per destination /24 per second (default 0:\n"
	"                  no limit)\n"
	"  --retries N     run a target again (up to N times) when its trace found nothing\n"
	"                  beyond the target itself (default 1)\n"
	"  --allow PREFIX  probe inside a special-purpose range (RFC 6890 registry: private,\n"
	"                  documentation, benchmarking... are refused by default)\n"
	"  --blocklist F   refuse the prefixes listed in F too (one per line)\n"
	"  --drain S       on SIGINT/SIGTERM, let running traces finish for S seconds\n"
	"                  (default 2); a second signal stops at once\n"
	"  --wait S        wait S seconds for each reply: pings, spoofed probes (after the\n"
	"                  agent sent them), traceroute probes (default 1, 1.5, 1)\n"
	"  --no-spoof, --no-ts, --no-atlas, --no-sym, --no-agent, --no-cache\n"
	"                  switch a technique off (see rtrace --help)\n"
	"  --max-probes N  probe budget per trace (default 0: no limit)\n"
	"  -q              no status line (the summary is still printed)\n"
	"  -v              more log lines (-vv debug)\n"
	"  -h, --help      this text\n"
	"\n"
	"Status on stderr once a second: done/total, reverse traces/s, probes/s, ETA, share\n"
	"reaching this host. Needs root (raw probes and the XDP receive path).\n"
	"Exit status: 0 done, 1 error, 2 usage, 130/143 interrupted (--resume continues).\n";

/* Everything the loop and the callbacks share. */
struct app {
	struct rtb *rtb;
	struct batch *bt;
	struct batch_out *out;
	struct sched_timer tick;
	struct batch_rate rate;
	char *buf; /* JSON of one record */
	size_t bufcap;
	uint64_t t0;	   /* first trace started, ns */
	uint64_t drain_ns; /* drain time after a signal */
	uint64_t deadline; /* abort at (0: no signal yet) */
	long rss[3];	   /* VmRSS at 10%, 50%, 100% of the targets, KiB */
	long heap[3];	   /* heap in use at the same points, KiB */
	int sig;	   /* the first signal */
	int quiet;
	int tty;  /* stderr is a terminal: rewrite the line */
	int werr; /* output error */
	int status_shown;
};

static struct app A;

static void on_record(const struct revtr_report *r, unsigned attempts, void *ctx)
{
	struct app *a = ctx;
	const struct batch_counts *c;
	size_t need = revtr_format_json(r, NULL, 0) + 1;
	int err;

	(void)attempts;
	if (need > a->bufcap) {
		char *p = realloc(a->buf, need);

		if (!p) {
			a->werr = -ENOMEM;
			return;
		}
		a->buf = p;
		a->bufcap = need;
	}
	revtr_format_json(r, a->buf, need);
	err = batch_out_write(a->out, a->buf, strlen(a->buf));
	if (err && !a->werr) {
		a->werr = err;
		rt_err("output: %s: stopping (the records written so far are kept)",
		       strerror(-err));
		batch_drain(a->bt);
	}
	c = batch_counts(a->bt);
	if (!a->rss[0] && c->done * 10 >= c->total) {
		a->rss[0] = batch_proc_kib("VmRSS");
		a->heap[0] = batch_heap_kib();
	}
	if (!a->rss[1] && c->done * 2 >= c->total) {
		a->rss[1] = batch_proc_kib("VmRSS");
		a->heap[1] = batch_heap_kib();
	}
}

static void on_done(struct rtb *b, struct revtr *rt, void *ctx)
{
	(void)b;
	(void)rt;
	batch_on_done(A.bt, (uint64_t)(uintptr_t)ctx);
}

static int be_start(void *ctx, struct revtr *rt, uint64_t tag)
{
	if (!A.t0)
		A.t0 = sched_now_ns();
	return rtb_submit(ctx, rt, on_done, (void *)(uintptr_t)tag);
}

static void be_cancel(void *ctx, struct revtr *rt)
{
	rtb_cancel(ctx, rt);
}

static void status_line(struct app *a)
{
	struct batch_counts c = *batch_counts(a->bt);
	double dps, pps;
	char line[256];

	batch_rate_get(&a->rate, &dps, &pps);
	batch_status_format(line, sizeof(line), &c, dps, pps);
	if (a->tty)
		cli_status_redraw(line);
	else
		fprintf(stderr, "%s\n", line);
	a->status_shown = 1;
}

static void on_tick(struct sched *s, struct sched_timer *t, void *ctx)
{
	struct app *a = ctx;
	const struct batch_counts *c = batch_counts(a->bt);
	uint64_t now = sched_now_ns();

	batch_rate_sample(&a->rate, now, c->done, c->probes);
	if (batch_out_tick(a->out, now) && !a->werr) {
		a->werr = -EIO;
		batch_drain(a->bt);
	}
	if (!a->quiet)
		status_line(a);
	sched_timer_arm(s, t, now + 1000000000ull);
}

static void on_signal(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct app *a = ctx;
	int sig = cli_signal_read(fd);

	(void)s;
	(void)events;
	if (!sig)
		return;
	if (a->sig) {
		a->deadline = 1; /* second signal: stop now */
		return;
	}
	a->sig = sig;
	a->deadline = sched_now_ns() + a->drain_ns;
	batch_drain(a->bt);
	if (!a->quiet)
		fprintf(stderr,
			"%srtrace-batch: %s: finishing %llu running traces (%.1f s at "
			"most; again to stop now)\n",
			a->tty && a->status_shown ? "\n" : "", strsignal(a->sig),
			(unsigned long long)batch_counts(a->bt)->inflight,
			(double)a->drain_ns / 1e9);
}

/* ---- options, blocklist, output, summary --------------------------------------------- */

struct opts {
	struct cli_revtr c;	 /* interface, agents, certificates, rate, techniques */
	const char *allow[256];	 /* --allow */
	const char *blfiles[16]; /* --blocklist */
	size_t nallow, nbl;
	const char *targets, *out;
	unsigned window, retries;
	uint64_t p24_rate;
	double drain_s;
	int resume, quiet;
};

enum { O_RESUME = CLI_O_FIRST_FREE, O_ALLOW, O_BLOCK, O_DSTPPS, O_P24, O_RETRIES, O_DRAIN, O_WAIT };

static void parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"resume", no_argument, NULL, O_RESUME},
		{"allow", required_argument, NULL, O_ALLOW},
		{"blocklist", required_argument, NULL, O_BLOCK},
		{"dst-pps", required_argument, NULL, O_DSTPPS},
		{"p24-rate", required_argument, NULL, O_P24},
		{"retries", required_argument, NULL, O_RETRIES},
		{"drain", required_argument, NULL, O_DRAIN},
		{"wait", required_argument, NULL, O_WAIT},
		CLI_REVTR_LONGOPTS,
		CLI_REVTR_NOCACHE,
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	cli_init("rtrace-batch", usage_text);
	cli_revtr_init(&o->c);
	o->c.bo.pps = 10000;
	o->c.bo.dst_pps = 100;
	o->window = 256;
	o->retries = 1;
	o->drain_s = 2;
	while ((c = getopt_long(argc, argv, CLI_REVTR_SHORTOPTS "f:o:w:qh", lopts, NULL)) != -1) {
		if (cli_revtr_opt(&o->c, c, optarg))
			continue;
		switch (c) {
		case 'f':
			o->targets = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'w':
			o->window = (unsigned)cli_num(optarg, 1, 65536, "-w");
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			cli_help_exit();
		case O_RESUME:
			o->resume = 1;
			break;
		case O_ALLOW:
			if (o->nallow == sizeof(o->allow) / sizeof(o->allow[0]))
				cli_usage_exit("--allow: too many");
			o->allow[o->nallow++] = optarg;
			break;
		case O_BLOCK:
			if (o->nbl == sizeof(o->blfiles) / sizeof(o->blfiles[0]))
				cli_usage_exit("--blocklist: too many");
			o->blfiles[o->nbl++] = optarg;
			break;
		case O_DSTPPS:
			o->c.bo.dst_pps = (uint64_t)cli_num(optarg, 0, 1e9, "--dst-pps");
			break;
		case O_P24:
			o->p24_rate = (uint64_t)cli_num(optarg, 0, 1e9, "--p24-rate");
			break;
		case O_RETRIES:
			o->retries = (unsigned)cli_num(optarg, 0, 100, "--retries");
			break;
		case O_DRAIN:
			o->drain_s = cli_num(optarg, 0, 3600, "--drain");
			break;
		case O_WAIT:
			o->c.bo.ping_wait_ms =
				(uint32_t)(cli_num(optarg, 0.01, 60, "--wait") * 1000);
			break;
		default:
			cli_usage_exit(NULL);
		}
	}
	if (optind != argc)
		cli_usage_exit("unexpected argument (targets come from -f FILE)");
	if (!o->targets || !o->out)
		cli_usage_exit("-f TARGETS and -o OUT are required");
	cli_revtr_check(&o->c);
}

/* Agents that are not usable, and why. */
static void report_agents(struct rtb *b, size_t up)
{
	struct rtb_agent_info ai;
	size_t i;

	for (i = 0; i < rtb_nagents(b); i++) {
		rtb_agent_get(b, i, &ai);
		if (!ai.up)
			rt_warn("agent %s is down: %s", ai.where, ai.error);
	}
	rt_warn("%zu of %zu agents usable", up, rtb_nagents(b));
}

static void print_summary(const struct opts *o, const struct batch_input_stats *in,
			  const struct batch_resume_info *info, size_t ntargets)
{
	struct batch_summary sm = {
		.ntargets = ntargets,
		.secs = A.t0 ? (double)(sched_now_ns() - A.t0) / 1e9 : 0,
		.interrupted = A.sig != 0,
		.out = o->out,
		.in = in,
		.kept = info->records,
		.peak_kib = batch_proc_kib("VmHWM"),
	};

	if (A.bt)
		sm.c = *batch_counts(A.bt);
	memcpy(sm.rss_kib, A.rss, sizeof(sm.rss_kib));
	memcpy(sm.heap_kib, A.heap, sizeof(sm.heap_kib));
	batch_summary_write(stderr, "rtrace-batch: ", &sm);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct batch_blocklist bl;
	struct batch_addrset done = {0};
	struct batch_resume_info info = {0};
	struct batch_input_stats in;
	struct targets t = {0};
	struct revtr_agent ra[REVTR_MAX_AGENTS];
	struct batch_cfg bc;
	struct revtr_kb *kb = NULL;
	char ifbuf[IF_NAMESIZE] = "", err[512];
	uint32_t src = 0, gw = 0;
	int rc = 1, r, sfd = -1;
	FILE *f;

	parse_opts(&o, argc, argv);
	cli_log_level(o.c.verbose, false);
	rt_log_set_prefix("rtrace-batch", 0);
	A.quiet = o.quiet;
	A.tty = isatty(2);
	A.drain_ns = (uint64_t)(o.drain_s * 1e9);

	if (batch_blocklist_build(&bl, o.allow, o.nallow, o.blfiles, o.nbl, err, sizeof(err))) {
		fprintf(stderr, "rtrace-batch: %s\n", err);
		return 1;
	}
	if (o.resume) {
		if (batch_resume_scan(o.out, &done, &info, err, sizeof(err))) {
			fprintf(stderr, "rtrace-batch: %s\n", err);
			return 1;
		}
	}
	f = strcmp(o.targets, "-") ? fopen(o.targets, "re") : stdin;
	if (!f) {
		fprintf(stderr, "rtrace-batch: %s: %s\n", o.targets, strerror(errno));
		return 1;
	}
	r = batch_read_targets(f, o.targets, &bl, &done, &t, &in, 20);
	if (f != stdin)
		fclose(f);
	if (r) {
		fprintf(stderr, "rtrace-batch: %s: %s\n", o.targets, strerror(-r));
		return 1;
	}
	if (o.resume && !o.quiet)
		fprintf(stderr,
			"rtrace-batch: resuming %s: %llu records kept%s, %zu targets left\n", o.out,
			(unsigned long long)info.records,
			info.tail_recs ? " (the last gzip member rewritten)" : "", t.n);
	if (!t.n && !in.skipped && (in.refused || in.bad)) {
		fprintf(stderr,
			"rtrace-batch: %s: no target left to trace (%zu refused, %zu bad "
			"lines)\n",
			o.targets, in.refused, in.bad);
		return 1;
	}
	if (batch_resume_open(o.out, &info, o.resume, &A.out, err, sizeof(err))) {
		fprintf(stderr, "rtrace-batch: %s\n", err);
		return 1;
	}

	if (t.n) {
		r = cli_route_of(t.addr[0], ifbuf, &src, &gw);
		if (r && !o.c.ifname) {
			char a[16];

			inet_ntop(AF_INET, &t.addr[0], a, sizeof(a));
			fprintf(stderr, "rtrace-batch: %s: %s; give -i IFACE\n", a,
				r == -EADDRNOTAVAIL ? "is an address of this host" : "no route");
			goto out;
		}
		if (o.c.ifname && strcmp(o.c.ifname, ifbuf))
			gw = 0, src = 0;
		o.c.bo.ifname = o.c.ifname ? o.c.ifname : ifbuf;
		o.c.bo.src = src;
		A.rtb = rtb_new(&o.c.bo, err, sizeof(err));
		if (!A.rtb) {
			fprintf(stderr, "rtrace-batch: %s\n", err);
			goto out;
		}
		kb = revtr_kb_new(rtb_client(A.rtb));
		if (!kb)
			goto out;
		memset(&bc, 0, sizeof(bc));
		bc.rcfg = o.c.rcfg;
		bc.rcfg.client = rtb_client(A.rtb);
		bc.rcfg.client_gw = gw;
		bc.rcfg.kb = kb;
		bc.rcfg.agents = ra;
		bc.rcfg.nagents = rtb_agents(A.rtb, ra, REVTR_MAX_AGENTS);
		if (o.c.bo.nagents && bc.rcfg.nagents < o.c.bo.nagents)
			report_agents(A.rtb, bc.rcfg.nagents);
		bc.be.start = be_start;
		bc.be.cancel = be_cancel;
		bc.be.ctx = A.rtb;
		bc.sched = rtb_sched(A.rtb);
		bc.window = o.window;
		bc.retries = o.retries;
		bc.p24_rate = o.p24_rate;
		bc.slow_start = true;
		bc.done = on_record;
		bc.ctx = &A;
		A.bt = batch_new(&bc, t.addr, t.n);
		if (!A.bt)
			goto out;

		sfd = cli_signalfd(rtb_sched(A.rtb), (const int[]){SIGINT, SIGTERM, 0}, on_signal,
				   &A);
		if (sfd < 0) {
			fprintf(stderr, "rtrace-batch: signalfd: %s\n", strerror(-sfd));
			goto out;
		}
		sched_timer_init(&A.tick, on_tick, &A);
		sched_timer_arm(rtb_sched(A.rtb), &A.tick, sched_now_ns() + 1000000000ull);
		batch_rate_sample(&A.rate, sched_now_ns(), 0, 0);
		if (batch_pump(A.bt) < 0)
			goto out;
		while (!batch_idle(A.bt)) {
			if (A.deadline && sched_now_ns() >= A.deadline) {
				batch_abort(A.bt);
				break;
			}
			r = rtb_run_once(A.rtb, 100);
			if (r < 0) {
				fprintf(stderr, "rtrace-batch: event loop: %s\n", strerror(-r));
				break;
			}
		}
		sched_timer_cancel(rtb_sched(A.rtb), &A.tick);
		A.rss[2] = batch_proc_kib("VmRSS");
		A.heap[2] = batch_heap_kib();
		if (!A.quiet && A.status_shown) {
			status_line(&A);
			if (A.tty)
				fputc('\n', stderr);
		}
	}
	rc = 0;
out:
	r = batch_out_close(A.out);
	if (r && !A.werr) {
		fprintf(stderr, "rtrace-batch: %s: closing: %s\n", o.out, strerror(-r));
		rc = 1;
	}
	if (A.werr)
		rc = 1;
	if (!rc)
		print_summary(&o, &in, &info, t.n);
	if (A.sig && !rc)
		rc = 128 + A.sig;
	batch_free(A.bt);
	rtb_free(A.rtb);
	revtr_kb_free(kb);
	if (sfd >= 0)
		close(sfd);
	targets_free(&t);
	batch_addrset_free(&done);
	batch_resume_info_free(&info);
	batch_blocklist_free(&bl);
	free(A.buf);
	return rc;
}
