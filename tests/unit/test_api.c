/*
 * api: every operation end to end on one node without raft: request bytes
 * -> api_prepare -> fsm_apply -> api_finish (writes) or api_read (reads),
 * with a real keyring (fixed root key). A plaintext canary is checked to be
 * absent from every command, result and snapshot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "coffer.pb-c.h"
#include "fsm.pb-c.h"
#include "fsm/fsm.h"
#include "fsm/result.h"
#include "kms/kms.h"
#include "store/touch.h"
#include "util/secmem.h"

#define CANARY "canary-PLAINTEXT-7f3a9c"
#define DAY (24LL * 3600 * 1000)
#define T0 1700000000000LL
#define TOK(i) tok(i)
#define MSG_NO_TOKEN \
	"You must provide a ClientRequestToken value. We recommend a UUID-type value."
#define MSG_DELETED \
	"You can't perform this operation on the secret because it was marked for deletion."

struct env {
	struct fsm *fsm;
	struct keyring *kr;
	struct api_ctx ctx;
};

static const char *tok(int i)
{
	static char b[16][40];
	static int slot;
	char *p = b[slot++ & 15];

	snprintf(p, 40, "%08x-1111-4222-8333-444444444444", i);
	return p;
}

static void no_canary(const void *buf, size_t n)
{
	if (buf && memmem(buf, n, CANARY, strlen(CANARY)))
		fail_msg("plaintext canary leaked into a command/result/snapshot");
}

static void result_no_canary(const struct fsm_result *r)
{
	no_canary(r, sizeof(*r));
	no_canary(r->status.message, strnlen(r->status.message, sizeof(r->status.message)));
	if (r->arn)
		no_canary(r->arn, strlen(r->arn));
	if (r->version_id)
		no_canary(r->version_id, strlen(r->version_id));
}

/* Run one operation; returns the reply (caller releases). */
static struct api_reply call(struct env *e, const char *opname, const ProtobufCMessage *req)
{
	const struct api_op *op = api_find(opname);
	struct api_reply out;
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(n + 1), *cmd = NULL;
	size_t cmd_len = 0;
	void *res = NULL;

	assert_non_null(op);
	protobuf_c_message_pack(req, buf);
	if (op->kind == API_READ) {
		assert_int_equal(api_read(op, &e->ctx, buf, n, &out), 0);
	} else {
		assert_int_equal(api_prepare(op, &e->ctx, buf, n, &cmd, &cmd_len, &out), 0);
		if (cmd) {
			no_canary(cmd, cmd_len);
			assert_int_equal(fsm_apply(e->fsm, cmd, cmd_len, &res), 0);
			free(cmd);
			result_no_canary(res);
			api_reply_release(&out);
			assert_int_equal(api_finish(op, &e->ctx, res, &out), 0);
			fsm_result_free(res);
		}
	}
	free(buf);
	return out;
}

static void expect_error(struct api_reply *r, const char *type, const char *msg)
{
	if (strcmp(r->status.type, type) != 0)
		fail_msg("expected %s, got '%s': %s", type, r->status.type, r->status.message);
	if (msg && strcmp(r->status.message, msg) != 0)
		fail_msg("message '%s' != '%s'", r->status.message, msg);
	api_reply_release(r);
}

static void *expect_ok(struct api_reply *r, const char *opname)
{
	const struct api_op *op = api_find(opname);
	void *m;

	if (!cf_status_ok(&r->status))
		fail_msg("%s failed: %s: %s", opname, r->status.type, r->status.message);
	m = protobuf_c_message_unpack(op->response, NULL, r->payload.len, r->payload.data);
	assert_non_null(m);
	api_reply_release(r);
	return m;
}

static void expect_ok_free(struct api_reply *r, const char *opname)
{
	ProtobufCMessage *m = expect_ok(r, opname);

	protobuf_c_message_free_unpacked(m, NULL);
}

static void housekeeping(struct env *e)
{
	uint8_t *cmd;
	size_t n;
	void *res;

	assert_int_equal(api_housekeeping(&e->ctx, &cmd, &n), 0);
	if (cmd == NULL)
		return;
	assert_int_equal(fsm_apply(e->fsm, cmd, n, &res), 0);
	assert_true(cf_status_ok(&((struct fsm_result *)res)->status));
	fsm_result_free(res);
	free(cmd);
}

static int setup(void **state)
{
	static const uint8_t root[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	struct env *e = calloc(1, sizeof(*e));

	secmem_init(1 << 20);
	if (keyring_open_mem(root, &e->kr) != 0)
		return -1;
	e->fsm = fsm_new("us-east-1");
	e->ctx = (struct api_ctx){e->fsm, e->kr, "us-east-1", "000000000000", T0};
	*state = e;
	return 0;
}

static int setup_ready(void **state)
{
	int rv = setup(state);

	housekeeping(*state);
	return rv;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fsm_free(e->fsm);
	keyring_free(e->kr);
	free(e);
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static char *create(struct env *e, const char *name, const char *value, const char *token)
{
	Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
	Coffer__CreateSecretResponse *r;
	struct api_reply rep;
	char *arn;

	q.name = (char *)name;
	q.secret_string = (char *)value;
	q.client_request_token = (char *)token;
	rep = call(e, "CreateSecret", &q.base);
	r = expect_ok(&rep, "CreateSecret");
	arn = strdup(r->arn);
	coffer__create_secret_response__free_unpacked(r, NULL);
	return arn;
}

static struct api_reply put(struct env *e, const char *id, const char *value, const char *token,
			    char **stages, size_t n)
{
	Coffer__PutSecretValueRequest q = COFFER__PUT_SECRET_VALUE_REQUEST__INIT;

	q.secret_id = (char *)id;
	q.secret_string = (char *)value;
	q.client_request_token = (char *)token;
	q.version_stages = stages;
	q.n_version_stages = n;
	return call(e, "PutSecretValue", &q.base);
}

static struct api_reply get(struct env *e, const char *id, const char *vid, const char *stage)
{
	Coffer__GetSecretValueRequest q = COFFER__GET_SECRET_VALUE_REQUEST__INIT;

	q.secret_id = (char *)id;
	q.version_id = (char *)vid;
	q.version_stage = (char *)stage;
	return call(e, "GetSecretValue", &q.base);
}

static void expect_secret(struct env *e, const char *id, const char *stage, const char *value)
{
	struct api_reply rep = get(e, id, NULL, stage);
	Coffer__GetSecretValueResponse *r = expect_ok(&rep, "GetSecretValue");

	assert_non_null(r->secret_string);
	assert_string_equal(r->secret_string, value);
	coffer__get_secret_value_response__free_unpacked(r, NULL);
}

static struct api_reply simple(struct env *e, const char *opname, const char *id)
{
	Coffer__DescribeSecretRequest q = COFFER__DESCRIBE_SECRET_REQUEST__INIT;
	const struct api_op *op = api_find(opname);
	ProtobufCMessage *m;
	struct api_reply rep;
	uint8_t buf[4200];
	size_t n;

	/* every "SecretId only" request has secret_id as field 1 */
	q.secret_id = (char *)id;
	n = protobuf_c_message_pack(&q.base, buf);
	m = protobuf_c_message_unpack(op->request, NULL, n, buf);
	rep = call(e, opname, m);
	protobuf_c_message_free_unpacked(m, NULL);
	return rep;
}

/* ---------------------------------------------------------------- tests */

static void test_keyring_not_ready(void **state)
{
	struct env *e = *state;
	Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
	struct api_reply rep;

	q.name = "x";
	q.secret_string = CANARY;
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "InternalServiceError", "keyring not ready");
	housekeeping(e);
	free(create(e, "x", CANARY, TOK(1)));
	/* a second housekeeping has nothing to do */
	{
		uint8_t *cmd;
		size_t n;

		assert_int_equal(api_housekeeping(&e->ctx, &cmd, &n), 0);
		assert_null(cmd);
	}
}

static void test_create_get_describe(void **state)
{
	struct env *e = *state;
	Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
	Coffer__DescribeSecretResponse *d;
	Coffer__GetSecretValueResponse *g;
	struct api_reply rep;
	char *arn = create(e, "app/db", CANARY, TOK(1)), partial[600];

	assert_int_equal(strlen(arn), strlen("arn:aws:secretsmanager:us-east-1:000000000000:"
					     "secret:app/db-") + 6);
	assert_true(strncmp(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-",
			    60) == 0);
	expect_secret(e, "app/db", NULL, CANARY);
	expect_secret(e, arn, "AWSCURRENT", CANARY);
	snprintf(partial, sizeof(partial), "%.*s", (int)strlen(arn) - 7, arn);
	expect_secret(e, partial, NULL, CANARY);

	rep = get(e, "app/db", TOK(1), NULL);
	g = expect_ok(&rep, "GetSecretValue");
	assert_string_equal(g->version_id, TOK(1));
	assert_int_equal(g->n_version_stages, 1);
	assert_string_equal(g->version_stages[0], "AWSCURRENT");
	assert_true(g->has_created_date && g->created_date == T0 / 1000.0);
	assert_string_equal(g->arn, arn);
	coffer__get_secret_value_response__free_unpacked(g, NULL);

	rep = get(e, "app/db", NULL, "AWSPREVIOUS");
	expect_error(&rep, "ResourceNotFoundException",
		     "Secrets Manager can't find the specified secret value for staging label: "
		     "AWSPREVIOUS");
	rep = get(e, "app/db", TOK(9), NULL);
	expect_error(&rep, "ResourceNotFoundException",
		     "Secrets Manager can't find the specified secret value for VersionId: "
		     "00000009-1111-4222-8333-444444444444");
	rep = get(e, "app/db", TOK(1), "AWSPENDING");
	expect_error(&rep, "InvalidRequestException",
		     "You provided a VersionStage that is not associated to the provided "
		     "VersionId.");
	rep = get(e, "nope", NULL, NULL);
	expect_error(&rep, "ResourceNotFoundException",
		     "Secrets Manager can't find the specified secret.");
	rep = get(e, "bad name!", NULL, NULL);
	expect_error(&rep, "ValidationException",
		     "Invalid name. Must be a valid name containing alphanumeric characters, or "
		     "any of the following: -/_+=.@!");

	rep = simple(e, "DescribeSecret", "app/db");
	d = expect_ok(&rep, "DescribeSecret");
	assert_string_equal(d->name, "app/db");
	assert_null(d->kms_key_id); /* default key omitted */
	assert_null(d->description);
	assert_false(d->has_deleted_date);
	assert_int_equal(d->n_version_ids_to_stages, 1);
	assert_string_equal(d->version_ids_to_stages[0]->key, TOK(1));
	coffer__describe_secret_response__free_unpacked(d, NULL);

	/* binary value, and a secret without a value */
	{
		uint8_t bin[3] = {0, 0xff, 7};
		Coffer__CreateSecretResponse *c;

		q.name = "bin";
		q.client_request_token = (char *)TOK(2);
		q.has_secret_binary = 1;
		q.secret_binary.data = bin;
		q.secret_binary.len = 3;
		rep = call(e, "CreateSecret", &q.base);
		c = expect_ok(&rep, "CreateSecret");
		assert_non_null(c->version_id);
		coffer__create_secret_response__free_unpacked(c, NULL);
		rep = get(e, "bin", NULL, NULL);
		g = expect_ok(&rep, "GetSecretValue");
		assert_true(g->has_secret_binary);
		assert_null(g->secret_string);
		assert_int_equal(g->secret_binary.len, 3);
		assert_memory_equal(g->secret_binary.data, bin, 3);
		coffer__get_secret_value_response__free_unpacked(g, NULL);

		coffer__create_secret_request__init(&q);
		q.name = "empty";
		q.description = "no value yet";
		rep = call(e, "CreateSecret", &q.base);
		c = expect_ok(&rep, "CreateSecret");
		assert_null(c->version_id);
		coffer__create_secret_response__free_unpacked(c, NULL);
		rep = get(e, "empty", NULL, NULL);
		expect_error(&rep, "ResourceNotFoundException",
			     "Secrets Manager can't find the specified secret value for staging "
			     "label: AWSCURRENT");
	}
	free(arn);
}

static void test_create_errors(void **state)
{
	struct env *e = *state;
	Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
	uint8_t bin[1] = {1};
	struct api_reply rep;
	char *big;

	q.name = "a";
	q.secret_string = "s";
	q.has_secret_binary = 1;
	q.secret_binary.data = bin;
	q.secret_binary.len = 1;
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "InvalidParameterException",
		     "You can't specify both a binary secret value and a string secret value in "
		     "the same secret.");
	q.has_secret_binary = 0;
	q.client_request_token = "short";
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "ValidationException", NULL);
	q.client_request_token = NULL;
	q.kms_key_id = "alias/my-own-key";
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "InvalidParameterException", NULL);
	q.kms_key_id = "alias/aws/secretsmanager";
	q.name = "with space";
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "ValidationException", NULL);
	q.name = NULL;
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "ValidationException", NULL);
	/* 64 KiB cap: the message must not echo the value */
	big = malloc(65538);
	memset(big, 'c', 65537);
	memcpy(big, CANARY, strlen(CANARY));
	big[65537] = '\0';
	q.name = "big";
	q.secret_string = big;
	q.client_request_token = (char *)TOK(3);
	rep = call(e, "CreateSecret", &q.base);
	no_canary(rep.status.message, strlen(rep.status.message));
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'secretString' failed to satisfy "
		     "constraint: Member must have length less than or equal to 65536");
	big[65536] = '\0';
	q.secret_string = big;
	rep = call(e, "CreateSecret", &q.base);
	api_reply_release(&rep);
	expect_secret(e, "big", NULL, big);
	free(big);
	/* name taken */
	free(create(e, "dup", "v", TOK(1)));
	q.name = "dup";
	q.secret_string = "v";
	q.kms_key_id = NULL;
	q.client_request_token = (char *)TOK(4);
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "ResourceExistsException",
		     "The operation failed because the secret dup already exists.");
	/* undecodable request */
	{
		const struct api_op *op = api_find("CreateSecret");
		const uint8_t junk[] = {0xff, 0xff, 0xff};
		uint8_t *cmd;
		size_t n;

		assert_int_equal(api_prepare(op, &e->ctx, junk, 3, &cmd, &n, &rep), 0);
		assert_null(cmd);
		expect_error(&rep, "SerializationException", "could not decode the request");
	}
	assert_null(api_find("NoSuchOperation"));
}

