/*
 * cofferd: flags and config, then wiring: secure heap, root key,
 * credentials, TLS, the FSM behind a raft node, the RPC listener, the AWS
 * HTTP listener (when http_addr is set), the housekeeping tick and signals;
 * then the loop. SIGINT/SIGTERM stop the node in order (listeners, peers,
 * raft drained and closed) and exit 0.
 * Dev mode creates on first start the root key, a self-signed certificate,
 * root credentials and DIR/dev.env.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/auth.h"
#include "aws/http.h"
#include "config/config.h"
#include "fsm/fsm.h"
#include "kms/kms.h"
#include "net/net.h"
#include "node/node.h"
#include "rpc/server.h"
#include "util/errors.h"
#include "util/harden.h"
#include "util/log.h"
#include "util/secmem.h"

#define SECURE_HEAP_SIZE (32u * 1024u * 1024u)

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[CONFIG_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int dir_of(const char *file, char *out, size_t cap)
{
	const char *slash = strrchr(file, '/');
	size_t n = slash ? (size_t)(slash - file) : 0;

	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, file, n);
	out[n] = '\0';
	return 0;
}

/* DIR/dev.env: shell exports for the CLI and AWS tools (0600: it holds the
 * root secret access key, like ~/.aws/credentials). */
static int write_dev_env(struct server *s)
{
	char path[CONFIG_PATH_MAX + 16], tmp[CONFIG_PATH_MAX + 32], exe[CONFIG_PATH_MAX];
	char bindir[CONFIG_PATH_MAX];
	ssize_t n;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/dev.env", s->cfg->data_dir);
	snprintf(tmp, sizeof(tmp), "%s/.dev.env.tmp", s->cfg->data_dir);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (n <= 0 || dir_of(exe, bindir, sizeof(bindir)) != 0)
		bindir[0] = '\0';
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	fprintf(f, "# written by cofferd --dev; source it: . %s\n", path);
	fprintf(f, "export COFFER_ENDPOINT='%s'\n", s->cfg->rpc_addr);
	fprintf(f, "export COFFER_CA_FILE='%s'\n", s->cfg->ca_file);
	fprintf(f, "export AWS_ACCESS_KEY_ID='%s'\n", auth_root_access_key_id(s->auth));
	fprintf(f, "export AWS_SECRET_ACCESS_KEY='%s'\n", auth_root_secret_key(s->auth));
	fprintf(f, "export AWS_DEFAULT_REGION='%s'\n", s->cfg->region);
	fprintf(f, "export AWS_REGION='%s'\n", s->cfg->region);
	if (s->cfg->http_addr[0] != '\0')
		fprintf(f, "export AWS_ENDPOINT_URL='http://%s'\n", s->cfg->http_addr);
	if (bindir[0] != '\0')
		fprintf(f, "case \":$PATH:\" in *':%s:'*) ;; *) export PATH='%s':\"$PATH\" ;; esac\n",
			bindir, bindir);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ fsm adapter */

static int fsm_apply_cb(void *ctx, const uint8_t *cmd, size_t n, void **result)
{
	int rv = fsm_apply(ctx, cmd, n, result);

	/* fsm_apply fails only on out-of-memory, possibly half-way through a
	 * command: retrying on that state could diverge from the other
	 * replicas. Stop; a restart replays the snapshot and the log. */
	if (rv != 0) {
		loge("fatal: applying a committed command failed (%s); stopping so that a "
		     "restart replays the log",
		     cf_strerror(rv));
		abort();
	}
	return 0;
}
static int fsm_snapshot_cb(void *ctx, uint8_t **buf, size_t *n)
{
	return fsm_snapshot(ctx, buf, n);
}
static int fsm_restore_cb(void *ctx, const uint8_t *buf, size_t n)
{
	return fsm_restore(ctx, buf, n);
}

/* ------------------------------------------------------------ housekeeping */

static void housekeeping_done(void *data, int status, void *result)
{
	struct server *s = data;

	s->housekeeping_busy = false;
	if (result != NULL)
		fsm_result_free(result);
	if (status != 0)
		logd("housekeeping command not applied: %s", cf_strerror(status));
}

static void housekeeping(struct server *s)
{
	struct api_ctx ctx = {s->fsm, s->kr, s->cfg->region, s->cfg->account_id,
			      (int64_t)server_now_ms()};
	uint8_t *cmd = NULL;
	size_t len = 0;

	if (s->stopping || s->housekeeping_busy || !node_is_leader(s->node))
		return;
	if (api_housekeeping(&ctx, &cmd, &len) != 0 || cmd == NULL)
		return;
	if (node_propose(s->node, cmd, len, housekeeping_done, s) == 0)
		s->housekeeping_busy = true;
	free(cmd);
}

static void on_leader(void *data, bool leader)
{
	struct server *s = data;

	s->leader = leader;
	logi("%s", leader ? "serving as leader" : "no longer leader");
	if (leader)
		housekeeping(s);
}

static void on_tick(uv_timer_t *t)
{
	struct server *s = t->data;

	peers_tick(s, uv_now(s->loop));
	housekeeping(s);
}

/* ------------------------------------------------------------ shutdown */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void node_closed(void *data)
{
	struct server *s = data;

	close_handle((uv_handle_t *)&s->tick);
	close_handle((uv_handle_t *)&s->sigint);
	close_handle((uv_handle_t *)&s->sigterm);
	logi("stopped");
}

static void http_closed(void *data)
{
	struct server *s = data;

	node_close(s->node, node_closed, s);
}

static void listener_closed(void *data)
{
	struct server *s = data;

	s->rpc = NULL;
	http_close(s, http_closed, s); /* a no-op without an http listener */
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;

	if (s->stopping)
		return;
	logi("signal %d: stopping", signum);
	s->stopping = true;
	peers_close(s);
	if (s->rpc != NULL)
		net_listener_close(s->rpc, listener_closed, s);
	else
		listener_closed(s);
}

/* ------------------------------------------------------------ start */

static int open_tls(struct server *s, char *errmsg)
{
	struct config *c = s->cfg;
	char dir[CONFIG_PATH_MAX];

	if (c->dev && access(c->tls_cert, F_OK) != 0) {
		if (dir_of(c->tls_cert, dir, sizeof(dir)) == 0 && mkdir_p(dir, 0700) != 0) {
			snprintf(errmsg, 256, "cannot create '%s': %s", dir, strerror(errno));
			return -1;
		}
		if (net_tls_make_self_signed(c->tls_cert, c->tls_key, NULL, errmsg) != 0)
			return -1;
		logi("created a self-signed certificate '%s'", c->tls_cert);
	}
	s->tls_server = net_tls_server_ctx(c->tls_cert, c->tls_key, errmsg);
	if (s->tls_server == NULL || net_tls_request_client_cert(s->tls_server, c->ca_file, errmsg))
		return -1;
	/* relays to the leader present this node's certificate (rpc.c honours
	 * "forwarded" only from a member's certificate) */
	s->tls_client = net_tls_client_ctx(c->ca_file, errmsg);
	if (s->tls_client == NULL || net_tls_use_client_cert(s->tls_client, c->tls_cert, c->tls_key,
							     errmsg) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct server srv;
	struct server *s = &srv;
	struct node_member members[CONFIG_MAX_MEMBERS];
	struct node_config ncfg;
	struct node_fsm nfsm;
	uint8_t *peer_key;
	char errmsg[256] = "";
	char prefix[96];
	uv_loop_t loop;
	int rv;

	signal(SIGPIPE, SIG_IGN);
	if (harden_process(errmsg) != 0) {
		fprintf(stderr, "cofferd: %s\n", errmsg);
		return 1;
	}
	rv = config_parse(&cfg, argc, argv, errmsg);
	if (rv == 1)
		return 0;
	if (rv != 0 || (cfg.data_dir[0] != '\0' && mkdir_p(cfg.data_dir, 0700) != 0) ||
	    config_finish(&cfg, errmsg) != 0) {
		fprintf(stderr, "cofferd: %s\n", errmsg[0] ? errmsg : strerror(errno));
		return 2;
	}
	const struct harden_file secrets[] = {{cfg.key_file, "root key file"},
					      {cfg.credentials_file, "credentials file"},
					      {cfg.tls_key, "TLS private key"}};
	if (harden_check_files(cfg.data_dir, secrets, 3, errmsg) != 0) {
		fprintf(stderr, "cofferd: refusing to start: %s\n", errmsg);
		return 2;
	}
	log_threshold = cfg.log_level;
	snprintf(prefix, sizeof(prefix), "%s/n%llu", cfg.region, (unsigned long long)cfg.node_id);
	log_set_prefix(prefix);
	secmem_init(SECURE_HEAP_SIZE);

	s->cfg = &cfg;
	s->exit_code = 0;
	if (keyring_open_file(cfg.key_file, cfg.dev, &s->kr, errmsg) != 0 ||
	    auth_open(cfg.credentials_file, cfg.dev, cfg.region, &s->auth, errmsg) != 0 ||
	    open_tls(s, errmsg) != 0) {
		loge("%s", errmsg);
		return 1;
	}
	s->fsm = fsm_new(cfg.region);
	if (s->fsm == NULL) {
		loge("out of memory");
		return 1;
	}
	uv_loop_init(&loop);
	s->loop = &loop;
	peers_init(s);

	for (unsigned i = 0; i < cfg.n_members; i++) {
		members[i].id = cfg.members[i].id;
		snprintf(members[i].raft_address, sizeof(members[i].raft_address), "%s",
			 cfg.members[i].raft_addr);
	}
	memset(&ncfg, 0, sizeof(ncfg));
	ncfg.id = cfg.node_id;
	ncfg.raft_address = cfg.raft_addr;
	ncfg.data_dir = cfg.data_dir;
	ncfg.members = members;
	ncfg.n_members = cfg.n_members;
	ncfg.election_timeout_ms = cfg.election_timeout_ms;
	ncfg.heartbeat_timeout_ms = cfg.heartbeat_timeout_ms;
	ncfg.snapshot_threshold = cfg.snapshot_threshold;
	ncfg.snapshot_trailing = cfg.snapshot_trailing;
	/* Every member holds the same root key: the raft port admits only
	 * peers that prove they hold the key derived from it. */
	peer_key = secmem_alloc(32);
	if (peer_key == NULL || keyring_derive(s->kr, KMS_INFO_RAFT_PEER_AUTH, peer_key) != 0) {
		secmem_free(peer_key);
		loge("raft: cannot derive the peer-authentication key");
		return 1;
	}
	ncfg.peer_key = peer_key;
	ncfg.region = cfg.region; /* raft runs mutual TLS with the node's certificate */
	ncfg.ca_file = cfg.ca_file;
	ncfg.tls_cert = cfg.tls_cert;
	ncfg.tls_key = cfg.tls_key;
	nfsm.ctx = s->fsm;
	nfsm.apply = fsm_apply_cb;
	nfsm.result_free = fsm_result_free;
	nfsm.snapshot = fsm_snapshot_cb;
	nfsm.restore = fsm_restore_cb;
	rv = node_start(&loop, &ncfg, &nfsm, on_leader, s, &s->node, errmsg);
	secmem_free(peer_key); /* wiped; the node holds its own copy */
	ncfg.peer_key = NULL;
	if (rv != 0) {
		loge("raft: %s", errmsg);
		return 1;
	}
	if (rpc_listen(s, errmsg) != 0) {
		loge("rpc listener on '%s': %s", cfg.rpc_addr, errmsg);
		return 1;
	}
	if (cfg.http_addr[0] != '\0' && http_listen(s, errmsg) != 0) {
		loge("http listener on '%s': %s", cfg.http_addr, errmsg);
		return 1;
	}
	if (cfg.dev && write_dev_env(s) != 0) {
		loge("cannot write '%s/dev.env': %s", cfg.data_dir, strerror(errno));
		return 1;
	}
	uv_timer_init(&loop, &s->tick);
	s->tick.data = s;
	uv_timer_start(&s->tick, on_tick, 1000, 1000);
	uv_signal_init(&loop, &s->sigint);
	uv_signal_init(&loop, &s->sigterm);
	s->sigint.data = s;
	s->sigterm.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);

	logi("node %llu of region '%s': rpc %s, http %s, raft %s, data %s%s",
	     (unsigned long long)cfg.node_id, cfg.region, cfg.rpc_addr,
	     cfg.http_addr[0] ? cfg.http_addr : "off", cfg.raft_addr, cfg.data_dir,
	     cfg.dev ? " (dev mode)" : "");
	if (cfg.dev)
		logi("source %s/dev.env to use the coffer CLI", cfg.data_dir);

	uv_run(&loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&loop);
	if (rv != 0)
		logw("loop closed with handles still open: %s", uv_strerror(rv));
	fsm_free(s->fsm);
	keyring_free(s->kr);
	auth_free(s->auth);
	SSL_CTX_free(s->tls_server);
	SSL_CTX_free(s->tls_client);
	return s->exit_code;
}
