/*
 * One pipelined TLS connection. Requests are signed and framed straight
 * into a fixed send buffer (secure heap, never realloc'ed) and written with
 * as few SSL_write calls as the socket allows; answers are read into a fixed
 * receive buffer, cut into frames, unpacked and handed to the callback
 * registered under their call id. A call id is (sequence << 20 | slot), so a
 * lookup is one array access and ids never repeat on a connection.
 *
 * Failure modes: connect or handshake failure/timeout (open fails), a frame
 * over the cap or that does not parse (EPROTO), the peer closing (ECLOSED)
 * or a TLS/socket error (EIO). Once dead, every pending request is failed
 * through its callback exactly once.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>

#include "internal.h"
#include "sock.h"

#define SLOT_BITS 20
#define SLOT_MAX (1u << SLOT_BITS)
#define NO_SLOT UINT32_MAX
#define BUF_CAP (COFFER_MAX_FRAME + 4 + 64 * 1024)
#define READ_MIN (16 * 1024)
#define FRAME_OVERHEAD 512 /* envelope fields besides payload and operation */

struct pending {
	uint64_t call_id; /* 0 = free */
	coffer_done_cb cb;
	void *data;
	uint32_t next_free;
};

struct coffer_conn {
	struct coffer_client *c;
	size_t ep; /* endpoint index */
	int fd;
	SSL *ssl;
	int dead; /* 0 or the COFFER_E* it died with */
	uint8_t *out;
	size_t out_start, out_end;
	uint8_t *in;
	size_t in_start, in_end;
	struct pending *slots;
	uint32_t n_slots;
	uint32_t free_head;
	size_t inflight;
	uint64_t seq;
};

static void fail_all(struct coffer_conn *conn, int code, const char *what)
{
	struct coffer_error err;
	uint32_t i;

	if (!conn->dead)
		conn->dead = code;
	coffer__err(&err, code, "", "connection to '%s': %s", conn->c->endpoints[conn->ep].text,
		    what);
	for (i = 0; i < conn->n_slots; i++) {
		struct pending *p = &conn->slots[i];

		if (p->call_id == 0)
			continue;
		p->call_id = 0;
		p->next_free = conn->free_head;
		conn->free_head = i;
		conn->inflight--;
		p->cb(p->data, code, &err, NULL, 0);
	}
}

int coffer_conn_open(struct coffer_client *c, size_t i, int timeout_ms,
		     struct coffer_conn **out, struct coffer_error *err)
{
	struct coffer_conn *conn;
	int64_t deadline = coffer__now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
	int rv;

	*out = NULL;
	if (i >= c->n_endpoints)
		return coffer__err(err, COFFER_EINVAL, "", "no endpoint %zu", i);
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
		return coffer__err(err, COFFER_ENOMEM, "", "out of memory");
	conn->c = c;
	conn->ep = i;
	conn->fd = -1;
	conn->free_head = NO_SLOT;
	conn->out = secmem_alloc(BUF_CAP);
	conn->in = secmem_alloc(BUF_CAP);
	rv = coffer__err(err, COFFER_ENOMEM, "", "out of memory");
	if (conn->out == NULL || conn->in == NULL)
		goto out;
	rv = coffer__tcp_connect(c->endpoints[i].host, c->endpoints[i].port, c->endpoints[i].text,
				deadline, &conn->fd, err);
	if (rv != 0)
		goto out;
	rv = coffer__tls_connect(c->ssl_ctx, conn->fd, c->endpoints[i].host, c->endpoints[i].text,
				deadline, &conn->ssl, err);
	if (rv != 0)
		goto out;
	*out = conn;
	conn = NULL;
	rv = 0;
out:
	coffer_conn_free(conn);
	return rv;
}

void coffer_conn_free(struct coffer_conn *conn)
{
	if (conn == NULL)
		return;
	fail_all(conn, COFFER_ECLOSED, "closed");
	if (conn->ssl != NULL) {
		if (conn->dead == COFFER_ECLOSED && conn->fd >= 0)
			(void)SSL_shutdown(conn->ssl); /* best effort, non-blocking */
		SSL_free(conn->ssl);
	}
	if (conn->fd >= 0)
		close(conn->fd);
	secmem_free(conn->out);
	secmem_free(conn->in);
	free(conn->slots);
	free(conn);
}

int coffer_conn_fd(const struct coffer_conn *conn)
{
	return conn->fd;
}

short coffer_conn_events(const struct coffer_conn *conn)
{
	return (short)(POLLIN | (conn->out_end > conn->out_start ? POLLOUT : 0));
}

size_t coffer_conn_inflight(const struct coffer_conn *conn)
{
	return conn->inflight;
}

static int slot_get(struct coffer_conn *conn, uint32_t *slot)
{
	if (conn->free_head == NO_SLOT) {
		uint32_t n = conn->n_slots ? conn->n_slots * 2 : 64, i;
		struct pending *s;

		if (n > SLOT_MAX)
			return COFFER_EAGAIN;
		s = realloc(conn->slots, n * sizeof(*s));
		if (s == NULL)
			return COFFER_ENOMEM;
		for (i = conn->n_slots; i < n; i++) {
			s[i].call_id = 0;
			s[i].next_free = i + 1 < n ? i + 1 : conn->free_head;
		}
		conn->free_head = conn->n_slots;
		conn->slots = s;
		conn->n_slots = n;
	}
	*slot = conn->free_head;
	conn->free_head = conn->slots[*slot].next_free;
	return 0;
}

