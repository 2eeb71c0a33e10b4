/* Unit tests for auth/: credential files and every auth_verify outcome. */
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

#include "auth/auth.h"
#include "crypto/sign.h"
#include "util/errors.h"
#include "util/secmem.h"

#define REGION "us-east-1"
#define OP "GetSecretValue"
#define PAYLOAD "{\"SecretId\":\"db\"}"
#define NOW ((time_t)1440938160) /* 20150830T123600Z */

struct fix {
	char dir[64];
	char path[128];
	struct auth *a;
	char akid[64];
	char secret[64];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-test-auth-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/credentials", f->dir);
	if (auth_open(f->path, 1, REGION, &f->a, err) != 0)
		return -1;
	snprintf(f->akid, sizeof(f->akid), "%s", auth_root_access_key_id(f->a));
	snprintf(f->secret, sizeof(f->secret), "%s", auth_root_secret_key(f->a));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	auth_free(f->a);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void sign_at(struct fix *f, time_t t, char *date, char *sig)
{
	sign_format_date(t, date);
	assert_int_equal(sign_request(f->akid, f->secret, date, REGION, OP,
				      (const uint8_t *)PAYLOAD, strlen(PAYLOAD), sig),
			 0);
}

static int verify(struct fix *f, const char *akid, const char *date, const char *region,
		  const char *sig, const char *payload, time_t now, struct cf_status *st)
{
	return auth_verify(f->a, akid, date, region, sig, OP, (const uint8_t *)payload,
			   strlen(payload), now, st);
}

static void test_generated_credentials(void **state)
{
	struct fix *f = *state;
	struct stat st;

	assert_int_equal(strlen(f->akid), 20);
	assert_memory_equal(f->akid, "CF", 2);
	for (size_t i = 2; i < 20; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", f->akid[i]));
	assert_int_equal(strlen(f->secret), 40);
	for (size_t i = 0; i < 40; i++)
		assert_non_null(
			strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
			       f->secret[i]));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_reopen_same_credentials(void **state)
{
	struct fix *f = *state;
	struct auth *a2 = NULL, *a3 = NULL;
	char err[256];

	assert_int_equal(auth_open(f->path, 0, REGION, &a2, err), 0);
	assert_string_equal(auth_root_access_key_id(a2), f->akid);
	assert_string_equal(auth_root_secret_key(a2), f->secret);
	/* create set but file present: reuse, never overwrite */
	assert_int_equal(auth_open(f->path, 1, REGION, &a3, err), 0);
	assert_string_equal(auth_root_access_key_id(a3), f->akid);
	auth_free(a2);
	auth_free(a3);
}

static void test_missing_file_without_create(void **state)
{
	struct fix *f = *state;
	struct auth *a = NULL;
	char path[160], err[256] = "";

	snprintf(path, sizeof(path), "%s/nope", f->dir);
	assert_int_not_equal(auth_open(path, 0, REGION, &a, err), 0);
	assert_null(a);
	assert_non_null(strstr(err, "nope"));
}

static void test_file_permissions_and_format(void **state)
{
	struct fix *f = *state;
	struct auth *a = NULL;
	char err[256] = "";
	FILE *fp;

	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_not_equal(auth_open(f->path, 0, REGION, &a, err), 0);
	assert_null(a);
	assert_non_null(strstr(err, "readable by group or others"));
	assert_null(strstr(err, f->secret));
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_not_equal(auth_open(f->path, 1, REGION, &a, err), 0);

	/* hand-written file with a trailing newline missing is fine */
	assert_int_equal(chmod(f->path, 0600), 0);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fprintf(fp, "AKIDEXAMPLE0000000 wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	fclose(fp);
	assert_int_equal(auth_open(f->path, 0, REGION, &a, err), 0);
	assert_string_equal(auth_root_access_key_id(a), "AKIDEXAMPLE0000000");
	assert_string_equal(auth_root_secret_key(a), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	auth_free(a);
	a = NULL;

	/* garbage is refused without echoing the secret */
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fprintf(fp, "AKIDEXAMPLE0000000 wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY extra\n");
	fclose(fp);
	assert_int_not_equal(auth_open(f->path, 0, REGION, &a, err), 0);
	assert_null(strstr(err, "wJalr"));
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fprintf(fp, "AKIDEXAMPLE0000000 secretsecretsecret\nSECOND0000000000 secretsecretsecret\n");
	fclose(fp);
	assert_int_not_equal(auth_open(f->path, 0, REGION, &a, err), 0);
	assert_null(a);
}

static void test_verify_ok(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];

	sign_at(f, NOW, date, sig);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), 0);
	assert_true(cf_status_ok(&st));
	/* cached key: second time too */
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), 0);
	/* the skew bounds are inclusive */
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW + 300, &st), 0);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW - 300, &st), 0);
	/* other days use other keys; more days than cache slots */
	for (int d = 1; d <= 6; d++) {
		sign_at(f, NOW + d * 86400, date, sig);
		assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW + d * 86400, &st),
				 0);
	}
	sign_at(f, NOW, date, sig);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), 0);
}

static void expect_status(const struct cf_status *st, const char *type, const char *message)
{
	assert_string_equal(st->type, type);
	if (message != NULL)
		assert_string_equal(st->message, message);
}

