"""Processes found by a tag in their environment (Linux /proc): what a test started, and
everything those started in turn (children inherit the environment, forks and all), even
once reparented or in a session of its own. /proc/PID/environ is the environment the
process started with, which is what a child inherited."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


WATCH_TAG = "FANOUT_TEST_RUN"


class Watched:
    """``python -m MODULE ARGS`` in a session of its own, tagged ``FANOUT_TEST_RUN=<uuid>`` in
    its environment (everything it starts inherits the tag); stdout and stderr collected line
    by line as they come, so a test waits for what the process says, never for a time."""

    def __init__(
        self, module: str, *args: str, cwd: Path, env: dict[str, str] | None = None, reach_seconds: float = 240.0
    ) -> None:
        self.tag = uuid.uuid4().hex
        self.args = args
        self.reach_seconds = reach_seconds
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**(os.environ if env is None else env), WATCH_TAG: self.tag},
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        into.extend(stream)  # line by line, as they come

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_until(self, reached: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        seconds = self.reach_seconds if timeout is None else timeout
        deadline = time.monotonic() + seconds
        while not reached():
            assert self.process.poll() is None, f"ended before {what}:\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}"
            assert time.monotonic() < deadline, f"no {what} in {seconds} s:\n{self.stderr[-3000:]}"
            time.sleep(0.02)

    def wait_for(self, text: str, timeout: float | None = None) -> None:
        self.wait_until(lambda: any(text in line for line in self.err + self.out), repr(text), timeout)

    def join_readers(self, timeout: float = 10) -> None:
        for reader in self._readers:
            reader.join(timeout)

    def leftovers(self, grace: float = 5.0) -> list[Found]:
        """What still carries the tag after ``grace`` seconds - killed, so never left to the next test."""
        left = survivors(WATCH_TAG, self.tag, grace)
        kill(left)
        return left

    def close(self) -> None:
        """Whatever happened in the test: nothing of this process keeps running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        kill(tagged(WATCH_TAG, self.tag))
