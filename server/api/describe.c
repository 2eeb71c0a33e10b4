/*
 * DescribeSecret and ListSecrets: read-only views of secret metadata.
 * Response messages point into the store (borrowed strings) and into scratch
 * memory freed after packing. Empty optional members are left out, as AWS
 * does; KmsKeyId is omitted for the default key. ListSecrets sorts the
 * eligible secrets (O(n log n)) and pages with an opaque token that encodes
 * (sort key, ARN) of the last entry, so pages stay stable under writes.
 * Filters (every key AWS has) are in filters.c. Non-replicated secrets have
 * no PrimaryRegion, so it is left out. LastAccessedDate appears once a value
 * was read (day resolution, see touch.c); Tags comes back as [] once the
 * secret was ever tagged (tags_present, the JSON codec's presence marker).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "util/errors.h"

struct desc {
	char *arn, *name, *description, *kms_key_id, *type;
	double created, changed, deleted, accessed;
	int has_deleted, has_accessed;
	int tags_present; /* ever tagged: Tags is [] rather than left out */
	Coffer__Tag **tags;
	size_t n_tags;
	Coffer__VersionIdsToStagesEntry **vts;
	size_t n_vts;
};

static int describe_fields(struct api_ctx *ctx, struct scratch *sc, const struct store_secret *s,
			   struct desc *d)
{
	size_t n = 0;
	int64_t ms;

	memset(d, 0, sizeof(*d));
	d->arn = s->arn;
	d->name = s->name;
	d->description = s->description;
	d->type = s->type;
	if (!api__is_default_key(ctx, s->kms_key_id))
		d->kms_key_id = s->kms_key_id;
	d->created = api__date(s->created_ms);
	d->changed = api__date(s->last_changed_ms);
	if (s->deleted_ms) {
		d->has_deleted = 1;
		d->deleted = api__date(s->deletion_date_ms);
	}
	if ((ms = api__accessed_ms(ctx, s, NULL)) != 0) {
		d->has_accessed = 1;
		d->accessed = api__date(ms);
	}
	d->tags_present = s->tagged != 0;
	if (s->n_tags) {
		Coffer__Tag *t = api__alloc(sc, s->n_tags * sizeof(*t));

		if ((d->tags = api__alloc(sc, s->n_tags * sizeof(*d->tags))) == NULL || t == NULL)
			return CF_ENOMEM;
		for (size_t i = 0; i < s->n_tags; i++) {
			coffer__tag__init(&t[i]);
			t[i].key = s->tags[i].key;
			t[i].value = s->tags[i].value;
			d->tags[i] = &t[i];
		}
		d->n_tags = s->n_tags;
	}
	for (size_t i = 0; i < s->n_versions; i++)
		n += s->versions[i]->n_labels > 0;
	if (n == 0)
		return 0;
	if ((d->vts = api__alloc(sc, n * sizeof(*d->vts))) == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < s->n_versions; i++) {
		const struct store_version *v = s->versions[i];
		Coffer__VersionIdsToStagesEntry *e;
		Coffer__StageList *sl;
		const char **labels;

		if (v->n_labels == 0)
			continue;
		e = api__alloc(sc, sizeof(*e));
		sl = api__alloc(sc, sizeof(*sl));
		labels = api__alloc(sc, STORE_MAX_LABELS * sizeof(*labels));
		if (!e || !sl || !labels)
			return CF_ENOMEM;
		coffer__version_ids_to_stages_entry__init(e);
		coffer__stage_list__init(sl);
		sl->n_stages = store_version_labels(s, v, labels);
		sl->stages = (char **)labels;
		e->key = v->id;
		e->value = sl;
		d->vts[d->n_vts++] = e;
	}
	return 0;
}

int api__describe_secret(struct api_ctx *ctx, const ProtobufCMessage *m, struct api_reply *out)
{
	const Coffer__DescribeSecretRequest *req = (const Coffer__DescribeSecretRequest *)m;
	Coffer__DescribeSecretResponse resp = COFFER__DESCRIBE_SECRET_RESPONSE__INIT;
	const struct store_secret *s;
	struct scratch sc = {0};
	struct desc d;
	int rv;

	if (!api__check_secret_id(out, req->secret_id))
		return 0;
	if ((s = api__resolve(ctx, out, req->secret_id)) == NULL)
		return 0;
	if ((rv = describe_fields(ctx, &sc, s, &d)) == 0) {
		resp.arn = d.arn;
		resp.name = d.name;
		resp.description = d.description;
		resp.kms_key_id = d.kms_key_id;
		resp.type = d.type;
		resp.has_created_date = resp.has_last_changed_date = 1;
		resp.created_date = d.created;
		resp.last_changed_date = d.changed;
		resp.has_deleted_date = d.has_deleted;
		resp.deleted_date = d.deleted;
		resp.has_last_accessed_date = d.has_accessed;
		resp.last_accessed_date = d.accessed;
		resp.has_tags_present = resp.tags_present = d.tags_present;
		resp.n_tags = d.n_tags;
		resp.tags = d.tags;
		resp.n_version_ids_to_stages = d.n_vts;
		resp.version_ids_to_stages = d.vts;
		rv = api__pack(out, &resp.base);
	}
	api__scratch_free(&sc);
	return rv;
}

