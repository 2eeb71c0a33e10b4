/*
 * transport: raft's connections over TCP with TCP_NODELAY and a small
 * handshake of our own.
 *
 * Dialing (connect): resolve the address (literal at once, host name through
 * uv_getaddrinfo), TCP connect, write the handshake, then give the stream to
 * raft through the connect callback. Any failure closes the socket and fires
 * the callback with RAFT_NOCONNECTION; close() cancels every dial in flight
 * and fires their callbacks with RAFT_CANCELED before its own callback.
 *
 * Accepting (listen): accept, read exactly the handshake (the read buffer is
 * sized to what is still missing, so raft's first message stays in the
 * socket), check it, then call raft's accept callback with the peer's id and
 * address. A deadline timer drops peers that do not finish the handshake.
 *
 * Mutual TLS slots in at the two points marked "TLS seam": after the TCP
 * connection exists and before our handshake travels. The TLS layer would
 * run its handshake on the TCP socket, check the peer certificate, and hand
 * raft one end of a socketpair (uv_pipe_t) while pumping plaintext between
 * the other end and the TLS session; our handshake then runs inside TLS and
 * the announced id must match the certificate's identity.
 */
#include "node/transport.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errors.h"
#include "util/log.h"

struct tr;

struct dial {
	struct tr *tr;
	struct dial *prev, *next;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	uv_tcp_t *tcp; /* raft_malloc'ed: raft frees it once handed over */
	uv_getaddrinfo_t gai;
	uv_connect_t connect;
	uv_write_t write;
	uint8_t hs[24 + NODE_TRANSPORT_MAX_ADDR];
	size_t hs_len;
	int status;
	bool resolving;
	bool aborted;	  /* transport closing while resolving */
	bool tcp_closing; /* failed or cancelled: only the close cb is left */
};

struct incoming {
	struct tr *tr;
	struct incoming *prev, *next;
	uv_tcp_t *tcp; /* raft_malloc'ed; NULL once handed to raft or closed */
	uv_timer_t timer;
	uint8_t hdr[24];
	char addr[NODE_TRANSPORT_MAX_ADDR + 1];
	uint64_t id, addr_len;
	size_t got;
	unsigned open; /* handles not yet closed (tcp, timer) */
	bool dropping;
};

struct tr {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	raft_id id;
	char address[NODE_TRANSPORT_MAX_ADDR + 1];
	uv_tcp_t listener;
	enum { L_NONE, L_OPEN, L_CLOSING } listener_state;
	raft_uv_accept_cb accept_cb;
	struct dial *dials;
	struct incoming *incomings;
	bool closing;
	raft_uv_transport_close_cb close_cb;
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

static void dial_close_cb(uv_handle_t *h)
{
	struct dial *d = h->data;
	struct tr *tr = d->tr;
	struct raft_uv_connect *req = d->req;
	raft_uv_connect_cb cb = d->cb;
	int status = d->status;

	raft_free(d->tcp);
	dial_unlink(d);
	free(d);
	cb(req, NULL, status);
	maybe_fire_close(tr);
}

static void dial_fail(struct dial *d, int status)
{
	if (d->tcp_closing)
		return;
	d->tcp_closing = true;
	d->status = status;
	uv_close((uv_handle_t *)d->tcp, dial_close_cb);
}

static void dial_write_cb(uv_write_t *w, int status)
{
	struct dial *d = w->data;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	uv_stream_t *stream;

	if (d->tcp_closing)
		return; /* cancelled: dial_close_cb finishes */
	if (status != 0) {
		logd("raft transport: handshake to peer failed: %s", uv_strerror(status));
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	stream = (uv_stream_t *)d->tcp;
	stream->data = NULL; /* raft sets its own */
	req = d->req;
	cb = d->cb;
	dial_unlink(d);
	free(d);
	cb(req, stream, 0);
}

static void dial_connect_cb(uv_connect_t *c, int status)
{
	struct dial *d = c->data;
	uv_buf_t buf;
	int rv;

	if (d->tcp_closing)
		return;
	if (status != 0) {
		logd("raft transport: connect failed: %s", uv_strerror(status));
		dial_fail(d, RAFT_NOCONNECTION);
		return;
	}
	/* Already requested before connect; set again now that the socket
	 * exists, in case the platform dropped the early request. */
	uv_tcp_nodelay(d->tcp, 1);
	/* TLS seam (dialer): run the TLS client handshake on d->tcp here and
	 * continue with the plaintext end of a socketpair instead of d->tcp. */
	buf = uv_buf_init((char *)d->hs, (unsigned)d->hs_len);
	rv = uv_write(&d->write, (uv_stream_t *)d->tcp, &buf, 1, dial_write_cb);
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
	size_t alen = strlen(tr->address);
	struct dial *d;
	int rv;

	(void)id;
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
	d->connect.data = d;
	d->write.data = d;
	d->gai.data = d;
	put64(d->hs, NODE_TRANSPORT_PROTOCOL);
	put64(d->hs + 8, tr->id);
	put64(d->hs + 16, alen);
	memcpy(d->hs + 24, tr->address, alen);
	d->hs_len = 24 + alen;

	rv = uv_tcp_init(tr->loop, d->tcp);
	if (rv != 0) {
		raft_free(d->tcp);
		free(d);
		return RAFT_NOCONNECTION;
	}
	d->tcp->data = d;
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
	if (d->resolving) {
		/* The gai callback always runs (UV_EAI_CANCELED if cancel
		 * worked) and fails the dial there. */
		d->aborted = true;
		uv_cancel((uv_req_t *)&d->gai);
		return;
	}
	dial_fail(d, RAFT_CANCELED); /* pending connect/write get ECANCELED */
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
		uv_close((uv_handle_t *)in->tcp, incoming_tcp_close_cb);
		in->tcp = NULL;
	}
	uv_close((uv_handle_t *)&in->timer, incoming_timer_close_cb);
}

static void incoming_timeout_cb(uv_timer_t *timer)
{
	struct incoming *in = timer->data;

	logw("raft transport: peer did not complete the handshake in time");
	incoming_drop(in);
}

static void incoming_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct incoming *in = h->data;

