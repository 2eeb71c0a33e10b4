/* Unit tests for util/harden: the process settings (not dumpable, core
 * limit 0/0, umask 077) and the owner-only checks of the data dir and
 * secret files, including secfile_read's owner rule. Files live in a temp
 * dir under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/errors.h"
#include "util/harden.h"
#include "util/secfile.h"
#include "util/secmem.h"

struct fix {
	char dir[64];
	char key[128];
	char tls[128];
	char err[HARDEN_ERRMSG_LEN];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-test-harden-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->key, sizeof(f->key), "%s/root.key", f->dir);
	snprintf(f->tls, sizeof(f->tls), "%s/key.pem", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void put_file(const char *path, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs("0123456789abcdef0123456789abcdef", fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int check(struct fix *f)
{
	const struct harden_file files[] = {{f->key, "root key file"},
					    {f->tls, "TLS private key"},
					    {"", "unset file"}};

	f->err[0] = '\0';
	return harden_check_files(f->dir, files, 3, f->err);
}

static void test_owner_only_accepted(void **state)
{
	struct fix *f = *state;

	assert_int_equal(check(f), 0); /* missing files are left to their openers */
	put_file(f->key, 0600);
	put_file(f->tls, 0400);
	assert_int_equal(check(f), 0);
}

static void test_loose_data_dir(void **state)
{
	struct fix *f = *state;

	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(check(f), CF_EINVAL);
	assert_non_null(strstr(f->err, "data dir"));
	assert_non_null(strstr(f->err, f->dir));
	assert_non_null(strstr(f->err, "mode 0755"));
	assert_non_null(strstr(f->err, "chmod 700 '"));
	assert_int_equal(chmod(f->dir, 0710), 0);
	assert_int_equal(check(f), CF_EINVAL);
	assert_non_null(strstr(f->err, "accessible by group or others"));
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(check(f), 0);
}

static void test_loose_secret_files(void **state)
{
	struct fix *f = *state;
	char want[200];

	put_file(f->key, 0644);
	assert_int_equal(check(f), CF_EINVAL);
	snprintf(want, sizeof(want), "root key file '%s' is readable by group or others", f->key);
	assert_non_null(strstr(f->err, want));
	snprintf(want, sizeof(want), "run: chmod 600 '%s'", f->key);
	assert_non_null(strstr(f->err, want));
	assert_null(strstr(f->err, "0123")); /* never the content */

	assert_int_equal(chmod(f->key, 0600), 0);
	put_file(f->tls, 0620);
	assert_int_equal(check(f), CF_EINVAL);
	assert_non_null(strstr(f->err, "TLS private key"));
	assert_non_null(strstr(f->err, f->tls));
	assert_non_null(strstr(f->err, "accessible by group or others (mode 0620)"));
}

static void test_not_regular(void **state)
{
	struct fix *f = *state;

	assert_int_equal(mkdir(f->key, 0700), 0);
	assert_int_equal(check(f), CF_EINVAL);
	assert_non_null(strstr(f->err, "is not a regular file"));
}

/* Ownership: only root can give a file away; elsewhere this is skipped. */
static void test_other_owner(void **state)
{
	struct fix *f = *state;
	struct secbuf b = {NULL, 0};

	if (geteuid() != 0) {
		skip();
		return;
	}
	put_file(f->key, 0600);
	assert_int_equal(chown(f->key, 65534, 65534), 0);
	assert_int_equal(check(f), CF_EINVAL);
	assert_non_null(strstr(f->err, "is owned by uid 65534"));
	assert_non_null(strstr(f->err, "run: chown root '"));
	assert_non_null(strstr(f->err, f->key));
	/* secfile_read applies the same rule */
	assert_int_equal(secfile_read(f->key, "root key file", 32, 32, &b, f->err), CF_EINVAL);
	assert_null(b.data);
	assert_non_null(strstr(f->err, "is owned by uid 65534"));
	assert_int_equal(chown(f->key, 0, 0), 0);
	assert_int_equal(chown(f->dir, 65534, 65534), 0);
	assert_int_equal(check(f), CF_EINVAL);
	assert_non_null(strstr(f->err, "data dir"));
	assert_non_null(strstr(f->err, "run: chown root '"));
	assert_int_equal(chown(f->dir, 0, 0), 0);
}

/* Last: it changes the test process itself. */
static void test_process(void **state)
{
	struct fix *f = *state;
	struct rlimit rl;
	mode_t old;

	assert_int_equal(harden_process(f->err), 0);
	assert_int_equal(harden_dumpable(), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 0);
	assert_int_equal(rl.rlim_max, 0);
	old = umask(0);
	umask(old);
	assert_int_equal(old, 077);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_owner_only_accepted), T(test_loose_data_dir), T(test_loose_secret_files),
		T(test_not_regular),         T(test_other_owner),    T(test_process),
	};

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
