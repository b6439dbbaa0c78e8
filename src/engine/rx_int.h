/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rx_int.h - private state of the receive path, shared by rx.c (the mode
 * choice and the public functions), rx_xdp.c (the XDP classifier and its
 * ring buffer) and rx_ring.c (the AF_PACKET TPACKET_V3 RX ring fallback).
 */
#ifndef RTRACE_ENGINE_RX_INT_H
#define RTRACE_ENGINE_RX_INT_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "rtrace/rx.h"
#include "rtrace/wire.h"

struct classify_bpf;
struct ring_buffer;

struct rx {
	enum rx_mode mode;	   /* mode in use: XDP_NATIVE, XDP_GENERIC or RING */
	int ifindex;		   /* capturing interface */
	char ifname[IF_NAMESIZE];  /* its name, for messages */
	struct rtrace_match match; /* which replies are ours */
	rx_cb cb;		   /* record consumer */
	void *ctx;		   /* its argument */
	uint64_t delivered;	   /* records passed to cb */

	/* XDP */
	struct classify_bpf *skel; /* loaded classifier */
	struct ring_buffer *rb;	   /* reader of its ring buffer */
	int link_fd;		   /* bpf_link holding the attachment, or -1 */
	uint32_t xdp_flags;	   /* mode flags of a netlink attachment (no link) */
	uint32_t prog_id;	   /* id of our program */

	/* AF_PACKET ring */
	int fd;			 /* packet socket, or -1 */
	uint8_t *map;		 /* mapped ring */
	size_t map_len;		 /* its length */
	unsigned int block_size; /* bytes per block */
	unsigned int block_nr;	 /* blocks */
	unsigned int cur;	 /* next block to read */
	struct rx_stats ring_st; /* ring counters (seen, ours, ringfull, malformed) */
};

/* Set up XDP in @mode (XDP_NATIVE or XDP_GENERIC) on rx. 0 or -errno (logged by the caller). */
int rx_xdp_open(struct rx *rx, enum rx_mode mode, const struct rx_opts *o, const char **step);
int rx_xdp_poll(struct rx *rx, int timeout_ms);
int rx_xdp_consume(struct rx *rx);
int rx_xdp_stats(struct rx *rx, struct rx_stats *s);
void rx_xdp_close(struct rx *rx);
/* The program attached to rx->ifindex that is not ours: its id (0 if none) and name. */
uint32_t rx_xdp_foreign(int ifindex, char *name, size_t namelen);

int rx_ring_open(struct rx *rx, const struct rx_opts *o, const char **step);
int rx_ring_poll(struct rx *rx, int timeout_ms);
int rx_ring_consume(struct rx *rx);
int rx_ring_stats(struct rx *rx, struct rx_stats *s);
void rx_ring_close(struct rx *rx);

#endif /* RTRACE_ENGINE_RX_INT_H */
