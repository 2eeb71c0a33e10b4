/* store: indexing, resolution order, versions, labels, pruning, KMS keys,
 * day truncation, the leader-local touch set, and the keyed hash (SipHash
 * vectors, per-store keys, nothing observable depending on the key). */
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
#include "store/store.h"
#include "store/touch.h"
#include "util/errors.h"

#define ARN_PREFIX "arn:aws:secretsmanager:us-east-1:000000000000:secret:"
#define VID(i) vid_buf(i)

static char vbuf[8][40];
static const char *vid_buf(int i)
{
	static int slot;
	char *b = vbuf[slot++ & 7];

	snprintf(b, 40, "%08d-aaaa-4bbb-8ccc-dddddddddddd", i);
	return b;
}

static int setup(void **state)
{
	static struct store st;

	assert_int_equal(store_init(&st), 0);
	*state = &st;
	return 0;
}

static int teardown(void **state)
{
	store_release(*state);
	return 0;
}

static struct store_secret *add(struct store *st, const char *name, const char *suffix)
{
	char arn[600];
	struct store_secret *s = NULL;

	snprintf(arn, sizeof(arn), ARN_PREFIX "%s-%s", name, suffix);
	assert_int_equal(store_secret_add(st, name, arn, 1000, &s), 0);
	return s;
}

static void test_resolve_order(void **state)
{
	struct store *st = *state;
	struct store_secret *a = add(st, "app/db", "AbC123");
	struct store_secret *b = add(st, "other", "xyzXYZ");

	assert_ptr_equal(store_resolve(st, "app/db"), a);
	assert_ptr_equal(store_resolve(st, ARN_PREFIX "app/db-AbC123"), a);
	assert_ptr_equal(store_resolve(st, ARN_PREFIX "app/db"), a); /* partial ARN */
	assert_ptr_equal(store_resolve(st, ARN_PREFIX "other"), b);
	assert_null(store_resolve(st, ARN_PREFIX "app/db-AbC12"));
	assert_null(store_resolve(st, ARN_PREFIX "app/d"));
	assert_null(store_resolve(st, "app/db-AbC123"));
	assert_null(store_resolve(st, "nope"));
	/* duplicate name or ARN */
	{
		struct store_secret *x;

		assert_int_equal(store_secret_add(st, "app/db", "arn:x", 1, &x), CF_EEXIST);
		assert_int_equal(store_secret_add(st, "new", ARN_PREFIX "other-xyzXYZ", 1, &x),
				 CF_EEXIST);
	}
	store_secret_remove(st, a);
	assert_null(store_resolve(st, "app/db"));
	assert_null(store_find_arn(st, ARN_PREFIX "app/db-AbC123"));
	assert_int_equal(st->n_secrets, 1);
	assert_ptr_equal(st->head, b);
	assert_ptr_equal(st->tail, b);
}

static void test_many_secrets_hash_growth(void **state)
{
	struct store *st = *state;
	char name[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		add(st, name, "AAAAAA");
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_non_null(store_find_name(st, name));
		assert_string_equal(store_find_name(st, name)->name, name);
	}
	assert_int_equal(st->n_secrets, 5000);
	assert_true(st->by_name.nb >= 4096);
}

static void test_labels(void **state)
{
	struct store *st = *state;
	struct store_secret *s = add(st, "l", "AAAAAA");
	struct store_version *v1, *v2;
	const char *labels[STORE_MAX_LABELS];
	char name[16];

	assert_int_equal(store_version_add(s, VID(1), 10, NULL, &v1), 0);
	assert_int_equal(store_version_add(s, VID(2), 20, NULL, &v2), 0);
	assert_int_equal(store_version_add(s, VID(2), 20, NULL, NULL), CF_EEXIST);
	assert_int_equal(store_label_attach(s, "AWSCURRENT", v1), 0);
	assert_int_equal(store_label_attach(s, "B", v1), 0);
	assert_int_equal(store_version_labels(s, v1, labels), 2);
	assert_string_equal(labels[0], "AWSCURRENT");
	assert_string_equal(labels[1], "B");
	/* moving takes the label away from its holder */
	assert_int_equal(store_label_attach(s, "AWSCURRENT", v2), 0);
	assert_ptr_equal(store_label_get(s, "AWSCURRENT"), v2);
	assert_int_equal(v1->n_labels, 1);
	assert_int_equal(v2->n_labels, 1);
	store_label_detach(s, "B");
	assert_int_equal(v1->n_labels, 0);
	assert_null(store_label_get(s, "B"));
	/* 20-label limit */
	for (int i = 0; i < STORE_MAX_LABELS - 1; i++) {
		snprintf(name, sizeof(name), "L%d", i);
		assert_int_equal(store_label_attach(s, name, v1), 0);
	}
	assert_int_equal(store_label_attach(s, "one-too-many", v1), CF_ETOOBIG);
	assert_int_equal(store_label_attach(s, "L3", v2), 0); /* moving is fine */
	/* removing a version removes its labels */
	store_version_remove(s, v1);
	assert_int_equal(s->n_versions, 1);
	assert_int_equal(s->n_labels, 2);
	assert_ptr_equal(store_label_get(s, "L3"), v2);
}

