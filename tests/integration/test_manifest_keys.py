"""Exact key sets through the three handlers, against moto server over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.flow import run_handlers
from tests.support.s3_helpers import http_get, put_keys, read_jsonl


def manifest_keys(s3: Any, result: dict[str, Any]) -> list[str]:
    plan = result["plan"]
    index = json.loads(s3.get_object(Bucket=plan["manifest_bucket"], Key=result["index"]["index_key"])["Body"].read())
    keys: list[str] = []
    for part in index["parts"]:
        keys.extend(line["key"] for line in read_jsonl(s3, plan["manifest_bucket"], part["key"]))
    assert index["count"] == len(keys)
    return keys


def test_empty_bucket_gives_an_empty_index(s3: Any, bucket: str) -> None:
    result = run_handlers(s3, {"bucket": bucket})
    assert result["units"] == []
    assert result["index"]["count"] == 0
    assert result["index"]["parts"] == 0
    assert manifest_keys(s3, result) == []


def test_nothing_matching(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/x.txt", "b/y.doc", "z.pdfx"])
    result = run_handlers(s3, {"bucket": bucket})
    assert manifest_keys(s3, result) == []


def test_one_key(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["only.pdf"])
    result = run_handlers(s3, {"bucket": bucket})
    assert manifest_keys(s3, result) == ["only.pdf"]


@pytest.mark.parametrize("count", [999, 1000, 1001, 2001])
def test_page_boundaries(s3: Any, bucket: str, count: int) -> None:
    keys = [f"docs/{i:05d}.pdf" for i in range(count)]
    put_keys(s3, bucket, keys, body=b"x")
    result = run_handlers(s3, {"bucket": bucket, "prefix": "docs/"})
    got = manifest_keys(s3, result)
    assert sorted(got) == keys
    assert len(got) == len(set(got))


def test_suffix_is_case_insensitive(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.PDF", "a/2.Pdf", "a/3.pdf", "a/4.pdf.txt", "b/5.pDf"])
    result = run_handlers(s3, {"bucket": bucket})
    assert sorted(manifest_keys(s3, result)) == ["a/1.PDF", "a/2.Pdf", "a/3.pdf", "b/5.pDf"]


def test_empty_suffix_means_every_object(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "a/2.txt", "3"])
    result = run_handlers(s3, {"bucket": bucket, "suffix": ""})
    assert sorted(manifest_keys(s3, result)) == ["3", "a/1.pdf", "a/2.txt"]


ODD_KEYS = [
    "odd/with space.pdf",
    "odd/plus+sign.pdf",
    "odd/per%cent.pdf",
    "odd/per%2Fcent-encoded.pdf",
    "odd/equals=sign.pdf",
    "odd/tilde~.pdf",
    "odd/unicodé-文件-📄.pdf",
    "odd//double-slash.pdf",
    "odd/a//b//c.pdf",
    "odd/quote\"and'apostrophe.pdf",
    "odd/amp&hash#question?.pdf",
    "odd/back\\slash.pdf",
    "top level with space.pdf",
]


def test_odd_keys_are_listed_exactly_and_every_url_fetches_its_bytes(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ODD_KEYS)
    result = run_handlers(s3, {"bucket": bucket})
    assert sorted(manifest_keys(s3, result)) == sorted(ODD_KEYS)
    plan = result["plan"]
    index = json.loads(http_get(result["index"]["index_url"]))
    fetched = 0
    for part in index["parts"]:
        lines = [json.loads(line) for line in http_get(part["url"]).decode().splitlines()]
        for line in lines:
            assert http_get(line["url"]) == f"body of {line['key']}".encode()
            assert line["size"] == len(f"body of {line['key']}".encode())
            fetched += 1
    assert fetched == len(ODD_KEYS)
    assert plan["units"] == len(index["parts"])


def test_units_are_chained_key_ranges_over_every_depth(s3: Any, bucket: str) -> None:
    put_keys(
        s3, bucket, ["root/a/1.pdf", "root/a/deep/2.pdf", "root/b/3.pdf", "root/4.pdf", "root/5.txt", "other/6.pdf"]
    )
    result = run_handlers(s3, {"bucket": bucket, "prefix": "root/"})
    units = result["units"]
    assert len(units) >= 2  # five keys, 2-key minimum units in tests
    assert all(u["prefix"] == "root/" and "delimited" not in u for u in units)
    assert units[0]["start_after"] is None
    assert units[-1]["end_key"] is None
    assert [u["start_after"] for u in units[1:]] == [u["end_key"] for u in units[:-1]]
    assert sorted(manifest_keys(s3, result)) == ["root/4.pdf", "root/a/1.pdf", "root/a/deep/2.pdf", "root/b/3.pdf"]


def test_prefix_without_trailing_slash(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["docs/1.pdf", "docs-old/2.pdf", "docs.pdf", "doc/3.pdf"])
    result = run_handlers(s3, {"bucket": bucket, "prefix": "docs"})
    assert sorted(manifest_keys(s3, result)) == ["docs-old/2.pdf", "docs.pdf", "docs/1.pdf"]


def test_index_document_format(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["p/1.pdf", "p/2.pdf", "q/3.pdf", "q/4.pdf"])
    result = run_handlers(s3, {"bucket": bucket, "expires_in": 3600}, run_id="fmt-run")
    index = json.loads(http_get(result["index"]["index_url"]))
    assert set(index) >= {"run_id", "bucket", "prefix", "suffix", "created_at", "expires_at", "count", "parts"}
    assert index["run_id"] == "fmt-run"
    assert index["count"] == 4
    # Each part names the deepest folder holding its keys, and its first and last key.
    assert [(p["prefix"], p["first_key"], p["last_key"], p["count"]) for p in index["parts"]] == [
        ("p/", "p/1.pdf", "p/2.pdf", 2),
        ("q/", "q/3.pdf", "q/4.pdf", 2),
    ]
    assert all(p["key"].startswith("manifests/fmt-run/parts/") for p in index["parts"])
    assert result["index"]["index_key"] == "manifests/fmt-run/index.json"
    assert "X-Amz-Expires=3600" in result["index"]["index_url"]
    head = s3.head_object(Bucket=bucket, Key=index["parts"][0]["key"])
    assert head["ContentType"] == "application/x-ndjson"
    assert s3.head_object(Bucket=bucket, Key="manifests/fmt-run/index.json")["ContentType"] == "application/json"
