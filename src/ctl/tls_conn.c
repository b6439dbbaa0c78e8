// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_conn.c - one server-side connection of the control link: the state
 * machine HANDSHAKE -> OPEN -> CLOSING (flushing) -> LINGER (our side shut,
 * waiting for the peer to close so it reads our last words, not a reset) ->
 * DEAD, non-blocking TLS reads into the framer with a per-poll message
 * budget, buffered writes with SSL_ERROR_WANT_READ/WRITE handling and
 * backpressure (a peer that does not read its results is not read from).
 * The server (tls_server.c) owns the list and the epoll set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "rtrace/log.h"
#include "tls_int.h"

static void conn_set_events(struct tls_conn *c);
static void conn_flush(struct tls_conn *c);

void tls_conn_fmt_desc(struct tls_conn *c)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &c->peer.sin_addr, a, sizeof(a));
	snprintf(c->desc, sizeof(c->desc), "%s%s%s:%u", c->name, c->name[0] ? "@" : "", a,
		 ntohs(c->peer.sin_port));
}

/*
 * Stop the connection now (no flush). on_close and the free happen when the
 * server reaps it at the end of a poll, so a caller that is still using c (a
 * tls_conn_send() from outside the poll, say) never sees it vanish.
 */
void tls_conn_kill(struct tls_conn *c, const char *reason)
{
	uint64_t one = 1;

	if (c->state == CS_DEAD)
		return;
	if (reason && !c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->state = CS_DEAD;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	/* Make the server fd readable so the next poll reaps it. */
	if (write(c->srv->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rt_warn("ctl: eventfd: %s", strerror(errno));
}

/* Shut our direction and wait (bounded) for the peer to close. */
static void conn_linger(struct tls_conn *c)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};

	shutdown(c->fd, SHUT_WR);
	c->state = CS_LINGER;
	c->deadline_hs = tls_now_ms() + LINGER_MS;
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = EPOLLIN;
}

/* Drop whatever the lingering peer still sends; done at its EOF. */
static void conn_drain(struct tls_conn *c)
{
	char sink[4096];

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		tls_conn_kill(c, NULL);
		return;
	}
}

void tls_conn_close(struct tls_conn *c, const char *reason)
{
	if (c->state == CS_DEAD || c->state == CS_CLOSING || c->state == CS_LINGER)
		return;
	if (reason && !c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	if (c->state == CS_HANDSHAKE || c->out_head == c->out_len) {
		if (c->state == CS_OPEN)
			SSL_shutdown(c->ssl);
		conn_linger(c);
		return;
	}
	/* Flush what is queued, within a bounded time. */
	c->state = CS_CLOSING;
	c->deadline_hs = tls_now_ms() + c->srv->cfg.handshake_ms;
	conn_flush(c);
}

/* Unlink and free a dead connection, calling on_close if it was owed. */
void tls_conn_free(struct tls_conn *c)
{
	struct tls_server *s = c->srv;

	if (c->opened && s->ops.on_close)
		s->ops.on_close(c, c->reason[0] ? c->reason : "closed", s->arg);

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	SSL_free(c->ssl);
	close(c->fd);
	free(c->out);
	free(c->in);
	free(c);
}

/* Log and kill after an SSL call failed with sslerr. */
static void conn_ssl_fail(struct tls_conn *c, const char *what, int ret, int sslerr)
{
	char why[320];

	tls_describe(c->ssl, TLS_SERVER, ret, sslerr, why, sizeof(why));
	if (sslerr == SSL_ERROR_ZERO_RETURN ||
	    (sslerr == SSL_ERROR_SYSCALL && ret == 0 && c->state != CS_HANDSHAKE))
		rt_info("ctl: client %s: connection closed", c->desc);
	else
		rt_warn("ctl: client %s: %s: %s", c->desc, what, why);
	snprintf(c->reason, sizeof(c->reason), "%s: %s", what, why);
	/* A TLS failure has queued an alert for the peer: let it read it. */
	if (sslerr == SSL_ERROR_SSL)
		conn_linger(c);
	else
		tls_conn_kill(c, NULL);
}

/* Write queued output until done or the socket is full. */
static void conn_flush(struct tls_conn *c)
{
	while (c->out_head < c->out_len) {
		int n = SSL_write(c->ssl, c->out + c->out_head, (int)(c->out_len - c->out_head));

		if (n > 0) {
			c->out_head += n;
			c->want_write = 0;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);

		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			c->want_write = e == SSL_ERROR_WANT_WRITE;
			conn_set_events(c);
			return;
		}
		conn_ssl_fail(c, "write", n, e);
		return;
	}
	c->out_head = c->out_len = 0;
	c->want_write = 0;
	if (c->state == CS_CLOSING) {
		SSL_shutdown(c->ssl);
		conn_linger(c);
		return;
	}
	conn_set_events(c);
}

