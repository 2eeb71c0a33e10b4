/*
 * Connections: TLS 1.3 over libuv with OpenSSL memory BIOs.
 *
 * Happy path. Ciphertext read by uv_read_start (into one reused buffer) is
 * pushed into rbio; SSL_do_handshake runs until the handshake finishes,
 * then on_open fires and SSL_read hands each decrypted chunk to on_data in
 * a secure-heap buffer that is wiped right after the call. Writes are
 * copied into a secure staging buffer of one TLS record; a full stage, or
 * the end of the current loop turn, seals it with SSL_write into wbio, and
 * everything sealed is sent with a single uv_write. So the many small
 * answers to a pipelined batch of requests leave as one record and one
 * syscall. The flush runs at the end of the read callback that produced the
 * writes, or from an idle handle (which also keeps the loop from blocking
 * in poll while output waits).
 *
 * Failure modes. Read errors, TLS errors, handshake failures, a handshake
 * deadline (10 s) and an outgoing backlog over 64 MiB all end in the same
 * place: the three handles close and on_close fires once, from the last
 * close callback (never from inside the caller's own call). An orderly
 * close (net_conn_close, peer EOF or close_notify) first seals and sends
 * what is queued plus close_notify, then waits for uv_shutdown, bounded by
 * a 2 s linger timer. Memory is released when the handles closed and the
 * reference count reached zero.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "net/net_int.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/secmem.h"

struct net_wreq {
	uv_write_t req;
	size_t len;
	char data[];
};

static void on_idle(uv_idle_t *h);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---- lifetime ----------------------------------------------------------- */

static void conn_free(struct net_conn *c)
{
	struct net_chunk *k, *next;

	for (k = c->pre_head; k != NULL; k = next) {
		next = k->next;
		secmem_free(k);
	}
	if (c->ssl != NULL)
		SSL_free(c->ssl); /* frees rbio and wbio */
	else
		BIO_free(c->wbio);
	secmem_free(c->plain);
	secmem_free(c->stage);
	free(c->rbuf);
	free(c);
}

void net_conn_ref(struct net_conn *c)
{
	c->refs++;
}

void net_conn_unref(struct net_conn *c)
{
	assert(c->refs > 0);
	if (--c->refs == 0)
		conn_free(c);
}

