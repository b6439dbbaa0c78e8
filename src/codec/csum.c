// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * csum.c - the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624), on big-endian 16-bit words so every value is a host-order
 * number that is written high byte first.
 */
#include "rtrace/codec.h"

#include <arpa/inet.h>

uint32_t codec_csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t codec_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t codec_csum16(const void *buf, size_t len)
{
	return codec_csum_fold(codec_csum_partial(buf, len, 0));
}

uint16_t codec_csum_update16(uint16_t csum, uint16_t old, uint16_t new_)
{
	/* HC' = ~(~HC + ~m + m') */
	uint32_t sum = (uint16_t)~csum + (uint32_t)(uint16_t)~old + new_;

	return codec_csum_fold(sum);
}

uint16_t codec_csum_update32(uint16_t csum, uint32_t old, uint32_t new_)
{
	uint32_t o = ntohl(old), n = ntohl(new_);

	csum = codec_csum_update16(csum, o >> 16, n >> 16);
	return codec_csum_update16(csum, o & 0xffff, n & 0xffff);
}
