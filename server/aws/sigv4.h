/*
 * sigv4: verification of AWS Signature Version 4 (header form,
 * AWS4-HMAC-SHA256) for the AWS JSON 1.1 endpoint. The canonical request is
 * rebuilt from the client's own SignedHeaders list; the payload hash is
 * computed from the body (and must equal X-Amz-Content-Sha256 when that is
 * sent; UNSIGNED-PAYLOAD is refused); x-amz-date (or Date) must be within
 * 5 minutes of now; the credential scope (date/region/service/aws4_request)
 * is checked; host and x-amz-date/date must be signed; the signature is
 * compared in constant time. Pure: no libuv, no raft. Thread-safe.
 */
#ifndef COFFER_AWS_SIGV4_H
#define COFFER_AWS_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/errors.h"

#define SIGV4_MAX_HEADERS 64
#define SIGV4_SKEW_SECONDS 300

/* One header as received (name in any case; value untrimmed). Borrowed. */
struct sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct sigv4_request {
	const char *method;      /* "POST" */
	const char *path;        /* raw request-target path, e.g. "/" */
	size_t path_len;
	const char *query;       /* raw query string without '?', may be empty */
	size_t query_len;
	const struct sigv4_header *headers; /* every header, repeated ones allowed */
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
};

/* Derive the signing key for (access key id, yyyymmdd, region, service).
 * 0, or CF_ENOTFOUND for an unknown access key id. Called on every request:
 * implementations cache per day. */
typedef int (*sigv4_key_cb)(void *data, const char *access_key_id, const char *yyyymmdd,
			    const char *region, const char *service, uint8_t key_out[32]);
/* Whether this endpoint serves region (non-zero = yes). */
typedef int (*sigv4_region_cb)(void *data, const char *region);

struct sigv4_identity {
	char access_key_id[129];
	char region[65];         /* from the credential scope: selects the region */
	char date[17];           /* YYYYMMDDTHHMMSSZ */
};

/*
 * Verify req for service (e.g. "secretsmanager") at server time now.
 * 0 and *who filled when valid; otherwise -1 with st set to the AWS error:
 *   MissingAuthenticationTokenException "Missing Authentication Token"
 *   IncompleteSignatureException (malformed Authorization, missing parts,
 *     host or date not signed, signed header absent)
 *   InvalidSignatureException ("Credential should be scoped to correct
 *     service: '<service>'.", "Credential should be scoped to a valid region, ...",
 *     "Signature expired: ... (<now> - 5 min.)", "Signature not yet current: ...",
 *     payload hash mismatch, "The request signature we calculated does not match ...")
 *   UnrecognizedClientException "The security token included in the request is invalid."
 * The same work is done for unknown keys and bad signatures (no timing oracle).
 */
int sigv4_verify(const struct sigv4_request *req, const char *service, time_t now,
		 sigv4_region_cb region_ok, sigv4_key_cb key_cb, void *data,
		 struct sigv4_identity *who, struct cf_status *st);

/* Build the canonical request for req with the given SignedHeaders value
 * and payload hash (hex). *out malloc'ed (free()). 0, CF_EINVAL (a signed
 * header is missing / malformed input), CF_ENOMEM. Exposed for tests and
 * the fuzz target. */
int sigv4_canonical_request(const struct sigv4_request *req, const char *signed_headers,
			    const char *payload_hash_hex, char **out, size_t *out_len);

#endif
