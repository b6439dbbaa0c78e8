// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * parse.c - the user-space face of bpf/parse.h: the same parser and match
 * rule the XDP classifier runs, plus recovery of the probe identity.
 */
#include "rtrace/codec.h"

#include <errno.h>
#include <string.h>

#include "parse.h"

int codec_parse_frame(const void *frame, size_t len, struct rtrace_reply *r)
{
	struct rt_scan sc;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!frame || len < RT_ETH_HLEN)
		return 0;
	rc = rt_parse(frame, (const uint8_t *)frame + len, r, &sc);
	if (rc == RT_PARSE_OK)
		return 1;
	memset(r, 0, sizeof(*r));
	return rc == RT_PARSE_BAD ? -EBADMSG : 0;
}

int codec_reply_is_ours(const struct rtrace_reply *r, const struct rtrace_match *m)
{
	return rt_reply_is_ours(r, m) ? 1 : 0;
}

int codec_reply_slot(const struct rtrace_reply *r, uint32_t *slot)
{
	if (r->flags & RTRACE_F_COOKIE) {
		*slot = r->cookie.req;
		return 0;
	}
	if (r->kind == RTRACE_REPLY_ECHO) {
		*slot = r->icmp_seq;
		return 1;
	}
	if (!(r->flags & RTRACE_F_QUOTE))
		return -ENODATA;
	if (r->q.proto == RT_IPPROTO_ICMP && r->q.l4[0] == RT_ICMP_ECHO) {
		*slot = (uint32_t)r->q.ip_id << 16 | r->icmp_seq;
		return 0;
	}
	if (r->q.proto == RT_IPPROTO_UDP) {
		*slot = r->q.ip_id;
		return 1;
	}
	return -ENODATA;
}
