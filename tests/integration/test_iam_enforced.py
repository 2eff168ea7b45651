"""Least privilege, verified by running: the three handlers, each as an IAM user holding
exactly the S3 statements of its function's role in the transformed template (intrinsics
resolved by fanout_local.intrinsics), on a moto server that enforces IAM.

The server is a process of its own (tests.support.moto_process): moto's IAM switch is
process-global and would otherwise apply to every other test. The state machine's role
reads the plan, as its ItemReader does; each handler gets its function's environment as
deployed.

What moto 5.2.5 enforces here, and what it does not:

- enforced: identity-based policies of IAM users - Action and Resource (wildcards
  included) for every S3 request the handlers sign: HeadBucket, ListObjectsV2, GetObject,
  PutObject (multipart upload calls count as PutObject, as on AWS), AbortMultipartUpload;
  and the policy documents themselves (MalformedPolicyDocument - it rejected the
  partition wildcard "aws*" the template used, now "*");
- translated: moto authorizes HeadBucket as "s3:HeadBucket", an action IAM does not have
  (AWS checks s3:ListBucket), so a user given s3:ListBucket also gets s3:HeadBucket;
- not enforced: presigned GETs. Under enforcement moto answers them 500 (its check reads an
  Authorization header that a presigned request does not have), so the URLs are fetched
  with enforcement off: they are checked to be signed by the function's own key, not that
  its s3:GetObject lets a reader use them;
- not modelled: S3 answering a missing key 403 instead of 404 without s3:ListBucket (moto
  always says NoSuchKey), Condition keys such as s3:prefix (none is used), resource-based
  policies such as the stack bucket's DenyInsecureTransport (not created here), KMS.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fanout_local.intrinsics import Stack, resolve
from s3fanout.errors import AccessDenied, FanoutError
from tests.support.flow import run_handlers
from tests.support.function_identity import FunctionIdentities, forget_runtime_clients
from tests.support.moto_process import AccessKey, MotoProcess
from tests.support.transformed import transformed_template

SOURCE = "iam-source"
MANIFESTS = "iam-manifests"
STACK_BUCKET = "iam-stack-manifests"  # the physical name of ManifestBucket, when the stack creates it
FUNCTIONS = ("ListPrefixes", "BuildManifest", "MergeIndex")
# Several units (conftest: MIN_UNIT_KEYS=2), and one key that does not match the suffix.
OBJECTS = {f"docs/{d}/{i}.pdf": f"pdf {d}{i}".encode() for d in "abc" for i in range(3)} | {"docs/a/x.txt": b"no"}
MATCHING = {key: body for key, body in OBJECTS.items() if key.endswith(".pdf")}

Removal = tuple[str, str, str]  # (function, statement Sid, action)


@cache
def deployed(manifest_bucket_name: str) -> tuple[dict[str, Any], Stack]:
    """The transformed template and what a deploy with these parameters knows."""
    values = {"SourceBucketNames": SOURCE, "ManifestBucketName": manifest_bucket_name, "Tracing": "Disabled"}
    template = transformed_template(**values)
    # Physical names for the Refs the roles make (the state machine's names the functions).
    names = {f"{f}Function": f"s3-fanout-{f}" for f in FUNCTIONS} | {"ManifestBucket": STACK_BUCKET}
    return template, Stack.of(template, values, physical_ids=names)


def s3_statements(template: dict[str, Any], stack: Stack, role: str) -> list[dict[str, Any]]:
    """The S3 statements of ``role``'s inline policies, every intrinsic resolved."""
    found = []
    for policy in resolve(template["Resources"][role]["Properties"].get("Policies", []), stack):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            if any(a.startswith("s3:") for a in actions):
                assert all(a.startswith("s3:") for a in actions), statement
                found.append(statement)
    return found


def function_env(template: dict[str, Any], stack: Stack, function: str) -> dict[str, str]:
    """The function's environment as deployed, but S3 here (FunctionIdentities sets it)."""
    variables = resolve(template["Resources"][f"{function}Function"]["Properties"]["Environment"], stack)["Variables"]
    return {k: str(v) for k, v in variables.items() if k != "S3_ENDPOINT_URL"}


