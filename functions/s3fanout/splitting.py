"""Split one big flat key space into disjoint key ranges, by probing with StartAfter/MaxKeys.

A range is ``(start_after, end_key]``: keys ``k`` with ``k > start_after`` (or any, if None)
and ``k <= end_key`` (or any, if None). Consecutive ranges share their boundary, so they are
disjoint and together cover every key by construction; probing only decides where the
boundaries go. Boundaries need not be existing keys: StartAfter accepts any string.

Refinement is breadth first: probe the first page of every range still being refined
(concurrently); a range whose keys all fit in that page is final; a bigger one is cut at
boundaries placed after its first page, chosen from the characters its keys actually use.
Small neighbours are merged back so units are not tiny.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# probe(start_after) -> (first page of keys after start_after, whether more pages follow)
Probe = Callable[[str | None], Awaitable[tuple[list[str], bool]]]

MAX_LEVELS = 40


@dataclass(frozen=True)
class KeyRange:
    start_after: str | None
    end_key: str | None
    # Exact count when the whole range fit in one probe page, else None (= more than a page).
    known_count: int | None = None

    def contains(self, key: str) -> bool:
        return (self.start_after is None or key > self.start_after) and (self.end_key is None or key <= self.end_key)


def _common_prefix_length(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def split_points(last: str, end_key: str | None, sample: list[str], prefix: str, fanout: int) -> list[str]:
    """Boundaries ``b`` with ``last < b < end_key``, spread over the characters in use."""
    i = _common_prefix_length(last, end_key) if end_key is not None else len(prefix)
    alphabet = sorted({c for key in sample for c in key[len(prefix) :]})
    if not alphabet:
        return []
    beyond = chr(min(ord(alphabet[-1]) + 1, 0x10FFFF))
    candidates: set[str] = set()
    # Deeper first: cut the branch ``last`` is in, one character further.
    for depth in (i + 1, i):
        if depth > len(last):
            continue
        stem = last[:depth]
        current = last[depth] if depth < len(last) else ""
        chars = [c for c in [*alphabet, beyond] if c > current]
        step = max(1, len(chars) // max(1, fanout // 2))
        candidates.update(stem + c for c in chars[::step])
        candidates.add(stem + chars[-1] if chars else stem)
    return sorted(b for b in candidates if b > last and (end_key is None or b < end_key))


async def split_key_space(
    probe: Probe,
    prefix: str,
    *,
    max_ranges: int,
    fanout: int = 16,
    merge_up_to: int = 50_000,
) -> list[KeyRange]:
    """Disjoint ranges covering every key under ``prefix``; at most about ``max_ranges``."""
    final: list[KeyRange] = []
    frontier = [KeyRange(None, None)]
    for _level in range(MAX_LEVELS):
        if not frontier:
            break
        pages = await asyncio.gather(*(probe(r.start_after) for r in frontier))
        next_frontier: list[KeyRange] = []
        for index, (current, (keys, truncated)) in enumerate(zip(frontier, pages, strict=True)):
            inside = [k for k in keys if current.contains(k)]
            if not inside:
                if truncated and not keys:
                    # Delimited listing: a page of sub-prefixes only; cannot tell, keep it whole.
                    final.append(current)
                # Otherwise empty now; the neighbours' boundaries still cover the key space.
                continue
            if len(inside) < len(keys) or not truncated:
                final.append(KeyRange(current.start_after, current.end_key, len(inside)))
                continue
            budget_left = max_ranges - len(final) - len(next_frontier) - (len(frontier) - index)
            bounds = split_points(inside[-1], current.end_key, inside, prefix, fanout) if budget_left > 0 else []
            bounds = bounds[: max(0, budget_left)]
            if not bounds:
                final.append(current)
                continue
            edges = [current.start_after, *bounds, current.end_key]
            next_frontier.extend(KeyRange(edges[j], edges[j + 1]) for j in range(len(edges) - 1))
        frontier = next_frontier
    final.extend(frontier)
    return _merge_small(sorted(final, key=_order), merge_up_to)


def _order(r: KeyRange) -> tuple[int, str]:
    return (0, "") if r.start_after is None else (1, r.start_after)


def _merge_small(ranges: list[KeyRange], merge_up_to: int) -> list[KeyRange]:
    """Join neighbouring ranges of known small size (the gap between them held no keys)."""
    merged: list[KeyRange] = []
    for current in ranges:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.known_count is not None
            and current.known_count is not None
            and last.known_count + current.known_count <= merge_up_to
        ):
            merged[-1] = KeyRange(last.start_after, current.end_key, last.known_count + current.known_count)
        else:
            merged.append(current)
    if merged:
        # Stretch the ends to the open key space, so keys outside every probed range
        # (e.g. written while planning) still land in a unit.
        merged[0] = KeyRange(None, merged[0].end_key, merged[0].known_count)
        merged[-1] = KeyRange(merged[-1].start_after, None, merged[-1].known_count)
        # Close gaps left by dropped empty ranges: each range starts where the previous ended.
        for j in range(1, len(merged)):
            previous = merged[j - 1]
            merged[j] = KeyRange(previous.end_key, merged[j].end_key, merged[j].known_count)
    return merged
