/* Unit tests for util/secfile: every refusal on read, the create/read round
 * trip, and exclusive creation. Files live in a temp dir under /tmp. */
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

#include "util/errors.h"
#include "util/secfile.h"
#include "util/secmem.h"

#define WHAT "test key file"

struct fix {
	char dir[64];
	char path[128];
	char err[SECFILE_ERRMSG_LEN];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-test-secfile-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/secret", f->dir);
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

/* Write n bytes of 'x' to path with the given mode (after umask-free chmod). */
static void put_file(const char *path, size_t n, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(fputc('x', fp), EOF);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* read must fail with rv, leave out empty and name the file and path. */
static void expect_refusal(struct fix *f, const char *path, size_t min, size_t max, int rv,
			   const char *needle)
{
	struct secbuf out = {NULL, 0};

	f->err[0] = '\0';
	assert_int_equal(secfile_read(path, WHAT, min, max, &out, f->err), rv);
	assert_null(out.data);
	assert_non_null(strstr(f->err, WHAT));
	assert_non_null(strstr(f->err, path));
	assert_non_null(strstr(f->err, needle));
}

static void test_missing(void **state)
{
	struct fix *f = *state;

	expect_refusal(f, f->path, 1, 64, CF_ENOTFOUND, "cannot open");
}

static void test_symlink(void **state)
{
	struct fix *f = *state;
	char target[160];

	snprintf(target, sizeof(target), "%s/target", f->dir);
	put_file(target, 32, 0600);
	assert_int_equal(symlink(target, f->path), 0);
	/* O_NOFOLLOW: even a link to a perfectly good file is refused */
	expect_refusal(f, f->path, 1, 64, CF_EIO, "cannot open");
}

static void test_directory(void **state)
{
	struct fix *f = *state;

	assert_int_equal(mkdir(f->path, 0700), 0);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "not a regular file");
}

static void test_group_readable(void **state)
{
	struct fix *f = *state;

	put_file(f->path, 32, 0640);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "readable by group or others (mode 0640)");
	assert_non_null(strstr(f->err, "chmod 600"));
	assert_null(strstr(f->err, "xxxx")); /* never the content */
	assert_int_equal(chmod(f->path, 0604), 0);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "readable by group or others");
}

static void test_world_writable(void **state)
{
	struct fix *f = *state;

	put_file(f->path, 32, 0602);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "accessible by group or others (mode 0602)");
	assert_non_null(strstr(f->err, "chmod 600"));
	assert_int_equal(chmod(f->path, 0620), 0);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "accessible by group or others");
	assert_int_equal(chmod(f->path, 0610), 0);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "accessible by group or others");
}

static void test_too_small(void **state)
{
	struct fix *f = *state;

	put_file(f->path, 0, 0600);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "bad size (0 bytes)");
	put_file(f->path, 31, 0600);
	expect_refusal(f, f->path, 32, 32, CF_EINVAL, "exactly 32 bytes, not 31");
}

static void test_too_big(void **state)
{
	struct fix *f = *state;

	put_file(f->path, 65, 0600);
	expect_refusal(f, f->path, 1, 64, CF_EINVAL, "bad size (65 bytes)");
	put_file(f->path, 33, 0600);
	expect_refusal(f, f->path, 32, 32, CF_EINVAL, "exactly 32 bytes, not 33");
}

static void test_bounds_inclusive(void **state)
{
	struct fix *f = *state;
	struct secbuf out = {NULL, 0};

	put_file(f->path, 64, 0400); /* owner read-only is fine */
	assert_int_equal(secfile_read(f->path, WHAT, 1, 64, &out, f->err), 0);
	assert_int_equal(out.len, 64);
	assert_int_equal(out.data[64], 0); /* NUL-terminated */
	secbuf_free(&out);
	put_file(f->path, 1, 0600);
	assert_int_equal(secfile_read(f->path, WHAT, 1, 64, &out, f->err), 0);
	assert_int_equal(out.len, 1);
	assert_int_equal(out.data[0], 'x');
	secbuf_free(&out);
}

static void test_bad_arguments(void **state)
{
	struct fix *f = *state;
	struct secbuf out = {NULL, 0};

	assert_int_equal(secfile_read(f->path, WHAT, 0, 64, &out, f->err), CF_EINVAL);
	assert_int_equal(secfile_read(f->path, WHAT, 65, 64, &out, f->err), CF_EINVAL);
	assert_int_equal(secfile_read(f->path, NULL, 1, 64, &out, NULL), CF_EINVAL);
	assert_int_equal(secfile_create(f->path, WHAT, NULL, 4, f->err), CF_EINVAL);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_create_read_round_trip(void **state)
{
	struct fix *f = *state;
	struct secbuf out = {NULL, 0};
	uint8_t data[32];
	struct stat st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	data[5] = 0; /* binary content, an embedded zero included */
	assert_int_equal(secfile_create(f->path, WHAT, data, sizeof(data), f->err), 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, sizeof(data));
	assert_int_equal(secfile_read(f->path, WHAT, 32, 32, &out, f->err), 0);
	assert_int_equal(out.len, sizeof(data));
	assert_memory_equal(out.data, data, sizeof(data));
	secbuf_free(&out);
	assert_null(out.data);
}

static void test_create_existing_refused(void **state)
{
	struct fix *f = *state;
	struct secbuf out = {NULL, 0};
	char target[160];
	const char first[] = "first contents";

	assert_int_equal(secfile_create(f->path, WHAT, first, strlen(first), f->err), 0);
	assert_int_equal(secfile_create(f->path, WHAT, "second", 6, f->err), CF_EEXIST);
	assert_non_null(strstr(f->err, "cannot create " WHAT));
	assert_non_null(strstr(f->err, f->path));
	/* the existing file is neither overwritten nor removed */
	assert_int_equal(secfile_read(f->path, WHAT, 1, 64, &out, f->err), 0);
	assert_int_equal(out.len, strlen(first));
	assert_memory_equal(out.data, first, strlen(first));
	secbuf_free(&out);

	/* a dangling symlink is not followed to create its target */
	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(secfile_create(f->path, WHAT, first, strlen(first), f->err), CF_EEXIST);
	assert_int_equal(access(target, F_OK), -1);
}

static void test_create_missing_dir(void **state)
{
	struct fix *f = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/nodir/secret", f->dir);
	assert_int_equal(secfile_create(path, WHAT, "x", 1, f->err), CF_EIO);
	assert_non_null(strstr(f->err, "cannot create " WHAT));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_missing),
		T(test_symlink),
		T(test_directory),
		T(test_group_readable),
		T(test_world_writable),
		T(test_too_small),
		T(test_too_big),
		T(test_bounds_inclusive),
		T(test_bad_arguments),
		T(test_create_read_round_trip),
		T(test_create_existing_refused),
		T(test_create_missing_dir),
	};

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
