/*
 * coffer: the AWS CLI's `secretsmanager` sub-commands against Coffer's RPC
 * port (secretsmanager.c), plus `cluster status` (cluster.c) and `bench`
 * (bench.c). main parses the options (given anywhere, as the AWS CLI allows),
 * drops a leading "secretsmanager", answers help, checks --output, then
 * dispatches on the first command word through commands[] (like git's);
 * a word that is not in the table is a secretsmanager sub-command. A row
 * with run_argv instead of run takes the raw argv from its name on, when
 * its name is the first argument (for command groups with their own
 * options). Usage errors exit 252, service errors 254 with the AWS CLI's
 * message, connection and other failures 255.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "operator.h"

struct cli_command {
	const char *name;
	int (*run)(struct cli_run *r);          /* options parsed by main */
	int (*run_argv)(int argc, char **argv); /* argv[0] is the command name */
	const char *help;                       /* its lines of the usage text */
};

static const struct cli_command commands[] = {
	{"secretsmanager", cmd_secretsmanager, NULL, cli_help_secretsmanager},
	{"cluster", cmd_cluster, NULL, cli_help_cluster},
	{"bench", cmd_bench, NULL, cli_help_bench},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char usage_head[] = "usage: coffer [options] <command> [parameters]\n"
				 "commands:\n";
static const char usage_tail[] =
	"options: --endpoint host:port[,host:port...] --region R --output json|text --ca-file F\n"
	"env: COFFER_ENDPOINT COFFER_CA_FILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY\n"
	"     AWS_DEFAULT_REGION AWS_REGION AWS_ENDPOINT_URL AWS_CA_BUNDLE AWS_SESSION_TOKEN\n";

static void usage(void)
{
	fputs(usage_head, stdout);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fputs(commands[i].help, stdout);
	fputs(usage_tail, stdout);
}

static const struct cli_command *command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	struct args a;
	struct cli_run r;
	const char *output;

	if (argc > 1 && strcmp(argv[1], "operator") == 0)
		return cmd_operator(argc - 1, argv + 1);
	(void)secmem_init(4u * 1024 * 1024);
	cli_json_use_secmem();
	if (argc > 1 && (cmd = command_find(argv[1])) != NULL && cmd->run_argv != NULL)
		return cmd->run_argv(argc - 1, argv + 1);
	if (args_parse(argc - 1, argv + 1, &a) != 0)
		return cli_usage_error(a.err);
	memset(&r, 0, sizeof(r));
	r.a = &a;
	r.pos = a.pos;
	r.n_pos = a.n_pos;
	if (r.n_pos > 0 && strcmp(r.pos[0], "secretsmanager") == 0)
		r.pos++, r.n_pos--;
	if (args_find(&a, "help") != NULL || (r.n_pos > 0 && strcmp(r.pos[0], "help") == 0)) {
		usage();
		return 0;
	}
	if (r.n_pos == 0)
		return cli_usage_error("the following arguments are required: command");
	output = cli_env_or(args_str(&a, "output"), "AWS_DEFAULT_OUTPUT", NULL);
	if (output != NULL && strcmp(output, "text") == 0)
		r.text = 1;
	else if (output != NULL && strcmp(output, "json") != 0)
		return cli_usage_error("argument --output: invalid choice (choose from json, text)");
	cmd = command_find(r.pos[0]);
	if (cmd == NULL || cmd->run == NULL)
		return cmd_secretsmanager(&r);
	return cmd->run(&r);
}
