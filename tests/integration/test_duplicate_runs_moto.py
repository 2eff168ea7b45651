"""Two runs of the same unit at once (EXPRESS children run at least once; a Lambda retried
on a client timeout while the first call still runs): MergeIndex publishes only parts that
are what their summaries say, in segments that join - else PartsMissing names the unit."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest

from s3fanout.errors import FanoutError
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from s3fanout.part_metadata import summary_from_metadata
from s3fanout.runtime import settings
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import put_keys

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    pytest.mark.timeout(120),
]

RUN_ID = "twice-run"


@pytest.fixture(autouse=True)
def one_unit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MIN_UNIT_KEYS", "100000")
    settings.cache_clear()
    yield
    settings.cache_clear()


def plan(bucket: str) -> tuple[dict[str, Any], dict[str, Any]]:
    state = list_prefixes.lambda_handler({"input": {"bucket": bucket}, "run_id": RUN_ID}, FakeLambdaContext())
    return state, {
        **{f: state[f] for f in ("run_id", "attempt", "bucket", "suffix", "expires_in", "bucket_region")},
        "unit": 0,
        "prefix": "",
        "segment": 0,
        "child": 0,
    }


def build(event: dict[str, Any]) -> dict[str, Any]:
    return build_manifest.lambda_handler(event, FakeLambdaContext())


def merge(state: dict[str, Any]) -> dict[str, Any]:
    return merge_index.lambda_handler({"run_id": state["run_id"], "bucket": state["bucket"]}, FakeLambdaContext())


def carried_summaries(s3: Any, manifest_bucket: str) -> list[dict[str, Any]]:
    """The summaries this run's parts carry in their metadata (s3fanout.part_metadata)."""
    parts = s3.list_objects_v2(Bucket=manifest_bucket, Prefix=f"manifests/{RUN_ID}/parts/").get("Contents", [])
    heads = [s3.head_object(Bucket=manifest_bucket, Key=part["Key"]) for part in parts]
    found = [summary_from_metadata(head["Metadata"], head["ETag"]) for head in heads]
    return [summary.to_json() for summary in found if summary is not None]


def summary_objects(s3: Any, manifest_bucket: str) -> int:
    return s3.list_objects_v2(Bucket=manifest_bucket, Prefix=f"manifests/{RUN_ID}/summaries/")["KeyCount"]


# Keys whose summary is too big for a part's metadata (2 KB): each near S3's 1,024 bytes, of
# characters that do not compress. Their parts keep a summaries/ object.
_RANDOM = random.Random(7)
LONG_KEYS = sorted(
    f"k/{i:02d}-"
    + "".join(_RANDOM.choice(string.ascii_letters + string.digits + "-_.!()") for _ in range(1000))
    + ".pdf"
    for i in range(50)
)


def test_a_part_overwritten_after_its_summary_is_not_published(s3: Any, bucket: str, manifest_bucket: str) -> None:
    put_keys(s3, bucket, LONG_KEYS)
    state, event = plan(bucket)
    first = build(event)
    assert first["done"]
    assert carried_summaries(s3, manifest_bucket) == []
    assert summary_objects(s3, manifest_bucket) == 1
    # The second run finished its part last, with fewer keys (one was deleted meanwhile), and
    # its summary is still on its way: the part is no longer the one the summary describes.
    s3.delete_object(Bucket=bucket, Key=LONG_KEYS[-1])
    key = first["part_key"]
    part = s3.get_object(Bucket=manifest_bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=manifest_bucket, Key=key, Body=b"".join(part.splitlines(keepends=True)[:-1]))

    with pytest.raises(FanoutError) as raised:
        merge(state)

    assert type(raised.value).__name__ == "PartsMissing"
    assert f"unit 0: prefix '': part {key} was overwritten after its summary" in str(raised.value)
    assert s3.list_objects_v2(Bucket=manifest_bucket, Prefix=f"manifests/{RUN_ID}/index.json")["KeyCount"] == 0


def test_a_part_that_carries_no_summary_is_not_published(s3: Any, bucket: str, manifest_bucket: str) -> None:
    """A part's summary rides on its metadata: written over by anything else (a copy, a
    hand-made upload), the part carries none, and its unit is named, not published."""
    put_keys(s3, bucket, [f"k/{i:04d}.pdf" for i in range(50)])
    state, event = plan(bucket)
    first = build(event)
    assert [s["part_key"] for s in carried_summaries(s3, manifest_bucket)] == [first["part_key"]]
    assert summary_objects(s3, manifest_bucket) == 0  # (no PutObject for it)
    key = first["part_key"]
    part = s3.get_object(Bucket=manifest_bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=manifest_bucket, Key=key, Body=part)

    with pytest.raises(FanoutError) as raised:
        merge(state)

    assert type(raised.value).__name__ == "PartsMissing"
    assert "unit 0: prefix '': no complete part" in str(raised.value)
    assert s3.list_objects_v2(Bucket=manifest_bucket, Prefix=f"manifests/{RUN_ID}/index.json")["KeyCount"] == 0


def test_segments_of_two_runs_that_stopped_at_different_keys_do_not_join(
    s3: Any, bucket: str, manifest_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A lists segment 0 and stops; keys land before its stop point; run B lists segment 0
    again and stops earlier in the key order, overwriting A's part and summary; A's segment 1
    (from where A stopped) is written too. Published, keys between would be lost."""
    monkeypatch.setenv("TIME_SAFETY_MS", "600000")  # with a budget: one page per invocation
    monkeypatch.setenv("CHILD_TIME_BUDGET_SECONDS", "60")
    settings.cache_clear()
    put_keys(s3, bucket, [f"k/{i:04d}.pdf" for i in range(2500)])
    state, event = plan(bucket)
    run_a = build(event)
    assert run_a["deferred"]
    stop_a = run_a["next_start_after"]
    put_keys(s3, bucket, [f"k/0000-{i:02d}.pdf" for i in range(20)])  # before A's stop point
    run_b = build(event)
    assert run_b["next_start_after"] < stop_a
    resume_a = {**event, "start_after": stop_a, "segment": 1}
    monkeypatch.setenv("CHILD_TIME_BUDGET_SECONDS", "0")  # A's next round lists the rest at once
    settings.cache_clear()
    assert build(resume_a)["done"]
    # (B's segment 0 overwrote A's, part and summary together)
    assert sorted(s["segment"] for s in carried_summaries(s3, manifest_bucket)) == [0, 1]

    with pytest.raises(FanoutError) as raised:
        merge(state)

    assert type(raised.value).__name__ == "PartsMissing"
    assert "unit 0: prefix '': segments 0 and 1 do not join" in str(raised.value)


def test_runs_that_agree_publish(s3: Any, bucket: str, manifest_bucket: str) -> None:
    """The same unit built twice over an unchanged bucket: the second run's part and summary
    replace the first's, consistently; the share is published."""
    keys = [f"k/{i:04d}.pdf" for i in range(30)]
    put_keys(s3, bucket, keys)
    state, event = plan(bucket)
    build(event)
    build(event)
    index = merge(state)
    assert index["count"] == len(keys)
    assert summary_objects(s3, manifest_bucket) == 0
    body = s3.get_object(Bucket=manifest_bucket, Key=f"manifests/{RUN_ID}/parts/00000.jsonl")["Body"].read()
    assert [json.loads(line)["key"] for line in body.splitlines()] == keys
