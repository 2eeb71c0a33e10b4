/*
 * auth: principals and request verification on the RPC port. The credential
 * table maps access key ids to secret keys (root credentials for now;
 * principals and policies come later). Verification checks the date is
 * within SIGN_SKEW_SECONDS of now, the region matches the node's region,
 * then recomputes the signature (sign.h) with a signing key cached per
 * (key, day) and compares in constant time. Not thread-safe (loop thread).
 */
#ifndef COFFER_AUTH_AUTH_H
#define COFFER_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/errors.h"

struct auth; /* opaque */

/* Credentials file: one line "ACCESS_KEY_ID SECRET_ACCESS_KEY", mode 0600.
 * With create set and no file: generate root credentials (AKID "CF" + 18
 * uppercase alnum, secret 40 chars base64url-ish) and write it. */
int auth_open(const char *creds_path, int create, const char *region, struct auth **out,
	      char *errmsg);
void auth_free(struct auth *a);

/* The root credentials, for writing dev.env. Borrowed from a. */
const char *auth_root_access_key_id(const struct auth *a);
const char *auth_root_secret_key(const struct auth *a);

/* Verify one request. All inputs borrowed; now is the server clock.
 * 0 when valid; otherwise -1 with st set to the AWS error:
 *   MissingAuthenticationTokenException (no key id / signature),
 *   IncompleteSignatureException (malformed fields),
 *   UnrecognizedClientException (unknown key),
 *   InvalidSignatureException (bad signature, wrong region,
 *     "Signature expired: ..." / "Signature not yet current: ...") */
int auth_verify(struct auth *a, const char *access_key_id, const char *date, const char *region,
		const char *signature, const char *operation, const uint8_t *payload,
		size_t payload_len, time_t now, struct cf_status *st);

/* SigV4 signing key for (access key id, yyyymmdd, region, service):
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request"), cached per (key, day, region, service). 0, or
 * CF_ENOTFOUND for an unknown key id (key_out then holds a dummy key so the
 * caller can do the same work). Matches sigv4_key_cb. */
int auth_sigv4_key(void *a, const char *access_key_id, const char *yyyymmdd, const char *region,
		   const char *service, uint8_t key_out[32]);

#endif
