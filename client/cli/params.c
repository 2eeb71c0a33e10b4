/*
 * Structured parameters the AWS CLI's way: a list of structures is either
 * one JSON document (inline, or file://path) or shorthand words, one per
 * element ("Key=name,Values=a,b"); a single structure is a JSON object or
 * one shorthand word ("AutomaticallyAfterDays=30"). Both forms become
 * jansson values kept alive in the request (r->keep) so that message
 * fields can borrow their strings. Member names are checked against the
 * shape, as the AWS CLI does; every failure is a usage error naming the
 * parameter.
 *
 * Shorthand: members are separated by commas; a comma only separates
 * members when a "Name=" follows it, so values may hold commas (cron
 * expressions, list items). A value may be quoted with "..." or '...'; a
 * list member takes "a,b" or "[a,b]".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PARAM_MAX_ITEMS 1000

static int usage_p(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int usage_p(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

static size_t key_span(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
}

/* s starts a "Name=" */
static int key_starts(const char *s)
{
	size_t n = key_span(s);

	return n > 0 && s[n] == '=';
}

static int word_in(const char *list, const char *w, size_t n)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t l = sp ? (size_t)(sp - p) : strlen(p);

		if (l == n && strncmp(p, w, n) == 0)
			return 1;
		p = sp ? sp + 1 : NULL;
	}
	return 0;
}

/* "a,b" -> ["a","b"] */
static json_t *split_list(const char *s, size_t n)
{
	json_t *l = json_array();
	const char *end = s + n;

	while (l != NULL && s <= end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t k = c ? (size_t)(c - s) : (size_t)(end - s);

		if (json_array_append_new(l, json_stringn(s, k)) != 0) {
			json_decref(l);
			return NULL;
		}
		if (c == NULL)
			break;
		s = c + 1;
	}
	return l;
}

json_t *cli_shorthand(const char *w, const char *list_keys)
{
	json_t *o = json_object();
	const char *p = w;

	while (o != NULL && *p != '\0') {
		size_t kn = key_span(p), vn;
		const char *key = p, *v;
		json_t *val;
		int quoted = 0, bracket = 0;

		if (kn == 0 || p[kn] != '=')
			goto bad;
		p += kn + 1;
		if (*p == '"' || *p == '\'') {
			const char *q = strchr(p + 1, *p);

			if (q == NULL)
				goto bad;
			v = p + 1;
			vn = (size_t)(q - v);
			p = q + 1;
			quoted = 1;
		} else if (*p == '[') {
			const char *q = strchr(p, ']');

			if (q == NULL)
				goto bad;
			v = p + 1;
			vn = (size_t)(q - v);
			p = q + 1;
			bracket = 1;
		} else {
			const char *e = p;

			while (*e != '\0' && !(*e == ',' && key_starts(e + 1)))
				e++;
			v = p;
			vn = (size_t)(e - p);
			p = e;
		}
		if (*p == ',')
			p++;
		else if (*p != '\0')
			goto bad;
		if (word_in(list_keys, key, kn))
			val = quoted               ? json_pack("[s#]", v, (int)vn)
			      : bracket && vn == 0 ? json_array()
			                           : split_list(v, vn);
		else if (bracket)
			goto bad;
		else
			val = json_stringn(v, vn);
		if (val == NULL || json_object_getn(o, key, kn) != NULL) {
			json_decref(val);
			goto bad;
		}
		if (json_object_setn_new(o, key, kn, val) != 0)
			goto bad;
	}
	return o;
bad:
	json_decref(o);
	return NULL;
}

/* Inline JSON, or the contents of file://path, parsed. */
static json_t *load_json(const char *name, const char *text, char *err, size_t errlen)
{
	struct secbuf f = {NULL, 0};
	json_error_t je;
	json_t *j;

	if (strncmp(text, "file://", 7) == 0) {
		if (cli_read_file(text + 7, &f, err, errlen) != 0)
			return NULL;
		text = (const char *)f.data;
	}
	j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		usage_p(err, errlen, "Error parsing parameter '--%s': Invalid JSON: %s", name,
		        je.text);
	secbuf_free(&f);
	return j;
}

static int keep(struct cli_req *r, json_t *j)
{
	if (r->keep == NULL && (r->keep = json_array()) == NULL) {
		json_decref(j);
		return -1;
	}
	return json_array_append_new(r->keep, j);
}

/* Every member of o is one of members (space-separated). */
static int check_members(const char *name, size_t i, json_t *o, const char *members, char *err,
                         size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return usage_p(err, errlen,
		               "Error parsing parameter '--%s': element %zu is not a "
		               "structure",
		               name, i);
	json_object_foreach(o, k, v) if (!word_in(members, k, strlen(k))) return usage_p(
	    err, errlen, "Unknown parameter in --%s[%zu]: \"%s\", must be one of: %s", name, i, k,
	    members);
	return 0;
}

