/*
 * node: one region member's raft instance on the caller's libuv loop.
 *
 * Happy path: node_start creates data_dir/raft, wires Coffer's transport,
 * the libuv disk io and the FSM adapter into raft, bootstraps the founding
 * configuration once and starts. A uv_prepare_t looks at raft's state every
 * loop iteration: on gaining leadership it commits a barrier and only then
 * reports leader_cb(true); on losing it, it reports leader_cb(false) once and
 * fails the reads that were waiting.
 *
 * End of iteration: proposals and reads are only queued when they arrive;
 * a uv_check_t (right after polling, so in the very iteration in which the
 * I/O callbacks queued them) flushes both. Proposals: the adapter packs the
 * whole queue into as few raft entries as its caps allow (fsm_adapter.c),
 * one raft_apply each, instead of one entry and one AppendEntries round per
 * command. Reads: one raft barrier for every read queued so far, even if
 * earlier barriers are still in flight (up to READ_PIPELINE_MAX; beyond
 * that reads wait for a completion). Work queued outside polling (timers,
 * prepare, other check handles, our own callbacks) starts a no-op uv_idle_t
 * so that the poll of that iteration does not block and the check follows
 * at once.
 *
 * Linearizability invariant for reads: a read is answered only by a barrier
 * that was issued (raft_barrier called) after the read was queued. It holds
 * because a barrier takes exactly the reads waiting at the moment it is
 * issued and answers only those; a read queued later waits in n->waiting for
 * a later barrier. The cluster test checks it read by read
 * (node__read_stats_get: the issue number of the answering barrier is
 * greater than the number of barriers issued when the read arrived).
 *
 * Failure modes: proposals and reads on a non-leader are refused at once
 * (CF_ENOTLEADER, no callback); requests in flight when leadership goes get
 * CF_ELEADERSHIPLOST (proposals: outcome unknown, the entry may still
 * commit). node_close refuses new work (CF_ESHUTDOWN), fails queued reads,
 * waits a bounded time for proposals to finish, then, if still the raft
 * leader, hands leadership over (below), then raft_close (remaining
 * proposals: CF_ESHUTDOWN unless applied here), then closes its handles and
 * calls the close callback once nothing can reference the node any more.
 *
 * Handover on close: without it the group has no leader until an election
 * timeout passes (1-2 s without writes). After the drain (so that proposals
 * in flight get their real outcome rather than "leadership lost", and some
 * voter is certainly up to date) a leader calls raft_transfer(0): libraft
 * picks a voter whose log matches ours and sends it TimeoutNow; it wins at
 * once. We wait for the transfer callback (new leader known, or libraft gave
 * up after one election timeout), bounded by our own timer of two election
 * timeouts, then raft_close. The raft_transfer request lives in struct node
 * (freed only after raft's close callback); raft_close fires a still
 * outstanding transfer callback synchronously, and that callback only
 * records the fact, so a late one is harmless. A single voter (RAFT_NOTFOUND)
 * or any refusal skips the handover.
 * If node_start fails after raft_init, raft is closed in the background:
 * keep running the loop so that it can finish.
 */
#include "node/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>

#include "node/fsm_adapter.h"
#include "node/node_int.h"
#include "node/transport.h"
#include "net/net.h"
#include "util/errors.h"
#include "util/log.h"

#define ERRMSG_SIZE 256
#define DEFAULT_ELECTION_MS 1000
#define DEFAULT_HEARTBEAT_MS 100
#define DEFAULT_SNAPSHOT_THRESHOLD 8192
#define DEFAULT_SNAPSHOT_TRAILING 2048
#define INSTALL_SNAPSHOT_TIMEOUT_MS 5000
#define CONNECT_RETRY_MS 100
#define DRAIN_POLL_MS 5
#define TRANSFER_BOUND_ELECTIONS 2 /* handover wait, in election timeouts */
#define READ_PIPELINE_MAX 8 /* read barriers in flight at once */

struct read_req {
	struct read_req *next;
	node_read_cb cb;
	void *data;
};

