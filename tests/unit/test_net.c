/*
 * net: TLS listener + dial in one process on one loop. A self-signed
 * certificate in a temp dir; the server echoes frames; clients check what
 * comes back. Every test is bounded by a deadline timer and ends with
 * uv_loop_close() == 0, so a handle left open fails the test.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/frame.h"
#include "net/net.h"
#include "util/errors.h"
#include "util/secmem.h"

#define BIG_LEN (200u * 1024u)
#define N_SMALL 1000
#define MAX_CLIENTS 8

struct peer {
	struct frame_decoder dec;
	struct net_conn *c;
	int rx; /* frames received */
	int opened;
};

/* Made once for the group. */
static struct files {
	char dir[64], dir2[64];
	char cert[128], key[128], cert2[128], key2[128];
	SSL_CTX *sctx, *cctx, *bad_cctx;
} F;

/* Reset for every test. */
static struct env {
	uv_loop_t loop;
	uv_timer_t deadline;
	int timed_out;
	int deadline_closed;

	struct net_listener *l;
	int listener_closed;
	int srv_open, srv_close, srv_frames;
	struct net_conn *held; /* a server conn we keep a reference to */

	struct net_conn *clients[MAX_CLIENTS];
	int cli_open, cli_close, cli_done, cli_bad;
	int want; /* frames each client expects back (incl. greeting) */
	void (*on_client_open)(struct net_conn *c);
	void (*on_client_close)(struct net_conn *c);

	uv_tcp_t raw;
	uv_connect_t raw_req;
	uv_write_t raw_wreq;
	int raw_closed;
	int big_write_rv;

	/* limits: idle, cap, pause/resume, deadline */
	int no_big;           /* message 1 is small too */
	uv_timer_t tick;      /* client activity / server resume */
	int ticks, tick_closed;
	int paused, pauses, resumed, srv_bad;
	int refused;          /* clients closed without ever opening */
	uint64_t t_open, t_close, t_last_tx;
	int deadline_fired;
} E;

/* ---- content ------------------------------------------------------------ */

/* Client message k: 0 is written before the handshake ends, 1 is big,
 * the rest small. */
static size_t msg_len(int k)
{
	if (k == 0)
		return 10;
	if (k == 1 && !E.no_big)
		return BIG_LEN;
	return (size_t)(k % 61) + 1;
}

static uint8_t msg_byte(int k, size_t j)
{
	return (uint8_t)(k * 31 + j * 7);
}

static int send_msg(struct net_conn *c, int k)
{
	size_t n = msg_len(k), j;
	uint8_t hdr[4], *b = malloc(n);
	int rv;

	assert_non_null(b);
	for (j = 0; j < n; j++)
		b[j] = msg_byte(k, j);
	frame_put_header(hdr, (uint32_t)n);
	rv = net_conn_write2(c, hdr, 4, b, n);
	free(b);
	return rv;
}

/* ---- loop helpers -------------------------------------------------------- */

static void on_listener_closed(void *data)
{
	(void)data;
	E.listener_closed = 1;
	if (!E.deadline_closed) {
		E.deadline_closed = 1;
		uv_close((uv_handle_t *)&E.deadline, NULL);
	}
}

static void finish(void)
{
	int i;

	for (i = 0; i < MAX_CLIENTS; i++)
		if (E.clients[i] != NULL)
			net_conn_close(E.clients[i]);
	if (E.l != NULL) {
		net_listener_close(E.l, on_listener_closed, NULL);
		E.l = NULL;
	}
}

static void on_deadline(uv_timer_t *t)
{
	(void)t;
	E.timed_out = 1;
	if (!uv_is_closing((uv_handle_t *)&E.raw) && E.raw.type == UV_TCP)
		uv_close((uv_handle_t *)&E.raw, NULL);
	finish();
}

/* Run until every handle is closed; fail if the deadline fired first. */
static void run(unsigned ms)
{
	uv_timer_start(&E.deadline, on_deadline, ms, 0);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_false(E.timed_out);
	assert_true(E.listener_closed);
	assert_int_equal(uv_loop_close(&E.loop), 0);
}

/* ---- server: greet, then echo every frame ------------------------------- */

static int srv_frame(void *data, const uint8_t *body, size_t len)
{
	struct net_conn *c = data;
	uint8_t hdr[4];

	E.srv_frames++;
	frame_put_header(hdr, (uint32_t)len);
	return net_conn_write2(c, hdr, 4, body, len);
}

