/*
 * node: the raft glue of one region member (libraft 0.22.1, libuv disk
 * backend). It owns struct raft, its io and its transport (Coffer's own
 * raft_uv_transport over TCP with TCP_NODELAY on every socket; the seam for
 * mutual TLS later). Commands are framed here: [u32 magic][u32 len][cmd][pad
 * to 8]. It offers propose, batched linearizable-read barriers, leader
 * tracking (watched every loop iteration; a barrier after every gain of
 * leadership before reporting it), status, and an orderly close that drains
 * pending work before raft_close. Only replication/ includes raft.h.
 * Loop thread only.
 */
#ifndef COFFER_NODE_NODE_H
#define COFFER_NODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct node; /* opaque */

/* The state machine as the node sees it (fsm.h adapts to this). */
struct node_fsm {
	void *ctx;
	/* cmd borrowed; *result to hand to the proposer's callback */
	int (*apply)(void *ctx, const uint8_t *cmd, size_t n, void **result);
	void (*result_free)(void *result);
	int (*snapshot)(void *ctx, uint8_t **buf, size_t *n); /* malloc'ed */
	int (*restore)(void *ctx, const uint8_t *buf, size_t n);
};

struct node_member {
	uint64_t id;
	char raft_address[64]; /* host:port */
};

struct node_config {
	uint64_t id;
	const char *raft_address;  /* this node's host:port */
	const char *data_dir;      /* raft files go in data_dir/raft (created 0700) */
	const struct node_member *members; /* founding members (bootstrap once) */
	unsigned n_members;
	unsigned election_timeout_ms;  /* default 1000 */
	unsigned heartbeat_timeout_ms; /* default 100 */
	unsigned snapshot_threshold;   /* default 8192 */
	unsigned snapshot_trailing;    /* default 2048 */
	/* 32-byte peer-authentication key shared by every member of the region
	 * (derived from the root key); borrowed: node_start copies it into the
	 * secure heap, the caller wipes its own copy. The raft transport admits
	 * only peers that prove they hold it. NULL = no peer authentication
	 * (tests only; cofferd always sets it). */
	const uint8_t *peer_key;
	/* The region's name (bound into the peer handshake and required in
	 * peer certificates) and mutual TLS for raft: this node's certificate
	 * (SAN URI coffer://<region>/<id>, checked at start) and key, and the
	 * deployment CA every peer certificate must chain to. All borrowed,
	 * read during node_start. tls_cert NULL = plain TCP (tests only). */
	const char *region;
	const char *ca_file;
	const char *tls_cert;
	const char *tls_key;
};

/* Leadership changes: leader=true only after the post-election barrier. */
typedef void (*node_leader_cb)(void *data, bool leader);

/* Initialise and start (bootstrap on first start, load state otherwise).
 * errmsg >= 256 bytes. */
int node_start(uv_loop_t *loop, const struct node_config *cfg, const struct node_fsm *fsm,
	       node_leader_cb leader_cb, void *data, struct node **out, char *errmsg);

/* Propose a command (copied). cb fires once: status 0 and the FSM result
 * (ownership to cb: free with fsm->result_free) when applied; CF_ENOTLEADER
 * at once-style failure; CF_ELEADERSHIPLOST when the outcome is unknown
 * (the command may still commit; commands must be idempotent). A non-zero
 * return means cb will not be called. */
typedef void (*node_apply_cb)(void *data, int status, void *result);
int node_propose(struct node *n, const uint8_t *cmd, size_t len, node_apply_cb cb, void *data);

/* Linearizable read: cb(data, 0) once a barrier that was started after this
 * call has completed (one barrier serves every read queued before it);
 * non-zero status if leadership was lost. A non-zero return = no callback. */
typedef void (*node_read_cb)(void *data, int status);
int node_read_barrier(struct node *n, node_read_cb cb, void *data);

/* Leader serving (post-barrier). */
bool node_is_leader(const struct node *n);
/* The current leader's id and raft address as known to this node (0/NULL
 * if none). Address borrowed until the next loop iteration. */
void node_leader(const struct node *n, uint64_t *id, const char **raft_address);

struct node_status {
	uint64_t id;
	const char *state;      /* leader follower candidate unavailable */
	uint64_t term;
	uint64_t last_applied;  /* raft index */
	uint64_t leader_id;
};
void node_get_status(const struct node *n, struct node_status *st);

/* Orderly stop: fail new work, drain pending callbacks (each gets
 * CF_ESHUTDOWN or its real outcome), hand leadership to an up-to-date voter
 * if this node leads (waits for the new leader, at most two election
 * timeouts), raft_close, then cb. */
void node_close(struct node *n, void (*cb)(void *data), void *data);

#endif
