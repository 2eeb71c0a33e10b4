/*
 * libcoffer internals shared by its files: the client object, the signing
 * key cache and the connection's frame buffers. Not installed.
 */
#ifndef COFFER_CLIENT_INTERNAL_H
#define COFFER_CLIENT_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "coffer/coffer.h"
#include "crypto/sign.h"
#include "util/secmem.h"

#define CLIENT_SECURE_HEAP (4u * 1024u * 1024u)

struct endpoint {
	char text[256]; /* host:port as given */
	char host[256];
	char port[16];
};

struct coffer_client {
	struct endpoint endpoints[COFFER_MAX_ENDPOINTS];
	size_t n_endpoints;
	size_t cur;               /* endpoint of the sync connection / next attempt */
	char access_key_id[129];
	struct secbuf secret_key; /* secure heap */
	char region[64];
	int timeout_ms;
	int retry_budget_ms;
	SSL_CTX *ssl_ctx;
	struct coffer_conn *conn; /* the sync path's connection, lazily opened */

	/* signing cache: the derived key for key_day, the date text for date_t */
	uint8_t *sign_key;        /* 32 bytes, secure heap */
	char key_day[9];
	time_t date_t;
	char date[SIGN_DATE_LEN + 1];
};

/* The current date text (cached per second). */
const char *coffer__now_date(struct coffer_client *c);
/* Signature over payload at date; derives the day's key when it changes. */
int coffer__sign(struct coffer_client *c, const char *date, const char *operation,
		 const uint8_t *payload, size_t len, char sig[SIGN_HEX_LEN + 1]);
/* Copy into err (type may be ""); returns code. */
int coffer__err(struct coffer_error *err, int code, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t coffer__now_ms(void);

#endif
