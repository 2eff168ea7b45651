"""The folder summary: exact counts per folder, the parts each spans, bounded whatever the tree."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3fanout.folder_summary import (
    FIELDS,
    FolderSummary,
    SummaryFailed,
    line_fields,
    summarize,
    summarize_parts,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator


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

    keys = sorted(bodies)
    # In chunks of any size: a line split across chunks is put together.
    for chunk_size in (1, 7, 64, 1 << 20):
        from_parts = asyncio.run(summarize_parts(reader(bodies, chunk_size), keys, "p/"))
        assert from_parts == summarize(rows, "p/")
    line = json.dumps({"key": 'a","url":"b', "size": 3, "last_modified": "t", "url": "https://x"}).encode()
    assert line_fields(line) == ('a","url":"b', 3, "t")


def test_the_summary_gets_half_the_time_and_leaves_the_reserve() -> None:
    from s3fanout.merge_index import SUMMARY_RESERVE_MS, summary_budget_ms

    assert summary_budget_ms(lambda: 300_000) == 150_000
    assert summary_budget_ms(lambda: 40_000) == 40_000 - SUMMARY_RESERVE_MS
    assert summary_budget_ms(lambda: 20_000) == 20_000 - SUMMARY_RESERVE_MS < 0  # none at all
    assert summary_budget_ms(None) is None


def reader(bodies: dict[str, bytes], chunk_size: int | None = None, asked: list[str] | None = None) -> Any:
    """``read(key, chunk_size)`` over in-memory parts (a missing key: no lines)."""

    async def read(key: str, size: int) -> AsyncGenerator[bytes]:
        if asked is not None:
            asked.append(key)
        body = bodies.get(key, b"")
        step = chunk_size or size
        for start in range(0, len(body), step):
            await asyncio.sleep(0)
            yield body[start : start + step]

    return read


def part_lines(*keys: str) -> bytes:
    return b"".join(json.dumps({"key": k, "size": 1, "last_modified": "t", "url": "u"}).encode() + b"\n" for k in keys)


GOOD = {
    "part-0": part_lines("p/a/1.pdf", "p/a/2.pdf"),
    "part-1": part_lines("p/b/1.pdf"),
    "part-2": part_lines("p/c.pdf"),
}


@pytest.mark.parametrize(
    ("part1", "reason"),
    [
        (b'{"key": "p/b/1.pdf", "size": 1\n', "line 1: JSONDecodeError"),
        (part_lines("p/b/1.pdf") + b'{"size": 1}\n', "line 2: KeyError"),
        (b'{"key": "p/b/1.pdf", "size": "x"}\n', "line 1: ValueError"),
        (part_lines("p/a/0.pdf"), 'line 1: ValueError("keys must come in key order'),
        (b"x" * 3_000_000, "line 1 is longer than"),
    ],
)
def test_a_malformed_part_fails_the_summary_naming_it(part1: bytes, reason: str) -> None:
    bodies = {**GOOD, "part-1": part1}
    with pytest.raises(SummaryFailed) as failed:
        asyncio.run(summarize_parts(reader(bodies, 1 << 18), sorted(bodies), "p/"))
    assert failed.value.part_key == "part-1"
    assert failed.value.reason.startswith(reason), failed.value.reason


def test_a_part_with_other_than_its_count_of_lines_fails_the_summary() -> None:
    keys = sorted(GOOD)
    assert asyncio.run(summarize_parts(reader(GOOD), keys, "p/", counts=[2, 1, 1])) is not None
    # A part missing (no lines) where its summary counts some: the summary would be short.
    with pytest.raises(SummaryFailed, match="part-1: 0 lines where the part's summary counts 1"):
        asyncio.run(summarize_parts(reader({**GOOD, "part-1": b""}), keys, "p/", counts=[2, 1, 1]))
    # A part never written because its unit was empty has none.
    assert asyncio.run(summarize_parts(reader({**GOOD, "part-1": b""}), keys, "p/", counts=[2, 0, 1])) is not None


@pytest.mark.timeout(20)
def test_a_read_that_fails_fails_the_summary_and_no_read_is_left_running() -> None:
    closed: list[str] = []

    async def read(key: str, _size: int) -> AsyncGenerator[bytes]:
        try:
            yield GOOD[key]
            if key == "part-1":
                raise OSError("connection reset")
            if key == "part-2":
                await asyncio.sleep(3600)  # stalls, read ahead
        finally:
            closed.append(key)

    async def main() -> None:
        with pytest.raises(SummaryFailed, match="part-1: read failed: OSError"):
            await summarize_parts(read, sorted(GOOD), "p/")
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())
    assert sorted(closed) == sorted(GOOD)


@pytest.mark.timeout(20)
def test_cancelled_mid_read_it_cancels_and_awaits_every_read() -> None:
    """The caller's deadline (asyncio.timeout) cancels the summary mid-read: every read is
    closed and awaited, none left pending, and the cancellation is not swallowed."""
    bodies = {f"part-{n:02d}": part_lines(f"p/{n:02d}.pdf") for n in range(20)}
    asked: list[str] = []
    closed: list[str] = []

    async def read(key: str, _size: int) -> AsyncGenerator[bytes]:
        asked.append(key)
        try:
            yield bodies[key]
            if key == "part-02":
                await asyncio.sleep(3600)  # a read that stalls
        finally:
            closed.append(key)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await summarize_parts(read, sorted(bodies), "p/")
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())
    assert len(asked) <= 3 + 4 < len(bodies)  # summed, being read, read ahead
    assert sorted(closed) == sorted(asked)
