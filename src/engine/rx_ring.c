// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rx_ring.c - the fallback receive backend: an AF_PACKET TPACKET_V3 RX ring
 * on the interface. A classic BPF socket filter keeps only IPv4 ICMP
 * (everything rtrace classifies is ICMP); each frame is parsed in user space
 * with the same parser as the XDP program (codec_parse_frame()) and matched
 * with codec_reply_is_ours(), so the records are the same as XDP's.
 *
 * The kernel hands us whole blocks (TP_STATUS_USER) when they fill up or
 * after block_tov_ms; we walk the frames of each ready block in order and
 * give it back (TP_STATUS_KERNEL). The socket is created with protocol 0 and
 * bound to (ETH_P_IP, ifindex) only after the ring and the filter are in
 * place, so no frame of another interface ever lands in the ring.
 *
 * rx_ns: the frame's kernel receive timestamp (tp_sec/tp_nsec, which is
 * CLOCK_REALTIME) minus the REALTIME - MONOTONIC offset sampled when the
 * block is read: a CLOCK_MONOTONIC time like bpf_ktime_get_ns(), exact
 * unless the wall clock is stepped between receive and read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtrace/codec.h"
#include "rx_int.h"

/* Ethernet type IPv4 and IP protocol ICMP, or drop. */
static struct sock_filter rx_icmp_filter[] = {
	BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1 /* IPPROTO_ICMP */, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0x40000),
	BPF_STMT(BPF_RET | BPF_K, 0),
};

int rx_ring_open(struct rx *rx, const struct rx_opts *o, const char **step)
{
	struct sock_fprog prog = {
		.len = sizeof(rx_icmp_filter) / sizeof(rx_icmp_filter[0]),
		.filter = rx_icmp_filter,
	};
	struct tpacket_req3 req = {
		.tp_block_size = o->block_size,
		.tp_block_nr = o->block_nr,
		.tp_frame_size = 2048, /* V3 packs frames; only the geometry check uses it */
		.tp_retire_blk_tov = o->block_tov_ms,
	};
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = rx->ifindex,
	};
	int v = TPACKET_V3, one = 1, err;

	req.tp_frame_nr = req.tp_block_size / req.tp_frame_size * req.tp_block_nr;
	*step = "socket";
	rx->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (rx->fd < 0)
		return -errno;
	*step = "PACKET_VERSION";
	if (setsockopt(rx->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		goto out_errno;
	*step = "SO_ATTACH_FILTER";
	if (setsockopt(rx->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		goto out_errno;
	/* our own transmitted frames are of no interest (kernels >= 4.20) */
	(void)setsockopt(rx->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	*step = "PACKET_RX_RING";
	if (setsockopt(rx->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		goto out_errno;
	*step = "mmap";
	rx->map_len = (size_t)req.tp_block_size * req.tp_block_nr;
	rx->map = mmap(NULL, rx->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, rx->fd,
		       0);
	if (rx->map == MAP_FAILED) {
		rx->map = NULL;
		goto out_errno;
	}
	rx->block_size = req.tp_block_size;
	rx->block_nr = req.tp_block_nr;
	*step = "bind";
	if (bind(rx->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto out_errno;
	rx->mode = RX_MODE_RING;
	return 0;

out_errno:
	err = -errno;
	rx_ring_close(rx);
	return err;
}

static inline struct tpacket_block_desc *rx_block(const struct rx *rx, unsigned int i)
{
	return (struct tpacket_block_desc *)(rx->map + (size_t)i * rx->block_size);
}

static inline uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + ts->tv_nsec;
}

/* Parse, match and deliver every frame of a ready block. Returns records delivered. */
static int rx_ring_block(struct rx *rx, struct tpacket_block_desc *bd)
{
	struct tpacket3_hdr *h = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
	uint32_t i, n = bd->hdr.bh1.num_pkts;
	struct timespec real, mono;
	struct rtrace_reply r;
	int64_t off;
	int got = 0;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	off = (int64_t)(ts_ns(&real) - ts_ns(&mono));
	for (i = 0; i < n; i++) {
		int rc = codec_parse_frame((uint8_t *)h + h->tp_mac, h->tp_snaplen, &r);

		rx->ring_st.seen++;
		if (rc < 0) {
			rx->ring_st.malformed++;
		} else if (rc == 1 && codec_reply_is_ours(&r, &rx->match)) {
			r.rx_ns = (uint64_t)h->tp_sec * 1000000000u + h->tp_nsec - off;
			r.ifindex = rx->ifindex;
			rx->ring_st.ours++;
			rx->cb(rx->ctx, &r);
			rx->delivered++;
			got++;
		}
		h = (void *)((uint8_t *)h + h->tp_next_offset);
	}
	return got;
}

int rx_ring_consume(struct rx *rx)
{
	int got = 0;

	for (;;) {
		struct tpacket_block_desc *bd = rx_block(rx, rx->cur);

		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER))
			break;
		got += rx_ring_block(rx, bd);
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		rx->cur = rx->cur + 1 == rx->block_nr ? 0 : rx->cur + 1;
	}
	return got;
}

int rx_ring_poll(struct rx *rx, int timeout_ms)
{
	struct pollfd p = {.fd = rx->fd, .events = POLLIN | POLLERR};
	int got = rx_ring_consume(rx);

	if (got || !timeout_ms)
		return got;
	if (poll(&p, 1, timeout_ms) < 0)
		return -errno;
	return rx_ring_consume(rx);
}

int rx_ring_stats(struct rx *rx, struct rx_stats *s)
{
	struct tpacket_stats_v3 ks = {0};
	socklen_t len = sizeof(ks);

	/* reading the kernel's counters resets them: accumulate */
	if (getsockopt(rx->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) < 0)
		return -errno;
	rx->ring_st.ringfull += ks.tp_drops;
	s->seen = rx->ring_st.seen;
	s->ours = rx->ring_st.ours;
	s->ringfull = rx->ring_st.ringfull;
	s->malformed = rx->ring_st.malformed;
	return 0;
}

void rx_ring_close(struct rx *rx)
{
	if (rx->map)
		munmap(rx->map, rx->map_len);
	rx->map = NULL;
	if (rx->fd >= 0)
		close(rx->fd);
	rx->fd = -1;
}
