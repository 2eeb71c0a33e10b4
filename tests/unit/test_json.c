/* AWS JSON codec: round trips (requests and responses), the map and
 * bare-array shapes, always-present lists, escaping, base64, numbers,
 * error paths (wrong types, ranges, trailing data, depth, duplicates) and
 * the AWS member name of every field of the AWS operations, presence
 * markers ("<x>_present"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "aws/json.h"
#include "coffer.pb-c.h"
#include "util/errors.h"
#include "util/secmem.h"

#define SER "SerializationException"

/* Decode json (NUL-terminated) as desc; returns the unpacked message
 * (free with protobuf_c_message_free_unpacked(m, NULL)) or NULL with st. */
static ProtobufCMessage *dec_len(const ProtobufCMessageDescriptor *desc, const char *json, size_t n,
                                 struct cf_status *st)
{
	struct secbuf packed = {0};
	ProtobufCMessage *m;
	int rv;

	memset(st, 0, sizeof(*st));
	rv = awsjson_decode(desc, (const uint8_t *)json, n, &packed, st);
	if (rv != 0) {
		assert_int_equal(rv, -1);
		assert_null(packed.data);
		assert_string_not_equal(st->type, "");
		return NULL;
	}
	assert_true(cf_status_ok(st));
	m = protobuf_c_message_unpack(desc, NULL, packed.len, packed.data);
	assert_non_null(m);
	secbuf_free(&packed);
	return m;
}

static ProtobufCMessage *dec(const ProtobufCMessageDescriptor *desc, const char *json,
                             struct cf_status *st)
{
	return dec_len(desc, json, strlen(json), st);
}

/* Assert that json fails as a SerializationException whose message names
 * member (when not NULL). */
static void dec_fails(const ProtobufCMessageDescriptor *desc, const char *json, const char *member)
{
	struct cf_status st;
	char quoted[200];

	if (dec(desc, json, &st) != NULL)
		fail_msg("'%s' decoded", json);
	assert_string_equal(st.type, SER);
	if (member != NULL) {
		snprintf(quoted, sizeof(quoted), "'%s'", member);
		if (strstr(st.message, quoted) == NULL)
			fail_msg("'%s': message \"%s\" does not name %s", json, st.message, quoted);
	}
}

/* Encode m; returns a malloc'ed NUL-terminated copy of the JSON. */
static char *enc(const ProtobufCMessage *m)
{
	struct secbuf packed = {0}, json = {0};
	char *s;

	assert_int_equal(secmem_pb_pack(m, &packed), 0);
	assert_int_equal(awsjson_encode(m->descriptor, packed.data, packed.len, &json), 0);
	s = malloc(json.len + 1);
	assert_non_null(s);
	memcpy(s, json.data, json.len);
	s[json.len] = '\0';
	secbuf_free(&packed);
	secbuf_free(&json);
	return s;
}

static void enc_equals(const ProtobufCMessage *m, const char *expect)
{
	char *s = enc(m);

	assert_string_equal(s, expect);
	free(s);
}

/* ------------------------------------------------------------ presence markers */

/* "<x>_present" is never a member; set true it makes the repeated field x
 * appear as [] when empty (Tags after all tags were removed). */
static void test_presence_marker(void **state)
{
	Coffer__DescribeSecretResponse ds = COFFER__DESCRIBE_SECRET_RESPONSE__INIT;
	Coffer__SecretListEntry le = COFFER__SECRET_LIST_ENTRY__INIT;
	Coffer__Tag t = COFFER__TAG__INIT, *tp = &t;
	Coffer__DescribeSecretResponse *back;
	struct cf_status st;

	(void)state;
	ds.name = "n";
	/* never tagged: no Tags, no marker member */
	enc_equals(&ds.base, "{\"Name\":\"n\"}");
	ds.has_tags_present = 1; /* present but false: still left out */
	enc_equals(&ds.base, "{\"Name\":\"n\"}");
	ds.tags_present = 1;
	enc_equals(&ds.base, "{\"Name\":\"n\",\"Tags\":[]}");
	ds.has_tags_present = 0; /* a value without presence does not count */
	enc_equals(&ds.base, "{\"Name\":\"n\"}");
	/* with tags: the list, and still no marker member */
	ds.has_tags_present = 1;
	t.key = "k";
	t.value = "v";
	ds.tags = &tp;
	ds.n_tags = 1;
	enc_equals(&ds.base, "{\"Name\":\"n\",\"Tags\":[{\"Key\":\"k\",\"Value\":\"v\"}]}");
	le.has_tags_present = le.tags_present = 1;
	enc_equals(&le.base, "{\"Tags\":[]}");
	/* nor is it read from a body */
	back = (Coffer__DescribeSecretResponse *)dec(&coffer__describe_secret_response__descriptor,
						     "{\"Name\":\"n\",\"TagsPresent\":true}", &st);
	assert_non_null(back);
	assert_string_equal(back->name, "n");
	assert_false(back->has_tags_present);
	protobuf_c_message_free_unpacked(&back->base, NULL);
}

