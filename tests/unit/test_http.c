/* The AWS endpoint's HTTP request reader and helpers, without sockets:
 * requests in one piece and byte by byte, pipelining, the caps (header
 * bytes, header count, body), Content-Length rules, chunked, garbage,
 * Expect: 100-continue, pause/resume with the backlog and its cap,
 * Connection: close and HTTP/1.0, and the response helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/http_int.h"
#include "util/errors.h"
#include "util/secmem.h"

#define MAXR 16

struct sink {
	int n;
	int continues;
	int continue_at_body; /* body bytes seen when on_continue fired */
	int pause_at;         /* return PAUSE on this request (1-based), 0 = never */
	int stop_at;
	unsigned method[MAXR];
	char path[MAXR][64];
	char query[MAXR][64];
	char body[MAXR][256];
	size_t body_len[MAXR];
	size_t n_headers[MAXR];
	char host[MAXR][64];
	bool keep_alive[MAXR];
};

static void on_continue(void *data)
{
	struct sink *k = data;

	k->continues++;
}

static void copy(char *dst, size_t cap, const void *src, size_t n)
{
	assert_true(n < cap);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int on_request(void *data, const struct http_request *q)
{
	struct sink *k = data;
	const char *v;
	size_t vl;
	int i = k->n;

	assert_true(i < MAXR);
	k->method[i] = q->method;
	copy(k->path[i], sizeof(k->path[i]), q->path, q->path_len);
	copy(k->query[i], sizeof(k->query[i]), q->query, q->query_len);
	copy(k->body[i], sizeof(k->body[i]), q->body, q->body_len);
	k->body_len[i] = q->body_len;
	k->n_headers[i] = q->n_headers;
	k->keep_alive[i] = q->keep_alive;
	v = http__header(q->headers, q->n_headers, "HOST", &vl);
	if (v != NULL)
		copy(k->host[i], sizeof(k->host[i]), v, vl);
	k->n++;
	if (k->n == k->pause_at)
		return HTTP_READER_PAUSE;
	if (k->n == k->stop_at)
		return HTTP_READER_STOP;
	return HTTP_READER_GO;
}

static const struct http_reader_cbs cbs = {on_continue, on_request};

static struct http_reader *rd;

static int setup(void **state)
{
	(void)state;
	rd = malloc(sizeof(*rd));
	return rd == NULL;
}

static int teardown(void **state)
{
	(void)state;
	http__reader_release(rd);
	free(rd);
	return 0;
}

static int feed_str(const char *s)
{
	return http__reader_feed(rd, (const uint8_t *)s, strlen(s));
}

static const char POST1[] = "POST /?a=b HTTP/1.1\r\n"
			    "Host: 127.0.0.1:7780\r\n"
			    "X-Amz-Target: secretsmanager.GetSecretValue\r\n"
			    "Content-Type: application/x-amz-json-1.1\r\n"
			    "Content-Length: 18\r\n"
			    "\r\n"
			    "{\"SecretId\":\"abc\"}";

static void test_one_request(void **state)
{
	struct sink k = {0};
	const char *v;
	size_t vl;

	(void)state;
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(POST1), 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.method[0], HTTP_POST);
	assert_string_equal(k.path[0], "/");
	assert_string_equal(k.query[0], "a=b");
	assert_string_equal(k.body[0], "{\"SecretId\":\"abc\"}");
	assert_int_equal(k.n_headers[0], 4);
	assert_string_equal(k.host[0], "127.0.0.1:7780");
	assert_true(k.keep_alive[0]);
	assert_int_equal(k.continues, 0);
	(void)v;
	(void)vl;
}

static void test_byte_by_byte(void **state)
{
	struct sink k = {0};

	(void)state;
	http__reader_init(rd, &cbs, &k);
	for (size_t i = 0; i < strlen(POST1); i++)
		assert_int_equal(http__reader_feed(rd, (const uint8_t *)POST1 + i, 1), 0);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.body[0], "{\"SecretId\":\"abc\"}");
	assert_string_equal(k.host[0], "127.0.0.1:7780");
	assert_int_equal(k.n_headers[0], 4);
}