struct read_list {
	struct read_req *head, *tail;
};

/* One raft barrier serving a batch of reads. */
struct read_batch {
	struct raft_barrier req;
	struct node *n;
	struct read_list reads;
	uint64_t number;	  /* 1 + barriers issued for reads before it */
	struct read_batch *next;  /* in flight, issue order */
	bool attached;		  /* still in n->batches (reads not failed) */
};

/* The barrier committed after gaining leadership. */
struct gain_barrier {
	struct raft_barrier req;
	struct node *n;
	uint64_t gen;
};

enum lead_state { LS_NONE, LS_GAINING, LS_LEADER };
enum close_state { C_OPEN, C_DRAINING, C_RAFT_CLOSING, C_CLOSED };

struct node {
	uv_loop_t *loop;
	uint64_t id;
	struct raft_uv_transport transport;
	struct raft_io io;
	struct node_adapter adapter;
	struct raft raft;
	uv_prepare_t prepare;
	uv_check_t check;	/* end of iteration: flush proposals and reads */
	uv_idle_t idle;		/* active while work waits for the check */
	uv_timer_t drain_timer;
	unsigned handles_open;
	node_leader_cb leader_cb;
	void *data;

	enum lead_state lead;
	uint64_t lead_term;
	uint64_t gain_gen;
	bool reported_leader;

	struct read_list waiting;  /* not yet covered by an issued barrier */
	struct read_batch *batches, *batches_tail; /* attached, in flight */
	unsigned n_read_inflight;  /* attached read barriers */
	unsigned n_barriers;	   /* raft barriers whose callback is pending */
	uint64_t n_read_barriers, n_read_barriers_done, n_reads_served;
	uint64_t answering;	   /* number of the barrier answering now, or 0 */
	unsigned max_read_inflight;

	enum close_state close_state;
	uint64_t drain_deadline;
	unsigned drain_ms;
	unsigned election_ms;
	/* handover on close: the request stays here until its callback */
	struct raft_transfer transfer;
	uint64_t transfer_to;	    /* transferee, 0 if none was attempted */
	uint64_t transfer_deadline;
	uint64_t transfer_started_at;
	bool transfer_tried;	    /* handover considered (done at most once) */
	bool transfer_pending;	    /* raft_transfer accepted, callback not yet */
	void (*close_cb)(void *data);
	void *close_data;
};

/* ---- read queue helpers --------------------------------------------- */

static void list_push(struct read_list *l, struct read_req *r)
{
	r->next = NULL;
	if (l->tail != NULL)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static struct read_list list_take(struct read_list *l)
{
	struct read_list out = *l;

	l->head = l->tail = NULL;
	return out;
}

static void reads_answer(struct node *n, struct read_list l, int status)
{
	struct read_req *r, *next;

	for (r = l.head; r != NULL; r = next) {
		next = r->next;
		if (status == 0)
			n->n_reads_served++;
		r->cb(r->data, status);
		free(r);
	}
}

/* Fail every read not yet answered (waiting, and those of the barriers in
 * flight, which are detached and only freed when raft calls back). */
static void reads_fail_all(struct node *n, int status)
{
	struct read_list l = list_take(&n->waiting);
	struct read_batch *b, *next;

	for (b = n->batches; b != NULL; b = next) {
		next = b->next;
		b->attached = false;
		b->next = NULL;
		reads_answer(n, list_take(&b->reads), status);
	}
	n->batches = n->batches_tail = NULL;
	n->n_read_inflight = 0;
	reads_answer(n, l, status);
}

static void maybe_finish_close(struct node *n);

static void batch_cb(struct raft_barrier *req, int status);
static void want_flush(struct node *n);

/* Issue one barrier for everything waiting (see the invariant on top). */
static int batch_issue(struct node *n)
{
	struct read_batch *b = calloc(1, sizeof *b);
	int rv;

	if (b == NULL)
		return CF_ENOMEM;
	b->n = n;
	b->reads = list_take(&n->waiting);
	b->number = n->n_read_barriers + 1;
	rv = raft_barrier(&n->raft, &b->req, batch_cb);
	if (rv != 0) {
		n->waiting = b->reads;
		free(b);
		return node__raft_error(rv);
	}
	b->attached = true;
	if (n->batches_tail != NULL)
		n->batches_tail->next = b;
	else
		n->batches = b;
	n->batches_tail = b;
	n->n_read_inflight++;
	if (n->n_read_inflight > n->max_read_inflight)
		n->max_read_inflight = n->n_read_inflight;
	n->n_barriers++;
	n->n_read_barriers++;
	return 0;
}

static void batch_detach(struct node *n, struct read_batch *b)
{
	struct read_batch **pp, *prev = NULL;

	for (pp = &n->batches; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			if (n->batches_tail == b)
				n->batches_tail = prev;
			break;
		}
	}
	b->next = NULL;
	b->attached = false;
	n->n_read_inflight--;
}

