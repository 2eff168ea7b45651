"""The safe-path rule: object ``key`` is written to ``DIR/key``, exactly, or not at all.

A key that is not a plain relative path is refused (a failure naming the reason), never
rewritten: empty, absolute (``/x``), a drive letter (``C:x``), a backslash, a NUL or other
control character, an empty segment (``a//b``, trailing ``/``), or a ``.`` or ``..``
segment. Directories are created one level at a time and a symlink met on the way is
refused, so a link planted under DIR cannot redirect a write outside it either.
"""

from __future__ import annotations

import contextlib
import re
import stat
from pathlib import Path, PurePosixPath

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeKey(ValueError):
    """An object key that does not map to a file under DIR (the message says why)."""


def local_path(key: str) -> PurePosixPath:
    """Where ``key`` goes, relative to DIR: the key itself, or :class:`UnsafeKey`."""
    if not key:
        raise UnsafeKey("empty key")
    if "\x00" in key:
        raise UnsafeKey("contains a NUL character")
    if _CONTROL.search(key):
        raise UnsafeKey("contains a control character")
    if "\\" in key:
        raise UnsafeKey("contains a backslash (a path separator on Windows)")
    if key.startswith("/"):
        raise UnsafeKey("absolute path (starts with '/')")
    if _DRIVE_LETTER.match(key):
        raise UnsafeKey("starts with a drive letter")
    if key.endswith("/"):
        raise UnsafeKey("ends with '/' (a folder marker, not a file)")
    segments = key.split("/")
    if "" in segments:
        raise UnsafeKey("empty path segment ('//')")
    if ".." in segments:
        raise UnsafeKey("'..' path segment (would leave DIR)")
    if "." in segments:
        raise UnsafeKey("'.' path segment")
    return PurePosixPath(*segments)


def make_parents(root: Path, relative: PurePosixPath) -> Path:
    """Create the directories of ``relative`` under ``root`` one at a time, refusing symlinks."""
    current = root
    for segment in relative.parts[:-1]:
        current = current / segment
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):  # another thread made it
                current.mkdir()
            mode = current.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise UnsafeKey(f"{current.relative_to(root)} is a symlink (refusing to follow it out of DIR)")
        if not stat.S_ISDIR(mode):
            raise UnsafeKey(f"{current.relative_to(root)} exists and is not a directory")
    return current / relative.name
