/*
 * AWS JSON 1.1 <-> protobuf, driven by protobuf-c's field descriptors.
 *
 * Decode: bound the body (size, then nesting depth by a byte scan so
 * jansson never recurses past AWSJSON_MAX_DEPTH), parse it with jansson
 * (whose allocator is the secure heap: bodies carry secret values), walk
 * desc->fields looking each member up by its AWS name, build the message
 * with secmem_pb_allocator, pack it into a secure buffer and free
 * everything. Failures: body not a JSON object, trailing data, duplicate
 * member names (rejected: which of two values a policy check saw and which
 * one was stored must never differ), wrong JSON type, number out of range,
 * bad base64, invalid UTF-8 -> SerializationException naming the member
 * path (never a value); out of memory -> InternalServiceError.
 *
 * Encode: unpack with secmem_pb_allocator and write the JSON straight into
 * a growable secure buffer (grown by allocate-copy-wipe, never realloc).
 * Failures: the bytes do not unpack, a string is not valid UTF-8 or a
 * double is not finite (CF_EPROTO); out of memory.
 */
#include "aws/json.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define SER_EXC "SerializationException"
/* The HTTP layer caps bodies at 1 MiB as well; this keeps the codec safe
 * on its own (fuzzing, other callers). */
#define MAX_BODY     (1024 * 1024)
#define NAME_MAX_LEN 128
#define PATH_LEN     192
/* From 2^53 on, a JSON real no longer says which integer was meant. */
#define REAL_INT_LIMIT 9007199254740992.0

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

/* Lists AWS returns even when empty. */
static const struct {
	const char *message;
	const char *field;
} always_lists[] = {
    {"coffer.ListSecretsResponse", "secret_list"},
    {"coffer.BatchGetSecretValueResponse", "secret_values"},
    {"coffer.BatchGetSecretValueResponse", "errors"},
    {"coffer.ListSecretVersionIdsResponse", "versions"},
};

static int always_list(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f)
{
	size_t i;

	for (i = 0; i < sizeof(always_lists) / sizeof(always_lists[0]); i++)
		if (strcmp(desc->name, always_lists[i].message) == 0 &&
		    strcmp(f->name, always_lists[i].field) == 0)
			return 1;
	return 0;
}

/* A map entry: named *Entry (protobuf's own convention for map<K,V>) with
 * exactly a string "key" and a singular "value". The suffix keeps Tag
 * {key, value}, which AWS sends as a list of objects, out. */
