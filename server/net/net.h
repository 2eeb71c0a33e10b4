/*
 * net: TCP + TLS 1.3 connections on libuv, protocol-agnostic. A listener
 * accepts connections and runs the TLS handshake (OpenSSL memory BIOs);
 * decrypted bytes go to the protocol's on_data callback (the RPC framing
 * today, HTTP/1.1 later). Outgoing connections (net_dial) use the same
 * code, for forwarding to the leader. Connections are reference-counted so
 * an answer that arrives after the peer left is dropped safely.
 * Loop thread only.
 */
#ifndef COFFER_NET_NET_H
#define COFFER_NET_NET_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

struct net_conn; /* opaque */

struct net_proto {
	/* Connection established (after the TLS handshake). May set user data. */
	void (*on_open)(struct net_conn *c);
	/* Plaintext bytes (borrowed, wiped after the call; at most 64 KiB per
	 * call). Return non-zero to close the connection. */
	int (*on_data)(struct net_conn *c, const uint8_t *buf, size_t n);
	/* The connection is closing (peer closed, error, net_conn_close). After
	 * this no callback fires; held references stay valid until unref.
	 * Fires exactly once, from a libuv close callback (never inside a net_*
	 * call). Accepted connections: only if on_open fired. Dialed: always,
	 * also when connect or the handshake failed. */
	void (*on_close)(struct net_conn *c);
};

struct net_listener; /* opaque */

/* Listen on "host:port" with TLS (ctx borrowed, must outlive the listener;
 * NULL = plaintext, only for loopback tests). errmsg >= 256 bytes. */
int net_listen(uv_loop_t *loop, const char *addr, SSL_CTX *ctx, const struct net_proto *proto,
	       void *data, struct net_listener **out, char *errmsg);
/* Stop accepting and close every connection of this listener; cb (may be
 * NULL) runs once every handle is closed. l is freed before cb; a second
 * call is ignored. */
void net_listener_close(struct net_listener *l, void (*cb)(void *data), void *data);
/* The bound port (useful with port 0). */
int net_listener_port(const struct net_listener *l);
/* Close (net_conn_close) an open connection of l after ms without a byte
 * received; 0 (the default) = never. A connection whose reading is paused
 * (net_conn_pause_read) is not idle; resuming restarts its clock. One timer
 * per listener sweeps every second (every ms/4 for ms < 4 s), so a close
 * comes between ms and ms + 1 s. The environment variable
 * COFFER_IDLE_TIMEOUT_MS, if set (read once, at the first call), replaces
 * ms for every listener: tests use it to see idle closes in seconds. */
void net_listener_set_idle_timeout(struct net_listener *l, unsigned ms);
/* At most n connections at once (default NET_MAX_CONNS; n >= 1). Beyond
 * that a connection is accepted and closed at once (logged at most once a
 * second) so the backlog does not fill. */
#define NET_MAX_CONNS 4096u
void net_listener_set_max_conns(struct net_listener *l, unsigned n);

/* Connect to "host:port" (TLS client, ctx borrowed; verifies the peer
 * against ctx's trust store). on_open fires on success, on_close on
 * failure or later close. *out is valid until on_close returns (longer with
 * net_conn_ref); writes before on_open are queued until the handshake ends.
 * An error return (CF_EINVAL bad address, CF_ENOMEM, CF_EIO) fires nothing. */
int net_dial(uv_loop_t *loop, const char *addr, SSL_CTX *ctx, const struct net_proto *proto,
	     void *data, struct net_conn **out);

/* Queue bytes for sending (copied into the TLS layer; wiped after). Returns
 * 0, CF_ECLOSED if the connection is closing (or was just closed because
 * more than 64 MiB would be pending), CF_ENOMEM. Small writes in one loop
 * turn leave as one TLS record stream and one uv_write. */
