"""index.json's record and its JSON Schema in docs/formats.md: the same fields, the same
order, and what the record writes is what the schema admits."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import jsonschema
import pytest

from s3fanout.records import IndexDocument, IndexPart, PartSummary, RunRecord
from tests.support.index_schema import index_example, index_schema

RUN = RunRecord(
    run_id="r1",
    attempt="a1",
    bucket="src",
    prefix="p/",
    suffix=".pdf",
    expires_in=3600,
    max_concurrency=4,
    manifest_bucket="out",
    plan_key="manifests/r1/plan.json",
    units=2,
    bucket_region="eu-west-1",
)


def part(unit: int, count: int, *, signed_at: float, skipped: dict[str, int] | None = None) -> PartSummary:
    return PartSummary(
        unit=unit,
        segment=0,
        prefix="p/",
        count=count,
        bytes=100 * count,
        object_bytes=7 * count,
        part_key=f"manifests/r1/parts/{unit:05d}.jsonl",
        listed=count,
        done=True,
        next_start_after=None,
        first_key="p/a.pdf" if count else None,
        last_key="p/z.pdf" if count else None,
        skipped=skipped or {},
        signed_at=signed_at,
    )


def document(note: str | None = None) -> IndexDocument:
    return IndexDocument.of(
        RUN,
        [part(0, 3, signed_at=1_000.0, skipped={"GLACIER": 2}), part(1, 0, signed_at=900.0)],
        created_at=1_100.0,
        url_credentials="temporary" if note else "long-term",
        page_url="https://h/out/manifests/r1/index.html?sig",
        part_url=lambda key: f"https://h/out/{key}?sig",
        note=note,
    )


def test_the_schema_lists_the_records_fields_in_order() -> None:
    schema = index_schema()
    assert list(schema["properties"]) == [f.name for f in fields(IndexDocument)]
    assert schema["required"] == [f.name for f in fields(IndexDocument) if f.default is MISSING]
    part_schema = schema["$defs"]["part"]
    assert list(part_schema["properties"]) == [f.name for f in fields(IndexPart)]
    assert part_schema["required"] == [f.name for f in fields(IndexPart)]


@pytest.mark.parametrize("note", [None, "links end with the session"])
def test_what_the_record_writes_is_what_the_schema_admits(note: str | None) -> None:
    written = document(note).to_json()
    jsonschema.validate(written, index_schema())
    assert ("note" in written) is (note is not None)
    assert list(written) == [f.name for f in fields(IndexDocument) if f.name in written]


def test_the_index_sums_its_parts_and_expires_with_the_oldest_signature() -> None:
    written = document().to_json()
    assert (written["count"], written["object_bytes"], written["skipped"]) == (3, 21, {"GLACIER": 2})
    assert written["expires_at"] == "1970-01-01T01:15:00Z"  # signed at 900 s, + 3600 s
    assert written["created_at"] == "1970-01-01T00:18:20Z"
    assert [p["url"] for p in written["parts"]] == [
        "https://h/out/manifests/r1/parts/00000.jsonl?sig",
        "https://h/out/manifests/r1/parts/00001.jsonl?sig",
    ]


def test_the_documented_example_is_a_valid_index() -> None:
    jsonschema.validate(index_example(), index_schema())


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d.pop("parts"),
        lambda d: d.update(unknown=1),
        lambda d: d.update(count="3"),
        lambda d: d["parts"][0].pop("url"),
        lambda d: d["parts"][0].update(extra=True),
    ],
    ids=["missing-field", "unknown-field", "wrong-type", "part-missing-url", "part-unknown-field"],
)
def test_the_schema_refuses_a_document_that_drifted(spoil: Any) -> None:
    written = document().to_json()
    spoil(written)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(written, index_schema())
