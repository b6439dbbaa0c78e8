// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_client.c - the blocking-with-timeouts TLS client of the control link
 * (see include/rtrace/tlslink.h), for rtrace, rtrace-probe -a and tests.
 *
 * The socket is non-blocking underneath; every wait is a poll() on the
 * direction OpenSSL asks for, bounded by the caller's deadline, so a dead or
 * hostile agent can never hang a tool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "rtrace/log.h"
#include "tls_int.h"

struct tls_client {
	int fd;				  /* TCP socket, non-blocking */
	SSL *ssl;			  /* TLS session */
	char peer_desc[64];		  /* "agent A.B.C.D:PORT" */
	char peer_name[CTL_NAME_MAX + 1]; /* agent certificate CN */
	char err[512];			  /* last error, with peer_desc prefix */
	struct ctl_framer in;		  /* received bytes */
	uint8_t out[CTL_MSG_MAX];	  /* one encoded message */
};

static void cerr(struct tls_client *c, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void cerr(struct tls_client *c, const char *f, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	snprintf(c->err, sizeof(c->err), "%s: %s", c->peer_desc, msg);
}

/* Remaining ms until deadline (-1: none). */
static int remaining(int64_t deadline)
{
	int64_t r;

	if (deadline < 0)
		return -1;
	r = deadline - tls_now_ms();
	return r > 0 ? (int)r : 0;
}

/* Wait for the socket in direction ev until deadline: 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r;

	do {
		r = poll(&p, 1, remaining(deadline));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : tls_now_ms() + timeout_ms;
}

/* Non-blocking TCP connect bounded by deadline. */
static int tcp_connect(struct tls_client *c, const struct sockaddr_in *sa, int64_t deadline)
{
	int one = 1, soerr = 0, r;
	socklen_t sl = sizeof(soerr);

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		cerr(c, "socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) && errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	r = wait_fd(c->fd, POLLOUT, deadline);
	if (r == -ETIMEDOUT) {
		cerr(c, "connect: timed out (is the agent up and reachable?)");
		return r;
	}
	if (r)
		goto fail;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (!soerr)
		return 0;
	r = -soerr;
fail:
	cerr(c, "connect: %s%s", strerror(-r),
	     r == -ECONNREFUSED ? " (is rtraced running and listening on that port?)" : "");
	return r;
}

/* After SSL call failure: wait if it wants I/O (0), else describe and fail. */
static int ssl_wait(struct tls_client *c, const char *what, int ret, int64_t deadline)
{
	int e = SSL_get_error(c->ssl, ret), r;
	char why[320];

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		r = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (r == -ETIMEDOUT)
			cerr(c, "%s: timed out", what);
		else if (r)
			cerr(c, "%s: poll: %s", what, strerror(-r));
		return r;
	}
	tls_describe(c->ssl, TLS_CLIENT, ret, e, why, sizeof(why));
	cerr(c, "%s: %s", what, why);
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ret == 0))
		return -ECONNRESET;
	return -EPROTO;
}

int tls_client_connect(struct tls_client **out, struct tls_ctx *ctx, const char *host_port,
		       const char *expect_name, int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct sockaddr_in sa;
	struct tls_client *c;
	char a[INET_ADDRSTRLEN];
	int r;

	if (ctx->role != TLS_CLIENT) {
		snprintf(err, errlen, "tls_client_connect: not a client context");
		return -EINVAL;
	}
	r = tls_parse_hostport(host_port, 0, &sa, err, errlen);
	if (r)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = -1;
	ctl_framer_init(&c->in);
	snprintf(c->peer_desc, sizeof(c->peer_desc), "agent %s:%u",
		 inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a)), ntohs(sa.sin_port));
	r = tcp_connect(c, &sa, deadline);
	if (r)
		goto fail;
	c->ssl = SSL_new(ctx->ssl);
	if (!c->ssl) {
		cerr(c, "SSL_new failed");
		r = -ENOMEM;
		goto fail;
	}
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_connect_state(c->ssl);
	if (expect_name) {
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(c->ssl, expect_name) != 1) {
			cerr(c, "bad expected agent name '%s'", expect_name);
			r = -EINVAL;
			goto fail;
		}
		if (inet_pton(AF_INET, expect_name, &sa.sin_addr) != 1)
			SSL_set_tlsext_host_name(c->ssl, expect_name);
	}
	for (;;) {
		int ret = SSL_do_handshake(c->ssl);

		if (ret == 1)
			break;
		r = ssl_wait(c, "TLS handshake failed", ret, deadline);
		if (r)
			goto fail;
	}
	if (tls_peer_cn(c->ssl, c->peer_name, sizeof(c->peer_name))) {
		cerr(c, "the agent's certificate has no usable CN");
		r = -EPROTO;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	snprintf(err, errlen, "%s", c->err);
	tls_client_close(c);
	return r;
}

