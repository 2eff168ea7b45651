"""Disk space: no download starts that the disk cannot hold, and a full disk stops a run once.

* Before any download, when DIR's free space is below what the index lists, the bytes
  already under DIR are counted (:func:`bytes_present`); if what remains exceeds the free
  space, the run stops there with one error naming both - nothing downloaded, nothing lost.
* Before each download the object's missing bytes (its size less any resumable partial) are
  reserved against the free space, less what downloads in flight still have to write
  (:class:`Space`). One that does not fit is not started - and from then on no download is:
  the report names the condition once, with how many objects it left, and the next run (after
  space is freed) continues.
* A write that fails with ENOSPC or EDQUOT anyway (another program filled the disk) does the
  same; the object's resumable partial is kept for that next run.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path

from .reporting import human_bytes as _human

MARGIN = 64 * 1024  # kept free beyond the bytes themselves: directories, the records, blocks
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class NoSpace(Exception):
    """A download was not started (or stopped): the disk is full or would be."""


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in DISK_FULL


def bytes_present(dest: Path, skip: str) -> int:
    """Bytes of the regular files under ``dest`` (partials included; the ``skip`` folder not)."""
    total = 0
    for root, dirs, files in os.walk(dest):
        if root == str(dest) and skip in dirs:
            dirs.remove(skip)
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue
    return total


class Reservation:
    """The bytes one download still has to write."""

    def __init__(self, space: Space, left: int) -> None:
        self.space = space
        self.left = left

    def wrote(self, n: int) -> None:
        self.space.release(self, n)

    def close(self) -> None:
        self.space.release(self, self.left)


class Space:
    """Reservations against the free space of DIR's file system, and whether it ran out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.full: str | None = None  # the first reason, once the disk is (or would be) full
        self.left_out = 0  # objects not downloaded because of it

    def reserve(self, directory: Path, key: str, left: int) -> Reservation:
        """Reserve ``left`` bytes for ``key``'s download into ``directory``, or raise NoSpace."""
        with self._lock:
            if self.full is None:
                free = shutil.disk_usage(directory).free
                if free - self._in_flight - MARGIN < left:
                    flight = self._in_flight
                    promised = f" ({_human(flight)} of it for downloads in progress)" if flight else ""
                    self.full = f"not enough space: {key!r} needs {_human(left)} more, {_human(free)} free{promised}"
            if self.full is not None:
                self.left_out += 1
                raise NoSpace(self.full)
            self._in_flight += left
        return Reservation(self, left)

    def release(self, reservation: Reservation, n: int) -> None:
        with self._lock:
            taken = min(n, reservation.left)
            reservation.left -= taken
            self._in_flight -= taken

    def ran_out(self, key: str, exc: OSError) -> None:
        """A write failed with a full disk (or quota): no download starts from now on."""
        with self._lock:
            if self.full is None:
                self.full = f"disk full while writing {key!r}: {exc.strerror or exc}"
            self.left_out += 1
