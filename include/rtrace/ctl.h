/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ctl.h - the rtrace control-link protocol: message structs, codec and framer.
 *
 * A client (rtrace, rtrace-probe -a) and an agent (rtraced) exchange
 * length-prefixed, versioned messages over TLS (tlslink.h). This module is the
 * pure codec: it encodes into and decodes from caller buffers and does no I/O,
 * so every malformed input can be tested and fuzzed without a socket.
 *
 * Wire format (all integers big-endian; IPv4 addresses are the 4 bytes of the
 * address as sent on the network, i.e. struct in_addr order):
 *   header (12 bytes): magic u32 "RTCL" | version u8 | type u8 | flags u16 |
 *                      length u32 (bytes of body that follow, <= CTL_BODY_MAX)
 *   body: per type, fixed layout (see ctl.c); variable-length fields carry
 *         their own length, which must match the body length exactly.
 * Flags are reserved in version 1 and must be zero. A receiver rejects a
 * header whose length exceeds CTL_BODY_MAX as soon as the header is in, before
 * any of the body is awaited (the "4 GB length prefix" case).
 *
 * Conversation: both ends send HELLO first; the client then sends PING/TRACE
 * requests with ids it chooses (unique per connection) and may CANCEL them;
 * the agent streams RESULT messages per request, the last one with final set,
 * or an ERROR naming the request. KEEPALIVE can be sent any time by either
 * side and is answered by nothing (it only resets idle timers).
 */
#ifndef RTRACE_CTL_H
#define RTRACE_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_MAGIC 0x5254434cu /* "RTCL" */
#define CTL_VERSION 1
#define CTL_HDR_LEN 12
/* Hard limit of one message, header included. */
#define CTL_MSG_MAX 65536
#define CTL_BODY_MAX (CTL_MSG_MAX - CTL_HDR_LEN)
/* Longest peer name (certificate CN); names are [A-Za-z0-9._-]. */
#define CTL_NAME_MAX 64
/* Longest RESULT record text (one scamper-style JSON object, no newline). */
#define CTL_RESULT_MAX 60000
/* Longest ERROR message text. */
#define CTL_ERRMSG_MAX 255
/* Prespecified timestamp addresses in a PING. */
#define CTL_TS_ADDRS 4
/* Request limits an agent can rely on having been checked by the decoder. */
#define CTL_PING_COUNT_MAX 1000
#define CTL_PING_INTERVAL_MAX 60000 /* ms between the probes of a PING */
#define CTL_PAYLOAD_MAX 1400
#define CTL_TTL_MAX 64
#define CTL_ATTEMPTS_MAX 10

enum ctl_type {
	CTL_HELLO = 1,	   /* struct ctl_hello, both directions, first message */
	CTL_PING = 2,	   /* struct ctl_ping, client -> agent */
	CTL_TRACE = 3,	   /* struct ctl_trace, client -> agent */
	CTL_RESULT = 4,	   /* struct ctl_result, agent -> client */
	CTL_CANCEL = 5,	   /* struct ctl_cancel, client -> agent */
	CTL_KEEPALIVE = 6, /* no body, either direction */
	CTL_ERROR = 7,	   /* struct ctl_error, either direction */
	CTL_TYPE_MAX = 7,
};

/* Bits of ctl_hello.caps. */
enum ctl_cap {
	CTL_CAP_AGENT = 1 << 0, /* the sender runs probes for others */
	CTL_CAP_SPOOF = 1 << 1, /* the agent can send probes with a foreign source */
	CTL_CAP_PING = 1 << 2,	/* accepts PING */
	CTL_CAP_TRACE = 1 << 3, /* accepts TRACE */
	CTL_CAP_ALL = 0xf,
};

/* Timestamp option mode of a PING. */
enum ctl_ts_mode {
	CTL_TS_NONE = 0,      /* no timestamp option */
	CTL_TS_TSONLY = 1,    /* flag 0: stamps only */
	CTL_TS_TSANDADDR = 2, /* flag 1: (address, stamp) pairs */
	CTL_TS_PRESPEC = 3,   /* flag 3: prespecified addresses ts_addr[] */
};

/* Traceroute method of a TRACE. */
enum ctl_trace_method {
	CTL_TRACE_ICMP_PARIS = 1,
	CTL_TRACE_UDP_PARIS = 2,
};

