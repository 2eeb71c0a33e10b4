/*
 * fsm/result.h: what fsm_apply() hands back to the proposer, and the
 * read-side accessors that api/ uses to answer reads from the FSM's store.
 * A result is one heap block plus owned strings; it holds identifiers,
 * labels and dates only (never a value). Loop thread only.
 */
#ifndef COFFER_FSM_RESULT_H
#define COFFER_FSM_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "fsm/fsm.h"
#include "store/store.h"
#include "util/errors.h"

/* Which command produced the result. */
enum fsm_op {
	FSM_OP_NONE = 0, /* undecodable command */
	FSM_OP_KMS_KEY_CREATE,
	FSM_OP_CREATE_SECRET,
	FSM_OP_PUT_VALUE,
	FSM_OP_UPDATE_SECRET,
	FSM_OP_UPDATE_VERSION_STAGE,
	FSM_OP_DELETE_SECRET,
	FSM_OP_RESTORE_SECRET,
	FSM_OP_PURGE,
	FSM_OP_TAG_RESOURCE,
	FSM_OP_UNTAG_RESOURCE,
	FSM_OP_TOUCH,
};

struct fsm_result {
	enum fsm_op op;
	struct cf_status status;    /* empty type = success */
	uint64_t revision;          /* revision after this command */
	char *arn;                  /* NULL when absent */
	char *name;
	char *version_id;           /* set when a version was created or replayed */
	char *stages[STORE_MAX_LABELS]; /* labels on version_id, sorted */
	size_t n_stages;
	int64_t date_ms;            /* DeleteSecret: DeletionDate */
	size_t n_changed;           /* Purge: secrets removed; Touch: dates moved */
};

/* The store inside f (borrowed; valid until the next apply/restore). Reads
 * only: every mutation goes through fsm_apply(). */
const struct store *fsm_store(const struct fsm *f);
/* The region the FSM was created for (borrowed). */
const char *fsm_region(const struct fsm *f);

/* The leader-local set of pending LastAccessedDate updates that lives with
 * f (store/touch.h): api/ records value reads in it and housekeeping drains
 * it into Touch commands. Not state: never replicated, snapshotted or seen
 * by apply(). */
struct store_touches;
struct store_touches *fsm_touches(struct fsm *f);

#endif
