/*
 * GetRandomPassword (a read with no state: any node can answer). The pool
 * is the union of the classes still included (a-z, A-Z, 0-9, the 32 ASCII
 * punctuation characters, and the space when IncludeSpace) minus
 * ExcludeCharacters. Every character is drawn with crypto_random and
 * rejection sampling (no modulo bias). With RequireEachIncludedType (the
 * default) one character of each included, non-empty class is then placed
 * at distinct random positions, so the result always has exactly
 * PasswordLength characters and where the required ones sit is not
 * predictable. The space is not a required type: AWS describes the
 * requirement as "at least one upper and lowercase letter, one number, and
 * one punctuation" (reference §5.9 leaves it open).
 *
 * Errors: ValidationException for a length outside 1-4096 or
 * ExcludeCharacters over 4096; InvalidParameterException "Password length
 * is too short based on the required types." when nothing is left to draw
 * from or the length is below the number of required classes. The password
 * exists only in the secure heap (generated there, packed there).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "api/api_int.h"
#include "crypto/crypto.h"
#include "util/errors.h"

#define PW_DEFAULT 32
#define PW_MAX 4096
#define MSG_TOO_SHORT "Password length is too short based on the required types."

static const char punctuation[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/* Buffered CSPRNG bytes (pos == sizeof(buf): empty); wiped when done. */
struct rng {
	uint8_t buf[256];
	size_t pos;
};

static int rng_u16(struct rng *r, unsigned *v)
{
	int rv;

	if (r->pos + 2 > sizeof(r->buf)) {
		if ((rv = crypto_random(r->buf, sizeof(r->buf))) != 0)
			return rv;
		r->pos = 0;
	}
	*v = (unsigned)r->buf[r->pos] << 8 | r->buf[r->pos + 1];
	r->pos += 2;
	return 0;
}

/* Uniform in [0, n), 1 <= n <= 65536: reject the top 65536 % n values. */
static int uniform(struct rng *r, unsigned n, unsigned *out)
{
	unsigned limit = 65536u - 65536u % n, v;
	int rv;

	do {
		if ((rv = rng_u16(r, &v)) != 0)
			return rv;
	} while (v >= limit);
	*out = v % n;
	return 0;
}

struct pwclass {
	char chars[96];
	unsigned n;
};

/* Copy the characters of set not in exclude into c. */
static void class_init(struct pwclass *c, const char *set, const char *exclude)
{
	c->n = 0;
	for (const char *p = set; *p; p++)
		if (strchr(exclude, *p) == NULL)
			c->chars[c->n++] = *p;
}

static int generate(struct rng *r, const struct pwclass *cls, size_t n_cls, int require,
		    const struct pwclass *pool, size_t len, char *pw)
{
	unsigned short pos[PW_MAX];
	unsigned k;
	size_t req = 0;
	int rv = 0;

	for (size_t i = 0; i < len && rv == 0; i++)
		if ((rv = uniform(r, pool->n, &k)) == 0)
			pw[i] = pool->chars[k];
	for (size_t i = 0; i < len; i++)
		pos[i] = (unsigned short)i;
	for (size_t c = 0; require && c < n_cls && rv == 0; c++) {
		if (cls[c].n == 0)
			continue;
		/* partial Fisher-Yates: a fresh random position for each class */
		if ((rv = uniform(r, (unsigned)(len - req), &k)) != 0)
			break;
		unsigned short t = pos[req];

		pos[req] = pos[req + k];
		pos[req + k] = t;
		if ((rv = uniform(r, cls[c].n, &k)) != 0)
			break;
		pw[pos[req]] = cls[c].chars[k];
		req++;
	}
	OPENSSL_cleanse(pos, sizeof(pos));
	return rv;
}

int api__get_random_password(struct api_ctx *ctx, const ProtobufCMessage *m,
			     struct api_reply *out)
{
	const Coffer__GetRandomPasswordRequest *req = (const Coffer__GetRandomPasswordRequest *)m;
	Coffer__GetRandomPasswordResponse resp = COFFER__GET_RANDOM_PASSWORD_RESPONSE__INIT;
	const char *exclude = req->exclude_characters ? req->exclude_characters : "";
	int64_t len = req->has_password_length ? req->password_length : PW_DEFAULT;
	int require = !req->has_require_each_included_type || req->require_each_included_type;
	struct pwclass cls[4], pool;
	size_t n_req = 0;
	struct rng r = {{0}, sizeof(r.buf)};
	struct secbuf pw = {0};
	int rv;

	if (!api__check_range(out, len, "passwordLength", 1, PW_MAX) ||
	    !api__check_len(out, req->exclude_characters, "excludeCharacters", 0, PW_MAX))
		return 0;
	class_init(&cls[0], req->has_exclude_lowercase && req->exclude_lowercase
				    ? "" : "abcdefghijklmnopqrstuvwxyz", exclude);
	class_init(&cls[1], req->has_exclude_uppercase && req->exclude_uppercase
				    ? "" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ", exclude);
	class_init(&cls[2], req->has_exclude_numbers && req->exclude_numbers ? "" : "0123456789",
		   exclude);
	class_init(&cls[3], req->has_exclude_punctuation && req->exclude_punctuation
				    ? "" : punctuation, exclude);
	pool.n = 0;
	for (size_t c = 0; c < 4; c++) {
		memcpy(pool.chars + pool.n, cls[c].chars, cls[c].n);
		pool.n += cls[c].n;
		n_req += cls[c].n > 0;
	}
	if (req->has_include_space && req->include_space && strchr(exclude, ' ') == NULL)
		pool.chars[pool.n++] = ' ';
	if (pool.n == 0 || (require && (size_t)len < n_req))
		return api__error(out, "InvalidParameterException", MSG_TOO_SHORT);
	if ((rv = secbuf_alloc(&pw, (size_t)len)) != 0)
		return rv;
	rv = generate(&r, cls, 4, require, &pool, (size_t)len, (char *)pw.data);
	OPENSSL_cleanse(&r, sizeof(r));
	if (rv == CF_ENOMEM)
		goto out;
	if (rv != 0) {
		rv = api__error(out, "InternalServiceError", "the random number generator failed");
		goto out;
	}
	pw.data[len] = '\0';
	resp.random_password = (char *)pw.data;
	rv = api__pack(out, &resp.base);
out:
	secbuf_free(&pw);
	return rv;
}
