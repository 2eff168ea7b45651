"""Where an object goes: the key mapped to a path inside DIR, like ``aws s3 cp --recursive``
but never outside DIR and never two objects to one file.

The mapping (:func:`local_path`) reads the key as ``/``-separated segments: empty segments
are collapsed (``a//b`` -> ``a/b``, ``/x`` -> ``x``, a trailing ``/`` dropped), ``.`` segments
dropped (``./a`` -> ``a``) and ``..`` resolved within the key (``a/x/../c`` -> ``a/c``).
Everything else is a literal file name: on POSIX a backslash is not a separator and ``C:x``
is not a drive, so both stay characters of the name. Refused (:class:`UnsafeKey`, reported
as a failure naming the reason): a ``..`` that would leave DIR (``../x``, ``a/../../x``), a
key that maps to nothing (empty, ``/``, ``.``, ``a/..``), a NUL or other control character.

Keys are legal S3 keys that the mapping can make equal (``a//b`` and ``a/b``), or that want
one name as both a file and a folder (``a`` and ``a/b``). :class:`PathClaims` sees every key
in index order, in one thread, so the outcome does not depend on download timing: the first
key keeps the path, a later one is refused naming it.

Directories are created one level at a time and a symlink met on the way is refused
(:func:`make_parents`), so a link planted under DIR cannot redirect a write outside it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeKey(ValueError):
    """An object key that does not map to a file under DIR (the message says why)."""


def local_path(key: str) -> PurePosixPath:
    """Where ``key`` goes, relative to DIR (see the module docstring), or :class:`UnsafeKey`."""
    if not key:
        raise UnsafeKey("empty key")
    if "\x00" in key:
        raise UnsafeKey("contains a NUL character")
    if _CONTROL.search(key):
        raise UnsafeKey("contains a control character")
    segments: list[str] = []
    for segment in key.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise UnsafeKey("'..' would leave DIR")
            segments.pop()
            continue
        segments.append(segment)
    if not segments:
        raise UnsafeKey("maps to no file name (only '/', '.' or '..' segments)")
    return PurePosixPath(*segments)


class PathClaims:
    """Which key has each mapped path, as a file or as a folder: the first key keeps it.

    One entry per file and per distinct folder (path string -> key): modest next to the
    downloads themselves, even for millions of keys. Not thread-safe: one producer feeds it.
    """

    def __init__(self, *, fold: bool = False, reserved: str | None = None) -> None:
        """``fold``: DIR's file system ignores case (and Unicode normalization), as macOS's and
        Windows' do by default: ``A.pdf`` and ``a.pdf`` would then be one file, so they collide.
        ``reserved``: a name at DIR's top that no key may have (fanout-fetch's own folder)."""
        self._files: dict[str, str] = {}
        self._folders: dict[str, str] = {}
        self.fold = fold
        self.reserved = reserved

    def _name(self, text: str) -> str:
        return unicodedata.normalize("NFC", text).casefold() if self.fold else text

    def claim(self, key: str, path: PurePosixPath, *, folder: bool = False) -> None:
        """Record ``key`` at ``path`` (a file, or a folder for a folder marker) or raise UnsafeKey."""
        shown = path.as_posix()
        text = self._name(shown)
        if self.reserved is not None and self._name(path.parts[0]) == self._name(self.reserved):
            raise UnsafeKey(f"{self.reserved!r} at the top of DIR is fanout-fetch's own (its records)")
        if not folder and text in self._files:
            raise UnsafeKey(f"maps to {shown!r}, already the file of key {self._files[text]!r} (listed earlier)")
        if not folder and text in self._folders:
            owner = self._folders[text]
            raise UnsafeKey(f"{shown!r} is already a folder for key {owner!r} (listed earlier), cannot be a file")
        ancestors = [self._name(p.as_posix()) for p in reversed(path.parents[:-1])]
        if folder:
            ancestors.append(text)
        for ancestor in ancestors:
            if ancestor in self._files:
                owner = self._files[ancestor]
                raise UnsafeKey(f"needs {ancestor!r} as a folder, already the file of key {owner!r} (listed earlier)")
        for ancestor in ancestors:
            self._folders.setdefault(ancestor, key)
        if not folder:
            self._files[text] = key


def ignores_case(directory: Path) -> bool:
    """Whether ``directory``'s file system treats names differing in case as one name."""
    fd, name = tempfile.mkstemp(prefix=".fanout-case-", dir=directory)
    os.close(fd)
    probe = Path(name)
    try:
        return probe.with_name(probe.name.swapcase()).exists()
    finally:
        probe.unlink(missing_ok=True)


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
