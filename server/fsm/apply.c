/*
 * The AWS rules, applied to committed commands. Each handler re-checks its
 * preconditions against the state it finds (the leader prepared the command
 * against an older state): the secret still exists under the ARN the
 * leader resolved, it is not scheduled for deletion, the token is new or a
 * byte-identical replay (same value MAC), label moves respect "one version
 * per label" and the 20-label limit, and a new version fits under the
 * 100-version limit after pruning unlabelled versions older than 24 hours
 * (by the command's clock). Failure is a status in the result; the state is
 * left untouched on every failure path except ENOMEM, which is fatal.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fsm/fsm_int.h"
#include "util/errors.h"

#define MSG_NOT_FOUND "Secrets Manager can't find the specified secret."
#define MSG_MARKED_DELETED \
	"You can't perform this operation on the secret because it was marked for deletion."

static int malformed(struct fsm_result *r)
{
	cf_status_set(&r->status, "InternalServiceError", "malformed fsm command");
	return 0;
}

static int not_found(struct fsm_result *r)
{
	cf_status_set(&r->status, "ResourceNotFoundException", MSG_NOT_FOUND);
	return 0;
}

static int marked_deleted(struct fsm_result *r)
{
	cf_status_set(&r->status, "InvalidRequestException", MSG_MARKED_DELETED);
	return 0;
}

static int res_secret(struct fsm_result *r, const struct store_secret *s)
{
	free(r->arn);
	free(r->name);
	r->arn = strdup(s->arn);
	r->name = strdup(s->name);
	return r->arn && r->name ? 0 : CF_ENOMEM;
}

static int res_version(struct fsm_result *r, const struct store_secret *s,
		       const struct store_version *v)
{
	const char *labels[STORE_MAX_LABELS];
	size_t n = store_version_labels(s, v, labels);

	if ((r->version_id = strdup(v->id)) == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((r->stages[i] = strdup(labels[i])) == NULL)
			return CF_ENOMEM;
		r->n_stages = i + 1;
	}
	return 0;
}

/* Non-empty string of at most max bytes. */
static int str_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strnlen(s, max + 1) <= max;
}

/* A sealed value from a command, validated and copied into z. 1 if
 * acceptable, 0 if malformed, CF_ENOMEM. */
static int sealed_from_cmd(const Coffer__Fsm__SealedValue *sv, struct store_sealed *z)
{
	memset(z, 0, sizeof(*z));
	if (sv == NULL || !sv->has_wrapped_dk || sv->wrapped_dk.len == 0 || !sv->has_ct ||
	    sv->ct.len == 0 || !sv->has_mac || sv->mac.len != STORE_MAC_LEN)
		return 0;
	if (sv->kms_key_id && (z->kms_key_id = strdup(sv->kms_key_id)) == NULL)
		return CF_ENOMEM;
	z->wrapped_dk = malloc(sv->wrapped_dk.len);
	z->ct = malloc(sv->ct.len);
	if (z->wrapped_dk == NULL || z->ct == NULL) {
		store_sealed_release(z);
		return CF_ENOMEM;
	}
	memcpy(z->wrapped_dk, sv->wrapped_dk.data, sv->wrapped_dk.len);
	z->wrapped_dk_len = sv->wrapped_dk.len;
	memcpy(z->ct, sv->ct.data, sv->ct.len);
	z->ct_len = sv->ct.len;
	memcpy(z->mac, sv->mac.data, STORE_MAC_LEN);
	z->binary = sv->has_binary && sv->binary;
	return 1;
}

static int same_value(const struct store_version *v, const Coffer__Fsm__SealedValue *sv)
{
	return v->has_value && sv && sv->has_mac && sv->mac.len == STORE_MAC_LEN &&
	       (sv->has_binary && sv->binary) == (v->value.binary != 0) &&
	       CRYPTO_memcmp(v->value.mac, sv->mac.data, STORE_MAC_LEN) == 0;
}

/* The limits were checked before any change, so this is a broken
 * invariant; report it rather than stop the node. */
static int attach_failed(struct fsm_result *r, int rv)
{
	if (rv != CF_ETOOBIG)
		return rv;
	cf_status_set(&r->status, "InternalServiceError", "staging label limit reached");
	return 0;
}

static int in_list(char *const *list, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], label) == 0)
			return 1;
	return 0;
}

