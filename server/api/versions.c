/*
 * Values and versions: GetSecretValue (read: one hash lookup, one label or
 * version lookup, one kms_open into the secure heap, packed on the secure
 * heap), PutSecretValue and UpdateSecretVersionStage (writes), and
 * ListSecretVersionIds (read, paged by the per-secret version sequence).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "util/errors.h"

/* ---------------------------------------------------------------- GetSecretValue */

int api__open_value(struct api_ctx *ctx, struct api_reply *out, const struct store_secret *s,
		    const struct store_version *v, struct secbuf *pt)
{
	const struct store_kms_key *key =
		v->value.kms_key_id ? store_kms_find(fsm_store(ctx->fsm), v->value.kms_key_id)
				    : NULL;
	struct kms_key_ref ref;
	struct kms_aad aad = {ctx->region, s->arn, v->id};
	int rv;

	if (key == NULL) {
		api__error(out, "DecryptionFailure",
			   "the KMS key of this secret version is not available");
		return 1;
	}
	ref = (struct kms_key_ref){key->key_id, key->wrapped, key->wrapped_len};
	rv = kms_open(ctx->kr, &ref, &aad, v->value.wrapped_dk, v->value.wrapped_dk_len,
		      v->value.ct, v->value.ct_len, pt);
	if (rv == CF_ENOMEM)
		return rv;
	if (rv != 0) {
		api__error(out, "DecryptionFailure",
			   "Secrets Manager can't decrypt the protected secret text using the "
			   "provided KMS key.");
		return 1;
	}
	return 0;
}

static const struct store_version *pick_version(const struct store_secret *s,
						const Coffer__GetSecretValueRequest *req,
						struct api_reply *out)
{
	const struct store_version *v;
	const char *stage = req->version_stage ? req->version_stage : "AWSCURRENT";

	if (req->version_id) {
		v = store_version_find(s, req->version_id);
		if (v == NULL || !v->has_value) {
			api__error(out, "ResourceNotFoundException",
				   "Secrets Manager can't find the specified secret value for "
				   "VersionId: %s",
				   req->version_id);
			return NULL;
		}
		if (req->version_stage && store_label_get(s, req->version_stage) != v) {
			api__error(out, "InvalidRequestException",
				   "You provided a VersionStage that is not associated to the "
				   "provided VersionId.");
			return NULL;
		}
		return v;
	}
	v = store_label_get(s, stage);
	if (v == NULL || !v->has_value) {
		api__error(out, "ResourceNotFoundException",
			   "Secrets Manager can't find the specified secret value for staging "
			   "label: %s",
			   stage);
		return NULL;
	}
	return v;
}

int api__get_secret_value(struct api_ctx *ctx, const ProtobufCMessage *m, struct api_reply *out)
{
	const Coffer__GetSecretValueRequest *req = (const Coffer__GetSecretValueRequest *)m;
	Coffer__GetSecretValueResponse resp = COFFER__GET_SECRET_VALUE_RESPONSE__INIT;
	const struct store_secret *s;
	const struct store_version *v;
	const char *labels[STORE_MAX_LABELS];
	struct secbuf pt = {0};
	int rv;

	if (!api__check_secret_id(out, req->secret_id) ||
	    (req->version_id && !api__check_len(out, req->version_id, "versionId", 32, 64)) ||
	    (req->version_stage &&
	     !api__check_len(out, req->version_stage, "versionStage", 1, 256)))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	if (s->deleted_ms)
		return api__error(out, "InvalidRequestException", MSG_MARKED_DELETED);
	if ((v = pick_version(s, req, out)) == NULL)
		return 0;
	if ((rv = api__open_value(ctx, out, s, v, &pt)) != 0)
		return rv < 0 ? rv : 0;
	api__note_access(ctx, s, v);
	resp.arn = s->arn;
	resp.name = s->name;
	resp.version_id = v->id;
	if (v->value.binary) {
		resp.has_secret_binary = 1;
		resp.secret_binary.data = pt.data;
		resp.secret_binary.len = pt.len;
	} else {
		resp.secret_string = (char *)pt.data; /* NUL-terminated by kms_open */
	}
	resp.n_version_stages = store_version_labels(s, v, labels);
	resp.version_stages = (char **)labels;
	resp.has_created_date = 1;
	resp.created_date = api__date(v->created_ms);
	rv = api__pack(out, &resp.base);
	secbuf_free(&pt);
	return rv;
}

