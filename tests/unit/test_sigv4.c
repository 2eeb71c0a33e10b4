/*
 * Unit tests for aws/sigv4 and auth_sigv4_key.
 *
 * Expected signatures are AWS's published aws-sig-v4-test-suite values
 * (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service"); each was
 * also recomputed with an independent Python hashlib/hmac implementation.
 * The Secrets Manager requests were signed by botocore 1.43's own SigV4Auth
 * with the clock pinned to 20150830T123600Z (botocore-shaped and JS-SDK-
 * shaped header sets), not by this code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "aws/sigv4.h"
#include "crypto/crypto.h"
#include "util/errors.h"
#include "util/secmem.h"

#define NOW        ((time_t)1440938160) /* 20150830T123600Z */
#define AKID       "AKIDEXAMPLE"
#define SECRET     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_CRED \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
#define MISMATCH                                                                          \
	"The request signature we calculated does not match the signature you provided. " \
	"Check your AWS Secret Access Key and signing method. Consult the service "       \
	"documentation for details."

/* ---- request building ---- */

struct req {
	struct sigv4_header h[SIGV4_MAX_HEADERS + 2];
	size_t n;
	struct sigv4_request r;
	char auth[1024];
};

static void add(struct req *q, const char *name, const char *value)
{
	q->h[q->n].name = name;
	q->h[q->n].name_len = strlen(name);
	q->h[q->n].value = value;
	q->h[q->n].value_len = strlen(value);
	q->n++;
	q->r.headers = q->h;
	q->r.n_headers = q->n;
}

static void set(struct req *q, const char *name, const char *value)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcasecmp(q->h[i].name, name) == 0) {
			q->h[i].value = value;
			q->h[i].value_len = strlen(value);
			return;
		}
	fail_msg("no header '%s' to set", name);
}

static void drop(struct req *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcasecmp(q->h[i].name, name) == 0) {
			memmove(&q->h[i], &q->h[i + 1], (q->n - i - 1) * sizeof(q->h[0]));
			q->n--;
			q->r.n_headers = q->n;
			return;
		}
	fail_msg("no header '%s' to drop", name);
}

static void init(struct req *q, const char *method, const char *path, const char *query,
                 const char *body)
{
	memset(q, 0, sizeof(*q));
	q->r.method = method;
	q->r.path = path;
	q->r.path_len = strlen(path);
	q->r.query = query;
	q->r.query_len = strlen(query);
	q->r.body = (const uint8_t *)body;
	q->r.body_len = strlen(body);
	q->r.headers = q->h;
}

/* A suite request: Host + X-Amz-Date, the suite's Authorization. */
static void suite(struct req *q, const char *method, const char *path, const char *query,
                  const char *signed_headers, const char *sig)
{
	init(q, method, path, query, "");
	add(q, "Host", "example.amazonaws.com");
	add(q, "X-Amz-Date", "20150830T123600Z");
	snprintf(q->auth, sizeof(q->auth), SUITE_CRED "SignedHeaders=%s, Signature=%s",
	         signed_headers, sig);
	add(q, "Authorization", q->auth);
}

/* ---- callbacks: an independent key derivation for the example key ---- */

struct keys {
	const char *akid, *secret;
	unsigned calls, unknown;
	uint8_t dummy[32];
};

static void derive(const char *secret, const char *day, const char *region, const char *service,
                   uint8_t out[32])
{
	char seed[128];
	uint8_t k[32];

	snprintf(seed, sizeof(seed), "AWS4%s", secret);
	assert_int_equal(crypto_hmac_sha256(seed, strlen(seed), day, strlen(day), k), 0);
	assert_int_equal(crypto_hmac_sha256(k, 32, region, strlen(region), k), 0);
	assert_int_equal(crypto_hmac_sha256(k, 32, service, strlen(service), k), 0);
	assert_int_equal(crypto_hmac_sha256(k, 32, "aws4_request", 12, out), 0);
}

static int key_cb(void *data, const char *akid, const char *day, const char *region,
                  const char *service, uint8_t key_out[32])
{
	struct keys *k = data;

	k->calls++;
	if (strcmp(akid, k->akid) != 0) {
		k->unknown++;
		memcpy(key_out, k->dummy, 32);
		return CF_ENOTFOUND;
	}
	derive(k->secret, day, region, service, key_out);
	return 0;
}

static int region_cb(void *data, const char *region)
{
	(void)data;
	return strcmp(region, "us-east-1") == 0 || strcmp(region, "eu-west-1") == 0;
}

static struct keys example_keys(void)
{
	struct keys k = {.akid = AKID, .secret = SECRET};

