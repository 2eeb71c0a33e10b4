/*
 * coffer bench: a closed-loop load generator. Setup creates (or reuses) the
 * secret with a value of --value-size bytes; then --concurrency requests
 * stay in flight for --duration seconds, spread over --connections
 * pipelined connections driven by one poll loop (no thread per request).
 * Each completion records its CLOCK_MONOTONIC latency and issues the next
 * request on the same connection. A dead connection fails its requests
 * (counted as errors) and is reopened on the next endpoint after 100 ms.
 * Prints exactly one JSON line on stdout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cli.h"

#define DRAIN_MS 5000
#define RECONNECT_MS 100

struct bench;

struct bconn {
	struct coffer_conn *conn;
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
	const char *secret_id;
	char *value;
	uint8_t *get_payload, *scratch;
	size_t get_len, scratch_cap;
	struct bconn *conns;
	struct bslot *slots;
	uint64_t *lat;
	size_t n_lat, cap_lat;
	uint64_t errors;
	int stopping;
	int reported;
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

static void issue(struct bslot *s);

static void done(void *data, int status, const struct coffer_error *err, const uint8_t *payload,
		 size_t len)
{
	struct bslot *s = data;
	struct bench *b = s->b;

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

static void issue(struct bslot *s)
{
	struct bench *b = s->b;
	const uint8_t *p = b->get_payload;
	size_t len = b->get_len;
	int rv;

	s->waiting = 1;
	if (s->bc->conn == NULL)
		return;
	if (b->put) {
		Coffer__PutSecretValueRequest req = COFFER__PUT_SECRET_VALUE_REQUEST__INIT;
		char token[37];

		if (coffer_uuid4(token) != 0)
			return;
		req.secret_id = (char *)b->secret_id;
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
	}
}

static int setup(struct bench *b)
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
	return 0;
}

static void reconnect(struct bench *b, struct bconn *bc, int64_t now_ms)
{
	struct coffer_error err;
	size_t n = coffer_client_endpoint_count(b->c);

	if (coffer_conn_open(b->c, bc->ep, 5000, &bc->conn, &err) != 0) {
		if (!b->reported) {
			fprintf(stderr, "coffer bench: %s\n", err.message);
			b->reported = 1;
		}
		bc->ep = (bc->ep + 1) % n;
		bc->reconnect_at = now_ms + RECONNECT_MS;
	}
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
	struct pollfd *pfd = calloc((size_t)b->n_conns, sizeof(*pfd));
	int64_t start = now_ns(), end = start + (int64_t)(b->duration * 1e9), t;
	size_t inflight;
	int i;

	if (pfd == NULL)
		return CLI_EXIT_OTHER;
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
		for (i = 0; i < b->n_conns; i++) {
			struct bconn *bc = &b->conns[i];

			if (bc->conn == NULL && !b->stopping && t / 1000000 >= bc->reconnect_at)
				reconnect(b, bc, t / 1000000);
		}
		for (i = 0; !b->stopping && i < b->concurrency; i++)
			if (b->slots[i].waiting)
				issue(&b->slots[i]);
		for (i = 0; i < b->n_conns; i++) {
			pfd[i].fd = b->conns[i].conn ? coffer_conn_fd(b->conns[i].conn) : -1;
			pfd[i].events = b->conns[i].conn ? coffer_conn_events(b->conns[i].conn) : 0;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)b->n_conns, 10) < 0 && errno != EINTR)
			break;
		for (i = 0; i < b->n_conns; i++) {
			struct bconn *bc = &b->conns[i];

			if (bc->conn == NULL || pfd[i].revents == 0)
				continue;
			if (coffer_conn_process(bc->conn) != 0) {
				coffer_conn_free(bc->conn);
				bc->conn = NULL;
				bc->ep = (bc->ep + 1) % coffer_client_endpoint_count(b->c);
				bc->reconnect_at = now_ns() / 1000000 + RECONNECT_MS;
			}
		}
	}
	t = now_ns();
	for (i = 0; i < b->n_conns; i++) {
		coffer_conn_free(b->conns[i].conn); /* fails stragglers: counted as errors */
		b->conns[i].conn = NULL;
	}
	free(pfd);
	qsort(b->lat, b->n_lat, sizeof(*b->lat), cmp_u64);
	printf("{\"op\":\"%s\",\"concurrency\":%d,\"duration_s\":%.1f,\"ops\":%zu,"
	       "\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	       "\"errors\":%llu,\"connections\":%d,\"value_size\":%zu}\n",
	       b->put ? "put" : "get", b->concurrency, b->duration, b->n_lat,
	       (double)b->n_lat / ((double)(t - start) / 1e9), pct_ms(b, 0.50), pct_ms(b, 0.99),
	       b->n_lat ? (double)b->lat[b->n_lat - 1] / 1e6 : 0.0,
	       (unsigned long long)b->errors, b->n_conns, b->value_size);
	fflush(stdout);
	return 0;
}