/* Codes of an ERROR. */
enum ctl_err_code {
	CTL_ERR_PROTOCOL = 1,	 /* malformed or unexpected message; connection closes */
	CTL_ERR_UNSUPPORTED = 2, /* version or request kind not supported */
	CTL_ERR_DENIED = 3,	 /* not authorised (spoof source, client name) */
	CTL_ERR_BLOCKED = 4,	 /* target is on the agent's blocklist */
	CTL_ERR_RATE = 5,	 /* rate budget exhausted, retry later */
	CTL_ERR_BUSY = 6,	 /* too many requests in flight */
	CTL_ERR_BAD_REQUEST = 7, /* request parameters refused (e.g. duplicate id) */
	CTL_ERR_UNKNOWN_REQ = 8, /* CANCEL of an id that is not running */
	CTL_ERR_INTERNAL = 9,	 /* the agent failed (probe engine error) */
	CTL_ERR_SHUTDOWN = 10,	 /* the agent is stopping */
	CTL_ERR_MAX = 10,
};

/* HELLO: who the sender is and what it offers. */
struct ctl_hello {
	uint16_t version;	     /* highest protocol version the sender speaks */
	uint16_t caps;		     /* enum ctl_cap bits */
	uint32_t addr;		     /* agent: its probing address (network order);
				      * client: 0 or its own address */
	uint32_t rate_pps;	     /* agent: probe rate granted to this client */
	uint32_t max_inflight;	     /* agent: requests this client may run at once */
	char name[CTL_NAME_MAX + 1]; /* sender's name, NUL-terminated, 1..64 chars */
};

/* PING: send count ICMP echo probes to target with the given options. */
struct ctl_ping {
	uint32_t req_id;		/* client-chosen request id, nonzero */
	uint32_t target;		/* destination, network order, nonzero */
	uint32_t spoof_src;		/* source to spoof (network order), 0 = agent's own */
	uint32_t cookie_req;		/* spoofed probes: value for cookie.req, which the
					 * client uses to recognise the replies */
	uint16_t count;			/* probes, 1..CTL_PING_COUNT_MAX */
	uint16_t payload_size;		/* ICMP payload bytes, 0 = default, <= CTL_PAYLOAD_MAX */
	uint16_t wait_ms;		/* per-probe reply timeout, 0 = agent default */
	uint16_t interval_ms;		/* between probes, 0 = agent default (1000);
					 * <= CTL_PING_INTERVAL_MAX */
	uint8_t ttl;			/* IP TTL, 0 = default */
	uint8_t rr;			/* 1 = Record Route option; excludes ts_mode */
	uint8_t ts_mode;		/* enum ctl_ts_mode */
	uint8_t ts_naddr;		/* CTL_TS_PRESPEC: 1..4 addresses, else 0 */
	uint32_t ts_addr[CTL_TS_ADDRS]; /* prespecified addresses, network order;
					 * unused entries 0 */
};

/* TRACE: Paris traceroute toward target. */
struct ctl_trace {
	uint32_t req_id;   /* client-chosen request id, nonzero */
	uint32_t target;   /* destination, network order, nonzero */
	uint8_t first_ttl; /* 1..max_ttl */
	uint8_t max_ttl;   /* first_ttl..CTL_TTL_MAX */
	uint8_t attempts;  /* probes per hop, 1..CTL_ATTEMPTS_MAX */
	uint8_t gap_limit; /* stop after this many silent hops, 1..CTL_TTL_MAX */
	uint8_t method;	   /* enum ctl_trace_method */
	uint16_t wait_ms;  /* per-probe reply timeout, 0 = agent default */
};

/* RESULT: one measurement record of a request. */
struct ctl_result {
	uint32_t req_id;  /* the request this belongs to */
	uint8_t final;	  /* 1 = last message of the request */
	uint16_t len;	  /* bytes of text, 0..CTL_RESULT_MAX (0 only if final) */
	const char *text; /* one JSON object as `rtrace-probe -j` prints it,
			   * without newline; NOT NUL-terminated. Decoded:
			   * points into the caller's buffer */
};

/* CANCEL: stop a running request (answered by its final RESULT or an ERROR). */
struct ctl_cancel {
	uint32_t req_id; /* the request to stop */
};

/* ERROR: a refused request (req_id != 0) or a connection-level error (0). */
struct ctl_error {
	uint32_t req_id;	      /* failed request, 0 = the connection */
	uint16_t code;		      /* enum ctl_err_code */
	char msg[CTL_ERRMSG_MAX + 1]; /* human-readable reason, NUL-terminated */
};

