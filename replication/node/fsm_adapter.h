/*
 * fsm_adapter (private to replication/node): turns a struct node_fsm into a
 * struct raft_fsm (version 2), frames commands into raft entries and
 * proposes them, and routes each apply result to the local request that
 * proposed the entry.
 *
 * Entry formats (every field little endian, total a multiple of 8 bytes):
 *
 *   v1 "CFE1", one command:
 *   [u32 magic][u32 cmd len][u64 proposer id][u64 proposer seq][cmd][0 pad]
 *
 *   v2 "CFE2", a batch of count >= 1 commands, each padded to 8:
 *   [u32 magic][u32 count][u64 proposer id]
 *   count x ([u64 proposer seq][u32 cmd len][u32 0][cmd][0 pad to 8])
 *   and nothing after the last command.
 *
 * node_propose queues commands (node__enqueue); node.c calls node__flush at
 * the end of the loop iteration, which packs the queue into as few entries
 * as the caps allow (NODE_BATCH_MAX_CMDS commands / NODE_BATCH_MAX_BYTES per
 * entry; one command alone may be larger) and proposes each with raft_apply
 * n == 1. A one-command entry is written as v1 (what pre-batching nodes
 * understand); v2 only carries batches. Every node still decodes both. Each
 * sub-command of an entry is one node_fsm.apply call, in order.
 *
 * libraft hands the apply result to the request callback only on the leader
 * that proposed the entry, and only if the request is still pending there.
 * Rather than relying on that, apply() looks up (proposer id, seq) of every
 * command in this node's pending list: a match keeps the result in the
 * proposal (so a command applied here after raft already failed its entry
 * still reports its real outcome), no match frees it at once with
 * node_fsm.result_free. raft itself always sees result NULL, so nothing
 * leaks on followers.
 *
 * Seqs start at a random 63-bit value per adapter (per process start) so that
 * entries proposed by an earlier incarnation of this node id, applied after a
 * restart, cannot be mistaken for a new proposal.
 *
 * A malformed entry (short, bad magic, a length past the end, count 0, a
 * non-zero reserved word, bytes after the last command) is skipped as a
 * whole, the same way on every node: validated completely before any
 * sub-command is applied, counted, logged, not passed to node_fsm.apply.
 *
 * If node_fsm.apply fails on sub-command k of a batch, raft retries the
 * entry; the adapter remembers (proposer, first seq, k) and resumes at k, so
 * commands 0..k-1 are not applied twice.
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
#define NODE_BATCH_MAGIC 0x32454643u	 /* "CFE2" */
#define NODE_BATCH_HEADER 16u
#define NODE_BATCH_CMD_HEADER 16u
#define NODE_BATCH_MAX_CMDS 512u
#define NODE_BATCH_MAX_BYTES (1024u * 1024)
#define NODE_SNAPSHOT_MAGIC 0x31534643u /* "CFS1" */
#define NODE_SNAPSHOT_HEADER 16u
#define NODE_MAX_COMMAND (16u * 1024 * 1024)

#define NODE_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct node_adapter;
struct node_entry;

/* One proposal. Owned by the adapter from node__enqueue / node__propose
 * until its callback has returned. */
struct node_proposal {
	struct node_adapter *a;
	uint64_t seq;
	struct node_proposal *prev, *next; /* pending list, ascending seq */
	struct node_proposal *enext;	   /* the queue, then its entry's list */
	bool applied;			   /* the FSM applied it on this node */
	void *result;			   /* valid if applied */
	node_apply_cb cb;
	void *data;
	size_t len;
	uint8_t cmd[]; /* the copy (read when the entry is encoded) */
};

/* One raft entry in flight, carrying n proposals. */
struct node_entry {
	struct raft_apply req;
	struct node_adapter *a;
	struct node_proposal *head;
	unsigned n;
};

/* One command of a batch, for the codec. */
struct node_cmd {
	uint64_t seq;
	const uint8_t *cmd;
	size_t len;
};

