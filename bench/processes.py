"""How every bench tool runs its processes and ends.

- Every child (a measured run, a server, a section of ``python -m bench``) is in its own
  process group and dies with its parent, even when the parent is killed outright (Linux:
  ``PR_SET_PDEATHSIG``). The parent is the one that stops it: on Ctrl-C or SIGTERM it passes
  the signal on, waits ``GRACE_S``, then kills the child's whole process group.
- ``entry()`` is every tool's ``__main__``: a failed case or section (``BenchError``) is one
  line on stderr and exit 1; SIGINT exits 130 and SIGTERM 143, after "interrupted", with no
  traceback and no process left behind.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import IO, Any, NoReturn

PY = sys.executable
GRACE_S = 5.0  # a child asked to stop has this long to clean up (an engine stops its workers)
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class BenchError(Exception):
    """A case or section that failed: the tool names it on stderr and exits 1."""


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_received: int | None = None


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    global _received  # noqa: PLW0603 - one process-wide fact: which signal ended us
    if _received is not None:  # a second one while stopping: stop now (children die with us)
        os._exit(128 + _received)
    _received = signum
    raise KeyboardInterrupt


def interrupted_by() -> int:
    """The signal that is ending this process (Ctrl-C unless SIGTERM arrived)."""
    return _received or signal.SIGINT


def entry(main: Callable[[], object], name: str) -> NoReturn:
    """Run a bench tool's ``main``: SIGTERM is handled as Ctrl-C is; the exit code says how it
    ended (0, 1 for a named failure, 130 for SIGINT, 143 for SIGTERM)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 128 + interrupted_by()
    except BenchError as exc:
        sys.stderr.write(f"{name}: {exc}\n")
        code = 1
    else:
        code = 0
    with suppress(OSError):  # stdout may be a pipe nobody reads any more
        sys.stdout.flush()
    raise SystemExit(code)


def _child_setup(parent: int) -> None:  # pragma: no cover - runs in the forked child
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held in the parent while it forked
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl: nobody would stop us
        os._exit(1)


def child_setup() -> Callable[[], None]:
    """A ``preexec_fn``: the child dies with this process (and this thread: PR_SET_PDEATHSIG
    follows the thread that forked - the bench tools fork from their main thread)."""
    return functools.partial(_child_setup, os.getpid())


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends: one that came while Python forks would
    be raised in an at-fork callback, where it is printed and lost. (Per thread: a thread
    started inside the block keeps them blocked, so they only ever reach the main thread.)"""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # one that came is raised here


def _start(args: list[str], *, stdout: Any, stderr: Any, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # see signals_held
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            text=True,
            env=env,
            # Its own group: a terminal's Ctrl-C reaches only the tool, which stops its children in order.
            process_group=0,
            # Only sigmask, prctl and getppid in the forked child.
            preexec_fn=child_setup(),  # noqa: PLW1509
        )
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a signal that came meanwhile is raised here
    except KeyboardInterrupt:
        _finish(proc, interrupted_by())
        raise
    return proc


def _exited(pid: int) -> bool:
    """Exited, but not yet reaped (so its pid, the group's id, cannot be reused meanwhile)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _wait(proc: subprocess.Popen[str], deadline: float | None, *, stopping: bool = False) -> bool:
    """Wait until ``proc`` exits (True) or ``deadline`` passes (False); never reaps it."""
    while not _exited(proc.pid):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        if _received is not None and not stopping:  # its KeyboardInterrupt was lost (e.g. in a __del__)
            raise KeyboardInterrupt
        time.sleep(0.02)
    return True


def _finish(proc: subprocess.Popen[str], signum: int | None) -> None:
    """Stop ``proc`` (``signum`` first, SIGKILL after ``GRACE_S``), then whatever is left of its
    process group, then reap it."""
    if proc.returncode is not None:  # reaped already: its pid may be another process's now
        return
    if signum is not None and not _exited(proc.pid):
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signum)
        _wait(proc, time.monotonic() + GRACE_S, stopping=True)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # it, if still there, and what it left in its group
    proc.wait()


def run(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(args, capture_output=True, text=True)`` for a child of ours: on
    Ctrl-C/SIGTERM the child gets the same signal; on ``timeout``, SIGTERM and TimeoutExpired."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = _start(args, stdout=out, stderr=err, env=env)
        try:
            if not _wait(proc, time.monotonic() + timeout):
                _finish(proc, signal.SIGTERM)
                raise subprocess.TimeoutExpired(args, timeout)
        except KeyboardInterrupt:
            _finish(proc, interrupted_by())
            raise
        _finish(proc, None)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())


def run_json(name: str, args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child whose last line of output is one JSON object; any failure is a BenchError
    naming ``name`` and the child's last lines of stderr."""
    try:
        done = run(args, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{name}: no result in {timeout:g} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode:
        raise BenchError(f"{name} failed (exit {done.returncode}):\n{_tail(done.stderr)}")
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        raise BenchError(f"{name}: no JSON result line:\n{_tail(done.stdout)}\n{_tail(done.stderr)}") from None


def stream(name: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a bench tool as one section of a bigger run: its lines are printed as they come,
    its stderr is ours; returns its last line (one JSON object). A BenchError if it fails."""
    proc = _start(args, stdout=subprocess.PIPE, stderr=None, env=env)
    last = ""
    try:
        out: IO[str] | None = proc.stdout
        for line in out or ():
            if not line.startswith("{"):  # the figures (a JSON line) are the caller's to show
                print(line, end="", flush=True)
            last = line
        _wait(proc, None)
    except KeyboardInterrupt:
        _finish(proc, interrupted_by())
        raise
    _finish(proc, None)
    if proc.returncode:
        raise BenchError(f"{name} failed (exit {proc.returncode})")
    try:
        return dict(json.loads(last))
    except (ValueError, TypeError):
        raise BenchError(f"{name}: its last line is not a JSON object: {last[:200]!r}") from None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@contextmanager
def background(*args: str) -> Iterator[int]:
    """Start ``python -m <args>`` and yield the port it prints; stopped on the way out."""
    with tempfile.TemporaryFile("w+") as err:
        proc = _start([PY, "-m", *args], stdout=subprocess.PIPE, stderr=err)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.startswith("PORT "):
                _finish(proc, signal.SIGTERM)
                err.seek(0)
                raise BenchError(f"{args[0]} did not start: {line!r}\n{_tail(err.read())}")
            yield int(line.split()[1])
        finally:
            _finish(proc, interrupted_by() if _received else signal.SIGTERM)
