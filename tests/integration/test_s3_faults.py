"""S3 that throttles, errs and drops connections: the handlers still produce exact manifests."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from s3fanout import documents, runtime
from s3fanout.errors import S3RequestFailed
from s3fanout.s3 import client_kwargs, new_session
from tests.integration.test_manifest_keys import manifest_keys
from tests.support.flow import run_handlers
from tests.support.s3_helpers import put_keys
from tests.support.s3_proxy import CutAfter, EveryNth, ProxyRequest, RotatingFaults, S3Proxy


@pytest.mark.timeout(240)
def test_one_in_five_requests_failing_still_gives_exact_manifests(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Enough keys for several listing pages and, with 5 MiB parts, a multipart part upload.
    keys = [f"docs/{i:05d}-{'x' * 40}.pdf" for i in range(16_000)] + [f"misc/{i}.pdf" for i in range(30)]
    put_keys(s3, bucket, keys, body=b"x")
    faults = RotatingFaults()
    with S3Proxy(moto_endpoint, rule=EveryNth(5, faults)) as proxy:
        monkeypatch.setenv("S3_ENDPOINT_URL", proxy.url)
        monkeypatch.setenv("PART_SIZE_BYTES", str(5 * 1024 * 1024))
        monkeypatch.setenv("MIN_UNIT_KEYS", "20000")  # one unit: big enough for a multipart part
        runtime.settings.cache_clear()
        result = run_handlers(s3, {"bucket": bucket, "max_concurrency": 1})
        seen = proxy.seen

    assert sorted(manifest_keys(s3, result)) == sorted(keys)
    assert all(count > 0 for count in faults.injected.values()), faults.injected
    assert any(r.method == "PUT" and "partNumber" in r.query for r in seen), "no multipart upload happened"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_document_cut_off_mid_body_is_read_again(s3: Any, bucket: str, moto_endpoint: str) -> None:
    """The client retries a GetObject until its headers arrive, not the body read after: a
    plan or summary cut off mid-transfer is fetched again, a bounded number of times."""
    document = {"units": [{"unit": i, "prefix": f"p{i}/"} for i in range(50)]}
    s3.put_object(Bucket=bucket, Key="plan.json", Body=json.dumps(document).encode())
    cuts = documents.BODY_ATTEMPTS - 1

    async def read(endpoint: str) -> Any:
        async with new_session().client("s3", **{**client_kwargs(runtime.settings()), "endpoint_url": endpoint}) as c:
            return await documents.get_json(c, bucket, "plan.json")

    with S3Proxy(moto_endpoint, rule=EveryNth(1, lambda _r: CutAfter(size=20), when=_first(cuts))) as proxy:
        assert asyncio.run(read(proxy.url)) == document
        assert [r.action for r in proxy.seen] == ["cut"] * cuts + ["forward"]

    with (
        S3Proxy(moto_endpoint, rule=lambda _r: CutAfter(size=20)) as proxy,
        pytest.raises(S3RequestFailed, match="GetObject"),
    ):
        asyncio.run(read(proxy.url))
    assert len(proxy.seen) == documents.BODY_ATTEMPTS  # bounded


def _first(n: int) -> Callable[[ProxyRequest], bool]:
    left = [n]
    lock = threading.Lock()

    def when(_request: ProxyRequest) -> bool:
        with lock:
            left[0] -= 1
            return left[0] >= 0

    return when
