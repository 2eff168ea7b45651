"""The whole state machine (statemachine/fanout.asl.json) on the embedded engine."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from fanout_local.engine import EmbeddedEngine
from fanout_local.synthetic import make_dataset, synthetic_body, upload_keys
from fanout_local.verify_links import verify_chain
from tests.workflow.conftest import MANIFEST_BUCKET


def manifest_keys(s3: Any, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=MANIFEST_BUCKET, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", ()))
    return keys


def test_full_workflow_lists_every_matching_object_and_every_url_works(
    engine: EmbeddedEngine, engine_s3: Any, source_bucket: str
) -> None:
    dataset = make_dataset(objects=300, prefixes=5)
    upload_keys(engine_s3, source_bucket, dataset.keys, synthetic_body)

    result = engine.run({"bucket": source_bucket, "suffix": ".pdf", "max_concurrency": 3}, name="wf-full")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    output = result.output
    assert output["run_id"] == "wf-full"
    assert output["count"] == len(dataset.matching)
    # 300 keys at max_concurrency 3 (and 2-key minimum units in tests): several key ranges
    assert output["parts"] >= 3
    verification = verify_chain(output["index_url"], synthetic_body)
    assert verification.failures == []
    assert sorted(verification.keys) == sorted(dataset.matching)
    assert verification.checked == len(dataset.matching)


def test_max_concurrency_is_honoured(engine: EmbeddedEngine, engine_s3: Any, source_bucket: str) -> None:
    keys = [f"p{i}/doc-{j}.pdf" for i in range(6) for j in range(3)]
    upload_keys(engine_s3, source_bucket, keys, synthetic_body)
    pool = engine.runtime.pools["BuildManifestFunction"]
    pool.max_in_flight = 0

    result = engine.run({"bucket": source_bucket, "max_concurrency": 2}, name="wf-concurrency")

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["count"] == len(keys)
    builds = [i for i in result.invocations if i.function == "BuildManifestFunction"]
    assert len(builds) == result.output["parts"] >= 3  # one invocation per unit
    assert 1 <= pool.max_in_flight <= 2
    # overlap measured from the invocations' own timestamps, too
    peak = max(sum(1 for o in builds if o.started <= b.started < o.ended) for b in builds)
    assert peak <= 2


def test_failing_build_fails_the_execution_and_publishes_no_index(
    engine: EmbeddedEngine, engine_s3: Any, source_bucket: str
) -> None:
    upload_keys(engine_s3, source_bucket, ["a/1.pdf", "b/2.pdf"], synthetic_body)

    def delete_source_after_planning(invocation: Any) -> None:
        # Runs before ListPrefixes' response reaches the interpreter, so every
        # BuildManifest then meets a missing bucket.
        if invocation.function == "ListPrefixesFunction" and invocation.event["input"]["bucket"] == source_bucket:
            for key in ("a/1.pdf", "b/2.pdf"):
                engine_s3.delete_object(Bucket=source_bucket, Key=key)
            engine_s3.delete_bucket(Bucket=source_bucket)

    engine.add_observer(delete_source_after_planning)
    try:
        result = engine.run({"bucket": source_bucket}, name="wf-fail")
    finally:
        engine.runtime.observers.remove(delete_source_after_planning)

    assert result.status == "FAILED"
    # AWS fails the Map itself; moto's Distributed Map swallows child failures and
    # MergeIndex's own check fails the run instead. Either way the cause names the error.
    assert result.error in {"PartsMissing", "States.ExceedToleratedFailureThreshold", "BucketNotFound"}
    assert "BucketNotFound" in (result.cause or "")
    assert "manifests/wf-fail/index.json" not in manifest_keys(engine_s3, "manifests/wf-fail/")
    assert manifest_keys(engine_s3, "manifests/wf-fail/parts/") == []


def test_bad_input_fails_the_execution_with_a_named_error(engine: EmbeddedEngine) -> None:
    result = engine.run({"bucket": "Not_A_Bucket"}, name="wf-bad-input")
    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    assert "bucket" in result.cause
    assert manifest_keys(engine.s3_client(), "manifests/wf-bad-input/") == []


def test_fanout_run_json_prints_exactly_the_execution_output(s3: Any, bucket: str, moto_endpoint: str) -> None:
    for key in ("x/1.pdf", "x/2.pdf", "y/3.PDF", "y/4.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=synthetic_body(key))

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "fanout_local.cli",
            "run",
            "--bucket",
            bucket,
            "--s3-endpoint",
            moto_endpoint,
            "--name",
            "cli-json",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    output = json.loads(completed.stdout)  # the whole stdout is one JSON object
    index = json.loads(s3.get_object(Bucket=bucket, Key=output["index_key"])["Body"].read())
    assert output["run_id"] == index["run_id"] == "cli-json"
    assert output["count"] == index["count"] == 3
    assert output["parts"] == len(index["parts"]) == 2
    assert output["expires_at"] == index["expires_at"]


def test_fanout_run_exits_non_zero_with_error_and_cause(bucket: str, moto_endpoint: str) -> None:
    """An execution that fails (here: the manifest bucket does not exist, found only when
    ListPrefixes writes the plan) prints its error and cause."""
    command = [sys.executable, "-m", "fanout_local.cli", "run", "--bucket", bucket, "--s3-endpoint", moto_endpoint]
    missing = f"{bucket}-missing"
    completed = subprocess.run(
        [*command, "--manifest-bucket", missing, "--json"], capture_output=True, text=True, timeout=240, check=False
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert completed.stdout == ""
    assert "FAILED" in completed.stderr
    assert missing in " ".join(completed.stderr.split())


def test_a_unit_far_bigger_than_planned_spreads_into_pieces_built_at_once(
    engine: EmbeddedEngine, engine_s3: Any, source_bucket: str
) -> None:
    """Keys land after planning (here: while ListPrefixes' answer is on its way): the
    unit that holds them lists past twice its estimate and hands back pieces, which the
    state machine's SpreadUnit Map builds; the index holds every key once, in order."""
    planned = [f"grow/{i:03d}.pdf" for i in range(0, 400, 100)]
    upload_keys(engine_s3, source_bucket, planned, synthetic_body)
    late = [f"grow/{i:03d}.pdf" for i in range(400) if i % 100]

    def grow_after_planning(invocation: Any) -> None:
        if invocation.function == "ListPrefixesFunction":
            upload_keys(engine_s3, source_bucket, late, synthetic_body)

    engine.add_observer(grow_after_planning)
    try:
        result = engine.run({"bucket": source_bucket, "max_concurrency": 2}, name="wf-spread")
    finally:
        engine.runtime.observers.remove(grow_after_planning)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    builds = [i for i in result.invocations if i.function == "BuildManifestFunction"]
    spread = [b for b in builds if (b.result or {}).get("spill")]
    assert spread, "no unit spread"
    pieces = [b for b in builds if (b.event or {}).get("child")]
    assert len(pieces) >= sum(len(b.result["spill"]) for b in spread)
    everything = sorted(planned + late)
    verification = verify_chain(result.output["index_url"], synthetic_body)
    assert verification.failures == []
    assert verification.keys == everything  # each key once, in key order
    assert result.output["count"] == len(everything)


def test_fanout_run_says_what_it_left_out(s3: Any, bucket: str, moto_endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="x/1.pdf", Body=synthetic_body("x/1.pdf"))
    s3.put_object(Bucket=bucket, Key="x/2.pdf", Body=b"cold", StorageClass="DEEP_ARCHIVE")
    command = [sys.executable, "-m", "fanout_local.cli", "run", "--bucket", bucket, "--s3-endpoint", moto_endpoint]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "left out (no link would work): 1 DEEP_ARCHIVE" in " ".join(completed.stderr.split())
    assert completed.stdout.startswith("http://")  # stdout: the index URL only


def test_filters_reach_every_unit_through_the_state_machine(
    engine: EmbeddedEngine, engine_s3: Any, source_bucket: str
) -> None:
    keys = {f"f/{i:02d}.pdf": b"x" * i for i in range(12)}
    for key, body in keys.items():
        engine_s3.put_object(Bucket=source_bucket, Key=key, Body=body)
    result = engine.run({"bucket": source_bucket, "min_size": 3, "max_size": 8, "max_concurrency": 2}, name="wf-filter")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output["parts"] >= 2  # several units, each given the filters by the ItemSelector
    assert result.output["count"] == 6  # sizes 3..8
