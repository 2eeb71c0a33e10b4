/* Unit tests for kms/: keyring files, envelope seal/open, AAD binding, value MAC,
 * derived keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "kms/kms.h"
#include "util/errors.h"
#include "util/secmem.h"

#define KEY_ID "2b1f4c1e-0000-4000-8000-000000000001"
#define VALUE "{\"password\":\"correct horse battery staple\"}"

struct fix {
	struct keyring *kr;
	uint8_t *wrapped;
	size_t wrapped_len;
	struct kms_key_ref ref;
	struct kms_aad aad;
	char dir[64];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	uint8_t root[32];

	if (f == NULL || crypto_random(root, sizeof(root)) != 0 ||
	    keyring_open_mem(root, &f->kr) != 0 ||
	    keyring_new_kms_key(f->kr, KEY_ID, &f->wrapped, &f->wrapped_len) != 0)
		return -1;
	f->ref = (struct kms_key_ref){KEY_ID, f->wrapped, f->wrapped_len};
	f->aad = (struct kms_aad){
		"us-east-1", "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf",
		"EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"};
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-test-kms-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/root.key", f->dir);
	unlink(path);
	rmdir(f->dir);
	keyring_free(f->kr);
	free(f->wrapped);
	free(f);
	return 0;
}

static void seal_value(struct fix *f, struct kms_sealed *s)
{
	assert_int_equal(kms_seal(f->kr, &f->ref, &f->aad, (const uint8_t *)VALUE, strlen(VALUE), s),
			 0);
}

static int open_value(struct keyring *kr, const struct kms_key_ref *ref,
		      const struct kms_aad *aad, const struct kms_sealed *s, struct secbuf *out)
{
	return kms_open(kr, ref, aad, s->wrapped_dk, s->wrapped_dk_len, s->ct, s->ct_len, out);
}

static void test_round_trip(void **state)
{
	struct fix *f = *state;
	struct kms_sealed s;
	struct secbuf v = {NULL, 0};

	seal_value(f, &s);
	assert_int_equal(s.ct_len, strlen(VALUE) + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN);
	assert_null(memmem(s.ct, s.ct_len, "password", 8));
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), 0);
	assert_int_equal(v.len, strlen(VALUE));
	assert_string_equal((const char *)v.data, VALUE); /* NUL-terminated */
	secbuf_free(&v);
	kms_sealed_release(&s);

	/* empty values work too */
	assert_int_equal(kms_seal(f->kr, &f->ref, &f->aad, NULL, 0, &s), 0);
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), 0);
	assert_int_equal(v.len, 0);
	assert_string_equal((const char *)v.data, "");
	secbuf_free(&v);
	kms_sealed_release(&s);
}

static void test_fresh_data_key_per_seal(void **state)
{
	struct fix *f = *state;
	struct kms_sealed a, b;

	seal_value(f, &a);
	seal_value(f, &b);
	assert_memory_not_equal(a.wrapped_dk, b.wrapped_dk, a.wrapped_dk_len);
	assert_memory_not_equal(a.ct, b.ct, a.ct_len);
	kms_sealed_release(&a);
	kms_sealed_release(&b);
}

