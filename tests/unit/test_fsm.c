/*
 * fsm: apply rules (labels, replays, limits, deletion), snapshots and
 * determinism, driven with hand-built commands whose "sealed values" are
 * opaque bytes (the FSM never opens them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm.pb-c.h"
#include "fsm/fsm.h"
#include "fsm/result.h"
#include "store/touch.h"
#include "util/errors.h"

#define ARN_PREFIX "arn:aws:secretsmanager:us-east-1:000000000000:secret:"
#define HOUR (3600LL * 1000)
#define T0 1700000000000LL

static char vid_store[64][40];
static const char *vid(int i)
{
	static int slot;
	char *b = vid_store[slot++ & 63];

	snprintf(b, 40, "%08d-aaaa-4bbb-8ccc-dddddddddddd", i);
	return b;
}

static struct fsm_result *run(struct fsm *f, Coffer__Fsm__Command *c, int64_t now)
{
	size_t n;
	uint8_t *buf;
	void *r = NULL;

	c->has_now_ms = 1;
	c->now_ms = now;
	n = coffer__fsm__command__get_packed_size(c);
	buf = malloc(n + 1);
	coffer__fsm__command__pack(c, buf);
	assert_int_equal(fsm_apply(f, buf, n, &r), 0);
	free(buf);
	assert_non_null(r);
	return r;
}

/* A fake sealed value: the MAC is 32 copies of `val`. */
struct fake {
	Coffer__Fsm__SealedValue sv;
	Coffer__Fsm__NewVersion nv;
	uint8_t mac[32];
	uint8_t ct[8];
};

static void fake_version(struct fake *fk, const char *id, uint8_t val, char **stages, size_t n)
{
	coffer__fsm__sealed_value__init(&fk->sv);
	coffer__fsm__new_version__init(&fk->nv);
	memset(fk->mac, val, sizeof(fk->mac));
	memset(fk->ct, val ^ 0x5a, sizeof(fk->ct));
	fk->sv.kms_key_id = "key-1";
	fk->sv.has_wrapped_dk = fk->sv.has_ct = fk->sv.has_mac = 1;
	fk->sv.wrapped_dk.data = (uint8_t *)"WDK";
	fk->sv.wrapped_dk.len = 3;
	fk->sv.ct.data = fk->ct;
	fk->sv.ct.len = sizeof(fk->ct);
	fk->sv.mac.data = fk->mac;
	fk->sv.mac.len = 32;
	fk->nv.version_id = (char *)id;
	fk->nv.value = &fk->sv;
	fk->nv.stages = stages;
	fk->nv.n_stages = n;
}

static struct fsm_result *create(struct fsm *f, int64_t now, const char *name, const char *suffix,
				 const char *version, uint8_t val)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__CreateSecret cs = COFFER__FSM__CREATE_SECRET__INIT;
	struct fake fk;
	char arn[600];

	snprintf(arn, sizeof(arn), ARN_PREFIX "%s-%s", name, suffix);
	cs.name = (char *)name;
	cs.arn = arn;
	cs.token = (char *)(version ? version : vid(9999));
	if (version) {
		fake_version(&fk, version, val, NULL, 0);
		cs.version = &fk.nv;
	}
	c.op_case = COFFER__FSM__COMMAND__OP_CREATE_SECRET;
	c.create_secret = &cs;
	return run(f, &c, now);
}

static struct fsm_result *put(struct fsm *f, int64_t now, const char *arn, const char *version,
			      uint8_t val, char **stages, size_t n)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__PutValue pv = COFFER__FSM__PUT_VALUE__INIT;
	struct fake fk;

	fake_version(&fk, version, val, stages, n);
	pv.arn = (char *)arn;
	pv.version = &fk.nv;
	c.op_case = COFFER__FSM__COMMAND__OP_PUT_VALUE;
	c.put_value = &pv;
	return run(f, &c, now);
}

static struct fsm_result *stage(struct fsm *f, const char *arn, const char *label,
				const char *from, const char *to)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__UpdateVersionStage u = COFFER__FSM__UPDATE_VERSION_STAGE__INIT;

	u.arn = (char *)arn;
	u.stage = (char *)label;
	u.remove_from = (char *)from;
	u.move_to = (char *)to;
	c.op_case = COFFER__FSM__COMMAND__OP_UPDATE_VERSION_STAGE;
	c.update_version_stage = &u;
	return run(f, &c, T0);
}