int cli_param_list(struct args *a, struct cli_req *r, const char *name, const char *members,
                   const char *list_members, json_t **out, char *err, size_t errlen)
{
	struct opt *o = args_find(a, name);
	json_t *l = NULL;
	size_t i;

	*out = NULL;
	if (o == NULL || o->n == 0)
		return 0;
	if (o->n == 1 && (o->vals[0][0] == '[' || strncmp(o->vals[0], "file://", 7) == 0)) {
		l = load_json(name, o->vals[0], err, errlen);
		if (l == NULL)
			return CLI_EXIT_USAGE;
	} else {
		l = json_array();
		for (i = 0; l != NULL && i < o->n; i++) {
			json_t *t = cli_shorthand(o->vals[i], list_members);

			if (t == NULL || json_array_append_new(l, t) != 0) {
				json_decref(l);
				return usage_p(err, errlen,
				               "Error parsing parameter '--%s': "
				               "'%s'",
				               name, o->vals[i]);
			}
		}
	}
	if (keep(r, l) != 0)
		return usage_p(err, errlen, "%s", "out of memory");
	if (!json_is_array(l))
		return usage_p(err, errlen, "Error parsing parameter '--%s': expected a list",
		               name);
	if (json_array_size(l) > PARAM_MAX_ITEMS)
		return usage_p(err, errlen, "Error parsing parameter '--%s': too many elements",
		               name);
	for (i = 0; i < json_array_size(l); i++)
		if (check_members(name, i, json_array_get(l, i), members, err, errlen) != 0)
			return CLI_EXIT_USAGE;
	*out = l;
	return 0;
}

int cli_param_struct(struct args *a, struct cli_req *r, const char *name, const char *members,
                     json_t **out, char *err, size_t errlen)
{
	const char *s = args_str(a, name);
	json_t *j;

	*out = NULL;
	if (s == NULL)
		return 0;
	if (s[0] == '{' || strncmp(s, "file://", 7) == 0)
		j = load_json(name, s, err, errlen);
	else if ((j = cli_shorthand(s, "")) == NULL)
		usage_p(err, errlen, "Error parsing parameter '--%s': '%s'", name, s);
	if (j == NULL)
		return CLI_EXIT_USAGE;
	if (keep(r, j) != 0)
		return usage_p(err, errlen, "%s", "out of memory");
	if (check_members(name, 0, j, members, err, errlen) != 0)
		return CLI_EXIT_USAGE;
	*out = j;
	return 0;
}

void *cli_req_alloc(struct cli_req *r, size_t n, size_t size)
{
	void *p;

	if (r->n_allocs == CLI_REQ_ALLOCS || n > PARAM_MAX_ITEMS + 1)
		return NULL;
	p = calloc(n ? n : 1, size);
	if (p != NULL)
		r->allocs[r->n_allocs++] = p;
	return p;
}

/* A string member of element o, or NULL; non-strings are an error. */
static int member_str(json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = (char *)json_string_value(v);
	return 0;
}

int cli_take_tags(struct args *a, struct cli_req *r, const char *name, size_t *n,
                  Coffer__Tag ***out, char *err, size_t errlen)
{
	json_t *l;
	Coffer__Tag *tags, **tagp;
	size_t i;
	int rv = cli_param_list(a, r, name, "Key Value", "", &l, err, errlen);

	*n = 0;
	*out = NULL;
	if (rv != 0 || l == NULL)
		return rv;
	tags = cli_req_alloc(r, json_array_size(l), sizeof(*tags));
	tagp = cli_req_alloc(r, json_array_size(l), sizeof(*tagp));
	if (tags == NULL || tagp == NULL)
		return usage_p(err, errlen, "%s", "out of memory");
	for (i = 0; i < json_array_size(l); i++) {
		json_t *t = json_array_get(l, i);

		coffer__tag__init(&tags[i]);
		if (member_str(t, "Key", &tags[i].key) != 0 || tags[i].key == NULL ||
		    member_str(t, "Value", &tags[i].value) != 0)
			return usage_p(err, errlen,
			               "Error parsing parameter '--%s': each tag "
			               "needs a string Key (and a string Value)",
			               name);
		tagp[i] = &tags[i];
	}
	*n = i;
	*out = tagp;
	return 0;
}

