/*
 * transport: raft's connections over TCP with TCP_NODELAY, mutual TLS 1.3
 * and a small mutually authenticated handshake of our own inside it
 * (protocol in transport.h).
 *
 * Dialing (connect): resolve the address (literal at once, host name through
 * uv_getaddrinfo), TCP connect, TLS (a pump, below: client side, the peer's
 * certificate must name the member raft asked for; on success the dial
 * continues on the plaintext end of a socketpair), send M1 (id, address, nonce_d), read exactly
 * M2, check that the acceptor is the node raft asked for and that mac_a
 * verifies, send M3 (mac_d), then give the stream to raft through the
 * connect callback. A deadline timer (started once connected) bounds the
 * exchange. Any failure closes the socket and fires the callback with
 * RAFT_NOCONNECTION; close() cancels every dial in flight and fires their
 * callbacks with RAFT_CANCELED before its own callback.
 *
 * Accepting (listen): accept (refused at once beyond the caps on
 * connections still in their handshake, total and per source address),
 * TLS (a pump, server side; the certificate's node id is remembered), read
 * exactly M1 (the read buffer is sized to
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
 * TLS seam: a pump owns the TCP socket and an SSL object on memory BIOs.
 * It runs the TLS handshake, checks the peer certificate (chain to the CA
 * by OpenSSL, SAN URI coffer://<region>/<id> here), derives the exporter
 * value our MACs bind, creates a socketpair and hands the dial or incoming
 * one end (raft_malloc'ed uv_pipe_t); from then on it lives on its own,
 * copying plaintext between its end and the TLS session. Back-pressure: a
 * side stops reading while the other side's write queue exceeds PUMP_HIGH
 * and resumes below PUMP_LOW. EOF, a reset, a TLS error (an altered record)
 * on either side closes both: the other end sees EOF and raft redials. The
 * transport's close() closes every pump and waits for them.
 */
#include "node/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "net/net.h"
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
#define EKM_LEN 32
#define EKM_LABEL "EXPORTER-coffer-raft-auth"
#define PUMP_BUF (64u * 1024u)
#define PUMP_HIGH (1u << 20)  /* pause the other side above this write queue */
#define PUMP_LOW (256u << 10) /* and resume below this */

struct tr;
struct pump;

/* The pump's handshake result for its owner (dial or incoming): 0 and a
 * raft_malloc'ed plaintext stream (owner's now), or non-zero and NULL. */
typedef void (*pump_ready_cb)(void *owner, uv_stream_t *plain, const uint8_t *ekm,
			      raft_id cert_id, int status);

struct pump {
	struct tr *tr;
	struct pump *prev, *next;
	uv_tcp_t *tcp;	 /* raft_malloc'ed (allocated as raft's stream) */
	uv_pipe_t inner; /* our end of the socketpair */
	SSL *ssl;
	BIO *rbio, *wbio;
	pump_ready_cb ready_cb; /* NULL once fired or the owner left */
	void *owner;
	raft_id expect_id; /* dialer: the member raft asked for */
	raft_id cert_id;   /* the peer certificate's node id */
	uint8_t ekm[EKM_LEN];
	char peer[64]; /* for logs */
	uint8_t *tcp_buf, *inner_buf; /* PUMP_BUF each */
	unsigned open;		      /* handles not yet closed */
	bool secure;		      /* handshake done, socketpair made */
	bool inner_init;
	bool tcp_paused, inner_paused; /* reading stopped for back-pressure */
	bool closing;
};

/* One queued write: the bytes follow the struct. */
struct pwrite {
	uv_write_t req;
	struct pump *p;
	size_t len;
	uint8_t data[];
};

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
	uv_tcp_t *tcp; /* raft_malloc'ed; with TLS handed to the pump once connected */
	uv_stream_t *stream; /* our handshake runs here: tcp, or the pump's plaintext end */
	struct pump *pump;   /* TLS handshake in progress */
	uint8_t ekm[EKM_LEN];
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
	unsigned open; /* handles not yet closed (tcp or stream, timer) */
	bool resolving;
	bool aborted; /* transport closing while resolving */
	bool done;    /* failed, cancelled or handed to raft */
	bool handed;  /* the stream is raft's */
};

