"""Multi-process test harness: real cofferd processes on loopback.

Every process a test starts is stopped by PID when the test ends. Ports are
picked at random from a high range and checked free first; all traffic stays
on 127.0.0.1.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("COFFER_BUILD", os.path.join(TOP, "build"))
COFFERD = os.path.join(BUILD, "cofferd")
COFFER = os.path.join(BUILD, "coffer")
LOCAL_CLUSTER = os.path.join(TOP, "deploy", "local-cluster.sh")


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_base(span=200):
    for _ in range(50):
        base = random.randrange(20000, 50000, 10)
        if all(port_free(base + off + i) for off in (0, 100, 200) for i in range(1, 10)):
            return base
    raise RuntimeError("no free port range")


def parse_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("export "):
                continue
            k, _, v = line[len("export "):].partition("=")
            env[k] = v.strip("'\"")
    return env


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


class Cli:
    def __init__(self, env):
        self.env = dict(os.environ)
        self.env.update(env)

    def run(self, *args, endpoint=None, timeout=30, check=True):
        env = dict(self.env)
        if endpoint:
            env["COFFER_ENDPOINT"] = endpoint
        p = subprocess.run([COFFER, *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"coffer {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def json(self, *args, **kw):
        p = self.run(*args, **kw)
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def error(self, *args, **kw):
        """Run a command that must fail; return its AWS error name."""
        p = self.run(*args, check=False, **kw)
        assert p.returncode != 0, f"coffer {' '.join(args)} unexpectedly succeeded: {p.stdout}"
        start = p.stderr.find("(")
        end = p.stderr.find(")", start)
        return p.stderr[start + 1:end] if start >= 0 else p.stderr


class Cluster:
    def __init__(self, root, nodes=3, snapshot_threshold=None):
        self.dir = os.path.join(root, "region")
        self.nodes = nodes
        self.base = pick_base()
        args = [LOCAL_CLUSTER, "up", "--dir", self.dir, "--nodes", str(nodes),
                "--base-port", str(self.base)]
        if snapshot_threshold:
            args += ["--snapshot-threshold", str(snapshot_threshold)]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, COFFER_BIN=BUILD))
        self.read_tsv()
        if p.returncode != 0:
            self.down()
            raise RuntimeError(f"local-cluster up failed: {p.stderr}\n{self.logs()}")
        self.env = parse_env_file(os.path.join(self.dir, "cluster.env"))
        self.cli = Cli(self.env)

    def read_tsv(self):
        self.members = {}
        path = os.path.join(self.dir, "nodes.tsv")
        if not os.path.exists(path):
            return
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                region, nid, pid, rpc, raft, data, cmd = line.split("\t")
                self.members[int(nid)] = {"pid": int(pid), "rpc": rpc, "raft": raft,
                                          "data": data, "cmd": cmd}

    def status(self, endpoint=None):
        return self.cli.json("cluster", "status", endpoint=endpoint, timeout=15)

    def leader(self, timeout=15, exclude=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for nid, m in self.members.items():
                if nid in exclude or not pid_alive(m["pid"]):
                    continue
                try:
                    st = self.status(endpoint=m["rpc"])
                except Exception:
                    continue
                lid = st.get("LeaderId", 0)
                if lid and lid not in exclude:
                    return lid
            time.sleep(0.2)
        raise AssertionError("no leader")

    def kill(self, nid, sig=signal.SIGKILL):
        pid = self.members[nid]["pid"]
        if pid_alive(pid):
            os.kill(pid, sig)
        deadline = time.time() + 15
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        assert not pid_alive(pid)

    def restart(self, nid):
        m = self.members[nid]
        assert not pid_alive(m["pid"])
        # the recorded command backgrounds the node; run it and read the new pid
        p = subprocess.run(["bash", "-c", m["cmd"] + " echo $!"], capture_output=True,
                           text=True, timeout=10)
        m["pid"] = int(p.stdout.strip().split()[-1])

    def endpoints(self, exclude=()):
        return ",".join(m["rpc"] for nid, m in self.members.items() if nid not in exclude)

    def logs(self):
        out = []
        for nid in sorted(self.members):
            path = os.path.join(self.members[nid]["data"], "cofferd.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f"--- n{nid}\n" + "".join(f.readlines()[-30:]))
        return "\n".join(out)

    def down(self):
        subprocess.run([LOCAL_CLUSTER, "down", "--dir", self.dir], capture_output=True,
                       timeout=60)
        for m in self.members.values():
            if pid_alive(m["pid"]):
                os.kill(m["pid"], signal.SIGKILL)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="coffer-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def cluster(workdir, request):
    c = Cluster(workdir)
    yield c
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(c.logs())
    c.down()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class DevNode:
    def __init__(self, root):
        self.dir = os.path.join(root, "dev")
        base = pick_base()
        self.rpc = f"127.0.0.1:{base + 1}"
        self.raft = f"127.0.0.1:{base + 101}"
        self.http = f"127.0.0.1:{base + 2}"
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.dir), "dev.log"), "ab")
        self.proc = subprocess.Popen(
            [COFFERD, "--dev", "--data-dir", self.dir, "--rpc-addr", self.rpc,
             "--raft-addr", self.raft, "--http-addr", self.http],
            stdout=self.log, stderr=subprocess.STDOUT)
        env_path = os.path.join(self.dir, "dev.env")
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(env_path):
                self.env = parse_env_file(env_path)
                self.cli = Cli(self.env)
                try:
                    st = self.cli.json("cluster", "status", timeout=5)
                    if st.get("LeaderId"):
                        return
                except Exception:
                    pass
            assert self.proc.poll() is None, "cofferd --dev exited"
            time.sleep(0.1)
        raise AssertionError("dev node did not come up")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def devnode(workdir):
    n = DevNode(workdir)
    yield n
    n.stop(signal.SIGKILL)
