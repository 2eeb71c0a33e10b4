/*
 * Helpers shared by the handlers: replies, scratch memory, the AWS input
 * rules (names, ids, tokens, values, labels, KMS key ids) with AWS's error
 * names and messages, secret resolution, and the leader-side sources of
 * non-determinism (UUIDs, ARN suffixes, sealing a value with its MAC).
 * Messages never contain a secret value: value errors name the member only.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "crypto/crypto.h"
#include "util/errors.h"

void *api__alloc(struct scratch *sc, size_t n)
{
	void *p;

	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		void **np = realloc(sc->p, cap * sizeof(*np));

		if (np == NULL)
			return NULL;
		sc->p = np;
		sc->cap = cap;
	}
	if ((p = calloc(1, n ? n : 1)) == NULL)
		return NULL;
	sc->p[sc->n++] = p;
	return p;
}

void api__scratch_free(struct scratch *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->p[i]);
	free(sc->p);
	memset(sc, 0, sizeof(*sc));
}

int api__error(struct api_reply *out, const char *type, const char *fmt, ...)
{
	va_list ap;

	snprintf(out->status.type, sizeof(out->status.type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(out->status.message, sizeof(out->status.message), fmt, ap);
	va_end(ap);
	return 0;
}

int api__pack(struct api_reply *out, const ProtobufCMessage *m)
{
	return secmem_pb_pack(m, &out->payload);
}

double api__date(int64_t ms)
{
	return (double)ms / 1000.0;
}

/* ---------------------------------------------------------------- validation */

static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("/_+=.@-", c) != NULL;
}

/* AWS's model-validation message. The value is echoed (shortened to fit
 * the status buffer) unless v is NULL: sensitive members (SecretString,
 * SecretBinary, RotationToken) are reported without their value, as AWS
 * does for members it marks sensitive. */
#define ECHO_MAX 96

int api__validation(struct api_reply *out, const char *v, const char *member,
		    const char *constraint)
{
	if (v == NULL)
		return api__error(out, "ValidationException",
				  "1 validation error detected: Value at '%s' failed to satisfy "
				  "constraint: %s",
				  member, constraint);
	return api__error(out, "ValidationException",
			  "1 validation error detected: Value '%.*s%s' at '%s' failed to "
			  "satisfy constraint: %s",
			  ECHO_MAX, v, strnlen(v, ECHO_MAX + 1) > ECHO_MAX ? "..." : "", member,
			  constraint);
}

static int check_len(struct api_reply *out, const char *v, const char *member, size_t min,
		     size_t max, int echo)
{
	char constraint[96];
	size_t n;

	if (v == NULL) {
		if (min == 0)
			return 1;
		api__error(out, "ValidationException",
			   "1 validation error detected: Value null at '%s' failed to satisfy "
			   "constraint: Member must not be null",
			   member);
		return 0;
	}
	n = strnlen(v, max + 1);
	if (n >= min && n <= max)
		return 1;
	snprintf(constraint, sizeof(constraint), "Member must have length %s %zu",
		 n < min ? "greater than or equal to" : "less than or equal to",
		 n < min ? min : max);
	api__validation(out, echo ? v : NULL, member, constraint);
	return 0;
}

int api__check_len(struct api_reply *out, const char *v, const char *member, size_t min,
		   size_t max)
{
	return check_len(out, v, member, min, max, 1);
}

int api__check_len_sensitive(struct api_reply *out, const char *v, const char *member,
			     size_t min, size_t max)
{
	return check_len(out, v, member, min, max, 0);
}

int api__check_range(struct api_reply *out, int64_t v, const char *member, int64_t min,
		     int64_t max)
{
	char val[32], constraint[96];

	if (v >= min && v <= max)
		return 1;
	snprintf(val, sizeof(val), "%" PRId64, v);
	snprintf(constraint, sizeof(constraint), "Member must have value %s %" PRId64,
		 v < min ? "greater than or equal to" : "less than or equal to",
		 v < min ? min : max);
	api__validation(out, val, member, constraint);
	return 0;
}

int api__check_token(struct api_reply *out, const char *tok, const char *missing_type)
{
	if (tok == NULL) {
		api__error(out, missing_type,
			   "You must provide a ClientRequestToken value. We recommend a "
			   "UUID-type value.");
		return 0;
	}
	return api__check_len(out, tok, "clientRequestToken", 32, 64);
}

