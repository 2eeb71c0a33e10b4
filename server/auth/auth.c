/*
 * auth: the credential table and request verification on the RPC port.
 *
 * Happy path of auth_verify: fields present and well formed, region is the
 * node's, date within SIGN_SKEW_SECONDS of now, key id known, signing key
 * taken from a small cache (or derived once per key and day), signature
 * recomputed and compared with CRYPTO_memcmp. Each failure maps to the AWS
 * error name and text a Secrets Manager client expects; messages echo only
 * the request's own public fields (bounded), never a key or derived value.
 *
 * The credential file is one line "ACCESS_KEY_ID SECRET_ACCESS_KEY", owner
 * only (mode 0600 or stricter). With create set and no file, root
 * credentials are generated from the CSPRNG and written with O_EXCL.
 * Secret keys and cached signing keys live in the secure heap.
 *
 * auth_sigv4_key serves the AWS endpoint's SigV4 verifier: the AWS4 signing
 * key, derived in the secure block and cached per (key id, day, region,
 * service) in a few round-robin slots; an unknown key id gets the dummy key
 * and CF_ENOTFOUND so the verifier does the same HMAC work either way.
 */
#include "auth/auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "crypto/sign.h"
#include "util/secfile.h"
#include "util/secmem.h"

#define AUTH_ERRMSG_LEN 256
#define AUTH_FILE_MAX 1024
#define AUTH_AKID_MAX 128
#define AUTH_SECRET_MAX 128
#define AUTH_REGION_MAX 64
#define AUTH_CACHE_SLOTS 4 /* (key, day) pairs: today, around midnight two */
#define AUTH_SIGV4_SLOTS 8 /* (key, day, region, service): a few regions around midnight */
#define AUTH_SERVICE_MAX 64
#define ROOT_AKID_RANDOM 18
#define ROOT_SECRET_LEN 40

/* Everything secret about an auth; one secure-heap block. */
struct auth_secrets {
	char secret[AUTH_SECRET_MAX + 1];
	uint8_t dummy_key[32]; /* signs for unknown key ids, so both paths cost an HMAC */
	struct {
		int valid;
		char day[9];
		uint8_t key[32];
	} cache[AUTH_CACHE_SLOTS];
	unsigned next_victim;
	/* SigV4 signing keys for the AWS endpoint, and scratch for deriving them */
	struct {
		int valid;
		char akid[AUTH_AKID_MAX + 1];
		char day[9];
		char region[AUTH_REGION_MAX + 1];
		char service[AUTH_SERVICE_MAX + 1];
		uint8_t key[32];
	} sigv4[AUTH_SIGV4_SLOTS];
	unsigned sigv4_next;
	uint8_t sigv4_seed[4 + AUTH_SECRET_MAX]; /* "AWS4" + secret */
	uint8_t sigv4_k[32];
};

struct auth {
	char region[AUTH_REGION_MAX + 1];
	char akid[AUTH_AKID_MAX + 1]; /* the root credential's access key id */
	struct auth_secrets *s;       /* secmem */
};

static void set_err(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (errmsg == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, AUTH_ERRMSG_LEN, fmt, ap);
	va_end(ap);
}

/* n characters drawn uniformly from alphabet (size <= 256) into out. */
static int random_chars(char *out, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet);
	unsigned limit = 256 - 256 % (unsigned)k; /* reject above this: no modulo bias */
	uint8_t buf[64];
	size_t i = 0;
	int rv = 0;

	while (i < n) {
		if ((rv = crypto_random(buf, sizeof(buf))) != 0)
			break;
		for (size_t j = 0; j < sizeof(buf) && i < n; j++)
			if (buf[j] < limit)
				out[i++] = alphabet[buf[j] % k];
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rv;
}

