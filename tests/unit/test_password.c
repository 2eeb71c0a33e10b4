/*
 * GetRandomPassword through the api layer: defaults (32 characters, every
 * class present), each option, AWS's errors, exact lengths, the response
 * packed in the secure heap, and bounded statistical checks: over many
 * draws every allowed character appears, excluded ones never do, and the
 * required characters do not sit at predictable positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "api/api.h"
#include "coffer.pb-c.h"
#include "util/secmem.h"

#define PUNCT "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"
#define TOO_SHORT "Password length is too short based on the required types."

static struct api_ctx ctx = {NULL, NULL, "us-east-1", "000000000000", 0};

static struct api_reply call(const Coffer__GetRandomPasswordRequest *q)
{
	const struct api_op *op = api_find("GetRandomPassword");
	size_t n = coffer__get_random_password_request__get_packed_size(q);
	uint8_t *buf = malloc(n + 1);
	struct api_reply out;

	assert_non_null(op);
	assert_int_equal(op->kind, API_LOCAL);
	coffer__get_random_password_request__pack(q, buf);
	assert_int_equal(api_read(op, &ctx, buf, n, &out), 0);
	free(buf);
	return out;
}

/* The password (malloc'ed copy for the test's convenience). */
static char *draw(const Coffer__GetRandomPasswordRequest *q)
{
	struct api_reply rep = call(q);
	Coffer__GetRandomPasswordResponse *r;
	char *pw;

	if (!cf_status_ok(&rep.status))
		fail_msg("%s: %s", rep.status.type, rep.status.message);
	/* the response (which holds the password) is in the secure heap */
	assert_true(CRYPTO_secure_allocated(rep.payload.data));
	r = coffer__get_random_password_response__unpack(NULL, rep.payload.len, rep.payload.data);
	assert_non_null(r);
	assert_non_null(r->random_password);
	pw = strdup(r->random_password);
	coffer__get_random_password_response__free_unpacked(r, NULL);
	api_reply_release(&rep);
	return pw;
}

static void expect_error(const Coffer__GetRandomPasswordRequest *q, const char *type,
			 const char *msg)
{
	struct api_reply rep = call(q);

	if (strcmp(rep.status.type, type) != 0)
		fail_msg("expected %s, got '%s': %s", type, rep.status.type, rep.status.message);
	if (msg)
		assert_string_equal(rep.status.message, msg);
	api_reply_release(&rep);
}

static int has_any(const char *pw, const char *set)
{
	return strpbrk(pw, set) != NULL;
}

static int setup(void **state)
{
	return secmem_init(1 << 20);
}

static void test_defaults(void **state)
{
	Coffer__GetRandomPasswordRequest q = COFFER__GET_RANDOM_PASSWORD_REQUEST__INIT;

	for (int i = 0; i < 200; i++) {
		char *pw = draw(&q);

		assert_int_equal(strlen(pw), 32);
		/* RequireEachIncludedType defaults to true */
		assert_true(has_any(pw, LOWER) && has_any(pw, UPPER) && has_any(pw, DIGITS) &&
			    has_any(pw, PUNCT));
		assert_null(strchr(pw, ' '));
		assert_int_equal(strspn(pw, LOWER UPPER DIGITS PUNCT), 32);
		free(pw);
	}
}

static void test_options(void **state)
{
	Coffer__GetRandomPasswordRequest q = COFFER__GET_RANDOM_PASSWORD_REQUEST__INIT;
	char *pw;

	q.has_password_length = 1;
	q.password_length = 4;
	for (int i = 0; i < 100; i++) {
		pw = draw(&q);
		/* length 4, four classes: exactly one of each */
		assert_true(has_any(pw, LOWER) && has_any(pw, UPPER) && has_any(pw, DIGITS) &&
			    has_any(pw, PUNCT));
		free(pw);
	}
	q.password_length = 64;
	q.has_exclude_numbers = q.exclude_numbers = 1;
	q.has_exclude_punctuation = q.exclude_punctuation = 1;
	pw = draw(&q);
	assert_int_equal(strspn(pw, LOWER UPPER), 64);
	assert_true(has_any(pw, LOWER) && has_any(pw, UPPER));
	free(pw);
	q.has_exclude_uppercase = q.exclude_uppercase = 1;
	pw = draw(&q);
	assert_int_equal(strspn(pw, LOWER), 64);
	free(pw);
	q.has_exclude_lowercase = q.exclude_lowercase = 1;
	expect_error(&q, "InvalidParameterException", TOO_SHORT);
	/* only the space left */
	q.has_include_space = q.include_space = 1;
	pw = draw(&q);
	assert_int_equal(strspn(pw, " "), 64);
	free(pw);
	/* IncludeSpace adds ' ' to the pool; it is not a required type */
	coffer__get_random_password_request__init(&q);
	q.has_include_space = q.include_space = 1;
	q.has_password_length = 1;
	q.password_length = 4096;
	pw = draw(&q);
	assert_non_null(strchr(pw, ' '));
	assert_int_equal(strlen(pw), 4096);
	free(pw);
	/* ExcludeCharacters: emptying a class drops it from the required set */
	coffer__get_random_password_request__init(&q);
	q.exclude_characters = DIGITS;
	q.has_password_length = 1;
	q.password_length = 3;
	pw = draw(&q);
	assert_int_equal(strlen(pw), 3);
	assert_false(has_any(pw, DIGITS));
	free(pw);
	/* RequireEachIncludedType=false: one character is fine */
	q.password_length = 1;
	expect_error(&q, "InvalidParameterException", TOO_SHORT);
	q.has_require_each_included_type = 1;
	q.require_each_included_type = 0;
	pw = draw(&q);
	assert_int_equal(strlen(pw), 1);
	free(pw);
	/* everything excluded */
	q.exclude_characters = LOWER UPPER DIGITS PUNCT;
	expect_error(&q, "InvalidParameterException", TOO_SHORT);
}

