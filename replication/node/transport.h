/*
 * transport (private to replication/node): Coffer's struct raft_uv_transport
 * (version 1) over TCP. Every socket gets TCP_NODELAY (libraft's stock TCP
 * transport never sets it: Nagle + delayed ACK stalled commits 10-17x at
 * 4-16 requests in flight). After connecting, both ends authenticate each
 * other with the region's peer key (HMAC-SHA256 challenge-response, once per
 * connection; nothing per message). Little endian, no padding:
 *
 *   dialer   -> acceptor  M1: [u64 protocol][u64 id][u64 addr_len][addr][32 nonce_d]
 *   acceptor -> dialer    M2: [u64 protocol][u64 id][u64 addr_len][addr][32 nonce_a][32 mac_a]
 *   dialer   -> acceptor  M3: [32 mac_d]
 *
 *   mac_X = HMAC-SHA256(peer_key, "coffer-raft-auth" || role_X || u64 id_X ||
 *                       u64 addr_len_X || addr_X || nonce_d || nonce_a)
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
 * A transport without a key (tests only) sends zero MACs and checks none.
 * This authenticates peers, it does not protect the stream: an on-path
 * attacker can still relay or alter traffic (mutual TLS: the TLS seam).
 *
 * Addresses are "host:port" or "[v6]:port"; literals are used directly, host
 * names resolved with uv_getaddrinfo (asynchronously when connecting).
 *
 * Streams handed to raft are raft_malloc'ed uv_tcp_t: raft closes them and
 * frees them with raft_free.
 *
 * Loop thread only.
 */
#ifndef COFFER_NODE_TRANSPORT_H
#define COFFER_NODE_TRANSPORT_H

#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define NODE_TRANSPORT_PROTOCOL UINT64_C(0x32544652464f43) /* "COFRT2" */
#define NODE_TRANSPORT_KEY_LEN 32
#define NODE_TRANSPORT_NONCE_LEN 32
#define NODE_TRANSPORT_MAC_LEN 32
#define NODE_TRANSPORT_MAX_ADDR 255
#define NODE_TRANSPORT_HANDSHAKE_MS 5000

/* Set up t (version 1, methods, impl). The object must stay at a fixed
 * address until node__transport_release. peer_key (NODE_TRANSPORT_KEY_LEN
 * bytes, borrowed) is copied into the secure heap; NULL disables peer
 * authentication (tests only). Errors: CF_ENOMEM. */
int node__transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
			 const uint8_t *peer_key);

/* Free t->impl and wipe the key copy. Only after t->close's callback has
 * fired, or if t->listen was never called. */
void node__transport_release(struct raft_uv_transport *t);

#endif
