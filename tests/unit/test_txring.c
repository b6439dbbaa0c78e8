// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_txring.c - the TX ring and its sendmmsg fallback (src/engine/txring.c,
 * txmmsg.c) on a real veth pair: frames written through the API on va must
 * arrive on vb (peer namespace, read with a plain AF_PACKET socket) complete,
 * in order and counted; plus ring-full behaviour, length checks, and
 * recovery from a frame the kernel refuses (TP_STATUS_WRONG_FORMAT).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "engine_netns.h"
#include "rtrace/txring.h"

#define TEST_ETHERTYPE 0x88b5 /* IEEE local experimental: the kernel ignores it */

/* An AF_PACKET socket on vb in the peer namespace that sees only our test frames. */
static int peer_listener(struct tns *t)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(TEST_ETHERTYPE)};
	int fd, sz = 16 << 20;

	tns_enter_peer(t);
	fd = socket(AF_PACKET, SOCK_RAW, htons(TEST_ETHERTYPE));
	cr_assert_geq(fd, 0, "socket: %m");
	sll.sll_ifindex = if_nametoindex("vb");
	cr_assert_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	tns_leave_peer(t);
	return fd;
}

/* Write frame number @seq (of @len bytes) into @f. */
static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memset(f, 0xff, 6);
	memset(f + 6, 0x02, 6);
	f[12] = TEST_ETHERTYPE >> 8;
	f[13] = TEST_ETHERTYPE & 0xff;
	memset(f + 14, (uint8_t)seq, len - 14);
	memcpy(f + 14, &seq, 4);
}

/* Receive @n test frames on @fd; each must be frame number first+i of @len bytes. */
static void expect_frames(int fd, uint32_t first, unsigned int n, size_t len)
{
	uint8_t buf[2048], want[2048];
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		cr_assert_eq(poll(&p, 1, 2000), 1, "frame %u of %u did not arrive", i, n);
		r = recv(fd, buf, sizeof(buf), 0);
		cr_assert_eq((size_t)r, len, "frame %u: %zd bytes, want %zu", i, r, len);
		make_frame(want, len, first + i);
		cr_assert_arr_eq(buf, want, len, "frame %u: content differs (got seq %u)", i,
				 *(uint32_t *)(buf + 14));
	}
}

/* Send @n frames of @len bytes through @t in batches of @batch; returns the next seq. */
static uint32_t send_frames(struct txring *t, uint32_t seq, unsigned int n, size_t len,
			    unsigned int batch)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		size_t cap;
		uint8_t *f = txring_frame(t, &cap);

		if (!f) {
			cr_assert_eq(txring_flush(t, 2000), 0);
			f = txring_frame(t, &cap);
		}
		cr_assert_not_null(f);
		cr_assert_geq(cap, len);
		make_frame(f, len, seq++);
		cr_assert_eq(txring_commit(t, len), 0);
		if ((i + 1) % batch == 0)
			cr_assert_eq(txring_kick(t), 0);
	}
	cr_assert_eq(txring_flush(t, 2000), 0);
	return seq;
}

static void roundtrip(enum txring_backend backend, int qdisc)
{
	struct txring_opts o = {.backend = backend, .qdisc = qdisc};
	struct txring_stats st;
	struct txring *t;
	struct tns ns;
	int fd;

	tns_setup(&ns);
	fd = peer_listener(&ns);
	t = txring_open("va", &o);
	cr_assert_not_null(t, "txring_open: %m");
	cr_assert_eq(txring_backend_used(t), backend);
	cr_assert_eq(txring_ifindex(t), (int)if_nametoindex("va"));
	send_frames(t, 1000, 3000, 100, 64);
	expect_frames(fd, 1000, 3000, 100);
	txring_stats(t, &st);
	cr_assert_eq(st.sent, 3000);
	cr_assert_eq(st.bytes, 300000);
	cr_assert_eq(st.inflight, 0);
	cr_assert_geq(st.kicks, 3000 / 64);
	cr_assert_eq(st.wrong_format, 0);
	txring_close(t);
	close(fd);
}

Test(txring, ring_roundtrip)
{
	roundtrip(TXRING_RING, 0);
}

