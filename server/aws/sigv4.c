/*
 * sigv4: AWS Signature Version 4 verification (header form).
 *
 * Happy path of sigv4_verify: exactly one Authorization header; it parses
 * as "AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request,
 * SignedHeaders=a;b, Signature=<64 hex>"; host and the date header are
 * signed and every signed header is present; the scope names our service
 * and a region we serve; x-amz-date (or Date, re-formatted) is within
 * SIGV4_SKEW_SECONDS of now and its day equals the scope's; the body hash
 * equals X-Amz-Content-Sha256 when that is sent; the canonical request is
 * rebuilt from the client's own SignedHeaders, hashed into the string to
 * sign and HMAC'ed with the key from key_cb; the hex signatures compare
 * equal in constant time.
 *
 * Failure modes map to the AWS error names in sigv4.h. Every input length
 * is bounded before arithmetic (header count, names and values, path,
 * query, the canonical request as a whole). An unknown access key id is
 * signed with whatever key_cb hands back (auth's dummy key) and rejected
 * only after the comparison, so it costs what a bad signature costs.
 * Messages echo only public request fields, bounded; the derived key is
 * wiped before return. The canonical request itself is built in
 * sigv4_canon.c. Pure: no libuv, no raft, no globals.
 */
#include "aws/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "crypto/sign.h"

#include "aws/sigv4_int.h"

#define SIGV4_AKID_MAX        128
#define SIGV4_SCOPE_FIELD_MAX 64 /* region, service */
#define SIGV4_ALGORITHM       "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR      "aws4_request"
#define SIGV4_HEX_LEN         64

#define E_MISSING      "MissingAuthenticationTokenException"
#define E_INCOMPLETE   "IncompleteSignatureException"
#define E_INVALID      "InvalidSignatureException"
#define E_UNRECOGNIZED "UnrecognizedClientException"
#define E_INTERNAL     "InternalFailure"

/* ---- the Authorization header ---- */

struct span {
	const char *p;
	size_t n;
};

struct auth_parts {
	struct span credential, signed_headers, signature;
	struct span akid, day, region, service, term;
};

/* The single header named name (any case): 1 found, 0 absent, -1 repeated. */
static int find_one(const struct sigv4_request *req, const char *name, struct span *out)
{
	int found = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (!sigv4__name_eq(h->name, h->name_len, name, strlen(name)))
			continue;
		if (found)
			return -1;
		out->p = h->value;
		out->n = h->value_len;
		found = 1;
	}
	return found;
}

