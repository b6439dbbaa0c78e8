/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tlslink.h - the control link's transport: TCP + TLS 1.3 with mutual
 * certificate authentication against a private CA (tools/rtrace-keygen),
 * carrying ctl.h messages.
 *
 * A certificate directory holds ca.crt (the only trust anchor) and NAME.crt /
 * NAME.key per party. Both sides present a certificate and verify the peer's
 * against ca.crt; the server refuses clients without one; the client can also
 * require the agent's certificate to name an expected host. The peer's
 * certificate CN is the name used for authorisation (policy.h).
 *
 * Server side: a non-blocking server with its own epoll set, so it fits into
 * any event loop: poll tls_server_fd() for readability and call
 * tls_server_poll(s, 0). It accepts, runs handshakes with a deadline, reads
 * messages through a framer (bad streams are answered with an ERROR and
 * closed), buffers output per connection, closes connections that stall in a
 * handshake or in a frame (slow loris) or stay idle, and serves connections
 * fairly (a bounded amount of work per connection per poll).
 * Client side: a blocking convenience API for the command-line tools, with
 * timeouts; tls_client_fd() lets a client wait on several agents at once.
 *
 * The process must not die of SIGPIPE on a closed peer: tls_ctx_new() sets
 * SIGPIPE to SIG_IGN if it is at its default disposition.
 */
#ifndef RTRACE_TLSLINK_H
#define RTRACE_TLSLINK_H

#include <stddef.h>
#include <stdint.h>

#include "rtrace/ctl.h"

/* TCP port of rtraced when none is given. */
#define TLS_DEFAULT_PORT 7777

enum tls_role {
	TLS_SERVER = 0, /* accepts; demands a client certificate */
	TLS_CLIENT = 1, /* connects; verifies the server certificate */
};

struct tls_ctx;
struct tls_server;
struct tls_conn;
struct tls_client;

/*
 * Make a TLS 1.3-only context: trust certdir/ca.crt, present
 * certdir/NAME.crt with certdir/NAME.key. name may be NULL for a client that
 * presents no certificate (the server will refuse it; for tests). Returns 0
 * with *out set, or -errno with err holding e.g. "certs/ca.crt: No such file
 * or directory (make a CA with tools/rtrace-keygen certs NAME)".
 */
int tls_ctx_new(struct tls_ctx **out, enum tls_role role, const char *certdir, const char *name,
		char *err, size_t errlen);

/*
 * Rebuild the context from the same directory and name (SIGHUP: renewed
 * certificates or CA). New connections use the new files; established ones
 * keep theirs. On failure the old context stays in use and -errno is
 * returned with the reason in err.
 */
int tls_ctx_reload(struct tls_ctx *c, char *err, size_t errlen);

/* Free c (NULL-safe); servers and clients made from it must be freed first. */
void tls_ctx_free(struct tls_ctx *c);

/* Server limits; 0 fields take the defaults in brackets. */
struct tls_server_cfg {
	const char *listen;	/* "[ADDR:]PORT", ADDR IPv4 (default 0.0.0.0);
				 * port 0 picks a free one (tls_server_port) */
	int handshake_ms;	/* TCP accept to handshake done [5000] */
	int frame_ms;		/* first byte to last byte of one message [10000] */
	int idle_ms;		/* no message at all (KEEPALIVE counts) [300000] */
	unsigned int max_conns; /* connections at once, more are refused [256] */
	size_t out_max;		/* unsent output per connection [1 MiB] */
};

/*
 * Callbacks of a server; arg is the pointer given to tls_server_new(). They run
 * inside tls_server_poll(). A negative return closes the connection (reason
 * given in the log); on_close is called exactly once for every connection that
 * got on_open, when it goes away for any reason, also from tls_server_free().
 */
struct tls_server_ops {
	int (*on_open)(struct tls_conn *c, void *arg); /* handshake done, peer named */
	int (*on_msg)(struct tls_conn *c, const struct ctl_msg *m, void *arg);
	void (*on_close)(struct tls_conn *c, const char *reason, void *arg);
};

/*
 * Listen on cfg->listen with the server context ctx (which must outlive the
 * server). Returns 0 with *out set, or -errno with err holding the reason
 * ("0.0.0.0:7777: bind: Address already in use").
 */
int tls_server_new(struct tls_server **out, struct tls_ctx *ctx, const struct tls_server_cfg *cfg,
		   const struct tls_server_ops *ops, void *arg, char *err, size_t errlen);

/* The fd to watch for readability (an epoll fd): then call tls_server_poll(s, 0). */
int tls_server_fd(const struct tls_server *s);

/* The TCP port listened on (host order). */
uint16_t tls_server_port(const struct tls_server *s);

/* Connections open (handshaking or established). */
unsigned int tls_server_nconns(const struct tls_server *s);

