/*
 * Snapshots: the whole state as one coffer.fsm.Snapshot message. Encoding
 * walks the store in its deterministic orders (secrets and versions in
 * creation order, labels and tags in insertion order), so two replicas that
 * applied the same commands produce byte-identical snapshots. Decoding
 * builds a complete new store and checks its invariants (unique names,
 * ARNs and version ids, labels on existing versions, limits, MAC sizes)
 * before swapping it in; a malformed snapshot leaves the old state intact.
 * Only ciphertext, wrapped keys and identifiers are serialised (plus the
 * LastAccessedDate days, which are state); the leader-local touch set of
 * pending dates is not.
 */
#include <stdlib.h>
#include <string.h>

#include "fsm/fsm_int.h"
#include "util/errors.h"

/* ---------------------------------------------------------------- encode */

struct enc {
	Coffer__Fsm__SnapSecret *secrets;
	Coffer__Fsm__SnapSecret **psecrets;
	Coffer__Fsm__SnapKmsKey *keys;
	Coffer__Fsm__SnapKmsKey **pkeys;
	/* per-secret arrays, freed after packing */
	void **blocks;
	size_t n_blocks;
};

static void *enc_alloc(struct enc *e, size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		return NULL;
	e->blocks[e->n_blocks++] = p;
	return p;
}

static void sealed_to_pb(const struct store_sealed *z, Coffer__Fsm__SealedValue *pb)
{
	coffer__fsm__sealed_value__init(pb);
	pb->kms_key_id = z->kms_key_id;
	pb->has_wrapped_dk = pb->has_ct = pb->has_mac = pb->has_binary = 1;
	pb->wrapped_dk.data = z->wrapped_dk;
	pb->wrapped_dk.len = z->wrapped_dk_len;
	pb->ct.data = z->ct;
	pb->ct.len = z->ct_len;
	pb->mac.data = (uint8_t *)z->mac;
	pb->mac.len = STORE_MAC_LEN;
	pb->binary = z->binary != 0;
}

static int secret_to_pb(struct enc *e, struct store_secret *s, Coffer__Fsm__SnapSecret *pb)
{
	Coffer__Fsm__SnapVersion *v, **pv;
	Coffer__Fsm__SealedValue *sv;
	Coffer__Fsm__SnapLabel *l, **pl;
	Coffer__Fsm__Tag *t, **pt;

	coffer__fsm__snap_secret__init(pb);
	pb->name = s->name;
	pb->arn = s->arn;
	pb->description = s->description;
	pb->kms_key_id = s->kms_key_id;
	pb->type = s->type;
	pb->create_token = s->create_token;
	pb->has_created_ms = pb->has_last_changed_ms = pb->has_deleted_ms = 1;
	pb->has_deletion_date_ms = pb->has_tagged = pb->has_next_version_seq = pb->has_seq = 1;
	pb->created_ms = s->created_ms;
	pb->last_changed_ms = s->last_changed_ms;
	pb->deleted_ms = s->deleted_ms;
	pb->deletion_date_ms = s->deletion_date_ms;
	pb->tagged = s->tagged != 0;
	pb->next_version_seq = s->next_version_seq;
	pb->seq = s->seq;
	if (s->last_accessed_ms) {
		pb->has_last_accessed_ms = 1;
		pb->last_accessed_ms = s->last_accessed_ms;
	}

	v = enc_alloc(e, s->n_versions * sizeof(*v));
	pv = enc_alloc(e, s->n_versions * sizeof(*pv));
	sv = enc_alloc(e, s->n_versions * sizeof(*sv));
	l = enc_alloc(e, s->n_labels * sizeof(*l));
	pl = enc_alloc(e, s->n_labels * sizeof(*pl));
	t = enc_alloc(e, s->n_tags * sizeof(*t));
	pt = enc_alloc(e, s->n_tags * sizeof(*pt));
	if (!v || !pv || !sv || !l || !pl || !t || !pt)
		return CF_ENOMEM;
	for (size_t i = 0; i < s->n_versions; i++) {
		const struct store_version *sv0 = s->versions[i];

		coffer__fsm__snap_version__init(&v[i]);
		v[i].version_id = sv0->id;
		v[i].has_seq = v[i].has_created_ms = 1;
		v[i].seq = sv0->seq;
		v[i].created_ms = sv0->created_ms;
		if (sv0->last_accessed_ms) {
			v[i].has_last_accessed_ms = 1;
			v[i].last_accessed_ms = sv0->last_accessed_ms;
		}
		if (sv0->has_value) {
			sealed_to_pb(&sv0->value, &sv[i]);
			v[i].value = &sv[i];
		}
		pv[i] = &v[i];
	}
	for (size_t i = 0; i < s->n_labels; i++) {
		coffer__fsm__snap_label__init(&l[i]);
		l[i].label = s->labels[i].name;
		l[i].version_id = s->labels[i].v->id;
		pl[i] = &l[i];
	}
	for (size_t i = 0; i < s->n_tags; i++) {
		coffer__fsm__tag__init(&t[i]);
		t[i].key = s->tags[i].key;
		t[i].value = s->tags[i].value;
		pt[i] = &t[i];
	}
	pb->n_versions = s->n_versions;
	pb->versions = pv;
	pb->n_labels = s->n_labels;
	pb->labels = pl;
	pb->n_tags = s->n_tags;
	pb->tags = pt;
	return 0;
}

