/*
 * fsm_adapter: node_fsm -> raft_fsm, entry framing, proposals.
 *
 * Happy path: node__enqueue copies the command into a node_proposal, gives
 * it the next seq and links it into the pending list and the queue;
 * node__flush packs the queue into entries (v1 for one command, v2 for a
 * batch) and calls raft_apply(n = 1) per entry. When the entry commits, raft
 * calls adapterApply on every node, which applies each command in order; on
 * the proposer it finds each proposal by seq and parks the FSM result there;
 * raft then fires entryCb once, which hands (0, result) to every proposal of
 * the entry. node__propose is the same with one command, proposed at once.
 *
 * Failure modes: raft_apply fails synchronously (node__propose: no callback;
 * node__flush: every command of the entry gets the error once; the buffer is
 * freed here unless raft already took it, see below); raft fails the entry
 * later with RAFT_LEADERSHIPLOST (outcome unknown: CF_ELEADERSHIPLOST, or
 * CF_ESHUTDOWN while the node is closing) for every command of it, except
 * those applied here first, which report their real outcome; malformed
 * entries are skipped as a whole, deterministically.
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

int node__batch_encode(uint64_t proposer, const struct node_cmd *cmds, unsigned n,
		       struct raft_buffer *out)
{
	size_t total = NODE_BATCH_HEADER, off;
	uint8_t *p;
	unsigned i;

	if (n == 0 || cmds == NULL)
		return CF_EINVAL;
	for (i = 0; i < n; i++) {
		if (cmds[i].len > NODE_MAX_COMMAND || (cmds[i].cmd == NULL && cmds[i].len > 0))
			return cmds[i].len > NODE_MAX_COMMAND ? CF_ETOOBIG : CF_EINVAL;
		total += NODE_BATCH_CMD_HEADER + pad8(cmds[i].len);
	}
	if (total > UINT32_MAX)
		return CF_ETOOBIG;
	p = raft_calloc(1, total); /* zeroed: padding and reserved words */
	if (p == NULL)
		return CF_ENOMEM;
	put32(p, NODE_BATCH_MAGIC);
	put32(p + 4, n);
	put64(p + 8, proposer);
	off = NODE_BATCH_HEADER;
	for (i = 0; i < n; i++) {
		put64(p + off, cmds[i].seq);
		put32(p + off + 8, (uint32_t)cmds[i].len);
		off += NODE_BATCH_CMD_HEADER;
		if (cmds[i].len > 0)
			memcpy(p + off, cmds[i].cmd, cmds[i].len);
		off += pad8(cmds[i].len);
	}
	out->base = p;
	out->len = total;
	return 0;
}

int node__batch_next(const void *buf, size_t buf_len, size_t *off, struct node_cmd *out)
{
	const uint8_t *p = buf;
	size_t o = *off;
	uint32_t n;

	if (p == NULL || o > buf_len || buf_len - o < NODE_BATCH_CMD_HEADER)
		return CF_EPROTO;
	n = get32(p + o + 8);
	if (get32(p + o + 12) != 0 || n > NODE_MAX_COMMAND ||
	    pad8(n) > buf_len - o - NODE_BATCH_CMD_HEADER)
		return CF_EPROTO;
	out->seq = get64(p + o);
	out->cmd = p + o + NODE_BATCH_CMD_HEADER;
	out->len = n;
	*off = o + NODE_BATCH_CMD_HEADER + pad8(n);
	return 0;
}

int node__batch_check(const void *buf, size_t buf_len, uint64_t *proposer, unsigned *count)
{
	const uint8_t *p = buf;
	struct node_cmd c;
	size_t off = NODE_BATCH_HEADER;
	uint32_t n, i;

	if (p == NULL || buf_len < NODE_BATCH_HEADER || get32(p) != NODE_BATCH_MAGIC)
		return CF_EPROTO;
	n = get32(p + 4);
	/* every command takes at least a command header: bounds the loop */
	if (n == 0 || n > (buf_len - NODE_BATCH_HEADER) / NODE_BATCH_CMD_HEADER)
		return CF_EPROTO;
	for (i = 0; i < n; i++) {
		if (node__batch_next(buf, buf_len, &off, &c) != 0)
			return CF_EPROTO;
	}
	if (off != buf_len)
		return CF_EPROTO; /* trailing bytes */
	*proposer = get64(p + 8);
	*count = n;
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
	if (a->hint == p)
		a->hint = p->next;
	p->prev = p->next = NULL;
	a->n_pending--;
}

/* Seqs ascend along the list and entries apply in log order, so the match
 * is normally the head, or, inside a batch, right after the previous match
 * (the hint). */
static struct node_proposal *pending_find(struct node_adapter *a, uint64_t seq)
{
	struct node_proposal *p = a->head;

	if (a->hint != NULL && a->hint->seq <= seq)
		p = a->hint;
	for (; p != NULL && p->seq <= seq; p = p->next) {
		if (p->seq == seq) {
			a->hint = p->next;
			return p;
		}
	}
	return NULL;
}

/* ---- raft_fsm hooks ------------------------------------------------- */