static void test_pipelined(void **state)
{
	struct sink k = {0};
	char buf[2048];

	(void)state;
	snprintf(buf, sizeof(buf), "%sGET /health HTTP/1.1\r\nHost: x\r\n\r\n%s", POST1, POST1);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(buf), 0);
	assert_int_equal(k.n, 3);
	assert_int_equal(k.method[1], HTTP_GET);
	assert_string_equal(k.path[1], "/health");
	assert_string_equal(k.query[1], "");
	assert_int_equal(k.body_len[1], 0);
	assert_string_equal(k.body[2], "{\"SecretId\":\"abc\"}");
}

static void test_header_bytes_cap(void **state)
{
	struct sink k = {0};
	size_t n = HTTP_MAX_HEADER_BYTES + 100;
	char *big = malloc(n + 64);
	int rv;

	(void)state;
	assert_non_null(big);
	memcpy(big, "GET / HTTP/1.1\r\nX-Big: ", 23);
	memset(big + 23, 'a', n);
	memcpy(big + 23 + n, "\r\n\r\n", 5);
	http__reader_init(rd, &cbs, &k);
	rv = http__reader_feed(rd, (const uint8_t *)big, strlen(big));
	assert_int_equal(rv, 431);
	assert_int_equal(k.n, 0);
	/* dead: later input is ignored */
	assert_int_equal(feed_str("GET / HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(k.n, 0);
	free(big);
}

static void test_header_count_cap(void **state)
{
	struct sink k = {0};
	char buf[8192];
	size_t o = 0;

	(void)state;
	o += (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "X-H%d: v\r\n", i);
	snprintf(buf + o, sizeof(buf) - o, "\r\n");
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(buf), 431);
	assert_int_equal(k.n, 0);
}

static void test_body_cap(void **state)
{
	struct sink k = {0};
	char buf[256];

	(void)state;
	snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\nxx",
		 HTTP_MAX_BODY_BYTES + 1);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(buf), 413);
	assert_int_equal(k.n, 0);
	/* exactly the cap is fine (headers only here: the body has not come) */
	snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_MAX_BODY_BYTES);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(buf), 0);
	assert_int_equal(k.n, 0);
}

static void test_length_rules(void **state)
{
	struct sink k = {0};

	(void)state;
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("POST / HTTP/1.1\r\nHost: x\r\n\r\n"), 411);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(
		feed_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
		411);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n"), 400);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
			 400);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
	assert_int_equal(k.n, 0);
	/* a GET without a length has no body */
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("GET /metrics HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(k.n, 1);
}

static void test_garbage(void **state)
{
	struct sink k = {0};
	static const uint8_t junk[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};

	(void)state;
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(http__reader_feed(rd, junk, sizeof(junk)), 400);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("hello world\r\n\r\n"), 400);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("GET / HTTP/9.9\r\n\r\n"), 505);
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("GET / HTTP/1.1\r\nBad Header\r\n\r\n"), 400);
	assert_int_equal(k.n, 0);
}

static void test_expect_continue(void **state)
{
	struct sink k = {0};
	static const char head[] = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";

	(void)state;
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(head), 0);
	assert_int_equal(k.continues, 1);
	assert_int_equal(k.n, 0);
	assert_int_equal(feed_str("{}"), 0);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.body[0], "{}");
	/* another expectation is refused */
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("POST / HTTP/1.1\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n"),
			 417);
	/* over the cap: 413 before the body, no 100 */
	http__reader_release(rd);
	memset(&k, 0, sizeof(k));
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(
		feed_str("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n"),
		413);
	assert_int_equal(k.continues, 0);
	/* HTTP/1.0: ignored */
	http__reader_release(rd);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("POST / HTTP/1.0\r\nExpect: x\r\nContent-Length: 2\r\n\r\n{}"), 0);
	assert_int_equal(k.continues, 0);
	assert_int_equal(k.n, 1);
	assert_false(k.keep_alive[0]);
}