/* ------------------------------------------------------------ round trips */

static void test_create_secret_request(void **state)
{
	static const char in[] =
	    "{\"Name\":\"db/prod\",\"ClientRequestToken\":\"0123456789abcdef0123456789abcdef\","
	    "\"SecretBinary\":\"AAEC//4=\",\"Tags\":[{\"Key\":\"env\",\"Value\":\"prod\"},"
	    "{\"Key\":\"team\",\"Value\":\"\"}],\"ForceOverwriteReplicaSecret\":false,"
	    "\"AddReplicaRegions\":[{\"Region\":\"eu-west-1\"}]}";
	static const uint8_t bin[] = {0x00, 0x01, 0x02, 0xff, 0xfe};
	Coffer__CreateSecretRequest *r;
	struct cf_status st;

	(void)state;
	r = (Coffer__CreateSecretRequest *)dec(&coffer__create_secret_request__descriptor, in, &st);
	assert_non_null(r);
	assert_string_equal(r->name, "db/prod");
	assert_string_equal(r->client_request_token, "0123456789abcdef0123456789abcdef");
	assert_null(r->description);
	assert_null(r->secret_string);
	assert_true(r->has_secret_binary);
	assert_int_equal(r->secret_binary.len, sizeof(bin));
	assert_memory_equal(r->secret_binary.data, bin, sizeof(bin));
	assert_int_equal(r->n_tags, 2);
	assert_string_equal(r->tags[0]->key, "env");
	assert_string_equal(r->tags[0]->value, "prod");
	assert_string_equal(r->tags[1]->key, "team");
	assert_string_equal(r->tags[1]->value, "");
	assert_true(r->has_force_overwrite_replica_secret);
	assert_false(r->force_overwrite_replica_secret);
	assert_int_equal(r->n_add_replica_regions, 1);
	assert_string_equal(r->add_replica_regions[0]->region, "eu-west-1");
	assert_null(r->add_replica_regions[0]->kms_key_id);
	/* same members, same order as the message declares them */
	enc_equals(&r->base, in);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static const char tricky[] =
    "h\xc3\xa9llo \"q\" \\ / \n\r\t\b\f\x01\x1f\x7f \xe2\x9c\x93 \xf0\x9f\x98\x80";
static const char tricky_json[] =
    "\"h\xc3\xa9llo \\\"q\\\" \\\\ / \\n\\r\\t\\b\\f\\u0001\\u001f\x7f \xe2\x9c\x93 "
    "\xf0\x9f\x98\x80\"";

static void test_get_secret_value_response(void **state)
{
	Coffer__GetSecretValueResponse r = COFFER__GET_SECRET_VALUE_RESPONSE__INIT, *b;
	static uint8_t bin[] = {0x00, 0x01, 0x02, 0xff, 0xfe};
	char *stages[] = {"AWSCURRENT", "AWSPREVIOUS"};
	char expect[1024];
	struct cf_status st;
	char *s;

	(void)state;
	r.arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
	r.name = "db";
	r.version_id = "v1";
	r.has_secret_binary = 1;
	r.secret_binary.data = bin;
	r.secret_binary.len = sizeof(bin);
	r.secret_string = (char *)tricky;
	r.n_version_stages = 2;
	r.version_stages = stages;
	r.has_created_date = 1;
	r.created_date = 1764351000.123;
	snprintf(expect, sizeof(expect),
	         "{\"ARN\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\","
	         "\"Name\":\"db\",\"VersionId\":\"v1\",\"SecretBinary\":\"AAEC//4=\","
	         "\"SecretString\":%s,\"VersionStages\":[\"AWSCURRENT\",\"AWSPREVIOUS\"],"
	         "\"CreatedDate\":1764351000.123}",
	         tricky_json);
	s = enc(&r.base);
	assert_string_equal(s, expect);

	/* and back */
	b = (Coffer__GetSecretValueResponse *)dec(&coffer__get_secret_value_response__descriptor, s,
	                                          &st);
	assert_non_null(b);
	assert_string_equal(b->arn, r.arn);
	assert_string_equal(b->secret_string, tricky);
	assert_true(b->has_secret_binary);
	assert_int_equal(b->secret_binary.len, sizeof(bin));
	assert_memory_equal(b->secret_binary.data, bin, sizeof(bin));
	assert_int_equal(b->n_version_stages, 2);
	assert_string_equal(b->version_stages[1], "AWSPREVIOUS");
	assert_true(b->has_created_date);
	assert_true(b->created_date == 1764351000.123);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	free(s);
}

static void test_describe_secret_map(void **state)
{
	Coffer__DescribeSecretResponse r = COFFER__DESCRIBE_SECRET_RESPONSE__INIT, *b;
	Coffer__VersionIdsToStagesEntry e1 = COFFER__VERSION_IDS_TO_STAGES_ENTRY__INIT;
	Coffer__VersionIdsToStagesEntry e2 = COFFER__VERSION_IDS_TO_STAGES_ENTRY__INIT;
	Coffer__VersionIdsToStagesEntry *entries[] = {&e1, &e2};
	Coffer__StageList l1 = COFFER__STAGE_LIST__INIT, l2 = COFFER__STAGE_LIST__INIT;
	Coffer__Tag t = COFFER__TAG__INIT, *tags[] = {&t};
	char *s1[] = {"AWSCURRENT"}, *s2[] = {"AWSPREVIOUS", "blue"};
	static const char expect[] =
	    "{\"ARN\":\"arn:x\",\"Name\":\"n\",\"RotationEnabled\":false,"
	    "\"LastChangedDate\":1700000000,\"Tags\":[{\"Key\":\"k\",\"Value\":\"v\"}],"
	    "\"VersionIdsToStages\":{\"v-1\":[\"AWSCURRENT\"],\"v-2\":[\"AWSPREVIOUS\",\"blue\"]},"
	    "\"CreatedDate\":1700000000.5}";
	struct cf_status st;
	char *s;

	(void)state;
	r.arn = "arn:x";
	r.name = "n";
	r.has_rotation_enabled = 1;
	r.has_last_changed_date = 1;
	r.last_changed_date = 1700000000.0;
	r.has_created_date = 1;
	r.created_date = 1700000000.5;
	t.key = "k";
	t.value = "v";
	r.n_tags = 1;
	r.tags = tags;
	l1.n_stages = 1, l1.stages = s1;
	l2.n_stages = 2, l2.stages = s2;
	e1.key = "v-1", e1.value = &l1;
	e2.key = "v-2", e2.value = &l2;
	r.n_version_ids_to_stages = 2;
	r.version_ids_to_stages = entries;
	s = enc(&r.base);
	assert_string_equal(s, expect);

	b = (Coffer__DescribeSecretResponse *)dec(&coffer__describe_secret_response__descriptor, s,
	                                          &st);
	assert_non_null(b);
	assert_int_equal(b->n_version_ids_to_stages, 2);
	assert_string_equal(b->version_ids_to_stages[0]->key, "v-1");
	assert_int_equal(b->version_ids_to_stages[0]->value->n_stages, 1);
	assert_string_equal(b->version_ids_to_stages[0]->value->stages[0], "AWSCURRENT");
	assert_string_equal(b->version_ids_to_stages[1]->key, "v-2");
	assert_int_equal(b->version_ids_to_stages[1]->value->n_stages, 2);
	assert_string_equal(b->version_ids_to_stages[1]->value->stages[1], "blue");
	assert_int_equal(b->n_tags, 1);
	assert_string_equal(b->tags[0]->value, "v");
	assert_true(b->has_rotation_enabled);
	assert_false(b->rotation_enabled);
	assert_true(b->created_date == 1700000000.5);
	assert_null(b->description);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	free(s);

	/* the map's value must be a bare array; the map itself an object */
	dec_fails(&coffer__describe_secret_response__descriptor,
	          "{\"VersionIdsToStages\":{\"v\":{\"Stages\":[]}}}", "VersionIdsToStages{}");
	dec_fails(&coffer__describe_secret_response__descriptor,
	          "{\"VersionIdsToStages\":[[\"AWSCURRENT\"]]}", "VersionIdsToStages");
}

static void test_always_present_lists(void **state)
{
	Coffer__ListSecretsResponse ls = COFFER__LIST_SECRETS_RESPONSE__INIT;
	Coffer__BatchGetSecretValueResponse bg = COFFER__BATCH_GET_SECRET_VALUE_RESPONSE__INIT;
	Coffer__ListSecretVersionIdsResponse lv = COFFER__LIST_SECRET_VERSION_IDS_RESPONSE__INIT;
	Coffer__TagResourceResponse tr = COFFER__TAG_RESOURCE_RESPONSE__INIT;
	Coffer__DescribeSecretResponse ds = COFFER__DESCRIBE_SECRET_RESPONSE__INIT;
	Coffer__ListSecretsRequest lr = COFFER__LIST_SECRETS_REQUEST__INIT;

	(void)state;
	enc_equals(&ls.base, "{\"SecretList\":[]}");
	enc_equals(&bg.base, "{\"SecretValues\":[],\"Errors\":[]}");
	enc_equals(&lv.base, "{\"Versions\":[]}");
	enc_equals(&tr.base, "{}");
	/* other empty lists and absent members are left out */
	enc_equals(&ds.base, "{}");
	enc_equals(&lr.base, "{}");
	ls.next_token = "t";
	enc_equals(&ls.base, "{\"SecretList\":[],\"NextToken\":\"t\"}");
}

static void test_numbers_out(void **state)
{
	Coffer__DeleteSecretResponse d = COFFER__DELETE_SECRET_RESPONSE__INIT;
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;

	(void)state;
	d.has_deletion_date = 1;
	d.deletion_date = 1764351000.1239;
	enc_equals(&d.base, "{\"DeletionDate\":1764351000.124}");
	d.deletion_date = 0.5;
	enc_equals(&d.base, "{\"DeletionDate\":0.5}");
	d.deletion_date = 1e20;
	enc_equals(&d.base, "{\"DeletionDate\":100000000000000000000}");
	d.deletion_date = -0.0001;
	enc_equals(&d.base, "{\"DeletionDate\":0}");
	l.has_max_results = 1;
	l.max_results = INT64_MIN;
	enc_equals(&l.base, "{\"MaxResults\":-9223372036854775808}");
}

/* ------------------------------------------------------------ requests */

static void test_unknown_and_null(void **state)
{
	Coffer__GetSecretValueRequest *g;
	Coffer__ListSecretsRequest *l;
	struct cf_status st;

	(void)state;
	g = (Coffer__GetSecretValueRequest *)dec(&coffer__get_secret_value_request__descriptor,
	                                         "{\"SecretId\":\"x\",\"Foo\":{\"a\":[1,2,{\"b\":"
	                                         "null}]},\"Bar\":null,\"VersionStage\":null,"
	                                         "\"secretId\":7,\"versionId\":true}",
	                                         &st);
	assert_non_null(g);
	assert_string_equal(g->secret_id, "x");
	assert_null(g->version_id);
	assert_null(g->version_stage);
	protobuf_c_message_free_unpacked(&g->base, NULL);

	l = (Coffer__ListSecretsRequest *)dec(
	    &coffer__list_secrets_request__descriptor,
	    "{\"MaxResults\":null,\"IncludePlannedDeletion\":null,\"Filters\":null}", &st);
	assert_non_null(l);
	assert_false(l->has_max_results);
	assert_false(l->has_include_planned_deletion);
	assert_int_equal(l->n_filters, 0);
	protobuf_c_message_free_unpacked(&l->base, NULL);

	/* integers: exact int64 limits and integral reals are accepted */
	l = (Coffer__ListSecretsRequest *)dec(
	    &coffer__list_secrets_request__descriptor,
	    "{\"MaxResults\":9223372036854775807,\"IncludePlannedDeletion\":true,"
	    "\"Filters\":[{\"Key\":\"name\",\"Values\":[\"a\",\"!b\"]}],\"SortOrder\":\"asc\"}",
	    &st);
	assert_non_null(l);
	assert_true(l->has_max_results);
	assert_true(l->max_results == INT64_MAX);
	assert_true(l->include_planned_deletion);
	assert_int_equal(l->n_filters, 1);
	assert_string_equal(l->filters[0]->values[1], "!b");
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = (Coffer__ListSecretsRequest *)dec(&coffer__list_secrets_request__descriptor,
	                                      "{\"MaxResults\":10.0}", &st);
	assert_non_null(l);
	assert_true(l->max_results == 10);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = (Coffer__ListSecretsRequest *)dec(&coffer__list_secrets_request__descriptor,
	                                      "{\"MaxResults\":-9223372036854775808}", &st);
	assert_non_null(l);
	assert_true(l->max_results == INT64_MIN);
	protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void test_empty_body(void **state)
{
	struct secbuf packed = {0};
	struct cf_status st;
	Coffer__ListSecretsRequest *l;

	(void)state;
	assert_int_equal(
	    awsjson_decode(&coffer__list_secrets_request__descriptor, NULL, 0, &packed, &st), 0);
	assert_int_equal(packed.len, 0);
	secbuf_free(&packed);
	l = (Coffer__ListSecretsRequest *)dec(&coffer__list_secrets_request__descriptor, " {} \r\n",
	                                      &st);
	assert_non_null(l);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	dec_fails(&coffer__list_secrets_request__descriptor, " ", NULL);
}

static void test_wrong_types(void **state)
{
	(void)state;
	dec_fails(&coffer__delete_secret_request__descriptor,
	          "{\"ForceDeleteWithoutRecovery\":\"true\"}", "ForceDeleteWithoutRecovery");
	dec_fails(&coffer__delete_secret_request__descriptor, "{\"ForceDeleteWithoutRecovery\":1}",
	          "ForceDeleteWithoutRecovery");
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":{}}", "SecretId");
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":[\"x\"]}",
	          "SecretId");
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":5}", "SecretId");
	dec_fails(&coffer__list_secrets_request__descriptor, "{\"MaxResults\":9223372036854775808}",
	          "MaxResults");
	dec_fails(&coffer__list_secrets_request__descriptor,
	          "{\"MaxResults\":-9223372036854775809}", "MaxResults");
	dec_fails(&coffer__list_secrets_request__descriptor,
	          "{\"Foo\":99999999999999999999,\"MaxResults\":9007199254740993}", "MaxResults");
	dec_fails(&coffer__list_secrets_request__descriptor, "{\"MaxResults\":1e19}", "MaxResults");
	dec_fails(&coffer__list_secrets_request__descriptor, "{\"MaxResults\":1.5}", "MaxResults");
	dec_fails(&coffer__list_secrets_request__descriptor, "{\"MaxResults\":\"10\"}",
	          "MaxResults");
	dec_fails(&coffer__list_secrets_request__descriptor,
	          "{\"Filters\":[{\"Key\":\"name\",\"Values\":[\"a\",2]}]}",
	          "Filters[0].Values[1]");
	dec_fails(&coffer__list_secrets_request__descriptor, "{\"Filters\":{}}", "Filters");
	dec_fails(&coffer__create_secret_request__descriptor, "{\"Tags\":[{\"Key\":1}]}",
	          "Tags[0].Key");
	dec_fails(&coffer__create_secret_request__descriptor, "{\"Tags\":[\"k\"]}", "Tags[0]");
	dec_fails(&coffer__create_secret_request__descriptor, "{\"Tags\":[null]}", "Tags[0]");
	dec_fails(&coffer__untag_resource_request__descriptor, "{\"TagKeys\":\"k\"}", "TagKeys");
	dec_fails(&coffer__rotate_secret_request__descriptor,
	          "{\"RotationRules\":{\"AutomaticallyAfterDays\":true}}",
	          "RotationRules.AutomaticallyAfterDays");
	dec_fails(&coffer__rotate_secret_request__descriptor, "{\"RotationRules\":[]}",
	          "RotationRules");
	/* unsigned members (RPC envelope): no negatives */
	dec_fails(&coffer__envelope__descriptor, "{\"CallId\":-1}", "CallId");
	dec_fails(&coffer__envelope__descriptor, "{\"CallId\":-1.0}", "CallId");
	dec_fails(&coffer__envelope__descriptor, "{\"Auth\":{\"Region\":false}}", "Auth.Region");
}