static void srv_open(struct net_conn *c)
{
	struct peer *p = calloc(1, sizeof(*p));
	uint8_t hello[9];

	assert_non_null(p);
	assert_ptr_equal(net_conn_get_data(c), &E);
	assert_true(net_conn_is_open(c));
	assert_non_null(strstr(net_conn_peer(c), "127.0.0.1:"));
	frame_decoder_init(&p->dec, FRAME_DEFAULT_CAP);
	p->c = c;
	net_conn_set_user(c, p);
	E.srv_open++;
	frame_put_header(hello, 5);
	memcpy(hello + 4, "hello", 5);
	assert_int_equal(net_conn_write(c, hello, sizeof(hello)), 0);
}

static int srv_data(struct net_conn *c, const uint8_t *buf, size_t n)
{
	struct peer *p = net_conn_get_user(c);

	return frame_decoder_feed(&p->dec, buf, n, srv_frame, c);
}

static void srv_closed(struct net_conn *c)
{
	struct peer *p = net_conn_get_user(c);

	E.srv_close++;
	assert_non_null(p); /* on_close only after on_open for accepted conns */
	frame_decoder_release(&p->dec);
	free(p);
	net_conn_set_user(c, NULL);
}

static const struct net_proto srv_proto = {srv_open, srv_data, srv_closed};

/* ---- client: check the greeting and the echoes in order ------------------ */

static int cli_frame(void *data, const uint8_t *body, size_t len)
{
	struct peer *p = data;
	int k = p->rx - 1;
	size_t j;

	if (p->rx == 0) {
		if (len != 5 || memcmp(body, "hello", 5) != 0)
			E.cli_bad++;
	} else {
		if (len != msg_len(k))
			E.cli_bad++;
		for (j = 0; j < len && j < msg_len(k); j++)
			if (body[j] != msg_byte(k, j)) {
				E.cli_bad++;
				break;
			}
	}
	p->rx++;
	if (p->rx == E.want) {
		E.cli_done++;
		net_conn_close(p->c);
	}
	return 0;
}

static void cli_open(struct net_conn *c)
{
	struct peer *p = net_conn_get_user(c);

	if (p != NULL)
		p->opened = 1;
	E.cli_open++;
	if (E.on_client_open != NULL)
		E.on_client_open(c);
}

static int cli_data(struct net_conn *c, const uint8_t *buf, size_t n)
{
	struct peer *p = net_conn_get_user(c);

	return frame_decoder_feed(&p->dec, buf, n, cli_frame, p);
}

static void cli_closed(struct net_conn *c)
{
	struct peer *p = net_conn_get_user(c);
	int i, left = 0;

	E.cli_close++;
	if (p != NULL && !p->opened)
		E.refused++;
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (E.clients[i] == c)
			E.clients[i] = NULL;
		left += E.clients[i] != NULL;
	}
	if (p != NULL) {
		frame_decoder_release(&p->dec);
		free(p);
	}
	if (E.on_client_close != NULL)
		E.on_client_close(c);
	if (left == 0 && E.l != NULL)
		finish(); /* last client gone: shut the listener */
}

static const struct net_proto cli_proto = {cli_open, cli_data, cli_closed};

static struct net_conn *dial(const char *host, SSL_CTX *ctx, int slot)
{
	char addr[64];
	struct net_conn *c = NULL;
	struct peer *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	snprintf(addr, sizeof(addr), "%s:%d", host, net_listener_port(E.l));
	assert_int_equal(net_dial(&E.loop, addr, ctx, &cli_proto, &E, &c), 0);
	assert_non_null(c);
	frame_decoder_init(&p->dec, FRAME_DEFAULT_CAP);
	p->c = c;
	net_conn_set_user(c, p);
	E.clients[slot] = c;
	return c;
}

static void listen_tls(SSL_CTX *ctx)
{
	char err[256];

	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", ctx, &srv_proto, &E, &E.l, err), 0);
	assert_true(net_listener_port(E.l) > 0);
}

