/*
 * Configuration: defaults, then the --config file, then flags. Keys in the
 * file and long flags share names ("rpc-addr" == "rpc_addr"). A member is
 * "ID,RAFT_ADDR,RPC_ADDR". Errors name the offending key or line.
 */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/log.h"

#define ERRMSG_LEN 256

static int copy(char *dst, size_t cap, const char *v, const char *key, char *errmsg)
{
	if (strlen(v) >= cap) {
		snprintf(errmsg, ERRMSG_LEN, "config: value of '%s' is too long", key);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x > max || v[0] == '-')
		return -1;
	*out = x;
	return 0;
}

static int parse_member(struct config *c, const char *v, char *errmsg)
{
	struct config_member *m;
	char buf[160];
	char *id, *raft, *rpc, *save = NULL;
	uint64_t x;

	if (c->n_members >= CONFIG_MAX_MEMBERS) {
		snprintf(errmsg, ERRMSG_LEN, "config: more than %d members", CONFIG_MAX_MEMBERS);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = buf; *p; p++)
		if (*p == ' ' || *p == '\t')
			*p = ',';
	id = strtok_r(buf, ",", &save);
	raft = strtok_r(NULL, ",", &save);
	rpc = strtok_r(NULL, ",", &save);
	if (id == NULL || raft == NULL || rpc == NULL || strtok_r(NULL, ",", &save) != NULL ||
	    parse_uint(id, UINT64_MAX, &x) != 0 || x == 0 || strlen(raft) >= 64 ||
	    strlen(rpc) >= 64) {
		snprintf(errmsg, ERRMSG_LEN, "config: member '%s' is not 'ID,RAFT_ADDR,RPC_ADDR'", v);
		return -1;
	}
	m = &c->members[c->n_members++];
	m->id = x;
	snprintf(m->raft_addr, sizeof(m->raft_addr), "%s", raft);
	snprintf(m->rpc_addr, sizeof(m->rpc_addr), "%s", rpc);
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, char *errmsg)
{
	char k[64];
	uint64_t x;
	size_t i;

	snprintf(k, sizeof(k), "%s", key);
	for (i = 0; k[i]; i++)
		if (k[i] == '-')
			k[i] = '_';

#define STR(name, field)                                                  \
	if (strcmp(k, name) == 0)                                         \
		return copy(c->field, sizeof(c->field), value, key, errmsg);
	STR("region", region)
	STR("account_id", account_id)
	STR("raft_addr", raft_addr)
	STR("rpc_addr", rpc_addr)
	STR("http_addr", http_addr)
	STR("data_dir", data_dir)
	STR("tls_cert", tls_cert)
	STR("tls_key", tls_key)
	STR("ca_file", ca_file)
	STR("key_file", key_file)
	STR("credentials_file", credentials_file)
#undef STR
#define NUM(name, field, max)                                                         \
	if (strcmp(k, name) == 0) {                                                   \
		if (parse_uint(value, (max), &x) != 0) {                              \
			snprintf(errmsg, ERRMSG_LEN, "config: '%s' must be a number", key); \
			return -1;                                                    \
		}                                                                     \
		c->field = x;                                                         \
		return 0;                                                             \
	}
	NUM("node_id", node_id, UINT64_MAX)
	NUM("election_timeout_ms", election_timeout_ms, 600000)
	NUM("heartbeat_timeout_ms", heartbeat_timeout_ms, 60000)
	NUM("snapshot_threshold", snapshot_threshold, 100000000)
	NUM("snapshot_trailing", snapshot_trailing, 100000000)
#undef NUM
	if (strcmp(k, "member") == 0)
		return parse_member(c, value, errmsg);
	if (strcmp(k, "log_level") == 0) {
		static const char *lv[] = {"debug", "info", "warn", "error"};
		for (i = 0; i < 4; i++)
			if (strcmp(value, lv[i]) == 0) {
				c->log_level = (int)i;
				return 0;
			}
		snprintf(errmsg, ERRMSG_LEN, "config: log_level must be debug|info|warn|error");
		return -1;
	}
	snprintf(errmsg, ERRMSG_LEN, "config: unknown key '%s'", key);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int load_file(struct config *c, const char *path, char *errmsg)
{
	char line[1024], sub[ERRMSG_LEN];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (f == NULL) {
		snprintf(errmsg, ERRMSG_LEN, "config: cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line), *eq;

		lineno++;
		/* a comment runs from '#' at the start or after whitespace */
		for (char *h = s; *h != '\0'; h++)
			if (*h == '#' && (h == s || h[-1] == ' ' || h[-1] == '\t')) {
				*h = '\0';
				s = trim(s);
				break;
			}
		if (*s == '\0')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(errmsg, ERRMSG_LEN, "config: %s:%d: expected 'key = value'", path,
				 lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		if (config_set(c, trim(s), trim(eq + 1), sub) != 0) {
			snprintf(errmsg, ERRMSG_LEN, "%s:%d: %s", path, lineno, sub);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cofferd --dev --data-dir DIR [--region R] [--rpc-addr H:P] [--raft-addr H:P]\n"
		"       cofferd --config FILE [flags]\n"
		"flags: --region --account-id --node-id --raft-addr --rpc-addr --http-addr\n"
		"       --data-dir --tls-cert --tls-key --ca-file --key-file --credentials-file\n"
		"       --member ID,RAFT_ADDR,RPC_ADDR (repeat) --election-timeout-ms\n"
		"       --heartbeat-timeout-ms --snapshot-threshold --snapshot-trailing\n"
		"       --log-level debug|info|warn|error\n");
}

int config_parse(struct config *c, int argc, char **argv, char *errmsg)
{
	const char *cfg_file = NULL;
	int i;

	memset(c, 0, sizeof(*c));
	c->log_level = LOG_INFO;
	/* the file first, so flags override it */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			cfg_file = argv[i + 1];
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 1;
		}
	}
	if (cfg_file != NULL && load_file(c, cfg_file, errmsg) != 0)
		return -1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--dev") == 0) {
			c->dev = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
			snprintf(errmsg, ERRMSG_LEN, "unexpected argument '%s' (see --help)", a);
			return -1;
		}
		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (config_set(c, a + 2, argv[++i], errmsg) != 0)
			return -1;
	}
	return 0;
}

