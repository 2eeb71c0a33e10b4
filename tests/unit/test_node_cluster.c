/*
 * node: the real thing on loopback. One process, one libuv loop.
 *
 * test_transport: Coffer's raft transport by itself: the handshake carries
 * id and address to the acceptor and authenticates both ends with the peer
 * key, both ends have TCP_NODELAY, bytes sent right behind the handshake
 * stay in the socket for raft. Refused without a stream for raft: a dialer
 * or an acceptor with another key, an acceptor with an unexpected id, a
 * replayed handshake, a reflected MAC, the old (unauthenticated) protocol,
 * garbage, an oversized address, an empty connection. A raw client checks
 * the wire format and MACs against the spec in transport.h. A dial to a
 * silent acceptor ends at the handshake deadline. Close cancels a dial in
 * flight before its own callback.
 *
 * test_cluster: three nodes sharing a peer key (data dirs under /tmp, ports
 * from a random base in 20000-40000, retried on EADDRINUSE) elect a leader
 * within 10 s, apply 1000 proposals with 64 in flight identically everywhere
 * (batched: fewer raft entries than commands), serve batched read barriers
 * (fewer barriers than reads), pipeline read barriers (several in flight)
 * while every read is answered only by a barrier issued after it arrived,
 * print commits/s at 1, 64 and 256 in flight, and close cleanly
 * (uv_loop_close succeeds: no handle left). Closing the leader with
 * proposals in flight and queued hands leadership over: a new leader within
 * 300 ms of the close callback and within the election timeout of node_close
 * (without the handover it took 1.7-3 s), every proposal called back exactly
 * once.
 * A watchdog bounds every wait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "node/node.h"
#include "node/node_int.h"
#include "node/transport.h"
#include "crypto/crypto.h"
#include "util/errors.h"

#define N 3
#define CMD_LEN 64
#define REGION "r1"

static char terr[256];

static uv_loop_t loop;
static uv_timer_t ticker;

static bool tick_flag;
static void tick_cb(uv_timer_t *t)
{
	(void)t;
	tick_flag = true;
}

/* Run the loop until pred() or timeout; the ticker wakes the loop. */
static bool run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	uint64_t deadline;

	uv_update_time(&loop);
	deadline = uv_now(&loop) + timeout_ms;
	uv_timer_start(&ticker, tick_cb, 5, 5);
	while (!pred(arg) && uv_now(&loop) < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	uv_timer_stop(&ticker);
	return pred(arg);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN); /* libuv does not; a closed peer would kill us */
	if (uv_loop_init(&loop) != 0)
		return -1;
	return uv_timer_init(&loop, &ticker);
}

static void close_all(void);

static int teardown(void **state)
{
	uint64_t deadline;

	(void)state;
	close_all(); /* after a failed assertion nodes may still run */
	uv_close((uv_handle_t *)&ticker, NULL);
	uv_update_time(&loop);
	deadline = uv_now(&loop) + 10000;
	while (uv_run(&loop, UV_RUN_NOWAIT) != 0 && uv_now(&loop) < deadline)
		usleep(1000);
	assert_int_equal(uv_loop_close(&loop), 0); /* nothing left open */
	return 0;
}

static unsigned random_port_base(void)
{
	return 20000 + (unsigned)(rand() % 19990);
}

/* ---- certificates (openssl CLI, independent of coffer's own issuer) --- */

static char pki_dir[64];

static const char *pki_path(const char *name)
{
	static char buf[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", pki_dir, name);
	return buf[k];
}

static void pki_run(const char *cmd)
{
	char line[1024];

	snprintf(line, sizeof line, "cd %s && %s >/dev/null 2>&1", pki_dir, cmd);
	if (system(line) != 0)
		fail_msg("certificate setup failed: %s", cmd);
}

/* name.pem/name.key for coffer://region/id, issued by ca (ca.pem / ca2.pem) */
static void pki_node(const char *name, const char *region, int id, const char *ca)
{
	char cmd[900];

	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -CA %s.pem -CAkey %s.key -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=%s "
		 "-addext subjectAltName=URI:coffer://%s/%d,IP:127.0.0.1 "
		 "-addext basicConstraints=CA:FALSE -keyout %s.key -out %s.pem",
		 ca, ca, name, region, id, name, name);
	pki_run(cmd);
}

static void pki_make(void)
{
	if (pki_dir[0] != '\0')
		return;
	snprintf(pki_dir, sizeof pki_dir, "/tmp/coffer-pki-XXXXXX");
	assert_non_null(mkdtemp(pki_dir));
	for (int i = 0; i < 2; i++) {
		char cmd[400];
		snprintf(cmd, sizeof cmd,
			 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
			 "-nodes -days 2 -subj /CN=ca%d -addext basicConstraints=critical,CA:TRUE "
			 "-keyout %s.key -out %s.pem",
			 i, i ? "ca2" : "ca", i ? "ca2" : "ca");
		pki_run(cmd);
	}
	for (int i = 1; i <= N; i++) {
		char name[16];
		snprintf(name, sizeof name, "r1-%d", i);
		pki_node(name, REGION, i, "ca");
	}
	pki_node("r2-2", "r2", 2, "ca");   /* another region */
	pki_node("x-2", REGION, 2, "ca2"); /* another CA */
}

static void pki_remove(void)
{
	if (pki_dir[0] != '\0')
		nftw(pki_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	pki_dir[0] = '\0';
}

/* ---- transport ------------------------------------------------------- */

struct tstate {
	int accepted;
	raft_id peer_id;
	char peer_addr[64];
	uv_stream_t *accepted_stream;
	int connected;
	int connect_status;
	uv_stream_t *connected_stream;
	int closed;
	int connect_cbs_before_close;
	char got[64];
	size_t got_len;
};
static struct tstate T;

static void t_accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
			uv_stream_t *stream)
{
	(void)t;
	T.accepted++;
	T.peer_id = id;
	snprintf(T.peer_addr, sizeof T.peer_addr, "%s", address);
	T.accepted_stream = stream;
}

