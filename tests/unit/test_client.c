/*
 * libcoffer and `coffer` offline: argument parsing -> request messages,
 * AWS-CLI-shaped JSON and text output, request envelopes (framing and
 * signature), endpoint lists and retry classification. No server needed.
 * The CLI's pure files are compiled in directly (they are not in an archive).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/cli/args.c"
#include "../../client/cli/output.c"
#include "../../client/cli/request.c"
#include "../../client/lib/internal.h"
#include "crypto/sign.h"

static char **mkargv(char *buf, size_t cap, const char *const *words, int n)
{
	static char *argv[32];
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++) {
		size_t l = strlen(words[i]) + 1;

		assert_true(off + l <= cap);
		memcpy(buf + off, words[i], l);
		argv[i] = buf + off;
		off += l;
	}
	return argv;
}

static int build(const char *const *words, int n, struct args *a, struct cli_req *r, char *err)
{
	static char buf[4096];
	char **argv = mkargv(buf, sizeof(buf), words, n);
	int rv = args_parse(n, argv, a);

	if (rv != 0) {
		snprintf(err, 256, "%s", a->err);
		return rv;
	}
	return cli_build_request(cli_cmd_find(a->pos[0]), a, r, err, 256);
}

static void test_create_secret_request(void **state)
{
	const char *w[] = {"create-secret",  "--name", "app/db", "--secret-string", "{\"pw\":\"x\"}",
			   "--description", "d", "--tags", "Key=env,Value=prod", "Key=team,Value=a",
			   "--region", "eu-west-1"};
	struct args a;
	struct cli_req r;
	char err[256];
	Coffer__CreateSecretRequest *m;
	uint8_t buf[1024];
	size_t n;

	(void)state;
	assert_int_equal(build(w, 12, &a, &r, err), 0);
	m = &r.u.create;
	assert_string_equal(m->name, "app/db");
	assert_string_equal(m->secret_string, "{\"pw\":\"x\"}");
	assert_string_equal(m->description, "d");
	assert_false(m->has_secret_binary);
	assert_int_equal(m->n_tags, 2);
	assert_string_equal(m->tags[1]->key, "team");
	assert_string_equal(m->tags[1]->value, "a");
	/* a UUIDv4 token was generated */
	assert_int_equal(strlen(m->client_request_token), 36);
	assert_int_equal(m->client_request_token[14], '4');
	/* argv no longer holds the value */
	assert_int_equal(a.opts[1].vals[0][0], '\0');
	n = coffer__create_secret_request__pack(m, buf);
	{
		Coffer__CreateSecretRequest *u = coffer__create_secret_request__unpack(NULL, n, buf);

		assert_non_null(u);
		assert_string_equal(u->tags[0]->key, "env");
		coffer__create_secret_request__free_unpacked(u, NULL);
	}
	cli_req_release(&r);
}

static void test_put_secret_value_request(void **state)
{
	const char *w[] = {"put-secret-value", "--secret-id", "s", "--secret-binary", "AAEC/w==",
			   "--version-stages", "AWSCURRENT", "custom", "--client-request-token",
			   "0123456789abcdef0123456789abcdef"};
	struct args a;
	struct cli_req r;
	char err[256];

	(void)state;
	assert_int_equal(build(w, 10, &a, &r, err), 0);
	assert_true(r.u.put.has_secret_binary);
	assert_int_equal(r.u.put.secret_binary.len, 4);
	assert_memory_equal(r.u.put.secret_binary.data, "\x00\x01\x02\xff", 4);
	assert_null(r.u.put.secret_string);
	assert_int_equal(r.u.put.n_version_stages, 2);
	assert_string_equal(r.u.put.version_stages[1], "custom");
	assert_string_equal(r.u.put.client_request_token, "0123456789abcdef0123456789abcdef");
	cli_req_release(&r);
}

