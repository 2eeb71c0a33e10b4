/*
 * sign: the COFFER1-HMAC-SHA256 request signature (scheme in sign.h).
 * Happy path: derive the day's signing key with four chained HMACs, build
 * the string to sign in a stack buffer, HMAC it, hex it. Inputs are bounded
 * and must not contain '\n' or '/' where those delimit fields, so one string
 * to sign can never be read as another; violations are CF_EINVAL.
 * Intermediate keys are wiped before return.
 */
#include "crypto/sign.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "util/errors.h"

#define SIGN_FIELD_MAX 256  /* access key id, region, operation */
#define SIGN_SECRET_MAX 256 /* secret access key */
#define SIGN_PREFIX "COFFER1"
#define SIGN_ALGORITHM "COFFER1-HMAC-SHA256"
#define SIGN_SERVICE "coffer"
#define SIGN_TERMINATOR "coffer1_request"

void sign_format_date(time_t t, char *out)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, SIGN_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != SIGN_DATE_LEN)
		memcpy(out, "00000000T000000Z", SIGN_DATE_LEN + 1); /* never parses */
}

/* Value of n decimal digits at s, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int sign_parse_date(const char *s, time_t *out)
{
	struct tm tm;
	int year, mon, day, hour, min, sec;
	time_t t;

	if (s == NULL || strnlen(s, SIGN_DATE_LEN + 1) != SIGN_DATE_LEN || s[8] != 'T' ||
	    s[15] != 'Z')
		return CF_EINVAL;
	year = digits(s, 4);
	mon = digits(s + 4, 2);
	day = digits(s + 6, 2);
	hour = digits(s + 9, 2);
	min = digits(s + 11, 2);
	sec = digits(s + 13, 2);
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
	    min > 59 || sec < 0 || sec > 59)
		return CF_EINVAL;
	if (day > days_in_month(year, mon))
		return CF_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return CF_EINVAL;
	*out = t;
	return 0;
}

/* A field of the string to sign: present, bounded, free of delimiters. */
static int field_ok(const char *s, const char *reject)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, SIGN_FIELD_MAX + 1);
	return n > 0 && n <= SIGN_FIELD_MAX && s[strcspn(s, reject)] == '\0';
}

int sign_derive_key(const char *secret_key, const char *yyyymmdd, const char *region,
		    uint8_t key_out[32])
{
	uint8_t k[32];
	char seed[sizeof(SIGN_PREFIX) - 1 + SIGN_SECRET_MAX];
	size_t prefix = sizeof(SIGN_PREFIX) - 1;
	size_t n;
	int rv = CF_EINVAL;

	if (secret_key == NULL || yyyymmdd == NULL || strlen(yyyymmdd) != 8 ||
	    digits(yyyymmdd, 8) < 0 || !field_ok(region, "/\n"))
		goto out;
	n = strnlen(secret_key, SIGN_SECRET_MAX + 1);
	if (n == 0 || n > SIGN_SECRET_MAX)
		goto out;
	memcpy(seed, SIGN_PREFIX, prefix);
	memcpy(seed + prefix, secret_key, n);
	if ((rv = crypto_hmac_sha256(seed, prefix + n, yyyymmdd, 8, k)) != 0 ||
	    (rv = crypto_hmac_sha256(k, sizeof(k), region, strlen(region), k)) != 0 ||
	    (rv = crypto_hmac_sha256(k, sizeof(k), SIGN_SERVICE, strlen(SIGN_SERVICE), k)) != 0 ||
	    (rv = crypto_hmac_sha256(k, sizeof(k), SIGN_TERMINATOR, strlen(SIGN_TERMINATOR),
				     key_out)) != 0)
		goto out;
	rv = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(k, sizeof(k));
	return rv;
}

int sign_compute(const uint8_t key[32], const char *access_key_id, const char *date,
		 const char *region, const char *operation, const uint8_t *payload,
		 size_t payload_len, char sig_out[SIGN_HEX_LEN + 1])
{
	/* algorithm, date, scope, key id, operation, payload hash; 6 lines */
	char sts[sizeof(SIGN_ALGORITHM) + SIGN_DATE_LEN + 8 + 3 * SIGN_FIELD_MAX + 64 + 64];
	uint8_t digest[CRYPTO_SHA256_LEN];
	char payload_hex[2 * CRYPTO_SHA256_LEN + 1];
	time_t t;
	int len;
	int rv;

	if (sign_parse_date(date, &t) != 0 || !field_ok(access_key_id, "\n") ||
	    !field_ok(region, "/\n") || !field_ok(operation, "\n") ||
	    (payload == NULL && payload_len > 0))
		return CF_EINVAL;
	if ((rv = crypto_sha256(payload, payload_len, digest)) != 0)
		return rv;
	crypto_hex(digest, sizeof(digest), payload_hex);
	len = snprintf(sts, sizeof(sts), "%s\n%s\n%.8s/%s/%s/%s\n%s\n%s\n%s", SIGN_ALGORITHM, date,
		       date, region, SIGN_SERVICE, SIGN_TERMINATOR, access_key_id, operation,
		       payload_hex);
	if (len < 0 || (size_t)len >= sizeof(sts))
		return CF_EINVAL;
	if ((rv = crypto_hmac_sha256(key, 32, sts, (size_t)len, digest)) != 0)
		return rv;
	crypto_hex(digest, sizeof(digest), sig_out);
	return 0;
}

int sign_request(const char *access_key_id, const char *secret_key, const char *date,
		 const char *region, const char *operation, const uint8_t *payload,
		 size_t payload_len, char sig_out[SIGN_HEX_LEN + 1])
{
	uint8_t key[32];
	char day[9];
	time_t t;
	int rv;

	if (sign_parse_date(date, &t) != 0)
		return CF_EINVAL;
	memcpy(day, date, 8);
	day[8] = '\0';
	rv = sign_derive_key(secret_key, day, region, key);
	if (rv == 0)
		rv = sign_compute(key, access_key_id, date, region, operation, payload,
				  payload_len, sig_out);
	OPENSSL_cleanse(key, sizeof(key));
	return rv;
}
