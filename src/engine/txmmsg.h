/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * txmmsg.h - private interface between txring.c and its sendmmsg() backend
 * (txmmsg.c): a circular array of preallocated frame buffers sent with
 * sendmmsg() on an AF_PACKET SOCK_RAW socket. Same semantics as the
 * txring_* functions of include/rtrace/txring.h; counters go to the
 * caller's struct txring_stats.
 */
#ifndef RTRACE_ENGINE_TXMMSG_H
#define RTRACE_ENGINE_TXMMSG_H

#include <stddef.h>

#include "rtrace/txring.h"

struct txmmsg;

/* Frames of @frame_size bytes (all usable), @count of them, on socket @fd (taken over). */
struct txmmsg *txmmsg_open(int fd, unsigned int frame_size, unsigned int count, size_t cap);
void *txmmsg_frame(struct txmmsg *m, size_t *cap, struct txring_stats *st);
int txmmsg_commit(struct txmmsg *m, size_t len, struct txring_stats *st);
int txmmsg_kick(struct txmmsg *m, struct txring_stats *st);
unsigned int txmmsg_queued(const struct txmmsg *m);
/* Close the socket, free; queued frames are counted in st->dropped. */
void txmmsg_close(struct txmmsg *m, struct txring_stats *st);

#endif /* RTRACE_ENGINE_TXMMSG_H */
