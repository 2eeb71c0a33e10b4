/*
 * aws: the pure half of the AWS JSON 1.1 client (see aws.h). The happy
 * path: parse the endpoint URL once; per request take the cached
 * X-Amz-Date, hash the body, build botocore's canonical request and string
 * to sign in stack buffers, HMAC it with the day's cached key, and write the
 * request line, headers and body into the caller's buffer. Responses are
 * framed by Content-Length only. Failure modes: oversized fields (EINVAL),
 * an output buffer too small (ETOOBIG), an answer that is not HTTP/1.x with
 * a Content-Length within the caps (EPROTO).
 */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "crypto/sign.h"

#define AWS_FIELD_MAX 256

int aws_endpoint_parse(const char *url, struct aws_endpoint *ep)
{
	const char *p, *end, *colon = NULL;
	size_t n, hl;

	memset(ep, 0, sizeof(*ep));
	if (url == NULL)
		return COFFER_EINVAL;
	if (strncmp(url, "https://", 8) == 0) {
		ep->tls = 1;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return COFFER_EINVAL;
	}
	n = strcspn(p, "/?#");
	end = p + n;
	if (*end != '\0' && strcmp(end, "/") != 0)
		return COFFER_EINVAL; /* the service lives at "/" */
	if (n == 0 || n >= sizeof(ep->host_header) || strlen(url) >= sizeof(ep->url))
		return COFFER_EINVAL;
	snprintf(ep->url, sizeof(ep->url), "%s", url);
	if (p[0] == '[') {
		const char *rb = memchr(p, ']', n);

		if (rb == NULL)
			return COFFER_EINVAL;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return COFFER_EINVAL;
			colon = rb + 1;
		}
		hl = (size_t)(rb - p - 1);
		memcpy(ep->host, p + 1, hl);
	} else {
		colon = memchr(p, ':', n);
		hl = colon ? (size_t)(colon - p) : n;
		memcpy(ep->host, p, hl);
	}
	ep->host[hl] = '\0';
	if (hl == 0 || hl >= sizeof(ep->host))
		return COFFER_EINVAL;
	if (colon != NULL) {
		size_t pl = (size_t)(end - colon - 1);

		if (pl == 0 || pl >= sizeof(ep->port) || strspn(colon + 1, "0123456789") < pl)
			return COFFER_EINVAL;
		memcpy(ep->port, colon + 1, pl);
		ep->port[pl] = '\0';
	} else {
		snprintf(ep->port, sizeof(ep->port), "%s", ep->tls ? "443" : "80");
	}
	/* botocore leaves the port out of Host when it is the scheme's default */
	if (colon == NULL || strcmp(ep->port, ep->tls ? "443" : "80") == 0)
		n = colon ? (size_t)(colon - p) : n;
	memcpy(ep->host_header, p, n);
	ep->host_header[n] = '\0';
	return 0;
}

static int field_ok(const char *s)
{
	size_t n = s ? strnlen(s, AWS_FIELD_MAX + 1) : 0;

	return n > 0 && n <= AWS_FIELD_MAX && s[strcspn(s, "\r\n/ ")] == '\0';
}

int aws_signer_init(struct aws_signer *s, const char *access_key_id, const char *secret_key,
                    const char *session_token, const char *region)
{
	size_t n;

	memset(s, 0, sizeof(*s));
	if (!field_ok(access_key_id) || strlen(access_key_id) >= sizeof(s->access_key_id) ||
	    !field_ok(region) || strlen(region) >= sizeof(s->region) || secret_key == NULL)
		return COFFER_EINVAL;
	n = strnlen(secret_key, AWS_FIELD_MAX + 1);
	if (n == 0 || n > AWS_FIELD_MAX)
		return COFFER_EINVAL;
	if (session_token != NULL && session_token[0] != '\0') {
		if (strlen(session_token) > 8192 || strpbrk(session_token, "\r\n") != NULL)
			return COFFER_EINVAL;
		if ((s->session_token = strdup(session_token)) == NULL)
			return COFFER_ENOMEM;
	}
	snprintf(s->access_key_id, sizeof(s->access_key_id), "%s", access_key_id);
	snprintf(s->region, sizeof(s->region), "%s", region);
	if (secbuf_alloc(&s->secret, 4 + n) != 0 || (s->key = secmem_alloc(32)) == NULL)
		return COFFER_ENOMEM;
	memcpy(s->secret.data, "AWS4", 4);
	memcpy(s->secret.data + 4, secret_key, n);
	return 0;
}