static int is_akid_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Parse "AKID SECRET\n" from buf (NUL-terminated, in secmem) into a. */
static int parse_creds(struct auth *a, char *buf, const char *path, char *errmsg)
{
	char *akid = buf;
	char *sp, *secret, *end;
	size_t akid_len, secret_len;

	sp = strchr(buf, ' ');
	if (sp == NULL)
		goto bad;
	akid_len = (size_t)(sp - akid);
	secret = sp + 1;
	secret_len = strcspn(secret, "\r\n");
	end = secret + secret_len;
	/* only line endings may follow the one line */
	if (end[strspn(end, "\r\n")] != '\0')
		goto bad;
	if (akid_len < 16 || akid_len > AUTH_AKID_MAX || secret_len < 16 ||
	    secret_len > AUTH_SECRET_MAX)
		goto bad;
	for (size_t i = 0; i < akid_len; i++)
		if (!is_akid_char(akid[i]))
			goto bad;
	for (size_t i = 0; i < secret_len; i++)
		if (secret[i] <= ' ' || secret[i] > '~')
			goto bad;
	memcpy(a->akid, akid, akid_len);
	a->akid[akid_len] = '\0';
	memcpy(a->s->secret, secret, secret_len);
	a->s->secret[secret_len] = '\0';
	return 0;
bad:
	/* the line holds a secret: describe its shape, never its content */
	set_err(errmsg, "credentials file '%s' must hold one line 'ACCESS_KEY_ID SECRET_ACCESS_KEY'",
		path);
	return CF_EINVAL;
}

static int read_creds(struct auth *a, const char *path, char *errmsg)
{
	struct secbuf buf = {NULL, 0};
	int rv;

	rv = secfile_read(path, "credentials file", 1, AUTH_FILE_MAX, &buf, errmsg);
	if (rv != 0)
		return rv;
	rv = parse_creds(a, (char *)buf.data, path, errmsg); /* secfile NUL-terminates */
	secbuf_free(&buf);
	return rv;
}

/* Generate root credentials into a and write them to path with O_EXCL.
 * CF_EEXIST when the file appeared meanwhile. */
static int create_creds(struct auth *a, const char *path, char *errmsg)
{
	static const char upper_alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char secret_chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *line = NULL;
	size_t len;
	int rv;

	memcpy(a->akid, "CF", 2);
	if ((rv = random_chars(a->akid + 2, ROOT_AKID_RANDOM, upper_alnum)) != 0 ||
	    (rv = random_chars(a->s->secret, ROOT_SECRET_LEN, secret_chars)) != 0) {
		set_err(errmsg, "credentials file '%s': random generator failed", path);
		goto out;
	}
	a->akid[2 + ROOT_AKID_RANDOM] = '\0';
	a->s->secret[ROOT_SECRET_LEN] = '\0';
	rv = CF_ENOMEM;
	if ((line = secmem_alloc(AUTH_AKID_MAX + AUTH_SECRET_MAX + 3)) == NULL) {
		set_err(errmsg, "credentials file '%s': out of secure memory", path);
		goto out;
	}
	len = (size_t)snprintf(line, AUTH_AKID_MAX + AUTH_SECRET_MAX + 3, "%s %s\n", a->akid,
			       a->s->secret);
	rv = secfile_create(path, "credentials file", line, len, errmsg);
out:
	secmem_free(line);
	return rv;
}

int auth_open(const char *creds_path, int create, const char *region, struct auth **out,
	      char *errmsg)
{
	struct auth *a = NULL;
	int rv = CF_EINVAL;

	if (creds_path == NULL || out == NULL || region == NULL || region[0] == '\0' ||
	    strlen(region) > AUTH_REGION_MAX) {
		set_err(errmsg, "auth: bad arguments");
		goto out;
	}
	rv = CF_ENOMEM;
	if ((a = calloc(1, sizeof(*a))) == NULL || (a->s = secmem_alloc(sizeof(*a->s))) == NULL) {
		set_err(errmsg, "credentials file '%s': out of memory", creds_path);
		goto out;
	}
	memcpy(a->region, region, strlen(region) + 1);
	if ((rv = crypto_random(a->s->dummy_key, sizeof(a->s->dummy_key))) != 0) {
		set_err(errmsg, "credentials file '%s': random generator failed", creds_path);
		goto out;
	}
	rv = read_creds(a, creds_path, errmsg);
	if (rv == CF_ENOTFOUND && create) {
		rv = create_creds(a, creds_path, errmsg);
		if (rv == CF_EEXIST) /* lost a creation race: use the winner's file */
			rv = read_creds(a, creds_path, errmsg);
	}
	if (rv != 0)
		goto out;
	*out = a;
	a = NULL;
out:
	auth_free(a);
	return rv;
}

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	secmem_free(a->s);
	free(a);
}

const char *auth_root_access_key_id(const struct auth *a)
{
	return a->akid;
}

const char *auth_root_secret_key(const struct auth *a)
{
	return a->s->secret;
}

