"""A source bucket in another region: its object URLs are signed for that region."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.flow import run_handlers
from tests.support.s3_helpers import body_of, http_get, read_jsonl


def credential_scope(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/", 2)[2]


def test_object_urls_are_signed_for_the_source_bucket_region(s3: Any, manifest_bucket: str) -> None:
    bucket = f"eu-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key in ("a/1.pdf", "b/2.pdf"):
        s3.put_object(Bucket=bucket, Key=key, Body=body_of(key))

    result = run_handlers(s3, {"bucket": bucket})

    assert result["plan"]["bucket_region"] == "eu-west-1"
    index = json.loads(http_get(result["index"]["index_url"]))
    lines = [line for part in index["parts"] for line in read_jsonl(s3, manifest_bucket, part["key"])]
    assert sorted(line["key"] for line in lines) == ["a/1.pdf", "b/2.pdf"]
    for line in lines:
        assert credential_scope(line["url"]) == "eu-west-1/s3/aws4_request"
        assert http_get(line["url"]) == body_of(line["key"])
    # the manifests live in the stack's region and are signed for it
    assert credential_scope(result["index"]["index_url"]) == "us-east-1/s3/aws4_request"
    assert all(credential_scope(part["url"]) == "us-east-1/s3/aws4_request" for part in index["parts"])
