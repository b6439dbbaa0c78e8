// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_txring.c - the physical reference for the transmit path: a bare
 * loop that copies one prebuilt frame (a 60-byte ICMP echo request, IPv4
 * 198.18.0.1 -> 198.18.0.2, to the broadcast MAC unless -m) into an
 * AF_PACKET TPACKET_V3 TX ring and kicks send() once per batch, printing
 * packets per second. No library code on the path, so it is the ceiling the
 * probe engine is measured against; -L runs the same loop through
 * txring_frame/commit/kick instead (-M: its sendmmsg backend), to measure
 * what the API costs.
 * Run it inside a network namespace on one end of a veth pair.
 *   bench_txring -i IFACE [-n COUNT | -t SECONDS] [-b BATCH] [-m DSTMAC] [-q] [-L|-M]
 * Output: one line "bench_txring: IFACE: ... pps=N" on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtrace/txring.h"

#define FRAME_SIZE 2048u
#define FRAME_NR 4096u
#define BLOCK_SIZE (64u << 10)
#define DATA_OFF (TPACKET3_HDRLEN - sizeof(struct sockaddr_ll))

static uint16_t csum(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t s = 0;

	for (; len > 1; len -= 2)
		s += *w++;
	if (len)
		s += *(const uint8_t *)w;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* A 60-byte Ethernet/IPv4/ICMP echo request frame. */
static size_t build_frame(uint8_t *f, const uint8_t *src_mac, const uint8_t *dst_mac)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct icmphdr *icmp = (struct icmphdr *)(ip + 1);
	size_t len = 60;

	memset(f, 0, len);
	memcpy(eth->h_dest, dst_mac, ETH_ALEN);
	memcpy(eth->h_source, src_mac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->tot_len = htons(len - ETH_HLEN);
	ip->saddr = htonl(0xc6120001); /* 198.18.0.1, benchmarking range */
	ip->daddr = htonl(0xc6120002);
	ip->check = csum(ip, sizeof(*ip));
	icmp->type = ICMP_ECHO;
	icmp->un.echo.id = htons(0x7262);
	icmp->checksum = csum(icmp, len - ETH_HLEN - sizeof(*ip));
	return len;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct bench {
	const char *ifname;
	uint64_t count;		     /* stop after this many frames (0: use seconds) */
	double seconds;		     /* stop after this long */
	unsigned int batch;	     /* frames per send() */
	int qdisc;		     /* 1: do not bypass the qdisc */
	enum txring_backend backend; /* library backend: -L ring, -M sendmmsg */
	uint8_t frame[128];
	size_t len;
	uint64_t sent, kicks, full;
};

/* The bare loop: raw ring, no library. */
static int run_bare(struct bench *b, int ifindex)
{
	struct tpacket_req3 req = {
		.tp_block_size = BLOCK_SIZE,
		.tp_block_nr = FRAME_NR / (BLOCK_SIZE / FRAME_SIZE),
		.tp_frame_size = FRAME_SIZE,
		.tp_frame_nr = FRAME_NR,
	};
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex};
	int fd, v = TPACKET_V3, one = 1;
	unsigned int head = 0, i;
	uint8_t *map;
	double end = now_s() + b->seconds;

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    (!b->qdisc && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("bench_txring: ring setup");
		return -1;
	}
	map = mmap(NULL, (size_t)FRAME_SIZE * FRAME_NR, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		perror("bench_txring: mmap");
		return -1;
	}
	while (b->count ? b->sent < b->count : now_s() < end) {
		for (i = 0; i < b->batch; i++) {
			struct tpacket3_hdr *h = (void *)(map + (size_t)head * FRAME_SIZE);

			if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) !=
			    TP_STATUS_AVAILABLE) {
				b->full++;
				break;
			}
			memcpy((uint8_t *)h + DATA_OFF, b->frame, b->len);
			h->tp_len = b->len;
			h->tp_next_offset = 0;
			__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
			head = head + 1 == FRAME_NR ? 0 : head + 1;
			b->sent++;
		}
		b->kicks++;
		if (send(fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS) {
			perror("bench_txring: send");
			return -1;
		}
	}
	/* let the kernel finish what was queued, so sent means sent */
	for (i = 0; i < 100000; i++) {
		unsigned int last = head ? head - 1 : FRAME_NR - 1;
		struct tpacket3_hdr *h = (void *)(map + (size_t)last * FRAME_SIZE);

		if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) == TP_STATUS_AVAILABLE)
			break;
		send(fd, NULL, 0, MSG_DONTWAIT);
	}
	munmap(map, (size_t)FRAME_SIZE * FRAME_NR);
	close(fd);
	return 0;
}

