/*
 * The client: configuration, the TLS context, and synchronous calls.
 *
 * coffer_call packs the request once, then makes attempts until one gets a
 * final answer or the retry budget is spent. An attempt opens the sync
 * connection to the current endpoint if needed, sends the frame (signed
 * afresh: the date moves) and polls until the answer arrives or the attempt
 * times out. Retryable outcomes (transport failures, ServiceUnavailable,
 * Throttling, "not ready" internal errors) drop the connection, move to the
 * next endpoint and back off (50 ms doubling to 1 s, with jitter). The
 * payload, and so the ClientRequestToken, is the same on every attempt.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "internal.h"
#include "util/errors.h"

static int parse_endpoint(const char *s, size_t n, struct endpoint *ep)
{
	const char *colon, *scheme;
	size_t hl;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '/'))
		n--;
	scheme = memmem(s, n, "://", 3);
	if (scheme != NULL) {
		n -= (size_t)(scheme + 3 - s);
		s = scheme + 3;
	}
	if (n == 0 || n >= sizeof(ep->text))
		return COFFER_EINVAL;
	memcpy(ep->text, s, n);
	ep->text[n] = '\0';
	colon = strrchr(ep->text, ':');
	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= sizeof(ep->port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return COFFER_EINVAL;
	snprintf(ep->port, sizeof(ep->port), "%s", colon + 1);
	s = ep->text;
	hl = (size_t)(colon - ep->text);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']')
		s++, hl -= 2;
	if (hl == 0)
		return COFFER_EINVAL;
	memcpy(ep->host, s, hl);
	ep->host[hl] = '\0';
	return 0;
}

static int parse_endpoints(struct coffer_client *c, const char *list, struct coffer_error *err)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n > 0 && strspn(p, " \t") < n) {
			if (c->n_endpoints == COFFER_MAX_ENDPOINTS)
				return coffer__err(err, COFFER_EINVAL, "",
						   "more than %d endpoints", COFFER_MAX_ENDPOINTS);
			if (parse_endpoint(p, n, &c->endpoints[c->n_endpoints]) != 0)
				return coffer__err(err, COFFER_EINVAL, "",
						   "endpoint '%.*s' is not host:port", (int)n, p);
			c->n_endpoints++;
		}
		p = comma ? comma + 1 : NULL;
	}
	if (c->n_endpoints == 0)
		return coffer__err(err, COFFER_EINVAL, "", "no endpoint given");
	return 0;
}

static int make_ssl_ctx(struct coffer_client *c, const char *ca_file, struct coffer_error *err)
{
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (c->ssl_ctx == NULL)
		return coffer__err(err, COFFER_ENOMEM, "", "tls context: out of memory");
	if (SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_3_VERSION) != 1)
		return coffer__err(err, COFFER_ECRYPTO, "", "tls context: no tls 1.3");
	SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL && ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL) != 1)
			return coffer__err(err, COFFER_ECRYPTO, "",
					   "cannot load ca file '%s'", ca_file);
	} else if (SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
		return coffer__err(err, COFFER_ECRYPTO, "", "cannot load system trust store");
	}
	return 0;
}

int coffer_client_new(const struct coffer_config *cfg, struct coffer_client **out,
		      struct coffer_error *err)
{
	struct coffer_client *c;
	const char *region = cfg->region && cfg->region[0] ? cfg->region : "us-east-1";
	int rv;

	*out = NULL;
	(void)secmem_init(CLIENT_SECURE_HEAP);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return coffer__err(err, COFFER_ENOMEM, "", "out of memory");
	rv = parse_endpoints(c, cfg->endpoints, err);
	if (rv != 0)
		goto out;
	rv = coffer__err(err, COFFER_EINVAL, "", "no credentials: set AWS_ACCESS_KEY_ID and "
						 "AWS_SECRET_ACCESS_KEY");
	if (cfg->access_key_id == NULL || cfg->access_key_id[0] == '\0' ||
	    cfg->secret_access_key == NULL || cfg->secret_access_key[0] == '\0')
		goto out;
	rv = coffer__err(err, COFFER_EINVAL, "", "access key id or region too long");
	if (strlen(cfg->access_key_id) >= sizeof(c->access_key_id) ||
	    strlen(region) >= sizeof(c->region))
		goto out;
	snprintf(c->access_key_id, sizeof(c->access_key_id), "%s", cfg->access_key_id);
	snprintf(c->region, sizeof(c->region), "%s", region);
	rv = secbuf_dup(&c->secret_key, cfg->secret_access_key, strlen(cfg->secret_access_key));
	if (rv != 0) {
		rv = coffer__err(err, COFFER_ENOMEM, "", "out of memory");
		goto out;
	}
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
	c->retry_budget_ms = cfg->retry_budget_ms == 0 ? 10000 : cfg->retry_budget_ms;
	rv = make_ssl_ctx(c, cfg->ca_file, err);
	if (rv != 0)
		goto out;
	*out = c;
	c = NULL;
	rv = 0;
out:
	coffer_client_free(c);
	return rv;
}

void coffer_client_free(struct coffer_client *c)
{
	if (c == NULL)
		return;
	coffer_conn_free(c->conn);
	SSL_CTX_free(c->ssl_ctx);
	secbuf_free(&c->secret_key);
	secmem_free(c->sign_key);
	free(c);
}

size_t coffer_client_endpoint_count(const struct coffer_client *c)
{
	return c->n_endpoints;
}

const char *coffer_client_endpoint(const struct coffer_client *c, size_t i)
{
	return i < c->n_endpoints ? c->endpoints[i].text : NULL;
}

/* ------------------------------------------------------------------ sync calls */

