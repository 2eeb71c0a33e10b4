/*
 * aws: the client side of Coffer's AWS JSON 1.1 endpoint, for `coffer bench
 * --api aws`. aws.c is pure (endpoint URLs, SigV4 signing the way botocore
 * does it, request formatting, hand-built JSON bodies, response framing);
 * awsconn.c is one pipelined HTTP/1.1 keep-alive connection (plain TCP or
 * TLS) with the same callback contract as coffer_conn: answers come back in
 * request order, each through its callback exactly once.
 *
 * Signing: SigV4 with service "secretsmanager" over the headers
 * content-type;host;x-amz-date;x-amz-target (plus x-amz-security-token
 * when a session token is set), like botocore. The signing key is derived
 * once per day and cached on the secure heap; the secret access key is kept
 * there too and never printed. Threads: one thread at a time per object.
 */
#ifndef COFFER_CLI_AWS_H
#define COFFER_CLI_AWS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "coffer/coffer.h"
#include "util/secmem.h"

#define AWS_SERVICE      "secretsmanager"
#define AWS_CONTENT_TYPE "application/x-amz-json-1.1"
#define AWS_DATE_LEN     16          /* YYYYMMDDTHHMMSSZ */
#define AWS_MAX_HEAD     (16 * 1024) /* response status line + headers */
#define AWS_MAX_BODY     (1024 * 1024)

struct aws_endpoint {
	int tls;
	char host[256]; /* for connect and SNI, without IPv6 brackets */
	char port[8];
	char host_header[280]; /* as typed: host[:port], port left out when default */
	char url[300];         /* for messages */
};

/* "http[s]://host[:port][/]" -> ep. 0 or COFFER_EINVAL. Pure. */
int aws_endpoint_parse(const char *url, struct aws_endpoint *ep);

struct aws_signer {
	char access_key_id[129];
	struct secbuf secret; /* "AWS4" + secret access key, secure heap */
	char *session_token;  /* malloc'ed copy or NULL */
	char region[64];
	uint8_t *key; /* kSigning for key_day, 32 bytes, secure heap */
	char key_day[9];
	unsigned derivations; /* how many times the key was derived (tests) */
	time_t date_t;
	char date[AWS_DATE_LEN + 1];
};

/* Copies every string (the secret to the secure heap). token may be NULL.
 * 0, COFFER_EINVAL (missing or oversized field) or COFFER_ENOMEM. Release
 * with aws_signer_release whatever the result. */
int aws_signer_init(struct aws_signer *s, const char *access_key_id, const char *secret_key,
                    const char *session_token, const char *region);
void aws_signer_release(struct aws_signer *s);
/* The current X-Amz-Date (cached per second; borrowed). */
const char *aws_signer_now(struct aws_signer *s);

/* The SigV4 signature (64 hex + NUL) of POST / with the four headers (and
 * the session token) over body, at date (YYYYMMDDTHHMMSSZ). Derives the
 * day's key when the day changes. 0, COFFER_EINVAL or COFFER_ECRYPTO. */
int aws_sign(struct aws_signer *s, const char *date, const char *host_header, const char *operation,
             const void *body, size_t len, char sig[65]);

/* The whole signed request for operation ("GetSecretValue") into
 * out[0..cap): request line, Host, Content-Type, Content-Length,
 * X-Amz-Target, X-Amz-Date, [X-Amz-Security-Token,] Authorization, then the
 * body. *n gets its length. 0, COFFER_ETOOBIG (does not fit) or a signing
 * error. */
int aws_format_request(struct aws_signer *s, const char *date, const char *host_header,
                       const char *operation, const void *body, size_t len, char *out, size_t cap,
                       size_t *n);

/* s as a JSON string literal (quotes included, escaped per RFC 8259) into
 * out[0..cap) when it fits; returns the length it needs (without a NUL). */
size_t aws_json_str(char *out, size_t cap, const char *s);

/* One response at the start of buf[0..len): 1 (complete: status, the head
 * and body lengths filled), 0 (need more bytes) or COFFER_EPROTO (not
 * HTTP/1.x, no Content-Length, chunked, oversized). Pure. */
struct aws_resp {
	int status;
	size_t head_len; /* through the blank line */
	size_t body_len;
	int close; /* "Connection: close" */
};
int aws_parse_response(const char *buf, size_t len, struct aws_resp *r);
/* The body is a JSON object ('{' ... '}' around optional whitespace). */
int aws_body_is_object(const char *b, size_t n);
/* The AWS error in a non-200 answer: __type (after '#', before ':') and
 * Message / message, else "HTTP <status>". */
void aws_error_of(int status, const char *body, size_t n, struct coffer_error *err);

/* ---------------------------------------------------------- the connection */

struct aws_conn;

/* Connect (and handshake, with ssl_ctx when ep->tls) within timeout_ms.
 * ep, signer and ssl_ctx are borrowed and must outlive the connection.
 * 0, COFFER_EIO, COFFER_ETIMEOUT or COFFER_ENOMEM with err->message set. */
int aws_conn_open(const struct aws_endpoint *ep, struct aws_signer *signer, SSL_CTX *ssl_ctx,
                  int timeout_ms, struct aws_conn **out, struct coffer_error *err);
/* Fail every pending request with COFFER_ECLOSED (callbacks run), close, free. NULL ok. */
void aws_conn_free(struct aws_conn *conn);
/* Sign and queue POST / for operation with the JSON body (copied). cb runs
 * from aws_conn_process with status 0 and the body (borrowed) on HTTP 200
 * with a JSON object, COFFER_ESERVICE with err on other statuses, or a
 * transport code. Returns 0, COFFER_EAGAIN (send buffer full), COFFER_ETOOBIG,
 * COFFER_ECLOSED or COFFER_ENOMEM. */
int aws_conn_send(struct aws_conn *conn, const char *operation, const char *body, size_t len,
                  coffer_done_cb cb, void *data);
int aws_conn_fd(const struct aws_conn *conn);
short aws_conn_events(const struct aws_conn *conn);
/* Write what is queued, read and dispatch what arrived, without blocking.
 * 0, or a COFFER_E* after which the connection is dead (every pending
 * request failed through its callback); free it. */
int aws_conn_process(struct aws_conn *conn);

/* A TLS client context trusting ca_file (NULL: system store), TLS 1.2+ as
 * the AWS SDKs allow. Returns a context (free with SSL_CTX_free) or NULL
 * with err set. */
SSL_CTX *aws_tls_context(const char *ca_file, struct coffer_error *err);

#endif
