// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_batch_io.c - unit tests of rtrace-batch's files and lines: the output
 * writer (plain and gzip, checked with the real gzip tool, including a file
 * cut at every length as kill -9 could leave it); resume (torn lines,
 * unfinished and corrupt members, append after resume gives one valid file
 * without duplicates); the address set; the status and summary lines. The
 * blocklist is tested in test_batch_blocklist.c.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "rtrace/batch.h"
#include "rtrace/log.h"

static uint32_t A(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad address %s", s);
	return a.s_addr;
}

/* ---- output and resume ------------------------------------------------------------ */

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_batch_io.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void rec(char *buf, size_t len, int i)
{
	snprintf(buf, len,
		 "{\"type\":\"revtr\",\"src\":\"10.1.1.2\",\"dst\":\"10.200.%d.%d\","
		 "\"stop_reason\":\"REACHES\",\"revtr_hops\":[{\"hop_number\":1,\"hop_ip\":"
		 "\"10.200.%d.%d\",\"hop_type\":\"DST_REV_SEGMENT\"}],\"n\":%d}",
		 i / 256, i % 256, i / 256, i % 256, i);
}

static void write_n(const char *path, int from, int to, bool append)
{
	struct batch_out *o;
	char err[256], r[512];
	int i;

	cr_assert_eq(batch_out_open(&o, path, append, err, sizeof(err)), 0, "%s", err);
	for (i = from; i < to; i++) {
		rec(r, sizeof(r), i);
		cr_assert_eq(batch_out_write(o, r, strlen(r)), 0);
	}
	cr_assert_eq(batch_out_records(o), (uint64_t)(to - from));
	cr_assert_eq(batch_out_close(o), 0);
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg);
	return system(cmd);
}

/* Records 0..n-1 each exactly once (by "n") in the decompressed file. */
static void check_records(const char *path, int n)
{
	char cmd[512], line[1024];
	FILE *p;
	int *seen = calloc((size_t)n, sizeof(int)), k, count = 0;

	snprintf(cmd, sizeof(cmd), "%s '%s'", batch_out_is_gz(path) ? "gzip -dc" : "cat", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *q = strstr(line, "\"n\":");

		cr_assert_not_null(q, "line without n: %s", line);
		k = atoi(q + 4);
		cr_assert(k >= 0 && k < n, "record %d out of range", k);
		cr_assert_eq(seen[k], 0, "record %d twice", k);
		seen[k] = 1;
		count++;
	}
	cr_assert_eq(pclose(p), 0, "decompression failed: %s is not valid", path);
	cr_assert_eq(count, n, "%d records, want %d", count, n);
	free(seen);
}

/*
 * Write records 0..n-1 in a child that dies of SIGKILL right after the last
 * write, finishing a gzip member after every `tick` records (0: never).
 */
static void write_killed(const char *path, int n, int tick)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct batch_out *o;
		char err[256], r[512];
		int i;

		if (batch_out_open(&o, path, false, err, sizeof(err)))
			_exit(2);
		for (i = 0; i < n; i++) {
			rec(r, sizeof(r), i);
			if (batch_out_write(o, r, strlen(r)))
				_exit(3);
			if (tick && i % tick == tick - 1)
				batch_out_tick(o, ~0ull >> 1);
		}
		raise(SIGKILL);
		_exit(4);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %d", st);
}

Test(outfile, plain_and_gzip_valid_and_refuse_overwrite)
{
	char p[128], err[256];
	struct batch_out *o;

	mkdir_tmp();
	snprintf(p, sizeof(p), "%s/out.jsonl", dir);
	write_n(p, 0, 100, false);
	check_records(p, 100);
	cr_assert_eq(batch_out_open(&o, p, false, err, sizeof(err)), -EEXIST);
	cr_assert(strstr(err, "--resume"), "%s", err);

	snprintf(p, sizeof(p), "%s/out.jsonl.gz", dir);
	write_n(p, 0, 3000, false);
	cr_assert_eq(sh("gzip -t '%s'", p), 0);
	check_records(p, 3000);
	write_n(p, 3000, 3100, true);
	cr_assert_eq(sh("gzip -t '%s'", p), 0);
	check_records(p, 3100);
	rm_tmp();
}

/* Members: more than one, each valid alone (the file is several concatenated). */
Test(outfile, gzip_members_rotate)
{
	char p[128];
	struct batch_out *o;
	char err[256], r[512];
	int i;

	mkdir_tmp();
	snprintf(p, sizeof(p), "%s/m.jsonl.gz", dir);
	cr_assert_eq(batch_out_open(&o, p, false, err, sizeof(err)), 0);
	for (i = 0; i < 10; i++) {
		rec(r, sizeof(r), i);
		batch_out_write(o, r, strlen(r));
		/* pretend a second passed after every record */
		batch_out_tick(o, ~0ull >> 1);
	}
	batch_out_close(o);
	/* 10 members: gzip -l would count one; count magic bytes instead */
	cr_assert_eq(sh("test $(od -An -tx1 -v '%s' | tr -d ' \\n' | grep -o 1f8b08 | wc -l) "
			"-ge 10",
			p),
		     0);
	check_records(p, 10);
	rm_tmp();
}

