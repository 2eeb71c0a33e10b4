/*
 * net internals shared by conn.c, listener.c and tls.c. Not a contract:
 * only server/net/ includes this file.
 *
 * A connection owns three libuv handles (tcp, timer, idle). Its memory is
 * released when all three close callbacks ran and the reference count is
 * zero; the count starts at 1 (the "life" reference) and that reference is
 * dropped after the handles closed and on_close fired.
 */
#ifndef COFFER_NET_NET_INT_H
#define COFFER_NET_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "net/net.h"

#define NET_READ_BUF (64u * 1024u)       /* ciphertext read buffer, reused */
#define NET_PLAIN_BUF (16u * 1024u)      /* one TLS record of plaintext */
#define NET_MAX_PENDING (64u << 20)      /* outgoing bytes before we give up */
#define NET_HANDSHAKE_MS 10000           /* connect + handshake deadline */
#define NET_LINGER_MS 2000               /* bound on flushing at close */
#define NET_SWEEP_MS 1000                /* idle sweep period (shorter for short timeouts) */

enum net_state {
	NET_RESOLVING = 0,
	NET_CONNECTING,
	NET_HANDSHAKE,
	NET_OPEN,
	NET_CLOSING, /* flushing, then handles close */
	NET_CLOSED,  /* handles closing or closed */
};

/* Plaintext queued before the handshake finished (dialed connections). */
struct net_chunk {
	struct net_chunk *next;
	size_t len;
	uint8_t data[];
};

struct net_conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake deadline, then net_conn_set_deadline, then close linger */
	uv_idle_t idle;   /* armed while staged output waits for a flush */
	uv_connect_t connect_req;
	uv_getaddrinfo_t gai_req;
	uv_shutdown_t shutdown_req;
	uv_loop_t *loop;

	const struct net_proto *proto;
	void *data;
	void *user;
	struct net_listener *listener; /* NULL when dialed or detached */
	struct net_conn *prev, *next;  /* the listener's list */

	SSL *ssl;  /* NULL: plaintext (loopback tests only) */
	BIO *rbio; /* ciphertext in (owned by ssl) */
	BIO *wbio; /* ciphertext out (owned by ssl; plain mode: owned here) */

	enum net_state state;
	int refs;
	int handles; /* open libuv handles */
	bool dialed;
	bool opened;      /* on_open fired */
	bool quiet;       /* never fire on_close (dial failed synchronously) */
	bool idle_armed;
	bool shutting;    /* uv_shutdown pending */
	bool gai_pending; /* getaddrinfo holds a reference */
	bool read_paused; /* net_conn_pause_read: no uv_read, no on_data */
	bool rx_pending;  /* resumed: on_idle delivers what rbio / SSL kept */
	uint64_t last_rx;  /* uv_now() of the last bytes read (idle sweep) */
	void (*deadline_cb)(struct net_conn *c);

	uint8_t *rbuf;       /* NET_READ_BUF bytes, malloc */
	uint8_t *plain;      /* NET_PLAIN_BUF bytes, secure heap */
	uint8_t *stage;      /* NET_PLAIN_BUF bytes, secure heap: small writes */
	size_t stage_len;
	struct net_chunk *pre_head, *pre_tail; /* written before open */
	size_t pre_len;

	int port;
	char host[256]; /* dial target, for SNI and verification */
	char peer[64];  /* "ip:port" */
};

struct net_listener {
	uv_tcp_t tcp;
	uv_loop_t *loop;
	SSL_CTX *ctx;
	const struct net_proto *proto;
	void *data;
	uv_timer_t sweep; /* idle sweep, running while idle_ms > 0 */
	struct net_conn *conns;
	unsigned n_conns;  /* in conns */
	unsigned max_conns;
	uint64_t idle_ms;  /* 0: no idle timeout */
	uint64_t cap_logged; /* uv_now() of the last "at the cap" log */
	unsigned cap_refused; /* refused since that log */
	bool closing;
	int handles; /* open libuv handles: tcp, sweep */
	void (*close_cb)(void *data);
	void *close_data;
	int port;
};

/* Split "host:port" / "[v6]:port". 0 or CF_EINVAL. */
int net__split_addr(const char *addr, char *host, size_t hostlen, int *port);
/* Numeric host (or "localhost") to a socket address. 0 or CF_EINVAL. */
int net__numeric_addr(const char *host, int port, struct sockaddr_storage *ss);
/* Format a socket address as "ip:port" into out (>= 64 bytes). */
void net__format_addr(const struct sockaddr *sa, char *out, size_t outlen);

/* conn.c: a connection with its handles initialised (ctx NULL: plaintext).
 * NULL on allocation failure. */
struct net_conn *net__conn_new(uv_loop_t *loop, SSL_CTX *ctx, const struct net_proto *proto,
			       void *data);
/* Start reading and the handshake on a socket the caller uv_accept'ed. */
void net__conn_start_accepted(struct net_conn *c);
/* Close the handles without firing on_close (c never reached a user). */
void net__conn_abort(struct net_conn *c);

/* listener.c: a connection of l finished closing. */
void net__listener_conn_done(struct net_listener *l, struct net_conn *c);

#endif
