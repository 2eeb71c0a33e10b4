/*
 * http: the AWS-compatible endpoint. HTTP/1.1 (libhttp-parser) on the same
 * net/ connection layer as the RPC port: plaintext on loopback in dev mode,
 * TLS 1.3 in cluster mode. Keep-alive; pipelined requests are answered in
 * order; "Expect: 100-continue" is honoured; header and body sizes are
 * capped. Routes:
 *   POST /  X-Amz-Target: secretsmanager.<Operation>, AWS JSON 1.1 + SigV4:
 *           SigV4 verify -> JSON -> protobuf request -> rpc_submit -> protobuf
 *           response -> JSON (errors as {"__type","Message"} with AWS's status
 *           codes and x-amzn-ErrorType, x-amzn-RequestId on every answer)
 *   GET /health   200 "ok" when the node serves (leader known), else 503
 *   GET /metrics  Prometheus text (metrics/metrics.h)
 * Loop thread only.
 */
#ifndef COFFER_AWS_HTTP_H
#define COFFER_AWS_HTTP_H

struct server;

#define HTTP_MAX_HEADER_BYTES (16 * 1024)
#define HTTP_MAX_BODY_BYTES (1024 * 1024)
/* A connection that received nothing for this long is closed (SDK pools
 * retry on a server-closed idle connection). COFFER_IDLE_TIMEOUT_MS, read
 * once, overrides it (and the RPC port's; see net_listener_set_idle_timeout). */
#define HTTP_IDLE_TIMEOUT_MS (60 * 1000)
/* A request must arrive whole (headers + body) within this time from its
 * first byte, an Expect: 100-continue body within it from the "100
 * Continue"; else 408 with Connection: close. COFFER_HTTP_REQUEST_TIMEOUT_MS,
 * read once when the endpoint starts, overrides it (tests). */
#define HTTP_REQUEST_TIMEOUT_MS (30 * 1000)

/* Listen on s->cfg->http_addr (TLS with s->tls_server unless dev mode).
 * errmsg >= 256 bytes. */
int http_listen(struct server *s, char *errmsg);
/* Stop listening and close connections; cb(data) when done. */
void http_close(struct server *s, void (*cb)(void *data), void *data);

#endif