def remove_action(statements: list[dict[str, Any]], sid: str, action: str) -> list[dict[str, Any]]:
    changed = copy.deepcopy(statements)
    (statement,) = [s for s in changed if s.get("Sid") == sid]
    actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
    assert action in actions, (sid, actions)
    statement["Action"] = [a for a in actions if a != action]
    return [s for s in changed if s["Action"]]


@pytest.fixture(scope="module")
def server() -> Iterator[MotoProcess]:
    server = MotoProcess.start()
    try:
        s3 = server.client("s3")
        for bucket in (SOURCE, MANIFESTS, STACK_BUCKET):
            s3.create_bucket(Bucket=bucket)
        for key, body in OBJECTS.items():
            s3.put_object(Bucket=SOURCE, Key=key, Body=body)
        server.enforce(True)
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    yield
    forget_runtime_clients()  # later tests: a fresh session with their own credentials


def role_users(server: MotoProcess, manifest_bucket_name: str, without: Removal | None = None) -> dict[str, AccessKey]:
    """One user per function and one for the state machine, each holding its role's S3
    statements - less ``without``, if given."""
    template, stack = deployed(manifest_bucket_name)
    keys = {}
    with server.unenforced():
        for name in (*FUNCTIONS, "FanoutStateMachine"):
            role = f"{name}FunctionRole" if name in FUNCTIONS else f"{name}Role"
            statements = s3_statements(template, stack, role)
            if without is not None and without[0] == name:
                statements = remove_action(statements, without[1], without[2])
            keys[name] = server.user(f"{name}-{uuid.uuid4().hex[:8]}", statements)
    return keys


def run_as_roles(
    server: MotoProcess,
    monkeypatch: pytest.MonkeyPatch,
    manifest_bucket_name: str = MANIFESTS,
    without: Removal | None = None,
    *,
    with_attempt: bool = True,
) -> tuple[FunctionIdentities, dict[str, AccessKey], dict[str, Any] | FanoutError]:
    template, stack = deployed(manifest_bucket_name)
    keys = role_users(server, manifest_bucket_name, without)
    identities = FunctionIdentities(
        monkeypatch,
        keys,
        endpoint=server.endpoint,
        environments={f: function_env(template, stack, f) for f in FUNCTIONS},
    )
    plan_reader = server.client("s3", keys["FanoutStateMachine"])
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    try:
        return (
            identities,
            keys,
            run_handlers(
                plan_reader,
                {"bucket": SOURCE, "prefix": "docs/"},
                run_id,
                as_function=identities,
                with_attempt=with_attempt,
            ),
        )
    except FanoutError as exc:
        return identities, keys, exc


def signer_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


@pytest.mark.parametrize("manifest_bucket_name", [MANIFESTS, ""], ids=["given-manifest-bucket", "stack-bucket"])
def test_a_run_succeeds_with_exactly_the_roles_s3_statements(
    server: MotoProcess, monkeypatch: pytest.MonkeyPatch, manifest_bucket_name: str
) -> None:
    identities, keys, result = run_as_roles(server, monkeypatch, manifest_bucket_name)
    assert not isinstance(result, FanoutError), result
    assert set(identities.entered) == set(FUNCTIONS)
    assert result["plan"]["manifest_bucket"] == (manifest_bucket_name or STACK_BUCKET)
    index = result["index"]
    assert index["count"] == len(MATCHING)
    assert len(result["units"]) > 1
    # Every URL is signed by the function that made it: the index by MergeIndex, object URLs
    # by BuildManifest. moto cannot check a presigned GET under enforcement (docstring).
    assert signer_of(index["index_url"]) == keys["MergeIndex"].access_key_id
    fetched: dict[str, bytes] = {}
    with server.unenforced():
        document = json.loads(requests.get(index["index_url"], timeout=30).content)
        for part in document["parts"]:
            assert signer_of(part["url"]) == keys["MergeIndex"].access_key_id
            for line in requests.get(part["url"], timeout=30).text.splitlines():
                entry = json.loads(line)
                assert signer_of(entry["url"]) == keys["BuildManifest"].access_key_id
                fetched[entry["key"]] = requests.get(entry["url"], timeout=30).content
    assert fetched == MATCHING


