"""Reliability on the embedded engine: continuations, Lambda throttling, idempotent re-runs."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from fanout_local.engine import EmbeddedEngine, EngineConfig
from tests.workflow.conftest import MANIFEST_BUCKET

SHORT_TIMEOUT = 3.0
# Stop after ~0.8 s of work, leaving 2.2 s to finish: segments without timeouts on a busy machine.
SAFETY_MS = 2200


@pytest.fixture(scope="module")
def short_lived_engine() -> Iterator[EmbeddedEngine]:
    """BuildManifest times out after 3 s and stops early, so a modest prefix needs several continuations.

    S3 runs in this process so the test can seed tens of thousands of keys directly.
    """
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as log,
        EmbeddedEngine(
            EngineConfig(
                manifest_bucket=MANIFEST_BUCKET,
                lambda_timeout=SHORT_TIMEOUT,
                extra_function_env={"TIME_SAFETY_MS": str(SAFETY_MS)},
                s3_in_process=True,
                log=log,
            )
        ) as running,
    ):
        running.s3_client().create_bucket(Bucket=MANIFEST_BUCKET)
        yield running


def seed(bucket: str, keys: list[str]) -> None:
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys:
        backend.put_object(bucket, key, b"%PDF")


def index_of(s3: Any, output: dict[str, Any]) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=MANIFEST_BUCKET, Key=output["index_key"])["Body"].read())


def listed_keys(s3: Any, index: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for part in index["parts"]:
        body = s3.get_object(Bucket=MANIFEST_BUCKET, Key=part["key"])["Body"].read().decode()
        keys.extend(json.loads(line)["key"] for line in body.splitlines())
    return keys


def test_a_unit_too_big_for_one_invocation_continues_in_segments(short_lived_engine: EmbeddedEngine) -> None:
    s3 = short_lived_engine.s3_client()
    s3.create_bucket(Bucket="big-unit")
    keys = [f"only/{i:06d}.pdf" for i in range(12_000)]
    seed("big-unit", keys)

    result = short_lived_engine.run({"bucket": "big-unit", "prefix": "", "max_concurrency": 1}, name="segments")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    builds = [i for i in result.invocations if i.function == "BuildManifestFunction"]
    assert all(i.error is None for i in builds)
    continued = [i for i in builds if not i.result["done"]]
    assert continued, "no invocation stopped early: nothing was tested"
    assert {i.result["segment"] + 1 for i in continued} <= {i.event["segment"] for i in builds}
    index = index_of(s3, result.output)
    assert len(index["parts"]) == len(builds)
    assert all(i.duration_ms < SHORT_TIMEOUT * 1000 for i in builds)
    got = listed_keys(s3, index)
    assert len(got) == len(set(got)) == len(keys)
    assert sorted(got) == keys


def test_rerun_with_the_same_run_id_lists_only_its_own_parts(short_lived_engine: EmbeddedEngine) -> None:
    s3 = short_lived_engine.s3_client()
    s3.create_bucket(Bucket="rerun-src")
    keys = [f"docs/{i:06d}.pdf" for i in range(12_000)]
    seed("rerun-src", keys)
    first = short_lived_engine.run({"bucket": "rerun-src", "run_id": "same-run", "max_concurrency": 1}, name="try-1")
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    first_parts = [p["key"] for p in index_of(s3, first.output)["parts"]]
    assert len(first_parts) >= 2

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys[300:]:
        backend.delete_object("rerun-src", key)
    second = short_lived_engine.run({"bucket": "rerun-src", "run_id": "same-run", "max_concurrency": 1}, name="try-2")

    assert second.status == "SUCCEEDED", (second.error, second.cause)
    assert second.output["run_id"] == "same-run"
    assert second.output["index_key"] == first.output["index_key"]  # same keys: overwritten
    index = index_of(s3, second.output)
    assert [p["key"] for p in index["parts"]] == ["manifests/same-run/parts/00000.jsonl"]
    assert sorted(listed_keys(s3, index)) == keys[:300]
    # the first attempt's later segments are still in S3, but nothing points at them
    stale = set(first_parts) - {p["key"] for p in index["parts"]}
    assert stale


def test_lambda_throttling_is_retried_with_backoff(engine: EmbeddedEngine, engine_s3: Any, source_bucket: str) -> None:
    for key in ("a/1.pdf", "b/2.pdf", "c/3.pdf"):
        engine_s3.put_object(Bucket=source_bucket, Key=key, Body=b"%PDF")
    throttled: list[str] = []
    lock = threading.Lock()

    def throttle_twice(function: str) -> tuple[int, str, str] | None:
        with lock:
            if function == "BuildManifestFunction" and len(throttled) < 2:
                throttled.append(function)
                return 429, "TooManyRequestsException", "Rate exceeded"
        return None

    engine.runtime.fault_injector = throttle_twice
    try:
        result = engine.run({"bucket": source_bucket, "max_concurrency": 1}, name="wf-throttled")
    finally:
        engine.runtime.fault_injector = None

    assert throttled == ["BuildManifestFunction"] * 2
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["count"] == 3
