/*
 * coffer bench: a closed-loop load generator. --concurrency requests stay in
 * flight for --duration seconds, spread over --connections pipelined
 * connections driven by one poll loop (no thread per request). Each
 * completion records its CLOCK_MONOTONIC latency and issues the next
 * request on the same connection. A dead connection fails its requests
 * (counted as errors) and is reopened on the next endpoint after 100 ms.
 * Prints exactly one JSON line on stdout, covering the timed phase only.
 *
 * get: setup creates (or reuses) one secret (--secret-id, default
 * bench/<runid>) with a value of --value-size bytes; every request reads it.
 *
 * put: a secret keeps at most 100 versions (unlabelled ones are pruned only
 * after 24 h), so the puts go round-robin over a pool of secrets
 * bench/<runid>/0 .. bench/<runid>/<pool-1>. The pool is sized so no secret
 * gets more than PUTS_PER_SECRET puts at up to MAX_PUTS_PER_S:
 * max(concurrency, ceil(duration * MAX_PUTS_PER_S / PUTS_PER_SECRET)), or
 * --pool N. Setup creates the pool with pipelined CreateSecret calls (at
 * most SETUP_WINDOW in flight) before the timer starts. The secrets are
 * left in place afterwards unless --cleanup is given, which force-deletes
 * them (DeleteSecret with ForceDeleteWithoutRecovery, pipelined) after the
 * JSON line is printed. --pool and --cleanup apply to put only; --secret-id
 * to get only.
 *
 * --api aws runs the timed phase against the AWS JSON 1.1 endpoint instead
 * (--endpoint-url, default $AWS_ENDPOINT_URL): the same closed loop over
 * pipelined HTTP/1.1 keep-alive connections (awsconn.c), each request a
 * SigV4-signed POST / with a hand-built JSON body, counted as an error
 * unless the answer is 200 with a JSON object. Setup and cleanup still go
 * through the RPC port. The JSON line says which front end ran ("api").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "aws.h"
#include "cli.h"

#define DRAIN_MS 5000
#define RECONNECT_MS 100
#define MAX_PUTS_PER_S 30000   /* pool sizing assumption */
#define PUTS_PER_SECRET 90     /* server keeps at most 100 versions */
#define SETUP_WINDOW 256       /* CreateSecret / DeleteSecret in flight */
#define PHASE_ATTEMPTS 8
#define PHASE_STALL_MS 30000   /* give up when nothing completes this long */

struct bench;

struct bconn {
	struct coffer_conn *conn;  /* RPC: setup, cleanup, --api rpc */
	struct aws_conn *aconn;    /* --api aws, timed phase */
	size_t ep;
	int64_t reconnect_at;
};

struct bslot {
	struct bench *b;
	struct bconn *bc;
	int64_t start_ns;
	int waiting; /* could not be queued yet */
	int busy;
};

struct bench {
	struct coffer_client *c;
	int put;
	int concurrency, n_conns;
	double duration;
	size_t value_size;
	const char *secret_id; /* get */
	char runid[16];
	size_t pool, next_secret; /* put */
	int cleanup;
	int aws;  /* --api aws */
	int http; /* the connections currently speak HTTP (timed phase of --api aws) */
	struct aws_endpoint ep;
	struct aws_signer signer;
	SSL_CTX *ssl_ctx;
	char *get_body;
	size_t get_body_len;
	char *value;
	uint8_t *get_payload, *scratch;
	size_t get_len, scratch_cap;
	struct bconn *conns;
	struct pollfd *pfd;
	struct bslot *slots;
	uint64_t *lat;
	size_t n_lat, cap_lat;
	uint64_t errors;
	int stopping;
	int reported;
};

/* Setup and cleanup: every pool secret once through CreateSecret or
 * DeleteSecret, at most SETUP_WINDOW in flight, retried when retryable. */
enum { PH_CREATE, PH_DELETE };
enum { POP_IDLE, POP_READY, POP_BUSY, POP_DONE };

struct phase;

struct pop {
	struct phase *ph;
	struct bconn *bc;
	size_t idx;
	int attempt;
	int state;
	int64_t retry_at; /* ms */
};

