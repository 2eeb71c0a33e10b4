/*
 * awsjson: AWS JSON 1.1 bodies <-> protobuf messages, generically from
 * protobuf-c's field descriptors, so the RPC port and the AWS endpoint run
 * the same handlers. Member names are the PascalCase of the snake_case
 * field names (secret_string <-> SecretString), with a short exception
 * table (arn <-> ARN, rotation_lambda_arn <-> RotationLambdaARN, ...).
 * Types: string <-> string, bytes <-> standard base64 (padded), bool <->
 * true/false, int32/int64 <-> integer number, double <-> number (epoch
 * seconds, millisecond precision out), message <-> object, repeated <->
 * array. A repeated field of a message type named *Entry whose only fields
 * are "key" and "value" is a JSON object (VersionIdsToStages; Tag stays a
 * list of {Key, Value}); a nested message whose
 * only field is a repeated one (StageList) is that bare array. Requests:
 * unknown members are ignored, null means absent; a wrong JSON type, bad
 * base64, a number out of range or invalid UTF-8 is a SerializationException.
 * Responses: absent optional members and empty repeated members are left
 * out, except the lists AWS always returns (SecretList, SecretValues,
 * Errors, Versions), which appear as []. Presence markers: a field whose
 * name ends in "_present" is never a JSON member (not emitted, ignored in
 * requests); when a message has a bool field "<x>_present" set true, its
 * repeated field "<x>" is emitted even when empty (tags_present: Tags is
 * [] once a secret was tagged and all tags removed, and left out if it was
 * never tagged). Plaintext values pass through:
 * every buffer here is in the secure heap and wiped. Pure. Thread-safe.
 */
#ifndef COFFER_AWS_JSON_H
#define COFFER_AWS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "util/errors.h"
#include "util/secmem.h"

#define AWSJSON_MAX_DEPTH 16

/* Decode a JSON request body (n bytes; empty = {}) into a packed message of
 * type desc, written to a secure buffer. 0 on success; -1 with st set
 * (SerializationException, message naming the member) on bad input;
 * CF_ENOMEM. */
int awsjson_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *body, size_t n,
		   struct secbuf *packed, struct cf_status *st);

/* Encode a packed message of type desc as a JSON object into a secure
 * buffer (not NUL-terminated; len exact). 0, CF_EPROTO (packed does not
 * decode), CF_ENOMEM. */
int awsjson_encode(const ProtobufCMessageDescriptor *desc, const uint8_t *packed, size_t n,
		   struct secbuf *json);

/* The AWS member name of a field (snake_case -> PascalCase + exceptions).
 * Returns 0, or CF_ETOOBIG if out (cap bytes) is too small. */
int awsjson_member_name(const char *snake, char *out, size_t cap);

/* Encode an AWS error body {"__type": type, "Message": message}. */
int awsjson_error(const char *type, const char *message, struct secbuf *json);

#endif