static void test_put_labels_replay(void **state)
{
	struct env *e = *state;
	Coffer__PutSecretValueResponse *p;
	Coffer__UpdateSecretRequest u = COFFER__UPDATE_SECRET_REQUEST__INIT;
	Coffer__UpdateSecretResponse *ur;
	Coffer__UpdateSecretVersionStageRequest s = COFFER__UPDATE_SECRET_VERSION_STAGE_REQUEST__INIT;
	char *pending[] = {"AWSPENDING"};
	struct api_reply rep;
	char *arn = create(e, "p", "v1", TOK(1));
	uint64_t rev;

	rep = put(e, "p", "v2-" CANARY, TOK(2), NULL, 0);
	p = expect_ok(&rep, "PutSecretValue");
	assert_string_equal(p->version_id, TOK(2));
	assert_int_equal(p->n_version_stages, 1);
	assert_string_equal(p->version_stages[0], "AWSCURRENT");
	coffer__put_secret_value_response__free_unpacked(p, NULL);
	expect_secret(e, "p", NULL, "v2-" CANARY);
	expect_secret(e, "p", "AWSPREVIOUS", "v1");

	/* replay: same token, same value -> same version, no new one */
	rev = fsm_revision(e->fsm);
	rep = put(e, arn, "v2-" CANARY, TOK(2), NULL, 0);
	p = expect_ok(&rep, "PutSecretValue");
	assert_string_equal(p->version_id, TOK(2));
	coffer__put_secret_value_response__free_unpacked(p, NULL);
	assert_int_equal(fsm_revision(e->fsm), rev + 1);
	assert_int_equal(store_find_name(fsm_store(e->fsm), "p")->n_versions, 2);
	rep = put(e, arn, "other", TOK(2), NULL, 0);
	expect_error(&rep, "ResourceExistsException", NULL);
	/* neither value */
	rep = put(e, arn, NULL, TOK(3), NULL, 0);
	expect_error(&rep, "InvalidRequestException",
		     "You must provide either SecretString or SecretBinary.");

	/* pending version, then promote it with UpdateSecretVersionStage */
	rep = put(e, "p", "v3", TOK(3), pending, 1);
	api_reply_release(&rep);
	expect_secret(e, "p", NULL, "v2-" CANARY);
	expect_secret(e, "p", "AWSPENDING", "v3");
	s.secret_id = "p";
	s.version_stage = "AWSCURRENT";
	s.move_to_version_id = (char *)TOK(3);
	rep = call(e, "UpdateSecretVersionStage", &s.base);
	expect_error(&rep, "InvalidParameterException",
		     "The parameter RemoveFromVersionId can't be empty. Staging label "
		     "AWSCURRENT is currently attached to version "
		     "00000002-1111-4222-8333-444444444444, so you must explicitly reference "
		     "that version in RemoveFromVersionId.");
	s.remove_from_version_id = (char *)TOK(2);
	rep = call(e, "UpdateSecretVersionStage", &s.base);
	api_reply_release(&rep);
	expect_secret(e, "p", NULL, "v3");
	expect_secret(e, "p", "AWSPREVIOUS", "v2-" CANARY);
	s.remove_from_version_id = s.move_to_version_id = NULL;
	rep = call(e, "UpdateSecretVersionStage", &s.base);
	expect_error(&rep, "InvalidParameterException", NULL);

	/* UpdateSecret: a value makes a version; description alone does not */
	u.secret_id = "p";
	u.secret_string = "v4";
	u.client_request_token = (char *)TOK(4);
	rep = call(e, "UpdateSecret", &u.base);
	ur = expect_ok(&rep, "UpdateSecret");
	assert_string_equal(ur->version_id, TOK(4));
	coffer__update_secret_response__free_unpacked(ur, NULL);
	expect_secret(e, "p", NULL, "v4");
	expect_secret(e, "p", "AWSPREVIOUS", "v3");
	coffer__update_secret_request__init(&u);
	u.secret_id = arn;
	u.description = "new description";
	rep = call(e, "UpdateSecret", &u.base);
	ur = expect_ok(&rep, "UpdateSecret");
	assert_null(ur->version_id);
	assert_string_equal(ur->arn, arn);
	coffer__update_secret_response__free_unpacked(ur, NULL);
	assert_string_equal(store_find_name(fsm_store(e->fsm), "p")->description,
			    "new description");
	/* a token is required, as on AWS (the SDKs and the CLI always send one) */
	rep = put(e, "p", "v5", NULL, NULL, 0);
	expect_error(&rep, "InvalidRequestException", MSG_NO_TOKEN);
	u.secret_string = "v5";
	rep = call(e, "UpdateSecret", &u.base);
	expect_error(&rep, "InvalidRequestException", MSG_NO_TOKEN);
	free(arn);
}

