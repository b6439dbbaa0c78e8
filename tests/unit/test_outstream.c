// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_outstream.c - the writer-thread result stream: what it writes is byte
 * for byte what the printers write directly, in order, for pings, traces and
 * listen replies; across many wraps of its queue (the loop waiting for room);
 * with a record larger than the queue (written by the loop once the writer is
 * idle); records reach the file after a flush without close (a killed
 * process keeps them); a failing write is reported.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "rtrace/output.h"

/* One of three kinds of result, varied by i (replies and hops owned by the caller). */
static void make_result(unsigned int i, struct probe_result *r, struct probe_ping_reply *rep,
			struct probe_trace_hop *hops)
{
	unsigned int j;

	memset(r, 0, sizeof(*r));
	r->id = i + 1;
	if (i % 7 == 3) {
		r->kind = PROBE_TRACE;
		r->trace.dst = htonl(0x0a000000u + i);
		r->trace.src = htonl(0x0a010101u);
		r->trace.start = (struct timeval){1796313092 + i, i % 1000000};
		r->trace.first_ttl = 1;
		r->trace.max_ttl = 30;
		r->trace.attempts = 1;
		r->trace.nhops = 1 + i % 5;
		for (j = 0; j < r->trace.nhops; j++) {
			memset(&hops[j], 0, sizeof(hops[j]));
			hops[j].addr = htonl(0x0a020000u + j);
			hops[j].probe_ttl = (uint8_t)(j + 1);
			hops[j].probe_id = 1;
			hops[j].rtt_ns = 1000ull * (j + i % 100);
		}
		r->trace.hop_count = (uint8_t)r->trace.nhops;
		r->trace.hops = hops;
		return;
	}
	r->kind = PROBE_PING;
	r->ping.dst = htonl(0x0ac80000u + i);
	r->ping.src = htonl(0x0a010101u);
	r->ping.start = (struct timeval){1796313092 + i, i % 1000000};
	r->ping.count = 1;
	r->ping.ping_sent = 1;
	r->ping.probe_size = 84;
	r->ping.wait_ms = 2000;
	r->ping.interval_ms = 1000;
	if (i % 5 == 0) /* no reply */
		return;
	memset(rep, 0, sizeof(*rep));
	rep->from = r->ping.dst;
	rep->reply_size = 84;
	rep->reply_ttl = 64;
	rep->rtt_ns = 12345 + i;
	rep->tx = r->ping.start;
	rep->rx = r->ping.start;
	if (i % 3 == 0) {
		rep->flags = RTRACE_F_RR;
		rep->rr.count = 1 + i % 9;
		for (j = 0; j < rep->rr.count; j++)
			rep->rr.addr[j] = htonl(0x0a030000u + j);
	}
	r->ping.nreplies = 1;
	r->ping.replies = rep;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* n results through the stream and through output_write: the same bytes. */
static void same_as_direct(unsigned int n, enum output_fmt fmt)
{
	char pa[] = "/tmp/rtrace-os-a.XXXXXX", pb[] = "/tmp/rtrace-os-b.XXXXXX";
	FILE *fa = fdopen(mkstemp(pa), "w"), *fb = fdopen(mkstemp(pb), "w");
	struct probe_trace_hop hops[8];
	struct probe_ping_reply rep;
	struct probe_result r;
	struct output_stream *s;
	char *a, *b;
	size_t la, lb;
	unsigned int i;

	cr_assert(fa && fb);
	s = output_stream_new(fa, fmt);
	cr_assert_not_null(s);
	for (i = 0; i < n; i++) {
		make_result(i, &r, &rep, hops);
		cr_assert_eq(output_stream_put(s, &r), 0);
		/* the caller's copy is dead at once: the stream must have copied it */
		memset(&rep, 0xa5, sizeof(rep));
		memset(hops, 0xa5, sizeof(hops));
		if (i % 97 == 0)
			cr_assert_eq(output_stream_flush(s), 0);
		make_result(i, &r, &rep, hops);
		cr_assert_eq(output_write(fb, &r, fmt), 0);
	}
	cr_assert_eq(output_stream_close(s), 0);
	cr_assert_eq(fclose(fa), 0);
	cr_assert_eq(fclose(fb), 0);
	a = slurp(pa, &la);
	b = slurp(pb, &lb);
	cr_assert_gt(la, 0);
	cr_assert_eq(la, lb, "stream wrote %zu bytes, the printers %zu", la, lb);
	cr_assert(!memcmp(a, b, la), "stream output differs from the printers'");
	free(a);
	free(b);
	unlink(pa);
	unlink(pb);
}

Test(outstream, json_same_as_printers)
{
	same_as_direct(5000, OUTPUT_JSON);
}

Test(outstream, text_same_as_printers)
{
	same_as_direct(5000, OUTPUT_TEXT);
}

/* ~300k records of ~250-600 bytes: the 8 MiB queue wraps ~15 times, the loop waits for room. */
Test(outstream, many_wraps_in_order, .timeout = 120)
{
	same_as_direct(300000, OUTPUT_JSON);
}

/* A ping of 65535 replies (16+ MiB flat) between small records: written in its place. */
Test(outstream, record_larger_than_queue, .timeout = 60)
{
	char pa[] = "/tmp/rtrace-os-a.XXXXXX", pb[] = "/tmp/rtrace-os-b.XXXXXX";
	FILE *fa = fdopen(mkstemp(pa), "w"), *fb = fdopen(mkstemp(pb), "w");
	struct probe_ping_reply rep, *many = calloc(65535, sizeof(*many));
	struct probe_trace_hop hops[8];
	struct probe_result r, big;
	struct output_stream *s = output_stream_new(fa, OUTPUT_JSON);
	unsigned int i;
	char *a, *b;
	size_t la, lb;

	cr_assert(s && many && fb);
	make_result(1, &big, &rep, hops);
	big.ping.count = big.ping.ping_sent = 65535;
	for (i = 0; i < 65535; i++) {
		many[i] = rep;
		many[i].seq = (uint16_t)i;
	}
	big.ping.nreplies = 65535;
	big.ping.replies = many;
	for (i = 0; i < 3000; i++) {
		const struct probe_result *p = &r;

		if (i == 1500)
			p = &big;
		else
			make_result(i, &r, &rep, hops);
		cr_assert_eq(output_stream_put(s, p), 0);
		cr_assert_eq(output_write(fb, p, OUTPUT_JSON), 0);
	}
	cr_assert_eq(output_stream_close(s), 0);
	fclose(fa);
	fclose(fb);
	a = slurp(pa, &la);
	b = slurp(pb, &lb);
	cr_assert_gt(la, 65535 * 100);
	cr_assert_eq(la, lb);
	cr_assert(!memcmp(a, b, la));
	free(a);
	free(b);
	free(many);
	unlink(pa);
	unlink(pb);
}

/* Listen replies and results interleave in the order they were put. */
Test(outstream, listen_replies_in_order)
{
	char pa[] = "/tmp/rtrace-os-a.XXXXXX", pb[] = "/tmp/rtrace-os-b.XXXXXX";
	FILE *f = fdopen(mkstemp(pa), "w"), *w = fdopen(mkstemp(pb), "w");
	struct output_stream *s = output_stream_new(f, OUTPUT_JSON);
	struct probe_trace_hop hops[8];
	struct probe_ping_reply rep;
	struct probe_result r;
	char *buf, *want;
	size_t len, wlen;
	unsigned int i;

	cr_assert(s && w);
	for (i = 0; i < 200; i++) {
		struct probe_listen_reply lr = {0};

		lr.vp = htonl(0x0a090000u + i);
		lr.req = i;
		lr.to = htonl(0x0a010101u);
		lr.r.from = htonl(0x0ac80000u + i);
		lr.r.rx = (struct timeval){1796313092, i};
		cr_assert_eq(output_stream_put_listen(s, &lr), 0);
		cr_assert_eq(output_listen_write(w, &lr, OUTPUT_JSON), 0);
		make_result(i, &r, &rep, hops);
		cr_assert_eq(output_stream_put(s, &r), 0);
		cr_assert_eq(output_write(w, &r, OUTPUT_JSON), 0);
	}
	cr_assert_eq(output_stream_close(s), 0);
	fclose(f);
	fclose(w);
	buf = slurp(pa, &len);
	want = slurp(pb, &wlen);
	cr_assert_eq(len, wlen);
	cr_assert(!memcmp(buf, want, len));
	cr_assert(strstr(buf, "\"vp\":\"10.9.0.199\""));
	free(buf);
	free(want);
	unlink(pa);
	unlink(pb);
}

/* After a flush the records reach the file while the stream stays open. */
Test(outstream, flush_reaches_the_file_without_close)
{
	char path[] = "/tmp/rtrace-os-f.XXXXXX";
	FILE *f = fdopen(mkstemp(path), "w");
	struct output_stream *s = output_stream_new(f, OUTPUT_JSON);
	struct probe_trace_hop hops[8];
	struct probe_ping_reply rep;
	struct probe_result r;
	struct stat st = {0};
	unsigned int i;

	cr_assert(s);
	for (i = 0; i < 10; i++) {
		make_result(i, &r, &rep, hops);
		cr_assert_eq(output_stream_put(s, &r), 0);
	}
	cr_assert_eq(output_stream_flush(s), 0);
	for (i = 0; i < 500; i++) { /* up to 5 s: the writer runs at once */
		cr_assert_eq(stat(path, &st), 0);
		if (st.st_size > 0)
			break;
		usleep(10000);
	}
	cr_assert_gt(st.st_size, 0, "nothing written 5 s after a flush");
	{
		size_t len;
		char *text = slurp(path, &len);
		unsigned int lines = 0;

		for (i = 0; i < len; i++)
			lines += text[i] == '\n';
		cr_assert_eq(text[len - 1], '\n', "a partial line reached the file");
		cr_assert_eq(lines, 10);
		free(text);
	}
	cr_assert_eq(output_stream_close(s), 0);
	fclose(f);
	unlink(path);
}

/* A write that fails (ENOSPC on /dev/full) is reported, by put or at the latest by close. */
Test(outstream, write_error_reported)
{
	FILE *f = fopen("/dev/full", "w");
	struct output_stream *s;
	struct probe_trace_hop hops[8];
	struct probe_ping_reply rep;
	struct probe_result r;
	int failed = 0;
	unsigned int i;

	cr_assert_not_null(f);
	s = output_stream_new(f, OUTPUT_JSON);
	cr_assert_not_null(s);
	for (i = 0; i < 2000; i++) {
		make_result(i, &r, &rep, hops);
		failed |= output_stream_put(s, &r) == -EIO;
		output_stream_flush(s);
	}
	failed |= output_stream_close(s) == -EIO;
	cr_assert(failed, "writing to /dev/full was not reported");
	fclose(f);
}
