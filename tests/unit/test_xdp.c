// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_xdp.c - the XDP classifier run on codec frames with
 * bpf_prog_test_run_opts() (no NIC): verdicts (DROP ours, PASS the rest),
 * ring-buffer records equal to what codec_parse_frame() makes of the same
 * frame, per-CPU counters, the ring-full path, and verdict/record parity
 * with the user-space parser on randomly corrupted frames. Needs root.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/codec.h"
#include "rtrace/wire.h"
#include "classify.skel.h"

#define A(s) inet_addr(s)
#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define MAXREC 256

static struct rtrace_reply recs[MAXREC];
static int nrec;

static int on_rec(void *ctx, void *data, size_t size)
{
	(void)ctx;
	cr_assert_eq(size, sizeof(struct rtrace_reply));
	if (nrec < MAXREC)
		memcpy(&recs[nrec], data, size);
	nrec++;
	return 0;
}

struct rig {
	struct classify_bpf *skel;
	struct ring_buffer *rb;
	int prog_fd;
};

static void rig_up(struct rig *g, const struct rtrace_match *m, unsigned ring_bytes)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (cap_bpf)");
	g->skel = classify_bpf__open();
	cr_assert_not_null(g->skel, "open: %d", -errno);
	g->skel->rodata->match_cfg = *m;
	if (ring_bytes)
		cr_assert_eq(bpf_map__set_max_entries(g->skel->maps.rb, ring_bytes), 0);
	cr_assert_eq(classify_bpf__load(g->skel), 0, "load failed (verifier?)");
	g->prog_fd = bpf_program__fd(g->skel->progs.rtrace_xdp);
	g->rb = ring_buffer__new(bpf_map__fd(g->skel->maps.rb), on_rec, NULL, NULL);
	cr_assert_not_null(g->rb);
	nrec = 0;
}

static void rig_down(struct rig *g)
{
	ring_buffer__free(g->rb);
	classify_bpf__destroy(g->skel);
}

static int run(struct rig *g, const void *frame, int len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(g->prog_fd, &opts), 0, "test_run: %d", -errno);
	return opts.retval;
}