static void t_connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	(void)req;
	T.connected++;
	T.connect_status = status;
	T.connected_stream = stream;
	if (T.closed == 0)
		T.connect_cbs_before_close++;
}

static void t_close_cb(struct raft_uv_transport *t)
{
	(void)t;
	T.closed++;
}

static bool nodelay(uv_stream_t *s)
{
	uv_os_fd_t fd;
	int on = 0;
	socklen_t len = sizeof on;

	if (uv_fileno((uv_handle_t *)s, &fd) != 0)
		return false;
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) != 0)
		return false;
	return on != 0;
}

static bool t_pred_both(void *arg)
{
	(void)arg;
	return T.accepted == 1 && T.connected == 1;
}
static bool t_pred_accepted(void *arg)
{
	return T.accepted >= *(int *)arg;
}
static bool t_pred_got(void *arg)
{
	return T.got_len >= *(size_t *)arg;
}
static bool t_pred_closed(void *arg)
{
	(void)arg;
	return T.closed == 1;
}
static bool t_pred_connected(void *arg)
{
	(void)arg;
	return T.connected >= 1;
}

static void t_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	(void)h;
	(void)s;
	*b = uv_buf_init(T.got + T.got_len, (unsigned)(sizeof T.got - T.got_len));
}
static void t_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)s;
	(void)b;
	if (n > 0)
		T.got_len += (size_t)n;
}

static void free_stream(uv_handle_t *h)
{
	raft_free(h);
}

static void put64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define OLD_PROTOCOL UINT64_C(0x31544652464f43) /* "COFRT1": before peer auth */

static const uint8_t KEY[32] = "0123456789abcdef0123456789abcde";  /* the region's */
static const uint8_t KEY2[32] = "0123456789abcdef0123456789abcdX"; /* another region's */


/* The MAC as the protocol defines it, written independently of transport.c:
 * HMAC(key, "coffer-raft-auth" || role || u64 rlen || region || u64 id ||
 * u64 alen || addr || nd || na || ekm), ekm 32 zeros without TLS. */
static void spec_mac(const uint8_t *key, char role, uint64_t id, const char *addr,
		     const uint8_t *nd, const uint8_t *na, uint8_t out[32])
{
	uint8_t m[512];
	size_t n = 0, alen = strlen(addr);

	memcpy(m, "coffer-raft-auth", 16);
	n = 16;
	m[n++] = (uint8_t)role;
	put64le(m + n, strlen(REGION));
	n += 8;
	memcpy(m + n, REGION, strlen(REGION));
	n += strlen(REGION);
	put64le(m + n, id);
	put64le(m + n + 8, alen);
	n += 16;
	memcpy(m + n, addr, alen);
	n += alen;
	memcpy(m + n, nd, 32);
	memcpy(m + n + 32, na, 32);
	n += 64;
	memset(m + n, 0, 32);
	n += 32;
	assert_int_equal(crypto_hmac_sha256(key, 32, m, n, out), 0);
}

