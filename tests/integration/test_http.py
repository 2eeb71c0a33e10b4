"""The AWS endpoint's HTTP layer against a real cofferd, with plain sockets
and http.client: health and metrics, routing, malformed HTTP and the caps,
SigV4 and target errors, keep-alive, pipelining (also beyond the in-flight
bound), Expect: 100-continue, Connection: close / HTTP/1.0, the request
deadline (408) and the idle timeout, and the HTTPS endpoint of a cluster
relaying from a follower. boto3 and the aws CLI are
covered by their own suites."""
import hashlib
import hmac
import http.client
import json
import os
import re
import select
import signal
import socket
import ssl
import time
import uuid

import pytest

from conftest import Cluster, DevNode

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def node(devnode):
    return devnode


def hostport(addr):
    h, _, p = addr.rpartition(":")
    return h, int(p)


# ---- SigV4 (the header form the SDKs use) -----------------------------------

def sign(env, host, target, body, region=None, amz_date=None, extra=None):
    """Headers for a signed AWS JSON 1.1 POST /."""
    region = region or env["AWS_REGION"]
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    day = amz_date[:8]
    headers = {"host": host, "x-amz-date": amz_date, "x-amz-target": target,
               "content-type": "application/x-amz-json-1.1"}
    headers.update(extra or {})
    names = sorted(headers)
    signed = ";".join(names)
    canon = "".join(f"{k}:{headers[k]}\n" for k in names)
    creq = "\n".join(["POST", "/", "", canon, signed, hashlib.sha256(body).hexdigest()])
    scope = f"{day}/{region}/secretsmanager/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, "secretsmanager", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={env['AWS_ACCESS_KEY_ID']}/{scope}, "
                                f"SignedHeaders={signed}, Signature={sig}")
    return headers


