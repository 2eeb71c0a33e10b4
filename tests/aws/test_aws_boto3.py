"""Every Secrets Manager operation through boto3 (Debian's botocore 1.29)
against a real dev node: success paths, the label state machine, idempotency,
deletion/restore, tags, GetRandomPassword, validation and the features that
are not configured. Section numbers refer to
shared/reference/aws-secrets-manager.md."""
import base64
import datetime
import re
import string
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from awslib import (aws_error, describe_stages, raw_call, stages_of, strip, uniq,
                      utcnow)

ARN_RE = r"^arn:aws:secretsmanager:us-east-1:\d{12}:secret:%s-[A-Za-z0-9]{6}$"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED = "You can't perform this operation on the secret because it was marked for deletion."
BAD_NAME = ("Invalid name. Must be a valid name containing alphanumeric characters, "
            "or any of the following: -/_+=.@!")
NO_TOKEN = "You must provide a ClientRequestToken value. We recommend a UUID-type value."


def token_in_use(token, arn):
    return (f"You can't use ClientRequestToken {token} because that value is already in "
            f"use for a version of secret {arn}.")


def near(ts, expected, slack=120):
    return abs((ts - expected).total_seconds()) < slack


# ---- create / get / describe ---------------------------------------------------

def test_create_string_with_tags_and_description_get_by_name_arn_partial_arn(sm):
    name = uniq("app/db")
    r = sm.create_secret(Name=name, SecretString="s3cr3t", Description="the db password",
                         Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "x"}])
    assert set(strip(r)) == {"ARN", "Name", "VersionId"}
    assert re.match(ARN_RE % re.escape(name), r["ARN"]), r["ARN"]
    assert r["Name"] == name and UUID_RE.match(r["VersionId"])
    arn, vid = r["ARN"], r["VersionId"]
    for sid in (name, arn, arn[:-7]):  # name, full ARN, partial ARN (no -XXXXXX)
        g = sm.get_secret_value(SecretId=sid)
        assert g["SecretString"] == "s3cr3t", sid
        assert "SecretBinary" not in g
        assert g["ARN"] == arn and g["Name"] == name and g["VersionId"] == vid
        assert g["VersionStages"] == ["AWSCURRENT"]
        assert near(g["CreatedDate"], utcnow())
    d = sm.describe_secret(SecretId=arn)
    assert d["ARN"] == arn and d["Name"] == name
    assert d["Description"] == "the db password"
    assert sorted((t["Key"], t["Value"]) for t in d["Tags"]) == [("env", "prod"), ("team", "x")]
    assert d["VersionIdsToStages"] == {vid: ["AWSCURRENT"]}
    assert "KmsKeyId" not in d          # default key: omitted (§5.5)
    assert "DeletedDate" not in d
    assert "RotationEnabled" not in d or d["RotationEnabled"] is False
    assert near(d["CreatedDate"], utcnow()) and near(d["LastChangedDate"], utcnow())


def test_create_binary(sm, dev):
    name = uniq("bin")
    data = bytes(range(256)) + b"\x00\xff"
    r = sm.create_secret(Name=name, SecretBinary=data)
    g = sm.get_secret_value(SecretId=name)
    assert g["SecretBinary"] == data and "SecretString" not in g
    assert g["VersionId"] == r["VersionId"]
    # and on the wire it is standard padded base64
    raw = raw_call(dev.env, "GetSecretValue", {"SecretId": name})
    assert raw.status == 200
    assert raw.json()["SecretBinary"] == base64.b64encode(data).decode()


def test_create_without_value(sm):
    name = uniq("empty")
    r = sm.create_secret(Name=name, Description="no value yet")
    assert "VersionId" not in r
    code, msg, status = aws_error(sm.get_secret_value, SecretId=name)
    assert (code, status) == ("ResourceNotFoundException", 400)
    assert msg == "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
    d = sm.describe_secret(SecretId=name)
    assert "VersionIdsToStages" not in d
    assert sm.list_secret_version_ids(SecretId=name)["Versions"] == []


