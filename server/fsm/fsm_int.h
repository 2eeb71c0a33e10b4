/*
 * fsm internals shared by fsm.c (lifecycle, decode, dispatch), apply.c (the
 * per-command rules) and snapshot.c. Not for other modules.
 */
#ifndef COFFER_FSM_FSM_INT_H
#define COFFER_FSM_FSM_INT_H

#include "fsm.pb-c.h"
#include "fsm/fsm.h"
#include "fsm/result.h"
#include "store/store.h"
#include "store/touch.h"

#define FSM_MAX_COMMAND (1u << 20)
#define FSM_MAX_SNAPSHOT (1ull << 34)

#define LABEL_CURRENT "AWSCURRENT"
#define LABEL_PREVIOUS "AWSPREVIOUS"
#define LABEL_PENDING "AWSPENDING"

/* Tags: at most FSM_MAX_TAGS per secret, not counting "aws:" keys (which
 * users cannot set, so in practice all of them count). */
#define FSM_MAX_TAGS 50
#define FSM_MSG_TAG_LIMIT "You can't add more than 50 tags to a secret."

struct fsm {
	char *region;
	struct store st;
	uint64_t revision;
	fsm_change_cb hook;
	void *hook_data;
	/* Leader-local pending LastAccessedDate updates (store/touch.h): owned
	 * here so that it lives as long as the store it refers to, but it is
	 * not state: apply(), snapshot and restore never read or write it. */
	struct store_touches touches;
};

/* Call the change hook (if any) for s at the current revision. */
void fsm__changed(struct fsm *f, const char *arn, enum fsm_change_kind kind);

/* Per-command apply; r is pre-allocated with r->op set. 0 or CF_ENOMEM. */
int fsm__kms_key_create(struct fsm *f, int64_t now, const Coffer__Fsm__KmsKeyCreate *c,
			struct fsm_result *r);
int fsm__create_secret(struct fsm *f, int64_t now, const Coffer__Fsm__CreateSecret *c,
		       struct fsm_result *r);
int fsm__put_value(struct fsm *f, int64_t now, const Coffer__Fsm__PutValue *c,
		   struct fsm_result *r);
int fsm__update_secret(struct fsm *f, int64_t now, const Coffer__Fsm__UpdateSecret *c,
		       struct fsm_result *r);
int fsm__update_version_stage(struct fsm *f, int64_t now,
			      const Coffer__Fsm__UpdateVersionStage *c, struct fsm_result *r);
int fsm__delete_secret(struct fsm *f, int64_t now, const Coffer__Fsm__DeleteSecret *c,
		       struct fsm_result *r);
int fsm__restore_secret(struct fsm *f, int64_t now, const Coffer__Fsm__RestoreSecret *c,
			struct fsm_result *r);
int fsm__tag_resource(struct fsm *f, int64_t now, const Coffer__Fsm__TagResource *c,
		       struct fsm_result *r);
int fsm__untag_resource(struct fsm *f, int64_t now, const Coffer__Fsm__UntagResource *c,
			struct fsm_result *r);
int fsm__purge(struct fsm *f, int64_t now, const Coffer__Fsm__Purge *c, struct fsm_result *r);
int fsm__touch(struct fsm *f, int64_t now, const Coffer__Fsm__Touch *c, struct fsm_result *r);

/* Helpers from apply.c: a malformed-command status; the live secret at arn
 * (or a NotFound / marked-for-deletion status and NULL); arn and name into
 * the result. */
int fsm__malformed(struct fsm_result *r);
struct store_secret *fsm__live_secret(struct fsm *f, const char *arn, struct fsm_result *r);
int fsm__res_secret(struct fsm_result *r, const struct store_secret *s);
/* 1 if key starts with "aws:" in any letter case (reserved for AWS). */
int fsm_tag_key_reserved(const char *key);

/* Snapshot encode / decode into a fresh store. */
int fsm__snapshot(struct fsm *f, uint8_t **buf, size_t *n);
int fsm__restore(struct fsm *f, const uint8_t *buf, size_t n);

#endif