static void batch_cb(struct raft_barrier *req, int status)
{
	struct read_batch *b = NODE_CONTAINER_OF(req, struct read_batch, req);
	struct node *n = b->n;
	struct read_list done = list_take(&b->reads);
	uint64_t number = b->number;
	int st = 0;

	n->n_barriers--;
	n->n_read_barriers_done++;
	if (status != 0)
		st = n->close_state != C_OPEN ? CF_ESHUTDOWN : CF_ELEADERSHIPLOST;
	if (b->attached)
		batch_detach(n, b);
	free(b);
	n->answering = number;
	reads_answer(n, done, st);
	n->answering = 0;
	/* libraft fires this from its own prepare/check handles, possibly after
	 * our check ran: make sure reads waiting for the slot just freed are
	 * issued without sleeping until the next heartbeat. */
	if (n->waiting.head != NULL && n->close_state == C_OPEN)
		want_flush(n);
	maybe_finish_close(n);
}

/* ---- leadership ----------------------------------------------------- */

static void lose_leadership(struct node *n, int read_status)
{
	bool reported = n->reported_leader;

	n->lead = LS_NONE;
	n->gain_gen++; /* a gain barrier still in flight no longer counts */
	n->reported_leader = false;
	reads_fail_all(n, read_status);
	if (reported) {
		logi("raft: node %llu is no longer the leader", (unsigned long long)n->id);
		if (n->leader_cb != NULL)
			n->leader_cb(n->data, false);
	}
}

static void gain_cb(struct raft_barrier *req, int status)
{
	struct gain_barrier *g = NODE_CONTAINER_OF(req, struct gain_barrier, req);
	struct node *n = g->n;
	bool current = g->gen == n->gain_gen && n->lead == LS_GAINING;

	n->n_barriers--;
	free(g);
	if (current) {
		if (status == 0 && n->close_state == C_OPEN &&
		    raft_state(&n->raft) == RAFT_LEADER &&
		    raft_current_term(&n->raft) == n->lead_term) {
			n->lead = LS_LEADER;
			n->reported_leader = true;
			logi("raft: node %llu is the leader (term %llu)",
			     (unsigned long long)n->id, (unsigned long long)n->lead_term);
			if (n->leader_cb != NULL)
				n->leader_cb(n->data, true);
		} else {
			n->lead = LS_NONE; /* the watcher retries if still leader */
		}
	}
	maybe_finish_close(n);
}

static void gain_leadership(struct node *n, uint64_t term)
{
	struct gain_barrier *g = calloc(1, sizeof *g);
	int rv;

	if (g == NULL)
		return; /* retried next iteration */
	g->n = n;
	g->gen = ++n->gain_gen;
	rv = raft_barrier(&n->raft, &g->req, gain_cb);
	if (rv != 0) {
		logw("raft: barrier after election: %s", raft_strerror(rv));
		free(g);
		return;
	}
	n->n_barriers++;
	n->lead = LS_GAINING;
	n->lead_term = term;
}

