/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * probecli.h - the command-line options of the probe primitives (ping,
 * trace, listen; the transmit and receive backends), parsed into the option
 * structs of probe.h, for rtrace-probe and any other front end that takes
 * the same options. Parsers use getopt(3) (the caller sets optind), never
 * print or exit: they return -EINVAL with a message a person can act on in
 * err ("" when getopt already printed its own).
 */
#ifndef RTRACE_PROBECLI_H
#define RTRACE_PROBECLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rtrace/probe.h"

/* Help text of the ping, trace and listen options (for a usage message). */
extern const char probecli_help[];

/*
 * ping [-c N] [-R] [-T tsonly|tsandaddr|tsprespec=IP[,IP..4]] [-S SRC [-Q REQ]]
 * [-m TTL] [-s SIZE] [-i SECONDS] [-W SECONDS]: fills *p (a spoofed ping
 * without -Q gets a random request id). Returns the index of the first
 * argument after the options, or -EINVAL.
 */
int probecli_ping(int argc, char **argv, struct probe_ping_opts *p, char *err, size_t errlen);
/* trace [-f FIRST] [-m MAX] [-q ATTEMPTS] [-g GAPLIMIT] [-P METHOD] [-s SIZE] [-W SECONDS]. */
int probecli_trace(int argc, char **argv, struct probe_trace_opts *t, char *err, size_t errlen);
/* listen [-t SECONDS]. */
int probecli_listen(int argc, char **argv, struct probe_listen_opts *l, char *err, size_t errlen);

/* A number in [lo, hi] into *v; 0 or -EINVAL ("WHAT: 'S' is not a number in [lo, hi]"). */
int probecli_num(const char *s, double lo, double hi, const char *what, double *v, char *err,
		 size_t errlen);
/* "ring"/"sendmmsg" -> enum txring_backend; -EINVAL otherwise. */
int probecli_tx_mode(const char *s);
/* "auto"/"xdp"/"xdp-generic"/"ring" -> enum rx_mode; -EINVAL otherwise. */
int probecli_rx_mode(const char *s);
/* Why a measurement of dst could not start (probe_ping()/probe_trace() error), into buf. */
const char *probecli_target_error(int err, uint32_t dst, char *buf, size_t len);

/* Why probe_engine_new() failed on ifname (its errno), into buf: what to do about it. */
const char *probecli_engine_error(const char *ifname, int err, char *buf, size_t len);
/*
 * One line of engine counters to f (e.g. stderr at exit): always when
 * verbose, else only if something was dropped or targets failed.
 */
void probecli_print_stats(FILE *f, struct probe_engine *e, unsigned long failed, int verbose);

#endif /* RTRACE_PROBECLI_H */