def raw_request(env, host, op, payload, extra_headers=None, sign_it=True):
    if op in ("CreateSecret", "PutSecretValue") and "ClientRequestToken" not in payload:
        payload = dict(payload, ClientRequestToken=str(uuid.uuid4()))  # as the SDKs do
    body = json.dumps(payload).encode()
    h = sign(env, host, "secretsmanager." + op, body) if sign_it else {
        "host": host, "x-amz-target": "secretsmanager." + op,
        "content-type": "application/x-amz-json-1.1"}
    lines = ["POST / HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items()]
    lines += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


# ---- a minimal response reader over a socket ----------------------------------

class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


class Conn:
    def __init__(self, addr, tls_ca=None, timeout=10):
        h, p = hostport(addr)
        s = socket.create_connection((h, p), timeout=timeout)
        if tls_ca:
            ctx = ssl.create_default_context(cafile=tls_ca)
            s = ctx.wrap_socket(s, server_hostname=h)
        self.s = s
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read(self, allow_interim=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status, _ = (lines[0].split(" ", 2) + [""])[:3]
        assert version == "HTTP/1.1", lines[0]
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if int(status) == 100:
            assert allow_interim
            return Resp(100, headers, b"")
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return Resp(int(status), headers, body)

    def closed_by_peer(self, timeout=5):
        """True when the server closes (EOF or reset) without sending more."""
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def call(node, op, payload, **kw):
    c = Conn(node.http)
    head, body = raw_request(node.env, node.http, op, payload, **kw)
    c.send(head + body)
    r = c.read()
    c.close()
    return r


def health_ok(node):
    c = http.client.HTTPConnection(*hostport(node.http), timeout=5)
    c.request("GET", "/health")
    r = c.getresponse()
    ok = r.status == 200 and r.read() == b"ok\n"
    c.close()
    return ok


# ---- tests ---------------------------------------------------------------------

def test_health_and_headers(node):
    c = http.client.HTTPConnection(*hostport(node.http), timeout=5)
    c.request("GET", "/health")
    r = c.getresponse()
    assert r.status == 200
    assert r.read() == b"ok\n"
    assert UUID4.match(r.getheader("x-amzn-RequestId"))
    date = r.getheader("Date")
    assert date and date.endswith(" GMT")
    parsed = time.mktime(time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
    assert abs(parsed - time.time()) < 60
    # HEAD: headers only, same connection still usable
    c.request("HEAD", "/health")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    c.request("GET", "/nope")
    r = c.getresponse()
    assert r.status == 404
    r.read()
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 405
    r.read()
    c.close()


def test_metrics(node):
    r = call(node, "CreateSecret", {"Name": "m1", "SecretString": "v1"})
    assert r.status == 200, r.body
    r = call(node, "GetSecretValue", {"SecretId": "nothere"})
    assert r.status == 400
    c = http.client.HTTPConnection(*hostport(node.http), timeout=5)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/plain")
    assert 'coffer_requests_total{api="aws",operation="CreateSecret",outcome="ok"} 1' in text
    assert 'api="aws",operation="GetSecretValue",outcome="ResourceNotFoundException"' in text
    assert 'coffer_raft_state{region="us-east-1",node="1",state="leader"} 1' in text
    assert "coffer_raft_leader_id 1" in text
    c.close()


def test_success_and_aws_error_format(node):
    r = call(node, "CreateSecret", {"Name": "s1", "SecretString": "hello"})
    assert r.status == 200, r.body
    assert r.header("content-type") == "application/x-amz-json-1.1"
    assert UUID4.match(r.header("x-amzn-requestid"))
    assert r.json()["Name"] == "s1"
    r = call(node, "GetSecretValue", {"SecretId": "s1"})
    assert r.status == 200 and r.json()["SecretString"] == "hello"
    r = call(node, "GetSecretValue", {"SecretId": "missing"})
    assert r.status == 400
    assert r.header("x-amzn-errortype") == "ResourceNotFoundException"
    assert r.json()["__type"] == "ResourceNotFoundException"
    assert r.json()["Message"]
    r = call(node, "GetSecretValue", {"SecretId": 12})  # wrong JSON type
    assert r.status == 400 and r.json()["__type"] == "SerializationException"


def test_unknown_target(node):
    r = call(node, "NoSuchOperation", {})
    assert r.status == 400
    assert r.json()["__type"] == "UnknownOperationException"
    assert r.header("x-amzn-errortype") == "UnknownOperationException"
    # a target of another service
    c = Conn(node.http)
    body = b"{}"
    h = sign(node.env, node.http, "kms.ListKeys", body)
    c.send(("POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) +
            "Content-Length: 2\r\n\r\n").encode() + body)
    r = c.read()
    assert r.status == 400 and r.json()["__type"] == "UnknownOperationException"
    c.close()


def test_authentication_errors(node):
    r = call(node, "ListSecrets", {}, sign_it=False)
    assert r.status == 400
    assert r.json()["__type"] == "MissingAuthenticationTokenException"
    assert r.header("x-amzn-errortype") == "MissingAuthenticationTokenException"
    # a tampered body no longer matches the signature
    head, body = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": "abc"})
    c = Conn(node.http)
    c.send(head + body.replace(b"abc", b"abd"))
    r = c.read()
    assert r.status == 400 and r.json()["__type"] == "InvalidSignatureException"
    c.close()


def test_keep_alive_and_pipelining(node):
    for i in (1, 2):
        assert call(node, "CreateSecret", {"Name": f"p{i}", "SecretString": f"value-{i}"}).status == 200
    c = Conn(node.http)
    # two requests one after the other on one connection
    for i in (1, 2):
        head, body = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": f"p{i}"})
        c.send(head + body)
        r = c.read()
        assert r.status == 200 and r.json()["SecretString"] == f"value-{i}"
    # a pipelined pair in one write: answered in order
    data = b""
    for i in (2, 1):
        head, body = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": f"p{i}"})
        data += head + body
    c.send(data)
    assert c.read().json()["SecretString"] == "value-2"
    assert c.read().json()["SecretString"] == "value-1"
    # mixed: an immediate answer (health) between two that wait for the leader
    h1, b1 = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": "p1"})
    c.send(h1 + b1 + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + h1 + b1)
    assert c.read().json()["SecretString"] == "value-1"
    assert c.read().body == b"ok\n"
    assert c.read().json()["SecretString"] == "value-1"
    c.close()


def test_deep_pipeline_beyond_inflight_bound(node):
    assert call(node, "CreateSecret", {"Name": "deep", "SecretString": "d"}).status == 200
    c = Conn(node.http, timeout=20)
    reqs = []
    for i in range(300):
        # alternate ids so the order of answers is checkable
        sid = "deep" if i % 3 else f"missing-{i}"
        head, body = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": sid})
        reqs.append((sid, head + body))
    c.send(b"".join(r for _, r in reqs))
    for sid, _ in reqs:
        r = c.read()
        if sid == "deep":
            assert r.status == 200 and r.json()["SecretString"] == "d"
        else:
            assert r.status == 400 and r.json()["__type"] == "ResourceNotFoundException"
    c.close()
    assert health_ok(node)


def test_expect_100_continue(node):
    assert call(node, "CreateSecret", {"Name": "e1", "SecretString": "ev"}).status == 200
    head, body = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": "e1"},
                             extra_headers={"Expect": "100-continue"})
    c = Conn(node.http)
    c.send(head)
    r = c.read(allow_interim=True)
    assert r.status == 100
    c.send(body)
    r = c.read()
    assert r.status == 200 and r.json()["SecretString"] == "ev"
    # an expectation we do not know: 417, then close
    c = Conn(node.http)
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 2\r\n\r\n")
    assert c.read().status == 417
    assert c.closed_by_peer()
    # too large with 100-continue: 413 without the body being sent
    c = Conn(node.http)
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
           b"Content-Length: 2000000\r\n\r\n")
    assert c.read().status == 413
    assert c.closed_by_peer()


def test_connection_close_and_http10(node):
    c = Conn(node.http)
    c.send(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
           b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    r = c.read()
    assert r.status == 200 and r.header("connection") == "close"
    assert c.buf == b"" and c.closed_by_peer()
    c = Conn(node.http)
    c.send(b"GET /health HTTP/1.0\r\n\r\n")
    r = c.read()
    assert r.status == 200 and r.header("connection") == "close"
    assert c.closed_by_peer()
    c = Conn(node.http)
    c.send(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    r = c.read()
    assert r.status == 200 and r.header("connection") == "keep-alive"
    c.send(b"GET /health HTTP/1.0\r\n\r\n")
    assert c.read().status == 200
    assert c.closed_by_peer()


@pytest.mark.parametrize("data,status", [
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64), 400),
    (b"HELLO THERE\r\n\r\n", 400),
    (b"GET / HTTP/7.0\r\n\r\n", 505),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", 413),
    (b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(70)) + b"\r\n", 431),
])
def test_bad_http(node, data, status):
    c = Conn(node.http)
    c.send(data)
    r = c.read()
    assert r.status == status
    assert r.header("connection") == "close"
    assert c.closed_by_peer()
    assert health_ok(node)


