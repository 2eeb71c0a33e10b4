/* store: indexing, resolution order, versions, labels, pruning, KMS keys,
 * day truncation and the leader-local touch set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
