/*
 * libcoffer: the C client of Coffer's protobuf RPC port.
 *
 * A struct coffer_client holds the configuration (endpoints, CA file,
 * credentials, region), one TLS 1.3 context and a cache of the per-day
 * signing key. Synchronous calls (coffer_call and the typed wrappers below)
 * use one lazily opened connection, and retry retryable failures
 * (ServiceUnavailableException, ThrottlingException, "not ready" internal
 * errors, connection failures) with backoff for up to retry_budget_ms,
 * rotating through the endpoints and resending the same request payload, so
 * the ClientRequestToken inside keeps writes idempotent.
 *
 * For load generation, struct coffer_conn is one non-blocking, pipelined
 * connection: queue many signed requests, drive it from your own poll loop
 * with coffer_conn_process, and get each answer through a callback (answers
 * may come out of order; they are matched by call id).
 *
 * Threads: a client and its connections belong to one thread at a time.
 * Secret values: responses are unpacked on the secure heap (free them with
 * coffer_response_free, which wipes them); frame buffers are secure too.
 */
#ifndef COFFER_COFFER_H
#define COFFER_COFFER_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "coffer.pb-c.h"

/* Return codes: 0, or a negative COFFER_E* (same numbers as the server's
 * CF_E* codes, plus COFFER_ESERVICE and COFFER_EAGAIN). */
#define COFFER_OK 0
#define COFFER_ENOMEM (-1)
#define COFFER_EINVAL (-2)
#define COFFER_EIO (-3)     /* connection or TLS failure */
#define COFFER_EPROTO (-4)  /* malformed frame or message */
#define COFFER_ECRYPTO (-5)
#define COFFER_ETOOBIG (-10)
#define COFFER_ECLOSED (-11)
#define COFFER_ETIMEOUT (-12)
#define COFFER_ESERVICE (-100) /* the service answered with an AWS error */
#define COFFER_EAGAIN (-101)   /* connection send buffer full; process, then retry */

#define COFFER_MAX_FRAME (2u * 1024u * 1024u) /* matches the server's frame cap */
#define COFFER_MAX_ENDPOINTS 16

/* The AWS error an operation failed with, or the transport failure. */
struct coffer_error {
	char type[64];     /* e.g. "ResourceNotFoundException"; "" for transport errors */
	char message[384]; /* never holds secret bytes */
};

struct coffer_config {
	const char *endpoints;         /* "host:port[,host:port...]"; required */
	const char *ca_file;           /* PEM trust anchors; NULL = system default */
	const char *access_key_id;     /* required */
	const char *secret_access_key; /* required; copied to the secure heap */
	const char *region;            /* signing region; NULL = "us-east-1" */
	int timeout_ms;                /* one attempt; 0 = 5000 */
	int retry_budget_ms;           /* all attempts; 0 = 10000, <0 = no retries */
};

struct coffer_client;
struct coffer_conn;

/* Text for a COFFER_E* code (static, never NULL). Any thread. */
const char *coffer_strerror(int code);

/* Create a client. All cfg strings are copied. Returns 0, COFFER_EINVAL
 * (bad endpoint list, missing credentials; *errmsg-style text via err),
 * COFFER_ECRYPTO (CA file unreadable) or COFFER_ENOMEM. *out is freed with
 * coffer_client_free. Also sets up the secure heap (idempotent): call from
 * the main thread before starting other threads. */
int coffer_client_new(const struct coffer_config *cfg, struct coffer_client **out,
		      struct coffer_error *err);
/* Close the connection, wipe the credentials and free. NULL ok. */
void coffer_client_free(struct coffer_client *c);

/* Number of endpoints and the "host:port" text of endpoint i (borrowed). */
size_t coffer_client_endpoint_count(const struct coffer_client *c);
const char *coffer_client_endpoint(const struct coffer_client *c, size_t i);

/*
 * One synchronous call with retries. req is borrowed and packed once; the
 * answer is unpacked as resp_desc on the secure heap into *resp (returned;
 * free with coffer_response_free). Returns 0, COFFER_ESERVICE with err
 * filled (AWS error type and message), or a transport COFFER_E* with
 * err->message saying what failed.
 */
int coffer_call(struct coffer_client *c, const char *operation, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		struct coffer_error *err);

/* Wipe and free a response returned by coffer_call or a typed wrapper. NULL ok. */
void coffer_response_free(void *resp);

