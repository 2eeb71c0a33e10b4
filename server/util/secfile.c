/*
 * Secret files. secfile_read: open with O_NOFOLLOW, fstat the open file (so
 * the checks and the read see the same inode), refuse a non-regular file,
 * a file another user owns ("chown USER 'path'"), any group/other mode bit
 * ("chmod 600 'path'") and a size outside the bounds,
 * then read into a secure buffer until EOF or max_len bytes. secfile_create:
 * O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600, write everything, fsync the file,
 * close, fsync the directory so the new name survives a crash; any failure
 * after the file exists unlinks it. Messages carry the caller's noun and the
 * path, never file content.
 */
#include "util/secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/errors.h"

static void set_err(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (errmsg == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, SECFILE_ERRMSG_LEN, fmt, ap);
	va_end(ap);
}

int secfile_check_owner_only(const struct stat *st, const char *path, const char *what,
			     char *errmsg)
{
	char user[64];
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	uid_t me = geteuid();

	if (st->st_uid != me) {
		if (getpwuid_r(me, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL)
			snprintf(user, sizeof(user), "%s", res->pw_name);
		else
			snprintf(user, sizeof(user), "%lu", (unsigned long)me);
		set_err(errmsg,
			"%s '%s' is owned by uid %lu, not by the service user '%s'; run: chown %s '%s'",
			what, path, (unsigned long)st->st_uid, user, user, path);
		return CF_EINVAL;
	}
	if (st->st_mode & (S_IRGRP | S_IROTH)) {
		set_err(errmsg,
			"%s '%s' is readable by group or others (mode %04lo); run: chmod %s '%s'",
			what, path, (unsigned long)(st->st_mode & 07777),
			S_ISDIR(st->st_mode) ? "700" : "600", path);
		return CF_EINVAL;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH | S_IXGRP | S_IXOTH)) {
		set_err(errmsg,
			"%s '%s' is accessible by group or others (mode %04lo); run: chmod %s '%s'",
			what, path, (unsigned long)(st->st_mode & 07777),
			S_ISDIR(st->st_mode) ? "700" : "600", path);
		return CF_EINVAL;
	}
	return 0;
}

/* The checks on an open file: regular, owner-only, size within bounds. */
static int check_stat(int fd, const char *path, const char *what, size_t min_len,
		      size_t max_len, char *errmsg)
{
	struct stat st;
	int rv;

	if (fstat(fd, &st) != 0) {
		set_err(errmsg, "cannot stat %s '%s': %s", what, path, strerror(errno));
		return CF_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(errmsg, "%s '%s' is not a regular file", what, path);
		return CF_EINVAL;
	}
	if ((rv = secfile_check_owner_only(&st, path, what, errmsg)) != 0)
		return rv;
	/* compare as off_t only after the sign check: st_size is never cast down */
	if (st.st_size < 0 || (unsigned long long)st.st_size < min_len ||
	    (unsigned long long)st.st_size > max_len) {
		if (min_len == max_len)
			set_err(errmsg, "%s '%s' must hold exactly %zu bytes, not %lld", what,
				path, min_len, (long long)st.st_size);
		else
			set_err(errmsg, "%s '%s' has a bad size (%lld bytes)", what, path,
				(long long)st.st_size);
		return CF_EINVAL;
	}
	return 0;
}

/* Read until EOF or max bytes into buf; the count in *got. */
static int read_upto(int fd, uint8_t *buf, size_t max, size_t *got)
{
	*got = 0;
	while (*got < max) {
		ssize_t r = read(fd, buf + *got, max - *got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

int secfile_read(const char *path, const char *what, size_t min_len, size_t max_len,
		 struct secbuf *out, char *errmsg)
{
	struct secbuf b = {NULL, 0};
	size_t got = 0;
	int fd;
	int rv;

	if (path == NULL || what == NULL || out == NULL || min_len == 0 || min_len > max_len ||
	    max_len > SIZE_MAX - 1) {
		set_err(errmsg, "secfile: bad arguments");
		return CF_EINVAL;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rv = errno == ENOENT ? CF_ENOTFOUND : CF_EIO;
		set_err(errmsg, "cannot open %s '%s': %s", what, path, strerror(errno));
		return rv;
	}
	if ((rv = check_stat(fd, path, what, min_len, max_len, errmsg)) != 0)
		goto out;
	if ((rv = secbuf_alloc(&b, max_len)) != 0) {
		set_err(errmsg, "%s '%s': out of secure memory", what, path);
		goto out;
	}
	rv = CF_EIO;
	if (read_upto(fd, b.data, max_len, &got) != 0) {
		set_err(errmsg, "cannot read %s '%s': %s", what, path, strerror(errno));
		goto out;
	}
	/* the file changed size since fstat */
	if (got < min_len) {
		set_err(errmsg, "cannot read %s '%s': short read at %zu", what, path, got);
		goto out;
	}
	b.len = got; /* b.data[got] is still the zero from secmem_alloc */
	*out = b;
	b.data = NULL;
	rv = 0;
out:
	secbuf_free(&b);
	close(fd);
	return rv;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO; /* a write that makes no progress: never loop on it */
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so its new entry is durable. */
static int sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd;
	int rv = 0;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		n = slash == path ? 1 : (size_t)(slash - path); /* "/name" lives in "/" */
		if (n >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fsync(fd) != 0)
		rv = -1;
	if (close(fd) != 0 && rv == 0)
		rv = -1;
	return rv;
}

int secfile_create(const char *path, const char *what, const void *data, size_t len,
		   char *errmsg)
{
	int fd;
	int rv;

	if (path == NULL || what == NULL || (data == NULL && len > 0)) {
		set_err(errmsg, "secfile: bad arguments");
		return CF_EINVAL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = errno == EEXIST ? CF_EEXIST : CF_EIO;
		set_err(errmsg, "cannot create %s '%s': %s", what, path, strerror(errno));
		return rv;
	}
	rv = CF_EIO;
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		set_err(errmsg, "cannot write %s '%s': %s", what, path, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		set_err(errmsg, "cannot write %s '%s': %s", what, path, strerror(errno));
		goto out;
	}
	if (sync_dir(path) != 0) {
		set_err(errmsg, "cannot sync the directory of %s '%s': %s", what, path,
			strerror(errno));
		goto out;
	}
	rv = 0;
out:
	if (rv != 0)
		unlink(path);
	return rv;
}
