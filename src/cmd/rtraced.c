// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rtraced - the rtrace agent: runs the probe engine on one interface and
 * serves authenticated clients over the TLS control link. A client asks for
 * pings (with Record Route / Timestamp options, possibly spoofing its own or
 * an authorised source) and Paris traceroutes; each request's result comes
 * back as one RESULT holding the scamper-style JSON line rtrace-probe -j
 * prints. Authorisation, spoof grants, rate and in-flight caps and the target
 * blocklist come from the policy file (policy.h). SIGTERM/SIGINT stop
 * cleanly (clients are told, XDP is detached), SIGHUP reloads the
 * certificates and the policy. The serving itself is src/agent (agent.h);
 * this main parses options, sets up, handles signals and runs the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/agent.h"
#include "rtrace/cli.h"
#include "rtrace/log.h"
#include "rtrace/policy.h"
#include "rtrace/probe.h"
#include "rtrace/sched.h"
#include "rtrace/tlslink.h"

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
	"  --frame-timeout MS      close a client that takes longer to send one message\n"
	"                          (slow loris; default 10000)\n"
	"  --handshake-timeout MS  close a client whose TLS handshake takes longer (default 5000)\n"
	"  -v / -q          more / less logging (default info)\n"
	"  -h, --help       this text\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop, SIGHUP reloads certificates and policy.\n"
	"Needs cap_net_raw, cap_net_admin and cap_bpf (run as root).\n"
	"Exit status: 0 clean stop, 1 runtime error, 2 usage error.\n";

/* What the signal handler and the loop share. */
struct daemon {
	struct agent *ag;
	struct tls_ctx *tls;
	const char *policy_path;
};

static void reload(struct daemon *d)
{
	char err[512];
	struct policy *p;

	if (tls_ctx_reload(d->tls, err, sizeof(err)))
		rt_err("SIGHUP: certificates not reloaded, keeping the old ones: %s", err);
	else
		rt_info("SIGHUP: certificates reloaded from the certificate directory");
	if (!d->policy_path)
		return;
	if (policy_load(&p, d->policy_path, err, sizeof(err))) {
		rt_err("SIGHUP: policy not reloaded, keeping the old one: %s", err);
		return;
	}
	agent_set_policy(d->ag, p);
	rt_info("SIGHUP: policy %s reloaded (client limits apply to new connections)",
		d->policy_path);
}

static void on_signal(struct sched *s, int fd, uint32_t events, void *ctx)
{
	struct daemon *d = ctx;
	int sig;

	(void)events;
	while ((sig = cli_signal_read(fd))) {
		if (sig == SIGHUP) {
			reload(d);
			continue;
		}
		rt_info("%s: stopping", strsignal(sig));
		sched_stop(s);
	}
}

