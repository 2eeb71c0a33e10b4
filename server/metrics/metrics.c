/*
 * A small fixed registry: series are (api, op, outcome) counters and
 * (api, op) histograms with fixed buckets, kept in arrays searched
 * linearly (tens of operations). When the registry is full, new series are
 * folded into an "other" series rather than growing without bound.
 */
#include "metrics/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errors.h"
#include "util/harden.h"

#define MAX_COUNTERS 512
#define MAX_HISTOS 128
#define NAME_LEN 64

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct counter {
	char api[8], op[NAME_LEN], outcome[NAME_LEN];
	uint64_t n;
};
struct histo {
	char api[8], op[NAME_LEN];
	uint64_t b[N_BUCKETS + 1];
	uint64_t count;
	double sum;
};

static struct counter counters[MAX_COUNTERS];
static size_t n_counters;
static struct histo histos[MAX_HISTOS];
static size_t n_histos;

static void set(char *dst, size_t cap, const char *src)
{
	size_t i;

	/* label values: keep [A-Za-z0-9_.-] only, so rendering needs no escaping */
	for (i = 0; src && src[i] && i + 1 < cap; i++) {
		char c = src[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '.' || c == '-';
		dst[i] = ok ? c : '_';
	}
	dst[i] = '\0';
}

void metrics_request(const char *api, const char *op, const char *outcome, double seconds)
{
	char a[8], o[NAME_LEN], oc[NAME_LEN];
	struct counter *c = NULL;
	struct histo *h = NULL;
	size_t i;

	set(a, sizeof(a), api);
	set(o, sizeof(o), op);
	set(oc, sizeof(oc), outcome);
	for (i = 0; i < n_counters && !c; i++)
		if (!strcmp(counters[i].api, a) && !strcmp(counters[i].op, o) &&
		    !strcmp(counters[i].outcome, oc))
			c = &counters[i];
	if (c == NULL) {
		c = &counters[n_counters < MAX_COUNTERS ? n_counters++ : MAX_COUNTERS - 1];
		if (c == &counters[MAX_COUNTERS - 1])
			set(oc, sizeof(oc), "other");
		memcpy(c->api, a, sizeof(a));
		memcpy(c->op, o, sizeof(o));
		memcpy(c->outcome, oc, sizeof(oc));
	}
	c->n++;
	for (i = 0; i < n_histos && !h; i++)
		if (!strcmp(histos[i].api, a) && !strcmp(histos[i].op, o))
			h = &histos[i];
	if (h == NULL) {
		h = &histos[n_histos < MAX_HISTOS ? n_histos++ : MAX_HISTOS - 1];
		memcpy(h->api, a, sizeof(a));
		memcpy(h->op, o, sizeof(o));
	}
	for (i = 0; i < N_BUCKETS && seconds > buckets[i]; i++)
		;
	h->b[i]++;
	h->count++;
	h->sum += seconds;
}

void metrics_reset(void)
{
	memset(counters, 0, sizeof(counters));
	memset(histos, 0, sizeof(histos));
	n_counters = n_histos = 0;
}

struct out {
	char *buf;
	size_t len, cap;
	int err;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->err = CF_EINVAL;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);
		if (nb == NULL) {
			o->err = CF_ENOMEM;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

int metrics_render(const struct metrics_gauges *g, char **out, size_t *len)
{
	static const char *states[] = {"leader", "follower", "candidate", "unavailable"};
	struct out o = {malloc(4096), 0, 4096, 0};
	size_t i, j;

	if (o.buf == NULL)
		return CF_ENOMEM;
	o.buf[0] = '\0';
	put(&o, "# HELP coffer_requests_total Requests by api, operation and outcome.\n"
		"# TYPE coffer_requests_total counter\n");
	for (i = 0; i < n_counters; i++)
		put(&o, "coffer_requests_total{api=\"%s\",operation=\"%s\",outcome=\"%s\"} %llu\n",
		    counters[i].api, counters[i].op, counters[i].outcome,
		    (unsigned long long)counters[i].n);
	put(&o, "# HELP coffer_request_duration_seconds Request latency by api and operation.\n"
		"# TYPE coffer_request_duration_seconds histogram\n");
	for (i = 0; i < n_histos; i++) {
		struct histo *h = &histos[i];
		uint64_t cum = 0;

		for (j = 0; j <= N_BUCKETS; j++) {
			cum += h->b[j];
			if (j < N_BUCKETS)
				put(&o,
				    "coffer_request_duration_seconds_bucket{api=\"%s\",operation=\"%s\","
				    "le=\"%g\"} %llu\n",
				    h->api, h->op, buckets[j], (unsigned long long)cum);
			else
				put(&o,
				    "coffer_request_duration_seconds_bucket{api=\"%s\",operation=\"%s\","
				    "le=\"+Inf\"} %llu\n",
				    h->api, h->op, (unsigned long long)cum);
		}
		put(&o, "coffer_request_duration_seconds_sum{api=\"%s\",operation=\"%s\"} %.6f\n",
		    h->api, h->op, h->sum);
		put(&o, "coffer_request_duration_seconds_count{api=\"%s\",operation=\"%s\"} %llu\n",
		    h->api, h->op, (unsigned long long)h->count);
	}
	if (g != NULL) {
		put(&o, "# HELP coffer_raft_state Raft state of this node (1 for the current one).\n"
			"# TYPE coffer_raft_state gauge\n");
		for (i = 0; i < 4; i++)
			put(&o, "coffer_raft_state{region=\"%s\",node=\"%llu\",state=\"%s\"} %d\n",
			    g->region, (unsigned long long)g->node_id, states[i],
			    g->raft_state && !strcmp(g->raft_state, states[i]));
		put(&o, "# TYPE coffer_raft_term gauge\ncoffer_raft_term %llu\n",
		    (unsigned long long)g->raft_term);
		put(&o, "# TYPE coffer_raft_leader_id gauge\ncoffer_raft_leader_id %llu\n",
		    (unsigned long long)g->leader_id);
		put(&o, "# TYPE coffer_raft_last_applied_index gauge\ncoffer_raft_last_applied_index %llu\n",
		    (unsigned long long)g->raft_last_applied);
		put(&o, "# HELP coffer_applied_revision Revision of the state machine on this node.\n"
			"# TYPE coffer_applied_revision gauge\ncoffer_applied_revision %llu\n",
		    (unsigned long long)g->applied_revision);
	}
	put(&o, "# HELP coffer_process_dumpable 1 if the process could write a core or be traced.\n"
		"# TYPE coffer_process_dumpable gauge\ncoffer_process_dumpable %d\n",
	    harden_dumpable());
	if (o.err) {
		free(o.buf);
		return o.err;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}
