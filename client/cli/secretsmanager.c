/*
 * The AWS CLI's `secretsmanager` sub-commands (all 23 operations, named and
 * flagged as `aws secretsmanager` does) against Coffer's RPC port.
 * Operations without output (TagResource, UntagResource) print nothing,
 * like the AWS CLI. Build the request (usage errors exit 252 before any
 * connection), call with retries, print like the AWS CLI (list commands
 * without --max-results follow NextToken to the end), wipe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char cli_help_secretsmanager[] =
	"  create-secret --name N [--secret-string S | --secret-binary B64|fileb://P]\n"
	"                [--description D] [--kms-key-id K] [--client-request-token T]\n"
	"                [--tags Key=k,Value=v ...] [--add-replica-regions Region=r[,KmsKeyId=k] ...]\n"
	"                [--force-overwrite-replica-secret]\n"
	"  get-secret-value --secret-id ID [--version-id V] [--version-stage L]\n"
	"  put-secret-value --secret-id ID (--secret-string S | --secret-binary B)\n"
	"                [--version-stages L ...] [--client-request-token T]\n"
	"  update-secret --secret-id ID [--description D] [--kms-key-id K]\n"
	"                [--secret-string S | --secret-binary B] [--client-request-token T]\n"
	"  describe-secret --secret-id ID\n"
	"  list-secrets [--max-results N] [--next-token T] [--include-planned-deletion]\n"
	"                [--filters Key=name,Values=a,b ... | JSON] [--sort-order asc|desc]\n"
	"                [--sort-by created-date|last-accessed-date|last-changed-date|name]\n"
	"  list-secret-version-ids --secret-id ID [--include-deprecated] [--max-results N]\n"
	"                [--next-token T]\n"
	"  update-secret-version-stage --secret-id ID --version-stage L\n"
	"                [--remove-from-version-id V] [--move-to-version-id V]\n"
	"  delete-secret --secret-id ID [--recovery-window-in-days N]\n"
	"                [--force-delete-without-recovery]\n"
	"  restore-secret --secret-id ID\n"
	"  tag-resource --secret-id ID --tags Key=k,Value=v ... | JSON\n"
	"  untag-resource --secret-id ID --tag-keys K ...\n"
	"  get-random-password [--password-length N] [--exclude-characters C]\n"
	"                [--exclude-numbers] [--exclude-punctuation] [--exclude-uppercase]\n"
	"                [--exclude-lowercase] [--include-space]\n"
	"                [--require-each-included-type | --no-require-each-included-type]\n"
	"  batch-get-secret-value [--secret-id-list ID ...] [--filters Key=name,Values=a,b ...]\n"
	"                [--max-results N] [--next-token T]\n"
	"  rotate-secret --secret-id ID [--client-request-token T] [--rotation-lambda-arn A]\n"
	"                [--rotation-rules AutomaticallyAfterDays=N|ScheduleExpression=E,Duration=D|JSON]\n"
	"                [--rotate-immediately | --no-rotate-immediately]\n"
	"  cancel-rotate-secret --secret-id ID\n"
	"  put-resource-policy --secret-id ID --resource-policy JSON|file://P\n"
	"                [--block-public-policy | --no-block-public-policy]\n"
	"  get-resource-policy --secret-id ID\n"
	"  delete-resource-policy --secret-id ID\n"
	"  validate-resource-policy [--secret-id ID] --resource-policy JSON|file://P\n"
	"  replicate-secret-to-regions --secret-id ID --add-replica-regions Region=r[,KmsKeyId=k] ...\n"
	"                [--force-overwrite-replica-secret]\n"
	"  remove-regions-from-replication --secret-id ID --remove-replica-regions R ...\n"
	"  stop-replication-to-replica --secret-id ID\n";

static void emit(json_t *j, int text)
{
	char *s = cli_render(j, text);

	if (s != NULL) {
		size_t n = strlen(s), off = 0;

		fflush(stdout);
		while (off < n) {
			ssize_t w = write(STDOUT_FILENO, s + off, n - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	cli_output_free(s);
}

/* Follow NextToken, merging the list member ("SecretList" or "Versions"). */
static int call_all(struct coffer_client *c, struct cli_req *r, const char *member,
		    char **next_token, json_t **out, struct coffer_error *err)
{
	json_t *all = NULL;
	char *token = NULL;
	int rv = 0, page;

	for (page = 0; page < 100000; page++) {
		ProtobufCMessage *resp = NULL;
		const char *nt;
		json_t *j;

		*next_token = token;
		rv = coffer_call(c, r->cmd->operation, &r->u.base, r->cmd->resp_desc, &resp, err);
		if (rv != 0)
			break;
		j = cli_to_json(resp);
		nt = r->cmd->resp_desc == &coffer__list_secrets_response__descriptor
			     ? ((Coffer__ListSecretsResponse *)resp)->next_token
			     : ((Coffer__ListSecretVersionIdsResponse *)resp)->next_token;
		free(token);
		token = nt && nt[0] ? strdup(nt) : NULL;
		coffer_response_free(resp);
		if (j == NULL) {
			rv = COFFER_ENOMEM;
			break;
		}
		json_object_del(j, "NextToken");
		if (all == NULL) {
			all = j;
		} else {
			json_array_extend(json_object_get(all, member), json_object_get(j, member));
			json_decref(j);
		}
		if (token == NULL)
			break;
	}
	free(token);
	*next_token = NULL;
	*out = all;
	if (rv != 0) {
		json_decref(all);
		*out = NULL;
	}
	return rv;
}

