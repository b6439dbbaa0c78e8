/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * batch.h - many reverse traceroutes at once (rtrace-batch): the target
 * blocklist, the crash-safe JSON-lines output (plain or gzip), resuming an
 * interrupted run, the status line, and the batch scheduler that keeps a
 * window of revtr cores (revtr.h) in flight over one measurement backend and
 * one shared struct revtr_kb.
 *
 * The pieces are pure or file-only and testable without privileges: the
 * scheduler hands each trace to a struct batch_backend (the real one is the
 * revtr backend of revtr_backend.h, probe engine + agents; the unit tests
 * drive the cores against a network model) and hears back when it is done.
 * Addresses are network order (uint32_t as in struct in_addr); times are
 * CLOCK_MONOTONIC ns; functions return 0 or -errno.
 */
#ifndef RTRACE_BATCH_H
#define RTRACE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "rtrace/revtr.h"

struct sched;

/* ---- blocklist (blocklist.c) ---------------------------------------------- */

/* One range of the IANA IPv4 Special-Purpose Address Registry (RFC 6890). */
struct batch_special {
	const char *cidr; /* "198.18.0.0/15" */
	const char *name; /* "Benchmarking" */
	const char *rfc;  /* "RFC 2544" */
};

/*
 * The default blocklist: every top-level entry of the IANA IPv4
 * Special-Purpose Address Registry, plus multicast (224.0.0.0/4, RFC 5771,
 * which that registry does not list but which is never a unicast target).
 * *n gets the number of entries.
 */
const struct batch_special *batch_special_ranges(size_t *n);

/* An address range [lo, hi] in host order, with where it came from. */
struct batch_range {
	uint32_t lo, hi; /* first and last address, host order */
	char what[96];	 /* "10.0.0.0/8 (Private-Use, RFC 1918)", "blocklist.txt:3" */
};

/*
 * What may not be probed: the default special-purpose ranges minus the
 * --allow prefixes, plus the user's blocklist entries (which --allow does not
 * open: an explicit refusal wins over an explicit permission).
 */
struct batch_blocklist {
	struct batch_range *user; /* user entries, merged and sorted after finish */
	size_t nuser, capuser;
	struct batch_range *allow; /* --allow prefixes */
	size_t nallow, capallow;
	struct batch_range *def; /* defaults minus allow, sorted, after finish */
	size_t ndef;
	bool ready; /* batch_blocklist_finish() ran */
};

/* Parse "A.B.C.D[/N]" (N 0..32, host bits must be zero). 0 or -EINVAL. */
int batch_cidr_parse(const char *s, uint32_t *lo, uint32_t *hi);

/* Start a blocklist holding the default ranges. 0 or -ENOMEM. */
int batch_blocklist_init(struct batch_blocklist *bl);
/* Block cidr (what: where it came from, for messages). 0, -EINVAL, -ENOMEM. */
int batch_blocklist_block(struct batch_blocklist *bl, const char *cidr, const char *what);
/* Open cidr inside the default ranges (--allow). 0, -EINVAL, -ENOMEM. */
int batch_blocklist_allow(struct batch_blocklist *bl, const char *cidr);
/*
 * Read a blocklist file: one prefix per line, '#' comments, blank lines.
 * Bad lines are logged with their line number and skipped (*nbad, may be
 * NULL). 0, or -errno on a read error / -ENOMEM.
 */
int batch_blocklist_read(struct batch_blocklist *bl, FILE *f, const char *name, size_t *nbad);
/*
 * The whole blocklist of a run: defaults, allow[0..nallow) opened, the
 * prefixes of files[0..nfiles) blocked, finished. 0 or -errno with err set.
 */
int batch_blocklist_build(struct batch_blocklist *bl, const char *const *allow, size_t nallow,
			  const char *const *files, size_t nfiles, char *err, size_t errlen);
/* Build the lookup tables; call after the last block/allow. 0 or -ENOMEM. */
int batch_blocklist_finish(struct batch_blocklist *bl);
/*
 * The range that blocks addr (network order), or NULL if addr may be probed.
 * O(log n). The blocklist must be finished.
 */
const struct batch_range *batch_blocklist_match(const struct batch_blocklist *bl, uint32_t addr);
void batch_blocklist_free(struct batch_blocklist *bl);

/* ---- target list (input.c) ------------------------------------------------ */

/* What reading a target list found. */
struct batch_input_stats {
	size_t lines;	      /* lines read */
	size_t bad;	      /* lines that are not an address or prefix (skipped) */
	size_t refused;	      /* addresses refused by the blocklist */
	size_t refused_lines; /* lines with refused addresses */
	size_t dups;	      /* addresses listed more than once (traced once) */
	size_t skipped;	      /* addresses in skip (already done, --resume) */
};

struct targets;
struct batch_addrset;