static int set_default(char *dst, size_t cap, const char *dir, const char *name)
{
	if (dst[0] != '\0')
		return 0;
	if ((size_t)snprintf(dst, cap, "%s/%s", dir, name) >= cap)
		return -1;
	return 0;
}

/* "127.x.y.z:P", "[::1]:P" or "localhost:P" (dev mode serves plain HTTP and
 * root credentials: never beyond the host). */
static bool addr_is_loopback(const char *addr)
{
	char host[64];
	const char *end;
	size_t n;
	struct in_addr a4;
	struct in6_addr a6;

	if (addr[0] == '[') {
		end = strchr(addr, ']');
		addr++;
	} else {
		end = strrchr(addr, ':');
	}
	n = end ? (size_t)(end - addr) : strlen(addr);
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int config_finish(struct config *c, char *errmsg)
{
	char abs[PATH_MAX];

	if (c->data_dir[0] == '\0') {
		snprintf(errmsg, ERRMSG_LEN, "config: 'data_dir' is required");
		return -1;
	}
	if (c->region[0] == '\0')
		snprintf(c->region, sizeof(c->region), "us-east-1");
	if (c->account_id[0] == '\0')
		snprintf(c->account_id, sizeof(c->account_id), "000000000000");
	if (c->dev) {
		if (c->node_id == 0)
			c->node_id = 1;
		if (c->rpc_addr[0] == '\0')
			snprintf(c->rpc_addr, sizeof(c->rpc_addr), "127.0.0.1:7700");
		if (c->http_addr[0] == '\0')
			snprintf(c->http_addr, sizeof(c->http_addr), "127.0.0.1:7780");
		if (c->raft_addr[0] == '\0')
			snprintf(c->raft_addr, sizeof(c->raft_addr), "127.0.0.1:7790");
		if (!addr_is_loopback(c->rpc_addr) || !addr_is_loopback(c->http_addr)) {
			snprintf(errmsg, ERRMSG_LEN,
				 "config: --dev serves plain HTTP with root credentials on loopback only; "
				 "'%s' is not a loopback address (use 127.0.0.1, ::1 or localhost)",
				 addr_is_loopback(c->rpc_addr) ? c->http_addr : c->rpc_addr);
			return -1;
		}
		if (c->n_members == 0) {
			c->members[0].id = c->node_id;
			snprintf(c->members[0].raft_addr, 64, "%s", c->raft_addr);
			snprintf(c->members[0].rpc_addr, 64, "%s", c->rpc_addr);
			c->n_members = 1;
		}
	}
	if (realpath(c->data_dir, abs) != NULL)
		snprintf(c->data_dir, sizeof(c->data_dir), "%s", abs);
	if (set_default(c->tls_cert, sizeof(c->tls_cert), c->data_dir, "tls/cert.pem") ||
	    set_default(c->tls_key, sizeof(c->tls_key), c->data_dir, "tls/key.pem") ||
	    set_default(c->ca_file, sizeof(c->ca_file), c->data_dir, "tls/cert.pem") ||
	    set_default(c->key_file, sizeof(c->key_file), c->data_dir, "root.key") ||
	    set_default(c->credentials_file, sizeof(c->credentials_file), c->data_dir,
			"credentials")) {
		snprintf(errmsg, ERRMSG_LEN, "config: data dir path is too long");
		return -1;
	}
	if (c->node_id == 0 || c->raft_addr[0] == '\0' || c->rpc_addr[0] == '\0') {
		snprintf(errmsg, ERRMSG_LEN,
			 "config: 'node_id', 'raft_addr' and 'rpc_addr' are required outside --dev");
		return -1;
	}
	if (c->n_members == 0) {
		snprintf(errmsg, ERRMSG_LEN, "config: at least one 'member' is required");
		return -1;
	}
	if (config_member(c, c->node_id) == NULL) {
		snprintf(errmsg, ERRMSG_LEN, "config: node %llu is not among the members",
			 (unsigned long long)c->node_id);
		return -1;
	}
	if (c->election_timeout_ms == 0)
		c->election_timeout_ms = 1000;
	if (c->heartbeat_timeout_ms == 0)
		c->heartbeat_timeout_ms = 100;
	if (c->snapshot_threshold == 0)
		c->snapshot_threshold = 8192;
	if (c->snapshot_trailing == 0)
		c->snapshot_trailing = 2048;
	return 0;
}

const struct config_member *config_member(const struct config *c, uint64_t id)
{
	for (unsigned i = 0; i < c->n_members; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}
