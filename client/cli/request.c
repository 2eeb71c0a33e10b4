/*
 * Sub-commands -> request messages. Each option is checked against the
 * command's list; secret values go to the secure heap (and their argv copy
 * is wiped); fileb:// and file:// arguments are read from disk; SecretBinary
 * text is strict base64; structured parameters (tags, filters, replica
 * regions, rotation rules) come as shorthand words or JSON (params.c);
 * --resource-policy is the text or file://path. Missing ClientRequestTokens
 * of create/put/update/rotate get a fresh UUIDv4, as the AWS CLI does.
 * Every failure is a usage error with a clear message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"

#define OPTS_VALUE "secret-string secret-binary client-request-token"
#define GLOBAL_OPTS " endpoint region output ca-file no-paginate debug "

const struct cli_cmd cli_cmds[] = {
	{"create-secret", "CreateSecret", &coffer__create_secret_request__descriptor,
	 &coffer__create_secret_response__descriptor,
	 "name description kms-key-id tags add-replica-regions force-overwrite-replica-secret "
	 OPTS_VALUE, "name"},
	{"get-secret-value", "GetSecretValue", &coffer__get_secret_value_request__descriptor,
	 &coffer__get_secret_value_response__descriptor, "secret-id version-id version-stage",
	 "secret-id"},
	{"put-secret-value", "PutSecretValue", &coffer__put_secret_value_request__descriptor,
	 &coffer__put_secret_value_response__descriptor,
	 "secret-id version-stages " OPTS_VALUE, "secret-id"},
	{"update-secret", "UpdateSecret", &coffer__update_secret_request__descriptor,
	 &coffer__update_secret_response__descriptor,
	 "secret-id description kms-key-id " OPTS_VALUE, "secret-id"},
	{"describe-secret", "DescribeSecret", &coffer__describe_secret_request__descriptor,
	 &coffer__describe_secret_response__descriptor, "secret-id", "secret-id"},
	{"list-secrets", "ListSecrets", &coffer__list_secrets_request__descriptor,
	 &coffer__list_secrets_response__descriptor,
	 "max-results next-token include-planned-deletion filters sort-order sort-by", ""},
	{"list-secret-version-ids", "ListSecretVersionIds",
	 &coffer__list_secret_version_ids_request__descriptor,
	 &coffer__list_secret_version_ids_response__descriptor,
	 "secret-id include-deprecated max-results next-token", "secret-id"},
	{"update-secret-version-stage", "UpdateSecretVersionStage",
	 &coffer__update_secret_version_stage_request__descriptor,
	 &coffer__update_secret_version_stage_response__descriptor,
	 "secret-id version-stage remove-from-version-id move-to-version-id",
	 "secret-id version-stage"},
	{"delete-secret", "DeleteSecret", &coffer__delete_secret_request__descriptor,
	 &coffer__delete_secret_response__descriptor,
	 "secret-id recovery-window-in-days force-delete-without-recovery", "secret-id"},
	{"restore-secret", "RestoreSecret", &coffer__restore_secret_request__descriptor,
	 &coffer__restore_secret_response__descriptor, "secret-id", "secret-id"},
	{"cluster-status", "ClusterStatus", &coffer__cluster_status_request__descriptor,
	 &coffer__cluster_status_response__descriptor, "", ""},
	{"tag-resource", "TagResource", &coffer__tag_resource_request__descriptor,
	 &coffer__tag_resource_response__descriptor, "secret-id tags", "secret-id tags"},
	{"untag-resource", "UntagResource", &coffer__untag_resource_request__descriptor,
	 &coffer__untag_resource_response__descriptor, "secret-id tag-keys", "secret-id tag-keys"},
	{"get-random-password", "GetRandomPassword", &coffer__get_random_password_request__descriptor,
	 &coffer__get_random_password_response__descriptor,
	 "password-length exclude-characters exclude-numbers exclude-punctuation "
	 "exclude-uppercase exclude-lowercase include-space require-each-included-type", ""},
	{"batch-get-secret-value", "BatchGetSecretValue",
	 &coffer__batch_get_secret_value_request__descriptor,
	 &coffer__batch_get_secret_value_response__descriptor,
	 "secret-id-list filters max-results next-token", ""},
	{"rotate-secret", "RotateSecret", &coffer__rotate_secret_request__descriptor,
	 &coffer__rotate_secret_response__descriptor,
	 "secret-id client-request-token rotation-lambda-arn rotation-rules rotate-immediately",
	 "secret-id"},
	{"cancel-rotate-secret", "CancelRotateSecret",
	 &coffer__cancel_rotate_secret_request__descriptor,
	 &coffer__cancel_rotate_secret_response__descriptor, "secret-id", "secret-id"},
	{"put-resource-policy", "PutResourcePolicy", &coffer__put_resource_policy_request__descriptor,
	 &coffer__put_resource_policy_response__descriptor,
	 "secret-id resource-policy block-public-policy", "secret-id resource-policy"},
	{"get-resource-policy", "GetResourcePolicy", &coffer__get_resource_policy_request__descriptor,
	 &coffer__get_resource_policy_response__descriptor, "secret-id", "secret-id"},
	{"delete-resource-policy", "DeleteResourcePolicy",
	 &coffer__delete_resource_policy_request__descriptor,
	 &coffer__delete_resource_policy_response__descriptor, "secret-id", "secret-id"},
	{"validate-resource-policy", "ValidateResourcePolicy",
	 &coffer__validate_resource_policy_request__descriptor,
	 &coffer__validate_resource_policy_response__descriptor, "secret-id resource-policy",
	 "resource-policy"},
	{"replicate-secret-to-regions", "ReplicateSecretToRegions",
	 &coffer__replicate_secret_to_regions_request__descriptor,
	 &coffer__replicate_secret_to_regions_response__descriptor,
	 "secret-id add-replica-regions force-overwrite-replica-secret",
	 "secret-id add-replica-regions"},
	{"remove-regions-from-replication", "RemoveRegionsFromReplication",
	 &coffer__remove_regions_from_replication_request__descriptor,
	 &coffer__remove_regions_from_replication_response__descriptor,
	 "secret-id remove-replica-regions", "secret-id remove-replica-regions"},
	{"stop-replication-to-replica", "StopReplicationToReplica",
	 &coffer__stop_replication_to_replica_request__descriptor,
	 &coffer__stop_replication_to_replica_response__descriptor, "secret-id", "secret-id"},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct cli_cmd *cli_cmd_find(const char *name)
{
	const struct cli_cmd *c;

	for (c = cli_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

static int usage(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int usage(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

int cli_read_file(const char *path, struct secbuf *out, char *err, size_t errlen)
{
	struct stat st;
	size_t have = 0;
	int fd, rv = CLI_EXIT_USAGE;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "Unable to load paramfile '%s': %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > COFFER_MAX_FRAME) {
		usage(err, errlen, "Unable to load paramfile '%s': too large", path);
		goto out;
	}
	if (secbuf_alloc(out, (size_t)st.st_size) != 0) {
		usage(err, errlen, "out of memory reading '%s'", path);
		goto out;
	}
	while (have < out->len) {
		ssize_t r = read(fd, out->data + have, out->len - have);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			snprintf(err, errlen, "Unable to load paramfile '%s': short read", path);
			secbuf_free(out);
			goto out;
		}
		have += (size_t)r;
	}
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	return rv;
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Strict base64 (standard or url alphabet, padding optional) into a secure buffer. */
static int b64_decode(const char *s, struct secbuf *out)
{
	size_t n = strlen(s), i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1 || secbuf_alloc(out, n / 4 * 3 + 3) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);

		if (v < 0) {
			secbuf_free(out);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[o++] = (uint8_t)(acc >> bits);
		}
	}
	out->len = o;
	acc = 0;
	return 0;
}

