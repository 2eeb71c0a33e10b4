/*
 * The AWS endpoint's connections: net/ bytes -> the request reader
 * (http_reader.c) -> a route -> an answer slot, written in request order.
 *
 * Happy path. Each complete request takes the next slot of the
 * connection's ring. POST / is verified (SigV4, service "secretsmanager",
 * this node's region, auth's signing keys), its X-Amz-Target looked up in
 * the operation table, its JSON decoded into the operation's protobuf
 * request and submitted with rpc_submit -- the RPC port's own path,
 * relaying to the leader on followers. The answer envelope is encoded back
 * to JSON (or to an AWS error body with its status) into the slot; the
 * slots at the head of the ring that have their answer leave with one
 * net_conn_write2 each (head + body). GET /health and /metrics are answered
 * at once, in the same order.
 *
 * Failure modes. A malformed or refused request (see http_reader.c) gets
 * its status in order after the answers before it, then the connection
 * closes. With HTTP_MAX_INFLIGHT answers outstanding the reader pauses, and
 * the connection's reading with it (net_conn_pause_read), and both resume
 * as answers leave. A request must arrive whole within the request timeout
 * from its first byte (an Expect: 100-continue body: from the "100
 * Continue"), else 408 and close. "Connection: close" and HTTP/1.0 without
 * keep-alive close after their answer. When the peer goes away, answers
 * still in flight are dropped on arrival; the connection state is freed
 * when the last one arrived. Bodies and answers live in the secure heap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "aws/http.h"
#include "aws/http_int.h"
#include "aws/json.h"
#include "aws/sigv4.h"
#include "fsm/fsm.h"
#include "metrics/metrics.h"
#include "net/net.h"
#include "node/node.h"
#include "rpc/server.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/secmem.h"

#define N_SLOTS (HTTP_MAX_INFLIGHT + 1) /* + one final error answer */
#define CT_JSON "application/x-amz-json-1.1"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define HEAD_CAP 512

enum slot_state { SLOT_FREE = 0, SLOT_PENDING, SLOT_DONE };

struct http_conn;

/* One request's answer, in request order. */
struct http_slot {
	struct http_conn *hc;
	enum slot_state state;
	bool close;          /* close the connection after this answer */
	bool keep_alive_10;  /* HTTP/1.0 with keep-alive: say so */
	bool head_only;      /* HEAD: headers only */
	int status;
	const char *ctype;
	const struct api_op *op;
	char err_type[64];   /* x-amzn-ErrorType, "" for none */
	char request_id[37];
	struct secbuf body;  /* the answer body (may hold a secret value) */
};

struct http_conn {
	struct server *s;
	struct net_conn *conn;
	bool closed;          /* on_close ran: answers are dropped */
	bool closing;         /* a close answer left; nothing more is written */
	bool in_pump;         /* the reader is running: do not re-enter it */
	bool continue_wanted; /* send "100 Continue" once earlier answers left */
	bool deadline_on;     /* the request deadline runs for the current request */
	unsigned head, count; /* ring of slots waiting to be written */
	unsigned pending;     /* calls submitted and not answered */
	struct http_slot slots[N_SLOTS];
	struct http_reader rd;
};

static unsigned request_timeout_ms = HTTP_REQUEST_TIMEOUT_MS;

static void on_deadline(struct net_conn *conn);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- writing answers, in order --------------------------------------------- */

static void write_slot(struct http_conn *hc, struct http_slot *sl)
{
	static time_t date_t;
	static char date[32];
	char head[HEAD_CAP];
	time_t now = time(NULL);
	size_t hl;

	if (now != date_t) {
		http__date(now, date);
		date_t = now;
	}
	hl = http__format_head(head, sizeof(head), sl->status, sl->request_id, date, sl->ctype,
			       sl->body.len, sl->err_type[0] ? sl->err_type : NULL, sl->close,
			       sl->keep_alive_10);
	if (hl == 0 || net_conn_write2(hc->conn, (const uint8_t *)head, hl, sl->body.data,
				       sl->head_only ? 0 : sl->body.len) != 0) {
		hc->closing = true;
		net_conn_close(hc->conn);
	}
}