	(void)suggested;
	/* Only what is still missing: raft's first message must stay in the
	 * socket for raft to read. */
	if (in->got < sizeof in->hdr)
		*buf = uv_buf_init((char *)in->hdr + in->got, (unsigned)(sizeof in->hdr - in->got));
	else
		*buf = uv_buf_init(in->addr + (in->got - sizeof in->hdr),
				   (unsigned)(in->addr_len - (in->got - sizeof in->hdr)));
}

static void incoming_handoff(struct incoming *in)
{
	struct tr *tr = in->tr;
	uv_stream_t *stream = (uv_stream_t *)in->tcp;

	in->addr[in->addr_len] = '\0';
	if (strlen(in->addr) != in->addr_len) {
		logw("raft transport: peer address contains a NUL byte");
		incoming_drop(in);
		return;
	}
	uv_read_stop(stream);
	in->tcp = NULL; /* raft's now */
	in->open--;
	stream->data = NULL;
	/* The timer's close callback frees in (and its addr) later, so the
	 * address stays valid during accept_cb. */
	in->dropping = true;
	uv_close((uv_handle_t *)&in->timer, incoming_timer_close_cb);
	tr->accept_cb(tr->t, in->id, in->addr, stream);
}

static void incoming_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct incoming *in = s->data;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		incoming_drop(in);
		return;
	}
	in->got += (size_t)nread;
	if (in->got == sizeof in->hdr) {
		in->id = get64(in->hdr + 8);
		in->addr_len = get64(in->hdr + 16);
		if (get64(in->hdr) != NODE_TRANSPORT_PROTOCOL || in->id == 0 ||
		    in->addr_len == 0 || in->addr_len > NODE_TRANSPORT_MAX_ADDR) {
			logw("raft transport: dropping peer with a bad handshake");
			incoming_drop(in);
			return;
		}
	}
	if (in->got == sizeof in->hdr + in->addr_len)
		incoming_handoff(in);
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
	uv_tcp_init(tr->loop, in->tcp);
	uv_timer_init(tr->loop, &in->timer);
	in->tcp->data = in;
	in->timer.data = in;
	in->open = 2;
	in->next = tr->incomings;
	if (tr->incomings != NULL)
		tr->incomings->prev = in;
	tr->incomings = in;

	rv = uv_accept(server, (uv_stream_t *)in->tcp);
	if (rv == 0)
		rv = uv_tcp_nodelay(in->tcp, 1);
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

int node__transport_init(struct raft_uv_transport *t, uv_loop_t *loop)
{
	struct tr *tr = calloc(1, sizeof *tr);

	if (tr == NULL)
		return CF_ENOMEM;
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
	free(t->impl);
	t->impl = NULL;
}