/* All three handles are closed: tell the protocol, detach, drop the life ref. */
static void conn_finished(struct net_conn *c)
{
	if (!c->quiet && (c->dialed || c->opened) && c->proto->on_close != NULL)
		c->proto->on_close(c);
	if (c->listener != NULL)
		net__listener_conn_done(c->listener, c);
	net_conn_unref(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct net_conn *c = h->data;

	assert(c->handles > 0);
	if (--c->handles == 0)
		conn_finished(c);
}

/* Close the handles now; pending writes are cancelled. Idempotent. */
static void close_handles(struct net_conn *c)
{
	if (c->state == NET_CLOSED)
		return;
	c->state = NET_CLOSED;
	if (c->gai_pending)
		(void)uv_cancel((uv_req_t *)&c->gai_req);
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

void net__conn_abort(struct net_conn *c)
{
	c->quiet = true;
	close_handles(c);
}

struct net_conn *net__conn_new(uv_loop_t *loop, SSL_CTX *ctx, const struct net_proto *proto,
			       void *data)
{
	struct net_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->loop = loop;
	c->proto = proto;
	c->data = data;
	c->refs = 1;
	c->rbuf = malloc(NET_READ_BUF);
	if (c->rbuf == NULL)
		goto fail;
	if (ctx != NULL) {
		c->plain = secmem_alloc(NET_PLAIN_BUF);
		c->stage = secmem_alloc(NET_PLAIN_BUF);
		c->ssl = SSL_new(ctx);
		c->rbio = BIO_new(BIO_s_mem());
		c->wbio = BIO_new(BIO_s_mem());
		if (c->plain == NULL || c->stage == NULL || c->ssl == NULL || c->rbio == NULL ||
		    c->wbio == NULL) {
			BIO_free(c->rbio);
			BIO_free(c->wbio);
			c->wbio = NULL;
			goto fail;
		}
		BIO_set_mem_eof_return(c->rbio, -1); /* empty means "retry", not EOF */
		BIO_set_mem_eof_return(c->wbio, -1);
		SSL_set_bio(c->ssl, c->rbio, c->wbio);
	} else {
		c->wbio = BIO_new(BIO_s_mem());
		if (c->wbio == NULL)
			goto fail;
	}
	/* uv_*_init cannot fail for these handle types and flags */
	uv_tcp_init(loop, &c->tcp);
	uv_timer_init(loop, &c->timer);
	uv_idle_init(loop, &c->idle);
	c->tcp.data = c;
	c->timer.data = c;
	c->idle.data = c;
	c->handles = 3;
	snprintf(c->peer, sizeof(c->peer), "?");
	return c;
fail:
	ERR_clear_error();
	conn_free(c);
	return NULL;
}

/* ---- output --------------------------------------------------------------- */

static size_t pending_bytes(const struct net_conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) +
	       (size_t)BIO_pending(c->wbio) + c->stage_len + c->pre_len;
}

/* Encrypt n bytes into wbio (split into records by OpenSSL). */
static int seal(struct net_conn *c, const uint8_t *p, size_t n)
{
	size_t done;

	while (n > 0) {
		if (!SSL_write_ex(c->ssl, p, n, &done)) {
			logw("net: tls write to '%s' failed", c->peer);
			ERR_clear_error();
			return CF_ECRYPTO;
		}
		p += done;
		n -= done;
	}
	return 0;
}

static int seal_stage(struct net_conn *c)
{
	int rv;

	if (c->stage_len == 0)
		return 0;
	rv = seal(c, c->stage, c->stage_len);
	OPENSSL_cleanse(c->stage, c->stage_len);
	c->stage_len = 0;
	return rv;
}

static void on_written(uv_write_t *req, int status)
{
	struct net_wreq *w = (struct net_wreq *)req;
	struct net_conn *c = req->data;

	if (c->ssl == NULL)
		OPENSSL_cleanse(w->data, w->len); /* plaintext mode (tests) */
	free(w);
	if (status < 0 && status != UV_ECANCELED) {
		logd("net: write to '%s' failed: %s", c->peer, uv_strerror(status));
		close_handles(c);
	}
}

/* Seal the stage and hand every byte of wbio to one uv_write. On failure the
 * connection is closed (handles) and CF_EIO / CF_ECRYPTO returned. */
static int flush_out(struct net_conn *c)
{
	struct net_wreq *w;
	uv_buf_t buf;
	int n, r;

	if (c->state == NET_CLOSED)
		return CF_ECLOSED;
	if (c->idle_armed && !c->rx_pending) {
		uv_idle_stop(&c->idle);
		c->idle_armed = false;
	}
	if (c->stage_len > 0 && seal_stage(c) != 0) {
		close_handles(c);
		return CF_ECRYPTO;
	}
	n = BIO_pending(c->wbio);
	if (n <= 0)
		return 0;
	w = malloc(sizeof(*w) + (size_t)n);
	if (w == NULL) {
		close_handles(c);
		return CF_ENOMEM;
	}
	w->len = (size_t)n;
	if (BIO_read(c->wbio, w->data, n) != n) {
		free(w);
		close_handles(c);
		return CF_EIO;
	}
	w->req.data = c;
	buf = uv_buf_init(w->data, (unsigned int)n);
	r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
	if (r < 0) {
		logd("net: write to '%s' failed: %s", c->peer, uv_strerror(r));
		free(w);
		close_handles(c);
		return CF_EIO;
	}
	return 0;
}

static void arm_flush(struct net_conn *c)
{
	if (!c->idle_armed) {
		uv_idle_start(&c->idle, on_idle);
		c->idle_armed = true;
	}
}

static void read_records(struct net_conn *c);

/* Flush staged output; after net_conn_resume_read, first deliver the input
 * that was kept in the TLS layer while reading was paused. */
static void on_idle(uv_idle_t *h)
{
	struct net_conn *c = h->data;

	uv_idle_stop(h);
	c->idle_armed = false;
	if (c->rx_pending && !c->read_paused && c->state == NET_OPEN) {
		c->rx_pending = false;
		ERR_clear_error();
		read_records(c);
	}
	if (c->state == NET_OPEN)
		(void)flush_out(c);
}

/* Copy into the stage; seal whenever it fills. Large writes into an empty
 * stage go straight to SSL_write (no copy). */
static int stage_write(struct net_conn *c, const uint8_t *p, size_t n)
{
	size_t k;
	int rv;

	while (n > 0) {
		if (c->stage_len == 0 && n >= NET_PLAIN_BUF)
			return seal(c, p, n);
		k = NET_PLAIN_BUF - c->stage_len;
		if (k > n)
			k = n;
		memcpy(c->stage + c->stage_len, p, k);
		c->stage_len += k;
		p += k;
		n -= k;
		if (c->stage_len == NET_PLAIN_BUF) {
			rv = seal_stage(c);
			if (rv != 0)
				return rv;
		}
	}
	return 0;
}

static int write_open(struct net_conn *c, const uint8_t *p, size_t n)
{
	if (c->ssl != NULL)
		return stage_write(c, p, n);
	if (n > 0 && BIO_write(c->wbio, p, (int)n) != (int)n) /* n <= NET_MAX_PENDING */
		return CF_ENOMEM;
	return 0;
}

/* Before the handshake finished: keep a copy (secure heap) for later. */
static int write_early(struct net_conn *c, const uint8_t *a, size_t an, const uint8_t *b,
		       size_t bn)
{
	struct net_chunk *k = secmem_alloc(sizeof(*k) + an + bn);

	if (k == NULL)
		return CF_ENOMEM;
	if (an > 0)
		memcpy(k->data, a, an);
	if (bn > 0)
		memcpy(k->data + an, b, bn);
	k->len = an + bn;
	if (c->pre_tail != NULL)
		c->pre_tail->next = k;
	else
		c->pre_head = k;
	c->pre_tail = k;
	c->pre_len += k->len;
	return 0;
}

int net_conn_write2(struct net_conn *c, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int rv;

	if (c->state >= NET_CLOSING)
		return CF_ECLOSED;
	/* each bounded first, so the sum cannot wrap */
	if (an > NET_MAX_PENDING || bn > NET_MAX_PENDING ||
	    pending_bytes(c) + an + bn > NET_MAX_PENDING) {
		logw("net: more than %u bytes queued for '%s', closing", NET_MAX_PENDING, c->peer);
		close_handles(c);
		return CF_ECLOSED;
	}
	if (c->state != NET_OPEN)
		return write_early(c, a, an, b, bn);
	ERR_clear_error();
	rv = write_open(c, a, an);
	if (rv == 0)
		rv = write_open(c, b, bn);
	if (rv != 0) {
		close_handles(c);
		return rv;
	}
	arm_flush(c);
	return 0;
}

int net_conn_write(struct net_conn *c, const uint8_t *buf, size_t n)
{
	return net_conn_write2(c, buf, n, NULL, 0);
}

/* ---- close ---------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct net_conn *c = req->data;

	(void)status;
	c->shutting = false;
	close_handles(c);
}

static void on_timer(uv_timer_t *t)
{
	struct net_conn *c = t->data;

	if (c->state < NET_OPEN)
		logi("net: handshake with '%s' timed out", c->peer);
	close_handles(c);
}

void net_conn_close(struct net_conn *c)
{
	enum net_state prev = c->state;

	if (prev >= NET_CLOSING)
		return;
	c->state = NET_CLOSING;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	c->deadline_cb = NULL;
	if (prev < NET_HANDSHAKE) {
		close_handles(c); /* nothing was sent yet */
		return;
	}
	if (prev == NET_OPEN && c->ssl != NULL) {
		ERR_clear_error();
		if (seal_stage(c) == 0)
			(void)SSL_shutdown(c->ssl); /* queues close_notify */
		ERR_clear_error();
	}
	if (flush_out(c) != 0)
		return; /* handles already closing */
	c->shutdown_req.data = c;
	if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		close_handles(c);
		return;
	}
	c->shutting = true;
	uv_timer_start(&c->timer, on_timer, NET_LINGER_MS, 0);
}

