// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * status.c - the status line of rtrace-batch (progress, rates over a sliding
 * window, ETA, share of traces that reach the source) and the process
 * memory figures of its summary. Pure formatting plus one /proc read.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/batch.h"

void batch_rate_sample(struct batch_rate *r, uint64_t now_ns, uint64_t done, uint64_t probes)
{
	unsigned i = (r->head + r->n) % BATCH_RATE_SAMPLES;

	if (r->n == BATCH_RATE_SAMPLES) {
		i = r->head;
		r->head = (r->head + 1) % BATCH_RATE_SAMPLES;
	} else {
		r->n++;
	}
	r->t[i] = now_ns;
	r->a[i] = done;
	r->b[i] = probes;
}

void batch_rate_get(const struct batch_rate *r, double *done_ps, double *probes_ps)
{
	unsigned last = (r->head + r->n - 1) % BATCH_RATE_SAMPLES;
	double dt;

	*done_ps = *probes_ps = 0;
	if (r->n < 2 || r->t[last] <= r->t[r->head])
		return;
	dt = (double)(r->t[last] - r->t[r->head]) / 1e9;
	*done_ps = (double)(r->a[last] - r->a[r->head]) / dt;
	*probes_ps = (double)(r->b[last] - r->b[r->head]) / dt;
}

static void fmt_eta(char *buf, size_t len, double s)
{
	unsigned long t;

	if (s < 0 || s > 1e8) {
		snprintf(buf, len, "--:--");
		return;
	}
	t = (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

size_t batch_status_format(char *buf, size_t len, const struct batch_counts *c, double done_ps,
			   double probes_ps)
{
	char eta[32];
	uint64_t left = c->total > c->done ? c->total - c->done : 0;
	double pct = c->total ? 100.0 * (double)c->done / (double)c->total : 100.0;
	double reach = c->done ? 100.0 * (double)c->reached / (double)c->done : 0.0;
	int n;

	if (!left)
		fmt_eta(eta, sizeof(eta), 0);
	else
		fmt_eta(eta, sizeof(eta), done_ps > 0 ? (double)left / done_ps : -1);
	n = snprintf(buf, len,
		     "%llu/%llu %.1f%%  %.0f revtr/s  %.0f probes/s  ETA %s  reach %.1f%%  "
		     "inflight %llu",
		     (unsigned long long)c->done, (unsigned long long)c->total, pct, done_ps,
		     probes_ps, eta, reach, (unsigned long long)c->inflight);
	return n < 0 ? 0 : (size_t)n;
}

long batch_proc_kib(const char *field)
{
	char line[256];
	size_t fl = strlen(field);
	long v = -ENOENT;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

long batch_heap_kib(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

/* KiB as MiB with one decimal, "-" if not measured. */
static const char *mib(char *buf, size_t len, long kib)
{
	if (kib > 0)
		snprintf(buf, len, "%.1f", kib / 1024.0);
	else
		snprintf(buf, len, "-");
	return buf;
}

int batch_summary_write(FILE *f, const char *pfx, const struct batch_summary *s)
{
	const struct batch_counts *c = &s->c;
	double done = (double)c->done, secs = s->secs;
	char m[7][16];

	fprintf(f, "%s%llu/%zu traced in %.2f s: %.0f reverse traces/s, %llu probes (%.0f/s)%s\n",
		pfx, (unsigned long long)c->done, s->ntargets, secs, secs > 0 ? done / secs : 0,
		(unsigned long long)c->probes, secs > 0 ? (double)c->probes / secs : 0,
		s->interrupted ? ", interrupted: --resume continues" : "");
	fprintf(f,
		"%sreached the source %llu (%.1f%%), failed %llu; tree cache used by %llu "
		"(%.1f%%); retries %llu\n",
		pfx, (unsigned long long)c->reached, done ? 100.0 * (double)c->reached / done : 0,
		(unsigned long long)c->failed, (unsigned long long)c->cache_hit,
		done ? 100.0 * (double)c->cache_hit / done : 0, (unsigned long long)c->retries);
	if (s->in)
		fprintf(f,
			"%stargets: %zu lines, %zu bad, %zu refused, %zu duplicates, %zu already "
			"in "
			"%s (%llu records kept)\n",
			pfx, s->in->lines, s->in->bad, s->in->refused, s->in->dups, s->in->skipped,
			s->out, (unsigned long long)s->kept);
	fprintf(f,
		"%sRSS at 10%%/50%%/100%%: %s/%s/%s MiB (heap in use %s/%s/%s MiB), peak %s MiB\n",
		pfx, mib(m[0], 16, s->rss_kib[0]), mib(m[1], 16, s->rss_kib[1]),
		mib(m[2], 16, s->rss_kib[2]), mib(m[3], 16, s->heap_kib[0]),
		mib(m[4], 16, s->heap_kib[1]), mib(m[5], 16, s->heap_kib[2]),
		mib(m[6], 16, s->peak_kib));
	return ferror(f) ? -EIO : 0;
}
