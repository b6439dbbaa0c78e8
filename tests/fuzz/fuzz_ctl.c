// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_ctl.c - libFuzzer target for the control-link decoder and framer.
 *
 * The input is decoded directly and, in parallel, fed to a framer in chunks
 * whose sizes come from the input itself. Both paths must agree on the
 * messages they yield; every decoded message must re-encode to the same
 * bytes (the codec is canonical) and pass ctl_validate().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/ctl.h"

static struct ctl_framer framer;
static uint8_t again[CTL_MSG_MAX];

/* Decode at buf; on a message check the encoder reproduces the exact bytes. */
static int check_one(const uint8_t *buf, size_t len, size_t *used)
{
	struct ctl_msg m;
	int r = ctl_decode(buf, len, &m, used);

	if (r != CTL_DEC_MSG)
		return r;
	if (*used > len || *used > CTL_MSG_MAX || ctl_validate(&m))
		abort();
	ssize_t n = ctl_encode(&m, again, sizeof(again));

	if (n != (ssize_t)*used || memcmp(again, buf, n))
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, used, nmsg_direct = 0, nmsg_framer = 0, fed = 0;
	int r_direct, r_framer = CTL_DEC_MORE;
	struct ctl_msg m;

	while ((r_direct = check_one(data + off, size - off, &used)) == CTL_DEC_MSG) {
		off += used;
		nmsg_direct++;
	}

	/* Framer: chunk sizes from a simple generator seeded by the input length. */
	ctl_framer_init(&framer);
	uint32_t seed = (uint32_t)size * 2654435761u;

	while (fed < size) {
		seed = seed * 1103515245u + 12345u;
		size_t chunk = 1 + (seed >> 16) % 97;

		if (chunk > size - fed)
			chunk = size - fed;
		fed += ctl_framer_feed(&framer, data + fed, chunk);
		while ((r_framer = ctl_framer_next(&framer, &m)) == CTL_DEC_MSG)
			nmsg_framer++;
		if (r_framer < 0)
			break;
	}
	/* Same messages, same verdict on the rest. */
	if (nmsg_direct != nmsg_framer || r_direct != r_framer)
		abort();
	return 0;
}