static void test_prune(void **state)
{
	struct store *st = *state;
	struct store_secret *s = add(st, "p", "AAAAAA");
	struct store_version *v;
	int64_t day = STORE_PRUNE_AGE_MS;

	for (int i = 0; i < STORE_MAX_VERSIONS; i++)
		assert_int_equal(store_version_add(s, VID(i), i < 50 ? 0 : day, NULL, &v), 0);
	assert_int_equal(store_label_attach(s, "AWSCURRENT", s->versions[0]), 0);
	/* at day + 1 only the unlabelled versions created at 0 are old enough */
	assert_int_equal(store_prunable(s, day + 1), 49);
	store_prune(s, day + 1, 99);
	assert_int_equal(s->n_versions, 99);
	assert_string_equal(s->versions[0]->id, VID(0)); /* labelled: kept */
	assert_string_equal(s->versions[1]->id, VID(2)); /* oldest unlabelled went */
	store_prune(s, day + 1, 0);
	assert_int_equal(s->n_versions, 51);
	assert_int_equal(store_prunable(s, day + 1), 0);
	assert_int_equal(store_prunable(s, 2 * day), 50);
}

static void test_kms(void **state)
{
	struct store *st = *state;
	const uint8_t w[4] = {1, 2, 3, 4};

	assert_null(store_kms_find(st, "aws/secretsmanager"));
	assert_int_equal(store_kms_add(st, "k1", "aws/secretsmanager", w, 4, 5), 0);
	assert_int_equal(store_kms_add(st, "k1", NULL, w, 4, 5), CF_EEXIST);
	assert_int_equal(store_kms_add(st, "k2", "aws/secretsmanager", w, 4, 5), CF_EEXIST);
	assert_string_equal(store_kms_find(st, "aws/secretsmanager")->key_id, "k1");
	assert_memory_equal(store_kms_find(st, "k1")->wrapped, w, 4);
}

static void test_day_ms(void **state)
{
	const int64_t day = STORE_DAY_MS, d0 = 1700000000000LL - 1700000000000LL % STORE_DAY_MS;

	(void)state;
	assert_int_equal(day, 86400000LL);
	assert_int_equal(store_day_ms(0), 0);
	assert_int_equal(store_day_ms(1), 0);
	assert_int_equal(store_day_ms(day - 1), 0);
	assert_int_equal(store_day_ms(day), day);
	/* 2023-11-14T22:13:20Z -> 2023-11-14T00:00:00Z */
	assert_int_equal(store_day_ms(1700000000000LL), 1699920000000LL);
	assert_int_equal(d0, 1699920000000LL);
	assert_int_equal(store_day_ms(d0 + day - 1), d0);
	assert_int_equal(store_day_ms(d0 + day), d0 + day);
	/* before the epoch: floor, not truncation toward zero */
	assert_int_equal(store_day_ms(-1), -day);
	assert_int_equal(store_day_ms(-day), -day);
}

struct sweep_ctx {
	int calls;
	const char *drop_arn;
};

static int sweep_fn(void *arg, struct store_touch *e)
{
	struct sweep_ctx *c = arg;

	c->calls++;
	return c->drop_arn && strcmp(e->arn, c->drop_arn) == 0;
}

