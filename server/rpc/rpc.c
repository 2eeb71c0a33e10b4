/*
 * The RPC port. Each connection decodes frames (4-byte length + Envelope);
 * a frame that does not decode closes the connection (there is no call id
 * to answer). A decoded call is authenticated, then:
 *   - admin calls (NodeStatus, ClusterStatus) are answered here;
 *   - on the serving leader, reads wait for one batched barrier and writes
 *     are prepared (encrypted), proposed and finished after apply;
 *   - elsewhere the call is relayed to the leader over a peer link; a call
 *     that was already relayed is never relayed again (no loops).
 * Every failure answers with an AWS error name; the connection stays open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "crypto/sign.h"
#include "metrics/metrics.h"
#include "fsm/fsm.h"
#include "net/frame.h"
#include "net/net.h"
#include "node/node.h"
#include "rpc/server.h"
#include "util/errors.h"
#include "util/log.h"

#define RPC_FRAME_CAP FRAME_DEFAULT_CAP

/* Calls in flight per connection before reading pauses (bounds the memory
 * one client can pin; resumes below half). */
#define RPC_MAX_INFLIGHT 1024

struct rpc_conn {
	struct server *s;
	struct frame_decoder dec;
	unsigned inflight;
	bool paused;
};

uint64_t server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void call_free(struct call *call)
{
	if (call == NULL)
		return;
	if (call->conn != NULL) {
		struct rpc_conn *rc = net_conn_get_user(call->conn);

		/* NULL once the connection closed (on_close detaches it) */
		if (rc != NULL && rc->inflight > 0 && --rc->inflight < RPC_MAX_INFLIGHT / 2 &&
		    rc->paused) {
			rc->paused = false;
			net_conn_resume_read(call->conn);
		}
		net_conn_unref(call->conn);
	}
	secbuf_free(&call->payload);
	secbuf_free(&call->envelope);
	free(call);
}