static void test_base64(void **state)
{
	static const char *bad[] = {"abc",   "ab=c",  "a===", "AB==", "AAB=", "Zm9v\n",
	                            " Zm9v", "Zm9v=", "Zm=v", "Zm-_", "====", "Zg==Zg=="};
	static const struct {
		const char *b64;
		const char *raw;
	} good[] = {
	    {"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"}, {"Zm9vdGVzdA==", "footest"}};
	Coffer__PutSecretValueRequest *p;
	struct cf_status st;
	char json[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"SecretBinary\":\"%s\"}", bad[i]);
		if (strchr(bad[i], '\n') != NULL)
			snprintf(json, sizeof(json), "{\"SecretBinary\":\"Zm9v\\n\"}");
		dec_fails(&coffer__put_secret_value_request__descriptor, json, "SecretBinary");
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json), "{\"SecretBinary\":\"%s\"}", good[i].b64);
		p = (Coffer__PutSecretValueRequest *)dec(
		    &coffer__put_secret_value_request__descriptor, json, &st);
		assert_non_null(p);
		assert_true(p->has_secret_binary);
		assert_int_equal(p->secret_binary.len, strlen(good[i].raw));
		if (p->secret_binary.len > 0)
			assert_memory_equal(p->secret_binary.data, good[i].raw,
			                    p->secret_binary.len);
		enc_equals(&p->base, json);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	/* the error never quotes the value */
	assert_null(dec(&coffer__put_secret_value_request__descriptor,
	                "{\"SecretString\":\"hunter2\",\"SecretBinary\":\"hunter2!\"}", &st));
	assert_null(strstr(st.message, "hunter2"));
}