static void watch_leadership(struct node *n)
{
	bool leader = raft_state(&n->raft) == RAFT_LEADER;
	uint64_t term = raft_current_term(&n->raft);

	/* A term change while "leader" means we lost it and won it again
	 * between two iterations: report the loss, then gain afresh. */
	if (n->lead != LS_NONE && (!leader || term != n->lead_term))
		lose_leadership(n, CF_ELEADERSHIPLOST);
	if (leader && n->lead == LS_NONE)
		gain_leadership(n, term);
}

/* ---- close ---------------------------------------------------------- */

static void maybe_finish_close(struct node *n)
{
	void (*cb)(void *);
	void *data;

	if (n->close_state != C_CLOSED || n->handles_open > 0 || n->n_barriers > 0 ||
	    n->adapter.n_pending > 0 || n->transfer_pending)
		return;
	cb = n->close_cb;
	data = n->close_data;
	free(n);
	if (cb != NULL)
		cb(data);
}

static void handle_close_cb(uv_handle_t *h)
{
	struct node *n = h->data;

	n->handles_open--;
	maybe_finish_close(n);
}

static void node_raft_close_cb(struct raft *r)
{
	struct node *n = r->data;

	/* raft_close fired an outstanding transfer callback already; after
	 * this raft holds no reference to the request in any case. */
	if (n->transfer_pending) {
		loge("raft: leadership transfer callback never fired");
		n->transfer_pending = false;
	}
	/* raft closed its io, and through it our transport: release memory. */
	raft_uv_close(&n->io);
	node__transport_release(&n->transport);
	n->close_state = C_CLOSED;
	if (n->handles_open > 0) {
		uv_close((uv_handle_t *)&n->prepare, handle_close_cb);
		uv_close((uv_handle_t *)&n->check, handle_close_cb);
		uv_close((uv_handle_t *)&n->idle, handle_close_cb);
		uv_close((uv_handle_t *)&n->drain_timer, handle_close_cb);
	}
	maybe_finish_close(n);
}

/* raft fires this once: the new leader is known, libraft gave up (we are
 * still leader, transferee reset after an election timeout), or raft_close
 * abandons it (then we are already C_RAFT_CLOSING). Only records the fact:
 * it runs inside raft. close_progress picks it up in the next prepare. */
static void transfer_cb(struct raft_transfer *req)
{
	struct node *n = NODE_CONTAINER_OF(req, struct node, transfer);
	raft_id lid = 0;
	const char *laddr = NULL;
	double ms;

	n->transfer_pending = false;
	if (n->close_state != C_DRAINING)
		return; /* raft_close fired it after our timeout, logged there */
	ms = (double)(uv_now(n->loop) - n->transfer_started_at);
	raft_leader(&n->raft, &lid, &laddr);
	if (raft_state(&n->raft) != RAFT_LEADER && lid != 0 && lid != n->id)
		logi("raft: leadership handed over to %llu after %.0f ms",
		     (unsigned long long)lid, ms);
	else
		logw("raft: leadership transfer to %llu failed after %.0f ms (%s); "
		     "stopping anyway", (unsigned long long)n->transfer_to, ms,
		     raft_state(&n->raft) == RAFT_LEADER ? "still leader" : "no leader known");
}

/* Start the handover if we are the leader. Returns true if a transfer
 * callback is now awaited. Outside raft callbacks only. */
static bool transfer_start(struct node *n)
{
	int rv;

	n->transfer_tried = true;
	if (raft_state(&n->raft) != RAFT_LEADER)
		return false;
	memset(&n->transfer, 0, sizeof n->transfer);
	rv = raft_transfer(&n->raft, &n->transfer, 0, transfer_cb);
	if (rv == RAFT_NOTFOUND)
		return false; /* no other voter: nobody to hand over to */
	if (rv != 0) {
		logw("raft: leadership transfer before stopping: %s",
		     raft_errmsg(&n->raft));
		return false;
	}
	n->transfer_pending = true;
	n->transfer_to = raft_transferee(&n->raft);
	n->transfer_started_at = uv_now(n->loop);
	n->transfer_deadline = n->transfer_started_at +
			       (uint64_t)TRANSFER_BOUND_ELECTIONS * n->election_ms;
	logi("raft: transferring leadership to %llu before stopping",
	     (unsigned long long)n->transfer_to);
	return true;
}

