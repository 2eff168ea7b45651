"""A real index.json, written by MergeIndex on moto, is what docs/formats.md's JSON Schema
describes - the recipient's contract (fanout fetch and the share page read it)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from tests.support.flow import run_handlers
from tests.support.index_schema import index_schema
from tests.support.s3_helpers import http_get, put_keys


def test_a_real_index_json_matches_the_documented_schema(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a/1.pdf", "a/b/2.pdf", "c/3.pdf", "c/4.txt"])
    result = run_handlers(s3, {"bucket": bucket, "suffix": ".pdf"}, run_id="schema")

    index = json.loads(http_get(result["index"]["index_url"]))
    jsonschema.validate(index, index_schema())
    assert (index["run_id"], index["bucket"], index["count"]) == ("schema", bucket, 3)
    assert sum(part["count"] for part in index["parts"]) == index["count"]
