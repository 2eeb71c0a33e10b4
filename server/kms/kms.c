/*
 * kms: the keyring. The root key (32 bytes, secure heap) wraps KMS key
 * material; KMS material wraps one fresh data key per sealed value; the data
 * key encrypts the value. Every layer is AES-256-GCM, stored as
 * nonce || ciphertext || tag.
 *
 * Associated data (AAD) is a fixed label followed by length-prefixed fields,
 * so no choice of field contents can make two different tuples collide:
 *
 *   KMS key wrap:  "coffer-kms-key:" key_id                 (one field, no prefix needed)
 *   data key wrap: "coffer-dk"    || lp(key_id) || lp(region) || lp(arn) || lp(version_id)
 *   value:         "coffer-value" || lp(region) || lp(arn) || lp(version_id) || lp(key_id)
 *
 * where lp(s) = 4-byte big-endian length of s, then the bytes of s. Each
 * field is at most KMS_FIELD_MAX bytes.
 *
 * The value-MAC key is HKDF-SHA256(ikm = KMS material, salt = 32 zero bytes,
 * info = "coffer-value-mac"), one output block (RFC 5869). keyring_derive
 * gives the same construction over the root key with the caller's info
 * (e.g. the raft peer-authentication key, info "coffer raft peer auth v1").
 * Outputs under distinct info strings are independent keys; the root key
 * itself stays an AES-GCM key only and never leaves the keyring.
 *
 * Unwrapped KMS material is cached by key id in the secure heap, together with
 * a copy of the wrapped blob it came from: a hit requires the same key id and
 * the same wrapped bytes, so a rotated or replaced key is never served stale.
 * Failure modes: a tag that does not verify (wrong root key, wrong AAD,
 * tampering) is CF_ECRYPTO; the reason never includes key bytes or values.
 */
#include "kms/kms.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "util/errors.h"
#include "util/secfile.h"
#include "util/secmem.h"

#define KMS_WRAPPED_LEN (CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN + CRYPTO_TAG_LEN)
#define KMS_ENVELOPE_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define KMS_FIELD_MAX 4096
#define KMS_CACHE_SLOTS 32
#define KMS_AAD_STACK 1024
#define KMS_ERRMSG_LEN 256

#define LABEL_KMS_KEY "coffer-kms-key:"
#define LABEL_DK "coffer-dk"
#define LABEL_VALUE "coffer-value"
#define INFO_VALUE_MAC "coffer-value-mac"

/* Secret half of a cache slot; lives in the secure heap. */
struct kms_material {
	uint8_t key[CRYPTO_KEY_LEN];     /* unwrapped KMS key material */
	uint8_t mac_key[CRYPTO_KEY_LEN]; /* derived value-MAC key, valid if has_mac_key */
	int has_mac_key;
};

struct kms_slot {
	char *key_id; /* malloc'ed; NULL when the slot is empty */
	uint8_t wrapped[KMS_WRAPPED_LEN];
	struct kms_material *m; /* secmem */
};

struct keyring {
	uint8_t *root; /* secmem, CRYPTO_KEY_LEN bytes */
	struct kms_slot slots[KMS_CACHE_SLOTS];
	unsigned next_victim; /* round-robin eviction */
};

/* Growable-once AAD buffer: stack storage for the usual sizes. */
struct aad {
	uint8_t stack[KMS_AAD_STACK];
	uint8_t *p;
	size_t len;
	size_t cap;
};

