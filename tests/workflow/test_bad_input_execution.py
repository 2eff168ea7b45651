"""Bad execution input: every kind fails the execution with a named error, writes nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fanout_local.engine import EmbeddedEngine, EngineConfig
from tests.support.s3_proxy import Respond, S3Proxy

MANIFESTS = "badinput-manifests"
SOURCE = "badinput-source"
DENIED = "denied-bucket"


def deny_one_bucket(request: Any) -> Any:
    if request.bucket == DENIED:
        return Respond.s3_error(403, "AccessDenied", "Access Denied")
    return None


@pytest.fixture(scope="module")
def denying_engine(moto_endpoint: str) -> Iterator[tuple[EmbeddedEngine, Any]]:
    """The engine on S3 behind a proxy that refuses every request for one bucket."""
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with (
        S3Proxy(moto_endpoint, rule=deny_one_bucket) as proxy,
        tempfile.TemporaryFile("w+", encoding="utf-8") as log,
        EmbeddedEngine(
            EngineConfig(manifest_bucket=MANIFESTS, s3_endpoint=proxy.url, extra_function_env=credentials, log=log)
        ) as engine,
    ):
        s3 = boto3.client(
            "s3",
            endpoint_url=moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for name in (MANIFESTS, SOURCE, DENIED):
            s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=SOURCE, Key="a/1.pdf", Body=b"%PDF")
        s3.put_object(Bucket=DENIED, Key="a/1.pdf", Body=b"%PDF")
        yield engine, s3


def everything(s3: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        found[name] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", ()))
    return found


CASES = [
    # (id, execution input, error name, text the cause must contain)
    ("missing bucket", {"prefix": "a/"}, "InvalidInput", "bucket=None"),
    ("bucket null", {"bucket": None}, "InvalidInput", "bucket=None"),
    ("bucket not a string", {"bucket": 42}, "InvalidInput", "bucket=42"),
    ("bucket uppercase/underscore", {"bucket": "Bad_Bucket"}, "InvalidInput", "bucket='Bad_Bucket'"),
    ("bucket too short", {"bucket": "ab"}, "InvalidInput", "bucket='ab'"),
    ("bucket is an IP", {"bucket": "192.168.10.1"}, "InvalidInput", "bucket='192.168.10.1'"),
    ("unknown bucket", {"bucket": "no-such-bucket-anywhere"}, "BucketNotFound", "no-such-bucket-anywhere"),
    ("access denied", {"bucket": DENIED}, "AccessDenied", DENIED),
    ("prefix not a string", {"bucket": SOURCE, "prefix": 5}, "InvalidInput", "prefix=5"),
    ("prefix too long", {"bucket": SOURCE, "prefix": "p" * 1025}, "InvalidInput", "longer than 1024 bytes"),
    ("suffix not a string", {"bucket": SOURCE, "suffix": [".pdf"]}, "InvalidInput", "suffix=['.pdf']"),
    ("expires_in zero", {"bucket": SOURCE, "expires_in": 0}, "InvalidInput", "expires_in=0"),
    ("expires_in negative", {"bucket": SOURCE, "expires_in": -5}, "InvalidInput", "expires_in=-5"),
    ("expires_in over 7 days", {"bucket": SOURCE, "expires_in": 604801}, "InvalidInput", "expires_in=604801"),
    ("expires_in a string", {"bucket": SOURCE, "expires_in": "900"}, "InvalidInput", "expires_in='900'"),
    ("expires_in a bool", {"bucket": SOURCE, "expires_in": True}, "InvalidInput", "expires_in=True"),
    ("expires_in a float", {"bucket": SOURCE, "expires_in": 1.5}, "InvalidInput", "expires_in=1.5"),
    ("max_concurrency zero", {"bucket": SOURCE, "max_concurrency": 0}, "InvalidInput", "max_concurrency=0"),
    ("max_concurrency too big", {"bucket": SOURCE, "max_concurrency": 10001}, "InvalidInput", "max_concurrency=10001"),
    ("unknown field", {"bucket": SOURCE, "colour": "red"}, "InvalidInput", "colour='red'"),
    ("run_id with spaces", {"bucket": SOURCE, "run_id": "has space"}, "InvalidInput", "run_id='has space'"),
    ("input is a list", ["bucket", SOURCE], "InvalidInput", "input=["),
    ("input is a string", "my-bucket", "InvalidInput", "input='my-bucket'"),
]


@pytest.mark.parametrize(("execution_input", "error", "cause_text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_with_a_named_error_and_writes_nothing(
    denying_engine: tuple[EmbeddedEngine, Any], execution_input: Any, error: str, cause_text: str
) -> None:
    engine, s3 = denying_engine
    before = everything(s3)

    result = engine.run(execution_input)

    assert result.status == "FAILED"
    assert result.error == error
    assert cause_text in (result.cause or "")
    assert everything(s3) == before
