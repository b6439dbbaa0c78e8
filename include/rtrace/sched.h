/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sched.h - the probe engine's scheduler: one epoll event loop with
 * nanosecond timers, a token bucket for pacing, a per-destination limiter and
 * the probe slot table that makes reply -> probe matching O(1).
 *
 * The event loop (struct sched) owns an epoll fd and a timerfd. Other modules
 * register their fds (BPF ring buffer, control sockets, signalfd) with
 * sched_add_fd(); timers are intrusive (struct sched_timer lives in the
 * caller's object) and kept in a binary heap, so arming and cancelling are
 * O(log n) without allocation once sched_timer_reserve() sized the heap.
 *
 * The token bucket, the destination limiter and the slot table are pure data
 * structures that take the current time as an argument: unit tests drive them
 * with synthetic clocks. Times are CLOCK_MONOTONIC nanoseconds.
 */
#ifndef RTRACE_SCHED_H
#define RTRACE_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* ---- event loop ---------------------------------------------------------- */

struct sched;
struct sched_timer;

/* Called with the epoll events (EPOLLIN...) that fired on fd. */
typedef void (*sched_fd_cb)(struct sched *s, int fd, uint32_t events, void *ctx);
/* Called once when the timer expires; it is disarmed before the call. */
typedef void (*sched_timer_cb)(struct sched *s, struct sched_timer *t, void *ctx);
typedef void (*sched_idle_cb)(struct sched *s, void *ctx);

/* An intrusive timer: embed it, sched_timer_init() it once, arm it many times. */
struct sched_timer {
	uint64_t when_ns;  /* deadline, CLOCK_MONOTONIC ns */
	sched_timer_cb cb; /* expiry callback */
	void *ctx;	   /* passed to cb */
	uint32_t heap_idx; /* 1 + position in the heap, 0 when not armed */
};

/* CLOCK_MONOTONIC now, ns. */
uint64_t sched_now_ns(void);

/*
 * Create an event loop (epoll + timerfd). Returns NULL with errno set on
 * failure.
 */
struct sched *sched_new(void);
/* Free the loop; registered fds are not closed. NULL-safe. */
void sched_free(struct sched *s);

/*
 * Watch fd for events (EPOLLIN, EPOLLOUT...); cb(s, fd, revents, ctx) runs from
 * sched_run_once(). One registration per fd. Returns 0 or -errno (-EEXIST if
 * the fd is registered already).
 */
int sched_add_fd(struct sched *s, int fd, uint32_t events, sched_fd_cb cb, void *ctx);
/* Change the events watched on a registered fd. 0 or -errno (-ENOENT). */
int sched_mod_fd(struct sched *s, int fd, uint32_t events);
/* Stop watching fd (safe from inside any callback). 0 or -errno (-ENOENT). */
int sched_del_fd(struct sched *s, int fd);

/* Prepare a timer; it starts disarmed. */
void sched_timer_init(struct sched_timer *t, sched_timer_cb cb, void *ctx);
/*
 * Make room for n armed timers so that sched_timer_arm() does not allocate
 * on the hot path. 0 or -ENOMEM.
 */
int sched_timer_reserve(struct sched *s, size_t n);
/*
 * Arm (or re-arm) t to fire at when_ns (CLOCK_MONOTONIC). A deadline in the
 * past fires on the next sched_run_once(). 0 or -ENOMEM (heap growth).
 */
int sched_timer_arm(struct sched *s, struct sched_timer *t, uint64_t when_ns);
/* Disarm t if armed. */
void sched_timer_cancel(struct sched *s, struct sched_timer *t);
/* 1 if t is armed. */
static inline int sched_timer_armed(const struct sched_timer *t)
{
	return t->heap_idx != 0;
}
/* Number of armed timers. */
size_t sched_timer_count(const struct sched *s);

/*
 * One iteration: run expired timers, wait for fd events or the next timer for
 * at most timeout_ms (-1: until something happens; 0: do not block), dispatch
 * them, run timers that expired meanwhile. Returns the number of callbacks
 * run, or -errno (-EINTR is returned as 0).
 */
int sched_run_once(struct sched *s, int timeout_ms);
/*
 * Call cb(s, ctx) once per iteration, before polling (whether or not the
 * iteration will block), e.g. to write out the results the previous
 * iteration completed; NULL removes it. The callback must not block.
 */
void sched_set_idle(struct sched *s, sched_idle_cb cb, void *ctx);
/* Iterate until sched_stop(). 0 or -errno of a failed iteration. */
int sched_run(struct sched *s);
/* Make sched_run() return after the current iteration. */
void sched_stop(struct sched *s);
/* 1 once sched_stop() was called (until sched_resume()). */
int sched_stopped(const struct sched *s);
/* Clear the stop flag. */
void sched_resume(struct sched *s);

/* ---- token bucket -------------------------------------------------------- */

/*
 * Global pacing. Credit is kept in token-nanoseconds (1 token = 1e9), so
 * rates from 1 pps to 10^9 pps are exact over any interval; the bucket holds
 * at most burst tokens, so a late wakeup loses only the part above burst.
 */
struct sched_tb {
	uint64_t rate;	  /* tokens per second; 0 = unlimited */
	uint64_t burst;	  /* bucket depth, tokens (>= 1) */
	uint64_t credit;  /* current credit, token-ns (tokens * 1e9) */
	uint64_t last_ns; /* time of the last refill */
};

/*
 * Default depth for a rate: 2 ms worth of tokens, at least 2 (enough to absorb
 * timer latency without overshooting the rate by more than 2 ms of traffic).
 */
uint64_t sched_tb_default_burst(uint64_t rate);
/* Start a bucket at now_ns with one token (burst 0: the default). */
void sched_tb_init(struct sched_tb *tb, uint64_t rate, uint64_t burst, uint64_t now_ns);
/*
 * Refill up to now_ns and return the whole tokens available (UINT64_MAX when
 * unlimited).
 */
uint64_t sched_tb_avail(struct sched_tb *tb, uint64_t now_ns);
/* Spend n tokens (n <= what sched_tb_avail() returned). */
void sched_tb_take(struct sched_tb *tb, uint64_t n);
/* Nanoseconds from the last refill until n tokens are available (0 if now). */
uint64_t sched_tb_wait_ns(const struct sched_tb *tb, uint64_t n);

/* ---- per-destination limiter --------------------------------------------- */

/* One destination's next allowed send time. */
struct sched_dst_ent {
	uint32_t addr;	  /* destination, network order; 0 = empty */
	uint32_t pad;	  /* explicit padding */
	uint64_t next_ns; /* earliest time of the next probe to addr */
};

/*
 * At most one probe per gap_ns to each destination. Open addressing keyed by
 * address; entries whose next_ns has passed are reusable, and the table is
 * rebuilt (dropping them) when it fills, so memory stays bounded by the
 * destinations active within one gap.
 */
struct sched_dstlim {
	uint64_t gap_ns;	   /* minimum spacing per destination; 0 = off */
	struct sched_dst_ent *ent; /* table, cap entries */
	uint32_t cap;		   /* power of two */
	uint32_t used;		   /* non-empty entries (live or expired) */
};

/* Set up a limiter; gap_ns 0 disables it (then it never allocates). 0/-errno. */
int sched_dstlim_init(struct sched_dstlim *dl, uint64_t gap_ns);
void sched_dstlim_free(struct sched_dstlim *dl);
/*
 * May a probe go to addr at now_ns? Returns 0 and books the slot (the next
 * probe to addr must wait gap_ns), or returns the ns to wait (> 0) without
 * booking. Returns 0 when the limiter is off. On allocation failure the probe
 * is allowed (pacing degrades, measurements do not fail).
 */
uint64_t sched_dstlim_check(struct sched_dstlim *dl, uint32_t addr, uint64_t now_ns);

/* ---- probe slot table ---------------------------------------------------- */

/*
 * Probe slots, the state of each probe in flight. A slot id is 32 bits:
 * (generation << idx_bits) | index. The id travels in the probe (ICMP seq =
 * low 16 bits, IP ID = high 16 bits, cookie.req = all 32) and comes back in the
 * reply; lookup is one array access plus a generation compare, so a late
 * reply to a slot that was freed and reused is rejected. Freed indices are
 * reused in FIFO order, maximising the time before an index is reused.
 */
struct sched_slots {
	uint32_t nslots;   /* number of slots, power of two */
	uint32_t idx_bits; /* log2(nslots) */
	size_t entsize;	   /* bytes per entry */
	uint8_t *ents;	   /* nslots entries of entsize bytes, zeroed at alloc */
	uint32_t *meta;	   /* per index: generation << 1 | in-use bit */
	uint32_t *fifo;	   /* free indices, ring of nslots */
	uint32_t head;	   /* next free index to hand out (fifo position) */
	uint32_t nfree;	   /* free indices in the fifo */
};

/* Largest table: 2^24 slots (the generation keeps at least 8 bits). */
#define SCHED_SLOTS_MAX_BITS 24

/*
 * Make a table of at least n slots (rounded up to a power of two, at least
 * 16) of entsize bytes each. 0 or -errno (-EINVAL if n > 2^24).
 */
int sched_slots_init(struct sched_slots *st, uint32_t n, size_t entsize);
void sched_slots_free(struct sched_slots *st);
/*
 * Take a free slot: *id gets its id, returns its zeroed entry, or NULL when
 * every slot is in flight.
 */
void *sched_slots_alloc(struct sched_slots *st, uint32_t *id);
/* The in-use entry with this exact id (index and generation), else NULL. */
static inline void *sched_slots_lookup(const struct sched_slots *st, uint32_t id)
{
	uint32_t idx = id & (st->nslots - 1);
	uint32_t gen = id >> st->idx_bits;
	uint32_t m = st->meta[idx];

	if (!(m & 1) || (m >> 1) != gen)
		return NULL;
	return st->ents + (size_t)idx * st->entsize;
}
/* Release the slot with this id; the generation advances. 0 or -ENOENT. */
int sched_slots_release(struct sched_slots *st, uint32_t id);
/* Slots in flight. */
static inline uint32_t sched_slots_inuse(const struct sched_slots *st)
{
	return st->nslots - st->nfree;
}

#endif /* RTRACE_SCHED_H */
