"""S3 failing under the handlers: named errors, fast, and nothing half-written left behind.

Faults come from tests.support.s3_proxy (a reverse proxy in front of moto server); the
handlers are pointed at it through S3_ENDPOINT_URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from s3fanout.errors import FanoutError
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from s3fanout.runtime import settings
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import all_keys, put_keys
from tests.support.s3_proxy import DROP, FORWARD, Action, ProxyRequest, Respond, S3Proxy, fast_retries

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    pytest.mark.timeout(120),
]

RUN_ID = "failing-run"
NO_UNITS = "planned-elsewhere/"


@pytest.fixture
def proxy(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Proxy]:
    """A forwarding proxy; tests set ``proxy.rule`` and then ``use(proxy)``."""
    fast_retries(monkeypatch)
    with S3Proxy(moto_endpoint) as running:
        yield running
    settings.cache_clear()


def use(proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)
    settings.cache_clear()


def plan_run(source: str, prefix: str = "", run_id: str = RUN_ID) -> dict[str, Any]:
    """ListPrefixes straight against moto (before any fault is switched on).

    Tests that hand-make a whole-prefix unit only need the run's attempt: they plan an empty
    prefix (``NO_UNITS``), which spares the planner's probing of thousands of keys.
    """
    return list_prefixes.lambda_handler({"input": {"bucket": source, "prefix": prefix}, "run_id": run_id}, ctx())


def ctx() -> FakeLambdaContext:
    return FakeLambdaContext()


def unit_event(plan: dict[str, Any], unit: int, prefix: str) -> dict[str, Any]:
    """A whole prefix as one unit (the planner would split a big prefix into key ranges)."""
    return {
        "run_id": plan["run_id"],
        "attempt": plan["attempt"],
        "bucket": plan["bucket"],
        "suffix": plan["suffix"],
        "expires_in": plan["expires_in"],
        "unit": unit,
        "prefix": prefix,
    }


def run_keys(s3: Any, manifest_bucket: str, what: str, run_id: str = RUN_ID) -> list[str]:
    return all_keys(s3, manifest_bucket, f"manifests/{run_id}/{what}/")


def error_record(s3: Any, manifest_bucket: str, unit: int, run_id: str = RUN_ID) -> dict[str, Any]:
    key = f"manifests/{run_id}/errors/{unit:05d}.json"
    return json.loads(s3.get_object(Bucket=manifest_bucket, Key=key)["Body"].read())


def assert_nothing_half_written(s3: Any, manifest_bucket: str) -> None:
    assert run_keys(s3, manifest_bucket, "parts") == []
    assert run_keys(s3, manifest_bucket, "summaries") == []
    assert all_keys(s3, manifest_bucket, f"manifests/{RUN_ID}/index.json") == []
    assert s3.list_multipart_uploads(Bucket=manifest_bucket).get("Uploads", []) == []


def build_fails(event: dict[str, Any]) -> BaseException:
    with pytest.raises(FanoutError) as raised:
        build_manifest.lambda_handler(event, ctx())
    return raised.value


# --- ListPrefixes --------------------------------------------------------------------------


def test_a_failing_plan_listing_writes_no_plan(
    s3: Any, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "b/2.pdf"])
    proxy.rule = lambda r: Respond.s3_error(403, "AccessDenied", "Access Denied") if r.is_list_objects_v2 else FORWARD
    use(proxy, monkeypatch)
    with pytest.raises(FanoutError) as raised:
        list_prefixes.lambda_handler({"input": {"bucket": bucket}, "run_id": RUN_ID}, ctx())
    assert type(raised.value).__name__ == "AccessDenied"
    assert str(raised.value) == f"bucket={bucket!r}: access denied for ListObjectsV2"
    assert all_keys(s3, manifest_bucket) == []
    # Not retried: planning's lean probe (a presigned GET) is refused, asked once again
    # through aiobotocore (s3fanout.list_probe), refused, and that is the error.
    refused = [("X-Amz-Signature" in r.query, r.status) for r in proxy.seen if r.action == "respond"]
    assert refused == [(True, 403), (False, 403)]


# --- BuildManifest: the listing fails on page 2 ---------------------------------------------

BIG_UNIT = [f"big/{i:05d}.pdf" for i in range(2001)]


def second_page(bucket: str, action: Action) -> Any:
    def rule(request: ProxyRequest) -> Action:
        if request.bucket == bucket and request.is_continuation_page:
            return action
        return FORWARD

    return rule


def test_access_denied_on_the_second_page(
    s3: Any, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_keys(s3, bucket, BIG_UNIT, body=b"x")
    plan = plan_run(bucket, NO_UNITS)
    proxy.rule = second_page(bucket, Respond.s3_error(403, "AccessDenied", "Access Denied"))
    use(proxy, monkeypatch)

    error = build_fails(unit_event(plan, 0, "big/"))

    assert type(error).__name__ == "AccessDenied"
    assert str(error) == f"bucket={bucket!r}: access denied for ListObjectsV2"
    pages = [r for r in proxy.seen if r.is_list_objects_v2 and r.path == f"/{bucket}"]
    assert [r.action for r in pages] == ["forward", "respond"]  # page 1 served, page 2 refused once
    assert_nothing_half_written(s3, manifest_bucket)
    record = error_record(s3, manifest_bucket, 0)
    assert record["error"] == "AccessDenied"
    assert record["message"] == str(error)
    assert record["attempt"] == plan["attempt"]
    assert record["unit"] == 0


def delete_bucket_now(s3: Any, bucket: str) -> Any:
    """A rule that really deletes ``bucket`` when page 2 is asked for, then forwards."""

    def rule(request: ProxyRequest) -> Action:
        if request.bucket == bucket and request.is_continuation_page:
            keys = all_keys(s3, bucket)
            for start in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]})
            s3.delete_bucket(Bucket=bucket)
        return FORWARD

    return rule


@pytest.mark.parametrize("how", ["deleted", "simulated"])
def test_the_bucket_disappears_mid_listing(
    s3: Any, *, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    put_keys(s3, bucket, BIG_UNIT, body=b"x")
    plan = plan_run(bucket, NO_UNITS)
    if how == "deleted":
        proxy.rule = delete_bucket_now(s3, bucket)
    else:
        proxy.rule = second_page(bucket, Respond.s3_error(404, "NoSuchBucket", "The specified bucket does not exist"))
    use(proxy, monkeypatch)

    error = build_fails(unit_event(plan, 0, "big/"))

    assert type(error).__name__ == "BucketNotFound"
    assert str(error) == f"bucket={bucket!r}: no such bucket"
    if how == "deleted":
        assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert_nothing_half_written(s3, manifest_bucket)
    assert error_record(s3, manifest_bucket, 0)["error"] == "BucketNotFound"


# --- BuildManifest: the part upload fails (the consumer side of the pipeline) --------------


LONG_UNIT_PAGES = 5


def long_keys(count: int) -> list[str]:
    # ~1000-byte keys whose URL-encoding triples them: each manifest line is ~4 KiB, so the
    # first 5 MiB part fills up during page 2 of the listing.
    return [f"long/{i:05d}-{'é' * 500}.pdf" for i in range(count)]


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_part_upload_that_keeps_failing_does_not_hang(
    s3: Any, *, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    put_keys(s3, bucket, long_keys(LONG_UNIT_PAGES * 1000), body=b"x")
    plan = plan_run(bucket, NO_UNITS)
    monkeypatch.setenv("PART_SIZE_BYTES", str(5 * 1024 * 1024))
    monkeypatch.setenv("QUEUE_MAX", "1")  # the listing is blocked on a full queue when the upload fails
    action: Action = DROP if fault == "drop" else Respond.s3_error(500, "InternalError", "We encountered an error")
    proxy.rule = lambda r: action if r.bucket == manifest_bucket and r.is_upload_part else FORWARD
    use(proxy, monkeypatch)

    error = build_fails(unit_event(plan, 0, "long/"))

    assert type(error).__name__ == "S3RequestFailed"
    assert "UploadPart" in str(error)
    if fault == "500":
        assert "InternalError" in str(error)
    failed = [r for r in proxy.seen if r.action != "forward"]
    assert len(failed) > 1, "the client retried the part before giving up"
    # The upload had started (so the abort below really had something to remove) ...
    assert any(r.method == "POST" and "uploads" in r.query for r in proxy.seen)
    assert any(r.method == "DELETE" and "uploadId" in r.query for r in proxy.seen)
    # ... and the listing stopped: not every page was fetched (the part fills up on page 2).
    pages = [r for r in proxy.seen if r.is_list_objects_v2 and r.path == f"/{bucket}"]
    assert len(pages) < LONG_UNIT_PAGES
    assert_nothing_half_written(s3, manifest_bucket)
    assert error_record(s3, manifest_bucket, 0)["error"] == "S3RequestFailed"


def test_the_same_unit_succeeds_without_the_fault(
    s3: Any, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the test above: the same unit and settings write a multipart part."""
    keys = long_keys(2000)
    put_keys(s3, bucket, keys, body=b"x")
    plan = plan_run(bucket, NO_UNITS)
    monkeypatch.setenv("PART_SIZE_BYTES", str(5 * 1024 * 1024))
    monkeypatch.setenv("QUEUE_MAX", "1")
    use(proxy, monkeypatch)

    result = build_manifest.lambda_handler(unit_event(plan, 0, "long/"), ctx())

    assert result["count"] == len(keys)
    assert result["bytes"] > 5 * 1024 * 1024
    assert any(r.is_upload_part for r in proxy.seen)
    head = s3.head_object(Bucket=manifest_bucket, Key=result["part_key"])
    assert head["ContentLength"] == result["bytes"]
    assert head["ETag"].strip('"').rsplit("-", 1)[-1].isdigit()  # a multipart object
    assert s3.list_multipart_uploads(Bucket=manifest_bucket).get("Uploads", []) == []


