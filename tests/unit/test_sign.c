/* Unit tests for crypto/sign: date format/parse and the COFFER1 signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/sign.h"
#include "util/errors.h"
#include "util/secmem.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define AKID "CFABCDEFGHIJKLMNOPQR"
#define DATE "20240229T235959Z"
#define REGION "us-east-1"
#define OP "GetSecretValue"
#define PAYLOAD "{\"SecretId\":\"x\"}"

static void test_date_round_trip(void **state)
{
	char s[SIGN_DATE_LEN + 1];
	time_t t;

	(void)state;
	sign_format_date(0, s);
	assert_string_equal(s, "19700101T000000Z");
	sign_format_date(1440938160, s);
	assert_string_equal(s, "20150830T123600Z");
	assert_int_equal(sign_parse_date(s, &t), 0);
	assert_int_equal(t, 1440938160);
	assert_int_equal(sign_parse_date("20240229T235959Z", &t), 0); /* leap day */
	assert_int_equal(t, 1709251199);
	assert_int_equal(sign_parse_date("20001231T000000Z", &t), 0);
	assert_int_equal(t, 978220800);
}

static void test_date_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"20150830T123600",    /* no Z */
		"20150830T123600Z0",  /* trailing */
		"2015083T123600Z",    /* short */
		"20150830 123600Z",   /* no T */
		"20150830t123600Z",   /* lowercase t */
		"20150830T123600z",   /* lowercase z */
		"2015-8-30T12360Z",   /* punctuation */
		"20151330T123600Z",   /* month 13 */
		"20150030T123600Z",   /* month 0 */
		"20150800T123600Z",   /* day 0 */
		"20150832T123600Z",   /* day 32 */
		"20150431T123600Z",   /* April 31 */
		"20230229T123600Z",   /* not a leap year */
		"19000229T123600Z",   /* century, not a leap year */
		"20150830T243600Z",   /* hour 24 */
		"20150830T126000Z",   /* minute 60 */
		"20150830T123660Z",   /* second 60 */
		"2015083AT123600Z",   /* letter */
		"+0150830T123600Z",   /* sign */
		"19691231T235959Z",   /* before the epoch */
	};
	time_t t = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sign_parse_date(bad[i], &t) != CF_EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(sign_parse_date(NULL, &t), CF_EINVAL);
	assert_int_equal(t, 42);
}

/* Pinned against an independent implementation (Python hmac/hashlib), so a
 * drift in the scheme breaks this test. */
static void test_known_answer(void **state)
{
	uint8_t key[32];
	char hex[65], sig[SIGN_HEX_LEN + 1];

	(void)state;
	assert_int_equal(sign_derive_key(SECRET, "20240229", REGION, key), 0);
	crypto_hex(key, sizeof(key), hex);
	assert_string_equal(hex, "2743e62fd7100f6e85ca2ccee3ddaec732aea07055838b8e85335b42aa7d8013");
	assert_int_equal(sign_compute(key, AKID, DATE, REGION, OP, (const uint8_t *)PAYLOAD,
				      strlen(PAYLOAD), sig),
			 0);
	assert_string_equal(sig, "72cd140257035cc67381678419cccbc27f88db0e8f0aa548b10590b7ce69bf6f");
	assert_int_equal(sign_request(AKID, SECRET, DATE, REGION, OP, (const uint8_t *)PAYLOAD,
				      strlen(PAYLOAD), sig),
			 0);
	assert_string_equal(sig, "72cd140257035cc67381678419cccbc27f88db0e8f0aa548b10590b7ce69bf6f");
}

static void sig_of(const char *akid, const char *secret, const char *date, const char *region,
		   const char *op, const char *payload, char *sig)
{
	assert_int_equal(sign_request(akid, secret, date, region, op, (const uint8_t *)payload,
				      strlen(payload), sig),
			 0);
}

static void test_every_field_is_bound(void **state)
{
	char base[65], other[65];

	(void)state;
	sig_of(AKID, SECRET, DATE, REGION, OP, PAYLOAD, base);
	sig_of(AKID, SECRET, DATE, REGION, OP, PAYLOAD, other);
	assert_string_equal(base, other); /* deterministic */
	sig_of("CFABCDEFGHIJKLMNOPQS", SECRET, DATE, REGION, OP, PAYLOAD, other);
	assert_string_not_equal(base, other);
	sig_of(AKID, SECRET "x", DATE, REGION, OP, PAYLOAD, other);
	assert_string_not_equal(base, other);
	sig_of(AKID, SECRET, "20240229T235958Z", REGION, OP, PAYLOAD, other);
	assert_string_not_equal(base, other);
	sig_of(AKID, SECRET, DATE, "eu-west-1", OP, PAYLOAD, other);
	assert_string_not_equal(base, other);
	sig_of(AKID, SECRET, DATE, REGION, "PutSecretValue", PAYLOAD, other);
	assert_string_not_equal(base, other);
	sig_of(AKID, SECRET, DATE, REGION, OP, "{\"SecretId\":\"y\"}", other);
	assert_string_not_equal(base, other);
	sig_of(AKID, SECRET, DATE, REGION, OP, "", other);
	assert_string_not_equal(base, other);
}

static void test_rejects_ambiguous_fields(void **state)
{
	uint8_t key[32] = {0};
	char sig[65];

	(void)state;
	assert_int_equal(sign_compute(key, AKID, DATE, REGION, "Get\nSecret", NULL, 0, sig),
			 CF_EINVAL);
	assert_int_equal(sign_compute(key, "CF\nX", DATE, REGION, OP, NULL, 0, sig), CF_EINVAL);
	assert_int_equal(sign_compute(key, AKID, DATE, "us/east", OP, NULL, 0, sig), CF_EINVAL);
	assert_int_equal(sign_compute(key, AKID, "2024", REGION, OP, NULL, 0, sig), CF_EINVAL);
	assert_int_equal(sign_compute(key, "", DATE, REGION, OP, NULL, 0, sig), CF_EINVAL);
	assert_int_equal(sign_compute(key, AKID, DATE, REGION, OP, NULL, 1, sig), CF_EINVAL);
	assert_int_equal(sign_derive_key(SECRET, "2024022", REGION, key), CF_EINVAL);
	assert_int_equal(sign_derive_key("", "20240229", REGION, key), CF_EINVAL);
	assert_int_equal(sign_request(AKID, SECRET, "bad", REGION, OP, NULL, 0, sig), CF_EINVAL);
	/* an empty payload is fine */
	assert_int_equal(sign_compute(key, AKID, DATE, REGION, OP, NULL, 0, sig), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_round_trip),
		cmocka_unit_test(test_date_rejects),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_every_field_is_bound),
		cmocka_unit_test(test_rejects_ambiguous_fields),
	};

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
