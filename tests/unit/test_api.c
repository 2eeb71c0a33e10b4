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
#include "fsm/fsm.h"
#include "fsm/result.h"
#include "kms/kms.h"
#include "util/secmem.h"

#define CANARY "canary-PLAINTEXT-7f3a9c"
#define DAY (24LL * 3600 * 1000)
#define T0 1700000000000LL
#define TOK(i) tok(i)

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
	free(create(e, "x", CANARY, NULL));
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
	rep = call(e, "CreateSecret", &q.base);
	no_canary(rep.status.message, strlen(rep.status.message));
	expect_error(&rep, "ValidationException", NULL);
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
	/* token omitted on our RPC: one is generated */
	rep = put(e, "p", "v5", NULL, NULL, 0);
	p = expect_ok(&rep, "PutSecretValue");
	assert_int_equal(strlen(p->version_id), 36);
	assert_int_equal(p->version_id[14], '4');
	coffer__put_secret_value_response__free_unpacked(p, NULL);
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
		free(create(e, name, "v", NULL));
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
	f.key = "tag-key";
	rep = call(e, "ListSecrets", &l.base);
	expect_error(&rep, "InvalidParameterException", NULL);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
