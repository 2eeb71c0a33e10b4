/*
 * Fuzz the AWS JSON codec. Byte 0 picks the message type (requests, and
 * responses for the map, bare-array and always-present shapes); the rest is
 * the body. Whatever decodes is encoded again; the output must be valid
 * JSON, and for types without doubles (whose output is rounded to
 * milliseconds) decoding it again must give the same packed bytes. A
 * failure must be a SerializationException. ASan/LSan catch leaks and
 * overreads; the secure heap is left off so every block is visible.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aws/json.h"
#include "coffer.pb-c.h"
#include "util/errors.h"
#include "util/secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const ProtobufCMessageDescriptor *desc;
	int exact; /* no double members: a second decode must match */
} types[] = {
    {&coffer__create_secret_request__descriptor, 1},
    {&coffer__put_secret_value_request__descriptor, 1},
    {&coffer__get_secret_value_request__descriptor, 1},
    {&coffer__list_secrets_request__descriptor, 1},
    {&coffer__batch_get_secret_value_request__descriptor, 1},
    {&coffer__rotate_secret_request__descriptor, 1},
    {&coffer__untag_resource_request__descriptor, 1},
    {&coffer__delete_secret_request__descriptor, 1},
    {&coffer__get_random_password_request__descriptor, 1},
    {&coffer__replicate_secret_to_regions_request__descriptor, 1},
    {&coffer__validate_resource_policy_response__descriptor, 1},
    {&coffer__envelope__descriptor, 1},
    {&coffer__describe_secret_response__descriptor, 0},
    {&coffer__list_secrets_response__descriptor, 0},
    {&coffer__get_secret_value_response__descriptor, 0},
    {&coffer__batch_get_secret_value_response__descriptor, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *desc;
	struct secbuf packed = {0}, json = {0}, again = {0};
	struct cf_status st;
	json_t *check;
	int exact, rv;

	if (size < 1)
		return 0;
	desc = types[data[0] % (sizeof(types) / sizeof(types[0]))].desc;
	exact = types[data[0] % (sizeof(types) / sizeof(types[0]))].exact;
	memset(&st, 0, sizeof(st));
	rv = awsjson_decode(desc, data + 1, size - 1, &packed, &st);
	if (rv != 0) {
		if (packed.data != NULL || strcmp(st.type, "SerializationException") != 0)
			abort();
		return 0;
	}
	if (awsjson_encode(desc, packed.data, packed.len, &json) != 0)
		abort(); /* everything that decodes must encode */
	check = json_loadb((const char *)json.data, json.len,
	                   JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL);
	if (!json_is_object(check))
		abort();
	json_decref(check);
	if (exact) {
		if (awsjson_decode(desc, json.data, json.len, &again, &st) != 0)
			abort();
		if (again.len != packed.len || memcmp(again.data, packed.data, packed.len) != 0)
			abort();
	}
	secbuf_free(&again);
	secbuf_free(&json);
	secbuf_free(&packed);
	return 0;
}
