// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_jsonin.c - libFuzzer target for output_parse_json() (src/probe/jsonin.c),
 * which reads the scamper-JSON records an agent sends back into result
 * structs: the input is untrusted. Every record it accepts is printed as
 * text and as JSON again (to /dev/null), which walks every reply and hop it
 * filled; invariants: an accepted record is a ping or a trace, its counts
 * stay within what was allocated, and a refused one leaves a zeroed struct.
 * Seeds: tests/fuzz/seeds/fuzz_jsonin/ (ping -R, ping tsandaddr, traces).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rtrace/output.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct probe_result r, zero;

	if (!null)
		null = fopen("/dev/null", "w");
	memset(&zero, 0, sizeof(zero));
	if (output_parse_json((const char *)data, size, &r)) {
		CHECK(!memcmp(&r, &zero, sizeof(r)));
		return 0;
	}
	CHECK(r.kind == PROBE_PING || r.kind == PROBE_TRACE);
	if (r.kind == PROBE_PING)
		CHECK(r.ping.nreplies == 0 || r.ping.replies);
	else
		CHECK(r.trace.nhops == 0 || r.trace.hops);
	output_result(null, &r, OUTPUT_TEXT);
	output_result(null, &r, OUTPUT_JSON);
	output_parsed_free(&r);
	return 0;
}
