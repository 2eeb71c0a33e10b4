/*
 * api: one handler per operation, shared by the RPC port and (later) the AWS
 * JSON endpoint. A request is a packed protobuf message of the operation's
 * request type; the reply is a packed response message or an AWS error.
 *
 *   READ  ops: api_read() on the leader after a barrier (or locally). A
 *              value read records LastAccessedDate in the FSM's
 *              leader-local touch set (no raft round trip; see touch.c).
 *   WRITE ops: api_prepare() on the leader validates, resolves everything
 *              non-deterministic (version id, ARN suffix, timestamps, data
 *              key, ciphertext) and yields one FSM command; the server
 *              proposes it; after apply, api_finish() turns the FSM result
 *              into the response.
 *
 * Pure: no libuv, no raft. Loop thread only.
 */
#ifndef COFFER_API_API_H
#define COFFER_API_API_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "util/errors.h"
#include "util/secmem.h"

struct fsm;
struct keyring;

enum api_kind {
	API_READ = 1,  /* linearizable read on the leader */
	API_WRITE = 2, /* proposed through raft */
	API_LOCAL = 3, /* reads no replicated state: served by the receiving node */
};

struct api_op {
	const char *name;                            /* "GetSecretValue" */
	enum api_kind kind;
	const ProtobufCMessageDescriptor *request;   /* coffer__..._request__descriptor */
	const ProtobufCMessageDescriptor *response;
	const void *impl;                            /* private */
};

/* The operation table lookup; NULL for an unknown operation. */
const struct api_op *api_find(const char *name);
/* All operations, terminated by an entry with name == NULL. */
extern const struct api_op api_ops[];

/* What a handler needs. All borrowed; now_ms is the leader's clock. */
struct api_ctx {
	struct fsm *fsm;
	struct keyring *kr;
	const char *region;     /* "us-east-1" */
	const char *account_id; /* 12 digits, used in ARNs */
	int64_t now_ms;
};

/* A reply: status (empty type = success) and the packed response in the
 * secure heap (it may hold a secret value). Release with api_reply_release. */
struct api_reply {
	struct cf_status status;
	struct secbuf payload;
};
void api_reply_release(struct api_reply *r);

/* Answer a READ or LOCAL op. Always fills out (success or AWS error). Returns 0, or
 * CF_ENOMEM. req borrowed. */
int api_read(const struct api_op *op, struct api_ctx *ctx, const uint8_t *req, size_t n,
	     struct api_reply *out);

/* Prepare a WRITE op. On return 0 either *cmd is set (malloc'ed command to
 * propose; free() after proposing) or *cmd is NULL and out holds the
 * immediate reply (a validation error, or an idempotent replay). */
int api_prepare(const struct api_op *op, struct api_ctx *ctx, const uint8_t *req, size_t n,
		uint8_t **cmd, size_t *cmd_len, struct api_reply *out);

/* Turn the FSM result of the proposed command into the reply. result
 * borrowed (the caller frees it with fsm_result_free). */
int api_finish(const struct api_op *op, struct api_ctx *ctx, const void *result,
	       struct api_reply *out);

/* Leader housekeeping, called after every leadership gain (post-barrier) and
 * about once a second on the leader: returns in *cmd a command to propose
 * (create the default KMS key if absent; purge secrets whose recovery window
 * has ended; record LastAccessedDate of values read, from the FSM's
 * leader-local touch set), or NULL when there is nothing to do. One command
 * per call: the caller proposes it and calls again only after it was
 * applied (or failed), so what is still due comes on the next call. */
int api_housekeeping(struct api_ctx *ctx, uint8_t **cmd, size_t *cmd_len);

#endif