static struct fsm_result *del(struct fsm *f, int64_t now, const char *arn, int force, int days)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__DeleteSecret d = COFFER__FSM__DELETE_SECRET__INIT;

	d.arn = (char *)arn;
	d.has_force = 1;
	d.force = force;
	if (!force) {
		d.has_deletion_date_ms = 1;
		d.deletion_date_ms = now + days * 24 * HOUR;
	}
	c.op_case = COFFER__FSM__COMMAND__OP_DELETE_SECRET;
	c.delete_secret = &d;
	return run(f, &c, now);
}

static struct fsm_result *restore(struct fsm *f, const char *arn)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__RestoreSecret rs = COFFER__FSM__RESTORE_SECRET__INIT;

	rs.arn = (char *)arn;
	c.op_case = COFFER__FSM__COMMAND__OP_RESTORE_SECRET;
	c.restore_secret = &rs;
	return run(f, &c, T0);
}

static struct fsm_result *purge(struct fsm *f, int64_t now, const char *arn)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__Purge p = COFFER__FSM__PURGE__INIT;
	char *arns[1] = {(char *)arn};

	p.arns = arns;
	p.n_arns = 1;
	c.op_case = COFFER__FSM__COMMAND__OP_PURGE;
	c.purge = &p;
	return run(f, &c, now);
}

#define OK(r)                                                                         \
	do {                                                                          \
		struct fsm_result *r_ = (r);                                          \
		if (!cf_status_ok(&r_->status))                                       \
			fail_msg("unexpected %s: %s", r_->status.type, r_->status.message); \
		fsm_result_free(r_);                                                  \
	} while (0)

static void expect_err(struct fsm_result *r, const char *type, const char *msg_part)
{
	assert_string_equal(r->status.type, type);
	if (msg_part && strstr(r->status.message, msg_part) == NULL)
		fail_msg("message '%s' lacks '%s'", r->status.message, msg_part);
	fsm_result_free(r);
}

/* "AWSCURRENT,AWSPREVIOUS" style list of the labels on version id. */
static const char *labels_of(struct fsm *f, const char *name, const char *id)
{
	static char out[512];
	const struct store_secret *s = store_find_name(fsm_store(f), name);
	const struct store_version *v = s ? store_version_find(s, id) : NULL;
	const char *l[STORE_MAX_LABELS];
	size_t n;

	out[0] = '\0';
	if (v == NULL)
		return "(gone)";
	n = store_version_labels(s, v, l);
	for (size_t i = 0; i < n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, l[i]);
	}
	return out;
}

static int setup(void **state)
{
	*state = fsm_new("us-east-1");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	fsm_free(*state);
	return 0;
}

static const char *ARN_A = ARN_PREFIX "a-AAAAAA";

static void test_label_cycle(void **state)
{
	struct fsm *f = *state;
	char *pending[] = {"AWSPENDING"};
	char *s5[] = {"one", "two", "three"};
	char *s6[] = {"one", "two", "four"};
	struct fsm_result *r;

	OK(create(f, T0, "a", "AAAAAA", vid(1), 1));
	assert_string_equal(labels_of(f, "a", vid(1)), "AWSCURRENT");
	r = put(f, T0, ARN_A, vid(2), 2, NULL, 0);
	assert_true(cf_status_ok(&r->status));
	assert_string_equal(r->version_id, vid(2));
	assert_int_equal(r->n_stages, 1);
	assert_string_equal(r->stages[0], "AWSCURRENT");
	fsm_result_free(r);
	assert_string_equal(labels_of(f, "a", vid(1)), "AWSPREVIOUS");
	OK(put(f, T0, ARN_A, vid(3), 3, NULL, 0));
	assert_string_equal(labels_of(f, "a", vid(1)), "");
	assert_string_equal(labels_of(f, "a", vid(2)), "AWSPREVIOUS");
	assert_string_equal(labels_of(f, "a", vid(3)), "AWSCURRENT");
	/* a pending version leaves AWSCURRENT alone */
	OK(put(f, T0, ARN_A, vid(4), 4, pending, 1));
	assert_string_equal(labels_of(f, "a", vid(3)), "AWSCURRENT");
	assert_string_equal(labels_of(f, "a", vid(4)), "AWSPENDING");
	/* custom labels move, the AWS example from the reference */
	OK(put(f, T0, ARN_A, vid(5), 5, s5, 3));
	OK(put(f, T0, ARN_A, vid(6), 6, s6, 3));
	assert_string_equal(labels_of(f, "a", vid(5)), "three");
	assert_string_equal(labels_of(f, "a", vid(6)), "four,one,two");
	/* moving AWSCURRENT needs RemoveFromVersionId naming its holder */
	expect_err(stage(f, ARN_A, "AWSCURRENT", NULL, vid(4)), "InvalidParameterException",
		   "Staging label AWSCURRENT is currently attached to version 00000003");
	expect_err(stage(f, ARN_A, "AWSCURRENT", vid(2), vid(4)), "InvalidParameterException",
		   "RemoveFromVersionId");
	OK(stage(f, ARN_A, "AWSCURRENT", vid(3), vid(4)));
	assert_string_equal(labels_of(f, "a", vid(4)), "AWSCURRENT,AWSPENDING");
	assert_string_equal(labels_of(f, "a", vid(3)), "AWSPREVIOUS");
	assert_string_equal(labels_of(f, "a", vid(2)), "");
	/* a plain put: old current becomes AWSPREVIOUS and loses AWSPENDING */
	OK(put(f, T0, ARN_A, vid(7), 7, NULL, 0));
	assert_string_equal(labels_of(f, "a", vid(4)), "AWSPREVIOUS");
	assert_string_equal(labels_of(f, "a", vid(3)), "");
	/* removal rules */
	expect_err(stage(f, ARN_A, "AWSCURRENT", vid(7), NULL), "InvalidParameterException",
		   "AWSCURRENT");
	expect_err(stage(f, ARN_A, "three", vid(6), NULL), "InvalidParameterException",
		   "Version stage three not found in version");
	expect_err(stage(f, ARN_A, "x", NULL, vid(77)), "InvalidParameterException",
		   "Not a valid version");
	OK(stage(f, ARN_A, "three", vid(5), NULL));
	assert_string_equal(labels_of(f, "a", vid(5)), "");
	/* attach a new label, then move it with RemoveFrom */
	OK(stage(f, ARN_A, "blue", NULL, vid(1)));
	OK(stage(f, ARN_A, "blue", vid(1), vid(2)));
	assert_string_equal(labels_of(f, "a", vid(2)), "blue");
	/* moving AWSCURRENT onto the AWSPREVIOUS holder swaps them */
	OK(stage(f, ARN_A, "AWSCURRENT", vid(7), vid(4)));
	assert_string_equal(labels_of(f, "a", vid(4)), "AWSCURRENT");
	assert_string_equal(labels_of(f, "a", vid(7)), "AWSPREVIOUS");
}