static void flush(struct http_conn *hc)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	while (hc->count > 0 && !hc->closed && !hc->closing) {
		struct http_slot *sl = &hc->slots[hc->head];

		if (sl->state != SLOT_DONE)
			break;
		write_slot(hc, sl);
		secbuf_free(&sl->body);
		sl->state = SLOT_FREE;
		hc->head = (hc->head + 1) % N_SLOTS;
		hc->count--;
		if (sl->close && !hc->closing) {
			hc->closing = true;
			net_conn_close(hc->conn);
		}
	}
	if (hc->count == 0 && hc->continue_wanted && !hc->closed && !hc->closing) {
		hc->continue_wanted = false;
		if (net_conn_write(hc->conn, (const uint8_t *)cont, sizeof(cont) - 1) != 0) {
			hc->closing = true;
			net_conn_close(hc->conn);
		} else if (hc->deadline_on) {
			/* the body's time starts now: earlier answers were ours to wait for */
			net_conn_set_deadline(hc->conn, request_timeout_ms, on_deadline);
		}
	}
}

static void finish(struct http_slot *sl, int status, const char *ctype, const char *err_type,
		   struct secbuf *body)
{
	sl->status = status;
	sl->ctype = ctype;
	snprintf(sl->err_type, sizeof(sl->err_type), "%s", err_type ? err_type : "");
	sl->body = *body; /* transferred */
	body->data = NULL;
	body->len = 0;
	sl->state = SLOT_DONE;
	flush(sl->hc);
}

static void finish_text(struct http_slot *sl, int status, const char *text)
{
	struct secbuf b = {0};

	if (secbuf_dup(&b, text, strlen(text)) != 0)
		sl->close = true; /* answer without a body, then go */
	finish(sl, status, CT_TEXT, NULL, &b);
}

/* An AWS error answer: {"__type","Message"} with its status and headers. */
static void finish_aws_error(struct http_slot *sl, const char *type, const char *msg)
{
	struct secbuf b = {0};

	if (awsjson_error(type, msg ? msg : "", &b) != 0)
		sl->close = true;
	finish(sl, http__status_for_error(type), CT_JSON, type, &b);
}

static struct http_slot *slot_take(struct http_conn *hc)
{
	struct http_slot *sl;

	if (hc->count == N_SLOTS)
		return NULL;
	sl = &hc->slots[(hc->head + hc->count) % N_SLOTS];
	hc->count++;
	memset(sl, 0, sizeof(*sl));
	sl->hc = hc;
	sl->state = SLOT_PENDING;
	http__uuid(sl->request_id);
	return sl;
}

static void pump(struct http_conn *hc);

static void conn_maybe_free(struct http_conn *hc)
{
	if (hc->closed && hc->pending == 0)
		free(hc);
}

/* ---- POST / ---------------------------------------------------------------- */

static int region_ok(void *data, const char *region)
{
	struct server *s = data;

	return strcmp(region, s->cfg->region) == 0;
}

static int signing_key(void *data, const char *akid, const char *day, const char *region,
		       const char *service, uint8_t key_out[32])
{
	struct server *s = data;

	return auth_sigv4_key(s->auth, akid, day, region, service, key_out);
}

static void on_answer(struct call *call, const Coffer__Envelope *answer)
{
	struct http_slot *sl = call->done_data;
	struct http_conn *hc = sl->hc;
	struct secbuf json = {0};

	hc->pending--;
	if (hc->closed) {
		sl->state = SLOT_FREE;
		conn_maybe_free(hc);
		return;
	}
	if (answer->error != NULL) {
		finish_aws_error(sl, answer->error->type ? answer->error->type : "InternalServiceError",
				 answer->error->message);
	} else if (awsjson_encode(sl->op->response,
				  answer->has_payload ? answer->payload.data : (const uint8_t *)"",
				  answer->has_payload ? answer->payload.len : 0, &json) != 0) {
		logw("aws: cannot encode the answer to '%s'", sl->op->name);
		finish_aws_error(sl, "InternalServiceError", "the answer could not be encoded");
	} else {
		finish(sl, 200, CT_JSON, NULL, &json);
	}
	secbuf_free(&json);
	pump(hc); /* room for more answers: read on if the reader waited */
}