/*
 * kill -9 at any moment: the file is some prefix of what would have been
 * written. Cut a gzip output at every length: --resume finds exactly the
 * whole records in it, and after truncate + rewrite of the tail + appending
 * the rest, the file is valid gzip with every record once.
 */
static void cut_and_resume(bool gz)
{
	char full[128], cut[128], err[256];
	struct stat st;
	off_t len;
	int n = 400, total = 0;

	rt_log_set_level(RT_LOG_ERROR); /* torn lines are expected here */
	mkdir_tmp();
	snprintf(full, sizeof(full), "%s/full.jsonl%s", dir, gz ? ".gz" : "");
	snprintf(cut, sizeof(cut), "%s/cut.jsonl%s", dir, gz ? ".gz" : "");
	write_killed(full, n, 50); /* several members, the last one unfinished */
	cr_assert_eq(stat(full, &st), 0);
	for (len = 0; len <= st.st_size; len += (len < 200 ? 1 : 97)) {
		struct batch_addrset done = {0};
		struct batch_resume_info info;
		struct batch_out *o;
		char cmd[512], r[512];
		int i;

		snprintf(cmd, sizeof(cmd), "head -c %lld '%s' > '%s'", (long long)len, full, cut);
		cr_assert_eq(system(cmd), 0);
		cr_assert_eq(batch_resume_scan(cut, &done, &info, err, sizeof(err)), 0, "%s", err);
		cr_assert_leq(info.keep, len);
		cr_assert_eq(batch_resume_truncate(cut, &info), 0);
		cr_assert_eq(batch_out_open(&o, cut, true, err, sizeof(err)), 0, "%s", err);
		if (info.tail_len) {
			/* records of the tail, one write each (without newlines) */
			char *p = info.tail, *nl;

			while ((nl = memchr(p, '\n', info.tail_len - (size_t)(p - info.tail)))) {
				cr_assert_eq(batch_out_write(o, p, (size_t)(nl - p)), 0);
				p = nl + 1;
			}
		}
		for (i = 0; i < n; i++) {
			char d[32];

			snprintf(d, sizeof(d), "10.200.%d.%d", i / 256, i % 256);
			if (batch_addrset_has(&done, A(d)))
				continue;
			rec(r, sizeof(r), i);
			cr_assert_eq(batch_out_write(o, r, strlen(r)), 0);
		}
		cr_assert_eq(batch_out_close(o), 0);
		if (gz)
			cr_assert_eq(sh("gzip -t '%s' 2>/dev/null", cut), 0, "cut at %lld: invalid",
				     (long long)len);
		check_records(cut, n);
		total += (int)done.n;
		batch_addrset_free(&done);
		batch_resume_info_free(&info);
	}
	cr_assert_gt(total, 0, "some cuts must hold records");
	rm_tmp();
}

Test(resume, gzip_cut_anywhere)
{
	cut_and_resume(true);
}

Test(resume, plain_cut_anywhere)
{
	cut_and_resume(false);
}

Test(resume, whole_records_of_unfinished_member_recovered)
{
	char p[128], err[256];
	struct batch_addrset done = {0};
	struct batch_resume_info info;

	mkdir_tmp();
	snprintf(p, sizeof(p), "%s/u.jsonl.gz", dir);
	write_killed(p, 30, 20); /* member 1: records 0..19; 20..29 unfinished */
	cr_assert_eq(batch_resume_scan(p, &done, &info, err, sizeof(err)), 0);
	cr_assert_eq(done.n, 30, "every flushed record is readable: %u", done.n);
	cr_assert_eq(info.tail_recs, 10);
	cr_assert_lt(info.keep, info.size);
	batch_addrset_free(&done);
	batch_resume_info_free(&info);
	rm_tmp();
}

Test(resume, corrupt_and_junk)
{
	char p[128], err[256];
	struct batch_addrset done = {0};
	struct batch_resume_info info;
	FILE *f;

	mkdir_tmp();
	/* plain: a non-record line and a torn last line */
	snprintf(p, sizeof(p), "%s/j.jsonl", dir);
	f = fopen(p, "w");
	fprintf(f,
		"{\"dst\":\"1.2.3.4\"}\nnot json\n{\"x\":1}\n{\"dst\":\"5.6.7.8\"}\n{\"dst\":\"9.");
	fclose(f);
	cr_assert_eq(batch_resume_scan(p, &done, &info, err, sizeof(err)), 0);
	cr_assert_eq(done.n, 2);
	cr_assert_eq(info.bad, 2);
	cr_assert(batch_addrset_has(&done, A("5.6.7.8")));
	cr_assert_eq(info.keep, info.size - (off_t)strlen("{\"dst\":\"9."));
	batch_addrset_free(&done);
	batch_resume_info_free(&info);

	/* gzip followed by garbage: the members before it count */
	snprintf(p, sizeof(p), "%s/g.jsonl.gz", dir);
	write_n(p, 0, 5, false);
	f = fopen(p, "a");
	fprintf(f, "garbage that is not gzip");
	fclose(f);
	cr_assert_eq(batch_resume_scan(p, &done, &info, err, sizeof(err)), 0);
	cr_assert_eq(done.n, 5);
	cr_assert_eq(info.keep, info.size - 24);
	batch_addrset_free(&done);
	batch_resume_info_free(&info);

	/* missing file: empty */
	snprintf(p, sizeof(p), "%s/none.jsonl.gz", dir);
	cr_assert_eq(batch_resume_scan(p, &done, &info, err, sizeof(err)), 0);
	cr_assert_eq(done.n, 0);
	rm_tmp();
}

