/*
 * The state machine's front: lifecycle, command decoding and dispatch.
 * fsm_apply() decodes one Command (bounded size), bumps the revision (every
 * command counts, even a malformed one or one whose outcome is an AWS
 * error), runs the command's rule in apply.c and returns the result. Only
 * CF_ENOMEM escapes as an error; anything a client or a corrupt entry can
 * cause becomes a result status.
 */
#include "fsm/fsm_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/errors.h"

struct fsm *fsm_new(const char *region)
{
	struct fsm *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->region = strdup(region ? region : "");
	if (f->region == NULL || store_init(&f->st) != 0) {
		free(f->region);
		free(f);
		return NULL;
	}
	return f;
}

void fsm_free(struct fsm *f)
{
	if (f == NULL)
		return;
	store_release(&f->st);
	store_touches_release(&f->touches);
	free(f->region);
	free(f);
}

uint64_t fsm_revision(const struct fsm *f)
{
	return f->revision;
}

const struct store *fsm_store(const struct fsm *f)
{
	return &f->st;
}

const char *fsm_region(const struct fsm *f)
{
	return f->region;
}

struct store_touches *fsm_touches(struct fsm *f)
{
	return &f->touches;
}

void fsm_set_change_hook(struct fsm *f, fsm_change_cb cb, void *data)
{
	f->hook = cb;
	f->hook_data = data;
}

void fsm__changed(struct fsm *f, const char *arn, enum fsm_change_kind kind)
{
	if (f->hook)
		f->hook(f->hook_data, f->revision, arn, kind);
}

void fsm_result_free(void *result)
{
	struct fsm_result *r = result;

	if (r == NULL)
		return;
	free(r->arn);
	free(r->name);
	free(r->version_id);
	for (size_t i = 0; i < r->n_stages; i++)
		free(r->stages[i]);
	free(r);
}

static int dispatch(struct fsm *f, const Coffer__Fsm__Command *c, struct fsm_result *r)
{
	int64_t now = c->has_now_ms ? c->now_ms : 0;

	switch (c->op_case) {
	case COFFER__FSM__COMMAND__OP_KMS_KEY_CREATE:
		r->op = FSM_OP_KMS_KEY_CREATE;
		return fsm__kms_key_create(f, now, c->kms_key_create, r);
	case COFFER__FSM__COMMAND__OP_CREATE_SECRET:
		r->op = FSM_OP_CREATE_SECRET;
		return fsm__create_secret(f, now, c->create_secret, r);
	case COFFER__FSM__COMMAND__OP_PUT_VALUE:
		r->op = FSM_OP_PUT_VALUE;
		return fsm__put_value(f, now, c->put_value, r);
	case COFFER__FSM__COMMAND__OP_UPDATE_SECRET:
		r->op = FSM_OP_UPDATE_SECRET;
		return fsm__update_secret(f, now, c->update_secret, r);
	case COFFER__FSM__COMMAND__OP_UPDATE_VERSION_STAGE:
		r->op = FSM_OP_UPDATE_VERSION_STAGE;
		return fsm__update_version_stage(f, now, c->update_version_stage, r);
	case COFFER__FSM__COMMAND__OP_DELETE_SECRET:
		r->op = FSM_OP_DELETE_SECRET;
		return fsm__delete_secret(f, now, c->delete_secret, r);
	case COFFER__FSM__COMMAND__OP_RESTORE_SECRET:
		r->op = FSM_OP_RESTORE_SECRET;
		return fsm__restore_secret(f, now, c->restore_secret, r);
	case COFFER__FSM__COMMAND__OP_PURGE:
		r->op = FSM_OP_PURGE;
		return fsm__purge(f, now, c->purge, r);
	case COFFER__FSM__COMMAND__OP_TAG_RESOURCE:
		r->op = FSM_OP_TAG_RESOURCE;
		return fsm__tag_resource(f, now, c->tag_resource, r);
	case COFFER__FSM__COMMAND__OP_UNTAG_RESOURCE:
		r->op = FSM_OP_UNTAG_RESOURCE;
		return fsm__untag_resource(f, now, c->untag_resource, r);
	case COFFER__FSM__COMMAND__OP_TOUCH:
		r->op = FSM_OP_TOUCH;
		return fsm__touch(f, now, c->touch, r);
	default:
		cf_status_set(&r->status, "InternalServiceError", "unknown fsm command");
		return 0;
	}
}

int fsm_apply(struct fsm *f, const uint8_t *cmd, size_t n, void **result)
{
	Coffer__Fsm__Command *c = NULL;
	struct fsm_result *r;
	int rv;

	*result = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return CF_ENOMEM;
	f->revision++;
	r->revision = f->revision;
	if (n <= FSM_MAX_COMMAND)
		c = coffer__fsm__command__unpack(NULL, n, cmd);
	if (c == NULL) {
		cf_status_set(&r->status, "InternalServiceError", "undecodable fsm command");
		*result = r;
		return 0;
	}
	rv = dispatch(f, c, r);
	coffer__fsm__command__free_unpacked(c, NULL);
	if (rv != 0) {
		fsm_result_free(r);
		return rv;
	}
	*result = r;
	return 0;
}

int fsm_snapshot(struct fsm *f, uint8_t **buf, size_t *n)
{
	return fsm__snapshot(f, buf, n);
}

int fsm_restore(struct fsm *f, const uint8_t *buf, size_t n)
{
	return fsm__restore(f, buf, n);
}
