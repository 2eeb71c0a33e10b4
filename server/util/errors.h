/*
 * Coffer error codes: functions return 0 on success or a negative CF_E*
 * code. One X-macro list gives the codes and their text. Business outcomes
 * that reach a client carry an AWS error name instead (see struct cf_status).
 */
#ifndef COFFER_UTIL_ERRORS_H
#define COFFER_UTIL_ERRORS_H

#include <stddef.h>

#define CF_ERRORS(X)                                              \
	X(CF_ENOMEM, 1, "out of memory")                          \
	X(CF_EINVAL, 2, "invalid argument")                       \
	X(CF_EIO, 3, "i/o error")                                 \
	X(CF_EPROTO, 4, "protocol error")                         \
	X(CF_ECRYPTO, 5, "cryptographic operation failed")        \
	X(CF_EAUTH, 6, "authentication failed")                   \
	X(CF_ENOTLEADER, 7, "not the leader")                     \
	X(CF_ENOLEADER, 8, "no leader")                           \
	X(CF_ELEADERSHIPLOST, 9, "leadership lost")               \
	X(CF_ETOOBIG, 10, "too big")                              \
	X(CF_ECLOSED, 11, "closed")                               \
	X(CF_ETIMEOUT, 12, "timed out")                           \
	X(CF_ENOTFOUND, 13, "not found")                          \
	X(CF_EEXIST, 14, "already exists")                        \
	X(CF_ESHUTDOWN, 15, "shutting down")                      \
	X(CF_ERAFT, 16, "raft error")

enum {
#define CF_ERR_ENUM(name, num, text) name = -(num),
	CF_ERRORS(CF_ERR_ENUM)
#undef CF_ERR_ENUM
};

/* Static text for a CF_E* code (never NULL). Any thread. */
const char *cf_strerror(int code);

/*
 * The outcome of a client-visible operation: an AWS error name and a clear
 * message, or type[0] == '\0' for success. Messages never hold secret bytes.
 */
struct cf_status {
	char type[64];
	char message[384];
};

/* Set status to (type, printf-formatted message). Returns -1 for chaining. */
int cf_status_set(struct cf_status *st, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int cf_status_ok(const struct cf_status *st)
{
	return st->type[0] == '\0';
}

#endif