static int raw_connect(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void raw_write(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* M1: [u64 protocol][u64 id][u64 alen][addr][nonce_d] */
static size_t raw_m1(uint8_t *buf, uint64_t protocol, uint64_t id, const char *addr,
		     const uint8_t nd[32])
{
	size_t alen = strlen(addr);

	put64le(buf, protocol);
	put64le(buf + 8, id);
	put64le(buf + 16, alen);
	memcpy(buf + 24, addr, alen);
	memcpy(buf + 24 + alen, nd, 32);
	return 24 + alen + 32;
}

/* Non-blocking reads of a raw socket while the loop runs. */
struct rawrd {
	int fd;
	uint8_t buf[512];
	size_t got, want;
	bool eof; /* EOF or reset: the transport closed it */
};

static bool pred_raw(void *arg)
{
	struct rawrd *r = arg;

	while (r->got < r->want && !r->eof) {
		ssize_t n = recv(r->fd, r->buf + r->got, r->want - r->got, MSG_DONTWAIT);
		if (n > 0)
			r->got += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			r->eof = true;
		else
			break;
	}
	return r->got >= r->want || r->eof;
}

/* Read M2 from the acceptor at acc_addr (id acc_id); check it against the
 * spec and return nonce_a. */
static void raw_read_m2(struct rawrd *r, int fd, uint64_t acc_id, const char *acc_addr,
			const uint8_t *nd, const uint8_t *key, uint8_t na[32])
{
	size_t alen = strlen(acc_addr);
	uint8_t mac[32];

	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->want = 24 + alen + 64;
	assert_true(run_until(pred_raw, r, 5000));
	assert_false(r->eof);
	assert_true(get64le(r->buf) == NODE_TRANSPORT_PROTOCOL);
	assert_true(get64le(r->buf + 8) == acc_id);
	assert_true(get64le(r->buf + 16) == alen);
	assert_memory_equal(r->buf + 24, acc_addr, alen);
	memcpy(na, r->buf + 24 + alen, 32);
	spec_mac(key, 'A', acc_id, acc_addr, nd, na, mac);
	assert_memory_equal(r->buf + 24 + alen + 32, mac, 32);
}

/* The transport must close fd without having called accept. */
static void expect_refused(int fd, int accepted_before)
{
	struct rawrd r;

	memset(&r, 0, sizeof r);
	r.fd = fd;
	r.want = sizeof r.buf;
	assert_true(run_until(pred_raw, &r, 5000));
	assert_true(r.eof);
	assert_int_equal(T.accepted, accepted_before);
	close(fd);
}

static void t_close(struct raft_uv_transport *t)
{
	T.closed = 0;
	t->close(t, t_close_cb);
	assert_true(run_until(t_pred_closed, NULL, 5000));
	T.closed = 0;
}

static void test_transport(void **state)
{
	struct raft_uv_transport a, b, c;
	struct raft_uv_connect req, req2;
	char addr_a[32], addr_b[32], addr_c[32];
	unsigned port = 0;
	int rv = -1, want, fd;
	size_t want_len, n;
	uint8_t nd[32], na[32], m[512], m3[32], old_m1[128];
	size_t old_m1_len;
	struct rawrd r;

	(void)state;
	memset(&T, 0, sizeof T);
	assert_int_equal(node__transport_init(&a, &loop, KEY, REGION, NULL, terr), 0);
	assert_int_equal(node__transport_init(&b, &loop, KEY, REGION, NULL, terr), 0);
	assert_int_equal(node__transport_init(&c, &loop, KEY2, REGION, NULL, terr), 0);
	assert_int_equal(a.version, 1);
	for (int attempt = 0; attempt < 20 && rv != 0; attempt++) {
		port = random_port_base();
		snprintf(addr_a, sizeof addr_a, "127.0.0.1:%u", port);
		snprintf(addr_b, sizeof addr_b, "127.0.0.1:%u", port + 1);
		snprintf(addr_c, sizeof addr_c, "127.0.0.1:%u", port + 2);
		assert_int_equal(a.init(&a, 1, addr_a), 0);
		assert_int_equal(b.init(&b, 2, addr_b), 0);
		assert_int_equal(c.init(&c, 3, addr_c), 0);
		rv = b.listen(&b, t_accept_cb);
		if (rv == 0)
			rv = c.listen(&c, t_accept_cb);
		if (rv != 0) { /* port taken: the listeners close themselves */
			t_close(&b);
			t_close(&c);
			node__transport_release(&b);
			node__transport_release(&c);
			assert_int_equal(node__transport_init(&b, &loop, KEY, REGION, NULL, terr), 0);
			assert_int_equal(node__transport_init(&c, &loop, KEY2, REGION, NULL, terr), 0);
		}
	}
	assert_int_equal(rv, 0);

	/* same key: id and address arrive, both sockets have TCP_NODELAY */
	assert_int_equal(a.connect(&a, &req, 2, addr_b, t_connect_cb), 0);
	assert_true(run_until(t_pred_both, NULL, 5000));
	assert_int_equal(T.connect_status, 0);
	assert_int_equal(T.peer_id, 1);
	assert_string_equal(T.peer_addr, addr_a);
	assert_true(nodelay(T.connected_stream));
	assert_true(nodelay(T.accepted_stream));
	uv_close((uv_handle_t *)T.connected_stream, free_stream);
	uv_close((uv_handle_t *)T.accepted_stream, free_stream);

	/* a dialer with another key (c) is refused by the acceptor (b): no
	 * accept, and c refuses b as well (no stream for raft either) */
	T.connected = 0;
	assert_int_equal(c.connect(&c, &req, 2, addr_b, t_connect_cb), 0);
	assert_true(run_until(t_pred_connected, NULL, 5000));
	assert_int_equal(T.connect_status, RAFT_NOCONNECTION);
	assert_null(T.connected_stream);
	want = 2;
	assert_false(run_until(t_pred_accepted, &want, 200));

	/* and vice versa: the acceptor (c) has another key */
	T.connected = 0;
	assert_int_equal(a.connect(&a, &req, 3, addr_c, t_connect_cb), 0);
	assert_true(run_until(t_pred_connected, NULL, 5000));
	assert_int_equal(T.connect_status, RAFT_NOCONNECTION);
	assert_null(T.connected_stream);
	assert_false(run_until(t_pred_accepted, &want, 200));

	/* the acceptor is not the node raft asked for: refused */
	T.connected = 0;
	assert_int_equal(a.connect(&a, &req, 7, addr_b, t_connect_cb), 0);
	assert_true(run_until(t_pred_connected, NULL, 5000));
	assert_int_equal(T.connect_status, RAFT_NOCONNECTION);
	assert_false(run_until(t_pred_accepted, &want, 200));

	/* a raw client speaking the protocol from its spec; bytes right
	 * behind M3 are left for raft to read */
	memset(nd, 0x11, sizeof nd);
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	old_m1_len = raw_m1(old_m1, NODE_TRANSPORT_PROTOCOL, 9, "127.0.0.1:1", nd);
	raw_write(fd, old_m1, old_m1_len);
	raw_read_m2(&r, fd, 2, addr_b, nd, KEY, na);
	spec_mac(KEY, 'D', 9, "127.0.0.1:1", nd, na, m3);
	memcpy(m, m3, 32);
	memcpy(m + 32, "RAFTDATA", 8);
	raw_write(fd, m, 40);
	want = 2;
	assert_true(run_until(t_pred_accepted, &want, 5000));
	assert_int_equal(T.peer_id, 9);
	assert_string_equal(T.peer_addr, "127.0.0.1:1");
	assert_true(nodelay(T.accepted_stream));
	assert_int_equal(uv_read_start(T.accepted_stream, t_alloc, t_read), 0);
	want_len = 8;
	assert_true(run_until(t_pred_got, &want_len, 5000));
	assert_memory_equal(T.got, "RAFTDATA", 8);
	uv_close((uv_handle_t *)T.accepted_stream, free_stream);
	close(fd);

	/* replay: the same M1 and M3 on a new connection (fresh nonce_a) */
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	raw_write(fd, old_m1, old_m1_len);
	raw_read_m2(&r, fd, 2, addr_b, nd, KEY, na);
	raw_write(fd, m3, 32);
	expect_refused(fd, 2);

	/* reflection: announce the acceptor's own id and address and send its
	 * MAC back as ours */
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	n = raw_m1(m, NODE_TRANSPORT_PROTOCOL, 2, addr_b, nd);
	raw_write(fd, m, n);
	raw_read_m2(&r, fd, 2, addr_b, nd, KEY, na);
	raw_write(fd, r.buf + 24 + strlen(addr_b) + 32, 32);
	expect_refused(fd, 2);

	/* a raw dialer with another key: refused after M3 */
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	raw_write(fd, old_m1, old_m1_len);
	raw_read_m2(&r, fd, 2, addr_b, nd, KEY, na);
	spec_mac(KEY2, 'D', 9, "127.0.0.1:1", nd, na, m3);
	raw_write(fd, m3, 32);
	expect_refused(fd, 2);

	/* the old handshake (protocol 1, no auth) with raft bytes behind it,
	 * libraft's stock handshake, garbage, an oversized address: refused
	 * without an answer */
	{
		static const uint64_t protos[] = {OLD_PROTOCOL, 1};
		for (size_t i = 0; i < 2; i++) {
			fd = raw_connect(port + 1);
			assert_true(fd >= 0);
			put64le(m, protos[i]);
			put64le(m + 8, 9);
			put64le(m + 16, 11);
			memcpy(m + 24, "127.0.0.1:1RAFTDATA", 19);
			raw_write(fd, m, 43);
			expect_refused(fd, 2);
		}
	}
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	assert_int_equal(crypto_random(m, 200), 0);
	raw_write(fd, m, 200);
	expect_refused(fd, 2);
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	put64le(m, NODE_TRANSPORT_PROTOCOL);
	put64le(m + 8, 9);
	put64le(m + 16, NODE_TRANSPORT_MAX_ADDR + 1);
	memset(m + 24, 'x', 300);
	raw_write(fd, m, 324);
	expect_refused(fd, 2);
	/* a client that says nothing and leaves */
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	shutdown(fd, SHUT_WR);
	expect_refused(fd, 2);

	/* an acceptor that never answers: the dial gives up after the
	 * handshake deadline */
	{
		struct sockaddr_in sa;
		socklen_t salen = sizeof sa;
		char silent[32];
		int lfd = socket(AF_INET, SOCK_STREAM, 0);

		memset(&sa, 0, sizeof sa);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(0x7f000001);
		assert_true(lfd >= 0);
		assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
		assert_int_equal(listen(lfd, 4), 0);
		assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
		snprintf(silent, sizeof silent, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
		T.connected = 0;
		assert_int_equal(a.connect(&a, &req, 2, silent, t_connect_cb), 0);
		assert_false(run_until(t_pred_connected, NULL, NODE_TRANSPORT_HANDSHAKE_MS - 500));
		assert_true(run_until(t_pred_connected, NULL, 2000));
		assert_int_equal(T.connect_status, RAFT_NOCONNECTION);
		close(lfd);
	}

	/* close with a dial in flight (host name: still resolving or
	 * connecting): its callback fires first, with RAFT_CANCELED */
	T.connected = 0;
	T.connect_status = 0;
	T.connect_cbs_before_close = 0;
	T.connected_stream = NULL;
	assert_int_equal(a.connect(&a, &req2, 2, addr_b, t_connect_cb), 0);
	a.close(&a, t_close_cb);
	assert_true(run_until(t_pred_closed, NULL, 5000));
	assert_int_equal(T.connected, 1);
	assert_int_equal(T.connect_status, RAFT_CANCELED);
	assert_int_equal(T.connect_cbs_before_close, 1);
	assert_null(T.connected_stream);
	T.closed = 0;
	t_close(&b);
	t_close(&c);
	node__transport_release(&a);
	node__transport_release(&b);
	node__transport_release(&c);

	/* a dial resolving a host name, cancelled likewise */
	memset(&T, 0, sizeof T);
	assert_int_equal(node__transport_init(&a, &loop, KEY, REGION, NULL, terr), 0);
	assert_int_equal(a.init(&a, 1, addr_a), 0);
	assert_int_equal(a.connect(&a, &req, 2, "localhost:1", t_connect_cb), 0);
	a.close(&a, t_close_cb);
	assert_true(run_until(t_pred_closed, NULL, 5000));
	assert_true(run_until(t_pred_connected, NULL, 100));
	assert_int_equal(T.connect_status, RAFT_CANCELED);
	assert_int_equal(T.connect_cbs_before_close, 1);
	node__transport_release(&a);
}

/* ---- transport over mutual TLS ---------------------------------------- */

#define BULK (4u << 20) /* more than the pump's high-water mark */

static uint8_t *bulk_in;
static size_t bulk_got;

static void bulk_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	(void)h;
	(void)s;
	*b = uv_buf_init((char *)bulk_in + bulk_got, (unsigned)(BULK - bulk_got));
}
static void bulk_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)s;
	(void)b;
	if (n > 0)
		bulk_got += (size_t)n;
}
static bool pred_bulk(void *arg)
{
	(void)arg;
	return bulk_got >= BULK;
}
static bool bulk_written;
static void bulk_write_cb(uv_write_t *w, int status)
{
	(void)w;
	bulk_written = status == 0;
}

