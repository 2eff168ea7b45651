"""The session's process-leak guard (tests/support/leak_guard.py), on a pytest session of its
own: a process a test leaves running fails the session, is named (pid, command line, the
test it started in) and killed; a session's guard sees only its own processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.leak_guard import TAG

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

INNER_TESTS = """
import subprocess


def test_clean():
    subprocess.run(["true"], check=True)


def test_leaky():
    subprocess.Popen(["sleep", "300"])  # never waited for, never ended
"""


def inner_session(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(tests, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.leak_guard", "-p", "no:cacheprovider", "."],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def test_a_leftover_process_fails_the_session_named_and_killed(tmp_path: Path) -> None:
    done = inner_session(tmp_path, INNER_TESTS)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 passed" in done.stdout  # every test passed: the leftover alone fails it
    assert "1 process(es) outlived the test session (now killed)" in done.stdout
    found = re.search(r"pid (\d+): sleep 300 \(started during test_inner.py::test_leaky\)", done.stdout)
    assert found, done.stdout
    deadline = time.monotonic() + 5
    while alive(int(found.group(1))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(found.group(1)))


def test_a_session_sees_only_its_own_processes(tmp_path: Path) -> None:
    # This session's own process, alive while the inner session ends: not the inner one's.
    ours = subprocess.Popen(["sleep", "300"])
    try:
        done = inner_session(tmp_path, INNER_TESTS.split("def test_leaky", maxsplit=1)[0])

        assert done.returncode == 0, done.stdout + done.stderr
        assert "outlived" not in done.stdout
        assert ours.poll() is None
        assert f"{TAG}={os.environ[TAG]}".encode() in Path(f"/proc/{ours.pid}/environ").read_bytes().split(b"\0")
    finally:
        ours.kill()
        ours.wait()