/* Typed wrappers: coffer_<op>(c, req, &resp, err), same contract as coffer_call. */
#define COFFER_OPS(X)                                                                         \
	X(create_secret, "CreateSecret", CreateSecret, create_secret)                         \
	X(get_secret_value, "GetSecretValue", GetSecretValue, get_secret_value)               \
	X(put_secret_value, "PutSecretValue", PutSecretValue, put_secret_value)               \
	X(update_secret, "UpdateSecret", UpdateSecret, update_secret)                         \
	X(describe_secret, "DescribeSecret", DescribeSecret, describe_secret)                 \
	X(list_secrets, "ListSecrets", ListSecrets, list_secrets)                             \
	X(list_secret_version_ids, "ListSecretVersionIds", ListSecretVersionIds,              \
	  list_secret_version_ids)                                                            \
	X(update_secret_version_stage, "UpdateSecretVersionStage", UpdateSecretVersionStage, \
	  update_secret_version_stage)                                                        \
	X(delete_secret, "DeleteSecret", DeleteSecret, delete_secret)                         \
	X(restore_secret, "RestoreSecret", RestoreSecret, restore_secret)                     \
	X(cluster_status, "ClusterStatus", ClusterStatus, cluster_status)                     \
	X(tag_resource, "TagResource", TagResource, tag_resource)                             \
	X(untag_resource, "UntagResource", UntagResource, untag_resource)                     \
	X(get_random_password, "GetRandomPassword", GetRandomPassword, get_random_password)   \
	X(batch_get_secret_value, "BatchGetSecretValue", BatchGetSecretValue,                 \
	  batch_get_secret_value)                                                             \
	X(rotate_secret, "RotateSecret", RotateSecret, rotate_secret)                         \
	X(cancel_rotate_secret, "CancelRotateSecret", CancelRotateSecret, cancel_rotate_secret) \
	X(put_resource_policy, "PutResourcePolicy", PutResourcePolicy, put_resource_policy)   \
	X(get_resource_policy, "GetResourcePolicy", GetResourcePolicy, get_resource_policy)   \
	X(delete_resource_policy, "DeleteResourcePolicy", DeleteResourcePolicy,               \
	  delete_resource_policy)                                                             \
	X(validate_resource_policy, "ValidateResourcePolicy", ValidateResourcePolicy,         \
	  validate_resource_policy)                                                           \
	X(replicate_secret_to_regions, "ReplicateSecretToRegions", ReplicateSecretToRegions,  \
	  replicate_secret_to_regions)                                                        \
	X(remove_regions_from_replication, "RemoveRegionsFromReplication",                    \
	  RemoveRegionsFromReplication, remove_regions_from_replication)                      \
	X(stop_replication_to_replica, "StopReplicationToReplica", StopReplicationToReplica,  \
	  stop_replication_to_replica)

#define COFFER_OP_DECL(fn, opname, T, lower)                                            \
	int coffer_##fn(struct coffer_client *c, const Coffer__##T##Request *req,      \
			Coffer__##T##Response **resp, struct coffer_error *err);
COFFER_OPS(COFFER_OP_DECL)
#undef COFFER_OP_DECL

/* A random UUIDv4 (lowercase, 36 chars + NUL) for ClientRequestToken.
 * 0 or COFFER_ECRYPTO. Any thread. */
int coffer_uuid4(char out[37]);

/* Retryable per the protocol: ServiceUnavailableException,
 * ThrottlingException, or InternalServiceError whose message says "not ready". */
int coffer_error_is_retryable(const char *type, const char *message);

/* ------------------------------------------------------------- envelope codec
 * Pure helpers, exposed for tests and tools. */

/* Encode one request frame (4-byte big-endian length + packed Envelope) into
 * out[0..cap): call_id, operation, auth signed over payload at date
 * (YYYYMMDDTHHMMSSZ) with the client's credentials. *len gets the frame
 * length. Returns 0, COFFER_ETOOBIG (frame over COFFER_MAX_FRAME or cap), or
 * COFFER_ECRYPTO. */
int coffer_encode_request(struct coffer_client *c, uint64_t call_id, const char *operation,
			  const char *date, const uint8_t *payload, size_t payload_len,
			  uint8_t *out, size_t cap, size_t *len);

/* Decode one frame body (without the length header) as a response envelope,
 * unpacked on the secure heap. *env is returned; free with
 * coffer_response_free. 0 or COFFER_EPROTO. */
int coffer_decode_envelope(const uint8_t *body, size_t len, Coffer__Envelope **env);

/* ------------------------------------------------------------ pipelined mode */

/* The answer to one queued request. status is 0 (payload is the packed
 * response, borrowed for the call only), COFFER_ESERVICE (err filled), or a
 * transport code when the connection failed with the request in flight. */
typedef void (*coffer_done_cb)(void *data, int status, const struct coffer_error *err,
			       const uint8_t *payload, size_t payload_len);

/* Open a non-blocking TLS connection to endpoint index i (the handshake
 * completes within timeout_ms before this returns). *out is freed with
 * coffer_conn_free. 0, COFFER_EIO, COFFER_ETIMEOUT or COFFER_ENOMEM, with
 * err->message set. */
int coffer_conn_open(struct coffer_client *c, size_t i, int timeout_ms,
		     struct coffer_conn **out, struct coffer_error *err);
/* Fail every pending request with COFFER_ECLOSED (callbacks run), close and free. */
void coffer_conn_free(struct coffer_conn *conn);

/* Sign and queue one request; payload is copied into the send buffer.
 * cb runs from coffer_conn_process (never from here). Returns 0,
 * COFFER_EAGAIN (send buffer full: process first), COFFER_ETOOBIG,
 * COFFER_ECLOSED or COFFER_ENOMEM. */
int coffer_conn_send(struct coffer_conn *conn, const char *operation, const uint8_t *payload,
		     size_t payload_len, coffer_done_cb cb, void *data);

/* The socket, and the poll events it waits for (POLLIN, plus POLLOUT while
 * bytes wait to be written). */
int coffer_conn_fd(const struct coffer_conn *conn);
short coffer_conn_events(const struct coffer_conn *conn);
/* Requests queued or sent and not yet answered. */
size_t coffer_conn_inflight(const struct coffer_conn *conn);

/* Write what is queued and read and dispatch what has arrived, without
 * blocking. Returns 0, or a COFFER_E* after which the connection is dead:
 * every pending request has been failed through its callback; free it. */
int coffer_conn_process(struct coffer_conn *conn);

#endif