static void tls_init(struct raft_uv_transport *t, const char *name, const char *ca)
{
	char cert[64], key[64];
	struct node_transport_tls tls = {pki_path(ca), cert, key};

	snprintf(cert, sizeof cert, "%s", pki_path(name));
	strcat(cert, ".pem");
	snprintf(key, sizeof key, "%s", pki_path(name));
	strcat(key, ".key");
	if (node__transport_init(t, &loop, KEY, REGION, &tls, terr) != 0)
		fail_msg("transport init: %s", terr);
}

static void expect_dial_refused(struct raft_uv_transport *t, raft_id id, const char *addr)
{
	struct raft_uv_connect req;
	int want = T.accepted + 1;

	T.connected = 0;
	T.connected_stream = NULL;
	assert_int_equal(t->connect(t, &req, id, addr, t_connect_cb), 0);
	assert_true(run_until(t_pred_connected, NULL, 6000));
	assert_int_equal(T.connect_status, RAFT_NOCONNECTION);
	assert_null(T.connected_stream);
	assert_false(run_until(t_pred_accepted, &want, 200));
}

static void test_transport_tls(void **state)
{
	struct raft_uv_transport a, b, c, d;
	struct raft_uv_connect req;
	char addr_a[32], addr_b[32];
	unsigned port = 0;
	int rv = -1, fd, want;
	uint8_t nd[32], m[512], *bulk_out;
	size_t n;
	uv_write_t w;
	uv_buf_t buf;

	(void)state;
	pki_make();
	memset(&T, 0, sizeof T);
	tls_init(&a, "r1-1", "ca.pem");
	tls_init(&c, "x-2", "ca2.pem"); /* trusts only its own CA */
	tls_init(&d, "r2-2", "ca.pem");
	for (int attempt = 0; attempt < 20 && rv != 0; attempt++) {
		tls_init(&b, "r1-2", "ca.pem");
		port = random_port_base();
		snprintf(addr_a, sizeof addr_a, "127.0.0.1:%u", port);
		snprintf(addr_b, sizeof addr_b, "127.0.0.1:%u", port + 1);
		assert_int_equal(b.init(&b, 2, addr_b), 0);
		rv = b.listen(&b, t_accept_cb);
		if (rv != 0) {
			t_close(&b);
			node__transport_release(&b);
		}
	}
	assert_int_equal(rv, 0);
	assert_int_equal(a.init(&a, 1, addr_a), 0);
	assert_int_equal(c.init(&c, 1, addr_a), 0);
	assert_int_equal(d.init(&d, 1, addr_a), 0);

	/* certificates of the same CA and region: a stream each for raft
	 * (plaintext ends), 4 MiB pass intact (back-pressure, no cap) */
	assert_int_equal(a.connect(&a, &req, 2, addr_b, t_connect_cb), 0);
	assert_true(run_until(t_pred_both, NULL, 5000));
	assert_int_equal(T.connect_status, 0);
	assert_int_equal(T.peer_id, 1);
	assert_string_equal(T.peer_addr, addr_a);
	bulk_out = malloc(BULK);
	bulk_in = malloc(BULK);
	assert_non_null(bulk_out);
	assert_non_null(bulk_in);
	for (size_t i = 0; i < BULK; i++)
		bulk_out[i] = (uint8_t)(i * 7 + (i >> 13));
	bulk_got = 0;
	bulk_written = false;
	buf = uv_buf_init((char *)bulk_out, BULK);
	assert_int_equal(uv_write(&w, T.connected_stream, &buf, 1, bulk_write_cb), 0);
	assert_int_equal(uv_read_start(T.accepted_stream, bulk_alloc, bulk_read), 0);
	assert_true(run_until(pred_bulk, NULL, 20000));
	assert_memory_equal(bulk_in, bulk_out, BULK);
	free(bulk_out);
	free(bulk_in);
	uv_close((uv_handle_t *)T.connected_stream, free_stream);
	uv_close((uv_handle_t *)T.accepted_stream, free_stream);

	/* the acceptor's certificate names node 2, raft asked for node 3 */
	expect_dial_refused(&a, 3, addr_b);
	/* a certificate of another CA, of another region: refused */
	expect_dial_refused(&c, 2, addr_b);
	expect_dial_refused(&d, 2, addr_b);

	/* plain TCP speaking our handshake in the clear: closed, no accept */
	memset(nd, 0x11, sizeof nd);
	fd = raw_connect(port + 1);
	assert_true(fd >= 0);
	n = raw_m1(m, NODE_TRANSPORT_PROTOCOL, 9, "127.0.0.1:1", nd);
	raw_write(fd, m, n);
	expect_refused(fd, T.accepted);

	/* the cap on handshakes from one source: beyond it, closed at once */
	{
		int fds[600], open_fds = 0, closed = 0;

		for (int i = 0; i < 600; i++) {
			fds[i] = raw_connect(port + 1);
			if (fds[i] >= 0)
				open_fds++;
			if (i % 50 == 0)
				for (int k = 0; k < 5; k++)
					uv_run(&loop, UV_RUN_NOWAIT);
		}
		for (int k = 0; k < 50; k++)
			uv_run(&loop, UV_RUN_NOWAIT);
		for (int i = 0; i < 600; i++) {
			struct rawrd r;

			if (fds[i] < 0)
				continue;
			memset(&r, 0, sizeof r);
			r.fd = fds[i];
			r.want = 1;
			pred_raw(&r);
			if (r.eof)
				closed++;
			close(fds[i]);
		}
		printf("600 idle connections: %d refused at once\n", closed);
		assert_true(open_fds > 0);
		assert_true(closed > 0);
	}
	want = T.accepted;
	t_close(&a);
	t_close(&b);
	t_close(&c);
	t_close(&d);
	assert_int_equal(T.accepted, want);
	node__transport_release(&a);
	node__transport_release(&b);
	node__transport_release(&c);
	node__transport_release(&d);
}

