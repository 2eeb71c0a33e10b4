/*
 * TLS contexts (TLS 1.3 only) and the self-signed certificate used by dev
 * nodes and tests. The certificate is its own CA (basicConstraints
 * CA:TRUE), so the same PEM file serves as the client's trust store. Files
 * are written to a temporary name in the same directory and renamed into
 * place; the key file is created 0600 and never exists with wider rights.
 * Errors carry OpenSSL's last reason in errmsg.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "net/net_int.h"
#include "util/errors.h"

#define ERRLEN 256
#define TEN_YEARS_S (10L * 365 * 24 * 3600 + 3 * 24 * 3600)

static void tls_err(char *errmsg, const char *what, const char *subject)
{
	unsigned long e = ERR_peek_last_error();
	char reason[160] = "unknown reason";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(errmsg, ERRLEN, "%s '%.60s': %s", what, subject ? subject : "", reason);
	ERR_clear_error();
}

static int tls13_only(SSL_CTX *ctx)
{
	return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
	       SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1;
}

SSL_CTX *net_tls_server_ctx(const char *cert_file, const char *key_file, char *errmsg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL || !tls13_only(ctx)) {
		tls_err(errmsg, "tls server context", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_err(errmsg, "loading certificate", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(errmsg, "loading key", key_file);
		goto fail;
	}
	/* clients keep connections open and never resume: skip tickets */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *net_tls_client_ctx(const char *ca_file, char *errmsg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL || !tls13_only(ctx)) {
		tls_err(errmsg, "tls client context", ca_file);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		tls_err(errmsg, "loading ca file", ca_file);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- self-signed certificate --------------------------------------------- */

/* A host name or address safe to splice into an extension value. */
static int host_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':'))
			return 0;
	}
	return 1;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static X509 *make_cert(EVP_PKEY *key, const char *extra_host)
{
	unsigned char tmp[sizeof(struct in6_addr)], serial[16];
	char san[400];
	X509 *x = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;
	int ok = 0;

	snprintf(san, sizeof(san), "IP:127.0.0.1,IP:::1,DNS:localhost");
	if (extra_host != NULL) {
		int ip = inet_pton(AF_INET, extra_host, tmp) == 1 ||
			 inet_pton(AF_INET6, extra_host, tmp) == 1;
		size_t n = strlen(san);
		snprintf(san + n, sizeof(san) - n, ",%s:%s", ip ? "IP" : "DNS", extra_host);
	}
	if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_get_subject_name(x);
	ok = bn != NULL && X509_set_version(x, X509_VERSION_3) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(x), TEN_YEARS_S) != NULL &&
	     X509_set_pubkey(x, key) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"coffer", -1, -1, 0) &&
	     X509_set_issuer_name(x, name) &&
	     add_ext(x, NID_basic_constraints, "critical,CA:TRUE") &&
	     add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") &&
	     add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") &&
	     add_ext(x, NID_subject_key_identifier, "hash") &&
	     add_ext(x, NID_subject_alt_name, san) && X509_sign(x, key, EVP_sha256()) > 0;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Write to "<path>.XXXXXX" with the given mode, fsync, rename over path. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, char *errmsg)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd = -1, ok, rv = CF_EIO;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(errmsg, ERRLEN, "path too long '%.200s'", path);
		return CF_EINVAL;
	}
	fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
	if (fd < 0) {
		snprintf(errmsg, ERRLEN, "creating '%.200s': %s", tmp, strerror(errno));
		return CF_EIO;
	}
	if (fchmod(fd, mode) != 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(errmsg, ERRLEN, "writing '%.200s': %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1; /* owned by f */
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_X509(f, cert);
	if (!ok) {
		tls_err(errmsg, "writing", path);
		goto out;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(errmsg, ERRLEN, "writing '%.200s': %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(errmsg, ERRLEN, "writing '%.200s': %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(errmsg, ERRLEN, "renaming to '%.200s': %s", path, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rv != 0)
		unlink(tmp);
	return rv;
}

int net_tls_make_self_signed(const char *cert_file, const char *key_file,
			     const char *extra_host, char *errmsg)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rv = CF_EINVAL;

	if (extra_host != NULL && !host_ok(extra_host)) {
		snprintf(errmsg, ERRLEN, "bad host name '%.200s'", extra_host);
		goto out;
	}
	rv = CF_ECRYPTO;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL) {
		tls_err(errmsg, "generating key for", cert_file);
		goto out;
	}
	cert = make_cert(key, extra_host);
	if (cert == NULL) {
		tls_err(errmsg, "making certificate", cert_file);
		goto out;
	}
	rv = write_pem(key_file, 0600, key, NULL, errmsg);
	if (rv == 0)
		rv = write_pem(cert_file, 0644, NULL, cert, errmsg);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rv;
}

/* ---- mutual TLS between the members of a region -------------------------- */

static int load_cert_key(SSL_CTX *ctx, const char *cert_file, const char *key_file,
			 char *errmsg)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_err(errmsg, "loading certificate", cert_file);
		return CF_ECRYPTO;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(errmsg, "loading key", key_file);
		return CF_ECRYPTO;
	}
	return 0;
}

