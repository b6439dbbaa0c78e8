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
	SSL_CTX *ssl;			/* current context; SSL objects hold references */
	enum tls_role role;		/* server or client */
	int has_name;			/* a certificate of our own is presented */
	char name[CTL_NAME_MAX + 1];	/* our certificate's name */
	char certdir[PATH_MAX];		/* where ca.crt and NAME.crt/.key live */
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

#endif /* RTRACE_TLS_INT_H */
