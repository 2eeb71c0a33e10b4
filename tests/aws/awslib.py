"""Helpers for the AWS-compatibility suites: boto3 clients, raw SigV4-signed
requests (botocore.auth.SigV4Auth + http.client) and the Debian AWS CLI.
Kept out of conftest.py so that test modules import them by a name that no
other directory's conftest can shadow."""
import datetime
import http.client
import json
import os
import ssl
import subprocess
import time
import uuid
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

AWS_CLI = "/usr/bin/aws"  # Debian's awscli (v2.9); not whatever `aws` is on PATH
SERVICE = "secretsmanager"


# ---- boto3 ---------------------------------------------------------------------

def boto_client(env, endpoint=None, attempts=2, connect_timeout=3, read_timeout=10,
                ca=None, **creds):
    """A Secrets Manager client for a node's env (dev.env / cluster.env)."""
    endpoint = endpoint or env["AWS_ENDPOINT_URL"]
    verify = None
    if endpoint.startswith("https://"):
        verify = ca or env.get("AWS_CA_BUNDLE")
    cfg = Config(retries={"max_attempts": attempts, "mode": "standard"},
                 connect_timeout=connect_timeout, read_timeout=read_timeout,
                 parameter_validation=True)
    return boto3.session.Session().client(
        SERVICE, endpoint_url=endpoint, verify=verify, config=cfg,
        region_name=creds.get("region", env["AWS_DEFAULT_REGION"]),
        aws_access_key_id=creds.get("akid", env["AWS_ACCESS_KEY_ID"]),
        aws_secret_access_key=creds.get("secret", env["AWS_SECRET_ACCESS_KEY"]))


def err(excinfo):
    """(code, message, http status) of a botocore ClientError."""
    e = excinfo.value if hasattr(excinfo, "value") else excinfo
    r = e.response
    return (r["Error"].get("Code"), r["Error"].get("Message"),
            r["ResponseMetadata"].get("HTTPStatusCode"))


def aws_error(fn, *a, **kw):
    """Call a boto3 method that must fail; return (code, message, status)."""
    with pytest.raises(ClientError) as ei:
        fn(*a, **kw)
    return err(ei)


def uniq(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def strip(resp):
    resp = dict(resp)
    resp.pop("ResponseMetadata", None)
    return resp


def stages_of(sm, sid, include_deprecated=False):
    """{VersionId: sorted labels} from ListSecretVersionIds (None = no member)."""
    r = sm.list_secret_version_ids(SecretId=sid, IncludeDeprecated=include_deprecated)
    out = {}
    for v in r["Versions"]:
        out[v["VersionId"]] = sorted(v["VersionStages"]) if "VersionStages" in v else None
    return out


def describe_stages(sm, sid):
    d = sm.describe_secret(SecretId=sid)
    return {k: sorted(v) for k, v in d.get("VersionIdsToStages", {}).items()}


# ---- raw SigV4-signed requests (botocore.auth.SigV4Auth + http.client) ----------

class RawResponse:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body) if self.body else {}

    @property
    def error_type(self):
        try:
            return self.json().get("__type")
        except ValueError:
            return None

    @property
    def message(self):
        j = self.json()
        return j.get("Message", j.get("message"))

    def __repr__(self):
        return f"<{self.status} {self.headers.get('x-amzn-errortype', '')} {self.body[:300]!r}>"


def raw_call(env, op, payload=None, endpoint=None, body=None, akid=None, secret=None,
             region=None, service=SERVICE, when=None, sign=True, tamper=None,
             extra_headers=None, ca=None, timeout=10):
    """POST one AWS JSON 1.1 request, SigV4-signed by botocore unless sign=False.

    when: a datetime (UTC, naive) to sign at instead of now. tamper: a function
    applied to the body bytes after signing."""
    endpoint = endpoint or env["AWS_ENDPOINT_URL"]
    if body is None:
        body = json.dumps(payload if payload is not None else {}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": f"secretsmanager.{op}"}
    headers.update(extra_headers or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url=endpoint.rstrip("/") + "/",
                                         data=body, headers=headers)
    if sign:
        creds = botocore.credentials.Credentials(akid or env["AWS_ACCESS_KEY_ID"],
                                                 secret or env["AWS_SECRET_ACCESS_KEY"])
        signer = botocore.auth.SigV4Auth(creds, service, region or env["AWS_DEFAULT_REGION"])
        if when is not None:
            with mock.patch.object(botocore.auth, "datetime") as dt:
                dt.datetime.utcnow.return_value = when
                signer.add_auth(req)
        else:
            signer.add_auth(req)
    if tamper:
        body = tamper(body)
    u = urlsplit(endpoint)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca or env.get("AWS_CA_BUNDLE"))
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
        r = conn.getresponse()
        data = r.read()
        return RawResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


# ---- the Debian AWS CLI ---------------------------------------------------------

def aws_cli(env, *args, endpoint=None, timeout=60):
    """Run /usr/bin/aws secretsmanager ARGS against a node; CompletedProcess."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update({
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": env["AWS_DEFAULT_REGION"],
        # nothing from the user's own profile may leak in
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "2", "AWS_RETRY_MODE": "standard",
    })
    endpoint = endpoint or env["AWS_ENDPOINT_URL"]
    if endpoint.startswith("https://") and env.get("AWS_CA_BUNDLE"):
        e["AWS_CA_BUNDLE"] = env["AWS_CA_BUNDLE"]
    cmd = [AWS_CLI, "secretsmanager", *args, "--endpoint-url", endpoint,
           "--output", "json", "--cli-connect-timeout", "5", "--cli-read-timeout", "20"]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)


def wait_until(fn, timeout=10, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last error: {last!r})")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)