static void test_delete_restore_purge(void **state)
{
	struct env *e = *state;
	Coffer__DeleteSecretRequest d = COFFER__DELETE_SECRET_REQUEST__INIT;
	Coffer__DeleteSecretResponse *dr;
	Coffer__DescribeSecretResponse *ds;
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
	Coffer__ListSecretsResponse *lr;
	struct api_reply rep;
	char *arn = create(e, "gone", CANARY, TOK(1));

	free(create(e, "kept", "v", TOK(2)));
	d.secret_id = "gone";
	d.has_recovery_window_in_days = 1;
	d.recovery_window_in_days = 6;
	rep = call(e, "DeleteSecret", &d.base);
	expect_error(&rep, "InvalidParameterException",
		     "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
	d.has_force_delete_without_recovery = d.force_delete_without_recovery = 1;
	d.recovery_window_in_days = 7;
	rep = call(e, "DeleteSecret", &d.base);
	expect_error(&rep, "InvalidParameterException",
		     "You can't use ForceDeleteWithoutRecovery in conjunction with "
		     "RecoveryWindowInDays.");
	d.has_force_delete_without_recovery = 0;
	rep = call(e, "DeleteSecret", &d.base);
	dr = expect_ok(&rep, "DeleteSecret");
	assert_true(dr->deletion_date == (T0 + 7 * DAY) / 1000.0);
	coffer__delete_secret_response__free_unpacked(dr, NULL);

	rep = get(e, "gone", NULL, NULL);
	expect_error(&rep, "InvalidRequestException",
		     "You can't perform this operation on the secret because it was marked for "
		     "deletion.");
	rep = put(e, "gone", "x", TOK(5), NULL, 0);
	expect_error(&rep, "InvalidRequestException", NULL);
	rep = simple(e, "DescribeSecret", "gone");
	ds = expect_ok(&rep, "DescribeSecret");
	assert_true(ds->has_deleted_date);
	coffer__describe_secret_response__free_unpacked(ds, NULL);
	{
		Coffer__CreateSecretRequest c = COFFER__CREATE_SECRET_REQUEST__INIT;

		c.name = "gone";
		rep = call(e, "CreateSecret", &c.base);
		expect_error(&rep, "InvalidRequestException",
			     "You can't create this secret because a secret with this name is "
			     "already scheduled for deletion.");
	}
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_int_equal(lr->n_secret_list, 1);
	assert_string_equal(lr->secret_list[0]->name, "kept");
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	l.has_include_planned_deletion = l.include_planned_deletion = 1;
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_int_equal(lr->n_secret_list, 2);
	coffer__list_secrets_response__free_unpacked(lr, NULL);

	rep = simple(e, "RestoreSecret", "gone");
	api_reply_release(&rep);
	expect_secret(e, "gone", NULL, CANARY);

	/* scheduled again; housekeeping purges only once the window ends */
	d.has_recovery_window_in_days = 0;
	rep = call(e, "DeleteSecret", &d.base);
	api_reply_release(&rep);
	e->ctx.now_ms = T0 + 29 * DAY;
	housekeeping(e);
	assert_non_null(store_find_name(fsm_store(e->fsm), "gone"));
	e->ctx.now_ms = T0 + 30 * DAY;
	housekeeping(e);
	assert_null(store_find_name(fsm_store(e->fsm), "gone"));
	rep = simple(e, "DescribeSecret", arn);
	expect_error(&rep, "ResourceNotFoundException", NULL);
	/* a recreated name gets a new ARN */
	{
		char *arn2 = create(e, "gone", "again", TOK(7));

		assert_string_not_equal(arn, arn2);
		free(arn2);
	}
	/* force delete; force on an unknown id answers without an error */
	d.secret_id = "gone";
	d.has_force_delete_without_recovery = d.force_delete_without_recovery = 1;
	rep = call(e, "DeleteSecret", &d.base);
	api_reply_release(&rep);
	assert_null(store_find_name(fsm_store(e->fsm), "gone"));
	d.secret_id = "never-existed";
	rep = call(e, "DeleteSecret", &d.base);
	dr = expect_ok(&rep, "DeleteSecret");
	assert_string_equal(dr->name, "never-existed");
	coffer__delete_secret_response__free_unpacked(dr, NULL);
	d.has_force_delete_without_recovery = 0;
	rep = call(e, "DeleteSecret", &d.base);
	expect_error(&rep, "ResourceNotFoundException", NULL);
	free(arn);
}

static void test_list_paging(void **state)
{
	struct env *e = *state;
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
	Coffer__ListSecretsResponse *lr;
	Coffer__Filter f = COFFER__FILTER__INIT, *fs[1] = {&f};
	char *vals[1];
	struct api_reply rep;
	char name[32], seen[25] = {0};
	int pages = 0, total = 0;
	char *next = NULL;

	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "%s/s%02d", i % 2 ? "odd" : "even", i);
		e->ctx.now_ms = T0 + i;
		free(create(e, name, "v", TOK(100 + i)));
	}
	l.has_max_results = 1;
	l.max_results = 10;
	do {
		l.next_token = next;
		rep = call(e, "ListSecrets", &l.base);
		lr = expect_ok(&rep, "ListSecrets");
		for (size_t i = 0; i < lr->n_secret_list; i++) {
			int k = atoi(strchr(lr->secret_list[i]->name, 's') + 1);

			assert_int_equal(k, total); /* created-date ascending */
			seen[k]++;
			total++;
		}
		free(next);
		next = lr->next_token ? strdup(lr->next_token) : NULL;
		coffer__list_secrets_response__free_unpacked(lr, NULL);
		pages++;
	} while (next);
	assert_int_equal(pages, 3);
	assert_int_equal(total, 25);
	for (int i = 0; i < 25; i++)
		assert_int_equal(seen[i], 1);

	l.next_token = "zz-not-a-token";
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "InvalidNextTokenException", NULL);
	l.next_token = NULL;
	l.max_results = 101;
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException", NULL);
	l.has_max_results = 0;
	/* name filter, descending by name */
	f.key = "name";
	vals[0] = "odd/";
	f.values = vals;
	f.n_values = 1;
	l.filters = fs;
	l.n_filters = 1;
	l.sort_by = "name";
	l.sort_order = "desc";
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_int_equal(lr->n_secret_list, 12);
	assert_string_equal(lr->secret_list[0]->name, "odd/s23");
	assert_null(lr->next_token);
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	vals[0] = "!odd/";
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_int_equal(lr->n_secret_list, 13);
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	f.key = "tags";
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value 'tags' at 'filters.1.member.key' failed "
		     "to satisfy constraint: Member must satisfy enum value set: [description, "
		     "name, tag-key, tag-value, primary-region, owning-service, all]");
}

static void test_list_version_ids(void **state)
{
	struct env *e = *state;
	Coffer__ListSecretVersionIdsRequest q = COFFER__LIST_SECRET_VERSION_IDS_REQUEST__INIT;
	Coffer__ListSecretVersionIdsResponse *r;
	struct api_reply rep;
	char *arn = create(e, "v", "1", TOK(1));
	int listed = 0;
	char *next = NULL;

	for (int i = 2; i <= 5; i++) {
		char val[16];

		snprintf(val, sizeof(val), "%d", i);
		rep = put(e, "v", val, TOK(i), NULL, 0);
		api_reply_release(&rep);
	}
	q.secret_id = arn;
	rep = call(e, "ListSecretVersionIds", &q.base);
	r = expect_ok(&rep, "ListSecretVersionIds");
	assert_int_equal(r->n_versions, 2); /* labelled only */
	assert_string_equal(r->arn, arn);
	assert_int_equal(r->versions[0]->n_kms_key_ids, 1);
	assert_string_equal(r->versions[0]->kms_key_ids[0], "DefaultEncryptionKey");
	coffer__list_secret_version_ids_response__free_unpacked(r, NULL);

	q.has_include_deprecated = q.include_deprecated = 1;
	q.has_max_results = 1;
	q.max_results = 2;
	do {
		q.next_token = next;
		rep = call(e, "ListSecretVersionIds", &q.base);
		r = expect_ok(&rep, "ListSecretVersionIds");
		for (size_t i = 0; i < r->n_versions; i++) {
			assert_string_equal(r->versions[i]->version_id, TOK(listed + 1));
			if (listed < 3)
				assert_int_equal(r->versions[i]->n_version_stages, 0);
			listed++;
		}
		free(next);
		next = r->next_token ? strdup(r->next_token) : NULL;
		coffer__list_secret_version_ids_response__free_unpacked(r, NULL);
	} while (next);
	assert_int_equal(listed, 5);
	q.next_token = "00";
	rep = call(e, "ListSecretVersionIds", &q.base);
	expect_error(&rep, "InvalidNextTokenException", NULL);
	free(arn);
}

static void test_snapshot_canary(void **state)
{
	struct env *e = *state;
	struct fsm *g = fsm_new("us-east-1");
	struct api_reply rep;
	uint8_t *snap, *snap2;
	size_t n, n2;
	char *arn = create(e, "c", CANARY, TOK(1));

	rep = put(e, "c", CANARY "-2", TOK(2), NULL, 0);
	api_reply_release(&rep);
	assert_int_equal(fsm_snapshot(e->fsm, &snap, &n), 0);
	no_canary(snap, n);
	/* a restored replica decrypts the same values */
	assert_int_equal(fsm_restore(g, snap, n), 0);
	assert_int_equal(fsm_snapshot(g, &snap2, &n2), 0);
	assert_int_equal(n, n2);
	assert_memory_equal(snap, snap2, n);
	e->ctx.fsm = g;
	expect_secret(e, arn, NULL, CANARY "-2");
	expect_secret(e, "c", "AWSPREVIOUS", CANARY);
	e->ctx.fsm = e->fsm;
	free(snap);
	free(snap2);
	fsm_free(g);
	free(arn);
}

/* ---------------------------------------------------------------- new operations */

static struct api_reply tag(struct env *e, const char *id, const char *const *kv, size_t n)
{
	Coffer__TagResourceRequest q = COFFER__TAG_RESOURCE_REQUEST__INIT;
	Coffer__Tag t[64], *pt[64];

	for (size_t i = 0; i < n; i++) {
		coffer__tag__init(&t[i]);
		t[i].key = (char *)kv[2 * i];
		t[i].value = (char *)kv[2 * i + 1];
		pt[i] = &t[i];
	}
	q.secret_id = (char *)id;
	q.tags = pt;
	q.n_tags = n;
	return call(e, "TagResource", &q.base);
}

static struct api_reply untag(struct env *e, const char *id, char **keys, size_t n)
{
	Coffer__UntagResourceRequest q = COFFER__UNTAG_RESOURCE_REQUEST__INIT;

	q.secret_id = (char *)id;
	q.tag_keys = keys;
	q.n_tag_keys = n;
	return call(e, "UntagResource", &q.base);
}

static const char *tag_value(const Coffer__DescribeSecretResponse *d, const char *key)
{
	for (size_t i = 0; i < d->n_tags; i++)
		if (strcmp(d->tags[i]->key, key) == 0)
			return d->tags[i]->value;
	return NULL;
}

static Coffer__DescribeSecretResponse *describe(struct env *e, const char *id)
{
	struct api_reply rep = simple(e, "DescribeSecret", id);

	return expect_ok(&rep, "DescribeSecret");
}