static void test_replay(void **state)
{
	struct fsm *f = *state;
	struct fsm_result *r;
	const struct store_secret *s;
	uint64_t rev;

	OK(create(f, T0, "a", "AAAAAA", vid(1), 1));
	OK(put(f, T0, ARN_A, vid(2), 2, NULL, 0));
	s = store_find_name(fsm_store(f), "a");
	rev = fsm_revision(f);
	r = put(f, T0 + 5, ARN_A, vid(2), 2, NULL, 0);
	assert_true(cf_status_ok(&r->status));
	assert_string_equal(r->version_id, vid(2));
	fsm_result_free(r);
	assert_int_equal(s->n_versions, 2);
	assert_int_equal(fsm_revision(f), rev + 1);
	expect_err(put(f, T0, ARN_A, vid(2), 3, NULL, 0), "ResourceExistsException",
		   "You can't use ClientRequestToken 00000002-aaaa-4bbb-8ccc-dddddddddddd "
		   "because that value is already in use for a version of secret " ARN_PREFIX
		   "a-AAAAAA.");
	/* CreateSecret replay: same name, token, value -> the original ARN */
	r = create(f, T0, "a", "ZZZZZZ", vid(1), 1);
	assert_true(cf_status_ok(&r->status));
	assert_string_equal(r->arn, ARN_A);
	assert_string_equal(r->version_id, vid(1));
	fsm_result_free(r);
	expect_err(create(f, T0, "a", "ZZZZZZ", vid(1), 9), "ResourceExistsException",
		   "ClientRequestToken");
	expect_err(create(f, T0, "a", "ZZZZZZ", vid(50), 1), "ResourceExistsException",
		   "The operation failed because the secret a already exists.");
	assert_int_equal(s->n_versions, 2);
	assert_null(store_find_arn(fsm_store(f), ARN_PREFIX "a-ZZZZZZ"));
}

static void test_version_limit(void **state)
{
	struct fsm *f = *state;
	const struct store_secret *s;

	OK(create(f, T0, "a", "AAAAAA", vid(0), 1));
	for (int i = 1; i < 100; i++)
		OK(put(f, T0 + i, ARN_A, vid(i), (uint8_t)i, NULL, 0));
	s = store_find_name(fsm_store(f), "a");
	assert_int_equal(s->n_versions, 100);
	/* nothing is 24 h old yet */
	expect_err(put(f, T0 + 23 * HOUR, ARN_A, vid(100), 100, NULL, 0),
		   "LimitExceededException", "too many versions");
	assert_int_equal(s->n_versions, 100);
	/* a day later the oldest unlabelled version makes room */
	OK(put(f, T0 + 25 * HOUR, ARN_A, vid(100), 100, NULL, 0));
	assert_int_equal(s->n_versions, 100);
	assert_string_equal(labels_of(f, "a", vid(0)), "(gone)");
	assert_string_equal(labels_of(f, "a", vid(1)), "");
	assert_string_equal(labels_of(f, "a", vid(99)), "AWSPREVIOUS");
	assert_string_equal(labels_of(f, "a", vid(100)), "AWSCURRENT");
}

