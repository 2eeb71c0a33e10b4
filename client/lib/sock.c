/*
 * Blocking-with-deadline connection set-up shared by every client front end
 * (libcoffer's RPC connections and the CLI's AWS-endpoint bench): a
 * non-blocking TCP connect with TCP_NODELAY, then a TLS handshake that checks
 * the peer's certificate against the host name or IP. Both give up at a
 * monotonic deadline (coffer__now_ms) with COFFER_ETIMEOUT; other failures are
 * COFFER_EIO with a message naming the endpoint label.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "sock.h"

static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int64_t left;
	int n;

	for (;;) {
		left = deadline - coffer__now_ms();
		if (left <= 0)
			return COFFER_ETIMEOUT;
		n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return COFFER_EIO;
	}
}

int coffer__tcp_connect(const char *host, const char *port, const char *label,
			int64_t deadline, int *fd_out, struct coffer_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	int rv, fd = -1, one = 1;

	rv = getaddrinfo(host, port, &hints, &res);
	if (rv != 0)
		return coffer__err(err, COFFER_EIO, "", "resolve '%s': %s", label,
				   gai_strerror(rv));
	rv = coffer__err(err, COFFER_EIO, "", "connect '%s': no address", label);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				soerr = errno;
			} else if ((rv = wait_fd(fd, POLLOUT, deadline)) != 0) {
				soerr = rv == COFFER_ETIMEOUT ? ETIMEDOUT : EIO;
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
				soerr = errno;
			}
		}
		if (soerr == 0) {
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			*fd_out = fd;
			rv = 0;
			break;
		}
		rv = coffer__err(err, soerr == ETIMEDOUT ? COFFER_ETIMEOUT : COFFER_EIO, "",
				 "connect '%s': %s", label, strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return rv;
}

static int handshake(SSL *ssl, int fd, const char *host, const char *label, int64_t deadline,
		     struct coffer_error *err);

static int is_ip(const char *host)
{
	struct in6_addr a6;

	return inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

int coffer__tls_connect(SSL_CTX *ctx, int fd, const char *host, const char *label,
			int64_t deadline, SSL **ssl_out, struct coffer_error *err)
{
	SSL *ssl = SSL_new(ctx);
	int rv = handshake(ssl, fd, host, label, deadline, err);

	if (rv != 0) {
		SSL_free(ssl); /* NULL ok */
		return rv;
	}
	*ssl_out = ssl;
	return 0;
}

static int handshake(SSL *ssl, int fd, const char *host, const char *label, int64_t deadline,
		     struct coffer_error *err)
{
	int r, e;

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_set1_host(ssl, host) != 1 ||
	    (!is_ip(host) && SSL_set_tlsext_host_name(ssl, host) != 1))
		return coffer__err(err, COFFER_ENOMEM, "", "tls setup for '%s' failed", label);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
					SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int w = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					deadline);

			if (w != 0)
				return coffer__err(err, w, "", "tls handshake with '%s': %s",
						   label, coffer_strerror(w));
			continue;
		}
		{
			unsigned long oe = ERR_peek_last_error();
			long vr = SSL_get_verify_result(ssl);

			if (vr != X509_V_OK)
				return coffer__err(err, COFFER_EIO, "",
						   "tls handshake with '%s': certificate: %s",
						   label, X509_verify_cert_error_string(vr));
			return coffer__err(err, COFFER_EIO, "", "tls handshake with '%s': %s",
					   label,
					   oe ? ERR_reason_error_string(oe) : "connection closed");
		}
	}
}