static void test_tags(void **state)
{
	struct env *e = *state;
	static const char *const kv1[] = {"env", "prod", "team", "a"};
	static const char *const kv2[] = {"team", "b", "cost", ""};
	static const char *const reserved[] = {"aws:cloudformation:stack", "x"};
	static const char *const reserved_case[] = {"AWS:thing", "x"};
	char *keys[] = {"env", "absent"}, *aws_key[] = {"aws:x"};
	Coffer__DescribeSecretResponse *d;
	struct api_reply rep;
	char *arn = create(e, "t", "v", TOK(1));
	char key[200], *kv[2 * 51];
	char keybuf[51][8];

	/* never tagged: no Tags, no presence marker */
	d = describe(e, "t");
	assert_int_equal(d->n_tags, 0);
	assert_false(d->has_tags_present && d->tags_present);
	coffer__describe_secret_response__free_unpacked(d, NULL);
	e->ctx.now_ms = T0 + 1000;
	rep = tag(e, "t", kv1, 2);
	expect_ok_free(&rep, "TagResource");
	/* merge: an existing key gets the new value, new keys are added */
	e->ctx.now_ms = T0 + 2000;
	rep = tag(e, arn, kv2, 2);
	coffer__tag_resource_response__free_unpacked(expect_ok(&rep, "TagResource"), NULL);
	d = describe(e, "t");
	assert_int_equal(d->n_tags, 3);
	assert_string_equal(tag_value(d, "env"), "prod");
	assert_string_equal(tag_value(d, "team"), "b");
	assert_string_equal(tag_value(d, "cost"), "");
	assert_true(d->last_changed_date == (T0 + 2000) / 1000.0);
	coffer__describe_secret_response__free_unpacked(d, NULL);

	/* untag: absent keys are fine */
	e->ctx.now_ms = T0 + 3000;
	rep = untag(e, "t", keys, 2);
	coffer__untag_resource_response__free_unpacked(expect_ok(&rep, "UntagResource"), NULL);
	d = describe(e, "t");
	assert_int_equal(d->n_tags, 2);
	assert_null(tag_value(d, "env"));
	assert_true(d->last_changed_date == (T0 + 3000) / 1000.0);
	assert_true(d->has_tags_present && d->tags_present);
	coffer__describe_secret_response__free_unpacked(d, NULL);
	/* all tags removed: Tags is [] (the marker stays set), also in a list */
	{
		char *all[] = {"team", "cost"};
		Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
		Coffer__ListSecretsResponse *lr;
		char *other = create(e, "t-never", "v", TOK(40));

		rep = untag(e, "t", all, 2);
		expect_ok_free(&rep, "UntagResource");
		d = describe(e, "t");
		assert_int_equal(d->n_tags, 0);
		assert_true(d->has_tags_present && d->tags_present);
		coffer__describe_secret_response__free_unpacked(d, NULL);
		rep = call(e, "ListSecrets", &l.base);
		lr = expect_ok(&rep, "ListSecrets");
		assert_int_equal(lr->n_secret_list, 2);
		for (size_t i = 0; i < 2; i++) {
			const Coffer__SecretListEntry *le = lr->secret_list[i];
			int tagged = strcmp(le->name, "t") == 0;

			assert_int_equal(le->n_tags, 0);
			assert_int_equal(le->has_tags_present && le->tags_present, tagged);
		}
		coffer__list_secrets_response__free_unpacked(lr, NULL);
		/* the secret is still "ever tagged" after a snapshot round trip */
		{
			struct fsm *g = fsm_new("us-east-1");
			uint8_t *snap;
			size_t sn;

			assert_int_equal(fsm_snapshot(e->fsm, &snap, &sn), 0);
			assert_int_equal(fsm_restore(g, snap, sn), 0);
			assert_true(store_find_name(fsm_store(g), "t")->tagged);
			assert_false(store_find_name(fsm_store(g), "t-never")->tagged);
			free(snap);
			fsm_free(g);
		}
		{
			Coffer__DeleteSecretRequest q = COFFER__DELETE_SECRET_REQUEST__INIT;

			q.secret_id = other;
			q.has_force_delete_without_recovery = q.force_delete_without_recovery = 1;
			rep = call(e, "DeleteSecret", &q.base);
			expect_ok_free(&rep, "DeleteSecret");
		}
		free(other);
		rep = tag(e, "t", kv2, 2); /* back to team=b, cost="" */
		expect_ok_free(&rep, "TagResource");
	}

	/* the reference marks the exact behaviour for "aws:" keys uncertain
	 * (§8 q9); AWS documents the prefix as reserved (not editable or
	 * removable by users), and we refuse it with InvalidParameterException,
	 * in any letter case, on Tag, Untag and Create */
	rep = tag(e, "t", reserved, 1);
	expect_error(&rep, "InvalidParameterException",
		     "You can't use the tag key 'aws:cloudformation:stack': the prefix 'aws:' is "
		     "reserved for AWS use.");
	rep = tag(e, "t", reserved_case, 1);
	expect_error(&rep, "InvalidParameterException", NULL);
	rep = untag(e, "t", aws_key, 1);
	expect_error(&rep, "InvalidParameterException", NULL);
	{
		Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
		Coffer__Tag t = COFFER__TAG__INIT, *pt[1] = {&t};

		t.key = "aws:x";
		t.value = "y";
		q.name = "tagged-aws";
		q.tags = pt;
		q.n_tags = 1;
		rep = call(e, "CreateSecret", &q.base);
		expect_error(&rep, "InvalidParameterException", NULL);
	}

	/* lengths: key 1-128, value 0-256 */
	memset(key, 'k', 129);
	key[129] = '\0';
	{
		const char *bad[] = {key, "v"};

		rep = tag(e, "t", bad, 1);
		expect_error(&rep, "ValidationException", NULL);
		key[128] = '\0';
		rep = tag(e, "t", bad, 1);
		expect_ok_free(&rep, "TagResource");
	}
	memset(key, 'v', 199);
	key[199] = '\0';
	{
		char big[300];
		const char *bad[] = {"k", big};

		memset(big, 'v', 257);
		big[257] = '\0';
		rep = tag(e, "t", bad, 1);
		expect_error(&rep, "ValidationException", NULL);
	}

	/* 50 tags at most: the limit counts the merged set */
	for (int i = 0; i < 51; i++) {
		snprintf(keybuf[i], sizeof(keybuf[i]), "k%02d", i);
		kv[2 * i] = keybuf[i];
		kv[2 * i + 1] = "v";
	}
	rep = tag(e, "t", (const char *const *)kv, 51);
	expect_error(&rep, "InvalidParameterException",
		     "You can't add more than 50 tags to a secret.");
	/* t has 3 tags (team, cost, kkk...): 47 more fit, 48 do not */
	rep = tag(e, "t", (const char *const *)kv, 48);
	expect_error(&rep, "InvalidParameterException",
		     "You can't add more than 50 tags to a secret.");
	rep = tag(e, "t", (const char *const *)kv, 47);
	expect_ok_free(&rep, "TagResource");
	/* replacing existing keys does not add to the count */
	rep = tag(e, "t", (const char *const *)kv, 47);
	expect_ok_free(&rep, "TagResource");

	/* unknown secret; scheduled for deletion */
	rep = tag(e, "nope", kv1, 1);
	expect_error(&rep, "ResourceNotFoundException", NULL);
	{
		Coffer__DeleteSecretRequest q = COFFER__DELETE_SECRET_REQUEST__INIT;

		q.secret_id = "t";
		rep = call(e, "DeleteSecret", &q.base);
		api_reply_release(&rep);
	}
	rep = tag(e, "t", kv1, 1);
	expect_error(&rep, "InvalidRequestException", MSG_DELETED);
	rep = untag(e, "t", keys, 1);
	expect_error(&rep, "InvalidRequestException", MSG_DELETED);

	/* tags in ListSecrets */
	{
		Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
		Coffer__ListSecretsResponse *lr;

		l.has_include_planned_deletion = l.include_planned_deletion = 1;
		rep = call(e, "ListSecrets", &l.base);
		lr = expect_ok(&rep, "ListSecrets");
		assert_int_equal(lr->n_secret_list, 1);
		assert_int_equal(lr->secret_list[0]->n_tags, 50);
		coffer__list_secrets_response__free_unpacked(lr, NULL);
	}
	free(arn);
}

/* ---------------------------------------------------------------- LastAccessedDate */

#define DAY0 (T0 - T0 % DAY) /* 00:00 UTC of T0's day */

static struct api_reply batch_ids(struct env *e, char **ids, size_t n);

/* The next housekeeping command, unpacked (NULL if none); *raw gets the
 * bytes (free()) for fsm_apply. */
static Coffer__Fsm__Command *hk_next(struct env *e, uint8_t **raw, size_t *n)
{
	Coffer__Fsm__Command *c;

	assert_int_equal(api_housekeeping(&e->ctx, raw, n), 0);
	if (*raw == NULL)
		return NULL;
	c = coffer__fsm__command__unpack(NULL, *n, *raw);
	assert_non_null(c);
	return c;
}

static void hk_apply(struct env *e, uint8_t *raw, size_t n, Coffer__Fsm__Command *c)
{
	void *res;

	assert_int_equal(fsm_apply(e->fsm, raw, n, &res), 0);
	assert_true(cf_status_ok(&((struct fsm_result *)res)->status));
	fsm_result_free(res);
	free(raw);
	coffer__fsm__command__free_unpacked(c, NULL);
}

/* Nothing to propose. */
static void hk_none(struct env *e)
{
	uint8_t *raw;
	size_t n;

	assert_null(hk_next(e, &raw, &n));
}

/* The next command is a Touch of n entries; apply it. */
static void hk_touch(struct env *e, size_t n_entries)
{
	uint8_t *raw;
	size_t n;
	Coffer__Fsm__Command *c = hk_next(e, &raw, &n);

	assert_non_null(c);
	assert_int_equal(c->op_case, COFFER__FSM__COMMAND__OP_TOUCH);
	assert_int_equal(c->touch->n_entries, n_entries);
	hk_apply(e, raw, n, c);
}

static double accessed_of(struct env *e, const char *id)
{
	Coffer__DescribeSecretResponse *d = describe(e, id);
	double v = d->has_last_accessed_date ? d->last_accessed_date : -1;

	coffer__describe_secret_response__free_unpacked(d, NULL);
	return v;
}

