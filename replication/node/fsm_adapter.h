/*
 * fsm_adapter (private to replication/node): turns a struct node_fsm into a
 * struct raft_fsm (version 2), frames commands into raft entries and
 * proposes them, and routes each apply result to the local request that
 * proposed the entry.
 *
 * Entry format (every field little endian, total a multiple of 8 bytes):
 *
 *   [u32 magic][u32 cmd len][u64 proposer id][u64 proposer seq][cmd][0 pad]
 *
 * libraft hands the apply result to the request callback only on the leader
 * that proposed the entry, and only if the request is still pending there.
 * Rather than relying on that, apply() looks up (proposer id, seq) in this
 * node's pending list: a match keeps the result in the proposal (so an entry
 * applied here after raft already failed the request still reports its real
 * outcome), no match frees it at once with node_fsm.result_free. raft itself
 * always sees result NULL, so nothing leaks on followers.
 *
 * Seqs start at a random 63-bit value per adapter (per process start) so that
 * entries proposed by an earlier incarnation of this node id, applied after a
 * restart, cannot be mistaken for a new proposal.
 *
 * A malformed entry (short, bad magic, length past the end) is skipped the
 * same way on every node: counted, logged, not passed to node_fsm.apply.
 *
 * Snapshots are [u32 magic][u32 format 1][u64 len][state][0 pad to 8]; the
 * state buffer from node_fsm.snapshot is passed to raft without a copy and
 * freed in snapshot_finalize.
 *
 * Loop thread only. Exposed for node.c and the fixture tests.
 */
#ifndef COFFER_NODE_FSM_ADAPTER_H
#define COFFER_NODE_FSM_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#include "node/node.h"

#define NODE_ENTRY_MAGIC 0x31454643u	 /* "CFE1" */
#define NODE_ENTRY_HEADER 24u
#define NODE_SNAPSHOT_MAGIC 0x31534643u /* "CFS1" */
#define NODE_SNAPSHOT_HEADER 16u
#define NODE_MAX_COMMAND (16u * 1024 * 1024)

#define NODE_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct node_adapter;

/* One proposal in flight. Owned by the adapter from node__propose until its
 * callback has returned. */
struct node_proposal {
	struct raft_apply req;
	struct node_adapter *a;
	uint64_t seq;
	struct node_proposal *prev, *next; /* pending list, ascending seq */
	bool applied;			   /* the FSM applied it on this node */
	void *result;			   /* valid if applied */
	node_apply_cb cb;
	void *data;
};

struct node_adapter {
	struct raft_fsm raft_fsm; /* give &raft_fsm to raft_init */
	struct node_fsm fsm;	  /* copied */
	uint64_t id;		  /* this node's raft id */
	uint64_t next_seq;
	struct node_proposal *head, *tail;
	unsigned n_pending;	/* proposals whose callback has not fired */
	bool shutting_down;	/* map LEADERSHIPLOST to CF_ESHUTDOWN */
	uint64_t n_applied;	/* commands handed to node_fsm.apply */
	uint64_t n_malformed;	/* entries skipped */
	uint64_t n_snapshots, n_restores;
};

/* Fill a->raft_fsm from fsm (copied). id: the node's raft id. */
void node__adapter_init(struct node_adapter *a, const struct node_fsm *fsm, uint64_t id);

/* Frame cmd (borrowed) into a raft_malloc'ed, zero-padded entry. */
int node__entry_encode(uint64_t proposer, uint64_t seq, const uint8_t *cmd, size_t len,
		       struct raft_buffer *out);

/* Parse an entry. Returns 0 and points *cmd into buf, or CF_EPROTO. */
int node__entry_decode(const void *buf, size_t buf_len, uint64_t *proposer, uint64_t *seq,
		       const uint8_t **cmd, size_t *len);

/* raft_apply with n == 1 on r. Same contract as node_propose, minus the
 * leadership/shutdown checks that node.c does first. Errors: CF_ETOOBIG,
 * CF_ENOMEM, CF_ENOTLEADER, CF_ERAFT; no callback then. */
int node__propose(struct node_adapter *a, struct raft *r, const uint8_t *cmd, size_t len,
		  node_apply_cb cb, void *data);

/* Map a raft error code to CF_E*. */
int node__raft_error(int rv);

#endif