/* ---- fixtures ------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	uv_loop_init(&E.loop);
	uv_timer_init(&E.loop, &E.deadline);
	return 0;
}

static int group_setup(void **state)
{
	char err[256];

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as cofferd: a closed peer would kill us */
	secmem_init(1u << 22);
	snprintf(F.dir, sizeof(F.dir), "/tmp/coffer-net-XXXXXX");
	snprintf(F.dir2, sizeof(F.dir2), "/tmp/coffer-net-XXXXXX");
	if (mkdtemp(F.dir) == NULL || mkdtemp(F.dir2) == NULL)
		return -1;
	snprintf(F.cert, sizeof(F.cert), "%s/cert.pem", F.dir);
	snprintf(F.key, sizeof(F.key), "%s/key.pem", F.dir);
	snprintf(F.cert2, sizeof(F.cert2), "%s/cert.pem", F.dir2);
	snprintf(F.key2, sizeof(F.key2), "%s/key.pem", F.dir2);
	if (net_tls_make_self_signed(F.cert, F.key, "node1.example", err) != 0 ||
	    net_tls_make_self_signed(F.cert2, F.key2, "10.1.2.3", err) != 0) {
		fprintf(stderr, "self-signed: %s\n", err);
		return -1;
	}
	F.sctx = net_tls_server_ctx(F.cert, F.key, err);
	F.cctx = net_tls_client_ctx(F.cert, err);
	F.bad_cctx = net_tls_client_ctx(F.cert2, err);
	if (F.sctx == NULL || F.cctx == NULL || F.bad_cctx == NULL) {
		fprintf(stderr, "ctx: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(F.sctx);
	SSL_CTX_free(F.cctx);
	SSL_CTX_free(F.bad_cctx);
	unlink(F.cert);
	unlink(F.key);
	unlink(F.cert2);
	unlink(F.key2);
	rmdir(F.dir);
	rmdir(F.dir2);
	return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_self_signed_files(void **state)
{
	struct stat st;
	char err[256];

	(void)state;
	assert_int_equal(stat(F.key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(F.cert, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* a host that could smuggle extra names is refused */
	assert_int_equal(net_tls_make_self_signed(F.cert2, F.key2, "a,DNS:evil", err), CF_EINVAL);
	assert_null(net_tls_server_ctx("/nonexistent/c.pem", F.key, err));
	assert_true(strlen(err) > 0);
	uv_close((uv_handle_t *)&E.deadline, NULL);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&E.loop), 0);
}

static void echo_open(struct net_conn *c)
{
	int k;

	/* message 0 was queued before the handshake; now the big one and a
	 * pipeline of small ones, all in this one loop turn */
	for (k = 1; k < 2 + N_SMALL; k++)
		assert_int_equal(send_msg(c, k), 0);
}

static void test_echo(void **state)
{
	struct net_conn *c;

	(void)state;
	listen_tls(F.sctx);
	E.want = 1 + 2 + N_SMALL;
	E.on_client_open = echo_open;
	c = dial("127.0.0.1", F.cctx, 0);
	assert_int_equal(send_msg(c, 0), 0); /* before the handshake */
	assert_false(net_conn_is_open(c));
	run(5000);
	assert_int_equal(E.cli_open, 1);
	assert_int_equal(E.cli_done, 1);
	assert_int_equal(E.cli_bad, 0);
	assert_int_equal(E.cli_close, 1);
	assert_int_equal(E.srv_open, 1);
	assert_int_equal(E.srv_close, 1);
	assert_int_equal(E.srv_frames, 2 + N_SMALL);
}

static void test_echo_localhost_name(void **state)
{
	(void)state;
	listen_tls(F.sctx);
	E.want = 1 + 1;
	dial("localhost", F.cctx, 0);
	assert_int_equal(send_msg(E.clients[0], 0), 0);
	run(5000);
	assert_int_equal(E.cli_done, 1);
	assert_int_equal(E.cli_bad, 0);
}

static void test_plaintext(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", NULL, &srv_proto, &E, &E.l, err), 0);
	E.want = 1 + 2 + N_SMALL;
	E.on_client_open = echo_open;
	dial("127.0.0.1", NULL, 0);
	assert_int_equal(send_msg(E.clients[0], 0), 0);
	run(5000);
	assert_int_equal(E.cli_done, 1);
	assert_int_equal(E.cli_bad, 0);
}

/* -- garbage: a non-TLS client is dropped; a good client is served after -- */

static void raw_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	static char b[4096];

	(void)h;
	(void)sz;
	*buf = uv_buf_init(b, sizeof(b));
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	if (n >= 0)
		return;
	E.raw_closed = 1;
	uv_close((uv_handle_t *)s, NULL);
	if (E.clients[0] == NULL && E.l != NULL) {
		E.want = 1 + 1;
		dial("127.0.0.1", F.cctx, 0);
		assert_int_equal(send_msg(E.clients[0], 0), 0);
	}
}

static void raw_connected(uv_connect_t *req, int status)
{
	static char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uv_buf_t b = uv_buf_init(junk, sizeof(junk) - 1);

	assert_int_equal(status, 0);
	uv_read_start(req->handle, raw_alloc, raw_read);
	if (req->data != NULL) /* "garbage" mode; else stay silent */
		uv_write(&E.raw_wreq, req->handle, &b, 1, NULL);
}

static void raw_connect(int send_garbage)
{
	struct sockaddr_in sa;

	uv_ip4_addr("127.0.0.1", net_listener_port(E.l), &sa);
	uv_tcp_init(&E.loop, &E.raw);
	E.raw_req.data = send_garbage ? &E : NULL;
	assert_int_equal(uv_tcp_connect(&E.raw_req, &E.raw, (struct sockaddr *)&sa, raw_connected),
			 0);
}

static void test_garbage_then_good(void **state)
{
	(void)state;
	listen_tls(F.sctx);
	raw_connect(1);
	run(5000);
	assert_true(E.raw_closed);
	assert_int_equal(E.cli_done, 1);
	assert_int_equal(E.cli_bad, 0);
	assert_int_equal(E.srv_open, 1); /* only the good one */
	assert_int_equal(E.srv_close, 1);
}

static void test_wrong_ca(void **state)
{
	(void)state;
	listen_tls(F.sctx);
	E.want = 1;
	dial("127.0.0.1", F.bad_cctx, 0);
	run(5000);
	assert_int_equal(E.cli_open, 0);
	assert_int_equal(E.cli_close, 1); /* dial failure reported by on_close */
	assert_int_equal(E.srv_open, 0);
}

/* the right CA but an address the certificate does not name */
static void test_wrong_name(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(net_listen(&E.loop, "0.0.0.0:0", F.sctx, &srv_proto, &E, &E.l, err), 0);
	E.want = 1;
	dial("127.0.0.2", F.cctx, 0);
	run(5000);
	assert_int_equal(E.cli_open, 0);
	assert_int_equal(E.cli_close, 1);
	assert_int_equal(E.srv_open, 0);
}

/* -- listener close with open connections, one held by a reference -------- */

static void held_open(struct net_conn *c)
{
	(void)c;
	if (E.cli_open == 3 && E.srv_open == 3 && E.l != NULL) {
		/* close while a raw TCP peer is mid-"handshake" as well */
		net_listener_close(E.l, on_listener_closed, NULL);
		E.l = NULL;
	}
}

static void held_srv_open(struct net_conn *c)
{
	srv_open(c);
	if (E.held == NULL) {
		E.held = c;
		net_conn_ref(c);
	}
	held_open(c);
}

static void test_listener_close(void **state)
{
	static const struct net_proto held_proto = {held_srv_open, srv_data, srv_closed};
	char err[256];
	uint8_t b[8] = {0};
	int i;

	(void)state;
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", F.sctx, &held_proto, &E, &E.l, err), 0);
	E.want = 1000000; /* never "done": the listener close ends the test */
	E.on_client_open = held_open;
	raw_connect(0);
	for (i = 0; i < 3; i++)
		dial("127.0.0.1", F.cctx, i);
	run(5000);
	assert_int_equal(E.srv_open, 3);
	assert_int_equal(E.srv_close, 3);
	assert_int_equal(E.cli_close, 3);
	assert_true(E.raw_closed);
	/* the held connection is closed but its memory is still ours */
	assert_non_null(E.held);
	assert_false(net_conn_is_open(E.held));
	assert_int_equal(net_conn_write(E.held, b, sizeof(b)), CF_ECLOSED);
	net_conn_close(E.held); /* idempotent */
	net_conn_unref(E.held);
}

/* -- the outgoing queue is bounded ---------------------------------------- */

static void flood_srv_open(struct net_conn *c)
{
	static uint8_t chunk[1u << 20];
	int i, rv = 0;

	srv_open(c);
	for (i = 0; i < 80 && rv == 0; i++)
		rv = net_conn_write(c, chunk, sizeof(chunk));
	E.big_write_rv = rv;
}

static void test_write_bound(void **state)
{
	static const struct net_proto flood_proto = {flood_srv_open, srv_data, srv_closed};
	char err[256];

	(void)state;
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", F.sctx, &flood_proto, &E, &E.l, err),
			 0);
	E.want = 1000000;
	dial("127.0.0.1", F.cctx, 0);
	run(8000);
	assert_int_equal(E.big_write_rv, CF_ECLOSED);
	assert_int_equal(E.srv_close, 1);
	assert_int_equal(E.cli_close, 1);
}

static void test_bad_addresses(void **state)
{
	struct net_conn *c = (struct net_conn *)&E;
	char err[256];

	(void)state;
	assert_int_equal(net_listen(&E.loop, "nonsense", F.sctx, &srv_proto, &E, &E.l, err),
			 CF_EINVAL);
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:99999", F.sctx, &srv_proto, &E, &E.l, err),
			 CF_EINVAL);
	assert_int_equal(net_dial(&E.loop, "no-port", F.cctx, &cli_proto, &E, &c), CF_EINVAL);
	assert_null(c);
	assert_int_equal(E.cli_close, 0); /* an error return never calls back */
	uv_close((uv_handle_t *)&E.deadline, NULL);
	uv_run(&E.loop, UV_RUN_DEFAULT);
	assert_int_equal(E.cli_close, 0);
	assert_int_equal(uv_loop_close(&E.loop), 0);
}