static int map_entry(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor **key,
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
static int bare_array(const ProtobufCMessageDescriptor *d)
{
	return d->n_fields == 1 && d->fields[0].label == PROTOBUF_C_LABEL_REPEATED;
}

static size_t elem_size(ProtobufCType t)
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

static int pointer_type(ProtobufCType t)
{
	return t == PROTOBUF_C_TYPE_STRING || t == PROTOBUF_C_TYPE_MESSAGE;
}

#define MEMBER(type, m, off) ((type *)(void *)((char *)(m) + (off)))

/* ------------------------------------------------------------ utf-8, base64 */

/* Length of the valid UTF-8 sequence of 2-4 bytes at p, or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
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

static int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict standard base64 with padding: length a multiple of 4, '=' only
 * as the last one or two characters, zero pad bits. out holds n/4*3. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen)
{
	size_t i, o = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], k, pad = 0;

		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = b64_value(c)) < 0)
				return -1;
		}
		if ((pad == 1 && (v[2] & 0x03)) || (pad == 2 && (v[1] & 0x0F)))
			return -1;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)(v[2] << 6 | v[3]);
	}
	*outlen = o;
	return 0;
}

/* ------------------------------------------------------------ secure writer */

struct jw {
	uint8_t *buf; /* secure heap; cap bytes, zero past len */
	size_t len;
	size_t cap;
	int rv; /* sticky: the first error */
};

static int jw_reserve(struct jw *w, size_t n)
{
	size_t need, cap;
	uint8_t *nb;

	if (w->rv != 0)
		return w->rv;
	if (n > SIZE_MAX / 4 - w->len)
		return w->rv = CF_ENOMEM;
	need = w->len + n + 1; /* keep a zero byte after the text */
	if (need <= w->cap)
		return 0;
	for (cap = w->cap ? w->cap : 256; cap < need; cap *= 2)
		;
	if ((nb = secmem_alloc(cap)) == NULL)
		return w->rv = CF_ENOMEM;
	if (w->len > 0)
		memcpy(nb, w->buf, w->len);
	secmem_free(w->buf); /* wipes */
	w->buf = nb;
	w->cap = cap;
	return 0;
}

static void jw_put(struct jw *w, const void *p, size_t n)
{
	if (jw_reserve(w, n) != 0)
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void jw_puts(struct jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

/* A JSON string (RFC 8259): '"', '\\' and C0 controls escaped, UTF-8 as
 * is. Invalid UTF-8 is CF_EPROTO, or U+FFFD when lossy. */
static void jw_string(struct jw *w, const char *s, size_t n, int lossy)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, k;

	jw_put(w, "\"", 1);
	while (i < n && w->rv == 0) {
		unsigned char c = p[i];
		char esc[7] = {'\\', 0};

		if (c >= 0x80) {
			if ((k = utf8_seq(p + i, n - i)) != 0) {
				i += k;
				continue;
			}
		} else if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		jw_put(w, p + run, i - run);
		if (c >= 0x80) {
			if (!lossy) {
				w->rv = CF_EPROTO;
				return;
			}
			jw_puts(w, "\xEF\xBF\xBD");
		} else {
			switch (c) {
			case '"':
				esc[1] = '"';
				break;
			case '\\':
				esc[1] = '\\';
				break;
			case '\b':
				esc[1] = 'b';
				break;
			case '\f':
				esc[1] = 'f';
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xF];
			}
			jw_puts(w, esc);
		}
		run = ++i;
	}
	jw_put(w, p + run, n - run);
	jw_put(w, "\"", 1);
}

static void jw_base64(struct jw *w, const uint8_t *p, size_t n)
{
	size_t i;
	char *o;

	if (n > SIZE_MAX / 2 || jw_reserve(w, (n + 2) / 3 * 4 + 2) != 0)
		return;
	o = (char *)w->buf + w->len;
	*o++ = '"';
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64_alphabet[p[i] >> 2];
		*o++ = b64_alphabet[(p[i] & 0x03) << 4 | p[i + 1] >> 4];
		*o++ = b64_alphabet[(p[i + 1] & 0x0F) << 2 | p[i + 2] >> 6];
		*o++ = b64_alphabet[p[i + 2] & 0x3F];
	}
	if (i < n) {
		*o++ = b64_alphabet[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64_alphabet[(p[i] & 0x03) << 4 | p[i + 1] >> 4];
			*o++ = b64_alphabet[(p[i + 1] & 0x0F) << 2];
		} else {
			*o++ = b64_alphabet[(p[i] & 0x03) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o++ = '"';
	w->len = (size_t)(o - (char *)w->buf);
}

/* Epoch seconds with millisecond precision, never in exponent form. */
static void jw_double(struct jw *w, double v)
{
	char tmp[400];
	int n;

	if (!isfinite(v)) {
		w->rv = w->rv ? w->rv : CF_EPROTO;
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.3f", v);
	if (n <= 0 || (size_t)n >= sizeof(tmp)) {
		w->rv = w->rv ? w->rv : CF_EPROTO;
		return;
	}
	while (tmp[n - 1] == '0')
		tmp[--n] = '\0';
	if (tmp[n - 1] == '.')
		tmp[--n] = '\0';
	jw_puts(w, strcmp(tmp, "-0") == 0 ? "0" : tmp);
}

static void jw_finish(struct jw *w, struct secbuf *out)
{
	out->data = w->buf;
	out->len = w->len;
	w->buf = NULL;
}

/* ------------------------------------------------------------ encode */

static void enc_message(struct jw *w, const ProtobufCMessage *m, int depth);
static void enc_value(struct jw *w, const ProtobufCFieldDescriptor *f, const void *slot, int depth);

/* The repeated field f of m as a JSON array, or as an object for map
 * entries. */
static void enc_repeated(struct jw *w, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m,
                         int depth)
{
	size_t n = *MEMBER(const size_t, m, f->quantifier_offset), i, sz = elem_size(f->type);
	const char *arr = *MEMBER(char *const, m, f->offset);
	const ProtobufCFieldDescriptor *kf, *vf;
	int map = f->type == PROTOBUF_C_TYPE_MESSAGE && map_entry(f->descriptor, &kf, &vf);

	if (depth > AWSJSON_MAX_DEPTH) {
		w->rv = w->rv ? w->rv : CF_EPROTO;
		return;
	}
	jw_put(w, map ? "{" : "[", 1);
	for (i = 0; i < n && w->rv == 0; i++) {
		if (i > 0)
			jw_put(w, ",", 1);
		if (!map) {
			enc_value(w, f, arr + i * sz, depth + 1);
			continue;
		}
		const ProtobufCMessage *e = ((ProtobufCMessage *const *)(const void *)arr)[i];
		const char *key = e ? *MEMBER(char *const, e, kf->offset) : NULL;

		if (key == NULL) {
			w->rv = CF_EPROTO;
			return;
		}
		jw_string(w, key, strlen(key), 0);
		jw_put(w, ":", 1);
		enc_value(w, vf, MEMBER(const char, e, vf->offset), depth + 1);
	}
	jw_put(w, map ? "}" : "]", 1);
}

/* One value of field f stored at slot (an array element or the member). */
static void enc_value(struct jw *w, const ProtobufCFieldDescriptor *f, const void *slot, int depth)
{
	char tmp[32];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(tmp, sizeof(tmp), "%" PRId32, *(const int32_t *)slot);
		jw_puts(w, tmp);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(tmp, sizeof(tmp), "%" PRIu32, *(const uint32_t *)slot);
		jw_puts(w, tmp);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(tmp, sizeof(tmp), "%" PRId64, *(const int64_t *)slot);
		jw_puts(w, tmp);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(tmp, sizeof(tmp), "%" PRIu64, *(const uint64_t *)slot);
		jw_puts(w, tmp);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		jw_double(w, *(const float *)slot);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		jw_double(w, *(const double *)slot);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		jw_puts(w, *(const protobuf_c_boolean *)slot ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)slot);

		if (ev == NULL)
			w->rv = w->rv ? w->rv : CF_EPROTO;
		else
			jw_string(w, ev->name, strlen(ev->name), 0);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)slot;

		if (s == NULL)
			w->rv = w->rv ? w->rv : CF_EPROTO;
		else
			jw_string(w, s, strlen(s), 0);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = slot;

		jw_base64(w, b->data, b->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;

		if (sub == NULL && bare_array(f->descriptor))
			jw_puts(w, "[]");
		else if (sub == NULL)
			w->rv = w->rv ? w->rv : CF_EPROTO;
		else if (bare_array(sub->descriptor))
			enc_repeated(w, &sub->descriptor->fields[0], sub, depth);
		else
			enc_message(w, sub, depth);
		break;
	}
	default:
		w->rv = w->rv ? w->rv : CF_EPROTO;
	}
}

/* Presence markers: a field named "<x>_present" is never a JSON member
 * (either direction); a bool "<x>_present" set true makes the repeated
 * field x appear even when empty (Tags: [] once a secret was tagged). */
#define PRESENT_SUFFIX "_present"

static int is_marker(const ProtobufCFieldDescriptor *f)
{
	size_t n = strlen(f->name), k = sizeof(PRESENT_SUFFIX) - 1;

	return n > k && strcmp(f->name + n - k, PRESENT_SUFFIX) == 0;
}

static int marked_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	char name[NAME_MAX_LEN];
	const ProtobufCFieldDescriptor *p;
	int n = snprintf(name, sizeof(name), "%s" PRESENT_SUFFIX, f->name);

	if (n < 0 || (size_t)n >= sizeof(name))
		return 0;
	p = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
	if (p == NULL || p->type != PROTOBUF_C_TYPE_BOOL || p->label == PROTOBUF_C_LABEL_REPEATED)
		return 0;
	if (p->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    !*MEMBER(const protobuf_c_boolean, m, p->quantifier_offset))
		return 0;
	return *MEMBER(const protobuf_c_boolean, m, p->offset) != 0;
}