/*
 * Do the server's pending work: accept, handshake, read and dispatch messages,
 * flush output, enforce deadlines. Waits up to timeout_ms (-1 forever, 0 not at
 * all) for something to do. Returns 0, or -errno if epoll itself failed.
 */
int tls_server_poll(struct tls_server *s, int timeout_ms);

/*
 * Stop accepting (shutdown): connections already queued by the kernel are
 * accepted first (they get the usual handshake and on_open), then the
 * listening socket is closed, so new clients see "connection refused".
 * Established connections are untouched. Idempotent.
 */
void tls_server_unlisten(struct tls_server *s);

/* Close every connection (on_close for each), stop listening, free s (NULL-safe). */
void tls_server_free(struct tls_server *s);

/*
 * Queue m for the peer of c and start sending it. Returns 0, -EINVAL if m is
 * invalid, -ENOBUFS if the peer is too slow (more than out_max unsent: the
 * caller decides whether to drop or cancel), or -EPIPE if c is closing.
 */
int tls_conn_send(struct tls_conn *c, const struct ctl_msg *m);

/*
 * Close c: queued output is flushed first (best effort, bounded by the
 * handshake deadline), reading stops at once. Safe from callbacks and outside.
 */
void tls_conn_close(struct tls_conn *c, const char *reason);

/* The peer certificate's CN ("" before the handshake). */
const char *tls_conn_name(const struct tls_conn *c);
/* The peer's IPv4 address (network order) and TCP port (host order). */
uint32_t tls_conn_addr(const struct tls_conn *c);
uint16_t tls_conn_port(const struct tls_conn *c);
/* "NAME@A.B.C.D:PORT" (or "A.B.C.D:PORT" before the handshake), for logs. */
const char *tls_conn_desc(const struct tls_conn *c);
/* Bytes queued and not yet written to the socket. */
size_t tls_conn_pending(const struct tls_conn *c);
/* One pointer of caller data per connection. */
void tls_conn_set_data(struct tls_conn *c, void *data);
void *tls_conn_get_data(const struct tls_conn *c);

/*
 * Connect to the agent at "HOST[:PORT]" (IPv4 address or name; default port
 * TLS_DEFAULT_PORT) and complete the TLS handshake within timeout_ms.
 * expect_name, if not NULL, must be named by the agent's certificate (DNS
 * subjectAltName). Returns 0 with *out set, or -errno with err holding a
 * message a person can act on ("agent 10.1.2.3:7777: TLS handshake failed:
 * certificate verify failed: ... (is -c pointing at the same CA?)"). Note that
 * in TLS 1.3 the agent checks our certificate after we think the handshake is
 * done: a refusal shows at the first tls_client_recv(), or in tls_client_hello().
 */
int tls_client_connect(struct tls_client **out, struct tls_ctx *ctx, const char *host_port,
		       const char *expect_name, int timeout_ms, char *err, size_t errlen);

/*
 * Send m, waiting up to timeout_ms for room. Returns 0, -EINVAL (invalid m),
 * -ETIMEDOUT, or another -errno with tls_client_error() saying why.
 */
int tls_client_send(struct tls_client *c, const struct ctl_msg *m, int timeout_ms);

/*
 * Send raw bytes (tests and tools: malformed streams). Same returns as
 * tls_client_send().
 */
int tls_client_send_raw(struct tls_client *c, const void *buf, size_t len, int timeout_ms);

/*
 * Receive the next message into m, waiting up to timeout_ms (0: do not wait,
 * -1: forever). A RESULT's text stays valid until the next receive. Returns 0,
 * -EAGAIN (timeout 0 and nothing whole yet), -ETIMEDOUT, -ECONNRESET (peer
 * closed), -EPROTO (TLS error or malformed stream), with tls_client_error()
 * saying why.
 */
int tls_client_recv(struct tls_client *c, struct ctl_msg *m, int timeout_ms);

/*
 * Exchange HELLO: send mine, wait for the agent's (KEEPALIVEs skipped) into
 * theirs. Returns 0, -EPERM if the agent answered with an ERROR (its message
 * in tls_client_error()), -EPROTO for any other message, or a receive error.
 */
int tls_client_hello(struct tls_client *c, const struct ctl_hello *mine, struct ctl_hello *theirs,
		     int timeout_ms);

/* The socket, for poll()/epoll (readable: call tls_client_recv(c, m, 0)). */
int tls_client_fd(const struct tls_client *c);
/* 1 if a whole message or decrypted bytes are buffered (poll would not show it). */
int tls_client_pending(const struct tls_client *c);
/* The agent certificate's CN. */
const char *tls_client_peer_name(const struct tls_client *c);
/* The last error, prefixed with "agent HOST:PORT: ". */
const char *tls_client_error(const struct tls_client *c);
/* Send close_notify (best effort), close, free (NULL-safe). */
void tls_client_close(struct tls_client *c);

#endif /* RTRACE_TLSLINK_H */
