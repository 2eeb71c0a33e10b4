"""Dev mode: a one-node region with generated key, certificate and credentials."""
import os
import signal
import stat

from conftest import DevNode


def test_dev_node_serves_and_keeps_state_across_restart(workdir):
    node = DevNode(workdir)
    try:
        for f in ("root.key", "credentials", "dev.env", "tls/key.pem"):
            mode = stat.S_IMODE(os.stat(os.path.join(node.dir, f)).st_mode)
            assert mode & 0o077 == 0, f"{f} is readable by others: {oct(mode)}"
        env = node.env
        for k in ("COFFER_ENDPOINT", "COFFER_CA_FILE", "AWS_ACCESS_KEY_ID",
                  "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
            assert env.get(k), k
        cli = node.cli
        out = cli.json("create-secret", "--name", "prod/db", "--secret-string",
                       '{"username":"app","password":"s3cret"}')
        assert out["Name"] == "prod/db"
        assert out["ARN"].startswith("arn:aws:secretsmanager:us-east-1:")
        got = cli.json("get-secret-value", "--secret-id", "prod/db")
        assert got["SecretString"] == '{"username":"app","password":"s3cret"}'
        assert got["VersionStages"] == ["AWSCURRENT"]
        cli.json("put-secret-value", "--secret-id", "prod/db", "--secret-string",
                 '{"username":"app","password":"n3w"}')
        versions = cli.json("list-secret-version-ids", "--secret-id", "prod/db")["Versions"]
        stages = sorted(tuple(v["VersionStages"]) for v in versions)
        assert stages == [("AWSCURRENT",), ("AWSPREVIOUS",)]
        creds = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        assert node.stop(signal.SIGTERM) == 0

        node.start()
        assert (node.env["AWS_ACCESS_KEY_ID"], node.env["AWS_SECRET_ACCESS_KEY"]) == creds
        got = node.cli.json("get-secret-value", "--secret-id", "prod/db")
        assert got["SecretString"] == '{"username":"app","password":"n3w"}'
        prev = node.cli.json("get-secret-value", "--secret-id", "prod/db",
                             "--version-stage", "AWSPREVIOUS")
        assert prev["SecretString"] == '{"username":"app","password":"s3cret"}'
    finally:
        node.stop(signal.SIGKILL)


def test_dev_errors_are_aws_errors(devnode):
    cli = devnode.cli
    assert cli.error("get-secret-value", "--secret-id", "missing") == \
        "ResourceNotFoundException"
    assert cli.error("create-secret", "--name", "bad name!", "--secret-string", "x") == \
        "ValidationException"
    cli.json("create-secret", "--name", "dup", "--secret-string", "x")
    assert cli.error("create-secret", "--name", "dup", "--secret-string", "y") == \
        "ResourceExistsException"