/* Outside raft callbacks only (prepare/timer): raft_close and raft_transfer
 * re-enter raft. */
static void close_progress(struct node *n)
{
	if (n->close_state != C_DRAINING)
		return;
	/* accepted but never proposed: certainly not committed */
	node__fail_queued(&n->adapter, CF_ESHUTDOWN);
	if (!n->transfer_tried) {
		if (n->adapter.n_pending > 0 && uv_now(n->loop) < n->drain_deadline)
			return;
		if (transfer_start(n))
			return;
	}
	if (n->transfer_pending) {
		if (uv_now(n->loop) < n->transfer_deadline)
			return;
		logw("raft: leadership transfer to %llu timed out after %u ms; stopping anyway",
		     (unsigned long long)n->transfer_to,
		     TRANSFER_BOUND_ELECTIONS * n->election_ms);
	}
	if (n->adapter.n_pending > 0)
		logw("raft: closing with %u proposals pending", n->adapter.n_pending);
	n->close_state = C_RAFT_CLOSING;
	n->adapter.shutting_down = true;
	uv_timer_stop(&n->drain_timer);
	raft_close(&n->raft, node_raft_close_cb); /* fails what is left, synchronously */
}

static void drain_timer_cb(uv_timer_t *t)
{
	close_progress(t->data);
}

static void prepare_cb(uv_prepare_t *p)
{
	struct node *n = p->data;

	if (n->close_state != C_OPEN) {
		close_progress(n);
		return;
	}
	watch_leadership(n);
}

static void idle_cb(uv_idle_t *h)
{
	(void)h; /* only keeps the poll from blocking */
}

static void want_flush(struct node *n)
{
	if (!uv_is_active((uv_handle_t *)&n->idle))
		uv_idle_start(&n->idle, idle_cb);
}

/* End of the loop iteration: everything queued in it goes out now. */
static void check_cb(uv_check_t *h)
{
	struct node *n = h->data;
	int rv;

	uv_idle_stop(&n->idle);
	if (n->close_state != C_OPEN) {
		node__fail_queued(&n->adapter, CF_ESHUTDOWN);
		return;
	}
	if (n->adapter.n_queued > 0)
		node__flush(&n->adapter, &n->raft); /* refusals call back here */
	if (n->close_state != C_OPEN || n->waiting.head == NULL ||
	    n->n_read_inflight >= READ_PIPELINE_MAX)
		return; /* a completing barrier brings us back */
	rv = node_is_leader(n) ? batch_issue(n) : CF_ELEADERSHIPLOST;
	if (rv != 0)
		reads_answer(n, list_take(&n->waiting), rv);
}

void node_close(struct node *n, void (*cb)(void *data), void *data)
{
	if (n->close_state != C_OPEN) {
		loge("raft: node_close called twice");
		return;
	}
	n->close_state = C_DRAINING;
	n->close_cb = cb;
	n->close_data = data;
	n->drain_deadline = uv_now(n->loop) + n->drain_ms;
	lose_leadership(n, CF_ESHUTDOWN);
	/* Never raft_close from here: the caller may be inside a raft
	 * callback. The timer both polls the drain and bounds it. */
	uv_timer_start(&n->drain_timer, drain_timer_cb, 0, DRAIN_POLL_MS);
}

/* ---- start ---------------------------------------------------------- */

/* node_start failed after raft_init: raft must be closed before the memory
 * can go; nobody waits for it. */
static void start_abort_cb(struct raft *r)
{
	struct node *n = r->data;

	raft_uv_close(&n->io);
	node__transport_release(&n->transport);
	free(n);
}

