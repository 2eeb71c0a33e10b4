/*
 * fsm: the region's deterministic state machine. It owns the store (secrets,
 * versions with ciphertext only, staging labels, idempotency tokens, tags,
 * wrapped KMS keys) and a global revision that counts applied commands and
 * is identical on every replica. apply() reads no clock, no RNG, does no
 * I/O: everything non-deterministic is inside the command. Business
 * outcomes (ResourceNotFound, ...) are results, never apply() errors.
 * The fsm object also carries the leader's pending LastAccessedDate set
 * (fsm_touches in result.h), which is not state: apply(), snapshots and
 * restore never touch it.
 * Pure: no libuv, no raft. Loop thread only.
 */
#ifndef COFFER_FSM_FSM_H
#define COFFER_FSM_FSM_H

#include <stddef.h>
#include <stdint.h>

struct fsm; /* opaque; the store inside is reached through api/ */

/* At most this many entries in one Touch (LastAccessedDate) command. */
#define FSM_MAX_TOUCH 1000

/* Create an empty state machine for region (copied). NULL on ENOMEM. */
struct fsm *fsm_new(const char *region);
void fsm_free(struct fsm *f);

/* Apply one committed command (the bytes given to node_propose, borrowed).
 * Always advances the revision. *result receives a heap result for the
 * proposer (free with fsm_result_free; api_finish interprets it). Returns 0,
 * or CF_ENOMEM (fatal for the node). An undecodable command is applied as a
 * no-op whose result is an InternalServiceError. */
int fsm_apply(struct fsm *f, const uint8_t *cmd, size_t n, void **result);
void fsm_result_free(void *result);

/* Serialise the whole state (malloc'ed; ciphertext and identifiers only). */
int fsm_snapshot(struct fsm *f, uint8_t **buf, size_t *n);
/* Replace the state with a snapshot (borrowed). CF_EPROTO if malformed; the
 * old state is kept in that case. */
int fsm_restore(struct fsm *f, const uint8_t *buf, size_t n);

uint64_t fsm_revision(const struct fsm *f);

/* Change feed hook: called from apply() after every mutation of a secret,
 * with the new revision and the secret's ARN (borrowed). Cross-region
 * replication will read committed changes through it. */
enum fsm_change_kind { FSM_CHANGE_UPSERT = 1, FSM_CHANGE_DELETE = 2 };
typedef void (*fsm_change_cb)(void *data, uint64_t revision, const char *arn,
			      enum fsm_change_kind kind);
void fsm_set_change_hook(struct fsm *f, fsm_change_cb cb, void *data);

#endif
