// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_tls_hostile.c - the TLS control link over loopback against hostile
 * and heavy peers (fixture in tls_harness.h): slow-loris handshakes and
 * frames, 50 concurrent clients, garbage inside and outside TLS, the 4 GB
 * length prefix, the connection limit, idle timeout and keepalive, a client
 * that never reads (backpressure), and unlisten at shutdown; each time the
 * well-behaved clients are served all along.
 */
#include "tls_harness.h"

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/* Close clients a and b, then free their context. */
static void close_two(struct tls_ctx *cctx, struct tls_client *a, struct tls_client *b)
{
	tls_client_close(a);
	tls_client_close(b);
	tls_ctx_free(cctx);
}

/* Restart agent1 with cfg and connect two good clients a, b; returns their context. */
static struct tls_ctx *restart_two(struct tls_server_cfg *cfg, struct tls_client **a,
				   struct tls_client **b)
{
	struct tls_ctx *cctx = srv_restart("agent1", cfg);

	*a = good_client(cctx);
	*b = good_client(cctx);
	return cctx;
}

/* Stalled handshake and stalled frame are cut off; another client is served meanwhile. */
Test(tls, slow_loris)
{
	struct tls_server_cfg cfg = {.handshake_ms = 400, .frame_ms = 400};
	struct tls_ctx *cctx;
	struct tls_client *good, *half;
	int fd, ms;

	cctx = srv_restart("agent1", &cfg);

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
	close_two(cctx, good, half);
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
	struct tls_client *a, *b, *c;
	char err[512];

	cctx = restart_two(&cfg, &a, &b);
	cr_assert_lt(try_client(cctx, "client1", 3000, err, sizeof(err)), 0,
		     "third connection accepted over the limit of 2");
	ping_once(a, 1);
	tls_client_close(b);
	WAIT_FOR(tls_server_nconns(S.s) == 1, 2000);
	c = good_client(cctx);
	ping_once(c, 2);
	close_two(cctx, a, c);
}

/* Idle connections are closed; KEEPALIVE keeps one open. */
Test(tls, idle_timeout_and_keepalive)
{
	struct tls_server_cfg cfg = {.idle_ms = 300};
	struct tls_ctx *cctx;
	struct tls_client *idle, *alive;
	struct ctl_msg k = {.type = CTL_KEEPALIVE}, r;

	cctx = restart_two(&cfg, &idle, &alive);
	for (int i = 0; i < 10; i++) {
		usleep(100000);
		cr_assert_eq(tls_client_send(alive, &k, 1000), 0, "%s", tls_client_error(alive));
	}
	cr_assert_eq(tls_client_recv(idle, &r, 2000), -ECONNRESET, "%s", tls_client_error(idle));
	ping_once(alive, 1);
	WAIT_FOR(S.closed == 1, 2000);
	cr_assert_str_eq(S.last_close, "idle timeout");
	close_two(cctx, idle, alive);
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

	cctx = restart_two(&cfg, &hog, &good);
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
	close_two(cctx, hog, good);
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