static void test_malformed(void **state)
{
	struct cf_status st;
	char deep[4096];
	int i, n;

	(void)state;
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"x\"} x", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"x\"}{}", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"x\"", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"x\",}", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "[]", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "\"x\"", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "null", NULL);
	/* duplicates are refused: no doubt about which value was checked */
	dec_fails(&coffer__get_secret_value_request__descriptor,
	          "{\"SecretId\":\"a\",\"SecretId\":\"b\"}", NULL);
	/* strings: invalid UTF-8, surrogates, NUL */
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"\xff\"}", NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"\xed\xa0\x80\"}",
	          NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"\\ud800\"}",
	          NULL);
	dec_fails(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"a\\u0000b\"}",
	          NULL);
	assert_null(dec_len(&coffer__get_secret_value_request__descriptor, "{\"SecretId\":\"a\0\"}",
	                    17, &st));
	assert_string_equal(st.type, SER);
	/* a surrogate pair escape is fine */
	{
		Coffer__GetSecretValueRequest *g = (Coffer__GetSecretValueRequest *)dec(
		    &coffer__get_secret_value_request__descriptor,
		    "{\"SecretId\":\"\\ud83d\\ude00\"}", &st);
		assert_non_null(g);
		assert_string_equal(g->secret_id, "\xf0\x9f\x98\x80");
		protobuf_c_message_free_unpacked(&g->base, NULL);
	}

	/* depth: the object plus 15 arrays is fine, 16 arrays are not */
	for (n = 15; n <= 16; n++) {
		char *p = deep;
		ProtobufCMessage *m;

		p += sprintf(p, "{\"Unknown\":");
		for (i = 0; i < n; i++)
			*p++ = '[';
		for (i = 0; i < n; i++)
			*p++ = ']';
		strcpy(p, "}");
		m = dec(&coffer__get_secret_value_request__descriptor, deep, &st);
		if (n == 15) {
			assert_non_null(m);
			protobuf_c_message_free_unpacked(m, NULL);
		} else {
			assert_null(m);
			assert_string_equal(st.type, SER);
		}
	}
	/* brackets inside strings do not count */
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"SecretId\":\"");
	memset(deep + strlen(deep), '[', 100);
	strcat(deep, "\\\"{\"}");
	{
		Coffer__GetSecretValueRequest *g = (Coffer__GetSecretValueRequest *)dec(
		    &coffer__get_secret_value_request__descriptor, deep, &st);
		assert_non_null(g);
		assert_int_equal(strlen(g->secret_id), 102);
		protobuf_c_message_free_unpacked(&g->base, NULL);
	}
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	dec_fails(&coffer__get_secret_value_request__descriptor, deep, NULL);
}