# --- MergeIndex: a unit without its part ---------------------------------------------------


def build_unit(s3: Any, plan: dict[str, Any], unit: dict[str, Any]) -> None:
    event: dict[str, Any] | None = {**unit_event(plan, unit["unit"], unit["prefix"]), **unit}
    while event is not None:
        event = build_manifest.lambda_handler(event, ctx())["next"]


def test_merge_names_the_unit_whose_part_failed(
    s3: Any, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "a/2.pdf", "b/3.pdf", "b/4.pdf"])
    plan = plan_run(bucket)
    units = json.loads(s3.get_object(Bucket=manifest_bucket, Key=plan["plan_key"])["Body"].read())
    assert len(units) == 2  # two key ranges: (start, a/2.pdf] and (a/2.pdf, end)
    build_unit(s3, plan, units[0])
    proxy.rule = lambda r: (
        Respond.s3_error(403, "AccessDenied", "Access Denied")
        if r.is_list_objects_v2 and r.query.get("start-after") == [units[1]["start_after"]]
        else FORWARD
    )
    use(proxy, monkeypatch)
    with pytest.raises(FanoutError, match="access denied") as failed:
        build_unit(s3, plan, units[1])
    assert type(failed.value).__name__ == "AccessDenied"

    with pytest.raises(FanoutError) as raised:
        merge_index.lambda_handler({"run_id": RUN_ID, "bucket": bucket}, ctx())

    error = raised.value
    assert type(error).__name__ == "PartsMissing"
    assert error.missing.keys() == {1}  # type: ignore[attr-defined]
    message = str(error)
    assert f"run_id={RUN_ID!r}" in message
    assert "1 unit(s) have no part" in message
    assert "unit 1: prefix ''" in message
    assert f"AccessDenied: {failed.value}" in message
    assert "unit 0" not in message
    assert all_keys(s3, manifest_bucket, f"manifests/{RUN_ID}/index.json") == []