/* LastAccessedDate of version vid in ListSecretVersionIds (-1: none). */
static double version_accessed(struct env *e, const char *id, const char *vid)
{
	Coffer__ListSecretVersionIdsRequest q = COFFER__LIST_SECRET_VERSION_IDS_REQUEST__INIT;
	Coffer__ListSecretVersionIdsResponse *r;
	struct api_reply rep;
	double v = -2;

	q.secret_id = (char *)id;
	q.has_include_deprecated = q.include_deprecated = 1;
	rep = call(e, "ListSecretVersionIds", &q.base);
	r = expect_ok(&rep, "ListSecretVersionIds");
	for (size_t i = 0; i < r->n_versions; i++)
		if (strcmp(r->versions[i]->version_id, vid) == 0)
			v = r->versions[i]->has_last_accessed_date ? r->versions[i]->last_accessed_date
								   : -1;
	coffer__list_secret_version_ids_response__free_unpacked(r, NULL);
	assert_true(v != -2);
	return v;
}

static void read_current(struct env *e, const char *id)
{
	struct api_reply rep = get(e, id, NULL, NULL);

	expect_ok_free(&rep, "GetSecretValue");
}

static void test_last_accessed(void **state)
{
	struct env *e = *state;
	struct store_touches *ts = fsm_touches(e->fsm);
	const char *v1 = TOK(1), *v2 = TOK(2);
	char *arn;
	uint8_t *raw;
	size_t n;
	Coffer__Fsm__Command *c;
	struct api_reply rep;

	e->ctx.now_ms = DAY0 + 1000;
	arn = create(e, "la", "one", v1);
	rep = put(e, "la", "two", v2, NULL, 0);
	expect_ok_free(&rep, "PutSecretValue");
	/* never read: no date anywhere, nothing to do */
	assert_true(accessed_of(e, "la") == -1);
	assert_true(version_accessed(e, "la", v2) == -1);
	rep = simple(e, "DescribeSecret", "la");
	expect_ok_free(&rep, "DescribeSecret");
	hk_none(e);
	assert_int_equal(ts->n, 0);

	/* a read is recorded on the leader (secret and version), not yet in
	 * the state; the leader already shows it */
	e->ctx.now_ms = DAY0 + 10 * 3600 * 1000LL + 1234;
	read_current(e, "la");
	assert_int_equal(ts->n, 2);
	assert_int_equal(store_find_name(fsm_store(e->fsm), "la")->last_accessed_ms, 0);
	assert_true(accessed_of(e, "la") == DAY0 / 1000.0);
	assert_true(version_accessed(e, "la", v2) == DAY0 / 1000.0);
	assert_true(version_accessed(e, "la", v1) == -1);
	/* a second read the same day, before housekeeping: same entries */
	read_current(e, arn);
	assert_int_equal(ts->n, 2);
	/* housekeeping: one Touch (ARN [+ read version], 00:00 UTC of the day) */
	c = hk_next(e, &raw, &n);
	assert_non_null(c);
	assert_int_equal(c->op_case, COFFER__FSM__COMMAND__OP_TOUCH);
	assert_int_equal(c->touch->n_entries, 2);
	for (size_t i = 0; i < 2; i++) {
		const Coffer__Fsm__TouchEntry *te = c->touch->entries[i];

		assert_string_equal(te->arn, arn);
		assert_true(te->version_id == NULL || strcmp(te->version_id, v2) == 0);
		assert_int_equal(te->day_ms, DAY0);
	}
	assert_true((c->touch->entries[0]->version_id == NULL) !=
		    (c->touch->entries[1]->version_id == NULL));
	hk_apply(e, raw, n, c);
	assert_int_equal(store_find_name(fsm_store(e->fsm), "la")->last_accessed_ms, DAY0);
	assert_true(accessed_of(e, "la") == DAY0 / 1000.0);
	assert_true(version_accessed(e, "la", v2) == DAY0 / 1000.0);
	assert_true(version_accessed(e, "la", v1) == -1);
	/* applied: the entry is dropped, nothing more to propose */
	hk_none(e);
	assert_int_equal(ts->n, 0);

	/* a second read the same day proposes nothing (and records nothing) */
	e->ctx.now_ms = DAY0 + DAY - 1;
	read_current(e, "la");
	assert_int_equal(ts->n, 0);
	hk_none(e);

	/* reading the other version the same day: only that version is new */
	rep = get(e, "la", NULL, "AWSPREVIOUS");
	expect_ok_free(&rep, "GetSecretValue");
	assert_int_equal(ts->n, 1);
	hk_touch(e, 1);
	assert_true(version_accessed(e, "la", v1) == DAY0 / 1000.0);
	hk_none(e);

	/* next day: a new Touch; a Touch lost before apply (leadership change)
	 * is proposed again by the next housekeeping */
	e->ctx.now_ms = DAY0 + DAY + 5;
	read_current(e, "la");
	c = hk_next(e, &raw, &n);
	assert_non_null(c);
	assert_int_equal(c->touch->entries[0]->day_ms, DAY0 + DAY);
	free(raw);
	coffer__fsm__command__free_unpacked(c, NULL);
	hk_touch(e, 2);
	assert_true(accessed_of(e, "la") == (DAY0 + DAY) / 1000.0);
	assert_true(version_accessed(e, "la", v2) == (DAY0 + DAY) / 1000.0);
	assert_true(version_accessed(e, "la", v1) == DAY0 / 1000.0);
	hk_none(e);

	/* the replayed Touch is harmless: dates only move forward */
	{
		void *res;
		Coffer__Fsm__Command cc = COFFER__FSM__COMMAND__INIT;
		Coffer__Fsm__Touch t = COFFER__FSM__TOUCH__INIT;
		Coffer__Fsm__TouchEntry te = COFFER__FSM__TOUCH_ENTRY__INIT, *pte = &te;
		uint8_t buf[512];

		te.arn = arn;
		te.version_id = (char *)v2;
		te.has_day_ms = 1;
		te.day_ms = DAY0;
		t.entries = &pte;
		t.n_entries = 1;
		cc.op_case = COFFER__FSM__COMMAND__OP_TOUCH;
		cc.touch = &t;
		n = coffer__fsm__command__pack(&cc, buf);
		assert_int_equal(fsm_apply(e->fsm, buf, n, &res), 0);
		assert_int_equal(((struct fsm_result *)res)->n_changed, 0);
		fsm_result_free(res);
		assert_true(accessed_of(e, "la") == (DAY0 + DAY) / 1000.0);
	}

	/* BatchGetSecretValue reads count too; a non-value read does not */
	e->ctx.now_ms = DAY0 + 2 * DAY;
	rep = simple(e, "DescribeSecret", "la");
	expect_ok_free(&rep, "DescribeSecret");
	hk_none(e);
	{
		char *ids[] = {"la"};

		rep = batch_ids(e, ids, 1);
		expect_ok_free(&rep, "BatchGetSecretValue");
	}
	hk_touch(e, 2);
	assert_true(accessed_of(e, "la") == (DAY0 + 2 * DAY) / 1000.0);

	/* a secret purged before the Touch: the entry is dropped unproposed */
	e->ctx.now_ms = DAY0 + 3 * DAY;
	read_current(e, "la");
	{
		Coffer__DeleteSecretRequest q = COFFER__DELETE_SECRET_REQUEST__INIT;

		q.secret_id = "la";
		q.has_force_delete_without_recovery = q.force_delete_without_recovery = 1;
		rep = call(e, "DeleteSecret", &q.base);
		expect_ok_free(&rep, "DeleteSecret");
	}
	assert_int_equal(ts->n, 2);
	hk_none(e);
	assert_int_equal(ts->n, 0);
	free(arn);
}

/* Purges and touches both due: one command per call, taking turns. */
static void test_touch_and_purge(void **state)
{
	struct env *e = *state;
	Coffer__Fsm__Command *c;
	struct api_reply rep;
	uint8_t *raw;
	size_t n;

	e->ctx.now_ms = DAY0 + 1000;
	free(create(e, "read-me", "v", TOK(1)));
	free(create(e, "gone-1", "v", TOK(2)));
	free(create(e, "gone-2", "v", TOK(3)));
	rep = simple(e, "DeleteSecret", "gone-1");
	expect_ok_free(&rep, "DeleteSecret");
	e->ctx.now_ms = DAY0 + 31 * DAY;
	read_current(e, "read-me");
	/* first: one of them; then the other */
	c = hk_next(e, &raw, &n);
	assert_non_null(c);
	assert_int_equal(c->op_case, COFFER__FSM__COMMAND__OP_PURGE);
	hk_apply(e, raw, n, c);
	/* another purge due now: the touch still goes first */
	rep = simple(e, "DeleteSecret", "gone-2");
	expect_ok_free(&rep, "DeleteSecret");
	e->ctx.now_ms = DAY0 + 62 * DAY;
	read_current(e, "read-me");
	c = hk_next(e, &raw, &n);
	assert_non_null(c);
	assert_int_equal(c->op_case, COFFER__FSM__COMMAND__OP_TOUCH);
	assert_int_equal(c->touch->entries[0]->day_ms, DAY0 + 62 * DAY);
	hk_apply(e, raw, n, c);
	c = hk_next(e, &raw, &n);
	assert_non_null(c);
	assert_int_equal(c->op_case, COFFER__FSM__COMMAND__OP_PURGE);
	hk_apply(e, raw, n, c);
	hk_none(e);
	assert_true(accessed_of(e, "read-me") == (DAY0 + 62 * DAY) / 1000.0);
}