/* One message of any type. */
struct ctl_msg {
	uint8_t type; /* enum ctl_type */
	union {
		struct ctl_hello hello;
		struct ctl_ping ping;
		struct ctl_trace trace;
		struct ctl_result result;
		struct ctl_cancel cancel;
		struct ctl_error error;
	} u;
};

/*
 * Decoder outcomes: CTL_DEC_MORE and CTL_DEC_MSG are successes, the rest are
 * errors after which the byte stream cannot be trusted (close the connection).
 */
enum ctl_dec {
	CTL_DEC_MORE = 0,	 /* a valid prefix; more bytes needed */
	CTL_DEC_MSG = 1,	 /* one whole, valid message decoded */
	CTL_DEC_OVERSIZE = -1,	 /* length prefix above CTL_BODY_MAX */
	CTL_DEC_BADMAGIC = -2,	 /* not an rtrace control stream */
	CTL_DEC_BADVERSION = -3, /* protocol version we do not speak */
	CTL_DEC_BADTYPE = -4,	 /* unknown message type */
	CTL_DEC_TRUNCATED = -5,	 /* body shorter than its fields say */
	CTL_DEC_BADFIELD = -6,	 /* field value out of range, trailing bytes, flags */
};

/* Human-readable name of an enum ctl_dec value ("length prefix over the limit"...). */
const char *ctl_dec_str(int dec);
/* Name of a message type ("PING"), "?" if unknown. */
const char *ctl_type_str(int type);
/* Name of an error code ("denied"), "?" if unknown. */
const char *ctl_err_str(int code);

/*
 * Check that m holds a message the decoder would accept (every length, range
 * and enum). Returns 0 if valid, CTL_DEC_BADTYPE or CTL_DEC_BADFIELD.
 */
int ctl_validate(const struct ctl_msg *m);

/*
 * Encode m into buf (cap bytes). Returns the number of bytes written (header +
 * body, at most CTL_MSG_MAX), -EINVAL if m is not valid (ctl_validate), or
 * -ENOSPC if cap is too small (nothing useful is written then).
 */
ssize_t ctl_encode(const struct ctl_msg *m, void *buf, size_t cap);

/*
 * Decode the message at the start of buf (len bytes available). On CTL_DEC_MSG
 * fills m and sets *used to the bytes the message took (header + body); a
 * RESULT's text points into buf. Returns CTL_DEC_MORE if buf is a valid prefix
 * (the magic and version bytes present are checked at once, the length as soon
 * as the header is complete), else a negative enum ctl_dec error.
 */
int ctl_decode(const void *buf, size_t len, struct ctl_msg *m, size_t *used);

/*
 * Streaming framer: accumulates bytes read from a socket and yields whole
 * messages. It holds at most one maximal message plus its header, never
 * allocates, and reports an error as soon as the bytes in hand prove the stream
 * bad (wrong magic on the first byte, oversize length as soon as the header is
 * complete). After an error it stays failed.
 */
struct ctl_framer {
	size_t off;		  /* start of the bytes not yet returned as messages */
	size_t len;		  /* end of the bytes held in buf */
	int err;		  /* sticky enum ctl_dec error, 0 if none */
	uint8_t buf[CTL_MSG_MAX]; /* the bytes */
};

/* Reset f to empty. */
void ctl_framer_init(struct ctl_framer *f);

/*
 * Where to read the next bytes: returns a pointer into f->buf and sets *cap to
 * the free room (0 after an error). Read into it, then ctl_framer_commit().
 * Invalidates the text of the RESULT last returned by ctl_framer_next().
 */
void *ctl_framer_space(struct ctl_framer *f, size_t *cap);

/* Account n bytes written into the space returned by ctl_framer_space(). */
void ctl_framer_commit(struct ctl_framer *f, size_t n);

/*
 * Copy up to len bytes of data into the framer. Returns the number of bytes
 * taken (less than len when the framer is full: call ctl_framer_next first).
 */
size_t ctl_framer_feed(struct ctl_framer *f, const void *data, size_t len);

/*
 * Yield the next whole message: CTL_DEC_MSG with m filled (a RESULT's text
 * stays valid until the next ctl_framer_space/feed/init call on f),
 * CTL_DEC_MORE if more bytes are needed, or the sticky negative error.
 */
int ctl_framer_next(struct ctl_framer *f, struct ctl_msg *m);

/* 1 if the framer holds bytes not yet returned as a message (a partial frame). */
int ctl_framer_partial(const struct ctl_framer *f);

#endif /* RTRACE_CTL_H */