static void test_touches(void **state)
{
	struct store_touches t = {0};
	const struct store_touch *e, *e2;
	struct sweep_ctx sc = {0};
	char arn[100];

	(void)state;
	assert_null(store_touches_get(&t, "a", NULL));
	store_touches_sweep(&t, sweep_fn, &sc); /* empty, no buckets */
	assert_int_equal(sc.calls, 0);

	assert_int_equal(store_touches_note(&t, "arn-a", VID(1), 1000), 0);
	assert_int_equal(t.n, 1);
	e = store_touches_get(&t, "arn-a", VID(1));
	assert_non_null(e);
	assert_string_equal(e->arn, "arn-a");
	assert_string_equal(e->vid, VID(1));
	assert_int_equal(e->day_ms, 1000);
	/* same or earlier day: no change, same entry (no allocation) */
	((struct store_touch *)e)->attempts = 2;
	assert_int_equal(store_touches_note(&t, "arn-a", VID(1), 1000), 0);
	assert_int_equal(store_touches_note(&t, "arn-a", VID(1), 500), 0);
	e2 = store_touches_get(&t, "arn-a", VID(1));
	assert_ptr_equal(e, e2);
	assert_int_equal(e->day_ms, 1000);
	assert_int_equal(e->attempts, 2);
	assert_int_equal(t.n, 1);
	/* a later day moves the entry forward in place and resets attempts */
	assert_int_equal(store_touches_note(&t, "arn-a", VID(1), 2000), 0);
	assert_ptr_equal(store_touches_get(&t, "arn-a", VID(1)), e);
	assert_int_equal(e->day_ms, 2000);
	assert_int_equal(e->attempts, 0);
	/* the key is (arn, vid): other version, no version, other arn */
	assert_int_equal(store_touches_note(&t, "arn-a", VID(2), 2000), 0);
	assert_int_equal(store_touches_note(&t, "arn-a", NULL, 2000), 0);
	assert_int_equal(store_touches_note(&t, "arn-b", VID(1), 2000), 0);
	assert_int_equal(t.n, 4);
	assert_string_equal(store_touches_get(&t, "arn-a", "")->vid, "");
	assert_non_null(store_touches_get(&t, "arn-a", NULL));
	assert_null(store_touches_get(&t, "arn-c", VID(1)));
	/* "ab"+"c" and "a"+"bc" are different keys */
	assert_int_equal(store_touches_note(&t, "ab", "c", 1), 0);
	assert_null(store_touches_get(&t, "a", "bc"));
	assert_int_equal(store_touches_note(&t, "a", "bc", 1), 0);
	assert_int_equal(t.n, 6);

	/* growth past the first 64 buckets keeps every entry */
	for (int i = 0; i < 500; i++) {
		snprintf(arn, sizeof(arn), "arn-many-%d", i);
		assert_int_equal(store_touches_note(&t, arn, VID(i), 3000), 0);
	}
	assert_int_equal(t.n, 506);
	for (int i = 0; i < 500; i++) {
		snprintf(arn, sizeof(arn), "arn-many-%d", i);
		e = store_touches_get(&t, arn, VID(i));
		assert_non_null(e);
		assert_int_equal(e->day_ms, 3000);
	}
	/* sweep: visits all, removes what fn asks for */
	sc.drop_arn = "arn-a";
	store_touches_sweep(&t, sweep_fn, &sc);
	assert_int_equal(sc.calls, 506);
	assert_int_equal(t.n, 503);
	assert_null(store_touches_get(&t, "arn-a", VID(1)));
	assert_null(store_touches_get(&t, "arn-a", NULL));
	assert_non_null(store_touches_get(&t, "arn-b", VID(1)));
	store_touches_release(&t);
	assert_int_equal(t.n, 0);
	assert_null(store_touches_get(&t, "arn-b", VID(1)));
}

/* ---------------------------------------------------------------- keyed hash */

/* The reference vectors (SipHash paper, appendix; vectors.h of the
 * reference code): key 00..0f, message 00..n-1, SipHash-2-4, 64-bit out. */
