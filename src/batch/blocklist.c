// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * blocklist.c - what rtrace-batch refuses to probe: the IANA IPv4
 * Special-Purpose Address Registry (plus multicast) unless opened with
 * --allow, and the user's own blocklist file. Lookups are a binary search
 * over two sorted lists of disjoint ranges (user entries merged; defaults
 * with the allowed parts cut out), so a million targets cost nothing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/batch.h"
#include "rtrace/log.h"

/*
 * IANA IPv4 Special-Purpose Address Registry, top-level entries
 * (https://www.iana.org/assignments/iana-ipv4-special-registry), in address
 * order. The /29 and /32 entries inside 192.0.0.0/24 are covered by it.
 */
static const struct batch_special special[] = {
	{"0.0.0.0/8", "\"This network\"", "RFC 791"},
	{"10.0.0.0/8", "Private-Use", "RFC 1918"},
	{"100.64.0.0/10", "Shared Address Space", "RFC 6598"},
	{"127.0.0.0/8", "Loopback", "RFC 1122"},
	{"169.254.0.0/16", "Link Local", "RFC 3927"},
	{"172.16.0.0/12", "Private-Use", "RFC 1918"},
	{"192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"},
	{"192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"},
	{"192.31.196.0/24", "AS112-v4", "RFC 7535"},
	{"192.52.193.0/24", "AMT", "RFC 7450"},
	{"192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"},
	{"192.168.0.0/16", "Private-Use", "RFC 1918"},
	{"192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"},
	{"198.18.0.0/15", "Benchmarking", "RFC 2544"},
	{"198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"},
	{"203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"},
	{"224.0.0.0/4", "Multicast", "RFC 5771"},
	{"240.0.0.0/4", "Reserved", "RFC 1112"},
	{"255.255.255.255/32", "Limited Broadcast", "RFC 919"},
};

const struct batch_special *batch_special_ranges(size_t *n)
{
	*n = sizeof(special) / sizeof(special[0]);
	return special;
}

int batch_cidr_parse(const char *s, uint32_t *lo, uint32_t *hi)
{
	char buf[32], *slash, *end;
	unsigned long plen = 32;
	struct in_addr a;
	uint32_t mask, h;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		plen = strtoul(slash + 1, &end, 10);
		if (*end || plen > 32)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	mask = plen == 0 ? 0 : ~0u << (32 - plen);
	h = ntohl(a.s_addr);
	if (h & ~mask)
		return -EINVAL; /* host bits set: probably a typo, say so */
	*lo = h;
	*hi = h | ~mask;
	return 0;
}

static int push(struct batch_range **v, size_t *n, size_t *cap, uint32_t lo, uint32_t hi,
		const char *what)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 32;
		struct batch_range *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[*n].lo = lo;
	(*v)[*n].hi = hi;
	snprintf((*v)[*n].what, sizeof((*v)[*n].what), "%s", what);
	(*n)++;
	return 0;
}

int batch_blocklist_init(struct batch_blocklist *bl)
{
	memset(bl, 0, sizeof(*bl));
	return 0;
}

int batch_blocklist_block(struct batch_blocklist *bl, const char *cidr, const char *what)
{
	uint32_t lo, hi;
	char w[96];

	if (batch_cidr_parse(cidr, &lo, &hi))
		return -EINVAL;
	snprintf(w, sizeof(w), "%s (%s)", cidr, what ? what : "blocklist");
	bl->ready = false;
	return push(&bl->user, &bl->nuser, &bl->capuser, lo, hi, w);
}

int batch_blocklist_allow(struct batch_blocklist *bl, const char *cidr)
{
	uint32_t lo, hi;

	if (batch_cidr_parse(cidr, &lo, &hi))
		return -EINVAL;
	bl->ready = false;
	return push(&bl->allow, &bl->nallow, &bl->capallow, lo, hi, cidr);
}

int batch_blocklist_read(struct batch_blocklist *bl, FILE *f, const char *name, size_t *nbad)
{
	char *line = NULL, *p, *e, *rest, what[96], shown[64];
	size_t cap = 0, lineno = 0, bad = 0;
	int err = 0, rc;

	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		p = line + strspn(line, " \t\r\n");
		e = p + strcspn(p, " \t\r\n#");
		if (p == e)
			continue;
		rest = e + strspn(e, " \t\r\n");
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(shown, sizeof(shown), "%s", p);
		*e = '\0';
		snprintf(what, sizeof(what), "%s:%zu", name, lineno);
		rc = (*rest && *rest != '#') ? -EINVAL : batch_blocklist_block(bl, p, what);
		if (rc == -ENOMEM) {
			err = rc;
			break;
		}
		if (rc) {
			bad++;
			rt_warn("%s:%zu: not an IPv4 prefix (A.B.C.D/N, host bits zero), skipped: "
				"'%.60s'",
				name, lineno, shown);
		}
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	if (nbad)
		*nbad = bad;
	return err;
}

