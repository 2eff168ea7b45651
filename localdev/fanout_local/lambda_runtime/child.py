"""A Lambda execution environment (child side): imports one handler once, then serves invocations.

Started by ``parent`` (the engine's side) in one of three ways::

    python -m fanout_local.lambda_runtime.child --lifeline FD --channel FD HANDLER     # one environment
    python -m fanout_local.lambda_runtime.child --lifeline FD --template FD HANDLER    # a function's template
    python -m fanout_local.lambda_runtime.child --lifeline FD --root FD [--preload M]  # the templates' common parent

A template imports the handler, then for every socket the engine passes over FD (SCM_RIGHTS)
forks a ready environment: a new concurrent environment costs a fork (milliseconds) instead
of a fresh interpreter importing boto3, aioboto3 and Powertools (≈ 0.4 s of CPU each, which
on two cores made MaxConcurrency's cold starts queue behind each other). The root imports
the functions' declared dependencies once and forks each function's template with that
function's environment, which then imports just the handler's own modules: three functions
no longer import the same libraries three times while the engine starts. Where the imports
left a thread running, forking is unsafe: fresh processes are started instead.

Protocol on an environment's socket, one JSON line per message: ``{"ready", "pid",
"init_ms"}`` once, then a reply per request. ``init_ms`` is what a fresh environment would
spend importing: the root's preload plus the template's import. The handler's own stdout
(logs, EMF metrics) goes to stderr, never into the protocol. At end of input an environment
exits at once (``os._exit``): nothing is pending between invocations, and Python's orderly
teardown cost ≈ 0.2 s of CPU per environment at every engine stop (Lambda skips it too).

None outlives the engine's process (``fanout_local.lifeline``): each watches its lifeline
(the root and the templates in their loops, an environment in a thread) and every fork is
killed by the kernel when its parent dies (PR_SET_PDEATHSIG), so a busy environment dies
too, not only an idle one reading end of input. SIGINT and SIGTERM are ignored: a terminal's
Ctrl-C or ``timeout``'s SIGTERM reaches the whole process group, and the engine stops its
environments itself (a handler still running is killed).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from fanout_local import lifeline

Handler = Callable[[Any, Any], Any]


class WorkerContext:
    """The parts of the Lambda context object handlers use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name: str = request["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = request["function_arn"]
        self.memory_limit_in_mb: int = request["memory_mb"]
        self.aws_request_id: str = request["request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _max_memory_mb() -> int:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _error_payload(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-8:],
    }


def _load(handler_path: str) -> tuple[Handler | None, BaseException | None, float]:
    """Import the handler (the cold start): (handler, import error, milliseconds)."""
    module_name, _, function_name = handler_path.rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        error = None
    except Exception as exc:  # noqa: BLE001 - reported as Runtime.ImportModuleError per invocation
        handler, error = None, exc
    return handler, error, (time.perf_counter() - started) * 1000


def _invoke(handler: Handler | None, init_error: BaseException | None, request: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    reply: dict[str, Any]
    if handler is None:
        assert init_error is not None
        reply = {"error": {**_error_payload(init_error), "errorType": "Runtime.ImportModuleError"}}
    else:
        try:
            reply = {"result": handler(request["event"], WorkerContext(request))}
        except Exception as exc:  # noqa: BLE001 - an unhandled error, as Lambda reports it
            reply = {"error": _error_payload(exc)}
    reply["duration_ms"] = (time.perf_counter() - started) * 1000
    reply["max_memory_mb"] = _max_memory_mb()
    return reply


def serve(
    channel: socket.socket, handler: Handler | None, init_error: BaseException | None, init_ms: float, lifeline_fd: int
) -> None:
    """One environment's life: hello, then a reply per request line; exits at end of input,
    or at once, even mid-handler, when the engine's process is gone."""
    lifeline.watch(lifeline_fd)
    lines = channel.makefile("rb")
    try:
        channel.sendall(json.dumps({"ready": True, "pid": os.getpid(), "init_ms": init_ms}).encode() + b"\n")
        for line in lines:
            reply = _invoke(handler, init_error, json.loads(line))
            channel.sendall(json.dumps(reply, default=str).encode() + b"\n")
    except (ConnectionResetError, BrokenPipeError):
        pass  # the engine closed first (it stopped, or gave up on this one): the same end
    _exit_now()


def _exit_now(code: int = 0) -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _exit_after_children(lifeline_fd: int, code: int = 0) -> None:
    """A template or the root: exit once every process forked here has exited. Orphans
    would be reparented to PID 1, which in a container may never reap them. If the engine's
    process is gone meanwhile, exit now: the children die with this process (PDEATHSIG) or
    watch the same lifeline."""
    while not lifeline.cut(lifeline_fd):
        try:
            # SIGCHLD is ignored: the kernel reaps; ECHILD once no child is left.
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        select.select([lifeline_fd], [], [], 0.05)
    _exit_now(code)


def _readable(control: socket.socket, lifeline_fd: int) -> bool:
    """Wait for the engine's next message (or the end of it) on ``control``; False once the
    engine's process is gone, which a busy environment would otherwise outlive."""
    while True:
        ready, _, _ = select.select([control, lifeline_fd], [], [])
        if lifeline_fd in ready and lifeline.cut(lifeline_fd):
            return False
        if control in ready:
            return True


def _forkable() -> bool:
    # fork() copies only the calling thread: a thread the import started (a pool, a timer)
    # would be missing, its locks possibly held, in every environment.
    return hasattr(os, "fork") and threading.active_count() == 1


def template(control: socket.socket, handler_path: str, lifeline_fd: int, preload_ms: float = 0.0) -> None:
    """Import once, then give every channel the engine sends its own environment."""
    handler, init_error, init_ms = _load(handler_path)
    init_ms += preload_ms
    fork = _forkable()
    # Environments exit on their own (end of input) or are killed: the kernel reaps them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        if not _readable(control, lifeline_fd):
            _exit_now(1)
        try:
            _, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            break
        if not fds:
            break  # the engine closed the control socket: it is stopping
        if not fork:
            _spawn(["--channel", str(fds[0]), handler_path], fds[0], lifeline_fd)
            continue
        parent = os.getpid()
        if os.fork() == 0:
            _environment(control, fds[0], handler, init_error, init_ms, lifeline_fd=lifeline_fd, parent=parent)
        os.close(fds[0])
    control.close()
    _exit_after_children(lifeline_fd)


def send_template_request(control: socket.socket, fd: int, handler: str, env: dict[str, str]) -> None:
    """To the root: fork a template for ``handler`` with ``env``, controlled over ``fd``."""
    payload = json.dumps({"handler": handler, "env": env}).encode()
    message = struct.pack("!I", len(payload)) + payload
    sent = socket.send_fds(control, [message], [fd])
    control.sendall(message[sent:])


def _receive_template_request(control: socket.socket) -> tuple[dict[str, Any], int] | None:
    header, fds, _, _ = socket.recv_fds(control, 4, 1)
    if not fds:
        return None
    while len(header) < 4:
        header += control.recv(4 - len(header))
    (size,) = struct.unpack("!I", header)
    payload = b""
    while len(payload) < size:
        chunk = control.recv(size - len(payload))
        if not chunk:
            return None
        payload += chunk
    return json.loads(payload), fds[0]


def root(control: socket.socket, preload: list[str], lifeline_fd: int) -> None:
    """Import the functions' dependencies once, then fork a template per request."""
    started = time.perf_counter()
    for name in preload:
        with contextlib.suppress(Exception):  # best effort: a template imports what it needs
            importlib.import_module(name)
    preload_ms = (time.perf_counter() - started) * 1000
    fork = _forkable()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        if not _readable(control, lifeline_fd):
            _exit_now(1)  # the templates die with it (PDEATHSIG) or see the lifeline cut too
        try:
            request = _receive_template_request(control)
        except OSError:
            break
        if request is None:
            break
        spec, fd = request
        if not fork:
            _spawn(["--template", str(fd), spec["handler"]], fd, lifeline_fd, env=spec["env"])
            continue
        parent = os.getpid()
        if os.fork() == 0:
            _function_template(control, fd, spec, preload_ms, lifeline_fd=lifeline_fd, parent=parent)
        os.close(fd)
    control.close()
    _exit_after_children(lifeline_fd)


def _function_template(
    control: socket.socket, fd: int, spec: dict[str, Any], preload_ms: float, *, lifeline_fd: int, parent: int
) -> None:
    """A template forked from the root: never returns into the root's loop."""
    try:
        lifeline.die_with_parent(parent)  # the root's only thread forked it: tied to the root
        control.close()
        # The function's own environment, before its handler is imported.
        os.environ.clear()
        os.environ.update(spec["env"])
        template(socket.socket(fileno=fd), spec["handler"], lifeline_fd, preload_ms)
    except BaseException:  # noqa: BLE001 - say why, then exit
        traceback.print_exc()
    _exit_now(1)  # template() exits by itself at end of input


def _environment(
    control: socket.socket,
    fd: int,
    handler: Handler | None,
    init_error: BaseException | None,
    init_ms: float,
    *,
    lifeline_fd: int,
    parent: int,
) -> None:
    """A forked environment: never returns into the template's loop."""
    try:
        lifeline.die_with_parent(parent)  # the template's only thread forked it
        control.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the handler's own subprocesses need it
        serve(socket.socket(fileno=fd), handler, init_error, init_ms, lifeline_fd)
    except BaseException:  # noqa: BLE001 - e.g. the engine went away mid-reply: say why, then exit
        traceback.print_exc()
    _exit_now(1)  # serve() exits by itself at end of input


def _spawn(args: list[str], fd: int, lifeline_fd: int, env: dict[str, str] | None = None) -> None:
    """A fresh process instead of a fork; the kernel reaps it (SIGCHLD is ignored here). Its
    parent is this process's main thread: PDEATHSIG ties it to this process."""
    subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            *(sys.executable, "-m", "fanout_local.lambda_runtime.child", "--lifeline", str(lifeline_fd)),
            *("--parent", str(os.getpid()), *args),
        ],
        pass_fds=(fd, lifeline_fd),
        env=env,
    )
    os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fanout_local.lambda_runtime.child")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--channel", type=int, metavar="FD", help="serve invocations on this socket")
    mode.add_argument("--template", type=int, metavar="FD", help="fork an environment per socket received on FD")
    mode.add_argument("--root", type=int, metavar="FD", help="fork a function's template per request on FD")
    parser.add_argument("--preload", action="append", default=[], help="module the root imports first")
    parser.add_argument("--lifeline", type=int, required=True, metavar="FD", help="end of file: the engine is gone")
    parser.add_argument("--parent", type=int, metavar="PID", help="die with this process (PR_SET_PDEATHSIG)")
    parser.add_argument("handler", nargs="?", help="module.function, as template.yaml's Handler")
    args = parser.parse_args()
    if args.root is None and not args.handler:
        parser.error("a handler is required with --channel and --template")
    if args.parent is not None:
        lifeline.die_with_parent(args.parent)
    os.dup2(2, 1)  # the handler's prints go to stderr (the log), never into the protocol
    sys.stdout = os.fdopen(1, "w", encoding="utf-8", buffering=1, closefd=False)
    # Ctrl-C in a terminal (SIGINT) and `timeout` (SIGTERM) reach the whole process group: the
    # engine stops its environments (a handler still running is killed) - no traceback here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.root is not None:
        root(socket.socket(fileno=args.root), args.preload, args.lifeline)
    elif args.template is not None:
        template(socket.socket(fileno=args.template), args.handler, args.lifeline)
    else:
        handler, init_error, init_ms = _load(args.handler)
        serve(socket.socket(fileno=args.channel), handler, init_error, init_ms, args.lifeline)


if __name__ == "__main__":
    main()
