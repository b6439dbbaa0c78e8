// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls_ctx.c - TLS contexts of the control link (OpenSSL 3): loading the CA
 * and our certificate, reload, and turning OpenSSL failures into sentences
 * with a hint a person can act on. Shared by tls_server.c and tls_client.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "rtrace/errbuf.h"
#include "rtrace/log.h"
#include "tls_int.h"

int64_t tls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first OpenSSL error's reason ("certificate verify failed"), queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		rt_errf(buf, len, "%s", r);
	else if (e)
		ERR_error_string_n(e, buf, len);
	else
		buf[0] = '\0';
	ERR_clear_error();
	return buf;
}

/* A hint for an OpenSSL reason string or a verification error, or NULL. */
static const char *hint_for(enum tls_role role, const char *reason, long verify)
{
	switch (verify) {
	case X509_V_OK:
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return role == TLS_CLIENT ? "is -c pointing at the same CA?"
					  : "the client's certificate is not from our CA";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "the peer's certificate has expired: renew it with tools/rtrace-keygen "
		       "--force";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "the peer's certificate is not valid yet: check the clocks";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "the agent's certificate is issued to another name";
	default:
		return NULL;
	}
	if (strstr(reason, "certificate required") ||
	    strstr(reason, "did not return a certificate"))
		return role == TLS_CLIENT
			       ? "the agent wants a client certificate: give -c CERTDIR -n NAME"
			       : "the client presented no certificate";
	if (strstr(reason, "unknown ca"))
		return "the peer does not trust our CA: use certificates from the same "
		       "rtrace-keygen directory";
	if (strstr(reason, "certificate expired"))
		return "our certificate has expired: renew it with tools/rtrace-keygen --force";
	if (strstr(reason, "bad certificate") || strstr(reason, "certificate unknown"))
		return "the peer refused our certificate";
	if (strstr(reason, "wrong version number") || strstr(reason, "http request") ||
	    strstr(reason, "packet length too long") || strstr(reason, "record layer failure"))
		return "the peer does not speak TLS: is it an rtrace client/agent?";
	if (strstr(reason, "protocol version") || strstr(reason, "unsupported protocol"))
		return "the peer does not speak TLS 1.3";
	return NULL;
}

void tls_describe(SSL *ssl, enum tls_role role, int ret, int sslerr, char *buf, size_t len)
{
	int saved = errno;
	char reason[256];
	long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	const char *hint;

	ssl_reason(reason, sizeof(reason));
	if (!reason[0]) {
		if (sslerr == SSL_ERROR_ZERO_RETURN)
			snprintf(reason, sizeof(reason), "the peer closed the TLS session");
		else if (sslerr == SSL_ERROR_SYSCALL && ret == 0)
			snprintf(reason, sizeof(reason), "connection closed by the peer");
		else if (sslerr == SSL_ERROR_SYSCALL)
			snprintf(reason, sizeof(reason), "%s", strerror(saved));
		else
			snprintf(reason, sizeof(reason), "TLS error %d", sslerr);
	}
	if (sslerr == SSL_ERROR_SYSCALL && saved == ECONNRESET && role == TLS_CLIENT)
		hint = "the agent reset the connection: it may have refused our certificate";
	else
		hint = hint_for(role, reason, verify);
	if (verify != X509_V_OK)
		rt_errf(buf, len, "%s: %s%s%s%s", reason, X509_verify_cert_error_string(verify),
		    hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
	else
		rt_errf(buf, len, "%s%s%s%s", reason, hint ? " (" : "", hint ? hint : "",
		    hint ? ")" : "");
}

/* Names are [A-Za-z0-9._-], like those rtrace-keygen makes. */
static int name_chars_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

int tls_peer_cn(SSL *ssl, char *name, size_t len)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	X509_NAME *subj = cert ? X509_get_subject_name(cert) : NULL;
	int n;

	name[0] = '\0';
	if (!subj)
		return -EPERM;
	n = X509_NAME_get_text_by_NID(subj, NID_commonName, name, (int)len);
	if (n <= 0 || (size_t)n >= len || !name_chars_ok(name)) {
		name[0] = '\0';
		return -EPERM;
	}
	return 0;
}

