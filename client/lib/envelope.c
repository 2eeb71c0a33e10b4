/*
 * Request envelopes: sign the packed operation request with the cached
 * per-day key and pack call id, operation, auth and payload behind a 4-byte
 * big-endian length. Answers are unpacked on the secure heap because their
 * payload may carry secret values. Failures: a frame over the cap, a signing
 * failure, or bytes that are not an Envelope.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "internal.h"
#include "util/errors.h"

const char *coffer_strerror(int code)
{
	switch (code) {
	case COFFER_ESERVICE:
		return "service error";
	case COFFER_EAGAIN:
		return "send buffer full";
	default:
		return cf_strerror(code);
	}
}

int coffer__err(struct coffer_error *err, int code, const char *type, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	snprintf(err->type, sizeof(err->type), "%s", type ? type : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

int64_t coffer__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *coffer__now_date(struct coffer_client *c)
{
	time_t now = time(NULL);

	if (now != c->date_t || c->date[0] == '\0') {
		sign_format_date(now, c->date);
		c->date_t = now;
	}
	return c->date;
}

int coffer__sign(struct coffer_client *c, const char *date, const char *operation,
		 const uint8_t *payload, size_t len, char sig[SIGN_HEX_LEN + 1])
{
	if (strlen(date) != SIGN_DATE_LEN)
		return COFFER_EINVAL;
	if (c->sign_key == NULL || memcmp(c->key_day, date, 8) != 0) {
		char day[9];

		if (c->sign_key == NULL && (c->sign_key = secmem_alloc(32)) == NULL)
			return COFFER_ENOMEM;
		memcpy(day, date, 8);
		day[8] = '\0';
		if (sign_derive_key((const char *)c->secret_key.data, day, c->region,
				    c->sign_key) != 0) {
			c->key_day[0] = '\0';
			return COFFER_ECRYPTO;
		}
		memcpy(c->key_day, day, sizeof(c->key_day));
	}
	if (sign_compute(c->sign_key, c->access_key_id, date, c->region, operation, payload, len,
			 sig) != 0)
		return COFFER_ECRYPTO;
	return 0;
}

int coffer_encode_request(struct coffer_client *c, uint64_t call_id, const char *operation,
			  const char *date, const uint8_t *payload, size_t payload_len,
			  uint8_t *out, size_t cap, size_t *len)
{
	Coffer__Envelope env = COFFER__ENVELOPE__INIT;
	Coffer__Auth auth = COFFER__AUTH__INIT;
	char sig[SIGN_HEX_LEN + 1];
	size_t n;
	int rv;

	if (payload_len > COFFER_MAX_FRAME)
		return COFFER_ETOOBIG;
	rv = coffer__sign(c, date, operation, payload, payload_len, sig);
	if (rv != 0)
		return rv;
	auth.access_key_id = c->access_key_id;
	auth.date = (char *)date;
	auth.region = c->region;
	auth.signature = sig;
	env.has_call_id = 1;
	env.call_id = call_id;
	env.operation = (char *)operation;
	env.auth = &auth;
	env.has_payload = 1;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = payload_len;
	n = coffer__envelope__get_packed_size(&env);
	if (n > COFFER_MAX_FRAME || n + 4 > cap)
		return COFFER_ETOOBIG;
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	coffer__envelope__pack(&env, out + 4);
	*len = n + 4;
	return 0;
}

int coffer_decode_envelope(const uint8_t *body, size_t len, Coffer__Envelope **env)
{
	if (len > COFFER_MAX_FRAME)
		return COFFER_EPROTO;
	*env = coffer__envelope__unpack(&secmem_pb_allocator, len, body);
	return *env ? 0 : COFFER_EPROTO;
}

void coffer_response_free(void *resp)
{
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, &secmem_pb_allocator);
}

int coffer_uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	size_t i, j = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return COFFER_ECRYPTO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 15];
	}
	out[j] = '\0';
	return 0;
}

int coffer_error_is_retryable(const char *type, const char *message)
{
	if (type == NULL)
		return 0;
	if (strcmp(type, "ServiceUnavailableException") == 0 ||
	    strcmp(type, "ThrottlingException") == 0)
		return 1;
	return strcmp(type, "InternalServiceError") == 0 && message != NULL &&
	       strstr(message, "not ready") != NULL;
}
