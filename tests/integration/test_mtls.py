"""Mutual TLS between the nodes of a region: the raft and relay ports refuse
plain TCP, certificates of another CA and of another region; an on-path
proxy that flips one byte gets the raft link dropped and raft recovers when
it stops; a capture of raft traffic never holds a secret's value or name;
"forwarded" from an ordinary client is ignored; 2,000 raft-port connections
to a node limited to 1,024 descriptors leave RPC clients served."""
import os
import resource
import signal
import socket
import ssl
import subprocess
import threading
import time

from conftest import COFFER, COFFERD, pick_base, parse_env_file, Cli
from rawclient import Raw, envelope, error_of, field_bytes, field_varint


def tls_init(d, regions, nodes=1):
    subprocess.run([COFFER, "operator", "tls-init", "--dir", d, "--regions", regions,
                    "--nodes", str(nodes)], check=True, capture_output=True, timeout=30)


def hostport(addr):
    h, p = addr.rsplit(":", 1)
    return h, int(p)


def tls_attempt(addr, ca, cert=None, key=None):
    """'refused' if the handshake fails or the server closes the connection
    within 3 s, else 'open' (the server waits for our raft handshake)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    s = socket.create_connection(hostport(addr), timeout=3)
    try:
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        data = t.recv(1)
        return "open" if data else "refused"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError, OSError) as e:
        if isinstance(e, socket.timeout):
            return "open"
        return "refused"
    finally:
        s.close()


def plain_refused(addr):
    s = socket.create_connection(hostport(addr), timeout=6)
    try:
        s.sendall(b"\x43\x4f\x46\x52\x46\x54\x33\x00" + b"\x01" * 200)
        data = s.recv(64)
        # a TLS server answers a non-TLS hello with an alert at most, never data
        return data == b"" or data[:1] == b"\x15"
    except (ConnectionResetError, OSError):
        return True
    finally:
        s.close()


def test_ports_refuse_strangers(cluster, workdir):
    tls = os.path.join(cluster.dir, "tls")
    ca = os.path.join(tls, "ca.pem")
    own = (os.path.join(tls, "us-east-1", "n1", "cert.pem"),
           os.path.join(tls, "us-east-1", "n1", "key.pem"))
    other_ca = os.path.join(workdir, "other")
    tls_init(other_ca, "us-east-1")
    foreign = (os.path.join(other_ca, "us-east-1", "n1", "cert.pem"),
               os.path.join(other_ca, "us-east-1", "n1", "key.pem"))
    tls_init(tls, "eu-west-1")  # same CA (kept), another region
    other_region = (os.path.join(tls, "eu-west-1", "n1", "cert.pem"),
                    os.path.join(tls, "eu-west-1", "n1", "key.pem"))
    raft = cluster.members[2]["raft"]
    rpc = cluster.members[2]["rpc"]

    assert plain_refused(raft)
    assert plain_refused(rpc)
    # positive control: a member's own certificate gets through TLS (and
    # then waits for our handshake)
    assert tls_attempt(raft, ca, *own) == "open"
    assert tls_attempt(raft, ca) == "refused"                      # no certificate
    assert tls_attempt(raft, os.path.join(other_ca, "ca.pem"), *foreign) == "refused"
    assert tls_attempt(raft, ca, *foreign) == "refused"
    assert tls_attempt(raft, ca, *other_region) == "refused"
    # the relay (RPC) port: a certificate of another CA fails the handshake
    assert tls_attempt(rpc, ca, *foreign) == "refused"
    # the cluster still works
    cluster.cli.run("create-secret", "--name", "after-strangers", "--secret-string", "v")


def test_forwarded_flag_from_client_is_ignored(cluster):
    leader = cluster.leader()
    follower = next(n for n in cluster.members if n != leader)
    cluster.cli.run("create-secret", "--name", "fwd", "--secret-string", "fwd-value")
    akid, secret = cluster.env["AWS_ACCESS_KEY_ID"], cluster.env["AWS_SECRET_ACCESS_KEY"]
    r = Raw(cluster.members[follower]["rpc"], cluster.env["COFFER_CA_FILE"])
    try:
        # forwarded = true from a client: the follower must still relay it
        # (without the check it would answer "changing leader; retry")
        r.send_frame(envelope(1, "GetSecretValue", field_bytes(1, "fwd"), akid, secret)
                     + field_varint(6, 1))
        env = r.recv_frame()
        assert error_of(env) is None, error_of(env)
        assert b"fwd-value" in env[4][0]
        # and it cannot skip authentication either
        r.send_frame(envelope(2, "GetSecretValue", field_bytes(1, "fwd"), akid, "x" * 40)
                     + field_varint(6, 1))
        assert error_of(r.recv_frame()) is not None
    finally:
        r.close()


class Proxy:
    """TCP proxy on loopback: records both directions; can flip the last byte
    of every chunk from the dialer after its first two (TLS handshake)."""

    def __init__(self, target):
        self.target = target
        self.flip = False
        self.flipped = 0
        self.dropped_after_flip = 0
        self.capture = bytearray()
        self.lock = threading.Lock()
        self.stop = False
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True)]
        self.threads[0].start()

    def accept_loop(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            for a, b, dialer in ((c, u, True), (u, c, False)):
                t = threading.Thread(target=self.pipe, args=(a, b, dialer), daemon=True)
                t.start()

    def pipe(self, src, dst, dialer):
        chunks = 0
        flipped_here = False
        src.settimeout(0.5)
        try:
            while not self.stop:
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                chunks += 1
                with self.lock:
                    self.capture += data
                    if dialer and self.flip and chunks > 2:
                        data = data[:-1] + bytes([data[-1] ^ 0x01])
                        self.flipped += 1
                        flipped_here = True
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if flipped_here:
                with self.lock:
                    self.dropped_after_flip += 1
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.stop = True
        self.ls.close()


def rebootstrap_through(cluster, nid, proxy_port):
    """Restart the region from scratch with member nid's raft address
    pointing at the proxy (its own listener stays where it was)."""
    cluster.down()
    real = cluster.members[nid]["raft"]
    for m in cluster.members.values():
        subprocess.run(["rm", "-rf", os.path.join(m["data"], "raft")], check=True)
        conf = os.path.join(m["data"], "cofferd.conf")
        with open(conf) as f:
            lines = f.read().splitlines()
        out = [l.replace(f",{real},", f",127.0.0.1:{proxy_port},")
               if l.startswith(f"member = {nid},") else l for l in lines]
        with open(conf, "w") as f:
            f.write("\n".join(out) + "\n")
    for n in cluster.members:
        cluster.restart(n)


def put_ok(cli, name, value, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = cli.run("put-secret-value", "--secret-id", name, "--secret-string", value,
                    check=False, timeout=15)
        if p.returncode == 0:
            return True
        time.sleep(0.3)
    return False


def test_mitm_flip_and_capture(cluster):
    target = hostport(cluster.members[3]["raft"])
    proxy = Proxy(target)
    try:
        rebootstrap_through(cluster, 3, proxy.port)
        # replies travel to the address a dialer announces (node 3's real
        # one): the proxied direction is leader -> 3, so 3 must not lead
        if cluster.leader(timeout=30) == 3:
            cluster.kill(3)
            cluster.leader(timeout=30, exclude=(3,))
            cluster.restart(3)
        canary_name, canary = "mtls-canary-name-Zq81", "mtls-canary-value-7f3e0c9a"
        cluster.cli.run("create-secret", "--name", canary_name, "--secret-string", canary,
                        timeout=30)
        assert put_ok(cluster.cli, canary_name, canary + "-2", 20)
        # the proxy carried raft traffic, none of it readable
        deadline = time.time() + 10
        while len(proxy.capture) < 5000 and time.time() < deadline:
            time.sleep(0.2)
        with proxy.lock:
            cap = bytes(proxy.capture)
        assert len(cap) > 5000
        assert canary.encode() not in cap and canary_name.encode() not in cap

        # make commits depend on the proxied link: stop the node that is
        # neither the leader nor behind the proxy
        leader = cluster.leader(exclude=(3,))
        victim = next(n for n in (1, 2) if n != leader)
        cluster.kill(victim)
        assert put_ok(cluster.cli, canary_name, "v3", 30)

        proxy.flip = True
        deadline = time.time() + 15
        while proxy.dropped_after_flip < 1 and time.time() < deadline:
            time.sleep(0.2)
        assert proxy.dropped_after_flip >= 1, "an altered record did not drop the link"
        p = cluster.cli.run("put-secret-value", "--secret-id", canary_name,
                            "--secret-string", "during-flip", check=False, timeout=20)
        with open(os.path.join(cluster.members[3]["data"], "cofferd.log"),
                  errors="replace") as f:
            log = f.read()
        assert "TLS record refused" in log or "TLS handshake failed" in log
        proxy.flip = False
        assert put_ok(cluster.cli, canary_name, "after-flip", 30), cluster.logs()
        del p
    finally:
        proxy.close()


def test_raft_port_flood_leaves_rpc_served(workdir):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192)
    if want < 2300:
        import pytest
        pytest.skip("cannot raise RLIMIT_NOFILE enough for 2,000 connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    d = os.path.join(workdir, "dev")
    base = pick_base()
    rpc, raft = f"127.0.0.1:{base + 1}", f"127.0.0.1:{base + 101}"
    log = open(os.path.join(workdir, "dev.log"), "ab")
    proc = subprocess.Popen(
        ["bash", "-c", f"ulimit -n 1024; exec {COFFERD} --dev --data-dir {d} "
                       f"--rpc-addr {rpc} --raft-addr {raft}"],
        stdout=log, stderr=subprocess.STDOUT)
    socks = []
    try:
        env_path = os.path.join(d, "dev.env")
        deadline = time.time() + 20
        while not os.path.exists(env_path) and time.time() < deadline:
            time.sleep(0.1)
        cli = Cli(parse_env_file(env_path))
        deadline = time.time() + 20
        while time.time() < deadline:
            if cli.run("cluster", "status", check=False, timeout=5).returncode == 0:
                break
            time.sleep(0.1)
        cli.run("create-secret", "--name", "flood", "--secret-string", "still-here")
        host, port = hostport(raft)
        for _ in range(2000):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect_ex((host, port))
            except OSError:
                pass
            socks.append(s)
        time.sleep(0.5)
        t0 = time.time()
        p = cli.run("get-secret-value", "--secret-id", "flood", timeout=10)
        assert "still-here" in p.stdout
        assert time.time() - t0 < 5
        assert proc.poll() is None
        with open(f"/proc/{proc.pid}/limits") as f:
            assert any("Max open files" in l and "1024" in l for l in f)
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
