/*
 * The operation table and the generic request path. A request arrives as
 * bytes of the operation's request message; it is unpacked (on the secure
 * heap when it may carry a secret value, so the plaintext is wiped when the
 * message is freed), handed to the operation's handler, and freed. An
 * undecodable or oversized request becomes SerializationException. Writes
 * yield a packed FSM command; api_finish() turns the FSM's result back into
 * the operation's response. api_housekeeping() proposes the default KMS key,
 * purges of secrets whose recovery window has ended and the LastAccessedDate
 * updates recorded by reads (touch.c).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "store/touch.h"
#include "util/errors.h"

static const struct api_impl impl_create = {
	.prepare = api__create_secret, .finish = api__create_secret_finish,
	.fsm_op = FSM_OP_CREATE_SECRET, .carries_value = 1};
static const struct api_impl impl_get = {.read = api__get_secret_value};
static const struct api_impl impl_put = {
	.prepare = api__put_secret_value, .finish = api__put_secret_value_finish,
	.fsm_op = FSM_OP_PUT_VALUE, .carries_value = 1};
static const struct api_impl impl_update = {
	.prepare = api__update_secret, .finish = api__update_secret_finish,
	.fsm_op = FSM_OP_UPDATE_SECRET, .carries_value = 1};
static const struct api_impl impl_describe = {.read = api__describe_secret};
static const struct api_impl impl_list = {.read = api__list_secrets};
static const struct api_impl impl_list_versions = {.read = api__list_secret_version_ids};
static const struct api_impl impl_stage = {
	.prepare = api__update_version_stage, .finish = api__update_version_stage_finish,
	.fsm_op = FSM_OP_UPDATE_VERSION_STAGE};
static const struct api_impl impl_delete = {
	.prepare = api__delete_secret, .finish = api__delete_secret_finish,
	.fsm_op = FSM_OP_DELETE_SECRET};
static const struct api_impl impl_restore = {
	.prepare = api__restore_secret, .finish = api__restore_secret_finish,
	.fsm_op = FSM_OP_RESTORE_SECRET};

static const struct api_impl impl_tag = {
	.prepare = api__tag_resource, .finish = api__tag_finish,
	.fsm_op = FSM_OP_TAG_RESOURCE};
static const struct api_impl impl_untag = {
	.prepare = api__untag_resource, .finish = api__untag_finish,
	.fsm_op = FSM_OP_UNTAG_RESOURCE};
/* no state, no secret input; the password is generated and packed in the
 * secure heap */
static const struct api_impl impl_password = {.read = api__get_random_password};
static const struct api_impl impl_batch = {.read = api__batch_get_secret_value};
/* writes whose engines come later: they answer in prepare, never propose */
static const struct api_impl impl_rotate = {.prepare = api__rotate_secret,
					    .finish = api__no_finish};
static const struct api_impl impl_cancel_rotate = {.prepare = api__cancel_rotate_secret,
						   .finish = api__no_finish};
static const struct api_impl impl_put_policy = {.prepare = api__put_resource_policy,
						.finish = api__no_finish};
static const struct api_impl impl_delete_policy = {.prepare = api__delete_resource_policy,
						   .finish = api__no_finish};
static const struct api_impl impl_get_policy = {.read = api__get_resource_policy};
static const struct api_impl impl_validate_policy = {.read = api__validate_resource_policy};
static const struct api_impl impl_replicate = {.prepare = api__replicate_to_regions,
					       .finish = api__no_finish};
static const struct api_impl impl_remove_regions = {.prepare = api__remove_regions,
						    .finish = api__no_finish};
static const struct api_impl impl_stop_replication = {.prepare = api__stop_replication,
						      .finish = api__no_finish};

#define OP(name_, kind_, req_, resp_, impl_)                                            \
	{                                                                               \
		name_, kind_, &coffer__##req_##_request__descriptor,                     \
			&coffer__##resp_##_response__descriptor, &impl_                   \
	}

