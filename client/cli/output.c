/*
 * Answers -> AWS CLI output. The JSON is built generically from the
 * protobuf-c descriptors: snake_case -> PascalCase ("arn" -> "ARN"), absent
 * members omitted, *_date doubles as ISO-8601 with offset, bytes as base64,
 * {key, StageList} entry lists as objects. Text mode follows the AWS CLI's
 * text formatter: a dict's scalars on one tab-separated line (sorted by
 * key), then its lists and dicts each under an UPPERCASE identifier.
 * With cli_json_use_secmem, every JSON node and rendered string lives on
 * the secure heap and is wiped when freed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli.h"

static void *json_secure_malloc(size_t n)
{
	return secmem_alloc(n);
}

void cli_json_use_secmem(void)
{
	json_set_alloc_funcs(json_secure_malloc, secmem_free);
}

void cli_output_free(char *s)
{
	json_malloc_t m;
	json_free_t f;

	if (s == NULL)
		return;
	json_get_alloc_funcs(&m, &f);
	f(s);
}

void cli_format_date(double t, char out[40])
{
	double secs = floor(t);
	long usec = lround((t - secs) * 1e6);
	time_t tt;
	struct tm tm;

	if (usec >= 1000000) {
		secs += 1;
		usec -= 1000000;
	}
	tt = (time_t)secs;
	gmtime_r(&tt, &tm);
	if (usec == 0)
		strftime(out, 40, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	else {
		char tmp[160];

		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, usec);
		tmp[39] = '\0';
		memcpy(out, tmp, strlen(tmp) + 1);
	}
}

/* "version_ids_to_stages" -> "VersionIdsToStages", "arn" pieces -> "ARN" */
static void pascal(const char *snake, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = snake;

	while (*p != '\0' && o + 4 < cap) {
		const char *end = strchr(p, '_');
		size_t n = end ? (size_t)(end - p) : strlen(p), i;

		if (n == 3 && strncmp(p, "arn", 3) == 0) {
			memcpy(out + o, "ARN", 3);
			o += 3;
		} else {
			for (i = 0; i < n && o + 1 < cap; i++)
				out[o++] = i == 0 && p[i] >= 'a' && p[i] <= 'z' ? (char)(p[i] - 32)
									 : p[i];
		}
		p += n + (end ? 1 : 0);
	}
	out[o] = '\0';
}

static json_t *str_json(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	return j ? j : json_stringn_nocheck(s, n); /* not UTF-8: pass the bytes through */
}

static json_t *bytes_json(const ProtobufCBinaryData *b)
{
	struct secbuf enc = {NULL, 0};
	json_t *j = NULL;
	int n;

	if (b->len > COFFER_MAX_FRAME || secbuf_alloc(&enc, (b->len + 2) / 3 * 4 + 1) != 0)
		return NULL;
	n = EVP_EncodeBlock(enc.data, b->data, (int)b->len);
	if (n >= 0)
		j = json_stringn((const char *)enc.data, (size_t)n);
	secbuf_free(&enc);
	return j;
}

static int is_date(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && strcmp(name + n - 5, "_date") == 0;
}

static json_t *field_json(const ProtobufCFieldDescriptor *f, const void *v)
{
	char buf[40];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return str_json(*(char *const *)v, strlen(*(char *const *)v));
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json(v);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)v);
	case PROTOBUF_C_TYPE_DOUBLE:
		if (is_date(f->name)) {
			cli_format_date(*(const double *)v, buf);
			return json_string(buf);
		}
		return json_real(*(const double *)v);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
		return json_integer(*(const int64_t *)v);
	case PROTOBUF_C_TYPE_UINT64:
		return json_integer((json_int_t) * (const uint64_t *)v);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_ENUM:
		return json_integer(*(const int32_t *)v);
	case PROTOBUF_C_TYPE_UINT32:
		return json_integer(*(const uint32_t *)v);
	case PROTOBUF_C_TYPE_MESSAGE:
		return cli_to_json(*(ProtobufCMessage *const *)v);
	default:
		return json_null();
	}
}

static size_t field_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return 8;
	default:
		return 4;
	}
}

/* {key, StageList{stages}} entries -> {"key": ["stage", ...]} */
static json_t *stage_map(ProtobufCMessage *const *entries, size_t n)
{
	json_t *o = json_object();
	size_t i, k;

	for (i = 0; o != NULL && i < n; i++) {
		const Coffer__VersionIdsToStagesEntry *e = (const void *)entries[i];
		json_t *l = json_array();

		for (k = 0; e->value != NULL && k < e->value->n_stages; k++)
			json_array_append_new(l, json_string(e->value->stages[k]));
		json_object_set_new(o, e->key ? e->key : "", l);
	}
	return o;
}

/* Lists that AWS returns even when empty (as its CLI examples show). */
static int keep_empty(const ProtobufCMessageDescriptor *d, const char *name)
{
	return strcmp(name, "secret_list") == 0 || strcmp(name, "versions") == 0 ||
	       strcmp(name, "nodes") == 0 || strcmp(name, "secret_values") == 0 ||
	       strcmp(name, "validation_errors") == 0 ||
	       (d == &coffer__batch_get_secret_value_response__descriptor &&
		strcmp(name, "errors") == 0) ||
	       (d == &coffer__remove_regions_from_replication_response__descriptor &&
		strcmp(name, "replication_status") == 0);
}