static void test_label_limit(void **state)
{
	struct fsm *f = *state;
	char *many[20], *extra[] = {"twenty"};
	char names[20][16];

	OK(create(f, T0, "a", "AAAAAA", vid(0), 1));
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "L%d", i);
		many[i] = names[i];
	}
	/* 20 custom labels + AWSCURRENT (staying on v0) = 21 */
	expect_err(put(f, T0, ARN_A, vid(1), 1, many, 20), "LimitExceededException",
		   "at most 20");
	assert_int_equal(store_find_name(fsm_store(f), "a")->n_versions, 1);
	OK(put(f, T0, ARN_A, vid(1), 1, many, 19)); /* 19 + AWSCURRENT = 20 */
	expect_err(put(f, T0, ARN_A, vid(2), 2, extra, 1), "LimitExceededException", NULL);
	expect_err(stage(f, ARN_A, "twenty", NULL, vid(0)), "LimitExceededException", NULL);
	OK(stage(f, ARN_A, "L3", vid(1), vid(0))); /* moving an existing label is fine */
	/* moving AWSCURRENT would need a 21st label (AWSPREVIOUS) */
	expect_err(stage(f, ARN_A, "AWSCURRENT", vid(0), vid(1)), "LimitExceededException",
		   NULL);
	OK(stage(f, ARN_A, "L4", vid(1), NULL));
	OK(stage(f, ARN_A, "AWSCURRENT", vid(0), vid(1)));
	assert_string_equal(labels_of(f, "a", vid(0)), "AWSPREVIOUS,L3");
	assert_int_equal(store_find_name(fsm_store(f), "a")->n_versions, 2);
}

static int hook_calls, hook_deletes;
static void hook(void *data, uint64_t rev, const char *arn, enum fsm_change_kind kind)
{
	assert_int_equal(rev, fsm_revision(data));
	assert_non_null(arn);
	hook_calls++;
	hook_deletes += kind == FSM_CHANGE_DELETE;
}

static void test_delete_restore_purge(void **state)
{
	struct fsm *f = *state;
	struct fsm_result *r;

	fsm_set_change_hook(f, hook, f);
	hook_calls = hook_deletes = 0;
	OK(create(f, T0, "a", "AAAAAA", vid(1), 1));
	r = del(f, T0, ARN_A, 0, 7);
	assert_true(cf_status_ok(&r->status));
	assert_int_equal(r->date_ms, T0 + 7 * 24 * HOUR);
	fsm_result_free(r);
	expect_err(put(f, T0, ARN_A, vid(2), 2, NULL, 0), "InvalidRequestException",
		   "You can't perform this operation on the secret because it was marked for "
		   "deletion.");
	expect_err(stage(f, ARN_A, "x", NULL, vid(1)), "InvalidRequestException", "marked");
	expect_err(create(f, T0, "a", "BBBBBB", vid(3), 3), "InvalidRequestException",
		   "You can't create this secret because a secret with this name is already "
		   "scheduled for deletion.");
	expect_err(del(f, T0, ARN_A, 0, 7), "InvalidRequestException", "marked deleted");
	OK(restore(f, ARN_A));
	OK(put(f, T0, ARN_A, vid(2), 2, NULL, 0));
	OK(restore(f, ARN_A)); /* not deleted: no-op success */
	OK(del(f, T0, ARN_A, 0, 7));
	/* the window has not ended: purge re-checks and keeps it */
	r = purge(f, T0 + 6 * 24 * HOUR, ARN_A);
	assert_int_equal(r->n_changed, 0);
	fsm_result_free(r);
	assert_non_null(store_find_arn(fsm_store(f), ARN_A));
	r = purge(f, T0 + 7 * 24 * HOUR, ARN_A);
	assert_int_equal(r->n_changed, 1);
	fsm_result_free(r);
	assert_null(store_find_arn(fsm_store(f), ARN_A));
	expect_err(restore(f, ARN_A), "ResourceNotFoundException",
		   "Secrets Manager can't find the specified secret.");
	/* recreate with a new ARN; a command carrying the old ARN misses */
	OK(create(f, T0, "a", "CCCCCC", vid(1), 1));
	expect_err(put(f, T0, ARN_A, vid(5), 5, NULL, 0), "ResourceNotFoundException", NULL);
	/* force delete, also of a scheduled secret */
	OK(del(f, T0, ARN_PREFIX "a-CCCCCC", 0, 30));
	OK(del(f, T0, ARN_PREFIX "a-CCCCCC", 1, 0));
	assert_null(store_find_name(fsm_store(f), "a"));
	assert_int_equal(hook_deletes, 2);
	assert_int_equal(hook_calls, 9);
}

