/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * output.h - print measurement results: scamper-compatible JSON (one object
 * per line, scamper's field names and order: "type":"ping" version 0.4,
 * "type":"trace" version 0.1) or text like ping / traceroute -n.
 *
 * The printers only read the result structs of probe.h; every call writes
 * whole records and flushes (but output_write()), so a consumer reading the
 * stream never sees a partial line.
 */
#ifndef RTRACE_OUTPUT_H
#define RTRACE_OUTPUT_H

#include <stdio.h>

#include "rtrace/probe.h"

enum output_fmt {
	OUTPUT_TEXT = 0, /* like ping / traceroute -n */
	OUTPUT_JSON = 1, /* scamper JSON, one object per line */
};

/*
 * Print one finished measurement (ping or trace; a listen result prints
 * nothing in JSON and a summary line in text). Returns 0 or -EIO.
 */
int output_result(FILE *f, const struct probe_result *r, enum output_fmt fmt);

/*
 * The same without the flush: the record stays in f's buffer, and the caller
 * flushes at a record boundary (a sweep printing one record per probe does
 * not pay one write() per record). f's buffer should be larger than any
 * record (setvbuf), or stdio writes a long record in pieces. 0 or -EIO.
 */
int output_write(FILE *f, const struct probe_result *r, enum output_fmt fmt);

/* Print one reply to a spoofed probe as a listener saw it. 0 or -EIO. */
int output_listen_reply(FILE *f, const struct probe_listen_reply *lr, enum output_fmt fmt);
/* The same without the flush (as output_write). 0 or -EIO. */
int output_listen_write(FILE *f, const struct probe_listen_reply *lr, enum output_fmt fmt);

/* The single printers behind output_result(). 0 or -EIO. */
int output_ping_json(FILE *f, const struct probe_ping_result *p);
int output_ping_text(FILE *f, const struct probe_ping_result *p);
int output_trace_json(FILE *f, const struct probe_trace_result *t);
int output_trace_text(FILE *f, const struct probe_trace_result *t);

/*
 * A stream of many records (a sweep prints one per target) written by a
 * thread of its own, so neither formatting nor write(2) (a slow disk, a full
 * pipe) holds up the event loop that sends probes and timestamps replies.
 * The loop only copies each record into a queue (8 MiB; when it is full, the
 * loop waits for the writer: nothing is dropped); the writer prints and
 * writes out whole records as soon as it has caught up with what the loop
 * published, which the loop does once per iteration (output_stream_flush from
 * the idle hook, sched_set_idle). A reader never sees a partial line, and a
 * killed process loses at most the records of its last loop iteration (those
 * still queued); output_stream_close() writes everything out.
 *
 * f is a file, a pipe or a terminal (not a memory stream: the stream gives f
 * a 1 MiB buffer of its own); only the stream writes to f between new and
 * close. The writer thread takes no signals. The functions are called from
 * one thread (the loop).
 */
struct output_stream;

/* Start a writer of records to f in format fmt. NULL with errno set. */
struct output_stream *output_stream_new(FILE *f, enum output_fmt fmt);
/* Queue one result (copied). 0, -EIO (an earlier write failed), -ENOMEM. */
int output_stream_put(struct output_stream *s, const struct probe_result *r);
/* Queue one reply to a spoofed probe (copied). 0 or -EIO. */
int output_stream_put_listen(struct output_stream *s, const struct probe_listen_reply *lr);
/* Hand what was queued to the writer (does not wait). 0 or -EIO. */
int output_stream_flush(struct output_stream *s);
/* Write out everything queued, stop the writer, free s (f stays open). 0 or -EIO. */
int output_stream_close(struct output_stream *s);

/*
 * Read one JSON ping or trace record (what output_result() prints with
 * OUTPUT_JSON, e.g. a RESULT an agent sent) back into *r: the fields the
 * printers use, RTTs to the microsecond. Allocates replies/hops: free with
 * output_parsed_free(). 0, -EBADMSG (not a ping/trace object), -ENOMEM.
 */
int output_parse_json(const char *text, size_t len, struct probe_result *r);
void output_parsed_free(struct probe_result *r);

/* Milliseconds with three decimals from ns, as scamper prints RTTs ("0.052"). */
void output_fmt_ms(char *buf, size_t len, uint64_t ns);

#endif /* RTRACE_OUTPUT_H */