struct incoming {
	struct tr *tr;
	struct incoming *prev, *next;
	uv_tcp_t *tcp; /* raft_malloc'ed; NULL once the pump has it, handed or closed */
	uv_stream_t *stream; /* our handshake: tcp or the pump's plaintext end */
	struct pump *pump;   /* TLS handshake in progress */
	uint8_t ekm[EKM_LEN];
	raft_id cert_id; /* the peer certificate's node id (TLS) */
	char ip[48];	 /* source address, for the per-source cap */
	uv_timer_t timer;
	uv_write_t write;
	struct hsin in; /* M1, then M3 appended */
	uint8_t reply[HDR_LEN + NODE_TRANSPORT_MAX_ADDR + NONCE_LEN + MAC_LEN]; /* M2 */
	size_t reply_len;
	uint8_t nonce[NONCE_LEN]; /* nonce_a */
	char addr[NODE_TRANSPORT_MAX_ADDR + 1];
	char peer[64]; /* socket peer address, for logs */
	unsigned open; /* handles not yet closed (tcp or stream, timer) */
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
	char region[NODE_TRANSPORT_MAX_REGION + 1];
	SSL_CTX *tls_server, *tls_client; /* NULL: plain TCP (tests only) */
	struct pump *pumps;
	unsigned n_incoming;		/* in their handshake */
	unsigned cap_total, cap_source; /* on n_incoming: total, per source */
	unsigned refused;		/* beyond a cap, since the last warning */
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

/* What every MAC of one connection binds besides its own fields. */
struct hs_bind {
	const char *region;
	const uint8_t *ekm; /* EKM_LEN bytes */
};

/* mac = HMAC(key, label || role || u64 rlen || region || u64 id || u64 alen ||
 * addr || nd || na || ekm); zeros without a key. */
static int hs_mac(const uint8_t *key, const struct hs_bind *b, uint8_t role, uint64_t id,
		  const uint8_t *addr, size_t alen, const uint8_t *nonce_d, const uint8_t *nonce_a,
		  uint8_t out[MAC_LEN])
{
	uint8_t m[sizeof AUTH_LABEL - 1 + 1 + 8 + NODE_TRANSPORT_MAX_REGION + 16 +
		  NODE_TRANSPORT_MAX_ADDR + 2 * NONCE_LEN + EKM_LEN];
	size_t n = sizeof AUTH_LABEL - 1, rlen = strlen(b->region);

	if (key == NULL) {
		memset(out, 0, MAC_LEN);
		return 0;
	}
	if (alen > NODE_TRANSPORT_MAX_ADDR || rlen > NODE_TRANSPORT_MAX_REGION)
		return CF_EINVAL;
	memcpy(m, AUTH_LABEL, n);
	m[n++] = role;
	put64(m + n, rlen);
	n += 8;
	memcpy(m + n, b->region, rlen);
	n += rlen;
	put64(m + n, id);
	put64(m + n + 8, alen);
	n += 16;
	memcpy(m + n, addr, alen);
	n += alen;
	memcpy(m + n, nonce_d, NONCE_LEN);
	memcpy(m + n + NONCE_LEN, nonce_a, NONCE_LEN);
	n += 2 * NONCE_LEN;
	memcpy(m + n, b->ekm, EKM_LEN);
	n += EKM_LEN;
	return crypto_hmac_sha256(key, NODE_TRANSPORT_KEY_LEN, m, n, out);
}

/* true if mac is the peer's MAC over these fields (always without a key). */
static bool hs_verify(const uint8_t *key, const struct hs_bind *b, uint8_t role, uint64_t id,
		      const uint8_t *addr, size_t alen, const uint8_t *nonce_d,
		      const uint8_t *nonce_a, const uint8_t *mac)
{
	uint8_t want[MAC_LEN];

	if (key == NULL)
		return true;
	if (hs_mac(key, b, role, id, addr, alen, nonce_d, nonce_a, want) != 0)
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
	    tr->dials != NULL || tr->incomings != NULL || tr->pumps != NULL)
		return;
	cb = tr->close_cb;
	tr->close_cb = NULL;
	cb(tr->t);
}

/* ---- TLS pump --------------------------------------------------------- */

static void pump_close(struct pump *p);

static void pump_unlink_free(struct pump *p)
{
	struct tr *tr = p->tr;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		tr->pumps = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	SSL_free(p->ssl); /* frees both BIOs */
	if (p->tcp_buf != NULL)
		OPENSSL_cleanse(p->tcp_buf, PUMP_BUF);
	if (p->inner_buf != NULL)
		OPENSSL_cleanse(p->inner_buf, PUMP_BUF);
	free(p->tcp_buf);
	free(p->inner_buf);
	OPENSSL_cleanse(p->ekm, sizeof p->ekm);
	free(p);
	maybe_fire_close(tr);
}

static void pump_close_cb(uv_handle_t *h)
{
	struct pump *p = h->data;

	if (h == (uv_handle_t *)p->tcp) {
		raft_free(p->tcp);
		p->tcp = NULL;
	}
	if (--p->open == 0)
		pump_unlink_free(p);
}