static void build_state(struct fsm *f)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__KmsKeyCreate k = COFFER__FSM__KMS_KEY_CREATE__INIT;
	Coffer__Fsm__CreateSecret cs = COFFER__FSM__CREATE_SECRET__INIT;
	Coffer__Fsm__Tag t1 = COFFER__FSM__TAG__INIT, *tags[1] = {&t1};
	char *custom[] = {"blue", "AWSPENDING"};

	k.key_id = "key-1";
	k.alias = "aws/secretsmanager";
	k.has_wrapped = 1;
	k.wrapped.data = (uint8_t *)"wrapped-key";
	k.wrapped.len = 11;
	c.op_case = COFFER__FSM__COMMAND__OP_KMS_KEY_CREATE;
	c.kms_key_create = &k;
	OK(run(f, &c, T0));
	OK(create(f, T0, "a", "AAAAAA", vid(1), 1));
	OK(put(f, T0 + 1, ARN_A, vid(2), 2, NULL, 0));
	OK(put(f, T0 + 2, ARN_A, vid(3), 3, custom, 2));
	OK(put(f, T0 + 3, ARN_A, vid(4), 4, NULL, 0));
	OK(create(f, T0 + 4, "b/empty", "BBBBBB", NULL, 0));
	OK(create(f, T0 + 5, "c", "CCCCCC", vid(5), 5));
	OK(del(f, T0 + 6, ARN_PREFIX "c-CCCCCC", 0, 9));
	/* description, type and tags */
	coffer__fsm__command__init(&c);
	t1.key = "team";
	t1.value = "infra";
	cs.name = "d";
	cs.arn = ARN_PREFIX "d-DDDDDD";
	cs.description = "described";
	cs.type = "t";
	cs.token = (char *)vid(6);
	cs.tags = tags;
	cs.n_tags = 1;
	c.op_case = COFFER__FSM__COMMAND__OP_CREATE_SECRET;
	c.create_secret = &cs;
	OK(run(f, &c, T0 + 7));
	expect_err(put(f, T0, ARN_A, vid(2), 99, NULL, 0), "ResourceExistsException", NULL);
}