static void test_siphash_vectors(void **state)
{
	static const struct {
		size_t n;
		uint64_t h;
	} vec[] = {
		{0, 0x726fdb47dd0e0e31ULL},  {1, 0x74f839c593dc67fdULL},
		{7, 0xab0200f58b01d137ULL},  {8, 0x93f5f5799a932462ULL},
		{15, 0xa129ca6149be45e5ULL}, {63, 0x958a324ceb064572ULL},
	};
	uint8_t raw[STORE_HASH_KEY_LEN], msg[64];
	struct store_hash_key k;

	(void)state;
	for (int i = 0; i < 16; i++)
		raw[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	store_hash_key(&k, raw);
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		assert_true(store_siphash(&k, msg, vec[i].n) == vec[i].h);
	/* incremental in uneven pieces == one shot, for every length */
	for (size_t n = 0; n <= 64; n++) {
		struct store_sip s;
		size_t off = 0, step = 1;

		store_sip_init(&s, &k);
		while (off < n) {
			size_t m = n - off < step ? n - off : step;

			store_sip_update(&s, msg + off, m);
			off += m;
			step = step % 9 + 1;
		}
		assert_true(store_sip_final(&s) == store_siphash(&k, msg, n));
	}
	/* and the key matters */
	raw[0] ^= 1;
	store_hash_key(&k, raw);
	assert_true(store_siphash(&k, msg, 15) != 0xa129ca6149be45e5ULL);
}

/* Two stores draw different keys: the same names land in different
 * buckets (placement is not predictable from the names alone). */
static void test_keyed_placement(void **state)
{
	struct store a, b;
	char name[32];
	int differ = 0;

	(void)state;
	assert_int_equal(store_init(&a), 0);
	assert_int_equal(store_init(&b), 0);
	assert_true(a.by_name.key.k0 != b.by_name.key.k0 || a.by_name.key.k1 != b.by_name.key.k1);
	assert_int_equal(a.by_name.nb, b.by_name.nb);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		uint64_t h = store_siphash(&a.by_name.key, name, strlen(name));

		assert_true(store__slot(&a.by_name, name) == (size_t)(h & (a.by_name.nb - 1)));
		differ += store__slot(&a.by_name, name) != store__slot(&b.by_name, name);
	}
	/* 200 independent 1-in-64 coincidences: essentially all differ */
	assert_true(differ > 150);
	store_release(&a);
	store_release(&b);
}

static void fsm_ok(struct fsm *f, Coffer__Fsm__Command *c, int64_t now)
{
	size_t n;
	uint8_t *buf;
	void *r = NULL;

	c->has_now_ms = 1;
	c->now_ms = now;
	n = coffer__fsm__command__get_packed_size(c);
	buf = malloc(n + 1);
	assert_non_null(buf);
	coffer__fsm__command__pack(c, buf);
	assert_int_equal(fsm_apply(f, buf, n, &r), 0);
	free(buf);
	assert_non_null(r);
	if (((struct fsm_result *)r)->status.type[0])
		fail_msg("%s: %s", ((struct fsm_result *)r)->status.type,
			 ((struct fsm_result *)r)->status.message);
	fsm_result_free(r);
}

/* The same commands on two FSMs (two stores, two keys) past several table
 * doublings, with deletions in between: byte-identical snapshots, the
 * same list order, although the buckets differ. A snapshot, listing or
 * purge that walked buckets would fail this. */
