// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * outstream.c - a stream of result records written by a thread of its own
 * (see output_stream_* in include/rtrace/output.h).
 *
 * The event loop only copies each finished result, flat (the struct, then its
 * replies[] or hops[]), into a single-producer single-consumer byte queue;
 * the writer thread formats it (output_write) into a stdio buffer and writes
 * that out whenever it has caught up with what the loop published. So neither
 * the JSON/text formatting nor write(2) (a slow disk, a full pipe) runs on
 * the loop that sends probes and timestamps replies.
 *
 * Fast path without locks: the producer appends at `head` and publishes it
 * (release) once per loop iteration or when a quarter of the queue is
 * pending; the writer consumes up to the published head and publishes
 * `tail`. The mutex and the two condition variables only carry the sleeps:
 * the writer waiting for records, the producer waiting for space or for the
 * writer to go idle. Whoever sleeps sets its flag, then re-checks under the
 * mutex; the other side checks the flag after publishing and signals under
 * the mutex; flags and published positions are seq_cst (a store, then a load
 * of the other side's variable on both sides), so no wake-up is lost.
 *
 * A result too large for the queue (a ping of 65535 probes) is printed by
 * the producer itself, from its own struct, once the writer is idle, under
 * the mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtrace/output.h"

/* Bytes in the queue (records are 8-byte aligned). */
#define OS_QUEUE (8u << 20)
/* The writer's stdio buffer (larger than any record it formats in one go). */
#define OS_FILEBUF (1u << 20)

enum os_rec_type {
	OS_REC_RESULT = 1, /* struct probe_result, then its array */
	OS_REC_LISTEN = 2, /* struct probe_listen_reply */
	OS_REC_WRAP = 3,   /* nothing more until the end of the queue: go on at 0 */
};

/* The head of every record in the queue. */
struct os_rec {
	uint32_t len;  /* bytes of the record, this header included, 8-byte aligned */
	uint32_t type; /* enum os_rec_type */
};

struct output_stream {
	/* written by the producer (the event loop) */
	_Alignas(64) size_t head; /* next free byte (unpublished) */
	size_t published;	  /* head as last published */
	size_t tail_seen;	  /* tail as last read (space known free) */
	/* shared */
	_Alignas(64) atomic_size_t pub_head; /* published head: records up to here are whole */
	_Alignas(64) atomic_size_t pub_tail; /* the writer consumed up to here */
	atomic_int writer_sleeps;	     /* the writer waits on `more` */
	atomic_int producer_waits;	     /* the producer waits on `room` */
	atomic_int err;			     /* a write failed (sticky) */
	atomic_int closing;		     /* output_stream_close(): drain and stop */
	pthread_mutex_t lock;		     /* for the sleeps only */
	pthread_cond_t more;		     /* records published, or closing */
	pthread_cond_t room;		     /* tail moved, or the writer is idle */
	/* set once */
	FILE *f;	     /* the stream the records go to */
	enum output_fmt fmt; /* how they are printed */
	char *q;	     /* the queue, OS_QUEUE bytes */
	char *fbuf;	     /* f's stdio buffer */
	pthread_t thread;    /* the writer */
};

static size_t rec_align(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* The array a result points to (replies[] of a ping, hops[] of a trace), its bytes in *len. */
static void **result_array(struct probe_result *r, size_t *len)
{
	*len = 0;
	if (r->kind == PROBE_PING) {
		*len = (size_t)r->ping.nreplies * sizeof(*r->ping.replies);
		return (void **)&r->ping.replies;
	}
	if (r->kind == PROBE_TRACE) {
		*len = (size_t)r->trace.nhops * sizeof(*r->trace.hops);
		return (void **)&r->trace.hops;
	}
	return NULL;
}

/* Print one record from the queue (the writer). */
static void rec_print(struct output_stream *s, const struct os_rec *h)
{
	int err = 0;

	if (h->type == OS_REC_RESULT) {
		struct probe_result r;
		void **arr;
		size_t len;

		memcpy(&r, h + 1, sizeof(r));
		arr = result_array(&r, &len);
		if (arr) /* the array follows the struct in the record */
			*arr = (char *)(h + 1) + rec_align(sizeof(r));
		err = output_write(s->f, &r, s->fmt);
	} else if (h->type == OS_REC_LISTEN) {
		err = output_listen_write(s->f, (const void *)(h + 1), s->fmt);
	}
	if (err)
		atomic_store(&s->err, 1);
}

/*
 * Write out what f holds. A reader that went away (EPIPE) gets the process
 * what write(2) on the loop's thread would have got it: SIGPIPE, here sent
 * to the process because this thread blocks every signal (so `| head` ends
 * the sweep at once, as it ends ping or scamper).
 */
static void writer_flush(struct output_stream *s)
{
	if (fflush(s->f) || ferror(s->f)) {
		if (errno == EPIPE)
			kill(getpid(), SIGPIPE);
		atomic_store(&s->err, 1);
	}
}

/* Wait for records (or closing) with the flag protocol. 0: go on, 1: stop. */
static int writer_wait(struct output_stream *s, size_t tail)
{
	int stop = 0;

	pthread_mutex_lock(&s->lock);
	atomic_store(&s->writer_sleeps, 1);
	if (atomic_load(&s->producer_waits))
		pthread_cond_signal(&s->room); /* idle: a large record may go */
	while (atomic_load(&s->pub_head) == tail && !atomic_load(&s->closing))
		pthread_cond_wait(&s->more, &s->lock);
	if (atomic_load(&s->pub_head) == tail)
		stop = 1;
	atomic_store(&s->writer_sleeps, 0);
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void *writer_main(void *arg)
{
	struct output_stream *s = arg;
	size_t tail = 0;

	for (;;) {
		size_t head = atomic_load(&s->pub_head);

		if (head == tail) {
			if (writer_wait(s, tail))
				break;
			continue;
		}
		while (tail != head) {
			const struct os_rec *h = (const void *)(s->q + tail % OS_QUEUE);

			if (h->type != OS_REC_WRAP)
				rec_print(s, h);
			tail += h->len;
		}
		/* Caught up with what was published: out it goes, whole records. */
		writer_flush(s);
		atomic_store(&s->pub_tail, tail);
		if (atomic_load(&s->producer_waits)) {
			pthread_mutex_lock(&s->lock);
			pthread_cond_signal(&s->room);
			pthread_mutex_unlock(&s->lock);
		}
	}
	writer_flush(s);
	return NULL;
}

struct output_stream *output_stream_new(FILE *f, enum output_fmt fmt)
{
	struct output_stream *s = aligned_alloc(64, sizeof(*s));
	sigset_t all, old;
	int err;

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->fmt = fmt;
	s->q = malloc(OS_QUEUE);
	s->fbuf = malloc(OS_FILEBUF);
	if (!s->q || !s->fbuf) {
		err = ENOMEM;
		goto out_free;
	}
	/* glibc ignores the size without a buffer of our own */
	setvbuf(f, s->fbuf, _IOFBF, OS_FILEBUF);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->more, NULL);
	pthread_cond_init(&s->room, NULL);
	/* The writer takes no signals: the loop reads them from a signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out_sync;
	pthread_setname_np(s->thread, "rtrace-out"); /* for top and perf */
	return s;
out_sync:
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->lock);
	setvbuf(f, NULL, _IONBF, 0); /* f must not keep our buffer */
out_free:
	free(s->fbuf);
	free(s->q);
	free(s);
	errno = err;
	return NULL;
}

/* Publish what was appended; wake the writer if it sleeps. */
static void publish(struct output_stream *s)
{
	if (s->published == s->head)
		return;
	s->published = s->head;
	atomic_store(&s->pub_head, s->head);
	if (atomic_load(&s->writer_sleeps)) {
		pthread_mutex_lock(&s->lock);
		pthread_cond_signal(&s->more);
		pthread_mutex_unlock(&s->lock);
	}
}

/* Free bytes in the queue, re-reading tail only when the cached value is short. */
static size_t room(struct output_stream *s, size_t need)
{
	size_t free = OS_QUEUE - (s->head - s->tail_seen);

	if (free < need) {
		s->tail_seen = atomic_load(&s->pub_tail);
		free = OS_QUEUE - (s->head - s->tail_seen);
	}
	return free;
}

/*
 * Publish, then sleep until the queue has need free bytes or, with need 0,
 * until the writer has printed everything and sleeps. Returns with the lock
 * held: with need 0 the caller may use f until it unlocks.
 */
static void wait_writer(struct output_stream *s, size_t need)
{
	publish(s);
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->producer_waits, 1);
	for (;;) {
		if (need ? room(s, need) >= need
			 : atomic_load(&s->writer_sleeps) && atomic_load(&s->pub_tail) == s->head)
			break;
		pthread_cond_wait(&s->room, &s->lock);
	}
	atomic_store(&s->producer_waits, 0);
}

