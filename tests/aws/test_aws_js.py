"""JS SDK v3 smoke test: tests/aws/js/smoke.mjs against a dev node.

The SDK is installed on first use into tests/aws/js/node_modules (ignored by
git) with npm's ordinary client; no lock file is written. The test is skipped
only when npm/node are missing or the install fails for lack of network."""
import json
import os
import re
import shutil
import subprocess

import pytest

from awslib import uniq

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
SDK = os.path.join(JS, "node_modules", "@aws-sdk", "client-secrets-manager", "package.json")
NETWORK_ERRORS = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|"
                            r"ENETUNREACH|EHOSTUNREACH|network|socket hang up", re.I)


def wanted_version():
    with open(os.path.join(JS, "package.json")) as f:
        return json.load(f)["dependencies"]["@aws-sdk/client-secrets-manager"]


def installed_version():
    try:
        with open(SDK) as f:
            return json.load(f)["version"]
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def js_sdk():
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        pytest.skip("npm/node not installed")
    if installed_version() != wanted_version():
        try:
            p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock"],
                               cwd=JS, capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install timed out (no network?)")
        if p.returncode != 0:
            if NETWORK_ERRORS.search(p.stderr + p.stdout):
                pytest.skip(f"npm install failed for lack of network: {p.stderr[-300:]}")
            pytest.fail(f"npm install failed ({p.returncode}): {p.stderr[-2000:]}")
        assert not os.path.exists(os.path.join(JS, "package-lock.json"))
    assert installed_version() == wanted_version()
    return node


def test_js_sdk_smoke(js_sdk, dev):
    name = uniq("js/smoke")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({k: dev.env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                        "AWS_SECRET_ACCESS_KEY", "AWS_REGION")})
    env.update({"COFFER_SMOKE_NAME": name, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    p = subprocess.run([js_sdk, "smoke.mjs"], cwd=JS, env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, f"smoke.mjs exited {p.returncode}: {p.stderr[-3000:]}"
    out = json.loads(p.stdout)
    arn = out["create"]["ARN"]
    assert out["create"]["Name"] == name and out["create"]["VersionId"]
    assert re.match(r"^[0-9a-f-]{36}$", out["create"]["requestId"])   # x-amzn-RequestId
    assert out["get1"]["SecretString"] == "js-v1"
    assert out["get1"]["VersionStages"] == ["AWSCURRENT"] and out["get1"]["ARN"] == arn
    assert out["put"]["VersionStages"] == ["AWSCURRENT"]
    assert out["get2"]["SecretBinary"] == [0, 1, 2, 255]
    assert out["get2"]["VersionId"] == out["put"]["VersionId"]
    (entry,) = out["list"]["SecretList"]
    assert entry["Name"] == name and entry["Description"] == "from the JS SDK"
    assert entry["Tags"] == [{"Key": "sdk", "Value": "js"}]
    (val,) = out["batch"]["SecretValues"]
    assert val["Name"] == name and val["SecretBinary"] == [0, 1, 2, 255]
    (e,) = out["batch"]["Errors"]
    assert e["SecretId"] == f"{name}-missing" and e["ErrorCode"] == "ResourceNotFoundException"
    assert out["delete"]["Name"] == name and out["delete"]["ARN"] == arn
    assert out["afterDelete"] == {"error": "ResourceNotFoundException",
                                  "message": "Secrets Manager can't find the specified secret.",
                                  "status": 400, "fault": "client"}
