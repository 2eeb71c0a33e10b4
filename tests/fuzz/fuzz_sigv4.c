/*
 * Fuzz the SigV4 verifier. Input layout, fields separated by NUL bytes:
 *   method \0 path \0 query \0 signed-headers \0 payload-hash \0
 *   name:value \0 name:value \0 ... \0 \0 body
 * Up to SIGV4_MAX_HEADERS + 2 headers are taken, so the over-limit path is
 * reached too. Runs sigv4_canonical_request (with the given SignedHeaders
 * and hash) and sigv4_verify (service "secretsmanager", region us-east-1,
 * the AWS test-suite clock, a key callback that knows AKIDEXAMPLE). Checks:
 * a canonical request has the length it reports and no NUL inside; a
 * verify result is 0 with an empty status or -1 with a type and message.
 * ASan/LSan catch overreads and leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "crypto/crypto.h"
#include "util/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW       ((time_t)1440938160) /* 20150830T123600Z */
#define FUZZ_MAX_INPUT (256 * 1024)

static int key_cb(void *unused, const char *akid, const char *day, const char *region,
                  const char *service, uint8_t key_out[32])
{
	static const char seed[] = "AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	uint8_t k[32];

	(void)unused;
	memset(key_out, 0x5a, 32); /* the dummy */
	if (strcmp(akid, "AKIDEXAMPLE") != 0)
		return CF_ENOTFOUND;
	if (crypto_hmac_sha256(seed, sizeof(seed) - 1, day, strlen(day), k) != 0 ||
	    crypto_hmac_sha256(k, 32, region, strlen(region), k) != 0 ||
	    crypto_hmac_sha256(k, 32, service, strlen(service), k) != 0 ||
	    crypto_hmac_sha256(k, 32, "aws4_request", 12, key_out) != 0)
		return CF_ECRYPTO;
	return 0;
}

static int region_cb(void *unused, const char *region)
{
	(void)unused;
	return strcmp(region, "us-east-1") == 0;
}

/* The next NUL-terminated field from [*p, end): its start and length. */
static int next_field(const char **p, const char *end, const char **f, size_t *n)
{
	const char *nul;

	if (*p >= end)
		return 0;
	nul = memchr(*p, '\0', (size_t)(end - *p));
	*f = *p;
	*n = (size_t)((nul ? nul : end) - *p);
	*p = nul ? nul + 1 : end;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigv4_header h[SIGV4_MAX_HEADERS + 2];
	struct sigv4_request req;
	struct sigv4_identity who;
	struct cf_status st;
	const char *p, *end, *f[5];
	size_t n[5];
	char *copy, *canon = NULL;
	size_t canon_len = 0;
	int rv;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* a private copy: the method, SignedHeaders and hash are C strings */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	p = copy;
	end = copy + size;
	for (int i = 0; i < 5; i++)
		if (!next_field(&p, end, &f[i], &n[i])) {
			f[i] = end;
			n[i] = 0;
		}

	memset(&req, 0, sizeof(req));
	req.method = f[0];
	req.path = f[1];
	req.path_len = n[1];
	req.query = f[2];
	req.query_len = n[2];
	req.headers = h;
	for (;;) {
		const char *hf, *colon;
		size_t hn;

		if (!next_field(&p, end, &hf, &hn) || hn == 0)
			break;
		if (req.n_headers == SIGV4_MAX_HEADERS + 2)
			continue;
		colon = memchr(hf, ':', hn);
		h[req.n_headers].name = hf;
		h[req.n_headers].name_len = colon ? (size_t)(colon - hf) : hn;
		h[req.n_headers].value = colon ? colon + 1 : hf + hn;
		h[req.n_headers].value_len = colon ? hn - (size_t)(colon + 1 - hf) : 0;
		req.n_headers++;
	}
	req.body = (const uint8_t *)p;
	req.body_len = (size_t)(end - p);

	rv = sigv4_canonical_request(&req, f[3], f[4], &canon, &canon_len);
	if (rv == 0 && (canon == NULL || strlen(canon) != canon_len))
		abort();
	if (rv != 0 && canon != NULL)
		abort();
	free(canon);

	rv = sigv4_verify(&req, "secretsmanager", FUZZ_NOW, region_cb, key_cb, NULL, &who, &st);
	if (rv == 0 && (!cf_status_ok(&st) || strlen(who.date) != 16))
		abort();
	if (rv != 0 && (rv != -1 || st.type[0] == '\0' || st.message[0] == '\0'))
		abort();
	free(copy);
	return 0;
}