static int present(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
	const void *slot = MEMBER(const char, m, f->offset);
	size_t i, sz;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *MEMBER(const size_t, m, f->quantifier_offset) > 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *MEMBER(const uint32_t, m, f->quantifier_offset) == f->id;
	if (pointer_type(f->type) && f->label != PROTOBUF_C_LABEL_NONE)
		return *(const void *const *)slot != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
		return *MEMBER(const protobuf_c_boolean, m, f->quantifier_offset);
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return 1;
	/* proto3 without presence: left out when it holds the zero value */
	if (f->type == PROTOBUF_C_TYPE_STRING)
		return *(const char *const *)slot != NULL && **(const char *const *)slot != '\0';
	if (f->type == PROTOBUF_C_TYPE_BYTES)
		return ((const ProtobufCBinaryData *)slot)->len > 0;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(const void *const *)slot != NULL;
	for (i = 0, sz = elem_size(f->type); i < sz; i++)
		if (((const uint8_t *)slot)[i] != 0)
			return 1;
	return 0;
}

static void enc_message(struct jw *w, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	char name[NAME_MAX_LEN];
	unsigned i;
	int first = 1;

	if (depth > AWSJSON_MAX_DEPTH) {
		w->rv = w->rv ? w->rv : CF_EPROTO;
		return;
	}
	jw_put(w, "{", 1);
	for (i = 0; i < desc->n_fields && w->rv == 0; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		int always = f->label == PROTOBUF_C_LABEL_REPEATED &&
			     (always_list(desc, f) || marked_present(m, f));

		if (is_marker(f))
			continue;
		if (!always && !present(f, m))
			continue;
		if (awsjson_member_name(f->name, name, sizeof(name)) != 0) {
			w->rv = CF_EPROTO;
			return;
		}
		jw_puts(w, first ? "\"" : ",\"");
		jw_puts(w, name);
		jw_puts(w, "\":");
		first = 0;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			enc_repeated(w, f, m, depth + 1);
		else
			enc_value(w, f, MEMBER(const char, m, f->offset), depth + 1);
	}
	jw_put(w, "}", 1);
}