/* A refusal before the call reaches the operation: answer and count it. */
static void refuse(struct http_slot *sl, const char *op, uint64_t t0, const char *type,
		   const char *msg)
{
	metrics_request("aws", op, type, (double)(mono_ns() - t0) / 1e9);
	finish_aws_error(sl, type, msg);
}

static void serve_aws(struct http_conn *hc, struct http_slot *sl, const struct http_request *q)
{
	struct server *s = hc->s;
	struct sigv4_request sr;
	struct sigv4_identity who;
	struct cf_status st;
	struct secbuf packed = {0};
	const struct api_op *op = NULL;
	const char *target, *ctype;
	size_t tlen, clen;
	char name[64], msg[128];
	uint64_t t0 = mono_ns();
	int rv;

	target = http__header(q->headers, q->n_headers, "x-amz-target", &tlen);
	if (http__target_op(target, tlen, name, sizeof(name)) == 0)
		op = api_find(name);
	memset(&sr, 0, sizeof(sr));
	sr.method = "POST";
	sr.path = q->path;
	sr.path_len = q->path_len;
	sr.query = q->query;
	sr.query_len = q->query_len;
	sr.headers = q->headers;
	sr.n_headers = q->n_headers;
	sr.body = q->body;
	sr.body_len = q->body_len;
	if (sigv4_verify(&sr, "secretsmanager", time(NULL), region_ok, signing_key, s, &who,
			 &st) != 0) {
		refuse(sl, op ? op->name : "unknown", t0, st.type, st.message);
		return;
	}
	if (op == NULL) {
		snprintf(msg, sizeof(msg), "unknown operation '%.*s'",
			 (int)(tlen > 64 ? 64 : tlen), target ? target : "");
		refuse(sl, "unknown", t0, "UnknownOperationException", msg);
		return;
	}
	ctype = http__header(q->headers, q->n_headers, "content-type", &clen);
	if (!http__content_type_ok(ctype, clen)) {
		refuse(sl, op->name, t0, "SerializationException",
		       "Content-Type must be application/x-amz-json-1.1");
		return;
	}
	rv = awsjson_decode(op->request, q->body, q->body_len, &packed, &st);
	if (rv != 0) {
		if (rv == -1)
			refuse(sl, op->name, t0, st.type, st.message);
		else
			refuse(sl, op->name, t0, "InternalServiceError", "out of memory");
		return;
	}
	sl->op = op;
	hc->pending++;
	rpc_submit(s, "aws", op->name, packed.data, packed.len, on_answer, sl);
	secbuf_free(&packed);
}

/* ---- GET /health, GET /metrics ---------------------------------------------- */

static void serve_health(struct http_conn *hc, struct http_slot *sl)
{
	struct server *s = hc->s;
	uint64_t leader_id = 0;
	const char *addr = NULL;

	if (!s->stopping && !node_is_leader(s->node))
		node_leader(s->node, &leader_id, &addr);
	if (!s->stopping && (node_is_leader(s->node) || leader_id != 0))
		finish_text(sl, 200, "ok\n");
	else
		finish_text(sl, 503, s->stopping ? "stopping\n" : "no leader\n");
}

