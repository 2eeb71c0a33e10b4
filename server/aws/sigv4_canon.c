/*
 * sigv4 canonicalisation: the canonical request of AWS Signature Version 4
 * (sigv4_canonical_request) and the helpers verification shares.
 *
 * Happy path: the request's shape is within bounds, every name in the
 * client's SignedHeaders is present; the method, the canonical URI (path
 * segments normalised and percent-encoded once more, as botocore and JS
 * v3 do for non-S3 services), the canonical query (parameters decoded,
 * re-encoded per RFC 3986, sorted by name then value), each signed
 * header's values (trimmed, whitespace runs squeezed, repeats joined by
 * ','), the SignedHeaders list and the payload hash are joined by
 * newlines into a malloc'ed string. The canonical request is public: it
 * holds no key material. Failures: a malformed or over-long input, a
 * signed header missing, a result over SIGV4_CANONICAL_MAX (CF_EINVAL);
 * out of memory (CF_ENOMEM). Pure: no libuv, no raft, no globals.
 */
#include "aws/sigv4.h"

#include <stdlib.h>
#include <string.h>

#include "aws/sigv4_int.h"

#define SIGV4_CANONICAL_MAX (1 << 20) /* whole canonical request */
#define SIGV4_METHOD_MAX    32
#define SIGV4_HASH_MAX      128

/* ---- a bounded, growable string (the canonical request is public) ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err; /* first error: CF_ENOMEM or CF_EINVAL (over SIGV4_CANONICAL_MAX) */
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	size_t want;
	char *np;

	if (b->err)
		return;
	if (n > SIGV4_CANONICAL_MAX || b->len > SIGV4_CANONICAL_MAX - n) {
		b->err = CF_EINVAL;
		return;
	}
	want = b->len + n + 1;
	if (want > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < want)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = CF_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_chr(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* ---- small character helpers ---- */

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int sigv4__is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int sigv4__hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char sigv4__lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int sigv4__name_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (sigv4__lower(a[i]) != sigv4__lower(b[i]))
			return 0;
	return 1;
}

/* RFC 3986 percent-encoding of n bytes: unreserved bytes as they are. */
static void sb_uri_encode(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		if (is_unreserved(c))
			sb_chr(b, (char)c);
		else
			sb_add(b, e, 3);
	}
}

/* ---- canonical URI, query and headers ---- */

/*
 * The canonical URI as botocore and JS v3 build it for non-S3 services:
 * empty and "." segments dropped, ".." pops, each remaining segment of the
 * wire path percent-encoded once more ("%" becomes "%25": double encoding),
 * a trailing "/" kept when anything remains, the empty result being "/".
 */
static void canonical_uri(struct sbuf *b, const char *path, size_t n)
{
	size_t base = b->len, i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && path[j] != '/')
			j++;
		if ((j - i == 1 && path[i] == '.') || j == i) {
			/* nothing */
		} else if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
			/* an encoded segment never holds '/', so the last one starts there */
			while (!b->err && b->len > base && b->p[b->len - 1] != '/')
				b->len--;
			if (!b->err && b->len > base)
				b->len--;
			if (!b->err)
				b->p[b->len] = '\0';
		} else {
			sb_chr(b, '/');
			sb_uri_encode(b, path + i, j - i);
		}
		i = j + 1;
	}
	if (b->len == base)
		sb_chr(b, '/');
	else if (n > 0 && path[n - 1] == '/')
		sb_chr(b, '/');
}

struct qparam {
	const char *name, *value; /* encoded, in the arena */
	size_t name_len, value_len;
};

static int qparam_cmp(const void *pa, const void *pb)
{
	const struct qparam *a = pa, *b = pb;
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);

	if (c != 0 || a->name_len != b->name_len)
		return c != 0 ? c : (a->name_len < b->name_len ? -1 : 1);
	n = a->value_len < b->value_len ? a->value_len : b->value_len;
	c = memcmp(a->value, b->value, n);
	if (c != 0 || a->value_len == b->value_len)
		return c;
	return a->value_len < b->value_len ? -1 : 1;
}

