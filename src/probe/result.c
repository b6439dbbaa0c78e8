// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * result.c - pure helpers on the result data model of probe.h: ping
 * statistics (scamper's rules: a probe counts once, further replies are
 * duplicates; population standard deviation) and stop-reason names.
 */
#include <math.h>
#include <string.h>

#include "rtrace/probe.h"

void probe_ping_stats(const struct probe_ping_result *r, struct probe_ping_stats *st)
{
	/* bitmap of answered probe numbers (< count; all 65536 if count is unset) */
	size_t nb = ((size_t)(r->count ? r->count : 65535) + 8) / 8;
	uint8_t seen[nb];
	double sum = 0, sq = 0;
	uint32_t i;

	memset(st, 0, sizeof(*st));
	memset(seen, 0, nb);
	for (i = 0; i < r->nreplies; i++) {
		const struct probe_ping_reply *p = &r->replies[i];
		double ms = p->rtt_ns / 1e6;

		if (p->from != r->dst) {
			st->errs++;
			continue;
		}
		if (p->seq >= nb * 8)
			continue;
		if (seen[p->seq >> 3] & (1u << (p->seq & 7))) {
			st->dups++;
			continue;
		}
		seen[p->seq >> 3] |= 1u << (p->seq & 7);
		if (!st->replies || ms < st->min_ms)
			st->min_ms = ms;
		if (ms > st->max_ms)
			st->max_ms = ms;
		sum += ms;
		st->replies++;
	}
	if (st->replies) {
		st->avg_ms = sum / st->replies;
		/* second pass, over the first reply of each probe */
		memset(seen, 0, nb);
		for (i = 0; i < r->nreplies; i++) {
			const struct probe_ping_reply *p = &r->replies[i];
			double d;

			if (p->from != r->dst || p->seq >= nb * 8 ||
			    (seen[p->seq >> 3] & (1u << (p->seq & 7))))
				continue;
			seen[p->seq >> 3] |= 1u << (p->seq & 7);
			d = p->rtt_ns / 1e6 - st->avg_ms;
			sq += d * d;
		}
		st->stddev_ms = sqrt(sq / st->replies);
	}
	st->loss = r->ping_sent ? (double)(r->ping_sent - st->replies) / r->ping_sent : 0;
	if (st->loss < 0)
		st->loss = 0;
}

const char *probe_stop_name(enum probe_stop s)
{
	static const char *const names[] = {
		[PROBE_STOP_NONE] = "NONE",	  [PROBE_STOP_COMPLETED] = "COMPLETED",
		[PROBE_STOP_UNREACH] = "UNREACH", [PROBE_STOP_ICMP] = "ICMP",
		[PROBE_STOP_LOOP] = "LOOP",	  [PROBE_STOP_GAPLIMIT] = "GAPLIMIT",
		[PROBE_STOP_ERROR] = "ERROR",	  [PROBE_STOP_HOPLIMIT] = "HOPLIMIT",
		[PROBE_STOP_HALTED] = "HALTED",
	};

	if ((unsigned int)s >= sizeof(names) / sizeof(names[0]))
		return "NONE";
	return names[s];
}
