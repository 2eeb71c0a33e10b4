/*
 * The HTTP/1.1 request reader of the AWS endpoint, on libhttp-parser.
 *
 * Happy path. Bytes go to http_parser_execute; the URL and the header names
 * and values are appended to one fixed buffer of HTTP_MAX_HEADER_BYTES (the
 * headers array points into it, in arrival order, repeats kept); at the end
 * of the headers the body is sized from Content-Length (at most
 * HTTP_MAX_BODY_BYTES) in the secure heap; at the end of the message the
 * request is handed to on_request and its body wiped. on_request may pause
 * the reader: the parser stops right after that message and later bytes go
 * to a bounded secure backlog until resume.
 *
 * Failure modes, each answered with a status and the end of reading:
 * malformed HTTP (400), more than HTTP_MAX_HEADERS headers or
 * HTTP_MAX_HEADER_BYTES of URL + headers (431), a Transfer-Encoding
 * (chunked is not supported) or a POST without Content-Length (411), a
 * Content-Length over the cap (413, before any body byte is read), an
 * Expect other than 100-continue (417), an HTTP version other than 1.x
 * (505), a backlog over HTTP_MAX_BACKLOG (503). Out of memory is CF_ENOMEM. An Upgrade request is answered as a
 * plain request and reading stops (the rest is another protocol).
 */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "aws/http_int.h"
#include "util/errors.h"

static struct http_reader *reader_of(http_parser *p)
{
	return p->data;
}

static int fail(struct http_reader *r, int status)
{
	if (r->status == 0)
		r->status = status;
	return -1;
}

static int append(struct http_reader *r, const char *at, size_t len)
{
	if (len > HTTP_MAX_HEADER_BYTES - r->head_len)
		return fail(r, 431);
	memcpy(r->head + r->head_len, at, len);
	r->head_len += len;
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_reader *r = reader_of(p);

	r->head_len = 0;
	r->url_len = 0;
	r->n_headers = 0;
	r->last_was_value = false;
	r->body_have = 0;
	r->body_want = 0;
	r->in_message = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = reader_of(p);

	if (r->n_headers != 0 || append(r, at, len) != 0)
		return fail(r, 431);
	r->url_len += len;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = reader_of(p);
	struct sigv4_header *h;

	if (r->n_headers == 0 || r->last_was_value) {
		if (r->n_headers == HTTP_MAX_HEADERS)
			return fail(r, 431);
		h = &r->headers[r->n_headers++];
		h->name = r->head + r->head_len;
		h->name_len = 0;
		h->value = r->head + r->head_len;
		h->value_len = 0;
		r->last_was_value = false;
	}
	h = &r->headers[r->n_headers - 1];
	if (append(r, at, len) != 0)
		return -1;
	h->name_len += len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = reader_of(p);
	struct sigv4_header *h;

	if (r->n_headers == 0)
		return fail(r, 400);
	h = &r->headers[r->n_headers - 1];
	if (!r->last_was_value) {
		h->value = r->head + r->head_len;
		h->value_len = 0;
		r->last_was_value = true;
	}
	if (append(r, at, len) != 0)
		return -1;
	h->value_len += len;
	return 0;
}

static bool equals_ci(const char *v, size_t n, const char *lit)
{
	return v != NULL && strlen(lit) == n && strncasecmp(v, lit, n) == 0;
}