/* Percent-decode s[0..n) (invalid escapes stay literal) and re-encode it
 * per RFC 3986 into arena at *used; at most 3n bytes. */
static const char *requote(char *arena, size_t *used, const char *s, size_t n, size_t *out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *start = arena + *used, *o = start;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;

		if (c == '%' && i + 2 < n && (hi = sigv4__hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = sigv4__hexval((unsigned char)s[i + 2])) >= 0) {
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (is_unreserved(c)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*out_len = (size_t)(o - start);
	*used += *out_len;
	return start;
}

/* Parameters decoded and re-encoded, sorted by name then value (bytes). */
static int canonical_query(struct sbuf *b, const char *q, size_t n)
{
	struct qparam *ps = NULL;
	char *arena = NULL;
	size_t np = 0, cap = 1, used = 0, i = 0;
	int rv = CF_ENOMEM;

	if (n == 0)
		return 0;
	for (size_t k = 0; k < n; k++) /* n <= SIGV4_FIELD_MAX: no overflow below */
		cap += q[k] == '&';
	if ((ps = calloc(cap, sizeof(*ps))) == NULL || (arena = malloc(3 * n + 1)) == NULL)
		goto out;
	while (i <= n) {
		size_t j = i, eq;

		while (j < n && q[j] != '&')
			j++;
		if (j > i) {
			for (eq = i; eq < j && q[eq] != '='; eq++)
				;
			ps[np].name = requote(arena, &used, q + i, eq - i, &ps[np].name_len);
			ps[np].value = eq < j ? requote(arena, &used, q + eq + 1, j - eq - 1,
			                                &ps[np].value_len)
			                      : "";
			np++;
		}
		i = j + 1;
	}
	qsort(ps, np, sizeof(*ps), qparam_cmp);
	for (size_t k = 0; k < np; k++) {
		if (k > 0)
			sb_chr(b, '&');
		sb_add(b, ps[k].name, ps[k].name_len);
		sb_chr(b, '=');
		sb_add(b, ps[k].value, ps[k].value_len);
	}
	rv = 0;
out:
	free(ps);
	free(arena);
	return rv;
}

/* Append value trimmed, inner whitespace runs squeezed to one space. */
static void sb_header_value(struct sbuf *b, const char *v, size_t n)
{
	size_t i = 0, end = n;
	int pending = 0;

	while (i < end && sigv4__is_space((unsigned char)v[i]))
		i++;
	while (end > i && sigv4__is_space((unsigned char)v[end - 1]))
		end--;
	for (; i < end; i++) {
		if (sigv4__is_space((unsigned char)v[i])) {
			pending = 1;
			continue;
		}
		if (pending)
			sb_chr(b, ' ');
		pending = 0;
		sb_chr(b, v[i]);
	}
}

static int is_signed_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == ':' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
	       c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
}

/*
 * Split a SignedHeaders value into names: non-empty, lowercase token
 * characters, at most SIGV4_MAX_HEADERS, no repeats (a repeated name would
 * multiply the canonical request). 0 or CF_EINVAL.
 */
int sigv4__split_signed(const char *sh, size_t sh_len, const char *names[SIGV4_MAX_HEADERS],
                        size_t lens[SIGV4_MAX_HEADERS], size_t *count)
{
	size_t n = 0, i = 0;

	if (sh_len == 0 || sh_len > SIGV4_FIELD_MAX)
		return CF_EINVAL;
	while (i <= sh_len) {
		size_t j = i;

		while (j < sh_len && sh[j] != ';')
			j++;
		if (j == i || n == SIGV4_MAX_HEADERS)
			return CF_EINVAL;
		for (size_t k = i; k < j; k++)
			if (!is_signed_name_char(sh[k]))
				return CF_EINVAL;
		for (size_t k = 0; k < n; k++)
			if (lens[k] == j - i && memcmp(names[k], sh + i, j - i) == 0)
				return CF_EINVAL;
		names[n] = sh + i;
		lens[n] = j - i;
		n++;
		i = j + 1;
	}
	*count = n;
	return 0;
}

/* The request's shape: bounded counts and lengths, no NULL with a length. */
int sigv4__request_ok(const struct sigv4_request *req)
{
	if (req == NULL || req->method == NULL || strnlen(req->method, SIGV4_METHOD_MAX + 1) == 0 ||
	    strnlen(req->method, SIGV4_METHOD_MAX + 1) > SIGV4_METHOD_MAX)
		return 0;
	if (strchr(req->method, '\n') != NULL)
		return 0;
	if (req->path_len > SIGV4_FIELD_MAX || (req->path == NULL && req->path_len > 0))
		return 0;
	if (req->query_len > SIGV4_FIELD_MAX || (req->query == NULL && req->query_len > 0))
		return 0;
	if (req->body == NULL && req->body_len > 0)
		return 0;
	if (req->n_headers > SIGV4_MAX_HEADERS || (req->headers == NULL && req->n_headers > 0))
		return 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (h->name_len > SIGV4_FIELD_MAX || h->value_len > SIGV4_FIELD_MAX ||
		    (h->name == NULL && h->name_len > 0) || (h->value == NULL && h->value_len > 0))
			return 0;
	}
	return 1;
}