static struct span trim(struct span s)
{
	while (s.n > 0 && sigv4__is_space((unsigned char)s.p[0]))
		s.p++, s.n--;
	while (s.n > 0 && sigv4__is_space((unsigned char)s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Printable ASCII copy of at most max bytes of s ('?' for anything else),
 * for echoing request fields in messages. Returns out. */
static const char *echo(char *out, size_t cap, struct span s, size_t max)
{
	size_t n = s.n < max ? s.n : max;

	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = s.p[i] >= ' ' && s.p[i] <= '~' ? s.p[i] : '?';
	out[n] = '\0';
	return out;
}

static int span_is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Split "AKID/day/region/service/term"; 0 or -1 when not exactly 5 parts. */
static int split_credential(struct auth_parts *ap)
{
	struct span *parts[5] = {&ap->akid, &ap->day, &ap->region, &ap->service, &ap->term};
	const char *p = ap->credential.p, *end = p + ap->credential.n;

	for (int k = 0; k < 5; k++) {
		const char *slash = memchr(p, '/', (size_t)(end - p));

		if ((slash == NULL) != (k == 4))
			return -1;
		parts[k]->p = p;
		parts[k]->n = (size_t)((slash ? slash : end) - p);
		p = slash ? slash + 1 : end;
	}
	return 0;
}

/*
 * Parse the value after the algorithm: components separated by commas
 * and/or whitespace, in any order, each once. 0 or -1 with st set.
 */
static int parse_components(struct span v, struct auth_parts *ap, struct cf_status *st)
{
	size_t i = 0;

	while (i < v.n) {
		struct span tok, *slot;
		const char *eq;
		char e[65];

		while (i < v.n && (v.p[i] == ',' || sigv4__is_space((unsigned char)v.p[i])))
			i++;
		if (i == v.n)
			break;
		tok.p = v.p + i;
		while (i < v.n && v.p[i] != ',' && !sigv4__is_space((unsigned char)v.p[i]))
			i++;
		tok.n = (size_t)(v.p + i - tok.p);
		eq = memchr(tok.p, '=', tok.n);
		if (eq == NULL)
			return cf_status_set(
			    st, E_INCOMPLETE,
			    "Authorization header component '%s' must be key=value",
			    echo(e, sizeof(e), tok, 64));
		if ((size_t)(eq - tok.p) == 10 && memcmp(tok.p, "Credential", 10) == 0)
			slot = &ap->credential;
		else if ((size_t)(eq - tok.p) == 13 && memcmp(tok.p, "SignedHeaders", 13) == 0)
			slot = &ap->signed_headers;
		else if ((size_t)(eq - tok.p) == 9 && memcmp(tok.p, "Signature", 9) == 0)
			slot = &ap->signature;
		else
			return cf_status_set(
			    st, E_INCOMPLETE, "Authorization header has an unknown component '%s'",
			    echo(e, sizeof(e), (struct span){tok.p, (size_t)(eq - tok.p)}, 64));
		if (slot->p != NULL)
			return cf_status_set(
			    st, E_INCOMPLETE, "Authorization header repeats '%s'",
			    echo(e, sizeof(e), (struct span){tok.p, (size_t)(eq - tok.p)}, 64));
		slot->p = eq + 1;
		slot->n = (size_t)(tok.p + tok.n - (eq + 1));
	}
	return 0;
}

static int parse_authorization(struct span auth, struct auth_parts *ap, struct cf_status *st)
{
	size_t alg = strlen(SIGV4_ALGORITHM);
	char missing[256], e[257];
	size_t m = 0;

	memset(ap, 0, sizeof(*ap));
	auth = trim(auth);
	if (auth.n < alg || memcmp(auth.p, SIGV4_ALGORITHM, alg) != 0 ||
	    (auth.n > alg && !sigv4__is_space((unsigned char)auth.p[alg]))) {
		size_t w = 0;

		while (w < auth.n && w < 32 && !sigv4__is_space((unsigned char)auth.p[w]))
			w++;
		return cf_status_set(st, E_INCOMPLETE,
		                     "Unsupported AWS 'algorithm': '%s'; only '" SIGV4_ALGORITHM
		                     "' is accepted",
		                     echo(e, sizeof(e), (struct span){auth.p, w}, 32));
	}
	if (parse_components((struct span){auth.p + alg, auth.n - alg}, ap, st) != 0)
		return -1;
	missing[0] = '\0';
	if (ap->credential.p == NULL || ap->credential.n == 0)
		m += (size_t)snprintf(missing + m, sizeof(missing) - m,
		                      "Authorization header requires 'Credential' parameter. ");
	if (ap->signature.p == NULL || ap->signature.n == 0)
		m += (size_t)snprintf(missing + m, sizeof(missing) - m,
		                      "Authorization header requires 'Signature' parameter. ");
	if (ap->signed_headers.p == NULL || ap->signed_headers.n == 0)
		snprintf(missing + m, sizeof(missing) - m,
		         "Authorization header requires 'SignedHeaders' parameter. ");
	if (missing[0] != '\0')
		return cf_status_set(st, E_INCOMPLETE, "%s", missing);
	if (split_credential(ap) != 0)
		return cf_status_set(
		    st, E_INCOMPLETE,
		    "Credential must have exactly 5 slash-delimited elements, e.g. "
		    "keyid/date/region/service/term, got '%s'",
		    echo(e, sizeof(e), ap->credential, 256));
	if (!span_is(ap->term, SIGV4_TERMINATOR))
		return cf_status_set(
		    st, E_INCOMPLETE,
		    "Credential should be scoped with a valid terminator: '" SIGV4_TERMINATOR
		    "', not '%s'. ",
		    echo(e, sizeof(e), ap->term, 32));
	return 0;
}

/* Printable ASCII without space, 1..max bytes. */
static int printable(struct span s, size_t max)
{
	if (s.n == 0 || s.n > max)
		return 0;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] <= ' ' || s.p[i] > '~')
			return 0;
	return 1;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" -> "19941106T084937Z"; 0 or -1. */
static int rfc1123_to_iso(struct span d, char out[SIGN_DATE_LEN + 1])
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = d.p;
	int mon = -1;

	if (d.n != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' ||
	    p[16] != ' ' || p[19] != ':' || p[22] != ':' || p[25] != ' ' ||
	    memcmp(p + 26, "GMT", 3) != 0)
		return -1;
	for (int k = 0; k < 12; k++)
		if (memcmp(p + 8, months + 3 * k, 3) == 0)
			mon = k + 1;
	if (mon < 0)
		return -1;
	memcpy(out, p + 12, 4);
	out[4] = (char)('0' + mon / 10);
	out[5] = (char)('0' + mon % 10);
	memcpy(out + 6, p + 5, 2);
	out[8] = 'T';
	memcpy(out + 9, p + 17, 2);
	memcpy(out + 11, p + 20, 2);
	memcpy(out + 13, p + 23, 2);
	out[15] = 'Z';
	out[16] = '\0';
	return 0;
}

static int signed_has(const struct auth_parts *ap, const char *name)
{
	const char *p = ap->signed_headers.p, *end = p + ap->signed_headers.n;
	size_t n = strlen(name);

	while (p <= end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end;

		if ((size_t)(e - p) == n && memcmp(p, name, n) == 0)
			return 1;
		if (semi == NULL)
			break;
		p = semi + 1;
	}
	return 0;
}

/* Checks on SignedHeaders: shape, host and the date header signed, every
 * signed header present. 0 or -1 with st set. */
static int check_signed_headers(const struct sigv4_request *req, const struct auth_parts *ap,
                                int date_is_amz, struct cf_status *st)
{
	const char *names[SIGV4_MAX_HEADERS];
	size_t lens[SIGV4_MAX_HEADERS], count;

	if (sigv4__split_signed(ap->signed_headers.p, ap->signed_headers.n, names, lens, &count) !=
	    0)
		return cf_status_set(
		    st, E_INCOMPLETE,
		    "SignedHeaders must be at most %d distinct lowercase header names "
		    "separated by ';'",
		    SIGV4_MAX_HEADERS);
	if (!signed_has(ap, "host"))
		return cf_status_set(st, E_INCOMPLETE,
		                     "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
		                     "Authorization.");
	if (!signed_has(ap, date_is_amz ? "x-amz-date" : "date"))
		return cf_status_set(st, E_INCOMPLETE,
		                     "'%s' must be a 'SignedHeader' in the AWS Authorization.",
		                     date_is_amz ? "X-Amz-Date" : "Date");
	for (size_t k = 0; k < count; k++)
		if (!sigv4__has_header(req, names[k], lens[k]))
			return cf_status_set(st, E_INCOMPLETE,
			                     "Signed header '%.*s' is not present in the request",
			                     (int)(lens[k] > 64 ? 64 : lens[k]), names[k]);
	return 0;
}

/* The request time: x-amz-date, else Date re-formatted. 0 or -1 with st. */
static int request_date(const struct sigv4_request *req, char date[SIGN_DATE_LEN + 1], time_t *t,
                        int *is_amz, struct cf_status *st)
{
	struct span v;
	char e[41];
	int r;

	if ((r = find_one(req, "x-amz-date", &v)) != 0) {
		*is_amz = 1;
		v = trim(v);
		if (r < 0 || v.n != SIGN_DATE_LEN)
			goto bad_iso;
		memcpy(date, v.p, SIGN_DATE_LEN);
		date[SIGN_DATE_LEN] = '\0';
		if (sign_parse_date(date, t) != 0)
			goto bad_iso;
		return 0;
	}
	*is_amz = 0;
	if ((r = find_one(req, "date", &v)) == 0)
		return cf_status_set(st, E_INCOMPLETE,
		                     "Authorization header requires existence of either a "
		                     "'X-Amz-Date' or a 'Date' header.");
	v = trim(v);
	if (r < 0 || rfc1123_to_iso(v, date) != 0 || sign_parse_date(date, t) != 0)
		return cf_status_set(
		    st, E_INCOMPLETE,
		    "Date header must be an RFC 1123 date such as 'Sun, 06 Nov 1994 "
		    "08:49:37 GMT'. Got '%s'",
		    echo(e, sizeof(e), v, 40));
	return 0;
bad_iso:
	return cf_status_set(st, E_INCOMPLETE,
	                     "Date must be in ISO-8601 'basic format'. Got '%s'. See "
	                     "http://en.wikipedia.org/wiki/ISO_8601",
	                     echo(e, sizeof(e), v, 32));
}

static int check_time(const char *date, time_t t, time_t now, struct cf_status *st)
{
	char now_s[SIGN_DATE_LEN + 1], limit_s[SIGN_DATE_LEN + 1];

	if (t < now - SIGV4_SKEW_SECONDS) {
		sign_format_date(now, now_s);
		sign_format_date(now - SIGV4_SKEW_SECONDS, limit_s);
		return cf_status_set(st, E_INVALID,
		                     "Signature expired: %s is now earlier than %s (%s - 5 min.)",
		                     date, limit_s, now_s);
	}
	if (t > now + SIGV4_SKEW_SECONDS) {
		sign_format_date(now, now_s);
		sign_format_date(now + SIGV4_SKEW_SECONDS, limit_s);
		return cf_status_set(
		    st, E_INVALID,
		    "Signature not yet current: %s is still later than %s (%s + 5 min.)", date,
		    limit_s, now_s);
	}
	return 0;
}

/* Payload hash of the body; X-Amz-Content-Sha256, when sent, must equal it. */
static int payload_hash(const struct sigv4_request *req, char hex[SIGV4_HEX_LEN + 1],
                        struct cf_status *st)
{
	uint8_t h[CRYPTO_SHA256_LEN];
	struct span v;
	int r;

