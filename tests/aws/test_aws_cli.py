"""Debian's AWS CLI (/usr/bin/aws, v2.9) with --endpoint-url against a dev
node; JSON output parsed; a service error exits 254 with the code in stderr."""
import base64
import json
import os
import re

import pytest

from awslib import AWS_CLI, aws_cli, uniq

pytestmark = pytest.mark.skipif(not os.access(AWS_CLI, os.X_OK),
                                reason=f"{AWS_CLI} (Debian's awscli) is not installed")


def ok(env, *args):
    p = aws_cli(env, *args)
    assert p.returncode == 0, f"aws {' '.join(args)} -> {p.returncode}: {p.stderr}"
    return json.loads(p.stdout) if p.stdout.strip() else {}


def test_cli_lifecycle(dev, tmp_path):
    env = dev.env
    name = uniq("cli/app")
    c = ok(env, "create-secret", "--name", name, "--secret-string", '{"user":"u","pw":"p"}',
           "--description", "from the cli", "--tags", "Key=env,Value=test")
    assert c["Name"] == name and c["VersionId"]
    assert re.match(r"^arn:aws:secretsmanager:us-east-1:\d{12}:secret:%s-[A-Za-z0-9]{6}$"
                    % re.escape(name), c["ARN"]), c["ARN"]
    g = ok(env, "get-secret-value", "--secret-id", name)
    assert json.loads(g["SecretString"]) == {"user": "u", "pw": "p"}
    assert g["VersionStages"] == ["AWSCURRENT"] and g["VersionId"] == c["VersionId"]
    assert isinstance(g["CreatedDate"], str)     # the CLI prints timestamps as ISO text
    p = ok(env, "put-secret-value", "--secret-id", c["ARN"], "--secret-string", "v2")
    assert p["VersionStages"] == ["AWSCURRENT"] and p["VersionId"] != c["VersionId"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01binary\xff")
    p3 = ok(env, "put-secret-value", "--secret-id", name, "--secret-binary", f"fileb://{blob}",
            "--version-stages", "custom")
    g = ok(env, "get-secret-value", "--secret-id", name, "--version-stage", "custom")
    assert base64.b64decode(g["SecretBinary"]) == b"\x00\x01binary\xff"
    lv = ok(env, "list-secret-version-ids", "--secret-id", name)
    stages = {v["VersionId"]: sorted(v["VersionStages"]) for v in lv["Versions"]}
    assert stages == {c["VersionId"]: ["AWSPREVIOUS"], p["VersionId"]: ["AWSCURRENT"],
                      p3["VersionId"]: ["custom"]}
    d = ok(env, "describe-secret", "--secret-id", name)
    assert d["Description"] == "from the cli" and d["Tags"] == [{"Key": "env", "Value": "test"}]
    assert {k: sorted(v) for k, v in d["VersionIdsToStages"].items()} == stages
    assert "KmsKeyId" not in d
    ls = ok(env, "list-secrets", "--filters", f"Key=name,Values={name}")
    assert [s["Name"] for s in ls["SecretList"]] == [name]
    pw = ok(env, "get-random-password", "--password-length", "20", "--exclude-punctuation")
    assert len(pw["RandomPassword"]) == 20 and pw["RandomPassword"].isalnum()
    dl = ok(env, "delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    assert dl["Name"] == name and dl["ARN"] == c["ARN"] and dl["DeletionDate"]
    e = aws_cli(env, "get-secret-value", "--secret-id", name)
    assert e.returncode == 254, (e.returncode, e.stderr)
    assert "ResourceNotFoundException" in e.stderr
    assert "GetSecretValue" in e.stderr


def test_cli_errors_exit_254(dev):
    env = dev.env
    name = uniq("cli-err")
    ok(env, "create-secret", "--name", name, "--secret-string", "x")
    cases = [
        (("create-secret", "--name", name, "--secret-string", "x"), "ResourceExistsException"),
        (("create-secret", "--name", "bad name", "--secret-string", "x"), "ValidationException"),
        (("delete-secret", "--secret-id", name, "--recovery-window-in-days", "3"),
         "InvalidParameterException"),
        (("describe-secret", "--secret-id", uniq("nope")), "ResourceNotFoundException"),
    ]
    for args, code in cases:
        p = aws_cli(env, *args)
        assert p.returncode == 254, (args, p.returncode, p.stderr)
        assert f"({code})" in p.stderr, (args, p.stderr)
    # a bad signature is a service error too
    bad = dict(env, AWS_SECRET_ACCESS_KEY="x" * 40)
    p = aws_cli(bad, "list-secrets")
    assert p.returncode == 254 and "(InvalidSignatureException)" in p.stderr, p.stderr
