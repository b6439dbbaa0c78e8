// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_ctl.c - the control-link codec and framer: round trips of every
 * message type, byte-exact layout of a header, and rejection of every
 * malformed case (bad magic, version, type, flags, truncated and trailing
 * bodies, out-of-range fields, oversize and 4 GB length prefixes, garbage).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "rtrace/ctl.h"

static uint8_t buf[CTL_MSG_MAX];

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct ctl_msg hello(void)
{
	struct ctl_msg m = {.type = CTL_HELLO};

	m.u.hello.version = CTL_VERSION;
	m.u.hello.caps = CTL_CAP_AGENT | CTL_CAP_SPOOF | CTL_CAP_PING;
	m.u.hello.addr = ip("10.1.2.3");
	m.u.hello.rate_pps = 5000;
	m.u.hello.max_inflight = 32;
	strcpy(m.u.hello.name, "agent-1.lab_x");
	return m;
}

static struct ctl_msg ping(void)
{
	struct ctl_msg m = {.type = CTL_PING};

	m.u.ping.req_id = 0xdeadbeef;
	m.u.ping.target = ip("192.0.2.7");
	m.u.ping.spoof_src = ip("198.51.100.9");
	m.u.ping.cookie_req = 77;
	m.u.ping.count = 3;
	m.u.ping.payload_size = 56;
	m.u.ping.wait_ms = 1500;
	m.u.ping.interval_ms = 250;
	m.u.ping.ttl = 200;
	m.u.ping.ts_mode = CTL_TS_PRESPEC;
	m.u.ping.ts_naddr = 2;
	m.u.ping.ts_addr[0] = ip("192.0.2.7");
	m.u.ping.ts_addr[1] = ip("203.0.113.1");
	return m;
}

static struct ctl_msg trace(void)
{
	struct ctl_msg m = {.type = CTL_TRACE};

	m.u.trace.req_id = 1;
	m.u.trace.target = ip("192.0.2.8");
	m.u.trace.first_ttl = 2;
	m.u.trace.max_ttl = 30;
	m.u.trace.attempts = 3;
	m.u.trace.gap_limit = 5;
	m.u.trace.method = CTL_TRACE_UDP_PARIS;
	m.u.trace.wait_ms = 900;
	return m;
}

static const char *json = "{\"type\":\"ping\",\"dst\":\"192.0.2.7\",\"responses\":[]}";

static struct ctl_msg result(void)
{
	struct ctl_msg m = {.type = CTL_RESULT};

	m.u.result.req_id = 42;
	m.u.result.final = 1;
	m.u.result.len = strlen(json);
	m.u.result.text = json;
	return m;
}

static struct ctl_msg error_msg(void)
{
	struct ctl_msg m = {.type = CTL_ERROR};

	m.u.error.req_id = 9;
	m.u.error.code = CTL_ERR_DENIED;
	strcpy(m.u.error.msg, "client c1 may not spoof 10.9.9.9");
	return m;
}

/* Encode, decode, compare field by field (via re-encoding: same bytes). */
static void roundtrip(const struct ctl_msg *m)
{
	static uint8_t again[CTL_MSG_MAX];
	struct ctl_msg d;
	ssize_t n, n2;
	size_t used = 0;

	n = ctl_encode(m, buf, sizeof(buf));
	cr_assert_gt(n, 0, "encode %s: %zd", ctl_type_str(m->type), n);
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_MSG, "decode %s",
		     ctl_type_str(m->type));
	cr_assert_eq(used, (size_t)n);
	cr_assert_eq(d.type, m->type);
	n2 = ctl_encode(&d, again, sizeof(again));
	cr_assert_eq(n2, n);
	cr_assert_eq(memcmp(buf, again, n), 0, "%s changed in a round trip", ctl_type_str(m->type));
	/* Every proper prefix is "need more", never an error or a message. */
	for (ssize_t i = 0; i < n; i++)
		cr_assert_eq(ctl_decode(buf, i, &d, &used), CTL_DEC_MORE, "%s prefix %zd",
			     ctl_type_str(m->type), i);
}

Test(ctl, roundtrip_all_types)
{
	struct ctl_msg m;

	m = hello();
	roundtrip(&m);
	m = ping();
	roundtrip(&m);
	m = trace();
	roundtrip(&m);
	m = result();
	roundtrip(&m);
	m = (struct ctl_msg){.type = CTL_CANCEL, .u.cancel.req_id = 5};
	roundtrip(&m);
	m = (struct ctl_msg){.type = CTL_KEEPALIVE};
	roundtrip(&m);
	m = error_msg();
	roundtrip(&m);
}

