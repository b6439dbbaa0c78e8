/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * obuf.h - a small record builder for the JSON printers of output.c: text is
 * appended to a stack buffer with hand-written number and address
 * formatting (no printf on the per-record path: a sweep prints one record
 * per probe) and handed to the FILE with one fwrite per record, or per
 * OBUF_SIZE bytes for very long ones. Not a public header.
 */
#ifndef RTRACE_PROBE_OBUF_H
#define RTRACE_PROBE_OBUF_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define OBUF_SIZE 8192

struct obuf {
	FILE *f;	     /* where the record goes */
	char *p;	     /* end of the text so far */
	char buf[OBUF_SIZE]; /* the text */
};

static inline void ob_init(struct obuf *b, FILE *f)
{
	b->f = f;
	b->p = b->buf;
}

/* Hand what was built to the FILE. */
static inline void ob_spill(struct obuf *b)
{
	if (b->p > b->buf)
		fwrite_unlocked(b->buf, 1, b->p - b->buf, b->f);
	b->p = b->buf;
}

/* Make room for n more bytes (n < OBUF_SIZE). */
static inline void ob_room(struct obuf *b, size_t n)
{
	if ((size_t)(b->buf + sizeof(b->buf) - b->p) < n)
		ob_spill(b);
}

static inline void ob_mem(struct obuf *b, const char *s, size_t n)
{
	ob_room(b, n);
	memcpy(b->p, s, n);
	b->p += n;
}

/* A string literal. */
#define OB_LIT(b, s) ob_mem((b), (s), sizeof(s) - 1)

static inline void ob_str(struct obuf *b, const char *s)
{
	ob_mem(b, s, strlen(s));
}

static inline void ob_char(struct obuf *b, char c)
{
	ob_room(b, 1);
	*b->p++ = c;
}

/* Decimal digits of v (1..20). */
static inline unsigned int ob_ndigits(uint64_t v)
{
	unsigned int n = 1;

	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* "00".."99": two digits per division. */
static const char ob_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"6869707172737475767778798081828384858687888990919293949596979899";

static __attribute__((noinline)) void ob_u64_big(struct obuf *b, uint64_t v)
{
	unsigned int n = ob_ndigits(v), r;
	char *q;
	uint32_t w;

	ob_room(b, 20);
	q = b->p + n;
	b->p = q;
	while (v >= (1ull << 32)) {
		r = v % 100;
		v /= 100;
		q -= 2;
		memcpy(q, ob_pairs + 2 * r, 2);
	}
	for (w = v; w >= 100; w /= 100) { /* 32-bit divisions are cheaper */
		r = w % 100;
		q -= 2;
		memcpy(q, ob_pairs + 2 * r, 2);
	}
	if (w >= 10)
		memcpy(q - 2, ob_pairs + 2 * w, 2);
	else
		q[-1] = '0' + w;
}

/* Most numbers of a record are below 100 (seq, TTLs, ICMP type and code): inline. */
static inline void ob_u64(struct obuf *b, uint64_t v)
{
	if (v >= 100) {
		ob_u64_big(b, v);
		return;
	}
	ob_room(b, 2);
	if (v < 10) {
		*b->p++ = '0' + v;
	} else {
		memcpy(b->p, ob_pairs + 2 * v, 2);
		b->p += 2;
	}
}

static inline void ob_i64(struct obuf *b, int64_t v)
{
	if (v < 0) {
		ob_char(b, '-');
		ob_u64(b, -(uint64_t)v);
	} else {
		ob_u64(b, v);
	}
}

/*
 * Seconds of a timestamp: the records of a sweep carry the same few values
 * over and over, so the text of the last one is kept (per thread).
 */
static inline void ob_sec(struct obuf *b, int64_t sec)
{
	static __thread int64_t last = -1;
	static __thread char text[24];
	static __thread unsigned int len;

	char *start;

	if (sec == last) {
		ob_mem(b, text, len);
		return;
	}
	ob_room(b, sizeof(text)); /* ob_i64 needs at most 21: it will not spill */
	start = b->p;
	ob_i64(b, sec);
	len = b->p - start;
	memcpy(text, start, len);
	last = sec;
}

/* An IPv4 address (network order) in dotted quad. */
static inline void ob_ip(struct obuf *b, uint32_t a)
{
	const uint8_t *o = (const uint8_t *)&a;
	char *p;
	int i;

	ob_room(b, 16);
	p = b->p;
	for (i = 0; i < 4; i++) {
		unsigned int v = o[i];

		if (v >= 100) {
			*p++ = '0' + v / 100;
			memcpy(p, ob_pairs + 2 * (v % 100), 2);
			p += 2;
		} else if (v >= 10) {
			memcpy(p, ob_pairs + 2 * v, 2);
			p += 2;
		} else {
			*p++ = '0' + v;
		}
		*p++ = '.';
	}
	b->p = p - 1; /* no dot after the last byte */
}

/* "A.B.C.D" with the quotes. */
static inline void ob_qip(struct obuf *b, uint32_t a)
{
	ob_char(b, '"');
	ob_ip(b, a);
	ob_char(b, '"');
}

/* Milliseconds with three decimals from ns (output_fmt_ms()). */
static inline void ob_ms(struct obuf *b, uint64_t ns)
{
	uint64_t us = (ns + 500) / 1000;
	unsigned int frac = us % 1000;

	ob_u64(b, us / 1000);
	ob_room(b, 4);
	b->p[0] = '.';
	b->p[1] = '0' + frac / 100;
	b->p[2] = '0' + frac / 10 % 10;
	b->p[3] = '0' + frac % 10;
	b->p += 4;
}

#endif /* RTRACE_PROBE_OBUF_H */
