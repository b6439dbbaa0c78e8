// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * classify.bpf.c - the XDP receive classifier of rtrace.
 *
 * Runs bpf/parse.h on every frame of the probing interface. A reply to one
 * of our probes (rt_reply_is_ours() under the rodata config match_cfg)
 * becomes one struct rtrace_reply in the ring buffer `rb` and is dropped;
 * everything else, malformed frames included, passes to the stack untouched.
 * Per-CPU counters (enum rtrace_counter) count seen / ours / ring-full /
 * malformed. When the ring buffer is full the reply is counted as RINGFULL
 * and passed, not dropped: it is lost to rtrace either way, and passing
 * keeps it visible to tcpdump and raw sockets while the reader catches up.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "parse.h"

/* The loader sizes it with bpf_map__set_max_entries(); this is the default. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RTRACE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Per-CPU scratch: the record being parsed and the option walk state. */
struct rt_scratch {
	struct rtrace_reply r;
	struct rt_scan sc;
};

/* Scratch lives in a map, not on the stack: see RT_SCRATCH in parse.h. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rt_scratch);
} scratch SEC(".maps");

/* Set by the loader on the skeleton before load. */
const volatile struct rtrace_match match_cfg = {};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

SEC("xdp")
int rtrace_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile struct rtrace_reply *r;
	struct rtrace_reply *out;
	struct rtrace_match m;
	struct rt_scratch *s;
	__u32 zero = 0;
	int rc;

	count(RTRACE_CNT_SEEN);
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return XDP_PASS;
	r = &s->r;
	__builtin_memset(&s->r, 0, sizeof(s->r));
	rc = rt_parse(data, data_end, r, &s->sc);
	if (rc == RT_PARSE_BAD) {
		count(RTRACE_CNT_MALFORMED);
		return XDP_PASS;
	}
	if (rc != RT_PARSE_OK)
		return XDP_PASS;
	m = match_cfg;
	if (!rt_reply_is_ours(r, &m))
		return XDP_PASS;
	r->rx_ns = bpf_ktime_get_ns();
	r->ifindex = ctx->ingress_ifindex;
	out = bpf_ringbuf_reserve(&rb, sizeof(*out), 0);
	if (!out) {
		count(RTRACE_CNT_RINGFULL);
		return XDP_PASS;
	}
	__builtin_memcpy(out, &s->r, sizeof(*out));
	bpf_ringbuf_submit(out, 0);
	count(RTRACE_CNT_OURS);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