/* The signing key for the root credential on day (8 digits), derived on a
 * miss. The region is fixed per auth (verified before this), so the cache
 * is keyed by (credential, day); with one credential, by day. */
static const uint8_t *signing_key(struct auth *a, const char *day)
{
	struct auth_secrets *s = a->s;
	unsigned slot;

	for (unsigned i = 0; i < AUTH_CACHE_SLOTS; i++)
		if (s->cache[i].valid && memcmp(s->cache[i].day, day, 8) == 0)
			return s->cache[i].key;
	slot = s->next_victim;
	s->next_victim = (s->next_victim + 1) % AUTH_CACHE_SLOTS;
	s->cache[slot].valid = 0;
	if (sign_derive_key(s->secret, day, a->region, s->cache[slot].key) != 0) {
		OPENSSL_cleanse(s->cache[slot].key, sizeof(s->cache[slot].key));
		return NULL;
	}
	memcpy(s->cache[slot].day, day, 8);
	s->cache[slot].day[8] = '\0';
	s->cache[slot].valid = 1;
	return s->cache[slot].key;
}

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

#define E_MISSING "MissingAuthenticationTokenException"
#define E_INCOMPLETE "IncompleteSignatureException"
#define E_INVALID "InvalidSignatureException"
#define E_UNRECOGNIZED "UnrecognizedClientException"

int auth_verify(struct auth *a, const char *access_key_id, const char *date, const char *region,
		const char *signature, const char *operation, const uint8_t *payload,
		size_t payload_len, time_t now, struct cf_status *st)
{
	char expect[SIGN_HEX_LEN + 1];
	char now_s[SIGN_DATE_LEN + 1], limit_s[SIGN_DATE_LEN + 1];
	const uint8_t *key;
	char day[9];
	time_t t;
	int known;

	st->type[0] = '\0';
	st->message[0] = '\0';
	if (access_key_id == NULL || access_key_id[0] == '\0' || signature == NULL ||
	    signature[0] == '\0')
		return cf_status_set(st, E_MISSING, "Missing Authentication Token");
	if (date == NULL || sign_parse_date(date, &t) != 0)
		return cf_status_set(st, E_INCOMPLETE,
				     "Date must be in ISO-8601 'basic format'. Got '%.32s'. See "
				     "http://en.wikipedia.org/wiki/ISO_8601",
				     date ? date : "");
	if (strnlen(signature, SIGN_HEX_LEN + 1) != SIGN_HEX_LEN ||
	    !is_lower_hex(signature, SIGN_HEX_LEN))
		return cf_status_set(st, E_INCOMPLETE,
				     "Signature must be %d lowercase hexadecimal characters",
				     SIGN_HEX_LEN);
	if (region == NULL || region[0] == '\0')
		return cf_status_set(st, E_INCOMPLETE, "Credential must have a region");
	if (operation == NULL || operation[0] == '\0' || (payload == NULL && payload_len > 0))
		return cf_status_set(st, E_INCOMPLETE, "Request must name an operation");
	if (strcmp(region, a->region) != 0)
		return cf_status_set(st, E_INVALID,
				     "Credential should be scoped to a valid region, not '%.64s'. ",
				     region);
	if (t < now - SIGN_SKEW_SECONDS) {
		sign_format_date(now, now_s);
		sign_format_date(now - SIGN_SKEW_SECONDS, limit_s);
		return cf_status_set(st, E_INVALID,
				     "Signature expired: %s is now earlier than %s (%s - 5 min.)",
				     date, limit_s, now_s);
	}
	if (t > now + SIGN_SKEW_SECONDS) {
		sign_format_date(now, now_s);
		sign_format_date(now + SIGN_SKEW_SECONDS, limit_s);
		return cf_status_set(st, E_INVALID,
				     "Signature not yet current: %s is still later than %s (%s + 5 min.)",
				     date, limit_s, now_s);
	}

	memcpy(day, date, 8);
	day[8] = '\0';
	known = strcmp(access_key_id, a->akid) == 0;
	/* an unknown id still pays for an HMAC, so timing says little about ids */
	key = known ? signing_key(a, day) : a->s->dummy_key;
	if (key == NULL || sign_compute(key, access_key_id, date, region, operation, payload,
					payload_len, expect) != 0) {
		if (!known)
			return cf_status_set(st, E_UNRECOGNIZED,
					     "The security token included in the request is invalid.");
		return cf_status_set(st, E_INCOMPLETE, "Request fields are malformed");
	}
	if (!known)
		return cf_status_set(st, E_UNRECOGNIZED,
				     "The security token included in the request is invalid.");
	if (CRYPTO_memcmp(expect, signature, SIGN_HEX_LEN) != 0)
		return cf_status_set(st, E_INVALID,
				     "The request signature we calculated does not match the "
				     "signature you provided. Check your AWS Secret Access Key and "
				     "signing method.");
	return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service),
 * "aws4_request") into out; intermediates live in the secure block and are
 * wiped. 0 or CF_ECRYPTO. */
