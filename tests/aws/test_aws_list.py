"""ListSecrets through boto3 against a dev node of this module's own: every
filter key, negation, the word-prefix examples of reference §5.8, AND/OR of
filters, sort orders, paging with a paginator and MaxResults, and
IncludePlannedDeletion."""
import time

import pytest

from awslib import aws_error, boto_client, raw_call, uniq

# (name, description, tags) - created in this order, a little apart in time
DATA = [
    ("testing1/one", "one two", {"env": "prod", "team": "blue"}),
    ("/testing2/two", "two", {"env": "dev"}),
    ("alpha-AppBeta", "one and two", {"Owner": "COMPANYthings"}),
    ("zeta.secret", None, {}),
    ("prod-AppBeta/x", "Mixed Separators", {"envx": "stage"}),
]
ALL = [d[0] for d in DATA]


@pytest.fixture(scope="module")
def ls(fresh_dev):
    sm = boto_client(fresh_dev.env)
    for name, desc, tags in DATA:
        kw = {"Name": name, "SecretString": "v-" + name}
        if desc:
            kw["Description"] = desc
        if tags:
            kw["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        sm.create_secret(**kw)
        time.sleep(0.02)  # distinct creation times
    sm.coffer_env = fresh_dev.env
    return sm


def list_raw(sm, **args):
    """ListSecrets as a raw signed request: botocore 1.29's model has no SortBy
    and no IncludePlannedDeletion."""
    r = raw_call(sm.coffer_env, "ListSecrets", args)
    assert r.status == 200, r
    return r.json()


def names(sm, *filters, **kw):
    out, token = [], None
    while True:
        args = dict(kw)
        if filters:
            args["Filters"] = [{"Key": k, "Values": v if isinstance(v, list) else [v]}
                               for k, v in filters]
        if token:
            args["NextToken"] = token
        if "SortBy" in args or "IncludePlannedDeletion" in args:
            r = list_raw(sm, **args)
        else:
            r = sm.list_secrets(**args)
        out += [s["Name"] for s in r["SecretList"]]
        token = r.get("NextToken")
        if not token:
            return out


def only_data(lst):
    return [n for n in lst if n in ALL]


def test_list_all_entries_and_fields(ls):
    r = ls.list_secrets()
    assert "NextToken" not in r
    entries = {s["Name"]: s for s in r["SecretList"] if s["Name"] in ALL}
    assert set(entries) == set(ALL)
    e = entries["testing1/one"]
    assert e["Description"] == "one two"
    assert sorted((t["Key"], t["Value"]) for t in e["Tags"]) == [("env", "prod"), ("team", "blue")]
    assert "SecretVersionsToStages" in e and "VersionIdsToStages" not in e
    assert list(e["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]
    assert "KmsKeyId" not in e and "ReplicationStatus" not in e
    assert e["ARN"].startswith("arn:aws:secretsmanager:us-east-1:")
    assert "Description" not in entries["zeta.secret"]
    assert "Tags" not in entries["zeta.secret"]


@pytest.mark.parametrize("filters,expected", [
    # name: case-sensitive prefix; "!" negates
    ([("name", "/")], ["/testing2/two"]),
    ([("name", "!/")], ["testing1/one", "alpha-AppBeta", "zeta.secret", "prod-AppBeta/x"]),
    ([("name", "testing")], ["testing1/one"]),
    ([("name", "Testing")], []),
    ([("name", "prod-App")], ["prod-AppBeta/x"]),
    # several values in one filter are ORed
    ([("name", ["/", "zeta"])], ["/testing2/two", "zeta.secret"]),
    # several filters are ANDed, even with the same key [V]
    ([("name", "/"), ("name", "!/")], []),
    ([("name", "testing"), ("tag-key", "team")], ["testing1/one"]),
    ([("name", "!testing"), ("tag-key", "env")], ["/testing2/two", "prod-AppBeta/x"]),
    # description: word-prefix, case-insensitive, all words must match [V]
    ([("description", "o t")], ["testing1/one", "alpha-AppBeta"]),
    ([("description", "t")], ["testing1/one", "/testing2/two", "alpha-AppBeta"]),
    ([("description", "one two")], ["testing1/one", "alpha-AppBeta"]),
    ([("description", "ONE")], ["testing1/one", "alpha-AppBeta"]),
    ([("description", "separ")], ["prod-AppBeta/x"]),
    ([("description", "wo")], []),
    # tag-key / tag-value: case-sensitive prefix
    ([("tag-key", "env")], ["testing1/one", "/testing2/two", "prod-AppBeta/x"]),
    ([("tag-key", "Env")], []),
    ([("tag-key", "!env")], ["alpha-AppBeta", "zeta.secret"]),
    ([("tag-value", "pro")], ["testing1/one"]),
    ([("tag-value", "COMPANY")], ["alpha-AppBeta"]),
    ([("tag-value", "company")], []),
    ([("tag-value", ["dev", "stage"])], ["/testing2/two", "prod-AppBeta/x"]),
    # owning-service: no secret here is owned by a service
    ([("owning-service", "rds")], []),
    # all: every attribute, split into words, case-insensitive word prefixes [V]
    ([("all", "sec")], ["zeta.secret"]),
    ([("all", "ret")], []),
    ([("all", "beta")], ["alpha-AppBeta"]),       # mixed separators: not split
    ([("all", "app")], ["alpha-AppBeta"]),
    ([("all", "prod")], ["testing1/one", "prod-AppBeta/x"]),
    ([("all", "x")], []),
    ([("all", "ythings")], ["alpha-AppBeta"]),    # COMPANYthings -> COMPAN, Ythings
    ([("all", "compan")], ["alpha-AppBeta"]),
    ([("all", "+")], []),
    ([("all", "TESTING2")], ["/testing2/two"]),
    ([("all", "blue")], ["testing1/one"]),
    ([("all", "team")], ["testing1/one"]),
])
def test_filters(ls, filters, expected):
    got = only_data(names(ls, *filters))
    # default order is by creation date, oldest first ([?] in the reference, §5.8)
    assert sorted(got) == sorted(expected), filters
    assert got == [n for n in ALL if n in expected], ("order", filters)


def test_primary_region_filter_is_accepted(ls):
    # whether a non-replicated secret matches primary-region is open (§5.7 [E/?])
    got = only_data(names(ls, ("primary-region", "us-east-1")))
    assert set(got) <= set(ALL)
    assert only_data(names(ls, ("primary-region", "eu-"))) == []


def test_filter_validation(ls):
    code, _, status = aws_error(ls.list_secrets, Filters=[{"Key": "colour", "Values": ["x"]}])
    assert (code, status) == ("ValidationException", 400)
    code, _, _ = aws_error(ls.list_secrets, Filters=[{"Key": "name", "Values": ["bad*value"]}])
    assert code == "ValidationException"
    code, _, _ = aws_error(ls.list_secrets, MaxResults=101)
    assert code == "ValidationException"
    r = raw_call(ls.coffer_env, "ListSecrets", {"SortBy": "size"})
    assert (r.status, r.error_type) == (400, "ValidationException"), r
    code, _, _ = aws_error(ls.list_secrets, NextToken="not-a-token")
    assert code == "InvalidNextTokenException"


def test_sort_orders(ls):
    assert only_data(names(ls)) == ALL
    assert only_data(names(ls, SortOrder="asc")) == ALL
    assert only_data(names(ls, SortOrder="desc")) == ALL[::-1]
    assert only_data(names(ls, SortBy="created-date", SortOrder="desc")) == ALL[::-1]
    assert only_data(names(ls, SortBy="name", SortOrder="asc")) == sorted(ALL)
    assert only_data(names(ls, SortBy="name", SortOrder="desc")) == sorted(ALL, reverse=True)
    # last-changed-date follows changes: touch the oldest, it becomes the newest
    ls.update_secret(SecretId="testing1/one", Description="one two")
    got = only_data(names(ls, SortBy="last-changed-date", SortOrder="asc"))
    assert got[-1] == "testing1/one" and sorted(got) == sorted(ALL)
    got = only_data(names(ls, SortBy="last-accessed-date"))
    assert sorted(got) == sorted(ALL)


def test_pagination_with_paginator_and_max_results(ls):
    pages = list(ls.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 2}))
    got = [s["Name"] for p in pages for s in p["SecretList"]]
    assert only_data(got) == ALL and len(got) == len(set(got))
    assert all(len(p["SecretList"]) <= 2 for p in pages)
    assert len([p for p in pages if p["SecretList"]]) >= 3
    # MaxResults by hand, with filters and a sort order
    r = list_raw(ls, MaxResults=1, SortBy="name", Filters=[{"Key": "name", "Values": ["!/"]}])
    assert len(r["SecretList"]) == 1 and r.get("NextToken")
    assert names(ls, ("name", "!/"), MaxResults=1, SortBy="name") == sorted(
        n for n in ALL if not n.startswith("/"))
    # the paginator's MaxItems stops early and resumes
    pg = ls.get_paginator("list_secrets").paginate(PaginationConfig={"MaxItems": 3, "PageSize": 2})
    first = pg.build_full_result()
    assert len(first["SecretList"]) == 3 and first.get("NextToken")


def test_paging_is_stable_under_inserts(ls):
    prefix = uniq("pg")
    mine = []
    for i in range(6):
        ls.create_secret(Name=f"{prefix}/{i}", SecretString="x")
        mine.append(f"{prefix}/{i}")
    r = ls.list_secrets(MaxResults=2, Filters=[{"Key": "name", "Values": [prefix]}])
    got = [s["Name"] for s in r["SecretList"]]
    # a new secret created between pages must not shift the listing
    ls.create_secret(Name=f"{prefix}/new", SecretString="x")
    token = r["NextToken"]
    while token:
        r = ls.list_secrets(MaxResults=2, NextToken=token,
                            Filters=[{"Key": "name", "Values": [prefix]}])
        got += [s["Name"] for s in r["SecretList"]]
        token = r.get("NextToken")
    assert len(got) == len(set(got))
    assert [n for n in got if n in mine] == mine


def test_include_planned_deletion(ls):
    name = uniq("planned")
    ls.create_secret(Name=name, SecretString="x")
    ls.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert name not in names(ls)
    assert name not in names(ls, ("name", name))
    r = list_raw(ls, IncludePlannedDeletion=True, Filters=[{"Key": "name", "Values": [name]}])
    (e,) = r["SecretList"]
    assert e["Name"] == name and "DeletedDate" in e
    ls.restore_secret(SecretId=name)
    assert name in names(ls, ("name", name))
    ls.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert name not in names(ls, ("name", name), IncludePlannedDeletion=True)
