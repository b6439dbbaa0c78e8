// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probecli.c - command-line options of the probe primitives into probe.h's
 * option structs (see include/rtrace/probecli.h). Pure apart from getopt's
 * global state and random() for a spoofed ping's default request id.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/probecli.h"
#include "rtrace/rx.h"
#include "rtrace/txring.h"

const char probecli_help[] =
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
	"  (rtrace-probe ping -S OURADDR run at the VP) for SECONDS (default: until ^C)\n";

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -EINVAL;                                                                    \
	} while (0)

int probecli_num(const char *s, double lo, double hi, const char *what, double *v, char *err,
		 size_t errlen)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || *v < lo || *v > hi)
		FAIL("%s: '%s' is not a number in [%g, %g]", what, s, lo, hi);
	return 0;
}

/* A number option into *out (any integer or double lvalue). */
#define NUM(out, lo, hi, what)                                                                     \
	do {                                                                                       \
		double _v;                                                                         \
		if (probecli_num(optarg, (lo), (hi), (what), &_v, err, errlen))                    \
			return -EINVAL;                                                            \
		out = _v;                                                                          \
	} while (0)

/* Seconds (with decimals) into milliseconds. */
#define MSEC(out, lo, hi, what)                                                                    \
	do {                                                                                       \
		double _v;                                                                         \
		if (probecli_num(optarg, (lo), (hi), (what), &_v, err, errlen))                    \
			return -EINVAL;                                                            \
		out = _v * 1000;                                                                   \
	} while (0)

static int parse_ip(const char *s, const char *what, uint32_t *a, char *err, size_t errlen)
{
	if (inet_pton(AF_INET, s, a) != 1)
		FAIL("%s: '%s' is not an IPv4 address", what, s);
	return 0;
}

static int parse_ts(struct probe_ping_opts *p, const char *arg, char *err, size_t errlen)
{
	char buf[128], *tok, *save = NULL;

	if (!strcmp(arg, "tsonly")) {
		p->opt = PROBE_OPT_TSONLY;
		return 0;
	}
	if (!strcmp(arg, "tsandaddr")) {
		p->opt = PROBE_OPT_TSANDADDR;
		return 0;
	}
	if (strncmp(arg, "tsprespec=", 10) || strlen(arg) >= sizeof(buf))
		FAIL("-T: want tsonly, tsandaddr or tsprespec=IP[,IP..4]");
	p->opt = PROBE_OPT_TSPRESPEC;
	strcpy(buf, arg + 10);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (p->ntsps == RTRACE_TS_PAIRS)
			FAIL("-T tsprespec: at most 4 addresses");
		if (parse_ip(tok, "-T tsprespec", &p->tsps[p->ntsps++], err, errlen))
			return -EINVAL;
	}
	if (!p->ntsps)
		FAIL("-T tsprespec: at least one address");
	return 0;
}

int probecli_ping(int argc, char **argv, struct probe_ping_opts *p, char *err, size_t errlen)
{
	int c, have_req = 0, nopt = 0;

	*err = '\0';
	while ((c = getopt(argc, argv, "+c:RT:S:Q:m:s:i:W:")) != -1) {
		switch (c) {
		case 'c':
			NUM(p->count, 1, 65535, "-c");
			break;
		case 'R':
			p->opt = PROBE_OPT_RR;
			nopt++;
			break;
		case 'T':
			if (parse_ts(p, optarg, err, errlen))
				return -EINVAL;
			nopt++;
			break;
		case 'S':
			if (parse_ip(optarg, "-S", &p->spoof_src, err, errlen))
				return -EINVAL;
			break;
		case 'Q':
			NUM(p->spoof_req, 0, 4294967295.0, "-Q");
			have_req = 1;
			break;
		case 'm':
			NUM(p->ttl, 1, 255, "-m");
			break;
		case 's':
			NUM(p->size, 1, 1500, "-s");
			break;
		case 'i':
			MSEC(p->interval_ms, 0.001, 3600, "-i");
			break;
		case 'W':
			MSEC(p->wait_ms, 0.001, 3600, "-W");
			break;
		default:
			return -EINVAL;
		}
	}
	if (nopt > 1)
		FAIL("ping: -R and -T are exclusive (one IP option per probe)");
	if (p->spoof_src && !have_req)
		p->spoof_req = (uint32_t)random();
	return optind;
}