static void test_encode_errors(void **state)
{
	Coffer__GetSecretValueResponse r = COFFER__GET_SECRET_VALUE_RESPONSE__INIT;
	Coffer__DeleteSecretResponse d = COFFER__DELETE_SECRET_RESPONSE__INIT;
	static const uint8_t junk[] = {0x0a, 0x05, 'a'};
	struct secbuf packed = {0}, json = {0};

	(void)state;
	assert_int_equal(awsjson_encode(&coffer__get_secret_value_response__descriptor, junk,
	                                sizeof(junk), &json),
	                 CF_EPROTO);
	assert_null(json.data);
	r.secret_string = "ok \xc0\xaf overlong";
	assert_int_equal(secmem_pb_pack(&r.base, &packed), 0);
	assert_int_equal(awsjson_encode(r.base.descriptor, packed.data, packed.len, &json),
	                 CF_EPROTO);
	assert_null(json.data);
	secbuf_free(&packed);
	d.has_deletion_date = 1;
	d.deletion_date = INFINITY;
	assert_int_equal(secmem_pb_pack(&d.base, &packed), 0);
	assert_int_equal(awsjson_encode(d.base.descriptor, packed.data, packed.len, &json),
	                 CF_EPROTO);
	secbuf_free(&packed);
}

static void test_error_body(void **state)
{
	struct secbuf json = {0};

	(void)state;
	assert_int_equal(
	    awsjson_error("ResourceNotFoundException", "secret 'a\"b' not found\n\xff", &json), 0);
	assert_int_equal(json.len, strlen((char *)json.data));
	assert_string_equal((char *)json.data,
	                    "{\"__type\":\"ResourceNotFoundException\","
	                    "\"Message\":\"secret 'a\\\"b' not found\\n\xef\xbf\xbd\"}");
	secbuf_free(&json);
}