int sigv4__has_header(const struct sigv4_request *req, const char *name, size_t n)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (sigv4__name_eq(req->headers[i].name, req->headers[i].name_len, name, n))
			return 1;
	return 0;
}

int sigv4_canonical_request(const struct sigv4_request *req, const char *signed_headers,
                            const char *payload_hash_hex, char **out, size_t *out_len)
{
	const char *names[SIGV4_MAX_HEADERS];
	size_t lens[SIGV4_MAX_HEADERS], count = 0, sh_len, ph_len;
	struct sbuf b = {0};
	int rv = CF_EINVAL;

	if (out == NULL || out_len == NULL)
		return CF_EINVAL;
	*out = NULL;
	*out_len = 0;
	if (!sigv4__request_ok(req) || signed_headers == NULL || payload_hash_hex == NULL)
		return CF_EINVAL;
	sh_len = strnlen(signed_headers, SIGV4_FIELD_MAX + 1);
	ph_len = strnlen(payload_hash_hex, SIGV4_HASH_MAX + 1);
	if (ph_len == 0 || ph_len > SIGV4_HASH_MAX || strchr(payload_hash_hex, '\n') != NULL)
		return CF_EINVAL;
	if (sigv4__split_signed(signed_headers, sh_len, names, lens, &count) != 0)
		return CF_EINVAL;
	for (size_t k = 0; k < count; k++)
		if (!sigv4__has_header(req, names[k], lens[k]))
			return CF_EINVAL;

	sb_str(&b, req->method);
	sb_chr(&b, '\n');
	canonical_uri(&b, req->path, req->path_len);
	sb_chr(&b, '\n');
	if ((rv = canonical_query(&b, req->query, req->query_len)) != 0)
		goto out;
	sb_chr(&b, '\n');
	for (size_t k = 0; k < count; k++) {
		int first = 1;

		sb_add(&b, names[k], lens[k]);
		sb_chr(&b, ':');
		for (size_t i = 0; i < req->n_headers; i++) {
			const struct sigv4_header *h = &req->headers[i];

			if (!sigv4__name_eq(h->name, h->name_len, names[k], lens[k]))
				continue;
			if (!first)
				sb_chr(&b, ',');
			first = 0;
			sb_header_value(&b, h->value, h->value_len);
		}
		sb_chr(&b, '\n');
	}
	sb_chr(&b, '\n');
	sb_add(&b, signed_headers, sh_len);
	sb_chr(&b, '\n');
	sb_add(&b, payload_hash_hex, ph_len);
	if ((rv = b.err) != 0)
		goto out;
	*out = b.p;
	*out_len = b.len;
	b.p = NULL;
	rv = 0;
out:
	free(b.p);
	return rv;
}