static int make_raft_dir(const char *data_dir, char *path, size_t size, char *errmsg)
{
	struct stat st;
	int n = snprintf(path, size, "%s/raft", data_dir);

	if (n < 0 || (size_t)n >= size) {
		snprintf(errmsg, ERRMSG_SIZE, "data dir path too long");
		return CF_EINVAL;
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(errmsg, ERRMSG_SIZE, "create '%.200s': %s", path, strerror(errno));
		return CF_EIO;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(errmsg, ERRMSG_SIZE, "'%.200s' is not a directory", path);
		return CF_EIO;
	}
	return 0;
}

static int check_config(const struct node_config *cfg, char *errmsg)
{
	bool self = false;
	unsigned i;

	if (cfg->id == 0 || cfg->raft_address == NULL || cfg->data_dir == NULL ||
	    (cfg->n_members > 0 && cfg->members == NULL)) {
		snprintf(errmsg, ERRMSG_SIZE, "node config: id, raft address and data dir required");
		return CF_EINVAL;
	}
	for (i = 0; i < cfg->n_members; i++) {
		if (cfg->members[i].id == cfg->id)
			self = true;
	}
	if (cfg->n_members > 0 && !self) {
		snprintf(errmsg, ERRMSG_SIZE, "founding members do not include node %llu",
			 (unsigned long long)cfg->id);
		return CF_EINVAL;
	}
	return 0;
}

static int bootstrap(struct node *n, const struct node_config *cfg, char *errmsg)
{
	struct raft_configuration conf;
	unsigned i;
	int rv = 0;

	if (cfg->n_members == 0)
		return 0; /* joins an existing group later */
	raft_configuration_init(&conf);
	for (i = 0; i < cfg->n_members && rv == 0; i++) {
		char addr[sizeof cfg->members[i].raft_address + 1];
		snprintf(addr, sizeof addr, "%.*s", (int)sizeof cfg->members[i].raft_address,
			 cfg->members[i].raft_address);
		rv = raft_configuration_add(&conf, cfg->members[i].id, addr, RAFT_VOTER);
	}
	if (rv == 0)
		rv = raft_bootstrap(&n->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == RAFT_CANTBOOTSTRAP)
		return 0; /* already has state */
	if (rv != 0) {
		snprintf(errmsg, ERRMSG_SIZE, "raft bootstrap: %s", raft_errmsg(&n->raft));
		return node__raft_error(rv);
	}
	logi("raft: bootstrapped with %u founding members", cfg->n_members);
	return 0;
}

static void apply_settings(struct node *n, const struct node_config *cfg)
{
	unsigned election = cfg->election_timeout_ms ? cfg->election_timeout_ms
						     : DEFAULT_ELECTION_MS;
	unsigned heartbeat = cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms
						       : DEFAULT_HEARTBEAT_MS;

	raft_set_election_timeout(&n->raft, election);
	raft_set_heartbeat_timeout(&n->raft, heartbeat);
	raft_set_snapshot_threshold(&n->raft, cfg->snapshot_threshold ? cfg->snapshot_threshold
								  : DEFAULT_SNAPSHOT_THRESHOLD);
	raft_set_snapshot_trailing(&n->raft, cfg->snapshot_trailing ? cfg->snapshot_trailing
								: DEFAULT_SNAPSHOT_TRAILING);
	raft_set_pre_vote(&n->raft, true);
	/* A dropped InstallSnapshot is retried only after this (30 s default). */
	raft_set_install_snapshot_timeout(&n->raft, INSTALL_SNAPSHOT_TIMEOUT_MS);
	n->drain_ms = election;
	n->election_ms = election;
}

/* The node's own certificate must name it: coffer://<region>/<id>. A
 * certificate without any coffer:// URI is accepted only for a region of
 * one member (dev mode: raft has no peers to talk to). */