def test_missing_secret_everywhere(sm):
    missing = uniq("missing")
    for fn, kw in ((sm.get_secret_value, {}), (sm.describe_secret, {}),
                   (sm.put_secret_value, {"SecretString": "x"}),
                   (sm.update_secret, {"Description": "d"}),
                   (sm.list_secret_version_ids, {}), (sm.restore_secret, {}),
                   (sm.delete_secret, {}),
                   (sm.tag_resource, {"Tags": [{"Key": "k", "Value": "v"}]}),
                   (sm.untag_resource, {"TagKeys": ["k"]}),
                   (sm.update_secret_version_stage, {"VersionStage": "L",
                                                     "MoveToVersionId": str(uuid.uuid4())})):
        assert aws_error(fn, SecretId=missing, **kw) == ("ResourceNotFoundException",
                                                          NOT_FOUND, 400), fn.__name__


def test_get_by_version_id_and_stage(sm):
    name = uniq("ver")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    g = sm.get_secret_value(SecretId=name, VersionId=v1)
    assert (g["SecretString"], g["VersionId"], g["VersionStages"]) == ("one", v1, ["AWSPREVIOUS"])
    g = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert (g["SecretString"], g["VersionId"]) == ("one", v1)
    g = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert (g["SecretString"], g["VersionId"]) == ("two", v2)
    g = sm.get_secret_value(SecretId=name, VersionId=v2, VersionStage="AWSCURRENT")
    assert g["SecretString"] == "two"
    assert aws_error(sm.get_secret_value, SecretId=name, VersionId=v1,
                     VersionStage="AWSCURRENT") == (
        "InvalidRequestException",
        "You provided a VersionStage that is not associated to the provided VersionId.", 400)
    other = str(uuid.uuid4())
    assert aws_error(sm.get_secret_value, SecretId=name, VersionId=other) == (
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for VersionId: {other}", 400)
    assert aws_error(sm.get_secret_value, SecretId=name, VersionStage="NOPE") == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: NOPE", 400)


# ---- put / update / label state machine (§5.2) -----------------------------------

def test_put_secret_value_current_previous_bookkeeping(sm):
    name = uniq("put")
    c = sm.create_secret(Name=name, SecretString="v1")
    v1 = c["VersionId"]
    p = sm.put_secret_value(SecretId=name, SecretString="v2")
    assert strip(p).keys() == {"ARN", "Name", "VersionId", "VersionStages"}
    assert p["ARN"] == c["ARN"] and p["Name"] == name and p["VersionStages"] == ["AWSCURRENT"]
    v2 = p["VersionId"]
    assert describe_stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    v3 = sm.put_secret_value(SecretId=name, SecretBinary=b"v3")["VersionId"]
    # v1 lost AWSPREVIOUS and is deprecated: hidden from the map and the default listing
    assert describe_stages(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert stages_of(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    # ... but listed with IncludeDeprecated, with no VersionStages member at all
    assert stages_of(sm, name, include_deprecated=True) == {
        v1: None, v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    # and still readable by id
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "v1"
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"v3"


def test_list_secret_version_ids_fields(sm):
    name = uniq("lsv")
    c = sm.create_secret(Name=name, SecretString="a")
    r = sm.list_secret_version_ids(SecretId=name)
    assert r["ARN"] == c["ARN"] and r["Name"] == name
    (v,) = r["Versions"]
    assert v["VersionId"] == c["VersionId"] and v["VersionStages"] == ["AWSCURRENT"]
    assert v["KmsKeyIds"] == ["DefaultEncryptionKey"]
    assert near(v["CreatedDate"], utcnow())


def test_list_secret_version_ids_paging(sm):
    name = uniq("lsvp")
    vids = [sm.create_secret(Name=name, SecretString="0")["VersionId"]]
    for i in range(1, 5):
        vids.append(sm.put_secret_value(SecretId=name, SecretString=str(i),
                                        VersionStages=[f"L{i}"])["VersionId"])
    seen, token, pages = [], None, 0
    while True:
        kw = {"SecretId": name, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        r = sm.list_secret_version_ids(**kw)
        assert len(r["Versions"]) <= 2
        seen += [v["VersionId"] for v in r["Versions"]]
        token = r.get("NextToken")
        pages += 1
        if not token:
            break
        assert pages < 10
    assert sorted(seen) == sorted(vids) and pages >= 3
    code, _, _ = aws_error(sm.list_secret_version_ids, SecretId=name, NextToken="garbage")
    assert code == "InvalidNextTokenException"
    code, _, _ = aws_error(sm.list_secret_version_ids, SecretId=name, MaxResults=101)
    assert code == "ValidationException"


def test_empty_description_is_omitted(sm):
    name = uniq("nodesc")
    sm.create_secret(Name=name, SecretString="x", Description="")
    assert "Description" not in sm.describe_secret(SecretId=name)
    sm.update_secret(SecretId=name, Description="set")
    assert sm.describe_secret(SecretId=name)["Description"] == "set"


def test_update_secret_description_only_then_value(sm):
    name = uniq("upd")
    c = sm.create_secret(Name=name, SecretString="old", Description="first")
    u = sm.update_secret(SecretId=name, Description="second")
    assert strip(u).keys() == {"ARN", "Name"}, u        # no VersionId without a value
    assert u["ARN"] == c["ARN"]
    d = sm.describe_secret(SecretId=name)
    assert d["Description"] == "second"
    assert d["VersionIdsToStages"] == {c["VersionId"]: ["AWSCURRENT"]}
    u = sm.update_secret(SecretId=name, SecretString="new")
    assert UUID_RE.match(u["VersionId"]) and u["VersionId"] != c["VersionId"]
    assert describe_stages(sm, name) == {c["VersionId"]: ["AWSPREVIOUS"],
                                         u["VersionId"]: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "new"
    assert sm.describe_secret(SecretId=name)["Description"] == "second"
    u2 = sm.update_secret(SecretId=name, SecretBinary=b"\x01\x02", Description="third")
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"\x01\x02"
    assert describe_stages(sm, name) == {u["VersionId"]: ["AWSPREVIOUS"],
                                         u2["VersionId"]: ["AWSCURRENT"]}


def test_put_with_custom_stages_one_two_three_then_four(sm):
    name = uniq("labels")
    v1 = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    p2 = sm.put_secret_value(SecretId=name, SecretString="v2",
                             VersionStages=["one", "two", "three"])
    v2 = p2["VersionId"]
    assert sorted(p2["VersionStages"]) == ["one", "three", "two"]
    # without AWSCURRENT in the list, AWSCURRENT stays where it is
    assert describe_stages(sm, name) == {v1: ["AWSCURRENT"], v2: ["one", "three", "two"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    v3 = sm.put_secret_value(SecretId=name, SecretString="v3",
                             VersionStages=["one", "two", "four"])["VersionId"]
    assert describe_stages(sm, name) == {v1: ["AWSCURRENT"], v2: ["three"],
                                         v3: ["four", "one", "two"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="one")["SecretString"] == "v3"
    assert sm.get_secret_value(SecretId=name, VersionStage="three")["SecretString"] == "v2"
    # AWSPENDING alone leaves the current value alone
    v4 = sm.put_secret_value(SecretId=name, SecretString="v4",
                             VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId=name)["VersionId"] == v1
    # taking the last label off v2 deprecates it
    v5 = sm.put_secret_value(SecretId=name, SecretString="v5",
                             VersionStages=["three", "AWSCURRENT"])["VersionId"]
    assert describe_stages(sm, name) == {v1: ["AWSPREVIOUS"], v3: ["four", "one", "two"],
                                         v4: ["AWSPENDING"], v5: ["AWSCURRENT", "three"]}
    assert stages_of(sm, name, include_deprecated=True)[v2] is None


def test_first_version_gets_awscurrent_even_with_custom_stages(sm):
    name = uniq("first")
    sm.create_secret(Name=name)
    p = sm.put_secret_value(SecretId=name, SecretString="x", VersionStages=["custom"])
    assert sorted(p["VersionStages"]) == ["AWSCURRENT", "custom"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"


def test_put_drops_awspending_from_old_current(sm):
    name = uniq("pend")
    v1 = sm.create_secret(Name=name, SecretString="a")["VersionId"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", MoveToVersionId=v1)
    assert describe_stages(sm, name) == {v1: ["AWSCURRENT", "AWSPENDING"]}
    v2 = sm.put_secret_value(SecretId=name, SecretString="b")["VersionId"]
    assert describe_stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}


def test_update_secret_version_stage_moves(sm):
    name = uniq("stage")
    arn = sm.create_secret(Name=name, SecretString="1")["ARN"]
    v1 = sm.get_secret_value(SecretId=name)["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="2")["VersionId"]
    v3 = sm.put_secret_value(SecretId=name, SecretString="3",
                             VersionStages=["AWSPENDING", "blue"])["VersionId"]
    assert describe_stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"],
                                         v3: ["AWSPENDING", "blue"]}
    # AWSCURRENT elsewhere and no RemoveFromVersionId: refused, with AWS's text
    assert aws_error(sm.update_secret_version_stage, SecretId=name, VersionStage="AWSCURRENT",
                     MoveToVersionId=v3) == (
        "InvalidParameterException",
        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is "
        f"currently attached to version {v2}, so you must explicitly reference that version "
        "in RemoveFromVersionId.", 400)
    # wrong RemoveFromVersionId: refused too
    code, _, status = aws_error(sm.update_secret_version_stage, SecretId=name,
                                VersionStage="AWSCURRENT", MoveToVersionId=v3,
                                RemoveFromVersionId=v1)
    assert (code, status) == ("InvalidParameterException", 400)
    # unknown version id
    code, _, _ = aws_error(sm.update_secret_version_stage, SecretId=name,
                           VersionStage="blue", MoveToVersionId=str(uuid.uuid4()))
    assert code == "InvalidParameterException"
    assert describe_stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"],
                                         v3: ["AWSPENDING", "blue"]}
    # moving AWSCURRENT v2 -> v3 (finishSecret): v3 keeps its labels, v2 gets AWSPREVIOUS,
    # v1 loses AWSPREVIOUS and is deprecated
    r = sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                       MoveToVersionId=v3, RemoveFromVersionId=v2)
    assert strip(r) == {"ARN": arn, "Name": name}
    assert describe_stages(sm, name) == {v2: ["AWSPREVIOUS"],
                                         v3: ["AWSCURRENT", "AWSPENDING", "blue"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "3"
    # a custom label: attach (only MoveTo), move (both), detach (only RemoveFrom);
    # none of it touches AWSPREVIOUS
    sm.update_secret_version_stage(SecretId=name, VersionStage="green", MoveToVersionId=v1)
    assert describe_stages(sm, name) == {v1: ["green"], v2: ["AWSPREVIOUS"],
                                         v3: ["AWSCURRENT", "AWSPENDING", "blue"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v2,
                                   RemoveFromVersionId=v3)
    assert describe_stages(sm, name) == {v1: ["green"], v2: ["AWSPREVIOUS", "blue"],
                                         v3: ["AWSCURRENT", "AWSPENDING"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="green", RemoveFromVersionId=v1)
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING",
                                   RemoveFromVersionId=v3)
    assert describe_stages(sm, name) == {v2: ["AWSPREVIOUS", "blue"], v3: ["AWSCURRENT"]}
    # moving AWSCURRENT back onto the AWSPREVIOUS holder: it loses AWSPREVIOUS [E],
    # v3 gets it; custom labels on both stay
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                   MoveToVersionId=v2, RemoveFromVersionId=v3)
    assert describe_stages(sm, name) == {v2: ["AWSCURRENT", "blue"], v3: ["AWSPREVIOUS"]}


# ---- idempotency (§5.1) ----------------------------------------------------------

def test_create_secret_token_replay_and_conflicts(sm):
    name = uniq("idem")
    tok = str(uuid.uuid4())
    a = sm.create_secret(Name=name, SecretString="same", ClientRequestToken=tok)
    b = sm.create_secret(Name=name, SecretString="same", ClientRequestToken=tok)
    assert a["VersionId"] == tok
    assert (b["ARN"], b["Name"], b["VersionId"]) == (a["ARN"], a["Name"], tok)
    assert stages_of(sm, name, include_deprecated=True) == {tok: ["AWSCURRENT"]}
    # same token, different value
    assert aws_error(sm.create_secret, Name=name, SecretString="other",
                     ClientRequestToken=tok) == (
        "ResourceExistsException", token_in_use(tok, a["ARN"]), 400)
    # another token (as a plain re-run of the CLI would send)
    assert aws_error(sm.create_secret, Name=name, SecretString="same") == (
        "ResourceExistsException", f"The operation failed because the secret {name} already exists.",
        400)
    assert stages_of(sm, name, include_deprecated=True) == {tok: ["AWSCURRENT"]}


def test_put_and_update_token_replay_and_conflicts(sm):
    name = uniq("idem")
    arn = sm.create_secret(Name=name, SecretString="v1")["ARN"]
    v1 = sm.get_secret_value(SecretId=name)["VersionId"]
    tok = str(uuid.uuid4())
    p1 = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=tok)
    p2 = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=tok)
    assert p1["VersionId"] == p2["VersionId"] == tok
    assert sorted(p2["VersionStages"]) == ["AWSCURRENT"]
    # no new version, no label shuffle: v1 is still AWSPREVIOUS
    assert stages_of(sm, name, include_deprecated=True) == {v1: ["AWSPREVIOUS"],
                                                            tok: ["AWSCURRENT"]}
    assert aws_error(sm.put_secret_value, SecretId=name, SecretString="v2-changed",
                     ClientRequestToken=tok) == (
        "ResourceExistsException", token_in_use(tok, arn), 400)
    assert aws_error(sm.put_secret_value, SecretId=name, SecretBinary=b"v2",
                     ClientRequestToken=tok)[0] == "ResourceExistsException"
    # UpdateSecret with an existing token and the same value succeeds with that id [V]
    u = sm.update_secret(SecretId=name, SecretString="v2", ClientRequestToken=tok)
    assert u["VersionId"] == tok
    assert aws_error(sm.update_secret, SecretId=name, SecretString="v9",
                     ClientRequestToken=tok) == (
        "ResourceExistsException", token_in_use(tok, arn), 400)
    assert stages_of(sm, name, include_deprecated=True) == {v1: ["AWSPREVIOUS"],
                                                            tok: ["AWSCURRENT"]}
    # the same token on another secret is a new version there
    other = uniq("idem2")
    sm.create_secret(Name=other, SecretString="v2", ClientRequestToken=tok)
    assert sm.get_secret_value(SecretId=other)["VersionId"] == tok


def test_raw_request_without_client_request_token(sm, dev):
    name = uniq("notok")
    r = raw_call(dev.env, "CreateSecret", {"Name": name, "SecretString": "x"})
    assert (r.status, r.error_type, r.message) == (400, "InvalidRequestException", NO_TOKEN), r
    assert aws_error(sm.describe_secret, SecretId=name)[0] == "ResourceNotFoundException"
    sm.create_secret(Name=name, SecretString="x")
    for op, payload in (("PutSecretValue", {"SecretId": name, "SecretString": "y"}),
                        ("UpdateSecret", {"SecretId": name, "SecretString": "y"})):
        r = raw_call(dev.env, op, payload)
        assert (r.status, r.error_type, r.message) == (400, "InvalidRequestException",
                                                       NO_TOKEN), (op, r)
    # UpdateSecret without a value needs no token
    r = raw_call(dev.env, "UpdateSecret", {"SecretId": name, "Description": "d"})
    assert r.status == 200, r
    assert len(stages_of(sm, name, include_deprecated=True)) == 1
    # a token outside 32-64 characters
    r = raw_call(dev.env, "PutSecretValue", {"SecretId": name, "SecretString": "y",
                                             "ClientRequestToken": "short-token"})
    assert (r.status, r.error_type) == (400, "ValidationException"), r


# ---- validation ------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["has space", "star*", "q?", "br]", "back\\slash", "bang!",
                                 "semi;colon", "uml\u00e4ut"])
def test_bad_names(sm, bad):
    assert aws_error(sm.create_secret, Name=bad, SecretString="x") == (
        "ValidationException", BAD_NAME, 400)
    # the same check on a name-form SecretId
    assert aws_error(sm.get_secret_value, SecretId=bad) == ("ValidationException", BAD_NAME, 400)
    assert aws_error(sm.describe_secret, SecretId=bad)[0] == "ValidationException"


def test_name_length_and_allowed_characters(sm):
    ok = "a/_+=.@-" + "b" * 504
    assert len(ok) == 512
    sm.create_secret(Name=ok, SecretString="x")
    assert sm.get_secret_value(SecretId=ok)["SecretString"] == "x"
    sm.delete_secret(SecretId=ok, ForceDeleteWithoutRecovery=True)
    code, _, status = aws_error(sm.create_secret, Name="c" * 513, SecretString="x")
    assert (code, status) == ("ValidationException", 400)


def test_value_and_field_limits(sm):
    name = uniq("limits")
    sm.create_secret(Name=name, SecretString="s" * 65536)
    assert len(sm.get_secret_value(SecretId=name)["SecretString"]) == 65536
    sm.put_secret_value(SecretId=name, SecretBinary=b"\x00" * 65536)
    for kw in ({"SecretString": "s" * 65537}, {"SecretBinary": b"\x00" * 65537}):
        code, _, status = aws_error(sm.put_secret_value, SecretId=name, **kw)
        assert (code, status) == ("ValidationException", 400), kw
        code, _, _ = aws_error(sm.create_secret, Name=uniq("toolong"), **kw)
        assert code == "ValidationException", kw
    code, _, _ = aws_error(sm.update_secret, SecretId=name, Description="d" * 2049)
    assert code == "ValidationException"
    code, _, _ = aws_error(sm.put_secret_value, SecretId=name, SecretString="x",
                           ClientRequestToken="t" * 65)
    assert code == "ValidationException"
    # both values at once
    assert aws_error(sm.create_secret, Name=uniq("both"), SecretString="a", SecretBinary=b"b") == (
        "InvalidParameterException",
        "You can't specify both a binary secret value and a string secret value in the same "
        "secret.", 400)
    assert aws_error(sm.put_secret_value, SecretId=name, SecretString="a",
                     SecretBinary=b"b")[0] == "InvalidParameterException"
    # neither value on PutSecretValue ([E] for the message: emulator text)
    assert aws_error(sm.put_secret_value, SecretId=name) == (
        "InvalidRequestException", "You must provide either SecretString or SecretBinary.", 400)
    assert len(stages_of(sm, name, include_deprecated=True)) == 2


def test_delete_window_validation(sm):
    name = uniq("win")
    sm.create_secret(Name=name, SecretString="x")
    # code and text are emulator-derived ([E] in the reference)
    for days in (6, 31, 0):
        assert aws_error(sm.delete_secret, SecretId=name, RecoveryWindowInDays=days) == (
            "InvalidParameterException",
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).", 400), days
    assert aws_error(sm.delete_secret, SecretId=name, RecoveryWindowInDays=7,
                     ForceDeleteWithoutRecovery=True) == (
        "InvalidParameterException",
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.", 400)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"


# ---- delete / restore (§5.4) -------------------------------------------------------

def test_delete_with_window_then_restore(sm):
    name = uniq("del")
    c = sm.create_secret(Name=name, SecretString="keep", Tags=[{"Key": "k", "Value": "v"}])
    d = sm.delete_secret(SecretId=name)
    assert (d["ARN"], d["Name"]) == (c["ARN"], name)
    assert near(d["DeletionDate"], utcnow() + datetime.timedelta(days=30))
    desc = sm.describe_secret(SecretId=name)        # still works, with DeletedDate
    # whether DeletedDate is the request time or the purge time is open (§5.4 [?])
    assert "DeletedDate" in desc
    assert near(desc["DeletedDate"], utcnow()) or near(desc["DeletedDate"], d["DeletionDate"])
    assert aws_error(sm.get_secret_value, SecretId=name) == ("InvalidRequestException", MARKED, 400)
    assert aws_error(sm.tag_resource, SecretId=name, Tags=[{"Key": "a", "Value": "b"}]) == (
        "InvalidRequestException", MARKED, 400)
    assert aws_error(sm.untag_resource, SecretId=name, TagKeys=["k"]) == (
        "InvalidRequestException", MARKED, 400)
    assert aws_error(sm.put_secret_value, SecretId=name, SecretString="n")[0] == \
        "InvalidRequestException"
    assert aws_error(sm.create_secret, Name=name, SecretString="again") == (
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled "
        "for deletion.", 400)
    r = sm.restore_secret(SecretId=name)
    assert strip(r) == {"ARN": c["ARN"], "Name": name}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "keep"
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    d = sm.delete_secret(SecretId=c["ARN"], RecoveryWindowInDays=7)
    assert near(d["DeletionDate"], utcnow() + datetime.timedelta(days=7))
    sm.restore_secret(SecretId=c["ARN"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "k", "Value": "v"}]


def test_force_delete(sm):
    name = uniq("force")
    c = sm.create_secret(Name=name, SecretString="gone")
    d = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert (d["ARN"], d["Name"]) == (c["ARN"], name) and near(d["DeletionDate"], utcnow())
    assert aws_error(sm.get_secret_value, SecretId=name) == ("ResourceNotFoundException",
                                                              NOT_FOUND, 400)
    assert aws_error(sm.describe_secret, SecretId=c["ARN"])[0] == "ResourceNotFoundException"
    # the name can be reused (after a short delay at most) and gets a new ARN suffix
    deadline = time.time() + 5
    while True:
        try:
            c2 = sm.create_secret(Name=name, SecretString="new")
            break
        except ClientError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    assert c2["ARN"] != c["ARN"] and c2["ARN"][:-6] == c["ARN"][:-6]
    # force delete of a secret already scheduled for deletion works [V]
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert aws_error(sm.describe_secret, SecretId=name)[0] == "ResourceNotFoundException"
    # force delete of a nonexistent id is not ResourceNotFound [D]
    ghost = uniq("ghost")
    r = sm.delete_secret(SecretId=ghost, ForceDeleteWithoutRecovery=True)
    assert r["Name"] == ghost


# ---- tags (§3.7) -------------------------------------------------------------------

def test_tag_and_untag(sm):
    name = uniq("tags")
    c = sm.create_secret(Name=name, SecretString="x")
    assert "Tags" not in sm.describe_secret(SecretId=name)   # never tagged: omitted
    changed0 = sm.describe_secret(SecretId=name)["LastChangedDate"]
    r = sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    assert strip(r) == {}
    sm.tag_resource(SecretId=c["ARN"], Tags=[{"Key": "a", "Value": "one"},
                                             {"Key": "c", "Value": ""}])
    d = sm.describe_secret(SecretId=name)
    assert sorted((t["Key"], t["Value"]) for t in d["Tags"]) == [("a", "one"), ("b", "2"),
                                                                  ("c", "")]
    assert d["LastChangedDate"] >= changed0
    r = sm.untag_resource(SecretId=name, TagKeys=["b", "absent"])   # absent key: no error
    assert strip(r) == {}
    d = sm.describe_secret(SecretId=name)
    assert sorted(t["Key"] for t in d["Tags"]) == ["a", "c"]
    sm.untag_resource(SecretId=name, TagKeys=["a", "c"])
    assert sm.describe_secret(SecretId=name)["Tags"] == []      # tagged once: [] now [V]
    # tags are case-sensitive keys
    sm.tag_resource(SecretId=name, Tags=[{"Key": "K", "Value": "1"}, {"Key": "k", "Value": "2"}])
    assert len(sm.describe_secret(SecretId=name)["Tags"]) == 2


# ---- GetRandomPassword (§5.9) ------------------------------------------------------

PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def classes(pw):
    return {"lower": any(c in string.ascii_lowercase for c in pw),
            "upper": any(c in string.ascii_uppercase for c in pw),
            "digit": any(c in string.digits for c in pw),
            "punct": any(c in PUNCT for c in pw),
            "space": " " in pw}


def test_get_random_password_defaults(sm):
    seen = set()
    for _ in range(5):
        pw = sm.get_random_password()["RandomPassword"]
        assert len(pw) == 32
        assert set(pw) <= set(string.ascii_letters + string.digits) | PUNCT
        # RequireEachIncludedType defaults to true
        c = classes(pw)
        assert c["lower"] and c["upper"] and c["digit"] and c["punct"] and not c["space"], pw
        seen.add(pw)
    assert len(seen) == 5


def test_get_random_password_options(sm):
    pw = sm.get_random_password(PasswordLength=4096)["RandomPassword"]
    assert len(pw) == 4096
    pw = sm.get_random_password(PasswordLength=1, ExcludeNumbers=True, ExcludePunctuation=True,
                                ExcludeUppercase=True)["RandomPassword"]
    assert len(pw) == 1 and pw in string.ascii_lowercase
    excl = "abcdefghijklmnopqrstuvwxyzABCDEF0123!@#"
    for _ in range(3):
        pw = sm.get_random_password(PasswordLength=200, ExcludeCharacters=excl)["RandomPassword"]
        assert len(pw) == 200 and not set(pw) & set(excl)
    pw = sm.get_random_password(PasswordLength=100, ExcludeNumbers=True)["RandomPassword"]
    assert len(pw) == 100 and not classes(pw)["digit"]
    pw = sm.get_random_password(PasswordLength=100, ExcludePunctuation=True)["RandomPassword"]
    assert pw.isalnum() and len(pw) == 100
    pw = sm.get_random_password(PasswordLength=100, ExcludeUppercase=True)["RandomPassword"]
    assert not classes(pw)["upper"] and classes(pw)["lower"]
    pw = sm.get_random_password(PasswordLength=100, ExcludeLowercase=True)["RandomPassword"]
    assert not classes(pw)["lower"] and classes(pw)["upper"]
    pw = sm.get_random_password(PasswordLength=60, IncludeSpace=True,
                                RequireEachIncludedType=False)["RandomPassword"]
    assert len(pw) == 60
    # whether a space is forced with IncludeSpace + RequireEachIncludedType is open (§5.9 [?])
    pw = sm.get_random_password(PasswordLength=4, ExcludeNumbers=True)["RandomPassword"]
    c = classes(pw)
    assert len(pw) == 4 and c["lower"] and c["upper"] and c["punct"]
    pw = sm.get_random_password(PasswordLength=2, RequireEachIncludedType=False)["RandomPassword"]
    assert len(pw) == 2


def test_get_random_password_errors(sm):
    # code from the reference's catalogue; the texts are emulator-derived [E]
    code, _, status = aws_error(sm.get_random_password, PasswordLength=3)   # 4 classes required
    assert (code, status) == ("InvalidParameterException", 400)
    code, _, _ = aws_error(sm.get_random_password, ExcludeNumbers=True, ExcludePunctuation=True,
                           ExcludeUppercase=True, ExcludeLowercase=True)
    assert code == "InvalidParameterException"
    code, _, _ = aws_error(sm.get_random_password, PasswordLength=4097)    # model max 4096
    assert code == "ValidationException"


# ---- features not configured in this deployment -------------------------------------

def test_unconfigured_features_answer_aws_errors(sm):
    name = uniq("feat")
    c = sm.create_secret(Name=name, SecretString="x")
    calls = [
        (sm.rotate_secret, dict(SecretId=name, RotationLambdaARN=(
            "arn:aws:lambda:us-east-1:123456789012:function:rot"),
            RotationRules={"AutomaticallyAfterDays": 30})),
        (sm.cancel_rotate_secret, dict(SecretId=name)),
        (sm.put_resource_policy, dict(SecretId=name, ResourcePolicy=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            '{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:*",'
            '"Resource":"*"}]}'))),
        (sm.validate_resource_policy, dict(ResourcePolicy='{"Version":"2012-10-17"}')),
        (sm.replicate_secret_to_regions, dict(SecretId=name,
                                              AddReplicaRegions=[{"Region": "eu-west-1"}])),
        (sm.remove_regions_from_replication, dict(SecretId=name,
                                                  RemoveReplicaRegions=["eu-west-1"])),
        (sm.stop_replication_to_replica, dict(SecretId=name)),
    ]
    known = {"InvalidRequestException", "InvalidParameterException", "AccessDeniedException",
             "ResourceNotFoundException", "ValidationException"}
    for fn, kw in calls:
        with pytest.raises(ClientError) as ei:
            fn(**kw)
        code = ei.value.response["Error"]["Code"]
        status = ei.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert code in known and status == 400, (fn.__name__, code, status)
        assert ei.value.response["Error"].get("Message"), fn.__name__
    # RotateSecret without any Lambda ARN [V]
    assert aws_error(sm.rotate_secret, SecretId=name) == (
        "InvalidRequestException", "No Lambda rotation function ARN is associated with this "
        "secret.", 400)
    # a create asking for replicas is not silently accepted either
    with pytest.raises(ClientError):
        sm.create_secret(Name=uniq("repl"), SecretString="x",
                         AddReplicaRegions=[{"Region": "eu-west-1"}])
    # nothing was changed by the refused calls
    d = sm.describe_secret(SecretId=name)
    assert d["VersionIdsToStages"] == {c["VersionId"]: ["AWSCURRENT"]}
    assert not d.get("RotationEnabled") and "ReplicationStatus" not in d
    # the read-side policy calls are harmless
    g = sm.get_resource_policy(SecretId=name)
    assert g["ARN"] == c["ARN"] and "ResourcePolicy" not in g


def test_last_accessed_date_day_resolution(sm):
    name = uniq("acc")
    sm.create_secret(Name=name, SecretString="x")
    sm.get_secret_value(SecretId=name)
    d = sm.describe_secret(SecretId=name)
    la = d["LastAccessedDate"].astimezone(datetime.timezone.utc)
    assert (la.hour, la.minute, la.second) == (0, 0, 0)
    assert la.date() == utcnow().date()