static void send_envelope(struct net_conn *conn, const Coffer__Envelope *env)
{
	struct secbuf out = {0};
	uint8_t hdr[FRAME_HEADER_LEN];

	if (conn == NULL || !net_conn_is_open(conn))
		return;
	if (secmem_pb_pack(&env->base, &out) != 0) {
		loge("rpc: out of memory packing an answer; closing %s", net_conn_peer(conn));
		net_conn_close(conn);
		return;
	}
	frame_put_header(hdr, (uint32_t)out.len);
	if (net_conn_write2(conn, hdr, sizeof(hdr), out.data, out.len) != 0)
		net_conn_close(conn);
	secbuf_free(&out);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void call_complete(struct call *call, const Coffer__Envelope *answer)
{
	if (call->api != NULL)
		metrics_request(call->api, call->op_name,
				answer->error ? (answer->error->type ? answer->error->type : "error")
					      : "ok",
				(double)(mono_ns() - call->start_ns) / 1e9);
	if (call->done != NULL) {
		call->done(call, answer);
	} else {
		Coffer__Envelope env = *answer;

		env.has_call_id = 1;
		env.call_id = call->call_id;
		env.has_forwarded = 0;
		send_envelope(call->conn, &env);
	}
	call_free(call);
}

void rpc_answer(struct call *call, const char *err_type, const char *err_msg,
		const struct secbuf *payload)
{
	Coffer__Envelope env = COFFER__ENVELOPE__INIT;
	Coffer__Error err = COFFER__ERROR__INIT;

	env.has_call_id = 1;
	env.call_id = call->call_id;
	if (err_type != NULL && err_type[0] != '\0') {
		err.type = (char *)err_type;
		err.message = (char *)(err_msg ? err_msg : "");
		env.error = &err;
	} else if (payload != NULL) {
		env.has_payload = 1;
		env.payload.data = payload->data;
		env.payload.len = payload->len;
	}
	call_complete(call, &env);
}

void rpc_relay(struct call *call, const Coffer__Envelope *answer)
{
	call_complete(call, answer);
}

static void answer_reply(struct call *call, const struct api_reply *r)
{
	if (!cf_status_ok(&r->status))
		rpc_answer(call, r->status.type, r->status.message, NULL);
	else
		rpc_answer(call, NULL, NULL, &r->payload);
}

static void make_ctx(struct server *s, struct api_ctx *ctx)
{
	ctx->fsm = s->fsm;
	ctx->kr = s->kr;
	ctx->region = s->cfg->region;
	ctx->account_id = s->cfg->account_id;
	ctx->now_ms = (int64_t)server_now_ms();
}

static void answer_unavailable(struct call *call, int status)
{
	char msg[160];

	if (status == CF_ELEADERSHIPLOST)
		snprintf(msg, sizeof(msg),
			 "leadership changed while the request was in flight; its outcome is "
			 "unknown, retry with the same ClientRequestToken");
	else if (status == CF_ESHUTDOWN)
		snprintf(msg, sizeof(msg), "the node is shutting down; retry");
	else
		snprintf(msg, sizeof(msg), "the node is not the leader (%s); retry",
			 cf_strerror(status));
	rpc_answer(call, "ServiceUnavailableException", msg, NULL);
}

static void read_done(void *data, int status)
{
	struct call *call = data;
	struct api_reply r = {0};
	struct api_ctx ctx;

	if (status != 0) {
		answer_unavailable(call, status);
		return;
	}
	make_ctx(call->s, &ctx);
	if (api_read(call->op, &ctx, call->payload.data, call->payload.len, &r) != 0) {
		rpc_answer(call, "InternalServiceError", "out of memory", NULL);
		return;
	}
	answer_reply(call, &r);
	api_reply_release(&r);
}

static void write_done(void *data, int status, void *result)
{
	struct call *call = data;
	struct api_reply r = {0};
	struct api_ctx ctx;

	if (status != 0) {
		if (result != NULL)
			fsm_result_free(result);
		answer_unavailable(call, status);
		return;
	}
	make_ctx(call->s, &ctx);
	if (api_finish(call->op, &ctx, result, &r) != 0)
		rpc_answer(call, "InternalServiceError", "out of memory", NULL);
	else
		answer_reply(call, &r);
	fsm_result_free(result);
	api_reply_release(&r);
}

static void serve_on_leader(struct call *call)
{
	struct server *s = call->s;
	struct api_reply r = {0};
	struct api_ctx ctx;
	uint8_t *cmd = NULL;
	size_t cmd_len = 0;
	int rv;

	if (call->op->kind == API_READ) {
		rv = node_read_barrier(s->node, read_done, call);
		if (rv != 0)
			answer_unavailable(call, rv);
		return;
	}
	make_ctx(s, &ctx);
	rv = api_prepare(call->op, &ctx, call->payload.data, call->payload.len, &cmd, &cmd_len,
			 &r);
	if (rv != 0) {
		rpc_answer(call, "InternalServiceError", "out of memory", NULL);
		api_reply_release(&r);
		return;
	}
	if (cmd == NULL) {
		answer_reply(call, &r);
		api_reply_release(&r);
		return;
	}
	api_reply_release(&r);
	rv = node_propose(s->node, cmd, cmd_len, write_done, call);
	free(cmd);
	if (rv != 0)
		answer_unavailable(call, rv);
}

/* Serve a call for an api operation: here if we lead, else at the leader. */
static void route(struct call *call, bool forwarded)
{
	struct server *s = call->s;
	uint64_t leader_id = 0;
	const char *leader_addr = NULL;
	char msg[160];

	if (s->stopping) {
		answer_unavailable(call, CF_ESHUTDOWN);
		return;
	}
	if (call->op->kind == API_LOCAL) {
		read_done(call, 0); /* no replicated state: any node answers */
		return;
	}
	if (node_is_leader(s->node)) {
		serve_on_leader(call);
		return;
	}
	node_leader(s->node, &leader_id, &leader_addr);
	if (forwarded || leader_id == 0 || leader_id == s->cfg->node_id ||
	    config_member(s->cfg, leader_id) == NULL) {
		snprintf(msg, sizeof(msg),
			 leader_id == 0 ? "region '%s' has no leader (no quorum yet); retry"
					: "region '%s' is changing leader; retry",
			 s->cfg->region);
		rpc_answer(call, "ServiceUnavailableException", msg, NULL);
		return;
	}
	peer_send(s, leader_id, call);
}

static int handle_frame(void *data, const uint8_t *body, size_t len)
{
	struct net_conn *conn = data;
	struct rpc_conn *rc = net_conn_get_user(conn);
	struct server *s = rc->s;
	Coffer__Envelope *env;
	struct cf_status st;
	struct call *call;
	const char *op_name;
	bool forwarded;

	env = coffer__envelope__unpack(&secmem_pb_allocator, len, body);
	if (env == NULL || !env->has_call_id) {
		logw("rpc: undecodable frame from %s; closing", net_conn_peer(conn));
		if (env != NULL)
			coffer__envelope__free_unpacked(env, &secmem_pb_allocator);
		return CF_EPROTO;
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		coffer__envelope__free_unpacked(env, &secmem_pb_allocator);
		return CF_ENOMEM;
	}
	call->s = s;
	call->conn = conn;
	call->api = "rpc";
	call->start_ns = mono_ns();
	net_conn_ref(conn);
	call->call_id = env->call_id;
	if (++rc->inflight >= RPC_MAX_INFLIGHT && !rc->paused) {
		rc->paused = true;
		net_conn_pause_read(conn);
	}
	op_name = env->operation ? env->operation : "";
	call->op = api_find(op_name);
	/* metrics label: client-chosen names only when they name an operation */
	snprintf(call->op_name, sizeof(call->op_name), "%s",
		 call->op != NULL || strcmp(op_name, "NodeStatus") == 0 ||
				 strcmp(op_name, "ClusterStatus") == 0
			 ? op_name
			 : "unknown");
	forwarded = env->has_forwarded && env->forwarded && peer_conn_is_member(s, conn);

	if (env->auth == NULL) {
		rpc_answer(call, "MissingAuthenticationTokenException", "Missing Authentication Token",
			   NULL);
		goto out;
	}
	if (auth_verify(s->auth, env->auth->access_key_id, env->auth->date, env->auth->region,
			env->auth->signature, op_name, env->has_payload ? env->payload.data : NULL,
			env->has_payload ? env->payload.len : 0, time(NULL), &st) != 0) {
		rpc_answer(call, st.type, st.message, NULL);
		goto out;
	}
	if (secbuf_dup(&call->payload, env->has_payload ? env->payload.data : (uint8_t *)"",
		       env->has_payload ? env->payload.len : 0) != 0) {
		rpc_answer(call, "InternalServiceError", "out of memory", NULL);
		goto out;
	}
	if (strcmp(op_name, "NodeStatus") == 0 || strcmp(op_name, "ClusterStatus") == 0) {
		if (op_name[0] == 'N') {
			Coffer__NodeStatus ns = COFFER__NODE_STATUS__INIT;
			struct secbuf out = {0};
			char state[32];

			status_node(s, &ns, state, sizeof(state));
			if (secmem_pb_pack(&ns.base, &out) != 0) {
				rpc_answer(call, "InternalServiceError", "out of memory", NULL);
			} else {
				rpc_answer(call, NULL, NULL, &out);
				secbuf_free(&out);
			}
		} else {
			status_cluster(call);
		}
		goto out;
	}
	if (call->op == NULL) {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown operation '%.64s'", op_name);
		rpc_answer(call, "UnknownOperationException", msg, NULL);
		goto out;
	}
	/* keep the client's envelope for a relay, marked as forwarded */
	if (!node_is_leader(s->node) && !forwarded && call->op->kind != API_LOCAL) {
		env->has_forwarded = 1;
		env->forwarded = 1;
		if (secmem_pb_pack(&env->base, &call->envelope) != 0) {
			rpc_answer(call, "InternalServiceError", "out of memory", NULL);
			goto out;
		}
	}
	route(call, forwarded);
out:
	coffer__envelope__free_unpacked(env, &secmem_pb_allocator);
	return 0;
}

static void on_open(struct net_conn *conn)
{
	struct server *s = net_conn_get_data(conn);
	struct rpc_conn *rc = calloc(1, sizeof(*rc));

	if (rc == NULL) {
		net_conn_close(conn);
		return;
	}
	rc->s = s;
	frame_decoder_init(&rc->dec, RPC_FRAME_CAP);
	net_conn_set_user(conn, rc);
}

static int on_data(struct net_conn *conn, const uint8_t *buf, size_t n)
{
	struct rpc_conn *rc = net_conn_get_user(conn);
	int rv;

	if (rc == NULL)
		return -1;
	rv = frame_decoder_feed(&rc->dec, buf, n, handle_frame, conn);
	if (rv == CF_ETOOBIG)
		logw("rpc: oversized or empty frame from %s; closing", net_conn_peer(conn));
	return rv;
}

static void on_close(struct net_conn *conn)
{
	struct rpc_conn *rc = net_conn_get_user(conn);

	if (rc == NULL)
		return;
	frame_decoder_release(&rc->dec);
	free(rc);
	net_conn_set_user(conn, NULL);
}

int rpc_internal_envelope(struct server *s, const char *op, const uint8_t *payload, size_t n,
			  struct secbuf *out)
{
	Coffer__Envelope env = COFFER__ENVELOPE__INIT;
	Coffer__Auth auth = COFFER__AUTH__INIT;
	char date[SIGN_DATE_LEN + 1], sig[SIGN_HEX_LEN + 1];
	int rv;

	sign_format_date(time(NULL), date);
	rv = sign_request(auth_root_access_key_id(s->auth), auth_root_secret_key(s->auth), date,
			  s->cfg->region, op, payload, n, sig);
	if (rv != 0)
		return rv;
	auth.access_key_id = (char *)auth_root_access_key_id(s->auth);
	auth.date = date;
	auth.region = s->cfg->region;
	auth.signature = sig;
	env.has_call_id = 1;
	env.operation = (char *)op;
	env.auth = &auth;
	env.has_payload = 1;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = n;
	env.has_forwarded = 1;
	env.forwarded = 1;
	return secmem_pb_pack(&env.base, out);
}

void rpc_submit(struct server *s, const char *api, const char *op, const uint8_t *payload,
		size_t n, call_done_cb done, void *data)
{
	struct call *call = calloc(1, sizeof(*call));
	Coffer__Envelope env = COFFER__ENVELOPE__INIT;
	Coffer__Error err = COFFER__ERROR__INIT;

	if (call == NULL) {
		struct call tmp = {0};

		/* answer without a call object: out of memory */
		tmp.s = s;
		tmp.done_data = data;
		err.type = "InternalServiceError";
		err.message = "out of memory";
		env.error = &err;
		done(&tmp, &env);
		return;
	}
	call->s = s;
	call->api = api;
	call->start_ns = mono_ns();
	call->done = done;
	call->done_data = data;
	snprintf(call->op_name, sizeof(call->op_name), "%s", op);
	if (secbuf_dup(&call->payload, payload ? payload : (const uint8_t *)"", n) != 0) {
		rpc_answer(call, "InternalServiceError", "out of memory", NULL);
		return;
	}
	call->op = api_find(op);
	if (call->op == NULL) {
		char msg[128];

		snprintf(msg, sizeof(msg), "unknown operation '%.64s'", op);
		rpc_answer(call, "UnknownOperationException", msg, NULL);
		return;
	}
	if (!node_is_leader(s->node) && call->op->kind != API_LOCAL &&
	    rpc_internal_envelope(s, op, call->payload.data, call->payload.len, &call->envelope) != 0) {
		rpc_answer(call, "InternalServiceError", "could not sign the relayed request", NULL);
		return;
	}
	route(call, false);
}

static const struct net_proto rpc_proto = {on_open, on_data, on_close};

int rpc_listen(struct server *s, char *errmsg)
{
	int rv = net_listen(s->loop, s->cfg->rpc_addr, s->tls_server, &rpc_proto, s, &s->rpc,
			    errmsg);

	if (rv == 0)
		net_listener_set_idle_timeout(s->rpc, 300 * 1000); /* 5 min without a byte */
	return rv;
}