static int cmp_range(const void *a, const void *b)
{
	const struct batch_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi > y->hi ? -1 : x->hi < y->hi; /* wider first */
}

/* Sort and merge overlapping ranges in place; the first (widest) one's name stays. */
static void merge(struct batch_range *v, size_t *n)
{
	size_t i, k = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), cmp_range);
	for (i = 1; i < *n; i++) {
		if (v[i].lo <= v[k].hi) {
			if (v[i].hi > v[k].hi)
				v[k].hi = v[i].hi;
		} else {
			v[++k] = v[i];
		}
	}
	*n = k + 1;
}

int batch_blocklist_finish(struct batch_blocklist *bl)
{
	size_t ns, i, j, cap = 0, n = 0;
	const struct batch_special *sp = batch_special_ranges(&ns);
	struct batch_range *d = NULL;
	char what[96];

	merge(bl->user, &bl->nuser);
	merge(bl->allow, &bl->nallow);
	for (i = 0; i < ns; i++) {
		uint32_t lo, hi, cur;

		if (batch_cidr_parse(sp[i].cidr, &lo, &hi))
			continue;
		snprintf(what, sizeof(what), "%s (%s, %s)", sp[i].cidr, sp[i].name, sp[i].rfc);
		/* cut the allowed ranges (sorted, disjoint) out of [lo, hi] */
		cur = lo;
		for (j = 0; j < bl->nallow; j++) {
			const struct batch_range *a = &bl->allow[j];

			if (a->hi < cur || a->lo > hi)
				continue;
			if (a->lo > cur && push(&d, &n, &cap, cur, a->lo - 1, what))
				goto nomem;
			if (a->hi >= hi)
				goto next;
			cur = a->hi + 1;
		}
		if (push(&d, &n, &cap, cur, hi, what))
			goto nomem;
	next:;
	}
	qsort(d, n, sizeof(*d), cmp_range);
	free(bl->def);
	bl->def = d;
	bl->ndef = n;
	bl->ready = true;
	return 0;
nomem:
	free(d);
	return -ENOMEM;
}

static const struct batch_range *find(const struct batch_range *v, size_t n, uint32_t h)
{
	size_t lo = 0, hi = n;

	/* last range with v.lo <= h */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v[mid].lo <= h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || v[lo - 1].hi < h)
		return NULL;
	return &v[lo - 1];
}

const struct batch_range *batch_blocklist_match(const struct batch_blocklist *bl, uint32_t addr)
{
	uint32_t h = ntohl(addr);
	const struct batch_range *r = find(bl->user, bl->nuser, h);

	return r ? r : find(bl->def, bl->ndef, h);
}

void batch_blocklist_free(struct batch_blocklist *bl)
{
	free(bl->user);
	free(bl->allow);
	free(bl->def);
	memset(bl, 0, sizeof(*bl));
}

int batch_blocklist_build(struct batch_blocklist *bl, const char *const *allow, size_t nallow,
			  const char *const *files, size_t nfiles, char *err, size_t errlen)
{
	size_t i, bad;
	FILE *f;
	int e;

	batch_blocklist_init(bl);
	for (i = 0; i < nallow; i++) {
		if (batch_blocklist_allow(bl, allow[i])) {
			snprintf(err, errlen,
				 "--allow %s: not an IPv4 prefix (A.B.C.D/N, host bits zero)",
				 allow[i]);
			return -EINVAL;
		}
	}
	for (i = 0; i < nfiles; i++) {
		f = fopen(files[i], "re");
		if (!f) {
			e = -errno;
			snprintf(err, errlen, "--blocklist %s: %s", files[i], strerror(-e));
			return e;
		}
		e = batch_blocklist_read(bl, f, files[i], &bad);
		fclose(f);
		if (e) {
			snprintf(err, errlen, "--blocklist %s: %s", files[i], strerror(-e));
			return e;
		}
	}
	e = batch_blocklist_finish(bl);
	if (e)
		snprintf(err, errlen, "blocklist: %s", strerror(-e));
	return e;
}
