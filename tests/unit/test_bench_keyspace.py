"""The planning benchmark's lazy key spaces and synthetic S3, against brute force on small spaces.

The benchmark's figures (unit sizes, exact cover, LIST counts) are only as good as these:
no network, no big space materialised.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from urllib.parse import unquote_plus

import pytest

from bench.keyspace import (
    LAYOUT_KINDS,
    SPACES,
    Concat,
    Lazy,
    check_cover,
    count_direct,
    count_range,
    flat,
    folder_layout,
    space,
    tree,
    unit_intervals,
)
from bench.plan_server import KeySpaceS3

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _mixed() -> Concat:
    """Small space with every shape: direct keys between folders, nested folders, odd characters."""
    return Concat(
        [
            Lazy(3, lambda i: f"a-{i}.pdf"),
            Lazy(5, lambda i: f"a/{i}/x é.txt"),
            Lazy(4, lambda i: f"a/z{i}+.pdf"),
            Lazy(2, lambda i: f"a0{i}"),
            Lazy(6, lambda i: f"b/c/{i:02d}.PDF"),
            Lazy(3, lambda i: f"b/d{i}"),
            Lazy(2, lambda i: f"文件/{i}"),
        ]
    )


SMALL = {"mixed": _mixed, "tree": lambda: tree(width=3, depth=3, files=4), "flat": lambda: flat(57)}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_space_is_sorted_and_unique(name: str) -> None:
    keys = space(name)
    rng = random.Random(name)
    indexes = {0, len(keys) - 2, *(rng.randrange(len(keys) - 1) for _ in range(2000))}
    if isinstance(keys, Concat):  # the seams between segments
        indexes |= {max(0, s - 1) for s in keys.starts}
    for i in indexes:
        assert keys[i] < keys[i + 1], (i, keys[i], keys[i + 1])


def test_declared_shapes() -> None:
    assert len(space("flat10m")) == 10_000_000
    assert space("flat10m")[-1].startswith("flat/doc-09999999")
    assert len(space("skewed")) == 1_010_000
    tree36 = space("tree36")
    assert len(tree36) == 5460
    assert max(k.count("/") for k in tree36) == 6
    assert {k.split("/", 1)[0] for k in tree36} == {"d0", "d1", "d2"}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_counts_match_brute_force(name: str) -> None:
    keys = SMALL[name]()
    every = list(keys)
    assert every == sorted(every)
    rng = random.Random(7)
    prefixes = sorted({"", *(k[: rng.randrange(len(k))] for k in rng.sample(every, 8))})
    bounds = [None, "", *rng.sample(every, 6), "a/3", "b/c/", "d1/d2/", "d2/d0/d1/f2.pdf", "zz"]
    for prefix in prefixes:
        under = [k for k in every if k.startswith(prefix)]
        for start_after in bounds:
            for end_key in bounds:
                inside = [
                    k for k in under if (start_after is None or k > start_after) and (end_key is None or k <= end_key)
                ]
                direct = [k for k in inside if "/" not in k[len(prefix) :]]
                assert count_range(keys, prefix, start_after, end_key) == len(inside)
                assert count_direct(keys, prefix, start_after, end_key) == len(direct)
                runs = unit_intervals(keys, prefix, start_after, end_key, delimited=True)
                assert [k for a, b in runs for k in every[a:b]] == direct


def test_cover_check_sees_gaps_and_overlaps_a_count_would_hide() -> None:
    keys = _mixed()
    good = [
        unit_intervals(keys, "", None, "a/1/x é.txt"),
        unit_intervals(keys, "", "a/1/x é.txt", "a01"),
        unit_intervals(keys, "b/c/", None, None),
        unit_intervals(keys, "b/", None, None, delimited=True),
        unit_intervals(keys, "文件/", None, None),
    ]
    assert sum(b - a for unit in good for a, b in unit) == len(keys)
    assert check_cover(keys, "", good) == (True, True)
    # The same total: "a/1/x é.txt" in two units, "a01" in none.
    shifted = [good[0], unit_intervals(keys, "", "a/0/x é.txt", "a00"), *good[2:]]
    assert sum(b - a for unit in shifted for a, b in unit) == len(keys)
    assert check_cover(keys, "", shifted) == (False, False)
    assert check_cover(keys, "", good[:2]) == (True, False)


def _page(app: KeySpaceS3, bucket: str, query: dict[str, str]) -> tuple[list[str], list[str], str | None]:
    root = ET.fromstring(app.list_objects_v2(bucket, {"encoding-type": "url", **query}))
    keys = [unquote_plus(e.text or "") for e in root.iter(f"{NS}Key")]
    common = [unquote_plus(e.text or "") for e in root.iterfind(f"{NS}CommonPrefixes/{NS}Prefix")]
    token = root.findtext(f"{NS}NextContinuationToken")
    assert (root.findtext(f"{NS}IsTruncated") == "true") == (token is not None)
    assert int(root.findtext(f"{NS}KeyCount") or -1) == len(keys) + len(common)
    return keys, common, token


def _reference(every: list[str], prefix: str, delimiter: str, start_after: str) -> list[tuple[str, bool]]:
    """S3's listing, by definition: (key or common prefix, is_prefix), in order."""
    out: list[tuple[str, bool]] = []
    for key in every:
        if not key.startswith(prefix) or key <= start_after:
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut < 0:
            out.append((key, False))
        elif not out or out[-1] != (key[: cut + len(delimiter)], True):
            out.append((key[: cut + len(delimiter)], True))
    return out


