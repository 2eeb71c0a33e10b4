/*
 * Process hardening. harden_process: umask first (so every file created
 * later is owner-only), then the core limit, then non-dumpable; each
 * refusal by the kernel fails the start with the call named.
 * harden_check_files: stat the data dir and each secret file and apply
 * secfile's owner-only rule (the same rule and messages as secfile_read).
 */
#include "util/harden.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/errors.h"
#include "util/secfile.h"

int harden_process(char *errmsg)
{
	struct rlimit none = {0, 0};

	umask(077);
	if (setrlimit(RLIMIT_CORE, &none) != 0) {
		snprintf(errmsg, HARDEN_ERRMSG_LEN, "cannot set the core file limit to 0: %s",
			 strerror(errno));
		return CF_EIO;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(errmsg, HARDEN_ERRMSG_LEN, "cannot make the process non-dumpable: %s",
			 strerror(errno));
		return CF_EIO;
	}
	return 0;
}

int harden_dumpable(void)
{
	return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

static int check_one(const char *path, const char *what, int want_dir, char *errmsg)
{
	struct stat st;

	if (path == NULL || path[0] == '\0')
		return 0;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(errmsg, HARDEN_ERRMSG_LEN, "cannot stat %s '%s': %s", what, path,
			 strerror(errno));
		return CF_EIO;
	}
	if (want_dir && !S_ISDIR(st.st_mode)) {
		snprintf(errmsg, HARDEN_ERRMSG_LEN, "%s '%s' is not a directory", what, path);
		return CF_EINVAL;
	}
	if (!want_dir && !S_ISREG(st.st_mode)) {
		snprintf(errmsg, HARDEN_ERRMSG_LEN, "%s '%s' is not a regular file", what, path);
		return CF_EINVAL;
	}
	return secfile_check_owner_only(&st, path, what, errmsg);
}

int harden_check_files(const char *data_dir, const struct harden_file *files, size_t n,
		       char *errmsg)
{
	int rv = check_one(data_dir, "data dir", 1, errmsg);

	for (size_t i = 0; rv == 0 && i < n; i++)
		rv = check_one(files[i].path, files[i].what, 0, errmsg);
	return rv;
}