/* ListSecrets SortBy last-accessed-date; never read sorts first (asc). */
static void test_sort_last_accessed(void **state)
{
	struct env *e = *state;
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
	Coffer__ListSecretsResponse *lr;
	struct api_reply rep;
	const char *want_asc[] = {"never", "old", "new"};

	e->ctx.now_ms = DAY0 + 1000;
	free(create(e, "new", "v", TOK(1)));
	free(create(e, "old", "v", TOK(2)));
	free(create(e, "never", "v", TOK(3)));
	e->ctx.now_ms = DAY0 + 2 * DAY;
	read_current(e, "old");
	hk_touch(e, 2);
	e->ctx.now_ms = DAY0 + 5 * DAY;
	read_current(e, "new");
	/* pending on the leader: already sorted by it */
	l.sort_by = "last-accessed-date";
	l.sort_order = "asc";
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_int_equal(lr->n_secret_list, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(lr->secret_list[i]->name, want_asc[i]);
	assert_false(lr->secret_list[0]->has_last_accessed_date);
	assert_true(lr->secret_list[2]->last_accessed_date == (DAY0 + 5 * DAY) / 1000.0);
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	l.sort_order = "desc";
	l.has_max_results = 1;
	l.max_results = 1;
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_string_equal(lr->secret_list[0]->name, "new");
	assert_non_null(lr->next_token);
	l.next_token = strdup(lr->next_token);
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_string_equal(lr->secret_list[0]->name, "old");
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	/* the same order once applied; the token stays valid */
	hk_touch(e, 2);
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	assert_string_equal(lr->secret_list[0]->name, "old");
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	free(l.next_token);
}

/* ---------------------------------------------------------------- ListSecrets filters */

struct fsecret {
	const char *name, *description, *tag_key, *tag_value;
};

static const struct fsecret fsecrets[] = {
	{"/testing2/two", "one two", "Env", "Prod"},
	{"testing1/one", "one and two", "env", "prod"},
	{"three", "two", NULL, NULL},
	{"prod-AppBeta/x", NULL, NULL, NULL},
	{"COMPANYthings", "A Secret thing", NULL, NULL},
	{"svc/AppBeta", NULL, "owner", "team+ops"},
};
#define N_FSECRETS (sizeof(fsecrets) / sizeof(fsecrets[0]))

static void make_fsecrets(struct env *e)
{
	for (size_t i = 0; i < N_FSECRETS; i++) {
		Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
		Coffer__Tag t = COFFER__TAG__INIT, *pt[1] = {&t};
		struct api_reply rep;

		e->ctx.now_ms = T0 + (int64_t)i;
		q.name = (char *)fsecrets[i].name;
		q.description = (char *)fsecrets[i].description;
		q.secret_string = "v";
		q.client_request_token = (char *)TOK(200 + (int)i);
		if (fsecrets[i].tag_key) {
			t.key = (char *)fsecrets[i].tag_key;
			t.value = (char *)fsecrets[i].tag_value;
			q.tags = pt;
			q.n_tags = 1;
		}
		rep = call(e, "CreateSecret", &q.base);
		coffer__create_secret_response__free_unpacked(expect_ok(&rep, "CreateSecret"),
							      NULL);
	}
}

/* The names matched by filters (key1: v1|v2 ...) [AND key2: ...], as a
 * comma-joined string in creation order. */
static char *list_names(struct env *e, const char *k1, const char *const *v1, size_t n1,
			const char *k2, const char *const *v2, size_t n2)
{
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
	Coffer__Filter f[2] = {COFFER__FILTER__INIT, COFFER__FILTER__INIT};
	Coffer__Filter *pf[2] = {&f[0], &f[1]};
	Coffer__ListSecretsResponse *lr;
	struct api_reply rep;
	static char out[512];

	f[0].key = (char *)k1;
	f[0].values = (char **)v1;
	f[0].n_values = n1;
	f[1].key = (char *)k2;
	f[1].values = (char **)v2;
	f[1].n_values = n2;
	l.filters = pf;
	l.n_filters = k2 ? 2 : 1;
	rep = call(e, "ListSecrets", &l.base);
	lr = expect_ok(&rep, "ListSecrets");
	out[0] = '\0';
	for (size_t i = 0; i < lr->n_secret_list; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, lr->secret_list[i]->name);
	}
	coffer__list_secrets_response__free_unpacked(lr, NULL);
	return out;
}

static void expect_match(struct env *e, const char *key, const char *value, const char *names)
{
	const char *v[1] = {value};
	const char *got = list_names(e, key, v, 1, NULL, NULL, 0);

	if (strcmp(got, names) != 0)
		fail_msg("filter %s='%s': got [%s], want [%s]", key, value, got, names);
}

static void test_list_filters(void **state)
{
	struct env *e = *state;

	make_fsecrets(e);
	/* name: case-sensitive prefix, '!' negates (the §5.8 examples) */
	expect_match(e, "name", "/", "/testing2/two");
	expect_match(e, "name", "!/",
		     "testing1/one,three,prod-AppBeta/x,COMPANYthings,svc/AppBeta");
	expect_match(e, "name", "/TESTING", "");
	expect_match(e, "name", "testing", "testing1/one");
	/* description: word-prefix, all words, case-insensitive */
	expect_match(e, "description", "o t", "/testing2/two,testing1/one");
	expect_match(e, "description", "t", "/testing2/two,testing1/one,three,COMPANYthings");
	expect_match(e, "description", "one two", "/testing2/two,testing1/one");
	expect_match(e, "description", "ONE", "/testing2/two,testing1/one");
	expect_match(e, "description", "and", "testing1/one");
	expect_match(e, "description", "wo", "");
	expect_match(e, "description", "!one", "three,prod-AppBeta/x,COMPANYthings,svc/AppBeta");
	/* tag-key / tag-value: case-sensitive prefix over all tags */
	expect_match(e, "tag-key", "env", "testing1/one");
	expect_match(e, "tag-key", "E", "/testing2/two");
	expect_match(e, "tag-value", "Pro", "/testing2/two");
	expect_match(e, "tag-value", "team+", "svc/AppBeta");
	expect_match(e, "tag-key", "!env",
		     "/testing2/two,three,prod-AppBeta/x,COMPANYthings,svc/AppBeta");
	/* all: word prefixes of name, description, tag keys and values */
	expect_match(e, "all", "sec", "COMPANYthings");
	expect_match(e, "all", "ret", "");
	expect_match(e, "all", "prod", "/testing2/two,testing1/one,prod-AppBeta/x");
	/* a token mixing two separators is not split at all */
	expect_match(e, "all", "AppBeta", "svc/AppBeta");
	expect_match(e, "all", "beta", "svc/AppBeta");
	expect_match(e, "all", "app", "svc/AppBeta");
	/* COMPANYthings splits into COMPAN + Ythings */
	expect_match(e, "all", "compan", "COMPANYthings");
	expect_match(e, "all", "ythings", "COMPANYthings");
	expect_match(e, "all", "things", "");
	/* a lone separator matches nothing; words split on one separator */
	expect_match(e, "all", "+", "");
	expect_match(e, "all", "ops", "svc/AppBeta");
	expect_match(e, "all", "testing2", "/testing2/two");
	expect_match(e, "all", "owner team", "svc/AppBeta");
	expect_match(e, "all", "owner prod", "");
	/* non-replicated secrets have no primary region (as the emulators and
	 * AWS's own list-secrets examples show: PrimaryRegion is absent), and
	 * nothing here is owned by a service: those keys match only negated */
	expect_match(e, "primary-region", "us-east-1", "");
	expect_match(e, "primary-region", "!us",
		     "/testing2/two,testing1/one,three,prod-AppBeta/x,COMPANYthings,"
		     "svc/AppBeta");
	expect_match(e, "owning-service", "rds", "");
	/* OR within one filter, AND across filters (even with the same key) */
	{
		const char *v1[] = {"three", "svc"}, *v2[] = {"s"}, *v3[] = {"!three"};

		assert_string_equal(list_names(e, "name", v1, 2, NULL, NULL, 0), "three,svc/AppBeta");
		assert_string_equal(list_names(e, "name", v1, 2, "name", v2, 1), "svc/AppBeta");
		assert_string_equal(list_names(e, "name", v1, 2, "name", v3, 1), "svc/AppBeta");
	}
}

static void test_list_filter_validation(void **state)
{
	struct env *e = *state;
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
	Coffer__Filter f[11], *pf[11];
	char *vals[11], big[600];
	struct api_reply rep;

	for (int i = 0; i < 11; i++) {
		coffer__filter__init(&f[i]);
		f[i].key = "name";
		vals[i] = "a";
		f[i].values = vals;
		f[i].n_values = 1;
		pf[i] = &f[i];
	}
	l.filters = pf;
	l.n_filters = 11;
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'filters' failed to satisfy "
		     "constraint: Member must have length less than or equal to 10");
	l.n_filters = 10;
	rep = call(e, "ListSecrets", &l.base);
	expect_ok_free(&rep, "ListSecrets");
	l.n_filters = 1;
	f[0].n_values = 0;
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'filters.1.member.values' failed to "
		     "satisfy constraint: Member must have length greater than or equal to 1");
	f[0].n_values = 11;
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException", NULL);
	f[0].n_values = 1;
	vals[0] = "a*b";
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value 'a*b' at "
		     "'filters.1.member.values.1.member' failed to satisfy constraint: Member "
		     "must satisfy regular expression pattern: "
		     "^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$");
	vals[0] = "!a b:c_d@e/f+g=h.i-j!";
	rep = call(e, "ListSecrets", &l.base);
	expect_ok_free(&rep, "ListSecrets");
	memset(big, 'a', 513);
	big[513] = '\0';
	vals[0] = big;
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException", NULL);
	big[512] = '\0';
	rep = call(e, "ListSecrets", &l.base);
	expect_ok_free(&rep, "ListSecrets");
	l.n_filters = 0;
	l.has_max_results = 1;
	l.max_results = 0;
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value '0' at 'maxResults' failed to satisfy "
		     "constraint: Member must have value greater than or equal to 1");
	l.has_max_results = 0;
	l.sort_by = "size";
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value 'size' at 'sortBy' failed to satisfy "
		     "constraint: Member must satisfy enum value set: [created-date, "
		     "last-accessed-date, last-changed-date, name]");
}

/* Pages stay consistent when secrets are created and deleted between them. */
static void test_list_paging_stable(void **state)
{
	struct env *e = *state;
	Coffer__ListSecretsRequest l = COFFER__LIST_SECRETS_REQUEST__INIT;
	Coffer__ListSecretsResponse *lr;
	struct api_reply rep;
	char name[32], seen[64] = {0}, *next = NULL;
	int total = 0;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "s%02d", i);
		e->ctx.now_ms = T0 + i;
		free(create(e, name, "v", TOK(300 + i)));
	}
	l.has_max_results = 1;
	l.max_results = 7;
	l.sort_by = "name";
	for (int page = 0;; page++) {
		l.next_token = next;
		rep = call(e, "ListSecrets", &l.base);
		lr = expect_ok(&rep, "ListSecrets");
		for (size_t i = 0; i < lr->n_secret_list; i++) {
			int k = atoi(lr->secret_list[i]->name + 1);

			assert_true(k > total - 1 || total == 0);
			seen[k]++;
			total = k + 1;
		}
		free(next);
		next = lr->next_token ? strdup(lr->next_token) : NULL;
		coffer__list_secrets_response__free_unpacked(lr, NULL);
		if (next == NULL)
			break;
		if (page == 0) {
			/* between pages: delete a listed and an unlisted secret,
			 * create one before and one after the cursor */
			Coffer__DeleteSecretRequest d = COFFER__DELETE_SECRET_REQUEST__INIT;

			d.secret_id = "s03";
			d.has_force_delete_without_recovery = d.force_delete_without_recovery = 1;
			rep = call(e, "DeleteSecret", &d.base);
			api_reply_release(&rep);
			d.secret_id = "s10";
			rep = call(e, "DeleteSecret", &d.base);
			api_reply_release(&rep);
			free(create(e, "s01x", "v", TOK(400)));
			free(create(e, "s30", "v", TOK(401)));
		}
	}
	for (int i = 0; i < 20; i++)
		assert_int_equal(seen[i], i == 10 ? 0 : 1);
	assert_int_equal(seen[30], 1);
}

