/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tls_int.h - what the TLS link's server and client share (private to src/ctl).
 */
#ifndef RTRACE_TLS_INT_H
#define RTRACE_TLS_INT_H

#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rtrace/ctl.h"
#include "rtrace/tlslink.h"

struct tls_ctx {
	SSL_CTX *ssl;		     /* current context; SSL objects hold references */
	enum tls_role role;	     /* server or client */
	int has_name;		     /* a certificate of our own is presented */
	char name[CTL_NAME_MAX + 1]; /* our certificate's name */
	char certdir[PATH_MAX];	     /* where ca.crt and NAME.crt/.key live */
};

/*
 * Describe why an SSL call on ssl failed (ret = its return value, sslerr =
 * SSL_get_error()) into buf, with a hint for the usual mistakes; clears the
 * OpenSSL error queue. errno must still be the call's errno.
 */
void tls_describe(SSL *ssl, enum tls_role role, int ret, int sslerr, char *buf, size_t len);

/* Copy the peer certificate's CN into name. Returns 0, or -EPERM (none, or bad characters). */
int tls_peer_cn(SSL *ssl, char *name, size_t len);

/*
 * Parse "[ADDR:]PORT" (server, passive=1) or "HOST[:PORT]" (client) into sa.
 * Client host names are resolved (IPv4). Returns 0 or -EINVAL with err set.
 */
int tls_parse_hostport(const char *s, int passive, struct sockaddr_in *sa, char *err,
		       size_t errlen);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t tls_now_ms(void);

#define MSG_BUDGET 64	 /* messages per connection per poll */
#define ACCEPT_BUDGET 64 /* accepts per poll */
#define MAX_EVENTS 64
#define OUT_MIN 16384
#define LINGER_MS 1000 /* longest wait for the peer to close after us */

/*
 * HANDSHAKE -> OPEN -> CLOSING (flushing output) -> LINGER (our side shut,
 * draining the peer until it closes, so it reads our last words instead of a
 * TCP reset) -> DEAD (reaped at the end of the poll).
 */
enum conn_state { CS_HANDSHAKE, CS_OPEN, CS_CLOSING, CS_LINGER, CS_DEAD };

struct tls_conn {
	struct tls_server *srv;	      /* owner */
	struct tls_conn *next, *prev; /* srv->conns list */
	int fd;			      /* TCP socket, non-blocking */
	SSL *ssl;		      /* TLS session */
	enum conn_state state;
	int opened;		      /* on_open was called: on_close is owed */
	int want_write;		      /* last SSL call wanted to write */
	int again;		      /* budget ran out with input left: serve next poll */
	uint32_t events;	      /* epoll interest registered */
	int64_t deadline_hs;	      /* handshake, flush or linger deadline, ms */
	int64_t deadline_frame;	      /* partial message must be complete by, 0 = none */
	int64_t last_rx;	      /* last whole message received, ms */
	struct sockaddr_in peer;      /* peer address */
	char name[CTL_NAME_MAX + 1];  /* peer certificate CN */
	char desc[CTL_NAME_MAX + 32]; /* "name@addr:port" */
	char reason[400];	      /* why it is closing */
	void *data;		      /* caller's pointer */
	uint8_t *out;		      /* output bytes [out_head, out_len) unsent */
	size_t out_head, out_len, out_cap;
	struct ctl_framer *in; /* input framer (64 KiB) */
};

struct tls_server {
	struct tls_ctx *ctx;
	struct tls_server_cfg cfg; /* with defaults filled in */
	struct tls_server_ops ops;
	void *arg;
	int epfd, lfd, tfd, efd; /* epoll, listener, timerfd, eventfd */
	uint16_t port;		 /* bound port */
	unsigned int nconns;
	struct tls_conn *conns; /* all connections, dead ones until reaped */
	int64_t armed;		/* timerfd expiry, ms, 0 = disarmed */
};

/* Server internals implemented in tls_conn.c. */
void tls_conn_fmt_desc(struct tls_conn *c);
/* Stop c now, no flush; on_close and the free happen when the server reaps it. */
void tls_conn_kill(struct tls_conn *c, const char *reason);
/* Unlink and free a dead connection, calling on_close if it was owed. */
void tls_conn_free(struct tls_conn *c);
/* Read and dispatch up to MSG_BUDGET messages. */
void tls_conn_read(struct tls_conn *c);
/* Handle epoll events ev on c. */
void tls_conn_event(struct tls_conn *c, uint32_t ev);

#endif /* RTRACE_TLS_INT_H */