int cli_bench(struct coffer_client *c, struct args *a)
{
	static const char allowed[] = " op concurrency duration value-size secret-id connections "
				      "endpoint region output ca-file ";
	struct bench b;
	const char *op = args_str(a, "op"), *dur = args_str(a, "duration");
	char name[64], needle[64];
	long conc, conns, vsize;
	size_t i;
	int rv;

	memset(&b, 0, sizeof(b));
	b.c = c;
	for (i = 0; i < a->n; i++) {
		snprintf(needle, sizeof(needle), " %s ", a->opts[i].name);
		if (strstr(allowed, needle) == NULL || a->opts[i].n != 1) {
			fprintf(stderr, "coffer: error: bench: bad option '--%s'\n", a->opts[i].name);
			return CLI_EXIT_USAGE;
		}
	}
	if (op == NULL || (strcmp(op, "get") != 0 && strcmp(op, "put") != 0)) {
		fprintf(stderr, "coffer: error: bench: --op get|put is required\n");
		return CLI_EXIT_USAGE;
	}
	b.put = strcmp(op, "put") == 0;
	if ((rv = opt_int(a, "concurrency", 64, 1, 100000, &conc)) != 0 ||
	    (rv = opt_int(a, "value-size", 64, 1, 65536, &vsize)) != 0 ||
	    (rv = opt_int(a, "connections", conc < 8 ? conc : 8, 1, 1024, &conns)) != 0)
		return rv;
	b.duration = dur ? strtod(dur, NULL) : 10.0;
	if (!(b.duration > 0 && b.duration < 86400)) {
		fprintf(stderr, "coffer: error: --duration must be a positive number of seconds\n");
		return CLI_EXIT_USAGE;
	}
	b.concurrency = (int)conc;
	b.n_conns = (int)(conns > conc ? conc : conns);
	b.value_size = (size_t)vsize;
	b.secret_id = args_str(a, "secret-id");
	if (b.secret_id == NULL) {
		uint8_t r[4] = {0};

		(void)RAND_bytes(r, sizeof(r));
		snprintf(name, sizeof(name), "bench/%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
		b.secret_id = name;
	}
	rv = CLI_EXIT_OTHER;
	b.value = malloc(b.value_size + 1); /* synthetic, not a secret */
	b.scratch_cap = b.value_size + 512;
	b.scratch = malloc(b.scratch_cap);
	b.conns = calloc((size_t)b.n_conns, sizeof(*b.conns));
	b.slots = calloc((size_t)b.concurrency, sizeof(*b.slots));
	if (b.value == NULL || b.scratch == NULL || b.conns == NULL || b.slots == NULL)
		goto out;
	for (i = 0; i < b.value_size; i++)
		b.value[i] = (char)('a' + (i * 7 + i / 26) % 26);
	b.value[b.value_size] = '\0';
	rv = setup(&b);
	if (rv != 0)
		goto out;
	for (i = 0; i < (size_t)b.n_conns; i++) {
		b.conns[i].ep = i % coffer_client_endpoint_count(c);
		reconnect(&b, &b.conns[i], 0);
	}
	for (i = 0; i < (size_t)b.concurrency; i++) {
		b.slots[i].b = &b;
		b.slots[i].bc = &b.conns[i % (size_t)b.n_conns];
	}
	rv = run(&b);
out:
	free(b.value);
	free(b.scratch);
	free(b.get_payload);
	free(b.conns);
	free(b.slots);
	free(b.lat);
	return rv;
}
