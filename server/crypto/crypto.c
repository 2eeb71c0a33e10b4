/*
 * crypto: thin wrappers over OpenSSL 3 EVP. The cipher, digest and an HMAC
 * template context are fetched once (pthread_once) and shared read-only by
 * every thread; each call makes only a short-lived EVP_*_CTX. Every OpenSSL
 * failure becomes CF_ECRYPTO (a failed GCM tag included) and the OpenSSL
 * error queue is cleared so it never leaks into an unrelated caller.
 * Lengths are bounded before they are cast to OpenSSL's int.
 */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/errors.h"

/* Largest single EVP update we issue; bigger inputs are processed in chunks. */
#define CHUNK_MAX ((size_t)1 << 30)

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_gcm;
static EVP_MD *sha256;
static EVP_MAC_CTX *hmac_template; /* HMAC with digest set, no key; dup'ed per call */

static void fetch_algorithms(void)
{
	EVP_MAC *mac = NULL;
	OSSL_PARAM params[2];

	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac != NULL) {
		hmac_template = EVP_MAC_CTX_new(mac);
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		if (hmac_template != NULL && !EVP_MAC_CTX_set_params(hmac_template, params)) {
			EVP_MAC_CTX_free(hmac_template);
			hmac_template = NULL;
		}
		EVP_MAC_free(mac); /* the context keeps its own reference */
	}
	ERR_clear_error();
}

static int ready(void)
{
	if (pthread_once(&fetch_once, fetch_algorithms) != 0)
		return 0;
	return aes_gcm != NULL && sha256 != NULL && hmac_template != NULL;
}

int crypto_random(uint8_t *out, size_t n)
{
	while (n > 0) {
		size_t k = n < CHUNK_MAX ? n : CHUNK_MAX;

		if (RAND_bytes(out, (int)k) != 1) {
			ERR_clear_error();
			return CF_ECRYPTO;
		}
		out += k;
		n -= k;
	}
	return 0;
}

/* Feed len bytes through EVP_{En,De}cryptUpdate in int-sized chunks. out may
 * be NULL (AAD). */
static int cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		size_t k = len < CHUNK_MAX ? len : CHUNK_MAX;
		int outl = 0;

		if (!EVP_CipherUpdate(ctx, out, &outl, in, (int)k) || (out != NULL && (size_t)outl != k))
			return CF_ECRYPTO;
		in += k;
		len -= k;
		if (out != NULL)
			out += k;
	}
	return 0;
}

int crypto_aead_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *aad, size_t aad_len,
		     const uint8_t *pt, size_t n, uint8_t nonce_out[CRYPTO_NONCE_LEN], uint8_t *ct)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int outl = 0;
	int rv = CF_ECRYPTO;

	if (!ready())
		goto out;
	if ((rv = crypto_random(nonce_out, CRYPTO_NONCE_LEN)) != 0)
		goto out;
	rv = CF_ENOMEM;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	rv = CF_ECRYPTO;
	/* GCM's default IV length is 96 bits, so no IVLEN parameter is needed */
	if (!EVP_EncryptInit_ex2(ctx, aes_gcm, key, nonce_out, NULL))
		goto out;
	if (cipher_update(ctx, NULL, aad, aad_len) != 0 || cipher_update(ctx, ct, pt, n) != 0)
		goto out;
	if (!EVP_EncryptFinal_ex(ctx, ct + n, &outl) || outl != 0)
		goto out;
	if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, ct + n))
		goto out;
	rv = 0;
out:
	if (rv != 0)
		ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
	return rv;
}

int crypto_aead_open(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *aad, size_t aad_len,
		     const uint8_t nonce[CRYPTO_NONCE_LEN], const uint8_t *ct, size_t ct_len,
		     uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag[CRYPTO_TAG_LEN];
	size_t n;
	int outl = 0;
	int rv = CF_ECRYPTO;

	if (ct_len < CRYPTO_TAG_LEN)
		return CF_ECRYPTO;
	n = ct_len - CRYPTO_TAG_LEN;
	if (!ready())
		goto out;
	rv = CF_ENOMEM;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	rv = CF_ECRYPTO;
	memcpy(tag, ct + n, CRYPTO_TAG_LEN);
	if (!EVP_DecryptInit_ex2(ctx, aes_gcm, key, nonce, NULL))
		goto out;
	if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag))
		goto out;
	if (cipher_update(ctx, NULL, aad, aad_len) != 0 || cipher_update(ctx, pt, ct, n) != 0)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, pt + n, &outl) != 1 || outl != 0)
		goto out;
	rv = 0;
out:
	if (rv != 0) {
		ERR_clear_error();
		/* never hand back unauthenticated plaintext */
		if (pt != NULL && n > 0)
			OPENSSL_cleanse(pt, n);
	}
	EVP_CIPHER_CTX_free(ctx);
	return rv;
}

int crypto_sha256(const void *data, size_t n, uint8_t out[CRYPTO_SHA256_LEN])
{
	EVP_MD_CTX *ctx = NULL;
	const uint8_t *p = data;
	int rv = CF_ECRYPTO;

	if (!ready())
		goto out;
	rv = CF_ENOMEM;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	rv = CF_ECRYPTO;
	if (!EVP_DigestInit_ex2(ctx, sha256, NULL))
		goto out;
	if (n > 0 && !EVP_DigestUpdate(ctx, p, n))
		goto out;
	if (!EVP_DigestFinal_ex(ctx, out, NULL))
		goto out;
	rv = 0;
out:
	if (rv != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rv;
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
		       uint8_t out[CRYPTO_SHA256_LEN])
{
	EVP_MAC_CTX *ctx = NULL;
	size_t outl = 0;
	int rv = CF_ECRYPTO;

	if (!ready())
		goto out;
	rv = CF_ENOMEM;
	if ((ctx = EVP_MAC_CTX_dup(hmac_template)) == NULL)
		goto out;
	rv = CF_ECRYPTO;
	/* HMAC accepts an empty key; OpenSSL wants a non-NULL pointer for it */
	if (!EVP_MAC_init(ctx, key_len > 0 ? key : (const void *)"", key_len, NULL))
		goto out;
	if (n > 0 && !EVP_MAC_update(ctx, data, n))
		goto out;
	if (!EVP_MAC_final(ctx, out, &outl, CRYPTO_SHA256_LEN) || outl != CRYPTO_SHA256_LEN)
		goto out;
	rv = 0;
out:
	if (rv != 0)
		ERR_clear_error();
	EVP_MAC_CTX_free(ctx); /* wipes the keyed pads */
	return rv;
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

int crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
