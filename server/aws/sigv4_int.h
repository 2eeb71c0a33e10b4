/*
 * sigv4 internals shared by sigv4_canon.c (canonical request) and
 * sigv4.c (verification). Not part of the module's contract: include only
 * from server/aws/sigv4*.c. Pure; every length is bounded by the limits
 * below before arithmetic.
 */
#ifndef COFFER_AWS_SIGV4_INT_H
#define COFFER_AWS_SIGV4_INT_H

#include <stddef.h>

#include "aws/sigv4.h"

#define SIGV4_FIELD_MAX 8192 /* header name/value, path, query */

/* HTTP whitespace: space, tab, CR, LF, VT, FF. */
int sigv4__is_space(unsigned char c);

/* The value of hex digit c (either case), or -1. */
int sigv4__hexval(unsigned char c);

/* ASCII lowercase of c; anything else unchanged. */
char sigv4__lower(char c);

/* Whether a[0..an) and b[0..bn) are equal ignoring ASCII case. */
int sigv4__name_eq(const char *a, size_t an, const char *b, size_t bn);

/* Split a SignedHeaders value (sh_len bytes) into names borrowed from sh:
 * non-empty, lowercase token characters, at most SIGV4_MAX_HEADERS, no
 * repeats. 0 (names, lens, *count set) or CF_EINVAL. */
int sigv4__split_signed(const char *sh, size_t sh_len, const char *names[SIGV4_MAX_HEADERS],
                        size_t lens[SIGV4_MAX_HEADERS], size_t *count);

/* Whether req has a bounded shape: counts and lengths within the limits,
 * no NULL pointer with a length. */
int sigv4__request_ok(const struct sigv4_request *req);

/* Whether req carries a header named name[0..n) (any case). */
int sigv4__has_header(const struct sigv4_request *req, const char *name, size_t n);

#endif