	memset(k.dummy, 0x5a, sizeof(k.dummy));
	return k;
}

static int verify_at(struct req *q, const char *service, time_t now, struct keys *k,
                     struct sigv4_identity *who, struct cf_status *st)
{
	return sigv4_verify(&q->r, service, now, region_cb, key_cb, k, who, st);
}

static void expect_ok(struct req *q, const char *service)
{
	struct keys k = example_keys();
	struct sigv4_identity who;
	struct cf_status st;

	if (verify_at(q, service, NOW, &k, &who, &st) != 0)
		fail_msg("%s: %s", st.type, st.message);
	assert_true(cf_status_ok(&st));
	assert_string_equal(who.date, "20150830T123600Z");
}

static void expect_err(struct req *q, const char *service, time_t now, const char *type,
                       const char *message)
{
	struct keys k = example_keys();
	struct sigv4_identity who;
	struct cf_status st;

	assert_int_equal(verify_at(q, service, now, &k, &who, &st), -1);
	assert_string_equal(st.type, type);
	if (message != NULL)
		assert_string_equal(st.message, message);
}

/* ---- AWS test-suite vectors ---- */

static void test_suite_vectors(void **state)
{
	static const struct {
		const char *name, *method, *path, *query, *sig;
	} plain[] = {
	    {"get-vanilla", "GET", "/", "",
	     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	    {"post-vanilla", "POST", "/", "",
	     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	    {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1",
	     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	    {"get-slashes", "GET", "//example//", "",
	     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
	    {"get-unreserved", "GET",
	     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "",
	     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
	    /* raw bytes in the path, as the suite's request lines have them */
	    {"get-space", "GET", "/example space/", "",
	     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
	    {"get-utf8", "GET", "/\xe1\x88\xb4", "",
	     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
	};
	struct req q;

	(void)state;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		suite(&q, plain[i].method, plain[i].path, plain[i].query, "host;x-amz-date",
		      plain[i].sig);
		print_message("   %s\n", plain[i].name);
		expect_ok(&q, "service");
	}
}

static void test_suite_post_x_www_form_urlencoded(void **state)
{
	struct req q;

	(void)state;
	suite(&q, "POST", "/", "", "content-type;host;x-amz-date",
	      "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
	q.r.body = (const uint8_t *)"Param1=value1";
	q.r.body_len = 13;
	add(&q, "Content-Type", "application/x-www-form-urlencoded");
	expect_ok(&q, "service");
	q.r.body_len = 12; /* the body is covered */
	expect_err(&q, "service", NOW, "InvalidSignatureException", MISMATCH);
}

static void test_suite_header_value_trim(void **state)
{
	struct req q;
	char *c;
	size_t n;

	(void)state;
	suite(&q, "GET", "/", "", "host;my-header1;my-header2;x-amz-date",
	      "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
	add(&q, "My-Header1", " value1");
	add(&q, "My-Header2", " \"a   b   c\"");
	expect_ok(&q, "service");
	assert_int_equal(sigv4_canonical_request(&q.r, "host;my-header1;my-header2;x-amz-date",
	                                         EMPTY_HASH, &c, &n),
	                 0);
	assert_string_equal(c, "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
	                       "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
	                       "host;my-header1;my-header2;x-amz-date\n" EMPTY_HASH);
	assert_int_equal(n, strlen(c));
	free(c);
}

static void test_suite_header_key_duplicate(void **state)
{
	struct req q;

	(void)state;
	suite(&q, "GET", "/", "", "host;my-header1;x-amz-date",
	      "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
	add(&q, "My-Header1", "value2");
	add(&q, "My-Header1", "value2");
	add(&q, "My-Header1", "value1");
	expect_ok(&q, "service");
	set(&q, "My-Header1", "value1"); /* order of repeated values is signed */
	expect_err(&q, "service", NOW, "InvalidSignatureException", MISMATCH);
}

/*
 * get-header-value-multiline: the published canonical form is
 * "my-header1:value1,value2,value3", i.e. the continuation lines reach the
 * signer as repeated header lines, which is how the HTTP layer must hand
 * them over. A single value holding raw line breaks is whitespace-squeezed
 * instead (botocore's ' '.join(v.split()), JS's /\s+/ -> ' ').
 */
static void test_suite_header_value_multiline(void **state)
{
	struct req q;

	(void)state;
	suite(&q, "GET", "/", "", "host;my-header1;x-amz-date",
	      "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790");
	add(&q, "My-Header1", "value1");
	add(&q, "My-Header1", "  value2");
	add(&q, "My-Header1", "     value3");
	expect_ok(&q, "service");

	suite(&q, "GET", "/", "", "host;my-header1;x-amz-date",
	      "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd");
	add(&q, "My-Header1", "value1\r\n  value2\r\n     value3");
	expect_ok(&q, "service");
}

static void test_date_header_instead_of_x_amz_date(void **state)
{
	struct req q;

	(void)state;
	init(&q, "GET", "/", "", "");
	add(&q, "Date", "Sun, 30 Aug 2015 12:36:00 GMT");
	add(&q, "Host", "example.amazonaws.com");
	add(&q, "Authorization",
	    SUITE_CRED
	    "SignedHeaders=date;host, "
	    "Signature=1262aceaf1a79c7f0b69fda81cd744572fcbe2e4c23b647b4de183cd5a0f1075");
	expect_ok(&q, "service");
	set(&q, "Date", "Sun, 30 Aug 2015 12:36:01 GMT");
	expect_err(&q, "service", NOW, "InvalidSignatureException", MISMATCH);
	set(&q, "Date", "Sunday, 30-Aug-15 12:36:00 GMT");
	expect_err(&q, "service", NOW, "IncompleteSignatureException", NULL);
}

/* ---- canonical request pieces ---- */

static void expect_canonical(const char *path, const char *query, const char *want_uri,
                             const char *want_query)
{
	struct req q;
	char want[1024], *c;
	size_t n;

	init(&q, "GET", path, query, "");
	add(&q, "Host", "h");
	assert_int_equal(sigv4_canonical_request(&q.r, "host", EMPTY_HASH, &c, &n), 0);
	snprintf(want, sizeof(want), "GET\n%s\n%s\nhost:h\n\nhost\n" EMPTY_HASH, want_uri,
	         want_query);
	assert_string_equal(c, want);
	free(c);
}

static void test_canonical_uri_and_query(void **state)
{
	(void)state;
	expect_canonical("", "", "/", "");
	expect_canonical("/", "", "/", "");
	expect_canonical("//example//", "", "/example/", "");
	expect_canonical("/a/../b/./c/", "", "/b/c/", "");
	expect_canonical("/..", "", "/", "");
	expect_canonical("/a%2Fb", "", "/a%252Fb", "");     /* non-S3 double encoding */
	expect_canonical("/a%20b/c", "", "/a%2520b/c", ""); /* what botocore sends for "a b" */
	expect_canonical("/", "Param2=value2&Param1=value1", "/", "Param1=value1&Param2=value2");
	expect_canonical("/", "Param1=value2&Param1=value1", "/", "Param1=value1&Param1=value2");
	expect_canonical("/", "a=10&a=1&a=", "/", "a=&a=1&a=10"); /* a prefix sorts first */
	expect_canonical("/", "ab=1&a=2", "/", "a=2&ab=1");
	expect_canonical("/", "b&a=1", "/", "a=1&b=");
	expect_canonical("/", "q=a+b", "/", "q=a%2Bb");
	expect_canonical("/", "q=a%20b&&", "/", "q=a%20b");
	expect_canonical("/", "x=a.b&x=a%2fb", "/", "x=a%2Fb&x=a.b");
	expect_canonical("/", "a=1=2&z=%zz", "/", "a=1%3D2&z=%25zz");
	expect_canonical("/", "%41%7e=~", "/", "A~=~");
}

static void test_canonical_rejects(void **state)
{
	struct req q;
	char *c = (char *)"untouched";
	size_t n;

	(void)state;
	init(&q, "GET", "/", "", "");
	add(&q, "Host", "h");
	assert_int_equal(sigv4_canonical_request(&q.r, "host;x-absent", EMPTY_HASH, &c, &n),
	                 CF_EINVAL);
	assert_null(c);
	assert_int_equal(sigv4_canonical_request(&q.r, "host;;", EMPTY_HASH, &c, &n), CF_EINVAL);
	assert_int_equal(sigv4_canonical_request(&q.r, "Host", EMPTY_HASH, &c, &n), CF_EINVAL);
	assert_int_equal(sigv4_canonical_request(&q.r, "host;host", EMPTY_HASH, &c, &n), CF_EINVAL);
	assert_int_equal(sigv4_canonical_request(&q.r, "", EMPTY_HASH, &c, &n), CF_EINVAL);
	assert_int_equal(sigv4_canonical_request(&q.r, "host", "a\nb", &c, &n), CF_EINVAL);
	q.r.n_headers = SIGV4_MAX_HEADERS + 1;
	assert_int_equal(sigv4_canonical_request(&q.r, "host", EMPTY_HASH, &c, &n), CF_EINVAL);
	q.r.n_headers = 1;
	q.h[0].value_len = 8193;
	assert_int_equal(sigv4_canonical_request(&q.r, "host", EMPTY_HASH, &c, &n), CF_EINVAL);
}

/* ---- Secrets Manager requests signed by botocore ---- */

#define BOTO_BODY "{\"SecretId\": \"prod/db\"}"
#define BOTO_SIG  "aba3db27ae188b5c4c69f0142e65a5a4d142473bb60a18abfce2ee2e0c839705"

static void botocore_request(struct req *q)
{
	init(q, "POST", "/", "", BOTO_BODY);
	add(q, "Host", "localhost:4566");
	add(q, "Accept-Encoding", "identity");
	add(q, "Content-Type", "application/x-amz-json-1.1");
	add(q, "X-Amz-Target", "secretsmanager.GetSecretValue");
	add(q, "User-Agent", "Boto3/1.34 md/Botocore#1.34");
	add(q, "X-Amz-Date", "20150830T123600Z");
	add(q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/"
	    "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	    "Signature=" BOTO_SIG);
	add(q, "Content-Length", "23");
}

static void test_botocore_request(void **state)
{
	struct keys k = example_keys();
	struct sigv4_identity who;
	struct cf_status st;
	struct req q;

	(void)state;
	botocore_request(&q);
	assert_int_equal(verify_at(&q, "secretsmanager", NOW, &k, &who, &st), 0);
	assert_string_equal(who.access_key_id, AKID);
	assert_string_equal(who.region, "us-east-1");
	assert_string_equal(who.date, "20150830T123600Z");
	assert_int_equal(k.calls, 1);

	/* unsigned headers may change or appear */
	set(&q, "User-Agent", "something/else");
	add(&q, "Expect", "100-continue");
	add(&q, "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793");
	expect_ok(&q, "secretsmanager");
	drop(&q, "Accept-Encoding");
	expect_ok(&q, "secretsmanager");

	/* any change to what is signed is a mismatch */
	botocore_request(&q);
	q.r.body = (const uint8_t *)"{\"SecretId\": \"prod/dB\"}";
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	set(&q, "X-Amz-Target", "secretsmanager.DeleteSecret");
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	set(&q, "Content-Type", "application/json");
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	set(&q, "Host", "localhost:4567");
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	add(&q, "X-Amz-Target", "secretsmanager.GetSecretValue"); /* a repeat is signed too */
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	q.r.query = "x=1";
	q.r.query_len = 3;
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	q.r.path = "/x";
	q.r.path_len = 2;
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
	botocore_request(&q);
	q.r.method = "PUT";
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);
}

static void test_authorization_spacing_tolerated(void **state)
{
	static const char *forms[] = {
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/"
	    "aws4_request,SignedHeaders=content-type;host;x-amz-date;x-amz-target,"
	    "Signature=" BOTO_SIG,
	    "  AWS4-HMAC-SHA256   Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/"
	    "aws4_request ,  SignedHeaders=content-type;host;x-amz-date;x-amz-target , "
	    "Signature=" BOTO_SIG "  ",
	    "AWS4-HMAC-SHA256 Signature=" BOTO_SIG ", Credential=AKIDEXAMPLE/20150830/"
	    "us-east-1/secretsmanager/aws4_request, "
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-target",
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/"
	    "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	    "Signature=ABA3DB27AE188B5C4C69F0142E65A5A4D142473BB60A18ABFCE2EE2E0C839705",
	};
	struct req q;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		botocore_request(&q);
		set(&q, "authorization", forms[i]);
		expect_ok(&q, "secretsmanager");
	}
}

#define JS_BODY                                              \
	"{\"Name\":\"app/key\",\"SecretString\":\"s3cr3t\"," \
	"\"ClientRequestToken\":\"0b7e6a86-51a2-4e9f-bc7c-3f3d4a2b1c10\"}"
#define JS_HASH "10237acc7e943ffc24b8a789244ae98c1e231d36fec5e6a393c7421fdbe3fcec"

static void js_request(struct req *q)
{
	init(q, "POST", "/", "", JS_BODY);
	add(q, "host", "localhost:4566");
	add(q, "content-type", "application/x-amz-json-1.1");
	add(q, "x-amz-target", "secretsmanager.CreateSecret");
	add(q, "x-amz-content-sha256", JS_HASH);
	add(q, "amz-sdk-invocation-id", "5d3f0c1e-9a8b-4c7d-8e6f-1a2b3c4d5e6f");
	add(q, "amz-sdk-request", "attempt=1; max=3");
	add(q, "x-amz-user-agent", "aws-sdk-js/3.600.0");
	add(q, "user-agent", "aws-sdk-js/3.600.0 ua/2.1 os/linux");
	add(q, "x-amz-date", "20150830T123600Z");
	add(q, "authorization",
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/secretsmanager/"
	    "aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-type;"
	    "host;x-amz-content-sha256;x-amz-date;x-amz-target;x-amz-user-agent, "
	    "Signature=8a1fbbc3984c7ab5492df7b76c90dfd3d6a06e008b73ff7e6bd8db0d7e197ffb");
}

static void test_js_sdk_request(void **state)
{
	struct keys k = example_keys();
	struct sigv4_identity who;
	struct cf_status st;
	struct req q;

	(void)state;
	js_request(&q);
	assert_int_equal(verify_at(&q, "secretsmanager", NOW, &k, &who, &st), 0);
	assert_string_equal(who.region, "eu-west-1");

	set(&q, "user-agent", "curl/8"); /* unsigned */
	expect_ok(&q, "secretsmanager");

	js_request(&q);
	set(&q, "amz-sdk-invocation-id", "5d3f0c1e-9a8b-4c7d-8e6f-1a2b3c4d5e60");
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);

	/* a changed body no longer matches the header's hash */
	js_request(&q);
	q.r.body_len--;
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException",
	           "The provided 'x-amz-content-sha256' header does not match what was computed.");
	/* body and header changed together: the header is signed */
	js_request(&q);
	q.r.body = (const uint8_t *)"{}";
	q.r.body_len = 2;
	set(&q, "x-amz-content-sha256",
	    "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException", MISMATCH);

	js_request(&q);
	set(&q, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
	expect_err(&q, "secretsmanager", NOW, "InvalidSignatureException",
	           "UNSIGNED-PAYLOAD is not accepted by this service; the payload must be signed");
}

/* ---- every rejection path ---- */

static void expect_auth_err(const char *authorization, const char *type, const char *message)
{
	struct req q;

	botocore_request(&q);
	set(&q, "Authorization", authorization);
	expect_err(&q, "secretsmanager", NOW, type, message);
}

#define SCOPE_OK "Credential=AKIDEXAMPLE/20150830/us-east-1/secretsmanager/aws4_request"
#define SH_OK    "SignedHeaders=content-type;host;x-amz-date;x-amz-target"

static void test_rejects_authorization(void **state)
{
	struct req q;

	(void)state;
	botocore_request(&q);
	drop(&q, "Authorization");
	expect_err(&q, "secretsmanager", NOW, "MissingAuthenticationTokenException",
	           "Missing Authentication Token");
	botocore_request(&q);
	add(&q, "authorization", q.h[6].value);
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException",
	           "Request has more than one Authorization header");

	expect_auth_err("AWS4-HMAC-SHA1 " SCOPE_OK ", " SH_OK ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException",
	                "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'; only 'AWS4-HMAC-SHA256' "
	                "is accepted");
	expect_auth_err("Bearer abc", "IncompleteSignatureException", NULL);
	expect_auth_err("AWS4-HMAC-SHA256", "IncompleteSignatureException",
	                "Authorization header requires 'Credential' parameter. Authorization "
	                "header requires 'Signature' parameter. Authorization header requires "
	                "'SignedHeaders' parameter. ");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK, "IncompleteSignatureException",
	                "Authorization header requires 'Signature' parameter. ");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException",
	                "Authorization header requires 'SignedHeaders' parameter. ");
	expect_auth_err("AWS4-HMAC-SHA256 " SH_OK ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException",
	                "Authorization header requires 'Credential' parameter. ");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK ", Signature=" BOTO_SIG
	                ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException", "Authorization header repeats 'Signature'");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK ", Signature=" BOTO_SIG ", X=1",
	                "IncompleteSignatureException",
	                "Authorization header has an unknown component 'X'");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK ", Signature=" BOTO_SIG " junk",
	                "IncompleteSignatureException",
	                "Authorization header component 'junk' must be key=value");
	expect_auth_err(
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, " SH_OK
	    ", Signature=" BOTO_SIG,
	    "IncompleteSignatureException",
	    "Credential must have exactly 5 slash-delimited elements, e.g. "
	    "keyid/date/region/service/term, got "
	    "'AKIDEXAMPLE/20150830/us-east-1/aws4_request'");
	expect_auth_err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
	                "secretsmanager/aws4_request/x, " SH_OK ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException", NULL);
	expect_auth_err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
	                "secretsmanager/aws5_request, " SH_OK ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException",
	                "Credential should be scoped with a valid terminator: 'aws4_request', not "
	                "'aws5_request'. ");
	expect_auth_err("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/secretsmanager/"
	                "aws4_request, " SH_OK ", Signature=" BOTO_SIG,
	                "IncompleteSignatureException", NULL);
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK ", Signature=" BOTO_SIG "0",
	                "IncompleteSignatureException",
	                "Signature must be 64 hexadecimal characters");
	expect_auth_err(
	    "AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK
	    ", Signature=zba3db27ae188b5c4c69f0142e65a5a4d142473bb60a18abfce2ee2e0c839705",
	    "IncompleteSignatureException", "Signature must be 64 hexadecimal characters");
	/* a well-formed but wrong signature */
	expect_auth_err(
	    "AWS4-HMAC-SHA256 " SCOPE_OK ", " SH_OK
	    ", Signature=0ba3db27ae188b5c4c69f0142e65a5a4d142473bb60a18abfce2ee2e0c839705",
	    "InvalidSignatureException", MISMATCH);
}

