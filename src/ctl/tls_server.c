// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_server.c - the non-blocking TLS server of the control link (see
 * include/rtrace/tlslink.h).
 *
 * One private epoll set holds the listening socket, a timerfd armed at the
 * earliest connection deadline, an eventfd that says "work left over", and
 * every connection (level-triggered). Each connection is a small state
 * machine: HANDSHAKE -> OPEN -> CLOSING (flushing) -> dead. Dead connections
 * are freed at the end of tls_server_poll(), never while callbacks may still
 * hold them. Per poll a connection gets a bounded budget of messages, so one
 * busy peer cannot starve the others; leftovers are picked up on the next
 * poll (the eventfd keeps the server fd readable meanwhile).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <netinet/tcp.h>
#include <openssl/err.h>

#include "rtrace/log.h"
#include "tls_int.h"

#define MSG_BUDGET 64		/* messages per connection per poll */
#define ACCEPT_BUDGET 64	/* accepts per poll */
#define MAX_EVENTS 64
#define OUT_MIN 16384
#define LINGER_MS 1000		/* longest wait for the peer to close after us */

/*
 * HANDSHAKE -> OPEN -> CLOSING (flushing output) -> LINGER (our side shut,
 * draining the peer until it closes, so it reads our last words instead of a
 * TCP reset) -> DEAD (reaped at the end of the poll).
 */
enum conn_state { CS_HANDSHAKE, CS_OPEN, CS_CLOSING, CS_LINGER, CS_DEAD };

struct tls_conn {
	struct tls_server *srv;		/* owner */
	struct tls_conn *next, *prev;	/* srv->conns list */
	int fd;				/* TCP socket, non-blocking */
	SSL *ssl;			/* TLS session */
	enum conn_state state;
	int opened;			/* on_open was called: on_close is owed */
	int want_write;			/* last SSL call wanted to write */
	int again;			/* budget ran out with input left: serve next poll */
	uint32_t events;		/* epoll interest registered */
	int64_t deadline_hs;		/* handshake, flush or linger deadline, ms */
	int64_t deadline_frame;		/* partial message must be complete by, 0 = none */
	int64_t last_rx;		/* last whole message received, ms */
	struct sockaddr_in peer;	/* peer address */
	char name[CTL_NAME_MAX + 1];	/* peer certificate CN */
	char desc[CTL_NAME_MAX + 32];	/* "name@addr:port" */
	char reason[400];		/* why it is closing */
	void *data;			/* caller's pointer */
	uint8_t *out;			/* output bytes [out_head, out_len) unsent */
	size_t out_head, out_len, out_cap;
	struct ctl_framer *in;		/* input framer (64 KiB) */
};

struct tls_server {
	struct tls_ctx *ctx;
	struct tls_server_cfg cfg;	/* with defaults filled in */
	struct tls_server_ops ops;
	void *arg;
	int epfd, lfd, tfd, efd;	/* epoll, listener, timerfd, eventfd */
	uint16_t port;			/* bound port */
	unsigned int nconns;
	struct tls_conn *conns;		/* all connections, dead ones until reaped */
	int64_t armed;			/* timerfd expiry, ms, 0 = disarmed */
};

/* Tags of the non-connection fds in the epoll set (data.ptr). */
static char tag_listen, tag_timer, tag_event;

static void conn_set_events(struct tls_conn *c);
static void conn_flush(struct tls_conn *c);

static void fmt_desc(struct tls_conn *c)
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
static void conn_kill(struct tls_conn *c, const char *reason)
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
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };

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
		conn_kill(c, NULL);
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
static void conn_free(struct tls_conn *c)
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
	if (sslerr == SSL_ERROR_ZERO_RETURN || (sslerr == SSL_ERROR_SYSCALL && ret == 0 &&
						 c->state != CS_HANDSHAKE))
		rt_info("ctl: client %s: connection closed", c->desc);
	else
		rt_warn("ctl: client %s: %s: %s", c->desc, what, why);
	snprintf(c->reason, sizeof(c->reason), "%s: %s", what, why);
	/* A TLS failure has queued an alert for the peer: let it read it. */
	if (sslerr == SSL_ERROR_SSL)
		conn_linger(c);
	else
		conn_kill(c, NULL);
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
		conn_kill(c, "certificate has no usable CN");
		return;
	}
	fmt_desc(c);
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
	struct ctl_msg m = { .type = CTL_ERROR };

	rt_warn("ctl: client %s: %s: closing", c->desc, ctl_dec_str(dec));
	m.u.error.code = CTL_ERR_PROTOCOL;
	snprintf(m.u.error.msg, sizeof(m.u.error.msg), "%s", ctl_dec_str(dec));
	tls_conn_send(c, &m);
	tls_conn_close(c, ctl_dec_str(dec));
}