static int run_op(struct coffer_client *c, struct cli_req *r, int text)
{
	struct coffer_error err;
	ProtobufCMessage *resp = NULL;
	json_t *j = NULL;
	char **nt = NULL;
	const char *member = NULL;
	int rv;

	if (r->cmd->req_desc == &coffer__list_secrets_request__descriptor &&
	    !r->u.list.has_max_results) {
		nt = &r->u.list.next_token;
		member = "SecretList";
	} else if (r->cmd->req_desc == &coffer__list_secret_version_ids_request__descriptor &&
		   !r->u.list_versions.has_max_results) {
		nt = &r->u.list_versions.next_token;
		member = "Versions";
	}
	if (nt != NULL && *nt == NULL) {
		rv = call_all(c, r, member, nt, &j, &err);
	} else {
		rv = coffer_call(c, r->cmd->operation, &r->u.base, r->cmd->resp_desc, &resp, &err);
		if (rv == 0 && (j = cli_to_json(resp)) == NULL)
			rv = COFFER_ENOMEM;
	}
	coffer_response_free(resp);
	if (rv != 0)
		return cli_report(rv, r->cmd->operation, &err);
	emit(j, text);
	json_decref(j);
	return CLI_EXIT_OK;
}

int cli_run_request(const struct cli_cmd *cmd, struct cli_run *r)
{
	struct cli_req req;
	struct coffer_client *c = NULL;
	char err[256] = "";
	int rv;

	memset(&req, 0, sizeof(req));
	rv = cli_build_request(cmd, r->a, &req, err, sizeof(err));
	if (rv != 0) {
		cli_req_release(&req);
		return cli_usage_error(err);
	}
	rv = cli_open_client(r->a, &c);
	if (rv == 0)
		rv = run_op(c, &req, r->text);
	coffer_client_free(c);
	cli_req_release(&req);
	return rv;
}

int cmd_secretsmanager(struct cli_run *r)
{
	const struct cli_cmd *cmd = cli_cmd_find(r->pos[0]);
	char err[256];

	if (cmd == NULL || strcmp(r->pos[0], "cluster-status") == 0) {
		snprintf(err, sizeof(err), "argument command: invalid choice: '%s'", r->pos[0]);
		return cli_usage_error(err);
	}
	if (r->n_pos != 1) {
		snprintf(err, sizeof(err), "unrecognized arguments: %s", r->pos[1]);
		return cli_usage_error(err);
	}
	return cli_run_request(cmd, r);
}
