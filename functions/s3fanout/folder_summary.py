"""The folder summary: per folder, its files and bytes (all below it), newest modification,
and the parts it spans - so the share page opens any folder, and pages through its files,
from one or two parts instead of loading every name.

Parts are key ranges in key order and a folder is a key range (every key that starts with
``a/b/``), so one pass over the keys in order closes each folder exactly once: a stack of
open folders, rolled up into the parent when closed. Memory is the stack plus the kept set.

Bounded whatever the tree: the ``limit`` largest folders by file count are kept (ties: the
shallower). A folder never holds fewer files than one inside it, so the kept set is closed
under "parent of": every kept folder's ancestors are kept too. A folder left out holds at
most ``smallest`` files (and ``smallest`` <= files x depth / limit), and the page lists it
by loading the parts of its key range - a few at most.
"""

from __future__ import annotations

import asyncio
import heapq
import json
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Iterable

# ~100 bytes of page data each: at most ~2 MB whatever the tree.
FOLDER_LIMIT = 20_000
# Parts read at once while one is summed. A part is a whole unit's lines (240-785 MB at 10M
# objects), never held whole: each part streams in chunks, at most CHUNKS_AHEAD of them
# waiting - bytes in flight at most ~READ_AHEAD x (CHUNKS_AHEAD + 1) x CHUNK_BYTES (5 MiB),
# whatever the parts' size.
READ_AHEAD = 4
CHUNK_BYTES = 256 * 1024
CHUNKS_AHEAD = 4
# A manifest line is a key (at most 1,024 bytes), a presigned URL and a few fields: longer
# than this, the part is not a manifest.
MAX_LINE_BYTES = 1024 * 1024
_URL_FIELD = b',"url":"'

FIELDS = (
    "path",  # relative to the share's prefix, ending "/"; "" is the share itself
    "files",  # every file below it
    "bytes",  # their total size
    "modified",  # the newest last_modified below it (S3's text)
    "first_part",  # the parts (indexes in the index's list) its keys span
    "last_part",
    "subfolders",  # folders directly inside it (kept or not)
    "direct_files",  # files directly inside it
    "direct_parts",  # [part, files directly inside it in that part, ...], flat, in key order
)


@dataclass
class _Open:
    path: str
    depth: int
    first_part: int
    last_part: int
    files: int = 0
    bytes: int = 0
    modified: str = ""
    subfolders: int = 0
    direct_files: int = 0
    direct_parts: list[int] = field(default_factory=list)

    def row(self) -> list[Any]:
        return [
            self.path,
            self.files,
            self.bytes,
            self.modified,
            self.first_part,
            self.last_part,
            self.subfolders,
            self.direct_files,
            self.direct_parts,
        ]


class FolderSummary:
    """Feed ``add`` every shared object in key order, then read ``result()``."""

    def __init__(self, prefix: str, limit: int = FOLDER_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"folder summary limit must be at least 1, not {limit}")
        self.prefix = prefix
        self.limit = limit
        self._stack: list[_Open] = [_Open("", 0, 0, 0)]
        self._kept: list[tuple[int, int, str, list[Any]]] = []  # min-heap: (files, -depth, path, row)
        self._folders = 1
        self._last_key: str | None = None

    def add(self, key: str, size: int, modified: str, part: int) -> None:
        if self._last_key is not None and key <= self._last_key:
            raise ValueError(f"keys must come in key order without repeats: {key!r} after {self._last_key!r}")
        self._last_key = key
        rel = key[len(self.prefix) :] if key.startswith(self.prefix) else key
        folder = rel[: rel.rfind("/") + 1]
        stack = self._stack
        while not folder.startswith(stack[-1].path):
            self._close()
        top = stack[-1]
        while len(top.path) < len(folder):
            cut = folder.index("/", len(top.path)) + 1
            top.subfolders += 1
            top = _Open(folder[:cut], top.depth + 1, part, part)
            stack.append(top)
            self._folders += 1
        top.files += 1
        top.bytes += size
        top.modified = max(top.modified, modified)
        top.last_part = part
        top.direct_files += 1
        if top.direct_parts and top.direct_parts[-2] == part:
            top.direct_parts[-1] += 1
        else:
            top.direct_parts += [part, 1]

    def _close(self) -> None:
        done = self._stack.pop()
        parent = self._stack[-1]
        parent.files += done.files
        parent.bytes += done.bytes
        parent.modified = max(parent.modified, done.modified)
        parent.last_part = max(parent.last_part, done.last_part)
        self._keep(done)

    def _keep(self, done: _Open) -> None:
        item = (done.files, -done.depth, done.path, done.row())
        if len(self._kept) < self.limit:
            heapq.heappush(self._kept, item)
        elif item[:3] > self._kept[0][:3]:
            heapq.heapreplace(self._kept, item)

    def result(self) -> dict[str, Any]:
        while len(self._stack) > 1:
            self._close()
        root = self._stack[0]
        self._keep(root)  # the largest of all: always kept
        rows = sorted((item[3] for item in self._kept), key=lambda row: row[0])
        return {
            "version": 1,
            "limit": self.limit,
            "folders": self._folders,
            # Every folder is listed: one that is absent does not exist.
            "complete": self._folders <= self.limit,
            # A folder left out holds at most this many files.
            "smallest": min(item[0] for item in self._kept),
            "fields": list(FIELDS),
            "entries": rows,
        }


