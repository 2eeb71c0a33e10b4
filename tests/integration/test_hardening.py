"""A hardened process: cofferd is not dumpable, has a core limit of 0 (even
when started with an unlimited one), leaves no core file after SIGABRT with
canaries served through both endpoints, refuses loose modes on its data dir
and secret files, and refuses a non-loopback address in --dev."""
import os
import resource
import signal
import stat
import subprocess
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config

from conftest import COFFERD, Cli, DevNode, parse_env_file, pick_base


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class HardenedDevNode(DevNode):
    """A dev node started from cwd with an unlimited core limit, so that only
    cofferd's own hardening can keep a core file from being written."""

    def __init__(self, root, cwd):
        self.cwd = cwd
        super().__init__(root)

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.dir), "dev.log"), "ab")
        self.proc = subprocess.Popen(
            [COFFERD, "--dev", "--data-dir", self.dir, "--rpc-addr", self.rpc,
             "--raft-addr", self.raft, "--http-addr", self.http],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.cwd,
            preexec_fn=unlimited_core)
        deadline = time.time() + 20
        while time.time() < deadline:
            env_path = os.path.join(self.dir, "dev.env")
            if os.path.exists(env_path):
                self.env = parse_env_file(env_path)
                self.cli = Cli(self.env)
                try:
                    if self.cli.json("cluster", "status", timeout=5).get("LeaderId"):
                        return
                except Exception:
                    pass
            assert self.proc.poll() is None, "cofferd --dev exited"
            time.sleep(0.1)
        raise AssertionError("dev node did not come up")


def core_files(*dirs):
    found = []
    for d in dirs:
        for root, _, files in os.walk(d):
            found += [os.path.join(root, f) for f in files if f.startswith("core")]
    return found


def core_pattern():
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            return f.read().strip()
    except OSError:
        return ""


def limits_core(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    raise AssertionError("no core line in /proc/PID/limits")


def test_not_dumpable_and_no_core_after_abort(workdir):
    cwd = os.path.join(workdir, "cwd")
    os.mkdir(cwd, 0o700)
    # Control: with a plain "core" pattern, a process with an unlimited core
    # limit does leave a core file in this cwd, so the check below can fail.
    control = core_pattern() and not core_pattern().startswith("|") \
        and "/" not in core_pattern()
    if control:
        p = subprocess.run(["sh", "-c", "kill -ABRT $$"], cwd=cwd, preexec_fn=unlimited_core,
                           timeout=10)
        assert p.returncode == -signal.SIGABRT
        made = core_files(cwd)
        assert made, f"control process left no core (pattern {core_pattern()!r})"
        for f in made:
            os.unlink(f)

    node = HardenedDevNode(workdir, cwd)
    try:
        pid = node.proc.pid
        assert limits_core(pid) == ["0", "0"]
        with urllib.request.urlopen(f"http://{node.http}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert "\ncoffer_process_dumpable 0\n" in metrics

        rpc_canary = "rpc-canary-" + uuid.uuid4().hex
        aws_canary = "aws-canary-" + uuid.uuid4().hex
        node.cli.json("create-secret", "--name", "canary/rpc", "--secret-string", rpc_canary)
        assert node.cli.json("get-secret-value", "--secret-id",
                             "canary/rpc")["SecretString"] == rpc_canary
        sm = boto3.session.Session().client(
            "secretsmanager", endpoint_url=node.env["AWS_ENDPOINT_URL"],
            region_name=node.env["AWS_DEFAULT_REGION"],
            aws_access_key_id=node.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=node.env["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=10))
        sm.create_secret(Name="canary/aws", SecretString=aws_canary)
        assert sm.get_secret_value(SecretId="canary/aws")["SecretString"] == aws_canary

        node.proc.send_signal(signal.SIGABRT)
        assert node.proc.wait(timeout=15) == -signal.SIGABRT
        time.sleep(0.2)  # a core, if any, is written before the parent is told
        assert core_files(cwd, node.dir) == []
    finally:
        node.stop(signal.SIGKILL)


def run_dev(data_dir, base):
    """Start cofferd --dev in the foreground; return the process."""
    return subprocess.Popen(
        [COFFERD, "--dev", "--data-dir", data_dir, "--rpc-addr", f"127.0.0.1:{base + 1}",
         "--raft-addr", f"127.0.0.1:{base + 101}", "--http-addr", f"127.0.0.1:{base + 2}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def refused(data_dir, base):
    p = run_dev(data_dir, base)
    try:
        out, _ = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 2, f"cofferd started despite a loose mode: {out}"
    return out


def test_loose_modes_refuse_to_start(workdir):
    node = DevNode(workdir)  # creates the data dir, key, credentials and TLS key
    assert node.stop(signal.SIGTERM) == 0
    d = node.dir
    base = pick_base()
    cases = [
        (d, 0o755, "data dir", "chmod 700"),
        (os.path.join(d, "root.key"), 0o644, "root key file", "chmod 600"),
        (os.path.join(d, "credentials"), 0o640, "credentials file", "chmod 600"),
        (os.path.join(d, "tls", "key.pem"), 0o644, "TLS private key", "chmod 600"),
    ]
    for path, mode, what, fix in cases:
        good = stat.S_IMODE(os.stat(path).st_mode)
        os.chmod(path, mode)
        try:
            out = refused(d, base)
        finally:
            os.chmod(path, good)
        assert f"{what} '{path}'" in out, out
        assert f"mode {mode:04o}" in out, out
        assert f"{fix} '{path}'" in out, out
    # a world-readable certificate is fine: only private keys are checked
    os.chmod(os.path.join(d, "tls", "cert.pem"), 0o644)
    node.start()
    node.stop(signal.SIGKILL)


def test_dev_refuses_non_loopback_addresses(workdir):
    base = pick_base()
    for flag in ("--rpc-addr", "--http-addr"):
        for addr in (f"0.0.0.0:{base + 5}", f"[::]:{base + 5}"):
            p = subprocess.run(
                [COFFERD, "--dev", "--data-dir", os.path.join(workdir, "d"), flag, addr,
                 "--raft-addr", f"127.0.0.1:{base + 101}"],
                capture_output=True, text=True, timeout=15)
            assert p.returncode == 2, p.stderr
            assert f"'{addr}' is not a loopback address" in p.stderr