static int region_ok(const char *p)
{
	int groups = 0;
	const char *d;

	/* ^([a-z]+-)+\d+$ */
	while (*p >= 'a' && *p <= 'z') {
		while (*p >= 'a' && *p <= 'z')
			p++;
		if (*p++ != '-')
			return 0;
		groups++;
	}
	for (d = p; *p >= '0' && *p <= '9'; p++)
		;
	return groups > 0 && p > d && *p == '\0';
}

int api__check_region(struct api_reply *out, const char *region, const char *member)
{
	if (!api__check_len(out, region, member, 1, 128))
		return 0;
	if (region_ok(region))
		return 1;
	api__validation(out, region, member,
			"Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$");
	return 0;
}

int api__check_name(struct api_reply *out, const char *name, const char *member)
{
	if (!api__check_len(out, name, member, 1, 512))
		return 0;
	for (const char *p = name; *p; p++) {
		if (!name_char((unsigned char)*p)) {
			api__error(out, "ValidationException", MSG_BAD_NAME);
			return 0;
		}
	}
	return 1;
}

int api__check_secret_id(struct api_reply *out, const char *id)
{
	if (!api__check_len(out, id, "secretId", 1, 2048))
		return 0;
	if (strncmp(id, "arn:", 4) == 0)
		return 1;
	return api__check_name(out, id, "secretId");
}

int api__check_value(struct api_reply *out, int has_bin, const ProtobufCBinaryData *bin,
		     const char *str, int required)
{
	if (has_bin && str) {
		api__error(out, "InvalidParameterException",
			   "You can't specify both a binary secret value and a string secret "
			   "value in the same secret.");
		return 0;
	}
	if (!has_bin && !str) {
		if (required)
			api__error(out, "InvalidRequestException",
				   "You must provide either SecretString or SecretBinary.");
		return !required;
	}
	if (has_bin && (bin->len < 1 || bin->len > API_MAX_VALUE)) {
		api__validation(out, NULL, "secretBinary",
				bin->len < 1 ? "Member must have length greater than or equal to 1"
					     : "Member must have length less than or equal to 65536");
		return 0;
	}
	/* never echo the value */
	return !str || api__check_len_sensitive(out, str, "secretString", 1, API_MAX_VALUE);
}

int api__check_stages(struct api_reply *out, char **stages, size_t n)
{
	if (n > STORE_MAX_LABELS) {
		api__validation(out, NULL, "versionStages",
				"Member must have length less than or equal to 20");
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!api__check_len(out, stages[i], "versionStages.member", 1, 256))
			return 0;
	return 1;
}

int api__check_kms_key(struct api_reply *out, const char *k)
{
	size_t n;

	if (k == NULL || k[0] == '\0' || strcmp(k, KMS_DEFAULT_KEY_ALIAS) == 0 ||
	    strcmp(k, "alias/" KMS_DEFAULT_KEY_ALIAS) == 0)
		return 1;
	n = strlen(k);
	if (strncmp(k, "arn:", 4) == 0 && n > 25 && strcmp(k + n - 25, ":alias/aws/secretsmanager") == 0)
		return 1;
	if (!api__check_len(out, k, "kmsKeyId", 0, 2048))
		return 0;
	api__error(out, "InvalidParameterException",
		   "customer managed KMS keys are not supported yet: use the default key "
		   "'alias/aws/secretsmanager' or omit KmsKeyId");
	return 0;
}

/* ---------------------------------------------------------------- lookups */

const struct store_secret *api__resolve(struct api_ctx *ctx, struct api_reply *out,
					const char *id)
{
	const struct store_secret *s = store_resolve(fsm_store(ctx->fsm), id);

	if (s == NULL)
		api__error(out, "ResourceNotFoundException", MSG_NOT_FOUND);
	return s;
}

const struct store_kms_key *api__default_key(struct api_ctx *ctx, struct api_reply *out)
{
	const struct store_kms_key *k = store_kms_find(fsm_store(ctx->fsm), KMS_DEFAULT_KEY_ALIAS);

	if (k == NULL)
		api__error(out, "InternalServiceError", "keyring not ready");
	return k;
}

int api__is_default_key(struct api_ctx *ctx, const char *key_id)
{
	const struct store_kms_key *k = store_kms_find(fsm_store(ctx->fsm), KMS_DEFAULT_KEY_ALIAS);

	return key_id == NULL || (k && strcmp(k->key_id, key_id) == 0);
}

/* ---------------------------------------------------------------- leader side */

