"""Ctrl-C during `fanout demo` - while seeding, while the execution runs - and during `fanout
run`: exit 130 within
about 2 s, one line, no traceback, and no process of the demo left behind (Lambda workers,
the moto S3 server).

A terminal's Ctrl-C signals the whole foreground process group (the CLI and its workers);
`kill -INT` signals the CLI alone. Both are tested. Each demo runs in its own session, so
everything it started can be found afterwards, even once reparented."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3_helpers import put_keys

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def in_session(session: int) -> list[str]:
    """Live processes of a session (zombies are gone already, only not yet reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


class Demo:
    """`fanout demo` in its own session, stderr read line by line as it comes."""

    def __init__(self, *args: str, command: str = "demo") -> None:
        self.process = subprocess.Popen(
            # --verbose: the workers' stderr is this stderr, so a worker's traceback would show.
            [sys.executable, "-m", "fanout_local.cli", command, "--verbose", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, f"demo ended before {text!r}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} in {timeout} s:\n{self.stderr}"
            time.sleep(0.05)

    def interrupt(self, *, whole_group: bool) -> float:
        """Ctrl-C; the seconds until the demo exited."""
        sent = time.monotonic()
        if whole_group:
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        took = time.monotonic() - sent
        self._reader.join(5)
        return took

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def leftovers(self) -> list[str]:
        deadline = time.monotonic() + 2  # a killed child may take a moment to be reaped
        while (left := in_session(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for line in left:  # never leave them to the next test
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        return left


def assert_stopped_cleanly(demo: Demo, took: float) -> None:
    assert demo.process.returncode == 130, demo.stderr[-3000:]
    assert took < 2.0, f"{took:.1f} s to stop:\n{demo.stderr[-3000:]}"
    assert "Traceback" not in demo.stderr
    assert demo.stderr.rstrip().endswith("\ninterrupted"), demo.stderr[-3000:]
    assert demo.leftovers() == []


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal Ctrl-C", "kill -INT"])
def test_ctrl_c_while_seeding(whole_group: bool) -> None:
    demo = Demo("--objects", "20000")  # minutes of seeding: it is surely under way
    demo.wait_for("starting the engine: waiting for the S3 server to listen")
    time.sleep(1.5)  # the bucket made, uploads under way

    took = demo.interrupt(whole_group=whole_group)

    assert_stopped_cleanly(demo, took)
    assert "seeding" in demo.stderr  # the bar's last state: it was interrupted there
    assert "index merged" not in demo.stderr


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal Ctrl-C", "kill -INT"])
def test_ctrl_c_while_the_execution_runs(whole_group: bool) -> None:
    # One at a time through small units: the execution lasts seconds.
    demo = Demo("--objects", "1000", "--max-concurrency", "1", "--unit-keys", "20")
    demo.wait_for("seeding")  # without a terminal the seeding bar prints once, when done
    time.sleep(0.5)

    took = demo.interrupt(whole_group=whole_group)

    assert_stopped_cleanly(demo, took)
    assert "verifying URLs" not in demo.stderr  # the run had not finished


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal Ctrl-C", "kill -INT"])
def test_ctrl_c_during_fanout_run(whole_group: bool, s3: Any, bucket: str, moto_endpoint: str) -> None:
    put_keys(s3, bucket, [f"k/{n:05d}.pdf" for n in range(20_000)])  # moto lists it for seconds
    run = Demo(
        "--bucket", bucket, "--s3-endpoint", moto_endpoint, "--max-concurrency", "1", "--name", "interrupted",
        command="run",
    )  # fmt: skip
    run.wait_for("[BuildManifestFunction] START", timeout=60)  # the Map is listing
    time.sleep(0.5)

    took = run.interrupt(whole_group=whole_group)

    assert_stopped_cleanly(run, took)
