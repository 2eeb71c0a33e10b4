/*
 * awsjson encoder: a packed protobuf message (or an error type and
 * message) -> an AWS JSON 1.1 body.
 *
 * awsjson_encode unpacks with secmem_pb_allocator and writes the JSON
 * straight into a growable secure buffer (grown by allocate-copy-wipe,
 * never realloc), walking desc->fields in order: absent optional members
 * and empty repeated members are left out except the lists AWS always
 * returns and those a "<x>_present" marker asks for; map entries become
 * objects, bare-array messages arrays, bytes padded base64, doubles epoch
 * seconds with millisecond precision. Failures: the bytes do not unpack,
 * a string is not valid UTF-8 or a double is not finite, nesting past
 * AWSJSON_MAX_DEPTH (CF_EPROTO); out of memory (CF_ENOMEM). The partial
 * buffer is wiped and freed on every failure.
 */
#include "aws/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aws/json_int.h"

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

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
			if ((k = awsjson__utf8_seq(p + i, n - i)) != 0) {
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
	size_t n = *MEMBER(const size_t, m, f->quantifier_offset), i,
	       sz = awsjson__elem_size(f->type);
	const char *arr = *MEMBER(char *const, m, f->offset);
	const ProtobufCFieldDescriptor *kf, *vf;
	int map = f->type == PROTOBUF_C_TYPE_MESSAGE && awsjson__map_entry(f->descriptor, &kf, &vf);

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

		if (sub == NULL && awsjson__bare_array(f->descriptor))
			jw_puts(w, "[]");
		else if (sub == NULL)
			w->rv = w->rv ? w->rv : CF_EPROTO;
		else if (awsjson__bare_array(sub->descriptor))
			enc_repeated(w, &sub->descriptor->fields[0], sub, depth);
		else
			enc_message(w, sub, depth);
		break;
	}
	default:
		w->rv = w->rv ? w->rv : CF_EPROTO;
	}
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
	if (awsjson__pointer_type(f->type) && f->label != PROTOBUF_C_LABEL_NONE)
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
	for (i = 0, sz = awsjson__elem_size(f->type); i < sz; i++)
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

		if (awsjson__is_marker(f))
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