static void test_errors(void **state)
{
	Coffer__GetRandomPasswordRequest q = COFFER__GET_RANDOM_PASSWORD_REQUEST__INIT;
	char big[4200];

	q.has_password_length = 1;
	q.password_length = 0;
	expect_error(&q, "ValidationException",
		     "1 validation error detected: Value '0' at 'passwordLength' failed to "
		     "satisfy constraint: Member must have value greater than or equal to 1");
	q.password_length = 4097;
	expect_error(&q, "ValidationException",
		     "1 validation error detected: Value '4097' at 'passwordLength' failed to "
		     "satisfy constraint: Member must have value less than or equal to 4096");
	q.password_length = 3; /* four required classes */
	expect_error(&q, "InvalidParameterException", TOO_SHORT);
	q.password_length = 32;
	memset(big, 'a', 4097);
	big[4097] = '\0';
	q.exclude_characters = big;
	expect_error(&q, "ValidationException", NULL);
}

/* Bounded: 40 x 4096 characters. With 91 allowed characters each is
 * expected ~1800 times; missing one by chance is below 1e-700. */
static void test_distribution(void **state)
{
	Coffer__GetRandomPasswordRequest q = COFFER__GET_RANDOM_PASSWORD_REQUEST__INIT;
	const char *all = LOWER UPPER DIGITS PUNCT;
	unsigned long count[256] = {0};

	q.has_password_length = 1;
	q.password_length = 4096;
	q.exclude_characters = "aZ5\\";
	for (int i = 0; i < 40; i++) {
		char *pw = draw(&q);

		assert_int_equal(strlen(pw), 4096);
		for (const char *p = pw; *p; p++)
			count[(unsigned char)*p]++;
		free(pw);
	}
	for (const char *c = all; *c; c++) {
		if (strchr(q.exclude_characters, *c))
			assert_int_equal(count[(unsigned char)*c], 0);
		else if (count[(unsigned char)*c] < 1000 || count[(unsigned char)*c] > 2700)
			fail_msg("'%c' drawn %lu times (expected about 1800)", *c,
				 count[(unsigned char)*c]);
	}
	assert_int_equal(count[' '], 0);
}

/* The one allowed digit must appear (required) and lands anywhere, not
 * always at the end (the emulators' predictable placement). */
static void test_required_positions(void **state)
{
	Coffer__GetRandomPasswordRequest q = COFFER__GET_RANDOM_PASSWORD_REQUEST__INIT;
	unsigned long at[16] = {0};

	q.has_password_length = 1;
	q.password_length = 16;
	q.exclude_characters = "012345689"; /* digits: only '7' */
	for (int i = 0; i < 2000; i++) {
		char *pw = draw(&q);
		char *p = strchr(pw, '7');

		assert_non_null(p);
		at[p - pw]++;
		free(pw);
	}
	for (int i = 0; i < 16; i++) {
		if (at[i] == 0)
			fail_msg("the required digit never came first at position %d", i);
		/* fixed placement would put it at one position nearly always */
		if (at[i] > 2000 / 5)
			fail_msg("the required digit sits at position %d in %lu of 2000", i, at[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),	   cmocka_unit_test(test_options),
		cmocka_unit_test(test_errors),	   cmocka_unit_test(test_distribution),
		cmocka_unit_test(test_required_positions),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