/*
 * Read a target list (targets.h format: one address or prefix per line, '#'
 * comments) into t, in file order, each address once. Bad lines are logged
 * with their line number and skipped; addresses the blocklist refuses are
 * logged per line with the range that refuses them and how to open it
 * ("--allow 10.0.0.0/8"), at most max_msgs lines of each kind (then a count);
 * addresses in skip (may be NULL) are left out. 0, -ENOMEM or -EIO.
 */
int batch_read_targets(FILE *f, const char *name, const struct batch_blocklist *bl,
		       const struct batch_addrset *skip, struct targets *t,
		       struct batch_input_stats *st, unsigned max_msgs);

/* ---- output file (outfile.c) --------------------------------------------- */

/* true if path names a gzip output (ends in ".gz"). */
bool batch_out_is_gz(const char *path);

/* Uncompressed bytes after which a gzip member is closed (besides 1 s). */
#define BATCH_GZ_MEMBER_BYTES (1u << 20)
/* Age after which an open gzip member is closed by batch_out_tick(). */
#define BATCH_GZ_MEMBER_NS 1000000000ull

struct batch_out;

/*
 * Open path for records: create it (refused with -EEXIST if it exists and
 * append is false), or append to it. Gzip when the name ends in ".gz": every
 * record is deflated and sync-flushed to the file before batch_out_write()
 * returns (readable by zlib after a kill -9), and each member is finished
 * after BATCH_GZ_MEMBER_NS or BATCH_GZ_MEMBER_BYTES, so at most the last
 * second's records sit in an unfinished member. Returns 0 with *out set, or
 * -errno with err holding a message.
 */
int batch_out_open(struct batch_out **out, const char *path, bool append, char *err, size_t errlen);
/* Write one record (no newline in it; one is added) and push it to the file. */
int batch_out_write(struct batch_out *o, const char *rec, size_t len);
/* Close the gzip member if it is older than BATCH_GZ_MEMBER_NS. 0 or -errno. */
int batch_out_tick(struct batch_out *o, uint64_t now_ns);
/* Records written since open. */
uint64_t batch_out_records(const struct batch_out *o);
/* Finish the gzip stream, fsync, close, free (NULL-safe). 0 or the first -errno. */
int batch_out_close(struct batch_out *o);

/* ---- resume (resume.c) ---------------------------------------------------- */

/* A set of addresses (network order): the targets an output already holds. */
struct batch_addrset {
	uint32_t *keys; /* open addressing, 0 = empty */
	uint32_t cap;	/* power of two or 0 */
	uint32_t n;	/* members */
};

/* Add a (nonzero) address. 1 added, 0 already there, -ENOMEM. */
int batch_addrset_add(struct batch_addrset *s, uint32_t a);
bool batch_addrset_has(const struct batch_addrset *s, uint32_t a);
void batch_addrset_free(struct batch_addrset *s);

/* What batch_resume_scan() found. */
struct batch_resume_info {
	uint64_t records;   /* complete, parseable records (their dst is in the set) */
	uint64_t bad;	    /* complete lines that are not a record with a "dst" */
	off_t keep;	    /* bytes of the file to keep: whole lines / whole gzip members */
	off_t size;	    /* size of the file */
	char *tail;	    /* gzip: complete records after .keep (from an unfinished
			     * member) to write again, newline-terminated; NULL if none */
	size_t tail_len;    /* bytes of tail */
	uint64_t tail_recs; /* records in tail */
};

/*
 * Read an existing output (plain or gzip by its name): every complete record's
 * "dst" goes into done. A truncated last line, an unfinished or corrupt last
 * gzip member are tolerated: info says what to keep. A missing file is an
 * empty one. 0, or -errno with err set.
 */
int batch_resume_scan(const char *path, struct batch_addrset *done, struct batch_resume_info *info,
		      char *err, size_t errlen);
/*
 * Make path valid for appending: truncate it to info->keep. The caller then
 * opens it with batch_out_open(append) and writes info->tail back. 0/-errno.
 */
int batch_resume_truncate(const char *path, const struct batch_resume_info *info);
void batch_resume_info_free(struct batch_resume_info *info);
/*
 * Open path for the run: new (resume false), or cut to info->keep and
 * appended to, with info->tail written back first. 0 or -errno with err set.
 */
int batch_resume_open(const char *path, const struct batch_resume_info *info, bool resume,
		      struct batch_out **out, char *err, size_t errlen);

/* ---- status (status.c) ---------------------------------------------------- */

/* Counters of a batch run (monotonic). */
struct batch_counts {
	uint64_t total;	    /* targets to trace in this run */
	uint64_t skipped;   /* already in the output (--resume) */
	uint64_t done;	    /* records written */
	uint64_t reached;   /* of those: REACHES */
	uint64_t failed;    /* of those: FAILED */
	uint64_t cache_hit; /* of those: some hops from the tree cache */
	uint64_t retries;   /* traces started again (nothing found) */
	uint64_t started;   /* traces started, retries included */
	uint64_t probes;    /* probes of finished traces (report totals) */
	uint64_t inflight;  /* traces running (gauge) */
};