int api__uuid(char out[API_UUID_LEN + 1])
{
	uint8_t b[16];
	char hex[33];
	int rv;

	if ((rv = crypto_random(b, sizeof(b))) != 0)
		return rv;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	crypto_hex(b, sizeof(b), hex);
	snprintf(out, API_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return 0;
}

int api__arn(struct api_ctx *ctx, const char *name, char **arn)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char suffix[7];
	size_t i = 0;
	int rv;

	while (i < 6) {
		uint8_t b[16];

		if ((rv = crypto_random(b, sizeof(b))) != 0)
			return rv;
		/* rejection sampling: 248 = 4 * 62, no modulo bias */
		for (size_t j = 0; j < sizeof(b) && i < 6; j++)
			if (b[j] < 248)
				suffix[i++] = abc[b[j] % 62];
	}
	suffix[6] = '\0';
	if (asprintf(arn, "arn:aws:secretsmanager:%s:%s:secret:%s-%s", ctx->region,
		     ctx->account_id, name, suffix) < 0) {
		*arn = NULL;
		return CF_ENOMEM;
	}
	return 0;
}

int api__seal(struct api_ctx *ctx, struct api_reply *out, const struct store_kms_key *key,
	      const char *arn, const char *version_id, int binary, const uint8_t *pt, size_t n,
	      Coffer__Fsm__SealedValue *sv)
{
	struct kms_key_ref ref = {key->key_id, key->wrapped, key->wrapped_len};
	struct kms_aad aad = {ctx->region, arn, version_id};
	struct kms_sealed sealed = {0};
	uint8_t *mac = malloc(STORE_MAC_LEN);
	int rv;

	coffer__fsm__sealed_value__init(sv);
	if (mac == NULL)
		return CF_ENOMEM;
	rv = kms_seal(ctx->kr, &ref, &aad, pt, n, &sealed);
	if (rv == 0)
		rv = kms_value_mac(ctx->kr, &ref, pt, n, mac);
	if (rv != 0) {
		kms_sealed_release(&sealed);
		free(mac);
		if (rv == CF_ENOMEM)
			return rv;
		return api__error(out, "EncryptionFailure",
				  "Secrets Manager can't encrypt the protected secret text using "
				  "the provided KMS key.");
	}
	sv->kms_key_id = key->key_id;
	sv->has_wrapped_dk = sv->has_ct = sv->has_mac = sv->has_binary = 1;
	sv->wrapped_dk.data = sealed.wrapped_dk;
	sv->wrapped_dk.len = sealed.wrapped_dk_len;
	sv->ct.data = sealed.ct;
	sv->ct.len = sealed.ct_len;
	sv->mac.data = mac;
	sv->mac.len = STORE_MAC_LEN;
	sv->binary = binary != 0;
	return 0;
}

void api__sealed_release(Coffer__Fsm__SealedValue *sv)
{
	struct kms_sealed s = {sv->wrapped_dk.data, sv->wrapped_dk.len, sv->ct.data, sv->ct.len};

	kms_sealed_release(&s);
	free(sv->mac.data);
	coffer__fsm__sealed_value__init(sv);
}

int api__pack_cmd(struct api_ctx *ctx, Coffer__Fsm__Command *c, uint8_t **buf, size_t *n)
{
	size_t len;

	c->has_now_ms = 1;
	c->now_ms = ctx->now_ms;
	len = coffer__fsm__command__get_packed_size(c);
	if ((*buf = malloc(len ? len : 1)) == NULL)
		return CF_ENOMEM;
	*n = coffer__fsm__command__pack(c, *buf);
	return 0;
}

/* ---------------------------------------------------------------- paging tokens */

int api__token_encode(const char *plain, char **out)
{
	size_t n = strlen(plain);

	if ((*out = malloc(2 * n + 1)) == NULL)
		return CF_ENOMEM;
	crypto_hex((const uint8_t *)plain, n, *out);
	return 0;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int api__token_decode(const char *tok, char *plain, size_t cap)
{
	size_t n = strnlen(tok, 4097), i;

	if (n == 0 || n > 4096 || n % 2 || n / 2 >= cap)
		return CF_EINVAL;
	for (i = 0; i < n / 2; i++) {
		int hi = unhex(tok[2 * i]), lo = unhex(tok[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return CF_EINVAL;
		plain[i] = (char)(hi << 4 | lo);
	}
	plain[i] = '\0';
	return 0;
}
