/*
 * libcoffer and `coffer` offline: argument parsing -> request messages,
 * AWS-CLI-shaped JSON and text output, request envelopes (framing and
 * signature), endpoint lists and retry classification. No server needed.
 * The CLI's objects come from build/libcoffercli.a (every CLI file but main).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../client/cli/aws.h"
#include "../../client/cli/cli.h"
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

static void test_tag_untag_requests(void **state)
{
	const char *t[] = {"tag-resource", "--secret-id", "s", "--tags", "Key=env,Value=prod",
			   "Key=note,Value=a,b"};
	const char *tj[] = {"tag-resource", "--secret-id", "s", "--tags",
			    "[{\"Key\":\"k\",\"Value\":\"v\"},{\"Key\":\"e\",\"Value\":\"\"}]"};
	const char *u[] = {"untag-resource", "--secret-id", "s", "--tag-keys", "k1", "k2"};
	const char *bad[] = {"tag-resource", "--secret-id", "s", "--tags", "Key=k,Colour=v"};
	const char *nokey[] = {"tag-resource", "--secret-id", "s", "--tags", "[{\"Value\":\"v\"}]"};
	struct args a;
	struct cli_req r;
	char err[256];

	(void)state;
	assert_int_equal(build(t, 6, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "TagResource");
	assert_string_equal(r.u.tag.secret_id, "s");
	assert_int_equal(r.u.tag.n_tags, 2);
	assert_string_equal(r.u.tag.tags[0]->key, "env");
	assert_string_equal(r.u.tag.tags[0]->value, "prod");
	assert_string_equal(r.u.tag.tags[1]->value, "a,b"); /* no "Name=" after the comma */
	cli_req_release(&r);
	assert_int_equal(build(tj, 5, &a, &r, err), 0);
	assert_int_equal(r.u.tag.n_tags, 2);
	assert_string_equal(r.u.tag.tags[1]->key, "e");
	assert_string_equal(r.u.tag.tags[1]->value, "");
	cli_req_release(&r);
	assert_int_equal(build(u, 6, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "UntagResource");
	assert_int_equal(r.u.untag.n_tag_keys, 2);
	assert_string_equal(r.u.untag.tag_keys[1], "k2");
	cli_req_release(&r);
	assert_int_equal(build(bad, 5, &a, &r, err), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "Colour"));
	cli_req_release(&r);
	assert_int_equal(build(nokey, 5, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
	assert_int_equal(build(u, 4, &a, &r, err), CLI_EXIT_USAGE); /* --tag-keys without value */
	cli_req_release(&r);
}

static void test_random_password_request(void **state)
{
	const char *w[] = {"get-random-password", "--password-length", "20",
			   "--exclude-characters", "abc", "--exclude-numbers",
			   "--exclude-punctuation", "--no-exclude-uppercase", "--include-space",
			   "--no-require-each-included-type"};
	const char *none[] = {"get-random-password"};
	const char *bad[] = {"get-random-password", "--password-length", "x"};
	const char *flagval[] = {"get-random-password", "--exclude-numbers=yes"};
	struct args a;
	struct cli_req r;
	char err[256];
	Coffer__GetRandomPasswordRequest *m = &r.u.random;

	(void)state;
	assert_int_equal(build(w, 10, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "GetRandomPassword");
	assert_true(m->has_password_length);
	assert_int_equal(m->password_length, 20);
	assert_string_equal(m->exclude_characters, "abc");
	assert_true(m->has_exclude_numbers && m->exclude_numbers);
	assert_true(m->has_exclude_punctuation && m->exclude_punctuation);
	assert_true(m->has_exclude_uppercase);
	assert_false(m->exclude_uppercase);
	assert_false(m->has_exclude_lowercase);
	assert_true(m->has_include_space && m->include_space);
	assert_true(m->has_require_each_included_type);
	assert_false(m->require_each_included_type);
	cli_req_release(&r);
	assert_int_equal(build(none, 1, &a, &r, err), 0);
	assert_false(m->has_password_length);
	assert_false(m->has_require_each_included_type);
	cli_req_release(&r);
	assert_int_equal(build(bad, 3, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
	assert_int_equal(build(flagval, 2, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
}

static void test_filters_and_batch(void **state)
{
	const char *l[] = {"list-secrets", "--filters", "Key=name,Values=app/,db",
			   "Key=tag-key,Values=[env]", "--sort-by", "name", "--sort-order", "asc"};
	const char *lj[] = {"list-secrets", "--filters",
			    "[{\"Key\":\"description\",\"Values\":[\"x\",\"!y\"]}]"};
	const char *b[] = {"batch-get-secret-value", "--secret-id-list", "a", "b", "c",
			   "--max-results", "20", "--next-token", "t"};
	const char *bf[] = {"batch-get-secret-value", "--filters", "Key=tag-value,Values=prod"};
	const char *badj[] = {"list-secrets", "--filters", "[{\"Key\":\"name\",\"Values\":\"x\"}]"};
	const char *badsyn[] = {"list-secrets", "--filters", "[{\"Key\":"};
	struct args a;
	struct cli_req r;
	char err[256];

	(void)state;
	assert_int_equal(build(l, 8, &a, &r, err), 0);
	assert_int_equal(r.u.list.n_filters, 2);
	assert_string_equal(r.u.list.filters[0]->key, "name");
	assert_int_equal(r.u.list.filters[0]->n_values, 2);
	assert_string_equal(r.u.list.filters[0]->values[0], "app/");
	assert_string_equal(r.u.list.filters[0]->values[1], "db");
	assert_string_equal(r.u.list.filters[1]->key, "tag-key");
	assert_int_equal(r.u.list.filters[1]->n_values, 1);
	assert_string_equal(r.u.list.filters[1]->values[0], "env");
	assert_string_equal(r.u.list.sort_by, "name");
	assert_string_equal(r.u.list.sort_order, "asc");
	cli_req_release(&r);
	assert_int_equal(build(lj, 3, &a, &r, err), 0);
	assert_int_equal(r.u.list.n_filters, 1);
	assert_string_equal(r.u.list.filters[0]->values[1], "!y");
	cli_req_release(&r);
	assert_int_equal(build(b, 9, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "BatchGetSecretValue");
	assert_int_equal(r.u.batch.n_secret_id_list, 3);
	assert_string_equal(r.u.batch.secret_id_list[2], "c");
	assert_true(r.u.batch.has_max_results);
	assert_int_equal(r.u.batch.max_results, 20);
	assert_string_equal(r.u.batch.next_token, "t");
	cli_req_release(&r);
	assert_int_equal(build(bf, 3, &a, &r, err), 0);
	assert_int_equal(r.u.batch.n_filters, 1);
	assert_string_equal(r.u.batch.filters[0]->values[0], "prod");
	cli_req_release(&r);
	assert_int_equal(build(badj, 3, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
	assert_int_equal(build(badsyn, 3, &a, &r, err), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "Invalid JSON"));
	cli_req_release(&r);
}

static void test_rotation_requests(void **state)
{
	const char *w[] = {"rotate-secret", "--secret-id", "s", "--rotation-lambda-arn",
			   "arn:aws:lambda:us-east-1:1:function:f", "--rotation-rules",
			   "ScheduleExpression=cron(0 16 1,15 * ? *),Duration=2h",
			   "--no-rotate-immediately"};
	const char *d[] = {"rotate-secret", "--secret-id", "s", "--rotation-rules",
			   "AutomaticallyAfterDays=30"};
	const char *j[] = {"rotate-secret", "--secret-id", "s", "--rotation-rules",
			   "{\"AutomaticallyAfterDays\": 7}", "--client-request-token",
			   "0123456789abcdef0123456789abcdef"};
	const char *bad[] = {"rotate-secret", "--secret-id", "s", "--rotation-rules",
			     "Every=3"};
	const char *c[] = {"cancel-rotate-secret", "--secret-id", "s"};
	struct args a;
	struct cli_req r;
	char err[256];
	Coffer__RotateSecretRequest *m = &r.u.rotate;

	(void)state;
	assert_int_equal(build(w, 8, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "RotateSecret");
	assert_int_equal(strlen(m->client_request_token), 36); /* auto UUIDv4 */
	assert_string_equal(m->rotation_lambda_arn, "arn:aws:lambda:us-east-1:1:function:f");
	assert_non_null(m->rotation_rules);
	assert_string_equal(m->rotation_rules->schedule_expression, "cron(0 16 1,15 * ? *)");
	assert_string_equal(m->rotation_rules->duration, "2h");
	assert_false(m->rotation_rules->has_automatically_after_days);
	assert_true(m->has_rotate_immediately);
	assert_false(m->rotate_immediately);
	cli_req_release(&r);
	assert_int_equal(build(d, 5, &a, &r, err), 0);
	assert_true(m->rotation_rules->has_automatically_after_days);
	assert_int_equal(m->rotation_rules->automatically_after_days, 30);
	assert_false(m->has_rotate_immediately);
	cli_req_release(&r);
	assert_int_equal(build(j, 7, &a, &r, err), 0);
	assert_int_equal(m->rotation_rules->automatically_after_days, 7);
	assert_string_equal(m->client_request_token, "0123456789abcdef0123456789abcdef");
	cli_req_release(&r);
	assert_int_equal(build(bad, 5, &a, &r, err), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "Every"));
	cli_req_release(&r);
	assert_int_equal(build(c, 3, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "CancelRotateSecret");
	assert_string_equal(r.u.cancel.secret_id, "s");
	cli_req_release(&r);
}

static void test_policy_requests(void **state)
{
	char path[] = "/tmp/coffer-test-policy-XXXXXX";
	const char *doc = "{\"Version\":\"2012-10-17\",\"Statement\":[]}";
	char filearg[64];
	const char *p[] = {"put-resource-policy", "--secret-id", "s", "--resource-policy", doc,
			   "--block-public-policy"};
	const char *pf[] = {"put-resource-policy", "--secret-id", "s", "--resource-policy",
			    filearg, "--no-block-public-policy"};
	const char *v[] = {"validate-resource-policy", "--resource-policy", doc};
	const char *g[] = {"get-resource-policy", "--secret-id", "s"};
	const char *dl[] = {"delete-resource-policy", "--secret-id", "s"};
	const char *missing[] = {"put-resource-policy", "--secret-id", "s"};
	struct args a;
	struct cli_req r;
	char err[256];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
	close(fd);
	snprintf(filearg, sizeof(filearg), "file://%s", path);
	assert_int_equal(build(p, 6, &a, &r, err), 0);
	assert_string_equal(r.u.put_policy.resource_policy, doc);
	assert_true(r.u.put_policy.has_block_public_policy && r.u.put_policy.block_public_policy);
	cli_req_release(&r);
	assert_int_equal(build(pf, 6, &a, &r, err), 0);
	assert_string_equal(r.u.put_policy.resource_policy, doc);
	assert_true(r.u.put_policy.has_block_public_policy);
	assert_false(r.u.put_policy.block_public_policy);
	cli_req_release(&r);
	unlink(path);
	assert_int_equal(build(pf, 6, &a, &r, err), CLI_EXIT_USAGE); /* file gone */
	assert_non_null(strstr(err, "Unable to load paramfile"));
	cli_req_release(&r);
	assert_int_equal(build(v, 3, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "ValidateResourcePolicy");
	assert_null(r.u.validate.secret_id);
	assert_string_equal(r.u.validate.resource_policy, doc);
	cli_req_release(&r);
	assert_int_equal(build(g, 3, &a, &r, err), 0);
	assert_string_equal(r.u.get_policy.secret_id, "s");
	cli_req_release(&r);
	assert_int_equal(build(dl, 3, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "DeleteResourcePolicy");
	cli_req_release(&r);
	assert_int_equal(build(missing, 3, &a, &r, err), CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "--resource-policy"));
	cli_req_release(&r);
}

static void test_replication_requests(void **state)
{
	const char *rep[] = {"replicate-secret-to-regions", "--secret-id", "s",
			     "--add-replica-regions", "Region=eu-west-1",
			     "Region=ap-south-1,KmsKeyId=alias/k", "--force-overwrite-replica-secret"};
	const char *repj[] = {"replicate-secret-to-regions", "--secret-id", "s",
			      "--add-replica-regions", "[{\"Region\":\"eu-west-2\"}]"};
	const char *rm[] = {"remove-regions-from-replication", "--secret-id", "s",
			    "--remove-replica-regions", "eu-west-1", "ap-south-1"};
	const char *stop[] = {"stop-replication-to-replica", "--secret-id", "s"};
	const char *cr[] = {"create-secret", "--name", "n", "--add-replica-regions",
			    "Region=eu-west-1,KmsKeyId=k"};
	const char *bad[] = {"replicate-secret-to-regions", "--secret-id", "s",
			     "--add-replica-regions", "KmsKeyId=k"};
	struct args a;
	struct cli_req r;
	char err[256];

	(void)state;
	assert_int_equal(build(rep, 7, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "ReplicateSecretToRegions");
	assert_int_equal(r.u.replicate.n_add_replica_regions, 2);
	assert_string_equal(r.u.replicate.add_replica_regions[0]->region, "eu-west-1");
	assert_null(r.u.replicate.add_replica_regions[0]->kms_key_id);
	assert_string_equal(r.u.replicate.add_replica_regions[1]->kms_key_id, "alias/k");
	assert_true(r.u.replicate.force_overwrite_replica_secret);
	cli_req_release(&r);
	assert_int_equal(build(repj, 5, &a, &r, err), 0);
	assert_string_equal(r.u.replicate.add_replica_regions[0]->region, "eu-west-2");
	cli_req_release(&r);
	assert_int_equal(build(rm, 6, &a, &r, err), 0);
	assert_int_equal(r.u.remove_regions.n_remove_replica_regions, 2);
	assert_string_equal(r.u.remove_regions.remove_replica_regions[1], "ap-south-1");
	cli_req_release(&r);
	assert_int_equal(build(stop, 3, &a, &r, err), 0);
	assert_string_equal(r.cmd->operation, "StopReplicationToReplica");
	cli_req_release(&r);
	assert_int_equal(build(cr, 5, &a, &r, err), 0);
	assert_int_equal(r.u.create.n_add_replica_regions, 1);
	assert_string_equal(r.u.create.add_replica_regions[0]->kms_key_id, "k");
	cli_req_release(&r);
	assert_int_equal(build(bad, 5, &a, &r, err), CLI_EXIT_USAGE);
	cli_req_release(&r);
}

static void test_shorthand(void **state)
{
	json_t *j;
	char *s;

	(void)state;
	j = cli_shorthand("Key=name,Values=a,b,c", "Values");
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"Key\":\"name\",\"Values\":[\"a\",\"b\",\"c\"]}");
	cli_output_free(s);
	json_decref(j);
	j = cli_shorthand("Key=\"a=b,c\",Value='x'", "");
	assert_string_equal(json_string_value(json_object_get(j, "Key")), "a=b,c");
	assert_string_equal(json_string_value(json_object_get(j, "Value")), "x");
	json_decref(j);
	j = cli_shorthand("Values=[]", "Values");
	assert_int_equal(json_array_size(json_object_get(j, "Values")), 0);
	json_decref(j);
	assert_null(cli_shorthand("novalue", ""));
	assert_null(cli_shorthand("Key=a,Key=b", ""));     /* duplicate member */
	assert_null(cli_shorthand("Key=[a,b]", ""));       /* list for a scalar */
	assert_null(cli_shorthand("Key=\"open", ""));      /* unterminated quote */
	assert_null(cli_shorthand("=x", ""));
}

static void test_json_new_outputs(void **state)
{
	Coffer__TagResourceResponse tr = COFFER__TAG_RESOURCE_RESPONSE__INIT;
	Coffer__GetRandomPasswordResponse rp = COFFER__GET_RANDOM_PASSWORD_RESPONSE__INIT;
	Coffer__BatchGetSecretValueResponse bg = COFFER__BATCH_GET_SECRET_VALUE_RESPONSE__INIT;
	Coffer__SecretValueEntry e = COFFER__SECRET_VALUE_ENTRY__INIT, *ep = &e;
	Coffer__ValidateResourcePolicyResponse vr = COFFER__VALIDATE_RESOURCE_POLICY_RESPONSE__INIT;
	Coffer__RemoveRegionsFromReplicationResponse rr =
		COFFER__REMOVE_REGIONS_FROM_REPLICATION_RESPONSE__INIT;
	Coffer__ReplicateSecretToRegionsResponse rs =
		COFFER__REPLICATE_SECRET_TO_REGIONS_RESPONSE__INIT;
	Coffer__ReplicationStatusType st = COFFER__REPLICATION_STATUS_TYPE__INIT, *stp = &st;
	Coffer__RotateSecretResponse rot = COFFER__ROTATE_SECRET_RESPONSE__INIT;
	Coffer__CreateSecretResponse cs = COFFER__CREATE_SECRET_RESPONSE__INIT;
	json_t *j;
	char *s;

	(void)state;
	/* no output shape: the AWS CLI prints nothing, in either mode */
	j = cli_to_json(&tr.base);
	assert_null(cli_render(j, 0));
	assert_null(cli_render(j, 1));
	json_decref(j);

	rp.random_password = "p@ss";
	j = cli_to_json(&rp.base);
	s = cli_render(j, 0);
	assert_string_equal(s, "{\n    \"RandomPassword\": \"p@ss\"\n}\n");
	cli_output_free(s);
	s = cli_render(j, 1);
	assert_string_equal(s, "p@ss\n");
	cli_output_free(s);
	json_decref(j);

	e.arn = "arn";
	e.name = "a";
	e.secret_string = "v";
	bg.n_secret_values = 1;
	bg.secret_values = &ep;
	j = cli_to_json(&bg.base);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"SecretValues\":[{\"ARN\":\"arn\",\"Name\":\"a\","
			       "\"SecretString\":\"v\"}],\"Errors\":[]}");
	cli_output_free(s);
	json_decref(j);

	vr.has_policy_validation_passed = 1;
	vr.policy_validation_passed = 1;
	j = cli_to_json(&vr.base);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"PolicyValidationPassed\":true,\"ValidationErrors\":[]}");
	cli_output_free(s);
	json_decref(j);

	rr.arn = "arn";
	j = cli_to_json(&rr.base);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"ARN\":\"arn\",\"ReplicationStatus\":[]}");
	cli_output_free(s);
	json_decref(j);

	st.region = "eu-west-1";
	st.kms_key_id = "alias/aws/secretsmanager";
	st.status = "InProgress";
	st.status_message = "Replication in progress";
	rs.arn = "arn";
	rs.n_replication_status = 1;
	rs.replication_status = &stp;
	j = cli_to_json(&rs.base);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"ARN\":\"arn\",\"ReplicationStatus\":[{\"Region\":\"eu-west-1\","
			       "\"KmsKeyId\":\"alias/aws/secretsmanager\",\"Status\":\"InProgress\","
			       "\"StatusMessage\":\"Replication in progress\"}]}");
	cli_output_free(s);
	json_decref(j);

	rot.arn = "arn";
	rot.name = "a";
	rot.version_id = "v2";
	j = cli_to_json(&rot.base);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"ARN\":\"arn\",\"Name\":\"a\",\"VersionId\":\"v2\"}");
	cli_output_free(s);
	json_decref(j);

	cs.arn = "arn";
	j = cli_to_json(&cs.base); /* no replicas asked: no ReplicationStatus */
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"ARN\":\"arn\"}");
	cli_output_free(s);
	json_decref(j);
}

static void test_aws_endpoint(void **state)
{
	struct aws_endpoint ep;

	(void)state;
	assert_int_equal(aws_endpoint_parse("http://127.0.0.1:27880", &ep), 0);
	assert_false(ep.tls);
	assert_string_equal(ep.host, "127.0.0.1");
	assert_string_equal(ep.port, "27880");
	assert_string_equal(ep.host_header, "127.0.0.1:27880");
	assert_int_equal(aws_endpoint_parse("https://coffer.example:443/", &ep), 0);
	assert_true(ep.tls);
	assert_string_equal(ep.port, "443");
	assert_string_equal(ep.host_header, "coffer.example"); /* default port left out */
	assert_int_equal(aws_endpoint_parse("https://coffer.example", &ep), 0);
	assert_string_equal(ep.port, "443");
	assert_int_equal(aws_endpoint_parse("http://[::1]:8080", &ep), 0);
	assert_string_equal(ep.host, "::1");
	assert_string_equal(ep.host_header, "[::1]:8080");
	assert_int_equal(aws_endpoint_parse("127.0.0.1:80", &ep), COFFER_EINVAL);
	assert_int_equal(aws_endpoint_parse("http://h:x", &ep), COFFER_EINVAL);
	assert_int_equal(aws_endpoint_parse("http://h/path", &ep), COFFER_EINVAL);
	assert_int_equal(aws_endpoint_parse("http://", &ep), COFFER_EINVAL);
}

/* Expected signatures computed with botocore's SigV4Auth (1.43) at a pinned clock. */
static void test_aws_sigv4(void **state)
{
	struct aws_signer s;
	const char *get = "{\"SecretId\":\"app/db\"}";
	const char *put = "{\"SecretId\":\"s\",\"ClientRequestToken\":"
			  "\"0123456789abcdef0123456789abcdef\",\"SecretString\":\"a\\\"b\"}";
	char sig[65], out[2048];
	size_t n;

	(void)state;
	assert_int_equal(aws_signer_init(&s, "AKIDEXAMPLE",
					 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL,
					 "eu-west-1"),
			 0);
	assert_int_equal(aws_sign(&s, "20261128T173000Z", "127.0.0.1:27880", "GetSecretValue",
				  get, strlen(get), sig),
			 0);
	assert_string_equal(sig, "c25f90569462031cc83096d77e4bc865201b50314d30bccd99543d7d6cec0156");
	/* the day's key is derived once and cached */
	assert_int_equal(aws_sign(&s, "20261128T235959Z", "127.0.0.1:27880", "GetSecretValue",
				  get, strlen(get), sig),
			 0);
	assert_int_equal(s.derivations, 1);
	assert_int_equal(aws_format_request(&s, "20261128T173000Z", "127.0.0.1:27880",
					    "GetSecretValue", get, strlen(get), out, sizeof(out),
					    &n),
			 0);
	out[n] = '\0';
	assert_string_equal(out,
			    "POST / HTTP/1.1\r\nHost: 127.0.0.1:27880\r\n"
			    "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 21\r\n"
			    "X-Amz-Target: secretsmanager.GetSecretValue\r\n"
			    "X-Amz-Date: 20261128T173000Z\r\n"
			    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/"
			    "eu-west-1/secretsmanager/aws4_request, SignedHeaders=content-type;"
			    "host;x-amz-date;x-amz-target, Signature="
			    "c25f90569462031cc83096d77e4bc865201b50314d30bccd99543d7d6cec0156\r\n\r\n"
			    "{\"SecretId\":\"app/db\"}");
	assert_int_equal(aws_format_request(&s, "20261128T173000Z", "127.0.0.1:27880",
					    "GetSecretValue", get, strlen(get), out, 64, &n),
			 COFFER_ETOOBIG);
	assert_int_equal(aws_sign(&s, "bad", "h", "GetSecretValue", get, 1, sig), COFFER_EINVAL);
	aws_signer_release(&s);

	/* a session token is sent and signed, as botocore does */
	assert_int_equal(aws_signer_init(&s, "AKIDEXAMPLE",
					 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "TOKEN123",
					 "us-east-1"),
			 0);
	assert_int_equal(aws_format_request(&s, "20261129T000001Z", "coffer.example",
					    "PutSecretValue", put, strlen(put), out, sizeof(out),
					    &n),
			 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "X-Amz-Security-Token: TOKEN123\r\n"));
	assert_non_null(strstr(out, "SignedHeaders=content-type;host;x-amz-date;"
				    "x-amz-security-token;x-amz-target, Signature="
				    "f6e969d173703cb53a8b277a1d1b56491c3cfcd8e724e7d2bfd983d1f3457fab"));
	aws_signer_release(&s);
	assert_int_equal(aws_signer_init(&s, "", "k", NULL, "us-east-1"), COFFER_EINVAL);
	aws_signer_release(&s);
	assert_int_equal(aws_signer_init(&s, "AK", "k", NULL, "us/east"), COFFER_EINVAL);
	aws_signer_release(&s);
}

static void test_aws_json_and_responses(void **state)
{
	char out[64];
	const char *two = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
			  "content-length: 16\r\n\r\n{\"Name\":\"a\" }\n  "
			  "HTTP/1.1 400 Bad Request\r\nContent-Length: 93\r\n"
			  "Connection: close\r\n\r\n"
			  "{\"__type\":\"com.amazon#ResourceNotFoundException:x\",\"Message\":"
			  "\"Secrets Manager can't find it\"}";
	struct aws_resp r;
	struct coffer_error err;
	size_t n, first;

	(void)state;
	n = aws_json_str(out, sizeof(out), "a\"b\\c\n\x01/\xc3\xa9");
	assert_int_equal(n, strlen("\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\""));
	out[n] = '\0';
	assert_string_equal(out, "\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\"");
	assert_int_equal(aws_json_str(out, 2, "abcdef"), 8); /* size needed, nothing overrun */

	assert_int_equal(aws_parse_response(two, 20, &r), 0); /* head not complete */
	assert_int_equal(aws_parse_response(two, strlen(two), &r), 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 16);
	assert_false(r.close);
	assert_true(aws_body_is_object(two + r.head_len, r.body_len));
	first = r.head_len + r.body_len;
	assert_int_equal(aws_parse_response(two + first, strlen(two) - first - 1, &r), 0);
	assert_int_equal(aws_parse_response(two + first, strlen(two) - first, &r), 1);
	assert_int_equal(r.status, 400);
	assert_true(r.close);
	aws_error_of(r.status, two + first + r.head_len, r.body_len, &err);
	assert_string_equal(err.type, "ResourceNotFoundException");
	assert_string_equal(err.message, "Secrets Manager can't find it");
	aws_error_of(502, "<html>", 6, &err);
	assert_string_equal(err.type, "HTTP 502");
	assert_false(aws_body_is_object("[]", 2));
	assert_false(aws_body_is_object("", 0));

	assert_int_equal(aws_parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
					    47, &r),
			 COFFER_EPROTO);
	assert_int_equal(aws_parse_response("HTTP/1.1 200 OK\r\n\r\n", 19, &r), COFFER_EPROTO);
	assert_int_equal(aws_parse_response("SSH-2.0-x\r\n\r\n", 13, &r), COFFER_EPROTO);
	assert_int_equal(aws_parse_response("HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
					    45, &r),
			 COFFER_EPROTO);
	assert_int_equal(aws_parse_response("HTTP/1.1 100 Continue\r\n\r\n", 25, &r), 1);
	assert_int_equal(r.status, 100);
	assert_int_equal(r.body_len, 0);
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
		cmocka_unit_test(test_tag_untag_requests),
		cmocka_unit_test(test_random_password_request),
		cmocka_unit_test(test_filters_and_batch),
		cmocka_unit_test(test_rotation_requests),
		cmocka_unit_test(test_policy_requests),
		cmocka_unit_test(test_replication_requests),
		cmocka_unit_test(test_shorthand),
		cmocka_unit_test(test_json_new_outputs),
		cmocka_unit_test(test_aws_endpoint),
		cmocka_unit_test(test_aws_sigv4),
		cmocka_unit_test(test_aws_json_and_responses),
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
