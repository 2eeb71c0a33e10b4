/*
 * Connection set-up shared by the client front ends that drive their own
 * poll loop (libcoffer's coffer_conn and the CLI's AWS-endpoint bench
 * connection). Not installed: the public header stays free of OpenSSL
 * types. deadline is a CLOCK_MONOTONIC time in ms; label
 * names the endpoint in messages. Any thread.
 */
#ifndef COFFER_CLIENT_SOCK_H
#define COFFER_CLIENT_SOCK_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "coffer/coffer.h"

/* A connected non-blocking TCP socket with TCP_NODELAY in *fd_out (returned;
 * close it). 0, COFFER_ETIMEOUT or COFFER_EIO with err set. */
int coffer__tcp_connect(const char *host, const char *port, const char *label,
			int64_t deadline, int *fd_out, struct coffer_error *err);

/* A TLS handshake on fd with ctx (borrowed), verifying the certificate for
 * host (a name or an IP; SNI for names). On success *ssl_out is returned
 * (free with SSL_free; fd stays the caller's). 0, COFFER_ETIMEOUT,
 * COFFER_EIO or COFFER_ENOMEM with err set. */
int coffer__tls_connect(SSL_CTX *ctx, int fd, const char *host, const char *label,
			int64_t deadline, SSL **ssl_out, struct coffer_error *err);

#endif
