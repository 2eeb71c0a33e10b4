/*
 * kms: the keyring. The region's root key (256 bit, from the dev key file,
 * later Shamir/PKCS#11) wraps KMS keys; the wrapped KMS keys live in the FSM.
 * A KMS key wraps a fresh data key per secret version; the data key encrypts
 * the value with AES-256-GCM. Unwrapped key material is cached here, in the
 * secure heap, by key id. Pure: no libuv, no raft. Not thread-safe: one
 * keyring per loop thread.
 *
 * AAD (both layers) binds: region, secret ARN, version id, KMS key id.
 */
#ifndef COFFER_KMS_KMS_H
#define COFFER_KMS_KMS_H

#include <stddef.h>
#include <stdint.h>

#include "util/secmem.h"

#define KMS_DEFAULT_KEY_ALIAS "aws/secretsmanager"

struct keyring; /* opaque */

/* Load the root key from path (32 raw bytes, must be mode 0600 or stricter);
 * if create is set and the file does not exist, generate it (mode 0600).
 * errmsg (borrowed, >= 256 bytes) receives the reason on failure. */
int keyring_open_file(const char *path, int create, struct keyring **out, char *errmsg);
/* Build a keyring from a root key held in memory (tests). Copied. */
int keyring_open_mem(const uint8_t root[32], struct keyring **out);
/* Wipe every key and free. NULL ok. */
void keyring_free(struct keyring *kr);

/* A purpose-bound key derived from the root key: HKDF-SHA256 (zero salt,
 * one 32-byte block) with info as the label, e.g. KMS_INFO_RAFT_PEER_AUTH.
 * Deterministic: every node holding the same root key derives the same
 * bytes. out is key material: the caller wipes it (OPENSSL_cleanse).
 * 0, CF_EINVAL (no/empty/overlong info), CF_ENOMEM, CF_ECRYPTO. */
#define KMS_INFO_RAFT_PEER_AUTH "coffer raft peer auth v1"
int keyring_derive(struct keyring *kr, const char *info, uint8_t out[32]);

/* A KMS key as stored in the FSM. All fields borrowed. */
struct kms_key_ref {
	const char *key_id;     /* e.g. the key's UUID or ARN */
	const uint8_t *wrapped; /* material wrapped under the root key */
	size_t wrapped_len;
};

/* Generate a new KMS key's material and return it wrapped under the root key
 * (malloc'ed, caller frees with free(); ciphertext, safe to propose). */
int keyring_new_kms_key(struct keyring *kr, const char *key_id, uint8_t **wrapped,
			size_t *wrapped_len);

/* AAD fields for one version value. Borrowed. */
struct kms_aad {
	const char *region;
	const char *arn;
	const char *version_id;
};

/* An envelope-encrypted value: everything malloc'ed, ciphertext only. */
struct kms_sealed {
	uint8_t *wrapped_dk;  /* data key wrapped under the KMS key (nonce || ct || tag) */
	size_t wrapped_dk_len;
	uint8_t *ct;          /* nonce || ciphertext || tag of the value */
	size_t ct_len;
};
void kms_sealed_release(struct kms_sealed *s);

/* Encrypt pt under a fresh data key wrapped by key. 0, CF_ECRYPTO, CF_ENOMEM. */
int kms_seal(struct keyring *kr, const struct kms_key_ref *key, const struct kms_aad *aad,
	     const uint8_t *pt, size_t n, struct kms_sealed *out);
/* Decrypt into a fresh secure buffer (out->data NUL-terminated). CF_ECRYPTO
 * when any tag fails (wrong key, wrong AAD, tampering). */
int kms_open(struct keyring *kr, const struct kms_key_ref *key, const struct kms_aad *aad,
	     const uint8_t *wrapped_dk, size_t wrapped_dk_len, const uint8_t *ct, size_t ct_len,
	     struct secbuf *out);

/* Keyed MAC of a plaintext value under a key derived from the KMS key, so
 * that apply() can tell "same token, same value" from "same token, other
 * value" without seeing the value. Deterministic for (key, pt). */
int kms_value_mac(struct keyring *kr, const struct kms_key_ref *key, const uint8_t *pt,
		  size_t n, uint8_t mac_out[32]);

#endif