/* The handshake failed or the owner gave up: tell the owner (once). */
static void pump_fail_owner(struct pump *p)
{
	pump_ready_cb cb = p->ready_cb;

	p->ready_cb = NULL;
	if (cb != NULL)
		cb(p->owner, NULL, NULL, 0, RAFT_NOCONNECTION);
}

static void pump_close(struct pump *p)
{
	if (p->closing)
		return;
	p->closing = true;
	pump_fail_owner(p);
	uv_close((uv_handle_t *)p->tcp, pump_close_cb);
	if (p->inner_init)
		uv_close((uv_handle_t *)&p->inner, pump_close_cb);
}

/* The owner (dial or incoming) is going away before the handshake ended. */
static void pump_abort(struct pump *p)
{
	p->ready_cb = NULL;
	pump_close(p);
}

static void pump_write_cb(uv_write_t *req, int status);

/* Queue n bytes on s (copied); try a direct write first. */
static int pump_send(struct pump *p, uv_stream_t *s, const uint8_t *buf, size_t n)
{
	struct pwrite *w;
	uv_buf_t b;
	int rv;

	if (n == 0)
		return 0;
	if (uv_stream_get_write_queue_size(s) == 0) {
		b = uv_buf_init((char *)buf, (unsigned)n);
		rv = uv_try_write(s, &b, 1);
		if (rv > 0) {
			buf += rv;
			n -= (size_t)rv;
		} else if (rv != UV_EAGAIN) {
			return rv;
		}
		if (n == 0)
			return 0;
	}
	w = malloc(sizeof *w + n);
	if (w == NULL)
		return UV_ENOMEM;
	w->p = p;
	w->len = n;
	memcpy(w->data, buf, n);
	w->req.data = w;
	b = uv_buf_init((char *)w->data, (unsigned)n);
	rv = uv_write(&w->req, s, &b, 1, pump_write_cb);
	if (rv != 0) {
		OPENSSL_cleanse(w->data, w->len);
		free(w);
	}
	return rv;
}

/* Move what OpenSSL produced to the peer. */
static int pump_flush(struct pump *p)
{
	uint8_t buf[16384];
	int n, rv;

	while ((n = BIO_read(p->wbio, buf, sizeof buf)) > 0) {
		rv = pump_send(p, (uv_stream_t *)p->tcp, buf, (size_t)n);
		if (rv != 0)
			return rv;
	}
	return 0;
}

static void pump_inner_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct pump *p = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)p->inner_buf, PUMP_BUF);
}

static void pump_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct pump *p = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)p->tcp_buf, PUMP_BUF);
}

static void pump_inner_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void pump_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void pump_write_cb(uv_write_t *req, int status)
{
	struct pwrite *w = req->data;
	struct pump *p = w->p;
	uv_stream_t *s = req->handle;

	OPENSSL_cleanse(w->data, w->len);
	free(w);
	if (p->closing)
		return;
	if (status != 0) {
		pump_close(p);
		return;
	}
	/* a drained side lets the other side read again */
	if (s == (uv_stream_t *)p->tcp && p->inner_paused &&
	    uv_stream_get_write_queue_size(s) < PUMP_LOW) {
		p->inner_paused = false;
		if (uv_read_start((uv_stream_t *)&p->inner, pump_inner_alloc, pump_inner_read) != 0)
			pump_close(p);
	} else if (s == (uv_stream_t *)&p->inner && p->tcp_paused &&
		   uv_stream_get_write_queue_size(s) < PUMP_LOW) {
		p->tcp_paused = false;
		if (uv_read_start((uv_stream_t *)p->tcp, pump_tcp_alloc, pump_tcp_read) != 0)
			pump_close(p);
	}
}

/* Plaintext from raft: seal it and send it. */
static void pump_inner_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pump *p = s->data;
	size_t done;

	if (nread == 0 || p->closing)
		return;
	if (nread < 0) {
		pump_close(p); /* raft (or the handshake) closed its end */
		return;
	}
	if (!SSL_write_ex(p->ssl, buf->base, (size_t)nread, &done) || done != (size_t)nread) {
		ERR_clear_error();
		pump_close(p);
		return;
	}
	OPENSSL_cleanse(buf->base, (size_t)nread);
	if (pump_flush(p) != 0) {
		pump_close(p);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)p->tcp) > PUMP_HIGH) {
		p->inner_paused = true;
		uv_read_stop(s);
	}
}