static int aad_build(struct aad *a, const char *label, const char *const *fields, int nfields)
{
	size_t need = strlen(label);
	size_t lens[4];

	for (int i = 0; i < nfields; i++) {
		if (fields[i] == NULL)
			return CF_EINVAL;
		lens[i] = strnlen(fields[i], KMS_FIELD_MAX + 1);
		if (lens[i] > KMS_FIELD_MAX)
			return CF_EINVAL;
		need += 4 + lens[i];
	}
	a->p = a->stack;
	a->cap = sizeof(a->stack);
	if (need > a->cap) {
		if ((a->p = malloc(need)) == NULL)
			return CF_ENOMEM;
		a->cap = need;
	}
	a->len = strlen(label);
	memcpy(a->p, label, a->len);
	for (int i = 0; i < nfields; i++) {
		uint8_t *q = a->p + a->len;

		q[0] = (uint8_t)(lens[i] >> 24);
		q[1] = (uint8_t)(lens[i] >> 16);
		q[2] = (uint8_t)(lens[i] >> 8);
		q[3] = (uint8_t)lens[i];
		memcpy(q + 4, fields[i], lens[i]);
		a->len += 4 + lens[i];
	}
	return 0;
}

static void aad_release(struct aad *a)
{
	if (a->p != NULL && a->p != a->stack)
		free(a->p);
	a->p = NULL;
}

/* "coffer-kms-key:" + key_id; a single field after a fixed label. */
static int aad_kms_key(struct aad *a, const char *key_id)
{
	size_t n;

	if (key_id == NULL || (n = strnlen(key_id, KMS_FIELD_MAX + 1)) == 0 || n > KMS_FIELD_MAX)
		return CF_EINVAL;
	a->p = a->stack;
	a->cap = sizeof(a->stack);
	a->len = sizeof(LABEL_KMS_KEY) - 1 + n;
	if (a->len > a->cap && (a->p = malloc(a->len)) == NULL)
		return CF_ENOMEM;
	memcpy(a->p, LABEL_KMS_KEY, sizeof(LABEL_KMS_KEY) - 1);
	memcpy(a->p + sizeof(LABEL_KMS_KEY) - 1, key_id, n);
	return 0;
}

static void set_err(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (errmsg == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, KMS_ERRMSG_LEN, fmt, ap);
	va_end(ap);
}

static int keyring_new(const uint8_t root[CRYPTO_KEY_LEN], struct keyring **out)
{
	struct keyring *kr = calloc(1, sizeof(*kr));

	if (kr == NULL)
		return CF_ENOMEM;
	if ((kr->root = secmem_alloc(CRYPTO_KEY_LEN)) == NULL) {
		free(kr);
		return CF_ENOMEM;
	}
	memcpy(kr->root, root, CRYPTO_KEY_LEN);
	*out = kr;
	return 0;
}

int keyring_open_mem(const uint8_t root[32], struct keyring **out)
{
	return keyring_new(root, out);
}

/* Create path exclusively with a fresh root key. 0, CF_EEXIST (lost a race
 * or file appeared), or another CF_E* with errmsg set. */
static int create_root_file(const char *path, uint8_t *root, char *errmsg)
{
	int rv;

	if ((rv = crypto_random(root, CRYPTO_KEY_LEN)) != 0) {
		set_err(errmsg, "root key file '%s': random generator failed", path);
		return rv;
	}
	return secfile_create(path, "root key file", root, CRYPTO_KEY_LEN, errmsg);
}

/* Read exactly CRYPTO_KEY_LEN bytes from an owner-only regular file. */
static int read_root_file(const char *path, uint8_t *root, char *errmsg)
{
	struct secbuf b = {NULL, 0};
	int rv;

	rv = secfile_read(path, "root key file", CRYPTO_KEY_LEN, CRYPTO_KEY_LEN, &b, errmsg);
	if (rv != 0)
		return rv;
	memcpy(root, b.data, CRYPTO_KEY_LEN);
	secbuf_free(&b);
	return 0;
}

int keyring_open_file(const char *path, int create, struct keyring **out, char *errmsg)
{
	uint8_t *root = NULL;
	int rv = CF_ENOMEM;

	if ((root = secmem_alloc(CRYPTO_KEY_LEN)) == NULL) {
		set_err(errmsg, "root key file '%s': out of secure memory", path);
		goto out;
	}
	rv = read_root_file(path, root, errmsg);
	if (rv == CF_ENOTFOUND && create) {
		rv = create_root_file(path, root, errmsg);
		if (rv == CF_EEXIST) /* someone else created it first: use theirs */
			rv = read_root_file(path, root, errmsg);
	}
	if (rv != 0)
		goto out;
	if ((rv = keyring_new(root, out)) != 0)
		set_err(errmsg, "root key file '%s': out of memory", path);
out:
	secmem_free(root);
	return rv;
}

