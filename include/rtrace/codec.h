/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * codec.h - build probe frames and parse reply frames (pure, no I/O).
 *
 * Building: codec_build() writes a whole Ethernet + IPv4 (+ RR/TS option) +
 * ICMP echo or UDP frame into a caller buffer. For the hot path a struct
 * codec_tmpl holds the constant bytes of one probe kind; codec_tmpl_write()
 * copies them and patches destination, TTL, IP ID, ICMP sequence and the
 * payload cookie, fixing the checksums incrementally (RFC 1624) in O(1).
 * In Paris mode the L4 checksum stays constant across patches (a 2-byte
 * compensation word follows the cookie) so per-flow load balancers keep
 * every probe on one path.
 *
 * Parsing: codec_parse_frame() runs the same parser the XDP classifier runs
 * (bpf/parse.h) and fills a struct rtrace_reply (wire.h);
 * codec_reply_is_ours() applies the same match the classifier applies.
 *
 * Probe identity: ICMP echo probes carry icmp_id = instance id, icmp_seq =
 * low 16 bits of the probe slot, IP ID = high 16 bits of the slot; UDP probes
 * carry IP ID = low 16 bits of the slot (ports are the flow id). Every probe
 * payload starts with a struct rtrace_cookie whose req is the whole slot.
 *
 * Conventions: addresses network byte order, all other numbers host order.
 */
#ifndef RTRACE_CODEC_H
#define RTRACE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "rtrace/wire.h"

/* Largest frame codec builds: Ethernet header + 1500-byte IP packet. */
#define CODEC_FRAME_MAX 1514
#define CODEC_ETH_LEN 14
/* Bytes of payload every probe needs: the cookie and the Paris word. */
#define CODEC_PAYLOAD_MIN ((int)sizeof(struct rtrace_cookie) + 2)
/* Destination port of Paris UDP probes (constant, like paris-traceroute). */
#define CODEC_UDP_DPORT 33435

/* The L4 of a probe. */
enum codec_proto {
	CODEC_PROTO_ICMP = 0, /* ICMP echo request */
	CODEC_PROTO_UDP = 1,  /* UDP datagram */
};

/* The IPv4 option a probe carries. */
enum codec_opt {
	CODEC_OPT_NONE = 0,
	CODEC_OPT_RR = 1,	  /* NOP + Record Route with 9 empty slots (40 bytes) */
	CODEC_OPT_TS_ONLY = 2,	  /* Timestamp, flag 0: 9 stamps (40 bytes) */
	CODEC_OPT_TS_ADDR = 3,	  /* Timestamp, flag 1: 4 (addr, stamp) pairs (36 bytes) */
	CODEC_OPT_TS_PRESPEC = 4, /* Timestamp, flag 3: 1-4 prespecified addresses */
};

/* Everything that defines one probe frame. Zero-initialise, then fill. */
struct codec_probe_spec {
	uint8_t src_mac[6];		   /* Ethernet source */
	uint8_t dst_mac[6];		   /* Ethernet destination (next hop) */
	uint32_t saddr;			   /* IPv4 source, network order (may be spoofed) */
	uint32_t daddr;			   /* IPv4 destination, network order */
	uint8_t ttl;			   /* IP TTL (0 is allowed, the kernel would drop it) */
	uint8_t tos;			   /* IP TOS byte */
	uint8_t df;			   /* 1: set Don't Fragment */
	uint8_t paris;			   /* 1: Paris mode, keep the L4 checksum constant */
	uint16_t ip_id;			   /* IP identification */
	enum codec_proto proto;		   /* ICMP echo or UDP */
	enum codec_opt opt;		   /* IP option */
	uint32_t ts_addr[RTRACE_TS_PAIRS]; /* CODEC_OPT_TS_PRESPEC addresses, network order */
	uint8_t ts_naddr;		   /* how many of ts_addr are used, 1..4 */
	uint16_t payload_len; /* bytes after the ICMP/UDP header, >= CODEC_PAYLOAD_MIN */
	uint16_t icmp_id;     /* ICMP echo identifier (instance id or RTRACE_SPOOF_ICMP_ID) */
	uint16_t icmp_seq;    /* ICMP echo sequence */
	uint16_t sport;	      /* UDP source port */
	uint16_t dport;	      /* UDP destination port */
	uint32_t spoofer;     /* cookie.spoofer: real address of the sender, network order */
	uint32_t req;	      /* cookie.req: probe slot or request id */
	uint32_t aux;	      /* cookie.aux: per-probe check value */
};