int awsjson_encode(const ProtobufCMessageDescriptor *desc, const uint8_t *packed, size_t n,
                   struct secbuf *json)
{
	ProtobufCMessage *m;
	struct jw w = {0};

	json->data = NULL;
	json->len = 0;
	m = protobuf_c_message_unpack(desc, &secmem_pb_allocator, n, packed);
	if (m == NULL)
		return CF_EPROTO;
	enc_message(&w, m, 1);
	protobuf_c_message_free_unpacked(m, &secmem_pb_allocator);
	if (w.rv != 0) {
		secmem_free(w.buf);
		return w.rv;
	}
	jw_finish(&w, json);
	return 0;
}

int awsjson_error(const char *type, const char *message, struct secbuf *json)
{
	struct jw w = {0};

	json->data = NULL;
	json->len = 0;
	jw_puts(&w, "{\"__type\":");
	jw_string(&w, type ? type : "", type ? strlen(type) : 0, 1);
	jw_puts(&w, ",\"Message\":");
	jw_string(&w, message ? message : "", message ? strlen(message) : 0, 1);
	jw_puts(&w, "}");
	if (w.rv != 0) {
		secmem_free(w.buf);
		return w.rv;
	}
	jw_finish(&w, json);
	return 0;
}

/* ------------------------------------------------------------ decode */

struct dec {
	struct cf_status *st;
	int ints_as_real; /* jansson parsed every integer as a real */
	int depth;
	size_t plen;
	char path[PATH_LEN]; /* member path for messages, never a value */
};

static int bad(struct dec *d, const char *what)
{
	return cf_status_set(d->st, SER_EXC, "invalid value for member '%s': %s", d->path, what);
}

static int oom(struct dec *d)
{
	return cf_status_set(d->st, "InternalServiceError", "out of memory");
}

/* Append ".name" (or "name" at the top, "[i]" for an index) to the path;
 * returns the length to restore. Truncates rather than fails. */
static size_t path_push(struct dec *d, const char *name, size_t index)
{
	size_t old = d->plen, room = sizeof(d->path) - old;
	int n;

	if (room <= 1)
		return old;
	if (name != NULL)
		n = snprintf(d->path + old, room, "%s%s", old > 0 && name[0] != '{' ? "." : "",
		             name);
	else
		n = snprintf(d->path + old, room, "[%zu]", index);
	if (n > 0)
		d->plen = (size_t)n < room ? old + (size_t)n : sizeof(d->path) - 1;
	return old;
}

static void path_pop(struct dec *d, size_t old)
{
	d->plen = old;
	d->path[old] = '\0';
}

static ProtobufCMessage *msg_new(const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = secmem_alloc(desc->sizeof_message);

	if (m != NULL)
		desc->message_init(m);
	return m;
}