static void test_key_independent_state(void **state)
{
	struct fsm *f[2] = {fsm_new("us-east-1"), fsm_new("us-east-1")};
	char name[64], arn[200];
	const struct store *sa, *sb;
	const struct store_secret *x, *y;
	uint8_t *a, *b;
	size_t na, nb;
	int differ = 0;

	(void)state;
	assert_non_null(f[0]);
	assert_non_null(f[1]);
	for (int i = 0; i < 600; i++) {
		for (int j = 0; j < 2; j++) {
			Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
			Coffer__Fsm__CreateSecret cs = COFFER__FSM__CREATE_SECRET__INIT;
			Coffer__Fsm__DeleteSecret d = COFFER__FSM__DELETE_SECRET__INIT;

			snprintf(name, sizeof(name), "app/%d/n%d", i * 7919 % 600, i);
			snprintf(arn, sizeof(arn), ARN_PREFIX "%s-%06d", name, i);
			cs.name = name;
			cs.arn = arn;
			c.op_case = COFFER__FSM__COMMAND__OP_CREATE_SECRET;
			c.create_secret = &cs;
			fsm_ok(f[j], &c, 1000 + i);
			if (i % 3 == 2) {
				/* force-delete an earlier one (removed from the tables) */
				coffer__fsm__command__init(&c);
				snprintf(name, sizeof(name), "app/%d/n%d",
					 (i - 1) * 7919 % 600, i - 1);
				snprintf(arn, sizeof(arn), ARN_PREFIX "%s-%06d", name, i - 1);
				d.arn = arn;
				d.has_force = d.force = 1;
				c.op_case = COFFER__FSM__COMMAND__OP_DELETE_SECRET;
				c.delete_secret = &d;
				fsm_ok(f[j], &c, 1000 + i);
			}
		}
	}
	sa = fsm_store(f[0]);
	sb = fsm_store(f[1]);
	assert_int_equal(sa->n_secrets, 400);
	assert_int_equal(sa->by_name.nb, sb->by_name.nb);
	for (x = sa->head, y = sb->head; x && y; x = x->next, y = y->next) {
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->seq, y->seq);
		assert_ptr_equal(store_find_name(sa, x->name), x);
		assert_ptr_equal(store_resolve(sb, x->arn), y);
		differ += store__slot(&sa->by_name, x->name) != store__slot(&sb->by_name, x->name);
	}
	assert_null(x);
	assert_null(y);
	assert_true(differ > 300); /* the buckets really are different */
	assert_int_equal(fsm_snapshot(f[0], &a, &na), 0);
	assert_int_equal(fsm_snapshot(f[1], &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(b);
	/* a restored store draws yet another key; its snapshot is the same */
	fsm_free(f[1]);
	f[1] = fsm_new("us-east-1");
	assert_int_equal(fsm_restore(f[1], a, na), 0);
	assert_int_equal(fsm_snapshot(f[1], &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	fsm_free(f[0]);
	fsm_free(f[1]);
}

struct order_ctx {
	char seen[600][48];
	int n;
	int drop_mod; /* drop every entry whose index % drop_mod == 0 */
};

static int order_fn(void *arg, struct store_touch *e)
{
	struct order_ctx *c = arg;
	int i = c->n;

	snprintf(c->seen[c->n++], sizeof(c->seen[0]), "%s|%s", e->arn, e->vid);
	return c->drop_mod && i % c->drop_mod == 0;
}

/* The touch set: keyed, and swept in insertion order whatever the key, so
 * the Touch command housekeeping builds does not depend on it. */
static void test_touches_keyed_order(void **state)
{
	struct store_touches t[2] = {{0}, {0}};
	static struct order_ctx oc[2];
	char arn[64], want[48];
	int hdiff = 0;

	(void)state;
	for (int i = 0; i < 300; i++) {
		const char *v = i % 2 ? VID(i) : NULL;

		snprintf(arn, sizeof(arn), "arn-%d", i * 37 % 300);
		for (int j = 0; j < 2; j++)
			assert_int_equal(store_touches_note(&t[j], arn, v, 1000), 0);
		hdiff += store_touches_get(&t[0], arn, v)->hash !=
			 store_touches_get(&t[1], arn, v)->hash;
	}
	assert_true(hdiff > 290);
	/* moving a day forward keeps the entry's place */
	assert_int_equal(store_touches_note(&t[0], "arn-0", NULL, 2000), 0);
	assert_int_equal(store_touches_note(&t[1], "arn-0", NULL, 2000), 0);
	memset(oc, 0, sizeof(oc));
	for (int j = 0; j < 2; j++) {
		oc[j].drop_mod = 3;
		store_touches_sweep(&t[j], order_fn, &oc[j]);
		assert_int_equal(oc[j].n, 300);
		assert_int_equal(t[j].n, 200);
	}
	for (int i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "arn-%d|%s", i * 37 % 300, i % 2 ? VID(i) : "");
		assert_string_equal(oc[0].seen[i], want);
		assert_string_equal(oc[1].seen[i], want);
	}
	/* the survivors, still in order; then appended ones come last */
	assert_int_equal(store_touches_note(&t[0], "arn-new", NULL, 1000), 0);
	assert_int_equal(store_touches_note(&t[1], "arn-new", NULL, 1000), 0);
	memset(oc, 0, sizeof(oc));
	for (int j = 0; j < 2; j++) {
		store_touches_sweep(&t[j], order_fn, &oc[j]);
		assert_int_equal(oc[j].n, 201);
		assert_string_equal(oc[j].seen[200], "arn-new|");
		for (int i = 0, k = 0; i < 300; i++) {
			if (i % 3 == 0)
				continue;
			snprintf(want, sizeof(want), "arn-%d|%s", i * 37 % 300,
				 i % 2 ? VID(i) : "");
			assert_string_equal(oc[j].seen[k++], want);
		}
		/* drop everything: the set is empty and reusable */
		oc[j].n = 0;
		oc[j].drop_mod = 1;
		store_touches_sweep(&t[j], order_fn, &oc[j]);
		assert_int_equal(t[j].n, 0);
		assert_null(t[j].oldest);
		assert_null(t[j].newest);
		assert_int_equal(store_touches_note(&t[j], "again", NULL, 1), 0);
		assert_ptr_equal(t[j].oldest, t[j].newest);
		store_touches_release(&t[j]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_secrets_hash_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kms, setup, teardown),
		cmocka_unit_test(test_day_ms),
		cmocka_unit_test(test_touches),
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_keyed_placement),
		cmocka_unit_test(test_key_independent_state),
		cmocka_unit_test(test_touches_keyed_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
