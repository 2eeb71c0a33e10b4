/*
 * awsjson: what the decoder and the encoder share. awsjson_member_name
 * maps a snake_case field name to its AWS member name (PascalCase, with an
 * exception table pinned here); the shape helpers read protobuf-c field
 * descriptors (map entries, bare arrays, element sizes, pointer-held
 * types, presence markers); the UTF-8 checks reject overlongs, surrogates
 * and code points past U+10FFFF. The decoder is json_decode.c, the encoder
 * json_encode.c. Failures: a member name longer than the caller's buffer
 * (CF_ETOOBIG). Pure, no allocation.
 */
#include "aws/json.h"

#include <string.h>

#include "aws/json_int.h"

/* ------------------------------------------------------------ names */

/* AWS spellings that plain PascalCase gets wrong, plus a few pinned here
 * so that a change to the generic rule cannot silently rename them. */
static const struct {
	const char *snake;
	const char *aws;
} name_exceptions[] = {
    {"arn", "ARN"},
    {"rotation_lambda_arn", "RotationLambdaARN"},
    {"external_secret_rotation_role_arn", "ExternalSecretRotationRoleArn"},
    {"kms_key_ids", "KmsKeyIds"},
    {"version_ids_to_stages", "VersionIdsToStages"},
    {"secret_versions_to_stages", "SecretVersionsToStages"},
};

int awsjson_member_name(const char *snake, char *out, size_t cap)
{
	size_t i, o = 0, n;
	int up = 1;

	for (i = 0; i < sizeof(name_exceptions) / sizeof(name_exceptions[0]); i++) {
		if (strcmp(snake, name_exceptions[i].snake) != 0)
			continue;
		n = strlen(name_exceptions[i].aws);
		if (n >= cap)
			return CF_ETOOBIG;
		memcpy(out, name_exceptions[i].aws, n + 1);
		return 0;
	}
	for (i = 0; snake[i] != '\0'; i++) {
		char c = snake[i];

		if (c == '_') {
			up = 1;
			continue;
		}
		if (o + 1 >= cap)
			return CF_ETOOBIG;
		out[o++] = (up && c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
		up = 0;
	}
	if (cap == 0)
		return CF_ETOOBIG;
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------ shapes */

/* A map entry: named *Entry (protobuf's own convention for map<K,V>) with
 * exactly a string "key" and a singular "value". The suffix keeps Tag
 * {key, value}, which AWS sends as a list of objects, out. */
int awsjson__map_entry(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor **key,
                       const ProtobufCFieldDescriptor **value)
{
	size_t n = strlen(d->name);
	unsigned i;

	if (d->n_fields != 2 || n < 5 || strcmp(d->name + n - 5, "Entry") != 0)
		return 0;
	*key = *value = NULL;
	for (i = 0; i < 2; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED ||
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			return 0;
		if (strcmp(f->name, "key") == 0 && f->type == PROTOBUF_C_TYPE_STRING)
			*key = f;
		else if (strcmp(f->name, "value") == 0)
			*value = f;
	}
	return *key != NULL && *value != NULL;
}

/* A message whose only field is repeated (StageList) is that bare array. */
int awsjson__bare_array(const ProtobufCMessageDescriptor *d)
{
	return d->n_fields == 1 && d->fields[0].label == PROTOBUF_C_LABEL_REPEATED;
}

size_t awsjson__elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* 32-bit integers, float, enum */
		return 4;
	}
}

int awsjson__pointer_type(ProtobufCType t)
{
	return t == PROTOBUF_C_TYPE_STRING || t == PROTOBUF_C_TYPE_MESSAGE;
}

/* See PRESENT_SUFFIX in json_int.h. */
int awsjson__is_marker(const ProtobufCFieldDescriptor *f)
{
	size_t n = strlen(f->name), k = sizeof(PRESENT_SUFFIX) - 1;

	return n > k && strcmp(f->name + n - k, PRESENT_SUFFIX) == 0;
}

/* ------------------------------------------------------------ utf-8 */

/* Length of the valid UTF-8 sequence of 2-4 bytes at p, or 0. */
size_t awsjson__utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp, min;
	size_t len, i;

	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2, cp = p[0] & 0x1F, min = 0x80;
	} else if ((p[0] & 0xF0) == 0xE0) {
		len = 3, cp = p[0] & 0x0F, min = 0x800;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int awsjson__utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = awsjson__utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}
