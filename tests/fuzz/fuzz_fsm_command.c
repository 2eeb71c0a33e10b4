/*
 * libFuzzer target: arbitrary bytes as an FSM command, applied to a small
 * pre-populated state machine (a KMS key, a secret with three versions and
 * labels, a secret scheduled for deletion). apply() must never crash, must
 * always return a result and advance the revision, and the state must still
 * snapshot and restore afterwards. The input is also tried as a snapshot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.pb-c.h"
#include "fsm/fsm.h"
#include "fsm/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARN_A "arn:aws:secretsmanager:us-east-1:000000000000:secret:a-AAAAAA"

static uint8_t *base_snap;
static size_t base_len;

static void must(int ok)
{
	if (!ok)
		abort();
}

static void apply_cmd(struct fsm *f, Coffer__Fsm__Command *c)
{
	size_t n = coffer__fsm__command__get_packed_size(c);
	uint8_t *buf = malloc(n + 1);
	void *r = NULL;

	coffer__fsm__command__pack(c, buf);
	must(fsm_apply(f, buf, n, &r) == 0 && r != NULL);
	fsm_result_free(r);
	free(buf);
}

static void put(struct fsm *f, const char *arn, const char *id, char **stages, size_t n)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__PutValue pv = COFFER__FSM__PUT_VALUE__INIT;
	Coffer__Fsm__NewVersion nv = COFFER__FSM__NEW_VERSION__INIT;
	Coffer__Fsm__SealedValue sv = COFFER__FSM__SEALED_VALUE__INIT;
	uint8_t mac[32];

	memset(mac, id[0], sizeof(mac));
	sv.kms_key_id = "key-1";
	sv.has_wrapped_dk = sv.has_ct = sv.has_mac = 1;
	sv.wrapped_dk.data = (uint8_t *)"wdk";
	sv.wrapped_dk.len = 3;
	sv.ct.data = (uint8_t *)"ciphertext";
	sv.ct.len = 10;
	sv.mac.data = mac;
	sv.mac.len = 32;
	nv.version_id = (char *)id;
	nv.value = &sv;
	nv.stages = stages;
	nv.n_stages = n;
	pv.arn = (char *)arn;
	pv.version = &nv;
	c.has_now_ms = 1;
	c.now_ms = 1700000000000LL;
	c.op_case = COFFER__FSM__COMMAND__OP_PUT_VALUE;
	c.put_value = &pv;
	apply_cmd(f, &c);
}

static void create(struct fsm *f, const char *name, const char *arn)
{
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__CreateSecret cs = COFFER__FSM__CREATE_SECRET__INIT;

	cs.name = (char *)name;
	cs.arn = (char *)arn;
	cs.token = "00000000-0000-4000-8000-000000000000";
	c.has_now_ms = 1;
	c.now_ms = 1700000000000LL;
	c.op_case = COFFER__FSM__COMMAND__OP_CREATE_SECRET;
	c.create_secret = &cs;
	apply_cmd(f, &c);
}

static void build_base(void)
{
	struct fsm *f = fsm_new("us-east-1");
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__KmsKeyCreate k = COFFER__FSM__KMS_KEY_CREATE__INIT;
	Coffer__Fsm__DeleteSecret d = COFFER__FSM__DELETE_SECRET__INIT;
	char *pending[] = {"AWSPENDING", "blue"};

	must(f != NULL);
	k.key_id = "key-1";
	k.alias = "aws/secretsmanager";
	k.has_wrapped = 1;
	k.wrapped.data = (uint8_t *)"wrapped";
	k.wrapped.len = 7;
	c.op_case = COFFER__FSM__COMMAND__OP_KMS_KEY_CREATE;
	c.kms_key_create = &k;
	apply_cmd(f, &c);
	create(f, "a", ARN_A);
	put(f, ARN_A, "11111111-1111-4111-8111-111111111111", NULL, 0);
	put(f, ARN_A, "22222222-2222-4222-8222-222222222222", NULL, 0);
	put(f, ARN_A, "33333333-3333-4333-8333-333333333333", pending, 2);
	create(f, "b", "arn:aws:secretsmanager:us-east-1:000000000000:secret:b-BBBBBB");
	coffer__fsm__command__init(&c);
	d.arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:b-BBBBBB";
	d.has_deletion_date_ms = 1;
	d.deletion_date_ms = 1700000000000LL + 86400000LL;
	c.has_now_ms = 1;
	c.now_ms = 1700000000000LL;
	c.op_case = COFFER__FSM__COMMAND__OP_DELETE_SECRET;
	c.delete_secret = &d;
	apply_cmd(f, &c);
	must(fsm_snapshot(f, &base_snap, &base_len) == 0);
	fsm_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsm *f;
	uint64_t rev;
	uint8_t *snap;
	size_t n;
	void *r = NULL;

	if (base_snap == NULL)
		build_base();
	f = fsm_new("us-east-1");
	must(f != NULL && fsm_restore(f, base_snap, base_len) == 0);
	rev = fsm_revision(f);
	must(fsm_apply(f, data, size, &r) == 0 && r != NULL);
	must(fsm_revision(f) == rev + 1);
	fsm_result_free(r);
	/* the state is still consistent enough to snapshot and restore */
	must(fsm_snapshot(f, &snap, &n) == 0);
	must(fsm_restore(f, snap, n) == 0);
	free(snap);
	/* the same bytes as a snapshot: refused or accepted, never a crash */
	(void)fsm_restore(f, data, size);
	fsm_free(f);
	return 0;
}
