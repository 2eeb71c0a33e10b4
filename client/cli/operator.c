/*
 * coffer operator tls-init: a deployment CA and node certificates (see
 * operator.h). Happy path: parse, create D (0700), load or make the CA,
 * then per region and node load-or-issue. Every file is written to a
 * temporary name (keys created 0600 with O_EXCL, never wider) and renamed
 * into place. Failures print a message naming the file and exit 1; usage
 * errors exit 252.
 */
#include "operator.h"

#include <errno.h>
#include <fcntl.h>
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

#include "cli.h"

#define OP_PATH_MAX 4096
#define OP_MAX_NODES 9
#define TEN_YEARS_S (10L * 365 * 24 * 3600 + 3 * 24 * 3600)

static int op_usage(const char *msg)
{
	fprintf(stderr, "usage: coffer operator tls-init --dir D --regions R[,R...] --nodes N "
			"[--force]\ncoffer: error: %s\n", msg);
	return CLI_EXIT_USAGE;
}

static int op_fail(const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	char reason[200] = "";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof reason);
	else if (errno != 0)
		snprintf(reason, sizeof reason, "%s", strerror(errno));
	fprintf(stderr, "coffer: error: %s '%s'%s%s\n", what, path, reason[0] ? ": " : "",
		reason);
	ERR_clear_error();
	return 1;
}

static int region_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = r[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int mkdir_700(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return chmod(path, 0700);
}

/* Write a key (0600) or certificate (0644) to path through a temporary. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	char tmp[OP_PATH_MAX + 16];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, key != NULL ? 0600 : 0644);
	if (fd < 0)
		return -1;
	if (fchmod(fd, key != NULL ? 0600 : 0644) != 0) { /* not narrowed by the umask */
		close(fd);
		unlink(tmp);
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key, signed by ca_key (ca NULL: self-signed CA). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key,
		       const char *san)
{
	unsigned char serial[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	X509_NAME *name;
	int ok = 0;

	if (x == NULL || RAND_bytes(serial, sizeof serial) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	name = X509_get_subject_name(x);
	ok = bn != NULL && X509_set_version(x, X509_VERSION_3) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(x), TEN_YEARS_S) != NULL &&
	     X509_set_pubkey(x, key) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) &&
	     X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : name);
	if (ok && ca == NULL)
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
		     add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		     add_ext(x, x, NID_subject_key_identifier, "hash");
	else if (ok)
		ok = add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, ca, NID_key_usage, "critical,digitalSignature") &&
		     add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") &&
		     add_ext(x, ca, NID_subject_key_identifier, "hash") &&
		     add_ext(x, ca, NID_authority_key_identifier, "keyid") &&
		     add_ext(x, ca, NID_subject_alt_name, san);
	ok = ok && X509_sign(x, ca_key != NULL ? ca_key : key, EVP_sha256()) > 0;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* Issue (or keep) key.pem + cert.pem in dir for coffer://region/id. */
static int issue_node(const char *dir, const char *region, unsigned id, X509 *ca,
		      EVP_PKEY *ca_key, int force)
{
	char key_path[OP_PATH_MAX], cert_path[OP_PATH_MAX], san[256], cn[128];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rv = 1;

	snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
	snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
	if (!force && access(key_path, F_OK) == 0) {
		printf("kept     %s (exists; --force replaces it)\n", key_path);
		return 0;
	}
	if (mkdir_700(dir) != 0)
		return op_fail("cannot create", dir);
	snprintf(san, sizeof san, "URI:coffer://%s/%u,IP:127.0.0.1,IP:::1,DNS:localhost", region,
		 id);
	snprintf(cn, sizeof cn, "coffer %s node %u", region, id);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL) {
		op_fail("generating a key for", key_path);
		goto out;
	}
	cert = make_cert(key, cn, ca, ca_key, san);
	if (cert == NULL) {
		op_fail("issuing", cert_path);
		goto out;
	}
	if (write_pem(key_path, key, NULL) != 0) {
		op_fail("writing", key_path);
		goto out;
	}
	if (write_pem(cert_path, NULL, cert) != 0) {
		op_fail("writing", cert_path);
		goto out;
	}
	printf("created  %s (coffer://%s/%u)\ncreated  %s\n", cert_path, region, id, key_path);
	rv = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rv;
}

