/*
 * Peer links: one outgoing TLS connection per other member, dialled on
 * first use. A relayed client call is sent as the client's own envelope
 * (the leader re-verifies the client's signature) with a link-local call id
 * and forwarded = true; the leader's answer is relayed back under the
 * client's call id. Internal calls (NodeStatus) are signed with the node's
 * root credentials. If the link drops or a call outlives its deadline, the
 * call is answered with ServiceUnavailableException: the client retries,
 * and ClientRequestToken makes a retried write apply once.
 * The links present this node's certificate (coffer://REGION/NODE, mutual
 * TLS): the leader honours "forwarded" only on connections whose verified
 * certificate names a member of its region (peer_conn_is_member); from
 * anyone else the flag is ignored and the call served like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/frame.h"
#include "net/net.h"
#include "rpc/server.h"
#include "util/errors.h"
#include "util/log.h"

#define PEER_CALL_TIMEOUT_MS 10000
#define PEER_FRAME_CAP (2u * FRAME_DEFAULT_CAP) /* answers from the leader: trusted */

static void fail_call(struct call *call, const char *why)
{
	Coffer__Envelope env = COFFER__ENVELOPE__INIT;
	Coffer__Error err = COFFER__ERROR__INIT;
	char msg[200];

	snprintf(msg, sizeof(msg), "could not reach the leader (%s); retry", why);
	err.type = "ServiceUnavailableException";
	err.message = call->done != NULL && call->api == NULL ? (char *)why : msg;
	env.error = &err;
	call_complete(call, &env);
}

static int send_call(struct peer *p, struct call *call)
{
	uint8_t hdr[FRAME_HEADER_LEN];
	Coffer__Envelope *env;
	struct secbuf out = {0};
	int rv;

	/* rewrite the call id to the link's own */
	env = coffer__envelope__unpack(&secmem_pb_allocator, call->envelope.len,
				       call->envelope.data);
	if (env == NULL)
		return CF_EPROTO;
	env->has_call_id = 1;
	env->call_id = call->peer_id;
	rv = secmem_pb_pack(&env->base, &out);
	coffer__envelope__free_unpacked(env, &secmem_pb_allocator);
	if (rv != 0)
		return rv;
	frame_put_header(hdr, (uint32_t)out.len);
	rv = net_conn_write2(p->conn, hdr, sizeof(hdr), out.data, out.len);
	secbuf_free(&out);
	if (rv == 0)
		call->sent = true;
	return rv;
}

static struct call *take_pending(struct peer *p, uint64_t id)
{
	struct call **pp;

	for (pp = &p->pending; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->peer_id == id) {
			struct call *c = *pp;
			*pp = c->next;
			c->next = NULL;
			return c;
		}
	}
	return NULL;
}

static int peer_frame(void *data, const uint8_t *body, size_t len)
{
	struct peer *p = data;
	Coffer__Envelope *env;
	struct call *call;

	env = coffer__envelope__unpack(&secmem_pb_allocator, len, body);
	if (env == NULL || !env->has_call_id) {
		if (env != NULL)
			coffer__envelope__free_unpacked(env, &secmem_pb_allocator);
		return CF_EPROTO;
	}
	call = take_pending(p, env->call_id);
	if (call != NULL)
		call_complete(call, env);
	coffer__envelope__free_unpacked(env, &secmem_pb_allocator);
	return 0;
}

static void peer_open(struct net_conn *conn)
{
	struct peer *p = net_conn_get_data(conn);
	struct call *c, *next;

	p->open = true;
	/* the list is newest first: send the queued calls oldest first, so a
	 * client's pipelined calls reach the leader in the order it sent them */
	for (;;) {
		struct call *oldest = NULL;

		for (c = p->pending; c != NULL; c = next) {
			next = c->next;
			if (!c->sent)
				oldest = c;
		}
		if (oldest == NULL)
			break;
		if (send_call(p, oldest) != 0) {
			take_pending(p, oldest->peer_id);
			fail_call(oldest, "write failed");
		}
	}
}

static int peer_data(struct net_conn *conn, const uint8_t *buf, size_t n)
{
	struct peer *p = net_conn_get_data(conn);

	return frame_decoder_feed(p->dec, buf, n, peer_frame, p);
}

static void peer_closed(struct net_conn *conn)
{
	struct peer *p = net_conn_get_data(conn);
	struct call *c;

	if (p->conn != conn)
		return;
	p->open = false;
	p->conn = NULL;
	net_conn_unref(conn);
	frame_decoder_release(p->dec);
	frame_decoder_init(p->dec, PEER_FRAME_CAP);
	while ((c = p->pending) != NULL) {
		p->pending = c->next;
		c->next = NULL;
		fail_call(c, "connection to the member closed");
	}
}

static const struct net_proto peer_proto = {peer_open, peer_data, peer_closed};

void peers_init(struct server *s)
{
	for (unsigned i = 0; i < s->cfg->n_members; i++) {
		struct peer *p = &s->peers[i];

		p->s = s;
		p->m = &s->cfg->members[i];
		p->dec = calloc(1, sizeof(struct frame_decoder));
		if (p->dec != NULL)
			frame_decoder_init(p->dec, PEER_FRAME_CAP);
	}
}

static struct peer *find_peer(struct server *s, uint64_t id)
{
	for (unsigned i = 0; i < s->cfg->n_members; i++)
		if (s->peers[i].m != NULL && s->peers[i].m->id == id)
			return &s->peers[i];
	return NULL;
}

void peer_send(struct server *s, uint64_t member_id, struct call *call)
{
	struct peer *p = find_peer(s, member_id);

	if (p == NULL || p->dec == NULL || s->stopping) {
		fail_call(call, "unknown member");
		return;
	}
	if (p->conn == NULL) {
		if (net_dial(s->loop, p->m->rpc_addr, s->tls_client, &peer_proto, p, &p->conn) !=
		    0) {
			p->conn = NULL;
			fail_call(call, "dial failed");
			return;
		}
		net_conn_ref(p->conn);
		p->open = false;
	}
	call->peer_id = ++p->next_id;
	call->deadline_ms = uv_now(s->loop) + PEER_CALL_TIMEOUT_MS; /* monotonic */
	call->sent = false;
	call->next = p->pending;
	p->pending = call;
	if (p->open && send_call(p, call) != 0) {
		take_pending(p, call->peer_id);
		fail_call(call, "write failed");
	}
}

void peers_tick(struct server *s, uint64_t now_ms)
{
	for (unsigned i = 0; i < s->cfg->n_members; i++) {
		struct peer *p = &s->peers[i];
		struct call **pp = &p->pending;

		while (*pp != NULL) {
			struct call *c = *pp;

			if (c->deadline_ms > now_ms) {
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			c->next = NULL;
			fail_call(c, "timed out");
		}
	}
}

void peers_close(struct server *s)
{
	for (unsigned i = 0; i < s->cfg->n_members; i++) {
		struct peer *p = &s->peers[i];
		struct call *c;

		while ((c = p->pending) != NULL) {
			p->pending = c->next;
			c->next = NULL;
			fail_call(c, "shutting down");
		}
		if (p->conn != NULL)
			net_conn_close(p->conn);
	}
}

bool peer_conn_is_member(const struct server *s, const struct net_conn *conn)
{
	char region[sizeof(s->cfg->region)];
	uint64_t id = 0;

	if (net_conn_peer_identity(conn, region, sizeof(region), &id) != 0)
		return false;
	return strcmp(region, s->cfg->region) == 0 && config_member(s->cfg, id) != NULL;
}
