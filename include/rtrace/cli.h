/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cli.h - what the command mains share: the usage text and its exits, number
 * options, the route to a destination, a signalfd on the event loop, and the
 * options rtrace and rtrace-batch both take (interface, agents, certificates,
 * probe rate, technique switches, probe budget, verbosity). For the mains
 * only: unlike the rest of the library, the cli_*_exit() paths and the option
 * parsers print to stderr and exit(2) on a usage error, as a command does.
 */
#ifndef RTRACE_CLI_H
#define RTRACE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "rtrace/revtr.h"
#include "rtrace/revtr_backend.h"
#include "rtrace/sched.h"

/* The program name for messages ("PROG: msg") and the text -h prints. */
void cli_init(const char *prog, const char *usage);

/* "PROG: msg" (if msg is neither NULL nor ""), the usage text on stderr, exit(2). */
__attribute__((noreturn)) void cli_usage_exit(const char *msg);

/* The usage text on stdout, exit(0) (-h, --help). */
__attribute__((noreturn)) void cli_help_exit(void);

/* S as a number in [lo, hi]; else a usage error "WHAT: 'S' is not a number in [lo, hi]". */
double cli_num(const char *s, double lo, double hi, const char *what);

/*
 * The interface (IF_NAMESIZE bytes into ifname), preferred source address and
 * gateway (0: on link) of the route from this host to dst
 * (netinfo_route_iface()), for a client that traces dst: 0, -EADDRNOTAVAIL
 * when dst is an address of this host, -ENETUNREACH when no unicast route
 * leads there, or the netlink error. ifname, *src and *gw are set on success
 * only.
 */
int cli_route_of(uint32_t dst, char *ifname, uint32_t *src, uint32_t *gw);

/*
 * Block sigs (0-terminated) and return a non-blocking signalfd that delivers
 * them (the caller closes it), or -errno.
 */
int cli_sigfd(const int *sigs);

/*
 * cli_sigfd(sigs), registered on s with cb(ctx) (EPOLLIN). Returns the fd
 * (the caller closes it), or -errno.
 */
int cli_signalfd(struct sched *s, const int *sigs, sched_fd_cb cb, void *ctx);

/* The number of the next signal read from signalfd fd, 0 if none is pending. */
int cli_signal_read(int fd);

/*
 * The options of the reverse-traceroute clients (rtrace, rtrace-batch):
 * -i IFACE, -a AGENT (repeatable), -c CERTDIR, -n NAME, -r PPS, -v, and the
 * long options of CLI_REVTR_LONGOPTS (--no-cache only where the caller adds
 * CLI_REVTR_NOCACHE to its table).
 */
#define CLI_REVTR_SHORTOPTS "i:a:c:n:r:v"

enum {
	CLI_O_NOSPOOF = 256,
	CLI_O_NOTS,
	CLI_O_NOATLAS,
	CLI_O_NOSYM,
	CLI_O_NOAGENT,
	CLI_O_NOCACHE,
	CLI_O_MAXPROBES,
	CLI_O_FIRST_FREE /* the caller's own long options start here */
};

/* clang-format off */
#define CLI_REVTR_LONGOPTS                                          \
	{ "no-spoof", no_argument, NULL, CLI_O_NOSPOOF },           \
	{ "no-ts", no_argument, NULL, CLI_O_NOTS },                 \
	{ "no-atlas", no_argument, NULL, CLI_O_NOATLAS },           \
	{ "no-sym", no_argument, NULL, CLI_O_NOSYM },               \
	{ "no-agent", no_argument, NULL, CLI_O_NOAGENT },           \
	{ "max-probes", required_argument, NULL, CLI_O_MAXPROBES }
#define CLI_REVTR_NOCACHE { "no-cache", no_argument, NULL, CLI_O_NOCACHE }
/* clang-format on */

struct cli_revtr {
	struct rtb_opts bo;    /* backend: rate, agents, certificates (bo.agents = agents) */
	struct revtr_cfg rcfg; /* technique flags, probe budget (revtr_cfg_init() defaults) */
	const char *agents[REVTR_MAX_AGENTS]; /* -a, in order */
	const char *ifname;		      /* -i, NULL: the route's interface */
	int verbose;			      /* -v count */
};

/* Zero *o, point o->bo.agents at o->agents, revtr_cfg_init(&o->rcfg). */
void cli_revtr_init(struct cli_revtr *o);

/*
 * Handle getopt_long's c (with its optarg arg) if it is one of the shared
 * options: true, else false (the caller's own option or an error).
 */
bool cli_revtr_opt(struct cli_revtr *o, int c, const char *arg);

/* After parsing: -a needs -c and -n (usage error otherwise). */
void cli_revtr_check(const struct cli_revtr *o);

/* The log level of -v count and -q: error if quiet, else warn, info, debug. */
void cli_log_level(int verbose, bool quiet);

/*
 * A status line on a terminal's stderr: rewrite the current line with line,
 * cut to the terminal's width (a wrapped line could not be taken back by the
 * next redraw). cli_status_clear() blanks it before other output.
 */
void cli_status_redraw(const char *line);
void cli_status_clear(void);

#endif /* RTRACE_CLI_H */