/* ---------------------------------------------------------------- PutSecretValue */

int api__put_secret_value(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			  size_t *cmd_len, struct api_reply *out)
{
	const Coffer__PutSecretValueRequest *req = (const Coffer__PutSecretValueRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__PutValue pv = COFFER__FSM__PUT_VALUE__INIT;
	Coffer__Fsm__NewVersion nv = COFFER__FSM__NEW_VERSION__INIT;
	Coffer__Fsm__SealedValue sv = COFFER__FSM__SEALED_VALUE__INIT;
	const struct store_secret *s;
	const struct store_kms_key *key;
	const char *tok = req->client_request_token;
	int bin = req->has_secret_binary, rv;
	const uint8_t *pt;
	size_t n;

	if (!api__check_secret_id(out, req->secret_id) ||
	    (tok && !api__check_len(out, tok, "clientRequestToken", 32, 64)) ||
	    !api__check_value(out, req->has_secret_binary, &req->secret_binary,
			      req->secret_string, 1) ||
	    !api__check_stages(out, req->version_stages, req->n_version_stages) ||
	    (req->rotation_token &&
	     !api__check_len_sensitive(out, req->rotation_token, "rotationToken", 36, 256)) ||
	    !api__check_token(out, tok, "InvalidRequestException"))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	if (s->deleted_ms)
		return api__error(out, "InvalidRequestException", MSG_MARKED_DELETED);
	if ((key = api__default_key(ctx, out)) == NULL)
		return 0;
	pt = bin ? req->secret_binary.data : (const uint8_t *)req->secret_string;
	n = bin ? req->secret_binary.len : strlen(req->secret_string);
	if ((rv = api__seal(ctx, out, key, s->arn, tok, bin, pt, n, &sv)) != 0 ||
	    !cf_status_ok(&out->status))
		goto out;
	nv.version_id = (char *)tok;
	nv.value = &sv;
	nv.n_stages = req->n_version_stages;
	nv.stages = req->version_stages;
	pv.arn = s->arn;
	pv.version = &nv;
	pv.has_stages_given = 1;
	pv.stages_given = req->n_version_stages > 0;
	c.op_case = COFFER__FSM__COMMAND__OP_PUT_VALUE;
	c.put_value = &pv;
	rv = api__pack_cmd(ctx, &c, cmd, cmd_len);
out:
	api__sealed_release(&sv);
	return rv;
}

int api__put_secret_value_finish(struct api_ctx *ctx, const struct fsm_result *r,
				 struct api_reply *out)
{
	Coffer__PutSecretValueResponse resp = COFFER__PUT_SECRET_VALUE_RESPONSE__INIT;

	resp.arn = r->arn;
	resp.name = r->name;
	resp.version_id = r->version_id;
	resp.n_version_stages = r->n_stages;
	resp.version_stages = (char **)r->stages;
	return api__pack(out, &resp.base);
}

/* ---------------------------------------------------------------- UpdateSecretVersionStage */

int api__update_version_stage(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			      size_t *cmd_len, struct api_reply *out)
{
	const Coffer__UpdateSecretVersionStageRequest *req =
		(const Coffer__UpdateSecretVersionStageRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__UpdateVersionStage u = COFFER__FSM__UPDATE_VERSION_STAGE__INIT;
	const struct store_secret *s;

	if (!api__check_secret_id(out, req->secret_id) ||
	    !api__check_len(out, req->version_stage, "versionStage", 1, 256) ||
	    (req->remove_from_version_id &&
	     !api__check_len(out, req->remove_from_version_id, "removeFromVersionId", 32, 64)) ||
	    (req->move_to_version_id &&
	     !api__check_len(out, req->move_to_version_id, "moveToVersionId", 32, 64)))
		return 0;
	if (!req->remove_from_version_id && !req->move_to_version_id)
		return api__error(out, "InvalidParameterException",
				  "You must specify MoveToVersionId or RemoveFromVersionId.");
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	if (s->deleted_ms)
		return api__error(out, "InvalidRequestException", MSG_MARKED_DELETED);
	u.arn = s->arn;
	u.stage = req->version_stage;
	u.remove_from = req->remove_from_version_id;
	u.move_to = req->move_to_version_id;
	c.op_case = COFFER__FSM__COMMAND__OP_UPDATE_VERSION_STAGE;
	c.update_version_stage = &u;
	return api__pack_cmd(ctx, &c, cmd, cmd_len);
}

int api__update_version_stage_finish(struct api_ctx *ctx, const struct fsm_result *r,
				     struct api_reply *out)
{
	Coffer__UpdateSecretVersionStageResponse resp =
		COFFER__UPDATE_SECRET_VERSION_STAGE_RESPONSE__INIT;

	resp.arn = r->arn;
	resp.name = r->name;
	return api__pack(out, &resp.base);
}

/* ---------------------------------------------------------------- ListSecretVersionIds */

int api__list_secret_version_ids(struct api_ctx *ctx, const ProtobufCMessage *m,
				 struct api_reply *out)
{
	const Coffer__ListSecretVersionIdsRequest *req =
		(const Coffer__ListSecretVersionIdsRequest *)m;
	Coffer__ListSecretVersionIdsResponse resp = COFFER__LIST_SECRET_VERSION_IDS_RESPONSE__INIT;
	static char *default_key_ids[] = {API_DEFAULT_KEY_DISPLAY};
	const struct store_secret *s;
	struct scratch sc = {0};
	uint64_t after = 0;
	size_t max = 100, i;
	char *next = NULL;
	int rv = CF_ENOMEM;
	int deprecated = req->has_include_deprecated && req->include_deprecated;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if (req->has_max_results) {
		if (req->max_results < 1 || req->max_results > 100)
			return api__error(out, "ValidationException",
					  "1 validation error detected: Value '%" PRId64
					  "' at 'maxResults' failed to satisfy constraint: Member "
					  "must have value between 1 and 100",
					  req->max_results);
		max = (size_t)req->max_results;
	}
	if (req->next_token) {
		char plain[32], *end;

		if (api__token_decode(req->next_token, plain, sizeof(plain)) != 0 ||
		    strncmp(plain, "v|", 2) != 0 ||
		    (after = strtoull(plain + 2, &end, 10), *end != '\0' || end == plain + 2))
			return api__error(out, "InvalidNextTokenException",
					  "The NextToken value is invalid.");
	}
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	resp.arn = s->arn;
	resp.name = s->name;
	resp.versions = api__alloc(&sc, (s->n_versions + 1) * sizeof(*resp.versions));
	if (resp.versions == NULL)
		goto out;
	for (i = 0; i < s->n_versions; i++) {
		const struct store_version *v = s->versions[i];
		Coffer__SecretVersionsListEntry *e;
		const char **labels;
		int64_t ms;

		if (v->seq <= after || (!deprecated && v->n_labels == 0))
			continue;
		if (resp.n_versions == max) {
			char plain[32];

			/* resume after the last listed version */
			snprintf(plain, sizeof(plain), "v|%" PRIu64, after);
			if ((rv = api__token_encode(plain, &next)) != 0)
				goto out;
			resp.next_token = next;
			break;
		}
		e = api__alloc(&sc, sizeof(*e));
		labels = api__alloc(&sc, STORE_MAX_LABELS * sizeof(*labels));
		if (e == NULL || labels == NULL)
			goto out;
		coffer__secret_versions_list_entry__init(e);
		e->version_id = v->id;
		e->n_version_stages = store_version_labels(s, v, labels);
		e->version_stages = (char **)labels;
		e->has_created_date = 1;
		e->created_date = api__date(v->created_ms);
		if ((ms = api__accessed_ms(ctx, s, v)) != 0) {
			e->has_last_accessed_date = 1;
			e->last_accessed_date = api__date(ms);
		}
		if (v->has_value && api__is_default_key(ctx, v->value.kms_key_id)) {
			e->n_kms_key_ids = 1;
			e->kms_key_ids = default_key_ids;
		} else if (v->has_value) {
			e->n_kms_key_ids = 1;
			e->kms_key_ids = &((struct store_version *)v)->value.kms_key_id;
		}
		resp.versions[resp.n_versions++] = e;
		after = v->seq;
	}
	rv = api__pack(out, &resp.base);
out:
	free(next);
	api__scratch_free(&sc);
	return rv;
}