/* The peer certificate names a member of our region: 0 and its id. */
static int pump_check_peer(struct pump *p)
{
	struct tr *tr = p->tr;
	X509 *cert = SSL_get0_peer_certificate(p->ssl);
	char region[NODE_TRANSPORT_MAX_REGION + 1];
	uint64_t id = 0;

	if (cert == NULL || SSL_get_verify_result(p->ssl) != X509_V_OK) {
		tr_warn(tr, "peer %s: no verified certificate", p->peer);
		return -1;
	}
	if (net_tls_cert_identity(cert, region, sizeof region, &id) != 0) {
		tr_warn(tr, "peer %s: certificate names no coffer://REGION/NODE member", p->peer);
		return -1;
	}
	if (strcmp(region, tr->region) != 0) {
		tr_warn(tr, "peer %s: certificate of region '%s', not '%s'", p->peer, region,
			tr->region);
		return -1;
	}
	if (p->expect_id != 0 && id != p->expect_id) {
		tr_warn(tr, "peer %s: certificate of node %llu, expected node %llu", p->peer,
			(unsigned long long)id, (unsigned long long)p->expect_id);
		return -1;
	}
	p->cert_id = id;
	return 0;
}

static void raft_handle_free_cb(uv_handle_t *h)
{
	raft_free(h);
}

/* Handshake done: verify, make the socketpair, hand one end to the owner. */
static void pump_secure(struct pump *p)
{
	uv_pipe_t *plain = NULL;
	bool plain_init = false;
	pump_ready_cb cb;
	int fds[2] = {-1, -1};

	if (pump_check_peer(p) != 0)
		goto fail;
	if (SSL_export_keying_material(p->ssl, p->ekm, EKM_LEN, EKM_LABEL,
				       sizeof EKM_LABEL - 1, NULL, 0, 0) != 1) {
		ERR_clear_error();
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		tr_warn(p->tr, "socketpair: %s", strerror(errno));
		goto fail;
	}
	plain = raft_malloc(sizeof *plain);
	if (plain == NULL || uv_pipe_init(p->tr->loop, &p->inner, 0) != 0)
		goto fail;
	p->inner_init = true;
	p->inner.data = p;
	p->open++;
	if (uv_pipe_open(&p->inner, fds[0]) != 0)
		goto fail;
	fds[0] = -1;
	if (uv_pipe_init(p->tr->loop, plain, 0) != 0)
		goto fail;
	plain_init = true;
	if (uv_pipe_open(plain, fds[1]) != 0)
		goto fail;
	fds[1] = -1;
	if (uv_read_start((uv_stream_t *)&p->inner, pump_inner_alloc, pump_inner_read) != 0)
		goto fail;
	p->secure = true;
	cb = p->ready_cb;
	p->ready_cb = NULL;
	cb(p->owner, (uv_stream_t *)plain, p->ekm, p->cert_id, 0);
	return;
fail:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (plain_init)
		uv_close((uv_handle_t *)plain, raft_handle_free_cb);
	else if (plain != NULL)
		raft_free(plain);
	pump_close(p);
}

/* Ciphertext from the peer: handshake, then plaintext to raft. */
static void pump_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pump *p = s->data;
	uint8_t plain[16384];
	size_t got;
	int r, err;

	if (nread == 0 || p->closing)
		return;
	if (nread < 0) {
		if (!p->secure)
			tr_warn(p->tr, "peer %s closed the connection during the TLS handshake (%s)",
				p->peer, uv_strerror((int)nread));
		else
			logd("raft transport: link to %s closed: %s", p->peer,
			     uv_strerror((int)nread));
		pump_close(p);
		return;
	}
	if (BIO_write(p->rbio, buf->base, (int)nread) != (int)nread) {
		pump_close(p);
		return;
	}
	if (!p->secure) {
		r = SSL_do_handshake(p->ssl);
		if (pump_flush(p) != 0) {
			pump_close(p);
			return;
		}
		if (r != 1) {
			if (SSL_get_error(p->ssl, r) == SSL_ERROR_WANT_READ)
				return;
			{
				unsigned long e = ERR_peek_last_error();
				char reason[160] = "handshake failed";
				long vr = SSL_get_verify_result(p->ssl);

				if (vr != X509_V_OK)
					snprintf(reason, sizeof reason, "%s",
						 X509_verify_cert_error_string(vr));
				else if (e != 0)
					ERR_error_string_n(e, reason, sizeof reason);
				tr_warn(p->tr, "peer %s: TLS handshake failed: %s", p->peer, reason);
				ERR_clear_error();
			}
			pump_close(p);
			return;
		}
		pump_secure(p);
		if (p->closing)
			return;
	}
	for (;;) {
		if (!SSL_read_ex(p->ssl, plain, sizeof plain, &got)) {
			err = SSL_get_error(p->ssl, 0);
			if (err == SSL_ERROR_WANT_READ)
				break;
			if (err != SSL_ERROR_ZERO_RETURN) {
				unsigned long e = ERR_peek_last_error();
				char reason[160] = "error";

				if (e != 0)
					ERR_error_string_n(e, reason, sizeof reason);
				tr_warn(p->tr, "peer %s: TLS record refused (%s); dropping the link",
					p->peer, reason);
			}
			ERR_clear_error();
			pump_close(p);
			return;
		}
		r = pump_send(p, (uv_stream_t *)&p->inner, plain, got);
		OPENSSL_cleanse(plain, got);
		if (r != 0) {
			pump_close(p);
			return;
		}
	}
	if (pump_flush(p) != 0) { /* key updates, alerts */
		pump_close(p);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&p->inner) > PUMP_HIGH) {
		p->tcp_paused = true;
		uv_read_stop(s);
	}
}

