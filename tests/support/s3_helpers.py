"""Plain boto3 helpers for arranging and inspecting S3 state in tests."""

from __future__ import annotations

import json
from typing import Any

import requests


def body_of(key: str) -> bytes:
    return f"body of {key}".encode()


def put_keys(s3: Any, bucket: str, keys: list[str], body: bytes | None = None) -> None:
    """Seed objects over HTTP (small sets) or straight into the server's backend (large ones).

    The backend is the one the in-process ThreadedMotoServer serves, so the code under test
    still reads everything over HTTP; only the seeding skips ~10 ms per PUT.
    """
    if len(keys) <= 50:
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=body if body is not None else body_of(key))
        return
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for key in keys:
        backend.put_object(bucket, key, body if body is not None else body_of(key))


def all_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", ()))
    return keys


def read_jsonl(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return [json.loads(line) for line in body.splitlines() if line]


def http_get(url: str) -> bytes:
    """What a recipient does: a plain GET, no AWS credentials."""
    response = requests.get(url, timeout=30)
    response.raise_for_status()
    return response.content