static int take_value(struct args *a, struct cli_req *r, char *err, size_t errlen)
{
	const char *s = args_str(a, "secret-string"), *b = args_str(a, "secret-binary");
	int rv;

	if (s != NULL && b != NULL)
		return usage(err, errlen, "%s", "--secret-string and --secret-binary are exclusive");
	if (s != NULL) {
		if (strncmp(s, "file://", 7) == 0)
			rv = cli_read_file(s + 7, &r->value, err, errlen);
		else
			rv = secbuf_dup(&r->value, s, strlen(s)) ? usage(err, errlen, "%s",
									  "out of memory")
								 : 0;
		if (rv == 0)
			OPENSSL_cleanse((char *)s, strlen(s)); /* off the process's argv */
		return rv;
	}
	if (b != NULL) {
		if (strncmp(b, "fileb://", 8) == 0)
			return cli_read_file(b + 8, &r->value, err, errlen);
		if (b64_decode(b, &r->value) != 0)
			return usage(err, errlen, "%s", "Invalid base64 in --secret-binary");
		OPENSSL_cleanse((char *)b, strlen(b));
	}
	return 0;
}

static int take_int(struct args *a, const char *name, int *has, int64_t *out, char *err,
		    size_t errlen)
{
	const char *s = args_str(a, name);
	char *end;
	long long v;

	if (s == NULL)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return usage(err, errlen, "invalid literal for --%s", name);
	*has = 1;
	*out = v;
	return 0;
}

