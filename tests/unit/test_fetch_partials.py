"""Temp-file cleanup removes only what no run can use, and never a file another fetch holds."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from fanout_fetch.partials import Partial, remove_unclaimed, remove_unresumable, resume_name


def test_cleanup_keeps_resumable_files_and_files_another_fetch_holds(tmp_path: Path) -> None:
    fresh = tmp_path / ".fanout-abc12345.part"
    resumable = tmp_path / resume_name("a.pdf", "etag")
    held = tmp_path / ".fanout-held0000.part"
    for path in (fresh, resumable, held):
        path.write_bytes(b"half")
    holder = os.open(held, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as another running fetch does while writing
    try:
        assert remove_unresumable(tmp_path) == 1
        assert (fresh.exists(), resumable.exists(), held.exists()) == (False, True, True)
        assert remove_unclaimed(tmp_path, kept={resumable}) == 0
        assert remove_unclaimed(tmp_path, kept=set()) == 1
        assert not resumable.exists()
    finally:
        os.close(holder)


def test_a_resumable_name_held_by_another_fetch_falls_back_to_a_fresh_file(tmp_path: Path) -> None:
    first = Partial.open(tmp_path, "a.pdf", "etag", 10)
    first.out.write(b"12345")
    first.out.flush()
    try:
        second = Partial.open(tmp_path, "a.pdf", "etag", 10)
        assert (second.resumable, second.offset) == (False, 0)
        assert second.path != first.path
        second.discard()
    finally:
        first.keep()
    again = Partial.open(tmp_path, "a.pdf", "etag", 10)
    assert (again.resumable, again.offset, again.path) == (True, 5, first.path)
    again.keep()
    other = Partial.open(tmp_path, "a.pdf", "other-etag", 10)  # another version of the object
    assert (other.resumable, other.offset) == (True, 0)
    other.discard()