static void test_wrong_aad_fails(void **state)
{
	struct fix *f = *state;
	struct kms_sealed s;
	struct secbuf v = {NULL, 0};
	struct kms_aad bad;
	struct kms_key_ref ref;

	seal_value(f, &s);

	bad = f->aad;
	bad.region = "us-west-2";
	assert_int_equal(open_value(f->kr, &f->ref, &bad, &s, &v), CF_ECRYPTO);
	assert_null(v.data);

	bad = f->aad;
	bad.arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-XyZxYz";
	assert_int_equal(open_value(f->kr, &f->ref, &bad, &s, &v), CF_ECRYPTO);

	bad = f->aad;
	bad.version_id = "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE";
	assert_int_equal(open_value(f->kr, &f->ref, &bad, &s, &v), CF_ECRYPTO);

	/* moving a ':' between fields must not verify (AAD is length-prefixed) */
	{
		struct kms_aad a1 = {"r:a", "b", "v"}, a2 = {"r", "a:b", "v"};
		struct kms_sealed s2;

		assert_int_equal(kms_seal(f->kr, &f->ref, &a1, (const uint8_t *)"x", 1, &s2), 0);
		assert_int_equal(open_value(f->kr, &f->ref, &a2, &s2, &v), CF_ECRYPTO);
		assert_int_equal(open_value(f->kr, &f->ref, &a1, &s2, &v), 0);
		secbuf_free(&v);
		kms_sealed_release(&s2);
	}

	/* the same wrapped material presented under another key id */
	ref = f->ref;
	ref.key_id = "2b1f4c1e-0000-4000-8000-000000000002";
	assert_int_equal(open_value(f->kr, &ref, &f->aad, &s, &v), CF_ECRYPTO);

	/* and the right AAD still opens */
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), 0);
	secbuf_free(&v);
	kms_sealed_release(&s);
}

static void test_wrong_key_fails(void **state)
{
	struct fix *f = *state;
	struct kms_sealed s;
	struct secbuf v = {NULL, 0};
	struct kms_key_ref other;
	uint8_t *w2 = NULL;
	size_t w2_len = 0;
	struct keyring *kr2 = NULL;
	uint8_t root2[32];

	seal_value(f, &s);

	/* another KMS key under the same root */
	assert_int_equal(keyring_new_kms_key(f->kr, "other-key", &w2, &w2_len), 0);
	other = (struct kms_key_ref){"other-key", w2, w2_len};
	assert_int_equal(open_value(f->kr, &other, &f->aad, &s, &v), CF_ECRYPTO);

	/* the right wrapped key, but another root key cannot unwrap it */
	assert_int_equal(crypto_random(root2, sizeof(root2)), 0);
	assert_int_equal(keyring_open_mem(root2, &kr2), 0);
	assert_int_equal(open_value(kr2, &f->ref, &f->aad, &s, &v), CF_ECRYPTO);
	assert_int_equal(kms_seal(kr2, &f->ref, &f->aad, (const uint8_t *)"x", 1, &s), CF_ECRYPTO);

	/* tampering with any blob */
	s.wrapped_dk[5] ^= 1;
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), CF_ECRYPTO);
	s.wrapped_dk[5] ^= 1;
	s.ct[s.ct_len - 1] ^= 1;
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), CF_ECRYPTO);
	s.ct[s.ct_len - 1] ^= 1;
	s.ct[0] ^= 1; /* nonce */
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), CF_ECRYPTO);
	s.ct[0] ^= 1;
	assert_int_equal(kms_open(f->kr, &f->ref, &f->aad, s.wrapped_dk, s.wrapped_dk_len, s.ct, 27,
				  &v),
			 CF_ECRYPTO);
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), 0);
	secbuf_free(&v);

	keyring_free(kr2);
	free(w2);
	kms_sealed_release(&s);
}

/* A wrapped blob that does not unwrap is refused even when the key id is
 * cached: the cache is keyed by the wrapped bytes too. */