# Each action a run needs, taken away alone: the run stops in that function, named.
NEEDED: list[tuple[Removal, str, bool]] = [
    # (removal, the operation AccessDenied names, events carry the attempt as the state machine's do)
    (("ListPrefixes", "ListSourceBuckets", "s3:ListBucket"), "HeadBucket", True),
    (("ListPrefixes", "WritePlan", "s3:PutObject"), "PutObject", True),
    (("BuildManifest", "ListSourceBuckets", "s3:ListBucket"), "ListObjectsV2", True),
    (("BuildManifest", "ReadRunWriteParts", "s3:PutObject"), "PutObject", True),
    # Events without the attempt (sam local invoke) make BuildManifest read run.json.
    (("BuildManifest", "ReadRunWriteParts", "s3:GetObject"), "GetObject", False),
    (("MergeIndex", "ListRunObjects", "s3:ListBucket"), "ListObjectsV2", True),
    (("MergeIndex", "ReadPartsWriteIndex", "s3:GetObject"), "GetObject", True),
    (("MergeIndex", "ReadPartsWriteIndex", "s3:PutObject"), "PutObject", True),
]


@pytest.mark.parametrize(
    ("without", "operation", "with_attempt"), NEEDED, ids=lambda v: "-".join(v) if isinstance(v, tuple) else None
)
def test_without_a_needed_action_the_run_fails_with_a_named_error(
    server: MotoProcess, monkeypatch: pytest.MonkeyPatch, without: Removal, operation: str, with_attempt: bool
) -> None:
    identities, _, result = run_as_roles(server, monkeypatch, without=without, with_attempt=with_attempt)
    assert isinstance(result, AccessDenied), result
    assert result.operation == operation
    assert identities.entered[-1] == without[0]


# Granted, but not used by a run on moto: removing one alone, the run still succeeds.
NOT_EXERCISED: list[tuple[Removal, str]] = [
    (
        ("BuildManifest", "PresignSourceObjects", "s3:GetObject"),
        "only readers of the URLs use it: moto cannot check them",
    ),
    (
        ("BuildManifest", "ListManifestBucket", "s3:ListBucket"),
        "only a missing run.json (404, not 403): moto says 404 anyway",
    ),
    (("BuildManifest", "ReadRunWriteParts", "s3:GetObject"), "only events without the attempt read run.json"),
    (("BuildManifest", "ReadRunWriteParts", "s3:AbortMultipartUpload"), "only a failed multipart upload aborts"),
]


@pytest.mark.parametrize(("without", "why"), NOT_EXERCISED, ids=lambda v: "-".join(v) if isinstance(v, tuple) else "")
def test_what_a_moto_run_cannot_show_is_needed(
    server: MotoProcess, monkeypatch: pytest.MonkeyPatch, without: Removal, why: str
) -> None:
    """A canary: if one of these starts failing, the run now uses it - move it to NEEDED."""
    _, _, result = run_as_roles(server, monkeypatch, without=without)
    assert not isinstance(result, FanoutError), (why, result)


def test_moto_does_not_check_presigned_gets_under_enforcement(server: MotoProcess) -> None:
    """A canary for the docstring: when moto answers 200 or 403 here, check URLs enforced."""
    with server.unenforced():
        key = server.user(
            f"reader-{uuid.uuid4().hex[:8]}", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
        )
    url = server.client("s3", key).generate_presigned_url(
        "get_object", Params={"Bucket": SOURCE, "Key": "docs/a/0.pdf"}
    )
    assert requests.get(url, timeout=30).status_code == 500


def test_moto_answers_a_missing_key_404_without_list_bucket(server: MotoProcess) -> None:
    """A canary: AWS answers 403 here (why the template grants s3:ListBucket on the manifest
    bucket); moto's 404 means that reason is not verified by these tests."""
    objects = f"arn:aws:s3:::{MANIFESTS}/manifests/*"
    with server.unenforced():
        key = server.user(
            f"reader-{uuid.uuid4().hex[:8]}", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects}]
        )
    s3 = server.client("s3", key)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=MANIFESTS, Key="manifests/no-such-run/run.json")