/*
 * Reserve len bytes (8-aligned, header included) at head, contiguous: a WRAP
 * record fills the end of the queue when len does not fit before it. Waits
 * for the writer when the queue is full. Returns where to write.
 */
static void *reserve(struct output_stream *s, size_t len)
{
	size_t off = s->head % OS_QUEUE, to_end = OS_QUEUE - off;
	size_t need = len <= to_end ? len : to_end + len;

	if (room(s, need) < need) {
		wait_writer(s, need);
		pthread_mutex_unlock(&s->lock);
	}
	if (len > to_end) {
		struct os_rec *w = (void *)(s->q + off);

		w->len = (uint32_t)to_end;
		w->type = OS_REC_WRAP;
		s->head += to_end;
	}
	return s->q + s->head % OS_QUEUE;
}

static void commit(struct output_stream *s, size_t len)
{
	s->head += len;
	if (s->head - s->published >= OS_QUEUE / 4)
		publish(s);
}

/* A record the queue cannot hold: r printed here, once the writer is idle. */
static int put_direct(struct output_stream *s, const struct probe_result *r)
{
	wait_writer(s, 0);
	if (output_write(s->f, r, s->fmt))
		atomic_store(&s->err, 1);
	writer_flush(s);
	pthread_mutex_unlock(&s->lock);
	return atomic_load(&s->err) ? -EIO : 0;
}

