// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * txring.c - AF_PACKET TPACKET_V3 mmap TX ring (see include/rtrace/txring.h).
 *
 * The ring is frame_nr fixed-size slots in blocks of whole slots, mapped
 * once. Each slot starts with a struct tpacket3_hdr; the frame follows at
 * TPACKET3_HDRLEN - sizeof(struct sockaddr_ll) (we do not use
 * PACKET_TX_HAS_OFF). Ownership is the tp_status word: AVAILABLE (ours) ->
 * SEND_REQUEST (written by us, release order) -> SENDING -> AVAILABLE
 * again when the kernel frees the skb, or WRONG_FORMAT if it refused the
 * frame. The kernel walks the ring from its own head and stops at the first
 * slot that is not SEND_REQUEST, so we fill slots strictly in order and take
 * them back (reclaim) in the same order. A WRONG_FORMAT slot stops the
 * kernel's walk for good (its head never moves past it), so it is recovered
 * by tearing the ring down and setting it up again.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtrace/log.h"
#include "rtrace/txring.h"
#include "txmmsg.h"

/* Offset of the frame in a slot when PACKET_TX_HAS_OFF is not set. */
#define TX_DATA_OFF (TPACKET3_HDRLEN - sizeof(struct sockaddr_ll))
/* Blocks are this big unless a frame is bigger. */
#define TX_BLOCK_SIZE (64u << 10)
#define TX_STATUS_BUSY (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING | TP_STATUS_WRONG_FORMAT)

struct txring {
	int fd;			     /* AF_PACKET socket (ring backend) */
	int ifindex;		     /* bound interface */
	char ifname[IF_NAMESIZE];    /* its name, for messages */
	enum txring_backend backend; /* TXRING_RING or TXRING_MMSG */
	struct txmmsg *mm;	     /* the sendmmsg backend, if used */
	uint8_t *map;		     /* the mapped ring */
	size_t map_len;		     /* its length */
	struct tpacket_req3 req;     /* ring geometry as set */
	unsigned int frame_size;     /* bytes per slot */
	unsigned int frame_nr;	     /* slots */
	size_t cap;		     /* usable frame bytes per slot */
	unsigned int head;	     /* next slot to fill */
	unsigned int tail;	     /* oldest slot in flight */
	unsigned int inflight;	     /* committed, not reclaimed */
	unsigned int unkicked;	     /* committed since the last good kick */
	struct txring_stats st;	     /* counters */
};

static inline struct tpacket3_hdr *tx_slot(const struct txring *t, unsigned int i)
{
	/* blocks hold whole slots with no gap, so slots are contiguous */
	return (struct tpacket3_hdr *)(t->map + (size_t)i * t->frame_size);
}

static int tx_mtu(int fd, const char *ifname, unsigned int *mtu)
{
	struct ifreq ifr = {0};

	strncpy(ifr.ifr_name, ifname, IF_NAMESIZE - 1);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		return -errno;
	*mtu = ifr.ifr_mtu;
	return 0;
}

static int tx_bind(int fd, int ifindex)
{
	/* protocol 0: send only, this socket never gets a copy of received traffic */
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = 0,
		.sll_ifindex = ifindex,
	};

	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

/* Create the ring (PACKET_TX_RING) and map it. On error *step names what failed. */
static int tx_ring_map(struct txring *t, const char **step)
{
	int err;

	*step = "PACKET_TX_RING";
	if (setsockopt(t->fd, SOL_PACKET, PACKET_TX_RING, &t->req, sizeof(t->req)) < 0)
		return -errno;
	*step = "mmap";
	t->map =
		mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, t->fd, 0);
	if (t->map == MAP_FAILED) {
		struct tpacket_req3 none = {0};

		err = -errno;
		t->map = NULL;
		setsockopt(t->fd, SOL_PACKET, PACKET_TX_RING, &none, sizeof(none));
		return err;
	}
	return 0;
}

static void tx_geometry(struct txring *t, unsigned int frame_size, unsigned int frame_count)
{
	unsigned int block = TX_BLOCK_SIZE > frame_size ? TX_BLOCK_SIZE : frame_size;
	unsigned int page = sysconf(_SC_PAGESIZE);
	unsigned int per_block;

	if (block % page)
		block = (block / page + 1) * page;
	per_block = block / frame_size;
	t->req.tp_block_size = block;
	t->req.tp_frame_size = frame_size;
	t->req.tp_block_nr = (frame_count + per_block - 1) / per_block;
	t->req.tp_frame_nr = t->req.tp_block_nr * per_block;
	t->frame_size = frame_size;
	t->frame_nr = t->req.tp_frame_nr;
	t->map_len = (size_t)block * t->req.tp_block_nr;
}

