/*
 * The leader-local set of pending LastAccessedDate updates (touch.h).
 * Buckets are allocated on the first entry; an entry is one allocation
 * (the node plus both key strings).
 */
#include "store/touch.h"

#include <stdlib.h>
#include <string.h>

#include "util/errors.h"

static uint64_t hash_key(const char *arn, const char *vid)
{
	uint64_t h = 1469598103934665603ULL;
	const char *k;

	for (k = arn; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ULL;
	}
	h ^= 0xff; /* separator: no byte of a C string */
	h *= 1099511628211ULL;
	for (k = vid; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

void store_touches_release(struct store_touches *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct store_touch *e = t->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
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
	return find(t, arn, vid, hash_key(arn, vid));
}

static int grow(struct store_touches *t)
{
	size_t nb = t->nb ? t->nb * 2 : 64;
	struct store_touch **b = calloc(nb, sizeof(*b));

	if (b == NULL)
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

	vid = vid ? vid : "";
	h = hash_key(arn, vid);
	if ((e = find(t, arn, vid, h)) != NULL) {
		if (e->day_ms < day_ms) {
			e->day_ms = day_ms;
			e->attempts = 0;
		}
		return 0;
	}
	if (t->n >= STORE_TOUCHES_MAX)
		return CF_ETOOBIG;
	if (t->n >= t->nb && grow(t) != 0)
		return CF_ENOMEM;
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
	t->n++;
	return 0;
}

void store_touches_sweep(struct store_touches *t, store_touch_fn fn, void *arg)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct store_touch **pp = &t->b[i];

		while (*pp) {
			struct store_touch *e = *pp;

			if (fn(arg, e)) {
				*pp = e->next;
				free(e);
				t->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}
