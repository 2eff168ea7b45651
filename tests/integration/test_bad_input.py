"""Bad input through the real handlers: a named error, a clear message, and S3 untouched."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from s3fanout.errors import FanoutError
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from s3fanout.runtime import settings
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import all_keys, put_keys
from tests.support.s3_proxy import S3Proxy

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

OK = range(200, 300)

Handler = Callable[[Any, Any], Any]
HANDLERS: dict[str, Handler] = {
    "list_prefixes": list_prefixes.lambda_handler,
    "build_manifest": build_manifest.lambda_handler,
    "merge_index": merge_index.lambda_handler,
}


def new_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def snapshot(s3: Any) -> dict[str, Any]:
    """Every key (with its ETag) and every multipart upload of every bucket on the server."""

    def bucket_state(name: str) -> tuple[dict[str, str], list[str]]:
        objects: dict[str, str] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            objects.update({obj["Key"]: obj["ETag"] for obj in page.get("Contents", ())})
        uploads = sorted(u["Key"] for u in s3.list_multipart_uploads(Bucket=name).get("Uploads", ()))
        return objects, uploads

    names = [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
    # The session's server holds every earlier test's buckets: read them in parallel.
    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(zip(names, pool.map(bucket_state, names), strict=True))


@pytest.fixture(scope="module", autouse=True)
def whole_server_unchanged(moto_endpoint: str) -> Iterator[None]:
    """All keys of all buckets, before and after the module's bad inputs (a full snapshot per
    test would cost seconds each: the session's server keeps every earlier test's buckets)."""
    client = new_client(moto_endpoint)
    before = snapshot(client)
    yield
    assert snapshot(client) == before


@pytest.fixture(scope="module")
def seeded(moto_endpoint: str) -> Iterator[str]:
    """One source bucket for the module."""
    client = new_client(moto_endpoint)
    name = f"bad-input-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    put_keys(client, name, ["a/1.pdf", "a/2.txt", "b/3.pdf", "4.pdf"])
    yield name
    delete_bucket(client, name)


def delete_bucket(client: Any, name: str) -> None:
    keys = all_keys(client, name)
    if keys:
        client.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in keys]})
    client.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def proxy_server(moto_endpoint: str) -> Iterator[S3Proxy]:
    with S3Proxy(moto_endpoint) as running:
        yield running


@pytest.fixture
def proxy(proxy_server: S3Proxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Proxy]:
    """The handlers reach S3 only through this (forwarding) proxy, which records each request."""
    proxy_server.clear()
    monkeypatch.setenv("S3_ENDPOINT_URL", proxy_server.url)
    settings.cache_clear()
    yield proxy_server
    settings.cache_clear()


def bucket_state(s3: Any, name: str) -> tuple[list[str], dict[str, str]]:
    names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    objects: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        objects.update({obj["Key"]: obj["ETag"] for obj in page.get("Contents", ())})
    return names, objects


def call(s3: Any, proxy: S3Proxy, seeded: str, handler: str, event: Any) -> BaseException:
    """Run ``handler``; return what it raised, after checking it changed nothing in S3:
    no write request reached S3, no bucket appeared or vanished, the source is as it was."""
    before = bucket_state(s3, seeded)
    proxy.clear()
    with pytest.raises(FanoutError) as raised:
        HANDLERS[handler](event, FakeLambdaContext())
    # (A write S3 refused - e.g. an error record for a bucket that does not exist - changed nothing.)
    writes = [(r.method, r.path) for r in proxy.seen if r.method not in {"GET", "HEAD"} and r.status in OK]
    assert writes == [], "a rejected event must not write to S3"
    assert bucket_state(s3, seeded) == before
    return raised.value


def assert_invalid(proxy: S3Proxy, error: BaseException, field: str, value: Any, reason: str) -> None:
    assert type(error).__name__ == "InvalidInput"
    assert error.field == field  # type: ignore[attr-defined]
    assert str(error).startswith(f"{field}={value!r}: ")
    assert reason in str(error)
    # Validation comes before any S3 call, not just before any write.
    assert proxy.seen == []


def unknown_bucket() -> str:
    return f"missing-{uuid.uuid4().hex[:12]}"


# --- InvalidInput --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_event", "field", "value", "reason"),
    [
        pytest.param(lambda b: {"prefix": "a/"}, "bucket", None, "is required", id="missing-bucket"),
        pytest.param(lambda b: {"bucket": "Bad_Bucket"}, "bucket", "Bad_Bucket", "not a valid", id="bad-bucket"),
        pytest.param(lambda b: {"bucket": "10.0.0.1"}, "bucket", "10.0.0.1", "IP address", id="ip-bucket"),
        pytest.param(lambda b: {"bucket": b, "expires_in": 0}, "expires_in", 0, "between 1 and", id="expires-0"),
        pytest.param(
            lambda b: {"bucket": b, "expires_in": 604801}, "expires_in", 604801, "between 1 and", id="expires-big"
        ),
        pytest.param(lambda b: {"bucket": b, "expires_in": "1h"}, "expires_in", "1h", "integer", id="expires-str"),
        pytest.param(lambda b: {"bucket": b, "prefix": 5}, "prefix", 5, "must be a string", id="prefix-int"),
        pytest.param(lambda b: {"bucket": b, "suffix": None}, "suffix", None, "must be a string", id="suffix-null"),
        pytest.param(
            lambda b: {"bucket": b, "prefix": "p" * 1025}, "prefix", "p" * 1025, "1024 bytes", id="prefix-long"
        ),
        pytest.param(
            lambda b: {"bucket": b, "max_concurrency": 0}, "max_concurrency", 0, "between 1", id="concurrency-0"
        ),
        pytest.param(lambda b: {"bucket": b, "Prefix": "a/"}, "Prefix", "a/", "not a known field", id="unknown"),
        pytest.param(lambda b: ["not", "an", "object"], "input", ["not", "an", "object"], "JSON object", id="list"),
        pytest.param(lambda b: {"bucket": b, "run_id": "bad run id"}, "run_id", "bad run id", "1-80", id="run-id"),
        pytest.param(
            lambda b: {"input": {"bucket": b}, "run_id": "bad name!"},
            "execution name",
            "bad name!",
            "1-80 characters",
            id="bad-execution-name",
        ),
        pytest.param(
            lambda b: {"input": {"bucket": b, "expires_in": True}, "run_id": "r1"},
            "expires_in",
            True,
            "integer",
            id="envelope-bool-expiry",
        ),
    ],
)
def test_list_prefixes_rejects(
    s3: Any, *, proxy: S3Proxy, seeded: str, make_event: Any, field: str, value: Any, reason: str
) -> None:
    error = call(s3, proxy, seeded, "list_prefixes", make_event(seeded))
    assert_invalid(proxy, error, field, value, reason)


def build_event(source: str, **changes: Any) -> dict[str, Any]:
    event = {"run_id": "bad-input-run", "bucket": source, "unit": 0, "prefix": "a/", "suffix": ".pdf"}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


@pytest.mark.parametrize(
    ("changes", "field", "value", "reason"),
    [
        pytest.param({"run_id": ...}, "run_id", None, "1-80 characters", id="missing-run-id"),
        pytest.param({"run_id": "a/b"}, "run_id", "a/b", "1-80 characters", id="run-id-slash"),
        pytest.param({"bucket": ...}, "bucket", None, "is required", id="missing-bucket"),
        pytest.param({"bucket": "UPPER"}, "bucket", "UPPER", "not a valid", id="bad-bucket"),
        pytest.param({"unit": ...}, "unit", None, "integer", id="missing-unit"),
        pytest.param({"unit": -1}, "unit", -1, "between 0 and", id="negative-unit"),
        pytest.param({"expires_in": 0}, "expires_in", 0, "between 1 and", id="expires-0"),
        pytest.param({"segment": -2}, "segment", -2, "between 0 and", id="segment-negative"),
    ],
)
def test_build_manifest_rejects(
    s3: Any, *, proxy: S3Proxy, seeded: str, changes: dict[str, Any], field: str, value: Any, reason: str
) -> None:
    error = call(s3, proxy, seeded, "build_manifest", build_event(seeded, **changes))
    assert_invalid(proxy, error, field, value, reason)


@pytest.mark.parametrize(
    ("event", "field", "value", "reason"),
    [
        pytest.param({"bucket": "demo-bucket"}, "run_id", None, "1-80 characters", id="missing-run-id"),
        pytest.param({"run_id": "r", "bucket": "a"}, "bucket", "a", "not a valid", id="short-bucket"),
        pytest.param({"run_id": "r"}, "bucket", None, "is required", id="missing-bucket"),
        pytest.param("r", "event", "r", "JSON object", id="string"),
    ],
)
def test_merge_index_rejects(
    s3: Any, *, proxy: S3Proxy, seeded: str, event: Any, field: str, value: Any, reason: str
) -> None:
    assert_invalid(proxy, call(s3, proxy, seeded, "merge_index", event), field, value, reason)


# --- BucketNotFound and RunNotFound --------------------------------------------------------


def test_list_prefixes_unknown_bucket(s3: Any, proxy: S3Proxy, seeded: str) -> None:
    name = unknown_bucket()
    error = call(s3, proxy, seeded, "list_prefixes", {"bucket": name, "prefix": "a/"})
    assert type(error).__name__ == "BucketNotFound"
    assert str(error) == f"bucket={name!r}: no such bucket"
    assert proxy.seen, "the handler did ask S3"


@pytest.mark.parametrize("attempt", [None, "some-attempt"])
def test_build_manifest_unknown_bucket(s3: Any, proxy: S3Proxy, seeded: str, attempt: str | None) -> None:
    name = unknown_bucket()
    event = build_event(name, attempt=attempt if attempt is not None else ...)
    error = call(s3, proxy, seeded, "build_manifest", event)
    assert type(error).__name__ == "BucketNotFound"
    assert str(error) == f"bucket={name!r}: no such bucket"
    assert proxy.seen


def test_merge_index_unknown_bucket(s3: Any, proxy: S3Proxy, seeded: str) -> None:
    name = unknown_bucket()
    error = call(s3, proxy, seeded, "merge_index", {"run_id": "r", "bucket": name})
    assert type(error).__name__ == "BucketNotFound"
    assert str(error) == f"bucket={name!r}: no such bucket"


def test_build_manifest_without_a_plan_is_run_not_found(s3: Any, proxy: S3Proxy, seeded: str) -> None:
    error = call(s3, proxy, seeded, "build_manifest", build_event(seeded, run_id="never-planned"))
    assert type(error).__name__ == "RunNotFound"
    assert str(error).startswith("run_id='never-planned': no plan at ")
    assert f"s3://{seeded}/manifests/never-planned/" in str(error)
    assert "ListPrefixes" in str(error)


def test_merge_index_without_a_plan_is_run_not_found(s3: Any, proxy: S3Proxy, seeded: str) -> None:
    error = call(s3, proxy, seeded, "merge_index", {"run_id": "never-planned", "bucket": seeded})
    assert type(error).__name__ == "RunNotFound"
    assert str(error).startswith("run_id='never-planned': no plan at ")
    assert f"s3://{seeded}/manifests/never-planned/" in str(error)


def test_a_plan_for_one_run_does_not_make_another_mergeable(s3: Any, proxy: S3Proxy, seeded: str) -> None:
    list_prefixes.lambda_handler({"input": {"bucket": seeded}, "run_id": "real-run"}, FakeLambdaContext())
    written = all_keys(s3, seeded, "manifests/real-run/")
    try:
        assert written
        error = call(s3, proxy, seeded, "merge_index", {"run_id": "real-runx", "bucket": seeded})
        assert type(error).__name__ == "RunNotFound"
        assert "real-runx" in str(error)
    finally:
        s3.delete_objects(Bucket=seeded, Delete={"Objects": [{"Key": key} for key in written]})


def test_the_untouched_checks_see_a_write(s3: Any, proxy: S3Proxy, seeded: str) -> None:
    """The checks in call() can fail: a valid event that writes trips both of them."""
    before = bucket_state(s3, seeded)
    list_prefixes.lambda_handler({"input": {"bucket": seeded}, "run_id": "writes"}, FakeLambdaContext())
    written = all_keys(s3, seeded, "manifests/writes/")
    try:
        assert [r.method for r in proxy.seen if r.method not in {"GET", "HEAD"} and r.status in OK]
        assert bucket_state(s3, seeded) != before
    finally:
        s3.delete_objects(Bucket=seeded, Delete={"Objects": [{"Key": key} for key in written]})