/* Set up the TPACKET_V3 ring on t->fd. Returns 0 or -errno with *step set. */
static int tx_ring_setup(struct txring *t, const struct txring_opts *o, const char **step)
{
	int v = TPACKET_V3;

	(void)o;
	*step = "PACKET_VERSION";
	if (setsockopt(t->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		return -errno;
	return tx_ring_map(t, step);
}

/* The socket, with PACKET_QDISC_BYPASS unless @qdisc (kernels < 3.14 lack it: ignored). */
static int tx_open_socket(struct txring *t, int qdisc)
{
	int one = 1;

	t->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	if (!qdisc)
		(void)setsockopt(t->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	return 0;
}

static struct txring *tx_open(int ifindex, const char *ifname, const struct txring_opts *opts)
{
	struct txring_opts o = opts ? *opts : (struct txring_opts){0};
	const char *step = "socket";
	struct txring *t;
	unsigned int mtu = 0;
	int err;

	if (!o.frame_size)
		o.frame_size = TXRING_DEF_FRAME_SIZE;
	if (!o.frame_count)
		o.frame_count = TXRING_DEF_FRAME_COUNT;
	if (o.frame_size < 256 || (o.frame_size & (o.frame_size - 1)) ||
	    o.frame_count > (1u << 20) || o.backend > TXRING_MMSG) {
		rt_err("txring: %s: bad options (frame_size %u, frame_count %u)", ifname,
		       o.frame_size, o.frame_count);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ifindex = ifindex;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	err = tx_open_socket(t, o.qdisc);
	if (err)
		goto out_err;
	step = "SIOCGIFMTU";
	err = tx_mtu(t->fd, ifname, &mtu);
	if (err)
		goto out_close;
	step = "bind";
	err = tx_bind(t->fd, ifindex);
	if (err)
		goto out_close;
	tx_geometry(t, o.frame_size, o.frame_count);
	t->cap = o.frame_size - TX_DATA_OFF;
	if (t->cap > (size_t)mtu + ETH_HLEN)
		t->cap = (size_t)mtu + ETH_HLEN;
	if (o.backend != TXRING_MMSG) {
		err = tx_ring_setup(t, &o, &step);
		if (!err) {
			t->backend = TXRING_RING;
			return t;
		}
		if (o.backend == TXRING_RING)
			goto out_close;
		rt_warn("txring: %s: TX ring unavailable (%s: %s), falling back to sendmmsg",
			ifname, step, strerror(-err));
		close(t->fd);
		err = tx_open_socket(t, o.qdisc);
		step = "socket";
		if (!err)
			err = tx_bind(t->fd, ifindex);
		if (err)
			goto out_close;
	}
	step = "sendmmsg buffers";
	t->mm = txmmsg_open(t->fd, o.frame_size, o.frame_count, t->cap);
	if (!t->mm) {
		err = -errno;
		goto out_close;
	}
	t->backend = TXRING_MMSG;
	return t;

out_close:
	if (t->fd >= 0)
		close(t->fd);
out_err:
	rt_err("txring: %s: %s failed: %s%s", ifname, step, strerror(-err),
	       err == -EPERM ? " (needs root or cap_net_raw)" : "");
	free(t);
	errno = -err;
	return NULL;
}

struct txring *txring_open(const char *ifname, const struct txring_opts *o)
{
	int ifindex = ifname ? (int)if_nametoindex(ifname) : 0;

	if (!ifindex) {
		rt_err("txring: %s: no such interface", ifname ? ifname : "(null)");
		errno = ENODEV;
		return NULL;
	}
	return tx_open(ifindex, ifname, o);
}

struct txring *txring_open_index(int ifindex, const struct txring_opts *o)
{
	char name[IF_NAMESIZE];

	if (ifindex <= 0 || !if_indextoname(ifindex, name)) {
		rt_err("txring: ifindex %d: no such interface", ifindex);
		errno = ENODEV;
		return NULL;
	}
	return tx_open(ifindex, name, o);
}

/*
 * Recover from a WRONG_FORMAT slot: tear the ring down and set it up again
 * (the kernel's head returns to slot 0). Frames still in flight are lost.
 */
static int tx_ring_reset(struct txring *t)
{
	struct tpacket_req3 none = {0};
	const char *step;
	int tries, err = 0;

	munmap(t->map, t->map_len);
	t->map = NULL;
	for (tries = 0; tries < 1000; tries++) {
		if (setsockopt(t->fd, SOL_PACKET, PACKET_TX_RING, &none, sizeof(none)) == 0)
			break;
		err = -errno;
		if (err != -EBUSY)
			break;
		/* frames still in the driver: wait for them (bounded, error path only) */
		nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
	}
	t->st.dropped += t->inflight;
	t->head = t->tail = t->inflight = t->unkicked = 0;
	t->st.inflight = 0;
	err = tx_ring_map(t, &step);
	if (err) {
		t->frame_nr = 0; /* unusable: txring_frame() returns NULL */
		t->st.errors++;
		t->st.last_errno = -err;
	}
	return err;
}

int txring_reclaim(struct txring *t)
{
	int n = 0;

	if (t->backend == TXRING_MMSG)
		return 0;
	while (t->inflight) {
		struct tpacket3_hdr *h = tx_slot(t, t->tail);
		__u32 status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

		if (status & TP_STATUS_WRONG_FORMAT) {
			t->st.wrong_format++;
			t->inflight--; /* not "dropped": counted above */
			tx_ring_reset(t);
			return n;
		}
		if (status & TX_STATUS_BUSY)
			break;
		t->st.sent++;
		t->st.bytes += h->tp_len;
		t->tail = t->tail + 1 == t->frame_nr ? 0 : t->tail + 1;
		t->inflight--;
		n++;
	}
	t->st.inflight = t->inflight;
	return n;
}

void *txring_frame(struct txring *t, size_t *cap)
{
	if (t->backend == TXRING_MMSG)
		return txmmsg_frame(t->mm, cap, &t->st);
	if (t->inflight == t->frame_nr && (!t->frame_nr || txring_reclaim(t) == 0)) {
		t->st.ring_full++;
		return NULL;
	}
	*cap = t->cap;
	return (uint8_t *)tx_slot(t, t->head) + TX_DATA_OFF;
}

int txring_commit(struct txring *t, size_t len)
{
	struct tpacket3_hdr *h;

	if (t->backend == TXRING_MMSG)
		return txmmsg_commit(t->mm, len, &t->st);
	if (t->inflight == t->frame_nr)
		return -ENOBUFS;
	if (len < ETH_HLEN || len > t->cap) {
		t->st.wrong_format++;
		return -EINVAL;
	}
	h = tx_slot(t, t->head);
	h->tp_len = len;
	h->tp_snaplen = len;
	h->tp_next_offset = 0;
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	t->head = t->head + 1 == t->frame_nr ? 0 : t->head + 1;
	t->inflight++;
	t->unkicked++;
	t->st.inflight = t->inflight;
	return 0;
}

int txring_kick(struct txring *t)
{
	int err = 0;

	if (t->backend == TXRING_MMSG)
		return txmmsg_kick(t->mm, &t->st);
	if (t->unkicked) {
		t->st.kicks++;
		if (send(t->fd, NULL, 0, MSG_DONTWAIT) < 0) {
			err = -errno;
			t->st.errors++;
			t->st.last_errno = errno;
			if (err == -EAGAIN || err == -ENOBUFS)
				t->st.busy++;
		} else {
			t->unkicked = 0;
		}
	}
	txring_reclaim(t);
	return err;
}

int txring_flush(struct txring *t, int timeout_ms)
{
	struct timespec now, end;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		err = txring_kick(t);
		if (err && err != -EAGAIN && err != -ENOBUFS)
			return err;
		if (t->backend == TXRING_MMSG ? !txmmsg_queued(t->mm) : !t->inflight)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
	}
}

int txring_fd(const struct txring *t)
{
	return t->fd;
}

enum txring_backend txring_backend_used(const struct txring *t)
{
	return t->backend;
}

int txring_ifindex(const struct txring *t)
{
	return t->ifindex;
}

void txring_stats(const struct txring *t, struct txring_stats *s)
{
	*s = t->st;
}

void txring_close(struct txring *t)
{
	if (!t)
		return;
	if (t->backend == TXRING_MMSG) {
		txmmsg_close(t->mm, &t->st);
	} else {
		if (t->map)
			munmap(t->map, t->map_len);
		close(t->fd);
	}
	free(t);
}