def summarize(rows: Iterable[tuple[str, int, str, int]], prefix: str, limit: int = FOLDER_LIMIT) -> dict[str, Any]:
    """The summary of ``(key, size, last_modified, part index)`` rows in key order."""
    summary = FolderSummary(prefix, limit)
    for key, size, modified, part in rows:
        summary.add(key, size, modified, part)
    return summary.result()


def line_fields(line: bytes) -> tuple[str, int, str]:
    """(key, size, last_modified) of a part's line. The URL - most of the line - is never
    parsed: manifest lines put it last, and no escaped key can hold its unescaped marker."""
    cut = line.find(_URL_FIELD)
    row = json.loads(line[:cut] + b"}" if cut > 0 else line)
    return row["key"], int(row["size"]), row.get("last_modified") or ""


class SummaryFailed(Exception):
    """A part could not be summed: its read failed, or a line is malformed or out of key order."""

    def __init__(self, part_key: str, reason: str) -> None:
        super().__init__(f"{part_key}: {reason}")
        self.part_key = part_key
        self.reason = reason


class _ReadFailed:
    def __init__(self, error: Exception) -> None:
        self.error = error


_END = object()


async def _feed(read: Callable[[str, int], AsyncGenerator[bytes]], key: str, queue: asyncio.Queue[Any]) -> None:
    """Put the part's chunks on ``queue`` (which bounds them), then _END - or what failed."""
    try:
        async with aclosing(read(key, CHUNK_BYTES)) as chunks:
            async for chunk in chunks:
                await queue.put(chunk)
    except Exception as exc:  # noqa: BLE001 - handed to the summing side, which names the part
        await queue.put(_ReadFailed(exc))
        return
    await queue.put(_END)


async def _sum_part(queue: asyncio.Queue[Any], summary: FolderSummary, key: str, index: int) -> int:
    """Add the part's lines, parsed as its chunks arrive (a line may span chunks); its line count."""
    carry = b""
    lines = 0
    while True:
        chunk = await queue.get()
        if chunk is _END:
            break
        if isinstance(chunk, _ReadFailed):
            raise SummaryFailed(key, f"read failed: {chunk.error!r}") from chunk.error
        rows = (carry + chunk).split(b"\n")
        carry = rows.pop()
        if len(carry) > MAX_LINE_BYTES:
            raise SummaryFailed(key, f"line {lines + 1} is longer than {MAX_LINE_BYTES} bytes")
        lines = _add_lines(summary, rows, key, index, lines)
    return _add_lines(summary, [carry], key, index, lines)


def _add_lines(summary: FolderSummary, rows: list[bytes], key: str, index: int, lines: int) -> int:
    add = summary.add
    try:
        for line in rows:
            if line:
                lines += 1
                name, size, modified = line_fields(line)
                add(name, size, modified, index)
    except Exception as exc:  # any malformed line: not JSON, a field missing or wrong, out of order
        raise SummaryFailed(key, f"line {lines}: {exc!r}") from exc
    return lines


async def summarize_parts(
    read: Callable[[str, int], AsyncGenerator[bytes]],
    part_keys: list[str],
    prefix: str,
    limit: int = FOLDER_LIMIT,
    *,
    counts: list[int] | None = None,
) -> dict[str, Any]:
    """The summary of the parts (in key order), streamed by ``read(key, chunk_size)`` (chunks
    of the part's lines; none for a part never written), ``READ_AHEAD`` parts at a time.

    A part is a whole unit's lines - hundreds of MB at 10M objects - so none is held whole:
    each is parsed as its chunks arrive, and each part read ahead holds at most CHUNKS_AHEAD
    chunks, so memory is bounded whatever the parts' size. ``counts`` (the lines each part
    should hold), if given, is checked.

    Raises SummaryFailed for a part that cannot be read or summed. No time limit of its own:
    the caller bounds it (``asyncio.timeout``); cancelled, it cancels and awaits its reads.
    """
    summary = FolderSummary(prefix, limit)
    feeds: deque[tuple[str, asyncio.Queue[Any]]] = deque()
    running: set[asyncio.Task[None]] = set()
    upcoming = iter(part_keys)

    def start(key: str) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue(CHUNKS_AHEAD)
        task = asyncio.create_task(_feed(read, key, queue))
        running.add(task)
        task.add_done_callback(running.discard)
        feeds.append((key, queue))

    try:
        for key in islice(upcoming, READ_AHEAD):
            start(key)
        index = 0
        while feeds:
            key, queue = feeds.popleft()
            for upcoming_key in islice(upcoming, 1):
                start(upcoming_key)
            lines = await _sum_part(queue, summary, key, index)
            if counts is not None and lines != counts[index]:
                raise SummaryFailed(key, f"{lines} lines where the part's summary counts {counts[index]}")
            index += 1
    finally:
        left = list(running)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
    return summary.result()