static void slot_clear(struct kms_slot *s)
{
	free(s->key_id);
	s->key_id = NULL;
	secmem_free(s->m);
	s->m = NULL;
}

void keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	for (int i = 0; i < KMS_CACHE_SLOTS; i++)
		slot_clear(&kr->slots[i]);
	secmem_free(kr->root);
	free(kr);
}

/* Remember material for (key_id, wrapped). Best effort: a failed insert only
 * costs a later unwrap. */
static struct kms_material *cache_put(struct keyring *kr, const char *key_id,
				      const uint8_t *wrapped, const uint8_t *key)
{
	struct kms_slot *s = NULL;

	for (int i = 0; i < KMS_CACHE_SLOTS; i++) {
		if (kr->slots[i].key_id == NULL) {
			s = &kr->slots[i];
			break;
		}
		if (strcmp(kr->slots[i].key_id, key_id) == 0) {
			s = &kr->slots[i]; /* the key was replaced: overwrite its slot */
			break;
		}
	}
	if (s == NULL) {
		s = &kr->slots[kr->next_victim];
		kr->next_victim = (kr->next_victim + 1) % KMS_CACHE_SLOTS;
	}
	slot_clear(s);
	s->key_id = strdup(key_id);
	s->m = secmem_alloc(sizeof(*s->m));
	if (s->key_id == NULL || s->m == NULL) {
		slot_clear(s);
		return NULL;
	}
	memcpy(s->wrapped, wrapped, KMS_WRAPPED_LEN);
	memcpy(s->m->key, key, CRYPTO_KEY_LEN);
	return s->m;
}

/* The unwrapped material for key, from the cache or by unwrapping it under
 * the root key. Returned pointer is owned by kr, valid until the next call
 * that may evict. Never NULL on success. */
static int material_get(struct keyring *kr, const struct kms_key_ref *key,
			struct kms_material **out)
{
	struct aad a = {.p = NULL};
	uint8_t *tmp = NULL;
	int rv = CF_EINVAL;

	if (key == NULL || key->key_id == NULL || key->wrapped == NULL ||
	    key->wrapped_len != KMS_WRAPPED_LEN)
		return CF_EINVAL;
	for (int i = 0; i < KMS_CACHE_SLOTS; i++) {
		struct kms_slot *s = &kr->slots[i];

		if (s->key_id != NULL && strcmp(s->key_id, key->key_id) == 0 &&
		    memcmp(s->wrapped, key->wrapped, KMS_WRAPPED_LEN) == 0) {
			*out = s->m;
			return 0;
		}
	}
	if ((rv = aad_kms_key(&a, key->key_id)) != 0)
		goto out;
	rv = CF_ENOMEM;
	if ((tmp = secmem_alloc(CRYPTO_KEY_LEN)) == NULL)
		goto out;
	rv = crypto_aead_open(kr->root, a.p, a.len, key->wrapped, key->wrapped + CRYPTO_NONCE_LEN,
			      CRYPTO_KEY_LEN + CRYPTO_TAG_LEN, tmp);
	if (rv != 0)
		goto out;
	rv = CF_ENOMEM;
	if ((*out = cache_put(kr, key->key_id, key->wrapped, tmp)) == NULL)
		goto out;
	rv = 0;
out:
	secmem_free(tmp);
	aad_release(&a);
	return rv;
}