static int sigv4_derive(struct auth_secrets *s, const char *day, const char *region,
			const char *service, uint8_t out[32])
{
	size_t n = strlen(s->secret);
	int rv = CF_ECRYPTO;

	memcpy(s->sigv4_seed, "AWS4", 4);
	memcpy(s->sigv4_seed + 4, s->secret, n);
	if (crypto_hmac_sha256(s->sigv4_seed, 4 + n, day, 8, s->sigv4_k) != 0 ||
	    crypto_hmac_sha256(s->sigv4_k, 32, region, strlen(region), s->sigv4_k) != 0 ||
	    crypto_hmac_sha256(s->sigv4_k, 32, service, strlen(service), s->sigv4_k) != 0 ||
	    crypto_hmac_sha256(s->sigv4_k, 32, "aws4_request", 12, out) != 0)
		goto out;
	rv = 0;
out:
	OPENSSL_cleanse(s->sigv4_seed, sizeof(s->sigv4_seed));
	OPENSSL_cleanse(s->sigv4_k, sizeof(s->sigv4_k));
	return rv;
}

static int is_day(const char *d)
{
	for (int i = 0; i < 8; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	return d[8] == '\0';
}

int auth_sigv4_key(void *data, const char *access_key_id, const char *yyyymmdd,
		   const char *region, const char *service, uint8_t key_out[32])
{
	struct auth *a = data;
	struct auth_secrets *s;
	unsigned slot;

	if (a == NULL || key_out == NULL)
		return CF_EINVAL;
	s = a->s;
	/* the dummy first, so every early return leaves key_out usable */
	memcpy(key_out, s->dummy_key, 32);
	if (access_key_id == NULL || yyyymmdd == NULL || region == NULL || service == NULL ||
	    strnlen(yyyymmdd, 9) != 8 || !is_day(yyyymmdd) || region[0] == '\0' ||
	    strnlen(region, AUTH_REGION_MAX + 1) > AUTH_REGION_MAX || service[0] == '\0' ||
	    strnlen(service, AUTH_SERVICE_MAX + 1) > AUTH_SERVICE_MAX)
		return CF_EINVAL;
	if (strnlen(access_key_id, AUTH_AKID_MAX + 1) > AUTH_AKID_MAX ||
	    strcmp(access_key_id, a->akid) != 0)
		return CF_ENOTFOUND;
	for (unsigned i = 0; i < AUTH_SIGV4_SLOTS; i++)
		if (s->sigv4[i].valid && strcmp(s->sigv4[i].akid, access_key_id) == 0 &&
		    memcmp(s->sigv4[i].day, yyyymmdd, 9) == 0 &&
		    strcmp(s->sigv4[i].region, region) == 0 &&
		    strcmp(s->sigv4[i].service, service) == 0) {
			memcpy(key_out, s->sigv4[i].key, 32);
			return 0;
		}
	slot = s->sigv4_next;
	s->sigv4_next = (s->sigv4_next + 1) % AUTH_SIGV4_SLOTS;
	s->sigv4[slot].valid = 0;
	if (sigv4_derive(s, yyyymmdd, region, service, s->sigv4[slot].key) != 0) {
		OPENSSL_cleanse(s->sigv4[slot].key, sizeof(s->sigv4[slot].key));
		return CF_ECRYPTO;
	}
	memcpy(s->sigv4[slot].akid, access_key_id, strlen(access_key_id) + 1);
	memcpy(s->sigv4[slot].day, yyyymmdd, 9);
	memcpy(s->sigv4[slot].region, region, strlen(region) + 1);
	memcpy(s->sigv4[slot].service, service, strlen(service) + 1);
	s->sigv4[slot].valid = 1;
	memcpy(key_out, s->sigv4[slot].key, 32);
	return 0;
}