def test_merge_names_a_unit_that_never_ran(s3: Any, bucket: str, manifest_bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "a/2.pdf", "b/3.pdf", "b/4.pdf", "c/5.pdf", "c/6.pdf"])
    plan = plan_run(bucket)
    units = json.loads(s3.get_object(Bucket=manifest_bucket, Key=plan["plan_key"])["Body"].read())
    assert len(units) == 3
    build_unit(s3, plan, units[1])

    with pytest.raises(FanoutError) as raised:
        merge_index.lambda_handler({"run_id": RUN_ID, "bucket": bucket}, ctx())

    assert type(raised.value).__name__ == "PartsMissing"
    assert raised.value.missing.keys() == {0, 2}  # type: ignore[attr-defined]
    assert "unit 0: prefix '': no complete part (no error recorded" in str(raised.value)
    assert "unit 2: prefix '': no complete part (no error recorded" in str(raised.value)
    assert all_keys(s3, manifest_bucket, f"manifests/{RUN_ID}/index.json") == []


def test_merge_names_the_input_error_of_a_refused_unit(s3: Any, bucket: str, manifest_bucket: str) -> None:
    """A planned unit BuildManifest refuses (the 5,000-key demo's planner once wrote estimates
    of 10^14) is named by MergeIndex with the refusal, not as "no complete part"; the refused
    event itself wrote nothing."""
    put_keys(s3, bucket, ["a/1.pdf", "a/2.pdf", "b/3.pdf", "b/4.pdf"])
    plan = plan_run(bucket)
    units = json.loads(s3.get_object(Bucket=manifest_bucket, Key=plan["plan_key"])["Body"].read())
    build_unit(s3, plan, units[0])
    units[1]["estimate"] = 653088983492224  # as that planner wrote it
    s3.put_object(Bucket=manifest_bucket, Key=plan["plan_key"], Body=json.dumps(units).encode())
    with pytest.raises(FanoutError, match="estimate"):
        build_manifest.lambda_handler({**unit_event(plan, 1, ""), **units[1]}, ctx())
    assert run_keys(s3, manifest_bucket, "errors") == []

    with pytest.raises(FanoutError) as raised:
        merge_index.lambda_handler({"run_id": RUN_ID, "bucket": bucket}, ctx())
    assert raised.value.missing.keys() == {1}  # type: ignore[attr-defined]
    assert "unit 1: prefix '': no complete part (InvalidInput: estimate=653088983492224" in str(raised.value)


