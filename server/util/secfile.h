/*
 * Secret files: small owner-only files that hold key material or
 * credentials (the root key file, the credentials file). Reading refuses
 * anything an attacker sharing the host could have planted or read: a
 * symlink (O_NOFOLLOW), a non-regular file, a file not owned by the
 * effective user, any group/other permission bit, or a size outside the
 * caller's bounds; the bytes go straight into the
 * secure heap. Creating is exclusive (O_EXCL|O_NOFOLLOW, mode 0600), writes
 * everything, fsyncs the file and its directory, and removes the file again
 * on any failure, so a half-written secret never stays behind.
 *
 * Messages name the file with the caller's noun ("what", e.g. "credentials
 * file", "root key file") and its path, never a byte of its content. errmsg
 * is borrowed, at least SECFILE_ERRMSG_LEN bytes, and may be NULL. Blocking
 * file I/O: call at startup or off the loop. Any thread.
 */
#ifndef COFFER_UTIL_SECFILE_H
#define COFFER_UTIL_SECFILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/secmem.h"

#define SECFILE_ERRMSG_LEN 256

/* Read path, an owner-only regular file of min_len..max_len bytes (1 <=
 * min_len <= max_len), into out: a fresh secure buffer (returned, free with
 * secbuf_free) of the bytes read, NUL-terminated, untouched on failure.
 * Errors: CF_ENOTFOUND (no such file), CF_EINVAL (not a regular file,
 * another owner, group/other mode bits, size out of bounds; bad arguments),
 * CF_ENOMEM, CF_EIO (any other open failure, a symlink (ELOOP) among them; a stat or
 * read failure; the file shrank below min_len while being read). */
int secfile_read(const char *path, const char *what, size_t min_len, size_t max_len,
		 struct secbuf *out, char *errmsg);

/* The owner-only rule on st, the stat of path (a file or a directory):
 * owned by the effective user and no group/other permission bit. 0, or
 * CF_EINVAL with errmsg naming what and path, what is wrong and the command
 * that fixes it ("run: chmod 600 'path'", "run: chown USER 'path'"). st,
 * path and what are borrowed. Any thread. */
int secfile_check_owner_only(const struct stat *st, const char *path, const char *what,
			     char *errmsg);

/* Create path exclusively with mode 0600 and the len bytes of data
 * (borrowed), then fsync it and its directory. Errors: CF_EEXIST (path
 * exists, including as a symlink: nothing is touched), CF_EINVAL (bad
 * arguments), CF_EIO (anything else; the new file has been unlinked). */
int secfile_create(const char *path, const char *what, const void *data, size_t len,
		   char *errmsg);

#endif