/*
 * Add version nv to s (or replay/fill it) and move labels: `stages` (or
 * [AWSCURRENT] when none) go to the new version; AWSCURRENT is added anyway
 * when no version holds it; moving AWSCURRENT away from O gives O the
 * AWSPREVIOUS label (taken from its holder) and drops AWSPENDING from O.
 */
static int add_version(struct fsm *f, int64_t now, struct store_secret *s,
		       const Coffer__Fsm__NewVersion *nv, char *const *stages, size_t n_stages,
		       struct fsm_result *r)
{
	static char *const dflt[] = {LABEL_CURRENT};
	char *list[STORE_MAX_LABELS + 1];
	size_t n = 0, count;
	struct store_version *v, *old;
	struct store_sealed z;
	int rv, moves_current, prev_rule, drop_pending;

	if (nv == NULL || !str_ok(nv->version_id, 64) || n_stages > STORE_MAX_LABELS)
		return malformed(r);
	for (size_t i = 0; i < n_stages; i++) {
		if (!str_ok(stages[i], 256))
			return malformed(r);
		if (!in_list(list, n, stages[i]))
			list[n++] = stages[i];
	}
	if (n_stages == 0)
		list[n++] = dflt[0];
	if (!store_label_get(s, LABEL_CURRENT) && !in_list(list, n, LABEL_CURRENT))
		list[n++] = dflt[0];

	v = store_version_find(s, nv->version_id);
	if (v && v->has_value) {
		if (!same_value(v, nv->value)) {
			cf_status_set(&r->status, "ResourceExistsException",
				      "You can't use ClientRequestToken %s because that value is "
				      "already in use for a version of secret %s.",
				      nv->version_id, s->arn);
			return 0;
		}
		/* idempotent replay: no change */
		if ((rv = res_secret(r, s)) != 0)
			return rv;
		return res_version(r, s, v);
	}
	if ((rv = sealed_from_cmd(nv->value, &z)) <= 0)
		return rv < 0 ? rv : malformed(r);

	old = store_label_get(s, LABEL_CURRENT);
	moves_current = in_list(list, n, LABEL_CURRENT);
	prev_rule = moves_current && old && old != v && !in_list(list, n, LABEL_PREVIOUS);
	drop_pending = prev_rule && store_label_get(s, LABEL_PENDING) == old &&
		       !in_list(list, n, LABEL_PENDING);

	count = s->n_labels - (drop_pending ? 1 : 0);
	for (size_t i = 0; i < n; i++)
		count += store_label_get(s, list[i]) == NULL ||
			 (drop_pending && strcmp(list[i], LABEL_PENDING) == 0);
	if (prev_rule && !store_label_get(s, LABEL_PREVIOUS))
		count++;
	if (count > STORE_MAX_LABELS) {
		store_sealed_release(&z);
		cf_status_set(&r->status, "LimitExceededException",
			      "a secret can have at most %d staging labels", STORE_MAX_LABELS);
		return 0;
	}
	if (v == NULL) {
		if (s->n_versions >= STORE_MAX_VERSIONS &&
		    s->n_versions - store_prunable(s, now) >= STORE_MAX_VERSIONS) {
			store_sealed_release(&z);
			cf_status_set(&r->status, "LimitExceededException",
				      "the secret '%s' has too many versions (at most %d); versions "
				      "without staging labels are pruned once they are 24 hours old",
				      s->name, STORE_MAX_VERSIONS);
			return 0;
		}
		store_prune(s, now, STORE_MAX_VERSIONS - 1);
		if ((rv = store_version_add(s, nv->version_id, now, &z, &v)) != 0) {
			store_sealed_release(&z);
			return rv;
		}
	} else {
		/* a placeholder (e.g. a rotation's AWSPENDING) gets its value */
		v->value = z;
		v->has_value = 1;
	}

	if (drop_pending)
		store_label_detach(s, LABEL_PENDING);
	for (size_t i = 0; i < n; i++)
		if ((rv = store_label_attach(s, list[i], v)) != 0)
			return attach_failed(r, rv);
	if (prev_rule && (rv = store_label_attach(s, LABEL_PREVIOUS, old)) != 0)
		return attach_failed(r, rv);
	s->last_changed_ms = now;
	if ((rv = res_secret(r, s)) != 0 || (rv = res_version(r, s, v)) != 0)
		return rv;
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	return 0;
}

/* Find the live secret the leader resolved; sets the status otherwise. */
static struct store_secret *live_secret(struct fsm *f, const char *arn, struct fsm_result *r)
{
	struct store_secret *s;

