/*
 * node internals shared with tests (private to replication/node).
 */
#ifndef COFFER_NODE_NODE_INT_H
#define COFFER_NODE_NODE_INT_H

#include <stdint.h>

#include "node/node.h"

/* Read-barrier counters: raft barriers issued for reads, and reads answered
 * with status 0. barriers < reads shows the batching. Loop thread. */
void node__read_stats(const struct node *n, uint64_t *barriers, uint64_t *reads);

#endif
