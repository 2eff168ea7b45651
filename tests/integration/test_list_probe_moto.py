"""The lean probe against moto over HTTP: the same pages as listing.probe_page, its URLs
really list, and behind a proxy that errs and drops connections planning still gets the
same pages and the same named errors (asked again through aiobotocore)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3fanout.errors import AccessDenied, BucketNotFound, FanoutError
from s3fanout.list_prefixes import plan_units
from s3fanout.list_probe import LeanProbe, lean_prober, list_query, list_signer_for, read_page
from s3fanout.listing import ProbePage, probe_page
from s3fanout.records import RunRequest
from s3fanout.s3 import PLANNING_CLIENT_CONFIG, new_session
from tests.support.s3_helpers import put_keys
from tests.support.s3_proxy import EveryNth, ProxyRequest, Respond, RotatingFaults, S3Proxy, fast_retries

# Awkward keys moto stores and lists (it will not store NUL or CR).
ODD = [
    "with space.pdf",
    "plus+sign.pdf",
    "per%cent.pdf",
    "per%2Fcent-encoded.pdf",
    "equals=sign~tilde.pdf",
    "unicodé-文件-📄.pdf",
    "//double//slash",
    "quote\"and'apostrophe",
    "amp&hash#question?<lt>gt",
    "tab\there",
    "back\\slash",
    "\u00e9\u0301 combining",
]
_PIECES = st.sampled_from([*ODD, "a", "b/", "z", "0", "~", " ", "+", "%", "%41", "\U0001f4c4", "文"])


def _client(endpoint: str) -> Any:
    return new_session().client("s3", endpoint_url=endpoint, region_name="us-east-1", config=PLANNING_CLIENT_CONFIG)


async def _both(
    endpoint: str, bucket: str, prefix: str, asks: list[tuple[str | None, int]], max_fallbacks: int = 16
) -> Any:
    """Each ask through the lean probe and through probe_page; and the lean probe's stats."""
    stats: dict[str, int] = {}
    async with _client(endpoint) as client:
        async with lean_prober(
            client, bucket, prefix, concurrency=8, stats=stats, max_fallbacks=max_fallbacks
        ) as probe:
            assert isinstance(getattr(probe, "__self__", None), LeanProbe), "the lean probe should be proven on moto"
            lean = await asyncio.gather(*(probe(start, size) for start, size in asks))
        botocore = [await probe_page(client, bucket, prefix, start, max_keys=size) for start, size in asks]
    return lean, botocore, stats


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=st.lists(st.lists(_PIECES, min_size=1, max_size=4).map("".join), min_size=0, max_size=30, unique=True),
    sub=st.sampled_from(["", "a", "b/", "%", "文"]),
    asks=st.lists(
        st.tuples(st.none() | st.lists(_PIECES, max_size=3).map("".join) | st.integers(0, 40), st.integers(1, 12)),
        min_size=1,
        max_size=12,
    ),
)
def test_lean_pages_are_probe_pages(
    s3: Any, bucket: str, moto_endpoint: str, names: list[str], sub: str, asks: list[tuple[Any, int]]
) -> None:
    root = f"t{uuid.uuid4().hex[:8]}/"  # a fresh key set per example
    put_keys(s3, bucket, [root + name for name in names])
    ordered = sorted(root + name for name in names)
    # A start point: none, any text, or just at / just after a listed key.
    points: list[tuple[str | None, int]] = []
    for drawn, size in asks:
        start = drawn
        if isinstance(drawn, int):
            key = ordered[drawn % len(ordered)] if ordered else root
            start = key if drawn % 2 else key + " "
        elif drawn is not None:
            start = root + drawn
        points.append((start, size))
    lean, botocore, stats = asyncio.run(_both(moto_endpoint, bucket, root + sub, points))
    assert lean == botocore
    assert stats == {"lean_probes": len(points), "lean_fallbacks": 0}