/* ---------------------------------------------------------------- BatchGetSecretValue */

static struct api_reply batch_ids(struct env *e, char **ids, size_t n)
{
	Coffer__BatchGetSecretValueRequest q = COFFER__BATCH_GET_SECRET_VALUE_REQUEST__INIT;

	q.secret_id_list = ids;
	q.n_secret_id_list = n;
	return call(e, "BatchGetSecretValue", &q.base);
}

static const Coffer__APIErrorType *batch_error(const Coffer__BatchGetSecretValueResponse *r,
					       const char *id)
{
	for (size_t i = 0; i < r->n_errors; i++)
		if (strcmp(r->errors[i]->secret_id, id) == 0)
			return r->errors[i];
	fail_msg("no error entry for '%s'", id);
	return NULL;
}

static void test_batch_get(void **state)
{
	struct env *e = *state;
	Coffer__BatchGetSecretValueRequest q = COFFER__BATCH_GET_SECRET_VALUE_REQUEST__INIT;
	Coffer__BatchGetSecretValueResponse *r;
	Coffer__Filter f = COFFER__FILTER__INIT, *pf[1] = {&f};
	char *vals[1] = {"b/"};
	char *ids[] = {"b/one", "b/missing", "b/gone", "b/empty", "bad name!", NULL};
	char *many[21];
	struct api_reply rep;
	char *arn1 = create(e, "b/one", CANARY, TOK(1));
	char *next = NULL;
	int listed = 0, errors = 0;

	ids[5] = arn1;
	free(create(e, "b/gone", "x", TOK(2)));
	free(create(e, "b/two", "2", TOK(3)));
	{
		Coffer__CreateSecretRequest c = COFFER__CREATE_SECRET_REQUEST__INIT;
		Coffer__DeleteSecretRequest d = COFFER__DELETE_SECRET_REQUEST__INIT;

		c.name = "b/empty";
		rep = call(e, "CreateSecret", &c.base);
		api_reply_release(&rep);
		d.secret_id = "b/gone";
		rep = call(e, "DeleteSecret", &d.base);
		api_reply_release(&rep);
	}
	rep = batch_ids(e, ids, 6);
	r = expect_ok(&rep, "BatchGetSecretValue");
	assert_int_equal(r->n_secret_values, 2);
	assert_string_equal(r->secret_values[0]->name, "b/one");
	assert_string_equal(r->secret_values[0]->secret_string, CANARY);
	assert_string_equal(r->secret_values[0]->version_id, TOK(1));
	assert_int_equal(r->secret_values[0]->n_version_stages, 1);
	assert_string_equal(r->secret_values[0]->version_stages[0], "AWSCURRENT");
	assert_true(r->secret_values[0]->has_created_date);
	assert_string_equal(r->secret_values[1]->arn, arn1);
	assert_int_equal(r->n_errors, 4);
	assert_string_equal(batch_error(r, "b/missing")->error_code, "ResourceNotFoundException");
	assert_string_equal(batch_error(r, "b/missing")->message,
			    "Secrets Manager can't find the specified secret.");
	assert_string_equal(batch_error(r, "b/gone")->error_code, "InvalidRequestException");
	assert_string_equal(batch_error(r, "b/gone")->message, MSG_DELETED);
	assert_string_equal(batch_error(r, "b/empty")->error_code, "ResourceNotFoundException");
	assert_string_equal(batch_error(r, "b/empty")->message,
			    "Secrets Manager can't find the specified secret value for staging "
			    "label: AWSCURRENT");
	assert_string_equal(batch_error(r, "bad name!")->error_code, "InvalidParameterException");
	for (size_t i = 0; i < r->n_errors; i++)
		no_canary(r->errors[i]->message, strlen(r->errors[i]->message));
	coffer__batch_get_secret_value_response__free_unpacked(r, NULL);

	/* filters, paged: the deleted one is left out, the empty one is an error */
	f.key = "name";
	f.values = vals;
	f.n_values = 1;
	q.filters = pf;
	q.n_filters = 1;
	q.has_max_results = 1;
	q.max_results = 2;
	do {
		q.next_token = next;
		rep = call(e, "BatchGetSecretValue", &q.base);
		r = expect_ok(&rep, "BatchGetSecretValue");
		listed += (int)r->n_secret_values;
		errors += (int)r->n_errors;
		for (size_t i = 0; i < r->n_errors; i++)
			assert_string_equal(r->errors[i]->error_code, "ResourceNotFoundException");
		free(next);
		next = r->next_token ? strdup(r->next_token) : NULL;
		coffer__batch_get_secret_value_response__free_unpacked(r, NULL);
	} while (next);
	assert_int_equal(listed, 2);
	assert_int_equal(errors, 1);

	/* call-level errors */
	q.next_token = "zz";
	rep = call(e, "BatchGetSecretValue", &q.base);
	expect_error(&rep, "InvalidNextTokenException", NULL);
	q.next_token = NULL;
	q.max_results = 21;
	rep = call(e, "BatchGetSecretValue", &q.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value '21' at 'maxResults' failed to satisfy "
		     "constraint: Member must have value less than or equal to 20");
	q.max_results = 2;
	q.secret_id_list = ids;
	q.n_secret_id_list = 1;
	rep = call(e, "BatchGetSecretValue", &q.base);
	expect_error(&rep, "InvalidParameterException",
		     "Either 'SecretIdList' or 'Filters' must be provided, but not both.");
	q.n_filters = 0;
	rep = call(e, "BatchGetSecretValue", &q.base);
	expect_error(&rep, "InvalidParameterException",
		     "'Filters' not specified. 'Filters' must also be specified when "
		     "'MaxResults' is provided.");
	q.has_max_results = 0;
	q.next_token = "00";
	rep = call(e, "BatchGetSecretValue", &q.base);
	expect_error(&rep, "InvalidParameterException",
		     "'Filters' not specified. 'Filters' must also be specified when "
		     "'NextToken' is provided.");
	rep = batch_ids(e, NULL, 0);
	expect_error(&rep, "InvalidParameterException",
		     "Either 'SecretIdList' or 'Filters' must be provided, but not both.");
	for (int i = 0; i < 21; i++)
		many[i] = "b/one";
	rep = batch_ids(e, many, 21);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'secretIdList' failed to satisfy "
		     "constraint: Member must have length less than or equal to 20");
	rep = batch_ids(e, many, 20);
	r = expect_ok(&rep, "BatchGetSecretValue");
	assert_int_equal(r->n_secret_values, 20);
	coffer__batch_get_secret_value_response__free_unpacked(r, NULL);
	free(arn1);
}

/* ---------------------------------------------------------------- unconfigured features */

static void test_rotation_unconfigured(void **state)
{
	struct env *e = *state;
	Coffer__RotateSecretRequest q = COFFER__ROTATE_SECRET_REQUEST__INIT;
	Coffer__RotationRulesType rules = COFFER__ROTATION_RULES_TYPE__INIT;
	char *pending[] = {"AWSPENDING"};
	struct api_reply rep;
	uint64_t rev;
	char *arn = create(e, "r", "v", TOK(1));

	rev = fsm_revision(e->fsm);
	q.secret_id = "r";
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "InvalidParameterException", MSG_NO_TOKEN);
	q.client_request_token = (char *)TOK(2);
	q.rotation_rules = &rules;
	rules.has_automatically_after_days = 1;
	rules.automatically_after_days = 0;
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value '0' at "
		     "'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member "
		     "must have value greater than or equal to 1");
	rules.automatically_after_days = 1001;
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "ValidationException", NULL);
	rules.automatically_after_days = 30;
	rules.schedule_expression = "rate(10 days)";
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "InvalidParameterException",
		     "You cannot specify both rotation frequency and schedule expression "
		     "together.");
	rules.has_automatically_after_days = 0;
	rules.schedule_expression = "rate(10 days);";
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "ValidationException", NULL);
	rules.schedule_expression = "cron(0 16 1,15 * ? *)";
	rules.duration = "3d";
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "ValidationException", NULL);
	rules.duration = "3h";
	q.secret_id = "nope";
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "ResourceNotFoundException", NULL);
	q.secret_id = arn;
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "InvalidRequestException",
		     "No Lambda rotation function ARN is associated with this secret.");
	q.rotation_lambda_arn = "arn:aws:lambda:us-east-1:000000000000:function:rot";
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "AccessDeniedException",
		     "Secrets Manager cannot invoke the specified Lambda function. Ensure that the "
		     "function policy grants access to the principal "
		     "secretsmanager.amazonaws.com.");
	/* nothing was stored */
	assert_int_equal(fsm_revision(e->fsm), rev);
	{
		Coffer__DescribeSecretResponse *d = describe(e, "r");

		assert_false(d->has_rotation_enabled && d->rotation_enabled);
		coffer__describe_secret_response__free_unpacked(d, NULL);
	}
	/* a stuck rotation (AWSPENDING on another version) is reported first */
	rep = put(e, "r", "p", TOK(3), pending, 1);
	api_reply_release(&rep);
	rep = call(e, "RotateSecret", &q.base);
	expect_error(&rep, "InvalidRequestException",
		     "A previous rotation isn't complete. That rotation will be reattempted.");

	rep = simple(e, "CancelRotateSecret", "r");
	expect_error(&rep, "InvalidRequestException",
		     "Secrets Manager can't cancel rotation because rotation is not configured "
		     "for this secret.");
	rep = simple(e, "CancelRotateSecret", "nope");
	expect_error(&rep, "ResourceNotFoundException", NULL);
	rep = simple(e, "CancelRotateSecret", "bad name!");
	expect_error(&rep, "ValidationException", NULL);
	free(arn);
}

