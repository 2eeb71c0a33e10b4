/*
 * store: the in-memory index of a region's secrets. Secrets are reachable by
 * name and by ARN through two hash tables (O(1) lookups on the hot read
 * path; keyed SipHash-2-4 with a random per-store key, so caller-chosen
 * names cannot be made to collide) and kept in a list in creation order
 * (snapshots, listing, purges: everything observable walks the list, never
 * the buckets, so stores with different keys behave identically). Each
 * secret holds its versions in creation order (ciphertext only), its staging
 * labels (at most STORE_MAX_LABELS, each on at most one version) and its
 * tags. The store also holds the wrapped KMS keys.
 *
 * Invariants: a name maps to at most one secret and an ARN to at most one
 * secret; every label points at a version of its own secret; nothing here
 * is plaintext. The store has no policy: the AWS rules (which label moves
 * where, limits, deletion) live in fsm/, which is the only writer.
 * Pure: no libuv, no raft, no clock; the only randomness is the hash key
 * drawn by store_init, which decides bucket placement and nothing else.
 * Loop thread only.
 */
#ifndef COFFER_STORE_STORE_H
#define COFFER_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_VERSIONS 100
#define STORE_MAX_LABELS 20
#define STORE_PRUNE_AGE_MS (24LL * 3600 * 1000)
#define STORE_MAC_LEN 32
#define STORE_DAY_MS (24LL * 3600 * 1000)

/* 00:00 UTC of the day holding ms (epoch milliseconds; floor for < 0). */
int64_t store_day_ms(int64_t ms);

/* A sealed value: all owned by the version. */
struct store_sealed {
	char *kms_key_id;
	uint8_t *wrapped_dk;
	size_t wrapped_dk_len;
	uint8_t *ct;
	size_t ct_len;
	uint8_t mac[STORE_MAC_LEN];
	int binary;
};

struct store_version {
	char *id;
	uint64_t seq;        /* per-secret creation counter (paging) */
	int64_t created_ms;
	int64_t last_accessed_ms; /* 00:00 UTC of the last value read; 0 = never */
	int has_value;       /* 0: a placeholder without a value */
	struct store_sealed value;
	unsigned n_labels;   /* labels currently on this version */
};

struct store_label {
	char *name;
	struct store_version *v;
};

struct store_tag {
	char *key;
	char *value;
};

struct store_secret {
	char *name;
	char *arn;
	char *description;   /* NULL = none */
	char *kms_key_id;    /* NULL = the default key */
	char *type;          /* NULL = none */
	char *create_token;  /* ClientRequestToken of CreateSecret, NULL if none */
	int64_t created_ms;
	int64_t last_changed_ms;
	int64_t last_accessed_ms;  /* 00:00 UTC of the last value read; 0 = never */
	int64_t deleted_ms;        /* 0 = not scheduled for deletion */
	int64_t deletion_date_ms;  /* scheduled purge time when deleted_ms != 0 */
	struct store_tag *tags;
	size_t n_tags;
	int tagged;                /* tags were ever set (Tags: [] vs omitted) */
	struct store_version **versions; /* creation order */
	size_t n_versions;
	size_t cap_versions;
	struct store_label labels[STORE_MAX_LABELS];
	size_t n_labels;
	uint64_t next_version_seq;
	uint64_t seq;              /* creation order among secrets */
	struct store_secret *prev, *next;
};

struct store_kms_key {
	char *key_id;
	char *alias;               /* NULL = none */
	uint8_t *wrapped;
	size_t wrapped_len;
	int64_t created_ms;
};

/* ---- keyed hashing (SipHash-2-4), shared with touch.c */
#define STORE_HASH_KEY_LEN 16

struct store_hash_key {
	uint64_t k0, k1;
};

/* Load a 128-bit key (SipHash's byte order: two little-endian words). */
void store_hash_key(struct store_hash_key *k, const uint8_t raw[STORE_HASH_KEY_LEN]);
/* A fresh random key from the CSPRNG. 0 or crypto_random's error. */
int store_hash_key_random(struct store_hash_key *k);
/* SipHash-2-4 of n bytes. */
uint64_t store_siphash(const struct store_hash_key *k, const void *data, size_t n);

