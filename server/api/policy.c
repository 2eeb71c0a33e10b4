/*
 * Resource policies while the policy engine is not enabled. Every call
 * validates its input and resolves the secret first (ResourceNotFound).
 * No policy can be stored, so GetResourcePolicy truthfully answers ARN and
 * Name without ResourcePolicy, and DeleteResourcePolicy is a no-op that
 * answers ARN and Name. PutResourcePolicy and ValidateResourcePolicy are
 * refused with InvalidRequestException (AWS: "a parameter value is not valid
 * for the current state of the resource"), the closest AWS name for a
 * feature this deployment does not offer; the message says so. None of
 * them yields an FSM command.
 */
#include "api/api_int.h"
#include "util/errors.h"

#define MSG_NO_POLICIES                                                                    \
	"Resource policies are not enabled in this deployment yet: a policy can't be "      \
	"attached to or validated for a secret."
#define POLICY_MAX 20480

int api__put_resource_policy(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			     size_t *cmd_len, struct api_reply *out)
{
	const Coffer__PutResourcePolicyRequest *req = (const Coffer__PutResourcePolicyRequest *)m;

	if (!api__check_secret_id(out, req->secret_id) ||
	    !api__check_len(out, req->resource_policy, "resourcePolicy", 1, POLICY_MAX))
		return 0;
	if (api__resolve(ctx, out, req->secret_id) == NULL)
		return 0;
	return api__error(out, "InvalidRequestException", MSG_NO_POLICIES);
}

int api__validate_resource_policy(struct api_ctx *ctx, const ProtobufCMessage *m,
				  struct api_reply *out)
{
	const Coffer__ValidateResourcePolicyRequest *req =
		(const Coffer__ValidateResourcePolicyRequest *)m;

	if ((req->secret_id && !api__check_secret_id(out, req->secret_id)) ||
	    !api__check_len(out, req->resource_policy, "resourcePolicy", 1, POLICY_MAX))
		return 0;
	if (req->secret_id && api__resolve(ctx, out, req->secret_id) == NULL)
		return 0;
	return api__error(out, "InvalidRequestException", MSG_NO_POLICIES);
}

int api__get_resource_policy(struct api_ctx *ctx, const ProtobufCMessage *m,
			     struct api_reply *out)
{
	const Coffer__GetResourcePolicyRequest *req = (const Coffer__GetResourcePolicyRequest *)m;
	Coffer__GetResourcePolicyResponse resp = COFFER__GET_RESOURCE_POLICY_RESPONSE__INIT;
	const struct store_secret *s;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	resp.arn = s->arn;
	resp.name = s->name;
	return api__pack(out, &resp.base);
}

int api__delete_resource_policy(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
				size_t *cmd_len, struct api_reply *out)
{
	const Coffer__DeleteResourcePolicyRequest *req =
		(const Coffer__DeleteResourcePolicyRequest *)m;
	Coffer__DeleteResourcePolicyResponse resp = COFFER__DELETE_RESOURCE_POLICY_RESPONSE__INIT;
	const struct store_secret *s;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	resp.arn = s->arn;
	resp.name = s->name;
	return api__pack(out, &resp.base);
}
