// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ctl.c - encoder, decoder and streaming framer of the control-link protocol
 * (see include/rtrace/ctl.h). Pure: caller buffers, no I/O, no allocation.
 *
 * Body layouts (big-endian, "a4" = IPv4 address bytes as on the network):
 *   HELLO     version u16 | caps u16 | addr a4 | rate_pps u32 | max_inflight u32 |
 *             name_len u8 | name
 *   PING      req_id u32 | target a4 | spoof_src a4 | cookie_req u32 | count u16 |
 *             payload_size u16 | wait_ms u16 | interval_ms u16 | ttl u8 | rr u8 |
 *             ts_mode u8 | ts_naddr u8 | ts_addr a4 x 4
 *   TRACE     req_id u32 | target a4 | first_ttl u8 | max_ttl u8 | attempts u8 |
 *             gap_limit u8 | method u8 | pad u8 (0) | wait_ms u16
 *   RESULT    req_id u32 | flags u8 (bit 0 final) | pad u8 (0) | len u16 | text
 *   CANCEL    req_id u32
 *   KEEPALIVE (empty)
 *   ERROR     req_id u32 | code u16 | len u8 | msg
 * Every body must be exactly as long as its fields say: shorter is
 * CTL_DEC_TRUNCATED, longer is CTL_DEC_BADFIELD.
 */
#include <errno.h>
#include <string.h>

#include "rtrace/ctl.h"

#define HELLO_FIXED 17
#define PING_LEN 44
#define TRACE_LEN 16
#define RESULT_FIXED 8
#define CANCEL_LEN 4
#define ERROR_FIXED 7
#define RESULT_F_FINAL 0x01

/* Big-endian cursor over a caller buffer; bounds were checked by the caller. */
static void put16(uint8_t **p, uint16_t v)
{
	(*p)[0] = v >> 8;
	(*p)[1] = v;
	*p += 2;
}

static void put32(uint8_t **p, uint32_t v)
{
	(*p)[0] = v >> 24;
	(*p)[1] = v >> 16;
	(*p)[2] = v >> 8;
	(*p)[3] = v;
	*p += 4;
}

/* An address keeps its network byte order: copy its bytes. */
static void put_addr(uint8_t **p, uint32_t a)
{
	memcpy(*p, &a, 4);
	*p += 4;
}

static uint16_t get16(const uint8_t **p)
{
	uint16_t v = (uint16_t)((*p)[0] << 8 | (*p)[1]);

	*p += 2;
	return v;
}

static uint32_t get32(const uint8_t **p)
{
	uint32_t v = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 |
		     (*p)[3];

	*p += 4;
	return v;
}

static uint32_t get_addr(const uint8_t **p)
{
	uint32_t a;

	memcpy(&a, *p, 4);
	*p += 4;
	return a;
}

const char *ctl_dec_str(int dec)
{
	switch (dec) {
	case CTL_DEC_MORE:
		return "incomplete message";
	case CTL_DEC_MSG:
		return "message";
	case CTL_DEC_OVERSIZE:
		return "length prefix over the limit";
	case CTL_DEC_BADMAGIC:
		return "bad magic (not an rtrace control stream)";
	case CTL_DEC_BADVERSION:
		return "unsupported protocol version";
	case CTL_DEC_BADTYPE:
		return "unknown message type";
	case CTL_DEC_TRUNCATED:
		return "truncated field";
	case CTL_DEC_BADFIELD:
		return "invalid field";
	}
	return "?";
}

const char *ctl_type_str(int type)
{
	static const char *const names[] = {"?",      "HELLO",	"PING",	     "TRACE",
					    "RESULT", "CANCEL", "KEEPALIVE", "ERROR"};

	if (type < 0 || type > CTL_TYPE_MAX)
		return "?";
	return names[type];
}

const char *ctl_err_str(int code)
{
	static const char *const names[] = {
		"?",
		"protocol error",
		"unsupported",
		"denied",
		"blocked",
		"rate limited",
		"busy",
		"bad request",
		"unknown request",
		"internal error",
		"shutting down",
	};

	if (code < 0 || code > CTL_ERR_MAX)
		return "?";
	return names[code];
}

/* Names (HELLO) are certificate CNs and file names: [A-Za-z0-9._-], 1..64. */
static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > CTL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* Free text (RESULT records, ERROR messages): no NUL, no line breaks. */
static int text_ok(const char *s, size_t n)
{
	return !memchr(s, '\0', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n);
}