	if (crypto_sha256(req->body, req->body_len, h) != 0)
		return cf_status_set(st, E_INTERNAL, "Cannot hash the request body");
	crypto_hex(h, sizeof(h), hex);
	if ((r = find_one(req, "x-amz-content-sha256", &v)) == 0)
		return 0;
	v = trim(v);
	if (r > 0 && span_is(v, "UNSIGNED-PAYLOAD"))
		return cf_status_set(
		    st, E_INVALID,
		    "UNSIGNED-PAYLOAD is not accepted by this service; the payload "
		    "must be signed");
	if (r < 0 || v.n != SIGV4_HEX_LEN || !crypto_equal(v.p, hex, SIGV4_HEX_LEN))
		return cf_status_set(
		    st, E_INVALID,
		    "The provided 'x-amz-content-sha256' header does not match what "
		    "was computed.");
	return 0;
}

static int is_hex64(struct span s, char lower_out[SIGV4_HEX_LEN + 1])
{
	if (s.n != SIGV4_HEX_LEN)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		if (sigv4__hexval((unsigned char)s.p[i]) < 0)
			return 0;
		lower_out[i] = sigv4__lower(s.p[i]);
	}
	lower_out[SIGV4_HEX_LEN] = '\0';
	return 1;
}

static void span_copy(char *dst, struct span s)
{
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
}