/* -- limits: idle timeout, connection cap, pause/resume, deadline --------- */

static void close_tick(void)
{
	if (!E.tick_closed) {
		E.tick_closed = 1;
		uv_timer_stop(&E.tick);
		uv_close((uv_handle_t *)&E.tick, NULL);
	}
}

static void idle_srv_closed(struct net_conn *c)
{
	E.t_close = uv_now(&E.loop);
	srv_closed(c);
}

/* the client sends a frame every 60 ms, 8 times, then falls silent */
static void idle_tick(uv_timer_t *t)
{
	(void)t;
	if (E.clients[0] == NULL || E.ticks == 8) {
		close_tick();
		return;
	}
	assert_int_equal(send_msg(E.clients[0], E.ticks), 0);
	E.ticks++;
	E.t_last_tx = uv_now(&E.loop);
}

static void idle_cli_open(struct net_conn *c)
{
	(void)c;
	E.t_open = uv_now(&E.loop);
	uv_timer_start(&E.tick, idle_tick, 60, 60);
}

static void test_idle_timeout(void **state)
{
	static const struct net_proto idle_proto = {srv_open, srv_data, idle_srv_closed};
	char err[256];

	(void)state;
	uv_timer_init(&E.loop, &E.tick);
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", F.sctx, &idle_proto, &E, &E.l, err),
			 0);
	net_listener_set_idle_timeout(E.l, 600); /* swept every 150 ms; wide margin for loaded CI */
	E.want = 1000000; /* only the server's idle close ends the test */
	E.no_big = 1;
	E.on_client_open = idle_cli_open;
	dial("127.0.0.1", F.cctx, 0);
	run(8000);
	assert_int_equal(E.cli_bad, 0);
	/* traffic kept it open for ~480 ms; silence closed it after 600 */
	assert_int_equal(E.ticks, 8);
	assert_int_equal(E.srv_frames, 8);
	assert_int_equal(E.srv_close, 1);
	assert_int_equal(E.cli_close, 1);
	assert_true(E.t_close - E.t_last_tx >= 600);
	assert_true(E.t_close - E.t_last_tx < 3000);
}

