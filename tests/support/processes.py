"""Processes found by a tag in their environment (Linux /proc): what a test started, and
everything those started in turn (children inherit the environment, forks and all), even
once reparented or in a session of its own. /proc/PID/environ is the environment the
process started with, which is what a child inherited."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Found:
    pid: int
    command: str
    started: float  # seconds since boot (CLOCK_BOOTTIME)

    def __str__(self) -> str:
        return f"pid {self.pid}: {self.command}"


def tagged(name: str, value: str) -> list[Found]:
    """Live processes (not zombies, not this one) whose environment has ``name=value``."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if stat[0] in {"Z", "X"}:  # ended; only its parent's wait is missing
            continue
        found.append(Found(int(entry.name), command[:300], int(stat[19]) / CLOCK_TICKS))
    return found


def survivors(name: str, value: str, grace: float) -> list[Found]:
    """The tagged processes still alive after up to ``grace`` seconds (a process being
    stopped, or killed and not yet reaped, is given that long)."""
    deadline = time.monotonic() + grace
    while (left := tagged(name, value)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill(found: list[Found]) -> None:
    for process in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGKILL)


def now_since_boot() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)
