"""Planning on a real S3 API (moto server): flat prefixes and skewed trees become balanced
key-range units, and a unit far bigger than planned spreads into pieces."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3fanout import runtime
from s3fanout.errors import FanoutError
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from tests.integration.test_manifest_keys import manifest_keys
from tests.support.flow import run_handlers
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import put_keys


@pytest.fixture
def unit_keys(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("MIN_UNIT_KEYS", "500")
    runtime.settings.cache_clear()
    return 500


def unit_sizes(keys: list[str], units: list[dict[str, Any]]) -> list[int]:
    return [
        sum(
            1
            for k in keys
            if (u["start_after"] is None or k > u["start_after"]) and (u["end_key"] is None or k <= u["end_key"])
        )
        for u in units
    ]


def test_flat_prefix_is_split_into_balanced_ranges_that_list_every_key_once(
    s3: Any, bucket: str, unit_keys: int
) -> None:
    keys = [f"flat/doc-{i:05d}.pdf" for i in range(6000)] + ["flat/zz-last.pdf", "flat/ünïcode.pdf"]
    put_keys(s3, bucket, keys, body=b"x")

    result = run_handlers(s3, {"bucket": bucket, "prefix": "flat/", "max_concurrency": 4})

    units = result["units"]
    sizes = unit_sizes(keys, units)
    assert len(units) >= 5
    assert sum(sizes) == len(keys)
    assert max(sizes) <= 2 * len(keys) / len(units)
    assert all(u["prefix"] == "flat/" and "delimited" not in u and u["estimate"] > 0 for u in units)
    got = manifest_keys(s3, result)
    assert len(got) == len(set(got))
    assert sorted(got) == sorted(keys)


def test_one_big_sub_prefix_among_small_ones_is_split(s3: Any, bucket: str, unit_keys: int) -> None:
    big = [f"big/{i:05d}.pdf" for i in range(3500)]
    small = [f"s{i:02d}/{j}.pdf" for i in range(20) for j in range(5)]
    put_keys(s3, bucket, big + small, body=b"x")

    result = run_handlers(s3, {"bucket": bucket, "max_concurrency": 2})

    sizes = unit_sizes(big + small, result["units"])
    assert len(sizes) >= 4
    assert max(sizes) <= 2 * sum(sizes) / len(sizes)
    assert sorted(manifest_keys(s3, result)) == sorted(big + small)


def test_manifests_in_the_source_bucket_are_not_listed_by_a_later_run(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "b/2.txt"])
    run_handlers(s3, {"bucket": bucket, "suffix": ""}, run_id="first")
    second = run_handlers(s3, {"bucket": bucket, "suffix": ""}, run_id="second")
    assert sorted(manifest_keys(s3, second)) == ["a/1.pdf", "b/2.txt"]


def test_a_unit_far_bigger_than_planned_spreads_into_pieces(
    s3: Any, bucket: str, manifest_bucket: str, unit_keys: int
) -> None:
    """Keys written after planning: the unit lists past twice its estimate, stops, and
    hands back pieces of the rest; MergeIndex takes the unit and every piece, in order."""
    early = [f"grow/{i:05d}.pdf" for i in range(0, 6000, 1000)]  # 6 keys when planned: one unit
    put_keys(s3, bucket, early, body=b"x")
    plan = list_prefixes.lambda_handler({"input": {"bucket": bucket}, "run_id": "grown"}, FakeLambdaContext())
    units = json.loads(s3.get_object(Bucket=manifest_bucket, Key=plan["plan_key"])["Body"].read())
    assert len(units) == 1
    late = [f"grow/{i:05d}.pdf" for i in range(6000) if i % 1000]
    put_keys(s3, bucket, late, body=b"x")
    keys = sorted(early + late)

    event = {**{k: plan[k] for k in ("run_id", "attempt", "bucket", "suffix", "expires_in", "bucket_region")}}
    first = build_manifest.lambda_handler({**event, **units[0]}, FakeLambdaContext())

    assert first["done"] is False
    assert first["next"] is None
    pieces = first["spill"]
    assert 2 <= len(pieces) <= 40
    assert [p["child"] for p in pieces] == list(range(1, len(pieces) + 1))
    assert pieces[0]["start_after"] == first["next_start_after"]
    assert pieces[-1]["end_key"] is None
    assert [p["start_after"] for p in pieces[1:]] == [p["end_key"] for p in pieces[:-1]]
    assert 1000 <= first["listed"] < 6000  # 2 x max(estimate, minimum unit): 2 x 500

    with pytest.raises(FanoutError, match="have no part") as missing:
        merge_index.lambda_handler({"run_id": "grown", "bucket": bucket}, FakeLambdaContext())
    assert "piece 1: no complete part" in str(missing.value)

    for piece in pieces:
        follow: dict[str, Any] | None = piece
        while follow is not None:
            built = build_manifest.lambda_handler(follow, FakeLambdaContext())
            assert built["spill"] is None  # pieces never spread again
            follow = built["next"]
    index = merge_index.lambda_handler({"run_id": "grown", "bucket": bucket}, FakeLambdaContext())
    assert index["count"] == len(keys)
    assert index["parts"] == 1 + len(pieces)
    document = json.loads(s3.get_object(Bucket=manifest_bucket, Key=index["index_key"])["Body"].read())
    listed = []
    for part in document["parts"]:
        body = s3.get_object(Bucket=manifest_bucket, Key=part["key"])["Body"].read().decode()
        listed += [json.loads(line)["key"] for line in body.splitlines()]
    assert listed == keys  # in key order, each once