static void cap_check(struct net_conn *c)
{
	int i;

	(void)c;
	/* two served (both ends open), the third refused: close the served ones */
	if (E.cli_open == 2 && E.srv_open == 2 && E.refused == 1)
		for (i = 0; i < MAX_CLIENTS; i++)
			if (E.clients[i] != NULL)
				net_conn_close(E.clients[i]);
}

static void cap_srv_open(struct net_conn *c)
{
	srv_open(c);
	cap_check(c);
}

static void test_connection_cap(void **state)
{
	static const struct net_proto cap_proto = {cap_srv_open, srv_data, srv_closed};
	char err[256];
	int i;

	(void)state;
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", F.sctx, &cap_proto, &E, &E.l, err), 0);
	net_listener_set_max_conns(E.l, 2);
	E.want = 1000000;
	E.on_client_open = cap_check;
	E.on_client_close = cap_check;
	for (i = 0; i < 3; i++)
		dial("127.0.0.1", F.cctx, i);
	run(5000);
	assert_int_equal(E.srv_open, 2);
	assert_int_equal(E.cli_open, 2);
	assert_int_equal(E.refused, 1);
	assert_int_equal(E.cli_close, 3);
	assert_int_equal(E.srv_close, 2);
}

static void pause_resume_tick(uv_timer_t *t)
{
	struct net_conn *c = t->data;

	E.paused = 0;
	E.resumed++;
	net_conn_resume_read(c);
	net_conn_resume_read(c); /* idempotent */
	net_conn_unref(c);
	close_tick();
}