static int parse_ms(const char *s, const char *opt)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 1 || v > 3600000) {
		fprintf(stderr, "rtraced: %s wants milliseconds 1..3600000, not '%s'\n", opt, s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"policy", required_argument, NULL, 'P'},
		{"no-spoof", no_argument, NULL, 'N'},
		{"frame-timeout", required_argument, NULL, 'F'},
		{"handshake-timeout", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *ifname = NULL, *certdir = NULL;
	struct daemon d = {0};
	struct agent_cfg cfg = {0};
	struct probe_engine_opts eo = {0};
	struct probe_engine *eng = NULL;
	struct policy *pol = NULL;
	struct policy_limits glim;
	struct probe_stats st;
	struct agent_stats as;
	char host[65], err[512], a[INET_ADDRSTRLEN];
	int verbose = RT_LOG_INFO, opt, rc = 1, sigfd = -1;
	unsigned long pps = 0;
	uint32_t src;

	cli_init("rtraced", usage_text);
	while ((opt = getopt_long(argc, argv, "i:l:c:n:r:vqh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'l':
			cfg.listen = optarg;
			break;
		case 'c':
			certdir = optarg;
			break;
		case 'n':
			cfg.name = optarg;
			break;
		case 'r':
			pps = strtoul(optarg, NULL, 10);
			break;
		case 'P':
			d.policy_path = optarg;
			break;
		case 'N':
			cfg.no_spoof = 1;
			break;
		case 'F':
			cfg.frame_ms = parse_ms(optarg, "--frame-timeout");
			break;
		case 'H':
			cfg.handshake_ms = parse_ms(optarg, "--handshake-timeout");
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			verbose--;
			break;
		case 'h':
			cli_help_exit();
		default:
			cli_usage_exit("bad option");
		}
	}
	if (optind != argc)
		cli_usage_exit("unexpected argument");
	if (!ifname || !cfg.listen || !certdir)
		cli_usage_exit("-i IFACE, -l [ADDR:]PORT and -c CERTDIR are required");
	if (!cfg.name) {
		if (gethostname(host, sizeof(host)))
			cli_usage_exit("no -n NAME and no host name");
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		cfg.name = host;
	}
	rt_log_set_level(verbose < RT_LOG_ERROR	  ? RT_LOG_ERROR
			 : verbose > RT_LOG_DEBUG ? RT_LOG_DEBUG
						  : verbose);
	rt_log_set_prefix("rtraced", 1);

	if (d.policy_path) {
		if (policy_load(&pol, d.policy_path, err, sizeof(err))) {
			rt_err("policy: %s", err);
			return 1;
		}
	} else if (!(pol = policy_new())) {
		rt_err("out of memory");
		return 1;
	}
	if (tls_ctx_new(&d.tls, TLS_SERVER, certdir, cfg.name, err, sizeof(err))) {
		rt_err("certificates: %s", err);
		goto out;
	}
	policy_global_limits(pol, &glim);
	eo.ifname = ifname;
	eo.pps = pps ? pps : glim.rate_pps;
	eng = probe_engine_new(&eo);
	if (!eng) {
		rt_err("%s: cannot start the probe engine: %s", ifname, strerror(errno));
		goto out;
	}
	if (agent_new(&d.ag, eng, d.tls, pol, &cfg, err, sizeof(err))) {
		rt_err("listen: %s", err);
		goto out;
	}
	pol = NULL; /* the agent's now */
	/* SIGTERM/SIGINT stop, SIGHUP reloads */
	sigfd = cli_signalfd(probe_engine_sched(eng), (const int[]){SIGTERM, SIGINT, SIGHUP, 0},
			     on_signal, &d);
	if (sigfd < 0) {
		rt_err("signals: %s", strerror(-sigfd));
		goto out;
	}
	src = probe_engine_src(eng);
	rt_info("agent %s on %s (%s), %lu pps, listening on port %u%s", cfg.name, ifname,
		inet_ntop(AF_INET, &src, a, sizeof(a)), (unsigned long)eo.pps, agent_port(d.ag),
		cfg.no_spoof ? ", no spoofing" : "");
	rc = sched_run(probe_engine_sched(eng)) ? 1 : 0;
	/* Tell the clients, cancel their requests, flush (bounded). */
	if (agent_shutdown(d.ag, 2000))
		rt_warn("stopping: clients or requests still there after 2 s, dropped");
	probe_engine_stats(eng, &st);
	agent_stats(d.ag, &as);
	rt_info("stopped: %llu requests served, %llu clients refused, %llu requests refused, "
		"%llu cancelled, %llu probes, %llu replies",
		(unsigned long long)as.served, (unsigned long long)as.refused,
		(unsigned long long)as.rejected, (unsigned long long)as.cancelled,
		(unsigned long long)st.probes, (unsigned long long)st.replies);
out:
	agent_free(d.ag);
	if (sigfd >= 0) {
		sched_del_fd(probe_engine_sched(eng), sigfd);
		close(sigfd);
	}
	probe_engine_free(eng); /* detaches XDP */
	tls_ctx_free(d.tls);
	policy_free(pol);
	return rc;
}
