// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sched.c - the epoll event loop and its timer heap (see include/rtrace/sched.h).
 *
 * One timerfd, armed with an absolute CLOCK_MONOTONIC deadline, wakes epoll
 * for the earliest timer; timers themselves live in a binary min-heap of
 * pointers to the callers' struct sched_timer. fd registrations are small
 * heap objects referenced from epoll_event.data.ptr; a registration removed
 * during dispatch is only marked dead and freed after the batch, so a later
 * event of the same batch never touches freed memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "rtrace/log.h"
#include "rtrace/sched.h"

#define SCHED_MAX_EVENTS 64

struct sched_reg {
	int fd;			/* watched fd, -1 once removed */
	sched_fd_cb cb;		/* event callback */
	void *ctx;		/* its argument */
	struct sched_reg *next; /* all registrations (live and dead) */
};

struct sched {
	int epfd;		   /* epoll instance */
	int tfd;		   /* timerfd for the earliest timer */
	uint64_t tfd_armed;	   /* deadline the timerfd holds, 0 = none */
	struct sched_timer **heap; /* min-heap on when_ns */
	size_t nheap;		   /* armed timers */
	size_t capheap;		   /* heap capacity */
	struct sched_reg *regs;	   /* registrations */
	int ndead;		   /* dead registrations awaiting free */
	int stop;		   /* sched_stop() was called */
	struct sched_reg tfd_reg;  /* the timerfd's own registration */
	sched_idle_cb idle;	   /* called before each poll */
	void *idle_ctx;		   /* its argument */
};

uint64_t sched_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct sched *sched_new(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct sched *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		err = -errno;
		goto out_free;
	}
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tfd < 0) {
		err = -errno;
		goto out_epoll;
	}
	s->tfd_reg.fd = s->tfd;
	ev.data.ptr = &s->tfd_reg;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) < 0) {
		err = -errno;
		goto out_tfd;
	}
	return s;

out_tfd:
	close(s->tfd);
out_epoll:
	close(s->epfd);
out_free:
	rt_err("sched: event loop setup failed: %s", strerror(-err));
	free(s);
	errno = -err;
	return NULL;
}

void sched_free(struct sched *s)
{
	struct sched_reg *r, *n;

	if (!s)
		return;
	for (r = s->regs; r; r = n) {
		n = r->next;
		free(r);
	}
	close(s->tfd);
	close(s->epfd);
	free(s->heap);
	free(s);
}

static struct sched_reg *reg_find(struct sched *s, int fd)
{
	struct sched_reg *r;

	for (r = s->regs; r; r = r->next)
		if (r->fd == fd)
			return r;
	return NULL;
}

int sched_add_fd(struct sched *s, int fd, uint32_t events, sched_fd_cb cb, void *ctx)
{
	struct epoll_event ev = {.events = events};
	struct sched_reg *r;

	if (fd < 0 || !cb)
		return -EINVAL;
	if (reg_find(s, fd))
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->cb = cb;
	r->ctx = ctx;
	ev.data.ptr = r;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(r);
		return err;
	}
	r->next = s->regs;
	s->regs = r;
	return 0;
}

