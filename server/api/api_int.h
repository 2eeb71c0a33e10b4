/*
 * api internals: the per-operation implementation table entry, reply and
 * scratch-memory helpers, and the AWS validation rules shared by the
 * handlers in secrets.c and versions.c. Not for other modules.
 */
#ifndef COFFER_API_API_INT_H
#define COFFER_API_API_INT_H

#include <stdint.h>

#include "api/api.h"
#include "coffer.pb-c.h"
#include "fsm.pb-c.h"
#include "fsm/result.h"
#include "kms/kms.h"
#include "store/store.h"

#define MSG_NOT_FOUND "Secrets Manager can't find the specified secret."
#define MSG_MARKED_DELETED \
	"You can't perform this operation on the secret because it was marked for deletion."
#define MSG_BAD_NAME                                                                       \
	"Invalid name. Must be a valid name containing alphanumeric characters, or any of " \
	"the following: -/_+=.@!"
#define API_MAX_VALUE 65536
#define API_MAX_REQUEST (256u * 1024)
#define API_UUID_LEN 36
#define API_DEFAULT_KEY_DISPLAY "DefaultEncryptionKey"
#define MSG_TAG_LIMIT "You can't add more than 50 tags to a secret."
#define API_MAX_TAGS 50
#define MSG_NO_TOKEN \
	"You must provide a ClientRequestToken value. We recommend a UUID-type value."
#define MSG_NO_REPLICATION                                                                 \
	"Cross-region replication is not configured in this deployment: this region has no " \
	"replica regions to replicate to or from."

struct api_impl {
	/* READ: answer from the FSM. */
	int (*read)(struct api_ctx *ctx, const ProtobufCMessage *req, struct api_reply *out);
	/* WRITE: fill *cmd (packed, malloc'ed) or the reply. */
	int (*prepare)(struct api_ctx *ctx, const ProtobufCMessage *req, uint8_t **cmd,
		       size_t *cmd_len, struct api_reply *out);
	/* WRITE: the response for a successful result of this op. */
	int (*finish)(struct api_ctx *ctx, const struct fsm_result *r, struct api_reply *out);
	enum fsm_op fsm_op;
	int carries_value; /* unpack the request on the secure heap */
};

/* Scratch allocations freed together after a response is packed. */
struct scratch {
	void **p;
	size_t n, cap;
};
void *api__alloc(struct scratch *sc, size_t n); /* zeroed, NULL on ENOMEM */
void api__scratch_free(struct scratch *sc);

/* Replies. api__error returns 0 (the reply is complete). */
int api__error(struct api_reply *out, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int api__pack(struct api_reply *out, const ProtobufCMessage *m);
double api__date(int64_t ms);

/* Validation: 1 if ok, else 0 with out->status set. Messages follow AWS's
 * "1 validation error detected: Value '<v>' at '<member>' failed to satisfy
 * constraint: Member must ..."; api__validation with v == NULL leaves the
 * value out (sensitive members). */
int api__validation(struct api_reply *out, const char *v, const char *member,
		    const char *constraint);
int api__check_len_sensitive(struct api_reply *out, const char *v, const char *member,
			     size_t min, size_t max);
int api__check_range(struct api_reply *out, int64_t v, const char *member, int64_t min,
		     int64_t max);
/* ClientRequestToken: required (missing -> missing_type with AWS's "You must
 * provide a ClientRequestToken value..."), 32-64 characters. */
int api__check_token(struct api_reply *out, const char *tok, const char *missing_type);
int api__check_region(struct api_reply *out, const char *region, const char *member);
int api__check_tags(struct api_reply *out, Coffer__Tag **tags, size_t n);
int api__check_name(struct api_reply *out, const char *name, const char *member);
int api__check_secret_id(struct api_reply *out, const char *id);
int api__check_len(struct api_reply *out, const char *v, const char *member, size_t min,
		   size_t max);
int api__check_value(struct api_reply *out, int has_bin, const ProtobufCBinaryData *bin,
		     const char *str, int required);
int api__check_stages(struct api_reply *out, char **stages, size_t n);
int api__check_kms_key(struct api_reply *out, const char *kms_key_id);

/* Secret lookup through the FSM's store; NULL with RNF in out. */
const struct store_secret *api__resolve(struct api_ctx *ctx, struct api_reply *out,
					const char *id);
/* The default KMS key; NULL with InternalServiceError "keyring not ready". */
const struct store_kms_key *api__default_key(struct api_ctx *ctx, struct api_reply *out);
int api__is_default_key(struct api_ctx *ctx, const char *key_id);

/* Leader-side non-determinism. */
int api__uuid(char out[API_UUID_LEN + 1]);
int api__arn(struct api_ctx *ctx, const char *name, char **arn);

/* Seal a value for (arn, version_id) under the default key into sv (fields
 * malloc'ed: release with api__sealed_release). 0 or a reply status. */
int api__seal(struct api_ctx *ctx, struct api_reply *out, const struct store_kms_key *key,
	      const char *arn, const char *version_id, int binary, const uint8_t *pt, size_t n,
	      Coffer__Fsm__SealedValue *sv);
void api__sealed_release(Coffer__Fsm__SealedValue *sv);

/* Pack a command (now_ms from ctx) into *buf (malloc'ed). */
int api__pack_cmd(struct api_ctx *ctx, Coffer__Fsm__Command *c, uint8_t **buf, size_t *n);

/* Handlers. */
int api__create_secret(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
		       struct api_reply *);
int api__create_secret_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);
int api__update_secret(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
		       struct api_reply *);
int api__update_secret_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);
int api__delete_secret(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
		       struct api_reply *);