struct phase {
	struct bench *b;
	int kind;
	size_t n, next, ok;
	int failed; /* 0, or the COFFER_E* of the first permanent failure */
	int64_t progress_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int opt_int(struct args *a, const char *name, long def, long min, long max, long *out)
{
	const char *s = args_str(a, name);
	char *end;

	*out = def;
	if (s == NULL)
		return 0;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out < min || *out > max) {
		fprintf(stderr, "coffer: error: --%s must be %ld..%ld\n", name, min, max);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

static void pool_name(const struct bench *b, size_t i, char *out, size_t cap)
{
	snprintf(out, cap, "bench/%s/%zu", b->runid, i);
}

static void record(struct bench *b, uint64_t ns)
{
	if (b->n_lat == b->cap_lat) {
		size_t cap = b->cap_lat ? b->cap_lat * 2 : 65536;
		uint64_t *l = realloc(b->lat, cap * sizeof(*l));

		if (l == NULL)
			return;
		b->lat = l;
		b->cap_lat = cap;
	}
	b->lat[b->n_lat++] = ns;
}

static int live(const struct bench *b, const struct bconn *bc)
{
	return b->http ? bc->aconn != NULL : bc->conn != NULL;
}

static void reconnect(struct bench *b, struct bconn *bc, int64_t now_ms)
{
	struct coffer_error err;
	size_t n = coffer_client_endpoint_count(b->c);
	int rv = b->http ? aws_conn_open(&b->ep, &b->signer, b->ssl_ctx, 5000, &bc->aconn, &err)
			 : coffer_conn_open(b->c, bc->ep, 5000, &bc->conn, &err);

	if (rv != 0) {
		if (!b->reported) {
			fprintf(stderr, "coffer bench: %s\n", err.message);
			b->reported = 1;
		}
		bc->ep = (bc->ep + 1) % n;
		bc->reconnect_at = now_ms + RECONNECT_MS;
	}
}

static void reconnect_due(struct bench *b)
{
	int64_t t = now_ns() / 1000000;
	int i;

	for (i = 0; i < b->n_conns; i++) {
		struct bconn *bc = &b->conns[i];

		if (!live(b, bc) && t >= bc->reconnect_at)
			reconnect(b, bc, t);
	}
}

/* Poll every live connection for up to 10 ms and process what is ready; a
 * connection that fails is freed (its requests fail through their
 * callbacks) and reopened on the next endpoint after RECONNECT_MS. */
static int poll_conns(struct bench *b)
{
	int i;

	for (i = 0; i < b->n_conns; i++) {
		struct bconn *bc = &b->conns[i];

		b->pfd[i].fd = !live(b, bc) ? -1
			       : b->http    ? aws_conn_fd(bc->aconn)
					    : coffer_conn_fd(bc->conn);
		b->pfd[i].events = !live(b, bc) ? 0
				   : b->http    ? aws_conn_events(bc->aconn)
						: coffer_conn_events(bc->conn);
		b->pfd[i].revents = 0;
	}
	if (poll(b->pfd, (nfds_t)b->n_conns, 10) < 0 && errno != EINTR)
		return -1;
	for (i = 0; i < b->n_conns; i++) {
		struct bconn *bc = &b->conns[i];

		if (!live(b, bc) || b->pfd[i].revents == 0)
			continue;
		if (b->http && aws_conn_process(bc->aconn) != 0) {
			aws_conn_free(bc->aconn);
			bc->aconn = NULL;
			bc->reconnect_at = now_ns() / 1000000 + RECONNECT_MS;
		} else if (!b->http && coffer_conn_process(bc->conn) != 0) {
			coffer_conn_free(bc->conn);
			bc->conn = NULL;
			bc->ep = (bc->ep + 1) % coffer_client_endpoint_count(b->c);
			bc->reconnect_at = now_ns() / 1000000 + RECONNECT_MS;
		}
	}
	return 0;
}

static void close_conns(struct bench *b)
{
	int i;

	for (i = 0; i < b->n_conns; i++) {
		coffer_conn_free(b->conns[i].conn); /* fails stragglers */
		aws_conn_free(b->conns[i].aconn);
		b->conns[i].conn = NULL;
		b->conns[i].aconn = NULL;
		b->conns[i].reconnect_at = 0;
	}
}

/* ---------------------------------------------------------- setup / cleanup */

static void phase_fail(struct phase *ph, int status, const struct coffer_error *err,
		       size_t idx)
{
	char name[64];

	if (ph->failed)
		return;
	ph->failed = status ? status : COFFER_EIO;
	pool_name(ph->b, idx, name, sizeof(name));
	fprintf(stderr, "coffer bench: %s of '%s' failed: %s%s%s\n",
		ph->kind == PH_CREATE ? "CreateSecret" : "DeleteSecret", name,
		err && err->type[0] ? err->type : "", err && err->type[0] ? ": " : "",
		err ? err->message : coffer_strerror(status));
}

static void phase_done(void *data, int status, const struct coffer_error *err,
		       const uint8_t *payload, size_t len)
{
	struct pop *o = data;
	struct phase *ph = o->ph;
	int retry;

	(void)payload;
	(void)len;
	ph->progress_ns = now_ns();
	if (status == COFFER_ESERVICE && err != NULL &&
	    ((ph->kind == PH_DELETE && strcmp(err->type, "ResourceNotFoundException") == 0) ||
	     (ph->kind == PH_CREATE && o->attempt > 1 &&
	      strcmp(err->type, "ResourceExistsException") == 0)))
		status = 0; /* gone already / created by an attempt whose answer was lost */
	if (status == 0) {
		ph->ok++;
		o->state = POP_IDLE;
		return;
	}
	retry = status != COFFER_ESERVICE ||
		(err != NULL && coffer_error_is_retryable(err->type, err->message));
	if (retry && o->attempt < PHASE_ATTEMPTS) {
		o->state = POP_READY;
		o->retry_at = ph->progress_ns / 1000000 + 100 * o->attempt;
		return;
	}
	phase_fail(ph, status, err, o->idx);
	o->state = POP_IDLE;
}

static void phase_send(struct pop *o)
{
	struct phase *ph = o->ph;
	struct bench *b = ph->b;
	char name[64], token[37];
	const char *op;
	size_t len;
	int rv;

	pool_name(b, o->idx, name, sizeof(name));
	if (ph->kind == PH_CREATE) {
		Coffer__CreateSecretRequest req = COFFER__CREATE_SECRET_REQUEST__INIT;

		if (coffer_uuid4(token) != 0) {
			phase_fail(ph, COFFER_ECRYPTO, NULL, o->idx);
			o->state = POP_IDLE;
			return;
		}
		req.name = name;
		req.client_request_token = token;
		req.secret_string = b->value;
		req.description = "coffer bench";
		len = coffer__create_secret_request__get_packed_size(&req);
		if (len <= b->scratch_cap)
			coffer__create_secret_request__pack(&req, b->scratch);
		op = "CreateSecret";
	} else {
		Coffer__DeleteSecretRequest req = COFFER__DELETE_SECRET_REQUEST__INIT;

		req.secret_id = name;
		req.has_force_delete_without_recovery = 1;
		req.force_delete_without_recovery = 1;
		len = coffer__delete_secret_request__get_packed_size(&req);
		if (len <= b->scratch_cap)
			coffer__delete_secret_request__pack(&req, b->scratch);
		op = "DeleteSecret";
	}
	if (len > b->scratch_cap) {
		phase_fail(ph, COFFER_ETOOBIG, NULL, o->idx);
		o->state = POP_IDLE;
		return;
	}
	rv = coffer_conn_send(o->bc->conn, op, b->scratch, len, phase_done, o);
	if (rv == 0) {
		o->attempt++;
		o->state = POP_BUSY;
	} else if (rv != COFFER_EAGAIN && rv != COFFER_ECLOSED) {
		phase_fail(ph, rv, NULL, o->idx);
		o->state = POP_IDLE;
	} /* else: stays ready, sent once the connection drains or is reopened */
}

/* Run pool secrets [0, n) through kind. Returns 0 when all succeeded, else
 * the COFFER_E* of the first failure; *handed_out gets how many indexes were
 * handed out (all of [0, *ok_upto) may exist after a failed create). */
static int phase_run(struct bench *b, int kind, size_t n, size_t *handed_out)
{
	struct phase ph;
	struct pop *pops;
	size_t w = n < SETUP_WINDOW ? n : SETUP_WINDOW, i, active;

	memset(&ph, 0, sizeof(ph));
	ph.b = b;
	ph.kind = kind;
	ph.n = n;
	ph.progress_ns = now_ns();
	*handed_out = 0;
	if (n == 0)
		return 0;
	pops = calloc(w, sizeof(*pops));
	if (pops == NULL)
		return COFFER_ENOMEM;
	for (i = 0; i < w; i++) {
		pops[i].ph = &ph;
		pops[i].bc = &b->conns[i % (size_t)b->n_conns];
	}
	b->reported = 0;
	for (;;) {
		int64_t t = now_ns();

		if (!ph.failed && t - ph.progress_ns > (int64_t)PHASE_STALL_MS * 1000000) {
			struct coffer_error e = {"", "no progress for 30 s"};

			phase_fail(&ph, COFFER_ETIMEOUT, &e, ph.next ? ph.next - 1 : 0);
		}
		reconnect_due(b);
		active = 0;
		for (i = 0; i < w; i++) {
			struct pop *o = &pops[i];

			if (o->state == POP_READY && ph.failed) /* stop retrying */
				o->state = POP_IDLE;
			if (o->state == POP_IDLE) {
				if (!ph.failed && ph.next < n) {
					o->idx = ph.next++;
					o->attempt = 0;
					o->retry_at = 0;
					o->state = POP_READY;
				} else {
					o->state = POP_DONE;
				}
			}
			if (o->state == POP_READY && o->bc->conn != NULL &&
			    t / 1000000 >= o->retry_at)
				phase_send(o);
			active += o->state != POP_DONE;
		}
		if (active == 0)
			break;
		if (poll_conns(b) != 0) {
			phase_fail(&ph, COFFER_EIO, NULL, 0);
			close_conns(b); /* fails what is in flight */
			break;
		}
	}
	free(pops);
	*handed_out = ph.next;
	return ph.failed;
}

/* ----------------------------------------------------------------- timed run */

static void issue(struct bslot *s);

static void done(void *data, int status, const struct coffer_error *err, const uint8_t *payload,
		 size_t len)
{
	struct bslot *s = data;
	struct bench *b = s->b;

	(void)payload;
	(void)len;
	s->busy = 0;
	if (status == 0) {
		record(b, (uint64_t)(now_ns() - s->start_ns));
	} else {
		b->errors++;
		if (!b->reported && err != NULL) {
			fprintf(stderr, "coffer bench: first error: %s%s%s\n", err->type,
				err->type[0] ? ": " : "", err->message);
			b->reported = 1;
		}
	}
	if (!b->stopping)
		issue(s);
}

/* {"SecretId":..,"ClientRequestToken":..,"SecretString":..} into scratch; 0 if too big */
static size_t put_body(struct bench *b, const char *id, const char *token)
{
	char *o = (char *)b->scratch;
	size_t cap = b->scratch_cap, n;
	int k;

	n = (size_t)snprintf(o, cap, "{\"SecretId\":");
	n += aws_json_str(o + n, cap - n, id);
	if (n >= cap)
		return 0;
	k = snprintf(o + n, cap - n, ",\"ClientRequestToken\":\"%s\",\"SecretString\":", token);
	if (k < 0 || (size_t)k >= cap - n)
		return 0;
	n += (size_t)k;
	n += aws_json_str(o + n, cap - n, b->value);
	if (n + 1 >= cap)
		return 0;
	o[n++] = '}';
	return n;
}

static void issue_http(struct bslot *s)
{
	struct bench *b = s->b;
	const char *body = b->get_body;
	size_t len = b->get_body_len;
	char token[37], name[64];
	int rv;

	if (b->put) {
		if (coffer_uuid4(token) != 0)
			return;
		pool_name(b, b->next_secret, name, sizeof(name));
		if ((len = put_body(b, name, token)) == 0)
			return;
		body = (const char *)b->scratch;
	}
	s->start_ns = now_ns();
	rv = aws_conn_send(s->bc->aconn, b->put ? "PutSecretValue" : "GetSecretValue", body, len,
			   done, s);
	if (rv == 0) {
		s->waiting = 0;
		s->busy = 1;
		if (b->put)
			b->next_secret = (b->next_secret + 1) % b->pool;
	}
}

static void issue(struct bslot *s)
{
	struct bench *b = s->b;
	const uint8_t *p = b->get_payload;
	size_t len = b->get_len;
	int rv;

	s->waiting = 1;
	if (!live(b, s->bc))
		return;
	if (b->http) {
		issue_http(s);
		return;
	}
	if (b->put) {
		Coffer__PutSecretValueRequest req = COFFER__PUT_SECRET_VALUE_REQUEST__INIT;
		char token[37], name[64];

		if (coffer_uuid4(token) != 0)
			return;
		pool_name(b, b->next_secret, name, sizeof(name));
		req.secret_id = name;
		req.client_request_token = token;
		req.secret_string = b->value;
		len = coffer__put_secret_value_request__get_packed_size(&req);
		if (len > b->scratch_cap)
			return;
		coffer__put_secret_value_request__pack(&req, b->scratch);
		p = b->scratch;
	}
	s->start_ns = now_ns();
	rv = coffer_conn_send(s->bc->conn, b->put ? "PutSecretValue" : "GetSecretValue", p, len,
			      done, s);
	if (rv == 0) {
		s->waiting = 0;
		s->busy = 1;
		if (b->put)
			b->next_secret = (b->next_secret + 1) % b->pool;
	}
}

static int setup_get(struct bench *b)
{
	Coffer__CreateSecretRequest cr = COFFER__CREATE_SECRET_REQUEST__INIT;
	Coffer__CreateSecretResponse *cresp = NULL;
	Coffer__PutSecretValueRequest pr = COFFER__PUT_SECRET_VALUE_REQUEST__INIT;
	Coffer__PutSecretValueResponse *presp = NULL;
	Coffer__GetSecretValueRequest gr = COFFER__GET_SECRET_VALUE_REQUEST__INIT;
	struct coffer_error err;
	char token[37];
	int rv;

	if (coffer_uuid4(token) != 0)
		return CLI_EXIT_OTHER;
	cr.name = (char *)b->secret_id;
	cr.client_request_token = token;
	cr.secret_string = b->value;
	cr.description = "coffer bench";
	rv = coffer_create_secret(b->c, &cr, &cresp, &err);
	coffer_response_free(cresp);
	if (rv == COFFER_ESERVICE && strcmp(err.type, "ResourceExistsException") == 0) {
		/* reuse: give it a current value of the requested size */
		if (coffer_uuid4(token) != 0)
			return CLI_EXIT_OTHER;
		pr.secret_id = (char *)b->secret_id;
		pr.client_request_token = token;
		pr.secret_string = b->value;
		rv = coffer_put_secret_value(b->c, &pr, &presp, &err);
		coffer_response_free(presp);
	}
	if (rv != 0) {
		fprintf(stderr, "coffer bench: setup of '%s' failed: %s%s%s\n", b->secret_id,
			err.type, err.type[0] ? ": " : "", err.message);
		return rv == COFFER_ESERVICE ? CLI_EXIT_SERVICE : CLI_EXIT_OTHER;
	}
	gr.secret_id = (char *)b->secret_id;
	b->get_len = coffer__get_secret_value_request__get_packed_size(&gr);
	b->get_payload = malloc(b->get_len + 1);
	if (b->get_payload == NULL)
		return CLI_EXIT_OTHER;
	coffer__get_secret_value_request__pack(&gr, b->get_payload);
	if (b->aws) {
		size_t n = aws_json_str(NULL, 0, b->secret_id);

		b->get_body = malloc(n + 16);
		if (b->get_body == NULL)
			return CLI_EXIT_OTHER;
		memcpy(b->get_body, "{\"SecretId\":", 12);
		aws_json_str(b->get_body + 12, n, b->secret_id);
		b->get_body[12 + n] = '}';
		b->get_body_len = 13 + n;
	}
	return 0;
}

static int phase_exit(int rv)
{
	return rv == COFFER_ESERVICE ? CLI_EXIT_SERVICE : CLI_EXIT_OTHER;
}

/* Force-delete pool secrets [0, n). */
static int cleanup_pool(struct bench *b, size_t n)
{
	int64_t t0 = now_ns();
	size_t handed;
	int rv;

	close_conns(b); /* fresh connections; nothing of the timed phase remains */
	b->http = 0;    /* cleanup goes through RPC */
	rv = phase_run(b, PH_DELETE, n, &handed);
	close_conns(b);
	if (rv != 0) {
		fprintf(stderr, "coffer bench: cleanup failed; secrets bench/%s/* may remain\n",
			b->runid);
		return phase_exit(rv);
	}
	fprintf(stderr, "coffer bench: deleted %zu secrets bench/%s/* in %.1f s\n", n, b->runid,
		(double)(now_ns() - t0) / 1e9);
	return 0;
}

static int setup_put(struct bench *b)
{
	int64_t t0 = now_ns();
	size_t handed;
	int rv = phase_run(b, PH_CREATE, b->pool, &handed);

	if (rv != 0) {
		if (b->cleanup)
			(void)cleanup_pool(b, handed);
		else if (handed > 0)
			fprintf(stderr, "coffer bench: secrets bench/%s/* may remain\n", b->runid);
		return phase_exit(rv);
	}
	fprintf(stderr, "coffer bench: created %zu secrets bench/%s/0..%zu in %.1f s\n", b->pool,
		b->runid, b->pool - 1, (double)(now_ns() - t0) / 1e9);
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;

	return a < c ? -1 : a > c;
}

static double pct_ms(const struct bench *b, double q)
{
	size_t i;

	if (b->n_lat == 0)
		return 0;
	i = (size_t)(q * (double)(b->n_lat - 1) + 0.5);
	return (double)b->lat[i] / 1e6;
}

static int run(struct bench *b)
{
	int64_t start = now_ns(), end = start + (int64_t)(b->duration * 1e9), t;
	size_t inflight;
	int i;

	b->reported = 0;
	for (i = 0; i < b->concurrency; i++)
		issue(&b->slots[i]);
	for (;;) {
		t = now_ns();
		if (t >= end)
			b->stopping = 1;
		inflight = 0;
		for (i = 0; i < b->concurrency; i++)
			inflight += (size_t)b->slots[i].busy;
		if (b->stopping && (inflight == 0 || t >= end + (int64_t)DRAIN_MS * 1000000))
			break;
		if (!b->stopping)
			reconnect_due(b);
		for (i = 0; !b->stopping && i < b->concurrency; i++)
			if (b->slots[i].waiting)
				issue(&b->slots[i]);
		if (poll_conns(b) != 0)
			break;
	}
	t = now_ns();
	close_conns(b); /* fails stragglers: counted as errors */
	qsort(b->lat, b->n_lat, sizeof(*b->lat), cmp_u64);
	printf("{\"op\":\"%s\",\"api\":\"%s\",\"concurrency\":%d,\"duration_s\":%.1f,\"ops\":%zu,"
	       "\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	       "\"errors\":%llu,\"connections\":%d,\"value_size\":%zu,\"secrets\":%zu}\n",
	       b->put ? "put" : "get", b->aws ? "aws" : "rpc", b->concurrency, b->duration, b->n_lat,
	       (double)b->n_lat / ((double)(t - start) / 1e9), pct_ms(b, 0.50), pct_ms(b, 0.99),
	       b->n_lat ? (double)b->lat[b->n_lat - 1] / 1e6 : 0.0,
	       (unsigned long long)b->errors, b->n_conns, b->value_size,
	       b->put ? b->pool : (size_t)1);
	fflush(stdout);
	return 0;
}

static const char *env_first(const char *a, const char *b, const char *c)
{
	const char *names[3] = {a, b, c};
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *v = names[i] ? getenv(names[i]) : NULL;

		if (v != NULL && v[0] != '\0')
			return v;
	}
	return NULL;
}

/* --api aws: endpoint URL, SigV4 credentials, TLS trust. 0 or an exit code. */
static int setup_aws(struct bench *b, struct args *a)
{
	const char *url = args_str(a, "endpoint-url"), *region = args_str(a, "region");
	const char *ca = env_first("AWS_CA_BUNDLE", NULL, NULL);
	struct coffer_error err;
	int rv;

	if (url == NULL)
		url = env_first("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL", NULL);
	if (url == NULL) {
		fprintf(stderr, "coffer: error: bench: --api aws needs --endpoint-url or "
				"AWS_ENDPOINT_URL\n");
		return CLI_EXIT_USAGE;
	}
	if (aws_endpoint_parse(url, &b->ep) != 0) {
		fprintf(stderr, "coffer: error: bench: --endpoint-url '%s' is not "
				"http[s]://host[:port]\n", url);
		return CLI_EXIT_USAGE;
	}
	if (region == NULL || region[0] == '\0')
		region = env_first("AWS_DEFAULT_REGION", "AWS_REGION", NULL);
	rv = aws_signer_init(&b->signer, getenv("AWS_ACCESS_KEY_ID"),
			     getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"),
			     region ? region : "us-east-1");
	if (rv != 0) {
		fprintf(stderr, "coffer: error: bench: %s\n",
			rv == COFFER_EINVAL ? "missing or bad credentials (AWS_ACCESS_KEY_ID, "
					      "AWS_SECRET_ACCESS_KEY) or region"
					    : "out of memory");
		return CLI_EXIT_USAGE;
	}
	if (b->ep.tls) {
		if (ca == NULL)
			ca = args_str(a, "ca-file");
		if (ca == NULL)
			ca = env_first("COFFER_CA_FILE", NULL, NULL);
		b->ssl_ctx = aws_tls_context(ca, &err);
		if (b->ssl_ctx == NULL) {
			fprintf(stderr, "coffer: error: bench: %s\n", err.message);
			return CLI_EXIT_OTHER;
		}
	}
	return 0;
}

const char cli_help_bench[] =
	"  bench --op get|put --concurrency N --duration S --value-size B [--connections C]\n"
	"                [--secret-id ID (get)] [--pool N (put)] [--cleanup (put)]\n"
	"                [--api rpc|aws] [--endpoint-url http[s]://host:port (aws)]\n"
	"                put spreads over bench/<runid>/0..N-1, left in place unless --cleanup;\n"
	"                --api aws drives the AWS JSON 1.1 endpoint (SigV4) instead of RPC;\n"
	"                setup still goes through RPC\n";

int cmd_bench(struct cli_run *r)
{
	struct coffer_client *c = NULL;
	int rv;

	if (r->n_pos != 1)
		return cli_usage_error("unrecognized arguments after 'bench'");
	rv = cli_open_client(r->a, &c);
	if (rv == 0)
		rv = cli_bench(c, r->a);
	coffer_client_free(c);
	return rv;
}

int cli_bench(struct coffer_client *c, struct args *a)
{
	static const char allowed[] = " op concurrency duration value-size secret-id connections "
				      "pool cleanup endpoint region output ca-file api endpoint-url ";
	struct bench b;
	const char *op = args_str(a, "op"), *dur = args_str(a, "duration");
	const char *api = args_str(a, "api");
	struct opt *cl = args_find(a, "cleanup");
	char name[64], needle[64];
	long conc, conns, vsize, pool;
	uint8_t r[4] = {0};
	size_t i;
	int rv;

	memset(&b, 0, sizeof(b));
	b.c = c;
	for (i = 0; i < a->n; i++) {
		int is_flag = strcmp(a->opts[i].name, "cleanup") == 0;

		snprintf(needle, sizeof(needle), " %s ", a->opts[i].name);
		if (strstr(allowed, needle) == NULL || a->opts[i].n != (is_flag ? 0u : 1u)) {
			fprintf(stderr, "coffer: error: bench: bad option '--%s'%s\n",
				a->opts[i].name, is_flag ? " (it takes no value)" : "");
			return CLI_EXIT_USAGE;
		}
	}
	if (op == NULL || (strcmp(op, "get") != 0 && strcmp(op, "put") != 0)) {
		fprintf(stderr, "coffer: error: bench: --op get|put is required\n");
		return CLI_EXIT_USAGE;
	}
	b.put = strcmp(op, "put") == 0;
	if (api != NULL && strcmp(api, "rpc") != 0 && strcmp(api, "aws") != 0) {
		fprintf(stderr, "coffer: error: bench: --api must be rpc or aws\n");
		return CLI_EXIT_USAGE;
	}
	b.aws = api != NULL && strcmp(api, "aws") == 0;
	if (!b.aws && args_find(a, "endpoint-url") != NULL) {
		fprintf(stderr, "coffer: error: bench: --endpoint-url is for --api aws\n");
		return CLI_EXIT_USAGE;
	}
	if ((rv = opt_int(a, "concurrency", 64, 1, 100000, &conc)) != 0 ||
	    (rv = opt_int(a, "value-size", 64, 1, 65536, &vsize)) != 0 ||
	    (rv = opt_int(a, "connections", conc < 8 ? conc : 8, 1, 1024, &conns)) != 0 ||
	    (rv = opt_int(a, "pool", 0, 1, 10000000, &pool)) != 0)
		return rv;
	b.duration = dur ? strtod(dur, NULL) : 10.0;
	if (!(b.duration > 0 && b.duration < 86400)) {
		fprintf(stderr, "coffer: error: --duration must be a positive number of seconds\n");
		return CLI_EXIT_USAGE;
	}
	b.cleanup = cl != NULL && !cl->neg;
	if (b.put && args_find(a, "secret-id") != NULL) {
		fprintf(stderr, "coffer: error: bench: --secret-id is for --op get; put uses a "
				"pool of secrets bench/<runid>/<i> (see --pool)\n");
		return CLI_EXIT_USAGE;
	}
	if (!b.put && (args_find(a, "pool") != NULL || cl != NULL)) {
		fprintf(stderr, "coffer: error: bench: --pool and --cleanup are for --op put\n");
		return CLI_EXIT_USAGE;
	}
	b.concurrency = (int)conc;
	b.n_conns = (int)(conns > conc ? conc : conns);
	b.value_size = (size_t)vsize;
	(void)RAND_bytes(r, sizeof(r));
	snprintf(b.runid, sizeof(b.runid), "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
	if (b.put) {
		if (pool > 0) {
			b.pool = (size_t)pool;
		} else {
			double want = b.duration * MAX_PUTS_PER_S / PUTS_PER_SECRET;

			b.pool = (size_t)want;
			if ((double)b.pool < want)
				b.pool++;
			if (b.pool < (size_t)b.concurrency)
				b.pool = (size_t)b.concurrency;
		}
	}
	b.secret_id = args_str(a, "secret-id");
	if (b.secret_id == NULL) {
		snprintf(name, sizeof(name), "bench/%s", b.runid);
		b.secret_id = name;
	}
	if (b.aws && (rv = setup_aws(&b, a)) != 0)
		goto out;
	rv = CLI_EXIT_OTHER;
	b.value = malloc(b.value_size + 1); /* synthetic, not a secret */
	b.scratch_cap = 6 * b.value_size + 1024; /* room for a JSON-escaped value */
	b.scratch = malloc(b.scratch_cap);
	b.conns = calloc((size_t)b.n_conns, sizeof(*b.conns));
	b.pfd = calloc((size_t)b.n_conns, sizeof(*b.pfd));
	b.slots = calloc((size_t)b.concurrency, sizeof(*b.slots));
	if (b.value == NULL || b.scratch == NULL || b.conns == NULL || b.pfd == NULL ||
	    b.slots == NULL)
		goto out;
	for (i = 0; i < b.value_size; i++)
		b.value[i] = (char)('a' + (i * 7 + i / 26) % 26);
	b.value[b.value_size] = '\0';
	for (i = 0; i < (size_t)b.n_conns; i++)
		b.conns[i].ep = i % coffer_client_endpoint_count(c);
	rv = b.put ? setup_put(&b) : setup_get(&b);
	if (rv != 0)
		goto out;
	if (b.aws) {
		close_conns(&b); /* setup spoke RPC; the timed phase speaks HTTP */
		b.http = 1;
	}
	for (i = 0; i < (size_t)b.n_conns; i++)
		if (!live(&b, &b.conns[i]))
			reconnect(&b, &b.conns[i], 0);
	for (i = 0; i < (size_t)b.concurrency; i++) {
		b.slots[i].b = &b;
		b.slots[i].bc = &b.conns[i % (size_t)b.n_conns];
	}
	rv = run(&b);
	if (rv == 0 && b.put) {
		if (b.cleanup)
			rv = cleanup_pool(&b, b.pool);
		else
			fprintf(stderr, "coffer bench: left %zu secrets bench/%s/* in place "
					"(--cleanup deletes them)\n", b.pool, b.runid);
	}
out:
	if (b.conns != NULL)
		close_conns(&b);
	free(b.value);
	free(b.scratch);
	free(b.get_payload);
	free(b.get_body);
	aws_signer_release(&b.signer);
	if (b.ssl_ctx != NULL)
		SSL_CTX_free(b.ssl_ctx);
	free(b.conns);
	free(b.pfd);
	free(b.slots);
	free(b.lat);
	return rv;
}