int output_stream_put(struct output_stream *s, const struct probe_result *r)
{
	size_t base = sizeof(struct os_rec) + rec_align(sizeof(*r)), arr_len, len;
	struct os_rec *h;
	void **arr;

	/* the array's address and length (result_array() reads r; nothing is written) */
	arr = result_array((struct probe_result *)r, &arr_len);
	len = rec_align(base + arr_len);
	if (len > OS_QUEUE / 2)
		return put_direct(s, r);
	h = reserve(s, len);
	h->len = (uint32_t)len;
	h->type = OS_REC_RESULT;
	memcpy(h + 1, r, sizeof(*r));
	if (arr_len)
		memcpy((char *)h + base, *arr, arr_len);
	commit(s, len);
	return atomic_load_explicit(&s->err, memory_order_relaxed) ? -EIO : 0;
}

int output_stream_put_listen(struct output_stream *s, const struct probe_listen_reply *lr)
{
	size_t len = rec_align(sizeof(struct os_rec) + sizeof(*lr));
	struct os_rec *h = reserve(s, len);

	h->len = (uint32_t)len;
	h->type = OS_REC_LISTEN;
	memcpy(h + 1, lr, sizeof(*lr));
	commit(s, len);
	return atomic_load_explicit(&s->err, memory_order_relaxed) ? -EIO : 0;
}

int output_stream_flush(struct output_stream *s)
{
	publish(s);
	return atomic_load_explicit(&s->err, memory_order_relaxed) ? -EIO : 0;
}

int output_stream_close(struct output_stream *s)
{
	int err;

	if (!s)
		return 0;
	publish(s);
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->closing, 1);
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	err = atomic_load(&s->err) ? -EIO : 0;
	fflush(s->f);
	setvbuf(s->f, NULL, _IONBF, 0); /* f outlives us: not with our buffer */
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->lock);
	free(s->fbuf);
	free(s->q);
	free(s);
	return err;
}