static int validate_ping(const struct ctl_ping *p)
{
	if (!p->req_id || !p->target || p->count < 1 || p->count > CTL_PING_COUNT_MAX ||
	    p->payload_size > CTL_PAYLOAD_MAX || p->interval_ms > CTL_PING_INTERVAL_MAX ||
	    p->rr > 1 || p->ts_mode > CTL_TS_PRESPEC)
		return CTL_DEC_BADFIELD;
	/* RR (39 bytes) and a timestamp option do not fit in 40 option bytes together. */
	if (p->rr && p->ts_mode != CTL_TS_NONE)
		return CTL_DEC_BADFIELD;
	if (!p->spoof_src && p->cookie_req)
		return CTL_DEC_BADFIELD;
	if (p->ts_mode == CTL_TS_PRESPEC) {
		if (p->ts_naddr < 1 || p->ts_naddr > CTL_TS_ADDRS)
			return CTL_DEC_BADFIELD;
	} else if (p->ts_naddr) {
		return CTL_DEC_BADFIELD;
	}
	for (int i = 0; i < CTL_TS_ADDRS; i++)
		if ((i < p->ts_naddr) != (p->ts_addr[i] != 0))
			return CTL_DEC_BADFIELD;
	return 0;
}

static int validate_trace(const struct ctl_trace *t)
{
	if (!t->req_id || !t->target || t->first_ttl < 1 || t->first_ttl > t->max_ttl ||
	    t->max_ttl > CTL_TTL_MAX || t->attempts < 1 || t->attempts > CTL_ATTEMPTS_MAX ||
	    t->gap_limit < 1 || t->gap_limit > CTL_TTL_MAX ||
	    (t->method != CTL_TRACE_ICMP_PARIS && t->method != CTL_TRACE_UDP_PARIS))
		return CTL_DEC_BADFIELD;
	return 0;
}

int ctl_validate(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO: {
		const struct ctl_hello *h = &m->u.hello;
		size_t n = strnlen(h->name, sizeof(h->name));

		if (h->version < 1 || (h->caps & ~CTL_CAP_ALL) || n == sizeof(h->name) ||
		    !name_ok(h->name, n))
			return CTL_DEC_BADFIELD;
		return 0;
	}
	case CTL_PING:
		return validate_ping(&m->u.ping);
	case CTL_TRACE:
		return validate_trace(&m->u.trace);
	case CTL_RESULT: {
		const struct ctl_result *r = &m->u.result;

		if (!r->req_id || r->final > 1 || r->len > CTL_RESULT_MAX ||
		    (r->len == 0 && !r->final) || (r->len && !r->text) ||
		    (r->len && !text_ok(r->text, r->len)))
			return CTL_DEC_BADFIELD;
		return 0;
	}
	case CTL_CANCEL:
		return m->u.cancel.req_id ? 0 : CTL_DEC_BADFIELD;
	case CTL_KEEPALIVE:
		return 0;
	case CTL_ERROR: {
		const struct ctl_error *e = &m->u.error;
		size_t n = strnlen(e->msg, sizeof(e->msg));

		if (e->code < 1 || e->code > CTL_ERR_MAX || n == sizeof(e->msg) ||
		    !text_ok(e->msg, n))
			return CTL_DEC_BADFIELD;
		return 0;
	}
	}
	return CTL_DEC_BADTYPE;
}

/* Body length m will encode to; m is valid. */
static size_t body_len(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_HELLO:
		return HELLO_FIXED + strlen(m->u.hello.name);
	case CTL_PING:
		return PING_LEN;
	case CTL_TRACE:
		return TRACE_LEN;
	case CTL_RESULT:
		return RESULT_FIXED + m->u.result.len;
	case CTL_CANCEL:
		return CANCEL_LEN;
	case CTL_ERROR:
		return ERROR_FIXED + strlen(m->u.error.msg);
	}
	return 0;
}

