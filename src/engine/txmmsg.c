// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * txmmsg.c - the fallback transmit backend of txring: frames are written
 * into a preallocated circular array and sent by sendmmsg() on an AF_PACKET
 * SOCK_RAW socket bound to the interface. The kernel copies each frame into
 * an skb during the call, so a slot is free again as soon as sendmmsg() has
 * taken it. Slower than the mmap ring (one copy and one skb allocation per
 * frame through the socket layer) but works wherever AF_PACKET does.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "txmmsg.h"

struct txmmsg {
	int fd;			 /* AF_PACKET SOCK_RAW socket, bound */
	unsigned int frame_size; /* bytes per slot */
	unsigned int count;	 /* slots */
	size_t cap;		 /* usable bytes per slot (<= frame_size) */
	unsigned int head;	 /* next slot to fill */
	unsigned int tail;	 /* oldest queued slot */
	unsigned int queued;	 /* committed, not yet sent */
	uint8_t *buf;		 /* count * frame_size bytes */
	struct iovec *iov;	 /* one per slot, iov_base fixed */
	struct mmsghdr *msgs;	 /* one per slot, msg_iov = &iov[i] */
};

struct txmmsg *txmmsg_open(int fd, unsigned int frame_size, unsigned int count, size_t cap)
{
	struct txmmsg *m = calloc(1, sizeof(*m));
	unsigned int i;

	if (!m)
		return NULL;
	m->fd = fd;
	m->frame_size = frame_size;
	m->count = count;
	m->cap = cap < frame_size ? cap : frame_size;
	m->buf = malloc((size_t)frame_size * count);
	m->iov = calloc(count, sizeof(*m->iov));
	m->msgs = calloc(count, sizeof(*m->msgs));
	if (!m->buf || !m->iov || !m->msgs) {
		free(m->buf);
		free(m->iov);
		free(m->msgs);
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < count; i++) {
		m->iov[i].iov_base = m->buf + (size_t)i * frame_size;
		m->msgs[i].msg_hdr.msg_iov = &m->iov[i];
		m->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return m;
}

void *txmmsg_frame(struct txmmsg *m, size_t *cap, struct txring_stats *st)
{
	if (m->queued == m->count) {
		st->ring_full++;
		return NULL;
	}
	*cap = m->cap;
	return m->iov[m->head].iov_base;
}

int txmmsg_commit(struct txmmsg *m, size_t len, struct txring_stats *st)
{
	if (m->queued == m->count)
		return -ENOBUFS;
	if (len < ETH_HLEN || len > m->cap) {
		st->wrong_format++;
		return -EINVAL;
	}
	m->iov[m->head].iov_len = len;
	m->head = m->head + 1 == m->count ? 0 : m->head + 1;
	m->queued++;
	st->inflight = m->queued;
	return 0;
}

/* Drop the frame at the tail: the kernel refused it for its content. */
static void txmmsg_skip(struct txmmsg *m, struct txring_stats *st)
{
	st->wrong_format++;
	m->tail = m->tail + 1 == m->count ? 0 : m->tail + 1;
	m->queued--;
}

int txmmsg_kick(struct txmmsg *m, struct txring_stats *st)
{
	int err = 0;

	while (m->queued) {
		unsigned int n = m->count - m->tail;
		unsigned int i;
		int r;

		if (n > m->queued)
			n = m->queued;
		st->kicks++;
		r = sendmmsg(m->fd, &m->msgs[m->tail], n, MSG_DONTWAIT);
		if (r < 0) {
			err = -errno;
			st->errors++;
			st->last_errno = errno;
			if (err == -EAGAIN || err == -ENOBUFS) {
				st->busy++;
				break;
			}
			if (err == -EMSGSIZE || err == -EINVAL) {
				/* this frame can never go out: drop it, go on */
				txmmsg_skip(m, st);
				continue;
			}
			break;
		}
		err = 0;
		for (i = 0; i < (unsigned int)r; i++)
			st->bytes += m->iov[m->tail + i].iov_len;
		st->sent += r;
		m->queued -= r;
		m->tail += r;
		if (m->tail == m->count)
			m->tail = 0;
		/* a short count: the next call reports why it stopped */
	}
	st->inflight = m->queued;
	return err;
}

unsigned int txmmsg_queued(const struct txmmsg *m)
{
	return m->queued;
}

void txmmsg_close(struct txmmsg *m, struct txring_stats *st)
{
	if (!m)
		return;
	st->dropped += m->queued;
	close(m->fd);
	free(m->buf);
	free(m->iov);
	free(m->msgs);
	free(m);
}