static void test_policy_unconfigured(void **state)
{
	struct env *e = *state;
	Coffer__PutResourcePolicyRequest p = COFFER__PUT_RESOURCE_POLICY_REQUEST__INIT;
	Coffer__ValidateResourcePolicyRequest v = COFFER__VALIDATE_RESOURCE_POLICY_REQUEST__INIT;
	Coffer__GetResourcePolicyResponse *g;
	Coffer__DeleteResourcePolicyResponse *d;
	struct api_reply rep;
	char *arn = create(e, "pol", "v", TOK(1));
	uint64_t rev = fsm_revision(e->fsm);

	p.secret_id = "pol";
	rep = call(e, "PutResourcePolicy", &p.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value null at 'resourcePolicy' failed to "
		     "satisfy constraint: Member must not be null");
	p.resource_policy = "{\"Version\":\"2012-10-17\",\"Statement\":[]}";
	rep = call(e, "PutResourcePolicy", &p.base);
	expect_error(&rep, "InvalidRequestException",
		     "Resource policies are not enabled in this deployment yet: a policy can't be "
		     "attached to or validated for a secret.");
	p.secret_id = "nope";
	rep = call(e, "PutResourcePolicy", &p.base);
	expect_error(&rep, "ResourceNotFoundException", NULL);

	v.resource_policy = p.resource_policy;
	rep = call(e, "ValidateResourcePolicy", &v.base);
	expect_error(&rep, "InvalidRequestException", NULL);
	v.secret_id = "nope";
	rep = call(e, "ValidateResourcePolicy", &v.base);
	expect_error(&rep, "ResourceNotFoundException", NULL);

	rep = simple(e, "GetResourcePolicy", "pol");
	g = expect_ok(&rep, "GetResourcePolicy");
	assert_string_equal(g->arn, arn);
	assert_string_equal(g->name, "pol");
	assert_null(g->resource_policy);
	coffer__get_resource_policy_response__free_unpacked(g, NULL);
	rep = simple(e, "GetResourcePolicy", "nope");
	expect_error(&rep, "ResourceNotFoundException", NULL);
	rep = simple(e, "DeleteResourcePolicy", arn);
	d = expect_ok(&rep, "DeleteResourcePolicy");
	assert_string_equal(d->arn, arn);
	assert_string_equal(d->name, "pol");
	coffer__delete_resource_policy_response__free_unpacked(d, NULL);
	rep = simple(e, "DeleteResourcePolicy", "nope");
	expect_error(&rep, "ResourceNotFoundException", NULL);
	assert_int_equal(fsm_revision(e->fsm), rev);
	free(arn);
}

static void test_replication_unconfigured(void **state)
{
	struct env *e = *state;
	Coffer__ReplicateSecretToRegionsRequest q = COFFER__REPLICATE_SECRET_TO_REGIONS_REQUEST__INIT;
	Coffer__RemoveRegionsFromReplicationRequest rr =
		COFFER__REMOVE_REGIONS_FROM_REPLICATION_REQUEST__INIT;
	Coffer__ReplicaRegionType reg = COFFER__REPLICA_REGION_TYPE__INIT, *preg[1] = {&reg};
	char *regions[] = {"eu-west-1"};
	struct api_reply rep;
	char *arn = create(e, "rep", "v", TOK(1));

	q.secret_id = "rep";
	rep = call(e, "ReplicateSecretToRegions", &q.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'addReplicaRegions' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1");
	q.add_replica_regions = preg;
	q.n_add_replica_regions = 1;
	reg.region = "EU-west";
	rep = call(e, "ReplicateSecretToRegions", &q.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value 'EU-west' at "
		     "'addReplicaRegions.1.member.region' failed to satisfy constraint: Member "
		     "must satisfy regular expression pattern: ^([a-z]+-)+\\d+$");
	reg.region = "eu-west-1";
	q.secret_id = "nope";
	rep = call(e, "ReplicateSecretToRegions", &q.base);
	expect_error(&rep, "ResourceNotFoundException", NULL);
	q.secret_id = arn;
	rep = call(e, "ReplicateSecretToRegions", &q.base);
	expect_error(&rep, "InvalidRequestException",
		     "Cross-region replication is not configured in this deployment: this region "
		     "has no replica regions to replicate to or from.");
	reg.region = "us-east-1";
	rep = call(e, "ReplicateSecretToRegions", &q.base);
	expect_error(&rep, "InvalidParameterException", "Invalid replica region.");

	rr.secret_id = "rep";
	rep = call(e, "RemoveRegionsFromReplication", &rr.base);
	expect_error(&rep, "ValidationException", NULL);
	rr.remove_replica_regions = regions;
	rr.n_remove_replica_regions = 1;
	rep = call(e, "RemoveRegionsFromReplication", &rr.base);
	expect_error(&rep, "InvalidRequestException", NULL);
	rr.secret_id = "nope";
	rep = call(e, "RemoveRegionsFromReplication", &rr.base);
	expect_error(&rep, "ResourceNotFoundException", NULL);

	rep = simple(e, "StopReplicationToReplica", "rep");
	expect_error(&rep, "InvalidRequestException",
		     "This secret is not a replica: cross-region replication is not configured "
		     "in this deployment.");
	rep = simple(e, "StopReplicationToReplica", "nope");
	expect_error(&rep, "ResourceNotFoundException", NULL);

	/* CreateSecret with AddReplicaRegions: refused, nothing created */
	{
		Coffer__CreateSecretRequest c = COFFER__CREATE_SECRET_REQUEST__INIT;

		reg.region = "eu-west-1";
		c.name = "rep2";
		c.secret_string = CANARY;
		c.client_request_token = (char *)TOK(2);
		c.add_replica_regions = preg;
		c.n_add_replica_regions = 1;
		rep = call(e, "CreateSecret", &c.base);
		expect_error(&rep, "InvalidRequestException", NULL);
		assert_null(store_find_name(fsm_store(e->fsm), "rep2"));
	}
	free(arn);
}

/* AWS's model-validation message style; secret values are never echoed. */
static void test_validation_messages(void **state)
{
	struct env *e = *state;
	Coffer__CreateSecretRequest q = COFFER__CREATE_SECRET_REQUEST__INIT;
	Coffer__PutSecretValueRequest p = COFFER__PUT_SECRET_VALUE_REQUEST__INIT;
	struct api_reply rep;
	char desc[2100];

	q.name = "m";
	q.secret_string = CANARY;
	q.client_request_token = "0123456789";
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value '0123456789' at 'clientRequestToken' "
		     "failed to satisfy constraint: Member must have length greater than or "
		     "equal to 32");
	q.client_request_token = NULL;
	rep = call(e, "CreateSecret", &q.base);
	expect_error(&rep, "InvalidRequestException", MSG_NO_TOKEN);
	q.client_request_token = (char *)TOK(1);
	memset(desc, 'd', 2049);
	desc[2049] = '\0';
	q.description = desc;
	rep = call(e, "CreateSecret", &q.base);
	assert_non_null(strstr(rep.status.message,
			       "' at 'description' failed to satisfy constraint: Member must have "
			       "length less than or equal to 2048"));
	assert_true(strncmp(rep.status.message, "1 validation error detected: Value 'ddd", 39) ==
		    0);
	expect_error(&rep, "ValidationException", NULL);
	q.description = NULL;
	/* a value without a token: the token check comes after the value checks */
	q.secret_string = "";
	rep = call(e, "CreateSecret", &q.base);
	no_canary(rep.status.message, strlen(rep.status.message));
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'secretString' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1");
	free(create(e, "m", CANARY, TOK(1)));
	p.secret_id = "m";
	p.secret_string = CANARY;
	p.client_request_token = (char *)TOK(2);
	p.rotation_token = CANARY;
	rep = call(e, "PutSecretValue", &p.base);
	no_canary(rep.status.message, strlen(rep.status.message));
	expect_error(&rep, "ValidationException",
		     "1 validation error detected: Value at 'rotationToken' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 36");
}

/* Every AWS operation is in the table, with the right kind. */
static void test_op_table(void **state)
{
	static const struct {
		const char *name;
		enum api_kind kind;
	} ops[] = {
		{"BatchGetSecretValue", API_READ},    {"CancelRotateSecret", API_WRITE},
		{"CreateSecret", API_WRITE},          {"DeleteResourcePolicy", API_WRITE},
		{"DeleteSecret", API_WRITE},          {"DescribeSecret", API_READ},
		{"GetRandomPassword", API_LOCAL},      {"GetResourcePolicy", API_READ},
		{"GetSecretValue", API_READ},         {"ListSecretVersionIds", API_READ},
		{"ListSecrets", API_READ},            {"PutResourcePolicy", API_WRITE},
		{"PutSecretValue", API_WRITE},        {"RemoveRegionsFromReplication", API_WRITE},
		{"ReplicateSecretToRegions", API_WRITE}, {"RestoreSecret", API_WRITE},
		{"RotateSecret", API_WRITE},          {"StopReplicationToReplica", API_WRITE},
		{"TagResource", API_WRITE},           {"UntagResource", API_WRITE},
		{"UpdateSecret", API_WRITE},          {"UpdateSecretVersionStage", API_WRITE},
		{"ValidateResourcePolicy", API_READ},
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct api_op *op = api_find(ops[i].name);

		if (op == NULL)
			fail_msg("operation '%s' missing", ops[i].name);
		assert_int_equal(op->kind, ops[i].kind);
		assert_non_null(op->request);
		assert_non_null(op->response);
	}
	for (const struct api_op *op = api_ops; op->name; op++)
		n++;
	assert_int_equal(n, 23);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keyring_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_get_describe, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_put_labels_replay, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_delete_restore_purge, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_list_paging, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_list_version_ids, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_canary, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_tags, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_last_accessed, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_touch_and_purge, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_sort_last_accessed, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_list_filter_validation, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_list_paging_stable, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_batch_get, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_unconfigured, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_policy_unconfigured, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_replication_unconfigured, setup_ready,
						teardown),
		cmocka_unit_test_setup_teardown(test_validation_messages, setup_ready, teardown),
		cmocka_unit_test_setup_teardown(test_op_table, NULL, NULL),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