/* Read and dispatch up to MSG_BUDGET messages. */
static void conn_read(struct tls_conn *c)
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

static void conn_event(struct tls_conn *c, uint32_t ev)
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
		conn_kill(c, "socket error");
		return;
	}
	if (c->out_head < c->out_len)
		conn_flush(c);
	if (c->state == CS_OPEN)
		conn_read(c);
	else if (c->state == CS_CLOSING && (ev & EPOLLIN)) {
		/* Drain and drop input while flushing. */
		char sink[4096];
		int n = SSL_read(c->ssl, sink, sizeof(sink));

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				conn_kill(c, NULL);
		}
	}
}

static void server_accept(struct tls_server *s)
{
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(s->lfd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct tls_conn *c;
		struct epoll_event e;
		int one = 1;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				rt_warn("ctl: accept: %s", strerror(errno));
			return;
		}
		if (s->nconns >= s->cfg.max_conns) {
			char a[INET_ADDRSTRLEN];

			rt_warn("ctl: client %s:%u: refused, %u connections open (the limit)",
				inet_ntop(AF_INET, &peer.sin_addr, a, sizeof(a)),
				ntohs(peer.sin_port), s->nconns);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c || !(c->in = malloc(sizeof(*c->in))) || !(c->ssl = SSL_new(s->ctx->ssl))) {
			rt_warn("ctl: accept: out of memory");
			if (c)
				free(c->in);
			free(c);
			close(fd);
			ERR_clear_error();
			continue;
		}
		ctl_framer_init(c->in);
		c->srv = s;
		c->fd = fd;
		c->peer = peer;
		c->state = CS_HANDSHAKE;
		c->deadline_hs = tls_now_ms() + s->cfg.handshake_ms;
		fmt_desc(c);
		SSL_set_fd(c->ssl, fd);
		SSL_set_accept_state(c->ssl);
		e.events = c->events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e)) {
			rt_warn("ctl: epoll_ctl: %s", strerror(errno));
			SSL_free(c->ssl);
			free(c->in);
			free(c);
			close(fd);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		rt_dbg("ctl: client %s: accepted", c->desc);
	}
}

/* Enforce deadlines, serve leftovers, reap the dead, re-arm the timer. */
static void server_housekeep(struct tls_server *s)
{
	int64_t now = tls_now_ms(), next = 0;
	struct tls_conn *c, *n;
	int again = 0;

	for (c = s->conns; c; c = c->next) {
		if (c->state == CS_OPEN && c->again)
			conn_read(c);
		if (c->state == CS_HANDSHAKE && now >= c->deadline_hs) {
			rt_warn("ctl: client %s: TLS handshake not done within %d ms: closing",
				c->desc, s->cfg.handshake_ms);
			conn_kill(c, "handshake timeout");
		} else if ((c->state == CS_CLOSING || c->state == CS_LINGER) &&
			   now >= c->deadline_hs) {
			conn_kill(c, NULL);
		} else if (c->state == CS_OPEN && c->deadline_frame && now >= c->deadline_frame) {
			rt_warn("ctl: client %s: message not complete within %d ms: closing",
				c->desc, s->cfg.frame_ms);
			conn_kill(c, "incomplete message timeout");
		} else if (c->state == CS_OPEN && now >= c->last_rx + s->cfg.idle_ms) {
			rt_info("ctl: client %s: idle for %d ms: closing", c->desc, s->cfg.idle_ms);
			tls_conn_close(c, "idle timeout");
		}
		int64_t d = 0;

		if (c->state == CS_HANDSHAKE || c->state == CS_CLOSING || c->state == CS_LINGER)
			d = c->deadline_hs;
		else if (c->state == CS_OPEN)
			d = c->deadline_frame && c->deadline_frame < c->last_rx + s->cfg.idle_ms ?
				    c->deadline_frame : c->last_rx + s->cfg.idle_ms;
		if (d && (!next || d < next))
			next = d;
		if (c->state == CS_OPEN && c->again)
			again = 1;
	}
	for (c = s->conns; c; c = n) {
		n = c->next;
		if (c->state == CS_DEAD)
			conn_free(c);
	}
	if (again) {
		uint64_t one = 1;

		if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			rt_warn("ctl: eventfd: %s", strerror(errno));
	}
	if (next != s->armed) {
		struct itimerspec its = { 0 };

		if (next) {
			its.it_value.tv_sec = next / 1000;
			its.it_value.tv_nsec = (next % 1000) * 1000000;
		}
		timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
		s->armed = next;
	}
}