/* Start TLS on a connected tcp (transferred: the pump closes and raft_free's
 * it). client: we dialed member expect_id. cb fires exactly once unless the
 * owner calls pump_abort first. Returns 0 or non-zero (tcp not taken). */
static int pump_start(struct tr *tr, uv_tcp_t *tcp, bool client, raft_id expect_id,
		      const char *peer, pump_ready_cb cb, void *owner, struct pump **out)
{
	struct pump *p = calloc(1, sizeof *p);

	if (p == NULL)
		return CF_ENOMEM;
	p->tr = tr;
	p->tcp = tcp;
	p->ready_cb = cb;
	p->owner = owner;
	p->expect_id = client ? expect_id : 0;
	snprintf(p->peer, sizeof p->peer, "%s", peer);
	p->tcp_buf = malloc(PUMP_BUF);
	p->inner_buf = malloc(PUMP_BUF);
	p->ssl = SSL_new(client ? tr->tls_client : tr->tls_server);
	p->rbio = BIO_new(BIO_s_mem());
	p->wbio = BIO_new(BIO_s_mem());
	if (p->tcp_buf == NULL || p->inner_buf == NULL || p->ssl == NULL || p->rbio == NULL ||
	    p->wbio == NULL) {
		BIO_free(p->rbio);
		BIO_free(p->wbio);
		SSL_free(p->ssl);
		free(p->tcp_buf);
		free(p->inner_buf);
		free(p);
		ERR_clear_error();
		return CF_ENOMEM;
	}
	BIO_set_mem_eof_return(p->rbio, -1);
	SSL_set_bio(p->ssl, p->rbio, p->wbio);
	if (client)
		SSL_set_connect_state(p->ssl);
	else
		SSL_set_accept_state(p->ssl);
	tcp->data = p;
	p->open = 1;
	p->next = tr->pumps;
	if (tr->pumps != NULL)
		tr->pumps->prev = p;
	tr->pumps = p;
	*out = p;
	if (uv_read_start((uv_stream_t *)tcp, pump_tcp_alloc, pump_tcp_read) != 0) {
		pump_close(p); /* fires cb */
		return 0;
	}
	if (client) {
		int r = SSL_do_handshake(p->ssl); /* ClientHello */

		if ((r != 1 && SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ) ||
		    pump_flush(p) != 0) {
			ERR_clear_error();
			pump_close(p);
		}
	}
	return 0;
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

	if (h != (uv_handle_t *)&d->timer) {
		if (h == (uv_handle_t *)d->stream)
			d->stream = NULL;
		if (h == (uv_handle_t *)d->tcp)
			d->tcp = NULL;
		raft_free(h);
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
	if (d->pump != NULL) {
		pump_abort(d->pump);
		d->pump = NULL;
	}
	if (d->stream != NULL && d->stream != (uv_stream_t *)d->tcp)
		uv_close((uv_handle_t *)d->stream, dial_close_cb);
	if (d->tcp != NULL)
		uv_close((uv_handle_t *)d->tcp, dial_close_cb); /* cancels connect/writes */
	uv_close((uv_handle_t *)&d->timer, dial_close_cb);
}

/* M3 is written: the stream is raft's. d lives on until its timer closed
 * (still linked, so close() waits for it; done, so close() skips it). */
static void dial_handoff(struct dial *d)
{
	uv_stream_t *stream = d->stream;

	d->done = true;
	d->handed = true;
	uv_read_stop(stream);
	d->tcp = NULL;
	d->stream = NULL;
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
	struct hs_bind bind = {tr->region, d->ekm};
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
	if (!hs_verify(tr->key, &bind, ROLE_ACCEPTOR, d->in.id, addr, alen, d->nonce, nonce_a,
		       mac_a)) {
		tr_warn(tr, "peer %s failed authentication (different peer key?)", d->address);
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	uv_read_stop(d->stream);
	if (hs_mac(tr->key, &bind, ROLE_DIALER, tr->id, (const uint8_t *)tr->address,
		   strlen(tr->address), d->nonce, nonce_a, d->mac) != 0) {
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	buf = uv_buf_init((char *)d->mac, MAC_LEN);
	if (uv_write(&d->w_mac, d->stream, &buf, 1, dial_mac_cb) != 0)
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

static void dial_hello(struct dial *d);
static void dial_secure_cb(void *owner, uv_stream_t *plain, const uint8_t *ekm,
			   raft_id cert_id, int status);

static void dial_connect_cb(uv_connect_t *c, int status)
{
	struct dial *d = c->data;
	struct tr *tr = d->tr;
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
	rv = 0;
	if (tr->tls_client == NULL) {
		d->stream = (uv_stream_t *)d->tcp;
		dial_hello(d);
		return;
	}
	/* TLS seam (dialer): the pump takes the socket; we continue on its
	 * plaintext end (dial_secure_cb) */
	uv_tcp_t *tcp = d->tcp;

	d->tcp = NULL;
	d->open--; /* the pump closes it */
	rv = pump_start(tr, tcp, true, d->peer_id, d->address, dial_secure_cb, d, &d->pump);
	if (d->done)
		return; /* the pump failed at once and told us */
	if (rv == 0)
		rv = uv_timer_start(&d->timer, dial_timeout_cb, NODE_TRANSPORT_HANDSHAKE_MS, 0);
	if (rv != 0) {
		if (d->pump == NULL) { /* not taken */
			d->tcp = tcp;
			d->open++;
		}
		dial_fail(d, RAFT_NOCONNECTION);
	}
}

/* Our handshake on d->stream: send M1, read M2. */
static void dial_hello(struct dial *d)
{
	struct tr *tr = d->tr;
	uv_buf_t buf;
	int rv;

	if (crypto_random(d->nonce, NONCE_LEN) != 0) {
		logw("raft transport: random generator failed");
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	d->hello_len = hs_header(d->hello, tr->id, tr->address);
	memcpy(d->hello + d->hello_len, d->nonce, NONCE_LEN);
	d->hello_len += NONCE_LEN;
	buf = uv_buf_init((char *)d->hello, (unsigned)d->hello_len);
	d->stream->data = d;
	rv = uv_write(&d->w_hello, d->stream, &buf, 1, dial_hello_cb);
	if (rv == 0)
		rv = uv_read_start(d->stream, dial_alloc_cb, dial_read_cb);
	if (rv == 0 && !uv_is_active((uv_handle_t *)&d->timer))
		rv = uv_timer_start(&d->timer, dial_timeout_cb, NODE_TRANSPORT_HANDSHAKE_MS, 0);
	if (rv != 0)
		dial_fail(d, RAFT_NOCONNECTION);
}

static void dial_secure_cb(void *owner, uv_stream_t *plain, const uint8_t *ekm,
			   raft_id cert_id, int status)
{
	struct dial *d = owner;

	d->pump = NULL;
	if (status != 0 || d->done) {
		if (plain != NULL)
			uv_close((uv_handle_t *)plain, raft_handle_free_cb);
		if (!d->done)
			dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	(void)cert_id; /* the pump checked it is d->peer_id */
	memcpy(d->ekm, ekm, EKM_LEN);
	d->stream = plain;
	d->open++;
	dial_hello(d);
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
	tr->n_incoming--;
	OPENSSL_cleanse(in->ekm, sizeof in->ekm);
	free(in);
	maybe_fire_close(tr);
}

static void incoming_tcp_close_cb(uv_handle_t *h)
{
	struct incoming *in = h->data;

	if (h == (uv_handle_t *)in->stream)
		in->stream = NULL;
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
	if (in->pump != NULL) {
		pump_abort(in->pump);
		in->pump = NULL;
	}
	if (in->stream != NULL) {
		uv_close((uv_handle_t *)in->stream, incoming_tcp_close_cb); /* cancels M2 */
		in->tcp = NULL;
	} else if (in->tcp != NULL) {
		uv_close((uv_handle_t *)in->tcp, incoming_tcp_close_cb);
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
	uv_stream_t *stream = in->stream;

	in->tcp = NULL; /* raft's now */
	in->stream = NULL;
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
	struct hs_bind bind = {tr->region, in->ekm};
	uv_buf_t buf;
	size_t n;

	if (!hsin_addr_ok(&in->in)) {
		tr_warn(tr, "peer %s: address with a NUL byte in its handshake", in->peer);
		incoming_drop(in);
		return;
	}
	if (tr->tls_server != NULL && in->in.id != in->cert_id) {
		tr_warn(tr, "peer %s announced node %llu with the certificate of node %llu",
			in->peer, (unsigned long long)in->in.id, (unsigned long long)in->cert_id);
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
	if (hs_mac(tr->key, &bind, ROLE_ACCEPTOR, tr->id, (const uint8_t *)tr->address,
		   strlen(tr->address), addr + alen /* nonce_d */, in->nonce,
		   in->reply + n + NONCE_LEN) != 0) {
		incoming_drop(in);
		return;
	}
	in->reply_len = n + NONCE_LEN + MAC_LEN;
	buf = uv_buf_init((char *)in->reply, (unsigned)in->reply_len);
	if (uv_write(&in->write, in->stream, &buf, 1, incoming_write_cb) != 0) {
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
	struct hs_bind bind = {in->tr->region, in->ekm};

	uv_read_stop(in->stream);
	if (!hs_verify(in->tr->key, &bind, ROLE_DIALER, in->in.id, addr, alen, nonce_d,
		       in->nonce, mac_d)) {
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

static void incoming_secure_cb(void *owner, uv_stream_t *plain, const uint8_t *ekm,
			       raft_id cert_id, int status)
{
	struct incoming *in = owner;

	in->pump = NULL;
	if (status != 0) {
		incoming_drop(in);
		return;
	}
	memcpy(in->ekm, ekm, EKM_LEN);
	in->cert_id = cert_id;
	in->stream = plain;
	plain->data = in;
	in->open++;
	if (uv_read_start(plain, incoming_alloc_cb, incoming_read_cb) != 0)
		incoming_drop(in);
}

/* Within the caps on handshakes in flight (total, and from this source)? */
static bool incoming_admit(struct tr *tr, const char *ip)
{
	unsigned same = 0;

	if (tr->n_incoming >= tr->cap_total)
		return false;
	for (struct incoming *in = tr->incomings; in != NULL; in = in->next)
		if (strcmp(in->ip, ip) == 0 && ++same >= tr->cap_source)
			return false;
	return true;
}

static void refused_close_cb(uv_handle_t *h)
{
	free(h);
}

/* Accept and close at once: the backlog must not fill with connections we
 * will not serve. */
static void listener_refuse(struct tr *tr, uv_stream_t *server)
{
	uv_tcp_t *tcp = malloc(sizeof *tcp);

	if (tcp == NULL || uv_tcp_init(tr->loop, tcp) != 0) {
		free(tcp);
		return;
	}
	(void)uv_accept(server, (uv_stream_t *)tcp);
	uv_close((uv_handle_t *)tcp, refused_close_cb);
}

static void source_ip(uv_tcp_t *tcp, char *out, size_t size)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;

	snprintf(out, size, "?");
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) != 0)
		return;
	if (sa.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&sa, out, size);
	else if (sa.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&sa, out, size);
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
	if (tr->closing) {
		listener_refuse(tr, server);
		return;
	}
	if (tr->n_incoming >= tr->cap_total) { /* refuse before any allocation */
		listener_refuse(tr, server);
		tr_warn(tr, "%u peers in their handshake: refusing connections",
			tr->n_incoming);
		return;
	}
	in = calloc(1, sizeof *in);
	if (in == NULL) {
		listener_refuse(tr, server);
		return;
	}
	in->tcp = raft_malloc(sizeof *in->tcp);
	if (in->tcp == NULL) {
		free(in);
		listener_refuse(tr, server);
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
	rv = uv_accept(server, (uv_stream_t *)in->tcp);
	if (rv == 0) {
		peer_name(in->tcp, in->peer, sizeof in->peer);
		source_ip(in->tcp, in->ip, sizeof in->ip);
		if (!incoming_admit(tr, in->ip)) {
			tr_warn(tr, "too many handshakes from %s: refusing connections", in->ip);
			rv = UV_EAGAIN;
		}
	}
	in->next = tr->incomings;
	if (tr->incomings != NULL)
		tr->incomings->prev = in;
	tr->incomings = in;
	tr->n_incoming++;
	if (rv == UV_EAGAIN) {
		incoming_drop(in);
		return;
	}
	if (rv == 0)
		rv = uv_tcp_nodelay(in->tcp, 1);
	if (rv == 0 && tr->tls_server != NULL) {
		/* TLS seam (acceptor): the pump takes the socket; our handshake
		 * runs on its plaintext end (incoming_secure_cb) */
		uv_tcp_t *tcp = in->tcp;

		in->tcp = NULL;
		in->open--;
		rv = pump_start(tr, tcp, false, 0, in->peer, incoming_secure_cb, in, &in->pump);
		if (rv != 0) {
			in->tcp = tcp;
			in->open++;
		}
	} else if (rv == 0) {
		in->stream = (uv_stream_t *)in->tcp;
		rv = uv_read_start(in->stream, incoming_alloc_cb, incoming_read_cb);
	}
	if (rv == 0 && !in->dropping)
		rv = uv_timer_start(&in->timer, incoming_timeout_cb, NODE_TRANSPORT_HANDSHAKE_MS, 0);
	if (rv != 0 && !in->dropping) {
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
	for (struct pump *p = tr->pumps, *pnext; p != NULL; p = pnext) {
		pnext = p->next;
		pump_close(p);
	}
	maybe_fire_close(tr);
}

/* Caps on connections in their handshake: well below the descriptor limit
 * (each costs one descriptor until its TLS handshake is done, three after). */
static void set_caps(struct tr *tr)
{
	struct rlimit rl;
	rlim_t n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur;
	n /= 8;
	if (n < 16)
		n = 16;
	if (n > 512)
		n = 512;
	tr->cap_total = (unsigned)n;
	tr->cap_source = tr->cap_total / 4 > 4 ? tr->cap_total / 4 : 4;
}

int node__transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
			 const uint8_t *peer_key, const char *region,
			 const struct node_transport_tls *tls, char *errmsg)
{
	struct tr *tr;

	if (region == NULL)
		region = "";
	if (strlen(region) > NODE_TRANSPORT_MAX_REGION) {
		snprintf(errmsg, 256, "raft transport: region name too long");
		return CF_EINVAL;
	}
	tr = calloc(1, sizeof *tr);
	if (tr == NULL) {
		snprintf(errmsg, 256, "raft transport: out of memory");
		return CF_ENOMEM;
	}
	snprintf(tr->region, sizeof tr->region, "%s", region);
	if (peer_key != NULL) {
		tr->key = secmem_alloc(NODE_TRANSPORT_KEY_LEN);
		if (tr->key == NULL) {
			free(tr);
			snprintf(errmsg, 256, "raft transport: out of memory");
			return CF_ENOMEM;
		}
		memcpy(tr->key, peer_key, NODE_TRANSPORT_KEY_LEN);
	}
	if (tls != NULL) {
		char msg[256];

		tr->tls_server = net_tls_peer_ctx(1, tls->ca_file, tls->cert_file, tls->key_file, msg);
		if (tr->tls_server != NULL)
			tr->tls_client = net_tls_peer_ctx(0, tls->ca_file, tls->cert_file,
							  tls->key_file, msg);
		if (tr->tls_client == NULL) {
			snprintf(errmsg, 256, "raft transport: %s", msg);
			SSL_CTX_free(tr->tls_server);
			secmem_free(tr->key);
			free(tr);
			return CF_ECRYPTO;
		}
	}
	set_caps(tr);
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

int node__handshake_parse(const uint8_t *buf, size_t n, size_t tail, size_t chunk,
			  size_t *used, uint64_t *id, const uint8_t **addr, size_t *addr_len)
{
	static struct hsin h; /* HS_MAX bytes: not on the stack of a fuzzer */
	size_t off = 0;
	int r = 0;

	if (chunk == 0 || tail > NONCE_LEN + MAC_LEN)
		return -1;
	hsin_init(&h);
	while (r == 0) {
		uv_buf_t b;
		size_t k;

		hsin_alloc(&h, &b);
		k = b.len < chunk ? b.len : chunk;
		if (off + k > n)
			return 0;
		memcpy(b.base, buf + off, k);
		off += k;
		r = hsin_feed(&h, k, tail);
	}
	if (r < 0 || !hsin_addr_ok(&h))
		return -1;
	*used = off;
	*id = h.id;
	*addr = buf + HDR_LEN;
	*addr_len = (size_t)h.addr_len;
	return 1;
}

void node__transport_release(struct raft_uv_transport *t)
{
	struct tr *tr = t->impl;

	if (tr != NULL) {
		secmem_free(tr->key);
		SSL_CTX_free(tr->tls_server);
		SSL_CTX_free(tr->tls_client);
	}
	free(tr);
	t->impl = NULL;
}