void aws_signer_release(struct aws_signer *s)
{
	secbuf_free(&s->secret);
	secmem_free(s->key);
	free(s->session_token);
	s->key = NULL;
	s->session_token = NULL;
	s->key_day[0] = '\0';
}

const char *aws_signer_now(struct aws_signer *s)
{
	time_t now = time(NULL);

	if (now != s->date_t || s->date[0] == '\0') {
		sign_format_date(now, s->date); /* the same YYYYMMDDTHHMMSSZ */
		s->date_t = now;
	}
	return s->date;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, day), region), service), "aws4_request") */
static int derive(struct aws_signer *s, const char *day)
{
	uint8_t k[32];
	int rv;

	rv = crypto_hmac_sha256(s->secret.data, s->secret.len, day, 8, k);
	if (rv == 0)
		rv = crypto_hmac_sha256(k, sizeof(k), s->region, strlen(s->region), k);
	if (rv == 0)
		rv = crypto_hmac_sha256(k, sizeof(k), AWS_SERVICE, strlen(AWS_SERVICE), k);
	if (rv == 0)
		rv = crypto_hmac_sha256(k, sizeof(k), "aws4_request", 12, s->key);
	OPENSSL_cleanse(k, sizeof(k));
	if (rv != 0) {
		s->key_day[0] = '\0';
		return COFFER_ECRYPTO;
	}
	memcpy(s->key_day, day, 8);
	s->key_day[8] = '\0';
	s->derivations++;
	return 0;
}

static const char *signed_headers(const struct aws_signer *s)
{
	return s->session_token ? "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
	                        : "content-type;host;x-amz-date;x-amz-target";
}

int aws_sign(struct aws_signer *s, const char *date, const char *host_header, const char *operation,
             const void *body, size_t len, char sig[65])
{
	char *creq = NULL, sts[512], body_hex[65], creq_hex[65];
	uint8_t h[32];
	size_t cap;
	int n, rv = COFFER_EINVAL;

	if (date == NULL || strlen(date) != AWS_DATE_LEN || s->key == NULL ||
	    !field_ok(operation) || host_header == NULL || strlen(host_header) > AWS_FIELD_MAX)
		return COFFER_EINVAL;
	if (memcmp(s->key_day, date, 8) != 0 && derive(s, date) != 0)
		return COFFER_ECRYPTO;
	cap = 512 + strlen(host_header) + (s->session_token ? strlen(s->session_token) : 0);
	if ((creq = malloc(cap)) == NULL)
		return COFFER_ENOMEM;
	rv = COFFER_ECRYPTO;
	if (crypto_sha256(body, len, h) != 0)
		goto out;
	crypto_hex(h, sizeof(h), body_hex);
	n = snprintf(creq, cap,
	             "POST\n/\n\ncontent-type:" AWS_CONTENT_TYPE "\nhost:%s\nx-amz-date:%s\n"
	             "%s%s%s"
	             "x-amz-target:" AWS_SERVICE ".%s\n\n%s\n%s",
	             host_header, date, s->session_token ? "x-amz-security-token:" : "",
	             s->session_token ? s->session_token : "", s->session_token ? "\n" : "",
	             operation, signed_headers(s), body_hex);
	if (n < 0 || (size_t)n >= cap || crypto_sha256(creq, (size_t)n, h) != 0)
		goto out;
	crypto_hex(h, sizeof(h), creq_hex);
	n = snprintf(sts, sizeof(sts),
	             "AWS4-HMAC-SHA256\n%s\n%.8s/%s/" AWS_SERVICE "/aws4_request\n%s", date, date,
	             s->region, creq_hex);
	if (n < 0 || (size_t)n >= sizeof(sts) ||
	    crypto_hmac_sha256(s->key, 32, sts, (size_t)n, h) != 0)
		goto out;
	crypto_hex(h, sizeof(h), sig);
	rv = 0;
out:
	free(creq);
	return rv;
}

