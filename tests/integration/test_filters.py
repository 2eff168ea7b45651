"""Execution-input filters on a real listing (moto server): last modified and size."""

from __future__ import annotations

import time
from typing import Any

import pytest

from s3fanout.errors import FanoutError
from tests.integration.test_manifest_keys import manifest_keys
from tests.support.flow import run_handlers


def listed_modified(s3: Any, bucket: str, key: str) -> str:
    """The object's LastModified as ListObjectsV2 writes it (the text the filters compare)."""
    page = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    return page["Contents"][0]["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_modified_after_and_before_select_by_last_modified(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="old.pdf", Body=b"o")
    time.sleep(1.1)  # LastModified has whole seconds on moto
    s3.put_object(Bucket=bucket, Key="mid.pdf", Body=b"m")
    time.sleep(1.1)
    s3.put_object(Bucket=bucket, Key="new.pdf", Body=b"n")
    old, new = listed_modified(s3, bucket, "old.pdf"), listed_modified(s3, bucket, "new.pdf")

    after = run_handlers(s3, {"bucket": bucket, "modified_after": old}, run_id="after")
    assert sorted(manifest_keys(s3, after)) == ["mid.pdf", "new.pdf"]  # exclusive bound
    both = run_handlers(s3, {"bucket": bucket, "modified_after": old, "modified_before": new}, run_id="both")
    assert manifest_keys(s3, both) == ["mid.pdf"]
    assert both["plan"]["modified_after"] == old  # carried in the run record to every unit


def test_min_and_max_size_are_inclusive(s3: Any, bucket: str) -> None:
    for size in (0, 1, 5, 10, 11):
        s3.put_object(Bucket=bucket, Key=f"s/{size:02d}.pdf", Body=b"x" * size)
    result = run_handlers(s3, {"bucket": bucket, "min_size": 1, "max_size": 10}, run_id="sizes")
    assert sorted(manifest_keys(s3, result)) == ["s/01.pdf", "s/05.pdf", "s/10.pdf"]
    assert result["index"]["count"] == 3


def test_a_bad_filter_fails_the_run_before_anything_is_written(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a.pdf", Body=b"a")
    with pytest.raises(FanoutError, match="modified_after"):
        run_handlers(s3, {"bucket": bucket, "modified_after": "last tuesday"}, run_id="bad-filter")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["a.pdf"]