/* Rates over a sliding window of the last few seconds. */
#define BATCH_RATE_SAMPLES 8
struct batch_rate {
	uint64_t t[BATCH_RATE_SAMPLES]; /* sample times, ns */
	uint64_t a[BATCH_RATE_SAMPLES]; /* done at those times */
	uint64_t b[BATCH_RATE_SAMPLES]; /* probes at those times */
	unsigned n, head;
};

/* Record a sample; rates are over the oldest sample still held. */
void batch_rate_sample(struct batch_rate *r, uint64_t now_ns, uint64_t done, uint64_t probes);
/* Done/s and probes/s over the window (0 with fewer than two samples). */
void batch_rate_get(const struct batch_rate *r, double *done_ps, double *probes_ps);

/*
 * The one-line status: "1234/5000 24.7%  812 revtr/s  1530 probes/s  ETA 0:04
 * reach 97.2%  inflight 256". snprintf semantics.
 */
size_t batch_status_format(char *buf, size_t len, const struct batch_counts *c, double done_ps,
			   double probes_ps);

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -errno. */
long batch_proc_kib(const char *field);
/* Heap in use (malloc'd and not freed, mmap'd blocks included), KiB. */
long batch_heap_kib(void);

/* What the end-of-run summary reports. */
struct batch_summary {
	struct batch_counts c;		    /* the batch's counters */
	size_t ntargets;		    /* targets of this run */
	double secs;			    /* first start to the end */
	bool interrupted;		    /* stopped by a signal */
	const char *out;		    /* the output file */
	const struct batch_input_stats *in; /* the target list (may be NULL) */
	uint64_t kept;			    /* records kept from the output (--resume) */
	long rss_kib[3];		    /* VmRSS at 10%, 50%, 100% (<= 0: not reached) */
	long heap_kib[3];		    /* heap in use at the same points */
	long peak_kib;			    /* VmHWM */
};

/*
 * Write the summary, four lines each starting with pfx: counts and rates,
 * reach / tree / retries, the target list, memory. 0 or -EIO.
 */
int batch_summary_write(FILE *f, const char *pfx, const struct batch_summary *s);

/* ---- the scheduler (batch.c) ---------------------------------------------- */

/*
 * The measurement backend: drives one reverse trace (revtr.h) to its end,
 * running its requests and feeding the results back, like rtb_submit() of
 * revtr_backend.h. start returns 0 when it took rt; when revtr_done(rt) it
 * calls batch_on_done(b, tag) once, from its loop (never from inside start).
 * cancel stops driving rt at once without calling batch_on_done.
 */
struct batch_backend {
	int (*start)(void *ctx, struct revtr *rt, uint64_t tag);
	void (*cancel)(void *ctx, struct revtr *rt);
	void *ctx;
};

/* Called for every finished target (after retries) with its report. */
typedef void (*batch_done_cb)(const struct revtr_report *r, unsigned attempts, void *ctx);

struct batch_cfg {
	struct revtr_cfg rcfg;	 /* template for every trace: client, agents,
				  * flags, kb (required: shared by all);
				  * dst is set per target */
	struct batch_backend be; /* the backend */
	struct sched *sched;	 /* loop for the /24 limiter's timer; NULL:
				  * no /24 limit */
	unsigned window;	 /* traces in flight at most (default 256) */
	unsigned retries;	 /* extra runs of a target whose trace found
				  * nothing beyond the destination (0) */
	uint64_t p24_rate;	 /* traces started per /24 per second, 0 = no limit */
	bool slow_start;	 /* start with one trace (it warms the atlas and
				  * the gateway), grow the window by two per
				  * completion; the same per destination /24
				  * (its first trace fills the tree cache) */
	batch_done_cb done;	 /* finished targets */
	void *ctx;		 /* passed to done */
};

struct batch;

/* Make a scheduler for targets[0..n) (copied). NULL with errno set. */
struct batch *batch_new(const struct batch_cfg *cfg, const uint32_t *targets, size_t n);
/* Free it; traces still running are cancelled first. NULL-safe. */
void batch_free(struct batch *b);
/*
 * Start traces up to the window. Call once to begin; batch_on_done() and the
 * limiter's timer call it again. Returns the traces started or -errno (a
 * trace could not be made or the backend refused it: the run cannot go on).
 */
int batch_pump(struct batch *b);
/* The backend finished the trace of tag. 0, or -ENOENT for a stale tag. */
int batch_on_done(struct batch *b, uint64_t tag);
/* Stop starting traces (SIGINT); the running ones go on. */
void batch_drain(struct batch *b);
/* Cancel every running trace without a report (the drain deadline passed). */
void batch_abort(struct batch *b);
/* true when nothing runs and nothing (more) will start. */
bool batch_idle(const struct batch *b);
/* Counters so far. */
const struct batch_counts *batch_counts(const struct batch *b);

#endif /* RTRACE_BATCH_H */
