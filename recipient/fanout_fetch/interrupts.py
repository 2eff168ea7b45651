"""SIGINT and SIGTERM for the command-line tools: the signal is only recorded; the main
thread notices it where it waits and unwinds from there.

Python runs a signal handler in the main thread between any two bytecodes. The default
SIGINT handler raises KeyboardInterrupt there - possibly inside library code that holds a
lock (a thread pool's shutdown, a Condition), which then stays held: ``fanout demo``
deadlocked that way while seeding. So :func:`install`'s handler only stores the signal's
number (no lock, no I/O), and every place a command waits does so through :func:`wait`,
:func:`call` or :func:`parallel`, which poll :func:`check`: :class:`Interrupted` is raised
there, in our code, never inside a library's.

A second signal while the first is being handled (the user presses Ctrl-C again, a
supervisor insists) ends the process at once; its children notice (``fanout_local.lifeline``).

Exit codes: 130 after SIGINT, 143 after SIGTERM (128 + the signal's number, as a shell
reports a process the signal killed).
"""

from __future__ import annotations

import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143
POLL_SECONDS = 0.05  # how soon a wait notices a signal; a wakeup costs microseconds

_received: int | None = None  # the first signal's number; set by the handler alone


class Interrupted(KeyboardInterrupt):
    """Raised by :func:`check` once SIGINT or SIGTERM came; a KeyboardInterrupt, so code that
    already unwinds on Ctrl-C unwinds on it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _record(signum: int, _frame: FrameType | None) -> None:
    global _received  # noqa: PLW0603 - the one thing a handler may safely do
    if _received is not None:
        # Asked twice: no more cleanup. Raw write: stderr's buffer may be mid-write (its lock held).
        os.write(2, b"\ninterrupted again: exiting now\n")
        os._exit(128 + _received)
    _received = signum


def install() -> None:
    """SIGINT and SIGTERM only record that they came (main thread only, as ``signal`` requires)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _record)


def received() -> int | None:
    """The first signal's number, or None."""
    return _received


def exit_code(default: int = EXIT_SIGINT) -> int:
    """128 + the signal received; ``default`` for a KeyboardInterrupt no handler recorded."""
    return default if _received is None else 128 + _received


def check() -> None:
    """Raise :class:`Interrupted` if a signal came."""
    if _received is not None:
        raise Interrupted(_received)


def wait(done: Callable[[float], bool]) -> None:
    """Until ``done(timeout)`` - which waits at most ``timeout`` seconds for something and
    says whether it happened - returns True; :class:`Interrupted` meanwhile."""
    check()
    while not done(POLL_SECONDS):
        check()


def join(thread: threading.Thread) -> None:
    def ended(timeout: float) -> bool:
        thread.join(timeout)
        return not thread.is_alive()

    wait(ended)


def call(function: Callable[[], R], *, stop: Callable[[], None] | None = None, grace: float = 0.0) -> R:
    """``function()`` in a daemon thread while this one watches for a signal: for a blocking
    call (a network request with long timeouts, an invocation, a download). On a signal,
    ``stop()`` asks it to end and it gets ``grace`` seconds to; then it is abandoned - it ends
    with the process - and what it raises later is not reported."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name=getattr(function, "__name__", "call"), daemon=True)
    thread.start()
    try:
        join(thread)
    except Interrupted:
        if stop is not None:
            stop()
            thread.join(grace)  # a second signal meanwhile ends the process at once
        raise
    ok, value = outcome[0]
    if not ok:
        raise value
    result: R = value
    return result


def parallel(function: Callable[[T], R], items: Iterable[T], *, threads: int) -> list[R]:
    """``function`` over ``items`` in ``threads`` daemon threads; results in ``items`` order.
    The first error stops the rest from starting and is raised; so is :class:`Interrupted`
    on a signal. Calls already running are not waited for: daemon threads never hold up the
    process's exit (a ThreadPoolExecutor's are joined at exit, request timeouts and all)."""
    work: queue.SimpleQueue[tuple[int, T]] = queue.SimpleQueue()
    count = 0
    for count, item in enumerate(items, 1):
        work.put((count - 1, item))
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    stop = threading.Event()  # set by this thread, read by the workers: never waited on here

    def worker() -> None:
        while not stop.is_set():
            try:
                index, item = work.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = function(item)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                errors.append(exc)
                stop.set()

    pool = [threading.Thread(target=worker, name=f"parallel-{n}", daemon=True) for n in range(min(threads, count))]
    for thread in pool:
        thread.start()
    try:
        for thread in pool:
            join(thread)
            if errors:
                break
    finally:
        stop.set()
    if errors:
        raise errors[0]
    return results