def test_bad_http_after_good_requests_answers_in_order(node):
    c = Conn(node.http)
    h, b = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": "x"})
    c.send(h + b + b"GET /health HTTP/1.1\r\n\r\nBROKEN\r\n\r\n")
    assert c.read().status == 400  # ResourceNotFound for x, waited for the barrier
    assert c.read().body == b"ok\n"
    r = c.read()
    assert r.status == 400 and r.header("connection") == "close"
    assert c.closed_by_peer()


def test_body_cap_exact_and_slow_sender(node):
    # a body at the cap is read (and then rejected by the JSON layer, not by HTTP)
    c = Conn(node.http, timeout=20)
    big = b'{"SecretId":"' + b"a" * (1024 * 1024 - 15) + b'"}'
    assert len(big) == 1024 * 1024
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: secretsmanager.GetSecretValue\r\n"
           b"Content-Length: %d\r\n\r\n" % len(big))
    for i in range(0, len(big), 100000):
        c.send(big[i:i + 100000])
    r = c.read()
    assert r.status == 400 and r.json()["__type"] == "MissingAuthenticationTokenException"
    c.close()


def test_abandoned_connections_and_shutdown(node):
    # clients that leave with answers in flight or mid-request do no harm
    for _ in range(20):
        c = Conn(node.http)
        h, b = raw_request(node.env, node.http, "GetSecretValue", {"SecretId": "x"})
        c.send((h + b) * 5 + h + b[:3])
        c.close()
    c = Conn(node.http)
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    assert health_ok(node)
    assert node.stop(signal.SIGTERM) == 0


# ---- deadlines: a short request timeout and idle timeout via the environment ----

REQ_MS, IDLE_MS = 2000, 3000  # wide margins: CI machines are loaded


@pytest.fixture
def fastnode(workdir, monkeypatch):
    monkeypatch.setenv("COFFER_HTTP_REQUEST_TIMEOUT_MS", str(REQ_MS))
    monkeypatch.setenv("COFFER_IDLE_TIMEOUT_MS", str(IDLE_MS))
    n = DevNode(workdir)
    yield n
    n.stop(signal.SIGKILL)


