/*
 * Cross-region replication while no replica regions are configured. Each
 * call validates its input fully (region codes match ^([a-z]+-)+\d+$, KMS
 * key ids up to 2048, non-empty region lists), resolves the secret
 * (ResourceNotFound first), refuses this region as a replica target
 * (InvalidParameterException "Invalid replica region.", as the emulators
 * do), and then answers InvalidRequestException saying replication is not
 * configured in this deployment. CreateSecret's AddReplicaRegions goes
 * through the same checks. None of them yields an FSM command.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "util/errors.h"

#define MSG_NOT_REPLICA                                                                     \
	"This secret is not a replica: cross-region replication is not configured in this " \
	"deployment."

static int own_region(struct api_ctx *ctx, struct api_reply *out, const char *region)
{
	if (strcmp(region, ctx->region) != 0)
		return 0;
	api__error(out, "InvalidParameterException", "Invalid replica region.");
	return 1;
}

int api__check_replica_regions(struct api_ctx *ctx, struct api_reply *out,
			       Coffer__ReplicaRegionType **r, size_t n)
{
	char member[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(member, sizeof(member), "addReplicaRegions.%zu.member.region", i + 1);
		if (!api__check_region(out, r[i]->region, member))
			return 0;
		snprintf(member, sizeof(member), "addReplicaRegions.%zu.member.kmsKeyId", i + 1);
		if (!api__check_len(out, r[i]->kms_key_id, member, 0, 2048))
			return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (own_region(ctx, out, r[i]->region))
			return 0;
	return 1;
}

static int min_one(struct api_reply *out, size_t n, const char *member)
{
	if (n > 0)
		return 1;
	api__validation(out, NULL, member, "Member must have length greater than or equal to 1");
	return 0;
}

int api__replicate_to_regions(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			      size_t *cmd_len, struct api_reply *out)
{
	const Coffer__ReplicateSecretToRegionsRequest *req =
		(const Coffer__ReplicateSecretToRegionsRequest *)m;

	if (!api__check_secret_id(out, req->secret_id) ||
	    !min_one(out, req->n_add_replica_regions, "addReplicaRegions"))
		return 0;
	for (size_t i = 0; i < req->n_add_replica_regions; i++) {
		char member[64];

		snprintf(member, sizeof(member), "addReplicaRegions.%zu.member.region", i + 1);
		if (!api__check_region(out, req->add_replica_regions[i]->region, member))
			return 0;
		snprintf(member, sizeof(member), "addReplicaRegions.%zu.member.kmsKeyId", i + 1);
		if (!api__check_len(out, req->add_replica_regions[i]->kms_key_id, member, 0, 2048))
			return 0;
	}
	if (api__resolve(ctx, out, req->secret_id) == NULL)
		return 0;
	if (!api__check_replica_regions(ctx, out, req->add_replica_regions,
					req->n_add_replica_regions))
		return 0;
	return api__error(out, "InvalidRequestException", MSG_NO_REPLICATION);
}

int api__remove_regions(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			size_t *cmd_len, struct api_reply *out)
{
	const Coffer__RemoveRegionsFromReplicationRequest *req =
		(const Coffer__RemoveRegionsFromReplicationRequest *)m;
	char member[48];

	if (!api__check_secret_id(out, req->secret_id) ||
	    !min_one(out, req->n_remove_replica_regions, "removeReplicaRegions"))
		return 0;
	for (size_t i = 0; i < req->n_remove_replica_regions; i++) {
		snprintf(member, sizeof(member), "removeReplicaRegions.%zu.member", i + 1);
		if (!api__check_region(out, req->remove_replica_regions[i], member))
			return 0;
	}
	if (api__resolve(ctx, out, req->secret_id) == NULL)
		return 0;
	return api__error(out, "InvalidRequestException", MSG_NO_REPLICATION);
}

int api__stop_replication(struct api_ctx *ctx, const ProtobufCMessage *m, uint8_t **cmd,
			  size_t *cmd_len, struct api_reply *out)
{
	const Coffer__StopReplicationToReplicaRequest *req =
		(const Coffer__StopReplicationToReplicaRequest *)m;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if (api__resolve(ctx, out, req->secret_id) == NULL)
		return 0;
	return api__error(out, "InvalidRequestException", MSG_NOT_REPLICA);
}
