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

#define CLI_REQ_ALLOCS 16

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
		Coffer__TagResourceRequest tag;
		Coffer__UntagResourceRequest untag;
		Coffer__GetRandomPasswordRequest random;
		Coffer__BatchGetSecretValueRequest batch;
		Coffer__RotateSecretRequest rotate;
		Coffer__CancelRotateSecretRequest cancel;
		Coffer__PutResourcePolicyRequest put_policy;
		Coffer__GetResourcePolicyRequest get_policy;
		Coffer__DeleteResourcePolicyRequest del_policy;
		Coffer__ValidateResourcePolicyRequest validate;
		Coffer__ReplicateSecretToRegionsRequest replicate;
		Coffer__RemoveRegionsFromReplicationRequest remove_regions;
		Coffer__StopReplicationToReplicaRequest stop;
	} u;
	char token[37];
	struct secbuf value; /* SecretString (NUL-terminated) or SecretBinary */
	struct secbuf text;  /* file:// contents of a non-secret member (a policy) */
	Coffer__RotationRulesType rules;
	json_t *keep;        /* parsed structured parameters; fields borrow their strings */
	void *allocs[CLI_REQ_ALLOCS]; /* arrays the message points to (cli_req_alloc) */
	size_t n_allocs;
};

/* Check options against cmd and fill r. 0, or CLI_EXIT_USAGE with err set.
 * Release r with cli_req_release whatever the result. */
int cli_build_request(const struct cli_cmd *cmd, struct args *a, struct cli_req *r,
		      char *err, size_t errlen);
void cli_req_release(struct cli_req *r);

/* Read a whole file (at most COFFER_MAX_FRAME bytes) into a fresh secure
 * buffer, NUL-terminated. 0, or CLI_EXIT_USAGE with err set. */
int cli_read_file(const char *path, struct secbuf *out, char *err, size_t errlen);

/* ------------------------------------------------- structured parameters
 * (params.c) Shorthand "Name=v,List=a,b" or JSON (inline or file://). The
 * parsed documents are kept in r->keep; results borrow from them and from
 * cli_req_alloc'ed arrays, all released by cli_req_release. Each returns 0
 * (absent parameter: *out NULL / *n 0) or CLI_EXIT_USAGE with err set. */

/* One shorthand word -> JSON object (new reference); members named in
 * list_keys (space-separated) become lists. NULL on a syntax error. */
json_t *cli_shorthand(const char *w, const char *list_keys);
/* A list of structures with the given members; *out is borrowed. */
int cli_param_list(struct args *a, struct cli_req *r, const char *name, const char *members,
		   const char *list_members, json_t **out, char *err, size_t errlen);
/* One structure with the given members; *out is borrowed. */
int cli_param_struct(struct args *a, struct cli_req *r, const char *name, const char *members,
		     json_t **out, char *err, size_t errlen);
/* n zeroed elements owned by r; NULL when out of memory or slots. */
void *cli_req_alloc(struct cli_req *r, size_t n, size_t size);
/* --<name> as Tags, --filters as Filters, --add-replica-regions as
 * ReplicaRegionTypes, --rotation-rules into *rules (*has set when given). */
int cli_take_tags(struct args *a, struct cli_req *r, const char *name, size_t *n,
		  Coffer__Tag ***out, char *err, size_t errlen);
int cli_take_filters(struct args *a, struct cli_req *r, size_t *n, Coffer__Filter ***out,
		     char *err, size_t errlen);
int cli_take_regions(struct args *a, struct cli_req *r, size_t *n,
		     Coffer__ReplicaRegionType ***out, char *err, size_t errlen);
int cli_take_rules(struct args *a, struct cli_req *r, Coffer__RotationRulesType *rules,
		   int *has, char *err, size_t errlen);

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

/* ------------------------------------------------------------ commands
 * One file per command group; main.c dispatches through its commands[]
 * table. Each handler returns the process exit code (CLI_EXIT_*). */

/* What main hands a command: the parsed options (borrowed) and the command
 * words, the command's name first. */
struct cli_run {
	struct args *a;
	const char **pos;
	size_t n_pos;
	int text; /* --output text */
};

/* secretsmanager.c: a secretsmanager sub-command named by pos[0]. */
int cmd_secretsmanager(struct cli_run *r);
/* Build cmd's request from r's options, open a client, call, print. */
int cli_run_request(const struct cli_cmd *cmd, struct cli_run *r);
/* cluster.c: `coffer cluster status`. */
int cmd_cluster(struct cli_run *r);
/* bench.c: `coffer bench ...` (opens the client, then cli_bench). */
int cmd_bench(struct cli_run *r);
int cli_bench(struct coffer_client *c, struct args *a);
/* Each group's lines of the usage text. */
extern const char cli_help_secretsmanager[], cli_help_cluster[], cli_help_bench[];

/* cli.c: shared by the handlers. */
/* Print the AWS CLI's usage error with msg; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *msg);
/* flag, else $a, else $b (each when set and non-empty), else NULL. */
const char *cli_env_or(const char *flag, const char *a, const char *b);
/* A client from --endpoint/--ca-file/--region and the environment. 0, or
 * an exit code with the error printed. *c is freed with coffer_client_free. */
int cli_open_client(struct args *a, struct coffer_client **c);
/* Print a failed call's error as the AWS CLI does; returns the exit code. */
int cli_report(int rv, const char *operation, const struct coffer_error *err);

#endif