static void encode_body(const struct ctl_msg *m, uint8_t *p)
{
	switch (m->type) {
	case CTL_HELLO: {
		const struct ctl_hello *h = &m->u.hello;
		size_t n = strlen(h->name);

		put16(&p, h->version);
		put16(&p, h->caps);
		put_addr(&p, h->addr);
		put32(&p, h->rate_pps);
		put32(&p, h->max_inflight);
		*p++ = n;
		memcpy(p, h->name, n);
		break;
	}
	case CTL_PING: {
		const struct ctl_ping *q = &m->u.ping;

		put32(&p, q->req_id);
		put_addr(&p, q->target);
		put_addr(&p, q->spoof_src);
		put32(&p, q->cookie_req);
		put16(&p, q->count);
		put16(&p, q->payload_size);
		put16(&p, q->wait_ms);
		put16(&p, q->interval_ms);
		*p++ = q->ttl;
		*p++ = q->rr;
		*p++ = q->ts_mode;
		*p++ = q->ts_naddr;
		for (int i = 0; i < CTL_TS_ADDRS; i++)
			put_addr(&p, q->ts_addr[i]);
		break;
	}
	case CTL_TRACE: {
		const struct ctl_trace *t = &m->u.trace;

		put32(&p, t->req_id);
		put_addr(&p, t->target);
		*p++ = t->first_ttl;
		*p++ = t->max_ttl;
		*p++ = t->attempts;
		*p++ = t->gap_limit;
		*p++ = t->method;
		*p++ = 0;
		put16(&p, t->wait_ms);
		break;
	}
	case CTL_RESULT: {
		const struct ctl_result *r = &m->u.result;

		put32(&p, r->req_id);
		*p++ = r->final ? RESULT_F_FINAL : 0;
		*p++ = 0;
		put16(&p, r->len);
		if (r->len)
			memcpy(p, r->text, r->len);
		break;
	}
	case CTL_CANCEL:
		put32(&p, m->u.cancel.req_id);
		break;
	case CTL_ERROR: {
		size_t n = strlen(m->u.error.msg);

		put32(&p, m->u.error.req_id);
		put16(&p, m->u.error.code);
		*p++ = n;
		memcpy(p, m->u.error.msg, n);
		break;
	}
	}
}

ssize_t ctl_encode(const struct ctl_msg *m, void *buf, size_t cap)
{
	uint8_t *p = buf;
	size_t blen;

	if (ctl_validate(m))
		return -EINVAL;
	blen = body_len(m);
	if (cap < CTL_HDR_LEN + blen)
		return -ENOSPC;
	put32(&p, CTL_MAGIC);
	*p++ = CTL_VERSION;
	*p++ = m->type;
	put16(&p, 0);
	put32(&p, blen);
	encode_body(m, p);
	return CTL_HDR_LEN + blen;
}

/* Decode a body of n bytes at p into m (type already set). */
static int decode_body(const uint8_t *p, size_t n, struct ctl_msg *m)
{
	const uint8_t *end = p + n;
	size_t need;

	switch (m->type) {
	case CTL_HELLO: {
		struct ctl_hello *h = &m->u.hello;
		size_t nl;

		if (n < HELLO_FIXED)
			return CTL_DEC_TRUNCATED;
		h->version = get16(&p);
		h->caps = get16(&p);
		h->addr = get_addr(&p);
		h->rate_pps = get32(&p);
		h->max_inflight = get32(&p);
		nl = *p++;
		if ((size_t)(end - p) < nl)
			return CTL_DEC_TRUNCATED;
		if ((size_t)(end - p) > nl || !name_ok((const char *)p, nl))
			return CTL_DEC_BADFIELD;
		memcpy(h->name, p, nl);
		h->name[nl] = '\0';
		return 0;
	}
	case CTL_PING: {
		struct ctl_ping *q = &m->u.ping;

		if (n != PING_LEN)
			return n < PING_LEN ? CTL_DEC_TRUNCATED : CTL_DEC_BADFIELD;
		q->req_id = get32(&p);
		q->target = get_addr(&p);
		q->spoof_src = get_addr(&p);
		q->cookie_req = get32(&p);
		q->count = get16(&p);
		q->payload_size = get16(&p);
		q->wait_ms = get16(&p);
		q->interval_ms = get16(&p);
		q->ttl = *p++;
		q->rr = *p++;
		q->ts_mode = *p++;
		q->ts_naddr = *p++;
		for (int i = 0; i < CTL_TS_ADDRS; i++)
			q->ts_addr[i] = get_addr(&p);
		return 0;
	}
	case CTL_TRACE: {
		struct ctl_trace *t = &m->u.trace;

		if (n != TRACE_LEN)
			return n < TRACE_LEN ? CTL_DEC_TRUNCATED : CTL_DEC_BADFIELD;
		t->req_id = get32(&p);
		t->target = get_addr(&p);
		t->first_ttl = *p++;
		t->max_ttl = *p++;
		t->attempts = *p++;
		t->gap_limit = *p++;
		t->method = *p++;
		if (*p++ != 0)
			return CTL_DEC_BADFIELD;
		t->wait_ms = get16(&p);
		return 0;
	}
	case CTL_RESULT: {
		struct ctl_result *r = &m->u.result;
		uint8_t flags;

		if (n < RESULT_FIXED)
			return CTL_DEC_TRUNCATED;
		r->req_id = get32(&p);
		flags = *p++;
		if ((flags & ~RESULT_F_FINAL) || *p++ != 0)
			return CTL_DEC_BADFIELD;
		r->final = flags & RESULT_F_FINAL;
		r->len = get16(&p);
		need = r->len;
		if ((size_t)(end - p) < need)
			return CTL_DEC_TRUNCATED;
		if ((size_t)(end - p) > need)
			return CTL_DEC_BADFIELD;
		r->text = need ? (const char *)p : NULL;
		return 0;
	}
	case CTL_CANCEL:
		if (n != CANCEL_LEN)
			return n < CANCEL_LEN ? CTL_DEC_TRUNCATED : CTL_DEC_BADFIELD;
		m->u.cancel.req_id = get32(&p);
		return 0;
	case CTL_KEEPALIVE:
		return n ? CTL_DEC_BADFIELD : 0;
	case CTL_ERROR: {
		struct ctl_error *e = &m->u.error;

		if (n < ERROR_FIXED)
			return CTL_DEC_TRUNCATED;
		e->req_id = get32(&p);
		e->code = get16(&p);
		need = *p++;
		if ((size_t)(end - p) < need)
			return CTL_DEC_TRUNCATED;
		if ((size_t)(end - p) > need || !text_ok((const char *)p, need))
			return CTL_DEC_BADFIELD;
		memcpy(e->msg, p, need);
		e->msg[need] = '\0';
		return 0;
	}
	}
	return CTL_DEC_BADTYPE;
}