/* ---- input ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct net_conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)c->rbuf, NET_READ_BUF);
}

/* Queued early writes go first, then on_open. 0, or < 0 if c is closing. */
static int conn_opened(struct net_conn *c)
{
	struct net_chunk *k;
	int rv = 0;

	uv_timer_stop(&c->timer);
	c->state = NET_OPEN;
	c->opened = true;
	while ((k = c->pre_head) != NULL) {
		c->pre_head = k->next;
		c->pre_len -= k->len;
		if (rv == 0)
			rv = write_open(c, k->data, k->len);
		secmem_free(k);
	}
	c->pre_tail = NULL;
	if (rv != 0) {
		close_handles(c);
		return rv;
	}
	if (c->stage_len > 0 || BIO_pending(c->wbio) > 0)
		arm_flush(c);
	if (c->proto->on_open != NULL)
		c->proto->on_open(c);
	return c->state == NET_OPEN ? 0 : CF_ECLOSED;
}

static void log_tls_failure(struct net_conn *c, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[160] = "";
	long vr = SSL_get_verify_result(c->ssl);

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	if (c->dialed && vr != X509_V_OK)
		logw("net: %s with '%s' failed: %s (%s)", what, c->peer,
		     X509_verify_cert_error_string(vr), reason);
	else
		logi("net: %s with '%s' failed: %s", what, c->peer, reason);
	ERR_clear_error();
}

