"""boto3 against a real 3-node region (deploy/local-cluster.sh): HTTPS with
the region's CA bundle, a follower relaying to the leader, and recovery after
the leader is SIGKILLed."""
import time

import pytest
from botocore.exceptions import SSLError

from awslib import aws_cli, boto_client, uniq


def endpoints(cluster):
    eps = cluster.env["COFFER_HTTP_ENDPOINTS"].split(",")
    assert len(eps) == 3 and all(e.startswith("https://") for e in eps), eps
    assert cluster.env["AWS_ENDPOINT_URL"] == eps[0]
    return {i + 1: ep for i, ep in enumerate(eps)}   # node id -> endpoint


def test_follower_relays_and_leader_failover(cluster):
    env = cluster.env
    eps = endpoints(cluster)
    leader = cluster.leader()
    followers = [n for n in eps if n != leader]
    f1, f2 = followers
    sm = boto_client(env, endpoint=eps[f1], ca=env["AWS_CA_BUNDLE"])
    name = uniq("region/app")
    c = sm.create_secret(Name=name, SecretString="v1", Tags=[{"Key": "k", "Value": "v"}])
    assert c["ARN"].startswith(f"arn:aws:secretsmanager:{env['AWS_DEFAULT_REGION']}:")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    p = sm.put_secret_value(SecretId=name, SecretString="v2")
    assert sm.describe_secret(SecretId=c["ARN"])["VersionIdsToStages"] == {
        c["VersionId"]: ["AWSPREVIOUS"], p["VersionId"]: ["AWSCURRENT"]}
    # the other follower and the leader see the same (reads are linearizable)
    for n in (f2, leader):
        other = boto_client(env, endpoint=eps[n], ca=env["AWS_CA_BUNDLE"])
        assert other.get_secret_value(SecretId=name)["SecretString"] == "v2", n
    # a wrong CA is refused by the client (TLS really is on)
    with pytest.raises(SSLError):
        boto_client(env, endpoint=eps[f1], ca="/etc/ssl/certs/ca-certificates.crt",
                    attempts=1).list_secrets()

    # SIGKILL the leader; a client that may retry, talking to a survivor, gets
    # through again within 10 s (read first, then a write that needs the new leader)
    cluster.kill(leader)
    t0 = time.monotonic()
    retrying = boto_client(env, endpoint=eps[f1], ca=env["AWS_CA_BUNDLE"], attempts=8,
                           connect_timeout=2, read_timeout=5)
    g = retrying.get_secret_value(SecretId=name)
    t_read = time.monotonic() - t0
    assert g["SecretString"] == "v2"
    p3 = retrying.put_secret_value(SecretId=name, SecretString="v3")
    t_write = time.monotonic() - t0
    print(f"failover: read after {t_read:.2f}s, write after {t_write:.2f}s")
    assert t_read <= 10 and t_write <= 10, (t_read, t_write)
    new_leader = cluster.leader(exclude=(leader,))
    assert new_leader in followers
    other = boto_client(env, endpoint=eps[f2], ca=env["AWS_CA_BUNDLE"], attempts=4)
    g = other.get_secret_value(SecretId=name)
    assert (g["SecretString"], g["VersionId"]) == ("v3", p3["VersionId"])
    n2 = uniq("after-failover")
    other.create_secret(Name=n2, SecretString="x")
    assert retrying.get_secret_value(SecretId=n2)["SecretString"] == "x"


def test_cli_over_https(cluster):
    env = cluster.env
    eps = endpoints(cluster)
    leader = cluster.leader()
    follower = next(n for n in eps if n != leader)
    name = uniq("cli-tls")
    p = aws_cli(env, "create-secret", "--name", name, "--secret-string", "tls",
                endpoint=eps[follower])
    assert p.returncode == 0, p.stderr
    p = aws_cli(env, "get-secret-value", "--secret-id", name, "--query", "SecretString",
                endpoint=eps[leader])
    assert p.returncode == 0 and p.stdout.strip() == '"tls"', (p.returncode, p.stdout, p.stderr)
