/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * wire.h - the BPF <-> user-space ABI of rtrace.
 *
 * One classified reply is one fixed-size struct rtrace_reply. The XDP
 * classifier (bpf/classify.bpf.c) writes it into a BPF ring buffer; the
 * AF_PACKET RX-ring fallback and the user-space parser (bpf/parse.h compiled
 * into user space) fill exactly the same struct, so everything downstream of
 * the receive path sees one format.
 *
 * Conventions: IPv4 addresses are stored in network byte order (as in
 * struct in_addr, so they can be printed with inet_ntop() directly); every
 * other multi-byte number is in host byte order. Only fixed-width types,
 * explicit padding, no pointers; the layout is checked by static asserts in
 * tests/unit/test_wire.c.
 */
#ifndef RTRACE_WIRE_H
#define RTRACE_WIRE_H

#include <linux/types.h>

/* Record Route: 40 option bytes - 3 header bytes = 9 four-byte slots. */
#define RTRACE_RR_SLOTS 9
/* Timestamp, tsonly: (40 - 4) / 4 = 9 stamps. */
#define RTRACE_TS_STAMPS 9
/* Timestamp, tsandaddr / tsprespec: (40 - 4) / 8 = 4 (address, stamp) pairs. */
#define RTRACE_TS_PAIRS 4
/* Bytes of the quoted probe's L4 header kept from an ICMP error (RFC 792). */
#define RTRACE_QUOTE_L4 8

/*
 * ICMP echo identifier that marks a probe sent by a vantage point on behalf
 * of another host (spoofed source). The echo sequence and the payload cookie
 * (struct rtrace_cookie) identify the request.
 */
#define RTRACE_SPOOF_ICMP_ID 0x5254 /* "RT" */
/* First word of every rtrace payload cookie, host order. */
#define RTRACE_COOKIE_MAGIC 0x72747263u /* "rtrc" */

/* What kind of packet the record describes. */
enum rtrace_reply_kind {
	RTRACE_REPLY_NONE = 0,
	RTRACE_REPLY_ECHO = 1,		/* ICMP echo reply (type 0) */
	RTRACE_REPLY_TIME_EXCEEDED = 2, /* ICMP type 11, quotes our probe */
	RTRACE_REPLY_UNREACH = 3,	/* ICMP type 3, quotes our probe */
	RTRACE_REPLY_PARAM_PROB = 4,	/* ICMP type 12, quotes our probe */
};

/* Bits of rtrace_reply.flags. */
enum rtrace_reply_flag {
	RTRACE_F_RR = 1 << 0,	     /* outer header carried Record Route; see .rr */
	RTRACE_F_TS = 1 << 1,	     /* outer header carried Timestamp; see .ts */
	RTRACE_F_QUOTE = 1 << 2,     /* ICMP error: .q holds the quoted probe */
	RTRACE_F_Q_RR = 1 << 3,	     /* the quoted probe carried Record Route */
	RTRACE_F_Q_TS = 1 << 4,	     /* the quoted probe carried Timestamp */
	RTRACE_F_Q_OTHEROPT = 1 << 5, /* the quoted probe carried another option */
	RTRACE_F_COOKIE = 1 << 6,    /* .cookie was found in the (quoted) payload */
	RTRACE_F_SPOOFED = 1 << 7,   /* reply to a probe a VP spoofed for us */
	RTRACE_F_OTHEROPT = 1 << 8,  /* outer header carried another option */
	RTRACE_F_EXT = 1 << 9,	     /* ICMP error with RFC 4884 extensions */
};

/* The IPv4 Record Route option (RFC 791, type 7) as received. */
struct rtrace_rr {
	__u8 len;			/* option length byte */
	__u8 ptr;			/* pointer byte (first free slot, 1-based, >= 4) */
	__u8 count;			/* filled slots: (ptr - 4) / 4, at most 9 */
	__u8 pad;			/* explicit padding, zero */
	__u32 addr[RTRACE_RR_SLOTS];	/* recorded addresses, network order */
};

/* The IPv4 Timestamp option (RFC 791, type 68) as received. */
struct rtrace_ts {
	__u8 len;			/* option length byte */
	__u8 ptr;			/* pointer byte (first free entry, 1-based, >= 5) */
	__u8 flags;			/* 0 tsonly, 1 tsandaddr, 3 tsprespec */
	__u8 overflow;			/* overflow counter (high nibble of byte 3) */
	__u8 count;			/* filled entries: stamps (tsonly) or pairs */
	__u8 slots;			/* entries the option has room for */
	__u8 pad[2];			/* explicit padding, zero */
	__u32 addr[RTRACE_TS_PAIRS];	/* tsandaddr/prespec addresses, network order;
					 * for prespec also the unfilled ones */
	__u32 stamp[RTRACE_TS_STAMPS];	/* timestamps, host order (ms since UT
					 * midnight, or any value if bit 31 set);
					 * pairs use stamp[0..3] */
};

