"""Temp files: where a download is written before it is renamed into place, and which ones
a later run may continue.

Two kinds, both beside the destination and both named ``.fanout-*.part``:

* ``.fanout-<32 hex>.resume.part`` - resumable. Its name is a hash of the object's key and
  ETag, so the next run for the same object finds it and continues with ``Range`` +
  ``If-Match``; an object that changed (a new ETag in a new index) has another name and never
  continues the old bytes. Only lines that carry an ``etag`` get one.
* ``.fanout-<random>.part`` - a download that cannot be resumed (no ``etag`` in the line, or
  another fetch holds the resumable name). A later run removes it at the start.

A partial file is kept when a download stops for a reason that leaves its bytes right
(network errors after the retries, an expired link, Ctrl-C) and deleted when its bytes are
wrong (size, checksum or ETag mismatch). At the end of a run that read every part without
being interrupted, resumable files that no key of this index claimed are removed: they are
for objects this index does not list, or no longer lists with that ETag.

Each temp file is held with ``flock`` while written (POSIX), and a cleanup never removes a
file another process holds: two fetches into one DIR do not delete or interleave each other's
downloads (without ``fcntl``, as on Windows, there is no such guard).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

TEMP_PREFIX, TEMP_SUFFIX = ".fanout-", ".part"
RESUME_SUFFIX = ".resume" + TEMP_SUFFIX
READ_BYTES = 1024 * 1024


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


UMASK = _umask()
FILE_MODE = 0o666 & ~UMASK  # a download gets the umask's mode, as with curl (mkstemp makes 0600)


def resume_name(key: str, etag: str) -> str:
    digest = hashlib.sha256(f"{key}\0{etag}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{TEMP_PREFIX}{digest[:32]}{RESUME_SUFFIX}"


def _lock(fd: int) -> bool:
    """Hold ``fd`` exclusively (released when closed); False if another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class Partial:
    """An open, locked temp file and how many bytes it already holds (``offset``)."""

    def __init__(self, path: Path, out: IO[bytes], *, resumable: bool) -> None:
        self.path = path
        self.out = out
        self.resumable = resumable
        self.offset = out.seek(0, os.SEEK_END)

    @classmethod
    def open(cls, directory: Path, key: str, etag: str | None, size: int) -> Partial:
        """The resumable file for (key, etag), or a fresh random one (no etag, or it is held)."""
        if etag:
            path = directory / resume_name(key, etag)
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(path, flags, 0o666)  # O_NOFOLLOW: a planted symlink is an error, not followed
            if _lock(fd) and stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchmod(fd, FILE_MODE)
                partial = cls(path, os.fdopen(fd, "r+b"), resumable=True)
                if partial.offset >= size:  # complete but never renamed, or longer: nothing to continue
                    partial.restart()
                return partial
            os.close(fd)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
        _lock(fd)
        os.fchmod(fd, FILE_MODE)
        return cls(Path(name), os.fdopen(fd, "r+b"), resumable=False)

    def restart(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.offset = 0

    def hash_existing(self, hasher: Any) -> None:
        """Feed the bytes already there to ``hasher``, leaving the file positioned at their end."""
        self.out.seek(0)
        remaining = self.offset
        while remaining:
            chunk = self.out.read(min(READ_BYTES, remaining))
            if not chunk:
                raise OSError(f"{self.path.name} shrank while being read")
            hasher.update(chunk)
            remaining -= len(chunk)
        self.out.seek(self.offset)

    def commit(self, target: Path) -> None:
        """Rename into place (still holding the lock), then close."""
        self.out.flush()
        self.path.replace(target)
        self.out.close()

    def keep(self) -> None:
        """Close, keeping what reached the file (a full disk may refuse the buffer's last bytes:
        the file is then a shorter run of right bytes, which is all a resume needs)."""
        with contextlib.suppress(OSError):
            self.out.close()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.out.close()


def _remove_unless_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if not _lock(fd):
            return False  # another fetch is writing it
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _temp_files(dest: Path) -> list[Path]:
    return [p for p in dest.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}") if p.is_file() and not p.is_symlink()]


def remove_unresumable(dest: Path) -> int:
    """At the start of a run: temp files no run can continue (random names)."""
    return sum(_remove_unless_held(p) for p in _temp_files(dest) if not p.name.endswith(RESUME_SUFFIX))


def remove_unclaimed(dest: Path, kept: set[Path]) -> int:
    """At the end of a complete run: resumable files no key of this index left behind."""
    with contextlib.suppress(OSError):
        return sum(
            _remove_unless_held(p) for p in _temp_files(dest) if p.name.endswith(RESUME_SUFFIX) and p not in kept
        )
    return 0
