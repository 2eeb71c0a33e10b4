/*
 * The ListSecrets filter language (also used by BatchGetSecretValue), with
 * the rules AWS shows in practice (reference §5.8):
 *
 *   name, tag-key, tag-value, primary-region, owning-service:
 *       case-sensitive prefix of the attribute (any tag for the tag keys);
 *   description, all:
 *       the value is split on blanks into words; every word must be a
 *       case-insensitive prefix of some word of the description (or, for
 *       'all', of the name, description, a tag key or a tag value; each word
 *       may match a different attribute).
 *
 * Attribute words: blanks separate tokens; a token that uses exactly one of
 * the separators / - _ + = . @ is split on it (a token mixing two different
 * separators is not split at all); each piece is split again at camel-case
 * boundaries (aB -> a|B, ABc -> A|Bc). A value word matches if it is a
 * prefix of the text from the start of the token, of a piece, or of a
 * camel-case part (so "sec" finds "Secret" but "ret" does not, and
 * "app/db" finds "prod/app/db"). A value word made only of separators
 * matches nothing.
 *
 * Values of one filter are ORed, filters are ANDed, a leading '!' negates
 * one value. Non-replicated secrets have no primary region and no secret
 * has an owning service here, so those keys match only when negated.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"

#define MAX_FILTERS 10
#define MAX_VALUES 10
#define MAX_VALUE_LEN 512
#define SEPARATORS "/-_+=.@"

static const char *const keys[] = {"description",	"name",		  "tag-key", "tag-value",
				   "primary-region", "owning-service", "all"};
enum fkey { K_DESCRIPTION, K_NAME, K_TAG_KEY, K_TAG_VALUE, K_PRIMARY_REGION, K_OWNING_SERVICE,
	    K_ALL, K_N };

static int key_index(const char *k)
{
	for (int i = 0; k && i < K_N; i++)
		if (strcmp(k, keys[i]) == 0)
			return i;
	return -1;
}

/* ^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$ (the optional '!' is in the class too) */
static int value_chars_ok(const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(" :_@/+=.-!", c)))
			return 0;
	}
	return 1;
}

int api__check_filters(struct api_reply *out, Coffer__Filter **f, size_t n)
{
	char member[80];

	if (n > MAX_FILTERS) {
		api__validation(out, NULL, "filters",
				"Member must have length less than or equal to 10");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (key_index(f[i]->key) < 0) {
			snprintf(member, sizeof(member), "filters.%zu.member.key", i + 1);
			api__validation(out, f[i]->key ? f[i]->key : "null", member,
					"Member must satisfy enum value set: [description, name, "
					"tag-key, tag-value, primary-region, owning-service, all]");
			return 0;
		}
		snprintf(member, sizeof(member), "filters.%zu.member.values", i + 1);
		if (f[i]->n_values < 1 || f[i]->n_values > MAX_VALUES) {
			api__validation(out, NULL, member,
					f[i]->n_values < 1
						? "Member must have length greater than or equal to 1"
						: "Member must have length less than or equal to 10");
			return 0;
		}
		for (size_t j = 0; j < f[i]->n_values; j++) {
			const char *v = f[i]->values[j];

			snprintf(member, sizeof(member), "filters.%zu.member.values.%zu.member",
				 i + 1, j + 1);
			if (!api__check_len(out, v, member, 0, MAX_VALUE_LEN))
				return 0;
			if (!value_chars_ok(v)) {
				api__validation(out, v, member,
						"Member must satisfy regular expression pattern: "
						"^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$");
				return 0;
			}
		}
	}
	return 1;
}

/* ---------------------------------------------------------------- word matching */

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* w[0..wn) starts with v[0..vn), ignoring case. */
static int prefix_ci(const char *w, size_t wn, const char *v, size_t vn)
{
	return vn <= wn && strncasecmp(w, v, vn) == 0;
}