/* Decide on the body: size it, refuse it, or ask for it (100-continue). */
static int on_headers_complete(http_parser *p)
{
	struct http_reader *r = reader_of(p);
	bool has_cl = p->content_length != ULLONG_MAX;
	const char *expect;
	size_t elen;

	if (p->http_major != 1)
		return fail(r, 505);
	if (http__header(r->headers, r->n_headers, "transfer-encoding", &elen) != NULL ||
	    (p->flags & F_CHUNKED))
		return fail(r, 411);
	if (!has_cl && p->method == HTTP_POST)
		return fail(r, 411);
	if (has_cl && p->content_length > HTTP_MAX_BODY_BYTES)
		return fail(r, 413);
	r->body_want = has_cl ? (size_t)p->content_length : 0;
	/* RFC 9110: an HTTP/1.0 request's expectation is ignored */
	expect = http__header(r->headers, r->n_headers, "expect", &elen);
	if (p->http_major == 1 && p->http_minor == 0)
		expect = NULL;
	if (expect != NULL && !equals_ci(expect, elen, "100-continue"))
		return fail(r, 417);
	if (r->body_want > 0 && (r->body.data == NULL || r->body.len < r->body_want)) {
		secbuf_free(&r->body);
		if (secbuf_alloc(&r->body, r->body_want) != 0)
			return fail(r, CF_ENOMEM);
	}
	if (expect != NULL && r->body_want > 0 && r->cbs->on_continue != NULL)
		r->cbs->on_continue(r->data);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_reader *r = reader_of(p);

	if (len > r->body_want - r->body_have)
		return fail(r, 400); /* cannot happen: the parser counts down */
	memcpy(r->body.data + r->body_have, at, len);
	r->body_have += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_reader *r = reader_of(p);
	struct http_request q;
	const char *qm;
	int next;

	r->in_message = false;
	memset(&q, 0, sizeof(q));
	q.method = p->method;
	q.major = p->http_major;
	q.minor = p->http_minor;
	q.path = r->head;
	q.path_len = r->url_len;
	qm = memchr(r->head, '?', r->url_len);
	if (qm != NULL) {
		q.path_len = (size_t)(qm - r->head);
		q.query = qm + 1;
		q.query_len = r->url_len - q.path_len - 1;
	} else {
		q.query = r->head + r->url_len;
	}
	q.headers = r->headers;
	q.n_headers = r->n_headers;
	q.body = r->body_have > 0 ? r->body.data : (const uint8_t *)"";
	q.body_len = r->body_have;
	q.keep_alive = http_should_keep_alive(p) && !p->upgrade;
	next = r->cbs->on_request(r->data, &q);
	if (r->body.data != NULL) {
		OPENSSL_cleanse(r->body.data, r->body_have);
		if (r->body.len > HTTP_KEEP_BODY)
			secbuf_free(&r->body);
	}
	r->body_have = 0;
	if (next == HTTP_READER_PAUSE) {
		r->paused = true;
		http_parser_pause(p, 1);
	} else if (next != HTTP_READER_GO || !q.keep_alive) {
		r->stopped = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http__reader_init(struct http_reader *r, const struct http_reader_cbs *cbs, void *data)
{
	memset(r, 0, offsetof(struct http_reader, head));
	r->head_len = 0;
	r->url_len = 0;
	r->n_headers = 0;
	memset(&r->body, 0, sizeof(r->body));
	r->body_have = r->body_want = 0;
	memset(&r->backlog, 0, sizeof(r->backlog));
	r->bl_off = r->bl_end = 0;
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
	r->cbs = cbs;
	r->data = data;
}

/* Run the parser over buf; *used = bytes consumed. 0 or an error status. */
static int exec(struct http_reader *r, const uint8_t *buf, size_t n, size_t *used)
{
	enum http_errno e;

	assert(!r->in_exec);
	r->in_exec = true;
	*used = http_parser_execute(&r->parser, &settings, (const char *)buf, n);
	r->in_exec = false;
	e = HTTP_PARSER_ERRNO(&r->parser);
	if (e != HPE_OK && e != HPE_PAUSED) {
		r->stopped = true;
		r->paused = false;
		if (r->status == 0)
			r->status = 400;
		return r->status;
	}
	if (r->parser.upgrade)
		r->stopped = true;
	if (r->stopped)
		r->paused = false;
	return 0;
}

static void drop_backlog(struct http_reader *r)
{
	secbuf_free(&r->backlog); /* wipes */
	r->bl_off = r->bl_end = 0;
}

/* Keep n bytes for after resume; the backlog grows by copying, never realloc. */
static int keep(struct http_reader *r, const uint8_t *p, size_t n)
{
	size_t have = r->bl_end - r->bl_off, cap;
	struct secbuf nb;

	if (n > HTTP_MAX_BACKLOG - have) {
		r->stopped = true;
		r->paused = false;
		drop_backlog(r);
		fail(r, 503);
		return r->status;
	}
	if (n > r->backlog.len - r->bl_end) {
		if (have + n <= r->backlog.len) {
			memmove(r->backlog.data, r->backlog.data + r->bl_off, have);
		} else {
			for (cap = r->backlog.len ? r->backlog.len * 2 : 16384; cap < have + n;)
				cap *= 2;
			if (cap > HTTP_MAX_BACKLOG)
				cap = HTTP_MAX_BACKLOG;
			if (secbuf_alloc(&nb, cap) != 0) {
				r->stopped = true;
				r->paused = false;
				drop_backlog(r);
				fail(r, CF_ENOMEM);
				return CF_ENOMEM;
			}
			if (have > 0)
				memcpy(nb.data, r->backlog.data + r->bl_off, have);
			secbuf_free(&r->backlog);
			r->backlog = nb;
		}
		OPENSSL_cleanse(r->backlog.data + have, r->backlog.len - have);
		r->bl_off = 0;
		r->bl_end = have;
	}
	memcpy(r->backlog.data + r->bl_end, p, n);
	r->bl_end += n;
	return 0;
}

int http__reader_feed(struct http_reader *r, const uint8_t *buf, size_t n)
{
	size_t used;
	int rv;

	if (r->stopped || n == 0)
		return 0; /* n == 0 would tell the parser EOF */
	if (r->paused)
		return keep(r, buf, n);
	rv = exec(r, buf, n, &used);
	if (rv != 0)
		return rv;
	if (r->paused && used < n)
		return keep(r, buf + used, n - used);
	return 0;
}

int http__reader_resume(struct http_reader *r)
{
	size_t used;
	int rv;

	if (r->stopped || !r->paused)
		return 0;
	r->paused = false;
	http_parser_pause(&r->parser, 0);
	if (r->bl_end == r->bl_off) {
		drop_backlog(r);
		return 0;
	}
	rv = exec(r, r->backlog.data + r->bl_off, r->bl_end - r->bl_off, &used);
	r->bl_off += used;
	if (rv != 0 || !r->paused || r->bl_off == r->bl_end)
		drop_backlog(r);
	return rv;
}

bool http__reader_paused(const struct http_reader *r)
{
	return r->paused && !r->stopped;
}

bool http__reader_mid_request(const struct http_reader *r)
{
	return r->in_message && !r->stopped;
}

void http__reader_stop(struct http_reader *r)
{
	r->stopped = true;
	r->paused = false;
	drop_backlog(r);
}

void http__reader_release(struct http_reader *r)
{
	secbuf_free(&r->body);
	drop_backlog(r);
	OPENSSL_cleanse(r->head, r->head_len);
	r->head_len = 0;
	r->stopped = true;
}

/* ---- helpers ------------------------------------------------------------- */

static void trim(const char **v, size_t *n)
{
	while (*n > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*n)--;
	}
	while (*n > 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

const char *http__header(const struct sigv4_header *h, size_t n, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len == nl && strncasecmp(h[i].name, name, nl) == 0) {
			const char *v = h[i].value;
			size_t vl = h[i].value_len;

			trim(&v, &vl);
			*len = vl;
			return v;
		}
	}
	*len = 0;
	return NULL;
}

int http__target_op(const char *v, size_t n, char *op, size_t cap)
{
	static const char prefix[] = "secretsmanager.";
	size_t pl = sizeof(prefix) - 1;

	if (v == NULL)
		return -1;
	trim(&v, &n);
	if (n <= pl || strncmp(v, prefix, pl) != 0 || n - pl >= cap)
		return -1;
	v += pl;
	n -= pl;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return -1;
	}
	memcpy(op, v, n);
	op[n] = '\0';
	return 0;
}