Test(ctl, decoded_fields)
{
	struct ctl_msg m = ping(), d;
	size_t used;
	ssize_t n = ctl_encode(&m, buf, sizeof(buf));

	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_MSG);
	cr_assert_eq(d.u.ping.req_id, 0xdeadbeef);
	cr_assert_eq(d.u.ping.target, ip("192.0.2.7"));
	cr_assert_eq(d.u.ping.spoof_src, ip("198.51.100.9"));
	cr_assert_eq(d.u.ping.cookie_req, 77);
	cr_assert_eq(d.u.ping.count, 3);
	cr_assert_eq(d.u.ping.wait_ms, 1500);
	cr_assert_eq(d.u.ping.interval_ms, 250);
	cr_assert_eq(d.u.ping.ttl, 200);
	cr_assert_eq(d.u.ping.ts_mode, CTL_TS_PRESPEC);
	cr_assert_eq(d.u.ping.ts_naddr, 2);
	cr_assert_eq(d.u.ping.ts_addr[1], ip("203.0.113.1"));
	cr_assert_eq(d.u.ping.ts_addr[2], 0);

	m = result();
	n = ctl_encode(&m, buf, sizeof(buf));
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_MSG);
	cr_assert_eq(d.u.result.final, 1);
	cr_assert_eq(d.u.result.len, strlen(json));
	cr_assert_eq(memcmp(d.u.result.text, json, strlen(json)), 0);

	m = hello();
	n = ctl_encode(&m, buf, sizeof(buf));
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_MSG);
	cr_assert_str_eq(d.u.hello.name, "agent-1.lab_x");
	cr_assert_eq(d.u.hello.addr, ip("10.1.2.3"));
	cr_assert_eq(d.u.hello.rate_pps, 5000);
}

Test(ctl, header_layout)
{
	struct ctl_msg m = {.type = CTL_CANCEL, .u.cancel.req_id = 0x01020304};
	static const uint8_t want[] = {'R', 'T', 'C', 'L', 1, CTL_CANCEL, 0, 0,
				       0,   0,	 0,   4,   1, 2,	  3, 4};

	cr_assert_eq(ctl_encode(&m, buf, sizeof(buf)), (ssize_t)sizeof(want));
	cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);
	cr_assert_eq(ctl_encode(&m, buf, sizeof(want) - 1), -ENOSPC);
}

/* Encode m, let mutate() damage the bytes, expect decode to return want. */
static void expect_bad(const struct ctl_msg *m, void (*mutate)(uint8_t *b, size_t *n), int want,
		       const char *what)
{
	struct ctl_msg d;
	size_t used, n;
	ssize_t e = ctl_encode(m, buf, sizeof(buf));

	cr_assert_gt(e, 0);
	n = e;
	mutate(buf, &n);
	cr_assert_eq(ctl_decode(buf, n, &d, &used), want, "%s: got %d (%s), want %d", what,
		     ctl_decode(buf, n, &d, &used), ctl_dec_str(ctl_decode(buf, n, &d, &used)),
		     want);
}

static void set_len(uint8_t *b, uint32_t v)
{
	b[8] = v >> 24;
	b[9] = v >> 16;
	b[10] = v >> 8;
	b[11] = v;
}

static void m_magic(uint8_t *b, size_t *n)
{
	(void)n;
	b[0] = 'X';
}
static void m_magic3(uint8_t *b, size_t *n)
{
	(void)n;
	b[3] = 0;
}
static void m_version(uint8_t *b, size_t *n)
{
	(void)n;
	b[4] = 2;
}
static void m_version0(uint8_t *b, size_t *n)
{
	(void)n;
	b[4] = 0;
}
static void m_type0(uint8_t *b, size_t *n)
{
	(void)n;
	b[5] = 0;
}
static void m_type99(uint8_t *b, size_t *n)
{
	(void)n;
	b[5] = 99;
}
static void m_flags(uint8_t *b, size_t *n)
{
	(void)n;
	b[7] = 1;
}
static void m_4gb(uint8_t *b, size_t *n)
{
	set_len(b, 0xffffffffu);
	*n = CTL_HDR_LEN; /* nothing of the body is there: refused at once */
}
static void m_oversize(uint8_t *b, size_t *n)
{
	set_len(b, CTL_BODY_MAX + 1);
	*n = CTL_HDR_LEN;
}
/* Body length one short, and the last body byte gone with it. */
static void m_short(uint8_t *b, size_t *n)
{
	uint32_t l = (uint32_t)b[8] << 24 | b[9] << 16 | b[10] << 8 | b[11];

	set_len(b, l - 1);
	*n -= 1;
}
/* One extra byte after the fields. */
static void m_trailing(uint8_t *b, size_t *n)
{
	uint32_t l = (uint32_t)b[8] << 24 | b[9] << 16 | b[10] << 8 | b[11];

	set_len(b, l + 1);
	b[*n] = 'x';
	*n += 1;
}
/* Body cut to 2 bytes (below every fixed part). */
static void m_tiny(uint8_t *b, size_t *n)
{
	set_len(b, 2);
	*n = CTL_HDR_LEN + 2;
}