static void test_large_value(void **state)
{
	Coffer__PutSecretValueRequest r = COFFER__PUT_SECRET_VALUE_REQUEST__INIT, *b;
	struct cf_status st;
	size_t n = 70000, i;
	char *v = malloc(n + 1), *s;

	(void)state;
	for (i = 0; i < n; i++)
		v[i] = (char)(i % 31 == 0 ? '\n' : 'a' + i % 26);
	v[n] = '\0';
	r.secret_string = v;
	s = enc(&r.base);
	b = (Coffer__PutSecretValueRequest *)dec(&coffer__put_secret_value_request__descriptor, s,
	                                         &st);
	assert_non_null(b);
	assert_string_equal(b->secret_string, v);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	free(s);
	free(v);
}

/* ------------------------------------------------------------ member names */

/* For each message of the AWS operations, its members' AWS names in field
 * order (from the API reference). */
static const struct {
	const ProtobufCMessageDescriptor *desc;
	const char *names;
} aws_names[] = {
    {&coffer__tag__descriptor, "Key Value"},
    {&coffer__create_secret_request__descriptor,
     "Name ClientRequestToken Description KmsKeyId SecretBinary SecretString Tags "
     "ForceOverwriteReplicaSecret Type AddReplicaRegions"},
    {&coffer__create_secret_response__descriptor, "ARN Name VersionId ReplicationStatus"},
    {&coffer__get_secret_value_request__descriptor, "SecretId VersionId VersionStage"},
    {&coffer__get_secret_value_response__descriptor,
     "ARN Name VersionId SecretBinary SecretString VersionStages CreatedDate"},
    {&coffer__put_secret_value_request__descriptor,
     "SecretId ClientRequestToken SecretBinary SecretString VersionStages RotationToken"},
    {&coffer__put_secret_value_response__descriptor, "ARN Name VersionId VersionStages"},
    {&coffer__update_secret_request__descriptor,
     "SecretId ClientRequestToken Description KmsKeyId SecretBinary SecretString Type"},
    {&coffer__update_secret_response__descriptor, "ARN Name VersionId"},
    {&coffer__describe_secret_request__descriptor, "SecretId"},
    {&coffer__describe_secret_response__descriptor,
     "ARN Name Description KmsKeyId RotationEnabled LastChangedDate LastAccessedDate DeletedDate "
     "Tags VersionIdsToStages CreatedDate PrimaryRegion Type"},
    {&coffer__filter__descriptor, "Key Values"},
    {&coffer__secret_list_entry__descriptor,
     "ARN Name Description KmsKeyId RotationEnabled LastChangedDate LastAccessedDate DeletedDate "
     "Tags SecretVersionsToStages CreatedDate PrimaryRegion Type"},
    {&coffer__list_secrets_request__descriptor,
     "IncludePlannedDeletion MaxResults NextToken Filters SortOrder SortBy"},
    {&coffer__list_secrets_response__descriptor, "SecretList NextToken"},
    {&coffer__list_secret_version_ids_request__descriptor,
     "SecretId MaxResults NextToken IncludeDeprecated"},
    {&coffer__secret_versions_list_entry__descriptor,
     "VersionId VersionStages LastAccessedDate CreatedDate KmsKeyIds"},
    {&coffer__list_secret_version_ids_response__descriptor, "Versions NextToken ARN Name"},
    {&coffer__update_secret_version_stage_request__descriptor,
     "SecretId VersionStage RemoveFromVersionId MoveToVersionId"},
    {&coffer__update_secret_version_stage_response__descriptor, "ARN Name"},
    {&coffer__delete_secret_request__descriptor,
     "SecretId RecoveryWindowInDays ForceDeleteWithoutRecovery"},
    {&coffer__delete_secret_response__descriptor, "ARN Name DeletionDate"},
    {&coffer__restore_secret_request__descriptor, "SecretId"},
    {&coffer__restore_secret_response__descriptor, "ARN Name"},
    {&coffer__tag_resource_request__descriptor, "SecretId Tags"},
    {&coffer__tag_resource_response__descriptor, ""},
    {&coffer__untag_resource_request__descriptor, "SecretId TagKeys"},
    {&coffer__untag_resource_response__descriptor, ""},
    {&coffer__get_random_password_request__descriptor,
     "PasswordLength ExcludeCharacters ExcludeNumbers ExcludePunctuation ExcludeUppercase "
     "ExcludeLowercase IncludeSpace RequireEachIncludedType"},
    {&coffer__get_random_password_response__descriptor, "RandomPassword"},
    {&coffer__batch_get_secret_value_request__descriptor,
     "SecretIdList Filters MaxResults NextToken"},
    {&coffer__secret_value_entry__descriptor,
     "ARN Name VersionId SecretBinary SecretString VersionStages CreatedDate"},
    {&coffer__apierror_type__descriptor, "SecretId ErrorCode Message"},
    {&coffer__batch_get_secret_value_response__descriptor, "SecretValues NextToken Errors"},
    {&coffer__rotation_rules_type__descriptor,
     "AutomaticallyAfterDays Duration ScheduleExpression"},
    {&coffer__rotate_secret_request__descriptor,
     "SecretId ClientRequestToken RotationLambdaARN RotationRules RotateImmediately"},
    {&coffer__rotate_secret_response__descriptor, "ARN Name VersionId"},
    {&coffer__cancel_rotate_secret_request__descriptor, "SecretId"},
    {&coffer__cancel_rotate_secret_response__descriptor, "ARN Name VersionId"},
    {&coffer__put_resource_policy_request__descriptor, "SecretId ResourcePolicy BlockPublicPolicy"},
    {&coffer__put_resource_policy_response__descriptor, "ARN Name"},
    {&coffer__get_resource_policy_request__descriptor, "SecretId"},
    {&coffer__get_resource_policy_response__descriptor, "ARN Name ResourcePolicy"},
    {&coffer__delete_resource_policy_request__descriptor, "SecretId"},
    {&coffer__delete_resource_policy_response__descriptor, "ARN Name"},
    {&coffer__validation_errors_entry__descriptor, "CheckName ErrorMessage"},
    {&coffer__validate_resource_policy_request__descriptor, "SecretId ResourcePolicy"},
    {&coffer__validate_resource_policy_response__descriptor,
     "PolicyValidationPassed ValidationErrors"},
    {&coffer__replica_region_type__descriptor, "Region KmsKeyId"},
    {&coffer__replication_status_type__descriptor,
     "Region KmsKeyId Status StatusMessage LastAccessedDate"},
    {&coffer__replicate_secret_to_regions_request__descriptor,
     "SecretId AddReplicaRegions ForceOverwriteReplicaSecret"},
    {&coffer__replicate_secret_to_regions_response__descriptor, "ARN ReplicationStatus"},
    {&coffer__remove_regions_from_replication_request__descriptor, "SecretId RemoveReplicaRegions"},
    {&coffer__remove_regions_from_replication_response__descriptor, "ARN ReplicationStatus"},
    {&coffer__stop_replication_to_replica_request__descriptor, "SecretId"},
    {&coffer__stop_replication_to_replica_response__descriptor, "ARN"},
};