static void test_rejects_signed_headers(void **state)
{
	struct req q;

	(void)state;
	expect_auth_err(
	    "AWS4-HMAC-SHA256 " SCOPE_OK
	    ", SignedHeaders=content-type;x-amz-date;x-amz-target, Signature=" BOTO_SIG,
	    "IncompleteSignatureException",
	    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK
	                ", SignedHeaders=content-type;host;x-amz-target, Signature=" BOTO_SIG,
	                "IncompleteSignatureException",
	                "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
	expect_auth_err(
	    "AWS4-HMAC-SHA256 " SCOPE_OK
	    ", SignedHeaders=content-type;host;x-absent;x-amz-date, Signature=" BOTO_SIG,
	    "IncompleteSignatureException",
	    "Signed header 'x-absent' is not present in the request");
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK
	                ", SignedHeaders=Content-Type;host;x-amz-date, Signature=" BOTO_SIG,
	                "IncompleteSignatureException", NULL);
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK
	                ", SignedHeaders=host;host;x-amz-date, Signature=" BOTO_SIG,
	                "IncompleteSignatureException", NULL);
	expect_auth_err("AWS4-HMAC-SHA256 " SCOPE_OK
	                ", SignedHeaders=host;;x-amz-date, Signature=" BOTO_SIG,
	                "IncompleteSignatureException", NULL);

	botocore_request(&q);
	drop(&q, "X-Amz-Date");
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException",
	           "Authorization header requires existence of either a 'X-Amz-Date' or a "
	           "'Date' header.");
	botocore_request(&q);
	set(&q, "X-Amz-Date", "2015-08-30T12:36:00Z");
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException",
	           "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See "
	           "http://en.wikipedia.org/wiki/ISO_8601");
	botocore_request(&q);
	set(&q, "X-Amz-Date", "20150231T123600Z");
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException", NULL);
	botocore_request(&q);
	add(&q, "X-Amz-Date", "20150830T123600Z");
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException", NULL);
}

