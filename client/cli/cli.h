/*
 * The `coffer` command: argument parsing in the AWS CLI's style, building
 * one request message per sub-command, and printing answers as the AWS CLI
 * does (JSON with 4-space indent, or tab-separated text). Pure except for
 * the reads of fileb:// and file:// arguments; unit-tested offline.
 */
#ifndef COFFER_CLI_H
#define COFFER_CLI_H

#include <stddef.h>

#include <jansson.h>

#include "coffer/coffer.h"
#include "util/secmem.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_USAGE 252
#define CLI_EXIT_SERVICE 254
#define CLI_EXIT_OTHER 255

#define ARGS_MAX 64
#define ARGS_MAX_POS 4

enum opt_kind { OPT_STR, OPT_INT, OPT_BOOL, OPT_LIST, OPT_TAGS, OPT_BLOB, OPT_SECRET };

struct opt {
	const char *name;  /* without "--" */
	char **vals;       /* borrowed from argv */
	size_t n;
	int neg;           /* given as --no-<name> */
};

struct args {
	const char *pos[ARGS_MAX_POS]; /* command words, e.g. "create-secret" */
	size_t n_pos;
	struct opt opts[ARGS_MAX];
	size_t n;
	char err[256]; /* usage error text */
};

/* Parse argv[0..argc) (after the program name). Values are borrowed from argv.
 * 0, or CLI_EXIT_USAGE with a->err set. */
int args_parse(int argc, char **argv, struct args *a);
struct opt *args_find(struct args *a, const char *name);
/* The single value of name, or NULL when absent. */
const char *args_str(struct args *a, const char *name);
enum opt_kind args_kind(const char *name);

/* One sub-command of the secretsmanager family. */
struct cli_cmd {
	const char *name;      /* "create-secret" */
	const char *operation; /* "CreateSecret" */
	const ProtobufCMessageDescriptor *req_desc;
	const ProtobufCMessageDescriptor *resp_desc;
	const char *opts;      /* space-separated allowed options */
	const char *required;  /* space-separated required options */
};

const struct cli_cmd *cli_cmd_find(const char *name);
extern const struct cli_cmd cli_cmds[];

/* A request being built: the message and everything it points to that the
 * builder owns (secret value on the secure heap, generated token, tags). */
struct cli_req {
	const struct cli_cmd *cmd;
	union {
		ProtobufCMessage base;
		Coffer__CreateSecretRequest create;
		Coffer__GetSecretValueRequest get;
		Coffer__PutSecretValueRequest put;
		Coffer__UpdateSecretRequest update;
		Coffer__DescribeSecretRequest describe;
		Coffer__ListSecretsRequest list;
		Coffer__ListSecretVersionIdsRequest list_versions;
		Coffer__UpdateSecretVersionStageRequest stage;
		Coffer__DeleteSecretRequest del;
		Coffer__RestoreSecretRequest restore;
		Coffer__ClusterStatusRequest status;
	} u;
	char token[37];
	struct secbuf value; /* SecretString (NUL-terminated) or SecretBinary */
	Coffer__Tag *tags;
	Coffer__Tag **tagp;
	size_t n_tags;
	json_t *tags_json;   /* keeps JSON tag strings alive */
	char *str_file;      /* file:// contents of a non-secret member */
};

/* Check options against cmd and fill r. 0, or CLI_EXIT_USAGE with err set.
 * Release r with cli_req_release whatever the result. */
int cli_build_request(const struct cli_cmd *cmd, struct args *a, struct cli_req *r,
		      char *err, size_t errlen);
void cli_req_release(struct cli_req *r);

/* Answer -> JSON in the AWS CLI's shape (PascalCase members, ISO dates,
 * base64 blobs, version maps as objects). New reference; NULL on ENOMEM. */
json_t *cli_to_json(const ProtobufCMessage *m);
/* Epoch seconds -> "2026-11-28T17:30:00.123000+00:00" into out[40]. */
void cli_format_date(double t, char out[40]);
/* Render as the AWS CLI would: JSON (4-space indent) or text. The returned
 * string comes from jansson's allocator (secure heap once
 * cli_json_use_secmem ran); free with cli_output_free. NULL = nothing. */
char *cli_render(json_t *j, int text);
void cli_output_free(char *s);
/* Route jansson's allocations through the secure heap. */
void cli_json_use_secmem(void);

/* `coffer bench ...`; returns an exit code. */
int cli_bench(struct coffer_client *c, struct args *a);

#endif
