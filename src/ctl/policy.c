// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy.c - the agent's authorisation and limits (see include/rtrace/policy.h).
 *
 * Parsing is strict (an unknown keyword or a bad prefix fails the whole file,
 * with its line number) because a typo in a spoof grant must not silently
 * widen or narrow what a client may do. Everything except policy_load() is
 * pure; lookups are linear scans over the few lines a policy has.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtrace/ctl.h"
#include "rtrace/errbuf.h"
#include "rtrace/policy.h"

#define POLICY_FILE_MAX (1 << 20)
#define MAX_WORDS 64

struct prefix {
	uint32_t net;  /* network order, host bits clear */
	uint32_t mask; /* network order */
};

struct client_rule {
	char name[CTL_NAME_MAX + 1]; /* certificate CN */
	int has_limits;		     /* a rate/inflight line was given */
	struct policy_limits lim;    /* its limits */
	int deny;		     /* "client NAME deny" */
	struct prefix *spoof;	     /* prefixes NAME may spoof */
	size_t nspoof;
};

struct policy {
	struct policy_limits global; /* over all clients */
	struct policy_limits dflt;   /* clients without limits of their own */
	struct client_rule *clients;
	size_t nclients;
	struct prefix *block; /* target blocklist */
	size_t nblock;
};

struct policy *policy_new(void)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->global.rate_pps = POLICY_DEFAULT_GLOBAL_RATE;
	p->global.inflight = POLICY_DEFAULT_GLOBAL_INFLIGHT;
	p->dflt.rate_pps = POLICY_DEFAULT_RATE;
	p->dflt.inflight = POLICY_DEFAULT_INFLIGHT;
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nclients; i++)
		free(p->clients[i].spoof);
	free(p->clients);
	free(p->block);
	free(p);
}

int policy_parse_prefix(const char *s, uint32_t *prefix, int *len)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr a;
	long l = 32;
	uint32_t mask;

	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return -EINVAL;
	if (slash) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		l = strtol(slash + 1, &end, 10);
		if (*end || l < 0 || l > 32)
			return -EINVAL;
	}
	mask = l ? htonl(~0u << (32 - l)) : 0;
	if (a.s_addr & ~mask)
		return -EINVAL;
	*prefix = a.s_addr;
	*len = (int)l;
	return 0;
}

static int prefix_add(struct prefix **v, size_t *n, const char *s)
{
	struct prefix *nv;
	uint32_t net;
	int len;

	if (policy_parse_prefix(s, &net, &len))
		return -EINVAL;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	nv[*n].net = net;
	nv[*n].mask = len ? htonl(~0u << (32 - len)) : 0;
	*v = nv;
	(*n)++;
	return 0;
}

static int prefix_match(const struct prefix *v, size_t n, uint32_t a)
{
	for (size_t i = 0; i < n; i++)
		if ((a & v[i].mask) == v[i].net)
			return (int)i;
	return -1;
}

static const struct client_rule *find_client(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nclients; i++)
		if (!strcmp(p->clients[i].name, name))
			return &p->clients[i];
	return NULL;
}

static struct client_rule *get_client(struct policy *p, const char *name)
{
	struct client_rule *c = (struct client_rule *)find_client(p, name), *nv;

