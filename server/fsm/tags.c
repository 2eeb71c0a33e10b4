/*
 * TagResource and UntagResource, applied to committed commands. Tagging
 * merges: a key that exists gets the new value, new keys are appended in
 * request order. Untagging removes the listed keys; absent keys are fine.
 * Both refuse a secret scheduled for deletion (the leader checked too, but
 * the state may have moved), re-check the key/value lengths and the
 * reserved "aws:" prefix, and (tagging) the 50-tag limit against the tags
 * they find, so a failure leaves the state untouched. Success sets
 * LastChangedDate.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fsm/fsm_int.h"
#include "util/errors.h"

int fsm_tag_key_reserved(const char *key)
{
	return strncasecmp(key, "aws:", 4) == 0;
}

static int tag_ok(const Coffer__Fsm__Tag *t)
{
	size_t kn;

	if (t == NULL || t->key == NULL)
		return 0;
	kn = strnlen(t->key, 129);
	return kn >= 1 && kn <= 128 && (t->value == NULL || strnlen(t->value, 257) <= 256);
}

static ssize_t find_key(const char *const *keys, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return (ssize_t)i;
	return -1;
}

int fsm__tag_resource(struct fsm *f, int64_t now, const Coffer__Fsm__TagResource *c,
		      struct fsm_result *r)
{
	const char **keys = NULL, **values = NULL;
	struct store_secret *s;
	size_t n, cap, counted = 0;
	int rv;

	if (c == NULL || c->n_tags > FSM_MAX_TAGS)
		return fsm__malformed(r);
	for (size_t i = 0; i < c->n_tags; i++)
		if (!tag_ok(c->tags[i]))
			return fsm__malformed(r);
	if ((s = fsm__live_secret(f, c->arn, r)) == NULL)
		return 0;
	for (size_t i = 0; i < c->n_tags; i++) {
		if (fsm_tag_key_reserved(c->tags[i]->key)) {
			cf_status_set(&r->status, "InvalidParameterException",
				      "You can't use the tag key '%s': the prefix 'aws:' is "
				      "reserved for AWS use.",
				      c->tags[i]->key);
			return 0;
		}
	}
	cap = s->n_tags + c->n_tags;
	keys = calloc(cap ? cap : 1, sizeof(*keys));
	values = calloc(cap ? cap : 1, sizeof(*values));
	rv = CF_ENOMEM;
	if (keys == NULL || values == NULL)
		goto out;
	for (n = 0; n < s->n_tags; n++) {
		keys[n] = s->tags[n].key;
		values[n] = s->tags[n].value;
	}
	for (size_t i = 0; i < c->n_tags; i++) {
		const char *v = c->tags[i]->value ? c->tags[i]->value : "";
		ssize_t at = find_key(keys, n, c->tags[i]->key);

		if (at >= 0) {
			values[at] = v;
		} else {
			keys[n] = c->tags[i]->key;
			values[n++] = v;
		}
	}
	for (size_t i = 0; i < n; i++)
		counted += !fsm_tag_key_reserved(keys[i]);
	rv = 0;
	if (counted > FSM_MAX_TAGS) {
		cf_status_set(&r->status, "InvalidParameterException", FSM_MSG_TAG_LIMIT);
		goto out;
	}
	/* store_set_tags copies before it frees the old tags we point into */
	if ((rv = store_set_tags(s, keys, values, n)) != 0)
		goto out;
	s->last_changed_ms = now;
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	rv = fsm__res_secret(r, s);
out:
	free(keys);
	free(values);
	return rv;
}

int fsm__untag_resource(struct fsm *f, int64_t now, const Coffer__Fsm__UntagResource *c,
			struct fsm_result *r)
{
	const char **keys = NULL, **values = NULL;
	struct store_secret *s;
	size_t n = 0;
	int rv;

	if (c == NULL)
		return fsm__malformed(r);
	for (size_t i = 0; i < c->n_keys; i++) {
		size_t kn = c->keys[i] ? strnlen(c->keys[i], 129) : 0;

		if (kn < 1 || kn > 128)
			return fsm__malformed(r);
	}
	if ((s = fsm__live_secret(f, c->arn, r)) == NULL)
		return 0;
	for (size_t i = 0; i < c->n_keys; i++) {
		if (fsm_tag_key_reserved(c->keys[i])) {
			cf_status_set(&r->status, "InvalidParameterException",
				      "You can't use the tag key '%s': the prefix 'aws:' is "
				      "reserved for AWS use.",
				      c->keys[i]);
			return 0;
		}
	}
	keys = calloc(s->n_tags ? s->n_tags : 1, sizeof(*keys));
	values = calloc(s->n_tags ? s->n_tags : 1, sizeof(*values));
	rv = CF_ENOMEM;
	if (keys == NULL || values == NULL)
		goto out;
	for (size_t i = 0; i < s->n_tags; i++) {
		if (find_key((const char *const *)c->keys, c->n_keys, s->tags[i].key) >= 0)
			continue;
		keys[n] = s->tags[i].key;
		values[n++] = s->tags[i].value;
	}
	if ((rv = store_set_tags(s, keys, values, n)) != 0)
		goto out;
	s->last_changed_ms = now;
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	rv = fsm__res_secret(r, s);
out:
	free(keys);
	free(values);
	return rv;
}