def test_a_presigned_list_url_lists_on_moto(s3: Any, bucket: str, moto_endpoint: str) -> None:
    put_keys(s3, bucket, ODD + [f"many/{i:03d}" for i in range(20)])

    async def urls() -> list[tuple[str, ProbePage]]:
        async with _client(moto_endpoint) as client:
            signer = await list_signer_for(client, bucket, "")
            assert signer is not None
            asks = [("", None, 1000), ("", ODD[5], 3), ("many/", "many/004", 5), ("with", None, 1)]
            return [
                (signer.presign(list_query(*ask)), await probe_page(client, bucket, ask[0], ask[1], max_keys=ask[2]))
                for ask in asks
            ]

    for url, expected in asyncio.run(urls()):
        response = requests.get(url, timeout=30)
        assert response.status_code == 200, response.text[:300]
        assert read_page(response.content) == expected
        assert expected.keys
    # (moto does not check presigned signatures: that they are botocore's, byte for byte, is
    # tests/unit/test_list_probe.py's part.)


def _request(bucket: str, prefix: str = "") -> RunRequest:
    return RunRequest(bucket=bucket, prefix=prefix, suffix="", expires_in=900, max_concurrency=40)


async def _plan(endpoint: str, request: RunRequest, stats: dict[str, int] | None = None) -> list[Any]:
    async with _client(endpoint) as client:
        return await plan_units(client, request, min_unit=10, stats=stats)


