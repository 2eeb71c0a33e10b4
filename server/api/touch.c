/*
 * LastAccessedDate without putting reads on the raft path. A value read on
 * the leader (GetSecretValue, BatchGetSecretValue) records (ARN, version
 * id) and (ARN, no version) -> today (00:00 UTC by the leader's clock) in
 * the FSM's leader-local touch set, each only when the store shows an older
 * day, so each secret and version costs at most one replicated write per
 * day. The leader's answers (DescribeSecret, ListSecrets and its
 * last-accessed-date order, ListSecretVersionIds) show a pending day at
 * once, so a read is visible to the next call; a leader change before the
 * Touch is applied loses at most that day's pending dates. Housekeeping drains
 * the set into one Touch command of at most FSM_MAX_TOUCH entries; apply
 * moves the dates forward only (idempotent). An entry stays in the set
 * until the store shows its day, so a Touch that is lost with a leadership
 * change is proposed again; the caller proposes one housekeeping command at
 * a time, so an entry is not re-proposed while its command is in flight.
 * An entry proposed TOUCH_MAX_ATTEMPTS times without taking effect is
 * dropped (a guard against proposing the same thing forever).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "store/touch.h"
#include "util/errors.h"

#define TOUCH_MAX_ATTEMPTS 3

void api__note_access(struct api_ctx *ctx, const struct store_secret *s,
		      const struct store_version *v)
{
	int64_t day = store_day_ms(ctx->now_ms);
	struct store_touches *ts = fsm_touches(ctx->fsm);

	if (day <= 0)
		return;
	/* best effort: a full set or ENOMEM loses this date only */
	if (s->last_accessed_ms < day)
		(void)store_touches_note(ts, s->arn, NULL, day);
	if (v && v->last_accessed_ms < day)
		(void)store_touches_note(ts, s->arn, v->id, day);
}

int64_t api__accessed_ms(struct api_ctx *ctx, const struct store_secret *s,
			 const struct store_version *v)
{
	const struct store_touches *ts = fsm_touches(ctx->fsm);
	const struct store_touch *t;
	int64_t ms = v ? v->last_accessed_ms : s->last_accessed_ms;

	if (ts->n && (t = store_touches_get(ts, s->arn, v ? v->id : NULL)) && t->day_ms > ms)
		ms = t->day_ms;
	return ms;
}

struct drain {
	const struct store *st;
	Coffer__Fsm__TouchEntry *e;
	Coffer__Fsm__TouchEntry **pe;
	size_t n;
};

static int drain_one(void *arg, struct store_touch *t)
{
	struct drain *d = arg;
	const struct store_secret *s = store_find_arn(d->st, t->arn);
	const struct store_version *v = NULL;
	Coffer__Fsm__TouchEntry *e;

	if (s == NULL)
		return 1; /* purged or deleted: nothing to date */
	if (t->vid[0])
		v = store_version_find(s, t->vid);
	if (s->last_accessed_ms >= t->day_ms && (v == NULL || v->last_accessed_ms >= t->day_ms))
		return 1; /* applied */
	if (t->attempts >= TOUCH_MAX_ATTEMPTS)
		return 1;
	if (d->n >= FSM_MAX_TOUCH)
		return 0; /* next tick */
	t->attempts++;
	e = &d->e[d->n];
	coffer__fsm__touch_entry__init(e);
	e->arn = (char *)t->arn;
	e->version_id = v ? (char *)t->vid : NULL;
	e->has_day_ms = 1;
	e->day_ms = t->day_ms;
	d->pe[d->n++] = e;
	return 0;
}

int api__touch_cmd(struct api_ctx *ctx, uint8_t **cmd, size_t *cmd_len)
{
	struct store_touches *ts = fsm_touches(ctx->fsm);
	Coffer__Fsm__Command c = COFFER__FSM__COMMAND__INIT;
	Coffer__Fsm__Touch t = COFFER__FSM__TOUCH__INIT;
	struct drain d = {fsm_store(ctx->fsm), NULL, NULL, 0};
	int rv = CF_ENOMEM;

	*cmd = NULL;
	*cmd_len = 0;
	if (ts->n == 0)
		return 0;
	d.e = malloc(FSM_MAX_TOUCH * sizeof(*d.e));
	d.pe = malloc(FSM_MAX_TOUCH * sizeof(*d.pe));
	if (d.e == NULL || d.pe == NULL)
		goto out;
	/* the entries point into the set; nothing changes it until packed */
	store_touches_sweep(ts, drain_one, &d);
	rv = 0;
	if (d.n == 0)
		goto out;
	t.n_entries = d.n;
	t.entries = d.pe;
	c.op_case = COFFER__FSM__COMMAND__OP_TOUCH;
	c.touch = &t;
	rv = api__pack_cmd(ctx, &c, cmd, cmd_len);
out:
	free(d.e);
	free(d.pe);
	return rv;
}