static void msg_free(ProtobufCMessage *m)
{
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, &secmem_pb_allocator);
}

/* An integer in [lo, hi] from a JSON integer, or from a real with an
 * integral value (|x| < 2^53 when jansson parsed every number as real,
 * since such a real no longer says which integer was sent). */
static int get_int(struct dec *d, json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t i;
	double x;

	if (json_is_integer(v)) {
		i = (int64_t)json_integer_value(v);
	} else if (json_is_real(v)) {
		x = json_real_value(v);
		if (!isfinite(x) || x != trunc(x))
			return bad(d, "expected an integer");
		/* the closed range [-2^63, 2^63) converts without overflow */
		if (x < -9223372036854775808.0 || x >= 9223372036854775808.0 ||
		    (d->ints_as_real && fabs(x) >= REAL_INT_LIMIT))
			return bad(d, "number out of range");
		i = (int64_t)x;
	} else {
		return bad(d, "expected an integer");
	}
	if (i < lo || i > hi)
		return bad(d, "number out of range");
	*out = i;
	return 0;
}

static int dec_message(struct dec *d, json_t *obj, ProtobufCMessage *m);
static int dec_repeated(struct dec *d, const ProtobufCFieldDescriptor *f, json_t *v,
                        ProtobufCMessage *m);

static int dec_string(struct dec *d, json_t *v, char **out)
{
	size_t n;
	char *s;

	if (!json_is_string(v))
		return bad(d, "expected a string");
	n = json_string_length(v);
	if (memchr(json_string_value(v), '\0', n) != NULL || !utf8_valid(json_string_value(v), n))
		return bad(d, "invalid UTF-8");
	if ((s = secmem_alloc(n + 1)) == NULL)
		return oom(d);
	memcpy(s, json_string_value(v), n);
	*out = s;
	return 0;
}

static int dec_bytes(struct dec *d, json_t *v, ProtobufCBinaryData *out)
{
	size_t n, len;
	uint8_t *p;

	if (!json_is_string(v))
		return bad(d, "expected a base64 string");
	n = json_string_length(v);
	if ((p = secmem_alloc(n / 4 * 3 + 1)) == NULL)
		return oom(d);
	if (b64_decode(json_string_value(v), n, p, &len) != 0) {
		secmem_free(p);
		return bad(d, "invalid base64");
	}
	out->data = p;
	out->len = len;
	return 0;
}

/* A message-typed value: an object, or a bare array for StageList. */
static int dec_submessage(struct dec *d, const ProtobufCMessageDescriptor *sd, json_t *v,
                          ProtobufCMessage **out)
{
	ProtobufCMessage *sub;
	int bare = bare_array(sd), rv;

	if (bare ? !json_is_array(v) : !json_is_object(v))
		return bad(d, bare ? "expected an array" : "expected an object");
	if ((sub = msg_new(sd)) == NULL)
		return oom(d);
	rv = bare ? dec_repeated(d, &sd->fields[0], v, sub) : dec_message(d, v, sub);
	if (rv != 0) {
		msg_free(sub);
		return rv;
	}
	*out = sub;
	return 0;
}

/* One value of field f into slot. Pointer slots are NULL on entry. */
static int dec_value(struct dec *d, const ProtobufCFieldDescriptor *f, json_t *v, void *slot)
{
	int64_t i;
	double x;

	/* JSON integers arrive as int64, so uint64 members take [0, 2^63) */
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (get_int(d, v, INT32_MIN, INT32_MAX, &i) != 0)
			return -1;
		*(int32_t *)slot = (int32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (get_int(d, v, 0, UINT32_MAX, &i) != 0)
			return -1;
		*(uint32_t *)slot = (uint32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (get_int(d, v, INT64_MIN, INT64_MAX, &i) != 0)
			return -1;
		*(int64_t *)slot = i;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (get_int(d, v, 0, INT64_MAX, &i) != 0)
			return -1;
		*(uint64_t *)slot = (uint64_t)i;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!json_is_number(v))
			return bad(d, "expected a number");
		x = json_number_value(v);
		if (f->type == PROTOBUF_C_TYPE_FLOAT && fabs(x) > 3.4028234663852886e38)
			return bad(d, "number out of range");
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)slot = (float)x;
		else
			*(double *)slot = x;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return bad(d, "expected a boolean");
		*(protobuf_c_boolean *)slot = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev;

		if (!json_is_string(v))
			return bad(d, "expected a string");
		ev = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor,
		                                                  json_string_value(v));
		if (ev == NULL)
			return bad(d, "unknown enumeration value");
		*(int *)slot = ev->value;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING:
		return dec_string(d, v, slot);
	case PROTOBUF_C_TYPE_BYTES:
		return dec_bytes(d, v, slot);
	case PROTOBUF_C_TYPE_MESSAGE:
		return dec_submessage(d, f->descriptor, v, slot);
	default:
		return bad(d, "unsupported type");
	}
}

