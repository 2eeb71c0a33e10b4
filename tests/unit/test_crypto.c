/* Unit tests for crypto/: AES-256-GCM, SHA-256, HMAC-SHA256, hex, RNG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "util/errors.h"
#include "util/secmem.h"

static void hex_of(const uint8_t *in, size_t n, char *out)
{
	crypto_hex(in, n, out);
}

static void test_sha256_vectors(void **state)
{
	uint8_t d[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];

	(void)state;
	assert_int_equal(crypto_sha256("", 0, d), 0);
	hex_of(d, sizeof(d), hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(crypto_sha256(NULL, 0, d), 0);
	hex_of(d, sizeof(d), hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(crypto_sha256("abc", 3, d), 0);
	hex_of(d, sizeof(d), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* RFC 4231 test case 2 (key shorter than the block). */
static void test_hmac_rfc4231_case2(void **state)
{
	const char *data = "what do ya want for nothing?";
	uint8_t mac[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];

	(void)state;
	assert_int_equal(crypto_hmac_sha256("Jefe", 4, data, strlen(data), mac), 0);
	hex_of(mac, sizeof(mac), hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 test case 6 (key longer than the block: hashed first). */
static void test_hmac_rfc4231_case6(void **state)
{
	uint8_t key[131];
	const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
	uint8_t mac[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];

	(void)state;
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(crypto_hmac_sha256(key, sizeof(key), data, strlen(data), mac), 0);
	hex_of(mac, sizeof(mac), hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The SigV4 chain from the AWS documentation; exercises crypto_hmac_sha256
 * the way sign.c chains it, with AWS's prefix and service names. */
static void sigv4_key(const char *secret, const char *day, const char *region,
		      const char *service, uint8_t out[32])
{
	char seed[128];
	uint8_t k[32];

	snprintf(seed, sizeof(seed), "AWS4%s", secret);
	assert_int_equal(crypto_hmac_sha256(seed, strlen(seed), day, strlen(day), k), 0);
	assert_int_equal(crypto_hmac_sha256(k, 32, region, strlen(region), k), 0);
	assert_int_equal(crypto_hmac_sha256(k, 32, service, strlen(service), k), 0);
	assert_int_equal(crypto_hmac_sha256(k, 32, "aws4_request", 12, out), 0);
}

static void test_sigv4_signing_key_example(void **state)
{
	uint8_t k[32];
	char hex[65];

	(void)state;
	sigv4_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam", k);
	hex_of(k, sizeof(k), hex);
	assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

/* NIST GCM test case 14 (AES-256, zero key/IV/one zero block): checks we
 * really run AES-256-GCM, via open with a known nonce. */
static void test_aead_known_answer(void **state)
{
	uint8_t key[32] = {0}, nonce[12] = {0}, pt[16];
	char hex[2 * 32 + 1];
	uint8_t ct[32];

	(void)state;
	/* ciphertext || tag from the GCM specification, test case 14 */
	static const uint8_t kat[32] = {0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
					0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18,
					0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
					0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19};
	memcpy(ct, kat, sizeof(ct));
	assert_int_equal(crypto_aead_open(key, NULL, 0, nonce, ct, sizeof(ct), pt), 0);
	hex_of(pt, sizeof(pt), hex);
	assert_string_equal(hex, "00000000000000000000000000000000");
}

struct sealed {
	uint8_t key[32];
	uint8_t nonce[12];
	uint8_t ct[64 + CRYPTO_TAG_LEN];
	size_t ct_len;
	uint8_t aad[16];
};

static const char msg[] = "hunter2, but longer than one AES block: 0123456789";

static void seal_one(struct sealed *s)
{
	assert_int_equal(crypto_random(s->key, sizeof(s->key)), 0);
	memcpy(s->aad, "aad:arn:version1", 16);
	s->ct_len = sizeof(msg) - 1 + CRYPTO_TAG_LEN;
	assert_true(s->ct_len <= sizeof(s->ct));
	assert_int_equal(crypto_aead_seal(s->key, s->aad, sizeof(s->aad), (const uint8_t *)msg,
					  sizeof(msg) - 1, s->nonce, s->ct),
			 0);
}

static int open_one(struct sealed *s, uint8_t *pt)
{
	return crypto_aead_open(s->key, s->aad, sizeof(s->aad), s->nonce, s->ct, s->ct_len, pt);
}

static void test_aead_round_trip(void **state)
{
	struct sealed s, s2;
	uint8_t pt[64];

	(void)state;
	seal_one(&s);
	assert_memory_not_equal(s.ct, msg, sizeof(msg) - 1);
	memset(pt, 0, sizeof(pt));
	assert_int_equal(open_one(&s, pt), 0);
	assert_memory_equal(pt, msg, sizeof(msg) - 1);

	/* fresh nonce per seal */
	s2 = s;
	assert_int_equal(crypto_aead_seal(s2.key, s2.aad, sizeof(s2.aad), (const uint8_t *)msg,
					  sizeof(msg) - 1, s2.nonce, s2.ct),
			 0);
	assert_memory_not_equal(s.nonce, s2.nonce, sizeof(s.nonce));
	assert_memory_not_equal(s.ct, s2.ct, s.ct_len);
}

static void test_aead_empty(void **state)
{
	uint8_t key[32], nonce[12], ct[CRYPTO_TAG_LEN], pt[1];

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	assert_int_equal(crypto_aead_seal(key, NULL, 0, NULL, 0, nonce, ct), 0);
	assert_int_equal(crypto_aead_open(key, NULL, 0, nonce, ct, sizeof(ct), pt), 0);
	ct[0] ^= 1;
	assert_int_equal(crypto_aead_open(key, NULL, 0, nonce, ct, sizeof(ct), pt), CF_ECRYPTO);
	/* shorter than a tag */
	assert_int_equal(crypto_aead_open(key, NULL, 0, nonce, ct, CRYPTO_TAG_LEN - 1, pt),
			 CF_ECRYPTO);
}

static void test_aead_tamper(void **state)
{
	struct sealed s, t;
	uint8_t pt[64];

	(void)state;
	seal_one(&s);

	t = s; /* a bit of the ciphertext */
	t.ct[3] ^= 0x01;
	assert_int_equal(open_one(&t, pt), CF_ECRYPTO);

	t = s; /* a bit of the tag */
	t.ct[t.ct_len - 1] ^= 0x80;
	assert_int_equal(open_one(&t, pt), CF_ECRYPTO);

	t = s; /* a bit of the nonce */
	t.nonce[11] ^= 0x01;
	assert_int_equal(open_one(&t, pt), CF_ECRYPTO);

	t = s; /* a bit of the AAD */
	t.aad[0] ^= 0x01;
	assert_int_equal(open_one(&t, pt), CF_ECRYPTO);

	t = s; /* truncated AAD */
	assert_int_equal(crypto_aead_open(t.key, t.aad, sizeof(t.aad) - 1, t.nonce, t.ct, t.ct_len,
					  pt),
			 CF_ECRYPTO);

	t = s; /* the key */
	t.key[31] ^= 0x01;
	assert_int_equal(open_one(&t, pt), CF_ECRYPTO);

	t = s; /* truncated ciphertext */
	t.ct_len -= 1;
	assert_int_equal(open_one(&t, pt), CF_ECRYPTO);

	/* and the original still opens */
	assert_int_equal(open_one(&s, pt), 0);
}

static void test_hex_equal_random(void **state)
{
	const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
	uint8_t a[32], b[32];
	char hex[9];

	(void)state;
	hex_of(in, sizeof(in), hex);
	assert_string_equal(hex, "0001abff");
	hex_of(in, 0, hex);
	assert_string_equal(hex, "");

	assert_true(crypto_equal("abcd", "abcd", 4));
	assert_false(crypto_equal("abcd", "abce", 4));

	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_hmac_rfc4231_case2),
		cmocka_unit_test(test_hmac_rfc4231_case6),
		cmocka_unit_test(test_sigv4_signing_key_example),
		cmocka_unit_test(test_aead_known_answer),
		cmocka_unit_test(test_aead_round_trip),
		cmocka_unit_test(test_aead_empty),
		cmocka_unit_test(test_aead_tamper),
		cmocka_unit_test(test_hex_equal_random),
	};

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