int api__delete_secret_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);
int api__restore_secret(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
			struct api_reply *);
int api__restore_secret_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);
int api__describe_secret(struct api_ctx *, const ProtobufCMessage *, struct api_reply *);
int api__list_secrets(struct api_ctx *, const ProtobufCMessage *, struct api_reply *);

int api__get_secret_value(struct api_ctx *, const ProtobufCMessage *, struct api_reply *);
int api__put_secret_value(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
			  struct api_reply *);
int api__put_secret_value_finish(struct api_ctx *, const struct fsm_result *,
				 struct api_reply *);
int api__list_secret_version_ids(struct api_ctx *, const ProtobufCMessage *,
				 struct api_reply *);
int api__update_version_stage(struct api_ctx *, const ProtobufCMessage *, uint8_t **,
			      size_t *, struct api_reply *);
int api__update_version_stage_finish(struct api_ctx *, const struct fsm_result *,
				     struct api_reply *);

int api__tag_resource(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
		      struct api_reply *);
int api__untag_resource(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
			struct api_reply *);
int api__tag_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);
int api__untag_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);
int api__get_random_password(struct api_ctx *, const ProtobufCMessage *, struct api_reply *);
int api__batch_get_secret_value(struct api_ctx *, const ProtobufCMessage *,
				struct api_reply *);
/* Operations whose engines are not built yet: full validation, then AWS's
 * own error for an unconfigured feature (or the truthful answer). They
 * never yield a command. */
int api__rotate_secret(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
		       struct api_reply *);
int api__cancel_rotate_secret(struct api_ctx *, const ProtobufCMessage *, uint8_t **,
			      size_t *, struct api_reply *);
int api__put_resource_policy(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
			     struct api_reply *);
int api__delete_resource_policy(struct api_ctx *, const ProtobufCMessage *, uint8_t **,
				size_t *, struct api_reply *);
int api__get_resource_policy(struct api_ctx *, const ProtobufCMessage *, struct api_reply *);
int api__validate_resource_policy(struct api_ctx *, const ProtobufCMessage *,
				  struct api_reply *);
int api__replicate_to_regions(struct api_ctx *, const ProtobufCMessage *, uint8_t **,
			      size_t *, struct api_reply *);
int api__remove_regions(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
			struct api_reply *);
int api__stop_replication(struct api_ctx *, const ProtobufCMessage *, uint8_t **, size_t *,
			  struct api_reply *);
/* CreateSecret's AddReplicaRegions: validate; 1 if ok (then refused). */
int api__check_replica_regions(struct api_ctx *ctx, struct api_reply *out,
			       Coffer__ReplicaRegionType **r, size_t n);
/* A write that never reaches the FSM has no result to finish. */
int api__no_finish(struct api_ctx *, const struct fsm_result *, struct api_reply *);

/* LastAccessedDate: record a value read of version v of s in the FSM's
 * leader-local touch set, for the secret and for v, each only when its
 * stored day is older than today (ctx->now_ms, UTC). Today already stored:
 * no lookup; already pending: a hash lookup, no allocation. Best effort: a
 * full set or ENOMEM loses this access date and nothing else. */
void api__note_access(struct api_ctx *ctx, const struct store_secret *s,
		      const struct store_version *v);
/* The LastAccessedDate to show for s (v NULL) or its version v: the stored
 * day, or a later one still pending in the touch set, so that the leader
 * answers its own reads consistently before the Touch is applied. 0 =
 * never read. */
int64_t api__accessed_ms(struct api_ctx *ctx, const struct store_secret *s,
			 const struct store_version *v);
/* Housekeeping's Touch command from the pending set: entries satisfied by
 * the store (or whose secret is gone) are dropped, at most FSM_MAX_TOUCH
 * of the rest are packed into *cmd (NULL when none). 0 or CF_ENOMEM. */
int api__touch_cmd(struct api_ctx *ctx, uint8_t **cmd, size_t *cmd_len);

/* Decrypt version v of s into pt (secure heap; secbuf_free). 0, CF_ENOMEM,
 * or 1 with a DecryptionFailure in out. */
int api__open_value(struct api_ctx *ctx, struct api_reply *out, const struct store_secret *s,
		    const struct store_version *v, struct secbuf *pt);

/* ListSecrets / BatchGetSecretValue filters. check: 1 if valid, else 0
 * with a ValidationException in out. match: 1 if s passes every filter
 * (AND across filters, OR across one filter's values, '!' negates). */
int api__check_filters(struct api_reply *out, Coffer__Filter **f, size_t n);
int api__filters_match(Coffer__Filter **f, size_t n, const struct store_secret *s);

/* One page of secrets for ListSecrets / BatchGetSecretValue: those passing
 * the filters (and not scheduled for deletion unless include_deleted),
 * sorted (by: 0 created, 1 last-accessed, 2 last-changed, 3 name), after
 * next_token's position, at most max. all[start..end) is the page; next is
 * the token for the following page or NULL. 0 (maybe with an
 * InvalidNextTokenException in out) or CF_ENOMEM; release either way. */
struct api_page {
	const struct store_secret **all;
	size_t start, end;
	char *next;
};
int api__page_select(struct api_ctx *ctx, struct api_reply *out, Coffer__Filter **f, size_t nf,
		     int include_deleted, int by, int desc, const char *next_token, size_t max,
		     struct api_page *pg);
void api__page_release(struct api_page *pg);

/* Hex encoding of paging tokens. */
int api__token_encode(const char *plain, char **out);
int api__token_decode(const char *tok, char *plain, size_t cap);

#endif