/* A singular field: the value, then its presence (has_ flag or oneof
 * case). A oneof member must not overwrite another's pointer. */
static int dec_singular(struct dec *d, const ProtobufCFieldDescriptor *f, json_t *v,
                        ProtobufCMessage *m)
{
	uint32_t *oneof_case = NULL;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		oneof_case = MEMBER(uint32_t, m, f->quantifier_offset);
		if (*oneof_case != 0 && *oneof_case != f->id)
			return cf_status_set(d->st, SER_EXC,
			                     "member '%s' conflicts with another member", d->path);
	}
	if (dec_value(d, f, v, MEMBER(char, m, f->offset)) != 0)
		return -1;
	if (oneof_case != NULL)
		*oneof_case = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !pointer_type(f->type))
		*MEMBER(protobuf_c_boolean, m, f->quantifier_offset) = 1;
	return 0;
}

/* A JSON object of map entries into the repeated field f. */
static int dec_map(struct dec *d, const ProtobufCFieldDescriptor *f, json_t *v, ProtobufCMessage *m,
                   const ProtobufCFieldDescriptor *kf, const ProtobufCFieldDescriptor *vf)
{
	ProtobufCMessage ***arr = MEMBER(ProtobufCMessage **, m, f->offset);
	size_t *n = MEMBER(size_t, m, f->quantifier_offset), old;
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return bad(d, "expected an object");
	if (json_object_size(v) == 0)
		return 0;
	if ((*arr = secmem_alloc(json_object_size(v) * sizeof(**arr))) == NULL)
		return oom(d);
	old = path_push(d, "{}", 0);
	json_object_foreach(v, key, val)
	{
		ProtobufCMessage *e = msg_new(f->descriptor);
		json_t *k = json_string(key);
		int rv = -1;

		if (e == NULL || k == NULL)
			rv = oom(d);
		else if (json_is_null(val))
			rv = bad(d, "null map value");
		else if (dec_singular(d, kf, k, e) == 0)
			rv = dec_singular(d, vf, val, e);
		json_decref(k);
		if (rv != 0) {
			msg_free(e);
			return -1;
		}
		(*arr)[(*n)++] = e;
	}
	path_pop(d, old);
	return 0;
}

static int dec_repeated(struct dec *d, const ProtobufCFieldDescriptor *f, json_t *v,
                        ProtobufCMessage *m)
{
	void **arr = MEMBER(void *, m, f->offset);
	size_t *n = MEMBER(size_t, m, f->quantifier_offset), i, cnt, sz = elem_size(f->type), old;
	const ProtobufCFieldDescriptor *kf, *vf;
	int rv = 0;

	if (++d->depth > AWSJSON_MAX_DEPTH)
		return bad(d, "nested too deeply");
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && map_entry(f->descriptor, &kf, &vf)) {
		rv = dec_map(d, f, v, m, kf, vf);
		d->depth--;
		return rv;
	}
	if (!json_is_array(v))
		return bad(d, "expected an array");
	cnt = json_array_size(v);
	if (cnt > 0 && (*arr = secmem_alloc(cnt * sz)) == NULL)
		return oom(d);
	for (i = 0; i < cnt && rv == 0; i++) {
		old = path_push(d, NULL, i);
		if (json_is_null(json_array_get(v, i)))
			rv = bad(d, "null in a list");
		else
			rv = dec_value(d, f, json_array_get(v, i), (char *)*arr + i * sz);
		if (rv == 0) {
			(*n)++;
			path_pop(d, old);
		}
	}
	d->depth--;
	return rv;
}

/* Each field of m's type, looked up in obj by its AWS name; unknown
 * members are ignored and null is absent. m is consistent for
 * protobuf_c_message_free_unpacked at every step. */