int sigv4_verify(const struct sigv4_request *req, const char *service, time_t now,
                 sigv4_region_cb region_ok, sigv4_key_cb key_cb, void *data,
                 struct sigv4_identity *who, struct cf_status *st)
{
	struct auth_parts ap;
	struct span auth, token;
	char akid[SIGV4_AKID_MAX + 1], day[9], region[SIGV4_SCOPE_FIELD_MAX + 1];
	char scope_service[SIGV4_SCOPE_FIELD_MAX + 1], date[SIGN_DATE_LEN + 1];
	char given[SIGV4_HEX_LEN + 1], body_hex[SIGV4_HEX_LEN + 1], expect[SIGV4_HEX_LEN + 1];
	char signed_headers[SIGV4_FIELD_MAX + 1], sts_head[256];
	uint8_t key[32], digest[CRYPTO_SHA256_LEN], mac[CRYPTO_SHA256_LEN];
	char *canon = NULL, *sts = NULL;
	size_t canon_len = 0, sts_len;
	time_t t;
	int r, is_amz, known, rv = -1;

	st->type[0] = '\0';
	st->message[0] = '\0';
	memset(key, 0, sizeof(key));
	if (!sigv4__request_ok(req) || service == NULL || region_ok == NULL || key_cb == NULL)
		return cf_status_set(
		    st, E_INCOMPLETE,
		    "Request exceeds limits: at most %d headers of at most %d bytes",
		    SIGV4_MAX_HEADERS, SIGV4_FIELD_MAX);
	if ((r = find_one(req, "authorization", &auth)) == 0)
		return cf_status_set(st, E_MISSING, "Missing Authentication Token");
	if (r < 0)
		return cf_status_set(st, E_INCOMPLETE,
		                     "Request has more than one Authorization header");
	if (parse_authorization(auth, &ap, st) != 0)
		return -1;
	if (!printable(ap.akid, SIGV4_AKID_MAX) || !printable(ap.region, SIGV4_SCOPE_FIELD_MAX) ||
	    !printable(ap.service, SIGV4_SCOPE_FIELD_MAX) || !printable(ap.day, 8))
		return cf_status_set(
		    st, E_INCOMPLETE,
		    "Credential elements must be 1 to 64 printable characters (the "
		    "key id up to %d)",
		    SIGV4_AKID_MAX);
	if (!is_hex64(ap.signature, given))
		return cf_status_set(st, E_INCOMPLETE,
		                     "Signature must be %d hexadecimal characters", SIGV4_HEX_LEN);
	span_copy(akid, ap.akid);
	span_copy(day, ap.day);
	span_copy(region, ap.region);
	span_copy(scope_service, ap.service);
	span_copy(signed_headers, ap.signed_headers); /* n <= SIGV4_FIELD_MAX: checked below */

