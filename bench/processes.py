"""Benchmark helpers: processes whose CPU is not charged to the run being measured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PY = sys.executable


@contextmanager
def background(*args: str) -> Iterator[int]:
    """Start ``python -m <args>`` and yield the port it prints."""
    proc = subprocess.Popen([PY, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"{args[0]} did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
