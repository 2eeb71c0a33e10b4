/*
 * The leader-local set of pending LastAccessedDate updates (touch.h).
 * Buckets are allocated on the first entry; an entry is one allocation
 * (the node plus both key strings).
 */
#include "store/touch.h"

#include <stdlib.h>
#include <string.h>

#include "util/errors.h"

/* arn NUL vid: unambiguous, since neither holds a NUL */
static uint64_t hash_key(const struct store_touches *t, const char *arn, const char *vid)
{
	struct store_sip s;

	store_sip_init(&s, &t->key);
	store_sip_update(&s, arn, strlen(arn) + 1);
	store_sip_update(&s, vid, strlen(vid));
	return store_sip_final(&s);
}

void store_touches_release(struct store_touches *t)
{
	struct store_touch *e = t->oldest, *next;

	for (; e; e = next) {
		next = e->newer;
		free(e);
	}
	free(t->b);
	memset(t, 0, sizeof(*t));
}

static struct store_touch *find(const struct store_touches *t, const char *arn, const char *vid,
				uint64_t h)
{
	struct store_touch *e;

	if (t->nb == 0)
		return NULL;
	for (e = t->b[h & (t->nb - 1)]; e; e = e->next)
		if (e->hash == h && strcmp(e->arn, arn) == 0 && strcmp(e->vid, vid) == 0)
			return e;
	return NULL;
}

const struct store_touch *store_touches_get(const struct store_touches *t, const char *arn,
					    const char *vid)
{
	vid = vid ? vid : "";
	if (t->nb == 0)
		return NULL;
	return find(t, arn, vid, hash_key(t, arn, vid));
}

static int grow(struct store_touches *t)
{
	size_t nb = t->nb ? t->nb * 2 : 64;
	struct store_touch **b;
	int rv;

	/* the set is empty here: no entry was hashed under an older key */
	if (t->nb == 0 && (rv = store_hash_key_random(&t->key)) != 0)
		return rv;
	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return t->nb ? 0 : CF_ENOMEM; /* longer chains are still correct */
	for (size_t i = 0; i < t->nb; i++) {
		struct store_touch *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

int store_touches_note(struct store_touches *t, const char *arn, const char *vid,
		       int64_t day_ms)
{
	struct store_touch *e;
	size_t na, nv;
	uint64_t h;
	int rv;

	vid = vid ? vid : "";
	if (t->nb == 0 && (rv = grow(t)) != 0)
		return rv;
	h = hash_key(t, arn, vid);
	if ((e = find(t, arn, vid, h)) != NULL) {
		if (e->day_ms < day_ms) {
			e->day_ms = day_ms;
			e->attempts = 0;
		}
		return 0;
	}
	if (t->n >= STORE_TOUCHES_MAX)
		return CF_ETOOBIG;
	if (t->n >= t->nb && (rv = grow(t)) != 0)
		return rv;
	na = strlen(arn);
	nv = strlen(vid);
	if ((e = malloc(sizeof(*e) + na + nv + 2)) == NULL)
		return CF_ENOMEM;
	memcpy(e->key, arn, na + 1);
	memcpy(e->key + na + 1, vid, nv + 1);
	e->arn = e->key;
	e->vid = e->key + na + 1;
	e->day_ms = day_ms;
	e->attempts = 0;
	e->hash = h;
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	e->newer = NULL;
	e->older = t->newest;
	if (t->newest)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
	t->n++;
	return 0;
}

static void unlink_free(struct store_touches *t, struct store_touch *e)
{
	struct store_touch **pp = &t->b[e->hash & (t->nb - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	free(e);
	t->n--;
}

void store_touches_sweep(struct store_touches *t, store_touch_fn fn, void *arg)
{
	struct store_touch *e = t->oldest, *next;

	for (; e; e = next) {
		next = e->newer;
		if (fn(arg, e))
			unlink_free(t, e);
	}
}
