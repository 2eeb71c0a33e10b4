/*
 * transport: raft's connections over TCP with TCP_NODELAY and a small
 * mutually authenticated handshake of our own (protocol in transport.h).
 *
 * Dialing (connect): resolve the address (literal at once, host name through
 * uv_getaddrinfo), TCP connect, send M1 (id, address, nonce_d), read exactly
 * M2, check that the acceptor is the node raft asked for and that mac_a
 * verifies, send M3 (mac_d), then give the stream to raft through the
 * connect callback. A deadline timer (started once connected) bounds the
 * exchange. Any failure closes the socket and fires the callback with
 * RAFT_NOCONNECTION; close() cancels every dial in flight and fires their
 * callbacks with RAFT_CANCELED before its own callback.
 *
 * Accepting (listen): accept, read exactly M1 (the read buffer is sized to
 * what is still missing), answer M2 (only now: the acceptor's MAC never
 * travels before it holds the dialer's nonce), read exactly M3 (so raft's
 * first message stays in the socket), verify mac_d, then call raft's accept
 * callback with the peer's id and address. A deadline timer drops peers that
 * do not finish the handshake.
 *
 * Failures are logged as warnings with the socket's peer address (dialer:
 * the address dialed), at most one line per WARN_INTERVAL_MS per transport
 * (libraft redials every 100 ms; an unauthenticated client must not be able
 * to flood the log); the next line counts what was suppressed.
 *
 * Mutual TLS slots in at the two points marked "TLS seam": after the TCP
 * connection exists and before our handshake travels. The TLS layer would
 * run its handshake on the TCP socket, check the peer certificate, and hand
 * raft one end of a socketpair (uv_pipe_t) while pumping plaintext between
 * the other end and the TLS session; our handshake then runs inside TLS and
 * the announced id must match the certificate's identity.
 */
#include "node/transport.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/secmem.h"

#define HDR_LEN 24 /* [u64 protocol][u64 id][u64 addr_len] */
#define NONCE_LEN NODE_TRANSPORT_NONCE_LEN
#define MAC_LEN NODE_TRANSPORT_MAC_LEN
#define HS_MAX (HDR_LEN + NODE_TRANSPORT_MAX_ADDR + NONCE_LEN + MAC_LEN)
#define AUTH_LABEL "coffer-raft-auth"
#define ROLE_DIALER 'D'
#define ROLE_ACCEPTOR 'A'
#define WARN_INTERVAL_MS 1000

struct tr;

/* Reads one handshake message of the form [hdr][addr][tail] exactly. */
struct hsin {
	uint8_t buf[HS_MAX];
	size_t got, want;
	bool hdr_done;
	uint64_t id, addr_len;
};

struct dial {
	struct tr *tr;
	struct dial *prev, *next;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	uv_tcp_t *tcp; /* raft_malloc'ed: raft frees it once handed over */
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_connect_t connect;
	uv_write_t w_hello, w_mac;
	uint8_t hello[HDR_LEN + NODE_TRANSPORT_MAX_ADDR + NONCE_LEN]; /* M1 */
	size_t hello_len;
	uint8_t nonce[NONCE_LEN]; /* nonce_d */
	uint8_t mac[MAC_LEN];	  /* M3 */
	struct hsin in;		  /* M2 */
	raft_id peer_id;
	char address[NODE_TRANSPORT_MAX_ADDR + 1]; /* as dialed, for logs */
	int status;
	unsigned open; /* handles not yet closed (tcp, timer) */
	bool resolving;
	bool aborted; /* transport closing while resolving */
	bool done;    /* failed, cancelled or handed to raft */
	bool handed;  /* the stream is raft's */
};