/* ---- toy FSM ---------------------------------------------------------- */

struct kv {
	uint64_t applied, digest;
};

static long live_results;

static int kv_apply(void *ctx, const uint8_t *cmd, size_t n, void **result)
{
	struct kv *k = ctx;
	uint64_t *r;

	k->applied++;
	for (size_t i = 0; i < n; i++)
		k->digest = (k->digest ^ cmd[i]) * 1099511628211ULL;
	r = malloc(sizeof *r);
	if (r == NULL)
		return CF_ENOMEM;
	*r = k->applied;
	live_results++;
	*result = r;
	return 0;
}

static void kv_result_free(void *r)
{
	if (r != NULL) {
		live_results--;
		free(r);
	}
}

static int kv_snapshot(void *ctx, uint8_t **buf, size_t *n)
{
	*buf = malloc(sizeof(struct kv));
	if (*buf == NULL)
		return CF_ENOMEM;
	memcpy(*buf, ctx, sizeof(struct kv));
	*n = sizeof(struct kv);
	return 0;
}

static int kv_restore(void *ctx, const uint8_t *buf, size_t n)
{
	if (n != sizeof(struct kv))
		return CF_EPROTO;
	memcpy(ctx, buf, n);
	return 0;
}

/* ---- cluster ---------------------------------------------------------- */