int fsm__snapshot(struct fsm *f, uint8_t **buf, size_t *n)
{
	Coffer__Fsm__Snapshot snap = COFFER__FSM__SNAPSHOT__INIT;
	struct enc e = {0};
	struct store_secret *s;
	size_t i, len;
	int rv = CF_ENOMEM;

	*buf = NULL;
	*n = 0;
	e.blocks = calloc(7 * f->st.n_secrets + 1, sizeof(*e.blocks));
	e.secrets = calloc(f->st.n_secrets + 1, sizeof(*e.secrets));
	e.psecrets = calloc(f->st.n_secrets + 1, sizeof(*e.psecrets));
	e.keys = calloc(f->st.n_keys + 1, sizeof(*e.keys));
	e.pkeys = calloc(f->st.n_keys + 1, sizeof(*e.pkeys));
	if (!e.blocks || !e.secrets || !e.psecrets || !e.keys || !e.pkeys)
		goto out;
	for (i = 0, s = f->st.head; s; s = s->next, i++) {
		if ((rv = secret_to_pb(&e, s, &e.secrets[i])) != 0)
			goto out;
		e.psecrets[i] = &e.secrets[i];
	}
	for (i = 0; i < f->st.n_keys; i++) {
		const struct store_kms_key *k = &f->st.keys[i];

		coffer__fsm__snap_kms_key__init(&e.keys[i]);
		e.keys[i].key_id = k->key_id;
		e.keys[i].alias = k->alias;
		e.keys[i].has_wrapped = e.keys[i].has_created_ms = 1;
		e.keys[i].wrapped.data = k->wrapped;
		e.keys[i].wrapped.len = k->wrapped_len;
		e.keys[i].created_ms = k->created_ms;
		e.pkeys[i] = &e.keys[i];
	}
	snap.has_format = snap.has_revision = snap.has_next_secret_seq = 1;
	snap.format = 1;
	snap.region = f->region;
	snap.revision = f->revision;
	snap.next_secret_seq = f->st.next_secret_seq;
	snap.n_kms_keys = f->st.n_keys;
	snap.kms_keys = e.pkeys;
	snap.n_secrets = f->st.n_secrets;
	snap.secrets = e.psecrets;
	len = coffer__fsm__snapshot__get_packed_size(&snap);
	rv = CF_ENOMEM;
	if ((*buf = malloc(len ? len : 1)) == NULL)
		goto out;
	*n = coffer__fsm__snapshot__pack(&snap, *buf);
	rv = 0;
out:
	for (i = 0; e.blocks && i < e.n_blocks; i++)
		free(e.blocks[i]);
	free(e.blocks);
	free(e.secrets);
	free(e.psecrets);
	free(e.keys);
	free(e.pkeys);
	return rv;
}

/* ---------------------------------------------------------------- decode */

static int str_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strnlen(s, max + 1) <= max;
}