int keyring_new_kms_key(struct keyring *kr, const char *key_id, uint8_t **wrapped,
			size_t *wrapped_len)
{
	struct aad a = {.p = NULL};
	uint8_t *material = NULL;
	uint8_t *w = NULL;
	int rv;

	if ((rv = aad_kms_key(&a, key_id)) != 0)
		goto out;
	rv = CF_ENOMEM;
	if ((material = secmem_alloc(CRYPTO_KEY_LEN)) == NULL || (w = malloc(KMS_WRAPPED_LEN)) == NULL)
		goto out;
	if ((rv = crypto_random(material, CRYPTO_KEY_LEN)) != 0)
		goto out;
	rv = crypto_aead_seal(kr->root, a.p, a.len, material, CRYPTO_KEY_LEN, w,
			      w + CRYPTO_NONCE_LEN);
	if (rv != 0)
		goto out;
	(void)cache_put(kr, key_id, w, material);
	*wrapped = w;
	*wrapped_len = KMS_WRAPPED_LEN;
	w = NULL;
	rv = 0;
out:
	free(w);
	secmem_free(material);
	aad_release(&a);
	return rv;
}

void kms_sealed_release(struct kms_sealed *s)
{
	if (s == NULL)
		return;
	free(s->wrapped_dk);
	free(s->ct);
	memset(s, 0, sizeof(*s));
}

static int aad_dk(struct aad *a, const char *key_id, const struct kms_aad *f)
{
	const char *fields[4] = {key_id, f->region, f->arn, f->version_id};

	return aad_build(a, LABEL_DK, fields, 4);
}

static int aad_value(struct aad *a, const char *key_id, const struct kms_aad *f)
{
	const char *fields[4] = {f->region, f->arn, f->version_id, key_id};

	return aad_build(a, LABEL_VALUE, fields, 4);
}

int kms_seal(struct keyring *kr, const struct kms_key_ref *key, const struct kms_aad *aad,
	     const uint8_t *pt, size_t n, struct kms_sealed *out)
{
	struct aad a_dk = {.p = NULL}, a_val = {.p = NULL};
	struct kms_sealed s = {0};
	struct kms_material *m;
	uint8_t *dk = NULL;
	int rv;

	if (aad == NULL || out == NULL || (pt == NULL && n > 0) ||
	    n > SIZE_MAX - KMS_ENVELOPE_OVERHEAD)
		return CF_EINVAL;
	if ((rv = material_get(kr, key, &m)) != 0)
		goto out;
	if ((rv = aad_dk(&a_dk, key->key_id, aad)) != 0 ||
	    (rv = aad_value(&a_val, key->key_id, aad)) != 0)
		goto out;
	rv = CF_ENOMEM;
	if ((dk = secmem_alloc(CRYPTO_KEY_LEN)) == NULL)
		goto out;
	s.wrapped_dk_len = KMS_WRAPPED_LEN;
	s.ct_len = n + KMS_ENVELOPE_OVERHEAD;
	if ((s.wrapped_dk = malloc(s.wrapped_dk_len)) == NULL || (s.ct = malloc(s.ct_len)) == NULL)
		goto out;
	if ((rv = crypto_random(dk, CRYPTO_KEY_LEN)) != 0)
		goto out;
	rv = crypto_aead_seal(m->key, a_dk.p, a_dk.len, dk, CRYPTO_KEY_LEN, s.wrapped_dk,
			      s.wrapped_dk + CRYPTO_NONCE_LEN);
	if (rv != 0)
		goto out;
	rv = crypto_aead_seal(dk, a_val.p, a_val.len, pt, n, s.ct, s.ct + CRYPTO_NONCE_LEN);
	if (rv != 0)
		goto out;
	*out = s;
	memset(&s, 0, sizeof(s));
	rv = 0;
out:
	kms_sealed_release(&s);
	secmem_free(dk);
	aad_release(&a_dk);
	aad_release(&a_val);
	return rv;
}

int kms_open(struct keyring *kr, const struct kms_key_ref *key, const struct kms_aad *aad,
	     const uint8_t *wrapped_dk, size_t wrapped_dk_len, const uint8_t *ct, size_t ct_len,
	     struct secbuf *out)
{
	struct aad a_dk = {.p = NULL}, a_val = {.p = NULL};
	struct kms_material *m;
	struct secbuf v = {NULL, 0};
	uint8_t *dk = NULL;
	int rv;

