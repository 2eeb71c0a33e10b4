/*
 * Listeners: bind, listen, accept into a connection (conn.c runs the
 * handshake), and keep the list of live connections so that closing the
 * listener can close them all. The listener's memory, and its close
 * callback, wait for its own handles and for every connection to finish
 * closing. Limits: at most max_conns connections (more are accepted and
 * closed at once), and an optional idle timeout enforced by one sweep timer
 * per listener. Also the small address helpers shared with net_dial.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"
#include "util/errors.h"
#include "util/log.h"

/* ---- addresses ------------------------------------------------------------ */

int net__split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = addr, *end;
	char *stop;
	long p;
	size_t n;

	if (addr[0] == '[') {
		h = addr + 1;
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return CF_EINVAL;
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return CF_EINVAL;
		end = colon;
	}
	n = (size_t)(end - h);
	if (n >= hostlen)
		return CF_EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return CF_EINVAL;
	p = strtol(colon + 1, &stop, 10);
	if (*stop != '\0' || p < 0 || p > 65535)
		return CF_EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (n == 0)
		snprintf(host, hostlen, "0.0.0.0");
	*port = (int)p;
	return 0;
}

int net__numeric_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return CF_EINVAL;
}

void net__format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(out, outlen, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(out, outlen, "[%s]:%d", ip, port);
	} else {
		snprintf(out, outlen, "?");
	}
}

/* ---- listener ------------------------------------------------------------- */

static void maybe_finish(struct net_listener *l)
{
	void (*cb)(void *data);
	void *data;

	if (!l->closing || l->handles > 0 || l->conns != NULL)
		return;
	cb = l->close_cb;
	data = l->close_data;
	free(l);
	if (cb != NULL)
		cb(data);
}

void net__listener_conn_done(struct net_listener *l, struct net_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->listener = NULL;
	l->n_conns--;
	maybe_finish(l);
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

/* Over the cap: take the socket off the backlog and close it. */
static void refuse(struct net_listener *l, uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));
	uint64_t now = uv_now(l->loop);

	l->cap_refused++;
	if (now - l->cap_logged >= 1000 || l->cap_logged == 0) {
		logw("net: port %d is at its cap of %u connections; refused %u", l->port,
		     l->max_conns, l->cap_refused);
		l->cap_logged = now;
		l->cap_refused = 0;
	}
	if (t == NULL)
		return; /* libuv stops watching until a later accept */
	uv_tcp_init(l->loop, t);
	t->data = t;
	(void)uv_accept(server, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, free_on_close);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct net_listener *l = server->data;
	struct net_conn *c;
	int r;

	if (status < 0) {
		logw("net: accept on port %d failed: %s", l->port, uv_strerror(status));
		return;
	}
	if (l->closing)
		return;
	if (l->n_conns >= l->max_conns) {
		refuse(l, server);
		return;
	}
	c = net__conn_new(l->loop, l->ctx, l->proto, l->data);
	if (c == NULL) {
		loge("net: accept on port %d: %s", l->port, cf_strerror(CF_ENOMEM));
		return;
	}
	r = uv_accept(server, (uv_stream_t *)&c->tcp);
	if (r < 0) {
		logw("net: accept on port %d failed: %s", l->port, uv_strerror(r));
		net__conn_abort(c);
		return;
	}
	c->listener = l;
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	net__conn_start_accepted(c);
}

int net_listen(uv_loop_t *loop, const char *addr, SSL_CTX *ctx, const struct net_proto *proto,
	       void *data, struct net_listener **out, char *errmsg)
{
	struct net_listener *l;
	struct sockaddr_storage ss;
	char host[256];
	int port, r, len = sizeof(ss);

	*out = NULL;
	if (net__split_addr(addr, host, sizeof(host), &port) != 0 ||
	    net__numeric_addr(host, port, &ss) != 0) {
		snprintf(errmsg, 256, "listen: bad address '%s' (want ip:port)", addr);
		return CF_EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		snprintf(errmsg, 256, "listen: %s", cf_strerror(CF_ENOMEM));
		return CF_ENOMEM;
	}
	l->loop = loop;
	l->ctx = ctx;
	l->proto = proto;
	l->data = data;
	l->max_conns = NET_MAX_CONNS;
	uv_tcp_init(loop, &l->tcp);
	l->tcp.data = l;
	r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
	if (r != 0) {
		snprintf(errmsg, 256, "listen on '%s': %s", addr, uv_strerror(r));
		uv_close((uv_handle_t *)&l->tcp, free_on_close);
		return CF_EIO;
	}
	l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	uv_timer_init(loop, &l->sweep);
	l->sweep.data = l;
	l->handles = 2;
	*out = l;
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct net_listener *l = h->data;

	l->handles--;
	maybe_finish(l);
}

void net_listener_close(struct net_listener *l, void (*cb)(void *data), void *data)
{
	struct net_conn *c, *next;

	if (l->closing)
		return;
	l->closing = true;
	l->close_cb = cb;
	l->close_data = data;
	uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
	uv_close((uv_handle_t *)&l->sweep, on_listener_closed);
	/* connections leave the list only from their close callbacks */
	for (c = l->conns; c != NULL; c = next) {
		next = c->next;
		net_conn_close(c);
	}
}

int net_listener_port(const struct net_listener *l)
{
	return l->port;
}

void net_listener_set_max_conns(struct net_listener *l, unsigned n)
{
	l->max_conns = n > 0 ? n : 1;
}

/* Close the open connections that received nothing for idle_ms. */
static void on_sweep(uv_timer_t *t)
{
	struct net_listener *l = t->data;
	uint64_t now = uv_now(l->loop);
	struct net_conn *c, *next;

	/* net_conn_close never unlinks synchronously; next stays valid */
	for (c = l->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == NET_OPEN && !c->read_paused && now - c->last_rx >= l->idle_ms) {
			logd("net: '%s' idle for %llu ms, closing", c->peer,
			     (unsigned long long)(now - c->last_rx));
			net_conn_close(c);
		}
	}
}

void net_listener_set_idle_timeout(struct net_listener *l, unsigned ms)
{
	static int env_read;
	static long env_ms = -1;
	uint64_t period;

	if (!env_read) {
		const char *v = getenv("COFFER_IDLE_TIMEOUT_MS");
		char *end;

		env_read = 1;
		if (v != NULL && *v != '\0') {
			env_ms = strtol(v, &end, 10);
			if (*end != '\0' || env_ms < 0 || env_ms > 86400000L) {
				logw("net: ignoring COFFER_IDLE_TIMEOUT_MS='%s'", v);
				env_ms = -1;
			}
		}
	}
	if (env_ms >= 0)
		ms = (unsigned)env_ms;
	if (l->closing)
		return;
	l->idle_ms = ms;
	if (ms == 0) {
		uv_timer_stop(&l->sweep);
		return;
	}
	period = ms < 4 * NET_SWEEP_MS ? ms / 4 : NET_SWEEP_MS;
	if (period < 10)
		period = 10;
	uv_timer_start(&l->sweep, on_sweep, period, period);
}