struct member {
	struct node *node;
	struct kv kv;
	char dir[256];
	char cert[128], key[128];
	int leader_true, leader_false;
	bool closing, closed;
};

static struct member M[N];
static char base_dir[64];

static void leader_cb(void *data, bool leader)
{
	struct member *m = data;

	if (leader)
		m->leader_true++;
	else
		m->leader_false++;
}

static struct member *leader(void)
{
	for (int i = 0; i < N; i++) {
		if (M[i].node != NULL && !M[i].closed && node_is_leader(M[i].node))
			return &M[i];
	}
	return NULL;
}

static bool pred_leader(void *arg)
{
	(void)arg;
	return leader() != NULL;
}

static void close_cb(void *data)
{
	((struct member *)data)->closed = true;
}

static bool pred_all_closed(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++) {
		if (M[i].node != NULL && !M[i].closed)
			return false;
	}
	return true;
}

static void close_all(void)
{
	for (int i = 0; i < N; i++) {
		if (M[i].node != NULL && !M[i].closing) {
			M[i].closing = true;
			node_close(M[i].node, close_cb, &M[i]);
		}
	}
	if (!run_until(pred_all_closed, NULL, 10000))
		fail_msg("nodes did not close within 10 s");
	/* let handles of aborted starts finish closing too */
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
}

static void start_cluster(void)
{
	struct node_member members[N];
	char err[256];

	for (int attempt = 0; attempt < 10; attempt++) {
		unsigned base = random_port_base();
		bool in_use = false;

		memset(M, 0, sizeof M);
		for (int i = 0; i < N; i++) {
			members[i].id = (uint64_t)i + 1;
			snprintf(members[i].raft_address, sizeof members[i].raft_address,
				 "127.0.0.1:%u", base + (unsigned)i);
		}
		for (int i = 0; i < N && !in_use; i++) {
			struct node_config cfg = {
				.id = members[i].id,
				.raft_address = members[i].raft_address,
				.data_dir = M[i].dir,
				.members = members,
				.n_members = N,
				.peer_key = KEY,
				.region = REGION,
				.ca_file = pki_path("ca.pem"),
				.tls_cert = M[i].cert,
				.tls_key = M[i].key,
			};
			struct node_fsm fsm = {
				.ctx = &M[i].kv,
				.apply = kv_apply,
				.result_free = kv_result_free,
				.snapshot = kv_snapshot,
				.restore = kv_restore,
			};
			int rv;

			snprintf(M[i].dir, sizeof M[i].dir, "%s/try%d-n%d", base_dir, attempt, i + 1);
			snprintf(M[i].cert, sizeof M[i].cert, "%s/r1-%d.pem", pki_dir, i + 1);
			snprintf(M[i].key, sizeof M[i].key, "%s/r1-%d.key", pki_dir, i + 1);
			assert_int_equal(mkdir(M[i].dir, 0700), 0);
			rv = node_start(&loop, &cfg, &fsm, leader_cb, &M[i], &M[i].node, err);
			if (rv != 0) {
				M[i].node = NULL;
				if (strstr(err, "address already in use") == NULL)
					fail_msg("node_start: %s (%s)", err, cf_strerror(rv));
				in_use = true;
			}
		}
		if (!in_use)
			return;
		close_all();
	}
	fail_msg("no free port range found");
}

struct load {
	struct member *m;
	unsigned total, window, issued, inflight, ok, failed;
	int last_error;
	uint64_t seq;
};

static void load_fill(struct load *l);

static void load_cb(void *data, int status, void *result)
{
	struct load *l = data;

	l->inflight--;
	if (status == 0)
		l->ok++;
	else {
		l->failed++;
		l->last_error = status;
	}
	kv_result_free(result); /* ownership came to us */
	load_fill(l);
}

static void load_fill(struct load *l)
{
	uint8_t cmd[CMD_LEN];

	while (l->issued < l->total && l->inflight < l->window) {
		memset(cmd, 'v', sizeof cmd);
		l->seq++;
		memcpy(cmd, &l->seq, sizeof l->seq);
		if (node_propose(l->m->node, cmd, sizeof cmd, load_cb, l) != 0) {
			l->failed++;
			l->issued++;
			continue;
		}
		l->issued++;
		l->inflight++;
	}
}

static bool pred_load_done(void *arg)
{
	struct load *l = arg;

	return l->issued == l->total && l->inflight == 0;
}

static double run_load(struct member *m, unsigned total, unsigned window, uint64_t *seq)
{
	struct load l = {.m = m, .total = total, .window = window, .seq = *seq};
	uint64_t t0 = uv_hrtime();

	load_fill(&l);
	assert_true(run_until(pred_load_done, &l, 60000));
	*seq = l.seq;
	if (l.failed != 0)
		fail_msg("%u proposals failed, last %s", l.failed, cf_strerror(l.last_error));
	assert_int_equal(l.ok, total);
	return (double)total / ((double)(uv_hrtime() - t0) / 1e9);
}