int net_conn_write(struct net_conn *c, const uint8_t *buf, size_t n);
/* Two-part write (e.g. frame header + body) without an extra copy by the caller. */
int net_conn_write2(struct net_conn *c, const uint8_t *a, size_t an, const uint8_t *b, size_t bn);
/* Close (flushes queued writes and close_notify first, bounded by 2 s).
 * Idempotent. */
void net_conn_close(struct net_conn *c);
int net_conn_is_open(const struct net_conn *c);
/* Stop delivering on_data (uv_read_stop) until resume, e.g. while the
 * protocol has too much work outstanding. The chunk being delivered when
 * this is called was handed over in full; bytes read or decrypted beyond it
 * are kept and delivered, in order, after resume (from the loop, never
 * inside net_conn_resume_read). Only on open connections; idempotent. */
void net_conn_pause_read(struct net_conn *c);
void net_conn_resume_read(struct net_conn *c);
/* Call cb(c) once, ms from now, if c is still open then (ms = 0 cancels).
 * Replaces an earlier deadline. Only on open connections. cb typically
 * answers and closes. */
void net_conn_set_deadline(struct net_conn *c, unsigned ms, void (*cb)(struct net_conn *c));
void net_conn_ref(struct net_conn *c);
void net_conn_unref(struct net_conn *c);
void *net_conn_get_data(const struct net_conn *c);     /* listener/dial data */
void net_conn_set_user(struct net_conn *c, void *user); /* per-connection state */
void *net_conn_get_user(const struct net_conn *c);
/* "ip:port" of the peer (borrowed). */
const char *net_conn_peer(const struct net_conn *c);

/* TLS contexts (TLS 1.3 only). errmsg >= 256 bytes. */
SSL_CTX *net_tls_server_ctx(const char *cert_file, const char *key_file, char *errmsg);
SSL_CTX *net_tls_client_ctx(const char *ca_file, char *errmsg);
/* Create a self-signed ECDSA P-256 certificate + key (key file 0600) valid
 * for 127.0.0.1, ::1 and localhost (plus extra_host if non-NULL), 10 years. */
int net_tls_make_self_signed(const char *cert_file, const char *key_file,
			     const char *extra_host, char *errmsg);

/* Mutual TLS between the members of a region (raft, relays). Node
 * certificates name their member as a SAN URI "coffer://REGION/NODE".
 * A peer context (server != 0: accepting side) presents cert_file/key_file,
 * requires a peer certificate chaining to ca_file, TLS 1.3 only, no tickets.
 * errmsg >= 256 bytes; NULL on error. Caller frees with SSL_CTX_free. */
SSL_CTX *net_tls_peer_ctx(int server, const char *ca_file, const char *cert_file,
			  const char *key_file, char *errmsg);
/* Make a server context ask for (not require) a client certificate verified
 * against ca_file: a presented certificate that does not verify fails the
 * handshake; none is fine. 0 or CF_ECRYPTO + errmsg. */
int net_tls_request_client_cert(SSL_CTX *server_ctx, const char *ca_file, char *errmsg);
/* Present cert_file/key_file as client certificate. 0 or CF_ECRYPTO + errmsg. */
int net_tls_use_client_cert(SSL_CTX *client_ctx, const char *cert_file, const char *key_file,
			    char *errmsg);
/* The member a certificate (borrowed) names: region (cap bytes) and node id.
 * 0; CF_ENOTFOUND without a coffer:// URI; CF_EINVAL if malformed or more
 * than one. Pure, any thread. */
int net_tls_cert_identity(X509 *cert, char *region, size_t cap, uint64_t *node_id);
/* The same for a PEM file (first certificate). Errors also in errmsg. */
int net_tls_file_identity(const char *cert_file, char *region, size_t cap, uint64_t *node_id,
			  char *errmsg);
/* The verified member identity of c's peer certificate: 0 (region, id set)
 * only if the peer presented a certificate that verified against the
 * context's trust store and names a member; CF_ENOTFOUND otherwise. */
int net_conn_peer_identity(const struct net_conn *c, char *region, size_t cap,
			   uint64_t *node_id);

#endif
