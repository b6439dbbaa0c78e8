/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rx.h - the receive path: replies to our probes, one struct rtrace_reply
 * (wire.h) each, delivered to a callback.
 *
 * Two backends with the same records:
 *  - XDP: the classifier bpf/classify.bpf.c attached to the interface
 *    (native, else generic) recognises our replies, writes a record into a
 *    BPF ring buffer and drops the packet; everything else passes. The
 *    classifier's per-CPU counters are summed by rx_stats().
 *  - ring: an AF_PACKET TPACKET_V3 RX ring (block based, a classic BPF
 *    filter keeps only IPv4 ICMP) whose frames are parsed in user space with
 *    codec_parse_frame() and filtered with codec_reply_is_ours(). The kernel
 *    still processes these packets too. rx_ns is the kernel's receive
 *    timestamp of the frame (tpacket header, CLOCK_REALTIME) converted to
 *    CLOCK_MONOTONIC with the REALTIME-MONOTONIC offset sampled when the
 *    block is read (exact unless the wall clock steps in between).
 *
 * Records are delivered from rx_poll()/rx_consume() in the caller's thread.
 * One struct rx per interface; not thread-safe.
 */
#ifndef RTRACE_RX_H
#define RTRACE_RX_H

#include <stdint.h>

#include "rtrace/wire.h"

struct rtrace_match; /* wire.h: which replies are ours (codec) */

/* How replies are captured. */
enum rx_mode {
	RX_MODE_AUTO = 0,	 /* XDP native, else XDP generic, else ring */
	RX_MODE_XDP_NATIVE = 1,	 /* XDP in the driver only */
	RX_MODE_XDP_GENERIC = 2, /* XDP in the generic (skb) path only */
	RX_MODE_RING = 3,	 /* AF_PACKET TPACKET_V3 RX ring only */
};

/* Defaults used for zero fields of struct rx_opts. */
#define RX_DEF_RINGBUF_BYTES (4u << 20)
#define RX_DEF_BLOCK_SIZE (1u << 20)
#define RX_DEF_BLOCK_NR 8u
#define RX_DEF_BLOCK_TOV_MS 2u

/* Called once per reply, from rx_poll()/rx_consume(); @r is only valid during the call. */
typedef void (*rx_cb)(void *ctx, const struct rtrace_reply *r);

/* Options of rx_open(). */
struct rx_opts {
	const struct rtrace_match *match; /* required; copied (into the XDP
					   * program's rodata or for the ring) */
	enum rx_mode mode;		  /* RX_MODE_AUTO unless forced */
	unsigned int ringbuf_bytes;	  /* XDP ring buffer size, power of two
					   * >= page size (0: RX_DEF_RINGBUF_BYTES) */
	unsigned int block_size;	  /* ring: bytes per block, page multiple
					   * (0: RX_DEF_BLOCK_SIZE) */
	unsigned int block_nr;		  /* ring: blocks (0: RX_DEF_BLOCK_NR) */
	unsigned int block_tov_ms;	  /* ring: a partly filled block is handed
					   * to user space after this many ms
					   * (0: RX_DEF_BLOCK_TOV_MS) */
	rx_cb cb;			  /* required: the record consumer */
	void *ctx;			  /* passed to cb */
};

/* Counters, summed since rx_open(). */
struct rx_stats {
	uint64_t seen;	    /* packets looked at (XDP: all; ring: IPv4 ICMP) */
	uint64_t ours;	    /* replies recognised as ours */
	uint64_t ringfull;  /* ours but lost: BPF ring buffer full (XDP) or
			     * kernel ring drops (ring, tp_drops) */
	uint64_t malformed; /* IPv4/ICMP that failed validation */
	uint64_t delivered; /* records passed to cb */
};

struct rx;

/*
 * Start capturing replies on @ifindex. XDP modes load the classifier with
 * o->match in its rodata and attach it as a bpf_link (or, on kernels
 * without XDP links, with XDP_FLAGS_UPDATE_IF_NOEXIST): a program someone
 * else attached is never replaced (-EBUSY, with an rt_err line naming its
 * id; in RX_MODE_AUTO one rt_warn line and the ring is used instead), and
 * the link is released by the kernel even if the process dies without
 * rx_close(). EPERM errors name the missing capabilities. Returns NULL with
 * errno set on failure.
 */
struct rx *rx_open(int ifindex, const struct rx_opts *o);

/* The fd to wait on for EPOLLIN (ring buffer epoll fd, or the packet socket). */
int rx_fd(const struct rx *rx);

/*
 * Wait up to @timeout_ms (-1 forever, 0 not at all) for records and deliver
 * all that are ready. Returns the number delivered, or -errno (-EINTR when
 * a signal interrupted the wait; just call again or stop).
 */
int rx_poll(struct rx *rx, int timeout_ms);

/* Deliver the records that are ready, without waiting. Returns the count or -errno. */
int rx_consume(struct rx *rx);

/* Sum the counters (XDP: the per-CPU map). Returns 0 or -errno. */
int rx_stats(struct rx *rx, struct rx_stats *s);

/* The mode actually in use (never RX_MODE_AUTO). */
enum rx_mode rx_mode_used(const struct rx *rx);

/* Human-readable name of a mode ("xdp-native", "xdp-generic", "ring", "auto"). */
const char *rx_mode_name(enum rx_mode m);

/*
 * Stop: detach our XDP program (only if the attached one is still ours,
 * checked by id) and free everything. NULL-safe. Not async-signal-safe: a
 * signal handler sets a flag, the main loop sees it and calls rx_close().
 */
void rx_close(struct rx *rx);

#endif /* RTRACE_RX_H */
