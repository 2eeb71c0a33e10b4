/* Error code text and the client-visible status helper. */
#include "util/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cf_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define CF_ERR_CASE(name, num, text) \
	case name:                   \
		return text;
		CF_ERRORS(CF_ERR_CASE)
#undef CF_ERR_CASE
	default:
		return "unknown error";
	}
}

int cf_status_set(struct cf_status *st, const char *type, const char *fmt, ...)
{
	va_list ap;

	snprintf(st->type, sizeof(st->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	return -1;
}
