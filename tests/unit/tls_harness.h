/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tls_harness.h - the fixture of the TLS control-link tests (test_tls.c,
 * test_tls_hostile.c), unprivileged over loopback: certificates made by
 * tools/rtrace-keygen in temp dirs (our CA, a foreign CA, a mix of both), an
 * echo server running tls_server_poll() in a thread (HELLO -> HELLO, PING ->
 * RESULT, CANCEL -> ERROR) with counters the tests read, and client helpers
 * that assert every step of a good exchange. Include it once per test file.
 */
#ifndef RTRACE_TESTS_TLS_HARNESS_H
#define RTRACE_TESTS_TLS_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
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

static inline const char *keygen(void)
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

static inline void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

static inline void make_certs(void)
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

static inline void rm_certs(void)
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

static inline int on_open(struct tls_conn *c, void *arg)
{
	struct srv *s = arg;

	snprintf(s->last_name, sizeof(s->last_name), "%s", tls_conn_name(c));
	s->opened++;
	return 0;
}

/* HELLO -> HELLO; PING -> RESULT {"req":N} final; CANCEL -> ERROR unknown request. */
static inline int on_msg(struct tls_conn *c, const struct ctl_msg *m, void *arg)
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

static inline void on_close(struct tls_conn *c, const char *reason, void *arg)
{
	struct srv *s = arg;

	(void)c;
	snprintf(s->last_close, sizeof(s->last_close), "%s", reason);
	s->closed++;
}

static inline void *srv_loop(void *arg)
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

static inline void srv_start_cfg(const char *name, struct tls_server_cfg *cfg)
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

static inline void srv_start(void)
{
	struct tls_server_cfg cfg = {0};

	srv_start_cfg("agent1", &cfg);
}

static inline void srv_stop(void)
{
	S.stop = 1;
	pthread_join(S.thr, NULL);
	tls_server_free(S.s);
	tls_ctx_free(S.ctx);
}

static inline void setup(void)
{
	make_certs();
	srv_start();
}

static inline void teardown(void)
{
	srv_stop();
	rm_certs();
}

static inline const char *addr(void)
{
	static __thread char a[32];

	snprintf(a, sizeof(a), "127.0.0.1:%u", tls_server_port(S.s));
	return a;
}

/* ---- client helpers -------------------------------------------------------------------- */

static inline struct ctl_hello my_hello(const char *name)
{
	struct ctl_hello h = {.version = CTL_VERSION};

	snprintf(h.name, sizeof(h.name), "%s", name);
	return h;
}

/* Connect with certdir/name, expecting success; HELLO exchanged. */
static inline struct tls_client *good_client(struct tls_ctx *cctx)
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
static inline void ping_once(struct tls_client *c, uint32_t id)
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

static inline struct tls_ctx *client_ctx(const char *d, const char *name)
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
static inline int raw_connect(void)
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
static inline int wait_closed(int fd, int limit_ms)
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

/* Restart the server as name with cfg; returns a client context for client1. */
static inline struct tls_ctx *srv_restart(const char *name, struct tls_server_cfg *cfg)
{
	srv_stop();
	srv_start_cfg(name, cfg);
	return client_ctx(dir, "client1");
}

/*
 * Connect to agent1 and say HELLO as hello_name, waiting up to ms each;
 * returns 0 when the server took the client (closed again) or the -errno of
 * the step that failed, with the client's message in err.
 */
static inline int try_client(struct tls_ctx *cctx, const char *hello_name, int ms, char *err,
			     size_t len)
{
	struct tls_client *c = NULL;
	struct ctl_hello h = my_hello(hello_name), theirs;
	int r = tls_client_connect(&c, cctx, addr(), "agent1", ms, err, len);

	/* TLS 1.3: the client may finish before the server checks its certificate. */
	if (r == 0) {
		r = tls_client_hello(c, &h, &theirs, ms);
		snprintf(err, len, "%s", tls_client_error(c));
		tls_client_close(c);
	}
	return r;
}

#endif /* RTRACE_TESTS_TLS_HARNESS_H */
