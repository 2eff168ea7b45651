"""Small documents in S3: plan, run record, summaries, error records, index, share page."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import S3_CALL_ERRORS, error_code, translate_client_error

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


async def put_document(client: S3Client, bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        await client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except S3_CALL_ERRORS as exc:
        raise translate_client_error(exc, bucket=bucket, operation="PutObject") from exc


async def put_json(client: S3Client, bucket: str, key: str, document: Any) -> None:
    """Small JSON documents (plan, summaries, index)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    await put_document(client, bucket, key, body, "application/json")


async def get_json(client: S3Client, bucket: str, key: str) -> Any | None:
    """A JSON document, or None if the key does not exist."""
    try:
        response = await client.get_object(Bucket=bucket, Key=key)
    except S3_CALL_ERRORS as exc:
        if error_code(exc) in {"NoSuchKey", "404"}:
            return None
        raise translate_client_error(exc, bucket=bucket, operation="GetObject") from exc
    async with response["Body"] as body:
        return json.loads(await body.read())