int probecli_trace(int argc, char **argv, struct probe_trace_opts *t, char *err, size_t errlen)
{
	int c;

	*err = '\0';
	while ((c = getopt(argc, argv, "+f:m:q:g:P:s:W:")) != -1) {
		switch (c) {
		case 'f':
			NUM(t->first_ttl, 1, 255, "-f");
			break;
		case 'm':
			NUM(t->max_ttl, 1, 255, "-m");
			break;
		case 'q':
			NUM(t->attempts, 1, 10, "-q");
			break;
		case 'g':
			NUM(t->gaplimit, 1, 255, "-g");
			break;
		case 'P':
			if (!strcmp(optarg, "icmp-paris"))
				t->method = PROBE_TRACE_ICMP_PARIS;
			else if (!strcmp(optarg, "udp-paris"))
				t->method = PROBE_TRACE_UDP_PARIS;
			else
				FAIL("-P: want icmp-paris or udp-paris");
			break;
		case 's':
			NUM(t->size, 1, 1500, "-s");
			break;
		case 'W':
			MSEC(t->wait_ms, 0.001, 3600, "-W");
			break;
		default:
			return -EINVAL;
		}
	}
	if (t->first_ttl && t->max_ttl && t->first_ttl > t->max_ttl)
		FAIL("trace: -f FIRST is larger than -m MAX");
	return optind;
}

int probecli_listen(int argc, char **argv, struct probe_listen_opts *l, char *err, size_t errlen)
{
	int c;

	*err = '\0';
	while ((c = getopt(argc, argv, "+t:")) != -1) {
		switch (c) {
		case 't':
			MSEC(l->duration_ms, 0.001, 31536000, "-t");
			break;
		default:
			return -EINVAL;
		}
	}
	return optind;
}

int probecli_tx_mode(const char *s)
{
	if (!strcmp(s, "ring"))
		return TXRING_RING;
	if (!strcmp(s, "sendmmsg"))
		return TXRING_MMSG;
	return -EINVAL;
}

int probecli_rx_mode(const char *s)
{
	if (!strcmp(s, "auto"))
		return RX_MODE_AUTO;
	if (!strcmp(s, "xdp"))
		return RX_MODE_XDP_NATIVE;
	if (!strcmp(s, "xdp-generic"))
		return RX_MODE_XDP_GENERIC;
	if (!strcmp(s, "ring"))
		return RX_MODE_RING;
	return -EINVAL;
}

const char *probecli_target_error(int err, uint32_t dst, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	switch (err) {
	case -ENETUNREACH:
		snprintf(buf, len, "%s: no route through the probing interface", ip);
		break;
	case -EHOSTUNREACH:
		snprintf(buf, len, "%s: next hop unreachable (no ARP answer)", ip);
		break;
	case -EADDRNOTAVAIL:
		snprintf(buf, len, "%s: is a local address (nothing to probe)", ip);
		break;
	case -EINVAL:
		snprintf(buf, len, "%s: invalid options (size too small for the option?)", ip);
		break;
	default:
		snprintf(buf, len, "%s: %s", ip, strerror(-err));
	}
	return buf;
}

const char *probecli_engine_error(const char *ifname, int err, char *buf, size_t len)
{
	switch (err) {
	case ENODEV:
		snprintf(buf, len, "%s: no such interface", ifname);
		break;
	case EPERM:
	case EACCES:
		snprintf(buf, len,
			 "%s: permission denied: the TX ring needs cap_net_raw, the XDP classifier "
			 "cap_net_admin and cap_bpf (run as root)",
			 ifname);
		break;
	case EADDRNOTAVAIL:
		snprintf(buf, len, "%s: the interface has no IPv4 address", ifname);
		break;
	default:
		snprintf(buf, len, "%s: cannot start the probe engine: %s", ifname, strerror(err));
	}
	return buf;
}

void probecli_print_stats(FILE *f, struct probe_engine *e, unsigned long failed, int verbose)
{
	struct probe_stats st;
	int dropped;

	probe_engine_stats(e, &st);
	dropped = st.rx_ringfull || st.ring_full || st.tx_errors || st.rx_malformed;
	if (!verbose && !dropped && !failed)
		return;
	fprintf(f,
		"rtrace-probe: tx %s rx %s: %lu probes, %lu replies (%lu matched, %lu spoofed, "
		"%lu stale, %lu unmatched), %lu timeouts; dropped: %lu rx ring buffer full, "
		"%lu tx ring full, %lu tx errors; %lu malformed; %lu targets failed\n",
		st.tx_mode, st.rx_mode, (unsigned long)st.probes, (unsigned long)st.replies,
		(unsigned long)st.matched, (unsigned long)st.spoofed, (unsigned long)st.stale,
		(unsigned long)st.unmatched, (unsigned long)st.timeouts,
		(unsigned long)st.rx_ringfull, (unsigned long)st.ring_full,
		(unsigned long)st.tx_errors, (unsigned long)st.rx_malformed, failed);
}