def dribble_until_answer(c, data, every, limit):
    """Send data a byte at a time every `every` s until the server answers
    (or closes); returns the seconds from the first byte to that moment."""
    t0 = time.monotonic()
    for i in range(len(data)):
        c.send(data[i:i + 1])
        r, _, _ = select.select([c.s], [], [], every)
        if r:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < limit, "no answer: the request deadline did not fire"
    r, _, _ = select.select([c.s], [], [], limit)
    assert r, "no answer: the request deadline did not fire"
    return time.monotonic() - t0


def test_slowloris_gets_408_and_close(fastnode):
    node = fastnode
    c = Conn(node.http)
    # endless headers, one byte every 100 ms: never complete
    took = dribble_until_answer(c, b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100,
                                0.1, 5)
    r = c.read()
    assert r.status == 408 and r.header("connection") == "close"
    assert c.closed_by_peer()
    assert REQ_MS / 1000 - 0.1 <= took <= REQ_MS / 1000 + 1.5, took
    # a slow body (headers complete) is bounded the same way
    c = Conn(node.http)
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    took = dribble_until_answer(c, b"{" * 100, 0.1, 5)
    r = c.read()
    assert r.status == 408 and r.header("connection") == "close"
    assert c.closed_by_peer()
    # Expect: 100-continue and the body never comes: 408 after the "100 Continue"
    c = Conn(node.http)
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
    assert c.read(allow_interim=True).status == 100
    t0 = time.monotonic()
    r = c.read()
    assert r.status == 408 and r.header("connection") == "close"
    assert REQ_MS / 1000 - 0.1 <= time.monotonic() - t0 <= REQ_MS / 1000 + 1.5
    assert c.closed_by_peer()
    assert health_ok(node)


def test_deadline_is_per_request(fastnode):
    # three slow but timely requests on one connection: 3 x 0.9 s > the deadline
    node = fastnode
    c = Conn(node.http)
    req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    for _ in range(3):
        for part in (req[:10], req[10:20], req[20:]):
            c.send(part)
            time.sleep(0.3)
        r = c.read()
        assert r.status == 200 and r.body == b"ok\n"
    c.close()


def test_idle_connection_closed(fastnode):
    node = fastnode
    c = Conn(node.http)
    c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.read().status == 200
    t0 = time.monotonic()
    assert c.closed_by_peer(timeout=IDLE_MS / 1000 + 3)  # EOF, no bytes
    assert IDLE_MS / 1000 - 0.1 <= time.monotonic() - t0 <= IDLE_MS / 1000 + 2.5
    # a connection that never sent a byte goes the same way; the node serves on
    c = Conn(node.http)
    assert c.closed_by_peer(timeout=IDLE_MS / 1000 + 3)
    assert health_ok(node)


def test_cluster_https_and_relay(workdir):
    cl = Cluster(workdir)
    try:
        env = cl.env
        eps = env["COFFER_HTTP_ENDPOINTS"].split(",")
        assert len(eps) == 3 and env["AWS_ENDPOINT_URL"] == eps[0]
        ca = env["AWS_CA_BUNDLE"]
        leader = cl.leader()
        addrs = {i + 1: ep[len("https://"):] for i, ep in enumerate(eps)}
        follower = next(n for n in addrs if n != leader)
        # health on every node (a leader is known everywhere)
        deadline = time.time() + 10
        for n, addr in addrs.items():
            while True:
                c = Conn(addr, tls_ca=ca)
                c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                r = c.read()
                c.close()
                if r.status == 200 or time.time() > deadline:
                    break
                time.sleep(0.2)
            assert r.status == 200, (n, r.body)
        # a write and a read through a follower are relayed to the leader
        c = Conn(addrs[follower], tls_ca=ca)
        for op, payload in (("CreateSecret", {"Name": "c1", "SecretString": "cv"}),
                            ("GetSecretValue", {"SecretId": "c1"})):
            h, b = raw_request(env, addrs[follower], op, payload)
            c.send(h + b)
            r = c.read()
            assert r.status == 200, r.body
        assert r.json()["SecretString"] == "cv"
        c.close()
        # plaintext HTTP on the TLS port gets nowhere, and the node keeps serving
        s = socket.create_connection(hostport(addrs[leader]), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\n\r\n")
        s.settimeout(5)
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")
        s.close()
    finally:
        cl.down()