Test(ctl, malformed_header)
{
	struct ctl_msg m = ping();

	expect_bad(&m, m_magic, CTL_DEC_BADMAGIC, "magic");
	expect_bad(&m, m_magic3, CTL_DEC_BADMAGIC, "magic byte 3");
	expect_bad(&m, m_version, CTL_DEC_BADVERSION, "version 2");
	expect_bad(&m, m_version0, CTL_DEC_BADVERSION, "version 0");
	expect_bad(&m, m_type0, CTL_DEC_BADTYPE, "type 0");
	expect_bad(&m, m_type99, CTL_DEC_BADTYPE, "type 99");
	expect_bad(&m, m_flags, CTL_DEC_BADFIELD, "flags");
	expect_bad(&m, m_4gb, CTL_DEC_OVERSIZE, "4 GB length prefix");
	expect_bad(&m, m_oversize, CTL_DEC_OVERSIZE, "length limit + 1");
}

Test(ctl, malformed_bodies)
{
	struct ctl_msg all[] = {
		hello(),    ping(), trace(), result(), {.type = CTL_CANCEL, .u.cancel.req_id = 3},
		error_msg()};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *t = ctl_type_str(all[i].type);

		expect_bad(&all[i], m_short, CTL_DEC_TRUNCATED, t);
		expect_bad(&all[i], m_trailing, CTL_DEC_BADFIELD, t);
		expect_bad(&all[i], m_tiny, CTL_DEC_TRUNCATED, t);
	}
	struct ctl_msg k = {.type = CTL_KEEPALIVE};

	expect_bad(&k, m_trailing, CTL_DEC_BADFIELD, "KEEPALIVE with a body");
}

/* A first byte that cannot start "RTCL" is refused with 1 byte in hand. */
Test(ctl, garbage_refused_early)
{
	struct ctl_msg d;
	size_t used;
	const char *http = "GET / HTTP/1.1\r\n\r\n";
	const uint8_t tls_hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8};

	cr_assert_eq(ctl_decode(http, 1, &d, &used), CTL_DEC_BADMAGIC);
	cr_assert_eq(ctl_decode(tls_hello, sizeof(tls_hello), &d, &used), CTL_DEC_BADMAGIC);
	cr_assert_eq(ctl_decode("RTC", 3, &d, &used), CTL_DEC_MORE);
	cr_assert_eq(ctl_decode("RTCL\x01", 5, &d, &used), CTL_DEC_MORE);
	cr_assert_eq(ctl_decode("RTCL\x07", 5, &d, &used), CTL_DEC_BADVERSION);

	/* Random garbage never yields a message with a wrong magic. */
	srand(1);
	for (int i = 0; i < 20000; i++) {
		uint8_t g[64];
		size_t n = 1 + rand() % sizeof(g);

		for (size_t j = 0; j < n; j++)
			g[j] = rand();
		int r = ctl_decode(g, n, &d, &used);

		cr_assert(r <= CTL_DEC_MORE);
		cr_assert(r != CTL_DEC_MORE || n < 4 || memcmp(g, "RTCL", 4) == 0);
	}
}