/* what http.c's request deadline runs on: a request began, is not complete */
static void test_mid_request_and_stop(void **state)
{
	struct sink k = {0};

	(void)state;
	http__reader_init(rd, &cbs, &k);
	assert_false(http__reader_mid_request(rd));
	assert_int_equal(feed_str("G"), 0);
	assert_true(http__reader_mid_request(rd));
	assert_int_equal(feed_str("ET /health HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	assert_int_equal(k.n, 1);
	assert_false(http__reader_mid_request(rd));
	/* a complete request and the start of the next in one chunk */
	assert_int_equal(feed_str("GET /health HTTP/1.1\r\n\r\nGET /he"), 0);
	assert_int_equal(k.n, 2);
	assert_true(http__reader_mid_request(rd));
	/* stopped (the deadline passed): the rest is discarded */
	http__reader_stop(rd);
	assert_false(http__reader_mid_request(rd));
	assert_int_equal(feed_str("alth HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(k.n, 2);
}

static void test_pause_resume(void **state)
{
	struct sink k = {0};
	char buf[2048];

	(void)state;
	snprintf(buf, sizeof(buf), "%s%s%s", POST1, POST1, POST1);
	k.pause_at = 1;
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(http__reader_feed(rd, (const uint8_t *)buf, strlen(buf) - 5), 0);
	assert_int_equal(k.n, 1);
	assert_true(http__reader_paused(rd));
	/* more bytes while paused are kept behind the others */
	assert_int_equal(http__reader_feed(rd, (const uint8_t *)buf + strlen(buf) - 5, 5), 0);
	assert_int_equal(k.n, 1);
	k.pause_at = 2;
	assert_int_equal(http__reader_resume(rd), 0);
	assert_int_equal(k.n, 2);
	assert_true(http__reader_paused(rd));
	assert_int_equal(http__reader_resume(rd), 0);
	assert_int_equal(k.n, 3);
	assert_false(http__reader_paused(rd));
	assert_string_equal(k.body[2], "{\"SecretId\":\"abc\"}");
	/* and reading continues normally */
	assert_int_equal(feed_str(POST1), 0);
	assert_int_equal(k.n, 4);
}

static void test_backlog_cap(void **state)
{
	struct sink k = {0};
	size_t chunk = 64 * 1024, fed = 0;
	uint8_t *junk = malloc(chunk);
	int rv = 0;

	(void)state;
	assert_non_null(junk);
	memset(junk, 'x', chunk);
	k.pause_at = 1;
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("GET / HTTP/1.1\r\n\r\n"), 0);
	assert_true(http__reader_paused(rd));
	while (rv == 0 && fed <= HTTP_MAX_BACKLOG + chunk) {
		rv = http__reader_feed(rd, junk, chunk);
		fed += chunk;
	}
	assert_int_equal(rv, 503);
	assert_true(fed > HTTP_MAX_BACKLOG);
	assert_false(http__reader_paused(rd));
	assert_int_equal(http__reader_resume(rd), 0);
	assert_int_equal(k.n, 1);
	free(junk);
}

static void test_close_and_http10(void **state)
{
	struct sink k = {0};
	char buf[1024];

	(void)state;
	snprintf(buf, sizeof(buf), "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n%s", POST1);
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str(buf), 0);
	assert_int_equal(k.n, 1);
	assert_false(k.keep_alive[0]);
	assert_int_equal(feed_str(POST1), 0);
	assert_int_equal(k.n, 1);

	http__reader_release(rd);
	memset(&k, 0, sizeof(k));
	http__reader_init(rd, &cbs, &k);
	assert_int_equal(feed_str("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
				  "GET /health HTTP/1.0\r\n\r\nGET /x HTTP/1.0\r\n\r\n"),
			 0);
	assert_int_equal(k.n, 2);
	assert_true(k.keep_alive[0]);
	assert_false(k.keep_alive[1]);

	/* STOP from the callback */
	http__reader_release(rd);
	memset(&k, 0, sizeof(k));
	k.stop_at = 1;
	http__reader_init(rd, &cbs, &k);
	snprintf(buf, sizeof(buf), "%s%s", POST1, POST1);
	assert_int_equal(feed_str(buf), 0);
	assert_int_equal(k.n, 1);
}

static void test_helpers(void **state)
{
	char op[64], date[32], id[37], head[512];
	struct sigv4_header h[2] = {
		{"Content-Type", 12, "  application/x-amz-json-1.1 ", 29},
		{"x-amz-target", 12, "secretsmanager.ListSecrets", 26},
	};
	const char *v;
	size_t vl, n;

	(void)state;
	v = http__header(h, 2, "content-type", &vl);
	assert_non_null(v);
	assert_int_equal(vl, strlen("application/x-amz-json-1.1"));
	assert_true(http__content_type_ok(v, vl));
	assert_null(http__header(h, 2, "expect", &vl));
	v = http__header(h, 2, "X-Amz-Target", &vl);
	assert_int_equal(http__target_op(v, vl, op, sizeof(op)), 0);
	assert_string_equal(op, "ListSecrets");
	assert_int_equal(http__target_op("secretsmanager.", 15, op, sizeof(op)), -1);
	assert_int_equal(http__target_op("kms.ListKeys", 12, op, sizeof(op)), -1);
	assert_int_equal(http__target_op("secretsmanager.A/B", 18, op, sizeof(op)), -1);
	assert_int_equal(http__target_op(NULL, 0, op, sizeof(op)), -1);
	assert_int_equal(http__target_op("secretsmanager.ABCDEFGH", 23, op, 8), -1);

	assert_true(http__content_type_ok(NULL, 0));
	assert_true(http__content_type_ok("application/x-amz-json-1.0; charset=utf-8", 41));
	assert_true(http__content_type_ok("Application/JSON", 16));
	assert_false(http__content_type_ok("text/plain", 10));

	assert_int_equal(http__status_for_error("ResourceNotFoundException"), 400);
	assert_int_equal(http__status_for_error("ThrottlingException"), 400);
	assert_int_equal(http__status_for_error("MissingAuthenticationTokenException"), 400);
	assert_int_equal(http__status_for_error("InternalServiceError"), 500);
	assert_int_equal(http__status_for_error("ServiceUnavailableException"), 503);
	assert_int_equal(http__status_for_error("InvalidClientTokenId"), 403);

	http__date(784111777, date); /* RFC 9110's example */
	assert_string_equal(date, "Sun, 06 Nov 1994 08:49:37 GMT");

	http__uuid(id);
	assert_int_equal(strlen(id), 36);
	assert_int_equal(id[14], '4');
	assert_true(strchr("89ab", id[19]) != NULL);
	assert_true(id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-');
	for (int i = 0; i < 100; i++) {
		char id2[37];

		http__uuid(id2);
		assert_string_not_equal(id, id2);
	}

	n = http__format_head(head, sizeof(head), 400, id, date, "application/x-amz-json-1.1", 42,
			      "ResourceNotFoundException", false, false);
	assert_true(n > 0 && n == strlen(head));
	assert_non_null(strstr(head, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(head, "x-amzn-ErrorType: ResourceNotFoundException\r\n"));
	assert_non_null(strstr(head, "Content-Length: 42\r\n"));
	assert_non_null(strstr(head, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
	assert_null(strstr(head, "Connection"));
	assert_true(strcmp(head + n - 4, "\r\n\r\n") == 0);
	n = http__format_head(head, sizeof(head), 200, id, date, "text/plain", 3, NULL, true, false);
	assert_non_null(strstr(head, "Connection: close\r\n"));
	assert_null(strstr(head, "ErrorType"));
	assert_int_equal(http__format_head(head, 40, 200, id, date, "text/plain", 3, NULL, false,
					   false),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_bytes_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_count_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mid_request_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_and_http10, setup, teardown),
		cmocka_unit_test(test_helpers),
	};

	secmem_init(1u << 22);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
