// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * build.c - probe frames: codec_build() writes one whole frame from a spec;
 * a template (codec_tmpl) keeps those bytes and codec_tmpl_write() stamps
 * out probes, patching destination, TTL, IP ID, ICMP sequence and cookie and
 * updating both checksums incrementally (RFC 1624), so the per-probe cost is
 * one copy plus a handful of 16-bit additions. Paris mode moves the L4
 * checksum change into the compensation word after the cookie instead.
 */
#include "rtrace/codec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "parse.h"

/* Bytes of IP option the spec asks for, or -EINVAL. */
static int opt_len(const struct codec_probe_spec *s)
{
	switch (s->opt) {
	case CODEC_OPT_NONE:
		return 0;
	case CODEC_OPT_RR:
	case CODEC_OPT_TS_ONLY:
		return 40;
	case CODEC_OPT_TS_ADDR:
		return 36;
	case CODEC_OPT_TS_PRESPEC:
		if (s->ts_naddr < 1 || s->ts_naddr > RTRACE_TS_PAIRS)
			return -EINVAL;
		return 4 + 8 * s->ts_naddr;
	}
	return -EINVAL;
}

int codec_frame_len(const struct codec_probe_spec *s)
{
	int ol = opt_len(s), len;

	if (ol < 0 || (s->proto != CODEC_PROTO_ICMP && s->proto != CODEC_PROTO_UDP))
		return -EINVAL;
	if (s->payload_len < CODEC_PAYLOAD_MIN)
		return -EINVAL;
	len = CODEC_ETH_LEN + 20 + ol + 8 + s->payload_len;
	return len > CODEC_FRAME_MAX ? -EINVAL : len;
}

/* Write the option the spec asks for at @o (opt_len(s) bytes). */
static void write_opt(uint8_t *o, const struct codec_probe_spec *s)
{
	int i;

	switch (s->opt) {
	case CODEC_OPT_NONE:
		break;
	case CODEC_OPT_RR: /* NOP first so the slots are 32-bit aligned, as ping -R does */
		o[0] = RT_IPOPT_NOP;
		o[1] = RT_IPOPT_RR;
		o[2] = 39;
		o[3] = 4;
		break;
	case CODEC_OPT_TS_ONLY:
	case CODEC_OPT_TS_ADDR:
		o[0] = RT_IPOPT_TS;
		o[1] = s->opt == CODEC_OPT_TS_ONLY ? 40 : 36;
		o[2] = 5;
		o[3] = s->opt == CODEC_OPT_TS_ONLY ? RT_TS_TSONLY : RT_TS_TSANDADDR;
		break;
	case CODEC_OPT_TS_PRESPEC:
		o[0] = RT_IPOPT_TS;
		o[1] = 4 + 8 * s->ts_naddr;
		o[2] = 5;
		o[3] = RT_TS_PRESPEC;
		for (i = 0; i < s->ts_naddr; i++)
			memcpy(o + 4 + 8 * i, &s->ts_addr[i], 4);
		break;
	}
}

/* UDP checksum of the datagram at @l4 (@len bytes) from @saddr to @daddr. */
static uint16_t udp_csum(const uint8_t *l4, size_t len, uint32_t saddr, uint32_t daddr)
{
	uint8_t ph[12];
	uint32_t sum;
	uint16_t c;

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = RT_IPPROTO_UDP;
	rt_put16(ph + 10, len);
	sum = codec_csum_partial(ph, sizeof(ph), 0);
	c = codec_csum_fold(codec_csum_partial(l4, len, sum));
	return c ? c : 0xffff; /* 0 means "no checksum" in UDP */
}

int codec_build(void *buf, size_t cap, const struct codec_probe_spec *s)
{
	int len = codec_frame_len(s), ol = opt_len(s);
	uint8_t *f = buf, *ip, *l4, *pay;
	size_t hlen, l4len;

	if (len < 0)
		return len;
	if ((size_t)len > cap)
		return -ENOSPC;
	memset(f, 0, len);
	memcpy(f, s->dst_mac, 6);
	memcpy(f + 6, s->src_mac, 6);
	rt_put16(f + 12, RT_ETH_P_IP);

	ip = f + CODEC_ETH_LEN;
	hlen = 20 + ol;
	ip[0] = 0x40 | (hlen / 4);
	ip[1] = s->tos;
	rt_put16(ip + 2, len - CODEC_ETH_LEN);
	rt_put16(ip + 4, s->ip_id);
	rt_put16(ip + 6, s->df ? 0x4000 : 0);
	ip[8] = s->ttl;
	ip[9] = s->proto == CODEC_PROTO_ICMP ? RT_IPPROTO_ICMP : RT_IPPROTO_UDP;
	memcpy(ip + 12, &s->saddr, 4);
	memcpy(ip + 16, &s->daddr, 4);
	write_opt(ip + 20, s);
	rt_put16(ip + 10, codec_csum16(ip, hlen));

	l4 = ip + hlen;
	l4len = 8 + s->payload_len;
	pay = l4 + 8;
	rt_put32(pay, RTRACE_COOKIE_MAGIC);
	memcpy(pay + 4, &s->spoofer, 4);
	rt_put32(pay + 8, s->req);
	rt_put32(pay + 12, s->aux);
	/* pay[16..17]: the Paris compensation word, 0 in the built frame */
	if (s->proto == CODEC_PROTO_ICMP) {
		l4[0] = RT_ICMP_ECHO;
		rt_put16(l4 + 4, s->icmp_id);
		rt_put16(l4 + 6, s->icmp_seq);
		rt_put16(l4 + 2, codec_csum16(l4, l4len));
	} else {
		rt_put16(l4, s->sport);
		rt_put16(l4 + 2, s->dport);
		rt_put16(l4 + 4, l4len);
		rt_put16(l4 + 6, udp_csum(l4, l4len, s->saddr, s->daddr));
	}
	return len;
}