static void serve_metrics(struct http_conn *hc, struct http_slot *sl)
{
	struct server *s = hc->s;
	struct metrics_gauges g;
	struct node_status ns;
	struct secbuf b = {0};
	char *text = NULL;
	size_t len = 0;

	node_get_status(s->node, &ns);
	memset(&g, 0, sizeof(g));
	g.region = s->cfg->region;
	g.node_id = s->cfg->node_id;
	g.raft_state = ns.state ? ns.state : "unavailable";
	g.raft_term = ns.term;
	g.leader_id = ns.leader_id;
	g.applied_revision = fsm_revision(s->fsm);
	g.raft_last_applied = ns.last_applied;
	if (metrics_render(&g, &text, &len) != 0 || secbuf_dup(&b, text, len) != 0) {
		free(text);
		finish_text(sl, 500, "out of memory\n");
		return;
	}
	free(text);
	finish(sl, 200, CT_PROM, NULL, &b);
}

static bool path_is(const struct http_request *q, const char *p)
{
	return q->path_len == strlen(p) && memcmp(q->path, p, q->path_len) == 0;
}

static void route(struct http_conn *hc, struct http_slot *sl, const struct http_request *q)
{
	bool get = q->method == HTTP_GET || q->method == HTTP_HEAD;

	sl->head_only = q->method == HTTP_HEAD;
	if (path_is(q, "/")) {
		if (q->method == HTTP_POST)
			serve_aws(hc, sl, q);
		else
			finish_text(sl, 405, "use POST with X-Amz-Target\n");
	} else if (path_is(q, "/health")) {
		if (get)
			serve_health(hc, sl);
		else
			finish_text(sl, 405, "use GET\n");
	} else if (path_is(q, "/metrics")) {
		if (get)
			serve_metrics(hc, sl);
		else
			finish_text(sl, 405, "use GET\n");
	} else {
		finish_text(sl, 404, "not found\n");
	}
}

/* ---- the reader's callbacks ---------------------------------------------------- */

static void on_continue(void *data)
{
	struct http_conn *hc = data;

	hc->continue_wanted = true;
	flush(hc); /* now if nothing is waiting before this request */
}

static int on_request(void *data, const struct http_request *q)
{
	struct http_conn *hc = data;
	struct http_slot *sl;
	bool close = !q->keep_alive;

	hc->continue_wanted = false; /* the body came anyway */
	if (hc->deadline_on && !hc->closed) {
		hc->deadline_on = false; /* complete in time; the next one gets its own */
		net_conn_set_deadline(hc->conn, 0, NULL);
	}
	if (hc->closing || hc->closed)
		return HTTP_READER_STOP;
	sl = slot_take(hc);
	if (sl == NULL)
		return HTTP_READER_STOP; /* cannot happen: the reader pauses first */
	sl->close = close;
	sl->keep_alive_10 = !close && q->major == 1 && q->minor == 0;
	route(hc, sl, q);
	if (close || hc->closing)
		return HTTP_READER_STOP;
	return hc->count >= HTTP_MAX_INFLIGHT ? HTTP_READER_PAUSE : HTTP_READER_GO;
}

static const struct http_reader_cbs reader_cbs = {on_continue, on_request};

/* The reader refused the input: answer with status, in order, then close. */
static void reader_failed(struct http_conn *hc, int status)
{
	struct http_slot *sl;
	char text[64];

	if (hc->closing || hc->closed)
		return;
	if (status < 400)
		status = 503; /* out of memory */
	logd("http: %d from '%s'; closing", status, net_conn_peer(hc->conn));
	sl = slot_take(hc);
	if (sl == NULL) {
		hc->closing = true;
		net_conn_close(hc->conn);
		return;
	}
	sl->close = true;
	snprintf(text, sizeof(text), "%s\n", http__reason(status));
	finish_text(sl, status, text);
}

/* The request did not arrive whole in time: 408 (in order), then close. */
static void on_deadline(struct net_conn *conn)
{
	struct http_conn *hc = net_conn_get_user(conn);

	if (hc == NULL || hc->closing || hc->closed)
		return;
	hc->deadline_on = false;
	http__reader_stop(&hc->rd);
	reader_failed(hc, 408);
}

/* Reading follows the reader (paused with it), and a request that began
 * runs against its deadline. */