struct incoming {
	struct tr *tr;
	struct incoming *prev, *next;
	uv_tcp_t *tcp; /* raft_malloc'ed; NULL once handed to raft or closed */
	uv_timer_t timer;
	uv_write_t write;
	struct hsin in; /* M1, then M3 appended */
	uint8_t reply[HDR_LEN + NODE_TRANSPORT_MAX_ADDR + NONCE_LEN + MAC_LEN]; /* M2 */
	size_t reply_len;
	uint8_t nonce[NONCE_LEN]; /* nonce_a */
	char addr[NODE_TRANSPORT_MAX_ADDR + 1];
	char peer[64]; /* socket peer address, for logs */
	unsigned open; /* handles not yet closed (tcp, timer) */
	bool dropping;
	bool replied;  /* M2 sent: now reading M3 */
	bool writing;  /* M2 write in flight */
	bool verified; /* mac_d checked: hand over once M2 is written */
};

struct tr {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	raft_id id;
	char address[NODE_TRANSPORT_MAX_ADDR + 1];
	uint8_t *key; /* secmem, NODE_TRANSPORT_KEY_LEN; NULL: no authentication */
	uv_tcp_t listener;
	enum { L_NONE, L_OPEN, L_CLOSING } listener_state;
	raft_uv_accept_cb accept_cb;
	struct dial *dials;
	struct incoming *incomings;
	bool closing;
	raft_uv_transport_close_cb close_cb;
	bool warned;
	uint64_t warn_next;
	unsigned warn_suppressed;
};

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void tr_warn(struct tr *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr_warn(struct tr *tr, const char *fmt, ...)
{
	char msg[256];
	uint64_t now = uv_now(tr->loop);
	va_list ap;

	if (tr->warned && now < tr->warn_next) {
		tr->warn_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (tr->warn_suppressed > 0)
		logw("raft transport: %s (%u more handshake warnings suppressed)", msg,
		     tr->warn_suppressed);
	else
		logw("raft transport: %s", msg);
	tr->warned = true;
	tr->warn_next = now + WARN_INTERVAL_MS;
	tr->warn_suppressed = 0;
}

/* "ip:port" of the socket's peer (never data the peer sent). */
static void peer_name(uv_tcp_t *tcp, char *out, size_t size)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	char ip[48] = "?";
	int port = 0;

	snprintf(out, size, "?");
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) != 0)
		return;
	if (sa.ss_family == AF_INET) {
		uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
		port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		snprintf(out, size, "%s:%d", ip, port);
	} else if (sa.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
		port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
		snprintf(out, size, "[%s]:%d", ip, port);
	}
}

/* ---- handshake messages --------------------------------------------- */

static size_t hs_header(uint8_t *p, raft_id id, const char *address)
{
	size_t alen = strlen(address);

	put64(p, NODE_TRANSPORT_PROTOCOL);
	put64(p + 8, id);
	put64(p + 16, alen);
	memcpy(p + HDR_LEN, address, alen);
	return HDR_LEN + alen;
}

/* mac = HMAC(key, label || role || u64 id || u64 alen || addr || nd || na);
 * zeros without a key. */
static int hs_mac(const uint8_t *key, uint8_t role, uint64_t id, const uint8_t *addr,
		  size_t alen, const uint8_t *nonce_d, const uint8_t *nonce_a, uint8_t out[MAC_LEN])
{
	uint8_t m[sizeof AUTH_LABEL - 1 + 1 + 16 + NODE_TRANSPORT_MAX_ADDR + 2 * NONCE_LEN];
	size_t n = sizeof AUTH_LABEL - 1;

	if (key == NULL) {
		memset(out, 0, MAC_LEN);
		return 0;
	}
	if (alen > NODE_TRANSPORT_MAX_ADDR)
		return CF_EINVAL;
	memcpy(m, AUTH_LABEL, n);
	m[n++] = role;
	put64(m + n, id);
	put64(m + n + 8, alen);
	n += 16;
	memcpy(m + n, addr, alen);
	n += alen;
	memcpy(m + n, nonce_d, NONCE_LEN);
	memcpy(m + n + NONCE_LEN, nonce_a, NONCE_LEN);
	n += 2 * NONCE_LEN;
	return crypto_hmac_sha256(key, NODE_TRANSPORT_KEY_LEN, m, n, out);
}