/* Check the header bytes present (len may be < CTL_HDR_LEN): 0 or an error. */
static int check_header(const uint8_t *b, size_t len)
{
	static const uint8_t magic[4] = {CTL_MAGIC >> 24, (CTL_MAGIC >> 16) & 0xff,
					 (CTL_MAGIC >> 8) & 0xff, CTL_MAGIC & 0xff};
	const uint8_t *p;

	if (memcmp(b, magic, len < 4 ? len : 4))
		return CTL_DEC_BADMAGIC;
	if (len > 4 && b[4] != CTL_VERSION)
		return CTL_DEC_BADVERSION;
	if (len > 5 && (b[5] < 1 || b[5] > CTL_TYPE_MAX))
		return CTL_DEC_BADTYPE;
	if (len >= CTL_HDR_LEN) {
		p = b + 6;
		if (get16(&p) != 0)
			return CTL_DEC_BADFIELD;
		if (get32(&p) > CTL_BODY_MAX)
			return CTL_DEC_OVERSIZE;
	}
	return 0;
}

int ctl_decode(const void *buf, size_t len, struct ctl_msg *m, size_t *used)
{
	const uint8_t *b = buf, *p = b + 8;
	uint32_t blen;
	int err;

	err = check_header(b, len);
	if (err)
		return err;
	if (len < CTL_HDR_LEN)
		return CTL_DEC_MORE;
	blen = get32(&p);
	if (len - CTL_HDR_LEN < blen)
		return CTL_DEC_MORE;
	memset(m, 0, sizeof(*m));
	m->type = b[5];
	err = decode_body(b + CTL_HDR_LEN, blen, m);
	if (!err)
		err = ctl_validate(m);
	if (err)
		return err;
	*used = CTL_HDR_LEN + blen;
	return CTL_DEC_MSG;
}

void ctl_framer_init(struct ctl_framer *f)
{
	f->off = 0;
	f->len = 0;
	f->err = 0;
}

/* Move the unreturned bytes to the front of the buffer. */
static void framer_compact(struct ctl_framer *f)
{
	if (!f->off)
		return;
	memmove(f->buf, f->buf + f->off, f->len - f->off);
	f->len -= f->off;
	f->off = 0;
}

void *ctl_framer_space(struct ctl_framer *f, size_t *cap)
{
	framer_compact(f);
	*cap = f->err ? 0 : sizeof(f->buf) - f->len;
	return f->buf + f->len;
}

void ctl_framer_commit(struct ctl_framer *f, size_t n)
{
	if (n > sizeof(f->buf) - f->len)
		n = sizeof(f->buf) - f->len;
	f->len += n;
}

size_t ctl_framer_feed(struct ctl_framer *f, const void *data, size_t len)
{
	size_t cap;
	void *dst = ctl_framer_space(f, &cap);

	if (len > cap)
		len = cap;
	memcpy(dst, data, len);
	ctl_framer_commit(f, len);
	return len;
}

int ctl_framer_next(struct ctl_framer *f, struct ctl_msg *m)
{
	size_t used = 0;
	int ret;

	if (f->err)
		return f->err;
	ret = ctl_decode(f->buf + f->off, f->len - f->off, m, &used);
	if (ret < 0)
		f->err = ret;
	else if (ret == CTL_DEC_MSG)
		f->off += used;
	return ret;
}

int ctl_framer_partial(const struct ctl_framer *f)
{
	return f->len > f->off;
}