int tls_parse_hostport(const char *s, int passive, struct sockaddr_in *sa, char *err, size_t errlen)
{
	char host[256] = "";
	const char *colon = strrchr(s, ':'), *port_s;
	unsigned long port = passive ? 0 : TLS_DEFAULT_PORT;
	char *end;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	/* Server: "PORT" or "ADDR:PORT"; client: "HOST" or "HOST:PORT". */
	if (colon) {
		if ((size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		port_s = colon + 1;
	} else if (passive) {
		port_s = s;
	} else {
		snprintf(host, sizeof(host), "%s", s);
		port_s = NULL;
	}
	if (port_s) {
		if (*port_s < '0' || *port_s > '9')
			goto bad;
		port = strtoul(port_s, &end, 10);
		if (*end || port > 65535 || (!passive && port == 0))
			goto bad;
	}
	sa->sin_port = htons(port);
	if (!host[0]) {
		if (!passive)
			goto bad;
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	if (!passive) {
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
		int r = getaddrinfo(host, NULL, &hints, &res);

		if (r) {
			rt_errf(err, errlen, "%s: %s", host, gai_strerror(r));
			return -EINVAL;
		}
		sa->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		freeaddrinfo(res);
		return 0;
	}
bad:
	rt_errf(err, errlen, "'%s': want %s", s, passive ? "[ADDR:]PORT" : "HOST[:PORT]");
	return -EINVAL;
}

/* Build a fresh SSL_CTX from c's directory and name. */
static int build(struct tls_ctx *c, SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *s = SSL_CTX_new(c->role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
	char path[PATH_MAX + 80], key[PATH_MAX + 80], why[256];
	struct stat st;
	int ret = -EINVAL;

	if (!s) {
		rt_errf(err, errlen, "SSL_CTX_new: %s", ssl_reason(why, sizeof(why)));
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION);
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify_depth(s, 2);
	/* No session resumption: every connection authenticates with its certificate. */
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s, 0);
	/*
	 * A peer that closes without close_notify is an ordinary disconnect: the
	 * length-prefixed framing already detects a truncated message.
	 */
	SSL_CTX_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(s,
			   c->role == TLS_SERVER ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
						 : SSL_VERIFY_PEER,
			   NULL);

	snprintf(path, sizeof(path), "%s/ca.crt", c->certdir);
	if (stat(path, &st)) {
		ret = -errno;
		rt_errf(err, errlen, "%s: %s (make a CA with tools/rtrace-keygen %s NAME)", path,
		    strerror(errno), c->certdir);
		goto out_free;
	}
	if (SSL_CTX_load_verify_locations(s, path, NULL) != 1) {
		rt_errf(err, errlen, "%s: cannot load the CA: %s", path, ssl_reason(why, sizeof(why)));
		goto out_free;
	}
	if (c->role == TLS_SERVER) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);

		if (names)
			SSL_CTX_set_client_CA_list(s, names);
	}
	if (c->has_name) {
		snprintf(path, sizeof(path), "%s/%s.crt", c->certdir, c->name);
		snprintf(key, sizeof(key), "%s/%s.key", c->certdir, c->name);
		if (stat(path, &st) || stat(key, &st)) {
			ret = -errno;
			rt_errf(err, errlen, "%s: %s (make it with tools/rtrace-keygen %s %s)",
			    access(path, R_OK) ? path : key, strerror(errno), c->certdir, c->name);
			goto out_free;
		}
		if (SSL_CTX_use_certificate_chain_file(s, path) != 1) {
			rt_errf(err, errlen, "%s: cannot load: %s", path, ssl_reason(why, sizeof(why)));
			goto out_free;
		}
		if (SSL_CTX_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1) {
			rt_errf(err, errlen, "%s: cannot load: %s", key, ssl_reason(why, sizeof(why)));
			goto out_free;
		}
		if (SSL_CTX_check_private_key(s) != 1) {
			rt_errf(err, errlen, "%s does not belong to %s: %s", key, path,
			    ssl_reason(why, sizeof(why)));
			goto out_free;
		}
		if (st.st_mode & 077)
			rt_warn("tls: %s is readable by others (mode %03o): chmod 600 it", key,
				st.st_mode & 0777);
	}
	*out = s;
	return 0;
out_free:
	SSL_CTX_free(s);
	ERR_clear_error();
	return ret;
}

int tls_ctx_new(struct tls_ctx **out, enum tls_role role, const char *certdir, const char *name,
		char *err, size_t errlen)
{
	struct tls_ctx *c;
	struct sigaction sa;
	int ret;

	if (!certdir || strlen(certdir) >= sizeof(c->certdir) ||
	    (name && (strlen(name) > CTL_NAME_MAX || !name_chars_ok(name))) ||
	    (role == TLS_SERVER && !name)) {
		rt_errf(err, errlen, "bad certificate directory or name%s",
		    role == TLS_SERVER && !name ? " (an agent needs a name)" : "");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rt_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->role = role;
	snprintf(c->certdir, sizeof(c->certdir), "%s", certdir);
	if (name) {
		c->has_name = 1;
		snprintf(c->name, sizeof(c->name), "%s", name);
	}
	ret = build(c, &c->ssl, err, errlen);
	if (ret) {
		free(c);
		return ret;
	}
	/* A peer closing under us must be an error return, not a dead process. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	*out = c;
	return 0;
}

int tls_ctx_reload(struct tls_ctx *c, char *err, size_t errlen)
{
	SSL_CTX *s;
	int ret = build(c, &s, err, errlen);

	if (ret)
		return ret;
	SSL_CTX_free(c->ssl);
	c->ssl = s;
	return 0;
}

void tls_ctx_free(struct tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}