static void sync_input(struct http_conn *hc)
{
	bool mid;

	if (hc->closed || hc->closing)
		return;
	if (http__reader_paused(&hc->rd))
		net_conn_pause_read(hc->conn);
	else
		net_conn_resume_read(hc->conn);
	mid = http__reader_mid_request(&hc->rd);
	if (mid && !hc->deadline_on) {
		hc->deadline_on = true;
		net_conn_set_deadline(hc->conn, request_timeout_ms, on_deadline);
	} else if (!mid && hc->deadline_on) {
		hc->deadline_on = false;
		net_conn_set_deadline(hc->conn, 0, NULL);
	}
}

/* Resume a paused reader while there is room for more answers. */
static void pump(struct http_conn *hc)
{
	int rv;

	if (hc->in_pump)
		return;
	hc->in_pump = true;
	while (!hc->closed && !hc->closing && http__reader_paused(&hc->rd) &&
	       hc->count < HTTP_MAX_INFLIGHT) {
		rv = http__reader_resume(&hc->rd);
		if (rv != 0) {
			reader_failed(hc, rv);
			break;
		}
	}
	hc->in_pump = false;
	sync_input(hc);
}

/* ---- net callbacks ------------------------------------------------------------- */

static void on_open(struct net_conn *conn)
{
	struct http_conn *hc = calloc(1, sizeof(*hc));

	if (hc == NULL) {
		net_conn_close(conn);
		return;
	}
	hc->s = net_conn_get_data(conn);
	hc->conn = conn;
	http__reader_init(&hc->rd, &reader_cbs, hc);
	net_conn_set_user(conn, hc);
}

static int on_data(struct net_conn *conn, const uint8_t *buf, size_t n)
{
	struct http_conn *hc = net_conn_get_user(conn);
	int rv;

	if (hc == NULL)
		return -1;
	if (hc->closing)
		return 0;
	hc->in_pump = true;
	rv = http__reader_feed(&hc->rd, buf, n);
	hc->in_pump = false;
	if (rv != 0)
		reader_failed(hc, rv);
	pump(hc); /* answers that came at once may have made room */
	return 0;
}

static void on_close(struct net_conn *conn)
{
	struct http_conn *hc = net_conn_get_user(conn);

	if (hc == NULL)
		return;
	net_conn_set_user(conn, NULL);
	hc->closed = true;
	hc->conn = NULL;
	http__reader_release(&hc->rd);
	for (unsigned i = 0; i < N_SLOTS; i++)
		secbuf_free(&hc->slots[i].body);
	conn_maybe_free(hc);
}

static const struct net_proto http_proto = {on_open, on_data, on_close};

/* ---- listener ----------------------------------------------------------------- */

/* COFFER_HTTP_REQUEST_TIMEOUT_MS, if set, replaces the request timeout. */
static void read_env(void)
{
	const char *v = getenv("COFFER_HTTP_REQUEST_TIMEOUT_MS");
	char *end;
	long ms;

	if (v == NULL || *v == '\0')
		return;
	ms = strtol(v, &end, 10);
	if (*end != '\0' || ms <= 0 || ms > 86400000L) {
		logw("http: ignoring COFFER_HTTP_REQUEST_TIMEOUT_MS='%s'", v);
		return;
	}
	request_timeout_ms = (unsigned)ms;
}

int http_listen(struct server *s, char *errmsg)
{
	static bool env_read;
	int rv;

	if (!env_read) {
		env_read = true;
		read_env();
	}
	rv = net_listen(s->loop, s->cfg->http_addr, s->cfg->dev ? NULL : s->tls_server,
			&http_proto, s, &s->http, errmsg);
	if (rv == 0)
		net_listener_set_idle_timeout(s->http, HTTP_IDLE_TIMEOUT_MS);
	return rv;
}

void http_close(struct server *s, void (*cb)(void *data), void *data)
{
	struct net_listener *l = s->http;

	s->http = NULL;
	if (l != NULL)
		net_listener_close(l, cb, data);
	else if (cb != NULL)
		cb(data);
}