static const char *empty_null(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* 0, CF_EPROTO (bad data) or CF_ENOMEM. */
static int version_from_pb(struct store_secret *s, const Coffer__Fsm__SnapVersion *pv)
{
	struct store_sealed z = {0};
	struct store_version *v;
	const Coffer__Fsm__SealedValue *sv = pv->value;
	int rv;

	if (!str_ok(pv->version_id, 64) || s->n_versions >= STORE_MAX_VERSIONS)
		return CF_EPROTO;
	if (sv) {
		if (!sv->has_wrapped_dk || !sv->wrapped_dk.len || !sv->has_ct || !sv->ct.len ||
		    !sv->has_mac || sv->mac.len != STORE_MAC_LEN)
			return CF_EPROTO;
		z.kms_key_id = sv->kms_key_id ? strdup(sv->kms_key_id) : NULL;
		z.wrapped_dk = malloc(sv->wrapped_dk.len);
		z.ct = malloc(sv->ct.len);
		if ((sv->kms_key_id && !z.kms_key_id) || !z.wrapped_dk || !z.ct) {
			store_sealed_release(&z);
			return CF_ENOMEM;
		}
		memcpy(z.wrapped_dk, sv->wrapped_dk.data, sv->wrapped_dk.len);
		z.wrapped_dk_len = sv->wrapped_dk.len;
		memcpy(z.ct, sv->ct.data, sv->ct.len);
		z.ct_len = sv->ct.len;
		memcpy(z.mac, sv->mac.data, STORE_MAC_LEN);
		z.binary = sv->has_binary && sv->binary;
	}
	rv = store_version_add(s, pv->version_id, pv->created_ms, sv ? &z : NULL, &v);
	if (rv != 0) {
		store_sealed_release(&z);
		return rv == CF_EEXIST ? CF_EPROTO : rv;
	}
	v->seq = pv->seq;
	if (pv->has_last_accessed_ms && pv->last_accessed_ms > 0)
		v->last_accessed_ms = pv->last_accessed_ms;
	if (v->seq >= s->next_version_seq)
		s->next_version_seq = v->seq + 1;
	return 0;
}

static int secret_from_pb(struct store *st, const Coffer__Fsm__SnapSecret *p)
{
	struct store_secret *s;
	int rv;

	if (p == NULL || !str_ok(p->name, 512) || !str_ok(p->arn, 2048) || p->n_tags > 50 ||
	    p->n_labels > STORE_MAX_LABELS || p->n_versions > STORE_MAX_VERSIONS)
		return CF_EPROTO;
	rv = store_secret_add(st, p->name, p->arn, p->created_ms, &s);
	if (rv != 0)
		return rv == CF_EEXIST ? CF_EPROTO : rv;
	s->seq = p->seq;
	s->last_changed_ms = p->last_changed_ms;
	s->deleted_ms = p->deleted_ms;
	s->deletion_date_ms = p->deletion_date_ms;
	if (p->has_last_accessed_ms && p->last_accessed_ms > 0)
		s->last_accessed_ms = p->last_accessed_ms;
	if ((rv = store_set_str(&s->description, empty_null(p->description))) ||
	    (rv = store_set_str(&s->kms_key_id, empty_null(p->kms_key_id))) ||
	    (rv = store_set_str(&s->type, empty_null(p->type))) ||
	    (rv = store_set_str(&s->create_token, p->create_token)))
		return rv;
	if (p->tagged || p->n_tags) {
		const char *keys[50], *values[50];

		for (size_t i = 0; i < p->n_tags; i++) {
			if (p->tags[i] == NULL || p->tags[i]->key == NULL)
				return CF_EPROTO;
			keys[i] = p->tags[i]->key;
			values[i] = p->tags[i]->value;
		}
		if ((rv = store_set_tags(s, keys, values, p->n_tags)) != 0)
			return rv;
	}
	for (size_t i = 0; i < p->n_versions; i++) {
		if (p->versions[i] == NULL)
			return CF_EPROTO;
		if ((rv = version_from_pb(s, p->versions[i])) != 0)
			return rv;
	}
	for (size_t i = 0; i < p->n_labels; i++) {
		const Coffer__Fsm__SnapLabel *l = p->labels[i];
		struct store_version *v;

		if (l == NULL || !str_ok(l->label, 256) || l->version_id == NULL ||
		    (v = store_version_find(s, l->version_id)) == NULL ||
		    store_label_get(s, l->label) != NULL)
			return CF_EPROTO;
		if ((rv = store_label_attach(s, l->label, v)) != 0)
			return rv == CF_ETOOBIG ? CF_EPROTO : rv;
	}
	if (p->next_version_seq > s->next_version_seq)
		s->next_version_seq = p->next_version_seq;
	return 0;
}

int fsm__restore(struct fsm *f, const uint8_t *buf, size_t n)
{
	Coffer__Fsm__Snapshot *snap;
	struct store st;
	int rv;

	if (n > FSM_MAX_SNAPSHOT)
		return CF_EPROTO;
	if ((snap = coffer__fsm__snapshot__unpack(NULL, n, buf)) == NULL)
		return CF_EPROTO;
	if ((rv = store_init(&st)) != 0)
		goto out;
	rv = CF_EPROTO;
	if (!snap->has_format || snap->format != 1)
		goto fail;
	for (size_t i = 0; i < snap->n_kms_keys; i++) {
		const Coffer__Fsm__SnapKmsKey *k = snap->kms_keys[i];

		if (k == NULL || !str_ok(k->key_id, 2048) || !k->has_wrapped || !k->wrapped.len) {
			rv = CF_EPROTO;
			goto fail;
		}
		rv = store_kms_add(&st, k->key_id, empty_null(k->alias), k->wrapped.data,
				   k->wrapped.len, k->created_ms);
		if (rv != 0) {
			rv = rv == CF_EEXIST ? CF_EPROTO : rv;
			goto fail;
		}
	}
	for (size_t i = 0; i < snap->n_secrets; i++)
		if ((rv = secret_from_pb(&st, snap->secrets[i])) != 0)
			goto fail;
	st.next_secret_seq = snap->next_secret_seq;
	if (st.tail && st.tail->seq >= st.next_secret_seq)
		st.next_secret_seq = st.tail->seq + 1;
	store_release(&f->st);
	f->st = st;
	f->revision = snap->revision;
	rv = 0;
	goto out;
fail:
	store_release(&st);
out:
	coffer__fsm__snapshot__free_unpacked(snap, NULL);
	return rv;
}