static int check_identity(const struct node_config *cfg, char *errmsg)
{
	char region[NODE_TRANSPORT_MAX_REGION + 1], msg[256];
	uint64_t id = 0;
	int rv;

	if (cfg->tls_cert == NULL)
		return 0;
	if (cfg->ca_file == NULL || cfg->tls_key == NULL) {
		snprintf(errmsg, ERRMSG_SIZE, "raft: tls_cert needs ca_file and tls_key");
		return CF_EINVAL;
	}
	rv = net_tls_file_identity(cfg->tls_cert, region, sizeof region, &id, msg);
	if (rv == CF_ENOTFOUND && cfg->n_members == 1) {
		logi("raft: certificate '%s' names no member; fine for a region of one node",
		     cfg->tls_cert);
		return 0;
	}
	if (rv != 0) {
		snprintf(errmsg, ERRMSG_SIZE, "%s (create node certificates with 'coffer operator "
			 "tls-init')", msg);
		return CF_EINVAL;
	}
	if (strcmp(region, cfg->region != NULL ? cfg->region : "") != 0 || id != cfg->id) {
		snprintf(errmsg, ERRMSG_SIZE,
			 "certificate '%.120s' is for coffer://%s/%llu but this node is "
			 "coffer://%s/%llu",
			 cfg->tls_cert, region, (unsigned long long)id,
			 cfg->region != NULL ? cfg->region : "", (unsigned long long)cfg->id);
		return CF_EINVAL;
	}
	return 0;
}

int node_start(uv_loop_t *loop, const struct node_config *cfg, const struct node_fsm *fsm,
	       node_leader_cb leader_cb, void *data, struct node **out, char *errmsg)
{
	char dir[4096];
	struct node *n;
	int rv;

	errmsg[0] = '\0';
	rv = check_config(cfg, errmsg);
	if (rv != 0)
		return rv;
	if (fsm == NULL || fsm->apply == NULL) {
		snprintf(errmsg, ERRMSG_SIZE, "node fsm: apply required");
		return CF_EINVAL;
	}
	rv = make_raft_dir(cfg->data_dir, dir, sizeof dir, errmsg);
	if (rv != 0)
		return rv;
	n = calloc(1, sizeof *n);
	if (n == NULL) {
		snprintf(errmsg, ERRMSG_SIZE, "out of memory");
		return CF_ENOMEM;
	}
	n->loop = loop;
	n->id = cfg->id;
	n->leader_cb = leader_cb;
	n->data = data;

	if (cfg->peer_key == NULL)
		logw("raft: peer authentication disabled (no peer key)");
	rv = check_identity(cfg, errmsg);
	if (rv == 0) {
		struct node_transport_tls tls = {cfg->ca_file, cfg->tls_cert, cfg->tls_key};

		if (cfg->tls_cert == NULL)
			logw("raft: mutual TLS disabled (no certificate configured)");
		rv = node__transport_init(&n->transport, loop, cfg->peer_key, cfg->region,
					  cfg->tls_cert != NULL ? &tls : NULL, errmsg);
	}
	if (rv != 0) {
		free(n);
		return rv;
	}
	rv = raft_uv_init(&n->io, loop, dir, &n->transport);
	if (rv != 0) {
		snprintf(errmsg, ERRMSG_SIZE, "raft io: %.240s", n->io.errmsg);
		node__transport_release(&n->transport);
		free(n);
		return node__raft_error(rv);
	}
	raft_uv_set_snapshot_compression(&n->io, false); /* ciphertext; no-op in 0.22.1 */
	raft_uv_set_auto_recovery(&n->io, false); /* a corrupt tail needs an operator */
	raft_uv_set_connect_retry_delay(&n->io, CONNECT_RETRY_MS);

	node__adapter_init(&n->adapter, fsm, cfg->id);
	rv = raft_init(&n->raft, &n->io, &n->adapter.raft_fsm, cfg->id, cfg->raft_address);
	if (rv != 0) {
		snprintf(errmsg, ERRMSG_SIZE, "raft init: %s", raft_errmsg(&n->raft));
		raft_uv_close(&n->io);
		node__transport_release(&n->transport);
		free(n);
		return node__raft_error(rv);
	}
	n->raft.data = n;
	apply_settings(n, cfg);

	rv = bootstrap(n, cfg, errmsg);
	if (rv == 0) {
		rv = raft_start(&n->raft);
		if (rv != 0) {
			snprintf(errmsg, ERRMSG_SIZE, "raft start: %s", raft_errmsg(&n->raft));
			rv = node__raft_error(rv);
		}
	}
	if (rv != 0) {
		raft_close(&n->raft, start_abort_cb);
		return rv;
	}

	uv_prepare_init(loop, &n->prepare);
	n->prepare.data = n;
	uv_prepare_start(&n->prepare, prepare_cb);
	uv_check_init(loop, &n->check);
	n->check.data = n;
	uv_check_start(&n->check, check_cb);
	uv_idle_init(loop, &n->idle);
	n->idle.data = n;
	uv_timer_init(loop, &n->drain_timer);
	n->drain_timer.data = n;
	n->handles_open = 4;
	*out = n;
	return 0;
}

