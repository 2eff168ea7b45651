"""S3 that throttles, errs and drops connections: the handlers still produce exact manifests."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from s3fanout import runtime
from tests.integration.test_manifest_keys import manifest_keys
from tests.support.flow import run_handlers
from tests.support.s3_helpers import put_keys
from tests.support.s3_proxy import DROP, EveryNth, Respond, S3Proxy


class _Faults:
    """503 SlowDown, 500 InternalError, dropped connection - in turn."""

    def __init__(self) -> None:
        self._kinds = itertools.cycle(["slowdown", "internal", "drop"])
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {"slowdown": 0, "internal": 0, "drop": 0}

    def __call__(self, _request: Any) -> Any:
        with self._lock:
            kind = next(self._kinds)
            self.injected[kind] += 1
        if kind == "slowdown":
            return Respond.s3_error(503, "SlowDown", "Please reduce your request rate.")
        if kind == "internal":
            return Respond.s3_error(500, "InternalError", "We encountered an internal error.")
        return DROP


@pytest.mark.timeout(240)
def test_one_in_five_requests_failing_still_gives_exact_manifests(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Enough keys for several listing pages and, with 5 MiB parts, a multipart part upload.
    keys = [f"docs/{i:05d}-{'x' * 40}.pdf" for i in range(16_000)] + [f"misc/{i}.pdf" for i in range(30)]
    put_keys(s3, bucket, keys, body=b"x")
    faults = _Faults()
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