	if (request_date(req, date, &t, &is_amz, st) != 0)
		return -1;
	if (check_signed_headers(req, &ap, is_amz, st) != 0)
		return -1;
	if (strcmp(scope_service, service) != 0)
		return cf_status_set(st, E_INVALID,
		                     "Credential should be scoped to correct service: '%.64s'.",
		                     service);
	if (!region_ok(data, region))
		return cf_status_set(st, E_INVALID,
		                     "Credential should be scoped to a valid region, not '%s'. ",
		                     region);
	if (strlen(day) != 8 || memcmp(day, date, 8) != 0)
		return cf_status_set(
		    st, E_INVALID,
		    "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
		    "version of date from HTTP: '%s' != '%.8s', from '%s'.",
		    day, date, date);
	if (check_time(date, t, now, st) != 0)
		return -1;
	if (payload_hash(req, body_hex, st) != 0)
		return -1;

	r = sigv4_canonical_request(req, signed_headers, body_hex, &canon, &canon_len);
	if (r != 0) {
		if (r == CF_ENOMEM)
			cf_status_set(st, E_INTERNAL, "Out of memory verifying the signature");
		else
			cf_status_set(st, E_INCOMPLETE, "Request cannot be canonicalized");
		goto out;
	}
	if (crypto_sha256(canon, canon_len, digest) != 0) {
		cf_status_set(st, E_INTERNAL, "Cannot hash the canonical request");
		goto out;
	}
	/* string to sign: the head is bounded (16 + 8 + 64 + 64 + fixed text) */
	snprintf(sts_head, sizeof(sts_head),
	         SIGV4_ALGORITHM "\n%s\n%s/%s/%s/" SIGV4_TERMINATOR "\n", date, day, region,
	         scope_service);
	sts_len = strlen(sts_head) + SIGV4_HEX_LEN;
	if ((sts = malloc(sts_len + 1)) == NULL) {
		cf_status_set(st, E_INTERNAL, "Out of memory verifying the signature");
		goto out;
	}
	memcpy(sts, sts_head, strlen(sts_head));
	crypto_hex(digest, sizeof(digest), sts + strlen(sts_head));

	/* an unknown key (or a temporary-credential token, which this server
	 * never issues) is signed with the callback's dummy key all the same */
	r = key_cb(data, akid, day, region, scope_service, key);
	known = r == 0 && find_one(req, "x-amz-security-token", &token) == 0;
	if (r != 0 && r != CF_ENOTFOUND) {
		cf_status_set(st, E_INTERNAL, "Cannot derive the signing key");
		goto out;
	}
	if (crypto_hmac_sha256(key, sizeof(key), sts, sts_len, mac) != 0) {
		cf_status_set(st, E_INTERNAL, "Cannot compute the signature");
		goto out;
	}
	crypto_hex(mac, sizeof(mac), expect);
	r = crypto_equal(expect, given, SIGV4_HEX_LEN);
	if (!known) {
		cf_status_set(st, E_UNRECOGNIZED,
		              "The security token included in the request is invalid.");
		goto out;
	}
	if (!r) {
		cf_status_set(
		    st, E_INVALID,
		    "The request signature we calculated does not match the signature you "
		    "provided. Check your AWS Secret Access Key and signing method. Consult "
		    "the service documentation for details.");
		goto out;
	}
	if (who != NULL) {
		snprintf(who->access_key_id, sizeof(who->access_key_id), "%s", akid);
		snprintf(who->region, sizeof(who->region), "%s", region);
		snprintf(who->date, sizeof(who->date), "%s", date);
	}
	rv = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(expect, sizeof(expect));
	free(canon);
	free(sts);
	return rv;
}