/* ---- requests and queries ------------------------------------------- */

int node_propose(struct node *n, const uint8_t *cmd, size_t len, node_apply_cb cb, void *data)
{
	int rv;

	if (n->close_state != C_OPEN)
		return CF_ESHUTDOWN;
	if (raft_state(&n->raft) != RAFT_LEADER)
		return CF_ENOTLEADER;
	rv = node__enqueue(&n->adapter, cmd, len, cb, data);
	if (rv == 0)
		want_flush(n);
	return rv;
}

int node_read_barrier(struct node *n, node_read_cb cb, void *data)
{
	struct read_req *r;

	if (n->close_state != C_OPEN)
		return CF_ESHUTDOWN;
	if (cb == NULL)
		return CF_EINVAL;
	if (!node_is_leader(n))
		return CF_ENOTLEADER;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return CF_ENOMEM;
	r->cb = cb;
	r->data = data;
	list_push(&n->waiting, r); /* the next barrier issued covers it */
	want_flush(n);
	return 0;
}

bool node_is_leader(const struct node *n)
{
	struct raft *r = (struct raft *)&n->raft; /* raft's getters are not const */

	return n->close_state == C_OPEN && n->lead == LS_LEADER &&
	       raft_state(r) == RAFT_LEADER && raft_current_term(r) == n->lead_term;
}

void node_leader(const struct node *n, uint64_t *id, const char **raft_address)
{
	raft_id lid = 0;
	const char *addr = NULL;

	if (n->close_state == C_OPEN || n->close_state == C_DRAINING)
		raft_leader((struct raft *)&n->raft, &lid, &addr);
	*id = lid;
	if (raft_address != NULL)
		*raft_address = lid != 0 ? addr : NULL;
}

static const char *state_name(int state)
{
	switch (state) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	default:
		return "unavailable";
	}
}

void node_get_status(const struct node *n, struct node_status *st)
{
	struct raft *r = (struct raft *)&n->raft;

	memset(st, 0, sizeof *st);
	st->id = n->id;
	st->state = "unavailable";
	if (n->close_state != C_OPEN && n->close_state != C_DRAINING)
		return;
	st->state = state_name(raft_state(r));
	st->term = raft_current_term(r);
	st->last_applied = raft_last_applied(r);
	node_leader(n, &st->leader_id, NULL);
}

void node__read_stats(const struct node *n, uint64_t *barriers, uint64_t *reads)
{
	*barriers = n->n_read_barriers;
	*reads = n->n_reads_served;
}

void node__read_stats_get(const struct node *n, struct node_read_stats *st)
{
	st->issued = n->n_read_barriers;
	st->completed = n->n_read_barriers_done;
	st->reads_served = n->n_reads_served;
	st->in_flight = n->n_read_inflight;
	st->max_in_flight = n->max_read_inflight;
	st->answering = n->answering;
}

void node__propose_stats(const struct node *n, uint64_t *commands, uint64_t *entries)
{
	*commands = n->adapter.n_flushed;
	*entries = n->adapter.n_entries;
}
