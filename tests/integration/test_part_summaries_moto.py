"""Where a part's summary lives (s3fanout.part_metadata), end to end on moto server: in the
part's own metadata when the part is one PutObject, else a ``summaries/`` object - and
MergeIndex publishes from either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from s3fanout.part_metadata import summary_from_metadata
from s3fanout.runtime import settings
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import all_keys, put_keys, read_jsonl

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    pytest.mark.timeout(300),
]

RUN_ID = "summaries-run"


@pytest.fixture(autouse=True)
def small_units(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MIN_UNIT_KEYS", "100")
    monkeypatch.setenv("INLINE_PLAN", "true")  # (the plan in ListPrefixes' result)
    settings.cache_clear()
    yield
    settings.cache_clear()


def run(bucket: str, max_concurrency: int = 4) -> dict[str, Any]:
    """Plan, build every planned unit, merge: the index result."""
    ctx = FakeLambdaContext()
    state = list_prefixes.lambda_handler(
        {"input": {"bucket": bucket, "max_concurrency": max_concurrency}, "run_id": RUN_ID}, ctx
    )
    fields = ("run_id", "attempt", "bucket", "suffix", "expires_in", "bucket_region")
    for unit in state["plan"]:
        build_manifest.lambda_handler({**{f: state[f] for f in fields}, **unit}, ctx)
    return merge_index.lambda_handler({"run_id": state["run_id"], "bucket": state["bucket"]}, ctx)


def parts_of(s3: Any, manifest_bucket: str) -> dict[str, dict[str, Any]]:
    return {
        key: s3.head_object(Bucket=manifest_bucket, Key=key)
        for key in all_keys(s3, manifest_bucket, f"manifests/{RUN_ID}/parts/")
    }


def test_every_part_carries_its_summary_and_the_share_publishes(s3: Any, bucket: str, manifest_bucket: str) -> None:
    keys = [f"d{i % 7}/f-{i:05d}.pdf" for i in range(1_200)]
    put_keys(s3, bucket, keys)

    index = run(bucket)

    parts = parts_of(s3, manifest_bucket)
    assert len(parts) == index["parts"] > 1
    carried = [summary_from_metadata(head["Metadata"], head["ETag"]) for head in parts.values()]
    assert all(summary is not None for summary in carried)
    assert sum(summary.count for summary in carried if summary is not None) == len(keys) == index["count"]
    assert all_keys(s3, manifest_bucket, f"manifests/{RUN_ID}/summaries/") == []  # no PutObject for them
    listed = sorted(line["key"] for key in parts for line in read_jsonl(s3, manifest_bucket, key))
    assert listed == sorted(keys)


def test_a_part_uploaded_in_several_parts_keeps_a_summary_object(
    s3: Any, bucket: str, manifest_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part over one upload part (5 MiB) goes up as a multipart upload, whose metadata is
    set before its summary is known: its summary is an object of its own."""
    monkeypatch.setenv("MIN_UNIT_KEYS", "1000000")  # one unit
    monkeypatch.setenv("PART_SIZE_BYTES", str(5 * 1024 * 1024))
    settings.cache_clear()
    keys = [f"long/{'x' * 200}-{i:06d}.pdf" for i in range(9_000)]  # ~6 MiB of lines
    put_keys(s3, bucket, keys)

    index = run(bucket)

    [head] = parts_of(s3, manifest_bucket).values()
    assert head["ContentLength"] > 5 * 1024 * 1024
    assert "-" in head["ETag"]  # (a multipart object)
    assert summary_from_metadata(head["Metadata"], head["ETag"]) is None
    assert len(all_keys(s3, manifest_bucket, f"manifests/{RUN_ID}/summaries/")) == 1
    assert index["count"] == len(keys)