const struct api_op api_ops[] = {
	OP("CreateSecret", API_WRITE, create_secret, create_secret, impl_create),
	OP("GetSecretValue", API_READ, get_secret_value, get_secret_value, impl_get),
	OP("PutSecretValue", API_WRITE, put_secret_value, put_secret_value, impl_put),
	OP("UpdateSecret", API_WRITE, update_secret, update_secret, impl_update),
	OP("DescribeSecret", API_READ, describe_secret, describe_secret, impl_describe),
	OP("ListSecrets", API_READ, list_secrets, list_secrets, impl_list),
	OP("ListSecretVersionIds", API_READ, list_secret_version_ids, list_secret_version_ids,
	   impl_list_versions),
	OP("UpdateSecretVersionStage", API_WRITE, update_secret_version_stage,
	   update_secret_version_stage, impl_stage),
	OP("DeleteSecret", API_WRITE, delete_secret, delete_secret, impl_delete),
	OP("RestoreSecret", API_WRITE, restore_secret, restore_secret, impl_restore),
	OP("TagResource", API_WRITE, tag_resource, tag_resource, impl_tag),
	OP("UntagResource", API_WRITE, untag_resource, untag_resource, impl_untag),
	OP("GetRandomPassword", API_LOCAL, get_random_password, get_random_password,
	   impl_password),
	OP("BatchGetSecretValue", API_READ, batch_get_secret_value, batch_get_secret_value,
	   impl_batch),
	OP("RotateSecret", API_WRITE, rotate_secret, rotate_secret, impl_rotate),
	OP("CancelRotateSecret", API_WRITE, cancel_rotate_secret, cancel_rotate_secret,
	   impl_cancel_rotate),
	OP("PutResourcePolicy", API_WRITE, put_resource_policy, put_resource_policy,
	   impl_put_policy),
	OP("GetResourcePolicy", API_READ, get_resource_policy, get_resource_policy,
	   impl_get_policy),
	OP("DeleteResourcePolicy", API_WRITE, delete_resource_policy, delete_resource_policy,
	   impl_delete_policy),
	OP("ValidateResourcePolicy", API_READ, validate_resource_policy, validate_resource_policy,
	   impl_validate_policy),
	OP("ReplicateSecretToRegions", API_WRITE, replicate_secret_to_regions,
	   replicate_secret_to_regions, impl_replicate),
	OP("RemoveRegionsFromReplication", API_WRITE, remove_regions_from_replication,
	   remove_regions_from_replication, impl_remove_regions),
	OP("StopReplicationToReplica", API_WRITE, stop_replication_to_replica,
	   stop_replication_to_replica, impl_stop_replication),
	{NULL, 0, NULL, NULL, NULL},
};

const struct api_op *api_find(const char *name)
{
	for (const struct api_op *op = api_ops; name && op->name; op++)
		if (strcmp(op->name, name) == 0)
			return op;
	return NULL;
}

void api_reply_release(struct api_reply *r)
{
	secbuf_free(&r->payload);
	memset(&r->status, 0, sizeof(r->status));
}

static ProtobufCMessage *unpack(const struct api_op *op, const uint8_t *req, size_t n,
				struct api_reply *out)
{
	const struct api_impl *im = op->impl;
	ProtobufCMessage *m = NULL;

	if (n <= API_MAX_REQUEST)
		m = protobuf_c_message_unpack(op->request,
					      im->carries_value ? &secmem_pb_allocator : NULL, n,
					      req);
	if (m == NULL)
		api__error(out, "SerializationException", "could not decode the request");
	return m;
}

static void unpacked_free(const struct api_op *op, ProtobufCMessage *m)
{
	const struct api_impl *im = op->impl;

	protobuf_c_message_free_unpacked(m, im->carries_value ? &secmem_pb_allocator : NULL);
}

int api_read(const struct api_op *op, struct api_ctx *ctx, const uint8_t *req, size_t n,
	     struct api_reply *out)
{
	const struct api_impl *im = op->impl;
	ProtobufCMessage *m;
	int rv;

	memset(out, 0, sizeof(*out));
	if ((op->kind != API_READ && op->kind != API_LOCAL) || im->read == NULL)
		return api__error(out, "InternalServiceError", "'%s' is not a read", op->name);
	if ((m = unpack(op, req, n, out)) == NULL)
		return 0;
	rv = im->read(ctx, m, out);
	unpacked_free(op, m);
	return rv;
}