SSL_CTX *net_tls_peer_ctx(int server, const char *ca_file, const char *cert_file,
			  const char *key_file, char *errmsg)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (ctx == NULL || !tls13_only(ctx)) {
		tls_err(errmsg, "tls peer context", cert_file);
		goto fail;
	}
	if (load_cert_key(ctx, cert_file, key_file, errmsg) != 0)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		tls_err(errmsg, "loading ca file", ca_file);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int net_tls_request_client_cert(SSL_CTX *server_ctx, const char *ca_file, char *errmsg)
{
	STACK_OF(X509_NAME) *names;

	if (SSL_CTX_load_verify_locations(server_ctx, ca_file, NULL) != 1) {
		tls_err(errmsg, "loading ca file", ca_file);
		return CF_ECRYPTO;
	}
	names = SSL_load_client_CA_file(ca_file);
	if (names != NULL)
		SSL_CTX_set_client_CA_list(server_ctx, names); /* takes names */
	ERR_clear_error();
	/* ask, do not require: ordinary clients have no certificate */
	SSL_CTX_set_verify(server_ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

int net_tls_use_client_cert(SSL_CTX *client_ctx, const char *cert_file, const char *key_file,
			    char *errmsg)
{
	return load_cert_key(client_ctx, cert_file, key_file, errmsg);
}

/* "coffer://REGION/ID": REGION of [A-Za-z0-9._-], ID a decimal > 0. */
static int parse_identity(const char *s, size_t n, char *region, size_t cap, uint64_t *id)
{
	static const char scheme[] = "coffer://";
	size_t i, rlen;
	uint64_t v = 0;

	if (n <= sizeof(scheme) - 1 || memcmp(s, scheme, sizeof(scheme) - 1) != 0)
		return CF_ENOTFOUND;
	s += sizeof(scheme) - 1;
	n -= sizeof(scheme) - 1;
	for (rlen = 0; rlen < n && s[rlen] != '/'; rlen++) {
		char ch = s[rlen];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return CF_EINVAL;
	}
	if (rlen == 0 || rlen == n || rlen >= cap || n - rlen - 1 == 0 || n - rlen - 1 > 19)
		return CF_EINVAL;
	for (i = rlen + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return CF_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0)
		return CF_EINVAL;
	memcpy(region, s, rlen);
	region[rlen] = '\0';
	*id = v;
	return 0;
}

int net_tls_cert_identity(X509 *cert, char *region, size_t cap, uint64_t *node_id)
{
	GENERAL_NAMES *sans;
	int found = 0, rv = CF_ENOTFOUND;

	if (cert == NULL || cap == 0)
		return CF_ENOTFOUND;
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		char r[128];
		uint64_t id;
		int pr;

		if (g->type != GEN_URI)
			continue;
		pr = parse_identity((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
				    (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier), r,
				    sizeof(r), &id);
		if (pr == CF_ENOTFOUND)
			continue;
		if (pr != 0 || ++found > 1 || strlen(r) >= cap) {
			rv = CF_EINVAL; /* malformed or ambiguous: no identity */
			break;
		}
		snprintf(region, cap, "%s", r);
		*node_id = id;
		rv = 0;
	}
	GENERAL_NAMES_free(sans);
	if (rv != 0)
		region[0] = '\0';
	return rv;
}

int net_tls_file_identity(const char *cert_file, char *region, size_t cap, uint64_t *node_id,
			  char *errmsg)
{
	FILE *f = fopen(cert_file, "r");
	X509 *x;
	int rv;

	if (f == NULL) {
		snprintf(errmsg, ERRLEN, "opening '%.200s': %s", cert_file, strerror(errno));
		return CF_EIO;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		tls_err(errmsg, "reading certificate", cert_file);
		return CF_ECRYPTO;
	}
	rv = net_tls_cert_identity(x, region, cap, node_id);
	X509_free(x);
	if (rv == CF_EINVAL)
		snprintf(errmsg, ERRLEN, "certificate '%.200s': malformed or several coffer:// URIs",
			 cert_file);
	else if (rv == CF_ENOTFOUND)
		snprintf(errmsg, ERRLEN, "certificate '%.200s' names no coffer://REGION/NODE URI",
			 cert_file);
	return rv;
}
