// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_parse.c - libFuzzer target for the shared reply parser (bpf/parse.h
 * via codec_parse_frame). Every input is parsed twice: as is, and with the
 * outer IPv4 header checksum repaired so that mutations reach the option,
 * ICMP and quote parsers behind it. Invariants: a rejected frame leaves an
 * all-zero record; an accepted one is self-consistent (RR count <= 9 and
 * within its pointer, TS count <= slots, a quote has IHL >= 5, lengths within
 * the frame). Seeds: tests/fuzz/seeds/fuzz_parse/ (valid replies of every
 * kind, written with codec_build / codec_mirror_echo / codec_build_icmp_error).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/codec.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static void check(const uint8_t *f, size_t n)
{
	struct rtrace_match m = {
		.addr = 0, .icmp_id = 0x1234, .udp_sport = 45000, .accept_spoofed = 1};
	struct rtrace_reply r;
	uint32_t slot;
	int rc;

	memset(&r, 0x5a, sizeof(r));
	rc = codec_parse_frame(f, n, &r);
	if (rc != 1) {
		const uint8_t *b = (const uint8_t *)&r;

		CHECK(rc == 0 || rc == -EBADMSG);
		for (size_t i = 0; i < sizeof(r); i++)
			CHECK(b[i] == 0);
		return;
	}
	CHECK(r.kind >= RTRACE_REPLY_ECHO && r.kind <= RTRACE_REPLY_PARAM_PROB);
	CHECK((size_t)r.tot_len + CODEC_ETH_LEN <= n);
	CHECK(r.rr.count <= RTRACE_RR_SLOTS);
	if (r.flags & (RTRACE_F_RR | RTRACE_F_Q_RR)) {
		CHECK(r.rr.len >= 3 && r.rr.len <= 40);
		CHECK(r.rr.ptr >= 4 && r.rr.ptr <= r.rr.len + 1);
		CHECK(3 + 4 * r.rr.count <= r.rr.len);
	} else {
		CHECK(r.rr.len == 0 && r.rr.count == 0);
	}
	CHECK(r.ts.count <= r.ts.slots && r.ts.slots <= RTRACE_TS_STAMPS);
	if (r.ts.flags)
		CHECK(r.ts.slots <= RTRACE_TS_PAIRS);
	CHECK(r.ts.overflow <= 15);
	if (r.flags & RTRACE_F_QUOTE)
		CHECK(r.q.ihl >= 5 && r.kind != RTRACE_REPLY_ECHO);
	else
		CHECK(r.kind == RTRACE_REPLY_ECHO);
	if (r.flags & RTRACE_F_COOKIE)
		CHECK(r.cookie.magic == RTRACE_COOKIE_MAGIC);
	CHECK(r.rx_ns == 0 && r.ifindex == 0 && r.pad0 == 0 && r.rr.pad == 0);
	rc = codec_reply_slot(&r, &slot);
	CHECK(rc >= -ENODATA && rc <= 1);
	CHECK(codec_reply_is_ours(&r, &m) <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	size_t hlen;

	check(data, size);
	if (size < CODEC_ETH_LEN + 20)
		return 0;
	hlen = (data[CODEC_ETH_LEN] & 0xf) * 4;
	if (hlen < 20 || CODEC_ETH_LEN + hlen > size)
		return 0;
	/* exact-size copy, so ASan still sees every over-read */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[CODEC_ETH_LEN + 10] = 0;
	copy[CODEC_ETH_LEN + 11] = 0;
	{
		uint16_t c = codec_csum16(copy + CODEC_ETH_LEN, hlen);

		copy[CODEC_ETH_LEN + 10] = c >> 8;
		copy[CODEC_ETH_LEN + 11] = c & 0xff;
	}
	check(copy, size);
	free(copy);
	return 0;
}