@pytest.mark.timeout(240)
def test_faults_fall_back_and_planning_is_unchanged(
    s3: Any, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Enough keys that planning samples them (tens of probes), not reads them all.
    keys = [f"docs/{i:05d}-{ODD[i % len(ODD)]}" for i in range(20_000)]
    put_keys(s3, bucket, keys, body=b"x")
    fast_retries(monkeypatch)
    clean: dict[str, int] = {}
    planned = asyncio.run(_plan(moto_endpoint, _request(bucket), clean))
    assert len(planned) == 80
    assert clean["lean_probes"] == clean["probes"] > 20
    assert clean["lean_fallbacks"] == 0

    # One in three ListObjectsV2 requests fails: lean probes fall back, aiobotocore retries.
    faults = RotatingFaults()
    stats: dict[str, int] = {}
    with S3Proxy(moto_endpoint, rule=EveryNth(3, faults, when=lambda r: r.is_list_objects_v2)) as proxy:
        assert asyncio.run(_plan(proxy.url, _request(bucket), stats)) == planned
    assert all(faults.injected.values()), faults.injected
    assert stats["lean_probes"] > 0
    assert stats["lean_fallbacks"] > 0

    # Probe by probe, lean past the fallback limit: every page is probe_page's.
    asks: list[tuple[str | None, int]] = [(None, 1000)] + [(k, 7 + i % 40) for i, k in enumerate(keys[::397])]
    with S3Proxy(moto_endpoint, rule=EveryNth(3, RotatingFaults(), when=lambda r: r.is_list_objects_v2)) as proxy:
        lean, _, stats = asyncio.run(_both(proxy.url, bucket, "docs/", asks, max_fallbacks=len(asks)))
        seen = proxy.seen
    _, botocore, _ = asyncio.run(_both(moto_endpoint, bucket, "docs/", asks))
    assert lean == botocore
    # Lean requests are presigned (aiobotocore's carry an Authorization header): a probe is
    # lean when its request went through, asked again through aiobotocore when it failed.
    # (aiohttp itself sends a request again once when a kept-alive connection was dropped.)
    lean_seen = [s for s in seen if "X-Amz-Signature" in s.query]
    failed = [s for s in lean_seen if s.action != "forward"]
    assert {s.action for s in failed} == {"respond", "drop"}
    assert stats["lean_probes"] == len(lean_seen) - len(failed)
    assert stats["lean_probes"] + stats["lean_fallbacks"] == len(asks)
    assert 0 < stats["lean_fallbacks"] <= len(failed)


def test_a_missing_bucket_is_the_same_named_error(moto_endpoint: str) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"

    async def both() -> tuple[FanoutError, FanoutError]:
        async with _client(moto_endpoint) as client:
            with pytest.raises(FanoutError) as direct:
                await probe_page(client, missing, "", None)
            with pytest.raises(FanoutError) as planned:
                await plan_units(client, _request(missing), min_unit=50)
            return direct.value, planned.value

    direct, planned = asyncio.run(both())
    assert isinstance(planned, BucketNotFound)
    assert (type(planned), str(planned)) == (type(direct), str(direct))


def test_access_denied_is_the_same_named_error(s3: Any, bucket: str, moto_endpoint: str) -> None:
    put_keys(s3, bucket, ["a", "b"])

    def deny(request: ProxyRequest) -> Any:
        return Respond.s3_error(403, "AccessDenied", "Access Denied") if request.is_list_objects_v2 else None

    async def both(endpoint: str) -> tuple[FanoutError, FanoutError]:
        async with _client(endpoint) as client:
            with pytest.raises(FanoutError) as direct:
                await probe_page(client, bucket, "", None)
            with pytest.raises(FanoutError) as planned:
                await plan_units(client, _request(bucket), min_unit=50)
            return direct.value, planned.value

    with S3Proxy(moto_endpoint, rule=deny) as proxy:
        direct, planned = asyncio.run(both(proxy.url))
        lists = [s for s in proxy.seen if s.is_list_objects_v2]
    assert isinstance(planned, AccessDenied)
    assert (type(planned), str(planned)) == (type(direct), str(direct))
    assert len(lists) >= 3  # probe_page's, then the lean probe's and its fallback through aiobotocore


def test_cancelled_probes_are_not_asked_again_and_the_session_closes(s3: Any, bucket: str, moto_endpoint: str) -> None:
    put_keys(s3, bucket, ["a", "b"])

    def slow(request: ProxyRequest) -> Any:
        if request.is_list_objects_v2:
            time.sleep(1.0)
        return None

    class Boom(Exception):
        pass

    async def fail_inside(client: Any) -> LeanProbe:
        """An error raised inside the block: the session closes as it goes through."""
        inside: list[LeanProbe] = []
        try:
            async with lean_prober(client, bucket, "", concurrency=4) as probe:
                inside.append(probe.__self__)  # type: ignore[attr-defined]
                raise Boom
        except Boom:
            pass
        return inside[0]

    async def run(endpoint: str) -> LeanProbe:
        async with _client(endpoint) as client:
            async with lean_prober(client, bucket, "", concurrency=4) as probe:
                lean = probe.__self__  # type: ignore[attr-defined]
                task = asyncio.ensure_future(probe(None, 5))
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert (lean.lean, lean.fallbacks) == (0, 0)
            assert lean._session.closed
            return await fail_inside(client)

    with S3Proxy(moto_endpoint, rule=slow) as proxy:
        failed = asyncio.run(run(proxy.url))
        time.sleep(1.2)  # the proxy finishes the request the client gave up on
        lists = [s for s in proxy.seen if s.is_list_objects_v2]
    assert len(lists) == 1  # the lean GET, not asked again through aiobotocore
    assert failed._session.closed


def test_seeded_random_keys_match_probe_page(s3: Any, bucket: str, moto_endpoint: str) -> None:
    """A bigger key set (full 1,000-key pages) with random awkward names."""
    rng = random.Random(19)
    alphabet = "ab/ -+%~=&<>\"'é文📄\t\\"
    names = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(2500)}
    put_keys(s3, bucket, sorted(names))
    ordered = sorted(names)
    asks: list[tuple[str | None, int]] = [(None, 1000), (None, 1)]
    asks += [(rng.choice(ordered), rng.choice([1, 10, 999, 1000])) for _ in range(40)]
    asks += [("".join(rng.choice(alphabet) for _ in range(3)), 1000) for _ in range(10)]
    lean, botocore, stats = asyncio.run(_both(moto_endpoint, bucket, "", asks))
    assert lean == botocore
    assert sum(len(page.keys) for page in lean) > 5000
    assert stats["lean_fallbacks"] == 0


def test_a_bucket_in_another_region_is_planned_through_the_client(s3: Any, bucket: str, moto_endpoint: str) -> None:
    """The lean probe signs for the client's region: for a bucket elsewhere it stays off."""
    put_keys(s3, bucket, ["a", "b"])

    async def kinds() -> list[bool]:
        async with _client(moto_endpoint) as client:
            seen = []
            for region in (None, "us-east-1", "eu-west-1"):
                async with lean_prober(client, bucket, "", concurrency=2, region=region) as probe:
                    seen.append(isinstance(getattr(probe, "__self__", None), LeanProbe))
                    assert await probe(None, 5) == ProbePage(("a", "b"), False)
            return seen

    assert asyncio.run(kinds()) == [True, True, False]
