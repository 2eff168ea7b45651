"""Small documents in S3: plan, run record, summaries, error records, index, share page."""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING, Any

import aiohttp
from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

from .errors import AWS_CALL_ERRORS, error_code, translate_client_error

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from types_aiobotocore_s3 import S3Client


async def put_document(client: S3Client, bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        await client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except AWS_CALL_ERRORS as exc:
        raise translate_client_error(exc, bucket=bucket, operation="PutObject") from exc


async def put_json(client: S3Client, bucket: str, key: str, document: Any) -> None:
    """Small JSON documents (plan, summaries, index)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    await put_document(client, bucket, key, body, "application/json")


# Whole GetObjects when the body breaks mid-transfer: the client retries a call until its
# response headers arrive (CLIENT_CONFIG), not the body read afterwards.
BODY_ATTEMPTS = 5
BODY_RETRY_MAX_DELAY = 2.0  # seconds; full jitter from 0.1 s, doubling
# A body cut short, reset or stalled: aiohttp's errors (aiobotocore's HTTP client), or botocore's
# where it wraps them.
BODY_ERRORS: tuple[type[Exception], ...] = (
    aiohttp.ClientPayloadError,
    aiohttp.ClientConnectionError,
    asyncio.TimeoutError,
    ResponseStreamingError,
    IncompleteReadError,
    ReadTimeoutError,
)


async def _before_next_attempt(attempt: int, exc: Exception, bucket: str) -> None:
    """A body broke on ``attempt``: wait (full jitter) before the next, or, on the last,
    raise its error as a GetObject failure."""
    if attempt == BODY_ATTEMPTS:
        raise translate_client_error(exc, bucket=bucket, operation="GetObject") from exc
    await asyncio.sleep(random.uniform(0, min(0.1 * 2**attempt, BODY_RETRY_MAX_DELAY)))  # noqa: S311


async def get_json(client: S3Client, bucket: str, key: str) -> Any | None:
    """A JSON document, or None if the key does not exist."""
    data = await get_body(client, bucket, key)
    return None if data is None else json.loads(data)


async def head_etag(client: S3Client, bucket: str, key: str) -> str | None:
    """An object's ETag (HeadObject), or None if the key does not exist."""
    head = await head_object(client, bucket, key)
    return None if head is None else head[0]


async def head_object(client: S3Client, bucket: str, key: str) -> tuple[str | None, dict[str, str]] | None:
    """An object's ETag and user metadata (HeadObject), or None if the key does not exist."""
    try:
        response = await client.head_object(Bucket=bucket, Key=key)
    except AWS_CALL_ERRORS as exc:
        if error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise translate_client_error(exc, bucket=bucket, operation="HeadObject") from exc
    return response.get("ETag"), dict(response.get("Metadata") or {})


async def get_body(client: S3Client, bucket: str, key: str) -> bytes | None:
    """An object's bytes (a document, a part), or None if the key does not exist."""
    for attempt in range(1, BODY_ATTEMPTS + 1):
        try:
            response = await client.get_object(Bucket=bucket, Key=key)
        except AWS_CALL_ERRORS as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise translate_client_error(exc, bucket=bucket, operation="GetObject") from exc
        try:
            async with response["Body"] as body:
                data: bytes = await body.read()
        except BODY_ERRORS as exc:
            await _before_next_attempt(attempt, exc, bucket)
            continue
        return data
    raise AssertionError  # unreachable: the last attempt returns or raises


async def stream_body(client: S3Client, bucket: str, key: str, chunk_size: int) -> AsyncGenerator[bytes]:
    """An object's bytes in chunks of at most ``chunk_size`` as they arrive (a part of any
    size in constant memory), or none if the key does not exist.

    A body that breaks mid-transfer is resumed where it broke: the rest of the same object
    (``Range`` from the bytes already given, ``IfMatch`` its ETag), ``BODY_ATTEMPTS`` calls in
    all. Close the iterator (``contextlib.aclosing``) when leaving it early.
    """
    given = 0
    etag: str | None = None
    for attempt in range(1, BODY_ATTEMPTS + 1):
        rest: dict[str, str] = {}
        if etag is not None:
            rest["IfMatch"] = etag
        if given:
            rest["Range"] = f"bytes={given}-"
        try:
            response = await client.get_object(Bucket=bucket, Key=key, **rest)  # type: ignore[arg-type]
        except AWS_CALL_ERRORS as exc:
            if etag is None and error_code(exc) in {"NoSuchKey", "404"}:
                return
            raise translate_client_error(exc, bucket=bucket, operation="GetObject") from exc
        etag = etag or response.get("ETag")
        try:
            body = response["Body"]
            async with body:  # (which gives aiohttp's response, not the StreamingBody)
                while chunk := await body.read(chunk_size):
                    given += len(chunk)
                    yield chunk
        except BODY_ERRORS as exc:
            await _before_next_attempt(attempt, exc, bucket)
            continue
        return