/* ---------------------------------------------------------------- ListSecrets */

enum sort_by { BY_CREATED = 0, BY_ACCESSED, BY_CHANGED, BY_NAME };
static const char *const sort_names[] = {"created-date", "last-accessed-date",
					 "last-changed-date", "name"};

struct lkey {
	int64_t k;
	const char *name;
	const char *arn;
};

struct order {
	enum sort_by by;
	int desc;
	struct api_ctx *ctx; /* last-accessed-date: pending touches count */
};

static struct lkey key_of(const struct store_secret *s, const struct order *o)
{
	struct lkey k = {0, s->name, s->arn};

	if (o->by == BY_CREATED)
		k.k = s->created_ms;
	else if (o->by == BY_CHANGED)
		k.k = s->last_changed_ms;
	else if (o->by == BY_ACCESSED) /* 0 = never read: first when ascending */
		k.k = api__accessed_ms(o->ctx, s, NULL);
	return k;
}

static int cmp_key(const struct lkey *a, const struct lkey *b, const struct order *o)
{
	int c;

	if (o->by == BY_NAME)
		c = strcmp(a->name, b->name);
	else
		c = a->k < b->k ? -1 : a->k > b->k;
	if (c == 0)
		c = strcmp(a->arn, b->arn);
	return o->desc ? -c : c;
}

static int cmp_secret(const void *a, const void *b, void *arg)
{
	const struct order *o = arg;
	struct lkey ka = key_of(*(const struct store_secret *const *)a, o);
	struct lkey kb = key_of(*(const struct store_secret *const *)b, o);

	return cmp_key(&ka, &kb, o);
}

static int check_list_request(struct api_reply *out, const Coffer__ListSecretsRequest *req,
			      struct order *o)
{
	o->by = BY_CREATED;
	o->desc = 0;
	if (req->has_max_results && !api__check_range(out, req->max_results, "maxResults", 1, 100))
		return 0;
	if (req->sort_by) {
		size_t i;

		for (i = 0; i < 4 && strcmp(req->sort_by, sort_names[i]) != 0; i++)
			;
		if (i == 4)
			return api__validation(out, req->sort_by, "sortBy",
					       "Member must satisfy enum value set: [created-date, "
					       "last-accessed-date, last-changed-date, name]"),
			       0;
		o->by = (enum sort_by)i;
	}
	if (req->sort_order) {
		if (strcmp(req->sort_order, "asc") != 0 && strcmp(req->sort_order, "desc") != 0)
			return api__validation(out, req->sort_order, "sortOrder",
					       "Member must satisfy enum value set: [asc, desc]"),
			       0;
		o->desc = strcmp(req->sort_order, "desc") == 0;
	}
	return api__check_filters(out, req->filters, req->n_filters);
}

/* Token text: "<by>|<order>|<key>|<arn>". */
static int parse_token(const char *tok, const struct order *o, struct lkey *k, char *buf,
		       size_t cap)
{
	char *p1, *p2, *p3, *end;
	long long v;

	if (api__token_decode(tok, buf, cap) != 0)
		return 0;
	if ((p1 = strchr(buf, '|')) == NULL || (p2 = strchr(p1 + 1, '|')) == NULL ||
	    (p3 = strchr(p2 + 1, '|')) == NULL)
		return 0;
	*p1 = *p2 = *p3 = '\0';
	if (strcmp(buf, sort_names[o->by]) != 0 || strcmp(p1 + 1, o->desc ? "desc" : "asc") != 0)
		return 0;
	k->arn = p3 + 1;
	k->name = p2 + 1;
	k->k = 0;
	if (o->by != BY_NAME) {
		v = strtoll(p2 + 1, &end, 10);
		if (*end != '\0' || end == p2 + 1)
			return 0;
		k->k = v;
	}
	return 1;
}

