"""The test session's process-leak guard (a pytest plugin; tests/conftest.py loads it).

Every process the session starts carries ``FANOUT_TEST_SESSION=<uuid>`` in its environment
(set here at session start; children inherit it, forks and all). At the session's end -
after every fixture's teardown - a process still carrying it is a test's leftover: it is
given a short grace period, then killed, and the session FAILS naming it, with the test
that was running when it started. The tag scopes the search: two suites on one machine do
not see each other's processes.
"""

from __future__ import annotations

import bisect
import os
import uuid

import pytest

from tests.support.processes import CLOCK_TICKS, PROC, kill, now_since_boot, survivors

TAG = "FANOUT_TEST_SESSION"
GRACE_SECONDS = 3.0  # a process being stopped, or killed and not yet reaped, gets this long

_test_starts: list[tuple[float, str]] = []  # (seconds since boot, nodeid), in order


def pytest_configure(config: pytest.Config) -> None:
    # Always a new tag: a session run inside another one tags its own processes.
    os.environ[TAG] = uuid.uuid4().hex


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _test_starts.append((now_since_boot(), nodeid))


def _started_during(started: float) -> str:
    # /proc counts in clock ticks, rounded down: a process started just after a test began
    # can read up to a tick earlier.
    index = bisect.bisect_right(_test_starts, (started + 1 / CLOCK_TICKS, "")) - 1
    return f"started during {_test_starts[index][1]}" if index >= 0 else "started before the first test"


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not PROC.is_dir():
        return  # no /proc (not Linux): nothing to scan
    left = survivors(TAG, os.environ[TAG], GRACE_SECONDS)
    if not left:
        return
    kill(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{process} ({_started_during(process.started)})" for process in left]
    if reporter is not None:
        reporter.write_sep("=", f"{len(left)} process(es) outlived the test session (now killed)", red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(["processes outlived the test session (now killed):", *lines]))
    session.exitstatus = max(int(session.exitstatus), int(pytest.ExitCode.TESTS_FAILED))