/* Load D/ca.{pem,key} or create them. */
static int ca_open(const char *dir, int force, X509 **ca, EVP_PKEY **ca_key)
{
	char key_path[OP_PATH_MAX], cert_path[OP_PATH_MAX];

	snprintf(key_path, sizeof key_path, "%s/ca.key", dir);
	snprintf(cert_path, sizeof cert_path, "%s/ca.pem", dir);
	if (!force && access(key_path, F_OK) == 0) {
		*ca_key = read_key(key_path);
		*ca = read_cert(cert_path);
		if (*ca_key == NULL || *ca == NULL)
			return op_fail("cannot read the existing CA", *ca_key ? cert_path : key_path);
		if (X509_check_private_key(*ca, *ca_key) != 1)
			return op_fail("CA key does not match", cert_path);
		printf("kept     %s (exists; --force replaces it)\n", key_path);
		return 0;
	}
	*ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (*ca_key == NULL)
		return op_fail("generating a key for", key_path);
	*ca = make_cert(*ca_key, "coffer deployment CA", NULL, NULL, NULL);
	if (*ca == NULL)
		return op_fail("making", cert_path);
	if (write_pem(key_path, *ca_key, NULL) != 0)
		return op_fail("writing", key_path);
	if (write_pem(cert_path, NULL, *ca) != 0)
		return op_fail("writing", cert_path);
	printf("created  %s (deployment CA, 10 years)\ncreated  %s\n", cert_path, key_path);
	return 0;
}

static int tls_init(int argc, char **argv)
{
	const char *dir = NULL, *regions = NULL;
	char list[1024], path[OP_PATH_MAX], *save = NULL, *r;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	long nodes = 0;
	int force = 0, rv = 1;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			force = 1;
		} else if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
			dir = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--regions") == 0) {
			regions = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--nodes") == 0) {
			char *end;
			nodes = strtol(argv[++i], &end, 10);
			if (*end != '\0')
				nodes = 0;
		} else {
			snprintf(list, sizeof list, "unrecognized argument '%.200s'", argv[i]);
			return op_usage(list);
		}
	}
	if (dir == NULL || regions == NULL || nodes == 0)
		return op_usage("--dir, --regions and --nodes are required");
	if (nodes < 1 || nodes > OP_MAX_NODES)
		return op_usage("--nodes must be 1..9");
	if (strlen(regions) >= sizeof list || strlen(dir) > OP_PATH_MAX - 128)
		return op_usage("argument too long");
	snprintf(list, sizeof list, "%s", regions);
	for (r = strtok_r(list, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save))
		if (!region_ok(r))
			return op_usage("a region name is 1-63 of [A-Za-z0-9._-]");
	umask(077);
	if (mkdir_700(dir) != 0)
		return op_fail("cannot create", dir);
	if (ca_open(dir, force, &ca, &ca_key) != 0)
		goto out;
	snprintf(list, sizeof list, "%s", regions);
	for (r = strtok_r(list, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save)) {
		snprintf(path, sizeof path, "%s/%s", dir, r);
		if (mkdir_700(path) != 0) {
			op_fail("cannot create", path);
			goto out;
		}
		for (long i = 1; i <= nodes; i++) {
			char nd[OP_PATH_MAX + 16];

			snprintf(nd, sizeof nd, "%s/n%ld", path, i);
			if (issue_node(nd, r, (unsigned)i, ca, ca_key, force) != 0)
				goto out;
		}
	}
	rv = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rv;
}

int cmd_operator(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "tls-init") == 0)
		return tls_init(argc - 2, argv + 2);
	return op_usage("unknown operator command (try 'tls-init')");
}
