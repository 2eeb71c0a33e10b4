/*
 * coffer cluster status: the ClusterStatus operation (leader, members,
 * raft state), printed like any secretsmanager answer.
 */
#include <string.h>

#include "cli.h"

const char cli_help_cluster[] = "  cluster status\n";

int cmd_cluster(struct cli_run *r)
{
	if (r->n_pos != 2 || strcmp(r->pos[1], "status") != 0)
		return cli_usage_error("usage: coffer cluster status");
	return cli_run_request(cli_cmd_find("cluster-status"), r);
}