@pytest.mark.parametrize("name", sorted(SMALL))
def test_listing_matches_s3_semantics_page_by_page(name: str) -> None:
    app = KeySpaceS3(0)
    app.spaces["small"] = keys = SMALL[name]()
    every = list(keys)
    for prefix in ("", "a", "a/", "b/", "d1/", "d1/d2/", "d2/d0/d1/f2.pdf", "flat/doc-0000004", "nope"):
        for delimiter in ("", "/", "-", "é", "d2/", "x"):
            for start_after in ("", "a/2", "d0/d2/f3.pdf", "flat/doc-00000011.txt"):
                expected = _reference(every, prefix, delimiter, start_after)
                # Page by page for short listings; long ones in a few pages (fast enough).
                for max_keys in (1, 3, 1000) if len(expected) < 300 else (997, 1000):
                    query = {"prefix": prefix, "delimiter": delimiter, "start-after": start_after}
                    got, pages = [], 0
                    token: str | None = None
                    while True:
                        page_query = {**query, "max-keys": str(max_keys)}
                        if token is not None:
                            page_query["continuation-token"] = token
                        page_keys, page_common, token = _page(app, "small", page_query)
                        # A page holds the next max_keys entries, keys and common prefixes alike.
                        window = expected[pages * max_keys : (pages + 1) * max_keys]
                        assert sorted(page_keys) == [k for k, p in window if not p]
                        assert page_common == [k for k, p in window if p]
                        got += window
                        pages += 1
                        if token is None:
                            break
                    assert got == expected
                    assert pages == max(1, -(-len(expected) // max_keys))


def test_stats_count_requests_and_listed_keys() -> None:
    app = KeySpaceS3(0)
    app.spaces["small"] = _mixed()
    app.list_objects_v2("small", {"prefix": "a/", "delimiter": "/"})
    app.list_objects_v2("small", {"prefix": "", "max-keys": "5"})
    assert (app.stats.list_requests, app.stats.listed_keys) == (2, 4 + 5)


def test_a_seed_gives_the_same_folder_layouts() -> None:
    """``bench.planning --folder-sweep SEED:COUNT`` plans the layouts a seed gives: the same
    keys on every run (the sweep's figures name the seed), sorted and distinct."""
    first, again = (folder_layout(random.Random(3)) for _ in range(2))
    assert first == again
    keys, layout = first
    assert keys == sorted(set(keys))
    assert layout.rsplit(" ", 1)[1] in LAYOUT_KINDS
