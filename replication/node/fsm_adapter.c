/*
 * fsm_adapter: node_fsm -> raft_fsm, entry framing, proposals.
 *
 * Happy path: node__propose frames the command, links a node_proposal into
 * the pending list and calls raft_apply(n = 1). When the entry commits, raft
 * calls adapterApply on every node; on the proposer it finds the proposal
 * by seq and parks the FSM result there; raft then fires applyCb, which
 * hands (0, result) to the caller.
 *
 * Failure modes: raft_apply fails synchronously (no callback; the buffer is
 * freed here unless raft already took it, see below); raft fails the request
 * later with RAFT_LEADERSHIPLOST (outcome unknown: CF_ELEADERSHIPLOST, or
 * CF_ESHUTDOWN while the node is closing), unless the entry was applied here
 * first, in which case the real outcome is reported; malformed entries are
 * skipped deterministically.
 */
#include "node/fsm_adapter.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <uv.h>

#include "util/errors.h"
#include "util/log.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int node__raft_error(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case RAFT_NOMEM:
		return CF_ENOMEM;
	case RAFT_NOTLEADER:
		return CF_ENOTLEADER;
	case RAFT_LEADERSHIPLOST:
		return CF_ELEADERSHIPLOST;
	case RAFT_SHUTDOWN:
	case RAFT_CANCELED:
		return CF_ESHUTDOWN;
	case RAFT_TOOBIG:
		return CF_ETOOBIG;
	case RAFT_IOERR:
	case RAFT_NOSPACE:
		return CF_EIO;
	default:
		return CF_ERAFT;
	}
}

int node__entry_encode(uint64_t proposer, uint64_t seq, const uint8_t *cmd, size_t len,
		       struct raft_buffer *out)
{
	size_t total;
	uint8_t *p;

	if (len > NODE_MAX_COMMAND)
		return CF_ETOOBIG;
	total = pad8(NODE_ENTRY_HEADER + len);
	/* raft_apply takes this memory over: it must come from raft_malloc;
	 * calloc also zeroes the padding. */
	p = raft_calloc(1, total);
	if (p == NULL)
		return CF_ENOMEM;
	put32(p, NODE_ENTRY_MAGIC);
	put32(p + 4, (uint32_t)len);
	put64(p + 8, proposer);
	put64(p + 16, seq);
	if (len > 0)
		memcpy(p + NODE_ENTRY_HEADER, cmd, len);
	out->base = p;
	out->len = total;
	return 0;
}

int node__entry_decode(const void *buf, size_t buf_len, uint64_t *proposer, uint64_t *seq,
		       const uint8_t **cmd, size_t *len)
{
	const uint8_t *p = buf;
	uint32_t n;

	if (p == NULL || buf_len < NODE_ENTRY_HEADER || get32(p) != NODE_ENTRY_MAGIC)
		return CF_EPROTO;
	n = get32(p + 4);
	if (n > NODE_MAX_COMMAND || n > buf_len - NODE_ENTRY_HEADER)
		return CF_EPROTO;
	*proposer = get64(p + 8);
	*seq = get64(p + 16);
	*cmd = p + NODE_ENTRY_HEADER;
	*len = n;
	return 0;
}

/* ---- pending list --------------------------------------------------- */

static void pending_link(struct node_adapter *a, struct node_proposal *p)
{
	p->next = NULL;
	p->prev = a->tail;
	if (a->tail != NULL)
		a->tail->next = p;
	else
		a->head = p;
	a->tail = p;
	a->n_pending++;
}

static void pending_unlink(struct node_adapter *a, struct node_proposal *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		a->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		a->tail = p->prev;
	p->prev = p->next = NULL;
	a->n_pending--;
}

/* Seqs ascend along the list and entries apply in log order, so the match
 * is normally the head. */
static struct node_proposal *pending_find(struct node_adapter *a, uint64_t seq)
{
	struct node_proposal *p;

	for (p = a->head; p != NULL && p->seq <= seq; p = p->next) {
		if (p->seq == seq)
			return p;
	}
	return NULL;
}

/* ---- raft_fsm hooks ------------------------------------------------- */

static int adapterApply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct node_adapter *a = fsm->data;
	struct node_proposal *p = NULL;
	uint64_t proposer, seq;
	const uint8_t *cmd;
	size_t len;
	void *res = NULL;
	int rv;

	*result = NULL; /* raft never carries a result: see the header */
	if (node__entry_decode(buf->base, buf->len, &proposer, &seq, &cmd, &len) != 0) {
		a->n_malformed++;
		logw("raft: skipping malformed entry of %zu bytes", buf->len);
		return 0;
	}
	rv = a->fsm.apply(a->fsm.ctx, cmd, len, &res);
	if (rv != 0) {
		/* raft keeps the entry and retries it on the next commit. */
		loge("raft: fsm apply failed: %s", cf_strerror(rv));
		if (res != NULL && a->fsm.result_free != NULL)
			a->fsm.result_free(res);
		return RAFT_IOERR;
	}
	a->n_applied++;
	if (proposer == a->id)
		p = pending_find(a, seq);
	if (p != NULL && !p->applied) {
		p->applied = true;
		p->result = res;
	} else if (res != NULL && a->fsm.result_free != NULL) {
		a->fsm.result_free(res);
	}
	return 0;
}