/* Field values out of range: the encoder refuses them and so does the decoder. */
Test(ctl, bad_fields_table)
{
	struct {
		const char *what;
		struct ctl_msg m;
	} t[] = {
		{"ping req 0", ping()},
		{"ping target 0", ping()},
		{"ping count 0", ping()},
		{"ping count big", ping()},
		{"ping rr+ts", ping()},
		{"ping ts 4", ping()},
		{"ping prespec 0 addrs", ping()},
		{"ping prespec 5 addrs", ping()},
		{"ping addr gap", ping()},
		{"ping cookie no spoof", ping()},
		{"ping payload", ping()},
		{"ping interval", ping()},
		{"trace first>max", trace()},
		{"trace max 65", trace()},
		{"trace method 0", trace()},
		{"trace attempts 0", trace()},
		{"hello bad name", hello()},
		{"hello empty name", hello()},
		{"hello caps", hello()},
		{"result empty not final", result()},
		{"result newline", result()},
		{"error code 0", error_msg()},
		{"error code 11", error_msg()},
		{"cancel 0", {.type = CTL_CANCEL}},
	};
	int i = 0;

	t[i++].m.u.ping.req_id = 0;
	t[i++].m.u.ping.target = 0;
	t[i++].m.u.ping.count = 0;
	t[i++].m.u.ping.count = CTL_PING_COUNT_MAX + 1;
	t[i++].m.u.ping.rr = 1;
	t[i++].m.u.ping.ts_mode = 4;
	t[i].m.u.ping.ts_naddr = 0, t[i].m.u.ping.ts_addr[0] = t[i].m.u.ping.ts_addr[1] = 0, i++;
	t[i++].m.u.ping.ts_naddr = 5;
	t[i++].m.u.ping.ts_addr[1] = 0;
	t[i++].m.u.ping.spoof_src = 0;
	t[i++].m.u.ping.payload_size = CTL_PAYLOAD_MAX + 1;
	t[i++].m.u.ping.interval_ms = CTL_PING_INTERVAL_MAX + 1;
	t[i++].m.u.trace.first_ttl = 31;
	t[i++].m.u.trace.max_ttl = 65;
	t[i++].m.u.trace.method = 0;
	t[i++].m.u.trace.attempts = 0;
	strcpy(t[i++].m.u.hello.name, "bad name");
	t[i++].m.u.hello.name[0] = 0;
	t[i++].m.u.hello.caps = 0x100;
	t[i].m.u.result.len = 0, t[i].m.u.result.final = 0, i++;
	t[i++].m.u.result.text = "{\"a\":1}\n{\"b\":2}";
	t[i++].m.u.error.code = 0;
	t[i++].m.u.error.code = CTL_ERR_MAX + 1;
	i++;

	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		cr_assert_eq(ctl_validate(&t[k].m), CTL_DEC_BADFIELD, "%s", t[k].what);
		cr_assert_eq(ctl_encode(&t[k].m, buf, sizeof(buf)), -EINVAL, "%s", t[k].what);
	}

	/* The decoder catches the same thing on the wire: patch count to 0 in a PING. */
	struct ctl_msg m = ping(), d;
	size_t used;
	ssize_t n = ctl_encode(&m, buf, sizeof(buf));

	buf[CTL_HDR_LEN + 16] = buf[CTL_HDR_LEN + 17] = 0;
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_BADFIELD);
	/* interval_ms (body bytes 22-23) over CTL_PING_INTERVAL_MAX. */
	n = ctl_encode(&m, buf, sizeof(buf));
	buf[CTL_HDR_LEN + 22] = 0xff;
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_BADFIELD);
	buf[CTL_HDR_LEN + 22] = (CTL_PING_INTERVAL_MAX >> 8) & 0xff;
	buf[CTL_HDR_LEN + 23] = CTL_PING_INTERVAL_MAX & 0xff;
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_MSG);
	cr_assert_eq(d.u.ping.interval_ms, CTL_PING_INTERVAL_MAX);
	/* A NUL inside a RESULT text. */
	m = result();
	n = ctl_encode(&m, buf, sizeof(buf));
	buf[CTL_HDR_LEN + 8 + 3] = 0;
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_BADFIELD);
	/* A NUL inside an ERROR message (found by fuzz_ctl: it did not re-encode). */
	m = error_msg();
	n = ctl_encode(&m, buf, sizeof(buf));
	buf[CTL_HDR_LEN + 7 + 2] = 0;
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_BADFIELD);
}

