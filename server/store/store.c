/*
 * The secret index. Two chained hash tables (SipHash-2-4 under a random
 * per-store key, doubled at load 1) map name and ARN to the secret; the
 * secret owns its strings, versions, labels and tags. Every mutation
 * either completes or leaves the store as it was (allocations happen
 * before anything is linked in), so an ENOMEM in the middle of apply()
 * never leaves a half-indexed secret.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/errors.h"

struct store_hnode {
	const char *key; /* borrowed from the secret */
	struct store_secret *s;
	struct store_hnode *next;
};

/* ---------------------------------------------------------------- hash */

/*
 * SipHash-2-4 (Aumasson, Bernstein 2012): a keyed PRF on short inputs.
 * Names, ARNs and version ids are chosen by callers; with an unkeyed hash
 * (FNV-1a before) they could be chosen to share one bucket and turn every
 * lookup into a list walk. Under a secret random key bucket placement
 * cannot be predicted. The key only places entries in buckets: nothing
 * iterates buckets to produce state, a snapshot, a result or a command
 * (those walk the creation-ordered list), so replicas with different keys
 * stay byte-identical.
 */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(s)                          \
	do {                                 \
		(s)->v0 += (s)->v1;          \
		(s)->v1 = ROTL((s)->v1, 13); \
		(s)->v1 ^= (s)->v0;          \
		(s)->v0 = ROTL((s)->v0, 32); \
		(s)->v2 += (s)->v3;          \
		(s)->v3 = ROTL((s)->v3, 16); \
		(s)->v3 ^= (s)->v2;          \
		(s)->v0 += (s)->v3;          \
		(s)->v3 = ROTL((s)->v3, 21); \
		(s)->v3 ^= (s)->v0;          \
		(s)->v2 += (s)->v1;          \
		(s)->v1 = ROTL((s)->v1, 17); \
		(s)->v1 ^= (s)->v2;          \
		(s)->v2 = ROTL((s)->v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

void store_hash_key(struct store_hash_key *k, const uint8_t raw[STORE_HASH_KEY_LEN])
{
	k->k0 = le64(raw);
	k->k1 = le64(raw + 8);
}

int store_hash_key_random(struct store_hash_key *k)
{
	uint8_t raw[STORE_HASH_KEY_LEN];
	int rv = crypto_random(raw, sizeof(raw));

	if (rv != 0)
		return rv;
	store_hash_key(k, raw);
	memset(raw, 0, sizeof(raw));
	return 0;
}

void store_sip_init(struct store_sip *s, const struct store_hash_key *k)
{
	s->v0 = k->k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k->k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k->k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k->k1 ^ 0x7465646279746573ULL;
	s->m = 0;
	s->nm = 0;
	s->len = 0;
}

static void sip_block(struct store_sip *s, uint64_t m)
{
	s->v3 ^= m;
	SIPROUND(s);
	SIPROUND(s);
	s->v0 ^= m;
}

void store_sip_update(struct store_sip *s, const void *data, size_t n)
{
	const uint8_t *p = data;

	s->len += n;
	for (; s->nm && n; n--, p++) {
		s->m |= (uint64_t)*p << (8 * s->nm);
		if (++s->nm == 8) {
			sip_block(s, s->m);
			s->m = 0;
			s->nm = 0;
		}
	}
	for (; n >= 8; n -= 8, p += 8)
		sip_block(s, le64(p));
	for (; n; n--, p++)
		s->m |= (uint64_t)*p << (8 * s->nm++);
}

uint64_t store_sip_final(struct store_sip *s)
{
	sip_block(s, s->m | (uint64_t)(s->len & 0xff) << 56);
	s->v2 ^= 0xff;
	SIPROUND(s);
	SIPROUND(s);
	SIPROUND(s);
	SIPROUND(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t store_siphash(const struct store_hash_key *k, const void *data, size_t n)
{
	struct store_sip s;

	store_sip_init(&s, k);
	store_sip_update(&s, data, n);
	return store_sip_final(&s);
}

static size_t slot(const struct store_htab *t, const char *key)
{
	return (size_t)(store_siphash(&t->key, key, strlen(key)) & (t->nb - 1));
}

size_t store__slot(const struct store_htab *t, const char *key)
{
	return slot(t, key);
}

static int htab_init(struct store_htab *t, const struct store_hash_key *k)
{
	t->key = *k;
	t->nb = 64;
	t->n = 0;
	t->b = calloc(t->nb, sizeof(*t->b));
	return t->b ? 0 : CF_ENOMEM;
}

static void htab_release(struct store_htab *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct store_hnode *n = t->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

static struct store_secret *htab_get(const struct store_htab *t, const char *key)
{
	struct store_hnode *n = t->b[slot(t, key)];

	for (; n; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n->s;
	return NULL;
}

static void htab_grow(struct store_htab *t)
{
	size_t nb = t->nb * 2;
	struct store_hnode **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return; /* keep the longer chains; still correct */
	for (size_t i = 0; i < t->nb; i++) {
		struct store_hnode *n = t->b[i], *next;

		for (; n; n = next) {
			size_t j = (size_t)(store_siphash(&t->key, n->key, strlen(n->key)) &
					    (nb - 1));

			next = n->next;
			n->next = b[j];
			b[j] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

/* node is preallocated by the caller so that insertion cannot fail */
static void htab_put(struct store_htab *t, struct store_hnode *node, const char *key,
		     struct store_secret *s)
{
	size_t j;

	if (t->n >= t->nb)
		htab_grow(t);
	j = slot(t, key);
	node->key = key;
	node->s = s;
	node->next = t->b[j];
	t->b[j] = node;
	t->n++;
}

static void htab_del(struct store_htab *t, const char *key)
{
	struct store_hnode **pp = &t->b[slot(t, key)];

	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			struct store_hnode *n = *pp;

			*pp = n->next;
			free(n);
			t->n--;
			return;
		}
	}
}

/* ---------------------------------------------------------------- store */

int64_t store_day_ms(int64_t ms)
{
	int64_t r = ms % STORE_DAY_MS;

	return ms - (r < 0 ? r + STORE_DAY_MS : r);
}

int store_init(struct store *st)
{
	struct store_hash_key k;
	int rv;

	memset(st, 0, sizeof(*st));
	if ((rv = store_hash_key_random(&k)) != 0)
		return rv;
	if (htab_init(&st->by_name, &k) != 0)
		return CF_ENOMEM;
	if (htab_init(&st->by_arn, &k) != 0) {
		htab_release(&st->by_name);
		return CF_ENOMEM;
	}
	st->next_secret_seq = 1;
	return 0;
}

static void secret_free(struct store_secret *s)
{
	for (size_t i = 0; i < s->n_versions; i++) {
		store_sealed_release(&s->versions[i]->value);
		free(s->versions[i]->id);
		free(s->versions[i]);
	}
	free(s->versions);
	for (size_t i = 0; i < s->n_labels; i++)
		free(s->labels[i].name);
	for (size_t i = 0; i < s->n_tags; i++) {
		free(s->tags[i].key);
		free(s->tags[i].value);
	}
	free(s->tags);
	free(s->name);
	free(s->arn);
	free(s->description);
	free(s->kms_key_id);
	free(s->type);
	free(s->create_token);
	free(s);
}

void store_release(struct store *st)
{
	struct store_secret *s = st->head, *next;

	for (; s; s = next) {
		next = s->next;
		secret_free(s);
	}
	htab_release(&st->by_name);
	htab_release(&st->by_arn);
	for (size_t i = 0; i < st->n_keys; i++) {
		free(st->keys[i].key_id);
		free(st->keys[i].alias);
		free(st->keys[i].wrapped);
	}
	free(st->keys);
	memset(st, 0, sizeof(*st));
}

struct store_secret *store_find_name(const struct store *st, const char *name)
{
	return htab_get(&st->by_name, name);
}

struct store_secret *store_find_arn(const struct store *st, const char *arn)
{
	return htab_get(&st->by_arn, arn);
}

struct store_secret *store_resolve(const struct store *st, const char *id)
{
	struct store_secret *s;
	const char *p;
	size_t n;

	if ((s = htab_get(&st->by_arn, id)) != NULL)
		return s;
	if ((s = htab_get(&st->by_name, id)) != NULL)
		return s;
	if (strncmp(id, "arn:", 4) != 0 || (p = strstr(id, ":secret:")) == NULL)
		return NULL;
	/* partial ARN: the name is what follows ":secret:"; the secret's ARN
	 * must be exactly the id plus "-XXXXXX" */
	s = htab_get(&st->by_name, p + 8);
	n = strlen(id);
	if (s == NULL || strlen(s->arn) != n + 7 || strncmp(s->arn, id, n) != 0 ||
	    s->arn[n] != '-')
		return NULL;
	return s;
}

int store_secret_add(struct store *st, const char *name, const char *arn, int64_t now_ms,
		     struct store_secret **out)
{
	struct store_secret *s;
	struct store_hnode *n1, *n2;

	if (htab_get(&st->by_name, name) || htab_get(&st->by_arn, arn))
		return CF_EEXIST;
	s = calloc(1, sizeof(*s));
	n1 = malloc(sizeof(*n1));
	n2 = malloc(sizeof(*n2));
	if (s == NULL || n1 == NULL || n2 == NULL || (s->name = strdup(name)) == NULL ||
	    (s->arn = strdup(arn)) == NULL) {
		if (s) {
			free(s->name);
			free(s);
		}
		free(n1);
		free(n2);
		return CF_ENOMEM;
	}
	s->created_ms = s->last_changed_ms = now_ms;
	s->next_version_seq = 1;
	s->seq = st->next_secret_seq++;
	htab_put(&st->by_name, n1, s->name, s);
	htab_put(&st->by_arn, n2, s->arn, s);
	s->prev = st->tail;
	if (st->tail)
		st->tail->next = s;
	else
		st->head = s;
	st->tail = s;
	st->n_secrets++;
	*out = s;
	return 0;
}

void store_secret_remove(struct store *st, struct store_secret *s)
{
	htab_del(&st->by_name, s->name);
	htab_del(&st->by_arn, s->arn);
	if (s->prev)
		s->prev->next = s->next;
	else
		st->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		st->tail = s->prev;
	st->n_secrets--;
	secret_free(s);
}

int store_set_str(char **field, const char *v)
{
	char *c = NULL;

	if (v != NULL && (c = strdup(v)) == NULL)
		return CF_ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

int store_set_tags(struct store_secret *s, const char *const *keys, const char *const *values,
		   size_t n)
{
	struct store_tag *t = n ? calloc(n, sizeof(*t)) : NULL;

	if (n && t == NULL)
		return CF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		t[i].key = strdup(keys[i]);
		t[i].value = strdup(values[i] ? values[i] : "");
		if (t[i].key == NULL || t[i].value == NULL) {
			for (size_t j = 0; j <= i; j++) {
				free(t[j].key);
				free(t[j].value);
			}
			free(t);
			return CF_ENOMEM;
		}
	}
	for (size_t i = 0; i < s->n_tags; i++) {
		free(s->tags[i].key);
		free(s->tags[i].value);
	}
	free(s->tags);
	s->tags = t;
	s->n_tags = n;
	s->tagged = 1;
	return 0;
}

/* ---------------------------------------------------------------- versions */

struct store_version *store_version_find(const struct store_secret *s, const char *id)
{
	/* at most STORE_MAX_VERSIONS entries */
	for (size_t i = 0; i < s->n_versions; i++)
		if (strcmp(s->versions[i]->id, id) == 0)
			return s->versions[i];
	return NULL;
}

void store_sealed_release(struct store_sealed *z)
{
	free(z->kms_key_id);
	free(z->wrapped_dk);
	free(z->ct);
	memset(z, 0, sizeof(*z));
}

int store_version_add(struct store_secret *s, const char *id, int64_t now_ms,
		      struct store_sealed *sealed, struct store_version **out)
{
	struct store_version *v;

	if (store_version_find(s, id))
		return CF_EEXIST;
	if (s->n_versions == s->cap_versions) {
		size_t cap = s->cap_versions ? s->cap_versions * 2 : 4;
		struct store_version **nv = realloc(s->versions, cap * sizeof(*nv));

		if (nv == NULL)
			return CF_ENOMEM;
		s->versions = nv;
		s->cap_versions = cap;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL || (v->id = strdup(id)) == NULL) {
		free(v);
		return CF_ENOMEM;
	}
	v->seq = s->next_version_seq++;
	v->created_ms = now_ms;
	if (sealed) {
		v->value = *sealed;
		v->has_value = 1;
		memset(sealed, 0, sizeof(*sealed));
	}
	s->versions[s->n_versions++] = v;
	if (out)
		*out = v;
	return 0;
}

void store_version_remove(struct store_secret *s, struct store_version *v)
{
	size_t i, j;

	for (i = 0; i < s->n_labels;) {
		if (s->labels[i].v == v) {
			free(s->labels[i].name);
			memmove(&s->labels[i], &s->labels[i + 1],
				(s->n_labels - i - 1) * sizeof(s->labels[0]));
			s->n_labels--;
		} else {
			i++;
		}
	}
	for (j = 0; j < s->n_versions && s->versions[j] != v; j++)
		;
	if (j == s->n_versions)
		return;
	memmove(&s->versions[j], &s->versions[j + 1],
		(s->n_versions - j - 1) * sizeof(s->versions[0]));
	s->n_versions--;
	store_sealed_release(&v->value);
	free(v->id);
	free(v);
}

/* ---------------------------------------------------------------- labels */

static struct store_label *label_slot(const struct store_secret *s, const char *label)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].name, label) == 0)
			return (struct store_label *)&s->labels[i];
	return NULL;
}

struct store_version *store_label_get(const struct store_secret *s, const char *label)
{
	struct store_label *l = label_slot(s, label);

	return l ? l->v : NULL;
}

int store_label_attach(struct store_secret *s, const char *label, struct store_version *v)
{
	struct store_label *l = label_slot(s, label);
	char *c;

	if (l) {
		l->v->n_labels--;
		l->v = v;
		v->n_labels++;
		return 0;
	}
	if (s->n_labels >= STORE_MAX_LABELS)
		return CF_ETOOBIG;
	if ((c = strdup(label)) == NULL)
		return CF_ENOMEM;
	s->labels[s->n_labels].name = c;
	s->labels[s->n_labels].v = v;
	s->n_labels++;
	v->n_labels++;
	return 0;
}

void store_label_detach(struct store_secret *s, const char *label)
{
	struct store_label *l = label_slot(s, label);
	size_t i;

	if (l == NULL)
		return;
	i = (size_t)(l - s->labels);
	l->v->n_labels--;
	free(l->name);
	memmove(&s->labels[i], &s->labels[i + 1], (s->n_labels - i - 1) * sizeof(s->labels[0]));
	s->n_labels--;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t store_version_labels(const struct store_secret *s, const struct store_version *v,
			    const char **out)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_labels; i++)
		if (s->labels[i].v == v)
			out[n++] = s->labels[i].name;
	qsort(out, n, sizeof(*out), cmp_str);
	return n;
}

/* ---------------------------------------------------------------- pruning */

static int prunable(const struct store_version *v, int64_t now_ms)
{
	return v->n_labels == 0 && now_ms - v->created_ms >= STORE_PRUNE_AGE_MS;
}

size_t store_prunable(const struct store_secret *s, int64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_versions; i++)
		n += prunable(s->versions[i], now_ms);
	return n;
}

void store_prune(struct store_secret *s, int64_t now_ms, size_t keep)
{
	size_t i = 0;

	/* versions are in creation order, so the first prunable is the oldest */
	while (s->n_versions > keep && i < s->n_versions) {
		if (prunable(s->versions[i], now_ms))
			store_version_remove(s, s->versions[i]);
		else
			i++;
	}
}

/* ---------------------------------------------------------------- kms */

int store_kms_add(struct store *st, const char *key_id, const char *alias,
		  const uint8_t *wrapped, size_t wrapped_len, int64_t now_ms)
{
	struct store_kms_key *k, *nk;

	if (store_kms_find(st, key_id) || (alias && store_kms_find(st, alias)))
		return CF_EEXIST;
	nk = realloc(st->keys, (st->n_keys + 1) * sizeof(*nk));
	if (nk == NULL)
		return CF_ENOMEM;
	st->keys = nk;
	k = &st->keys[st->n_keys];
	memset(k, 0, sizeof(*k));
	k->key_id = strdup(key_id);
	k->alias = alias ? strdup(alias) : NULL;
	k->wrapped = malloc(wrapped_len ? wrapped_len : 1);
	if (k->key_id == NULL || (alias && k->alias == NULL) || k->wrapped == NULL) {
		free(k->key_id);
		free(k->alias);
		free(k->wrapped);
		return CF_ENOMEM;
	}
	if (wrapped_len)
		memcpy(k->wrapped, wrapped, wrapped_len);
	k->wrapped_len = wrapped_len;
	k->created_ms = now_ms;
	st->n_keys++;
	return 0;
}

const struct store_kms_key *store_kms_find(const struct store *st, const char *id_or_alias)
{
	for (size_t i = 0; i < st->n_keys; i++) {
		const struct store_kms_key *k = &st->keys[i];

		if (strcmp(k->key_id, id_or_alias) == 0 ||
		    (k->alias && strcmp(k->alias, id_or_alias) == 0))
			return k;
	}
	return NULL;
}
