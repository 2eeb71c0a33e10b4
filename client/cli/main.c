/*
 * coffer: the AWS CLI's `secretsmanager` sub-commands (all 23 operations,
 * named and flagged as `aws secretsmanager` does) against Coffer's RPC port,
 * plus `cluster status` and `bench`. Operations without output
 * (TagResource, UntagResource) print nothing, like the AWS CLI. Parse, build the request (usage
 * errors exit 252 before any connection), call with retries, print like the
 * AWS CLI (list commands without --max-results follow NextToken to the end),
 * wipe. Service errors exit 254 with the AWS CLI's message; connection and
 * other failures exit 255.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "operator.h"

static const char usage_text[] =
	"usage: coffer [options] <command> [parameters]\n"
	"commands:\n"
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
	"  stop-replication-to-replica --secret-id ID\n"
	"  cluster status\n"
	"  bench --op get|put --concurrency N --duration S --value-size B [--connections C]\n"
	"                [--secret-id ID (get)] [--pool N (put)] [--cleanup (put)]\n"
	"                [--api rpc|aws] [--endpoint-url http[s]://host:port (aws)]\n"
	"                put spreads over bench/<runid>/0..N-1, left in place unless --cleanup;\n"
	"                --api aws drives the AWS JSON 1.1 endpoint (SigV4) instead of RPC;\n"
	"                setup still goes through RPC\n"
	"options: --endpoint host:port[,host:port...] --region R --output json|text --ca-file F\n"
	"env: COFFER_ENDPOINT COFFER_CA_FILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY\n"
	"     AWS_DEFAULT_REGION AWS_REGION AWS_ENDPOINT_URL AWS_CA_BUNDLE AWS_SESSION_TOKEN\n";

static int usage_error(const char *msg)
{
	fprintf(stderr, "usage: coffer [options] <command> [parameters]\n"
			"To see help text, you can run: coffer help\n\ncoffer: error: %s\n",
		msg);
	return CLI_EXIT_USAGE;
}

static const char *env_or(const char *flag, const char *a, const char *b)
{
	const char *v = flag;

	if (v == NULL || v[0] == '\0')
		v = a ? getenv(a) : NULL;
	if ((v == NULL || v[0] == '\0') && b != NULL)
		v = getenv(b);
	return v && v[0] ? v : NULL;
}

static int open_client(struct args *a, struct coffer_client **c)
{
	struct coffer_config cfg = {0};
	struct coffer_error err;
	int rv;

	cfg.endpoints = env_or(args_str(a, "endpoint"), "COFFER_ENDPOINT", NULL);
	cfg.ca_file = env_or(args_str(a, "ca-file"), "COFFER_CA_FILE", NULL);
	cfg.access_key_id = getenv("AWS_ACCESS_KEY_ID");
	cfg.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
	cfg.region = env_or(args_str(a, "region"), "AWS_DEFAULT_REGION", "AWS_REGION");
	if (cfg.endpoints == NULL)
		cfg.endpoints = "127.0.0.1:7700";
	rv = coffer_client_new(&cfg, c, &err);
	if (rv != 0) {
		fprintf(stderr, "coffer: error: %s\n", err.message);
		return rv == COFFER_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_OTHER;
	}
	return 0;
}

static int report(int rv, const char *operation, const struct coffer_error *err)
{
	if (rv == COFFER_ESERVICE) {
		fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n",
			err->type, operation, err->message);
		return CLI_EXIT_SERVICE;
	}
	fprintf(stderr, "\ncoffer: error: %s\n", err->message[0] ? err->message
								  : coffer_strerror(rv));
	return CLI_EXIT_OTHER;
}

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
		return report(rv, r->cmd->operation, &err);
	emit(j, text);
	json_decref(j);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct args a;
	struct cli_req req;
	struct coffer_client *c = NULL;
	const struct cli_cmd *cmd;
	const char *output, **pos;
	size_t n_pos;
	char err[256] = "";
	int rv, text = 0;

	if (argc > 1 && strcmp(argv[1], "operator") == 0)
		return cmd_operator(argc - 1, argv + 1);
	(void)secmem_init(4u * 1024 * 1024);
	cli_json_use_secmem();
	memset(&req, 0, sizeof(req));
	if (args_parse(argc - 1, argv + 1, &a) != 0)
		return usage_error(a.err);
	pos = a.pos;
	n_pos = a.n_pos;
	if (n_pos > 0 && strcmp(pos[0], "secretsmanager") == 0)
		pos++, n_pos--;
	if (args_find(&a, "help") != NULL || (n_pos > 0 && strcmp(pos[0], "help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (n_pos == 0)
		return usage_error("the following arguments are required: command");
	output = env_or(args_str(&a, "output"), "AWS_DEFAULT_OUTPUT", NULL);
	if (output != NULL && strcmp(output, "text") == 0)
		text = 1;
	else if (output != NULL && strcmp(output, "json") != 0)
		return usage_error("argument --output: invalid choice (choose from json, text)");
	if (strcmp(pos[0], "bench") == 0) {
		if (n_pos != 1)
			return usage_error("unrecognized arguments after 'bench'");
		rv = open_client(&a, &c);
		if (rv == 0)
			rv = cli_bench(c, &a);
		coffer_client_free(c);
		return rv;
	}
	if (strcmp(pos[0], "cluster") == 0) {
		if (n_pos != 2 || strcmp(pos[1], "status") != 0)
			return usage_error("usage: coffer cluster status");
		cmd = cli_cmd_find("cluster-status");
	} else {
		cmd = cli_cmd_find(pos[0]);
		if (cmd == NULL || strcmp(pos[0], "cluster-status") == 0) {
			snprintf(err, sizeof(err), "argument command: invalid choice: '%s'", pos[0]);
			return usage_error(err);
		}
		if (n_pos != 1) {
			snprintf(err, sizeof(err), "unrecognized arguments: %s", pos[1]);
			return usage_error(err);
		}
	}
	rv = cli_build_request(cmd, &a, &req, err, sizeof(err));
	if (rv != 0) {
		cli_req_release(&req);
		return usage_error(err);
	}
	rv = open_client(&a, &c);
	if (rv == 0)
		rv = run_op(c, &req, text);
	coffer_client_free(c);
	cli_req_release(&req);
	return rv;
}