Test(ctl, biggest_result)
{
	static char text[CTL_RESULT_MAX + 1];
	struct ctl_msg m = result(), d;
	size_t used;
	ssize_t n;

	memset(text, 'a', sizeof(text));
	m.u.result.text = text;
	m.u.result.len = CTL_RESULT_MAX;
	n = ctl_encode(&m, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_leq(n, CTL_MSG_MAX);
	cr_assert_eq(ctl_decode(buf, n, &d, &used), CTL_DEC_MSG);
	m.u.result.len = CTL_RESULT_MAX + 1;
	cr_assert_eq(ctl_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* The framer: byte-at-a-time delivery, several messages in one read. */
Test(ctl, framer_stream)
{
	static struct ctl_framer f;
	static uint8_t stream[4 * 1024];
	struct ctl_msg msgs[] = {hello(), ping(), result(), trace(), {.type = CTL_KEEPALIVE}};
	size_t n = 0, nm = sizeof(msgs) / sizeof(msgs[0]), got = 0;
	struct ctl_msg d;

	for (size_t i = 0; i < nm; i++) {
		ssize_t e = ctl_encode(&msgs[i], stream + n, sizeof(stream) - n);

		cr_assert_gt(e, 0);
		n += e;
	}
	/* One byte at a time. */
	ctl_framer_init(&f);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ctl_framer_feed(&f, stream + i, 1), 1);
		int r;

		while ((r = ctl_framer_next(&f, &d)) == CTL_DEC_MSG) {
			cr_assert_eq(d.type, msgs[got].type);
			got++;
		}
		cr_assert_eq(r, CTL_DEC_MORE);
	}
	cr_assert_eq(got, nm);
	cr_assert_not(ctl_framer_partial(&f));

	/* All at once through space/commit; RESULT text stays valid across next(). */
	ctl_framer_init(&f);
	size_t cap;
	void *sp = ctl_framer_space(&f, &cap);

	cr_assert_geq(cap, n);
	memcpy(sp, stream, n);
	ctl_framer_commit(&f, n);
	got = 0;
	const char *text = NULL;

	while (ctl_framer_next(&f, &d) == CTL_DEC_MSG) {
		if (d.type == CTL_RESULT)
			text = d.u.result.text;
		got++;
	}
	cr_assert_eq(got, nm);
	cr_assert(text && memcmp(text, json, strlen(json)) == 0);
}

Test(ctl, framer_refuses_4gb_before_body)
{
	static struct ctl_framer f;
	uint8_t h[CTL_HDR_LEN] = {'R', 'T', 'C', 'L', 1, CTL_RESULT, 0, 0, 0xff, 0xff, 0xff, 0xff};
	struct ctl_msg d;
	size_t cap;

	ctl_framer_init(&f);
	ctl_framer_feed(&f, h, CTL_HDR_LEN - 1);
	cr_assert_eq(ctl_framer_next(&f, &d), CTL_DEC_MORE);
	ctl_framer_feed(&f, h + CTL_HDR_LEN - 1, 1);
	cr_assert_eq(ctl_framer_next(&f, &d), CTL_DEC_OVERSIZE);
	/* Sticky, and no more room to read into. */
	cr_assert_eq(ctl_framer_next(&f, &d), CTL_DEC_OVERSIZE);
	ctl_framer_space(&f, &cap);
	cr_assert_eq(cap, 0);
	cr_assert_eq(ctl_framer_feed(&f, "RTCL", 4), 0);
}

Test(ctl, framer_garbage_after_good)
{
	static struct ctl_framer f;
	struct ctl_msg m = ping(), d;
	ssize_t n = ctl_encode(&m, buf, sizeof(buf));

	memcpy(buf + n, "\x00garbage", 8);
	ctl_framer_init(&f);
	cr_assert_eq(ctl_framer_feed(&f, buf, n + 8), (size_t)n + 8);
	cr_assert_eq(ctl_framer_next(&f, &d), CTL_DEC_MSG);
	cr_assert_eq(ctl_framer_next(&f, &d), CTL_DEC_BADMAGIC);
}

Test(ctl, framer_max_message_fits)
{
	static struct ctl_framer f;
	static char text[CTL_RESULT_MAX];
	struct ctl_msg m = result(), d;
	ssize_t n;

	memset(text, 'z', sizeof(text));
	m.u.result.text = text;
	m.u.result.len = sizeof(text);
	n = ctl_encode(&m, buf, sizeof(buf));
	ctl_framer_init(&f);
	/* A partial small message first, then the big one after it is consumed. */
	struct ctl_msg k = {.type = CTL_KEEPALIVE};
	uint8_t kb[CTL_HDR_LEN];

	cr_assert_eq(ctl_encode(&k, kb, sizeof(kb)), CTL_HDR_LEN);
	ctl_framer_feed(&f, kb, sizeof(kb));
	for (int round = 0; round < 3; round++) {
		size_t off = 0;

		while (off < (size_t)n) {
			off += ctl_framer_feed(&f, buf + off, n - off);
			int r;

			while ((r = ctl_framer_next(&f, &d)) == CTL_DEC_MSG)
				;
			cr_assert_eq(r, CTL_DEC_MORE);
		}
	}
	cr_assert_not(ctl_framer_partial(&f));
}

Test(ctl, strings)
{
	cr_assert_str_eq(ctl_type_str(CTL_PING), "PING");
	cr_assert_str_eq(ctl_type_str(99), "?");
	cr_assert_str_eq(ctl_err_str(CTL_ERR_DENIED), "denied");
	cr_assert_str_eq(ctl_dec_str(CTL_DEC_OVERSIZE), "length prefix over the limit");
}