int codec_tmpl_init(struct codec_tmpl *t, const struct codec_probe_spec *s)
{
	int len = codec_build(t->frame, sizeof(t->frame), s);
	const uint8_t *ip, *l4;

	if (len < 0)
		return len;
	t->len = len;
	t->l3 = CODEC_ETH_LEN;
	t->l4 = CODEC_ETH_LEN + 20 + opt_len(s);
	t->pay = t->l4 + 8;
	t->proto = s->proto;
	t->paris = !!s->paris;
	ip = t->frame + t->l3;
	l4 = t->frame + t->l4;
	t->ip_csum = rt_get16(ip + 10);
	t->l4_csum = rt_get16(l4 + (s->proto == CODEC_PROTO_ICMP ? 2 : 6));
	t->comp = 0;
	t->daddr = s->daddr;
	t->ttl = s->ttl;
	t->ip_id = s->ip_id;
	t->icmp_seq = s->proto == CODEC_PROTO_ICMP ? s->icmp_seq : 0;
	t->req = s->req;
	t->aux = s->aux;
	return 0;
}

/* One's-complement accumulation of (old - new) for the Paris word. */
static uint32_t delta16(uint16_t old, uint16_t new_)
{
	return (uint32_t)old + (uint16_t)~new_;
}

static uint32_t delta32(uint32_t old, uint32_t new_)
{
	return delta16(old >> 16, new_ >> 16) + delta16(old & 0xffff, new_ & 0xffff);
}

int codec_tmpl_write(const struct codec_tmpl *t, void *dst, const struct codec_patch *p)
{
	uint8_t *f = dst, *ip = f + t->l3, *l4 = f + t->l4, *pay = f + t->pay;
	uint16_t c, proto_word;
	uint32_t d;

	memcpy(f, t->frame, t->len);

	/* IPv4 header: destination, TTL, IP ID */
	proto_word = ip[9];
	c = codec_csum_update32(t->ip_csum, t->daddr, p->daddr);
	c = codec_csum_update16(c, (uint16_t)(t->ttl << 8 | proto_word),
				(uint16_t)(p->ttl << 8 | proto_word));
	c = codec_csum_update16(c, t->ip_id, p->ip_id);
	memcpy(ip + 16, &p->daddr, 4);
	ip[8] = p->ttl;
	rt_put16(ip + 4, p->ip_id);
	rt_put16(ip + 10, c);

	/* cookie */
	rt_put32(pay + 8, p->req);
	rt_put32(pay + 12, p->aux);

	if (t->proto == CODEC_PROTO_ICMP) {
		rt_put16(l4 + 6, p->icmp_seq);
		if (t->paris) {
			d = t->comp + delta16(t->icmp_seq, p->icmp_seq) + delta32(t->req, p->req) +
			    delta32(t->aux, p->aux);
			rt_put16(pay + 16, (uint16_t)~codec_csum_fold(d));
			return t->len;
		}
		c = codec_csum_update16(t->l4_csum, t->icmp_seq, p->icmp_seq);
		c = codec_csum_update32(c, htonl(t->req), htonl(p->req));
		c = codec_csum_update32(c, htonl(t->aux), htonl(p->aux));
		rt_put16(l4 + 2, c);
		return t->len;
	}
	/* UDP: the pseudo header holds the destination */
	if (t->paris) {
		d = t->comp + delta32(ntohl(t->daddr), ntohl(p->daddr)) + delta32(t->req, p->req) +
		    delta32(t->aux, p->aux);
		rt_put16(pay + 16, (uint16_t)~codec_csum_fold(d));
		return t->len;
	}
	c = codec_csum_update32(t->l4_csum, t->daddr, p->daddr);
	c = codec_csum_update32(c, htonl(t->req), htonl(p->req));
	c = codec_csum_update32(c, htonl(t->aux), htonl(p->aux));
	rt_put16(l4 + 6, c ? c : 0xffff);
	return t->len;
}

void codec_patch_set_slot(struct codec_patch *p, enum codec_proto proto, uint32_t slot)
{
	p->req = slot;
	if (proto == CODEC_PROTO_ICMP) {
		p->icmp_seq = slot & 0xffff;
		p->ip_id = slot >> 16;
	} else {
		p->icmp_seq = 0;
		p->ip_id = slot & 0xffff;
	}
}