/* One piece (no separators inside): its start and each camel-case boundary. */
static int piece_match(const char *p, size_t pn, const char *v, size_t vn)
{
	for (size_t i = 0; i < pn; i++) {
		int boundary = i == 0 || (is_lower(p[i - 1]) && is_upper(p[i])) ||
			       (is_upper(p[i - 1]) && is_upper(p[i]) && i + 1 < pn &&
				is_lower(p[i + 1]));

		if (boundary && prefix_ci(p + i, pn - i, v, vn))
			return 1;
	}
	return 0;
}

static int token_match(const char *t, size_t tn, const char *v, size_t vn)
{
	char sep = 0;
	int mixed = 0;
	size_t i, start;

	if (prefix_ci(t, tn, v, vn))
		return 1;
	for (i = 0; i < tn; i++) {
		if (strchr(SEPARATORS, t[i]) == NULL)
			continue;
		if (sep && sep != t[i])
			mixed = 1;
		sep = t[i];
	}
	if (mixed)
		return 0; /* not split at all: only the token's own start counts */
	if (sep == 0)
		return piece_match(t, tn, v, vn);
	for (start = 0, i = 0; i <= tn; i++) {
		if (i < tn && t[i] != sep)
			continue;
		/* a piece and the rest of the token after it */
		if (i > start && (prefix_ci(t + start, tn - start, v, vn) ||
				  piece_match(t + start, i - start, v, vn)))
			return 1;
		start = i + 1;
	}
	return 0;
}

/* Is value word v[0..vn) a prefix of some word of attr? */
static int attr_match(const char *attr, const char *v, size_t vn)
{
	const char *p = attr;

	if (attr == NULL)
		return 0;
	while (*p) {
		const char *t;

		while (is_blank(*p))
			p++;
		for (t = p; *p && !is_blank(*p); p++)
			;
		if (p > t && token_match(t, (size_t)(p - t), v, vn))
			return 1;
	}
	return 0;
}

static int word_anywhere(const struct store_secret *s, int all, const char *v, size_t vn)
{
	if (strspn(v, SEPARATORS) >= vn)
		return 0; /* a lone separator matches nothing */
	if (attr_match(s->description, v, vn))
		return 1;
	if (!all)
		return 0;
	if (attr_match(s->name, v, vn))
		return 1;
	for (size_t i = 0; i < s->n_tags; i++)
		if (attr_match(s->tags[i].key, v, vn) || attr_match(s->tags[i].value, v, vn))
			return 1;
	return 0;
}

/* Every blank-separated word of value matches. */
static int words_match(const struct store_secret *s, int all, const char *value)
{
	const char *p = value;

	while (*p) {
		const char *w;

		while (is_blank(*p))
			p++;
		for (w = p; *p && !is_blank(*p); p++)
			;
		if (p > w && !word_anywhere(s, all, w, (size_t)(p - w)))
			return 0;
	}
	return 1;
}

static int prefix(const char *attr, const char *v)
{
	return attr && strncmp(attr, v, strlen(v)) == 0;
}

static int value_match(enum fkey k, const struct store_secret *s, const char *v)
{
	switch (k) {
	case K_NAME:
		return prefix(s->name, v);
	case K_TAG_KEY:
	case K_TAG_VALUE:
		for (size_t i = 0; i < s->n_tags; i++)
			if (prefix(k == K_TAG_KEY ? s->tags[i].key : s->tags[i].value, v))
				return 1;
		return 0;
	case K_DESCRIPTION:
		return s->description && words_match(s, 0, v);
	case K_ALL:
		return words_match(s, 1, v);
	case K_PRIMARY_REGION:
	case K_OWNING_SERVICE:
	default:
		/* not replicated, not owned by a service: no such attribute */
		return 0;
	}
}

static int filter_match(const Coffer__Filter *f, const struct store_secret *s)
{
	enum fkey k = (enum fkey)key_index(f->key);

	for (size_t i = 0; i < f->n_values; i++) {
		const char *v = f->values[i];
		int neg = v[0] == '!';

		if (value_match(k, s, v + neg) != neg)
			return 1;
	}
	return 0;
}

int api__filters_match(Coffer__Filter **f, size_t n, const struct store_secret *s)
{
	for (size_t i = 0; i < n; i++)
		if (!filter_match(f[i], s))
			return 0;
	return 1;
}