int tls_client_send_raw(struct tls_client *c, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	const uint8_t *p = buf;

	while (len) {
		int n = SSL_write(c->ssl, p, (int)len), r;

		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		r = ssl_wait(c, "send", n, deadline);
		if (r)
			return r;
	}
	return 0;
}

int tls_client_send(struct tls_client *c, const struct ctl_msg *m, int timeout_ms)
{
	ssize_t n = ctl_encode(m, c->out, sizeof(c->out));

	if (n < 0) {
		cerr(c, "send: invalid %s message", ctl_type_str(m->type));
		return (int)n;
	}
	return tls_client_send_raw(c, c->out, n, timeout_ms);
}

int tls_client_recv(struct tls_client *c, struct ctl_msg *m, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);

	for (;;) {
		int r = ctl_framer_next(&c->in, m), n;
		size_t cap;
		void *sp;

		if (r == CTL_DEC_MSG)
			return 0;
		if (r < 0) {
			cerr(c, "receive: %s", ctl_dec_str(r));
			return -EPROTO;
		}
		sp = ctl_framer_space(&c->in, &cap);
		n = SSL_read(c->ssl, sp, (int)cap);
		if (n > 0) {
			ctl_framer_commit(&c->in, n);
			continue;
		}
		if (timeout_ms == 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return -EAGAIN;
		}
		r = ssl_wait(c, "receive", n, deadline);
		if (r)
			return r;
	}
}

int tls_client_hello(struct tls_client *c, const struct ctl_hello *mine, struct ctl_hello *theirs,
		     int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct ctl_msg m = {.type = CTL_HELLO};
	int r;

	m.u.hello = *mine;
	r = tls_client_send(c, &m, remaining(deadline));
	if (r)
		return r;
	for (;;) {
		r = tls_client_recv(c, &m, timeout_ms < 0 ? -1 : remaining(deadline));
		if (r == -EAGAIN)
			r = -ETIMEDOUT;
		if (r)
			return r;
		if (m.type == CTL_KEEPALIVE)
			continue;
		if (m.type == CTL_HELLO) {
			*theirs = m.u.hello;
			return 0;
		}
		if (m.type == CTL_ERROR) {
			cerr(c, "refused: %s: %s", ctl_err_str(m.u.error.code), m.u.error.msg);
			return -EPERM;
		}
		cerr(c, "protocol error: %s before HELLO", ctl_type_str(m.type));
		return -EPROTO;
	}
}

int tls_client_fd(const struct tls_client *c)
{
	return c->fd;
}

int tls_client_pending(const struct tls_client *c)
{
	return ctl_framer_partial(&c->in) || SSL_pending(c->ssl) > 0;
}

const char *tls_client_peer_name(const struct tls_client *c)
{
	return c->peer_name;
}

const char *tls_client_error(const struct tls_client *c)
{
	return c->err;
}

void tls_client_close(struct tls_client *c)
{
	if (!c)
		return;
	if (c->ssl) {
		if (SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	ERR_clear_error();
	free(c);
}