/* Apply one command; park its result with its proposal or free it. */
static int apply_one(struct node_adapter *a, uint64_t proposer, uint64_t seq,
		     const uint8_t *cmd, size_t len)
{
	struct node_proposal *p = NULL;
	void *res = NULL;
	int rv;

	rv = a->fsm.apply(a->fsm.ctx, cmd, len, &res);
	if (rv != 0) {
		loge("raft: fsm apply failed: %s", cf_strerror(rv));
		if (res != NULL && a->fsm.result_free != NULL)
			a->fsm.result_free(res);
		return rv;
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

static int apply_batch(struct node_adapter *a, const struct raft_buffer *buf, uint64_t proposer,
		       unsigned count)
{
	struct node_cmd c;
	size_t off = NODE_BATCH_HEADER;
	uint64_t first = 0;
	unsigned i, start = 0;

	for (i = 0; i < count; i++) {
		node__batch_next(buf->base, buf->len, &off, &c); /* checked */
		if (i == 0) {
			first = c.seq;
			if (a->resume && a->resume_proposer == proposer && a->resume_seq == first)
				start = a->resume_at;
			a->resume = false;
		}
		if (i < start)
			continue; /* applied before the failed attempt */
		if (apply_one(a, proposer, c.seq, c.cmd, c.len) != 0) {
			/* raft keeps the entry and retries it: resume here */
			a->resume = true;
			a->resume_proposer = proposer;
			a->resume_seq = first;
			a->resume_at = i;
			return RAFT_IOERR;
		}
	}
	return 0;
}

static int adapterApply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct node_adapter *a = fsm->data;
	uint64_t proposer, seq;
	const uint8_t *cmd;
	unsigned count;
	size_t len;

	*result = NULL; /* raft never carries a result: see the header */
	if (node__batch_check(buf->base, buf->len, &proposer, &count) == 0)
		return apply_batch(a, buf, proposer, count);
	a->resume = false;
	if (buf->len >= 4 && (get32(buf->base) & 0x00ffffffu) == (NODE_ENTRY_MAGIC & 0x00ffffffu) &&
	    get32(buf->base) != NODE_ENTRY_MAGIC && get32(buf->base) != NODE_BATCH_MAGIC) {
		/* "CFE<n>" from a newer Coffer: skipping it would let this node's
		 * state diverge, so stop applying here (raft retries the entry)
		 * until the binary is upgraded. */
		if (!a->warned_version) {
			loge("raft: entry format 'CFE%c' is newer than this cofferd; "
			     "upgrade it (applying is stopped to avoid divergence)",
			     ((const char *)buf->base)[3]);
			a->warned_version = true;
		}
		return RAFT_IOERR;
	}
	if (node__entry_decode(buf->base, buf->len, &proposer, &seq, &cmd, &len) != 0) {
		a->n_malformed++;
		logw("raft: skipping malformed entry of %zu bytes", buf->len);
		return 0;
	}
	/* raft keeps the entry and retries it on the next commit. */
	return apply_one(a, proposer, seq, cmd, len) != 0 ? RAFT_IOERR : 0;
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
	a->resume = false;
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

static int proposal_status(struct node_adapter *a, const struct node_proposal *p, int status)
{
	if (p->applied)
		return 0; /* applied here: the outcome is known whatever raft says */
	if (status == 0) {
		/* Cannot happen: raft fires 0 only after applying the entry on
		 * this node, where adapterApply found the proposal (unless the
		 * entry was malformed, which ours never are). */
		loge("raft: request completed without being applied");
		return CF_ERAFT;
	}
	if (status == RAFT_LEADERSHIPLOST && a->shutting_down)
		return CF_ESHUTDOWN;
	return node__raft_error(status);
}

/* Fire the callbacks of a list of proposals (linked by enext), each once,
 * with st, or with 0 and the result for those applied here. */
static void complete_list(struct node_adapter *a, struct node_proposal *head, int raft_status,
			  int st_if_not_applied)
{
	struct node_proposal *p, *next;
	int st;

	/* Unlink them all first: a callback may enqueue or flush again. */
	for (p = head; p != NULL; p = p->enext)
		pending_unlink(a, p);
	for (p = head; p != NULL; p = next) {
		next = p->enext;
		st = raft_status >= 0 ? proposal_status(a, p, raft_status)
				      : (p->applied ? 0 : st_if_not_applied);
		p->cb(p->data, st, st == 0 ? p->result : NULL);
		free(p);
	}
}

static void entryCb(struct raft_apply *req, int status, void *result)
{
	struct node_entry *e = NODE_CONTAINER_OF(req, struct node_entry, req);
	struct node_adapter *a = e->a;
	struct node_proposal *head = e->head;

	(void)result; /* always NULL: adapterApply keeps results to itself */
	free(e);
	complete_list(a, head, status, 0);
}

static struct node_proposal *proposal_new(struct node_adapter *a, const uint8_t *cmd,
					  size_t len, node_apply_cb cb, void *data, int *rv)
{
	struct node_proposal *p;

	*rv = 0;
	if (cb == NULL || (cmd == NULL && len > 0)) {
		*rv = CF_EINVAL;
		return NULL;
	}
	if (len > NODE_MAX_COMMAND) {
		*rv = CF_ETOOBIG;
		return NULL;
	}
	p = malloc(sizeof *p + len);
	if (p == NULL) {
		*rv = CF_ENOMEM;
		return NULL;
	}
	memset(p, 0, sizeof *p);
	p->a = a;
	p->seq = a->next_seq++;
	p->cb = cb;
	p->data = data;
	p->len = len;
	if (len > 0)
		memcpy(p->cmd, cmd, len);
	pending_link(a, p);
	return p;
}

/* raft_apply one entry carrying the n proposals from head (enext list).
 * On failure nothing is called back and the buffer is released. */
static int entry_submit(struct node_adapter *a, struct raft *r, struct node_proposal *head,
			unsigned n)
{
	struct node_cmd cmds_small[1], *cmds = cmds_small;
	struct node_proposal *p;
	struct node_entry *e;
	struct raft_buffer buf;
	raft_index last;
	unsigned i;
	int rv;

	e = calloc(1, sizeof *e);
	if (e == NULL)
		return CF_ENOMEM;
	if (n == 1) {
		rv = node__entry_encode(a->id, head->seq, head->cmd, head->len, &buf);
	} else {
		cmds = malloc(n * sizeof *cmds);
		if (cmds == NULL) {
			free(e);
			return CF_ENOMEM;
		}
		for (i = 0, p = head; i < n; i++, p = p->enext) {
			cmds[i].seq = p->seq;
			cmds[i].cmd = p->cmd;
			cmds[i].len = p->len;
		}
		rv = node__batch_encode(a->id, cmds, n, &buf);
		free(cmds);
	}
	if (rv != 0) {
		free(e);
		return rv;
	}
	e->a = a;
	e->head = head;
	e->n = n;
	last = raft_last_index(r);
	rv = raft_apply(r, &e->req, &buf, 1, entryCb);
	if (rv != 0) {
		/* 0.22.1 frees the buffer itself once the entry was submitted to
		 * its log (an io failure after that); earlier rejections such
		 * as RAFT_NOTLEADER leave it to us. raft_last_index grows on
		 * submission: if it grew, the entry may still commit, so the
		 * outcome is unknown to the proposers, not a definite error. */
		int grew = raft_last_index(r) != last;

		if (!grew)
			raft_free(buf.base);
		free(e);
		return grew ? CF_ELEADERSHIPLOST : node__raft_error(rv);
	}
	return 0;
}

int node__enqueue(struct node_adapter *a, const uint8_t *cmd, size_t len, node_apply_cb cb,
		  void *data)
{
	int rv;
	struct node_proposal *p = proposal_new(a, cmd, len, cb, data, &rv);

	if (p == NULL)
		return rv;
	p->enext = NULL;
	if (a->qtail != NULL)
		a->qtail->enext = p;
	else
		a->qhead = p;
	a->qtail = p;
	a->n_queued++;
	return 0;
}

static struct node_proposal *queue_take(struct node_adapter *a)
{
	struct node_proposal *head = a->qhead;

	a->qhead = a->qtail = NULL;
	a->n_queued = 0;
	return head;
}

unsigned node__flush(struct node_adapter *a, struct raft *r)
{
	struct node_proposal *rest = queue_take(a), *head, *p;
	unsigned entries = 0, n;
	size_t bytes;
	int rv;

	while (rest != NULL) {
		/* cut the next entry off the front: at least one command */
		head = rest;
		n = 1;
		bytes = NODE_BATCH_HEADER + NODE_BATCH_CMD_HEADER + pad8(head->len);
		for (p = head; p->enext != NULL && n < NODE_BATCH_MAX_CMDS; p = p->enext) {
			size_t more = NODE_BATCH_CMD_HEADER + pad8(p->enext->len);
			if (bytes + more > NODE_BATCH_MAX_BYTES)
				break;
			bytes += more;
			n++;
		}
		rest = p->enext;
		p->enext = NULL;
		rv = entry_submit(a, r, head, n);
		if (rv != 0) {
			/* the whole entry failed before reaching raft: every
			 * command of it hears so once; the rest still tries
			 * (raft refuses them the same way if it refused this) */
			complete_list(a, head, -1, rv);
			continue;
		}
		entries++;
		a->n_entries++;
		a->n_flushed += n;
	}
	return entries;
}

void node__fail_queued(struct node_adapter *a, int status)
{
	struct node_proposal *head = queue_take(a);

	if (head != NULL)
		complete_list(a, head, -1, status);
}

int node__propose(struct node_adapter *a, struct raft *r, const uint8_t *cmd, size_t len,
		  node_apply_cb cb, void *data)
{
	int rv;
	struct node_proposal *p = proposal_new(a, cmd, len, cb, data, &rv);

	if (p == NULL)
		return rv;
	p->enext = NULL;
	rv = entry_submit(a, r, p, 1);
	if (rv != 0) {
		pending_unlink(a, p);
		free(p);
	}
	return rv;
}