static void test_other_requests(void **state)
{
	const char *d[] = {"delete-secret", "--secret-id", "s", "--recovery-window-in-days=7",
			   "--force-delete-without-recovery"};
	const char *l[] = {"list-secrets", "--max-results", "5", "--no-include-planned-deletion",
			   "--sort-order", "desc"};
	const char *t[] = {"create-secret", "--name", "n", "--tags",
			   "[{\"Key\":\"k\",\"Value\":\"v\"}]"};
	struct args a;
	struct cli_req r;
	char err[256];

	(void)state;
	assert_int_equal(build(d, 5, &a, &r, err), 0);
	assert_true(r.u.del.has_recovery_window_in_days);
	assert_int_equal(r.u.del.recovery_window_in_days, 7);
	assert_true(r.u.del.force_delete_without_recovery);
	cli_req_release(&r);
	assert_int_equal(build(l, 6, &a, &r, err), 0);
	assert_int_equal(r.u.list.max_results, 5);
	assert_true(r.u.list.has_include_planned_deletion);
	assert_false(r.u.list.include_planned_deletion);
	assert_string_equal(r.u.list.sort_order, "desc");
	cli_req_release(&r);
	assert_int_equal(build(t, 5, &a, &r, err), 0);
	assert_int_equal(r.u.create.n_tags, 1);
	assert_string_equal(r.u.create.tags[0]->value, "v");
	cli_req_release(&r);
}