/* true if mac is the peer's MAC over these fields (always without a key). */
static bool hs_verify(const uint8_t *key, uint8_t role, uint64_t id, const uint8_t *addr,
		      size_t alen, const uint8_t *nonce_d, const uint8_t *nonce_a,
		      const uint8_t *mac)
{
	uint8_t want[MAC_LEN];

	if (key == NULL)
		return true;
	if (hs_mac(key, role, id, addr, alen, nonce_d, nonce_a, want) != 0)
		return false;
	return crypto_equal(want, mac, MAC_LEN) == 1;
}

static void hsin_init(struct hsin *h)
{
	memset(h, 0, sizeof *h);
	h->want = HDR_LEN;
}

/* Only what is still missing: nothing beyond the handshake is consumed. */
static void hsin_alloc(struct hsin *h, uv_buf_t *buf)
{
	*buf = uv_buf_init((char *)h->buf + h->got, (unsigned)(h->want - h->got));
}

/* Account for n bytes read; tail is what follows the address. 1: message
 * complete, 0: more to read, -1: bad header (protocol, id, length). */
static int hsin_feed(struct hsin *h, size_t n, size_t tail)
{
	h->got += n;
	if (!h->hdr_done && h->got == HDR_LEN) {
		h->hdr_done = true;
		h->id = get64(h->buf + 8);
		h->addr_len = get64(h->buf + 16);
		if (get64(h->buf) != NODE_TRANSPORT_PROTOCOL || h->id == 0 || h->addr_len == 0 ||
		    h->addr_len > NODE_TRANSPORT_MAX_ADDR)
			return -1;
		h->want = HDR_LEN + (size_t)h->addr_len + tail;
	}
	return h->got == h->want ? 1 : 0;
}

static const uint8_t *hsin_addr(const struct hsin *h)
{
	return h->buf + HDR_LEN;
}

static bool hsin_addr_ok(const struct hsin *h)
{
	return memchr(hsin_addr(h), '\0', (size_t)h->addr_len) == NULL;
}

/* Why a header was refused, for the log. */
static const char *hsin_why(const struct hsin *h)
{
	if (get64(h->buf) != NODE_TRANSPORT_PROTOCOL)
		return "another transport protocol (old node or not a raft peer)";
	if (h->id == 0)
		return "node id 0";
	return "bad address length";
}

/* Split "host:port" or "[v6]:port". */
static int split_address(const char *address, char *host, size_t host_size, char *port,
			 size_t port_size)
{
	const char *colon, *h = address;
	size_t hlen;
	char *end;
	unsigned long p;

	if (address[0] == '[') {
		const char *close = strchr(address, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		h = address + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(address, ':');
		if (colon == NULL || memchr(address, ':', (size_t)(colon - address)) != NULL)
			return -1;
		hlen = (size_t)(colon - address);
	}
	if (hlen == 0 || hlen >= host_size)
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p == 0 || p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, port_size, "%lu", p);
	return 0;
}

/* Literal IPv4/IPv6 address into sa; -1 if host is a name. */
static int literal_sockaddr(const char *host, const char *port, struct sockaddr_storage *sa)
{
	int p = atoi(port);

	if (uv_ip4_addr(host, p, (struct sockaddr_in *)sa) == 0)
		return 0;
	if (uv_ip6_addr(host, p, (struct sockaddr_in6 *)sa) == 0)
		return 0;
	return -1;
}

static void maybe_fire_close(struct tr *tr)
{
	raft_uv_transport_close_cb cb;

	if (!tr->closing || tr->close_cb == NULL || tr->listener_state != L_NONE ||
	    tr->dials != NULL || tr->incomings != NULL)
		return;
	cb = tr->close_cb;
	tr->close_cb = NULL;
	cb(tr->t);
}

/* ---- dialing -------------------------------------------------------- */

static void dial_unlink(struct dial *d)
{
	struct tr *tr = d->tr;

	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		tr->dials = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
}

/* Both handles (or, once handed over, the timer alone) end here. */
static void dial_close_cb(uv_handle_t *h)
{
	struct dial *d = h->data;
	struct tr *tr = d->tr;
	struct raft_uv_connect *req = d->req;
	raft_uv_connect_cb cb = d->handed ? NULL : d->cb;
	int status = d->status;

	if (h == (uv_handle_t *)d->tcp) {
		raft_free(d->tcp);
		d->tcp = NULL;
	}
	if (--d->open > 0)
		return;
	dial_unlink(d);
	free(d);
	if (cb != NULL)
		cb(req, NULL, status);
	maybe_fire_close(tr);
}

