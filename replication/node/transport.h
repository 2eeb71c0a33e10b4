/*
 * transport (private to replication/node): Coffer's struct raft_uv_transport
 * (version 1) over TCP. Every socket gets TCP_NODELAY (libraft's stock TCP
 * transport never sets it: Nagle + delayed ACK stalled commits 10-17x at
 * 4-16 requests in flight). After connecting, the dialer sends
 *
 *   [u64 protocol][u64 id][u64 addr_len][addr]     (little endian, no pad)
 *
 * and the acceptor reads exactly that (never a byte more) before handing the
 * connected uv_stream_t to raft with the peer's id and address. Handshakes
 * that do not complete within a deadline, announce another protocol, id 0 or
 * an address longer than NODE_TRANSPORT_MAX_ADDR are dropped.
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

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define NODE_TRANSPORT_PROTOCOL UINT64_C(0x31544652464f43) /* "COFRT1" */
#define NODE_TRANSPORT_MAX_ADDR 255
#define NODE_TRANSPORT_HANDSHAKE_MS 5000

/* Set up t (version 1, methods, impl). The object must stay at a fixed
 * address until node__transport_release. Errors: CF_ENOMEM. */
int node__transport_init(struct raft_uv_transport *t, uv_loop_t *loop);

/* Free t->impl. Only after t->close's callback has fired, or if t->listen
 * was never called. */
void node__transport_release(struct raft_uv_transport *t);

#endif
