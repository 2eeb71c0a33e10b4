/*
 * config: a node's configuration from a file of "key = value" lines and
 * command-line flags (flags override the file). Dev mode fills in a one-node
 * region under the data dir. Pure: no libuv, no raft.
 */
#ifndef COFFER_CONFIG_CONFIG_H
#define COFFER_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define CONFIG_MAX_MEMBERS 9
#define CONFIG_PATH_MAX 512

struct config_member {
	uint64_t id;
	char raft_addr[64];
	char rpc_addr[64];
};

struct config {
	bool dev;
	char region[64];
	char account_id[16];
	uint64_t node_id;
	char raft_addr[64];
	char rpc_addr[64];
	char http_addr[64];
	char data_dir[CONFIG_PATH_MAX];
	char tls_cert[CONFIG_PATH_MAX];
	char tls_key[CONFIG_PATH_MAX];
	char ca_file[CONFIG_PATH_MAX];
	char key_file[CONFIG_PATH_MAX];         /* root key */
	char credentials_file[CONFIG_PATH_MAX];
	struct config_member members[CONFIG_MAX_MEMBERS];
	unsigned n_members;
	unsigned election_timeout_ms;
	unsigned heartbeat_timeout_ms;
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	int log_level;
};

/* Parse argv (and the --config file it names). Returns 0, or -1 with a
 * message in errmsg (>= 256 bytes); 1 when --help was printed. */
int config_parse(struct config *c, int argc, char **argv, char *errmsg);

/* Set one key (file syntax: "region", "member", ...). 0 or -1 + errmsg. */
int config_set(struct config *c, const char *key, const char *value, char *errmsg);

/* Fill defaults and check consistency (dev mode derives paths from the
 * data dir). 0 or -1 + errmsg. */
int config_finish(struct config *c, char *errmsg);

/* The member entry for id, or NULL. */
const struct config_member *config_member(const struct config *c, uint64_t id);

#endif