static void dial_fail(struct dial *d, int status)
{
	if (d->done)
		return;
	d->done = true;
	d->status = status;
	uv_close((uv_handle_t *)d->tcp, dial_close_cb); /* cancels connect/writes */
	uv_close((uv_handle_t *)&d->timer, dial_close_cb);
}

/* M3 is written: the stream is raft's. d lives on until its timer closed
 * (still linked, so close() waits for it; done, so close() skips it). */
static void dial_handoff(struct dial *d)
{
	uv_stream_t *stream = (uv_stream_t *)d->tcp;

	d->done = true;
	d->handed = true;
	uv_read_stop(stream);
	d->tcp = NULL;
	d->open--;
	stream->data = NULL; /* raft sets its own */
	uv_close((uv_handle_t *)&d->timer, dial_close_cb);
	d->cb(d->req, stream, 0);
}

static void dial_timeout_cb(uv_timer_t *timer)
{
	struct dial *d = timer->data;

	tr_warn(d->tr, "peer %s did not complete the handshake in time", d->address);
	dial_fail(d, RAFT_NOCONNECTION);
}

static void dial_hello_cb(uv_write_t *w, int status)
{
	struct dial *d = w->data;

	if (d->done)
		return; /* cancelled: dial_close_cb finishes */
	if (status != 0) {
		logd("raft transport: handshake to %s failed: %s", d->address, uv_strerror(status));
		dial_fail(d, RAFT_NOCONNECTION);
	}
}

static void dial_mac_cb(uv_write_t *w, int status)
{
	struct dial *d = w->data;

	if (d->done)
		return;
	if (status != 0) {
		logd("raft transport: handshake to %s failed: %s", d->address, uv_strerror(status));
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	dial_handoff(d);
}

static void dial_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dial *d = h->data;

	(void)suggested;
	hsin_alloc(&d->in, buf);
}