static void test_rejects_scope(void **state)
{
	(void)state;
	expect_auth_err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/"
	                "aws4_request, " SH_OK ", Signature=" BOTO_SIG,
	                "InvalidSignatureException",
	                "Credential should be scoped to correct service: 'secretsmanager'.");
	expect_auth_err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/mars-north-1/"
	                "secretsmanager/aws4_request, " SH_OK ", Signature=" BOTO_SIG,
	                "InvalidSignatureException",
	                "Credential should be scoped to a valid region, not 'mars-north-1'. ");
	expect_auth_err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/"
	                "secretsmanager/aws4_request, " SH_OK ", Signature=" BOTO_SIG,
	                "InvalidSignatureException",
	                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
	                "date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
	expect_auth_err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/"
	                "secretsmanager/aws4_request, " SH_OK ", Signature=" BOTO_SIG,
	                "InvalidSignatureException", NULL);
}

static void test_rejects_skew(void **state)
{
	struct req q;

	(void)state;
	botocore_request(&q);
	expect_err(&q, "secretsmanager", NOW + 301, "InvalidSignatureException",
	           "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
	           "(20150830T124101Z - 5 min.)");
	expect_err(&q, "secretsmanager", NOW - 301, "InvalidSignatureException",
	           "Signature not yet current: 20150830T123600Z is still later than "
	           "20150830T123559Z (20150830T123059Z + 5 min.)");
	{
		struct keys k = example_keys();
		struct cf_status st;

		assert_int_equal(verify_at(&q, "secretsmanager", NOW + 300, &k, NULL, &st), 0);
		assert_int_equal(verify_at(&q, "secretsmanager", NOW - 300, &k, NULL, &st), 0);
	}
}