/*
 * Length in bytes of the frame @s describes, or -EINVAL if @s is invalid
 * (payload too short, frame longer than CODEC_FRAME_MAX, bad option or
 * protocol, prespec with 0 or more than 4 addresses).
 */
int codec_frame_len(const struct codec_probe_spec *s);

/*
 * Write the whole frame @s describes (Ethernet, IPv4 with checksum, option,
 * ICMP/UDP with checksum, cookie, Paris word, zero padding) into @buf.
 * Returns the frame length, -EINVAL for an invalid spec, -ENOSPC if @cap is
 * too small. The RR option goes out empty: unlike a probe sent through the
 * local IP stack (ping -R), a frame written to a packet socket does not get
 * the sender's own address in the first slot.
 */
int codec_build(void *buf, size_t cap, const struct codec_probe_spec *s);

/* A prepared probe kind: the constant bytes plus where to patch them. */
struct codec_tmpl {
	uint16_t len;			/* frame length */
	uint16_t l3;			/* offset of the IPv4 header */
	uint16_t l4;			/* offset of the ICMP/UDP header */
	uint16_t pay;			/* offset of the payload (the cookie) */
	uint8_t proto;			/* enum codec_proto */
	uint8_t paris;			/* Paris mode */
	uint16_t ip_csum;		/* IP header checksum of frame[], host order */
	uint16_t l4_csum;		/* ICMP/UDP checksum of frame[], host order */
	uint16_t comp;			/* Paris compensation word in frame[], host order */
	uint32_t daddr;			/* destination in frame[], network order */
	uint8_t ttl;			/* TTL in frame[] */
	uint16_t ip_id;			/* IP ID in frame[] */
	uint16_t icmp_seq;		/* ICMP sequence in frame[] */
	uint32_t req;			/* cookie.req in frame[] */
	uint32_t aux;			/* cookie.aux in frame[] */
	uint8_t frame[CODEC_FRAME_MAX]; /* the frame built from the spec */
};

/* The per-probe fields codec_tmpl_write() changes. */
struct codec_patch {
	uint32_t daddr;	   /* IPv4 destination, network order (options untouched) */
	uint8_t ttl;	   /* IP TTL */
	uint16_t ip_id;	   /* IP identification */
	uint16_t icmp_seq; /* ICMP echo sequence (ignored for UDP) */
	uint32_t req;	   /* cookie.req */
	uint32_t aux;	   /* cookie.aux */
};

/*
 * Build the template for the probes @s describes. Returns 0, or -EINVAL for
 * an invalid spec. Slow path: call once per probe kind.
 */
int codec_tmpl_init(struct codec_tmpl *t, const struct codec_probe_spec *s);

/*
 * Write one probe: copy t->len bytes of the template to @dst (room for t->len
 * bytes is the caller's job) and apply @p, fixing the IP and L4 checksums
 * incrementally. In Paris mode the L4 checksum keeps its template value (the
 * compensation word absorbs the change). O(1) apart from the copy; returns
 * the frame length.
 */
int codec_tmpl_write(const struct codec_tmpl *t, void *dst, const struct codec_patch *p);

/*
 * Fill the identity fields of @p for probe slot @slot as the probe
 * identity rules above say (ICMP: seq = low 16, IP ID = high 16; UDP:
 * IP ID = low 16; both: req = slot).
 */