static bool pred_converged(void *arg)
{
	uint64_t want = *(uint64_t *)arg;

	for (int i = 0; i < N; i++) {
		if (M[i].kv.applied != want || M[i].kv.digest != M[0].kv.digest)
			return false;
	}
	return true;
}

static bool pred_converged_open(void *arg)
{
	uint64_t want = *(uint64_t *)arg;
	struct member *ref = NULL;

	for (int i = 0; i < N; i++) {
		if (M[i].closing)
			continue;
		if (ref == NULL)
			ref = &M[i];
		if (M[i].kv.applied != want || M[i].kv.digest != ref->kv.digest)
			return false;
	}
	return true;
}

struct reads {
	unsigned ok, failed, calls;
};

static void read_cb(void *data, int status)
{
	struct reads *r = data;

	r->calls++;
	if (status == 0)
		r->ok++;
	else
		r->failed++;
}

static bool pred_reads(void *arg)
{
	return ((struct reads *)arg)->calls >= 200;
}

/* One read that checks the linearizability invariant itself. */
struct pread {
	struct node *node;
	uint64_t issued_before; /* read barriers issued when it was queued */
	int calls, status;
	uint64_t answered_by;
};
static unsigned pread_violations;

static void pread_cb(void *data, int status)
{
	struct pread *p = data;
	struct node_read_stats st;

	node__read_stats_get(p->node, &st);
	p->calls++;
	p->status = status;
	p->answered_by = st.answering;
	/* barriers are numbered in issue order: the one answering must have
	 * been issued after this read was queued */
	if (status == 0 && st.answering <= p->issued_before)
		pread_violations++;
}

static bool pred_preads(void *arg)
{
	struct pread *p = arg;

	for (int i = 0; i < 150; i++) {
		if (p[i].calls == 0)
			return false;
	}
	return true;
}

/* Proposals whose callbacks are counted one by one (close path). */
#define N_TRACKED 128
struct tracked {
	int calls, status;
};
static struct tracked trk[N_TRACKED];

static void trk_cb(void *data, int status, void *result)
{
	struct tracked *t = data;

	t->calls++;
	t->status = status;
	kv_result_free(result);
}

static int track_propose(struct member *m, int i, uint64_t *seq)
{
	uint8_t cmd[CMD_LEN];

	memset(cmd, 't', sizeof cmd);
	(*seq)++;
	memcpy(cmd, seq, sizeof *seq);
	return node_propose(m->node, cmd, sizeof cmd, trk_cb, &trk[i]);
}

static bool pred_closed(void *arg)
{
	return ((struct member *)arg)->closed;
}