	if (aad == NULL || out == NULL || wrapped_dk == NULL || ct == NULL)
		return CF_EINVAL;
	if (wrapped_dk_len != KMS_WRAPPED_LEN || ct_len < KMS_ENVELOPE_OVERHEAD)
		return CF_ECRYPTO;
	if ((rv = material_get(kr, key, &m)) != 0)
		goto out;
	if ((rv = aad_dk(&a_dk, key->key_id, aad)) != 0 ||
	    (rv = aad_value(&a_val, key->key_id, aad)) != 0)
		goto out;
	rv = CF_ENOMEM;
	if ((dk = secmem_alloc(CRYPTO_KEY_LEN)) == NULL)
		goto out;
	rv = crypto_aead_open(m->key, a_dk.p, a_dk.len, wrapped_dk, wrapped_dk + CRYPTO_NONCE_LEN,
			      CRYPTO_KEY_LEN + CRYPTO_TAG_LEN, dk);
	if (rv != 0)
		goto out;
	if ((rv = secbuf_alloc(&v, ct_len - KMS_ENVELOPE_OVERHEAD)) != 0)
		goto out;
	rv = crypto_aead_open(dk, a_val.p, a_val.len, ct, ct + CRYPTO_NONCE_LEN,
			      ct_len - CRYPTO_NONCE_LEN, v.data);
	if (rv != 0)
		goto out;
	*out = v; /* secbuf_alloc zeroed one extra byte: NUL-terminated */
	v.data = NULL;
	rv = 0;
out:
	secbuf_free(&v);
	secmem_free(dk);
	aad_release(&a_dk);
	aad_release(&a_val);
	return rv;
}

/* HKDF-SHA256 (RFC 5869) with a zero salt and one output block:
 * PRK = HMAC(zeros, ikm); OKM = HMAC(PRK, info || 1). */
static int hkdf_block(const uint8_t ikm[CRYPTO_KEY_LEN], const char *info,
		      uint8_t okm[CRYPTO_KEY_LEN])
{
	static const uint8_t salt[CRYPTO_SHA256_LEN] = {0};
	uint8_t prk[CRYPTO_SHA256_LEN];
	uint8_t stack[KMS_AAD_STACK];
	size_t n = strnlen(info, KMS_FIELD_MAX + 1);
	int rv;

	if (n > sizeof(stack) - 1)
		return CF_EINVAL;
	memcpy(stack, info, n);
	stack[n] = 0x01;
	rv = crypto_hmac_sha256(salt, sizeof(salt), ikm, CRYPTO_KEY_LEN, prk);
	if (rv == 0)
		rv = crypto_hmac_sha256(prk, sizeof(prk), stack, n + 1, okm);
	OPENSSL_cleanse(prk, sizeof(prk));
	return rv;
}

static int derive_mac_key(const uint8_t ikm[CRYPTO_KEY_LEN], uint8_t okm[CRYPTO_KEY_LEN])
{
	return hkdf_block(ikm, INFO_VALUE_MAC, okm);
}

int keyring_derive(struct keyring *kr, const char *info, uint8_t out[32])
{
	int rv;

	if (kr == NULL || info == NULL || info[0] == '\0' || out == NULL)
		return CF_EINVAL;
	rv = hkdf_block(kr->root, info, out);
	if (rv != 0)
		OPENSSL_cleanse(out, CRYPTO_KEY_LEN);
	return rv;
}

int kms_value_mac(struct keyring *kr, const struct kms_key_ref *key, const uint8_t *pt,
		  size_t n, uint8_t mac_out[32])
{
	struct kms_material *m;
	int rv;

	if (pt == NULL && n > 0)
		return CF_EINVAL;
	if ((rv = material_get(kr, key, &m)) != 0)
		return rv;
	if (!m->has_mac_key) {
		if ((rv = derive_mac_key(m->key, m->mac_key)) != 0)
			return rv;
		m->has_mac_key = 1;
	}
	return crypto_hmac_sha256(m->mac_key, CRYPTO_KEY_LEN, pt, n, mac_out);
}
