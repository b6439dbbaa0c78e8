/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hash.h - the integer hash of the open-addressing tables (batch's address
 * set, revtr's u32 map): inline, it sits on their lookup paths.
 */
#ifndef RTRACE_HASH_H
#define RTRACE_HASH_H

#include <stdint.h>

/* A 32-bit mix (lowbias32, Chris Wellons): every input bit moves every output bit. */
static inline uint32_t rt_hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

#endif /* RTRACE_HASH_H */