/* The same loop through the txring API. */
static int run_lib(struct bench *b)
{
	struct txring_opts o = {.qdisc = b->qdisc, .backend = b->backend};
	struct txring_stats st;
	struct txring *t = txring_open(b->ifname, &o);
	double end = now_s() + b->seconds;
	unsigned int i;

	if (!t)
		return -1;
	while (b->count ? b->sent < b->count : now_s() < end) {
		for (i = 0; i < b->batch; i++) {
			size_t cap;
			void *f = txring_frame(t, &cap);

			if (!f)
				break;
			memcpy(f, b->frame, b->len);
			txring_commit(t, b->len);
			b->sent++;
		}
		txring_kick(t);
	}
	txring_flush(t, 1000);
	txring_stats(t, &st);
	b->kicks = st.kicks;
	b->full = st.ring_full;
	txring_close(t);
	return 0;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6
		       ? 0
		       : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_txring -i IFACE [-n COUNT | -t SECONDS] [-b BATCH] "
		"[-m DSTMAC] [-q] [-L|-M]\n"
		"  -q  go through the qdisc (default: PACKET_QDISC_BYPASS)\n"
		"  -L  use the txring library API (TPACKET_V3 ring) instead of the bare loop\n"
		"  -M  use the txring library API with its sendmmsg backend\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = {.seconds = 3, .batch = 256};
	uint8_t dst[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src[ETH_ALEN] = {0};
	struct ifreq ifr = {0};
	int c, lib = 0, ifindex, fd;
	double t0, dt;

	while ((c = getopt(argc, argv, "i:n:t:b:m:qLM")) != -1) {
		switch (c) {
		case 'i':
			b.ifname = optarg;
			break;
		case 'n':
			b.count = strtoull(optarg, NULL, 0);
			break;
		case 't':
			b.seconds = atof(optarg);
			break;
		case 'b':
			b.batch = atoi(optarg);
			break;
		case 'm':
			if (parse_mac(optarg, dst))
				usage();
			break;
		case 'q':
			b.qdisc = 1;
			break;
		case 'L':
			lib = 1;
			b.backend = TXRING_RING;
			break;
		case 'M':
			lib = 1;
			b.backend = TXRING_MMSG;
			break;
		default:
			usage();
		}
	}
	if (!b.ifname || !b.batch || b.batch > FRAME_NR || optind != argc)
		usage();
	ifindex = if_nametoindex(b.ifname);
	if (!ifindex) {
		fprintf(stderr, "bench_txring: %s: no such interface\n", b.ifname);
		return 1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	strncpy(ifr.ifr_name, b.ifname, IF_NAMESIZE - 1);
	if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(src, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (fd >= 0)
		close(fd);
	b.len = build_frame(b.frame, src, dst);

	t0 = now_s();
	if (lib ? run_lib(&b) : run_bare(&b, ifindex))
		return 1;
	dt = now_s() - t0;
	printf("bench_txring: %s: %s%s: %llu frames in %.3f s, %llu kicks, %llu ring-full: "
	       "pps=%.0f\n",
	       b.ifname,
	       !lib			  ? "bare ring"
	       : b.backend == TXRING_MMSG ? "txring API (sendmmsg)"
					  : "txring API (ring)",
	       b.qdisc ? " (qdisc)" : "", (unsigned long long)b.sent, dt,
	       (unsigned long long)b.kicks, (unsigned long long)b.full, b.sent / dt);
	return 0;
}