static unsigned long long counter(struct rig *g, __u32 idx)
{
	int n = libbpf_num_possible_cpus();
	unsigned long long v[n], sum = 0;

	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(g->skel->maps.counters), &idx, v), 0);
	for (int i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

static void spec(struct codec_probe_spec *s, enum codec_proto p, enum codec_opt o)
{
	memset(s, 0, sizeof(*s));
	s->saddr = A("10.1.0.1");
	s->daddr = A("10.9.0.7");
	s->ttl = 5;
	s->proto = p;
	s->opt = o;
	s->payload_len = 48;
	s->icmp_id = 0x1234;
	s->icmp_seq = 9;
	s->ip_id = 2;
	s->sport = 45000;
	s->dport = CODEC_UDP_DPORT;
	s->spoofer = s->saddr;
	s->req = 0x20009;
	s->aux = 1;
	if (o == CODEC_OPT_TS_PRESPEC) {
		s->ts_addr[0] = s->daddr;
		s->ts_naddr = 1;
	}
}

/* One frame of each reply kind we classify, plus the answer we expect. */
static int make_frames(uint8_t f[][CODEC_FRAME_MAX], int *len, int *ours)
{
	static const enum codec_opt opts[] = {CODEC_OPT_NONE, CODEC_OPT_RR, CODEC_OPT_TS_ONLY,
					      CODEC_OPT_TS_ADDR, CODEC_OPT_TS_PRESPEC};
	uint8_t probe[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	int n = 0, pl;

	for (int o = 0; o < 5; o++) {
		spec(&s, CODEC_PROTO_ICMP, opts[o]);
		pl = codec_build(probe, sizeof(probe), &s);
		len[n] = codec_mirror_echo(f[n], CODEC_FRAME_MAX, probe, pl, s.daddr, 42);
		ours[n++] = 1;
		for (int p = 0; p < 2; p++) {
			spec(&s, p, opts[o]);
			pl = codec_build(probe, sizeof(probe), &s);
			len[n] = codec_build_icmp_error(f[n], CODEC_FRAME_MAX, probe, pl,
							A("10.5.0.1"), 11, 0, 64, o & 1);
			ours[n++] = 1;
		}
	}
	/* another instance's echo reply */
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	s.icmp_id = 0x9999;
	pl = codec_build(probe, sizeof(probe), &s);
	len[n] = codec_mirror_echo(f[n], CODEC_FRAME_MAX, probe, pl, s.daddr, 42);
	ours[n++] = 0;
	/* a reply to a spoofed probe (not accepted in this config) */
	spec(&s, CODEC_PROTO_UDP, CODEC_OPT_NONE);
	s.proto = CODEC_PROTO_ICMP;
	s.icmp_id = RTRACE_SPOOF_ICMP_ID;
	pl = codec_build(probe, sizeof(probe), &s);
	len[n] = codec_mirror_echo(f[n], CODEC_FRAME_MAX, probe, pl, s.daddr, 42);
	ours[n++] = 0;
	/* an echo request (not a reply) */
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_NONE);
	len[n] = codec_build(f[n], CODEC_FRAME_MAX, &s);
	ours[n++] = 0;
	/* a malformed echo reply: RR pointer 3 (IP checksum still right) */
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	pl = codec_build(probe, sizeof(probe), &s);
	len[n] = codec_mirror_echo(f[n], CODEC_FRAME_MAX, probe, pl, s.daddr, 42);
	f[n][14 + 23] = 3;
	f[n][14 + 10] = f[n][14 + 11] = 0;
	{
		uint16_t c = codec_csum16(f[n] + 14, 60);

		f[n][14 + 10] = c >> 8;
		f[n][14 + 11] = c & 0xff;
	}
	ours[n++] = -1;
	return n;
}

static void assert_same_record(const struct rtrace_reply *got, const struct rtrace_reply *want)
{
	struct rtrace_reply g = *got;

	cr_assert_neq(g.rx_ns, 0);
	g.rx_ns = 0;
	g.ifindex = 0;
	cr_assert_eq(memcmp(&g, want, sizeof(g)), 0, "XDP record differs from codec_parse_frame");
}

Test(xdp, verdicts_records_counters)
{
	static uint8_t f[32][CODEC_FRAME_MAX];
	int len[32], ours[32], n, drops = 0, bad = 0;
	struct rtrace_match m = {.addr = A("10.1.0.1"), .icmp_id = 0x1234, .udp_sport = 45000};
	struct rig g;

	rig_up(&g, &m, 0);
	n = make_frames(f, len, ours);
	for (int i = 0; i < n; i++) {
		struct rtrace_reply want;
		int rc = codec_parse_frame(f[i], len[i], &want), v;

		cr_assert_gt(len[i], 0);
		cr_assert_eq(rc, ours[i] < 0 ? -EBADMSG : (i == n - 2 ? 0 : 1), "frame %d", i);
		v = run(&g, f[i], len[i]);
		cr_assert_eq(v, ours[i] == 1 ? XDP_DROP_ : XDP_PASS_, "frame %d verdict %d", i, v);
		nrec = 0;
		ring_buffer__consume(g.rb);
		cr_assert_eq(nrec, ours[i] == 1, "frame %d: %d records", i, nrec);
		if (ours[i] == 1) {
			assert_same_record(&recs[0], &want);
			drops++;
		}
		bad += ours[i] < 0;
	}
	cr_assert_eq(counter(&g, RTRACE_CNT_SEEN), (unsigned long long)n);
	cr_assert_eq(counter(&g, RTRACE_CNT_OURS), (unsigned long long)drops);
	cr_assert_eq(counter(&g, RTRACE_CNT_MALFORMED), (unsigned long long)bad);
	cr_assert_eq(counter(&g, RTRACE_CNT_RINGFULL), 0);
	rig_down(&g);
}

Test(xdp, spoofed_replies_when_accepted)
{
	struct rtrace_match m = {.addr = A("10.1.0.1"), .icmp_id = 0x1234, .accept_spoofed = 1};
	uint8_t probe[CODEC_FRAME_MAX], f[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	struct rtrace_reply want;
	struct rig g;
	int pl, len;

	rig_up(&g, &m, 0);
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_RR);
	s.icmp_id = RTRACE_SPOOF_ICMP_ID;
	s.spoofer = A("10.7.0.1");
	pl = codec_build(probe, sizeof(probe), &s);
	len = codec_mirror_echo(f, sizeof(f), probe, pl, s.daddr, 1);
	cr_assert_eq(codec_parse_frame(f, len, &want), 1);
	cr_assert_eq(run(&g, f, len), XDP_DROP_);
	nrec = 0;
	ring_buffer__consume(g.rb);
	cr_assert_eq(nrec, 1);
	assert_same_record(&recs[0], &want);
	cr_assert(recs[0].flags & RTRACE_F_SPOOFED);
	cr_assert_eq(recs[0].cookie.spoofer, A("10.7.0.1"));
	/* to another address: not ours */
	memcpy(f + 14 + 16, (uint32_t[]){A("10.1.0.9")}, 4);
	f[14 + 10] = f[14 + 11] = 0;
	{
		uint16_t c = codec_csum16(f + 14, 60);

		f[14 + 10] = c >> 8;
		f[14 + 11] = c & 0xff;
	}
	cr_assert_eq(run(&g, f, len), XDP_PASS_);
	rig_down(&g);
}

Test(xdp, ring_full_is_counted_and_passed)
{
	struct rtrace_match m = {.icmp_id = 0x1234};
	uint8_t probe[CODEC_FRAME_MAX], f[CODEC_FRAME_MAX];
	struct codec_probe_spec s;
	int pl, len, drops = 0, passes = 0;
	struct rig g;

	rig_up(&g, &m, 4096); /* room for 4096 / (176 + 8) = 22 records */
	spec(&s, CODEC_PROTO_ICMP, CODEC_OPT_NONE);
	pl = codec_build(probe, sizeof(probe), &s);
	len = codec_mirror_echo(f, sizeof(f), probe, pl, s.daddr, 1);
	for (int i = 0; i < 40; i++) {
		int v = run(&g, f, len);

		drops += v == XDP_DROP_;
		passes += v == XDP_PASS_;
	}
	cr_assert_eq(drops, 4096 / (sizeof(struct rtrace_reply) + 8));
	cr_assert_eq(passes, 40 - drops);
	cr_assert_eq(counter(&g, RTRACE_CNT_RINGFULL), (unsigned long long)passes);
	cr_assert_eq(counter(&g, RTRACE_CNT_OURS), (unsigned long long)drops);
	nrec = 0;
	ring_buffer__consume(g.rb);
	cr_assert_eq(nrec, drops);
	/* drained: recording again */
	cr_assert_eq(run(&g, f, len), XDP_DROP_);
	rig_down(&g);
}

/* The BPF build and the user-space build of parse.h must agree, frame by frame. */
Test(xdp, parity_with_user_space_on_corrupted_frames, .timeout = 120)
{
	static uint8_t base[32][CODEC_FRAME_MAX];
	int blen[32], ours[32], nb, drops = 0, bad = 0, iters = 20000;
	struct rtrace_match m = {.addr = A("10.1.0.1"), .icmp_id = 0x1234, .udp_sport = 45000};
	struct rig g;

	rig_up(&g, &m, 0);
	nb = make_frames(base, blen, ours);
	srand(6);
	for (int i = 0; i < iters; i++) {
		uint8_t f[CODEC_FRAME_MAX];
		struct rtrace_reply want;
		int b = rand() % nb, len = blen[b], rc, v, want_v;

		memcpy(f, base[b], len);
		for (int k = rand() % 4; k >= 0; k--) {
			int at = 14 + rand() % (len - 14);

			f[at] = (rand() & 1) ? rand() : f[at] + 1;
		}
		if (rand() % 2) { /* repair the IP checksum to get past it */
			unsigned h = (f[14] & 0xf) * 4;

			if (h >= 20 && 14 + (int)h <= len) {
				uint16_t c;

				f[24] = f[25] = 0;
				c = codec_csum16(f + 14, h);
				f[24] = c >> 8;
				f[25] = c & 0xff;
			}
		}
		if (rand() % 8 == 0)
			len = 14 + rand() % (len - 14);
		rc = codec_parse_frame(f, len, &want);
		want_v = rc == 1 && codec_reply_is_ours(&want, &m) ? XDP_DROP_ : XDP_PASS_;
		v = run(&g, f, len);
		cr_assert_eq(v, want_v, "iteration %d: XDP %d, user space %d (rc %d)", i, v, want_v,
			     rc);
		bad += rc == -EBADMSG;
		nrec = 0;
		ring_buffer__consume(g.rb);
		cr_assert_eq(nrec, want_v == XDP_DROP_);
		if (nrec) {
			assert_same_record(&recs[0], &want);
			drops++;
		}
	}
	cr_assert_eq(counter(&g, RTRACE_CNT_MALFORMED), (unsigned long long)bad);
	cr_assert_eq(counter(&g, RTRACE_CNT_OURS), (unsigned long long)drops);
	cr_assert_gt(drops, 100);
	cr_assert_gt(bad, 100);
	rig_down(&g);
}

/* The verifier's work stays far from its 1M-instruction limit (see RT_SCRATCH). */
Test(xdp, verifier_budget)
{
	static char log[1 << 16];
	struct classify_bpf *skel;
	const char *p;
	long insns;

	if (geteuid() != 0)
		cr_skip_test("needs root (cap_bpf)");
	skel = classify_bpf__open();
	cr_assert_not_null(skel);
	bpf_program__set_log_buf(skel->progs.rtrace_xdp, log, sizeof(log));
	bpf_program__set_log_level(skel->progs.rtrace_xdp, 4); /* statistics only */
	cr_assert_eq(classify_bpf__load(skel), 0);
	p = strstr(log, "processed ");
	cr_assert_not_null(p, "no verifier statistics in: %s", log);
	insns = strtol(p + strlen("processed "), NULL, 10);
	cr_log_info("verifier processed %ld instructions", insns);
	cr_assert_gt(insns, 1000);
	cr_assert_lt(insns, 400000, "verifier processed %ld instructions (limit 1M)", insns);
	classify_bpf__destroy(skel);
}
