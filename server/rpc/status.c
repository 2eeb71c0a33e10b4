/*
 * Cluster status. NodeStatus answers for this node alone (state, term,
 * applied revision). ClusterStatus asks every other member for its
 * NodeStatus over the peer links, signed with this node's root
 * credentials, and answers when all have replied or timed out (an
 * unreachable member is reported as "unreachable").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsm/fsm.h"
#include "node/node.h"
#include "rpc/server.h"
#include "util/log.h"

struct cluster_query {
	struct call *client;
	unsigned waiting;
	Coffer__NodeStatus nodes[CONFIG_MAX_MEMBERS];
	char states[CONFIG_MAX_MEMBERS][32];
	unsigned n;
};

int status_node(struct server *s, Coffer__NodeStatus *out, char *state_buf, size_t cap)
{
	const struct config_member *m = config_member(s->cfg, s->cfg->node_id);
	struct node_status st;

	node_get_status(s->node, &st);
	coffer__node_status__init(out);
	out->has_id = 1;
	out->id = s->cfg->node_id;
	out->address = (char *)m->rpc_addr;
	out->raft_address = (char *)m->raft_addr;
	out->role = "voter";
	snprintf(state_buf, cap, "%s", st.state ? st.state : "unknown");
	out->state = state_buf;
	out->has_applied_revision = 1;
	out->applied_revision = fsm_revision(s->fsm);
	return 0;
}

static void finish(struct cluster_query *q)
{
	struct server *s = q->client->s;
	Coffer__ClusterStatusResponse resp = COFFER__CLUSTER_STATUS_RESPONSE__INIT;
	Coffer__NodeStatus *ptrs[CONFIG_MAX_MEMBERS];
	struct secbuf out = {0};
	uint64_t leader_id = 0;
	const char *addr = NULL;

	node_leader(s->node, &leader_id, &addr);
	for (unsigned i = 0; i < q->n; i++)
		ptrs[i] = &q->nodes[i];
	resp.region = s->cfg->region;
	resp.has_leader_id = 1;
	resp.leader_id = leader_id;
	resp.n_nodes = q->n;
	resp.nodes = ptrs;
	if (secmem_pb_pack(&resp.base, &out) != 0)
		rpc_answer(q->client, "InternalServiceError", "out of memory", NULL);
	else
		rpc_answer(q->client, NULL, NULL, &out);
	secbuf_free(&out);
	free(q);
}

static void member_answered(struct call *call, const Coffer__Envelope *answer)
{
	struct cluster_query *q = call->done_data;
	unsigned i = (unsigned)call->call_id; /* our slot */
	Coffer__NodeStatus *ns = NULL;

	if (answer->error == NULL && answer->has_payload)
		ns = coffer__node_status__unpack(NULL, answer->payload.len, answer->payload.data);
	if (ns != NULL) {
		snprintf(q->states[i], sizeof(q->states[i]), "%s", ns->state ? ns->state : "");
		q->nodes[i].has_applied_revision = ns->has_applied_revision;
		q->nodes[i].applied_revision = ns->applied_revision;
		if (ns->role != NULL && strcmp(ns->role, "voter") == 0)
			q->nodes[i].role = "voter";
		coffer__node_status__free_unpacked(ns, NULL);
	} else {
		snprintf(q->states[i], sizeof(q->states[i]), "unreachable");
	}
	q->nodes[i].state = q->states[i];
	if (--q->waiting == 0)
		finish(q);
}

static struct call *internal_call(struct server *s, const char *op, const uint8_t *payload,
				  size_t len)
{
	struct call *call = calloc(1, sizeof(*call));

	if (call == NULL)
		return NULL;
	call->s = s;
	snprintf(call->op_name, sizeof(call->op_name), "%s", op);
	if (rpc_internal_envelope(s, op, payload, len, &call->envelope) != 0) {
		call_free(call);
		return NULL;
	}
	return call;
}

void status_cluster(struct call *client)
{
	struct server *s = client->s;
	struct cluster_query *q = calloc(1, sizeof(*q));

	if (q == NULL) {
		rpc_answer(client, "InternalServiceError", "out of memory", NULL);
		return;
	}
	q->client = client;
	q->n = s->cfg->n_members;
	q->waiting = 1; /* held until every query is sent */
	for (unsigned i = 0; i < q->n; i++) {
		const struct config_member *m = &s->cfg->members[i];
		Coffer__NodeStatus *ns = &q->nodes[i];
		struct call *c;

		coffer__node_status__init(ns);
		ns->has_id = 1;
		ns->id = m->id;
		ns->address = (char *)m->rpc_addr;
		ns->raft_address = (char *)m->raft_addr;
		ns->role = "voter";
		if (m->id == s->cfg->node_id) {
			Coffer__NodeStatus self;

			status_node(s, &self, q->states[i], sizeof(q->states[i]));
			ns->state = q->states[i];
			ns->has_applied_revision = 1;
			ns->applied_revision = self.applied_revision;
			continue;
		}
		c = internal_call(s, "NodeStatus", (const uint8_t *)"", 0);
		if (c == NULL) {
			snprintf(q->states[i], sizeof(q->states[i]), "unreachable");
			ns->state = q->states[i];
			continue;
		}
		c->call_id = i;
		c->done = member_answered;
		c->done_data = q;
		q->waiting++;
		peer_send(s, m->id, c);
	}
	if (--q->waiting == 0)
		finish(q);
}
