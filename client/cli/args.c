/*
 * Command-line parsing the AWS CLI's way: bare words are the command,
 * "--name value" takes one value (lists and tags take every value up to the
 * next "--x", booleans none),
 * "--name=value" gives one value, "--no-<flag>" negates a boolean. Kinds and
 * counts are checked by the request builder; here only the shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	enum opt_kind kind;
} kinds[] = {
	{"secret-string", OPT_SECRET},
	{"secret-binary", OPT_BLOB},
	{"tags", OPT_TAGS},
	{"version-stages", OPT_LIST},
	{"tag-keys", OPT_LIST},
	{"secret-id-list", OPT_LIST},
	{"filters", OPT_LIST},
	{"add-replica-regions", OPT_LIST},
	{"remove-replica-regions", OPT_LIST},
	{"password-length", OPT_INT},
	{"exclude-numbers", OPT_BOOL},
	{"exclude-punctuation", OPT_BOOL},
	{"exclude-uppercase", OPT_BOOL},
	{"exclude-lowercase", OPT_BOOL},
	{"include-space", OPT_BOOL},
	{"require-each-included-type", OPT_BOOL},
	{"rotate-immediately", OPT_BOOL},
	{"block-public-policy", OPT_BOOL},
	{"max-results", OPT_INT},
	{"recovery-window-in-days", OPT_INT},
	{"concurrency", OPT_INT},
	{"connections", OPT_INT},
	{"value-size", OPT_INT},
	{"include-planned-deletion", OPT_BOOL},
	{"include-deprecated", OPT_BOOL},
	{"force-delete-without-recovery", OPT_BOOL},
	{"force-overwrite-replica-secret", OPT_BOOL},
	{"no-paginate", OPT_BOOL},
	{"debug", OPT_BOOL},
	{"cleanup", OPT_BOOL},
	{"pool", OPT_INT},
};

enum opt_kind args_kind(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return kinds[i].kind;
	return OPT_STR;
}

struct opt *args_find(struct args *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->opts[i].name, name) == 0)
			return &a->opts[i];
	return NULL;
}

const char *args_str(struct args *a, const char *name)
{
	struct opt *o = args_find(a, name);

	return o && o->n > 0 ? o->vals[0] : NULL;
}

int args_parse(int argc, char **argv, struct args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		char *w = argv[i];
		struct opt *o;
		char *eq;

		if (strncmp(w, "--", 2) != 0 || w[2] == '\0') {
			if (a->n_pos == ARGS_MAX_POS)
				goto stray;
			a->pos[a->n_pos++] = w;
			continue;
		}
		if (a->n == ARGS_MAX) {
			snprintf(a->err, sizeof(a->err), "too many options");
			return CLI_EXIT_USAGE;
		}
		o = &a->opts[a->n];
		memset(o, 0, sizeof(*o));
		o->name = w + 2;
		eq = strchr(w, '=');
		if (eq != NULL) {
			*eq = '\0';
			o->vals = &argv[i];
			argv[i] = eq + 1; /* the option word becomes its value */
			o->n = 1;
		}
		if (strncmp(o->name, "no-", 3) == 0 && args_kind(o->name + 3) == OPT_BOOL) {
			o->name += 3;
			o->neg = 1;
		}
		if (eq == NULL) {
			enum opt_kind k = args_kind(o->name);
			size_t max = k == OPT_BOOL ? 0 : (k == OPT_LIST || k == OPT_TAGS) ? SIZE_MAX : 1;

			o->vals = &argv[i + 1];
			while (o->n < max && i + 1 < argc &&
			       !(strncmp(argv[i + 1], "--", 2) == 0 && argv[i + 1][2] != '\0'))
				i++, o->n++;
		}
		if (args_find(a, o->name) != NULL) {
			snprintf(a->err, sizeof(a->err), "option '--%s' given twice", o->name);
			return CLI_EXIT_USAGE;
		}
		a->n++;
	}
	return 0;
stray:
	snprintf(a->err, sizeof(a->err), "unrecognized arguments: %s", argv[i]);
	return CLI_EXIT_USAGE;
}
