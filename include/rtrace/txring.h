/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * txring.h - the transmit path: complete Ethernet frames written in place
 * into an AF_PACKET TPACKET_V3 mmap TX ring bound to one interface, sent in
 * batches by one send() ("kick"). When the ring cannot be set up (or when
 * asked to), the same API runs on sendmmsg() over an AF_PACKET SOCK_RAW
 * socket with a preallocated frame array.
 *
 * Usage (hot path: no allocation, no logging, only counters):
 *
 *	while ((buf = txring_frame(t, &cap)) != NULL && have_probe) {
 *		len = build_probe(buf, cap);
 *		txring_commit(t, len);
 *	}
 *	txring_kick(t);		// one send() for everything committed
 *
 * When txring_frame() returns NULL the ring is full: kick, then wait for
 * EPOLLOUT on txring_fd() (or just retry later); frames come back as the
 * kernel finishes with them (txring_reclaim(), also done implicitly).
 * A struct txring is not thread-safe: one thread owns it.
 */
#ifndef RTRACE_TXRING_H
#define RTRACE_TXRING_H

#include <stddef.h>
#include <stdint.h>

/* Which kernel interface carries the frames. */
enum txring_backend {
	TXRING_AUTO = 0, /* TPACKET_V3 ring, sendmmsg() if the ring fails */
	TXRING_RING = 1, /* TPACKET_V3 mmap TX ring only */
	TXRING_MMSG = 2, /* sendmmsg() on AF_PACKET SOCK_RAW only */
};

/* Defaults used for zero fields of struct txring_opts. */
#define TXRING_DEF_FRAME_SIZE 2048u
#define TXRING_DEF_FRAME_COUNT 4096u

/* Options of txring_open(); a zeroed struct (or NULL) gives the defaults. */
struct txring_opts {
	unsigned int frame_size;     /* bytes per slot incl. the tpacket header; power
				      * of two, >= 256 (0: TXRING_DEF_FRAME_SIZE) */
	unsigned int frame_count;    /* slots, rounded up to fill whole blocks
				      * (0: TXRING_DEF_FRAME_COUNT) */
	enum txring_backend backend; /* TXRING_AUTO unless forced */
	int qdisc;		     /* 1: go through the qdisc layer; default (0)
				      * sets PACKET_QDISC_BYPASS */
};

/* Counters; all monotonically increasing since txring_open(). */
struct txring_stats {
	uint64_t sent;	       /* frames the kernel accepted and released */
	uint64_t bytes;	       /* bytes of those frames */
	uint64_t kicks;	       /* send()/sendmmsg() calls made */
	uint64_t ring_full;    /* txring_frame() calls that returned NULL */
	uint64_t wrong_format; /* frames rejected: by txring_commit() (bad length)
				* or by the kernel (TP_STATUS_WRONG_FORMAT) */
	uint64_t errors;       /* send()/sendmmsg() calls that failed */
	uint64_t busy;	       /* ...of which failed with EAGAIN/ENOBUFS (frames
				* stay queued and go out on a later kick) */
	uint64_t dropped;      /* committed frames discarded unsent (ring reset
				* after TP_STATUS_WRONG_FORMAT, or txring_close) */
	int last_errno;	       /* errno of the last failed call, 0 if none */
	unsigned int inflight; /* committed frames not yet released (gauge) */
};

struct txring;

/*
 * Open a transmit ring on interface @ifname (or @ifindex). @o may be NULL.
 * Needs CAP_NET_RAW. The backend is chosen by o->backend; with TXRING_AUTO a
 * ring that cannot be set up logs one rt_warn line and falls back to
 * sendmmsg. Returns NULL with errno set on failure (after one rt_err line
 * naming the interface and the failing step).
 */
struct txring *txring_open(const char *ifname, const struct txring_opts *o);
struct txring *txring_open_index(int ifindex, const struct txring_opts *o);

/*
 * The next free slot to write one frame into (starting at the Ethernet
 * header), and its capacity in *cap (min of slot room and MTU + 14).
 * Calling it again without txring_commit() returns the same slot. Returns
 * NULL when every slot is in flight (counted in ring_full): kick and retry.
 */
void *txring_frame(struct txring *t, size_t *cap);

/*
 * Hand the slot from txring_frame() to the kernel with @len bytes of frame.
 * It is sent at the next txring_kick(). Returns 0, -EINVAL if @len is below
 * an Ethernet header or above *cap (the slot stays free; counted in
 * wrong_format), -ENOBUFS if there was no slot.
 */
int txring_commit(struct txring *t, size_t len);

/*
 * Send everything committed since the last kick with one non-blocking
 * send() (ring) or sendmmsg() calls (fallback). Returns 0 (also when there
 * was nothing to send), -EAGAIN/-ENOBUFS if the device queue is full (frames
 * stay queued, kick again later), or another -errno (counted in errors).
 */
int txring_kick(struct txring *t);

/*
 * Take back the slots the kernel has finished with (status back to
 * TP_STATUS_AVAILABLE, or TP_STATUS_WRONG_FORMAT, which is counted and
 * recovered by resetting the ring). Returns the number of slots freed.
 * txring_frame() calls it when the ring looks full; callers may call it
 * after EPOLLOUT.
 */
int txring_reclaim(struct txring *t);

/*
 * Kick and wait up to @timeout_ms until no frame is in flight. Returns 0,
 * -ETIMEDOUT, or an error of txring_kick().
 */
int txring_flush(struct txring *t, int timeout_ms);

/* The socket: EPOLLOUT when the kernel has a free slot at its head (ring). */
int txring_fd(const struct txring *t);
/* The backend actually in use (TXRING_RING or TXRING_MMSG). */
enum txring_backend txring_backend_used(const struct txring *t);
/* Interface index the ring is bound to. */
int txring_ifindex(const struct txring *t);
/* Copy the counters into *s. */
void txring_stats(const struct txring *t, struct txring_stats *s);
/* Close the socket and free everything; frames not yet kicked are dropped. NULL-safe. */
void txring_close(struct txring *t);

#endif /* RTRACE_TXRING_H */
