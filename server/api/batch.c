/*
 * BatchGetSecretValue (read): the AWSCURRENT value of up to 20 secrets,
 * named either by SecretIdList or by Filters (the ListSecrets language,
 * paged with MaxResults 1-20 and NextToken, secrets scheduled for deletion
 * left out). Bad input fails the call; a problem with one secret becomes an
 * Errors[] entry {SecretId, ErrorCode, Message} instead (unknown id:
 * ResourceNotFoundException; scheduled for deletion: InvalidRequestException;
 * no current value: ResourceNotFoundException; the key cannot open it:
 * DecryptionFailure; an id with characters a name cannot have:
 * InvalidParameterException). With filters, SecretId of an error entry is
 * the secret's ARN. Plaintexts are opened into the secure heap and the
 * response is packed there; both are wiped before return.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "util/errors.h"

#define BATCH_MAX 20

struct batch {
	struct api_ctx *ctx;
	struct scratch sc;
	Coffer__BatchGetSecretValueResponse resp;
	Coffer__SecretValueEntry *values[BATCH_MAX];
	Coffer__APIErrorType *errors[BATCH_MAX];
	struct secbuf pt[BATCH_MAX];
};

static int add_error(struct batch *b, const char *id, const struct cf_status *st)
{
	Coffer__APIErrorType *e = api__alloc(&b->sc, sizeof(*e));
	char *code = api__alloc(&b->sc, sizeof(st->type));
	char *msg = api__alloc(&b->sc, sizeof(st->message));

	if (e == NULL || code == NULL || msg == NULL)
		return CF_ENOMEM;
	coffer__apierror_type__init(e);
	memcpy(code, st->type, sizeof(st->type));
	memcpy(msg, st->message, sizeof(st->message));
	e->secret_id = (char *)id;
	e->error_code = code;
	e->message = msg;
	b->errors[b->resp.n_errors++] = e;
	return 0;
}

/* One secret: a value entry or an error entry. */
static int add_secret(struct batch *b, const char *id, const struct store_secret *s)
{
	struct api_reply err = {0};
	const struct store_version *v;
	Coffer__SecretValueEntry *e;
	struct secbuf *pt = &b->pt[b->resp.n_secret_values];
	const char **labels;
	int rv;

	if (s->deleted_ms)
		return api__error(&err, "InvalidRequestException", MSG_MARKED_DELETED),
		       add_error(b, id, &err.status);
	v = store_label_get(s, "AWSCURRENT");
	if (v == NULL || !v->has_value)
		return api__error(&err, "ResourceNotFoundException",
				  "Secrets Manager can't find the specified secret value for "
				  "staging label: AWSCURRENT"),
		       add_error(b, id, &err.status);
	if ((rv = api__open_value(b->ctx, &err, s, v, pt)) != 0)
		return rv < 0 ? rv : add_error(b, id, &err.status);
	api__note_access(b->ctx, s, v);
	e = api__alloc(&b->sc, sizeof(*e));
	labels = api__alloc(&b->sc, STORE_MAX_LABELS * sizeof(*labels));
	if (e == NULL || labels == NULL)
		return CF_ENOMEM;
	coffer__secret_value_entry__init(e);
	e->arn = s->arn;
	e->name = s->name;
	e->version_id = v->id;
	if (v->value.binary) {
		e->has_secret_binary = 1;
		e->secret_binary.data = pt->data;
		e->secret_binary.len = pt->len;
	} else {
		e->secret_string = (char *)pt->data; /* NUL-terminated by kms_open */
	}
	e->n_version_stages = store_version_labels(s, v, labels);
	e->version_stages = (char **)labels;
	e->has_created_date = 1;
	e->created_date = api__date(v->created_ms);
	b->values[b->resp.n_secret_values++] = e;
	return 0;
}

static int by_list(struct batch *b, char **ids, size_t n)
{
	struct api_reply err = {0};
	int rv = 0;

	for (size_t i = 0; i < n && rv == 0; i++) {
		const struct store_secret *s;

		memset(&err, 0, sizeof(err));
		if (strncmp(ids[i], "arn:", 4) != 0 && !api__check_name(&err, ids[i], "secretId")) {
			/* per item: the call itself was well-formed */
			cf_status_set(&err.status, "InvalidParameterException", "%s", MSG_BAD_NAME);
			rv = add_error(b, ids[i], &err.status);
		} else if ((s = api__resolve(b->ctx, &err, ids[i])) == NULL) {
			rv = add_error(b, ids[i], &err.status);
		} else {
			rv = add_secret(b, ids[i], s);
		}
	}
	return rv;
}

static int check_request(struct api_reply *out, const Coffer__BatchGetSecretValueRequest *req)
{
	char member[40];

	if (req->n_secret_id_list > BATCH_MAX) {
		api__validation(out, NULL, "secretIdList",
				"Member must have length less than or equal to 20");
		return 0;
	}
	for (size_t i = 0; i < req->n_secret_id_list; i++) {
		snprintf(member, sizeof(member), "secretIdList.%zu.member", i + 1);
		if (!api__check_len(out, req->secret_id_list[i], member, 1, 2048))
			return 0;
	}
	if ((req->has_max_results &&
	     !api__check_range(out, req->max_results, "maxResults", 1, BATCH_MAX)) ||
	    !api__check_filters(out, req->filters, req->n_filters) ||
	    !api__check_len(out, req->next_token, "nextToken", 0, 4096))
		return 0;
	if ((req->n_secret_id_list > 0) == (req->n_filters > 0)) {
		api__error(out, "InvalidParameterException",
			   "Either 'SecretIdList' or 'Filters' must be provided, but not both.");
		return 0;
	}
	if (req->n_filters == 0 && (req->has_max_results || req->next_token)) {
		api__error(out, "InvalidParameterException",
			   "'Filters' not specified. 'Filters' must also be specified when '%s' "
			   "is provided.",
			   req->has_max_results ? "MaxResults" : "NextToken");
		return 0;
	}
	return 1;
}

int api__batch_get_secret_value(struct api_ctx *ctx, const ProtobufCMessage *m,
				struct api_reply *out)
{
	const Coffer__BatchGetSecretValueRequest *req =
		(const Coffer__BatchGetSecretValueRequest *)m;
	struct batch b = {.ctx = ctx, .resp = COFFER__BATCH_GET_SECRET_VALUE_RESPONSE__INIT};
	struct api_page pg = {0};
	int rv = 0;

	if (!check_request(out, req))
		return 0;
	b.resp.secret_values = b.values;
	b.resp.errors = b.errors;
	if (req->n_secret_id_list) {
		rv = by_list(&b, req->secret_id_list, req->n_secret_id_list);
	} else {
		rv = api__page_select(ctx, out, req->filters, req->n_filters, 0, 0, 0,
				      req->next_token,
				      req->has_max_results ? (size_t)req->max_results : BATCH_MAX,
				      &pg);
		for (size_t i = pg.start; rv == 0 && cf_status_ok(&out->status) && i < pg.end; i++)
			rv = add_secret(&b, pg.all[i]->arn, pg.all[i]);
		b.resp.next_token = pg.next;
	}
	if (rv == 0 && cf_status_ok(&out->status))
		rv = api__pack(out, &b.resp.base);
	for (size_t i = 0; i < BATCH_MAX; i++)
		secbuf_free(&b.pt[i]);
	api__page_release(&pg);
	api__scratch_free(&b.sc);
	return rv;
}