static void test_cluster(void **state)
{
	struct member *l, *l2;
	uint64_t seq = 0, want, barriers, served, lid, lid2;
	const char *laddr;
	struct node_status st;
	struct reads rd = {0};
	double r1, r64, r256;
	uint64_t t0, t_closed;
	int n_leaders = 0, rv;

	(void)state;
	live_results = 0;
	srand((unsigned)(time(NULL) ^ getpid()));
	pki_make();
	snprintf(base_dir, sizeof base_dir, "/tmp/coffer-node-XXXXXX");
	assert_non_null(mkdtemp(base_dir));
	start_cluster();

	t0 = uv_hrtime();
	assert_true(run_until(pred_leader, NULL, 10000));
	l = leader();
	printf("leader node %llu after %.0f ms\n", (unsigned long long)(l - M + 1),
	       (double)(uv_hrtime() - t0) / 1e6);
	for (int i = 0; i < N; i++)
		n_leaders += M[i].leader_true;
	assert_int_equal(n_leaders, 1);

	/* status and leader as seen by everyone */
	node_get_status(l->node, &st);
	assert_string_equal(st.state, "leader");
	assert_int_equal(st.id, (uint64_t)(l - M + 1));
	assert_true(st.term >= 1);
	for (int i = 0; i < N; i++) {
		if (&M[i] == l)
			continue;
		assert_false(node_is_leader(M[i].node));
		assert_int_equal(node_read_barrier(M[i].node, read_cb, &rd), CF_ENOTLEADER);
		assert_int_equal(node_propose(M[i].node, (const uint8_t *)"x", 1, load_cb, NULL),
				 CF_ENOTLEADER);
	}
	node_leader(l->node, &lid, &laddr);
	assert_int_equal(lid, st.id);
	assert_non_null(laddr);

	/* 1000 proposals, 64 in flight, identical everywhere */
	run_load(l, 1000, 64, &seq);
	want = l->kv.applied;
	assert_int_equal(want, 1000);
	{
		uint64_t cmds, entries;
		node__propose_stats(l->node, &cmds, &entries);
		printf("proposals: %llu commands in %llu raft entries\n",
		       (unsigned long long)cmds, (unsigned long long)entries);
		assert_int_equal(cmds, 1000);
		assert_true(entries < cmds); /* batched */
	}
	assert_true(run_until(pred_converged, &want, 10000));
	for (int i = 0; i < N; i++) {
		node_get_status(M[i].node, &st);
		node_leader(M[i].node, &lid2, NULL);
		assert_int_equal(lid2, lid);
	}
	assert_int_equal(live_results, 0); /* followers' results freed */

	/* batched reads: 10 bursts of 20 */
	for (int burst = 0; burst < 10; burst++) {
		for (int i = 0; i < 20; i++)
			assert_int_equal(node_read_barrier(l->node, read_cb, &rd), 0);
		uv_run(&loop, UV_RUN_ONCE);
	}
	assert_true(run_until(pred_reads, &rd, 10000));
	assert_int_equal(rd.ok, 200);
	assert_int_equal(rd.failed, 0);
	node__read_stats(l->node, &barriers, &served);
	printf("reads: %llu served with %llu barriers\n", (unsigned long long)served,
	       (unsigned long long)barriers);
	assert_int_equal(served, 200);
	assert_true(barriers < served);
	assert_true(barriers >= 2); /* one per burst at most, 10 bursts */
	assert_true(barriers <= 10);

	/* pipelined barriers: 50 loop iterations back to back, 3 reads queued
	 * in each. Each iteration's check issues one barrier for its reads even
	 * though earlier ones are still in flight (a barrier is a replicated
	 * disk write: far slower than an iteration). */
	{
		static struct pread pr[150];
		struct node_read_stats st0, rs;

		memset(pr, 0, sizeof pr);
		pread_violations = 0;
		node__read_stats_get(l->node, &st0);
		for (int it = 0; it < 50; it++) {
			for (int k = 0; k < 3; k++) {
				struct pread *p = &pr[it * 3 + k];
				node__read_stats_get(l->node, &rs);
				p->node = l->node;
				p->issued_before = rs.issued;
				assert_int_equal(node_read_barrier(l->node, pread_cb, p), 0);
			}
			uv_run(&loop, UV_RUN_NOWAIT);
		}
		assert_true(run_until(pred_preads, pr, 10000));
		node__read_stats_get(l->node, &rs);
		for (int i = 0; i < 150; i++) {
			assert_int_equal(pr[i].calls, 1);
			assert_int_equal(pr[i].status, 0);
			assert_true(pr[i].answered_by > pr[i].issued_before);
		}
		assert_int_equal(pread_violations, 0);
		printf("pipelined reads: 150 served with %llu barriers, up to %u in flight\n",
		       (unsigned long long)(rs.issued - st0.issued), rs.max_in_flight);
		assert_true(rs.issued - st0.issued <= 50); /* one per iteration at most */
		assert_true(rs.issued - st0.issued >= 2);
		assert_true(rs.max_in_flight >= 2); /* really pipelined */
		assert_true(rs.max_in_flight <= 8);
		assert_int_equal(rs.in_flight, 0);
		assert_int_equal(rs.completed, rs.issued);
	}

	/* throughput, printed only */
	r1 = run_load(l, 2000, 1, &seq);
	r64 = run_load(l, 20000, 64, &seq);
	r256 = run_load(l, 20000, 256, &seq);
	printf("commits/s: 1 in flight %.0f, 64 in flight %.0f, 256 in flight %.0f\n", r1, r64,
	       r256);
	{
		uint64_t cmds, entries;
		node__propose_stats(l->node, &cmds, &entries);
		printf("proposals: %llu commands in %llu raft entries (%.1f per entry)\n",
		       (unsigned long long)cmds, (unsigned long long)entries,
		       (double)cmds / (double)entries);
	}
	want = l->kv.applied;
	assert_true(run_until(pred_converged, &want, 20000));
	assert_int_equal(live_results, 0);

	/* close with proposals in flight (raft_apply done) and queued (not
	 * yet flushed): new work refused at once, leadership reported lost
	 * once, every proposal called back exactly once */
	memset(trk, 0, sizeof trk);
	for (int i = 0; i < N_TRACKED; i++) {
		if (i == N_TRACKED / 2)
			uv_run(&loop, UV_RUN_NOWAIT); /* the first half goes out */
		assert_int_equal(track_propose(l, i, &seq), 0);
	}
	l->closing = true;
	t0 = uv_hrtime();
	node_close(l->node, close_cb, l);
	rv = node_propose(l->node, (const uint8_t *)"x", 1, load_cb, NULL);
	assert_int_equal(rv, CF_ESHUTDOWN);
	assert_int_equal(node_read_barrier(l->node, read_cb, &rd), CF_ESHUTDOWN);
	assert_int_equal(l->leader_false, 1);

	/* planned stop of the leader hands leadership over: a new leader
	 * (post-election barrier done) well before any election timeout */
	assert_true(run_until(pred_closed, l, 10000));
	t_closed = uv_hrtime();
	assert_true(run_until(pred_leader, NULL, 10000));
	l2 = leader();
	assert_true(l2 != l);
	{
		double after_close = (double)(uv_hrtime() - t0) / 1e6;
		double after_cb = (double)(uv_hrtime() - t_closed) / 1e6;
		unsigned ok = 0, shut = 0, lost = 0;

		printf("new leader node %llu %.0f ms after closing the old one "
		       "(close took %.0f ms, +%.0f ms after its callback)\n",
		       (unsigned long long)(l2 - M + 1), after_close,
		       (double)(t_closed - t0) / 1e6, after_cb);
		assert_true(after_cb < 300);
		assert_true(after_close < 1000); /* below the election timeout */
		for (int i = 0; i < N_TRACKED; i++) {
			assert_int_equal(trk[i].calls, 1);
			if (trk[i].status == 0)
				ok++;
			else if (trk[i].status == CF_ESHUTDOWN)
				shut++;
			else if (trk[i].status == CF_ELEADERSHIPLOST)
				lost++;
			else
				fail_msg("proposal %d: %s", i, cf_strerror(trk[i].status));
		}
		printf("proposals at close: %u applied, %u shutdown, %u leadership lost\n",
		       ok, shut, lost);
		assert_true(ok >= N_TRACKED / 2); /* the flushed half drained */
	}
	run_load(l2, 500, 16, &seq);
	want = l2->kv.applied;
	assert_true(run_until(pred_converged_open, &want, 10000));
	assert_true(l->closed);
	close_all();
	for (int i = 0; i < N_TRACKED; i++)
		assert_int_equal(trk[i].calls, 1); /* nothing fired late */
	assert_int_equal(l->leader_false, 1);
	assert_int_equal(l2->leader_false, 1);
	assert_int_equal(live_results, 0);
	nftw(base_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster, setup, teardown),
	};
	int rv = cmocka_run_group_tests_name("node_cluster", tests, NULL, NULL);

	pki_remove();
	return rv;
}
