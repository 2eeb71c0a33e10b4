/*
 * Process hardening at start, before any key is read: the process is not
 * dumpable (no core file, no ptrace or /proc/PID/mem by other processes of
 * the same user), its core limit is 0 (soft and hard, so a child cannot
 * raise it again), and files it creates are owner-only (umask 077). Then
 * the data directory must be owner-only (0700) and every secret file (root
 * key, credentials, TLS private key) owned by the effective user with no
 * group/other bit; a refusal names the file, what is wrong and the command
 * that fixes it.
 *
 * Startup only, main thread. errmsg is borrowed, at least
 * HARDEN_ERRMSG_LEN bytes.
 */
#ifndef COFFER_UTIL_HARDEN_H
#define COFFER_UTIL_HARDEN_H

#include <stddef.h>

#define HARDEN_ERRMSG_LEN 256

/* umask(077), RLIMIT_CORE 0/0, PR_SET_DUMPABLE 0. 0, or CF_EIO with
 * errmsg set when the kernel refuses one of them. */
int harden_process(char *errmsg);

/* A file that must be owner-only: path and what ("root key file") borrowed. */
struct harden_file {
	const char *path;
	const char *what;
};

/* Check data_dir (a directory owned by the effective user, no group/other
 * bit) and each of files[0..n) that exists (stat follows symlinks: the
 * target is what is checked; a missing file is left to whoever opens it,
 * e.g. dev mode creates it 0600). Empty paths are skipped. 0, CF_EINVAL
 * (a rule broken) or CF_EIO (stat failed other than ENOENT), errmsg set. */
int harden_check_files(const char *data_dir, const struct harden_file *files, size_t n,
		       char *errmsg);

/* 1 when the process is dumpable now (PR_GET_DUMPABLE), 0 when not, -1 on
 * error. Any thread. */
int harden_dumpable(void);

#endif