/* M2 complete: authenticate the acceptor, then answer with mac_d. */
static void dial_got_reply(struct dial *d)
{
	struct tr *tr = d->tr;
	const uint8_t *addr = hsin_addr(&d->in);
	size_t alen = (size_t)d->in.addr_len;
	const uint8_t *nonce_a = addr + alen;
	const uint8_t *mac_a = nonce_a + NONCE_LEN;
	uv_buf_t buf;

	if (!hsin_addr_ok(&d->in)) {
		tr_warn(tr, "peer %s: address with a NUL byte in its handshake", d->address);
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	if (d->in.id != d->peer_id) {
		tr_warn(tr, "peer %s answered as node %llu, expected node %llu", d->address,
			(unsigned long long)d->in.id, (unsigned long long)d->peer_id);
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	if (!hs_verify(tr->key, ROLE_ACCEPTOR, d->in.id, addr, alen, d->nonce, nonce_a, mac_a)) {
		tr_warn(tr, "peer %s failed authentication (different peer key?)", d->address);
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	uv_read_stop((uv_stream_t *)d->tcp);
	if (hs_mac(tr->key, ROLE_DIALER, tr->id, (const uint8_t *)tr->address,
		   strlen(tr->address), d->nonce, nonce_a, d->mac) != 0) {
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	buf = uv_buf_init((char *)d->mac, MAC_LEN);
	if (uv_write(&d->w_mac, (uv_stream_t *)d->tcp, &buf, 1, dial_mac_cb) != 0)
		dial_fail(d, RAFT_NOCONNECTION);
}

static void dial_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct dial *d = s->data;
	int r;

	(void)buf;
	if (nread == 0 || d->done)
		return;
	if (nread < 0) {
		tr_warn(d->tr, "peer %s closed the connection during the handshake (%s)",
			d->address, uv_strerror((int)nread));
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	r = hsin_feed(&d->in, (size_t)nread, NONCE_LEN + MAC_LEN);
	if (r < 0) {
		tr_warn(d->tr, "peer %s: refused handshake: %s", d->address, hsin_why(&d->in));
		dial_fail(d, RAFT_NOCONNECTION);
	} else if (r > 0) {
		dial_got_reply(d);
	}
}

static void dial_connect_cb(uv_connect_t *c, int status)
{
	struct dial *d = c->data;
	struct tr *tr = d->tr;
	uv_buf_t buf;
	int rv;

	if (d->done)
		return;
	if (status != 0) {
		logd("raft transport: connect to %s failed: %s", d->address, uv_strerror(status));
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	/* Already requested before connect; set again now that the socket
	 * exists, in case the platform dropped the early request. */
	uv_tcp_nodelay(d->tcp, 1);
	/* TLS seam (dialer): run the TLS client handshake on d->tcp here and
	 * continue with the plaintext end of a socketpair instead of d->tcp. */
	if (crypto_random(d->nonce, NONCE_LEN) != 0) {
		logw("raft transport: random generator failed");
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	d->hello_len = hs_header(d->hello, tr->id, tr->address);
	memcpy(d->hello + d->hello_len, d->nonce, NONCE_LEN);
	d->hello_len += NONCE_LEN;
	buf = uv_buf_init((char *)d->hello, (unsigned)d->hello_len);
	rv = uv_write(&d->w_hello, (uv_stream_t *)d->tcp, &buf, 1, dial_hello_cb);
	if (rv == 0)
		rv = uv_read_start((uv_stream_t *)d->tcp, dial_alloc_cb, dial_read_cb);
	if (rv == 0)
		rv = uv_timer_start(&d->timer, dial_timeout_cb, NODE_TRANSPORT_HANDSHAKE_MS, 0);
	if (rv != 0)
		dial_fail(d, RAFT_NOCONNECTION);
}

static void dial_connect(struct dial *d, const struct sockaddr *sa)
{
	int rv = uv_tcp_connect(&d->connect, d->tcp, sa, dial_connect_cb);

	if (rv != 0) {
		logd("raft transport: connect: %s", uv_strerror(rv));
		dial_fail(d, RAFT_NOCONNECTION);
	}
}

static void dial_gai_cb(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
	struct dial *d = g->data;

	d->resolving = false;
	if (d->aborted || d->tr->closing) {
		uv_freeaddrinfo(res);
		dial_fail(d, RAFT_CANCELED);
		return;
	}
	if (status != 0 || res == NULL) {
		logd("raft transport: resolve failed: %s", uv_strerror(status));
		uv_freeaddrinfo(res);
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	dial_connect(d, res->ai_addr); /* libuv copies the address */
	uv_freeaddrinfo(res);
}

static int trConnect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
		     const char *address, raft_uv_connect_cb cb)
{
	struct tr *tr = t->impl;
	struct sockaddr_storage sa;
	char host[NODE_TRANSPORT_MAX_ADDR + 1], port[8];
	struct dial *d;
	int rv;

	if (tr->closing)
		return RAFT_CANCELED;
	if (split_address(address, host, sizeof host, port, sizeof port) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "bad raft address '%.200s'", address);
		return RAFT_NOCONNECTION;
	}
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return RAFT_NOMEM;
	d->tcp = raft_malloc(sizeof *d->tcp);
	if (d->tcp == NULL) {
		free(d);
		return RAFT_NOMEM;
	}
	d->tr = tr;
	d->req = req;
	d->cb = cb;
	req->cb = cb;
	d->peer_id = id;
	snprintf(d->address, sizeof d->address, "%s", address);
	d->connect.data = d;
	d->w_hello.data = d;
	d->w_mac.data = d;
	d->gai.data = d;
	hsin_init(&d->in);

	rv = uv_tcp_init(tr->loop, d->tcp);
	if (rv != 0) {
		raft_free(d->tcp);
		free(d);
		return RAFT_NOCONNECTION;
	}
	d->tcp->data = d;
	uv_timer_init(tr->loop, &d->timer);
	d->timer.data = d;
	d->open = 2;
	uv_tcp_nodelay(d->tcp, 1); /* applied when the socket is created */
	d->next = tr->dials;
	if (tr->dials != NULL)
		tr->dials->prev = d;
	tr->dials = d;

	/* From here every failure reaches raft through cb. */
	if (literal_sockaddr(host, port, &sa) == 0) {
		dial_connect(d, (struct sockaddr *)&sa);
		return 0;
	}
	{
		struct addrinfo hints;
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		rv = uv_getaddrinfo(tr->loop, &d->gai, dial_gai_cb, host, port, &hints);
	}
	if (rv != 0)
		dial_fail(d, RAFT_NOCONNECTION);
	else
		d->resolving = true;
	return 0;
}

static void dial_abort(struct dial *d)
{
	if (d->done)
		return; /* failing already, or raft's */
	if (d->resolving) {
		/* The gai callback always runs (UV_EAI_CANCELED if cancel
		 * worked) and fails the dial there. */
		d->aborted = true;
		uv_cancel((uv_req_t *)&d->gai);
		return;
	}
	dial_fail(d, RAFT_CANCELED); /* pending connect/writes get ECANCELED */
}

/* ---- accepting ------------------------------------------------------ */

static void incoming_maybe_free(struct incoming *in)
{
	struct tr *tr = in->tr;

	if (in->open > 0)
		return;
	if (in->prev != NULL)
		in->prev->next = in->next;
	else
		tr->incomings = in->next;
	if (in->next != NULL)
		in->next->prev = in->prev;
	free(in);
	maybe_fire_close(tr);
}

static void incoming_tcp_close_cb(uv_handle_t *h)
{
	struct incoming *in = h->data;

	raft_free(h);
	in->open--;
	incoming_maybe_free(in);
}

static void incoming_timer_close_cb(uv_handle_t *h)
{
	struct incoming *in = h->data;

	in->open--;
	incoming_maybe_free(in);
}

static void incoming_drop(struct incoming *in)
{
	if (in->dropping)
		return;
	in->dropping = true;
	if (in->tcp != NULL) {
		uv_close((uv_handle_t *)in->tcp, incoming_tcp_close_cb); /* cancels M2 */
		in->tcp = NULL;
	}
	uv_close((uv_handle_t *)&in->timer, incoming_timer_close_cb);
}

static void incoming_timeout_cb(uv_timer_t *timer)
{
	struct incoming *in = timer->data;

	tr_warn(in->tr, "peer %s did not complete the handshake in time", in->peer);
	incoming_drop(in);
}

static void incoming_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct incoming *in = h->data;

	(void)suggested;
	hsin_alloc(&in->in, buf);
}

static void incoming_handoff(struct incoming *in)
{
	struct tr *tr = in->tr;
	uv_stream_t *stream = (uv_stream_t *)in->tcp;

	in->tcp = NULL; /* raft's now */
	in->open--;
	stream->data = NULL;
	/* The timer's close callback frees in (and its addr) later, so the
	 * address stays valid during accept_cb. */
	in->dropping = true;
	uv_close((uv_handle_t *)&in->timer, incoming_timer_close_cb);
	tr->accept_cb(tr->t, in->in.id, in->addr, stream);
}

static void incoming_write_cb(uv_write_t *w, int status)
{
	struct incoming *in = w->data;

	in->writing = false;
	if (in->dropping)
		return; /* cancelled */
	if (status != 0) {
		logd("raft transport: handshake reply to %s failed: %s", in->peer,
		     uv_strerror(status));
		incoming_drop(in);
		return;
	}
	if (in->verified)
		incoming_handoff(in);
}

/* M1 complete: answer with our id, address, nonce_a and mac_a. */
static void incoming_reply(struct incoming *in)
{
	struct tr *tr = in->tr;
	const uint8_t *addr = hsin_addr(&in->in);
	size_t alen = (size_t)in->in.addr_len;
	uv_buf_t buf;
	size_t n;

	if (!hsin_addr_ok(&in->in)) {
		tr_warn(tr, "peer %s: address with a NUL byte in its handshake", in->peer);
		incoming_drop(in);
		return;
	}
	memcpy(in->addr, addr, alen);
	in->addr[alen] = '\0';
	if (crypto_random(in->nonce, NONCE_LEN) != 0) {
		logw("raft transport: random generator failed");
		incoming_drop(in);
		return;
	}
	n = hs_header(in->reply, tr->id, tr->address);
	memcpy(in->reply + n, in->nonce, NONCE_LEN);
	if (hs_mac(tr->key, ROLE_ACCEPTOR, tr->id, (const uint8_t *)tr->address,
		   strlen(tr->address), addr + alen /* nonce_d */, in->nonce,
		   in->reply + n + NONCE_LEN) != 0) {
		incoming_drop(in);
		return;
	}
	in->reply_len = n + NONCE_LEN + MAC_LEN;
	buf = uv_buf_init((char *)in->reply, (unsigned)in->reply_len);
	if (uv_write(&in->write, (uv_stream_t *)in->tcp, &buf, 1, incoming_write_cb) != 0) {
		incoming_drop(in);
		return;
	}
	in->writing = true;
	in->replied = true;
	in->in.want += MAC_LEN; /* M3 follows M1 in the same buffer */
}

/* M3 complete: check the dialer's MAC. */
static void incoming_check(struct incoming *in)
{
	const uint8_t *addr = hsin_addr(&in->in);
	size_t alen = (size_t)in->in.addr_len;
	const uint8_t *nonce_d = addr + alen;
	const uint8_t *mac_d = nonce_d + NONCE_LEN;

	uv_read_stop((uv_stream_t *)in->tcp);
	if (!hs_verify(in->tr->key, ROLE_DIALER, in->in.id, addr, alen, nonce_d, in->nonce,
		       mac_d)) {
		tr_warn(in->tr, "peer %s (announcing node %llu) failed authentication "
			"(different peer key?)", in->peer, (unsigned long long)in->in.id);
		incoming_drop(in);
		return;
	}
	in->verified = true;
	if (!in->writing)
		incoming_handoff(in);
}

static void incoming_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct incoming *in = s->data;
	int r;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		tr_warn(in->tr, "peer %s closed the connection during the handshake (%zu bytes)",
			in->peer, in->in.got);
		incoming_drop(in);
		return;
	}
	r = hsin_feed(&in->in, (size_t)nread, NONCE_LEN);
	if (r < 0) {
		tr_warn(in->tr, "peer %s: refused handshake: %s", in->peer, hsin_why(&in->in));
		incoming_drop(in);
	} else if (r > 0) {
		if (in->replied)
			incoming_check(in);
		else
			incoming_reply(in);
	}
}

static void listener_connection_cb(uv_stream_t *server, int status)
{
	struct tr *tr = server->data;
	struct incoming *in;
	int rv;

	if (status != 0) {
		logw("raft transport: accept: %s", uv_strerror(status));
		return;
	}
	if (tr->closing)
		return;
	in = calloc(1, sizeof *in);
	if (in == NULL)
		return;
	in->tcp = raft_malloc(sizeof *in->tcp);
	if (in->tcp == NULL) {
		free(in);
		return;
	}
	in->tr = tr;
	hsin_init(&in->in);
	snprintf(in->peer, sizeof in->peer, "?");
	uv_tcp_init(tr->loop, in->tcp);
	uv_timer_init(tr->loop, &in->timer);
	in->tcp->data = in;
	in->timer.data = in;
	in->write.data = in;
	in->open = 2;
	in->next = tr->incomings;
	if (tr->incomings != NULL)
		tr->incomings->prev = in;
	tr->incomings = in;

	rv = uv_accept(server, (uv_stream_t *)in->tcp);
	if (rv == 0) {
		peer_name(in->tcp, in->peer, sizeof in->peer);
		rv = uv_tcp_nodelay(in->tcp, 1);
	}
	/* TLS seam (acceptor): run the TLS server handshake on in->tcp here,
	 * then read our handshake from the plaintext side. */
	if (rv == 0)
		rv = uv_read_start((uv_stream_t *)in->tcp, incoming_alloc_cb, incoming_read_cb);
	if (rv == 0)
		rv = uv_timer_start(&in->timer, incoming_timeout_cb, NODE_TRANSPORT_HANDSHAKE_MS, 0);
	if (rv != 0) {
		logw("raft transport: accepting a peer: %s", uv_strerror(rv));
		incoming_drop(in);
	}
}

static void listener_close_cb(uv_handle_t *h)
{
	struct tr *tr = h->data;

	tr->listener_state = L_NONE;
	maybe_fire_close(tr);
}

static int trListen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct tr *tr = t->impl;
	struct sockaddr_storage sa;
	char host[NODE_TRANSPORT_MAX_ADDR + 1], port[8];
	uv_getaddrinfo_t gai;
	struct addrinfo hints;
	int rv;

	if (split_address(tr->address, host, sizeof host, port, sizeof port) != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "bad raft address '%.200s'", tr->address);
		return RAFT_INVALID;
	}
	if (literal_sockaddr(host, port, &sa) != 0) {
		/* Start-up only: a synchronous lookup is acceptable here. */
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		rv = uv_getaddrinfo(tr->loop, &gai, NULL, host, port, &hints);
		if (rv != 0 || gai.addrinfo == NULL) {
			snprintf(t->errmsg, sizeof t->errmsg, "resolve '%.200s': %s", host,
				 uv_strerror(rv));
			return RAFT_IOERR;
		}
		memcpy(&sa, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
		uv_freeaddrinfo(gai.addrinfo);
	}
	rv = uv_tcp_init(tr->loop, &tr->listener);
	if (rv != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "listen: %s", uv_strerror(rv));
		return RAFT_IOERR;
	}
	tr->listener.data = tr;
	tr->listener_state = L_OPEN;
	tr->accept_cb = cb;
	rv = uv_tcp_bind(&tr->listener, (struct sockaddr *)&sa, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&tr->listener, 128, listener_connection_cb);
	if (rv != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "listen on '%.200s': %s", tr->address,
			 uv_strerror(rv));
		tr->listener_state = L_CLOSING;
		uv_close((uv_handle_t *)&tr->listener, listener_close_cb);
		return RAFT_IOERR;
	}
	return 0;
}