static void test_cache_checks_wrapped_blob(void **state)
{
	struct fix *f = *state;
	struct kms_sealed s;
	struct secbuf v = {NULL, 0};
	struct kms_key_ref ref = f->ref;
	uint8_t bad[64];
	uint8_t *w2 = NULL;
	size_t w2_len = 0;

	seal_value(f, &s); /* populates the cache for KEY_ID */
	memcpy(bad, f->wrapped, f->wrapped_len);
	bad[20] ^= 1;
	ref.wrapped = bad;
	assert_int_equal(open_value(f->kr, &ref, &f->aad, &s, &v), CF_ECRYPTO);

	/* a replaced key under the same id: new material is used, old seals fail */
	assert_int_equal(keyring_new_kms_key(f->kr, KEY_ID, &w2, &w2_len), 0);
	ref.wrapped = w2;
	ref.wrapped_len = w2_len;
	assert_int_equal(open_value(f->kr, &ref, &f->aad, &s, &v), CF_ECRYPTO);
	assert_int_equal(open_value(f->kr, &f->ref, &f->aad, &s, &v), 0);
	secbuf_free(&v);
	kms_sealed_release(&s);
	free(w2);

	/* a wrong length is refused outright */
	ref = f->ref;
	ref.wrapped_len -= 1;
	assert_int_not_equal(kms_seal(f->kr, &ref, &f->aad, (const uint8_t *)"x", 1, &s), 0);
}

static void test_value_mac(void **state)
{
	struct fix *f = *state;
	uint8_t a[32], b[32], c[32], d[32];
	uint8_t *w2 = NULL;
	size_t w2_len = 0;
	struct kms_key_ref other;

	assert_int_equal(kms_value_mac(f->kr, &f->ref, (const uint8_t *)"v1", 2, a), 0);
	assert_int_equal(kms_value_mac(f->kr, &f->ref, (const uint8_t *)"v1", 2, b), 0);
	assert_memory_equal(a, b, 32);
	assert_int_equal(kms_value_mac(f->kr, &f->ref, (const uint8_t *)"v2", 2, c), 0);
	assert_memory_not_equal(a, c, 32);

	/* a different KMS key gives a different MAC for the same value */
	assert_int_equal(keyring_new_kms_key(f->kr, "other-key", &w2, &w2_len), 0);
	other = (struct kms_key_ref){"other-key", w2, w2_len};
	assert_int_equal(kms_value_mac(f->kr, &other, (const uint8_t *)"v1", 2, d), 0);
	assert_memory_not_equal(a, d, 32);

	/* not a plain HMAC keyed by nothing/empty: differs from HMAC("", v1) */
	assert_int_equal(crypto_hmac_sha256("", 0, "v1", 2, d), 0);
	assert_memory_not_equal(a, d, 32);
	free(w2);
}

static void test_derive(void **state)
{
	static const char info[] = KMS_INFO_RAFT_PEER_AUTH;
	uint8_t root[32], root2[32], a[32], b[32], c[32], d[32], prk[32], m[64];
	struct keyring *k1 = NULL, *k2 = NULL, *k3 = NULL;
	const uint8_t zeros[32] = {0};

	(void)state;
	assert_string_equal(info, "coffer raft peer auth v1");
	memset(root, 0x5a, sizeof root);
	memset(root2, 0x5a, sizeof root2);
	root2[31] ^= 1;
	assert_int_equal(keyring_open_mem(root, &k1), 0);
	assert_int_equal(keyring_open_mem(root, &k2), 0);
	assert_int_equal(keyring_open_mem(root2, &k3), 0);

	/* deterministic: same root and info, same key, on every "node" */
	assert_int_equal(keyring_derive(k1, info, a), 0);
	assert_int_equal(keyring_derive(k2, info, b), 0);
	assert_memory_equal(a, b, 32);
	assert_int_equal(keyring_derive(k1, info, b), 0);
	assert_memory_equal(a, b, 32);
	assert_memory_not_equal(a, root, 32);
	assert_memory_not_equal(a, zeros, 32);

	/* HKDF-SHA256, zero salt, one block: PRK = HMAC(0^32, root), OKM = HMAC(PRK, info || 1) */
	assert_int_equal(crypto_hmac_sha256(zeros, 32, root, 32, prk), 0);
	memcpy(m, info, sizeof info - 1);
	m[sizeof info - 1] = 1;
	assert_int_equal(crypto_hmac_sha256(prk, 32, m, sizeof info, c), 0);
	assert_memory_equal(a, c, 32);

	/* different info or a different root: unrelated keys */
	assert_int_equal(keyring_derive(k1, "coffer raft peer auth v2", c), 0);
	assert_memory_not_equal(a, c, 32);
	assert_int_equal(keyring_derive(k3, info, d), 0);
	assert_memory_not_equal(a, d, 32);
	assert_memory_not_equal(c, d, 32);

	/* info is required */
	assert_int_equal(keyring_derive(k1, NULL, d), CF_EINVAL);
	assert_int_equal(keyring_derive(k1, "", d), CF_EINVAL);
	keyring_free(k1);
	keyring_free(k2);
	keyring_free(k3);
}

