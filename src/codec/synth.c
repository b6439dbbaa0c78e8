// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * synth.c - replies synthesised from probe frames the way a Linux host or
 * router would send them: the echo reply (ip_options_echo(): options copied,
 * the replier recorded/stamped) and ICMP errors quoting the probe. Used by
 * the unit tests, the BPF test runs and the fuzzer seeds; no I/O.
 */
#include "rtrace/codec.h"

#include <errno.h>
#include <string.h>

#include "parse.h"

/* The IPv4 header of an Ethernet frame, or NULL if it is not sane. */
static const uint8_t *frame_ip(const void *frame, size_t len, size_t *hlen, size_t *tot)
{
	const uint8_t *f = frame, *ip = f + CODEC_ETH_LEN;

	if (len < CODEC_ETH_LEN + 20 || rt_get16(f + 12) != RT_ETH_P_IP || (ip[0] >> 4) != 4)
		return NULL;
	*hlen = (ip[0] & 0xf) * 4;
	*tot = rt_get16(ip + 2);
	if (*hlen < 20 || *tot < *hlen || CODEC_ETH_LEN + *tot > len)
		return NULL;
	return ip;
}

/*
 * Record @addr in the RR option and add one entry to the TS option of the
 * options area @o (@n bytes), as the host @addr sending a packet would.
 */
static void stamp_opts(uint8_t *o, size_t n, uint32_t addr, uint32_t stamp)
{
	size_t off = 0;

	while (off < n && o[off] != RT_IPOPT_EOL) {
		uint8_t *p = o + off, len, ptr, fl;

		if (p[0] == RT_IPOPT_NOP) {
			off++;
			continue;
		}
		if (off + 3 > n || p[1] < 3 || off + p[1] > n)
			return;
		len = p[1];
		ptr = p[2];
		if (p[0] == RT_IPOPT_RR && ptr + 3 <= len) {
			memcpy(p + ptr - 1, &addr, 4);
			p[2] = ptr + 4;
		} else if (p[0] == RT_IPOPT_TS && len >= 4) {
			fl = p[3] & 0xf;
			if (fl == RT_TS_TSONLY && ptr + 3 <= len) {
				rt_put32(p + ptr - 1, stamp);
				p[2] = ptr + 4;
			} else if (fl == RT_TS_TSANDADDR && ptr + 7 <= len) {
				memcpy(p + ptr - 1, &addr, 4);
				rt_put32(p + ptr + 3, stamp);
				p[2] = ptr + 8;
			} else if (fl == RT_TS_PRESPEC && ptr + 7 <= len) {
				if (!memcmp(p + ptr - 1, &addr, 4)) {
					rt_put32(p + ptr + 3, stamp);
					p[2] = ptr + 8;
				}
			} else if (fl != RT_TS_PRESPEC && (p[3] >> 4) < 15) {
				p[3] += 0x10; /* full: count the overflow */
			}
		}
		off += len;
	}
}

/* Copy the Ethernet header of @in to @out with the addresses swapped. */
static void eth_swap(uint8_t *out, const uint8_t *in)
{
	memcpy(out, in + 6, 6);
	memcpy(out + 6, in, 6);
	rt_put16(out + 12, RT_ETH_P_IP);
}

int codec_mirror_echo(void *out, size_t cap, const void *req, size_t req_len, uint32_t rr_addr,
		      uint32_t stamp)
{
	size_t hlen, tot, len;
	const uint8_t *rip = frame_ip(req, req_len, &hlen, &tot);
	uint8_t *o = out, *ip, *icmp;

	if (!rip || rip[9] != RT_IPPROTO_ICMP || tot < hlen + 8 || rip[hlen] != RT_ICMP_ECHO)
		return -EINVAL;
	len = CODEC_ETH_LEN + tot;
	if (len > cap)
		return -ENOSPC;
	eth_swap(o, req);
	ip = o + CODEC_ETH_LEN;
	memcpy(ip, rip, tot);
	rt_put16(ip + 4, (uint16_t)~rt_get16(rip + 4)); /* some fresh IP ID */
	rt_put16(ip + 6, 0);
	ip[8] = 64;
	memcpy(ip + 12, rip + 16, 4);
	memcpy(ip + 16, rip + 12, 4);
	stamp_opts(ip + 20, hlen - 20, rr_addr, stamp);
	rt_put16(ip + 10, 0);
	rt_put16(ip + 10, codec_csum16(ip, hlen));
	icmp = ip + hlen;
	icmp[0] = RT_ICMP_ECHOREPLY;
	rt_put16(icmp + 2, 0);
	rt_put16(icmp + 2, codec_csum16(icmp, tot - hlen));
	return len;
}

int codec_build_icmp_error(void *out, size_t cap, const void *probe, size_t probe_len,
			   uint32_t router, uint8_t type, uint8_t code, size_t quote_l4,
			   int echo_opts)
{
	size_t phlen, ptot, ohlen, qlen, len;
	const uint8_t *pip = frame_ip(probe, probe_len, &phlen, &ptot);
	uint8_t *o = out, *ip, *icmp;

	if (!pip)
		return -EINVAL;
	if (quote_l4 > ptot - phlen)
		quote_l4 = ptot - phlen;
	qlen = phlen + quote_l4;
	ohlen = echo_opts ? phlen : 20;
	len = CODEC_ETH_LEN + ohlen + 8 + qlen;
	if (len > cap)
		return -ENOSPC;
	memset(o, 0, len);
	eth_swap(o, probe);
	ip = o + CODEC_ETH_LEN;
	ip[0] = 0x40 | (ohlen / 4);
	ip[1] = 0xc0; /* IPTOS_PREC_INTERNETCONTROL, as Linux icmp_send() */
	rt_put16(ip + 2, len - CODEC_ETH_LEN);
	rt_put16(ip + 4, (uint16_t)(rt_get16(pip + 4) ^ 0x5a5a));
	ip[8] = 64;
	ip[9] = RT_IPPROTO_ICMP;
	memcpy(ip + 12, &router, 4);
	memcpy(ip + 16, pip + 12, 4);
	if (echo_opts) {
		memcpy(ip + 20, pip + 20, phlen - 20);
		stamp_opts(ip + 20, phlen - 20, router, 0);
	}
	rt_put16(ip + 10, codec_csum16(ip, ohlen));
	icmp = ip + ohlen;
	icmp[0] = type;
	icmp[1] = code;
	memcpy(icmp + 8, pip, qlen);
	rt_put16(icmp + 2, codec_csum16(icmp, 8 + qlen));
	return len;
}
