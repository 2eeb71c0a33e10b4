/*
 * metrics: request counters by operation and outcome, latency histograms
 * by operation, and the node gauges, rendered as Prometheus text. One
 * registry per process, loop thread only. Outcome is "ok" or the AWS error
 * name, never a message.
 */
#ifndef COFFER_METRICS_METRICS_H
#define COFFER_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Record one finished request. op and outcome borrowed (copied if new).
 * api is "rpc" or "aws". */
void metrics_request(const char *api, const char *op, const char *outcome, double seconds);

struct metrics_gauges {
	const char *region;
	uint64_t node_id;
	const char *raft_state;  /* leader follower candidate unavailable */
	uint64_t raft_term;
	uint64_t leader_id;
	uint64_t applied_revision;
	uint64_t raft_last_applied;
};

/* Render every metric (malloc'ed, NUL-terminated; free()). 0 or CF_ENOMEM. */
int metrics_render(const struct metrics_gauges *g, char **out, size_t *len);

/* Forget everything (tests). */
void metrics_reset(void);

#endif