json_t *cli_to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();
	unsigned i;

	for (i = 0; o != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		const void *v = base + f->offset;
		char name[96];
		json_t *j = NULL;

		if (strlen(f->name) > 8 && strcmp(f->name + strlen(f->name) - 8, "_present") == 0)
			continue; /* presence marker (aws/json.h), never a member */
		pascal(f->name, name, sizeof(name));
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset), k;
			const char *arr = *(char *const *)v;

			if (n == 0 && !keep_empty(d, f->name))
				continue;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    f->descriptor == &coffer__version_ids_to_stages_entry__descriptor) {
				j = stage_map((ProtobufCMessage *const *)arr, n);
			} else {
				j = json_array();
				for (k = 0; j != NULL && k < n; k++)
					json_array_append_new(j,
							      field_json(f, arr + k * field_size(f)));
			}
		} else {
			if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (*(void *const *)v == NULL)
					continue;
			} else if (f->quantifier_offset != 0 &&
				   !*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
				continue;
			}
			j = field_json(f, v);
		}
		if (j == NULL || json_object_set_new(o, name, j) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ------------------------------------------------------------------ text mode */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		json_malloc_t ma;
		json_free_t fr;
		char *q;

		json_get_alloc_funcs(&ma, &fr); /* the secure heap when set; no realloc */
		q = ma(cap);
		if (q == NULL)
			return -1;
		if (b->p != NULL) {
			memcpy(q, b->p, b->len);
			fr(b->p);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int is_scalar(const json_t *j)
{
	return !json_is_object(j) && !json_is_array(j);
}

static void put_scalar(struct sbuf *b, const json_t *j)
{
	char num[64];

	if (json_is_string(j)) {
		put(b, json_string_value(j), json_string_length(j));
	} else if (json_is_true(j)) {
		put(b, "True", 4);
	} else if (json_is_false(j)) {
		put(b, "False", 5);
	} else if (json_is_integer(j)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		put(b, num, strlen(num));
	} else if (json_is_real(j)) {
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		put(b, num, strlen(num));
	} else {
		put(b, "None", 4);
	}
}

static void put_ident(struct sbuf *b, const char *id)
{
	for (; *id; id++) {
		char ch = *id >= 'a' && *id <= 'z' ? (char)(*id - 32) : *id;

		put(b, &ch, 1);
	}
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void text(struct sbuf *b, json_t *j, const char *ident);

static size_t sorted_keys(json_t *obj, const char **keys, size_t cap, int scalars_only)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach(obj, k, v)
		if (n < cap && (!scalars_only || is_scalar(v)))
			keys[n++] = k;
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	return n;
}

/* scalars: the keys whose values go on the dict's line (sorted), n_scalars of them */
static void text_dict(struct sbuf *b, json_t *j, const char *ident, const char **scalars,
		      size_t n_scalars)
{
	const char *own[128], *keys[128];
	size_t n, i;

	if (scalars == NULL) {
		n_scalars = sorted_keys(j, own, 128, 1);
		scalars = own;
	}
	if (n_scalars > 0) {
		if (ident != NULL) {
			put_ident(b, ident);
			put(b, "\t", 1);
		}
		for (i = 0; i < n_scalars; i++) {
			if (i > 0)
				put(b, "\t", 1);
			put_scalar(b, json_object_get(j, scalars[i]));
		}
		put(b, "\n", 1);
	}
	n = sorted_keys(j, keys, 128, 0);
	for (i = 0; i < n; i++) {
		json_t *v = json_object_get(j, keys[i]);

		if (!is_scalar(v))
			text(b, v, keys[i]);
	}
}

static void text(struct sbuf *b, json_t *j, const char *ident)
{
	size_t i;
	json_t *e;
	int dicts = 0;

	if (json_is_object(j)) {
		text_dict(b, j, ident, NULL, 0);
		return;
	}
	if (!json_is_array(j)) {
		put_scalar(b, j);
		put(b, "\n", 1);
		return;
	}
	if (json_array_size(j) == 0)
		return;
	json_array_foreach(j, i, e) dicts |= json_is_object(e);
	if (dicts) {
		/* every element prints the union of the elements' scalar keys */
		json_t *all = json_object();
		const char *k, *keys[128];
		json_t *v;
		size_t n;

		json_array_foreach(j, i, e) json_object_foreach(e, k, v)
			if (is_scalar(v))
				json_object_set_new(all, k, json_null());
		n = sorted_keys(all, keys, 128, 0);
		json_array_foreach(j, i, e) {
			if (json_is_object(e))
				text_dict(b, e, ident, keys, n);
			else
				text(b, e, ident);
		}
		json_decref(all);
		return;
	}
	if (ident != NULL) {
		put_ident(b, ident);
		put(b, "\t", 1);
	}
	json_array_foreach(j, i, e) {
		if (i > 0)
			put(b, "\t", 1);
		if (is_scalar(e))
			put_scalar(b, e);
	}
	put(b, "\n", 1);
}

char *cli_render(json_t *j, int text_mode)
{
	struct sbuf b = {NULL, 0, 0};
	char *s;

	if (j == NULL || (json_is_object(j) && json_object_size(j) == 0))
		return NULL;
	if (!text_mode) {
		s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		if (s == NULL)
			return NULL;
		/* add the AWS CLI's trailing newline without realloc */
		if (put(&b, s, strlen(s)) == 0)
			put(&b, "\n", 1);
		cli_output_free(s);
		return b.p;
	}
	text(&b, j, NULL);
	return b.p;
}
