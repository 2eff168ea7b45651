"""What fanout-fetch itself finished: one JSON line per file it wrote (or verified), in
``DIR/.fanout-fetch/done.jsonl``, so a later run can tell a file it completed from one that
only has the right size.

A line records the file's path under DIR, the object's key, size and ETag (None for lines
without one), and the file's modification time (ns) as left after the download. A file counts
as complete without being read again only while its size and mtime are still those recorded
and the index still lists the same key, size and ETag. Anything else - no record, a file
touched or replaced since, a new ETag - is checked by MD5 (where the ETag is one) or
downloaded again.

Lines are appended (one ``write`` each, ``O_APPEND``); the last line for a path wins. A run
that leaves far more lines than paths rewrites the file (temp file + rename). Losing the file
costs only re-checking or re-downloading, never a wrong file: it is a cache of checks, not
the checks themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = ".fanout-fetch"  # under DIR, reserved: no key is written there
RECORDS = "done.jsonl"


@dataclass(frozen=True)
class Record:
    key: str
    size: int
    etag: str | None
    mtime_ns: int


class Records:
    """The records of ``dest``: loaded at the start of a run, appended as files complete."""

    def __init__(self, dest: Path) -> None:
        self.path = dest / STATE_DIR / RECORDS
        self._by_path: dict[str, Record] = {}
        self._lines = 0
        self._lock = threading.Lock()

    def _folder(self, *, create: bool) -> bool:
        """Whether ``DIR/.fanout-fetch`` is a real folder (made if ``create``): a symlink planted
        there is not followed, as nothing under DIR ever is - the records are then not kept."""
        with contextlib.suppress(OSError):
            if create:
                with contextlib.suppress(FileExistsError):
                    self.path.parent.mkdir()
            return stat.S_ISDIR(self.path.parent.lstat().st_mode)
        return False

    def load(self) -> None:
        """Read what earlier runs recorded; a missing or damaged file (or line) is no record."""
        if not self._folder(create=False):
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, encoding="utf-8", errors="replace") as file:
                text = file.read()
        except OSError:
            return
        for line in text.splitlines():
            try:
                data = json.loads(line)
                path, record = data["path"], Record(data["key"], data["size"], data["etag"], data["mtime_ns"])
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(path, str):
                self._by_path[path] = record
                self._lines += 1

    def matches(self, path: str, record: Record) -> bool:
        """Whether the file at ``path`` (relative to DIR) is one this tool completed as ``record``."""
        with self._lock:
            return self._by_path.get(path) == record

    def add(self, path: str, record: Record) -> None:
        """Record a completed file. Best effort: a record that cannot be written (a full disk)
        only means the next run checks that file again."""
        line = json.dumps({"path": path, **record.__dict__}, ensure_ascii=False) + "\n"
        with self._lock:
            self._by_path[path] = record
            self._lines += 1
            if not self._folder(create=True):
                return
            with contextlib.suppress(OSError):
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
                try:
                    os.write(fd, line.encode("utf-8", "surrogatepass"))
                finally:
                    os.close(fd)

    def compact(self) -> None:
        """Rewrite the file with one line per path once it holds more than twice that many."""
        with self._lock:
            if self._lines <= 2 * len(self._by_path) + 100 or not self._folder(create=False):
                return
            temp = self.path.with_name(f"{RECORDS}.{os.getpid()}.tmp")
            lines = (json.dumps({"path": p, **r.__dict__}, ensure_ascii=False) + "\n" for p, r in self._by_path.items())
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
                temp.write_text("".join(lines), encoding="utf-8", errors="surrogatepass")
                temp.replace(self.path)
                self._lines = len(self._by_path)
            temp.unlink(missing_ok=True)


def record_of(key: str, size: int, etag: str | None, target: Path) -> Record:
    """The record of ``target`` as it is now (after its download and its mtime were set)."""
    return Record(key, size, etag, target.stat().st_mtime_ns)