def test_an_error_from_an_earlier_attempt_is_not_blamed(s3: Any, bucket: str, manifest_bucket: str) -> None:
    """A re-run (new attempt) names only its own errors."""
    put_keys(s3, bucket, ["a/1.pdf", "a/2.pdf", "b/2.pdf", "b/3.pdf"])
    plan_run(bucket)
    s3.put_object(
        Bucket=manifest_bucket,
        Key=f"manifests/{RUN_ID}/errors/00001.json",
        Body=json.dumps({"unit": 1, "segment": 0, "attempt": "old", "error": "AccessDenied", "message": "old"}),
    )
    plan = plan_run(bucket)  # same run_id, new attempt
    units = json.loads(s3.get_object(Bucket=manifest_bucket, Key=plan["plan_key"])["Body"].read())
    build_unit(s3, plan, units[0])
    with pytest.raises(FanoutError) as raised:
        merge_index.lambda_handler({"run_id": RUN_ID, "bucket": bucket}, ctx())
    assert type(raised.value).__name__ == "PartsMissing"
    assert "unit 1: prefix '': no complete part" in str(raised.value)
    assert "AccessDenied" not in str(raised.value)


@pytest.mark.parametrize(
    "fault",
    [
        "drop",
        "503",
    ],
)
def test_a_listing_that_keeps_failing_is_a_named_error(
    s3: Any, *, bucket: str, manifest_bucket: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    put_keys(s3, bucket, BIG_UNIT, body=b"x")
    plan = plan_run(bucket, NO_UNITS)
    action: Action = DROP if fault == "drop" else Respond.s3_error(503, "SlowDown", "Please reduce your request rate.")
    proxy.rule = second_page(bucket, action)
    use(proxy, monkeypatch)

    with pytest.raises(Exception) as raised:  # noqa: PT011
        build_manifest.lambda_handler(unit_event(plan, 0, "big/"), ctx())
    error = raised.value

    assert type(error).__name__ == "S3RequestFailed"
    assert "ListObjectsV2" in str(error)
    assert len([r for r in proxy.seen if r.action != "forward"]) > 1  # retried first
    assert_nothing_half_written(s3, manifest_bucket)
    assert error_record(s3, manifest_bucket, 0)["error"] == "S3RequestFailed"