/* ---- lifecycle ------------------------------------------------------ */

static int trInit(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct tr *tr = t->impl;
	size_t n = strlen(address);

	if (n == 0 || n > NODE_TRANSPORT_MAX_ADDR) {
		snprintf(t->errmsg, sizeof t->errmsg, "raft address too long or empty");
		return RAFT_INVALID;
	}
	tr->id = id;
	memcpy(tr->address, address, n + 1);
	return 0;
}

static void trClose(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct tr *tr = t->impl;
	struct dial *d, *dnext;
	struct incoming *in, *inext;

	tr->closing = true;
	tr->close_cb = cb;
	if (tr->listener_state == L_OPEN) {
		tr->listener_state = L_CLOSING;
		uv_close((uv_handle_t *)&tr->listener, listener_close_cb);
	}
	for (d = tr->dials; d != NULL; d = dnext) {
		dnext = d->next;
		dial_abort(d);
	}
	for (in = tr->incomings; in != NULL; in = inext) {
		inext = in->next;
		incoming_drop(in);
	}
	maybe_fire_close(tr);
}

int node__transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
			 const uint8_t *peer_key)
{
	struct tr *tr = calloc(1, sizeof *tr);

	if (tr == NULL)
		return CF_ENOMEM;
	if (peer_key != NULL) {
		tr->key = secmem_alloc(NODE_TRANSPORT_KEY_LEN);
		if (tr->key == NULL) {
			free(tr);
			return CF_ENOMEM;
		}
		memcpy(tr->key, peer_key, NODE_TRANSPORT_KEY_LEN);
	}
	tr->t = t;
	tr->loop = loop;
	memset(t, 0, sizeof *t);
	t->version = 1;
	t->impl = tr;
	t->init = trInit;
	t->listen = trListen;
	t->connect = trConnect;
	t->close = trClose;
	return 0;
}

void node__transport_release(struct raft_uv_transport *t)
{
	struct tr *tr = t->impl;

	if (tr != NULL)
		secmem_free(tr->key);
	free(tr);
	t->impl = NULL;
}