Test(addrset, grow_and_lookup)
{
	struct batch_addrset s = {0};
	uint32_t i;

	for (i = 1; i <= 100000; i++)
		cr_assert_eq(batch_addrset_add(&s, htonl(i * 7)), 1);
	cr_assert_eq(batch_addrset_add(&s, htonl(7)), 0);
	cr_assert_eq(s.n, 100000);
	for (i = 1; i <= 100000; i++)
		cr_assert(batch_addrset_has(&s, htonl(i * 7)));
	cr_assert(!batch_addrset_has(&s, htonl(8)));
	cr_assert(!batch_addrset_has(&s, 0));
	batch_addrset_free(&s);
}

/* ---- status -------------------------------------------------------------------------- */

Test(status, line_and_rates)
{
	struct batch_counts c = {.total = 5000, .done = 1250, .reached = 1000, .inflight = 256};
	struct batch_rate r = {0};
	double d, p;
	char buf[256];

	batch_rate_get(&r, &d, &p);
	cr_assert(d == 0 && p == 0);
	batch_rate_sample(&r, 1000000000ull, 0, 0);
	batch_rate_sample(&r, 2000000000ull, 1000, 3000);
	batch_rate_sample(&r, 3000000000ull, 2500, 6000);
	batch_rate_get(&r, &d, &p);
	cr_assert_float_eq(d, 1250.0, 1e-9);
	cr_assert_float_eq(p, 3000.0, 1e-9);
	batch_status_format(buf, sizeof(buf), &c, 1250.0, 3000.0);
	cr_assert(strstr(buf, "1250/5000 25.0%"), "%s", buf);
	cr_assert(strstr(buf, "1250 revtr/s") && strstr(buf, "3000 probes/s"), "%s", buf);
	cr_assert(strstr(buf, "ETA 0:03"), "%s", buf);
	cr_assert(strstr(buf, "reach 80.0%"), "%s", buf);
	/* the window slides: old samples drop out */
	for (int i = 0; i < 20; i++)
		batch_rate_sample(&r, 4000000000ull + i * 1000000000ull, 2500 + i * 10, 6000);
	batch_rate_get(&r, &d, &p);
	cr_assert_float_eq(d, 10.0, 1e-9);
	cr_assert_float_eq(p, 0.0, 1e-9);
	c.done = 5000;
	batch_status_format(buf, sizeof(buf), &c, 0, 0);
	cr_assert(strstr(buf, "ETA 0:00"), "%s", buf);
	cr_assert_gt(batch_proc_kib("VmRSS"), 0);
	cr_assert_gt(batch_proc_kib("VmHWM"), 0);
	cr_assert_lt(batch_proc_kib("NoSuchField"), 0);
}

Test(status, summary_lines)
{
	struct batch_input_stats in = {.lines = 10, .bad = 1, .refused = 2, .dups = 3};
	struct batch_summary s = {
		.c = {.done = 500, .reached = 450, .failed = 50, .cache_hit = 400, .probes = 1000},
		.ntargets = 1000,
		.secs = 2.0,
		.interrupted = true,
		.out = "o.jsonl.gz",
		.in = &in,
		.kept = 7,
		.rss_kib = {1024, 0, 0},
		.heap_kib = {512, 0, 0},
		.peak_kib = 2048,
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(batch_summary_write(f, "x: ", &s), 0);
	fclose(f);
	cr_assert(strstr(buf, "x: 500/1000 traced in 2.00 s: 250 reverse traces/s, 1000 probes "
			      "(500/s), interrupted: --resume continues\n"),
		  "%s", buf);
	cr_assert(strstr(buf,
			 "x: reached the source 450 (90.0%), failed 50; tree cache used by 400 "
			 "(80.0%); retries 0\n"),
		  "%s", buf);
	cr_assert(strstr(buf, "x: targets: 10 lines, 1 bad, 2 refused, 3 duplicates, 0 already in "
			      "o.jsonl.gz (7 records kept)\n"),
		  "%s", buf);
	cr_assert(strstr(buf, "x: RSS at 10%/50%/100%: 1.0/-/- MiB (heap in use 0.5/-/- MiB), peak "
			      "2.0 MiB\n"),
		  "%s", buf);
	free(buf);
}