bool http__content_type_ok(const char *v, size_t n)
{
	const char *semi;

	if (v == NULL)
		return true;
	semi = memchr(v, ';', n);
	if (semi != NULL)
		n = (size_t)(semi - v);
	trim(&v, &n);
	return n == 0 || equals_ci(v, n, "application/x-amz-json-1.1") ||
	       equals_ci(v, n, "application/x-amz-json-1.0") || equals_ci(v, n, "application/json");
}

int http__status_for_error(const char *type)
{
	if (type == NULL)
		return 500;
	if (strcmp(type, "InternalServiceError") == 0 || strcmp(type, "InternalFailure") == 0)
		return 500;
	if (strcmp(type, "ServiceUnavailableException") == 0 ||
	    strcmp(type, "ServiceUnavailable") == 0)
		return 503;
	if (strcmp(type, "InvalidClientTokenId") == 0 || strcmp(type, "OptInRequired") == 0)
		return 403;
	return 400;
}

const char *http__reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 500 ? "Bad Request" : "Internal Server Error";
	}
}

void http__date(time_t t, char *out)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void http__uuid(char out[37])
{
	/* request ids are not secrets: draw them from a pool refilled in batches */
	static uint8_t pool[16 * 64];
	static size_t left;
	static uint64_t fallback;
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	size_t o = 0;

	if (left == 0) {
		if (RAND_bytes(pool, sizeof(pool)) == 1) {
			left = sizeof(pool);
		} else {
			fallback++;
			memset(pool, 0, sizeof(pool));
			memcpy(pool, &fallback, sizeof(fallback));
			left = 16;
		}
	}
	memcpy(b, pool + sizeof(pool) - left, 16);
	left -= 16;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

size_t http__format_head(char *out, size_t cap, int status, const char *request_id,
			 const char *date, const char *content_type, size_t content_length,
			 const char *err_type, bool close, bool keep_alive_10)
{
	int n = snprintf(out, cap,
			 "HTTP/1.1 %d %s\r\n"
			 "x-amzn-RequestId: %s\r\n"
			 "Date: %s\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "%s%.64s%s"
			 "%s"
			 "\r\n",
			 status, http__reason(status), request_id, date, content_type,
			 content_length, err_type ? "x-amzn-ErrorType: " : "",
			 err_type ? err_type : "", err_type ? "\r\n" : "",
			 close ? "Connection: close\r\n"
			       : (keep_alive_10 ? "Connection: keep-alive\r\n" : ""));

	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}
