// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cli.c - the command-line pieces the mains share (see include/rtrace/cli.h):
 * usage exits, number options, the route to a destination, the signalfd on
 * the event loop and the options common to rtrace and rtrace-batch. Front-end
 * code: its usage errors print and exit, which the library proper never does.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>

#include "rtrace/cli.h"
#include "rtrace/log.h"
#include "rtrace/netinfo.h"
#include "rtrace/probecli.h"

static const char *cli_prog = "rtrace";
static const char *cli_usage = "";

void cli_init(const char *prog, const char *usage)
{
	cli_prog = prog;
	cli_usage = usage;
}

void cli_usage_exit(const char *msg)
{
	if (msg && *msg)
		fprintf(stderr, "%s: %s\n", cli_prog, msg);
	fprintf(stderr, "%s", cli_usage);
	exit(2);
}

void cli_help_exit(void)
{
	printf("%s", cli_usage);
	exit(0);
}

double cli_num(const char *s, double lo, double hi, const char *what)
{
	char msg[160];
	double v;

	if (probecli_num(s, lo, hi, what, &v, msg, sizeof(msg)))
		cli_usage_exit(msg);
	return v;
}

int cli_route_of(uint32_t dst, char *ifname, uint32_t *src, uint32_t *gw)
{
	struct netinfo_route r;
	char name[IF_NAMESIZE];
	int err = netinfo_route_iface(dst, name, &r);

	if (err)
		return err;
	if (r.type != RTN_UNICAST)
		return r.type == RTN_LOCAL ? -EADDRNOTAVAIL : -ENETUNREACH;
	memcpy(ifname, name, IF_NAMESIZE);
	*src = r.prefsrc;
	*gw = r.gateway;
	return 0;
}

int cli_sigfd(const int *sigs)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	for (; *sigs; sigs++)
		sigaddset(&mask, *sigs);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cli_signalfd(struct sched *s, const int *sigs, sched_fd_cb cb, void *ctx)
{
	int fd = cli_sigfd(sigs), err;

	if (fd < 0)
		return fd;
	err = sched_add_fd(s, fd, EPOLLIN, cb, ctx);
	if (err) {
		close(fd);
		return err < 0 ? err : -EINVAL;
	}
	return fd;
}

int cli_signal_read(int fd)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

void cli_revtr_init(struct cli_revtr *o)
{
	memset(o, 0, sizeof(*o));
	o->bo.agents = o->agents;
	revtr_cfg_init(&o->rcfg);
}

bool cli_revtr_opt(struct cli_revtr *o, int c, const char *arg)
{
	switch (c) {
	case 'i':
		o->ifname = arg;
		break;
	case 'a':
		if (o->bo.nagents == REVTR_MAX_AGENTS)
			cli_usage_exit("-a: at most 64 agents");
		o->agents[o->bo.nagents++] = arg;
		break;
	case 'c':
		o->bo.certdir = arg;
		break;
	case 'n':
		o->bo.name = arg;
		break;
	case 'r':
		o->bo.pps = (uint64_t)cli_num(arg, 1, 1e9, "-r");
		break;
	case 'v':
		o->verbose++;
		break;
	case CLI_O_NOSPOOF:
		o->rcfg.flags |= REVTR_NO_SPOOF;
		break;
	case CLI_O_NOTS:
		o->rcfg.flags |= REVTR_NO_TS;
		break;
	case CLI_O_NOATLAS:
		o->rcfg.flags |= REVTR_NO_ATLAS;
		break;
	case CLI_O_NOSYM:
		o->rcfg.flags |= REVTR_NO_SYM;
		break;
	case CLI_O_NOAGENT:
		o->rcfg.flags |= REVTR_NO_AGENT;
		break;
	case CLI_O_NOCACHE:
		o->rcfg.flags |= REVTR_NO_CACHE;
		break;
	case CLI_O_MAXPROBES:
		o->rcfg.max_probes = (unsigned)cli_num(arg, 0, 1e9, "--max-probes");
		break;
	default:
		return false;
	}
	return true;
}

void cli_revtr_check(const struct cli_revtr *o)
{
	if (o->bo.nagents && (!o->bo.certdir || !o->bo.name))
		cli_usage_exit("-a AGENT needs -c CERTDIR and -n NAME (tools/rtrace-keygen makes "
			       "them)");
}

void cli_log_level(int verbose, bool quiet)
{
	rt_log_set_level(quiet	       ? RT_LOG_ERROR
			 : verbose > 1 ? RT_LOG_DEBUG
			 : verbose     ? RT_LOG_INFO
				       : RT_LOG_WARN);
}

void cli_status_redraw(const char *line)
{
	struct winsize ws;
	int width = 80;

	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 20)
		width = ws.ws_col;
	fprintf(stderr, "\r\033[K%.*s", width - 1, line);
}

void cli_status_clear(void)
{
	fputs("\r\033[K", stderr);
}