/* The header of our probe quoted in an ICMP error. */
struct rtrace_quote {
	__u32 saddr;			/* quoted source, network order */
	__u32 daddr;			/* quoted destination, network order */
	__u16 ip_id;			/* quoted IP ID */
	__u16 tot_len;			/* quoted total length */
	__u8 ttl;			/* quoted TTL (what was left at the router) */
	__u8 proto;			/* quoted protocol (IPPROTO_ICMP/UDP) */
	__u8 ihl;			/* quoted header length, 32-bit words */
	__u8 pad;			/* explicit padding, zero */
	__u8 l4[RTRACE_QUOTE_L4];	/* first 8 bytes of the quoted L4 header */
};

/*
 * Payload cookie: placed at the start of every probe's ICMP/UDP payload and
 * copied back by echo replies (and by ICMP errors that quote enough).
 */
struct rtrace_cookie {
	__u32 magic;			/* RTRACE_COOKIE_MAGIC, host order */
	__u32 spoofer;			/* address of the host that sent the probe,
					 * network order (a VP for spoofed probes) */
	__u32 req;			/* request id / probe slot, host order */
	__u32 aux;			/* per-probe check value (e.g. send tick) */
};

/* One classified reply; written by XDP into the ring buffer. */
struct rtrace_reply {
	__u64 rx_ns;			/* receive time, CLOCK_MONOTONIC ns
					 * (bpf_ktime_get_ns()) */
	__u32 saddr;			/* outer IPv4 source, network order */
	__u32 daddr;			/* outer IPv4 destination, network order */
	__u32 ifindex;			/* receiving interface */
	__u16 flags;			/* enum rtrace_reply_flag bits */
	__u16 ip_id;			/* outer IP ID */
	__u16 tot_len;			/* outer IP total length */
	__u8 ttl;			/* outer TTL (reply_ttl) */
	__u8 tos;			/* outer TOS */
	__u8 kind;			/* enum rtrace_reply_kind */
	__u8 icmp_type;			/* ICMP type */
	__u8 icmp_code;			/* ICMP code */
	__u8 pad0;			/* explicit padding, zero */
	__u16 icmp_id;			/* echo: identifier; error: quoted probe's
					 * ICMP id (or UDP source port) */
	__u16 icmp_seq;			/* echo: sequence; error: quoted probe's ICMP
					 * seq (or UDP destination port) */
	struct rtrace_rr rr;		/* outer Record Route (RTRACE_F_RR), else
					 * the quoted probe's (RTRACE_F_Q_RR) */
	struct rtrace_ts ts;		/* outer Timestamp (RTRACE_F_TS), else
					 * the quoted probe's (RTRACE_F_Q_TS) */
	struct rtrace_quote q;		/* quoted probe (RTRACE_F_QUOTE) */
	struct rtrace_cookie cookie;	/* payload cookie (RTRACE_F_COOKIE) */
};

/*
 * What the classifier accepts as a reply to our probes: the rodata config
 * match_cfg of bpf/classify.bpf.c and the argument of codec_reply_is_ours().
 * Echo replies match on icmp_id; ICMP errors on the quoted probe (ICMP echo
 * with icmp_id, or UDP with udp_sport) and, if addr is set, its quoted
 * source. With accept_spoofed, echo replies with icmp_id
 * RTRACE_SPOOF_ICMP_ID and a cookie with RTRACE_COOKIE_MAGIC (and errors
 * quoting such a probe) match too: replies to probes a VP spoofed for us.
 */
struct rtrace_match {
	__u32 addr;			/* our IPv4 address, network order; 0 = any */
	__u16 icmp_id;			/* our ICMP echo identifier (instance id) */
	__u16 udp_sport;		/* our UDP source port; 0 = we send no UDP */
	__u8 accept_spoofed;		/* 1: also accept replies to spoofed probes */
	__u8 pad[3];			/* explicit padding, zero */
};

/* Per-CPU counters of the classifier, index into the counters array map. */
enum rtrace_counter {
	RTRACE_CNT_SEEN = 0,		/* packets the program looked at */
	RTRACE_CNT_OURS = 1,		/* replies recognised as ours (recorded) */
	RTRACE_CNT_RINGFULL = 2,	/* ours, but the ring buffer was full */
	RTRACE_CNT_MALFORMED = 3,	/* IPv4/ICMP that failed validation */
	RTRACE_CNT_MAX = 4,
};

#endif /* RTRACE_WIRE_H */
