"""Child processes that die with the process that started them, even when it cannot clean
up (SIGKILL, a crash): the moto S3 server and the Lambda workers never outlive the CLI.

Two mechanisms, because neither covers every case alone:

* **The lifeline**: a pipe whose write end only this process holds (``os.pipe`` is
  close-on-exec, and nothing here forks without exec). Every child gets the read end;
  when this process ends, however it ends, the kernel closes the write end and the child
  reads end of file. A child with threads watches it in one (:func:`watch`); the workers'
  root and templates, which must stay single-threaded to fork, poll it in their loop.
* ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux): the kernel kills the child when its parent
  *thread* exits. Only set where that thread lives as long as the process - a child of a
  main thread (:func:`parent_args`), and the forks of the single-threaded workers - because
  a child started from a short-lived thread (an HTTP request's) would die with it.

Run a module as such a child with ``python -m fanout_local.lifeline --fd FD [--parent PID]
-- MODULE ARGS...``; it ignores SIGINT and SIGTERM: its parent ends it, or its parent's end does.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import runpy
import select
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1
_lifeline: tuple[int, int, int] | None = None  # (read end, write end, the pid that made it)
_lock = threading.Lock()


def read_end() -> int:
    """This process's lifeline, for a child's ``pass_fds``: made on first use, its write end
    held open until the process ends."""
    global _lifeline  # noqa: PLW0603 - one per process, on purpose
    with _lock:
        # A forked copy of this process must not pass on (or hold) its parent's lifeline.
        if _lifeline is None or _lifeline[2] != os.getpid():
            _lifeline = (*os.pipe(), os.getpid())
        return _lifeline[0]


def parent_args() -> list[str]:
    """``--parent PID`` when called from the main thread (a PDEATHSIG tied to it is tied to
    the process), else nothing: the lifeline alone then."""
    if threading.current_thread() is threading.main_thread():
        return ["--parent", str(os.getpid())]
    return []


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when ``parent`` (its parent's spawning thread) ends; exit now if
    it already has. No-op where prctl is missing (the lifeline still works there)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before prctl: the signal would never come
        os._exit(1)


def cut(fd: int) -> bool:
    """True if the lifeline is cut: the parent is gone (end of file, or an error)."""
    try:
        ready, _, _ = select.select([fd], [], [], 0)
        return bool(ready) and not os.read(fd, 1)
    except OSError:
        return True


def watch(fd: int, code: int = 1) -> None:
    """A daemon thread that ends this process (``os._exit``) once the lifeline is cut."""

    def wait() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass  # nobody writes to it; only its end matters
        os._exit(code)

    threading.Thread(target=wait, name="lifeline", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fanout_local.lifeline")
    parser.add_argument("--fd", type=int, required=True, help="the lifeline's read end")
    parser.add_argument("--parent", type=int, help="die with this process (PR_SET_PDEATHSIG)")
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.parent is not None:
        die_with_parent(args.parent)
    watch(args.fd)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sys.argv = [args.module, *args.args]
    runpy.run_module(args.module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