static void take_bool(struct args *a, const char *name, protobuf_c_boolean *has,
		      protobuf_c_boolean *out)
{
	struct opt *o = args_find(a, name);

	if (o != NULL) {
		*has = 1;
		*out = !o->neg;
	}
}

#define STR(name) ((char *)args_str(a, name))

static int check_opts(const struct cli_cmd *cmd, struct args *a, char *err, size_t errlen)
{
	char req[128], *w, *save = NULL;
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct opt *o = &a->opts[i];
		enum opt_kind k = args_kind(o->name);

		if (!in_list(cmd->opts, o->name) && !in_list(GLOBAL_OPTS, o->name))
			return usage(err, errlen, "Unknown options: --%s", o->name);
		if (k == OPT_BOOL && o->n != 0)
			return usage(err, errlen, "--%s takes no value", o->name);
		if (k != OPT_BOOL && o->n == 0)
			return usage(err, errlen, "argument --%s: expected one argument", o->name);
	}
	snprintf(req, sizeof(req), "%s", cmd->required);
	for (w = strtok_r(req, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		if (args_find(a, w) == NULL)
			return usage(err, errlen, "the following arguments are required: --%s", w);
	return 0;
}

static int need_token(const struct cli_cmd *cmd, struct args *a, struct cli_req *r)
{
	const char *t = args_str(a, "client-request-token");

	if (t != NULL) {
		snprintf(r->token, sizeof(r->token), "%s", t);
		if (strlen(t) >= sizeof(r->token))
			return -1; /* longer than a uuid: point at argv instead */
		return 0;
	}
	return coffer_uuid4(r->token);
}

static int build_random(struct args *a, Coffer__GetRandomPasswordRequest *m, char *err,
			size_t errlen)
{
	int has = 0, rv;

	rv = take_int(a, "password-length", &has, &m->password_length, err, errlen);
	m->has_password_length = has;
	m->exclude_characters = STR("exclude-characters");
	take_bool(a, "exclude-numbers", &m->has_exclude_numbers, &m->exclude_numbers);
	take_bool(a, "exclude-punctuation", &m->has_exclude_punctuation, &m->exclude_punctuation);
	take_bool(a, "exclude-uppercase", &m->has_exclude_uppercase, &m->exclude_uppercase);
	take_bool(a, "exclude-lowercase", &m->has_exclude_lowercase, &m->exclude_lowercase);
	take_bool(a, "include-space", &m->has_include_space, &m->include_space);
	take_bool(a, "require-each-included-type", &m->has_require_each_included_type,
		  &m->require_each_included_type);
	return rv;
}

static int build_rotate(struct args *a, struct cli_req *r, char *token, char *err,
			size_t errlen)
{
	Coffer__RotateSecretRequest *m = &r->u.rotate;
	int has = 0, rv;

	m->secret_id = STR("secret-id");
	m->client_request_token = token;
	m->rotation_lambda_arn = STR("rotation-lambda-arn");
	take_bool(a, "rotate-immediately", &m->has_rotate_immediately, &m->rotate_immediately);
	rv = cli_take_rules(a, r, &r->rules, &has, err, errlen);
	if (rv == 0 && has)
		m->rotation_rules = &r->rules;
	return rv;
}

/* A policy document: the text itself, or file://path read into r->text. */
static int take_policy(struct args *a, struct cli_req *r, char **out, char *err, size_t errlen)
{
	const char *s = args_str(a, "resource-policy");

	*out = (char *)s;
	if (s == NULL || strncmp(s, "file://", 7) != 0)
		return 0;
	if (cli_read_file(s + 7, &r->text, err, errlen) != 0)
		return CLI_EXIT_USAGE;
	*out = (char *)r->text.data;
	return 0;
}

static void take_list(struct args *a, const char *name, size_t *n, char ***out)
{
	struct opt *o = args_find(a, name);

	*n = o ? o->n : 0;
	*out = o ? o->vals : NULL;
}

/* The operations keyed by --secret-id plus lists, flags and policies. */
static int build_by_id(const struct cli_cmd *cmd, struct args *a, struct cli_req *r, char *err,
		       size_t errlen)
{
	const ProtobufCMessageDescriptor *d = cmd->req_desc;
	char *id = STR("secret-id");
	int has = 0, rv = 0;

	if (d == &coffer__tag_resource_request__descriptor) {
		r->u.tag.secret_id = id;
		rv = cli_take_tags(a, r, "tags", &r->u.tag.n_tags, &r->u.tag.tags, err, errlen);
	} else if (d == &coffer__untag_resource_request__descriptor) {
		r->u.untag.secret_id = id;
		take_list(a, "tag-keys", &r->u.untag.n_tag_keys, &r->u.untag.tag_keys);
	} else if (d == &coffer__batch_get_secret_value_request__descriptor) {
		Coffer__BatchGetSecretValueRequest *m = &r->u.batch;

		take_list(a, "secret-id-list", &m->n_secret_id_list, &m->secret_id_list);
		rv = take_int(a, "max-results", &has, &m->max_results, err, errlen);
		m->has_max_results = has;
		m->next_token = STR("next-token");
		if (rv == 0)
			rv = cli_take_filters(a, r, &m->n_filters, &m->filters, err, errlen);
	} else if (d == &coffer__cancel_rotate_secret_request__descriptor) {
		r->u.cancel.secret_id = id;
	} else if (d == &coffer__put_resource_policy_request__descriptor) {
		r->u.put_policy.secret_id = id;
		take_bool(a, "block-public-policy", &r->u.put_policy.has_block_public_policy,
			  &r->u.put_policy.block_public_policy);
		rv = take_policy(a, r, &r->u.put_policy.resource_policy, err, errlen);
	} else if (d == &coffer__get_resource_policy_request__descriptor) {
		r->u.get_policy.secret_id = id;
	} else if (d == &coffer__delete_resource_policy_request__descriptor) {
		r->u.del_policy.secret_id = id;
	} else if (d == &coffer__validate_resource_policy_request__descriptor) {
		r->u.validate.secret_id = id;
		rv = take_policy(a, r, &r->u.validate.resource_policy, err, errlen);
	} else if (d == &coffer__replicate_secret_to_regions_request__descriptor) {
		Coffer__ReplicateSecretToRegionsRequest *m = &r->u.replicate;

		m->secret_id = id;
		take_bool(a, "force-overwrite-replica-secret", &m->has_force_overwrite_replica_secret,
			  &m->force_overwrite_replica_secret);
		rv = cli_take_regions(a, r, &m->n_add_replica_regions, &m->add_replica_regions, err,
				      errlen);
	} else if (d == &coffer__remove_regions_from_replication_request__descriptor) {
		r->u.remove_regions.secret_id = id;
		take_list(a, "remove-replica-regions", &r->u.remove_regions.n_remove_replica_regions,
			  &r->u.remove_regions.remove_replica_regions);
	} else if (d == &coffer__stop_replication_to_replica_request__descriptor) {
		r->u.stop.secret_id = id;
	}
	return rv;
}

int cli_build_request(const struct cli_cmd *cmd, struct args *a, struct cli_req *r,
		      char *err, size_t errlen)
{
	char *val_str;
	ProtobufCBinaryData val_bin;
	char *token = r->token;
	int rv;

	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	protobuf_c_message_init(cmd->req_desc, &r->u);
	rv = check_opts(cmd, a, err, errlen);
	if (rv != 0)
		return rv;
	if (in_list(cmd->opts, "client-request-token") && need_token(cmd, a, r) != 0)
		token = STR("client-request-token");
	if (in_list(cmd->opts, "secret-string") && (rv = take_value(a, r, err, errlen)) != 0)
		return rv;
	val_str = args_str(a, "secret-string") ? (char *)r->value.data : NULL;
	val_bin.data = args_str(a, "secret-binary") ? r->value.data : NULL;
	val_bin.len = r->value.len;

	if (cmd->req_desc == &coffer__create_secret_request__descriptor) {
		Coffer__CreateSecretRequest *m = &r->u.create;

		m->name = STR("name");
		m->description = STR("description");
		m->kms_key_id = STR("kms-key-id");
		m->client_request_token = token;
		m->secret_string = val_str;
		m->has_secret_binary = val_bin.data != NULL;
		m->secret_binary = val_bin;
		take_bool(a, "force-overwrite-replica-secret", &m->has_force_overwrite_replica_secret,
			  &m->force_overwrite_replica_secret);
		if ((rv = cli_take_tags(a, r, "tags", &m->n_tags, &m->tags, err, errlen)) != 0 ||
		    (rv = cli_take_regions(a, r, &m->n_add_replica_regions,
					   &m->add_replica_regions, err, errlen)) != 0)
			return rv;
	} else if (cmd->req_desc == &coffer__get_secret_value_request__descriptor) {
		r->u.get.secret_id = STR("secret-id");
		r->u.get.version_id = STR("version-id");
		r->u.get.version_stage = STR("version-stage");
	} else if (cmd->req_desc == &coffer__put_secret_value_request__descriptor) {
		Coffer__PutSecretValueRequest *m = &r->u.put;
		struct opt *o = args_find(a, "version-stages");

		m->secret_id = STR("secret-id");
		m->client_request_token = token;
		m->secret_string = val_str;
		m->has_secret_binary = val_bin.data != NULL;
		m->secret_binary = val_bin;
		if (o != NULL) {
			m->n_version_stages = o->n;
			m->version_stages = o->vals;
		}
	} else if (cmd->req_desc == &coffer__update_secret_request__descriptor) {
		Coffer__UpdateSecretRequest *m = &r->u.update;

		m->secret_id = STR("secret-id");
		m->description = STR("description");
		m->kms_key_id = STR("kms-key-id");
		/* the token only matters with a new value, but the AWS CLI always sends one */
		m->client_request_token = token;
		m->secret_string = val_str;
		m->has_secret_binary = val_bin.data != NULL;
		m->secret_binary = val_bin;
	} else if (cmd->req_desc == &coffer__describe_secret_request__descriptor) {
		r->u.describe.secret_id = STR("secret-id");
	} else if (cmd->req_desc == &coffer__list_secrets_request__descriptor) {
		Coffer__ListSecretsRequest *m = &r->u.list;
		int has = 0;

		rv = take_int(a, "max-results", &has, &m->max_results, err, errlen);
		m->has_max_results = has;
		m->next_token = STR("next-token");
		m->sort_order = STR("sort-order");
		m->sort_by = STR("sort-by");
		take_bool(a, "include-planned-deletion", &m->has_include_planned_deletion,
			  &m->include_planned_deletion);
		if (rv == 0)
			rv = cli_take_filters(a, r, &m->n_filters, &m->filters, err, errlen);
	} else if (cmd->req_desc == &coffer__list_secret_version_ids_request__descriptor) {
		Coffer__ListSecretVersionIdsRequest *m = &r->u.list_versions;
		int has = 0;

		m->secret_id = STR("secret-id");
		rv = take_int(a, "max-results", &has, &m->max_results, err, errlen);
		m->has_max_results = has;
		m->next_token = STR("next-token");
		take_bool(a, "include-deprecated", &m->has_include_deprecated,
			  &m->include_deprecated);
	} else if (cmd->req_desc == &coffer__update_secret_version_stage_request__descriptor) {
		r->u.stage.secret_id = STR("secret-id");
		r->u.stage.version_stage = STR("version-stage");
		r->u.stage.remove_from_version_id = STR("remove-from-version-id");
		r->u.stage.move_to_version_id = STR("move-to-version-id");
	} else if (cmd->req_desc == &coffer__delete_secret_request__descriptor) {
		Coffer__DeleteSecretRequest *m = &r->u.del;
		int has = 0;

		m->secret_id = STR("secret-id");
		rv = take_int(a, "recovery-window-in-days", &has, &m->recovery_window_in_days, err,
			      errlen);
		m->has_recovery_window_in_days = has;
		take_bool(a, "force-delete-without-recovery", &m->has_force_delete_without_recovery,
			  &m->force_delete_without_recovery);
	} else if (cmd->req_desc == &coffer__restore_secret_request__descriptor) {
		r->u.restore.secret_id = STR("secret-id");
	} else if (cmd->req_desc == &coffer__get_random_password_request__descriptor) {
		rv = build_random(a, &r->u.random, err, errlen);
	} else if (cmd->req_desc == &coffer__rotate_secret_request__descriptor) {
		rv = build_rotate(a, r, token, err, errlen);
	} else {
		rv = build_by_id(cmd, a, r, err, errlen);
	}
	return rv;
}

void cli_req_release(struct cli_req *r)
{
	size_t i;

	secbuf_free(&r->value);
	secbuf_free(&r->text);
	for (i = 0; i < r->n_allocs; i++)
		free(r->allocs[i]);
	r->n_allocs = 0;
	json_decref(r->keep);
	r->keep = NULL;
}