static void slot_put(struct coffer_conn *conn, uint32_t slot)
{
	conn->slots[slot].call_id = 0;
	conn->slots[slot].next_free = conn->free_head;
	conn->free_head = slot;
}

int coffer_conn_send(struct coffer_conn *conn, const char *operation, const uint8_t *payload,
		     size_t payload_len, coffer_done_cb cb, void *data)
{
	size_t need = payload_len + strlen(operation) + FRAME_OVERHEAD, len;
	uint32_t slot;
	uint64_t id;
	int rv;

	if (conn->dead)
		return COFFER_ECLOSED;
	if (payload_len > COFFER_MAX_FRAME)
		return COFFER_ETOOBIG;
	if (BUF_CAP - conn->out_end < need && conn->out_start > 0) {
		memmove(conn->out, conn->out + conn->out_start, conn->out_end - conn->out_start);
		conn->out_end -= conn->out_start;
		conn->out_start = 0;
	}
	if (BUF_CAP - conn->out_end < need && conn->out_end > 0)
		return COFFER_EAGAIN;
	rv = slot_get(conn, &slot);
	if (rv != 0)
		return rv;
	id = (++conn->seq << SLOT_BITS) | slot;
	rv = coffer_encode_request(conn->c, id, operation, coffer__now_date(conn->c), payload,
				   payload_len, conn->out + conn->out_end,
				   BUF_CAP - conn->out_end, &len);
	if (rv != 0) {
		slot_put(conn, slot);
		return rv;
	}
	conn->out_end += len;
	conn->slots[slot].call_id = id;
	conn->slots[slot].cb = cb;
	conn->slots[slot].data = data;
	conn->inflight++;
	return 0;
}

static int flush(struct coffer_conn *conn)
{
	while (conn->out_start < conn->out_end) {
		size_t w = 0;
		int r, e;

		ERR_clear_error();
		r = SSL_write_ex(conn->ssl, conn->out + conn->out_start,
				 conn->out_end - conn->out_start, &w);
		if (r == 1) {
			conn->out_start += w;
			continue;
		}
		e = SSL_get_error(conn->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			return 0;
		return e == SSL_ERROR_ZERO_RETURN ? COFFER_ECLOSED : COFFER_EIO;
	}
	conn->out_start = conn->out_end = 0;
	return 0;
}

static int dispatch(struct coffer_conn *conn, const uint8_t *body, size_t len)
{
	Coffer__Envelope *env = NULL;
	struct coffer_error err = {{0}, {0}};
	struct pending p;
	uint32_t slot;
	int rv;

	rv = coffer_decode_envelope(body, len, &env);
	if (rv != 0)
		return rv;
	slot = (uint32_t)(env->call_id & (SLOT_MAX - 1));
	if (!env->has_call_id || slot >= conn->n_slots || conn->slots[slot].call_id == 0 ||
	    conn->slots[slot].call_id != env->call_id) {
		coffer_response_free(env); /* an answer to nothing we asked: ignore */
		return 0;
	}
	p = conn->slots[slot];
	slot_put(conn, slot);
	conn->inflight--;
	if (env->error != NULL) {
		coffer__err(&err, COFFER_ESERVICE,
			    env->error->type ? env->error->type : "InternalServiceError", "%s",
			    env->error->message ? env->error->message : "");
		p.cb(p.data, COFFER_ESERVICE, &err, NULL, 0);
	} else {
		p.cb(p.data, 0, NULL, env->has_payload ? env->payload.data : (const uint8_t *)"",
		     env->has_payload ? env->payload.len : 0);
	}
	coffer_response_free(env);
	return 0;
}

static int parse_frames(struct coffer_conn *conn)
{
	while (conn->in_end - conn->in_start >= 4) {
		const uint8_t *h = conn->in + conn->in_start;
		size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		int rv;

		if (n == 0 || n > COFFER_MAX_FRAME)
			return COFFER_EPROTO;
		if (conn->in_end - conn->in_start < 4 + n)
			return 0;
		rv = dispatch(conn, h + 4, n);
		if (rv != 0)
			return rv;
		conn->in_start += 4 + n;
	}
	if (conn->in_start == conn->in_end)
		conn->in_start = conn->in_end = 0;
	return 0;
}

static int fill(struct coffer_conn *conn)
{
	for (;;) {
		size_t r = 0;
		int ok, e, rv;

		if (BUF_CAP - conn->in_end < READ_MIN && conn->in_start > 0) {
			memmove(conn->in, conn->in + conn->in_start, conn->in_end - conn->in_start);
			conn->in_end -= conn->in_start;
			conn->in_start = 0;
		}
		ERR_clear_error();
		ok = SSL_read_ex(conn->ssl, conn->in + conn->in_end, BUF_CAP - conn->in_end, &r);
		if (ok == 1) {
			conn->in_end += r;
			rv = parse_frames(conn);
			if (rv != 0)
				return rv;
			continue;
		}
		e = SSL_get_error(conn->ssl, ok);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return e == SSL_ERROR_ZERO_RETURN ? COFFER_ECLOSED
		       : (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) ? COFFER_ECLOSED
									    : COFFER_EIO;
	}
}

int coffer_conn_process(struct coffer_conn *conn)
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