static void test_file_create_reopen(void **state)
{
	struct fix *f = *state;
	char path[128], err[256] = "";
	struct keyring *k1 = NULL, *k2 = NULL;
	uint8_t *w = NULL;
	size_t w_len = 0;
	struct kms_key_ref ref;
	struct kms_sealed s;
	struct secbuf v = {NULL, 0};
	struct stat st;

	snprintf(path, sizeof(path), "%s/root.key", f->dir);
	/* missing without create */
	assert_int_not_equal(keyring_open_file(path, 0, &k1, err), 0);
	assert_non_null(strstr(err, "root.key"));

	assert_int_equal(keyring_open_file(path, 1, &k1, err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);

	assert_int_equal(keyring_new_kms_key(k1, KEY_ID, &w, &w_len), 0);
	ref = (struct kms_key_ref){KEY_ID, w, w_len};
	assert_int_equal(kms_seal(k1, &ref, &f->aad, (const uint8_t *)VALUE, strlen(VALUE), &s), 0);

	/* reopen (create set, file exists): same root key, so it opens */
	assert_int_equal(keyring_open_file(path, 1, &k2, err), 0);
	assert_int_equal(open_value(k2, &ref, &f->aad, &s, &v), 0);
	assert_string_equal((const char *)v.data, VALUE);
	secbuf_free(&v);
	keyring_free(k2);
	k2 = NULL;

	/* and the in-memory root is not the file's: a different keyring fails */
	assert_int_equal(open_value(f->kr, &ref, &f->aad, &s, &v), CF_ECRYPTO);

	kms_sealed_release(&s);
	free(w);
	keyring_free(k1);
}

static void test_file_permissions(void **state)
{
	struct fix *f = *state;
	char path[128], err[256] = "";
	struct keyring *k = NULL;
	FILE *fp;
	uint8_t root[32] = {1};

	snprintf(path, sizeof(path), "%s/root.key", f->dir);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(root, 1, sizeof(root), fp), sizeof(root));
	fclose(fp);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_not_equal(keyring_open_file(path, 0, &k, err), 0);
	assert_null(k);
	assert_non_null(strstr(err, "readable by group or others"));

	assert_int_equal(chmod(path, 0640), 0);
	err[0] = '\0';
	assert_int_not_equal(keyring_open_file(path, 1, &k, err), 0);
	assert_non_null(strstr(err, "readable by group or others"));

	assert_int_equal(chmod(path, 0604), 0);
	assert_int_not_equal(keyring_open_file(path, 0, &k, err), 0);

	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(keyring_open_file(path, 0, &k, err), 0);
	keyring_free(k);
	k = NULL;

	/* wrong length */
	assert_int_equal(chmod(path, 0600), 0);
	fp = fopen(path, "ab");
	assert_non_null(fp);
	fputc('x', fp);
	fclose(fp);
	assert_int_not_equal(keyring_open_file(path, 0, &k, err), 0);
	assert_non_null(strstr(err, "32 bytes"));
	assert_null(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_data_key_per_seal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_aad_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_checks_wrapped_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_mac, setup, teardown),
		cmocka_unit_test(test_derive),
		cmocka_unit_test_setup_teardown(test_file_create_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_permissions, setup, teardown),
	};

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