	if (arn == NULL) {
		malformed(r);
		return NULL;
	}
	if ((s = store_find_arn(&f->st, arn)) == NULL) {
		not_found(r);
		return NULL;
	}
	if (s->deleted_ms) {
		marked_deleted(r);
		return NULL;
	}
	return s;
}

static const char *empty_null(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* ---------------------------------------------------------------- commands */

int fsm__kms_key_create(struct fsm *f, int64_t now, const Coffer__Fsm__KmsKeyCreate *c,
			struct fsm_result *r)
{
	int rv;

	if (c == NULL || !str_ok(c->key_id, 2048) || !c->has_wrapped || c->wrapped.len == 0)
		return malformed(r);
	rv = store_kms_add(&f->st, c->key_id, empty_null(c->alias), c->wrapped.data,
			   c->wrapped.len, now);
	if (rv == CF_EEXIST)
		return 0; /* a second leader raced the first: keep the first key */
	return rv;
}

static int create_replay(const Coffer__Fsm__CreateSecret *c, struct store_secret *s,
			 struct fsm_result *r)
{
	struct store_version *v;
	int rv;

	if (s->deleted_ms) {
		cf_status_set(&r->status, "InvalidRequestException",
			      "You can't create this secret because a secret with this name is "
			      "already scheduled for deletion.");
		return 0;
	}
	if (c->token && c->version && c->version->version_id &&
	    (v = store_version_find(s, c->version->version_id)) != NULL) {
		if (!same_value(v, c->version->value)) {
			cf_status_set(&r->status, "ResourceExistsException",
				      "You can't use ClientRequestToken %s because that value is "
				      "already in use for a version of secret %s.",
				      c->version->version_id, s->arn);
			return 0;
		}
		if ((rv = res_secret(r, s)) != 0)
			return rv;
		return res_version(r, s, v);
	}
	if (c->token && c->version == NULL && s->create_token &&
	    strcmp(s->create_token, c->token) == 0 && s->n_versions == 0)
		return res_secret(r, s);
	cf_status_set(&r->status, "ResourceExistsException",
		      "The operation failed because the secret %s already exists.", s->name);
	return 0;
}

int fsm__create_secret(struct fsm *f, int64_t now, const Coffer__Fsm__CreateSecret *c,
		       struct fsm_result *r)
{
	struct store_secret *s;
	int rv;

	if (c == NULL || !str_ok(c->name, 512) || !str_ok(c->arn, 2048) || c->n_tags > 50)
		return malformed(r);
	for (size_t i = 0; i < c->n_tags; i++)
		if (c->tags[i] == NULL || c->tags[i]->key == NULL)
			return malformed(r);
	if ((s = store_find_name(&f->st, c->name)) != NULL)
		return create_replay(c, s, r);
	if (store_find_arn(&f->st, c->arn)) {
		cf_status_set(&r->status, "InternalServiceError", "arn collision, retry");
		return 0;
	}
	if (c->version) {
		/* validate before anything is created */
		if (!str_ok(c->version->version_id, 64) || c->version->value == NULL ||
		    c->version->n_stages != 0)
			return malformed(r);
	}
	if ((rv = store_secret_add(&f->st, c->name, c->arn, now, &s)) != 0)
		return rv;
	if ((rv = store_set_str(&s->description, empty_null(c->description))) != 0 ||
	    (rv = store_set_str(&s->kms_key_id, empty_null(c->kms_key_id))) != 0 ||
	    (rv = store_set_str(&s->type, empty_null(c->type))) != 0 ||
	    (rv = store_set_str(&s->create_token, c->token)) != 0)
		return rv;
	if (c->n_tags) {
		const char *keys[50], *values[50];

		for (size_t i = 0; i < c->n_tags; i++) {
			keys[i] = c->tags[i]->key;
			values[i] = c->tags[i]->value;
		}
		if ((rv = store_set_tags(s, keys, values, c->n_tags)) != 0)
			return rv;
	}
	if (c->version) {
		rv = add_version(f, now, s, c->version, NULL, 0, r);
		if (rv != 0 || !cf_status_ok(&r->status)) {
			/* malformed value: undo the half-made secret */
			store_secret_remove(&f->st, s);
			return rv;
		}
		return 0;
	}
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	return res_secret(r, s);
}

int fsm__put_value(struct fsm *f, int64_t now, const Coffer__Fsm__PutValue *c,
		   struct fsm_result *r)
{
	struct store_secret *s;

	if (c == NULL || c->version == NULL)
		return malformed(r);
	if ((s = live_secret(f, c->arn, r)) == NULL)
		return 0;
	return add_version(f, now, s, c->version, c->version->stages, c->version->n_stages, r);
}

int fsm__update_secret(struct fsm *f, int64_t now, const Coffer__Fsm__UpdateSecret *c,
		       struct fsm_result *r)
{
	struct store_secret *s;
	int rv;

	if (c == NULL)
		return malformed(r);
	if ((s = live_secret(f, c->arn, r)) == NULL)
		return 0;
	if (c->version) {
		if (c->version->n_stages != 0)
			return malformed(r);
		rv = add_version(f, now, s, c->version, NULL, 0, r);
		if (rv != 0 || !cf_status_ok(&r->status))
			return rv;
	}
	if ((c->description && (rv = store_set_str(&s->description, empty_null(c->description)))) ||
	    (c->kms_key_id && (rv = store_set_str(&s->kms_key_id, empty_null(c->kms_key_id)))) ||
	    (c->type && (rv = store_set_str(&s->type, empty_null(c->type)))))
		return rv;
	s->last_changed_ms = now;
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	return r->arn ? 0 : res_secret(r, s);
}

static int stage_error(struct fsm_result *r, const char *label, const struct store_version *holder)
{
	cf_status_set(&r->status, "InvalidParameterException",
		      "The parameter RemoveFromVersionId can't be empty. Staging label %s is "
		      "currently attached to version %s, so you must explicitly reference that "
		      "version in RemoveFromVersionId.",
		      label, holder->id);
	return 0;
}

int fsm__update_version_stage(struct fsm *f, int64_t now,
			      const Coffer__Fsm__UpdateVersionStage *c, struct fsm_result *r)
{
	struct store_secret *s;
	struct store_version *from = NULL, *to = NULL, *holder;
	int rv;

	if (c == NULL || !str_ok(c->stage, 256) || (!c->remove_from && !c->move_to))
		return malformed(r);
	if ((s = live_secret(f, c->arn, r)) == NULL)
		return 0;
	if (c->move_to && (to = store_version_find(s, c->move_to)) == NULL) {
		cf_status_set(&r->status, "InvalidParameterException", "Not a valid version: %s",
			      c->move_to);
		return 0;
	}
	if (c->remove_from && (from = store_version_find(s, c->remove_from)) == NULL) {
		cf_status_set(&r->status, "InvalidParameterException", "Not a valid version: %s",
			      c->remove_from);
		return 0;
	}
	holder = store_label_get(s, c->stage);
	if (to && holder && holder != to && holder != from)
		return stage_error(r, c->stage, holder);
	if (from && holder != from && !(to && holder == to)) {
		cf_status_set(&r->status, "InvalidParameterException",
			      "Version stage %s not found in version %s", c->stage, from->id);
		return 0;
	}
	if (to == NULL && strcmp(c->stage, LABEL_CURRENT) == 0) {
		cf_status_set(&r->status, "InvalidParameterException",
			      "You can't remove the staging label AWSCURRENT from a version "
			      "without moving it to another version.");
		return 0;
	}
	if (to && holder != to &&
	    s->n_labels + (holder == NULL) +
		    (holder && strcmp(c->stage, LABEL_CURRENT) == 0 &&
		     store_label_get(s, LABEL_PREVIOUS) == NULL) >
		    STORE_MAX_LABELS) {
		cf_status_set(&r->status, "LimitExceededException",
			      "a secret can have at most %d staging labels", STORE_MAX_LABELS);
		return 0;
	}
	if (to == NULL) {
		store_label_detach(s, c->stage);
	} else if (holder != to) {
		if ((rv = store_label_attach(s, c->stage, to)) != 0)
			return attach_failed(r, rv);
		if (strcmp(c->stage, LABEL_CURRENT) == 0 && holder) {
			/* the old current becomes AWSPREVIOUS; the new one loses it */
			if ((rv = store_label_attach(s, LABEL_PREVIOUS, holder)) != 0)
				return attach_failed(r, rv);
		}
	}
	s->last_changed_ms = now;
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	return res_secret(r, s);
}

int fsm__delete_secret(struct fsm *f, int64_t now, const Coffer__Fsm__DeleteSecret *c,
		       struct fsm_result *r)
{
	struct store_secret *s;
	int rv;

	if (c == NULL || c->arn == NULL)
		return malformed(r);
	if ((s = store_find_arn(&f->st, c->arn)) == NULL)
		return not_found(r);
	if ((rv = res_secret(r, s)) != 0)
		return rv;
	if (c->has_force && c->force) {
		r->date_ms = now;
		store_secret_remove(&f->st, s);
		fsm__changed(f, r->arn, FSM_CHANGE_DELETE);
		return 0;
	}
	if (s->deleted_ms) {
		cf_status_set(&r->status, "InvalidRequestException",
			      "You tried to perform the operation on a secret that's currently "
			      "marked deleted.");
		return 0;
	}
	if (!c->has_deletion_date_ms || c->deletion_date_ms <= now)
		return malformed(r);
	s->deleted_ms = now;
	s->deletion_date_ms = c->deletion_date_ms;
	s->last_changed_ms = now;
	r->date_ms = s->deletion_date_ms;
	fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	return 0;
}

int fsm__restore_secret(struct fsm *f, int64_t now, const Coffer__Fsm__RestoreSecret *c,
			struct fsm_result *r)
{
	struct store_secret *s;

	if (c == NULL || c->arn == NULL)
		return malformed(r);
	if ((s = store_find_arn(&f->st, c->arn)) == NULL)
		return not_found(r);
	if (s->deleted_ms) {
		s->deleted_ms = 0;
		s->deletion_date_ms = 0;
		s->last_changed_ms = now;
		fsm__changed(f, s->arn, FSM_CHANGE_UPSERT);
	}
	return res_secret(r, s);
}

int fsm__purge(struct fsm *f, int64_t now, const Coffer__Fsm__Purge *c, struct fsm_result *r)
{
	if (c == NULL)
		return malformed(r);
	for (size_t i = 0; i < c->n_arns; i++) {
		struct store_secret *s = c->arns[i] ? store_find_arn(&f->st, c->arns[i]) : NULL;

		if (s == NULL || s->deleted_ms == 0 || s->deletion_date_ms > now)
			continue;
		store_secret_remove(&f->st, s);
		fsm__changed(f, c->arns[i], FSM_CHANGE_DELETE);
		r->n_changed++;
	}
	return 0;
}

/*
 * LastAccessedDate. Every entry is checked before anything changes (a bad
 * one makes the command malformed); then each date moves forward only: an
 * entry whose ARN is gone (purged, or recreated under a new ARN) is
 * skipped, a version that was pruned is skipped, and a day that is not
 * later than the stored one changes nothing, so replays are harmless. Not
 * a change of the secret: LastChangedDate stays, and the change hook is not
 * called (the date is kept per region and is not replicated).
 */
int fsm__touch(struct fsm *f, int64_t now, const Coffer__Fsm__Touch *c, struct fsm_result *r)
{
	(void)now;
	if (c == NULL || c->n_entries > FSM_MAX_TOUCH)
		return malformed(r);
	for (size_t i = 0; i < c->n_entries; i++) {
		const Coffer__Fsm__TouchEntry *e = c->entries[i];

		if (e == NULL || !str_ok(e->arn, 2048) || !e->has_day_ms || e->day_ms <= 0 ||
		    e->day_ms != store_day_ms(e->day_ms) ||
		    (e->version_id && strnlen(e->version_id, 65) > 64))
			return malformed(r);
	}
	for (size_t i = 0; i < c->n_entries; i++) {
		const Coffer__Fsm__TouchEntry *e = c->entries[i];
		struct store_secret *s = store_find_arn(&f->st, e->arn);
		struct store_version *v;

		if (s == NULL)
			continue;
		if (s->last_accessed_ms < e->day_ms) {
			s->last_accessed_ms = e->day_ms;
			r->n_changed++;
		}
		if (e->version_id && e->version_id[0] &&
		    (v = store_version_find(s, e->version_id)) != NULL &&
		    v->last_accessed_ms < e->day_ms) {
			v->last_accessed_ms = e->day_ms;
			r->n_changed++;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- shared with tags.c */

int fsm__malformed(struct fsm_result *r)
{
	return malformed(r);
}

struct store_secret *fsm__live_secret(struct fsm *f, const char *arn, struct fsm_result *r)
{
	return live_secret(f, arn, r);
}

int fsm__res_secret(struct fsm_result *r, const struct store_secret *s)
{
	return res_secret(r, s);
}