void codec_patch_set_slot(struct codec_patch *p, enum codec_proto proto, uint32_t slot);

/*
 * Parse one received Ethernet frame with the shared parser (bpf/parse.h).
 * Returns 1 if @frame is an ICMP echo reply, time exceeded, destination
 * unreachable or parameter problem and @r describes it; 0 if it is something
 * else (not IPv4, not ICMP, another ICMP type, a non-first fragment);
 * -EBADMSG if a length, pointer or checksum is invalid. On 0 and -EBADMSG
 * @r is all zero: no field of a rejected frame is ever used. rx_ns and
 * ifindex are left 0 for the caller.
 */
int codec_parse_frame(const void *frame, size_t len, struct rtrace_reply *r);

/*
 * 1 if the parsed reply @r answers one of our probes under @m (same rule as
 * the XDP classifier), else 0. See struct rtrace_match in wire.h.
 */
int codec_reply_is_ours(const struct rtrace_reply *r, const struct rtrace_match *m);

/*
 * Recover the probe slot (or, for spoofed probes, the client's request id)
 * from a parsed reply. Returns 0 with the full 32-bit value in *slot; 1 with
 * only the low 16 bits known (UDP error quoting 8 bytes: the IP ID); or
 * -ENODATA if the reply carries no identity. The cookie, when present, wins.
 */
int codec_reply_slot(const struct rtrace_reply *r, uint32_t *slot);

/*
 * Internet checksum helpers. Words are taken big-endian (network order) so
 * all values are host-order numbers; write them with the high byte first.
 * codec_csum_partial adds @len bytes (an odd tail is padded with zero) to the
 * unfolded sum @sum; codec_csum_fold folds and complements it.
 */
uint32_t codec_csum_partial(const void *buf, size_t len, uint32_t sum);
uint16_t codec_csum_fold(uint32_t sum);
/* Checksum of @len bytes: codec_csum_fold(codec_csum_partial(buf, len, 0)). */
uint16_t codec_csum16(const void *buf, size_t len);
/* RFC 1624 eqn 3: checksum after one 16-bit word changed from @old to @new. */
uint16_t codec_csum_update16(uint16_t csum, uint16_t old, uint16_t new_);
/* The same for a 32-bit field (both values in network order, e.g. addresses). */
uint16_t codec_csum_update32(uint16_t csum, uint32_t old, uint32_t new_);

/*
 * Reply synthesis, as Linux does it (for tests, the fuzzer seeds and
 * simulations). codec_mirror_echo() turns the echo request @req (a frame from
 * codec_build) into the echo reply @rr_addr's host would send: addresses and
 * MACs swapped, fresh TTL 64 and IP ID, type 0, options copied with the
 * next RR slot filled with @rr_addr (if any left) and, for TS, one stamp
 * (tsonly/tsandaddr) or the stamp of a prespecified @rr_addr. Returns the
 * reply length, or -EINVAL/-ENOSPC.
 */
int codec_mirror_echo(void *out, size_t cap, const void *req, size_t req_len, uint32_t rr_addr,
		      uint32_t stamp);

/*
 * Build the ICMP error (@type, @code: e.g. 11/0 time exceeded) router
 * @router sends for the probe frame @probe: outer header @router -> probe
 * source, quoting the probe's IP header (options included) and @quote_l4
 * bytes after it (8 = RFC 792 minimum; larger values are cut to what the
 * probe has). With @echo_opts the probe's RR/TS option is echoed in the outer
 * header with @router recorded/stamped, as Linux's icmp_send() does; else the
 * outer header has no options. Returns the length, or -EINVAL/-ENOSPC.
 */
int codec_build_icmp_error(void *out, size_t cap, const void *probe, size_t probe_len,
			   uint32_t router, uint8_t type, uint8_t code, size_t quote_l4,
			   int echo_opts);

#endif /* RTRACE_CODEC_H */
