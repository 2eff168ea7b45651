"""The folder summary: exact counts per folder, the parts each spans, bounded whatever the tree."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3fanout.folder_summary import FIELDS, FolderSummary, line_fields, summarize, summarize_parts


def rows_of(keys: list[str], per_part: int) -> list[tuple[str, int, str, int]]:
    return [(k, len(k), f"2026-11-{1 + i % 28:02d}T00:00:00.000Z", i // per_part) for i, k in enumerate(sorted(keys))]


def by_path(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row[0]: dict(zip(FIELDS, row, strict=True)) for row in summary["entries"]}


def expected(keys: list[str], prefix: str, per_part: int) -> dict[str, dict[str, Any]]:
    """The same figures the slow way: every folder of every key."""
    out: dict[str, dict[str, Any]] = {}
    for key, size, modified, part in rows_of(keys, per_part):
        rel = key[len(prefix) :]
        segments = rel.split("/")[:-1]
        folders = ["/".join(segments[:n]) + "/" if n else "" for n in range(len(segments) + 1)]
        for depth, path in enumerate(folders):
            e = out.setdefault(
                path, {"files": 0, "bytes": 0, "modified": "", "parts": set(), "direct": 0, "sub": set()}
            )
            e["files"] += 1
            e["bytes"] += size
            e["modified"] = max(e["modified"], modified)
            e["parts"].add(part)
            if depth == len(folders) - 1:
                e["direct"] += 1
            else:
                e["sub"].add(folders[depth + 1])
    return out


KEYS = [
    "p/a.pdf",
    "p/b/c.pdf",
    "p/b/d/e.pdf",
    "p/b/d/f.pdf",
    "p/b/z.pdf",
    "p/b!.pdf",
    "p/c/x.pdf",
    "p/c.pdf",
    "p/é/ü.pdf",
    "p/b/d0/g.pdf",
]


def test_every_folder_counted_exactly_with_the_parts_it_spans() -> None:
    summary = summarize(rows_of(KEYS, 3), "p/")
    assert summary["complete"] is True
    got = by_path(summary)
    want = expected(KEYS, "p/", 3)
    assert set(got) == set(want)
    for path, e in want.items():
        row = got[path]
        assert (row["files"], row["bytes"], row["modified"]) == (e["files"], e["bytes"], e["modified"]), path
        assert (row["first_part"], row["last_part"]) == (min(e["parts"]), max(e["parts"])), path
        assert row["subfolders"] == len(e["sub"]), path
        assert row["direct_files"] == e["direct"] == sum(row["direct_parts"][1::2]), path
    # b/ holds c.pdf (part 1) and z.pdf (part 2) directly, its subfolders between them.
    assert got["b/"]["direct_parts"] == [0, 1, 2, 1]


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.lists(st.sampled_from(["a", "b", "ab", "é", "0"]), min_size=1, max_size=5).map("/".join), max_size=60),
    st.integers(1, 7),
    st.integers(1, 12),
)
def test_the_largest_folders_are_kept_with_every_ancestor(names: set[str], per_part: int, limit: int) -> None:
    keys = sorted("s/" + n for n in names)
    summary = summarize(rows_of(keys, per_part), "s/", limit)
    got = by_path(summary)
    want = expected(keys, "s/", per_part) if keys else {"": {"files": 0}}
    assert len(got) == min(limit, len(want))
    assert summary["complete"] is (len(want) <= limit)
    for path in got:  # closed under "parent of"
        assert "" in got
        parent = path[: path[:-1].rfind("/") + 1] if path else None
        assert parent is None or parent in got
        assert got[path]["files"] == want[path]["files"]
    left_out = [e["files"] for p, e in want.items() if p not in got]
    assert all(n <= summary["smallest"] for n in left_out)


def test_keys_out_of_order_are_refused() -> None:
    summary = FolderSummary("p/")
    summary.add("p/b.pdf", 1, "", 0)
    with pytest.raises(ValueError, match="key order"):
        summary.add("p/a.pdf", 1, "", 0)


def test_read_from_the_parts_lines_it_is_the_same_summary() -> None:
    rows = rows_of([*KEYS, 'p/quote"d/back\\slash.pdf', 'p/url","url":"x.pdf'], 3)
    bodies: dict[str, bytes] = {}
    for key, size, modified, part in rows:
        line = {
            "key": key,
            "size": size,
            "etag": "e",
            "last_modified": modified,
            "url": "https://h/b/k?X-Amz-Signature=1",
        }
        bodies[f"parts/{part:05d}.jsonl"] = (
            bodies.get(f"parts/{part:05d}.jsonl", b"") + json.dumps(line).encode() + b"\n"
        )
    bodies["parts/99999.jsonl"] = b""  # an empty part

    async def read(key: str) -> bytes:
        await asyncio.sleep(0)
        return bodies[key]

    keys = sorted(bodies)
    from_parts = asyncio.run(summarize_parts(read, keys, "p/"))
    assert from_parts == summarize(rows, "p/")
    line = json.dumps({"key": 'a","url":"b', "size": 3, "last_modified": "t", "url": "https://x"}).encode()
    assert line_fields(line) == ('a","url":"b', 3, "t")


def test_summarizing_stops_between_parts_when_time_runs_out() -> None:
    bodies = {f"part-{n}": json.dumps({"key": f"p/a/{n}.pdf", "size": 1, "url": "u"}).encode() for n in range(20)}
    asked: list[str] = []

    async def read(key: str) -> bytes:
        asked.append(key)
        return bodies[key]

    calls = iter(range(100))
    # Out of time at the third check: two parts summed, the rest never read past the read-ahead.
    assert asyncio.run(summarize_parts(read, sorted(bodies), "p/", out_of_time=lambda: next(calls) >= 2)) is None
    assert len(asked) <= 2 + 4 + 1 < len(bodies)  # summed, read ahead, one more at most
    assert asyncio.run(summarize_parts(read, sorted(bodies), "p/", out_of_time=lambda: False)) is not None


def test_the_summary_gets_half_the_time_and_leaves_the_reserve() -> None:
    from s3fanout.merge_index import SUMMARY_RESERVE_MS, summary_deadline

    left = [300_000]
    out_of_time = summary_deadline(lambda: left[0])
    assert not out_of_time()
    left[0] = 150_001
    assert not out_of_time()
    left[0] = 149_999
    assert out_of_time()
    left = [40_000]
    out_of_time = summary_deadline(lambda: left[0])
    assert not out_of_time()
    left[0] = SUMMARY_RESERVE_MS - 1
    assert out_of_time()
    assert not summary_deadline(None)()