/* Buffers: [0] header, [1] state from node_fsm.snapshot, [2] padding. */
static int adapterSnapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct node_adapter *a = fsm->data;
	struct raft_buffer *b;
	uint8_t *state = NULL, *hdr = NULL, *pad = NULL;
	size_t len = 0, padding;
	unsigned n = 0;
	int rv;

	if (a->fsm.snapshot == NULL)
		return RAFT_BUSY;
	rv = a->fsm.snapshot(a->fsm.ctx, &state, &len);
	if (rv != 0) {
		logw("raft: fsm snapshot failed: %s", cf_strerror(rv));
		return RAFT_BUSY; /* raft retries at the next threshold */
	}
	padding = pad8(len) - len;
	b = calloc(3, sizeof *b);
	hdr = calloc(1, NODE_SNAPSHOT_HEADER);
	if (padding > 0)
		pad = calloc(1, padding);
	if (b == NULL || hdr == NULL || (padding > 0 && pad == NULL)) {
		free(b);
		free(hdr);
		free(pad);
		free(state);
		return RAFT_NOMEM;
	}
	put32(hdr, NODE_SNAPSHOT_MAGIC);
	put32(hdr + 4, 1);
	put64(hdr + 8, len);
	b[n].base = hdr;
	b[n++].len = NODE_SNAPSHOT_HEADER;
	b[n].base = state; /* may be empty: keep the slot so finalize knows it */
	b[n++].len = len;
	b[n].base = pad;
	b[n++].len = padding;
	*bufs = b;
	*n_bufs = n;
	a->n_snapshots++;
	return 0;
}

static int adapterSnapshotFinalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
				   unsigned *n_bufs)
{
	unsigned i;

	(void)fsm;
	if (*bufs != NULL) {
		for (i = 0; i < *n_bufs; i++)
			free((*bufs)[i].base);
		free(*bufs);
	}
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int adapterRestore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct node_adapter *a = fsm->data;
	const uint8_t *p = buf->base;
	uint64_t len;
	int rv;

	if (p == NULL || buf->len < NODE_SNAPSHOT_HEADER || get32(p) != NODE_SNAPSHOT_MAGIC ||
	    get32(p + 4) != 1) {
		loge("raft: snapshot of %zu bytes has a bad header", buf->len);
		return RAFT_MALFORMED;
	}
	len = get64(p + 8);
	if (len > buf->len - NODE_SNAPSHOT_HEADER) {
		loge("raft: snapshot length %llu past the end", (unsigned long long)len);
		return RAFT_MALFORMED;
	}
	if (a->fsm.restore == NULL)
		return RAFT_MALFORMED;
	rv = a->fsm.restore(a->fsm.ctx, p + NODE_SNAPSHOT_HEADER, (size_t)len);
	if (rv != 0) {
		loge("raft: fsm restore failed: %s", cf_strerror(rv));
		return RAFT_MALFORMED; /* raft frees buf */
	}
	a->n_restores++;
	raft_free(buf->base); /* ours after success */
	return 0;
}

static uint64_t random_seq(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
		v = uv_hrtime() ^ ((uint64_t)getpid() << 40);
	v &= (UINT64_C(1) << 62) - 1; /* room to count up without wrapping */
	return v + 1;
}

void node__adapter_init(struct node_adapter *a, const struct node_fsm *fsm, uint64_t id)
{
	memset(a, 0, sizeof *a);
	a->fsm = *fsm;
	a->id = id;
	a->next_seq = random_seq();
	a->raft_fsm.version = 2;
	a->raft_fsm.data = a;
	a->raft_fsm.apply = adapterApply;
	a->raft_fsm.snapshot = adapterSnapshot;
	a->raft_fsm.snapshot_finalize = adapterSnapshotFinalize;
	a->raft_fsm.restore = adapterRestore;
}

/* ---- proposals ------------------------------------------------------ */

static void applyCb(struct raft_apply *req, int status, void *result)
{
	struct node_proposal *p = NODE_CONTAINER_OF(req, struct node_proposal, req);
	struct node_adapter *a = p->a;
	int st;

	(void)result; /* always NULL: adapterApply keeps results to itself */
	pending_unlink(a, p);
	if (p->applied) {
		st = 0; /* applied here: the outcome is known whatever raft says */
	} else if (status == 0) {
		/* Cannot happen: raft fires 0 only after applying the entry on
		 * this node, where adapterApply found the proposal. */
		loge("raft: request completed without being applied");
		st = CF_ERAFT;
	} else if (status == RAFT_LEADERSHIPLOST && a->shutting_down) {
		st = CF_ESHUTDOWN;
	} else {
		st = node__raft_error(status);
	}
	p->cb(p->data, st, st == 0 ? p->result : NULL);
	free(p);
}

int node__propose(struct node_adapter *a, struct raft *r, const uint8_t *cmd, size_t len,
		  node_apply_cb cb, void *data)
{
	struct node_proposal *p;
	struct raft_buffer buf;
	raft_index last;
	int rv;

	if (cb == NULL || (cmd == NULL && len > 0))
		return CF_EINVAL;
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return CF_ENOMEM;
	p->a = a;
	p->seq = a->next_seq++;
	p->cb = cb;
	p->data = data;
	rv = node__entry_encode(a->id, p->seq, cmd, len, &buf);
	if (rv != 0) {
		free(p);
		return rv;
	}
	pending_link(a, p);
	last = raft_last_index(r);
	rv = raft_apply(r, &p->req, &buf, 1, applyCb);
	if (rv != 0) {
		/* 0.22.1 frees the buffer itself once the entry reached its
		 * log (an io failure after that); earlier rejections such as
		 * RAFT_NOTLEADER leave it to us. The log grew iff it got in. */
		if (raft_last_index(r) == last)
			raft_free(buf.base);
		pending_unlink(a, p);
		free(p);
		return node__raft_error(rv);
	}
	return 0;
}
