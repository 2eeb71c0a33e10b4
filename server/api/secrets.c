/*
 * Secret lifecycle handlers: CreateSecret, UpdateSecret, DeleteSecret,
 * RestoreSecret (writes: validate, resolve, seal, build the FSM command)
 * and DescribeSecret (read). The leader checks what it can up front so that
 * hopeless requests are answered without a raft round trip; apply()
 * re-checks everything that depends on state.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "util/errors.h"

#define DAY_MS (24LL * 3600 * 1000)

/* ClientRequestToken: required with a value (AWS: InvalidRequestException;
 * the SDKs and the coffer CLI always send one), checked when present. */
static int check_token(struct api_reply *out, const char *tok, int has_value)
{
	if (tok == NULL && !has_value)
		return 1;
	return api__check_token(out, tok, "InvalidRequestException");
}

/* ---------------------------------------------------------------- CreateSecret */

int api__create_secret(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
		       size_t *cmd_len, struct api_reply *out)
{
	const Coffer__CreateSecretRequest *req = (const Coffer__CreateSecretRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__CreateSecret cs = COFFER__FSM__CREATE_SECRET__INIT;
	Coffer__Fsm__NewVersion nv = COFFER__FSM__NEW_VERSION__INIT;
	Coffer__Fsm__SealedValue sv = COFFER__FSM__SEALED_VALUE__INIT;
	Coffer__Fsm__Tag *tags = NULL, **ptags = NULL;
	const struct store_secret *old;
	const struct store_kms_key *key;
	const char *tok = req->client_request_token;
	int has_value = req->has_secret_binary || req->secret_string;
	char *arn = NULL;
	int rv;

	if (!api__check_name(out, req->name, "name") ||
	    !api__check_len(out, req->description, "description", 0, 2048) ||
	    !api__check_len(out, req->type, "type", 0, 256) ||
	    !api__check_kms_key(out, req->kms_key_id) ||
	    !api__check_value(out, req->has_secret_binary, &req->secret_binary,
			      req->secret_string, 0) ||
	    !api__check_tags(out, req->tags, req->n_tags) ||
	    !api__check_replica_regions(ctx, out, req->add_replica_regions,
					req->n_add_replica_regions) ||
	    !check_token(out, tok, has_value))
		return 0;
	if (req->n_add_replica_regions)
		return api__error(out, "InvalidRequestException", MSG_NO_REPLICATION);
	old = store_find_name(fsm_store(ctx->fsm), req->name);
	if (old && old->deleted_ms)
		return api__error(out, "InvalidRequestException",
				  "You can't create this secret because a secret with this name "
				  "is already scheduled for deletion.");
	if ((key = api__default_key(ctx, out)) == NULL)
		return 0;
	if ((rv = api__arn(ctx, req->name, &arn)) != 0)
		return rv;

	rv = CF_ENOMEM;
	if (req->n_tags) {
		tags = calloc(req->n_tags, sizeof(*tags));
		ptags = calloc(req->n_tags, sizeof(*ptags));
		if (tags == NULL || ptags == NULL)
			goto out;
		for (size_t i = 0; i < req->n_tags; i++) {
			coffer__fsm__tag__init(&tags[i]);
			tags[i].key = req->tags[i]->key;
			tags[i].value = req->tags[i]->value ? req->tags[i]->value : "";
			ptags[i] = &tags[i];
		}
	}
	if (req->has_secret_binary || req->secret_string) {
		int bin = req->has_secret_binary;
		const uint8_t *pt = bin ? req->secret_binary.data : (const uint8_t *)req->secret_string;
		size_t n = bin ? req->secret_binary.len : strlen(req->secret_string);

		if ((rv = api__seal(ctx, out, key, arn, tok, bin, pt, n, &sv)) != 0 ||
		    !cf_status_ok(&out->status))
			goto out;
		nv.version_id = (char *)tok;
		nv.value = &sv;
		cs.version = &nv;
	}
	cs.name = req->name;
	cs.arn = arn;
	cs.description = req->description;
	cs.type = req->type;
	cs.token = (char *)tok;
	cs.n_tags = req->n_tags;
	cs.tags = ptags;
	c.op_case = COFFER__FSM__COMMAND__OP_CREATE_SECRET;
	c.create_secret = &cs;
	rv = api__pack_cmd(ctx, &c, cmd, cmd_len);
out:
	api__sealed_release(&sv);
	free(tags);
	free(ptags);
	free(arn);
	return rv;
}

int api__create_secret_finish(struct api_ctx *ctx, const struct fsm_result *r,
			      struct api_reply *out)
{
	Coffer__CreateSecretResponse resp = COFFER__CREATE_SECRET_RESPONSE__INIT;

	resp.arn = r->arn;
	resp.name = r->name;
	resp.version_id = r->version_id;
	return api__pack(out, &resp.base);
}

/* ---------------------------------------------------------------- UpdateSecret */

int api__update_secret(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
		       size_t *cmd_len, struct api_reply *out)
{
	const Coffer__UpdateSecretRequest *req = (const Coffer__UpdateSecretRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__UpdateSecret us = COFFER__FSM__UPDATE_SECRET__INIT;
	Coffer__Fsm__NewVersion nv = COFFER__FSM__NEW_VERSION__INIT;
	Coffer__Fsm__SealedValue sv = COFFER__FSM__SEALED_VALUE__INIT;
	const struct store_secret *s;
	const struct store_kms_key *key;
	const char *tok = req->client_request_token;
	int rv = 0;

	if (!api__check_secret_id(out, req->secret_id) ||
	    !api__check_len(out, req->description, "description", 0, 2048) ||
	    !api__check_len(out, req->type, "type", 0, 256) ||
	    !api__check_kms_key(out, req->kms_key_id) ||
	    !api__check_value(out, req->has_secret_binary, &req->secret_binary,
			      req->secret_string, 0) ||
	    !check_token(out, tok, req->has_secret_binary || req->secret_string))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	if (s->deleted_ms)
		return api__error(out, "InvalidRequestException", MSG_MARKED_DELETED);
	if ((key = api__default_key(ctx, out)) == NULL)
		return 0;
	if (req->has_secret_binary || req->secret_string) {
		int bin = req->has_secret_binary;
		const uint8_t *pt = bin ? req->secret_binary.data : (const uint8_t *)req->secret_string;
		size_t n = bin ? req->secret_binary.len : strlen(req->secret_string);

		if ((rv = api__seal(ctx, out, key, s->arn, tok, bin, pt, n, &sv)) != 0 ||
		    !cf_status_ok(&out->status))
			goto out;
		nv.version_id = (char *)tok;
		nv.value = &sv;
		us.version = &nv;
	}
	us.arn = s->arn;
	us.description = req->description;
	us.type = req->type;
	/* only the default key exists for now: any accepted KmsKeyId means it */
	us.kms_key_id = req->kms_key_id ? "" : NULL;
	c.op_case = COFFER__FSM__COMMAND__OP_UPDATE_SECRET;
	c.update_secret = &us;
	rv = api__pack_cmd(ctx, &c, cmd, cmd_len);
out:
	api__sealed_release(&sv);
	return rv;
}

int api__update_secret_finish(struct api_ctx *ctx, const struct fsm_result *r,
			      struct api_reply *out)
{
	Coffer__UpdateSecretResponse resp = COFFER__UPDATE_SECRET_RESPONSE__INIT;

	resp.arn = r->arn;
	resp.name = r->name;
	resp.version_id = r->version_id;
	return api__pack(out, &resp.base);
}

/* ---------------------------------------------------------------- DeleteSecret */

/* Force-deleting an unknown id is not an error on AWS: answer with what
 * the id names and DeletionDate = now. */
static int delete_unknown(struct api_ctx *ctx, const char *id, struct api_reply *out)
{
	Coffer__DeleteSecretResponse resp = COFFER__DELETE_SECRET_RESPONSE__INIT;
	const char *p = strstr(id, ":secret:");
	char *arn = NULL, *name = NULL;
	int rv;

	if (strncmp(id, "arn:", 4) == 0) {
		rv = (arn = strdup(id)) && (name = strdup(p ? p + 8 : id)) ? 0 : CF_ENOMEM;
		if (rv == 0 && p && strlen(name) > 7 && name[strlen(name) - 7] == '-')
			name[strlen(name) - 7] = '\0';
	} else {
		rv = api__arn(ctx, id, &arn);
		if (rv == 0 && (name = strdup(id)) == NULL)
			rv = CF_ENOMEM;
	}
	if (rv == 0) {
		resp.arn = arn;
		resp.name = name;
		resp.has_deletion_date = 1;
		resp.deletion_date = api__date(ctx->now_ms);
		rv = api__pack(out, &resp.base);
	}
	free(arn);
	free(name);
	return rv;
}

int api__delete_secret(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
		       size_t *cmd_len, struct api_reply *out)
{
	const Coffer__DeleteSecretRequest *req = (const Coffer__DeleteSecretRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__DeleteSecret d = COFFER__FSM__DELETE_SECRET__INIT;
	const struct store_secret *s;
	int force = req->has_force_delete_without_recovery && req->force_delete_without_recovery;
	int64_t days = req->has_recovery_window_in_days ? req->recovery_window_in_days : 30;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if (force && req->has_recovery_window_in_days)
		return api__error(out, "InvalidParameterException",
				  "You can't use ForceDeleteWithoutRecovery in conjunction with "
				  "RecoveryWindowInDays.");
	if (days < 7 || days > 30)
		return api__error(out, "InvalidParameterException",
				  "The RecoveryWindowInDays value must be between 7 and 30 days "
				  "(inclusive).");
	s = store_resolve(fsm_store(ctx->fsm), req->secret_id);
	if (s == NULL) {
		if (force)
			return delete_unknown(ctx, req->secret_id, out);
		return api__error(out, "ResourceNotFoundException", MSG_NOT_FOUND);
	}
	if (!force && s->deleted_ms)
		return api__error(out, "InvalidRequestException",
				  "You tried to perform the operation on a secret that's "
				  "currently marked deleted.");
	d.arn = s->arn;
	d.has_force = 1;
	d.force = force != 0;
	if (!force) {
		d.has_deletion_date_ms = 1;
		d.deletion_date_ms = ctx->now_ms + days * DAY_MS;
	}
	c.op_case = COFFER__FSM__COMMAND__OP_DELETE_SECRET;
	c.delete_secret = &d;
	return api__pack_cmd(ctx, &c, cmd, cmd_len);
}

int api__delete_secret_finish(struct api_ctx *ctx, const struct fsm_result *r,
			      struct api_reply *out)
{
	Coffer__DeleteSecretResponse resp = COFFER__DELETE_SECRET_RESPONSE__INIT;

	resp.arn = r->arn;
	resp.name = r->name;
	resp.has_deletion_date = 1;
	resp.deletion_date = api__date(r->date_ms);
	return api__pack(out, &resp.base);
}

/* ---------------------------------------------------------------- RestoreSecret */

int api__restore_secret(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			size_t *cmd_len, struct api_reply *out)
{
	const Coffer__RestoreSecretRequest *req = (const Coffer__RestoreSecretRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__RestoreSecret rs = COFFER__FSM__RESTORE_SECRET__INIT;
	const struct store_secret *s;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	rs.arn = s->arn;
	c.op_case = COFFER__FSM__COMMAND__OP_RESTORE_SECRET;
	c.restore_secret = &rs;
	return api__pack_cmd(ctx, &c, cmd, cmd_len);
}

int api__restore_secret_finish(struct api_ctx *ctx, const struct fsm_result *r,
			       struct api_reply *out)
{
	Coffer__RestoreSecretResponse resp = COFFER__RESTORE_SECRET_RESPONSE__INIT;

	resp.arn = r->arn;
	resp.name = r->name;
	return api__pack(out, &resp.base);
}