static int make_token(const struct store_secret *s, const struct order *o, char **tok)
{
	struct lkey k = key_of(s, o);
	char *plain;
	int rv;

	if (o->by == BY_NAME)
		rv = asprintf(&plain, "%s|%s|%s|%s", sort_names[o->by], o->desc ? "desc" : "asc",
			      k.name, k.arn);
	else
		rv = asprintf(&plain, "%s|%s|%" PRId64 "|%s", sort_names[o->by],
			      o->desc ? "desc" : "asc", k.k, k.arn);
	if (rv < 0)
		return CF_ENOMEM;
	rv = api__token_encode(plain, tok);
	free(plain);
	return rv;
}

void api__page_release(struct api_page *pg)
{
	free(pg->all);
	free(pg->next);
	memset(pg, 0, sizeof(*pg));
}

int api__page_select(struct api_ctx *ctx, struct api_reply *out, Coffer__Filter **f, size_t nf,
		     int include_deleted, int by, int desc, const char *next_token, size_t max,
		     struct api_page *pg)
{
	const struct store *st = fsm_store(ctx->fsm);
	const struct store_secret *s;
	struct order o = {(enum sort_by)by, desc, ctx};
	struct lkey after = {0, "", ""};
	char tokbuf[2100];
	size_t n = 0, start = 0;

	memset(pg, 0, sizeof(*pg));
	if (next_token && !parse_token(next_token, &o, &after, tokbuf, sizeof(tokbuf)))
		return api__error(out, "InvalidNextTokenException",
				  "The NextToken value is invalid.");
	if ((pg->all = malloc((st->n_secrets + 1) * sizeof(*pg->all))) == NULL)
		return CF_ENOMEM;
	for (s = st->head; s; s = s->next)
		if ((!s->deleted_ms || include_deleted) && api__filters_match(f, nf, s))
			pg->all[n++] = s;
	qsort_r(pg->all, n, sizeof(*pg->all), cmp_secret, &o);
	if (next_token) {
		/* first entry strictly after the token's position: stable when
		 * secrets are created or deleted between pages */
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			struct lkey km = key_of(pg->all[mid], &o);

			if (cmp_key(&km, &after, &o) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		start = lo;
	}
	pg->start = start;
	pg->end = n - start > max ? start + max : n;
	/* more entries follow: hand out the position of the page's last one */
	if (pg->end < n)
		return make_token(pg->all[pg->end - 1], &o, &pg->next);
	return 0;
}

int api__list_secrets(struct api_ctx *ctx, const ProtobufCMessage *m, struct api_reply *out)
{
	const Coffer__ListSecretsRequest *req = (const Coffer__ListSecretsRequest *)m;
	Coffer__ListSecretsResponse resp = COFFER__LIST_SECRETS_RESPONSE__INIT;
	struct scratch sc = {0};
	struct api_page pg;
	struct order o;
	size_t n, start, i;
	int rv;

	if (!check_list_request(out, req, &o))
		return 0;
	rv = api__page_select(ctx, out, req->filters, req->n_filters,
			      req->has_include_planned_deletion && req->include_planned_deletion,
			      o.by, o.desc, req->next_token,
			      req->has_max_results ? (size_t)req->max_results : 100, &pg);
	if (rv != 0 || !cf_status_ok(&out->status))
		goto out;
	rv = CF_ENOMEM;
	start = pg.start;
	n = pg.end;
	resp.n_secret_list = n - start;
	resp.secret_list = api__alloc(&sc, (n - start) * sizeof(*resp.secret_list));
	if (resp.secret_list == NULL)
		goto out;
	for (i = start; i < n; i++) {
		Coffer__SecretListEntry *e = api__alloc(&sc, sizeof(*e));
		struct desc d;

		if (e == NULL || (rv = describe_fields(ctx, &sc, pg.all[i], &d)) != 0) {
			rv = CF_ENOMEM;
			goto out;
		}
		coffer__secret_list_entry__init(e);
		e->arn = d.arn;
		e->name = d.name;
		e->description = d.description;
		e->kms_key_id = d.kms_key_id;
		e->type = d.type;
		e->has_created_date = e->has_last_changed_date = 1;
		e->created_date = d.created;
		e->last_changed_date = d.changed;
		e->has_deleted_date = d.has_deleted;
		e->deleted_date = d.deleted;
		e->has_last_accessed_date = d.has_accessed;
		e->last_accessed_date = d.accessed;
		e->has_tags_present = e->tags_present = d.tags_present;
		e->n_tags = d.n_tags;
		e->tags = d.tags;
		e->n_secret_versions_to_stages = d.n_vts;
		e->secret_versions_to_stages = d.vts;
		resp.secret_list[i - start] = e;
	}
	rv = 0;
	resp.next_token = pg.next;
out:
	if (rv == 0 && cf_status_ok(&out->status))
		rv = api__pack(out, &resp.base);
	api__page_release(&pg);
	api__scratch_free(&sc);
	return rv;
}