static void test_usage_errors(void **state)
{
	const char *missing[] = {"get-secret-value", "--version-stage", "AWSCURRENT"};
	const char *unknown[] = {"describe-secret", "--secret-id", "s", "--name", "x"};
	const char *badb64[] = {"put-secret-value", "--secret-id", "s", "--secret-binary", "@@@"};
	const char *both[] = {"put-secret-value", "--secret-id", "s", "--secret-binary", "AA==",
			      "--secret-string", "x"};
	const char *noval[] = {"get-secret-value", "--secret-id"};
	struct args a;
	struct cli_req r;
	char err[256];

	(void)state;
	assert_int_equal(build(missing, 3, &a, &r, err), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "required: --secret-id"));
	cli_req_release(&r);
	assert_int_equal(build(unknown, 5, &a, &r, err), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "--name"));
	cli_req_release(&r);
	assert_int_equal(build(badb64, 5, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
	assert_int_equal(build(both, 7, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
	assert_int_equal(build(noval, 2, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
}

static void test_date_format(void **state)
{
	char out[40];

	(void)state;
	cli_format_date(1795887000.123, out);
	assert_string_equal(out, "2026-11-28T17:30:00.123000+00:00");
	cli_format_date(1795887000.0, out);
	assert_string_equal(out, "2026-11-28T17:30:00+00:00");
}

static void test_json_get_secret_value(void **state)
{
	Coffer__GetSecretValueResponse m = COFFER__GET_SECRET_VALUE_RESPONSE__INIT;
	char *stages[] = {"AWSCURRENT"};
	json_t *j;
	char *s;

	(void)state;
	m.arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:a-AbCdEf";
	m.name = "a";
	m.version_id = "v1";
	m.secret_string = "hunter2";
	m.n_version_stages = 1;
	m.version_stages = stages;
	m.has_created_date = 1;
	m.created_date = 1795887000.123;
	j = cli_to_json(&m.base);
	s = cli_render(j, 0);
	assert_string_equal(s, "{\n"
			       "    \"ARN\": \"arn:aws:secretsmanager:us-east-1:000000000000:secret:a-AbCdEf\",\n"
			       "    \"Name\": \"a\",\n"
			       "    \"VersionId\": \"v1\",\n"
			       "    \"SecretString\": \"hunter2\",\n"
			       "    \"VersionStages\": [\n"
			       "        \"AWSCURRENT\"\n"
			       "    ],\n"
			       "    \"CreatedDate\": \"2026-11-28T17:30:00.123000+00:00\"\n"
			       "}\n");
	cli_output_free(s);
	s = cli_render(j, 1);
	assert_string_equal(s, "arn:aws:secretsmanager:us-east-1:000000000000:secret:a-AbCdEf\t"
			       "2026-11-28T17:30:00.123000+00:00\ta\thunter2\tv1\n"
			       "VERSIONSTAGES\tAWSCURRENT\n");
	cli_output_free(s);
	json_decref(j);
}

static void test_json_binary_and_maps(void **state)
{
	Coffer__DescribeSecretResponse d = COFFER__DESCRIBE_SECRET_RESPONSE__INIT;
	Coffer__VersionIdsToStagesEntry e = COFFER__VERSION_IDS_TO_STAGES_ENTRY__INIT, *ep = &e;
	Coffer__StageList sl = COFFER__STAGE_LIST__INIT;
	Coffer__GetSecretValueResponse g = COFFER__GET_SECRET_VALUE_RESPONSE__INIT;
	Coffer__ListSecretsResponse l = COFFER__LIST_SECRETS_RESPONSE__INIT;
	char *stages[] = {"AWSCURRENT", "AWSPREVIOUS"};
	json_t *j;
	char *s;

	(void)state;
	sl.n_stages = 2;
	sl.stages = stages;
	e.key = "v1";
	e.value = &sl;
	d.name = "a";
	d.has_rotation_enabled = 1;
	d.n_version_ids_to_stages = 1;
	d.version_ids_to_stages = &ep;
	j = cli_to_json(&d.base);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"Name\":\"a\",\"RotationEnabled\":false,"
			       "\"VersionIdsToStages\":{\"v1\":[\"AWSCURRENT\",\"AWSPREVIOUS\"]}}");
	cli_output_free(s);
	json_decref(j);

	g.has_secret_binary = 1;
	g.secret_binary.data = (uint8_t *)"\x00\x01\x02\xff";
	g.secret_binary.len = 4;
	j = cli_to_json(&g.base);
	assert_string_equal(json_string_value(json_object_get(j, "SecretBinary")), "AAEC/w==");
	json_decref(j);

	j = cli_to_json(&l.base); /* an empty list is still shown, like AWS */
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"SecretList\":[]}");
	cli_output_free(s);
	json_decref(j);
}

static void test_text_list(void **state)
{
	json_t *j = json_loads("{\"Versions\":[{\"VersionId\":\"v1\",\"VersionStages\":"
			       "[\"AWSCURRENT\"],\"CreatedDate\":\"d1\"},{\"VersionId\":\"v2\","
			       "\"CreatedDate\":\"d2\"}],\"ARN\":\"arn\",\"Name\":\"n\"}",
			       0, NULL);
	char *s;

	(void)state;
	s = cli_render(j, 1);
	assert_string_equal(s, "arn\tn\n"
			       "VERSIONS\td1\tv1\n"
			       "VERSIONSTAGES\tAWSCURRENT\n"
			       "VERSIONS\td2\tv2\n");
	cli_output_free(s);
	json_decref(j);
}

static struct coffer_client *client(const char *endpoints)
{
	struct coffer_config cfg = {.endpoints = endpoints,
				    .access_key_id = "AKIDEXAMPLE",
				    .secret_access_key = "wJalrXUtnFEMI/K7MDENG",
				    .region = "eu-west-1"};
	struct coffer_client *c = NULL;
	struct coffer_error err;

	if (coffer_client_new(&cfg, &c, &err) != 0)
		return NULL;
	return c;
}

static void test_endpoints(void **state)
{
	struct coffer_client *c;

	(void)state;
	c = client(" 127.0.0.1:7700, localhost:7701 ,[::1]:7702,tls://h:1/");
	assert_non_null(c);
	assert_int_equal(coffer_client_endpoint_count(c), 4);
	assert_string_equal(coffer_client_endpoint(c, 1), "localhost:7701");
	assert_string_equal(c->endpoints[2].host, "::1");
	assert_string_equal(c->endpoints[3].host, "h");
	assert_string_equal(c->endpoints[3].port, "1");
	coffer_client_free(c);
	assert_null(client("127.0.0.1"));
	assert_null(client("host:port"));
	assert_null(client(""));
}

static void test_envelope_roundtrip(void **state)
{
	struct coffer_client *c = client("127.0.0.1:7700");
	Coffer__GetSecretValueRequest g = COFFER__GET_SECRET_VALUE_REQUEST__INIT;
	Coffer__Envelope *env = NULL;
	uint8_t payload[64], frame[1024];
	char sig[SIGN_HEX_LEN + 1];
	size_t plen, flen = 0;

	(void)state;
	assert_non_null(c);
	g.secret_id = "app/db";
	plen = coffer__get_secret_value_request__pack(&g, payload);
	assert_int_equal(coffer_encode_request(c, 42, "GetSecretValue", "20261128T173000Z",
					       payload, plen, frame, sizeof(frame), &flen),
			 0);
	assert_int_equal((size_t)frame[0] << 24 | frame[1] << 16 | frame[2] << 8 | frame[3],
			 flen - 4);
	assert_int_equal(coffer_decode_envelope(frame + 4, flen - 4, &env), 0);
	assert_int_equal(env->call_id, 42);
	assert_string_equal(env->operation, "GetSecretValue");
	assert_string_equal(env->auth->access_key_id, "AKIDEXAMPLE");
	assert_string_equal(env->auth->date, "20261128T173000Z");
	assert_string_equal(env->auth->region, "eu-west-1");
	assert_memory_equal(env->payload.data, payload, plen);
	/* the cached-key path signs exactly like the one-shot helper */
	assert_int_equal(sign_request("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "20261128T173000Z",
				      "eu-west-1", "GetSecretValue", payload, plen, sig),
			 0);
	assert_string_equal(env->auth->signature, sig);
	coffer_response_free(env);
	/* a second day derives a new key */
	assert_int_equal(coffer_encode_request(c, 43, "GetSecretValue", "20261129T000001Z",
					       payload, plen, frame, sizeof(frame), &flen),
			 0);
	assert_int_equal(coffer_decode_envelope(frame + 4, flen - 4, &env), 0);
	assert_int_equal(sign_request("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "20261129T000001Z",
				      "eu-west-1", "GetSecretValue", payload, plen, sig),
			 0);
	assert_string_equal(env->auth->signature, sig);
	coffer_response_free(env);
	/* too small a buffer, garbage bodies */
	assert_int_equal(coffer_encode_request(c, 1, "GetSecretValue", "20261128T173000Z",
					       payload, plen, frame, 8, &flen),
			 COFFER_ETOOBIG);
	assert_int_equal(coffer_decode_envelope((const uint8_t *)"\xff\xff\xff", 3, &env),
			 COFFER_EPROTO);
	coffer_client_free(c);
}

static void test_retryable_and_uuid(void **state)
{
	char u[37], v[37];

	(void)state;
	assert_true(coffer_error_is_retryable("ServiceUnavailableException", "x"));
	assert_true(coffer_error_is_retryable("ThrottlingException", ""));
	assert_true(coffer_error_is_retryable("InternalServiceError", "node not ready"));
	assert_false(coffer_error_is_retryable("InternalServiceError", "boom"));
	assert_false(coffer_error_is_retryable("ResourceNotFoundException", "not ready"));
	assert_int_equal(coffer_uuid4(u), 0);
	assert_int_equal(coffer_uuid4(v), 0);
	assert_int_equal(strlen(u), 36);
	assert_string_not_equal(u, v);
	assert_int_equal(u[8], '-');
	assert_true(strchr("89ab", u[19]) != NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_secret_request),
		cmocka_unit_test(test_put_secret_value_request),
		cmocka_unit_test(test_other_requests),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_date_format),
		cmocka_unit_test(test_json_get_secret_value),
		cmocka_unit_test(test_json_binary_and_maps),
		cmocka_unit_test(test_text_list),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_envelope_roundtrip),
		cmocka_unit_test(test_retryable_and_uuid),
	};

	secmem_init(1u << 20);
	cli_json_use_secmem();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