int cli_take_filters(struct args *a, struct cli_req *r, size_t *n, Coffer__Filter ***out, char *err,
                     size_t errlen)
{
	json_t *l;
	Coffer__Filter *f, **fp;
	size_t i, k;
	int rv = cli_param_list(a, r, "filters", "Key Values", "Values", &l, err, errlen);

	*n = 0;
	*out = NULL;
	if (rv != 0 || l == NULL)
		return rv;
	f = cli_req_alloc(r, json_array_size(l), sizeof(*f));
	fp = cli_req_alloc(r, json_array_size(l), sizeof(*fp));
	if (f == NULL || fp == NULL)
		return usage_p(err, errlen, "%s", "out of memory");
	for (i = 0; i < json_array_size(l); i++) {
		json_t *e = json_array_get(l, i), *vals = json_object_get(e, "Values");

		coffer__filter__init(&f[i]);
		fp[i] = &f[i];
		if (member_str(e, "Key", &f[i].key) != 0 || f[i].key == NULL)
			return usage_p(err, errlen, "%s",
			               "Error parsing parameter '--filters': "
			               "each filter needs a string Key");
		if (vals == NULL)
			continue;
		if (!json_is_array(vals))
			return usage_p(err, errlen, "%s",
			               "Error parsing parameter '--filters': "
			               "Values must be a list of strings");
		f[i].n_values = json_array_size(vals);
		f[i].values = cli_req_alloc(r, f[i].n_values, sizeof(char *));
		if (f[i].values == NULL)
			return usage_p(err, errlen, "%s", "out of memory");
		for (k = 0; k < f[i].n_values; k++) {
			f[i].values[k] = (char *)json_string_value(json_array_get(vals, k));
			if (f[i].values[k] == NULL)
				return usage_p(err, errlen, "%s",
				               "Error parsing parameter '--filters': Values must "
				               "be a list of strings");
		}
	}
	*n = i;
	*out = fp;
	return 0;
}

int cli_take_regions(struct args *a, struct cli_req *r, size_t *n, Coffer__ReplicaRegionType ***out,
                     char *err, size_t errlen)
{
	json_t *l;
	Coffer__ReplicaRegionType *g, **gp;
	size_t i;
	int rv =
	    cli_param_list(a, r, "add-replica-regions", "Region KmsKeyId", "", &l, err, errlen);

	*n = 0;
	*out = NULL;
	if (rv != 0 || l == NULL)
		return rv;
	g = cli_req_alloc(r, json_array_size(l), sizeof(*g));
	gp = cli_req_alloc(r, json_array_size(l), sizeof(*gp));
	if (g == NULL || gp == NULL)
		return usage_p(err, errlen, "%s", "out of memory");
	for (i = 0; i < json_array_size(l); i++) {
		json_t *e = json_array_get(l, i);

		coffer__replica_region_type__init(&g[i]);
		gp[i] = &g[i];
		if (member_str(e, "Region", &g[i].region) != 0 || g[i].region == NULL ||
		    member_str(e, "KmsKeyId", &g[i].kms_key_id) != 0)
			return usage_p(err, errlen, "%s",
			               "Error parsing parameter '--add-replica-regions': each "
			               "element needs a string Region (and a string KmsKeyId)");
	}
	*n = i;
	*out = gp;
	return 0;
}

int cli_take_rules(struct args *a, struct cli_req *r, Coffer__RotationRulesType *rules, int *has,
                   char *err, size_t errlen)
{
	json_t *j, *days;
	int rv =
	    cli_param_struct(a, r, "rotation-rules",
	                     "AutomaticallyAfterDays Duration ScheduleExpression", &j, err, errlen);

	*has = 0;
	coffer__rotation_rules_type__init(rules);
	if (rv != 0 || j == NULL)
		return rv;
	days = json_object_get(j, "AutomaticallyAfterDays");
	if (json_is_integer(days)) {
		rules->has_automatically_after_days = 1;
		rules->automatically_after_days = json_integer_value(days);
	} else if (json_is_string(days)) {
		const char *s = json_string_value(days);
		char *end;

		rules->automatically_after_days = strtoll(s, &end, 10);
		if (end == s || *end != '\0')
			return usage_p(err, errlen,
			               "invalid literal for AutomaticallyAfterDays: "
			               "'%s'",
			               s);
		rules->has_automatically_after_days = 1;
	} else if (days != NULL) {
		return usage_p(err, errlen, "%s", "AutomaticallyAfterDays must be an integer");
	}
	if (member_str(j, "Duration", &rules->duration) != 0 ||
	    member_str(j, "ScheduleExpression", &rules->schedule_expression) != 0)
		return usage_p(err, errlen, "%s",
		               "Error parsing parameter '--rotation-rules': "
		               "Duration and ScheduleExpression are strings");
	*has = 1;
	return 0;
}
