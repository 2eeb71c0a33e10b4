/* Unit tests for config: --dev accepts loopback HTTP and RPC addresses only
 * (plain HTTP and root credentials never leave the host); outside --dev any
 * address is allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static int finish(const char *dev, const char *rpc, const char *http, char *err)
{
	static struct config c;
	char *argv[16];
	int argc = 0, rv;

	argv[argc++] = "cofferd";
	if (dev != NULL)
		argv[argc++] = (char *)dev;
	argv[argc++] = "--data-dir";
	argv[argc++] = "/tmp/coffer-test-config-none";
	if (dev == NULL) {
		argv[argc++] = "--node-id";
		argv[argc++] = "1";
		argv[argc++] = "--raft-addr";
		argv[argc++] = "127.0.0.1:7790";
		argv[argc++] = "--member";
		argv[argc++] = "1,127.0.0.1:7790,127.0.0.1:7700";
	}
	if (rpc != NULL) {
		argv[argc++] = "--rpc-addr";
		argv[argc++] = (char *)rpc;
	}
	if (http != NULL) {
		argv[argc++] = "--http-addr";
		argv[argc++] = (char *)http;
	}
	err[0] = '\0';
	rv = config_parse(&c, argc, argv, err);
	assert_int_equal(rv, 0);
	return config_finish(&c, err);
}

static void test_dev_loopback_accepted(void **state)
{
	static const char *ok[] = {"127.0.0.1:7700", "127.1.2.3:1", "[::1]:7700",
				   "localhost:7700"};
	char err[256];

	assert_int_equal(finish("--dev", NULL, NULL, err), 0); /* the defaults */
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(finish("--dev", ok[i], NULL, err), 0);
		assert_int_equal(finish("--dev", NULL, ok[i], err), 0);
	}
}

static void test_dev_other_refused(void **state)
{
	static const char *bad[] = {"0.0.0.0:7700",  "10.0.0.5:7700", "[::]:7700",
				    "[::ffff:127.0.0.1]:7700", "128.0.0.1:7700",
				    "example.com:7700", ":7700", "[::1:7700"};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(finish("--dev", bad[i], NULL, err), 0);
		assert_non_null(strstr(err, bad[i]));
		assert_non_null(strstr(err, "--dev"));
		assert_non_null(strstr(err, "not a loopback address"));
		assert_int_not_equal(finish("--dev", NULL, bad[i], err), 0);
		assert_non_null(strstr(err, bad[i]));
	}
}

static void test_non_dev_any_address(void **state)
{
	char err[256];

	assert_int_equal(finish(NULL, "0.0.0.0:7700", "10.0.0.5:7780", err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_loopback_accepted),
		cmocka_unit_test(test_dev_other_refused),
		cmocka_unit_test(test_non_dev_any_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
