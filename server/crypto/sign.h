/*
 * Request signing on the RPC port: HMAC-SHA256 in the spirit of SigV4.
 *
 *   signing key = HMAC(HMAC(HMAC(HMAC("COFFER1" + secret, yyyymmdd), region), "coffer"), "coffer1_request")
 *   string to sign = "COFFER1-HMAC-SHA256\n" + date + "\n" + yyyymmdd/region/coffer/coffer1_request + "\n"
 *                    + access_key_id + "\n" + operation + "\n" + hex(sha256(payload))
 *   signature = hex(HMAC(signing key, string to sign))
 *
 * date is "YYYYMMDDTHHMMSSZ". Shared by client (libcoffer) and server.
 * Pure and thread-safe.
 */
#ifndef COFFER_CRYPTO_SIGN_H
#define COFFER_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGN_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */
#define SIGN_HEX_LEN 64
#define SIGN_SKEW_SECONDS 300

/* Format t (UTC) as YYYYMMDDTHHMMSSZ into out[SIGN_DATE_LEN + 1]. */
void sign_format_date(time_t t, char *out);
/* Parse YYYYMMDDTHHMMSSZ; 0 or CF_EINVAL. */
int sign_parse_date(const char *s, time_t *out);

/* Derive the per-day signing key (32 bytes). Borrowed inputs. */
int sign_derive_key(const char *secret_key, const char *yyyymmdd, const char *region,
		    uint8_t key_out[32]);

/* Compute the hex signature (65 bytes incl. NUL) with a derived key. */
int sign_compute(const uint8_t key[32], const char *access_key_id, const char *date,
		 const char *region, const char *operation, const uint8_t *payload,
		 size_t payload_len, char sig_out[SIGN_HEX_LEN + 1]);

/* Convenience for clients: derive + compute. */
int sign_request(const char *access_key_id, const char *secret_key, const char *date,
		 const char *region, const char *operation, const uint8_t *payload,
		 size_t payload_len, char sig_out[SIGN_HEX_LEN + 1]);

#endif
