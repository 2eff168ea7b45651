"""Objects a recipient could not download are left out and counted, never linked:
archived storage classes (GLACIER, DEEP_ARCHIVE) and zero-byte folder markers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3fanout import runtime
from tests.integration.test_manifest_keys import manifest_keys
from tests.support.flow import run_handlers
from tests.support.s3_helpers import http_get
from tests.support.s3_proxy import FORWARD, Respond, S3Proxy


def test_archived_objects_and_folder_markers_get_no_link_and_are_counted(s3: Any, bucket: str) -> None:
    classes = {
        "a/standard.pdf": "STANDARD",
        "a/instant.pdf": "GLACIER_IR",
        "a/tiering.pdf": "INTELLIGENT_TIERING",
        "a/cold.pdf": "GLACIER",
        "b/colder.pdf": "DEEP_ARCHIVE",
        "b/cold2.pdf": "GLACIER",
        "b/cold.txt": "GLACIER",  # not matching the suffix: neither shared nor counted
    }
    for key, storage_class in classes.items():
        s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key}".encode(), StorageClass=storage_class)
    s3.put_object(Bucket=bucket, Key="a/", Body=b"")  # a folder marker
    s3.put_object(Bucket=bucket, Key="c/empty.pdf", Body=b"")  # an empty file is a file

    result = run_handlers(s3, {"bucket": bucket, "suffix": ""}, run_id="archived")

    shared = sorted(manifest_keys(s3, result))
    assert shared == ["a/instant.pdf", "a/standard.pdf", "a/tiering.pdf", "c/empty.pdf"]
    skipped = {"DEEP_ARCHIVE": 1, "GLACIER": 3, "folder marker": 1}
    assert result["index"]["skipped"] == skipped  # the execution output
    index = json.loads(http_get(result["index"]["index_url"]))
    assert index["skipped"] == skipped
    assert index["count"] == 4
    assert sum(sum(part["skipped"].values()) for part in index["parts"]) == 5


def test_a_suffix_filters_before_anything_is_counted_as_skipped(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="x/cold.txt", Body=b"t", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="x/cold.pdf", Body=b"p", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=bucket, Key="x/ok.pdf", Body=b"p")
    result = run_handlers(s3, {"bucket": bucket, "suffix": ".pdf"}, run_id="archived-pdf")
    assert manifest_keys(s3, result) == ["x/ok.pdf"]
    assert result["index"]["skipped"] == {"DEEP_ARCHIVE": 1}


def test_a_server_that_refuses_optional_object_attributes_is_listed_without_them(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some S3-compatible servers answer InvalidArgument to x-amz-optional-object-attributes:
    the listing is asked again without it, and storage classes still decide."""
    s3.put_object(Bucket=bucket, Key="ok.pdf", Body=b"p")
    s3.put_object(Bucket=bucket, Key="cold.pdf", Body=b"c", StorageClass="GLACIER")
    refused: list[str] = []

    def refuse_the_header(request: Any) -> Any:
        if request.is_list_objects_v2 and "x-amz-optional-object-attributes" in {
            name.lower() for name in request.headers
        }:
            refused.append(request.path)
            return Respond.s3_error(400, "InvalidArgument", "Invalid attribute name specified")
        return FORWARD

    with S3Proxy(moto_endpoint, rule=refuse_the_header) as proxy:
        monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)
        runtime.settings.cache_clear()
        result = run_handlers(s3, {"bucket": bucket}, run_id="no-optional-attributes")

    assert refused  # the header was sent, refused, and the listing went on without it
    assert manifest_keys(s3, result) == ["ok.pdf"]
    assert result["index"]["skipped"] == {"GLACIER": 1}
