/*
 * RotateSecret and CancelRotateSecret while the rotation engine does not
 * exist. Both validate their input fully first and resolve the secret
 * (ResourceNotFound; InvalidRequest when scheduled for deletion), then
 * answer with the error AWS gives when rotation cannot run:
 *
 *   RotateSecret without a RotationLambdaARN (none can be stored yet):
 *     InvalidRequestException "No Lambda rotation function ARN is
 *     associated with this secret."
 *   RotateSecret while AWSPENDING sits on a version other than AWSCURRENT:
 *     InvalidRequestException "A previous rotation isn't complete..."
 *   RotateSecret with a RotationLambdaARN: no Lambda can be invoked from
 *     here, so AWS's AccessDeniedException for an uninvokable function;
 *     as on AWS, nothing is stored.
 *   CancelRotateSecret: rotation is never configured, so
 *     InvalidRequestException saying so.
 *
 * Neither ever yields an FSM command.
 */
#include <string.h>

#include "api/api_int.h"
#include "util/errors.h"

#define MSG_NO_LAMBDA "No Lambda rotation function ARN is associated with this secret."
#define MSG_NO_INVOKE                                                                       \
	"Secrets Manager cannot invoke the specified Lambda function. Ensure that the "     \
	"function policy grants access to the principal secretsmanager.amazonaws.com."
#define MSG_IN_FLIGHT "A previous rotation isn't complete. That rotation will be reattempted."
#define MSG_NOT_ROTATING \
	"Secrets Manager can't cancel rotation because rotation is not configured for this secret."

/* Every character of s is a digit, a letter, or in extra. */
static int chars_ok(const char *s, const char *extra)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      strchr(extra, c)))
			return 0;
	}
	return 1;
}

static int check_rules(struct api_reply *out, const Coffer__RotationRulesType *r)
{
	if (r == NULL)
		return 1;
	if (r->has_automatically_after_days &&
	    !api__check_range(out, r->automatically_after_days,
			      "rotationRules.automaticallyAfterDays", 1, 1000))
		return 0;
	if (r->duration) {
		size_t n = strlen(r->duration);

		if (!api__check_len(out, r->duration, "rotationRules.duration", 2, 3))
			return 0;
		/* [0-9]+h */
		if (r->duration[n - 1] != 'h' || strspn(r->duration, "0123456789") != n - 1) {
			api__validation(out, r->duration, "rotationRules.duration",
					"Member must satisfy regular expression pattern: [0-9]+h");
			return 0;
		}
	}
	if (r->schedule_expression) {
		if (!api__check_len(out, r->schedule_expression,
				    "rotationRules.scheduleExpression", 1, 256))
			return 0;
		if (!chars_ok(r->schedule_expression, "()#?*-/, ")) {
			api__validation(out, r->schedule_expression,
					"rotationRules.scheduleExpression",
					"Member must satisfy regular expression pattern: "
					"[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+");
			return 0;
		}
	}
	if (r->has_automatically_after_days && r->schedule_expression) {
		api__error(out, "InvalidParameterException",
			   "You cannot specify both rotation frequency and schedule expression "
			   "together.");
		return 0;
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

int api__rotate_secret(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
		       size_t *cmd_len, struct api_reply *out)
{
	const Coffer__RotateSecretRequest *req = (const Coffer__RotateSecretRequest *)m;
	const struct store_secret *s;
	const struct store_version *pending, *current;

	if (!api__check_secret_id(out, req->secret_id) ||
	    /* RotateSecret reports a missing token as InvalidParameter [V] */
	    !api__check_token(out, req->client_request_token, "InvalidParameterException") ||
	    !api__check_len(out, req->rotation_lambda_arn, "rotationLambdaARN", 0, 2048) ||
	    !check_rules(out, req->rotation_rules))
		return 0;
	if ((s = live(ctx, out, req->secret_id)) == NULL)
		return 0;
	/* no secret can have a stored Lambda ARN yet */
	if (req->rotation_lambda_arn == NULL || req->rotation_lambda_arn[0] == '\0')
		return api__error(out, "InvalidRequestException", MSG_NO_LAMBDA);
	pending = store_label_get(s, "AWSPENDING");
	current = store_label_get(s, "AWSCURRENT");
	if (pending && pending != current)
		return api__error(out, "InvalidRequestException", MSG_IN_FLIGHT);
	return api__error(out, "AccessDeniedException", MSG_NO_INVOKE);
}

int api__cancel_rotate_secret(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			      size_t *cmd_len, struct api_reply *out)
{
	const Coffer__CancelRotateSecretRequest *req = (const Coffer__CancelRotateSecretRequest *)m;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if (live(ctx, out, req->secret_id) == NULL)
		return 0;
	return api__error(out, "InvalidRequestException", MSG_NOT_ROTATING);
}

int api__no_finish(struct api_ctx *ctx, const struct fsm_result *r, struct api_reply *out)
{
	return api__error(out, "InternalServiceError", "this operation has no fsm command");
}