/* The same, incrementally (hash of the concatenation of the updates). */
struct store_sip {
	uint64_t v0, v1, v2, v3;
	uint64_t m;   /* pending bytes, little-endian */
	unsigned nm;  /* how many */
	uint64_t len;
};
void store_sip_init(struct store_sip *s, const struct store_hash_key *k);
void store_sip_update(struct store_sip *s, const void *data, size_t n);
uint64_t store_sip_final(struct store_sip *s);

struct store_htab {
	struct store_hash_key key;
	struct store_hnode **b;
	size_t nb;                 /* power of two */
	size_t n;
};

struct store {
	struct store_htab by_name;
	struct store_htab by_arn;
	struct store_secret *head, *tail; /* creation order */
	size_t n_secrets;
	uint64_t next_secret_seq;
	struct store_kms_key *keys;
	size_t n_keys;
};

/* Initialise an empty store with a fresh random hash key. 0, CF_ENOMEM or
 * crypto_random's error. */
int store_init(struct store *st);
/* Free everything (wipes nothing secret: the store holds no plaintext). */
void store_release(struct store *st);

/* Lookups; borrowed results, NULL if absent. */
struct store_secret *store_find_name(const struct store *st, const char *name);
struct store_secret *store_find_arn(const struct store *st, const char *arn);
/* SecretId resolution: full ARN, then name, then partial ARN (the ARN without
 * its "-XXXXXX" suffix). Finds secrets scheduled for deletion too. */
struct store_secret *store_resolve(const struct store *st, const char *id);

/* Create a secret (name, arn copied; seq assigned) and index it. Returns
 * the secret through *out (borrowed). CF_EEXIST if the name or ARN is taken,
 * CF_ENOMEM. */
int store_secret_add(struct store *st, const char *name, const char *arn, int64_t now_ms,
		     struct store_secret **out);
/* Unindex and free a secret with its versions, labels and tags. */
void store_secret_remove(struct store *st, struct store_secret *s);

/* Replace an optional string field (*field) with a copy of v (NULL clears). */
int store_set_str(char **field, const char *v);
/* Replace all tags (copied). */
int store_set_tags(struct store_secret *s, const char *const *keys, const char *const *values,
		   size_t n);

/* Versions. */
struct store_version *store_version_find(const struct store_secret *s, const char *id);
/* Append a new version (id copied, sealed transferred when non-NULL:
 * its pointers belong to the store afterwards and *sealed is zeroed).
 * CF_EEXIST if the id exists, CF_ENOMEM. */
int store_version_add(struct store_secret *s, const char *id, int64_t now_ms,
		      struct store_sealed *sealed, struct store_version **out);
/* Remove a version (and any label on it). */
void store_version_remove(struct store_secret *s, struct store_version *v);
void store_sealed_release(struct store_sealed *z);

/* Labels. */
struct store_version *store_label_get(const struct store_secret *s, const char *label);
/* Put label on v, taking it away from its current holder. CF_ENOMEM, or
 * CF_ETOOBIG when it would be the (STORE_MAX_LABELS+1)th label. */
int store_label_attach(struct store_secret *s, const char *label, struct store_version *v);
/* Remove label from whatever version holds it (no-op if none). */
void store_label_detach(struct store_secret *s, const char *label);
/* The labels on v (borrowed strings), at most STORE_MAX_LABELS, sorted. */
size_t store_version_labels(const struct store_secret *s, const struct store_version *v,
			    const char **out);

/* Version limit: how many unlabelled versions older than 24 h (by now_ms)
 * could be pruned, and prune the oldest of them until at most keep remain. */
size_t store_prunable(const struct store_secret *s, int64_t now_ms);
void store_prune(struct store_secret *s, int64_t now_ms, size_t keep);

/* KMS keys. add copies everything; CF_EEXIST when the id is taken. */
int store_kms_add(struct store *st, const char *key_id, const char *alias,
		  const uint8_t *wrapped, size_t wrapped_len, int64_t now_ms);
const struct store_kms_key *store_kms_find(const struct store *st, const char *id_or_alias);

/* Tests only: the bucket a key belongs in (depends on the table's key). */
size_t store__slot(const struct store_htab *t, const char *key);

#endif