/* 1 finished, 0 needs more input, < 0 failed (c is closing). */
static int do_handshake(struct net_conn *c)
{
	int r = SSL_do_handshake(c->ssl);

	if (r == 1)
		return conn_opened(c) == 0 ? 1 : -1;
	if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
		return flush_out(c) == 0 ? 0 : -1;
	log_tls_failure(c, "tls handshake");
	net_conn_close(c); /* sends the alert, if any */
	return -1;
}

/* Decrypt everything rbio holds and hand it out (until paused: the rest
 * stays in rbio and the SSL object). */
static void read_records(struct net_conn *c)
{
	size_t got;
	int rc, err;

	while (c->state == NET_OPEN && !c->read_paused) {
		if (SSL_read_ex(c->ssl, c->plain, NET_PLAIN_BUF, &got)) {
			rc = c->proto->on_data(c, c->plain, got);
			OPENSSL_cleanse(c->plain, got);
			if (rc != 0)
				net_conn_close(c);
			continue;
		}
		err = SSL_get_error(c->ssl, 0);
		if (err == SSL_ERROR_WANT_READ)
			return;
		if (err == SSL_ERROR_ZERO_RETURN) {
			net_conn_close(c); /* peer sent close_notify */
			return;
		}
		log_tls_failure(c, "tls read");
		(void)flush_out(c); /* best effort: the alert */
		close_handles(c);
		return;
	}
}

static void on_read_plain(struct net_conn *c, size_t n)
{
	int rc = c->proto->on_data(c, c->rbuf, n);

	OPENSSL_cleanse(c->rbuf, n);
	if (rc != 0)
		net_conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct net_conn *c = s->data;

	(void)buf;
	if (nread == 0 || c->state >= NET_CLOSING)
		return;
	if (nread < 0) {
		if (nread == UV_EOF) {
			net_conn_close(c);
		} else {
			logd("net: read from '%s' failed: %s", c->peer, uv_strerror((int)nread));
			close_handles(c);
		}
		return;
	}
	c->last_rx = uv_now(c->loop);
	if (c->ssl == NULL) {
		on_read_plain(c, (size_t)nread);
	} else {
		ERR_clear_error();
		/* nread <= NET_READ_BUF, fits an int */
		if (BIO_write(c->rbio, c->rbuf, (int)nread) != (int)nread) {
			close_handles(c);
			return;
		}
		if (c->state == NET_HANDSHAKE && do_handshake(c) <= 0)
			return;
		read_records(c);
	}
	if (c->state == NET_OPEN)
		(void)flush_out(c); /* the answers written by on_data, in one write */
}

/* ---- flow control and deadlines ------------------------------------------- */

void net_conn_pause_read(struct net_conn *c)
{
	if (c->state != NET_OPEN || c->read_paused)
		return;
	c->read_paused = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
}

void net_conn_resume_read(struct net_conn *c)
{
	if (c->state != NET_OPEN || !c->read_paused)
		return;
	c->read_paused = false;
	c->last_rx = uv_now(c->loop); /* paused time is not idle time */
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		close_handles(c);
		return;
	}
	if (c->ssl != NULL) {
		c->rx_pending = true; /* records kept in rbio / SSL: from on_idle */
		arm_flush(c);
	}
}

static void on_deadline(uv_timer_t *t)
{
	struct net_conn *c = t->data;
	void (*cb)(struct net_conn *c) = c->deadline_cb;

	c->deadline_cb = NULL;
	if (c->state == NET_OPEN && cb != NULL)
		cb(c); /* its writes are flushed by the idle handle */
}

void net_conn_set_deadline(struct net_conn *c, unsigned ms, void (*cb)(struct net_conn *c))
{
	if (c->state != NET_OPEN)
		return;
	if (ms == 0 || cb == NULL) {
		uv_timer_stop(&c->timer);
		c->deadline_cb = NULL;
		return;
	}
	c->deadline_cb = cb;
	uv_timer_start(&c->timer, on_deadline, ms, 0);
}

/* ---- accepted connections ------------------------------------------------- */

void net__conn_start_accepted(struct net_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	uv_tcp_nodelay(&c->tcp, 1);
	uv_tcp_keepalive(&c->tcp, 1, 60);
	c->last_rx = uv_now(c->loop);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
		net__format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		close_handles(c);
		return;
	}
	if (c->ssl == NULL) {
		(void)conn_opened(c);
		return;
	}
	SSL_set_accept_state(c->ssl);
	c->state = NET_HANDSHAKE;
	uv_timer_start(&c->timer, on_timer, NET_HANDSHAKE_MS, 0);
}

