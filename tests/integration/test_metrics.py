"""The EMF line each handler prints (Powertools Metrics) carries the right counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3fanout import observability
from s3fanout.errors import FanoutError
from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from tests.support.lambda_context import FakeLambdaContext
from tests.support.s3_helpers import put_keys

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def emf_lines(out: str) -> list[dict[str, Any]]:
    lines = []
    for raw in out.splitlines():
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            lines.append(doc)
    return lines


def only_emf(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 1, f"one EMF line per invocation, got {len(lines)}"
    return lines[0]


def value(doc: dict[str, Any], name: str) -> float:
    raw = doc[name]
    return sum(raw) if isinstance(raw, list) else raw


def units_of(doc: dict[str, Any]) -> dict[str, str]:
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == observability.NAMESPACE
    assert ["service"] in directive["Dimensions"]
    return {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}


def matching(keys: list[str], suffix: str) -> list[str]:
    return [k for k in keys if k.casefold().endswith(suffix.casefold())]


def plan(source: str, run_id: str, prefix: str = "") -> dict[str, Any]:
    return list_prefixes.lambda_handler(
        {"input": {"bucket": source, "prefix": prefix}, "run_id": run_id}, FakeLambdaContext()
    )


def test_build_manifest_counts_listed_written_and_bytes(
    s3: Any, bucket: str, manifest_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = [f"docs/{i:02d}.{'PDF' if i % 5 == 0 else 'pdf'}" for i in range(20)]
    keys += [f"docs/{i:02d}.txt" for i in range(20, 30)]
    put_keys(s3, bucket, keys)
    planned = plan(bucket, "metrics-build", "docs/")
    capsys.readouterr()

    event = {
        "run_id": planned["run_id"],
        "attempt": planned["attempt"],
        "bucket": bucket,
        "suffix": ".pdf",
        "unit": 0,
        "prefix": "docs/",
    }
    result = build_manifest.lambda_handler(event, FakeLambdaContext())
    doc = only_emf(capsys)

    part_size = s3.head_object(Bucket=manifest_bucket, Key=result["part_key"])["ContentLength"]
    assert value(doc, "ObjectsListed") == len(keys)
    assert value(doc, "UrlsWritten") == len(matching(keys, ".pdf")) == result["count"]
    assert value(doc, "ManifestBytes") == part_size == result["bytes"]
    assert units_of(doc) == {"ObjectsListed": "Count", "UrlsWritten": "Count", "ManifestBytes": "Bytes"}
    assert doc["service"] == observability.SERVICE


def test_list_prefixes_counts_units_planned(
    s3: Any, bucket: str, manifest_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = ["a/1.pdf", "a/x/2.pdf", "b/3.pdf", "c/4.txt", "d/", "5.pdf", "6.txt"]
    put_keys(s3, bucket, keys)
    capsys.readouterr()

    result = plan(bucket, "metrics-plan")
    doc = only_emf(capsys)

    written = json.loads(s3.get_object(Bucket=manifest_bucket, Key=result["plan_key"])["Body"].read())
    assert value(doc, "UnitsPlanned") == len(written) == result["units"] >= 2
    assert value(doc, "PlanningProbes") == 1  # seven keys: the first page is the whole plan
    assert units_of(doc) == {"UnitsPlanned": "Count", "PlanningProbes": "Count"}


def test_merge_index_counts_parts_and_objects(
    s3: Any, bucket: str, manifest_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = ["a/1.pdf", "a/2.pdf", "b/3.pdf", "b/4.doc", "c/5.PDF"]
    put_keys(s3, bucket, keys)
    planned = plan(bucket, "metrics-merge")
    units = json.loads(s3.get_object(Bucket=manifest_bucket, Key=planned["plan_key"])["Body"].read())
    for unit in units:
        event = {"run_id": planned["run_id"], "attempt": planned["attempt"], "bucket": bucket, **unit}
        build_manifest.lambda_handler(event, FakeLambdaContext())
    capsys.readouterr()

    result = merge_index.lambda_handler({"run_id": planned["run_id"], "bucket": bucket}, FakeLambdaContext())
    doc = only_emf(capsys)

    assert value(doc, "PartsMerged") == len(units) == result["parts"]
    assert value(doc, "IndexedObjects") == len(matching(keys, ".pdf")) == result["count"]


def test_a_failed_build_publishes_no_counts(s3: Any, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"run_id": "never-planned", "bucket": bucket, "unit": 0, "prefix": "docs/"}
    capsys.readouterr()
    with pytest.raises(FanoutError):
        build_manifest.lambda_handler(event, FakeLambdaContext())
    names = {name for doc in emf_lines(capsys.readouterr().out) for name in units_of(doc)}
    assert not names & {"ObjectsListed", "UrlsWritten", "ManifestBytes"}


def test_metrics_do_not_leak_between_invocations(
    s3: Any, bucket: str, manifest_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_keys(s3, bucket, ["p/1.pdf", "p/2.pdf", "q/3.pdf"])
    first = plan(bucket, "metrics-one")
    second = plan(bucket, "metrics-two", "p/")
    lines = emf_lines(capsys.readouterr().out)
    assert [value(doc, "UnitsPlanned") for doc in lines] == [first["units"], second["units"]]