static int pause_srv_data(struct net_conn *c, const uint8_t *buf, size_t n)
{
	if (E.paused)
		E.srv_bad++; /* nothing may arrive while paused */
	if (E.pauses == 0) {
		/* the first chunk: pause for 300 ms; the client has sent (and the
		 * TLS layer read) much more than this one record already */
		E.pauses++;
		E.paused = 1;
		net_conn_pause_read(c);
		net_conn_pause_read(c); /* idempotent */
		net_conn_ref(c);
		E.tick.data = c;
		uv_timer_start(&E.tick, pause_resume_tick, 300, 0);
		E.t_open = uv_now(&E.loop);
	}
	return srv_data(c, buf, n);
}

static void pause_client_open(struct net_conn *c)
{
	int k;

	for (k = 1; k < 2 + N_SMALL; k++)
		assert_int_equal(send_msg(c, k), 0);
}

static void pause_resume(SSL_CTX *sctx, SSL_CTX *cctx)
{
	static const struct net_proto pause_proto = {srv_open, pause_srv_data, srv_closed};
	char err[256];

	uv_timer_init(&E.loop, &E.tick);
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", sctx, &pause_proto, &E, &E.l, err), 0);
	E.no_big = 1; /* everything fits in one read: only resume can deliver it */
	E.want = 1 + 2 + N_SMALL;
	E.on_client_open = pause_client_open;
	dial("127.0.0.1", cctx, 0);
	assert_int_equal(send_msg(E.clients[0], 0), 0);
	run(5000);
	assert_int_equal(E.pauses, 1);
	assert_int_equal(E.resumed, 1);
	assert_int_equal(E.srv_bad, 0);
	assert_int_equal(E.srv_frames, 2 + N_SMALL); /* every frame, after the resume */
	assert_int_equal(E.cli_done, 1);
	assert_int_equal(E.cli_bad, 0);
}

static void test_pause_resume_tls(void **state)
{
	(void)state;
	pause_resume(F.sctx, F.cctx);
}

static void test_pause_resume_plain(void **state)
{
	(void)state;
	pause_resume(NULL, NULL);
}

static void deadline_cb(struct net_conn *c)
{
	E.deadline_fired++;
	E.t_close = uv_now(&E.loop);
	net_conn_close(c);
}

static void deadline_srv_open(struct net_conn *c)
{
	srv_open(c);
	E.t_open = uv_now(&E.loop);
	net_conn_set_deadline(c, 5000, deadline_cb);
	net_conn_set_deadline(c, 0, NULL);            /* cancelled ... */
	net_conn_set_deadline(c, 150, deadline_cb);   /* ... and replaced */
}

static void test_deadline(void **state)
{
	static const struct net_proto dl_proto = {deadline_srv_open, srv_data, srv_closed};
	char err[256];

	(void)state;
	assert_int_equal(net_listen(&E.loop, "127.0.0.1:0", F.sctx, &dl_proto, &E, &E.l, err), 0);
	E.want = 1000000;
	dial("127.0.0.1", F.cctx, 0);
	run(5000);
	assert_int_equal(E.deadline_fired, 1);
	assert_true(E.t_close - E.t_open >= 150);
	assert_true(E.t_close - E.t_open < 2000);
	assert_int_equal(E.srv_close, 1);
	assert_int_equal(E.cli_close, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_self_signed_files, setup),
		cmocka_unit_test_setup(test_echo, setup),
		cmocka_unit_test_setup(test_echo_localhost_name, setup),
		cmocka_unit_test_setup(test_plaintext, setup),
		cmocka_unit_test_setup(test_garbage_then_good, setup),
		cmocka_unit_test_setup(test_wrong_ca, setup),
		cmocka_unit_test_setup(test_wrong_name, setup),
		cmocka_unit_test_setup(test_listener_close, setup),
		cmocka_unit_test_setup(test_write_bound, setup),
		cmocka_unit_test_setup(test_bad_addresses, setup),
		cmocka_unit_test_setup(test_idle_timeout, setup),
		cmocka_unit_test_setup(test_connection_cap, setup),
		cmocka_unit_test_setup(test_pause_resume_tls, setup),
		cmocka_unit_test_setup(test_pause_resume_plain, setup),
		cmocka_unit_test_setup(test_deadline, setup),
	};

	return cmocka_run_group_tests_name("net", tests, group_setup, group_teardown);
}