int sched_mod_fd(struct sched *s, int fd, uint32_t events)
{
	struct sched_reg *r = reg_find(s, fd);
	struct epoll_event ev = {.events = events};

	if (!r)
		return -ENOENT;
	ev.data.ptr = r;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int sched_del_fd(struct sched *s, int fd)
{
	struct sched_reg *r = reg_find(s, fd);

	if (!r)
		return -ENOENT;
	/* The fd may be closed already; the kernel then dropped it itself. */
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	r->fd = -1;
	s->ndead++;
	return 0;
}

static void reg_reap(struct sched *s)
{
	struct sched_reg **pp = &s->regs, *r;

	while ((r = *pp)) {
		if (r->fd < 0) {
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
	s->ndead = 0;
}

/* ---- timer heap ---- */

void sched_timer_init(struct sched_timer *t, sched_timer_cb cb, void *ctx)
{
	t->when_ns = 0;
	t->cb = cb;
	t->ctx = ctx;
	t->heap_idx = 0;
}

size_t sched_timer_count(const struct sched *s)
{
	return s->nheap;
}

int sched_timer_reserve(struct sched *s, size_t n)
{
	struct sched_timer **h;

	if (n <= s->capheap)
		return 0;
	h = realloc(s->heap, n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	s->heap = h;
	s->capheap = n;
	return 0;
}

static inline void heap_set(struct sched *s, size_t i, struct sched_timer *t)
{
	s->heap[i] = t;
	t->heap_idx = i + 1;
}

static void heap_up(struct sched *s, size_t i)
{
	struct sched_timer *t = s->heap[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (s->heap[p]->when_ns <= t->when_ns)
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, t);
}

static void heap_down(struct sched *s, size_t i)
{
	struct sched_timer *t = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && s->heap[c + 1]->when_ns < s->heap[c]->when_ns)
			c++;
		if (t->when_ns <= s->heap[c]->when_ns)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, t);
}

static void heap_remove(struct sched *s, struct sched_timer *t)
{
	size_t i = t->heap_idx - 1;
	struct sched_timer *last = s->heap[--s->nheap];

	t->heap_idx = 0;
	if (last == t)
		return;
	heap_set(s, i, last);
	if (i > 0 && s->heap[(i - 1) / 2]->when_ns > last->when_ns)
		heap_up(s, i);
	else
		heap_down(s, i);
}

int sched_timer_arm(struct sched *s, struct sched_timer *t, uint64_t when_ns)
{
	if (t->heap_idx) {
		uint64_t old = t->when_ns;

		t->when_ns = when_ns;
		if (when_ns < old)
			heap_up(s, t->heap_idx - 1);
		else
			heap_down(s, t->heap_idx - 1);
		return 0;
	}
	if (s->nheap == s->capheap) {
		int err = sched_timer_reserve(s, s->capheap ? 2 * s->capheap : 64);

		if (err)
			return err;
	}
	t->when_ns = when_ns;
	heap_set(s, s->nheap, t);
	s->nheap++;
	heap_up(s, s->nheap - 1);
	return 0;
}

void sched_timer_cancel(struct sched *s, struct sched_timer *t)
{
	if (t->heap_idx)
		heap_remove(s, t);
}

/*
 * Run every timer whose deadline is <= now, now being read once: a timer a
 * callback (re-)arms for "now" waits for the next pass, so a callback that
 * yields by re-arming itself lets the fds be served in between.
 */
static int run_timers(struct sched *s)
{
	uint64_t now = sched_now_ns();
	int n = 0;

	while (s->nheap && s->heap[0]->when_ns <= now) {
		struct sched_timer *t = s->heap[0];

		heap_remove(s, t);
		t->cb(s, t, t->ctx);
		n++;
	}
	return n;
}

/* Point the timerfd at the earliest deadline (or disarm it). */
static void tfd_update(struct sched *s)
{
	uint64_t want = s->nheap ? s->heap[0]->when_ns : 0;
	struct itimerspec its = {0};

	if (want == s->tfd_armed)
		return;
	if (want) {
		its.it_value.tv_sec = want / 1000000000ull;
		its.it_value.tv_nsec = want % 1000000000ull;
	}
	if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->tfd_armed = want;
}

int sched_run_once(struct sched *s, int timeout_ms)
{
	struct epoll_event ev[SCHED_MAX_EVENTS];
	int n, i, ran;

	ran = run_timers(s);
	if (ran)
		timeout_ms = 0;
	tfd_update(s);
	if (s->idle)
		s->idle(s, s->idle_ctx);
	n = epoll_wait(s->epfd, ev, SCHED_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? ran : -errno;
	for (i = 0; i < n; i++) {
		struct sched_reg *r = ev[i].data.ptr;

		if (r == &s->tfd_reg) {
			uint64_t exp;

			if (read(s->tfd, &exp, sizeof(exp)) < 0) {
				/* EAGAIN: re-armed since; nothing to clear */
			}
			s->tfd_armed = 0;
			continue;
		}
		if (r->fd < 0)
			continue;
		r->cb(s, r->fd, ev[i].events, r->ctx);
		ran++;
	}
	ran += run_timers(s);
	if (s->ndead)
		reg_reap(s);
	return ran;
}

void sched_set_idle(struct sched *s, sched_idle_cb cb, void *ctx)
{
	s->idle = cb;
	s->idle_ctx = ctx;
}

int sched_run(struct sched *s)
{
	while (!s->stop) {
		int err = sched_run_once(s, -1);

		if (err < 0)
			return err;
	}
	return 0;
}

void sched_stop(struct sched *s)
{
	s->stop = 1;
}

int sched_stopped(const struct sched *s)
{
	return s->stop;
}

void sched_resume(struct sched *s)
{
	s->stop = 0;
}
