/*
 * transport (private to replication/node): Coffer's struct raft_uv_transport
 * (version 1) over TCP and mutual TLS 1.3. Every socket gets TCP_NODELAY
 * (libraft's stock TCP transport never sets it: Nagle + delayed ACK stalled
 * commits 10-17x at 4-16 requests in flight).
 *
 * After connecting, both ends run a TLS 1.3 handshake with certificates of
 * the deployment CA (ca_file); each requires the other's certificate, and
 * its SAN URI must be coffer://<own region>/<id>: the dialer requires the id
 * raft asked for, the acceptor the id announced in M1 below. Then raft gets
 * one end of a socketpair (a raft_malloc'ed uv_pipe_t) and the transport
 * pumps plaintext between the other end and the TLS session, pausing either
 * side while the other's write queue is long (never a cap on total bytes:
 * InstallSnapshot may be hundreds of MB in one message). A TLS record that
 * fails to decrypt (altered on the path) drops the link; raft redials.
 *
 * Inside TLS, as defence in depth, both ends authenticate each other with
 * the region's peer key (HMAC-SHA256 challenge-response, once per
 * connection), bound to the TLS session (exporter) and the region. Little
 * endian, no padding:
 *
 *   dialer   -> acceptor  M1: [u64 protocol][u64 id][u64 addr_len][addr][32 nonce_d]
 *   acceptor -> dialer    M2: [u64 protocol][u64 id][u64 addr_len][addr][32 nonce_a][32 mac_a]
 *   dialer   -> acceptor  M3: [32 mac_d]
 *
 *   mac_X = HMAC-SHA256(peer_key, "coffer-raft-auth" || role_X ||
 *                       u64 region_len || region || u64 id_X ||
 *                       u64 addr_len_X || addr_X || nonce_d || nonce_a || ekm)
 *   ekm   = SSL_export_keying_material(32, "EXPORTER-coffer-raft-auth", no
 *           context); 32 zero bytes on a transport without TLS (tests only)
 *
 * with role 'D' for the dialer and 'A' for the acceptor, id/addr the
 * sender's own. Nonces are 32 fresh random bytes per connection. The
 * acceptor answers only after it holds the dialer's nonce; the dialer checks
 * mac_a (and that the acceptor is the node id raft asked for) before it
 * reveals mac_d; the acceptor checks mac_d before raft sees the stream.
 * Both MACs bind both nonces and a role byte, so neither can be replayed on
 * another connection or reflected back. Every read is sized to exactly what
 * is missing, so raft's first message stays in the socket. Handshakes that
 * fail a MAC, announce another protocol (e.g. protocol 1 of older nodes), id
 * 0, an address longer than NODE_TRANSPORT_MAX_ADDR, end early, or do not
 * complete within NODE_TRANSPORT_HANDSHAKE_MS are dropped with a warning
 * naming the socket's peer address (rate limited; never key bytes, never
 * the unauthenticated announced address).
 *
 * A transport without a key (tests only) sends zero MACs and checks none;
 * one without TLS configuration (tests only) runs the same handshake on
 * plain TCP and hands raft the TCP stream itself.
 *
 * The listener admits at most a bounded number of connections that have not
 * finished the handshake, in total and per source address, derived from
 * RLIMIT_NOFILE at init (well below it); beyond that a connection is
 * accepted and closed at once.
 *
 * Addresses are "host:port" or "[v6]:port"; literals are used directly, host
 * names resolved with uv_getaddrinfo (asynchronously when connecting).
 *
 * Streams handed to raft are raft_malloc'ed (uv_pipe_t with TLS, uv_tcp_t
 * without): raft closes them and frees them with raft_free.
 *
 * Loop thread only.
 */
#ifndef COFFER_NODE_TRANSPORT_H
#define COFFER_NODE_TRANSPORT_H

#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define NODE_TRANSPORT_PROTOCOL UINT64_C(0x33544652464f43) /* "COFRT3" */
#define NODE_TRANSPORT_KEY_LEN 32
#define NODE_TRANSPORT_NONCE_LEN 32
#define NODE_TRANSPORT_MAC_LEN 32
#define NODE_TRANSPORT_MAX_ADDR 255
#define NODE_TRANSPORT_HANDSHAKE_MS 5000
#define NODE_TRANSPORT_MAX_REGION 63

/* TLS configuration (all borrowed, read during init only). */
struct node_transport_tls {
	const char *ca_file;   /* the deployment CA */
	const char *cert_file; /* this node's certificate (coffer://region/id) */
	const char *key_file;
};

/* Set up t (version 1, methods, impl). The object must stay at a fixed
 * address until node__transport_release. peer_key (NODE_TRANSPORT_KEY_LEN
 * bytes, borrowed) is copied into the secure heap; NULL disables peer
 * authentication (tests only). region (borrowed, copied; NULL = "") is bound
 * into the MACs and required in peer certificates. tls NULL: plain TCP
 * (tests only). Errors: CF_ENOMEM, CF_EINVAL / CF_ECRYPTO (bad region,
 * certificate or key files) with errmsg (>= 256 bytes). */
int node__transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
			 const uint8_t *peer_key, const char *region,
			 const struct node_transport_tls *tls, char *errmsg);

/* Handshake message parser, as the transport runs it on bytes read in
 * pieces of at most chunk bytes (>= 1): [hdr][addr][tail] with tail the
 * bytes after the address. Returns 1 (complete: *used bytes consumed, id
 * and address set), 0 (needs more than n), -1 (refused). Pure; exposed for
 * the fuzz target. */
int node__handshake_parse(const uint8_t *buf, size_t n, size_t tail, size_t chunk,
			  size_t *used, uint64_t *id, const uint8_t **addr, size_t *addr_len);

/* Free t->impl and wipe the key copy. Only after t->close's callback has
 * fired, or if t->listen was never called. */
void node__transport_release(struct raft_uv_transport *t);

#endif