int api_prepare(const struct api_op *op, struct api_ctx *ctx, const uint8_t *req, size_t n,
		uint8_t **cmd, size_t *cmd_len, struct api_reply *out)
{
	const struct api_impl *im = op->impl;
	ProtobufCMessage *m;
	int rv;

	memset(out, 0, sizeof(*out));
	*cmd = NULL;
	*cmd_len = 0;
	if (op->kind != API_WRITE || im->prepare == NULL)
		return api__error(out, "InternalServiceError", "'%s' is not a write", op->name);
	if ((m = unpack(op, req, n, out)) == NULL)
		return 0;
	/* every write needs the keyring's default key to exist (bootstrap) */
	if (api__default_key(ctx, out) == NULL)
		rv = 0;
	else
		rv = im->prepare(ctx, m, cmd, cmd_len, out);
	unpacked_free(op, m);
	if (rv != 0 || !cf_status_ok(&out->status)) {
		free(*cmd);
		*cmd = NULL;
		*cmd_len = 0;
	}
	return rv;
}

int api_finish(const struct api_op *op, struct api_ctx *ctx, const void *result,
	       struct api_reply *out)
{
	const struct api_impl *im = op->impl;
	const struct fsm_result *r = result;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return api__error(out, "InternalServiceError", "no result");
	if (!cf_status_ok(&r->status)) {
		out->status = r->status;
		return 0;
	}
	if (op->kind != API_WRITE || r->op != im->fsm_op)
		return api__error(out, "InternalServiceError", "result does not match '%s'",
				  op->name);
	return im->finish(ctx, r, out);
}

/* ---------------------------------------------------------------- housekeeping */

#define PURGE_BATCH 100

static int housekeeping_key(struct api_ctx *ctx, uint8_t **cmd, size_t *cmd_len)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__KmsKeyCreate k = COFFER__FSM__KMS_KEY_CREATE__INIT;
	char key_id[API_UUID_LEN + 1];
	uint8_t *wrapped = NULL;
	size_t wrapped_len = 0;
	int rv;

	if ((rv = api__uuid(key_id)) != 0 ||
	    (rv = keyring_new_kms_key(ctx->kr, key_id, &wrapped, &wrapped_len)) != 0)
		return rv;
	k.key_id = key_id;
	k.alias = KMS_DEFAULT_KEY_ALIAS;
	k.has_wrapped = 1;
	k.wrapped.data = wrapped;
	k.wrapped.len = wrapped_len;
	c.op_case = COFFER__FSM__COMMAND__OP_KMS_KEY_CREATE;
	c.kms_key_create = &k;
	rv = api__pack_cmd(ctx, &c, cmd, cmd_len);
	free(wrapped);
	return rv;
}

/* One command per call, by priority: the default key first; then purges
 * and LastAccessedDate touches (touch.c) take turns when both are due, so
 * neither starves the other. */
int api_housekeeping(struct api_ctx *ctx, uint8_t **cmd, size_t *cmd_len)
{
	const struct store *st = fsm_store(ctx->fsm);
	struct store_touches *ts = fsm_touches(ctx->fsm);
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__Purge p = COFFER__FSM__PURGE__INIT;
	char *arns[PURGE_BATCH];
	const struct store_secret *s;
	int rv;

	*cmd = NULL;
	*cmd_len = 0;
	if (store_kms_find(st, KMS_DEFAULT_KEY_ALIAS) == NULL)
		return housekeeping_key(ctx, cmd, cmd_len);
	/* O(secrets) once a second on the leader, not on a request path */
	for (s = st->head; s && p.n_arns < PURGE_BATCH; s = s->next)
		if (s->deleted_ms && s->deletion_date_ms <= ctx->now_ms)
			arns[p.n_arns++] = s->arn;
	if (p.n_arns == 0 || ts->prefer) {
		if ((rv = api__touch_cmd(ctx, cmd, cmd_len)) != 0 || *cmd != NULL) {
			ts->prefer = 0;
			return rv;
		}
	}
	if (p.n_arns == 0)
		return 0;
	ts->prefer = 1; /* touches go first next time */
	p.arns = arns;
	c.op_case = COFFER__FSM__COMMAND__OP_PURGE;
	c.purge = &p;
	return api__pack_cmd(ctx, &c, cmd, cmd_len);
}