static void test_rejects_unknown_key_after_same_work(void **state)
{
	struct keys k = example_keys();
	struct cf_status st;
	struct req q;

	(void)state;
	botocore_request(&q);
	set(&q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN0/20150830/us-east-1/secretsmanager/"
	    "aws4_request, " SH_OK ", Signature=" BOTO_SIG);
	assert_int_equal(verify_at(&q, "secretsmanager", NOW, &k, NULL, &st), -1);
	assert_string_equal(st.type, "UnrecognizedClientException");
	assert_string_equal(st.message, "The security token included in the request is invalid.");
	assert_int_equal(k.calls, 1); /* reached the key, then the HMAC */
	assert_int_equal(k.unknown, 1);

	/* a session token is never valid here, even with a good signature */
	botocore_request(&q);
	add(&q, "X-Amz-Security-Token", "FQoGZXIvYXdzE...");
	expect_err(&q, "secretsmanager", NOW, "UnrecognizedClientException",
	           "The security token included in the request is invalid.");
}

static void test_rejects_oversized(void **state)
{
	static char big[8200];
	struct req q;

	(void)state;
	botocore_request(&q);
	while (q.n < SIGV4_MAX_HEADERS)
		add(&q, "X-Filler", "1");
	expect_ok(&q, "secretsmanager");
	add(&q, "X-Filler", "1");
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException", NULL);

	memset(big, 'a', sizeof(big) - 1);
	botocore_request(&q);
	add(&q, "X-Big", big);
	expect_err(&q, "secretsmanager", NOW, "IncompleteSignatureException", NULL);
	big[8192] = '\0'; /* exactly the cap is fine */
	botocore_request(&q);
	add(&q, "X-Big", big);
	expect_ok(&q, "secretsmanager");
}