struct sync_wait {
	int done;
	int status;
	struct coffer_error *err;
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *resp;
};

static void sync_done(void *data, int status, const struct coffer_error *err,
		      const uint8_t *payload, size_t len)
{
	struct sync_wait *w = data;

	w->done = 1;
	w->status = status;
	if (status == 0) {
		w->resp = protobuf_c_message_unpack(w->desc, &secmem_pb_allocator, len, payload);
		if (w->resp == NULL)
			w->status = coffer__err(w->err, COFFER_EPROTO, "",
						"malformed '%s' in answer", w->desc->name);
	} else if (err != NULL && w->err != NULL) {
		*w->err = *err;
	}
}

static int attempt(struct coffer_client *c, const char *operation, const struct secbuf *payload,
		   struct sync_wait *w, int timeout_ms)
{
	int64_t deadline = coffer__now_ms() + timeout_ms;
	int rv;

	if (c->conn == NULL) {
		rv = coffer_conn_open(c, c->cur, timeout_ms, &c->conn, w->err);
		if (rv != 0)
			return rv;
	}
	rv = coffer_conn_send(c->conn, operation, payload->data, payload->len, sync_done, w);
	if (rv != 0)
		return coffer__err(w->err, rv, "", "send '%s': %s", operation,
				   coffer_strerror(rv));
	while (!w->done) {
		struct pollfd pfd = {.fd = coffer_conn_fd(c->conn),
				     .events = coffer_conn_events(c->conn)};
		int64_t left = deadline - coffer__now_ms();
		int n;

		if (left <= 0) {
			coffer_conn_free(c->conn); /* runs sync_done with ECLOSED */
			c->conn = NULL;
			return coffer__err(w->err, COFFER_ETIMEOUT, "",
					   "no answer to '%s' from '%s' within %d ms", operation,
					   c->endpoints[c->cur].text, timeout_ms);
		}
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return coffer__err(w->err, COFFER_EIO, "", "poll: %s", strerror(errno));
		if (n > 0)
			(void)coffer_conn_process(c->conn); /* failures arrive via sync_done */
	}
	return w->status;
}

static int retryable(int rv, const struct coffer_error *err)
{
	switch (rv) {
	case COFFER_EIO:
	case COFFER_ECLOSED:
	case COFFER_ETIMEOUT:
	case COFFER_EPROTO:
		return 1;
	case COFFER_ESERVICE:
		return coffer_error_is_retryable(err->type, err->message);
	default:
		return 0;
	}
}

static void backoff_sleep(int ms)
{
	uint32_t r = 0;
	struct timespec ts;

	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	ms = ms / 2 + (int)(r % (uint32_t)(ms / 2 + 1)); /* [ms/2, ms] */
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int coffer_call(struct coffer_client *c, const char *operation, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
		struct coffer_error *err)
{
	struct coffer_error local;
	struct secbuf payload = {NULL, 0};
	int64_t deadline = coffer__now_ms() + (c->retry_budget_ms > 0 ? c->retry_budget_ms : 0);
	int backoff = 50, rv;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	*resp = NULL;
	rv = secmem_pb_pack(req, &payload);
	if (rv != 0)
		return coffer__err(err, COFFER_ENOMEM, "", "out of memory");
	rv = coffer__err(err, COFFER_ETOOBIG, "", "request '%s' is over %u bytes", operation,
			 COFFER_MAX_FRAME);
	if (payload.len > COFFER_MAX_FRAME - 1024)
		goto out;
	for (;;) {
		struct sync_wait w = {.err = err, .desc = resp_desc};
		int64_t left = deadline - coffer__now_ms();
		int tmo = c->timeout_ms;

		if (c->retry_budget_ms > 0 && left > 0 && left < tmo)
			tmo = (int)left;
		memset(err, 0, sizeof(*err));
		rv = attempt(c, operation, &payload, &w, tmo);
		if (rv == 0) {
			*resp = w.resp;
			break;
		}
		if (!retryable(rv, err) || c->retry_budget_ms < 0)
			break;
		/* move on: another node may be the leader or be ready */
		coffer_conn_free(c->conn);
		c->conn = NULL;
		c->cur = (c->cur + 1) % c->n_endpoints;
		if (coffer__now_ms() + backoff / 2 >= deadline)
			break;
		backoff_sleep(backoff);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
out:
	secbuf_free(&payload);
	return rv;
}

#define COFFER_OP_DEF(fn, opname, T, lower)                                              \
	int coffer_##fn(struct coffer_client *c, const Coffer__##T##Request *req,        \
			Coffer__##T##Response **resp, struct coffer_error *err)          \
	{                                                                                 \
		return coffer_call(c, opname, &req->base,                                 \
				   &coffer__##lower##_response__descriptor,               \
				   (ProtobufCMessage **)resp, err);                       \
	}
COFFER_OPS(COFFER_OP_DEF)
#undef COFFER_OP_DEF
