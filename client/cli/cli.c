/*
 * What every command handler shares: the usage-error exit in the AWS CLI's
 * words, the environment fallbacks for options, opening a client from the
 * global options, and reporting a failed call (service errors as the AWS
 * CLI prints them, exit 254; anything else exit 255).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage_error(const char *msg)
{
	fprintf(stderr, "usage: coffer [options] <command> [parameters]\n"
			"To see help text, you can run: coffer help\n\ncoffer: error: %s\n",
		msg);
	return CLI_EXIT_USAGE;
}

const char *cli_env_or(const char *flag, const char *a, const char *b)
{
	const char *v = flag;

	if (v == NULL || v[0] == '\0')
		v = a ? getenv(a) : NULL;
	if ((v == NULL || v[0] == '\0') && b != NULL)
		v = getenv(b);
	return v && v[0] ? v : NULL;
}

int cli_open_client(struct args *a, struct coffer_client **c)
{
	struct coffer_config cfg = {0};
	struct coffer_error err;
	int rv;

	cfg.endpoints = cli_env_or(args_str(a, "endpoint"), "COFFER_ENDPOINT", NULL);
	cfg.ca_file = cli_env_or(args_str(a, "ca-file"), "COFFER_CA_FILE", NULL);
	cfg.access_key_id = getenv("AWS_ACCESS_KEY_ID");
	cfg.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
	cfg.region = cli_env_or(args_str(a, "region"), "AWS_DEFAULT_REGION", "AWS_REGION");
	if (cfg.endpoints == NULL)
		cfg.endpoints = "127.0.0.1:7700";
	rv = coffer_client_new(&cfg, c, &err);
	if (rv != 0) {
		fprintf(stderr, "coffer: error: %s\n", err.message);
		return rv == COFFER_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_OTHER;
	}
	return 0;
}

int cli_report(int rv, const char *operation, const struct coffer_error *err)
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