int aws_format_request(struct aws_signer *s, const char *date, const char *host_header,
                       const char *operation, const void *body, size_t len, char *out, size_t cap,
                       size_t *n)
{
	char sig[65];
	int rv, k;

	*n = 0;
	rv = aws_sign(s, date, host_header, operation, body, len, sig);
	if (rv != 0)
		return rv;
	k = snprintf(out, cap,
	             "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: " AWS_CONTENT_TYPE "\r\n"
	             "Content-Length: %zu\r\nX-Amz-Target: " AWS_SERVICE ".%s\r\n"
	             "X-Amz-Date: %s\r\n%s%s%s"
	             "Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/" AWS_SERVICE
	             "/aws4_request, SignedHeaders=%s, Signature=%s\r\n\r\n",
	             host_header, len, operation, date,
	             s->session_token ? "X-Amz-Security-Token: " : "",
	             s->session_token ? s->session_token : "", s->session_token ? "\r\n" : "",
	             s->access_key_id, date, s->region, signed_headers(s), sig);
	if (k < 0 || (size_t)k >= cap || cap - (size_t)k < len)
		return COFFER_ETOOBIG;
	memcpy(out + k, body, len);
	*n = (size_t)k + len;
	return 0;
}

size_t aws_json_str(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

#define PUT(ch)                        \
	do {                           \
		if (o < cap)           \
			out[o] = (ch); \
		o++;                   \
	} while (0)
	PUT('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c == '\n') {
			PUT('\\');
			PUT('n');
		} else if (c == '\t') {
			PUT('\\');
			PUT('t');
		} else if (c == '\r') {
			PUT('\\');
			PUT('r');
		} else if (c < 0x20 || c == 0x7f) {
			PUT('\\');
			PUT('u');
			PUT('0');
			PUT('0');
			PUT(hex[c >> 4]);
			PUT(hex[c & 15]);
		} else {
			PUT((char)c); /* UTF-8 passes through */
		}
	}
	PUT('"');
#undef PUT
	return o;
}

/* The value of header name in head[0..n) (lines after the status line). */
static const char *header(const char *head, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', n), *end = head + n;

	while (p != NULL && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
		size_t ll = eol ? (size_t)(eol - line) : (size_t)(end - line);

		if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1, *ve = line + ll;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

int aws_parse_response(const char *buf, size_t len, struct aws_resp *r)
{
	const char *end, *v;
	size_t vl, i, body = 0;

	memset(r, 0, sizeof(*r));
	end = memmem(buf, len < AWS_MAX_HEAD ? len : AWS_MAX_HEAD, "\r\n\r\n", 4);
	if (end == NULL)
		return len >= AWS_MAX_HEAD ? COFFER_EPROTO : 0;
	r->head_len = (size_t)(end - buf) + 4;
	if (r->head_len < 13 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' ||
	    buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
		return COFFER_EPROTO;
	r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if ((v = header(buf, r->head_len - 2, "Transfer-Encoding", &vl)) != NULL &&
	    !(vl == 8 && strncasecmp(v, "identity", 8) == 0))
		return COFFER_EPROTO; /* the endpoint answers with Content-Length */
	if ((v = header(buf, r->head_len - 2, "Connection", &vl)) != NULL && vl == 5 &&
	    strncasecmp(v, "close", 5) == 0)
		r->close = 1;
	v = header(buf, r->head_len - 2, "Content-Length", &vl);
	if (v == NULL) {
		if (r->status != 204 && r->status != 304 && r->status >= 200)
			return COFFER_EPROTO;
	} else {
		if (vl == 0 || vl > 7)
			return COFFER_EPROTO;
		for (i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return COFFER_EPROTO;
			body = body * 10 + (size_t)(v[i] - '0');
		}
		if (body > AWS_MAX_BODY)
			return COFFER_EPROTO;
	}
	r->body_len = body;
	return len - r->head_len >= body ? 1 : 0;
}

int aws_body_is_object(const char *b, size_t n)
{
	while (n > 0 &&
	       (b[n - 1] == ' ' || b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == '\t'))
		n--;
	while (n > 0 && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t'))
		b++, n--;
	return n >= 2 && b[0] == '{' && b[n - 1] == '}';
}

void aws_error_of(int status, const char *body, size_t n, struct coffer_error *err)
{
	json_t *j = n > 0 && n <= AWS_MAX_BODY ? json_loadb(body, n, 0, NULL) : NULL;
	const char *type = json_string_value(json_object_get(j, "__type"));
	const char *msg = json_string_value(json_object_get(j, "Message"));
	size_t tl;

	if (msg == NULL)
		msg = json_string_value(json_object_get(j, "message"));
	if (type != NULL && strchr(type, '#') != NULL)
		type = strchr(type, '#') + 1;
	tl = type ? strcspn(type, ":") : 0;
	if (tl == 0)
		snprintf(err->type, sizeof(err->type), "HTTP %d", status);
	else
		snprintf(err->type, sizeof(err->type), "%.*s", (int)tl, type);
	snprintf(err->message, sizeof(err->message), "%s", msg ? msg : "");
	json_decref(j);
}
