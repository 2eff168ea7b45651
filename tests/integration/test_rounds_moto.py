"""MergeIndex sends units deferred at their child's time limit round again (``s3fanout.rounds``),
once: handlers against moto server, the state machine's part played by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from s3fanout.errors import FanoutError
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from s3fanout.runtime import settings
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import put_keys

pytestmark = [
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
    pytest.mark.timeout(120),
]

RUN_ID = "rounds-run"


@pytest.fixture(autouse=True)
def one_page_per_child(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A budget whose margin exceeds it: every child lists one page, then defers. One unit."""
    monkeypatch.setenv("MIN_UNIT_KEYS", "100000")
    monkeypatch.setenv("CHILD_TIME_BUDGET_SECONDS", "60")
    monkeypatch.setenv("TIME_SAFETY_MS", "600000")
    settings.cache_clear()
    yield
    settings.cache_clear()


def items_of(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def child_event(state: dict[str, Any]) -> dict[str, Any]:
    """The run's fields of a BuildManifest event, as the Map's ItemSelector takes them."""
    return {f: state[f] for f in ("run_id", "attempt", "bucket", "suffix", "expires_in", "bucket_region")}


def child(state: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """One child execution: BuildManifest from a Map item, following ``next`` until it ends."""
    event: dict[str, Any] | None = {**child_event(state), **item}
    result: dict[str, Any] = {}
    while event is not None:
        result = build_manifest.lambda_handler(event, FakeLambdaContext())
        event = result["next"]
    return result


def merge(state: dict[str, Any]) -> dict[str, Any]:
    event = {"run_id": state["run_id"], "bucket": state["bucket"], "plan_key": state["plan_key"]}
    return merge_index.lambda_handler(event, FakeLambdaContext())


def plan(bucket: str) -> dict[str, Any]:
    return list_prefixes.lambda_handler({"input": {"bucket": bucket}, "run_id": RUN_ID}, FakeLambdaContext())


def test_rounds_run_until_every_unit_is_done(s3: Any, bucket: str, manifest_bucket: str) -> None:
    keys = [f"k/{i:05d}.pdf" for i in range(2500)]
    put_keys(s3, bucket, keys)
    state = plan(bucket)
    rounds = 0
    while True:
        for item in items_of(s3, manifest_bucket, state["plan_key"]):
            child(state, item)
        result = merge(state)
        if "next_round" not in result:
            break
        rounds += 1
        state = result["next_round"]
        assert state["plan_key"] == f"manifests/{RUN_ID}/rounds/{rounds:04d}.json"
        assert result["deferred"] == len(items_of(s3, manifest_bucket, state["plan_key"])) == 1
        # The next round starts from the run's own state (as ListPrefixes left it).
        assert {k: v for k, v in state.items() if k != "plan_key"} == run_state(s3, manifest_bucket)
    assert rounds >= 2  # 2,500 keys, at most 1,000 a page
    assert result["count"] == len(keys)
    assert result["parts"] == rounds + 1


def run_state(s3: Any, manifest_bucket: str) -> dict[str, Any]:
    run = json.loads(s3.get_object(Bucket=manifest_bucket, Key=f"manifests/{RUN_ID}/run.json")["Body"].read())
    for name in ("created_at", "title", "message", "plan_key"):
        run.pop(name, None)
    return run


def test_a_retried_merge_sends_the_same_round(s3: Any, bucket: str, manifest_bucket: str) -> None:
    put_keys(s3, bucket, [f"k/{i:05d}.pdf" for i in range(1500)])
    state = plan(bucket)
    for item in items_of(s3, manifest_bucket, state["plan_key"]):
        child(state, item)
    first, again = merge(state), merge(state)
    assert first == again
    assert first["next_round"]["plan_key"].endswith("/rounds/0001.json")


def test_an_item_sent_once_that_left_nothing_is_named_not_sent_again(
    s3: Any, bucket: str, manifest_bucket: str
) -> None:
    """Round 1's child never ran (or died before it could record anything): the next merge
    must not loop on it, and fails the run naming the unit."""
    put_keys(s3, bucket, [f"k/{i:05d}.pdf" for i in range(1500)])
    state = plan(bucket)
    for item in items_of(s3, manifest_bucket, state["plan_key"]):
        child(state, item)
    sent = merge(state)["next_round"]

    with pytest.raises(FanoutError) as raised:
        merge(sent)  # round 1 ended with nothing run

    assert type(raised.value).__name__ == "PartsMissing"
    assert "unit 0: prefix '': no complete part (no error recorded" in str(raised.value)
    assert s3.list_objects_v2(Bucket=manifest_bucket, Prefix=f"manifests/{RUN_ID}/rounds/0002")["KeyCount"] == 0


def test_a_round_that_is_not_the_runs_own_is_refused(s3: Any, bucket: str, manifest_bucket: str) -> None:
    put_keys(s3, bucket, ["k/1.pdf"])
    state = plan(bucket)
    for bad in ("manifests/other-run/rounds/0001.json", f"manifests/{RUN_ID}/rounds/1.json", "x"):
        with pytest.raises(FanoutError, match="plan_key") as raised:
            merge({**state, "plan_key": bad})
        assert type(raised.value).__name__ == "InvalidInput"


def test_pieces_of_a_spread_unit_are_deferred_and_resumed_like_units(
    s3: Any, bucket: str, manifest_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit far bigger than planned spreads into pieces; each piece runs out of its child's
    time after a page and goes round again as its own item (``child`` > 0), from where it
    stopped, up to its own end; the index holds every key once, in order."""
    monkeypatch.setenv("MIN_UNIT_KEYS", "1500")
    early = [f"grow/{i:05d}.pdf" for i in range(0, 12_000, 3000)]  # 4 keys when planned: one unit
    put_keys(s3, bucket, early)
    state = plan(bucket)
    (unit,) = items_of(s3, manifest_bucket, state["plan_key"])
    put_keys(s3, bucket, [f"grow/{i:05d}.pdf" for i in range(12_000) if i % 3000])
    monkeypatch.setenv("CHILD_TIME_BUDGET_SECONDS", "0")  # the unit lists to 2 x 1,500, then spreads
    settings.cache_clear()
    first = build_manifest.lambda_handler({**child_event(state), **unit}, FakeLambdaContext())
    assert first["spill"] is not None
    monkeypatch.setenv("CHILD_TIME_BUDGET_SECONDS", "60")  # each piece: one page, then deferred
    settings.cache_clear()
    assert all(build_manifest.lambda_handler(piece, FakeLambdaContext())["deferred"] for piece in first["spill"])

    sent: list[dict[str, Any]] = []
    result = merge(state)
    while "next_round" in result:
        state = result["next_round"]
        items = items_of(s3, manifest_bucket, state["plan_key"])
        sent.extend(items)
        for item in items:
            child(state, item)
        result = merge(state)

    assert {item["child"] for item in sent} == set(range(1, len(first["spill"]) + 1))
    ends = {piece["child"]: piece["end_key"] for piece in first["spill"]}
    assert all(item["segment"] >= 1 and item["end_key"] == ends[item["child"]] for item in sent)
    assert result["count"] == 12_000
    index = json.loads(s3.get_object(Bucket=manifest_bucket, Key=result["index_key"])["Body"].read())
    keys: list[str] = []
    for part in index["parts"]:
        body = s3.get_object(Bucket=manifest_bucket, Key=part["key"])["Body"].read().decode()
        keys.extend(json.loads(line)["key"] for line in body.splitlines())
    assert keys == sorted(f"grow/{i:05d}.pdf" for i in range(12_000))
