"""StreamingUpload against moto server: single PUT, real multipart, abort, failing parts."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from s3fanout.config import Settings
from s3fanout.errors import FanoutError
from s3fanout.s3 import client_kwargs, new_session
from s3fanout.writer import StreamingUpload
from tests.support.s3_proxy import Action, CutAfter, ProxyRequest, Respond, Rewrite, S3Proxy, fast_retries

MIB = 1024 * 1024
PART = 5 * MIB  # S3's minimum part size
CONTENT_TYPE = "application/x-ndjson"


def run_with_client(work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(client)`` with an S3 client built the way the handlers build theirs."""

    async def main() -> Any:
        async with new_session().client("s3", **client_kwargs(Settings.from_env())) as client:
            return await work(client)

    return asyncio.run(main())


def chunks(total: int, seed: int) -> list[bytes]:
    """``total`` bytes of JSONL-ish data in uneven writes."""
    rng = random.Random(seed)
    out: list[bytes] = []
    written = 0
    line = 0
    while written < total:
        size = min(total - written, rng.randint(1, 300_000))
        out.append((f"{line:08d}".encode() * (size // 8 + 1))[:size])
        written += size
        line += 1
    return out


async def stream(upload: StreamingUpload, pieces: list[bytes]) -> int:
    for piece in pieces:
        upload.write(piece)
        if upload.needs_flush:
            await upload.flush()
    return await upload.close()


def uploads_of(s3: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", ())]


@pytest.mark.parametrize("size", [0, 1, 1000, PART - 1])
def test_under_one_part_is_a_single_put(s3: Any, bucket: str, size: int) -> None:
    pieces = chunks(size, seed=size)
    upload_size = run_with_client(
        lambda client: stream(
            StreamingUpload(client, bucket, "small.jsonl", content_type=CONTENT_TYPE, part_size=PART), pieces
        )
    )
    body = s3.get_object(Bucket=bucket, Key="small.jsonl")["Body"].read()
    assert upload_size == size
    assert body == b"".join(pieces)
    head = s3.head_object(Bucket=bucket, Key="small.jsonl")
    assert head["ContentType"] == CONTENT_TYPE
    assert "-" not in head["ETag"]  # not a multipart object
    assert uploads_of(s3, bucket) == []


@pytest.mark.parametrize(
    ("size", "parts"),
    [(PART, 1), (PART + 1, 2), (2 * PART, 2), (2 * PART + 3 * MIB + 17, 3)],
)
def test_multipart_completes_with_the_exact_content(s3: Any, bucket: str, size: int, parts: int) -> None:
    pieces = chunks(size, seed=size)
    upload_size = run_with_client(
        lambda client: stream(
            StreamingUpload(client, bucket, "big.jsonl", content_type=CONTENT_TYPE, part_size=PART), pieces
        )
    )
    body = s3.get_object(Bucket=bucket, Key="big.jsonl")["Body"].read()
    assert upload_size == size == len(body)
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(pieces)).digest()
    head = s3.head_object(Bucket=bucket, Key="big.jsonl")
    assert head["ContentType"] == CONTENT_TYPE
    # A multipart ETag ends in "-<number of parts>".
    assert head["ETag"].strip('"').endswith(f"-{parts}")
    assert uploads_of(s3, bucket) == []


def test_abort_removes_a_started_upload(s3: Any, bucket: str) -> None:
    async def work(client: Any) -> list[str]:
        upload = StreamingUpload(client, bucket, "aborted.jsonl", content_type=CONTENT_TYPE, part_size=PART)
        upload.write(b"x" * (PART + 10))
        await upload.flush()
        started = uploads_of(s3, bucket)
        await upload.abort()
        await upload.abort()  # idempotent
        return started

    started = run_with_client(work)
    assert started == ["aborted.jsonl"]  # the upload did exist before the abort
    assert uploads_of(s3, bucket) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_abort_before_any_part_writes_nothing(s3: Any, bucket: str) -> None:
    async def work(client: Any) -> None:
        upload = StreamingUpload(client, bucket, "never.jsonl", content_type=CONTENT_TYPE, part_size=PART)
        upload.write(b"some lines\n")
        await upload.abort()

    run_with_client(work)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert uploads_of(s3, bucket) == []


@pytest.mark.timeout(60)
def test_a_part_that_keeps_failing_raises_a_named_error_and_abort_cleans_up(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_retries(monkeypatch)

    def rule(request: ProxyRequest) -> Respond | None:
        if request.is_upload_part and request.query["partNumber"] == ["2"]:
            return Respond.s3_error(500, "InternalError", "We encountered an internal error. Please try again.")
        return None

    with S3Proxy(moto_endpoint, rule) as proxy:
        monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)

        async def work(client: Any) -> tuple[FanoutError, list[str]]:
            upload = StreamingUpload(client, bucket, "failing.jsonl", content_type=CONTENT_TYPE, part_size=PART)
            with pytest.raises(FanoutError) as raised:
                await stream(upload, chunks(3 * PART, seed=3))
            during = uploads_of(s3, bucket)
            await upload.abort()
            return raised.value, during

        error, during = run_with_client(work)
        seen = proxy.seen

    assert type(error).__name__ == "S3RequestFailed"
    assert "InternalError" in str(error)
    assert "UploadPart" in str(error)
    assert bucket in str(error)
    failed_attempts = [r for r in seen if r.action == "respond"]
    assert len(failed_attempts) > 1, "the client retried the 500 before giving up"
    assert all(r.query["partNumber"] == ["2"] for r in failed_attempts)
    assert during == ["failing.jsonl"]
    assert uploads_of(s3, bucket) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", ["cut", "500"])
def test_a_completion_whose_answer_is_lost_is_not_a_failure(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """S3 completed the upload but the answer never arrived: the client's retry then meets
    NoSuchUpload. The object is there, whole: that is success, not an error."""
    fast_retries(monkeypatch)
    lost: list[str] = []

    def rule(request: ProxyRequest) -> Action:
        if request.method == "POST" and "uploadId" in request.query and not lost:
            lost.append(fault)
            # Forwarded (S3 completes it), then the answer is cut short or replaced by a 500.
            error = Respond.s3_error(500, "InternalError")
            return CutAfter(size=0) if fault == "cut" else Rewrite(lambda *_: (500, [], error.body))
        return None

    pieces = chunks(PART + 1, seed=7)
    with S3Proxy(moto_endpoint, rule) as proxy:
        monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)
        size = run_with_client(
            lambda client: stream(
                StreamingUpload(client, bucket, "done.jsonl", content_type=CONTENT_TYPE, part_size=PART), pieces
            )
        )
        completions = [r for r in proxy.seen if r.method == "POST" and "uploadId" in r.query]

    assert lost == [fault]
    assert len(completions) == 2, "the client did not retry the completion"
    assert size == PART + 1
    assert s3.get_object(Bucket=bucket, Key="done.jsonl")["Body"].read() == b"".join(pieces)
    assert uploads_of(s3, bucket) == []


def test_a_single_put_carries_metadata_a_multipart_object_does_not(s3: Any, bucket: str) -> None:
    """``close(metadata)`` sets user metadata on the one PutObject of a small object; once the
    object went up in parts (its metadata would be set before it is known) it is left off."""
    metadata = {"fanout-summary": "eJwLzs8tyEktSQUAEq4D0w=="}

    async def write(client: Any, key: str, size: int) -> bool:
        upload = StreamingUpload(client, bucket, key, content_type=CONTENT_TYPE, part_size=PART)
        for piece in chunks(size, seed=size):
            upload.write(piece)
            if upload.needs_flush:
                await upload.flush()
        single = upload.single_put
        await upload.close(metadata)
        return single

    assert run_with_client(lambda client: write(client, "small.jsonl", 1000))
    assert not run_with_client(lambda client: write(client, "big.jsonl", PART + 1))
    assert s3.head_object(Bucket=bucket, Key="small.jsonl")["Metadata"] == metadata
    assert s3.head_object(Bucket=bucket, Key="big.jsonl")["Metadata"] == {}
