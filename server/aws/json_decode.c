/*
 * awsjson decoder: an AWS JSON 1.1 request body -> a packed protobuf
 * message.
 *
 * awsjson_decode bounds the body (size, then nesting depth by a byte scan
 * so jansson never recurses past AWSJSON_MAX_DEPTH), parses it with
 * jansson (whose allocator is the secure heap: bodies carry secret
 * values), walks desc->fields looking each member up by its AWS name,
 * builds the message with secmem_pb_allocator, packs it into a secure
 * buffer and frees everything. Failures: body not a JSON object, trailing
 * data, duplicate member names (rejected: which of two values a policy
 * check saw and which one was stored must never differ), wrong JSON type,
 * number out of range, bad base64, invalid UTF-8 -> SerializationException
 * naming the member path (never a value); out of memory ->
 * InternalServiceError.
 */
#include "aws/json.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "aws/json_int.h"

#define SER_EXC "SerializationException"
/* The HTTP layer caps bodies at 1 MiB as well; this keeps the codec safe
 * on its own (fuzzing, other callers). */
#define MAX_BODY (1024 * 1024)
#define PATH_LEN 192
/* From 2^53 on, a JSON real no longer says which integer was meant. */
#define REAL_INT_LIMIT 9007199254740992.0

/* ------------------------------------------------------------ base64 */

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
	if (memchr(json_string_value(v), '\0', n) != NULL ||
	    !awsjson__utf8_valid(json_string_value(v), n))
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
	int bare = awsjson__bare_array(sd), rv;

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
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !awsjson__pointer_type(f->type))
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
	size_t *n = MEMBER(size_t, m, f->quantifier_offset), i, cnt,
	       sz = awsjson__elem_size(f->type), old;
	const ProtobufCFieldDescriptor *kf, *vf;
	int rv = 0;

	if (++d->depth > AWSJSON_MAX_DEPTH)
		return bad(d, "nested too deeply");
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && awsjson__map_entry(f->descriptor, &kf, &vf)) {
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

		if (awsjson__is_marker(f))
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