	if (c)
		return c;
	nv = realloc(p->clients, (p->nclients + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	p->clients = nv;
	c = &nv[p->nclients++];
	memset(c, 0, sizeof(*c));
	memcpy(c->name, name, strnlen(name, CTL_NAME_MAX)); /* length checked by the caller */
	return c;
}

/* Parse a positive 32-bit count. */
static int parse_count(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (*end || errno || x == 0 || x > UINT32_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

/* "rate PPS [inflight N]" or "inflight N [rate PPS]" at w[0..n). */
static int parse_limits(char **w, int n, struct policy_limits *lim, const char **why)
{
	int seen = 0;

	if (n != 2 && n != 4) {
		*why = "want 'rate PPS' and/or 'inflight N'";
		return -EINVAL;
	}
	for (int i = 0; i < n; i += 2) {
		uint32_t *dst = !strcmp(w[i], "rate")	    ? &lim->rate_pps
				: !strcmp(w[i], "inflight") ? &lim->inflight
							    : NULL;
		int bit = dst == &lim->rate_pps ? 1 : 2;

		if (!dst || (seen & bit)) {
			*why = "want 'rate PPS' and/or 'inflight N'";
			return -EINVAL;
		}
		if (parse_count(w[i + 1], dst)) {
			*why = "want a positive number";
			return -EINVAL;
		}
		seen |= bit;
	}
	return 0;
}

/* One line split into words; returns 0 or -EINVAL/-ENOMEM with *why set. */
static int parse_words(struct policy *p, char **w, int n, const char **why)
{
	if (!strcmp(w[0], "global") || !strcmp(w[0], "default")) {
		struct policy_limits *lim = w[0][0] == 'g' ? &p->global : &p->dflt;

		return parse_limits(w + 1, n - 1, lim, why);
	}
	if (!strcmp(w[0], "blocklist")) {
		if (n < 2) {
			*why = "blocklist wants at least one PREFIX";
			return -EINVAL;
		}
		for (int i = 1; i < n; i++) {
			int err = prefix_add(&p->block, &p->nblock, w[i]);

			if (err) {
				*why = "bad prefix (want A.B.C.D[/LEN], no host bits)";
				return err;
			}
		}
		return 0;
	}
	if (!strcmp(w[0], "client")) {
		struct client_rule *c;

		if (n < 3 || strlen(w[1]) > CTL_NAME_MAX) {
			*why = "want 'client NAME spoof|rate|inflight|deny ...'";
			return -EINVAL;
		}
		c = get_client(p, w[1]);
		if (!c)
			return -ENOMEM;
		if (!strcmp(w[2], "deny") && n == 3) {
			c->deny = 1;
			return 0;
		}
		if (!strcmp(w[2], "spoof")) {
			if (n < 4) {
				*why = "spoof wants at least one PREFIX";
				return -EINVAL;
			}
			for (int i = 3; i < n; i++) {
				int err = prefix_add(&c->spoof, &c->nspoof, w[i]);

				if (err) {
					*why = "bad prefix (want A.B.C.D[/LEN], no host bits)";
					return err;
				}
			}
			return 0;
		}
		if (!c->has_limits)
			c->lim = p->dflt;
		c->has_limits = 1;
		return parse_limits(w + 2, n - 2, &c->lim, why);
	}
	*why = "unknown keyword (want global, default, client or blocklist)";
	return -EINVAL;
}

int policy_parse(struct policy *p, const char *text, size_t len, char *err, size_t errlen)
{
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		char line[1024], *w[MAX_WORDS], *save, *tok;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *why = NULL;
		int n = 0, ret;

		lineno++;
		if (ll >= sizeof(line)) {
			rt_errf(err, errlen, "line %d: longer than %zu bytes", lineno,
			    sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + 1;
		if (memchr(line, '\0', ll)) {
			rt_errf(err, errlen, "line %d: NUL byte", lineno);
			return -EINVAL;
		}
		if ((tok = strchr(line, '#')))
			*tok = '\0';
		for (tok = strtok_r(line, " \t\r", &save); tok;
		     tok = strtok_r(NULL, " \t\r", &save)) {
			if (n == MAX_WORDS) {
				rt_errf(err, errlen, "line %d: more than %d words", lineno, MAX_WORDS);
				return -EINVAL;
			}
			w[n++] = tok;
		}
		if (!n)
			continue;
		ret = parse_words(p, w, n, &why);
		if (ret) {
			rt_errf(err, errlen, "line %d: %s", lineno, why ? why : strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int policy_load(struct policy **out, const char *path, char *err, size_t errlen)
{
	struct policy *p = NULL;
	char *text = NULL, perr[256];
	FILE *f = fopen(path, "r");
	size_t n;
	int ret;

	if (!f) {
		ret = -errno;
		rt_errf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	text = malloc(POLICY_FILE_MAX + 1);
	p = policy_new();
	if (!text || !p) {
		ret = -ENOMEM;
		rt_errf(err, errlen, "%s: out of memory", path);
		goto out_free;
	}
	n = fread(text, 1, POLICY_FILE_MAX + 1, f);
	if (ferror(f) || n > POLICY_FILE_MAX) {
		ret = ferror(f) ? -EIO : -EFBIG;
		rt_errf(err, errlen, "%s: %s", path, ferror(f) ? "read error" : "larger than 1 MiB");
		goto out_free;
	}
	ret = policy_parse(p, text, n, perr, sizeof(perr));
	if (ret) {
		rt_errf(err, errlen, "%s: %s", path, perr);
		goto out_free;
	}
	*out = p;
	p = NULL;
out_free:
	policy_free(p);
	free(text);
	fclose(f);
	return ret;
}

static const char *ntoa(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

int policy_may_connect(const struct policy *p, const char *name, uint32_t peer, char *why,
		       size_t whylen)
{
	const struct client_rule *c = find_client(p, name);
	char pa[INET_ADDRSTRLEN];

	if (c && c->deny) {
		rt_errf(why, whylen, "client %s (from %s) is denied by the policy", name,
		    ntoa(peer, pa));
		return -EPERM;
	}
	return 0;
}

int policy_may_spoof(const struct policy *p, const char *name, uint32_t peer, uint32_t src,
		     char *why, size_t whylen)
{
	const struct client_rule *c = find_client(p, name);
	char pa[INET_ADDRSTRLEN], sa[INET_ADDRSTRLEN];

	if (c && c->deny) {
		rt_errf(why, whylen, "client %s is denied by the policy", name);
		return -EPERM;
	}
	if (src == 0 || src == peer)
		return 0;
	if (c && prefix_match(c->spoof, c->nspoof, src) >= 0)
		return 0;
	rt_errf(why, whylen, "client %s (from %s) may not spoof %s: only its own address%s", name,
	    ntoa(peer, pa), ntoa(src, sa),
	    c && c->nspoof ? " and its 'spoof' prefixes" : " (no 'client NAME spoof' line)");
	return -EPERM;
}

int policy_target_allowed(const struct policy *p, uint32_t target, char *why, size_t whylen)
{
	int i = prefix_match(p->block, p->nblock, target);
	char ta[INET_ADDRSTRLEN], na[INET_ADDRSTRLEN];

	if (i < 0)
		return 0;
	rt_errf(why, whylen, "target %s is on the agent's blocklist (%s/%d)", ntoa(target, ta),
	    ntoa(p->block[i].net, na), __builtin_popcount(p->block[i].mask));
	return -EPERM;
}

void policy_client_limits(const struct policy *p, const char *name, struct policy_limits *lim)
{
	const struct client_rule *c = find_client(p, name);

	*lim = c && c->has_limits ? c->lim : p->dflt;
}

void policy_global_limits(const struct policy *p, struct policy_limits *lim)
{
	*lim = p->global;
}

int policy_admit(const struct policy_limits *lim, struct policy_usage *u, uint32_t probes,
		 uint64_t now_ns, char *why, size_t whylen)
{
	double cap = lim->rate_pps > probes ? lim->rate_pps : probes;

	if (u->inflight >= lim->inflight) {
		rt_errf(why, whylen, "%u requests in flight, the limit is %u", u->inflight,
		    lim->inflight);
		return -EBUSY;
	}
	/* Refill: a fresh bucket starts full. */
	if (!u->last_ns) {
		u->tokens = cap;
	} else if (now_ns > u->last_ns) {
		u->tokens += (double)(now_ns - u->last_ns) * lim->rate_pps / 1e9;
		if (u->tokens > cap)
			u->tokens = cap;
	}
	u->last_ns = now_ns ? now_ns : 1;
	if (u->tokens < probes) {
		rt_errf(why, whylen,
		    "rate limit %u probes/s: %u probes do not fit now, retry in %.0f ms",
		    lim->rate_pps, probes, (probes - u->tokens) * 1000.0 / lim->rate_pps + 1);
		return -EAGAIN;
	}
	u->tokens -= probes;
	u->inflight++;
	return 0;
}

void policy_release(struct policy_usage *u)
{
	if (u->inflight)
		u->inflight--;
}
