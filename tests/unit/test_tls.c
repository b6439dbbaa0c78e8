// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_tls.c - the TLS control link over loopback, unprivileged: certificates
 * made by tools/rtrace-keygen in a temp dir; an echo server runs
 * tls_server_poll() in a thread while the test drives clients. Covers the
 * good handshake and message exchange, every authentication failure (foreign
 * CA both ways, no client certificate, expired certificates, wrong agent
 * name), slow-loris handshakes and frames, 50 concurrent clients, hostile
 * garbage, the 4 GB length prefix, connection limit, and reload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "rtrace/ctl.h"
#include "rtrace/log.h"
#include "rtrace/tlslink.h"

static char dir[64];	 /* CA + agent1, client1, old (expired), oldagent (expired) */
static char foreign[64]; /* another CA with client1 and agent1 */
static char mixed[64];	 /* our ca.crt, foreign client1 certificate */

static const char *keygen(void)
{
	static char path[512];
	const char *root = getenv("RTRACE_ROOT");

	if (root) {
		snprintf(path, sizeof(path), "%s/tools/rtrace-keygen", root);
		return path;
	}
	/* build/ or build/asan/ under the tree */
	snprintf(path, sizeof(path), "%s/../tools/rtrace-keygen", RTRACE_BUILD_DIR);
	if (access(path, X_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/../../tools/rtrace-keygen", RTRACE_BUILD_DIR);
	if (access(path, X_OK) == 0)
		return path;
	return "tools/rtrace-keygen";
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

static void make_certs(void)
{
	const char *kg = keygen();

	strcpy(dir, "/tmp/rtrace-tls-XXXXXX");
	strcpy(foreign, "/tmp/rtrace-tlsf-XXXXXX");
	strcpy(mixed, "/tmp/rtrace-tlsm-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_not_null(mkdtemp(foreign));
	cr_assert_not_null(mkdtemp(mixed));
	run("%s %s agent1 client1 2>/dev/null", kg, dir);
	run("%s --expired %s old oldagent 2>/dev/null", kg, dir);
	run("%s %s agent1 client1 2>/dev/null", kg, foreign);
	run("cp %s/ca.crt %s/ && cp %s/client1.crt %s/client1.key %s/", dir, mixed, foreign,
	    foreign, mixed);
	rt_log_set_level(getenv("TLS_DEBUG") ? RT_LOG_DEBUG : RT_LOG_ERROR);
}

static void rm_certs(void)
{
	run("rm -rf %s %s %s", dir, foreign, mixed);
}

/* ---- the echo server ------------------------------------------------------------------- */

struct srv {
	struct tls_ctx *ctx;
	struct tls_server *s;
	pthread_t thr;
	atomic_int stop;
	atomic_int opened, closed, msgs;
	atomic_size_t max_pending; /* most output queued on one connection */
	atomic_int enobufs;	   /* tls_conn_send refused for a slow reader */
	atomic_int unlisten;	   /* 1: call tls_server_unlisten in the loop; 2: done */
	char last_name[CTL_NAME_MAX + 1];
	char last_close[400];
};

static struct srv S;

static int on_open(struct tls_conn *c, void *arg)
{
	struct srv *s = arg;

	snprintf(s->last_name, sizeof(s->last_name), "%s", tls_conn_name(c));
	s->opened++;
	return 0;
}

/* HELLO -> HELLO; PING -> RESULT {"req":N} final; CANCEL -> ERROR unknown request. */
static int on_msg(struct tls_conn *c, const struct ctl_msg *m, void *arg)
{
	struct srv *s = arg;
	struct ctl_msg r = {0};
	char text[64];

	s->msgs++;
	switch (m->type) {
	case CTL_HELLO:
		r.type = CTL_HELLO;
		r.u.hello.version = CTL_VERSION;
		r.u.hello.caps = CTL_CAP_AGENT | CTL_CAP_PING;
		r.u.hello.addr = htonl(0x7f000001);
		strcpy(r.u.hello.name, "agent1");
		break;
	case CTL_PING:
		r.type = CTL_RESULT;
		r.u.result.req_id = m->u.ping.req_id;
		r.u.result.final = 1;
		r.u.result.len = snprintf(text, sizeof(text), "{\"req\":%u,\"from\":\"%s\"}",
					  m->u.ping.req_id, tls_conn_name(c));
		r.u.result.text = text;
		break;
	case CTL_CANCEL:
		r.type = CTL_ERROR;
		r.u.error.req_id = m->u.cancel.req_id;
		r.u.error.code = CTL_ERR_UNKNOWN_REQ;
		strcpy(r.u.error.msg, "no such request");
		break;
	default:
		return 0;
	}
	int ret = tls_conn_send(c, &r);

	if (tls_conn_pending(c) > s->max_pending)
		s->max_pending = tls_conn_pending(c);
	if (ret == -ENOBUFS) {
		s->enobufs++;
		return 0;
	}
	return ret;
}

static void on_close(struct tls_conn *c, const char *reason, void *arg)
{
	struct srv *s = arg;

	(void)c;
	snprintf(s->last_close, sizeof(s->last_close), "%s", reason);
	s->closed++;
}

static void *srv_loop(void *arg)
{
	struct srv *s = arg;

	while (!s->stop) {
		cr_assert_eq(tls_server_poll(s->s, 20), 0);
		if (s->unlisten == 1) {
			tls_server_unlisten(s->s);
			s->unlisten = 2;
		}
	}
	return NULL;
}

static void srv_start_cfg(const char *name, struct tls_server_cfg *cfg)
{
	static const struct tls_server_ops ops = {on_open, on_msg, on_close};
	char err[512];

	memset(&S, 0, sizeof(S));
	cr_assert_eq(tls_ctx_new(&S.ctx, TLS_SERVER, dir, name, err, sizeof(err)), 0, "%s", err);
	cfg->listen = "127.0.0.1:0";
	cr_assert_eq(tls_server_new(&S.s, S.ctx, cfg, &ops, &S, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(tls_server_port(S.s), 0);
	cr_assert_eq(pthread_create(&S.thr, NULL, srv_loop, &S), 0);
}

static void srv_start(void)
{
	struct tls_server_cfg cfg = {0};

	srv_start_cfg("agent1", &cfg);
}

static void srv_stop(void)
{
	S.stop = 1;
	pthread_join(S.thr, NULL);
	tls_server_free(S.s);
	tls_ctx_free(S.ctx);
}

static void setup(void)
{
	make_certs();
	srv_start();
}

static void teardown(void)
{
	srv_stop();
	rm_certs();
}

static const char *addr(void)
{
	static __thread char a[32];

	snprintf(a, sizeof(a), "127.0.0.1:%u", tls_server_port(S.s));
	return a;
}

/* ---- client helpers -------------------------------------------------------------------- */

static struct ctl_hello my_hello(const char *name)
{
	struct ctl_hello h = {.version = CTL_VERSION};

	snprintf(h.name, sizeof(h.name), "%s", name);
	return h;
}

/* Connect with certdir/name, expecting success; HELLO exchanged. */
static struct tls_client *good_client(struct tls_ctx *cctx)
{
	struct tls_client *c = NULL;
	struct ctl_hello h = my_hello("client1"), theirs;
	char err[512];

	cr_assert_eq(tls_client_connect(&c, cctx, addr(), "agent1", 5000, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(tls_client_hello(c, &h, &theirs, 5000), 0, "%s", tls_client_error(c));
	cr_assert_str_eq(theirs.name, "agent1");
	return c;
}

/* One PING -> RESULT round trip. */
static void ping_once(struct tls_client *c, uint32_t id)
{
	struct ctl_msg m = {.type = CTL_PING}, r;
	char want[64];

	m.u.ping.req_id = id;
	m.u.ping.target = htonl(0x7f000001);
	m.u.ping.count = 1;
	cr_assert_eq(tls_client_send(c, &m, 5000), 0, "%s", tls_client_error(c));
	cr_assert_eq(tls_client_recv(c, &r, 5000), 0, "%s", tls_client_error(c));
	cr_assert_eq(r.type, CTL_RESULT);
	cr_assert_eq(r.u.result.req_id, id);
	snprintf(want, sizeof(want), "{\"req\":%u,\"from\":\"client1\"}", id);
	cr_assert_eq(r.u.result.len, strlen(want));
	cr_assert_eq(memcmp(r.u.result.text, want, r.u.result.len), 0);
}

static struct tls_ctx *client_ctx(const char *d, const char *name)
{
	struct tls_ctx *c = NULL;
	char err[512];

	cr_assert_eq(tls_ctx_new(&c, TLS_CLIENT, d, name, err, sizeof(err)), 0, "%s", err);
	return c;
}

/* Wait until cond() or ms pass. */
#define WAIT_FOR(cond, ms)                                                                         \
	do {                                                                                       \
		for (int _i = 0; _i < (ms) / 10 && !(cond); _i++)                                  \
			usleep(10000);                                                             \
	} while (0)

/* A raw TCP socket to the server. */
static int raw_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(tls_server_port(S.s)),
				 .sin_addr.s_addr = htonl(0x7f000001)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Block until the server closes fd (EOF or reset); returns ms waited, or -1 after limit. */
static int wait_closed(int fd, int limit_ms)
{
	struct timeval tv = {.tv_sec = limit_ms / 1000, .tv_usec = (limit_ms % 1000) * 1000};
	struct timespec t0, t1;
	char b[4096];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		n = recv(fd, b, sizeof(b), 0);
	} while (n > 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;
	return (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
}

/* ---- tests ----------------------------------------------------------------------------- */

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

Test(tls, handshake_and_exchange)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct tls_client *c = good_client(cctx);
	struct ctl_msg m = {.type = CTL_CANCEL, .u.cancel.req_id = 77}, r;

	cr_assert_str_eq(tls_client_peer_name(c), "agent1");
	WAIT_FOR(S.opened == 1, 2000);
	cr_assert_str_eq(S.last_name, "client1");
	for (uint32_t i = 1; i <= 100; i++)
		ping_once(c, i);
	cr_assert_eq(tls_client_send(c, &m, 5000), 0);
	cr_assert_eq(tls_client_recv(c, &r, 5000), 0);
	cr_assert_eq(r.type, CTL_ERROR);
	cr_assert_eq(r.u.error.code, CTL_ERR_UNKNOWN_REQ);
	cr_assert_str_eq(r.u.error.msg, "no such request");
	/* Nothing more to read: a non-blocking receive says so. */
	cr_assert_eq(tls_client_recv(c, &r, 0), -EAGAIN);
	tls_client_close(c);
	WAIT_FOR(S.closed == 1, 2000);
	cr_assert_eq(S.closed, 1);
	tls_ctx_free(cctx);
}

Test(tls, foreign_ca_refused_by_client)
{
	struct tls_ctx *cctx = client_ctx(foreign, "client1");
	struct tls_client *c = NULL;
	char err[512] = "";

	cr_assert_eq(tls_client_connect(&c, cctx, addr(), "agent1", 5000, err, sizeof(err)),
		     -EPROTO);
	cr_assert_null(c);
	cr_assert(strstr(err, "TLS handshake failed: certificate verify failed"), "%s", err);
	cr_assert(strstr(err, "is -c pointing at the same CA?"), "%s", err);
	cr_assert(strstr(err, "agent 127.0.0.1:"), "%s", err);
	cr_assert_eq(S.opened, 0);
	tls_ctx_free(cctx);
}

/* Client trusts our CA but holds a certificate from another CA: the server refuses. */
Test(tls, foreign_client_cert_refused_by_server)
{
	struct tls_ctx *cctx = client_ctx(mixed, "client1");
	struct tls_client *c = NULL;
	struct ctl_hello h = my_hello("client1"), theirs;
	char err[512] = "";
	int r = tls_client_connect(&c, cctx, addr(), "agent1", 5000, err, sizeof(err));

	/* TLS 1.3: the client may finish before the server checks its certificate. */
	if (r == 0) {
		r = tls_client_hello(c, &h, &theirs, 5000);
		snprintf(err, sizeof(err), "%s", tls_client_error(c));
		tls_client_close(c);
	}
	cr_assert(r == -EPROTO || r == -ECONNRESET, "r=%d %s", r, err);
	cr_assert(strstr(err, "unknown ca") || strstr(err, "refused our certificate"), "%s", err);
	usleep(100000);
	cr_assert_eq(S.opened, 0, "server accepted a foreign certificate");
	tls_ctx_free(cctx);
}

Test(tls, missing_client_cert_refused)
{
	struct tls_ctx *cctx = client_ctx(dir, NULL);
	struct tls_client *c = NULL;
	struct ctl_hello h = my_hello("client1"), theirs;
	char err[512] = "";
	int r = tls_client_connect(&c, cctx, addr(), "agent1", 5000, err, sizeof(err));

	if (r == 0) {
		r = tls_client_hello(c, &h, &theirs, 5000);
		snprintf(err, sizeof(err), "%s", tls_client_error(c));
		tls_client_close(c);
	}
	cr_assert(r == -EPROTO || r == -ECONNRESET, "r=%d %s", r, err);
	cr_assert(strstr(err, "certificate required"), "%s", err);
	cr_assert(strstr(err, "give -c CERTDIR -n NAME"), "%s", err);
	usleep(100000);
	cr_assert_eq(S.opened, 0);
	tls_ctx_free(cctx);
}

Test(tls, expired_client_cert_refused)
{
	struct tls_ctx *cctx = client_ctx(dir, "old");
	struct tls_client *c = NULL;
	struct ctl_hello h = my_hello("old"), theirs;
	char err[512] = "";
	int r = tls_client_connect(&c, cctx, addr(), "agent1", 5000, err, sizeof(err));

	if (r == 0) {
		r = tls_client_hello(c, &h, &theirs, 5000);
		snprintf(err, sizeof(err), "%s", tls_client_error(c));
		tls_client_close(c);
	}
	cr_assert(r == -EPROTO || r == -ECONNRESET, "r=%d %s", r, err);
	cr_assert(strstr(err, "certificate expired"), "%s", err);
	usleep(100000);
	cr_assert_eq(S.opened, 0);
	tls_ctx_free(cctx);
}

Test(tls, expired_server_cert_refused)
{
	struct tls_server_cfg cfg = {0};
	struct tls_ctx *cctx;
	struct tls_client *c = NULL;
	char err[512] = "";

	srv_stop();
	srv_start_cfg("oldagent", &cfg);
	cctx = client_ctx(dir, "client1");
	cr_assert_eq(tls_client_connect(&c, cctx, addr(), NULL, 5000, err, sizeof(err)), -EPROTO);
	cr_assert(strstr(err, "certificate has expired"), "%s", err);
	cr_assert(strstr(err, "renew it"), "%s", err);
	tls_ctx_free(cctx);
}

Test(tls, wrong_agent_name_refused)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct tls_client *c = NULL;
	char err[512] = "";

	cr_assert_eq(tls_client_connect(&c, cctx, addr(), "agent2", 5000, err, sizeof(err)),
		     -EPROTO);
	cr_assert(strstr(err, "hostname mismatch"), "%s", err);
	/* Without an expected name any agent of the CA is fine. */
	cr_assert_eq(tls_client_connect(&c, cctx, addr(), NULL, 5000, err, sizeof(err)), 0, "%s",
		     err);
	tls_client_close(c);
	tls_ctx_free(cctx);
}

Test(tls, connect_refused_message)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct tls_client *c = NULL;
	char err[512] = "";

	/* Port 1 on loopback: nobody listens there in a test environment. */
	cr_assert_lt(tls_client_connect(&c, cctx, "127.0.0.1:1", NULL, 2000, err, sizeof(err)), 0);
	cr_assert(strstr(err, "agent 127.0.0.1:1: connect: Connection refused"), "%s", err);
	cr_assert(strstr(err, "is rtraced running"), "%s", err);
	cr_assert_eq(tls_client_connect(&c, cctx, "127.0.0.1:99999", NULL, 2000, err, sizeof(err)),
		     -EINVAL);
	tls_ctx_free(cctx);
}

/* Stalled handshake and stalled frame are cut off; another client is served meanwhile. */
Test(tls, slow_loris)
{
	struct tls_server_cfg cfg = {.handshake_ms = 400, .frame_ms = 400};
	struct tls_ctx *cctx;
	struct tls_client *good, *half;
	int fd, ms;

	srv_stop();
	srv_start_cfg("agent1", &cfg);
	cctx = client_ctx(dir, "client1");

	fd = raw_connect(); /* never says anything */
	half = good_client(cctx);
	/* Half a header, then silence. */
	cr_assert_eq(tls_client_send_raw(half, "RTCL\x01", 5, 2000), 0);
	good = good_client(cctx);
	for (uint32_t i = 1; i <= 20; i++)
		ping_once(good, i);
	ms = wait_closed(fd, 3000);
	cr_assert(ms >= 0, "silent TCP client was not disconnected");
	cr_assert_lt(ms, 2000, "silent TCP client cut after %d ms, the limit is 400", ms);
	close(fd);

	struct ctl_msg r;
	int rr = tls_client_recv(half, &r, 3000);

	cr_assert(rr == -ECONNRESET || rr == -EPROTO, "half-frame client still open: %d", rr);
	WAIT_FOR(S.closed == 1, 2000);
	cr_assert_eq(S.closed, 1);
	cr_assert_str_eq(S.last_close, "incomplete message timeout");
	/* The good client, which kept talking, is still served. */
	ping_once(good, 1000);
	tls_client_close(good);
	tls_client_close(half);
	tls_ctx_free(cctx);
}

struct worker {
	struct tls_ctx *cctx;
	int ok;
	uint32_t base;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct tls_client *c = NULL;
	struct ctl_hello h = my_hello("client1"), theirs;
	char err[512];

	if (tls_client_connect(&c, w->cctx, addr(), "agent1", 20000, err, sizeof(err)))
		return NULL;
	if (tls_client_hello(c, &h, &theirs, 20000))
		goto out;
	for (uint32_t i = 0; i < 20; i++) {
		struct ctl_msg m = {.type = CTL_PING}, r;

		m.u.ping.req_id = w->base + i;
		m.u.ping.target = htonl(0x7f000001);
		m.u.ping.count = 1;
		if (tls_client_send(c, &m, 20000) || tls_client_recv(c, &r, 20000) ||
		    r.type != CTL_RESULT || r.u.result.req_id != w->base + i)
			goto out;
	}
	w->ok = 1;
out:
	tls_client_close(c);
	return NULL;
}

Test(tls, fifty_concurrent_clients)
{
	enum { N = 50 };
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct worker w[N];
	pthread_t t[N];
	int ok = 0;

	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){.cctx = cctx, .base = 1 + i * 1000};
		cr_assert_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
	}
	cr_assert_eq(ok, N, "%d of %d clients completed", ok, N);
	cr_assert_eq(S.opened, N);
	WAIT_FOR(S.closed == N, 3000);
	cr_assert_eq(S.closed, N);
	cr_assert_eq(S.msgs, N * 21);
	tls_ctx_free(cctx);
}

Test(tls, hostile_garbage_disconnected_others_served)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct tls_client *good = good_client(cctx), *bad = good_client(cctx);
	struct ctl_msg r;
	int fd;

	ping_once(good, 1);
	/* Not TLS at all. */
	fd = raw_connect();
	cr_assert_eq(send(fd, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
	cr_assert_geq(wait_closed(fd, 3000), 0, "plain-text client not disconnected");
	close(fd);
	ping_once(good, 2);
	/* Authenticated, but garbage inside TLS: an ERROR, then the end. */
	cr_assert_eq(tls_client_send_raw(bad, "\x00\x01garbage garbage", 17, 2000), 0);
	cr_assert_eq(tls_client_recv(bad, &r, 3000), 0, "%s", tls_client_error(bad));
	cr_assert_eq(r.type, CTL_ERROR);
	cr_assert_eq(r.u.error.code, CTL_ERR_PROTOCOL);
	cr_assert(strstr(r.u.error.msg, "bad magic"), "%s", r.u.error.msg);
	cr_assert_eq(tls_client_recv(bad, &r, 3000), -ECONNRESET, "%s", tls_client_error(bad));
	tls_client_close(bad);
	for (uint32_t i = 3; i < 50; i++)
		ping_once(good, i);
	tls_client_close(good);
	tls_ctx_free(cctx);
}

Test(tls, huge_length_prefix)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct tls_client *bad = good_client(cctx);
	const uint8_t h[CTL_HDR_LEN] = {'R', 'T', 'C',	'L',  1,    CTL_RESULT,
					0,   0,	  0xff, 0xff, 0xff, 0xff};
	struct ctl_msg r;

	cr_assert_eq(tls_client_send_raw(bad, h, sizeof(h), 2000), 0);
	cr_assert_eq(tls_client_recv(bad, &r, 3000), 0, "%s", tls_client_error(bad));
	cr_assert_eq(r.type, CTL_ERROR);
	cr_assert_str_eq(r.u.error.msg, "length prefix over the limit");
	cr_assert_eq(tls_client_recv(bad, &r, 3000), -ECONNRESET);
	tls_client_close(bad);
	tls_ctx_free(cctx);
}

Test(tls, connection_limit)
{
	struct tls_server_cfg cfg = {.max_conns = 2};
	struct tls_ctx *cctx;
	struct tls_client *a, *b, *c = NULL;
	struct ctl_hello h = my_hello("client1"), theirs;
	char err[512];
	int r;

	srv_stop();
	srv_start_cfg("agent1", &cfg);
	cctx = client_ctx(dir, "client1");
	a = good_client(cctx);
	b = good_client(cctx);
	r = tls_client_connect(&c, cctx, addr(), "agent1", 3000, err, sizeof(err));
	if (r == 0) {
		r = tls_client_hello(c, &h, &theirs, 3000);
		tls_client_close(c);
	}
	cr_assert_lt(r, 0, "third connection accepted over the limit of 2");
	ping_once(a, 1);
	tls_client_close(b);
	WAIT_FOR(tls_server_nconns(S.s) == 1, 2000);
	c = good_client(cctx);
	ping_once(c, 2);
	tls_client_close(a);
	tls_client_close(c);
	tls_ctx_free(cctx);
}

Test(tls, reload)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1"), *bad = NULL;
	struct tls_client *c;
	char err[512], path[128];

	/* A failed reload keeps the old context. */
	snprintf(path, sizeof(path), "%s/agent1.key", dir);
	run("mv %s %s.away", path, path);
	cr_assert_lt(tls_ctx_reload(S.ctx, err, sizeof(err)), 0);
	cr_assert(strstr(err, "agent1.key"), "%s", err);
	c = good_client(cctx);
	ping_once(c, 1);
	tls_client_close(c);
	/* New certificate for agent1 from the same CA, reloaded: still trusted. */
	run("mv %s.away %s && %s --force %s agent1 2>/dev/null", path, path, keygen(), dir);
	cr_assert_eq(tls_ctx_reload(S.ctx, err, sizeof(err)), 0, "%s", err);
	c = good_client(cctx);
	ping_once(c, 2);
	tls_client_close(c);
	/* Contexts refuse what they cannot load, with the keygen hint. */
	cr_assert_eq(tls_ctx_new(&bad, TLS_CLIENT, "/nonexistent", "x", err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/ca.crt") && strstr(err, "rtrace-keygen"), "%s", err);
	cr_assert_eq(tls_ctx_new(&bad, TLS_CLIENT, dir, "nobody", err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "nobody.crt"), "%s", err);
	tls_ctx_free(cctx);
}

/* Idle connections are closed; KEEPALIVE keeps one open. */
Test(tls, idle_timeout_and_keepalive)
{
	struct tls_server_cfg cfg = {.idle_ms = 300};
	struct tls_ctx *cctx;
	struct tls_client *idle, *alive;
	struct ctl_msg k = {.type = CTL_KEEPALIVE}, r;

	srv_stop();
	srv_start_cfg("agent1", &cfg);
	cctx = client_ctx(dir, "client1");
	idle = good_client(cctx);
	alive = good_client(cctx);
	for (int i = 0; i < 10; i++) {
		usleep(100000);
		cr_assert_eq(tls_client_send(alive, &k, 1000), 0, "%s", tls_client_error(alive));
	}
	cr_assert_eq(tls_client_recv(idle, &r, 2000), -ECONNRESET, "%s", tls_client_error(idle));
	ping_once(alive, 1);
	WAIT_FOR(S.closed == 1, 2000);
	cr_assert_str_eq(S.last_close, "idle timeout");
	tls_client_close(idle);
	tls_client_close(alive);
	tls_ctx_free(cctx);
}

/*
 * A client that sends requests but never reads the answers: the server stops
 * reading from it once its output queue is half full, its queue stays bounded,
 * the client's sends finally block, and another client is served all along.
 */
Test(tls, slow_reader_backpressure)
{
	struct tls_server_cfg cfg = {.out_max = 65536};
	struct tls_ctx *cctx;
	struct tls_client *hog, *good;
	struct ctl_msg m = {.type = CTL_PING};
	int i, r = 0;

	srv_stop();
	srv_start_cfg("agent1", &cfg);
	cctx = client_ctx(dir, "client1");
	hog = good_client(cctx);
	good = good_client(cctx);
	m.u.ping.target = htonl(0x7f000001);
	m.u.ping.count = 1;
	for (i = 1; i < 2000000; i++) {
		m.u.ping.req_id = i;
		r = tls_client_send(hog, &m, 300);
		if (r)
			break;
		if (i % 20000 == 0)
			ping_once(good, i);
	}
	cr_assert_eq(r, -ETIMEDOUT, "hog never blocked after %d requests: %d", i, r);
	ping_once(good, 1);
	cr_assert_leq(S.max_pending, cfg.out_max + CTL_MSG_MAX, "queue grew to %zu",
		      (size_t)S.max_pending);
	cr_assert_gt(S.max_pending, cfg.out_max / 2, "queue never filled (%zu)",
		     (size_t)S.max_pending);
	tls_client_close(hog);
	tls_client_close(good);
	tls_ctx_free(cctx);
}

/* Shutdown: no new clients (connection refused), established ones keep working. */
Test(tls, unlisten)
{
	struct tls_ctx *cctx = client_ctx(dir, "client1");
	struct tls_client *c = good_client(cctx), *d = NULL;
	char err[512];

	S.unlisten = 1;
	WAIT_FOR(S.unlisten == 2, 2000);
	cr_assert_eq(S.unlisten, 2);
	ping_once(c, 1);
	cr_assert_lt(tls_client_connect(&d, cctx, addr(), "agent1", 2000, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(err, "refused"), "%s", err);
	ping_once(c, 2);
	tls_client_close(c);
	tls_ctx_free(cctx);
}