int tls_server_poll(struct tls_server *s, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(s->epfd, ev, MAX_EVENTS, timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		void *p = ev[i].data.ptr;
		uint64_t v;

		if (p == &tag_listen) {
			server_accept(s);
		} else if (p == &tag_timer) {
			if (read(s->tfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				rt_warn("ctl: timerfd: %s", strerror(errno));
			s->armed = 0;
		} else if (p == &tag_event) {
			if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				rt_warn("ctl: eventfd: %s", strerror(errno));
		} else {
			struct tls_conn *c = p;

			if (c->state != CS_DEAD)
				conn_event(c, ev[i].events);
		}
	}
	server_housekeep(s);
	return 0;
}

static int add_fd(int epfd, int fd, void *tag)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
}

int tls_server_new(struct tls_server **out, struct tls_ctx *ctx, const struct tls_server_cfg *cfg,
		   const struct tls_server_ops *ops, void *arg, char *err, size_t errlen)
{
	struct tls_server *s;
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	int one = 1, ret;
	char a[INET_ADDRSTRLEN];

	if (ctx->role != TLS_SERVER) {
		snprintf(err, errlen, "tls_server_new: not a server context");
		return -EINVAL;
	}
	ret = tls_parse_hostport(cfg->listen ? cfg->listen : "", 1, &sa, err, errlen);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->ctx = ctx;
	s->cfg = *cfg;
	s->cfg.handshake_ms = cfg->handshake_ms > 0 ? cfg->handshake_ms : 5000;
	s->cfg.frame_ms = cfg->frame_ms > 0 ? cfg->frame_ms : 10000;
	s->cfg.idle_ms = cfg->idle_ms > 0 ? cfg->idle_ms : 300000;
	s->cfg.max_conns = cfg->max_conns ? cfg->max_conns : 256;
	s->cfg.out_max = cfg->out_max ? cfg->out_max : 1 << 20;
	if (ops)
		s->ops = *ops;
	s->arg = arg;
	s->lfd = s->tfd = s->efd = -1;
	inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a));
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->lfd < 0 || s->tfd < 0 || s->efd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s:%u: %s", a, ntohs(sa.sin_port), strerror(errno));
		goto out_free;
	}
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->lfd, 128)) {
		ret = -errno;
		snprintf(err, errlen, "%s:%u: %s: %s", a, ntohs(sa.sin_port),
			 errno == EADDRINUSE || errno == EADDRNOTAVAIL || errno == EACCES ? "bind"
											   : "listen",
			 strerror(errno));
		goto out_free;
	}
	getsockname(s->lfd, (struct sockaddr *)&sa, &slen);
	s->port = ntohs(sa.sin_port);
	ret = add_fd(s->epfd, s->lfd, &tag_listen);
	if (!ret)
		ret = add_fd(s->epfd, s->tfd, &tag_timer);
	if (!ret)
		ret = add_fd(s->epfd, s->efd, &tag_event);
	if (ret) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-ret));
		goto out_free;
	}
	rt_info("ctl: listening on %s:%u", a, s->port);
	*out = s;
	return 0;
out_free:
	tls_server_free(s);
	return ret;
}

int tls_server_fd(const struct tls_server *s)
{
	return s->epfd;
}

uint16_t tls_server_port(const struct tls_server *s)
{
	return s->port;
}

unsigned int tls_server_nconns(const struct tls_server *s)
{
	return s->nconns;
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	while (s->conns) {
		if (s->conns->state == CS_OPEN)
			SSL_shutdown(s->conns->ssl);
		conn_kill(s->conns, "server stopping");
		conn_free(s->conns);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->efd >= 0)
		close(s->efd);
	free(s);
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