static void test_verify_missing(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];

	sign_at(f, NOW, date, sig);
	assert_int_equal(verify(f, "", date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "MissingAuthenticationTokenException", "Missing Authentication Token");
	assert_int_equal(auth_verify(f->a, NULL, date, REGION, sig, OP, NULL, 0, NOW, &st), -1);
	expect_status(&st, "MissingAuthenticationTokenException", "Missing Authentication Token");
	assert_int_equal(verify(f, f->akid, date, REGION, "", PAYLOAD, NOW, &st), -1);
	expect_status(&st, "MissingAuthenticationTokenException", "Missing Authentication Token");
	assert_int_equal(auth_verify(f->a, f->akid, date, REGION, NULL, OP, NULL, 0, NOW, &st), -1);
	expect_status(&st, "MissingAuthenticationTokenException", "Missing Authentication Token");
}

static void test_verify_malformed(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1], upper[SIGN_HEX_LEN + 1];

	sign_at(f, NOW, date, sig);
	assert_int_equal(verify(f, f->akid, "20150830T123600", REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "IncompleteSignatureException", NULL);
	assert_int_equal(verify(f, f->akid, "20151330T123600Z", REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "IncompleteSignatureException", NULL);
	assert_int_equal(verify(f, f->akid, "", REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "IncompleteSignatureException", NULL);

	/* short, long, uppercase, non-hex signatures */
	sig[63] = '\0';
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "IncompleteSignatureException", NULL);
	sign_at(f, NOW, date, sig);
	for (int i = 0; i < SIGN_HEX_LEN; i++)
		upper[i] = (sig[i] >= 'a' && sig[i] <= 'f') ? (char)(sig[i] - 'a' + 'A') : sig[i];
	upper[SIGN_HEX_LEN] = '\0';
	assert_string_not_equal(upper, sig);
	assert_int_equal(verify(f, f->akid, date, REGION, upper, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "IncompleteSignatureException", NULL);
	{
		char longer[SIGN_HEX_LEN + 2];

		snprintf(longer, sizeof(longer), "%s0", sig);
		assert_int_equal(verify(f, f->akid, date, REGION, longer, PAYLOAD, NOW, &st), -1);
		expect_status(&st, "IncompleteSignatureException", NULL);
	}
	sig[10] = 'g';
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "IncompleteSignatureException", NULL);
}

static void test_verify_wrong_region(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];

	sign_format_date(NOW, date);
	assert_int_equal(sign_request(f->akid, f->secret, date, "eu-west-1", OP,
				      (const uint8_t *)PAYLOAD, strlen(PAYLOAD), sig),
			 0);
	assert_int_equal(verify(f, f->akid, date, "eu-west-1", sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "InvalidSignatureException",
		      "Credential should be scoped to a valid region, not 'eu-west-1'. ");
}

static void test_verify_expired(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];

	sign_at(f, NOW - 301, date, sig);
	assert_string_equal(date, "20150830T123059Z");
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "InvalidSignatureException",
		      "Signature expired: 20150830T123059Z is now earlier than 20150830T123100Z "
		      "(20150830T123600Z - 5 min.)");
}

static void test_verify_future(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];

	sign_at(f, NOW + 301, date, sig);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "InvalidSignatureException",
		      "Signature not yet current: 20150830T124101Z is still later than "
		      "20150830T124100Z (20150830T123600Z + 5 min.)");
}

static void test_verify_unknown_key(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];
	const char *other = "CF000000000000000000";

	sign_format_date(NOW, date);
	assert_int_equal(sign_request(other, f->secret, date, REGION, OP, (const uint8_t *)PAYLOAD,
				      strlen(PAYLOAD), sig),
			 0);
	assert_int_equal(verify(f, other, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "UnrecognizedClientException",
		      "The security token included in the request is invalid.");
	/* ids that could not even be signed are unknown too */
	assert_int_equal(verify(f, "CF\nX", date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "UnrecognizedClientException", NULL);
}

static void test_verify_bad_signature(void **state)
{
	struct fix *f = *state;
	struct cf_status st;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];
	const char *mismatch = "The request signature we calculated does not match the signature "
			       "you provided. Check your AWS Secret Access Key and signing method.";

	sign_at(f, NOW, date, sig);
	/* one flipped hex digit */
	sig[0] = sig[0] == '0' ? '1' : '0';
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "InvalidSignatureException", mismatch);

	/* right signature, other payload */
	sign_at(f, NOW, date, sig);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, "{\"SecretId\":\"dc\"}", NOW, &st),
			 -1);
	expect_status(&st, "InvalidSignatureException", mismatch);

	/* right signature, other operation */
	assert_int_equal(auth_verify(f->a, f->akid, date, REGION, sig, "DeleteSecret",
				     (const uint8_t *)PAYLOAD, strlen(PAYLOAD), NOW, &st),
			 -1);
	expect_status(&st, "InvalidSignatureException", mismatch);

	/* signed with the wrong secret */
	assert_int_equal(sign_request(f->akid, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date,
				      REGION, OP, (const uint8_t *)PAYLOAD, strlen(PAYLOAD), sig),
			 0);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "InvalidSignatureException", mismatch);

	/* the date is signed: a fresh date on an old signature fails */
	sign_at(f, NOW - 10, date, sig);
	sign_format_date(NOW, date);
	assert_int_equal(verify(f, f->akid, date, REGION, sig, PAYLOAD, NOW, &st), -1);
	expect_status(&st, "InvalidSignatureException", mismatch);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_generated_credentials),
		T(test_reopen_same_credentials),
		T(test_missing_file_without_create),
		T(test_file_permissions_and_format),
		T(test_verify_ok),
		T(test_verify_missing),
		T(test_verify_malformed),
		T(test_verify_wrong_region),
		T(test_verify_expired),
		T(test_verify_future),
		T(test_verify_unknown_key),
		T(test_verify_bad_signature),
	};
#undef T

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