/* ---- dialed connections --------------------------------------------------- */

static void on_connected(uv_connect_t *req, int status)
{
	struct net_conn *c = req->data;

	if (status == UV_ECANCELED || c->state >= NET_CLOSING)
		return;
	if (status < 0) {
		logi("net: connect to '%s' failed: %s", c->peer, uv_strerror(status));
		close_handles(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_tcp_keepalive(&c->tcp, 1, 60);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		close_handles(c);
		return;
	}
	if (c->ssl == NULL) {
		(void)conn_opened(c);
		return;
	}
	c->state = NET_HANDSHAKE;
	ERR_clear_error();
	(void)do_handshake(c); /* sends the ClientHello */
}

static int start_connect(struct net_conn *c, const struct sockaddr *sa)
{
	int r;

	c->state = NET_CONNECTING;
	c->connect_req.data = c;
	r = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connected);
	if (r < 0) {
		logi("net: connect to '%s' failed: %s", c->peer, uv_strerror(r));
		return CF_EIO;
	}
	return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct net_conn *c = req->data;

	c->gai_pending = false;
	if (c->state < NET_CLOSING) {
		if (status < 0) {
			logi("net: resolving '%s' failed: %s", c->host, uv_strerror(status));
			close_handles(c);
		} else if (start_connect(c, res->ai_addr) != 0) {
			close_handles(c);
		}
	}
	uv_freeaddrinfo(res);
	net_conn_unref(c);
}

/* Set SNI and the name or address the peer's certificate must carry. */
static int set_peer_name(struct net_conn *c)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	SSL_set_connect_state(c->ssl);
	if (inet_pton(AF_INET, c->host, tmp) == 1 || inet_pton(AF_INET6, c->host, tmp) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host) == 1 ? 0
											  : CF_EINVAL;
	if (SSL_set_tlsext_host_name(c->ssl, c->host) != 1 || SSL_set1_host(c->ssl, c->host) != 1)
		return CF_EINVAL;
	return 0;
}

int net_dial(uv_loop_t *loop, const char *addr, SSL_CTX *ctx, const struct net_proto *proto,
	     void *data, struct net_conn **out)
{
	struct sockaddr_storage ss;
	struct addrinfo hints;
	struct net_conn *c;
	char port[16];
	int rv;

	*out = NULL;
	c = net__conn_new(loop, ctx, proto, data);
	if (c == NULL)
		return CF_ENOMEM;
	c->dialed = true;
	snprintf(c->peer, sizeof(c->peer), "%s", addr);
	rv = net__split_addr(addr, c->host, sizeof(c->host), &c->port);
	if (rv == 0 && c->ssl != NULL)
		rv = set_peer_name(c);
	if (rv != 0)
		goto fail;
	ERR_clear_error();
	uv_timer_start(&c->timer, on_timer, NET_HANDSHAKE_MS, 0);
	if (net__numeric_addr(c->host, c->port, &ss) == 0) {
		rv = start_connect(c, (struct sockaddr *)&ss);
		if (rv != 0)
			goto fail;
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(port, sizeof(port), "%d", c->port);
		c->gai_req.data = c;
		if (uv_getaddrinfo(loop, &c->gai_req, on_resolved, c->host, port, &hints) != 0) {
			rv = CF_EINVAL;
			goto fail;
		}
		c->gai_pending = true;
		net_conn_ref(c); /* dropped by on_resolved */
	}
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	net__conn_abort(c);
	return rv;
}

/* ---- accessors ------------------------------------------------------------ */

int net_conn_is_open(const struct net_conn *c)
{
	return c->state == NET_OPEN;
}

void *net_conn_get_data(const struct net_conn *c)
{
	return c->data;
}

void net_conn_set_user(struct net_conn *c, void *user)
{
	c->user = user;
}

void *net_conn_get_user(const struct net_conn *c)
{
	return c->user;
}

const char *net_conn_peer(const struct net_conn *c)
{
	return c->peer;
}

int net_conn_peer_identity(const struct net_conn *c, char *region, size_t cap,
			   uint64_t *node_id)
{
	X509 *cert;

	if (cap > 0)
		region[0] = '\0';
	if (c == NULL || c->ssl == NULL || !c->opened)
		return CF_ENOTFOUND;
	cert = SSL_get0_peer_certificate(c->ssl);
	if (cert == NULL || SSL_get_verify_result(c->ssl) != X509_V_OK)
		return CF_ENOTFOUND;
	return net_tls_cert_identity(cert, region, cap, node_id) == 0 ? 0 : CF_ENOTFOUND;
}