Test(txring, ring_roundtrip_through_qdisc)
{
	roundtrip(TXRING_RING, 1);
}

Test(txring, mmsg_roundtrip)
{
	roundtrip(TXRING_MMSG, 0);
}

static void ring_full(enum txring_backend backend)
{
	struct txring_opts o = {.backend = backend, .frame_count = 64};
	struct txring_stats st;
	struct txring *t;
	struct tns ns;
	unsigned int n = 0;
	size_t cap;
	int fd;

	tns_setup(&ns);
	fd = peer_listener(&ns);
	t = txring_open("va", &o);
	cr_assert_not_null(t);
	/* fill every slot without kicking */
	while (txring_frame(t, &cap)) {
		make_frame(txring_frame(t, &cap), 60, n++);
		cr_assert_eq(txring_commit(t, 60), 0);
		cr_assert_leq(n, 4096, "ring never filled");
	}
	cr_assert_geq(n, 64);
	cr_assert_eq(txring_commit(t, 60), -ENOBUFS);
	txring_stats(t, &st);
	cr_assert_eq(st.ring_full, 1);
	cr_assert_eq(st.inflight, n);
	cr_assert_eq(st.sent, 0);
	/* a kick drains it and the slots come back */
	cr_assert_eq(txring_flush(t, 2000), 0);
	cr_assert_not_null(txring_frame(t, &cap));
	txring_stats(t, &st);
	cr_assert_eq(st.sent, n);
	expect_frames(fd, 0, n, 60);
	txring_close(t);
	close(fd);
}

Test(txring, ring_full_and_drain)
{
	ring_full(TXRING_RING);
}

Test(txring, mmsg_full_and_drain)
{
	ring_full(TXRING_MMSG);
}

Test(txring, commit_rejects_bad_lengths)
{
	struct txring_stats st;
	struct txring *t;
	struct tns ns;
	size_t cap;

	tns_setup(&ns);
	tns_sh("ip link set va mtu 1000");
	t = txring_open("va", NULL);
	cr_assert_not_null(t);
	cr_assert_not_null(txring_frame(t, &cap));
	cr_assert_eq(cap, 1014, "cap %zu: MTU + Ethernet header", cap);
	cr_assert_eq(txring_commit(t, 13), -EINVAL);
	cr_assert_eq(txring_commit(t, cap + 1), -EINVAL);
	txring_stats(t, &st);
	cr_assert_eq(st.wrong_format, 2);
	cr_assert_eq(st.inflight, 0);
	txring_close(t);
}

/*
 * The kernel refuses a frame longer than the current MTU (lowered after
 * open, so our own check passes): the ring must count it and recover.
 */
Test(txring, kernel_wrong_format_recovers)
{
	struct txring_stats st;
	struct txring *t;
	struct tns ns;
	uint8_t *f;
	size_t cap;
	int fd;

	tns_setup(&ns);
	fd = peer_listener(&ns);
	t = txring_open("va", NULL);
	cr_assert_not_null(t);
	tns_sh("ip link set va mtu 600");
	f = txring_frame(t, &cap);
	make_frame(f, 1000, 1);
	cr_assert_eq(txring_commit(t, 1000), 0);
	cr_assert_neq(txring_kick(t), 0);
	txring_stats(t, &st);
	cr_assert_eq(st.wrong_format, 1);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.inflight, 0);
	/* the ring works again */
	send_frames(t, 50, 100, 200, 10);
	expect_frames(fd, 50, 100, 200);
	txring_stats(t, &st);
	cr_assert_eq(st.sent, 100);
	txring_close(t);
	close(fd);
}

Test(txring, open_errors)
{
	struct txring_opts bad = {.frame_size = 1000};
	struct tns ns;

	tns_setup(&ns);
	cr_assert_null(txring_open("nosuchif0", NULL));
	cr_assert_eq(errno, ENODEV);
	cr_assert_null(txring_open_index(9999, NULL));
	cr_assert_eq(errno, ENODEV);
	cr_assert_null(txring_open("va", &bad));
	cr_assert_eq(errno, EINVAL);
	txring_close(NULL);
}
