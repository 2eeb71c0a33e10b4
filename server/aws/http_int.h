/*
 * http internals shared by http.c and http_reader.c (and the unit test and
 * fuzz target). Not a contract: only server/aws/ and tests include it.
 *
 * The reader is the pure half of the endpoint: an http-parser state machine
 * per connection that collects one request at a time (bounded headers,
 * bounded body in the secure heap) and hands complete requests out in
 * order. It can be paused after a request (the connection has too many
 * answers outstanding); the rest of the input chunk, and bytes that arrive
 * meanwhile, are kept, in order, in a bounded secure backlog and parsed on
 * resume. (http.c pauses the connection's reading with the reader, so the
 * backlog holds at most the rest of one net/ chunk.) No libuv, no sockets.
 */
#ifndef COFFER_AWS_HTTP_INT_H
#define COFFER_AWS_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <http_parser.h>

#include "aws/http.h"
#include "aws/sigv4.h"
#include "util/secmem.h"

#define HTTP_MAX_HEADERS SIGV4_MAX_HEADERS
#define HTTP_MAX_INFLIGHT 64 /* answers outstanding per connection */
/* Bytes kept while paused: the rest of one on_data chunk (net/ hands out at
 * most 64 KiB per call, and reading stops while the reader is paused). */
#define HTTP_MAX_BACKLOG (64 * 1024)
/* A body buffer this small is kept for the next request of the connection. */
#define HTTP_KEEP_BODY 4096

/* One complete request. Every pointer is borrowed from the reader and valid
 * only during the on_request callback. */
struct http_request {
	unsigned method;          /* enum http_method */
	unsigned short major, minor;
	const char *path;         /* request target up to '?' */
	size_t path_len;
	const char *query;        /* after '?', without it; may be empty */
	size_t query_len;
	const struct sigv4_header *headers;
	size_t n_headers;
	const uint8_t *body;      /* secure heap; wiped after the callback */
	size_t body_len;
	bool keep_alive;          /* false: answer then close */
};

enum http_reader_next {
	HTTP_READER_GO = 0,    /* keep parsing */
	HTTP_READER_PAUSE = 1, /* keep the following bytes until resume */
	HTTP_READER_STOP = 2,  /* no more requests on this connection */
};

struct http_reader_cbs {
	/* Headers of a request with "Expect: 100-continue" and an acceptable
	 * body are complete: the peer waits for "100 Continue". May be NULL. */
	void (*on_continue)(void *data);
	/* A complete request; returns an enum http_reader_next. */
	int (*on_request)(void *data, const struct http_request *req);
};

struct http_reader {
	http_parser parser;
	const struct http_reader_cbs *cbs;
	void *data;
	int status;      /* HTTP status of the first error, 0 = none */
	bool paused;     /* the parser is paused; input goes to the backlog */
	bool stopped;    /* STOP or upgrade: input is discarded */
	bool in_exec;
	bool in_message; /* a request has begun and is not complete */
	bool last_was_value;
	/* the request being read */
	char head[HTTP_MAX_HEADER_BYTES]; /* url, header names and values */
	size_t head_len;
	size_t url_len;
	struct sigv4_header headers[HTTP_MAX_HEADERS];
	size_t n_headers;
	struct secbuf body; /* capacity body.len; body_have bytes used */
	size_t body_have;
	size_t body_want;
	/* input kept while paused */
	struct secbuf backlog; /* capacity backlog.len */
	size_t bl_off, bl_end;
};

/* Start reading requests. r is caller-owned (large: ~20 KiB, keep it off the
 * stack); cbs and data borrowed. */
void http__reader_init(struct http_reader *r, const struct http_reader_cbs *cbs, void *data);
/* Feed bytes (borrowed; nothing points into them after the call). Returns
 * 0 (parsed, or kept for later while paused, or discarded after STOP), an
 * HTTP error status >= 400 for a malformed or refused request (400, 411,
 * 413, 417, 431, 505, 503 when the backlog is full) after which the reader
 * ignores all input, or CF_ENOMEM. */
int http__reader_feed(struct http_reader *r, const uint8_t *buf, size_t n);
/* Continue after a PAUSE: parse the backlog. Same returns as feed. Never
 * call from inside on_request. */
int http__reader_resume(struct http_reader *r);
bool http__reader_paused(const struct http_reader *r);
/* Whether part of a request (at least its first byte) has been parsed and
 * the request is not complete yet (false once stopped). */
bool http__reader_mid_request(const struct http_reader *r);
/* Stop reading requests (as after STOP): later input is discarded. */
void http__reader_stop(struct http_reader *r);
/* Wipe and free what the reader holds. */
void http__reader_release(struct http_reader *r);

/* ---- helpers (pure) ---- */

/* The value of the first header named name (case-insensitive), trimmed;
 * NULL if absent. */
const char *http__header(const struct sigv4_header *h, size_t n, const char *name,
			 size_t *len);
/* The operation named by an X-Amz-Target value ("secretsmanager.<Op>",
 * trimmed) into op (cap bytes, NUL-terminated). 0, or -1 when the value is
 * not of that form or the name does not fit. */
int http__target_op(const char *v, size_t n, char *op, size_t cap);
/* Whether a request Content-Type is acceptable for AWS JSON (1.1, 1.0,
 * application/json, or absent). */
bool http__content_type_ok(const char *v, size_t n);
/* The HTTP status for an AWS error type, and a status's reason phrase. */
int http__status_for_error(const char *type);
const char *http__reason(int status);
/* IMF-fixdate for t into out (>= 30 bytes). */
void http__date(time_t t, char *out);
/* A random UUIDv4 (36 chars + NUL). */
void http__uuid(char out[37]);
/* Format a response head into out (cap bytes): status line, x-amzn-RequestId,
 * Date, Content-Type, Content-Length, x-amzn-ErrorType if err_type,
 * "Connection: close" if close, "Connection: keep-alive" if keep_alive_10.
 * Returns the length, or 0 if it does not fit. */
size_t http__format_head(char *out, size_t cap, int status, const char *request_id,
			 const char *date, const char *content_type, size_t content_length,
			 const char *err_type, bool close, bool keep_alive_10);

#endif
