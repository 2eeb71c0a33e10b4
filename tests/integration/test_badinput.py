"""Bad input on the RPC port: each gets an AWS error or a clean close, and the
node keeps serving everyone else."""
import struct
import time

from rawclient import Raw, envelope, error_of, field_bytes


def good_call(node, call_id=1):
    r = Raw(node.env["COFFER_ENDPOINT"].split(",")[0], node.env["COFFER_CA_FILE"])
    try:
        r.send_frame(envelope(call_id, "GetSecretValue", field_bytes(1, "nope"),
                              node.env["AWS_ACCESS_KEY_ID"], node.env["AWS_SECRET_ACCESS_KEY"]))
        env = r.recv_frame()
        assert env[1] == [call_id]
        return error_of(env)
    finally:
        r.close()


def raw(node):
    return Raw(node.env["COFFER_ENDPOINT"].split(",")[0], node.env["COFFER_CA_FILE"])


def test_bad_frames_close_cleanly(devnode):
    # garbage that is not a protobuf envelope
    r = raw(devnode)
    r.send_frame(b"\xff" * 64)
    assert r.closed_by_peer()
    r.close()
    # oversized length prefix (over the frame cap)
    r = raw(devnode)
    r.send_raw(struct.pack(">I", 64 * 1024 * 1024) + b"x" * 100)
    assert r.closed_by_peer()
    r.close()
    # zero-length frame
    r = raw(devnode)
    r.send_raw(struct.pack(">I", 0))
    assert r.closed_by_peer()
    r.close()
    # truncated frame, then the client goes away
    r = raw(devnode)
    r.send_raw(struct.pack(">I", 1000) + b"abc")
    r.close()
    # plain TCP garbage instead of TLS
    import socket
    host, port = devnode.env["COFFER_ENDPOINT"].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\n\r\n" * 10)
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    # the node still serves
    assert good_call(devnode) == ("ResourceNotFoundException",
                                  "Secrets Manager can't find the specified secret.")


def test_auth_failures_get_aws_errors(devnode):
    env = devnode.env
    akid, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    payload = field_bytes(1, "x")
    cases = [
        (dict(auth=False), "MissingAuthenticationTokenException"),
        (dict(akid=akid, secret=secret, signature="0" * 64), "InvalidSignatureException"),
        (dict(akid=akid, secret="wrong" + secret), "InvalidSignatureException"),
        (dict(akid="CFUNKNOWNKEY0000000", secret=secret), "UnrecognizedClientException"),
        (dict(akid=akid, secret=secret, date="20200101T000000Z"), "InvalidSignatureException"),
        (dict(akid=akid, secret=secret,
              date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 3600))),
         "InvalidSignatureException"),
        (dict(akid=akid, secret=secret, region="eu-west-1"), "InvalidSignatureException"),
        (dict(akid=akid, secret=secret, signature="nothex"), "IncompleteSignatureException"),
    ]
    r = raw(devnode)
    try:
        for i, (kw, want) in enumerate(cases, start=1):
            r.send_frame(envelope(i, "GetSecretValue", payload, **kw))
            ans = r.recv_frame()
            assert ans[1] == [i]
            assert error_of(ans)[0] == want, (kw, error_of(ans))
        # an unknown operation, properly signed
        r.send_frame(envelope(99, "LaunchMissiles", b"", akid, secret))
        assert error_of(r.recv_frame())[0] == "UnknownOperationException"
        # a request payload that is not the operation's message
        r.send_frame(envelope(100, "GetSecretValue", b"\xff\xff\xff", akid, secret))
        err = error_of(r.recv_frame())
        assert err is not None and err[0] in ("SerializationException",
                                              "InvalidParameterException")
        # many calls in flight on one connection, answered by call id
        for i in range(200, 264):
            r.send_frame(envelope(i, "GetSecretValue", payload, akid, secret))
        seen = set()
        for _ in range(64):
            ans = r.recv_frame()
            seen.add(ans[1][0])
            assert error_of(ans)[0] == "ResourceNotFoundException"
        assert seen == set(range(200, 264))
    finally:
        r.close()
    assert good_call(devnode)[0] == "ResourceNotFoundException"


def test_invalid_parameters(devnode):
    cli = devnode.cli
    assert cli.error("create-secret", "--name", "big", "--secret-string",
                     "x" * 65537) in ("InvalidParameterException", "ValidationException")
    cli.json("create-secret", "--name", "p", "--secret-string", "x")
    assert cli.error("delete-secret", "--secret-id", "p", "--recovery-window-in-days", "3") \
        == "InvalidParameterException"
    assert cli.error("delete-secret", "--secret-id", "p", "--recovery-window-in-days", "7",
                     "--force-delete-without-recovery") == "InvalidParameterException"
    assert cli.json("get-secret-value", "--secret-id", "p")["SecretString"] == "x"