static void test_snapshot_round_trip(void **state)
{
	struct fsm *f = *state, *g = fsm_new("us-east-1");
	uint8_t *a, *b;
	size_t na, nb;
	const struct store_secret *s;

	build_state(f);
	assert_int_equal(fsm_snapshot(f, &a, &na), 0);
	assert_int_equal(fsm_restore(g, a, na), 0);
	assert_int_equal(fsm_revision(g), fsm_revision(f));
	assert_int_equal(fsm_snapshot(g, &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	/* spot-check fields survived */
	s = store_find_name(fsm_store(g), "d");
	assert_string_equal(s->description, "described");
	assert_string_equal(s->type, "t");
	assert_int_equal(s->n_tags, 1);
	assert_string_equal(s->tags[0].value, "infra");
	s = store_find_name(fsm_store(g), "c");
	assert_int_equal(s->deletion_date_ms, T0 + 6 + 9 * 24 * HOUR);
	assert_string_equal(labels_of(g, "a", vid(3)), "AWSPENDING,blue");
	assert_string_equal(labels_of(g, "a", vid(4)), "AWSCURRENT");
	assert_string_equal(labels_of(g, "a", vid(2)), "AWSPREVIOUS");
	assert_non_null(store_kms_find(fsm_store(g), "aws/secretsmanager"));
	/* the restored machine keeps applying identically */
	OK(put(f, T0 + 9, ARN_A, vid(8), 8, NULL, 0));
	OK(put(g, T0 + 9, ARN_A, vid(8), 8, NULL, 0));
	free(a);
	free(b);
	assert_int_equal(fsm_snapshot(f, &a, &na), 0);
	assert_int_equal(fsm_snapshot(g, &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	/* a malformed snapshot is refused and the state kept */
	b[0] ^= 0xff;
	assert_int_equal(fsm_restore(g, b, nb / 2), CF_EPROTO);
	assert_non_null(store_find_name(fsm_store(g), "a"));
	assert_int_equal(fsm_revision(g), fsm_revision(f));
	free(a);
	free(b);
	fsm_free(g);
}

static void test_determinism(void **state)
{
	struct fsm *f = *state, *g = fsm_new("us-east-1");
	uint8_t *a, *b;
	size_t na, nb;

	build_state(f);
	build_state(g);
	assert_int_equal(fsm_snapshot(f, &a, &na), 0);
	assert_int_equal(fsm_snapshot(g, &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	/* and one more command makes them differ from before but equal again */
	OK(stage(f, ARN_A, "green", NULL, vid(1)));
	OK(stage(g, ARN_A, "green", NULL, vid(1)));
	assert_int_equal(fsm_snapshot(f, &a, &na), 0);
	assert_int_equal(fsm_snapshot(g, &b, &nb), 0);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	fsm_free(g);
}

static void test_malformed(void **state)
{
	struct fsm *f = *state;
	const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__PutValue pv = COFFER__FSM__PUT_VALUE__INIT;
	struct fsm_result *r;
	void *vr;

	assert_int_equal(fsm_apply(f, junk, sizeof(junk), &vr), 0);
	r = vr;
	assert_string_equal(r->status.type, "InternalServiceError");
	assert_int_equal(r->revision, 1);
	fsm_result_free(r);
	/* an empty command and a put without a version */
	expect_err(run(f, &c, T0), "InternalServiceError", NULL);
	c.op_case = COFFER__FSM__COMMAND__OP_PUT_VALUE;
	c.put_value = &pv;
	expect_err(run(f, &c, T0), "InternalServiceError", NULL);
	assert_int_equal(fsm_revision(f), 3);
}

static struct fsm_result *tag(struct fsm *f, int64_t now, const char *arn, const char *const *kv,
			      size_t n)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__TagResource t = COFFER__FSM__TAG_RESOURCE__INIT;
	Coffer__Fsm__Tag tg[64], *pt[64];

	for (size_t i = 0; i < n; i++) {
		coffer__fsm__tag__init(&tg[i]);
		tg[i].key = (char *)kv[2 * i];
		tg[i].value = (char *)kv[2 * i + 1];
		pt[i] = &tg[i];
	}
	t.arn = (char *)arn;
	t.tags = pt;
	t.n_tags = n;
	c.op_case = COFFER__FSM__COMMAND__OP_TAG_RESOURCE;
	c.tag_resource = &t;
	return run(f, &c, now);
}

static struct fsm_result *untag(struct fsm *f, int64_t now, const char *arn, char **keys,
				size_t n)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__UntagResource u = COFFER__FSM__UNTAG_RESOURCE__INIT;

	u.arn = (char *)arn;
	u.keys = keys;
	u.n_keys = n;
	c.op_case = COFFER__FSM__COMMAND__OP_UNTAG_RESOURCE;
	c.untag_resource = &u;
	return run(f, &c, now);
}

static void test_tags(void **state)
{
	struct fsm *f = *state;
	static const char *const kv[] = {"a", "1", "b", "2", "a", "3"};
	static const char *const reserved[] = {"Aws:x", "1"};
	char *keys[] = {"b", "zz"}, keybuf[50][8];
	const char *many[100];
	const struct store_secret *s;
	struct fsm_result *r;
	uint8_t *snap;
	size_t n;

	fsm_result_free(create(f, T0, "a", "AAAAAA", vid(1), 1));
	r = tag(f, T0 + 5, ARN_A, kv, 2);
	assert_int_equal(r->op, FSM_OP_TAG_RESOURCE);
	assert_string_equal(r->status.type, "");
	assert_string_equal(r->name, "a");
	fsm_result_free(r);
	fsm_result_free(tag(f, T0 + 6, ARN_A, kv + 4, 1)); /* a=3 replaces a=1 */
	s = store_find_name(fsm_store(f), "a");
	assert_int_equal(s->n_tags, 2);
	assert_string_equal(s->tags[0].key, "a");
	assert_string_equal(s->tags[0].value, "3");
	assert_int_equal(s->last_changed_ms, T0 + 6);
	r = untag(f, T0 + 7, ARN_A, keys, 2);
	assert_int_equal(r->op, FSM_OP_UNTAG_RESOURCE);
	fsm_result_free(r);
	assert_int_equal(s->n_tags, 1);
	assert_int_equal(s->last_changed_ms, T0 + 7);
	expect_err(tag(f, T0, ARN_A, reserved, 1), "InvalidParameterException", "aws:");
	/* the limit is checked against the merged set; state untouched */
	for (int i = 0; i < 50; i++) {
		snprintf(keybuf[i], sizeof(keybuf[i]), "k%02d", i);
		many[2 * i] = keybuf[i];
		many[2 * i + 1] = "";
	}
	expect_err(tag(f, T0, ARN_A, many, 50), "InvalidParameterException", "50 tags");
	assert_int_equal(s->n_tags, 1);
	fsm_result_free(tag(f, T0, ARN_A, many, 49));
	assert_int_equal(s->n_tags, 50);
	/* tags survive a snapshot */
	assert_int_equal(fsm_snapshot(f, &snap, &n), 0);
	{
		struct fsm *g = fsm_new("us-east-1");
		const struct store_secret *t;

		assert_int_equal(fsm_restore(g, snap, n), 0);
		t = store_find_name(fsm_store(g), "a");
		assert_int_equal(t->n_tags, 50);
		assert_string_equal(t->tags[0].key, "a");
		fsm_free(g);
	}
	free(snap);
	/* unknown, scheduled for deletion, malformed */
	expect_err(tag(f, T0, ARN_PREFIX "x-XXXXXX", kv, 1), "ResourceNotFoundException", NULL);
	fsm_result_free(del(f, T0, ARN_A, 0, 7));
	expect_err(tag(f, T0, ARN_A, kv, 1), "InvalidRequestException", "marked for deletion");
	expect_err(untag(f, T0, ARN_A, keys, 1), "InvalidRequestException", "marked for deletion");
	expect_err(tag(f, T0, NULL, kv, 1), "InternalServiceError", NULL);
	{
		const char *const empty_key[] = {"", "v"};

		expect_err(tag(f, T0, ARN_A, empty_key, 1), "InternalServiceError", NULL);
	}
}

/* ---------------------------------------------------------------- touch */

#define DAYMS (24 * HOUR)
#define DAY0 (T0 - T0 % DAYMS)

struct tentry {
	const char *arn, *vid;
	int64_t day;
};

static struct fsm_result *touch(struct fsm *f, int64_t now, const struct tentry *t, size_t n)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__Touch tc = COFFER__FSM__TOUCH__INIT;
	Coffer__Fsm__TouchEntry e[8], *pe[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		coffer__fsm__touch_entry__init(&e[i]);
		e[i].arn = (char *)t[i].arn;
		e[i].version_id = (char *)t[i].vid;
		e[i].has_day_ms = 1;
		e[i].day_ms = t[i].day;
		pe[i] = &e[i];
	}
	tc.entries = pe;
	tc.n_entries = n;
	c.op_case = COFFER__FSM__COMMAND__OP_TOUCH;
	c.touch = &tc;
	return run(f, &c, now);
}

static size_t touch_changed(struct fsm *f, int64_t now, const struct tentry *t, size_t n)
{
	struct fsm_result *r = touch(f, now, t, n);
	size_t k;

	if (!cf_status_ok(&r->status))
		fail_msg("touch failed: %s: %s", r->status.type, r->status.message);
	assert_int_equal(r->op, FSM_OP_TOUCH);
	k = r->n_changed;
	fsm_result_free(r);
	return k;
}

static void test_touch(void **state)
{
	struct fsm *f = *state, *g;
	const struct store_secret *s;
	const struct store_version *v1, *v2;
	uint8_t *a, *b;
	size_t na, nb;
	uint64_t rev;

	OK(create(f, T0, "a", "AAAAAA", vid(1), 1));
	OK(put(f, T0 + 1, ARN_A, vid(2), 2, NULL, 0));
	hook_calls = 0;
	fsm_set_change_hook(f, hook, f);
	s = store_find_arn(fsm_store(f), ARN_A);
	v1 = store_version_find(s, vid(1));
	v2 = store_version_find(s, vid(2));
	assert_int_equal(s->last_accessed_ms, 0);
	assert_int_equal(v2->last_accessed_ms, 0);

	/* the secret and the read version get the day; the other does not */
	{
		struct tentry t[] = {{ARN_A, vid(2), DAY0}};

		assert_int_equal(touch_changed(f, T0 + 5, t, 1), 2);
	}
	assert_int_equal(s->last_accessed_ms, DAY0);
	assert_int_equal(v2->last_accessed_ms, DAY0);
	assert_int_equal(v1->last_accessed_ms, 0);
	/* not a change of the secret: LastChangedDate stays, no change hook */
	assert_int_equal(s->last_changed_ms, T0 + 1);
	assert_int_equal(hook_calls, 0);

	/* idempotent: a replay, or an earlier day, changes nothing */
	rev = fsm_revision(f);
	{
		struct tentry t[] = {{ARN_A, vid(2), DAY0}, {ARN_A, vid(2), DAY0 - DAYMS}};

		assert_int_equal(touch_changed(f, T0 + 6, t, 2), 0);
	}
	assert_int_equal(fsm_revision(f), rev + 1); /* still a command */
	assert_int_equal(s->last_accessed_ms, DAY0);
	assert_int_equal(v2->last_accessed_ms, DAY0);

	/* another version the same day: only that version moves; no version
	 * id: only the secret; unknown ARN and pruned version are skipped */
	{
		struct tentry t[] = {{ARN_A, vid(1), DAY0},
				     {ARN_PREFIX "nope-XXXXXX", vid(1), DAY0 + DAYMS},
				     {ARN_PREFIX "a-BBBBBB", vid(1), DAY0 + DAYMS}};

		assert_int_equal(touch_changed(f, T0 + 7, t, 3), 1);
	}
	assert_int_equal(v1->last_accessed_ms, DAY0);
	{
		struct tentry t[] = {{ARN_A, NULL, DAY0 + DAYMS}, {ARN_A, vid(77), DAY0 + DAYMS}};

		assert_int_equal(touch_changed(f, T0 + DAYMS, t, 2), 1);
	}
	assert_int_equal(s->last_accessed_ms, DAY0 + DAYMS);
	assert_int_equal(v1->last_accessed_ms, DAY0);
	assert_int_equal(v2->last_accessed_ms, DAY0);

	/* malformed (a day that is not 00:00 UTC, no ARN, no day): the whole
	 * command is refused and nothing changes */
	{
		struct tentry t[] = {{ARN_A, vid(2), DAY0 + 2 * DAYMS}, {ARN_A, vid(2), DAY0 + 5}};

		expect_err(touch(f, T0, t, 2), "InternalServiceError", "malformed");
		t[1].day = 0;
		expect_err(touch(f, T0, t, 2), "InternalServiceError", "malformed");
		t[1].day = DAY0;
		t[1].arn = NULL;
		expect_err(touch(f, T0, t, 2), "InternalServiceError", "malformed");
	}
	assert_int_equal(v2->last_accessed_ms, DAY0);
	assert_int_equal(s->last_accessed_ms, DAY0 + DAYMS);

	/* a secret scheduled for deletion still records reads made before */
	OK(del(f, T0 + 2 * DAYMS, ARN_A, 0, 7));
	{
		struct tentry t[] = {{ARN_A, vid(2), DAY0 + 2 * DAYMS}};

		assert_int_equal(touch_changed(f, T0 + 2 * DAYMS, t, 1), 2);
	}
	fsm_set_change_hook(f, NULL, NULL);

	/* the dates are state: in the snapshot, byte-identical round trip */
	g = fsm_new("us-east-1");
	assert_int_equal(fsm_snapshot(f, &a, &na), 0);
	assert_int_equal(fsm_restore(g, a, na), 0);
	s = store_find_arn(fsm_store(g), ARN_A);
	assert_int_equal(s->last_accessed_ms, DAY0 + 2 * DAYMS);
	assert_int_equal(store_version_find(s, vid(2))->last_accessed_ms, DAY0 + 2 * DAYMS);
	assert_int_equal(store_version_find(s, vid(1))->last_accessed_ms, DAY0);
	assert_int_equal(fsm_snapshot(g, &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	/* a purged secret is skipped */
	OK(purge(f, T0 + 10 * DAYMS, ARN_A));
	{
		struct tentry t[] = {{ARN_A, vid(2), DAY0 + 10 * DAYMS}};

		assert_int_equal(touch_changed(f, T0 + 10 * DAYMS, t, 1), 0);
	}
	fsm_free(g);
}

/* The leader-local touch set lives with the fsm but is not state: not in
 * the snapshot, not changed by restore or apply. */
static void test_touch_set_not_state(void **state)
{
	struct fsm *f = *state;
	uint8_t *a, *b;
	size_t na, nb;

	OK(create(f, T0, "a", "AAAAAA", vid(1), 1));
	assert_int_equal(fsm_snapshot(f, &a, &na), 0);
	assert_int_equal(store_touches_note(fsm_touches(f), ARN_A, vid(1), DAY0), 0);
	assert_int_equal(fsm_snapshot(f, &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	OK(put(f, T0 + 1, ARN_A, vid(2), 2, NULL, 0));
	assert_int_equal(fsm_restore(f, a, na), 0);
	assert_int_equal(fsm_touches(f)->n, 1);
	assert_non_null(store_touches_get(fsm_touches(f), ARN_A, vid(1)));
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_label_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_restore_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch_set_not_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
