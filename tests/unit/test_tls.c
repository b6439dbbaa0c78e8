// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_tls.c - the TLS control link over loopback, handshake and
 * authentication (fixture in tls_harness.h): the good handshake and message
 * exchange, every authentication failure (foreign CA both ways, no client
 * certificate, expired certificates, wrong agent name), the connect error
 * message, and reloading the certificates. Hostile peers and limits are in
 * test_tls_hostile.c.
 */
#include "tls_harness.h"

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

/*
 * A client the server must refuse: the handshake (or the HELLO after it)
 * fails and the server never opens the connection; its message is in err.
 */
static void server_refuses(const char *d, const char *name, char *err, size_t len)
{
	struct tls_ctx *cctx = client_ctx(d, name);
	int r = try_client(cctx, name ? name : "client1", 5000, err, len);

	cr_assert(r == -EPROTO || r == -ECONNRESET, "r=%d %s", r, err);
	usleep(100000);
	cr_assert_eq(S.opened, 0, "server accepted a client it must refuse");
	tls_ctx_free(cctx);
}

/* Client trusts our CA but holds a certificate from another CA: the server refuses. */
Test(tls, foreign_client_cert_refused_by_server)
{
	char err[512] = "";

	server_refuses(mixed, "client1", err, sizeof(err));
	cr_assert(strstr(err, "unknown ca") || strstr(err, "refused our certificate"), "%s", err);
}

Test(tls, missing_client_cert_refused)
{
	char err[512] = "";

	server_refuses(dir, NULL, err, sizeof(err));
	cr_assert(strstr(err, "certificate required"), "%s", err);
	cr_assert(strstr(err, "give -c CERTDIR -n NAME"), "%s", err);
}

Test(tls, expired_client_cert_refused)
{
	char err[512] = "";

	server_refuses(dir, "old", err, sizeof(err));
	cr_assert(strstr(err, "certificate expired"), "%s", err);
}

Test(tls, expired_server_cert_refused)
{
	struct tls_server_cfg cfg = {0};
	struct tls_ctx *cctx = srv_restart("oldagent", &cfg);
	struct tls_client *c = NULL;
	char err[512] = "";

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
