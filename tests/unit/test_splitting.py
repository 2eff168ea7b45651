"""Property tests of the key-range splitter against an in-memory sorted key space."""

from __future__ import annotations

import asyncio
import bisect
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3fanout.splitting import KeyRange, split_key_space


def fake_probe(keys: list[str], page_size: int, calls: list[str | None] | None = None):
    ordered = sorted(set(keys))

    async def probe(start_after: str | None) -> tuple[list[str], bool]:
        if calls is not None:
            calls.append(start_after)
        start = 0 if start_after is None else bisect.bisect_right(ordered, start_after)
        page = ordered[start : start + page_size]
        return page, start + page_size < len(ordered)

    return probe


def assert_exact_cover(ranges: list[KeyRange], keys: list[str]) -> None:
    assert ranges[0].start_after is None
    assert ranges[-1].end_key is None
    for previous, current in itertools.pairwise(ranges):
        assert current.start_after == previous.end_key  # chained: no gap, no overlap
        assert current.start_after is not None
    for key in set(keys):
        assert sum(r.contains(key) for r in ranges) == 1, key


key_text = st.text(alphabet=st.sampled_from("abcXYZ019-_./ ~+%é文📄"), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    suffixes=st.lists(key_text, min_size=1, max_size=400, unique=True),
    page_size=st.integers(min_value=1, max_value=40),
    max_ranges=st.integers(min_value=1, max_value=40),
)
def test_ranges_are_disjoint_and_cover_every_key(suffixes: list[str], page_size: int, max_ranges: int) -> None:
    keys = [f"flat/{s}" for s in suffixes]
    ranges = asyncio.run(
        split_key_space(fake_probe(keys, page_size), "flat/", max_ranges=max_ranges, merge_up_to=page_size * 3)
    )
    assert_exact_cover(ranges, keys)


def test_a_big_flat_space_is_split_into_balanced_ranges() -> None:
    keys = [f"flat/report-{i:06d}.pdf" for i in range(20_000)]
    calls: list[str | None] = []
    ranges = asyncio.run(split_key_space(fake_probe(keys, 100, calls), "flat/", max_ranges=32, merge_up_to=500))
    assert_exact_cover(ranges, keys)
    sizes = [sum(r.contains(k) for k in keys) for r in ranges]
    assert len(ranges) >= 8
    assert max(sizes) <= len(keys) // 4
    assert len(calls) < 400  # probing, not listing everything (200 pages)


def test_small_space_stays_one_range() -> None:
    keys = [f"p/{i}" for i in range(10)]
    ranges = asyncio.run(split_key_space(fake_probe(keys, 1000), "p/", max_ranges=16))
    assert ranges == [KeyRange(None, None, 10)]


def test_empty_space_gives_no_range() -> None:
    assert asyncio.run(split_key_space(fake_probe([], 1000), "p/", max_ranges=16)) == []