struct node_adapter {
	struct raft_fsm raft_fsm; /* give &raft_fsm to raft_init */
	struct node_fsm fsm;	  /* copied */
	uint64_t id;		  /* this node's raft id */
	uint64_t next_seq;
	struct node_proposal *head, *tail;   /* pending (queued or in an entry) */
	struct node_proposal *qhead, *qtail; /* queued, not yet in an entry */
	struct node_proposal *hint;	     /* where pending_find starts */
	unsigned n_pending;	/* proposals whose callback has not fired */
	unsigned n_queued;	/* of which not yet proposed */
	bool shutting_down;	/* map LEADERSHIPLOST to CF_ESHUTDOWN */
	uint64_t n_applied;	/* commands handed to node_fsm.apply */
	uint64_t n_malformed;	/* entries skipped */
	uint64_t n_snapshots, n_restores;
	uint64_t n_entries;	/* entries proposed by node__flush */
	uint64_t n_flushed;	/* commands in them */
	/* resume point of a batch whose apply failed part-way */
	bool resume;
	uint64_t resume_proposer, resume_seq;
	unsigned resume_at;
	bool warned_version; /* an entry from a newer format was refused */
};

/* Fill a->raft_fsm from fsm (copied). id: the node's raft id. */
void node__adapter_init(struct node_adapter *a, const struct node_fsm *fsm, uint64_t id);

/* Frame cmd (borrowed) into a raft_malloc'ed, zero-padded entry. */
int node__entry_encode(uint64_t proposer, uint64_t seq, const uint8_t *cmd, size_t len,
		       struct raft_buffer *out);

/* Parse an entry. Returns 0 and points *cmd into buf, or CF_EPROTO. */
int node__entry_decode(const void *buf, size_t buf_len, uint64_t *proposer, uint64_t *seq,
		       const uint8_t **cmd, size_t *len);

/* Frame n >= 1 commands (borrowed) into one raft_malloc'ed v2 entry. */
int node__batch_encode(uint64_t proposer, const struct node_cmd *cmds, unsigned n,
		       struct raft_buffer *out);

/* Validate a whole v2 entry. Returns 0 with its proposer and count, or
 * CF_EPROTO. */
int node__batch_check(const void *buf, size_t buf_len, uint64_t *proposer, unsigned *count);

/* Iterate a v2 entry: *off starts at NODE_BATCH_HEADER. Returns 0 and the
 * next command (pointing into buf), or CF_EPROTO past the end / if bad. */
int node__batch_next(const void *buf, size_t buf_len, size_t *off, struct node_cmd *out);

/* Queue a command (copied) for the next node__flush. The callback fires
 * once (after the flush). Errors: CF_EINVAL, CF_ETOOBIG, CF_ENOMEM; no
 * callback then. */
int node__enqueue(struct node_adapter *a, const uint8_t *cmd, size_t len, node_apply_cb cb,
		  void *data);

/* Propose everything queued: as few entries as the caps allow, each with
 * raft_apply n == 1. If raft_apply fails, every command of that entry gets
 * its callback now with the mapped error (CF_ENOTLEADER, ...). Returns the
 * number of entries proposed. Callbacks may enqueue again: those wait for
 * the next flush. */
unsigned node__flush(struct node_adapter *a, struct raft *r);

/* Fail everything queued with status (callbacks fire now). */
void node__fail_queued(struct node_adapter *a, int status);

/* One command, one entry, proposed at once (synchronous; the fixture tests
 * use it). Same contract as node_propose, minus the leadership/shutdown
 * checks that node.c does first. Errors: CF_ETOOBIG, CF_ENOMEM,
 * CF_ENOTLEADER, CF_ERAFT; no callback then. */
int node__propose(struct node_adapter *a, struct raft *r, const uint8_t *cmd, size_t len,
		  node_apply_cb cb, void *data);

/* Map a raft error code to CF_E*. */
int node__raft_error(int rv);

#endif
