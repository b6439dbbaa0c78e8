// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_server.c - the non-blocking TLS server of the control link (see
 * include/rtrace/tlslink.h).
 *
 * One private epoll set holds the listening socket, a timerfd armed at the
 * earliest connection deadline, an eventfd that says "work left over", and
 * every connection (level-triggered). Each connection is a small state
 * machine (tls_conn.c). Dead connections are freed at the end of
 * tls_server_poll(), never while callbacks may still hold them. Per poll a connection gets a
 * bounded budget of messages, so one busy peer cannot starve the others; leftovers are picked up on
 * the next poll (the eventfd keeps the server fd readable meanwhile).
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

/* Tags of the non-connection fds in the epoll set (data.ptr). */
static char tag_listen, tag_timer, tag_event;

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
		tls_conn_fmt_desc(c);
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
			tls_conn_read(c);
		if (c->state == CS_HANDSHAKE && now >= c->deadline_hs) {
			rt_warn("ctl: client %s: TLS handshake not done within %d ms: closing",
				c->desc, s->cfg.handshake_ms);
			tls_conn_kill(c, "handshake timeout");
		} else if ((c->state == CS_CLOSING || c->state == CS_LINGER) &&
			   now >= c->deadline_hs) {
			tls_conn_kill(c, NULL);
		} else if (c->state == CS_OPEN && c->deadline_frame && now >= c->deadline_frame) {
			rt_warn("ctl: client %s: message not complete within %d ms: closing",
				c->desc, s->cfg.frame_ms);
			tls_conn_kill(c, "incomplete message timeout");
		} else if (c->state == CS_OPEN && now >= c->last_rx + s->cfg.idle_ms) {
			rt_info("ctl: client %s: idle for %d ms: closing", c->desc, s->cfg.idle_ms);
			tls_conn_close(c, "idle timeout");
		}
		int64_t d = 0;

		if (c->state == CS_HANDSHAKE || c->state == CS_CLOSING || c->state == CS_LINGER)
			d = c->deadline_hs;
		else if (c->state == CS_OPEN)
			d = c->deadline_frame && c->deadline_frame < c->last_rx + s->cfg.idle_ms
				    ? c->deadline_frame
				    : c->last_rx + s->cfg.idle_ms;
		if (d && (!next || d < next))
			next = d;
		if (c->state == CS_OPEN && c->again)
			again = 1;
	}
	for (c = s->conns; c; c = n) {
		n = c->next;
		if (c->state == CS_DEAD)
			tls_conn_free(c);
	}
	if (again) {
		uint64_t one = 1;

		if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			rt_warn("ctl: eventfd: %s", strerror(errno));
	}
	if (next != s->armed) {
		struct itimerspec its = {0};

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
				tls_conn_event(c, ev[i].events);
		}
	}
	server_housekeep(s);
	return 0;
}

static int add_fd(int epfd, int fd, void *tag)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};

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
			 errno == EADDRINUSE || errno == EADDRNOTAVAIL || errno == EACCES
				 ? "bind"
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

void tls_server_unlisten(struct tls_server *s)
{
	if (s->lfd < 0)
		return;
	server_accept(s);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	s->lfd = -1;
	rt_info("ctl: no longer listening on port %u", s->port);
}

void tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	while (s->conns) {
		if (s->conns->state == CS_OPEN)
			SSL_shutdown(s->conns->ssl);
		tls_conn_kill(s->conns, "server stopping");
		tls_conn_free(s->conns);
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
