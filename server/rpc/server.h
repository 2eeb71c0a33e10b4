/*
 * server: one cofferd process. Owns the loop-thread state: configuration,
 * FSM, keyring, credentials, the raft node, TLS contexts, the RPC listener,
 * links to the other members (forwarding and status), the housekeeping
 * timer and signal handling. Requests arrive as frames (rpc.c), are
 * authenticated, then served on the leader or relayed to it (peer.c).
 * Loop thread only.
 */
#ifndef COFFER_RPC_SERVER_H
#define COFFER_RPC_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config/config.h"
#include "coffer.pb-c.h"
#include "util/secmem.h"

struct fsm;
struct keyring;
struct auth;
struct node;
struct net_listener;
struct net_conn;
struct api_op;
struct call;

/* An outgoing link to another member, used to relay client calls to the
 * leader and to ask members for their status. */
struct peer {
	struct server *s;
	const struct config_member *m;
	struct net_conn *conn;  /* NULL when not connected */
	bool open;              /* TLS handshake done */
	struct call *pending;   /* calls sent or waiting for the connection */
	void *dec;              /* struct frame_decoder */
	uint64_t next_id;
};

struct server {
	uv_loop_t *loop;
	struct config *cfg;
	struct fsm *fsm;
	struct keyring *kr;
	struct auth *auth;
	struct node *node;
	SSL_CTX *tls_server;
	SSL_CTX *tls_client;
	struct net_listener *rpc;
	struct net_listener *http; /* the AWS endpoint (aws/http.c), NULL when off */
	struct peer peers[CONFIG_MAX_MEMBERS];
	uv_timer_t tick;        /* housekeeping + peer call deadlines */
	uv_signal_t sigint;
	uv_signal_t sigterm;
	bool leader;
	bool housekeeping_busy;
	bool stopping;
	int exit_code;
	uint64_t calls_served;
};

/* A call being served: either a client request on one of our connections,
 * or an internal call to a peer. */
typedef void (*call_done_cb)(struct call *call, const Coffer__Envelope *answer);
struct call {
	struct server *s;
	struct net_conn *conn;    /* client connection (ref'd) or NULL */
	uint64_t call_id;         /* the client's id */
	const struct api_op *op;
	char op_name[64];
	struct secbuf payload;    /* request payload (may hold a value) */
	struct secbuf envelope;   /* the client's envelope, for relaying */
	/* peer bookkeeping */
	struct call *next;
	uint64_t peer_id;         /* id on the peer link */
	uint64_t deadline_ms;
	bool sent;
	call_done_cb done;        /* internal and submitted calls */
	void *done_data;
	const char *api;          /* "rpc" or "aws": counted in metrics; NULL = internal */
	uint64_t start_ns;
};

/* rpc.c */
int rpc_listen(struct server *s, char *errmsg);
/* Send an answer for call (success payload or AWS error) and free call. */
void rpc_answer(struct call *call, const char *err_type, const char *err_msg,
		const struct secbuf *payload);
/* Relay a peer's answer (already an envelope) to the call's client. */
void rpc_relay(struct call *call, const Coffer__Envelope *answer);
/* Finish a call with an answer envelope (borrowed): count it, hand it to
 * done() or send it to the client under the client's call id, free call. */
void call_complete(struct call *call, const Coffer__Envelope *answer);
void call_free(struct call *call);

/* Submit an already-authenticated call from another front end (the AWS
 * endpoint): operation name and packed request payload (both copied).
 * done(call, answer) runs exactly once, possibly before rpc_submit
 * returns, with the answer envelope (payload or error); call->done_data is
 * data. On a follower the call is relayed to the leader, signed with this
 * node's credentials. api is the metrics label ("aws"). */
void rpc_submit(struct server *s, const char *api, const char *op, const uint8_t *payload,
		size_t n, call_done_cb done, void *data);

/* Build a forwarded envelope for op signed with this node's root
 * credentials (for relays and internal calls) into out (secure). */
int rpc_internal_envelope(struct server *s, const char *op, const uint8_t *payload, size_t n,
			  struct secbuf *out);

/* peer.c */
void peers_init(struct server *s);
/* Send call to member id (relay or internal). Takes ownership of call: on
 * failure the call is answered with ServiceUnavailableException. */
void peer_send(struct server *s, uint64_t member_id, struct call *call);
/* Fail calls whose deadline (uv_now, monotonic ms) passed. */
void peers_tick(struct server *s, uint64_t now_ms);
void peers_close(struct server *s);
/* true if conn presented a verified certificate naming a configured member
 * of this region (coffer://<region>/<member id>): only then is an
 * envelope's "forwarded" flag honoured. */
bool peer_conn_is_member(const struct server *s, const struct net_conn *conn);

/* status.c */
void status_cluster(struct call *call);
int status_node(struct server *s, Coffer__NodeStatus *out, char *state_buf, size_t cap);

uint64_t server_now_ms(void);

#endif
