/*
 * store_touches: the leader's set of pending LastAccessedDate updates. A
 * value read on the leader records (ARN, version id) -> day (00:00 UTC)
 * here when the store's date is older; housekeeping turns the entries into
 * one replicated "touch" command and drops each entry once the store shows
 * its day (or its secret is gone). The set is leader-local: it is never
 * replicated, never part of a snapshot and never read or written by
 * apply(), so apply() stays deterministic and reads stay off the raft path.
 *
 * A chained hash table (SipHash-2-4 under a random key drawn when the
 * first buckets are allocated, doubled at load 1) keyed by (arn, vid);
 * recording an entry that already holds the day (or a later one) is one
 * lookup without allocation. Entries are also linked in insertion order,
 * which is the order sweeps visit them: what housekeeping proposes (and
 * which entries make a full Touch command) does not depend on the key.
 * At most STORE_TOUCHES_MAX entries: beyond that a new entry is refused
 * (that access date is lost, nothing else). Pure but for the hash key.
 * Loop thread only.
 */
#ifndef COFFER_STORE_TOUCH_H
#define COFFER_STORE_TOUCH_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_TOUCHES_MAX (1u << 20)

struct store_touch {
	const char *arn;          /* into key[] */
	const char *vid;          /* into key[]; "" = the secret only */
	int64_t day_ms;
	unsigned attempts;        /* times proposed without taking effect */
	uint64_t hash;
	struct store_touch *next;          /* bucket chain */
	struct store_touch *older, *newer; /* insertion order */
	char key[];               /* arn NUL vid NUL */
};

struct store_touches {
	struct store_touch **b;   /* NULL until the first entry */
	size_t nb;                /* power of two, or 0 */
	size_t n;
	struct store_touch *oldest, *newest;
	struct store_hash_key key; /* drawn with the first buckets */
	int prefer;               /* housekeeping's turn flag (see api.c) */
};

/* Zero-initialised is an empty set; release frees every entry. */
void store_touches_release(struct store_touches *t);

/* Record that (arn, vid) was read on day_ms (vid NULL or "" = the secret
 * only). No-op when the entry holds day_ms or later; an older day is moved
 * forward in place (attempts reset, position kept). 0, CF_ENOMEM,
 * CF_ETOOBIG when the set is full, or crypto_random's error when the first
 * entry cannot get a hash key. */
int store_touches_note(struct store_touches *t, const char *arn, const char *vid,
		       int64_t day_ms);

/* The entry for (arn, vid), or NULL. */
const struct store_touch *store_touches_get(const struct store_touches *t, const char *arn,
					    const char *vid);

/* Visit every entry, oldest first; fn returns 1 to remove the entry (freed
 * after fn returns), 0 to keep it. fn may keep pointers to kept entries
 * until the next call that changes the set. */
typedef int (*store_touch_fn)(void *arg, struct store_touch *e);
void store_touches_sweep(struct store_touches *t, store_touch_fn fn, void *arg);

#endif
