"""The folder summary is optional: bounded in memory whatever a part's size, stopped at its
deadline even mid-read, and dropped - never the index - when a part cannot be read or summed."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import tracemalloc
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from s3fanout import runtime
from s3fanout.documents import stream_body
from s3fanout.folder_summary import summarize_parts
from s3fanout.s3 import client_kwargs, new_session
from tests.support.flow import run_handlers
from tests.support.lambda_context import FakeLambdaContext
from tests.support.moto_process import MotoProcess
from tests.support.s3_helpers import put_keys
from tests.support.s3_proxy import CutAfter, ProxyRequest, Respond, Rewrite, S3Proxy

URL = (
    "https://bucket.s3.us-east-1.amazonaws.com/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256" + "&X-Amz-Signature=" + "f" * 64
)
URL += "&X-Amz-Credential=" + "A" * 20 + "%2F20261203%2Fus-east-1%2Fs3%2Faws4_request" + "&X-Amz-Date=20261203T000000Z"


def part_body(first: int, lines: int) -> bytes:
    """Manifest lines (~430 bytes each, like a real part's) of keys first.. in key order."""
    template = (
        '{{"key":"p/d{folder:05d}/f{n:09d}.pdf","size":{n},"etag":"\\"0123456789abcdef0123456789abcdef\\"",'
        '"last_modified":"2026-11-01T00:00:00.000Z","url":"' + URL + '"}}\n'
    )
    return "".join(
        template.format(folder=n // 1000, n=n, key=f"p/d{n // 1000:05d}/f{n:09d}.pdf")
        for n in range(first, first + lines)
    ).encode()


def summarize_peak(endpoint: str, bucket: str, keys: list[str]) -> tuple[dict[str, Any], int]:
    """The summary of the parts streamed from S3, and the peak of Python's allocations meanwhile."""

    async def run() -> dict[str, Any]:
        kwargs = {**client_kwargs(runtime.settings()), "endpoint_url": endpoint}
        async with new_session().client("s3", **kwargs) as client:
            tracemalloc.start()
            try:
                return await summarize_parts(lambda key, size: stream_body(client, bucket, key, size), keys, "p/")
            finally:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                peaks.append(peak)

    peaks: list[int] = []
    summary = asyncio.run(run())
    return summary, peaks[0]


@pytest.mark.timeout(120)
def test_memory_is_bounded_whatever_the_size_of_a_part() -> None:
    # A part is a whole unit's lines: 80 MB here (hundreds of MB in a 10M-object share), with
    # three more read ahead meanwhile. S3 is a process of its own: its copies are not counted.
    server = MotoProcess.start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="big")
        sizes = [190_000, 20_000, 20_000, 20_000]
        keys, first = [], 0
        for number, lines in enumerate(sizes):
            body = part_body(first, lines)
            keys.append(f"parts/{number:05d}.jsonl")
            s3.put_object(Bucket="big", Key=keys[-1], Body=body)
            first += lines
            if number == 0:
                assert len(body) > 80_000_000
            del body
        summary, peak = summarize_peak(server.endpoint, "big", keys)
    finally:
        server.stop()
    assert summary["entries"][0][:2] == ["", sum(sizes)]
    assert summary["folders"] == 1 + (sum(sizes) + 999) // 1000
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_part_cut_off_mid_body_is_resumed_where_it_broke(s3: Any, bucket: str, moto_endpoint: str) -> None:
    body = part_body(0, 2_000)  # ~860 kB: several chunks
    s3.put_object(Bucket=bucket, Key="parts/00000.jsonl", Body=body)
    cuts = [300_000, 500_000]  # bytes of the whole body each cut call gets through

    def rule(request: ProxyRequest) -> Any:
        if request.method == "GET" and cuts:
            given = int(request.headers.get("Range", "bytes=0-")[6:-1])
            return CutAfter(size=cuts.pop(0) - given)
        return None

    with S3Proxy(moto_endpoint, rule=rule) as proxy:
        summary, _peak = summarize_peak(proxy.url, bucket, ["parts/00000.jsonl"])
        seen = proxy.seen
    assert summary["entries"][0][:2] == ["", 2_000]
    assert [r.action for r in seen] == ["cut", "cut", "forward"]
    ranges = [r.headers.get("Range") for r in seen]
    assert ranges[0] is None
    # Each call resumes from the bytes already given (the summary being exact shows nothing was
    # repeated or skipped), and asks for the same object.
    offsets = [int(str(r)[len("bytes=") : -1]) for r in ranges[1:]]
    assert 0 < offsets[0] <= 300_000, ranges
    assert offsets[0] <= offsets[1] <= 500_000, ranges
    assert all(r.headers.get("If-Match") for r in seen[1:])


def page_and_index(s3: Any, index: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's data and index.json, read from S3 itself (their URLs name the proxy)."""
    documents = []
    for url in (index["page_url"], index["index_url"]):
        bucket, key = unquote(urlsplit(url).path).lstrip("/").split("/", 1)
        documents.append(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    block = re.search(rb'<script id="[^"]+" type="application/json">(.*?)</script>', documents[0], re.S)
    assert block
    return json.loads(block.group(1)), json.loads(documents[1])


def comparable(document: Any) -> Any:
    """The index without what differs between two runs of the same share: URLs, times, run ids."""
    if isinstance(document, dict):
        return {k: comparable(v) for k, v in document.items() if not k.endswith(("url", "_at")) and k not in {"run_id"}}
    if isinstance(document, list):
        return [comparable(v) for v in document]
    if isinstance(document, str):
        return re.sub(r"manifests/[^/]+/", "manifests/RUN/", document)
    return document


KEYS = sorted(f"shared/{year}/q{q}/r-{n}.pdf" for year in (2024, 2025) for q in (1, 2) for n in range(30))
REQUEST = {"prefix": "shared/", "suffix": "", "expires_in": 3600}


def part_get(request: ProxyRequest) -> bool:
    return request.method == "GET" and "/parts/" in request.key


def run_through(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, rule: Any, **kwargs: Any
) -> tuple[dict[str, Any], list[Any]]:
    with S3Proxy(moto_endpoint, rule=rule) as proxy:
        monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)
        runtime.settings.cache_clear()
        result = run_handlers(s3, {"bucket": bucket, **REQUEST}, **kwargs)
        seen = proxy.seen
    monkeypatch.setenv("S3_ENDPOINT_URL", moto_endpoint)
    runtime.settings.cache_clear()
    return result["index"], seen


@pytest.fixture
def normal(s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """index.json of the share summarized as usual (its page has the summary)."""
    monkeypatch.setenv("MIN_UNIT_KEYS", "20")  # several units, so several parts
    put_keys(s3, bucket, KEYS)
    index = run_handlers(s3, {"bucket": bucket, **REQUEST}, run_id="normal")["index"]
    data, document = page_and_index(s3, index)
    assert data["folders"]["entries"][0][:2] == ["", len(KEYS)]
    assert len(document["parts"]) > 1
    return document


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(r.getMessage()) if r.getMessage().startswith("{") else {"message": r.getMessage(), **r.__dict__}
        for r in caplog.records
        if r.levelname == "WARNING" and "folder summary" in r.getMessage()
    ]


@pytest.mark.timeout(120)
def test_a_stalled_read_is_given_up_at_the_summary_deadline_and_the_share_is_published(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, normal: dict[str, Any], caplog: Any
) -> None:
    # 34 s left: the summary may take 4 s (30 s kept for publishing). One part's body stalls
    # mid-transfer for far longer (the client would wait 30 s a read, 5 times).
    stalled = threading.Event()

    def rule(request: ProxyRequest) -> Any:
        if part_get(request) and request.key.endswith("00001.jsonl"):
            stalled.set()
            return CutAfter(size=100, stall=12)
        return None

    context = FakeLambdaContext(timeout_seconds=34)
    started = time.monotonic()
    index, _seen = run_through(s3, bucket, moto_endpoint, monkeypatch, rule, merge_context=context)
    elapsed = time.monotonic() - started
    assert stalled.is_set()
    assert context.get_remaining_time_in_millis() > 20_000, elapsed
    assert elapsed < 15
    data, document = page_and_index(s3, index)
    assert "folders" not in data
    assert comparable(document) == comparable(normal)
    assert runtime._loop is not None
    assert [t for t in asyncio.all_tasks(runtime._loop) if not t.done()] == []
    assert any("out of time" in str(w) for w in warnings_of(caplog)), warnings_of(caplog)


def malformed(status: int, headers: Any, body: bytes) -> tuple[int, Any, bytes]:
    return status, [(k, v) for k, v in headers if k.lower() != "content-length"], body + b'{"key": "shared/zz"\n'


def out_of_order(status: int, headers: Any, body: bytes) -> tuple[int, Any, bytes]:
    lines = body.splitlines(keepends=True)
    return status, headers, b"".join(reversed(lines))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Respond.s3_error(403, "AccessDenied", "Access Denied"), "read failed"),
        (Respond.s3_error(404, "NoSuchKey", "The specified key does not exist."), "0 lines where"),
        (Rewrite(malformed), "JSONDecodeError"),
        (Rewrite(out_of_order), "key order"),
    ],
    ids=["403", "missing", "malformed-line", "out-of-order"],
)
def test_a_part_that_cannot_be_summed_drops_the_summary_not_the_index(
    s3: Any,
    bucket: str,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    normal: dict[str, Any],
    caplog: Any,
    fault: Any,
    reason: str,
) -> None:
    def rule(request: ProxyRequest) -> Any:
        return fault if part_get(request) and request.key.endswith("00001.jsonl") else None

    index, seen = run_through(s3, bucket, moto_endpoint, monkeypatch, rule)
    assert any(part_get(r) and r.key.endswith("00001.jsonl") for r in seen)
    data, document = page_and_index(s3, index)
    assert "folders" not in data
    assert data["count"] == len(KEYS)
    assert comparable(document) == comparable(normal)
    warned = [str(w) for w in warnings_of(caplog)]
    assert any("parts/00001.jsonl" in w and reason in w for w in warned), warned
