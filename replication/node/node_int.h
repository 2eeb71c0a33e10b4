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

struct node_read_stats {
	uint64_t issued;	 /* read barriers issued (numbered 1, 2, ...) */
	uint64_t completed;	 /* read barriers whose callback fired */
	uint64_t reads_served;	 /* reads answered with status 0 */
	unsigned in_flight;	 /* read barriers now in flight */
	unsigned max_in_flight;	 /* high-water mark of in_flight */
	uint64_t answering;	 /* inside a read callback: the number of the
				  * barrier answering it (0 elsewhere) */
};
void node__read_stats_get(const struct node *n, struct node_read_stats *st);

/* Commands proposed through the end-of-iteration flush, and the raft entries
 * that carried them. commands > entries shows the batching. */
void node__propose_stats(const struct node *n, uint64_t *commands, uint64_t *entries);

#endif