static int dec_message(struct dec *d, json_t *obj, ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	char name[NAME_MAX_LEN];
	unsigned i;

	if (++d->depth > AWSJSON_MAX_DEPTH)
		return bad(d, "nested too deeply");
	for (i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		json_t *v;
		size_t old;
		int rv;

		if (is_marker(f))
			continue; /* never a member */
		if (awsjson_member_name(f->name, name, sizeof(name)) != 0)
			return cf_status_set(d->st, SER_EXC, "member name too long");
		v = json_object_get(obj, name);
		if (v == NULL || json_is_null(v))
			continue;
		old = path_push(d, name, 0);
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			rv = dec_repeated(d, f, v, m);
		else
			rv = dec_singular(d, f, v, m);
		if (rv != 0)
			return -1;
		path_pop(d, old);
	}
	d->depth--;
	return 0;
}

/* Nesting depth of the JSON text, counted outside strings: bounds what
 * jansson will recurse into before it parses anything. */
static int depth_ok(const uint8_t *p, size_t n)
{
	size_t i;
	int depth = 0, in_str = 0, esc = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (esc)
				esc = 0;
			else if (p[i] == '\\')
				esc = 1;
			else if (p[i] == '"')
				in_str = 0;
		} else if (p[i] == '"') {
			in_str = 1;
		} else if (p[i] == '{' || p[i] == '[') {
			if (++depth > AWSJSON_MAX_DEPTH)
				return 0;
		} else if ((p[i] == '}' || p[i] == ']') && depth > 0) {
			depth--;
		}
	}
	return 1;
}

static void use_secure_heap(void)
{
	json_set_alloc_funcs(secmem_alloc, secmem_free);
}

/* jansson's own text may quote input bytes; map its codes instead. */
static int parse_error(struct dec *d, const json_error_t *e)
{
	const char *what;

	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return oom(d);
	case json_error_invalid_utf8:
		what = "invalid UTF-8";
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		what = "NUL character in a string";
		break;
	case json_error_duplicate_key:
		what = "duplicate member name";
		break;
	case json_error_end_of_input_expected:
		what = "unexpected data after the JSON object";
		break;
	case json_error_premature_end_of_input:
		what = "truncated JSON";
		break;
	case json_error_numeric_overflow:
		what = "number out of range";
		break;
	default:
		what = "malformed JSON";
	}
	return cf_status_set(d->st, SER_EXC, "%s at byte %d", what, e->position);
}

int awsjson_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *body, size_t n,
                   struct secbuf *packed, struct cf_status *st)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const size_t flags = JSON_REJECT_DUPLICATES;
	struct dec d = {.st = st};
	ProtobufCMessage *m = NULL;
	json_error_t err;
	json_t *root = NULL;
	int rv = -1;

	packed->data = NULL;
	packed->len = 0;
	pthread_once(&once, use_secure_heap);
	if (n > MAX_BODY)
		return cf_status_set(st, SER_EXC, "request body larger than %d bytes", MAX_BODY);
	if (!depth_ok(body, n))
		return cf_status_set(st, SER_EXC, "JSON nested deeper than %d", AWSJSON_MAX_DEPTH);
	if (n == 0) {
		root = json_object();
	} else {
		root = json_loadb((const char *)body, n, flags, &err);
		/* An integer beyond int64: parse again with every number as a
		 * real so that the member it belongs to can be named. */
		if (root == NULL && json_error_code(&err) == json_error_numeric_overflow) {
			d.ints_as_real = 1;
			root = json_loadb((const char *)body, n, flags | JSON_DECODE_INT_AS_REAL,
			                  &err);
		}
		if (root == NULL) {
			parse_error(&d, &err);
			goto out;
		}
	}
	if (root == NULL) {
		oom(&d);
		goto out;
	}
	if (!json_is_object(root)) {
		cf_status_set(st, SER_EXC, "request body is not a JSON object");
		goto out;
	}
	if ((m = msg_new(desc)) == NULL) {
		oom(&d);
		goto out;
	}
	if (dec_message(&d, root, m) != 0)
		goto out;
	if (secmem_pb_pack(m, packed) != 0) {
		oom(&d);
		goto out;
	}
	rv = 0;
out:
	msg_free(m);
	json_decref(root);
	if (rv != 0 && strcmp(st->type, SER_EXC) != 0)
		rv = CF_ENOMEM; /* == -1 as well; st says InternalServiceError */
	return rv;
}