/* ---- auth_sigv4_key ---- */

#define AWS_DOC_AKID   "AKIAIOSFODNN7EXAMPLE"
#define AWS_DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

struct afix {
	char dir[64], path[128];
	struct auth *a;
};

static int auth_setup(void **state)
{
	struct afix *f = calloc(1, sizeof(*f));
	char err[256];
	FILE *fp;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-test-sigv4-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/credentials", f->dir);
	if ((fp = fopen(f->path, "w")) == NULL)
		return -1;
	fprintf(fp, "%s %s\n", AWS_DOC_AKID, AWS_DOC_SECRET);
	fclose(fp);
	chmod(f->path, 0600);
	if (auth_open(f->path, 0, "us-east-1", &f->a, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int auth_teardown(void **state)
{
	struct afix *f = *state;

	auth_free(f->a);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_auth_sigv4_key(void **state)
{
	struct afix *f = *state;
	uint8_t k1[32], k2[32], want[32], d1[32], d2[32];
	char hex[65];

	assert_int_equal(
	    auth_sigv4_key(f->a, AWS_DOC_AKID, "20150830", "us-east-1", "secretsmanager", k1), 0);
	crypto_hex(k1, 32, hex); /* kSigning computed by Python hashlib/hmac */
	assert_string_equal(hex,
	                    "b7b558ce3faed60ec93bc555beb89492db9a094101f3462be9ec3fba059b8c35");
	derive(AWS_DOC_SECRET, "20150830", "us-east-1", "secretsmanager", want);
	assert_memory_equal(k1, want, 32);

	/* every part of the cache key matters; a hit returns the same key */
	for (int round = 0; round < 3; round++) {
		assert_int_equal(auth_sigv4_key(f->a, AWS_DOC_AKID, "20150831", "us-east-1",
		                                "secretsmanager", k2),
		                 0);
		assert_memory_not_equal(k1, k2, 32);
		assert_int_equal(auth_sigv4_key(f->a, AWS_DOC_AKID, "20150830", "eu-west-1",
		                                "secretsmanager", k2),
		                 0);
		assert_memory_not_equal(k1, k2, 32);
		assert_int_equal(
		    auth_sigv4_key(f->a, AWS_DOC_AKID, "20150830", "us-east-1", "kms", k2), 0);
		assert_memory_not_equal(k1, k2, 32);
		assert_int_equal(auth_sigv4_key(f->a, AWS_DOC_AKID, "20150830", "us-east-1",
		                                "secretsmanager", k2),
		                 0);
		assert_memory_equal(k1, k2, 32);
	}
	/* more distinct scopes than slots: evictions re-derive correctly */
	for (int d = 10; d < 30; d++) {
		char day[9];

		snprintf(day, sizeof(day), "201508%02d", d);
		assert_int_equal(
		    auth_sigv4_key(f->a, AWS_DOC_AKID, day, "us-east-1", "secretsmanager", k2), 0);
		derive(AWS_DOC_SECRET, day, "us-east-1", "secretsmanager", want);
		assert_memory_equal(k2, want, 32);
	}

	/* unknown key id: the dummy key, the same each time */
	memset(d1, 0, 32);
	assert_int_equal(auth_sigv4_key(f->a, "AKIANOTKNOWN0000000", "20150830", "us-east-1",
	                                "secretsmanager", d1),
	                 CF_ENOTFOUND);
	assert_int_equal(auth_sigv4_key(f->a, "AKIAIOSFODNN7EXAMPL", "20150830", "us-east-1",
	                                "secretsmanager", d2),
	                 CF_ENOTFOUND);
	assert_memory_equal(d1, d2, 32);
	memset(want, 0, 32);
	assert_memory_not_equal(d1, want, 32);
	assert_memory_not_equal(d1, k1, 32);

	assert_int_equal(
	    auth_sigv4_key(f->a, AWS_DOC_AKID, "2015083", "us-east-1", "secretsmanager", k2),
	    CF_EINVAL);
	assert_int_equal(
	    auth_sigv4_key(f->a, AWS_DOC_AKID, "2015083x", "us-east-1", "secretsmanager", k2),
	    CF_EINVAL);
	assert_int_equal(auth_sigv4_key(f->a, AWS_DOC_AKID, "20150830", "", "secretsmanager", k2),
	                 CF_EINVAL);
}

static int region_us_east_1(void *data, const char *region)
{
	(void)data;
	return strcmp(region, "us-east-1") == 0;
}

/* A botocore request signed with the AWS documentation key, verified with
 * the real credential store as the key callback. */
static void test_verify_with_auth(void **state)
{
	struct afix *f = *state;
	struct sigv4_identity who;
	struct cf_status st;
	struct req q;

	init(&q, "POST", "/", "", BOTO_BODY);
	add(&q, "Host", "secrets.example.internal:8443");
	add(&q, "Content-Type", "application/x-amz-json-1.1");
	add(&q, "X-Amz-Target", "secretsmanager.GetSecretValue");
	add(&q, "X-Amz-Date", "20150830T123600Z");
	add(&q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=" AWS_DOC_AKID "/20150830/us-east-1/secretsmanager/"
	    "aws4_request, " SH_OK ", "
	    "Signature=ed5b1ac34022d3a956aa41bafa928f7d8c6152479af14ed9241253ab553f45dd");
	for (int i = 0; i < 2; i++) { /* derive, then from the cache */
		assert_int_equal(sigv4_verify(&q.r, "secretsmanager", NOW, region_us_east_1,
		                              auth_sigv4_key, f->a, &who, &st),
		                 0);
		assert_string_equal(who.access_key_id, AWS_DOC_AKID);
	}
	set(&q, "Authorization",
	    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLF/20150830/us-east-1/secretsmanager/"
	    "aws4_request, " SH_OK ", "
	    "Signature=ed5b1ac34022d3a956aa41bafa928f7d8c6152479af14ed9241253ab553f45dd");
	assert_int_equal(sigv4_verify(&q.r, "secretsmanager", NOW, region_us_east_1, auth_sigv4_key,
	                              f->a, &who, &st),
	                 -1);
	assert_string_equal(st.type, "UnrecognizedClientException");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_suite_vectors),
	    cmocka_unit_test(test_suite_post_x_www_form_urlencoded),
	    cmocka_unit_test(test_suite_header_value_trim),
	    cmocka_unit_test(test_suite_header_key_duplicate),
	    cmocka_unit_test(test_suite_header_value_multiline),
	    cmocka_unit_test(test_date_header_instead_of_x_amz_date),
	    cmocka_unit_test(test_canonical_uri_and_query),
	    cmocka_unit_test(test_canonical_rejects),
	    cmocka_unit_test(test_botocore_request),
	    cmocka_unit_test(test_authorization_spacing_tolerated),
	    cmocka_unit_test(test_js_sdk_request),
	    cmocka_unit_test(test_rejects_authorization),
	    cmocka_unit_test(test_rejects_signed_headers),
	    cmocka_unit_test(test_rejects_scope),
	    cmocka_unit_test(test_rejects_skew),
	    cmocka_unit_test(test_rejects_unknown_key_after_same_work),
	    cmocka_unit_test(test_rejects_oversized),
	    cmocka_unit_test_setup_teardown(test_auth_sigv4_key, auth_setup, auth_teardown),
	    cmocka_unit_test_setup_teardown(test_verify_with_auth, auth_setup, auth_teardown),
	};

	secmem_init(1 << 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
