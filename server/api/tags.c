/*
 * TagResource and UntagResource (writes). The leader validates the request
 * (key 1-128, value 0-256, no key with the reserved "aws:" prefix, no
 * duplicate key, at most 50 tags), resolves the secret (ResourceNotFound;
 * InvalidRequest when it is scheduled for deletion) and proposes a command
 * that apply() re-checks against the tags it finds: merging may push a
 * secret past 50 tags, which only apply can tell. Neither has a response
 * body. The tag checks are shared with CreateSecret.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "util/errors.h"

static int reserved_key(struct api_reply *out, const char *key)
{
	/* AWS reserves "aws:" (any case) for its own tags; users can neither
	 * set nor remove such keys */
	if (strncasecmp(key, "aws:", 4) != 0)
		return 0;
	api__error(out, "InvalidParameterException",
		   "You can't use the tag key '%s': the prefix 'aws:' is reserved for AWS use.",
		   key);
	return 1;
}

int api__check_tags(struct api_reply *out, Coffer__Tag **tags, size_t n)
{
	char member[48];

	if (n > API_MAX_TAGS) {
		api__error(out, "InvalidParameterException", MSG_TAG_LIMIT);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(member, sizeof(member), "tags.%zu.member.key", i + 1);
		if (!api__check_len(out, tags[i]->key, member, 1, 128))
			return 0;
		snprintf(member, sizeof(member), "tags.%zu.member.value", i + 1);
		if (!api__check_len(out, tags[i]->value, member, 0, 256) ||
		    reserved_key(out, tags[i]->key))
			return 0;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tags[i]->key, tags[j]->key) == 0) {
				api__error(out, "InvalidParameterException",
					   "duplicate tag key '%s'", tags[i]->key);
				return 0;
			}
		}
	}
	return 1;
}

static const struct store_secret *live(struct api_ctx *ctx, struct api_reply *out,
				       const char *id)
{
	const struct store_secret *s = api__resolve(ctx, out, id);

	if (s && s->deleted_ms) {
		api__error(out, "InvalidRequestException", MSG_MARKED_DELETED);
		return NULL;
	}
	return s;
}

int api__tag_resource(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
		      size_t *cmd_len, struct api_reply *out)
{
	const Coffer__TagResourceRequest *req = (const Coffer__TagResourceRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__TagResource t = COFFER__FSM__TAG_RESOURCE__INIT;
	Coffer__Fsm__Tag tags[API_MAX_TAGS], *ptags[API_MAX_TAGS];
	const struct store_secret *s;

	if (!api__check_secret_id(out, req->secret_id) ||
	    !api__check_tags(out, req->tags, req->n_tags))
		return 0;
	if ((s = live(ctx, out, req->secret_id)) == NULL)
		return 0;
	for (size_t i = 0; i < req->n_tags; i++) {
		coffer__fsm__tag__init(&tags[i]);
		tags[i].key = req->tags[i]->key;
		tags[i].value = req->tags[i]->value ? req->tags[i]->value : "";
		ptags[i] = &tags[i];
	}
	t.arn = s->arn;
	t.n_tags = req->n_tags;
	t.tags = ptags;
	c.op_case = COFFER__FSM__COMMAND__OP_TAG_RESOURCE;
	c.tag_resource = &t;
	return api__pack_cmd(ctx, &c, cmd, cmd_len);
}

int api__untag_resource(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			size_t *cmd_len, struct api_reply *out)
{
	const Coffer__UntagResourceRequest *req = (const Coffer__UntagResourceRequest *)m;
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__UntagResource u = COFFER__FSM__UNTAG_RESOURCE__INIT;
	const struct store_secret *s;
	char member[32];

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	for (size_t i = 0; i < req->n_tag_keys; i++) {
		snprintf(member, sizeof(member), "tagKeys.%zu.member", i + 1);
		if (!api__check_len(out, req->tag_keys[i], member, 1, 128) ||
		    reserved_key(out, req->tag_keys[i]))
			return 0;
	}
	if ((s = live(ctx, out, req->secret_id)) == NULL)
		return 0;
	u.arn = s->arn;
	u.n_keys = req->n_tag_keys;
	u.keys = req->tag_keys;
	c.op_case = COFFER__FSM__COMMAND__OP_UNTAG_RESOURCE;
	c.untag_resource = &u;
	return api__pack_cmd(ctx, &c, cmd, cmd_len);
}

int api__tag_finish(struct api_ctx *ctx, const struct fsm_result *r, struct api_reply *out)
{
	Coffer__TagResourceResponse resp = COFFER__TAG_RESOURCE_RESPONSE__INIT;

	return api__pack(out, &resp.base);
}

int api__untag_finish(struct api_ctx *ctx, const struct fsm_result *r, struct api_reply *out)
{
	Coffer__UntagResourceResponse resp = COFFER__UNTAG_RESOURCE_RESPONSE__INIT;

	return api__pack(out, &resp.base);
}