static void test_member_names_table(void **state)
{
	char names[512], got[128], *tok, *save;
	size_t i;
	unsigned f;

	(void)state;
	for (i = 0; i < sizeof(aws_names) / sizeof(aws_names[0]); i++) {
		const ProtobufCMessageDescriptor *d = aws_names[i].desc;

		snprintf(names, sizeof(names), "%s", aws_names[i].names);
		tok = strtok_r(names, " ", &save);
		for (f = 0; f < d->n_fields; f++) {
			size_t fl = strlen(d->fields[f].name);

			/* presence markers are never members (aws/json.h) */
			if (fl > 8 && strcmp(d->fields[f].name + fl - 8, "_present") == 0)
				continue;
			if (tok == NULL)
				fail_msg("%s: field '%s' has no expected name", d->name,
				         d->fields[f].name);
			assert_int_equal(awsjson_member_name(d->fields[f].name, got, sizeof(got)),
			                 0);
			if (strcmp(got, tok) != 0)
				fail_msg("%s.%s: got '%s', AWS says '%s'", d->name,
				         d->fields[f].name, got, tok);
			tok = strtok_r(NULL, " ", &save);
		}
		if (tok != NULL)
			fail_msg("%s: expected member '%s' missing", d->name, tok);
	}
}

static void test_member_name_rules(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(awsjson_member_name("arn", out, sizeof(out)), 0);
	assert_string_equal(out, "ARN");
	assert_int_equal(awsjson_member_name("rotation_lambda_arn", out, sizeof(out)), 0);
	assert_string_equal(out, "RotationLambdaARN");
	assert_int_equal(awsjson_member_name("external_secret_rotation_role_arn", out, sizeof(out)),
	                 0);
	assert_string_equal(out, "ExternalSecretRotationRoleArn");
	assert_int_equal(awsjson_member_name("kms_key_ids", out, sizeof(out)), 0);
	assert_string_equal(out, "KmsKeyIds");
	assert_int_equal(awsjson_member_name("secret_versions_to_stages", out, sizeof(out)), 0);
	assert_string_equal(out, "SecretVersionsToStages");
	assert_int_equal(awsjson_member_name("secret_string", out, sizeof(out)), 0);
	assert_string_equal(out, "SecretString");
	assert_int_equal(awsjson_member_name("secret_string", out, 13), 0);
	assert_int_equal(awsjson_member_name("secret_string", out, 12), CF_ETOOBIG);
	assert_int_equal(awsjson_member_name("arn", out, 3), CF_ETOOBIG);
	assert_int_equal(awsjson_member_name("arn", out, 4), 0);

	/* the names drive decoding: "ARN" is read, "Arn" is not */
	{
		struct cf_status st;
		Coffer__RestoreSecretResponse *r = (Coffer__RestoreSecretResponse *)dec(
		    &coffer__restore_secret_response__descriptor, "{\"Arn\":\"a\",\"Name\":\"n\"}",
		    &st);

		assert_non_null(r);
		assert_null(r->arn);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		r = (Coffer__RestoreSecretResponse *)dec(
		    &coffer__restore_secret_response__descriptor, "{\"ARN\":\"a\"}", &st);
		assert_non_null(r);
		assert_string_equal(r->arn, "a");
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_secret_request),
	    cmocka_unit_test(test_get_secret_value_response),
	    cmocka_unit_test(test_describe_secret_map),
	    cmocka_unit_test(test_always_present_lists),
	    cmocka_unit_test(test_presence_marker),
	    cmocka_unit_test(test_numbers_out),
	    cmocka_unit_test(test_unknown_and_null),
	    cmocka_unit_test(test_empty_body),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_encode_errors),
	    cmocka_unit_test(test_error_body),
	    cmocka_unit_test(test_large_value),
	    cmocka_unit_test(test_member_names_table),
	    cmocka_unit_test(test_member_name_rules),
	};

	/* without the secure heap every block is malloc'ed: LeakSanitizer sees it */
	if (getenv("JSON_TEST_MALLOC") == NULL)
		secmem_init(1u << 20);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
