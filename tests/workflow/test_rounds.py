"""Units deferred at their child execution's time limit go round the Map again.

A Distributed Map's EXPRESS children end at 5 minutes; BuildManifest keeps to a time budget
(CHILD_TIME_BUDGET_SECONDS) and leaves the rest of its unit to MergeIndex, which sends it
round again. Here the budget's margin (TIME_SAFETY_MS) is larger than the budget itself, so
every child lists one page and defers: a 3,500-key unit takes a round a page.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from fanout_local.engine import EmbeddedEngine, EngineConfig
from tests.workflow.conftest import MANIFEST_BUCKET

PAGE = 1000  # keys per listing page


@pytest.fixture(scope="module")
def deferring_engine() -> Iterator[EmbeddedEngine]:
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as log,
        EmbeddedEngine(
            EngineConfig(
                manifest_bucket=MANIFEST_BUCKET,
                extra_function_env={"CHILD_TIME_BUDGET_SECONDS": "60", "TIME_SAFETY_MS": "600000"},
                s3_in_process=True,
                log=log,
            )
        ) as running,
    ):
        running.s3_client().create_bucket(Bucket=MANIFEST_BUCKET)
        yield running


def seed(s3: Any, bucket: str, keys: list[str]) -> None:
    s3.create_bucket(Bucket=bucket)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys:
        backend.put_object(bucket, key, b"%PDF")


def indexed_keys(s3: Any, output: dict[str, Any]) -> list[str]:
    index = json.loads(s3.get_object(Bucket=MANIFEST_BUCKET, Key=output["index_key"])["Body"].read())
    keys: list[str] = []
    for part in index["parts"]:
        body = s3.get_object(Bucket=MANIFEST_BUCKET, Key=part["key"])["Body"].read().decode()
        keys.extend(json.loads(line)["key"] for line in body.splitlines())
    return keys


def test_a_unit_out_of_its_childs_time_finishes_in_later_rounds(deferring_engine: EmbeddedEngine) -> None:
    s3 = deferring_engine.s3_client()
    keys = [f"one/{i:05d}.pdf" for i in range(3 * PAGE + 500)]
    seed(s3, "deferred-src", keys)

    result = deferring_engine.run({"bucket": "deferred-src", "max_concurrency": 2}, name="rounds")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    builds = [i for i in result.invocations if i.function == "BuildManifestFunction"]
    merges = [i for i in result.invocations if i.function == "MergeIndexFunction"]
    assert all(i.error is None for i in builds + merges)
    # One page per child, each child in its own round: segments 0..n-1, n rounds.
    segments = sorted(i.event["segment"] for i in builds)
    rounds = len(segments)
    assert rounds >= 4  # at least 3,500 keys at up to 1,000 a page
    assert segments == list(range(rounds))
    by_segment = sorted(builds, key=lambda i: i.event["segment"])
    assert [i.result["deferred"] for i in by_segment] == [True] * (rounds - 1) + [False]
    assert all(i.event.get("budget_until") is None for i in builds)  # every round's child starts afresh
    assert len(merges) == rounds
    sent = [m.result["next_round"]["plan_key"] for m in merges[:-1]]
    assert sent == [f"manifests/rounds/rounds/{n:04d}.json" for n in range(1, rounds)]
    assert [m.event.get("plan_key") for m in merges] == ["manifests/rounds/plan.json", *sent]
    got = indexed_keys(s3, result.output)
    assert got == keys  # every key once, in key order
    assert result.output["count"] == len(keys)
    assert result.output["parts"] == rounds