int tls_conn_send(struct tls_conn *c, const struct ctl_msg *m)
{
	size_t pending = c->out_len - c->out_head;
	ssize_t n;

	if (c->state != CS_OPEN)
		return -EPIPE;
	if (ctl_validate(m))
		return -EINVAL;
	if (pending > c->srv->cfg.out_max)
		return -ENOBUFS;
	if (c->out_cap - c->out_len < CTL_MSG_MAX) {
		/* Compact (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets a pending write move). */
		if (c->out_head) {
			memmove(c->out, c->out + c->out_head, pending);
			c->out_len = pending;
			c->out_head = 0;
		}
		if (c->out_cap - c->out_len < CTL_MSG_MAX) {
			size_t cap = c->out_cap ? c->out_cap * 2 : OUT_MIN;
			uint8_t *nb;

			while (cap - c->out_len < CTL_MSG_MAX)
				cap *= 2;
			nb = realloc(c->out, cap);
			if (!nb)
				return -ENOBUFS;
			c->out = nb;
			c->out_cap = cap;
		}
	}
	n = ctl_encode(m, c->out + c->out_len, c->out_cap - c->out_len);
	if (n < 0)
		return (int)n;
	c->out_len += n;
	conn_flush(c);
	return 0;
}

/* Register the epoll interest the state calls for. */
static void conn_set_events(struct tls_conn *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if (c->state == CS_DEAD || c->state == CS_LINGER)
		return;
	if (c->state == CS_HANDSHAKE)
		ev = c->want_write ? EPOLLOUT : EPOLLIN;
	else if (c->want_write)
		ev = EPOLLOUT;
	else if (c->out_head < c->out_len) /* SSL_write wanted to read */
		ev = EPOLLIN;
	/* Read requests only while the peer also reads our output (backpressure). */
	if (c->state == CS_OPEN && c->out_len - c->out_head <= c->srv->cfg.out_max / 2)
		ev |= EPOLLIN;
	if (c->state == CS_CLOSING && !ev)
		ev = EPOLLIN;
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
}

static void conn_handshake(struct tls_conn *c)
{
	struct tls_server *s = c->srv;
	int r = SSL_do_handshake(c->ssl), e;

	if (r != 1) {
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			c->want_write = e == SSL_ERROR_WANT_WRITE;
			conn_set_events(c);
			return;
		}
		conn_ssl_fail(c, "TLS handshake failed", r, e);
		return;
	}
	c->want_write = 0;
	if (tls_peer_cn(c->ssl, c->name, sizeof(c->name))) {
		rt_warn("ctl: client %s: certificate has no usable CN: refused", c->desc);
		tls_conn_kill(c, "certificate has no usable CN");
		return;
	}
	tls_conn_fmt_desc(c);
	c->state = CS_OPEN;
	c->last_rx = tls_now_ms();
	c->opened = 1;
	rt_info("ctl: client %s: connected (%s)", c->desc, SSL_get_cipher(c->ssl));
	if (s->ops.on_open && s->ops.on_open(c, s->arg) < 0) {
		tls_conn_close(c, "refused by the server");
		return;
	}
	conn_set_events(c);
}

