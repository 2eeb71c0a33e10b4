/*
 * awsconn: one pipelined HTTP/1.1 keep-alive connection to the AWS JSON 1.1
 * endpoint (plain TCP, or TLS when the URL is https). Requests are signed
 * and formatted straight into a fixed send buffer; the server answers
 * pipelined requests in order, so pending callbacks sit in a FIFO and each
 * complete response (framed by Content-Length) goes to the oldest. Buffers
 * are on the secure heap because answers carry secret values.
 *
 * Failure modes: connect/handshake failure or timeout (open fails), an
 * answer that is not HTTP/1.x with a Content-Length, an answer to nothing
 * (EPROTO), the peer closing or "Connection: close" (ECLOSED), a socket or
 * TLS error (EIO). Once dead, every pending request is failed through its
 * callback exactly once.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../lib/sock.h"
#include "aws.h"

#define OUT_CAP       (1024 * 1024)
#define IN_CAP        (AWS_MAX_HEAD + AWS_MAX_BODY + 64 * 1024)
#define READ_MIN      (16 * 1024)
#define HEAD_OVERHEAD 1024 /* request line and headers besides host and token */

struct pending {
	coffer_done_cb cb;
	void *data;
};

struct aws_conn {
	const struct aws_endpoint *ep;
	struct aws_signer *signer;
	int fd;
	SSL *ssl;
	int dead;
	uint8_t *out;
	size_t out_start, out_end;
	uint8_t *in;
	size_t in_start, in_end;
	struct pending *q; /* ring of pending requests, oldest at head */
	size_t q_cap, q_head, q_len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_err(struct coffer_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(struct coffer_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->type[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

static void fail_all(struct aws_conn *conn, int code, const char *what)
{
	struct coffer_error err;

	if (!conn->dead)
		conn->dead = code;
	set_err(&err, code, "connection to '%s': %s", conn->ep->url, what);
	while (conn->q_len > 0) {
		struct pending p = conn->q[conn->q_head];

		conn->q_head = (conn->q_head + 1) % conn->q_cap;
		conn->q_len--;
		p.cb(p.data, code, &err, NULL, 0);
	}
}

SSL_CTX *aws_tls_context(const char *ca_file, struct coffer_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		set_err(err, COFFER_ENOMEM, "tls context: out of memory");
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL && ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			set_err(err, COFFER_ECRYPTO, "cannot load ca file '%s'", ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		set_err(err, COFFER_ECRYPTO, "cannot load system trust store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int aws_conn_open(const struct aws_endpoint *ep, struct aws_signer *signer, SSL_CTX *ssl_ctx,
                  int timeout_ms, struct aws_conn **out, struct coffer_error *err)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
	struct aws_conn *conn;
	int rv;

	*out = NULL;
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return set_err(err, COFFER_ENOMEM, "out of memory");
	conn->ep = ep;
	conn->signer = signer;
	conn->fd = -1;
	conn->out = secmem_alloc(OUT_CAP);
	conn->in = secmem_alloc(IN_CAP);
	rv = set_err(err, COFFER_ENOMEM, "out of memory");
	if (conn->out == NULL || conn->in == NULL)
		goto out;
	rv = coffer__tcp_connect(ep->host, ep->port, ep->url, deadline, &conn->fd, err);
	if (rv == 0 && ep->tls)
		rv = ssl_ctx ? coffer__tls_connect(ssl_ctx, conn->fd, ep->host, ep->url, deadline,
		                                   &conn->ssl, err)
		             : set_err(err, COFFER_EINVAL, "no tls context for '%s'", ep->url);
	if (rv != 0)
		goto out;
	*out = conn;
	conn = NULL;
out:
	aws_conn_free(conn);
	return rv;
}

void aws_conn_free(struct aws_conn *conn)
{
	if (conn == NULL)
		return;
	fail_all(conn, COFFER_ECLOSED, "closed");
	SSL_free(conn->ssl);
	if (conn->fd >= 0)
		close(conn->fd);
	secmem_free(conn->out);
	secmem_free(conn->in);
	free(conn->q);
	free(conn);
}

int aws_conn_fd(const struct aws_conn *conn)
{
	return conn->fd;
}

short aws_conn_events(const struct aws_conn *conn)
{
	return (short)(POLLIN | (conn->out_end > conn->out_start ? POLLOUT : 0));
}

static int q_push(struct aws_conn *conn, coffer_done_cb cb, void *data)
{
	if (conn->q_len == conn->q_cap) {
		size_t cap = conn->q_cap ? conn->q_cap * 2 : 64, i;
		struct pending *q = malloc(cap * sizeof(*q));

		if (q == NULL)
			return COFFER_ENOMEM;
		for (i = 0; i < conn->q_len; i++)
			q[i] = conn->q[(conn->q_head + i) % conn->q_cap];
		free(conn->q);
		conn->q = q;
		conn->q_cap = cap;
		conn->q_head = 0;
	}
	conn->q[(conn->q_head + conn->q_len) % conn->q_cap] = (struct pending){cb, data};
	conn->q_len++;
	return 0;
}

int aws_conn_send(struct aws_conn *conn, const char *operation, const char *body, size_t len,
                  coffer_done_cb cb, void *data)
{
	const struct aws_signer *s = conn->signer;
	size_t need = len + HEAD_OVERHEAD + strlen(conn->ep->host_header) +
	              2 * (s->session_token ? strlen(s->session_token) : 0),
	       n;
	int rv;

	if (conn->dead)
		return COFFER_ECLOSED;
	if (need > OUT_CAP)
		return COFFER_ETOOBIG;
	if (OUT_CAP - conn->out_end < need && conn->out_start > 0) {
		memmove(conn->out, conn->out + conn->out_start, conn->out_end - conn->out_start);
		conn->out_end -= conn->out_start;
		conn->out_start = 0;
	}
	if (OUT_CAP - conn->out_end < need)
		return COFFER_EAGAIN;
	rv = aws_format_request(conn->signer, aws_signer_now(conn->signer), conn->ep->host_header,
	                        operation, body, len, (char *)conn->out + conn->out_end,
	                        OUT_CAP - conn->out_end, &n);
	if (rv == 0)
		rv = q_push(conn, cb, data);
	if (rv != 0)
		return rv;
	conn->out_end += n;
	return 0;
}

/* >0 bytes moved, 0 would block, <0 COFFER_E* */
static ssize_t io_write(struct aws_conn *conn, const void *p, size_t n)
{
	if (conn->ssl != NULL) {
		size_t w = 0;
		int r, e;

		ERR_clear_error();
		r = SSL_write_ex(conn->ssl, p, n, &w);
		if (r == 1)
			return (ssize_t)w;
		e = SSL_get_error(conn->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			return 0;
		return e == SSL_ERROR_ZERO_RETURN ? COFFER_ECLOSED : COFFER_EIO;
	}
	for (;;) {
		ssize_t w = send(conn->fd, p, n, MSG_NOSIGNAL);

		if (w >= 0)
			return w;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0
		       : errno == EPIPE || errno == ECONNRESET ? COFFER_ECLOSED
		                                               : COFFER_EIO;
	}
}

static ssize_t io_read(struct aws_conn *conn, void *p, size_t n)
{
	if (conn->ssl != NULL) {
		size_t r = 0;
		int ok, e;

		ERR_clear_error();
		ok = SSL_read_ex(conn->ssl, p, n, &r);
		if (ok == 1)
			return (ssize_t)r;
		e = SSL_get_error(conn->ssl, ok);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return e == SSL_ERROR_ZERO_RETURN ||
		               (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		           ? COFFER_ECLOSED
		           : COFFER_EIO;
	}
	for (;;) {
		ssize_t r = recv(conn->fd, p, n, 0);

		if (r > 0)
			return r;
		if (r == 0)
			return COFFER_ECLOSED;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0
		       : errno == ECONNRESET                   ? COFFER_ECLOSED
		                                               : COFFER_EIO;
	}
}

static int flush(struct aws_conn *conn)
{
	while (conn->out_start < conn->out_end) {
		ssize_t w =
		    io_write(conn, conn->out + conn->out_start, conn->out_end - conn->out_start);

		if (w < 0)
			return (int)w;
		if (w == 0)
			return 0;
		conn->out_start += (size_t)w;
	}
	conn->out_start = conn->out_end = 0;
	return 0;
}

/* Hand one complete response to the oldest pending request. */
static int dispatch(struct aws_conn *conn, const struct aws_resp *r, const char *body)
{
	struct coffer_error err;
	struct pending p;

	if (r->status < 200)
		return 0; /* 100 Continue and friends: not an answer */
	if (conn->q_len == 0)
		return COFFER_EPROTO;
	p = conn->q[conn->q_head];
	conn->q_head = (conn->q_head + 1) % conn->q_cap;
	conn->q_len--;
	if (r->status == 200 && aws_body_is_object(body, r->body_len)) {
		p.cb(p.data, 0, NULL, (const uint8_t *)body, r->body_len);
	} else if (r->status == 200) {
		set_err(&err, COFFER_EPROTO, "'%s' answered 200 without a JSON object",
		        conn->ep->url);
		p.cb(p.data, COFFER_EPROTO, &err, NULL, 0);
	} else {
		aws_error_of(r->status, body, r->body_len, &err);
		p.cb(p.data, COFFER_ESERVICE, &err, NULL, 0);
	}
	return r->close ? COFFER_ECLOSED : 0;
}

static int parse_responses(struct aws_conn *conn)
{
	for (;;) {
		const char *b = (const char *)conn->in + conn->in_start;
		struct aws_resp r;
		int rv = aws_parse_response(b, conn->in_end - conn->in_start, &r);

		if (rv < 0)
			return rv;
		if (rv == 0)
			break;
		rv = dispatch(conn, &r, b + r.head_len);
		/* the answer may hold a secret value: wipe it once handled */
		OPENSSL_cleanse(conn->in + conn->in_start, r.head_len + r.body_len);
		conn->in_start += r.head_len + r.body_len;
		if (rv != 0)
			return rv;
	}
	if (conn->in_start == conn->in_end)
		conn->in_start = conn->in_end = 0;
	return 0;
}

static int fill(struct aws_conn *conn)
{
	for (;;) {
		ssize_t r;
		int rv;

		if (IN_CAP - conn->in_end < READ_MIN && conn->in_start > 0) {
			memmove(conn->in, conn->in + conn->in_start, conn->in_end - conn->in_start);
			conn->in_end -= conn->in_start;
			conn->in_start = 0;
		}
		if (conn->in_end == IN_CAP)
			return COFFER_EPROTO; /* a response larger than the caps allow */
		r = io_read(conn, conn->in + conn->in_end, IN_CAP - conn->in_end);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return 0;
		conn->in_end += (size_t)r;
		rv = parse_responses(conn);
		if (rv != 0)
			return rv;
	}
}

int aws_conn_process(struct aws_conn *conn)
{
	int rv;

	if (conn->dead)
		return conn->dead;
	rv = flush(conn);
	if (rv == 0)
		rv = fill(conn);
	if (rv == 0)
		rv = flush(conn); /* callbacks may have queued more */
	if (rv != 0)
		fail_all(conn, rv, coffer_strerror(rv));
	return rv;
}