/* A protocol error: tell the peer once, then close after the flush. */
static void conn_protocol_error(struct tls_conn *c, int dec)
{
	struct ctl_msg m = {.type = CTL_ERROR};

	rt_warn("ctl: client %s: %s: closing", c->desc, ctl_dec_str(dec));
	m.u.error.code = CTL_ERR_PROTOCOL;
	snprintf(m.u.error.msg, sizeof(m.u.error.msg), "%s", ctl_dec_str(dec));
	tls_conn_send(c, &m);
	tls_conn_close(c, ctl_dec_str(dec));
}

/* Read and dispatch up to MSG_BUDGET messages. */
void tls_conn_read(struct tls_conn *c)
{
	struct tls_server *s = c->srv;
	struct ctl_msg m;
	int budget = MSG_BUDGET;

	c->again = 0;
	while (c->state == CS_OPEN) {
		int r = ctl_framer_next(c->in, &m);

		if (r == CTL_DEC_MSG) {
			c->last_rx = tls_now_ms();
			c->deadline_frame = 0;
			if (s->ops.on_msg && s->ops.on_msg(c, &m, s->arg) < 0)
				tls_conn_close(c, "closed by the server");
			if (--budget == 0) {
				c->again = 1;
				break;
			}
			continue;
		}
		if (r < 0) {
			conn_protocol_error(c, r);
			return;
		}
		/* Need more bytes: respect backpressure, then read. */
		if (c->out_len - c->out_head > s->cfg.out_max / 2)
			break;
		size_t cap;
		void *sp = ctl_framer_space(c->in, &cap);
		int n = SSL_read(c->ssl, sp, (int)cap);

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				c->want_write = e == SSL_ERROR_WANT_WRITE;
				break;
			}
			conn_ssl_fail(c, "read", n, e);
			return;
		}
		ctl_framer_commit(c->in, n);
	}
	if (c->state != CS_OPEN)
		return;
	if (ctl_framer_partial(c->in) && !c->deadline_frame)
		c->deadline_frame = tls_now_ms() + s->cfg.frame_ms;
	conn_set_events(c);
}

void tls_conn_event(struct tls_conn *c, uint32_t ev)
{
	if (c->state == CS_LINGER) {
		conn_drain(c);
		return;
	}
	if (c->state == CS_HANDSHAKE) {
		conn_handshake(c);
		if (c->state != CS_OPEN)
			return;
	}
	if (ev & (EPOLLERR | EPOLLHUP) && !(ev & EPOLLIN)) {
		tls_conn_kill(c, "socket error");
		return;
	}
	if (c->out_head < c->out_len)
		conn_flush(c);
	if (c->state == CS_OPEN)
		tls_conn_read(c);
	else if (c->state == CS_CLOSING && (ev & EPOLLIN)) {
		/* Drain and drop input while flushing. */
		char sink[4096];
		int n = SSL_read(c->ssl, sink, sizeof(sink));

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				tls_conn_kill(c, NULL);
		}
	}
}

const char *tls_conn_name(const struct tls_conn *c)
{
	return c->name;
}

uint32_t tls_conn_addr(const struct tls_conn *c)
{
	return c->peer.sin_addr.s_addr;
}

uint16_t tls_conn_port(const struct tls_conn *c)
{
	return ntohs(c->peer.sin_port);
}

const char *tls_conn_desc(const struct tls_conn *c)
{
	return c->desc;
}

size_t tls_conn_pending(const struct tls_conn *c)
{
	return c->out_len - c->out_head;
}

void tls_conn_set_data(struct tls_conn *c, void *data)
{
	c->data = data;
}

void *tls_conn_get_data(const struct tls_conn *c)
{
	return c->data;
}
