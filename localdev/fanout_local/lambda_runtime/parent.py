"""Execution environments for the local Lambda endpoint (parent side; ``child`` is the other).

One root process imports the functions' declared dependencies once; each function's template
is forked from it with the function's environment and imports the handler; each environment
is forked from its function's template. Every environment talks over its own Unix socket, one
JSON line each way per invocation; a new one costs one ``sendmsg`` of a socket here and a
fork there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from fanout_local import lifeline

from .child import send_template_request

INIT_TIMEOUT_SECONDS = 30.0  # AWS allows 10 s; a loaded 2-core machine needs more
STOP_GRACE_SECONDS = 2.0  # templates exit at once on end of input; then they are killed


class EnvironmentExited(RuntimeError):
    """The environment's process ended (crashed, killed, exited)."""


class Environment:
    """One execution environment: warm reuse, one invocation at a time."""

    def __init__(self, function: str, channel: socket.socket) -> None:
        self.function = function
        self.channel = channel
        self.pid: int | None = None  # from its hello: kill() needs it
        self.init_ms: float | None = None
        self._ready = False
        self._closed = False
        self._killed = False
        self._busy = False
        self._buffer = bytearray()

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        while (end := self._buffer.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.channel.settimeout(remaining)
            try:
                chunk = self.channel.recv(1 << 16)
            except TimeoutError:
                return None
            except OSError as exc:
                chunk = b""
                reason = "killed by the engine" if self._killed else str(exc)
            else:
                reason = "killed by the engine" if self._killed else "end of output"
            if not chunk:
                self._closed = True
                msg = f"environment of {self.function} exited ({reason})"
                raise EnvironmentExited(msg)
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return json.loads(line)

    def invoke(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The reply, or None when the function timed out (the environment is then killed)."""
        self._busy = True
        try:
            cold_init = None
            if not self._ready:
                # Init has its own limit on AWS, apart from the function's Timeout.
                hello = self._read_line(time.monotonic() + INIT_TIMEOUT_SECONDS)
                if hello is None:
                    self.kill()
                    return None
                self._ready = True
                self.pid, self.init_ms = hello["pid"], hello["init_ms"]
                cold_init = self.init_ms
            deadline = time.monotonic() + timeout
            try:
                # Blocking again (alive() peeks without blocking): a large event may fill the buffer.
                self.channel.settimeout(timeout)
                self.channel.sendall(json.dumps(request).encode() + b"\n")
            except TimeoutError:
                self.kill()
                return None
            except OSError as exc:
                self._closed = True
                msg = f"environment of {self.function} exited ({exc})"
                raise EnvironmentExited(msg) from exc
            reply = self._read_line(deadline)
            if reply is None:
                self.kill()
                return None
            reply["init_ms"] = cold_init
            return reply
        finally:
            self._busy = False

    @property
    def alive(self) -> bool:
        if self._closed:
            return False
        if self._busy or self._buffer:
            return True
        # Idle, it says nothing but its hello: end of output is what else can be there.
        try:
            self.channel.setblocking(False)  # a timeout left by _read_line would wait first
            peeked = self.channel.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True  # nothing to read: alive and idle
        except OSError:
            peeked = b""
        if peeked and not self._ready:
            return True  # its hello, read by its first invocation
        self.close()
        return False

    def kill(self) -> None:
        """A timed-out or abandoned environment: SIGKILL, as Lambda ends a timed-out one."""
        if self.pid is not None and not self._closed:
            self._killed = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        """End of input: an idle environment exits at once."""
        self._closed = True
        with contextlib.suppress(OSError):
            self.channel.shutdown(socket.SHUT_RDWR)  # also wakes a thread blocked reading it
        with contextlib.suppress(OSError):
            self.channel.close()

    def stop(self) -> None:
        """At engine stop: one still running a handler is killed, an idle one told to exit."""
        if self._busy:
            self.kill()
        else:
            self.close()


def declared_modules(requirements: Path) -> tuple[str, ...]:
    """The top-level modules of a requirements file's packages, best effort (``aws-lambda-
    powertools[tracer]==3.37.0`` -> ``aws_lambda_powertools``); one that is not a module
    name is skipped by the root."""
    if not requirements.is_file():
        return ()
    names = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement and not requirement.startswith("-"):
            name = re.split(r"[\[<>=!~;@ ]", requirement, maxsplit=1)[0]
            names.append(name.lower().replace("-", "_"))
    return tuple(dict.fromkeys(names))


def _spawn(args: list[str], fd: int, env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    """A worker that dies with this process, however it ends (``fanout_local.lifeline``)."""
    lifeline_fd = lifeline.read_end()
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            *(sys.executable, "-m", "fanout_local.lambda_runtime.child", "--lifeline", str(lifeline_fd)),
            *lifeline.parent_args(),
            *args,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        pass_fds=(fd, lifeline_fd),
    )


class TemplateRoot:
    """The process every function's template is forked from, started on first use."""

    def __init__(self, env: dict[str, str], log: IO[str], preload: tuple[str, ...]) -> None:
        self.env = env
        self.log = log
        self.preload = preload
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()

    def new_template(self, handler: str, env: dict[str, str]) -> socket.socket | None:
        """The control socket of a new template for ``handler``; None if the root is gone."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                if self._control is None and self._process is None:
                    self._start()
                if self._control is None:
                    ours.close()
                    return None  # stopped, or died: the caller starts its template itself
                try:
                    send_template_request(self._control, theirs.fileno(), handler, env)
                except OSError:
                    self._control.close()
                    self._control = None
                    ours.close()
                    return None
        finally:
            theirs.close()
        return ours

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            preload = [arg for name in self.preload for arg in ("--preload", name)]
            self._process = _spawn(["--root", str(theirs.fileno()), *preload], theirs.fileno(), self.env, self.log)
        finally:
            theirs.close()
        self._control = ours

    def begin_stop(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None

    def finish_stop(self, deadline: float) -> None:
        with self._lock:
            process = self._process
        _wait_or_kill(process, deadline)


def _wait_or_kill(process: subprocess.Popen[bytes] | None, deadline: float) -> None:
    if process is None:
        return
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class FunctionTemplate:
    """A function's template process, started on first use; ``new_environment`` forks one."""

    def __init__(
        self, function: str, handler: str, env: dict[str, str], log: IO[str], root: TemplateRoot | None = None
    ) -> None:
        self.function = function
        self.handler = handler
        self.env = env
        self.log = log
        self.root = root
        self._process: subprocess.Popen[bytes] | None = None  # when not forked from the root
        self._control: socket.socket | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def _start(self) -> socket.socket:
        control = self.root.new_template(self.handler, self.env) if self.root is not None else None
        if control is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self._process = _spawn(
                    ["--template", str(theirs.fileno()), self.handler], theirs.fileno(), self.env, self.log
                )
            finally:
                theirs.close()
            control = ours
        self._control = control
        return control

    def new_environment(self) -> Environment:
        """A new environment, ready as soon as the template has imported the handler."""
        with self._lock:
            if self._stopped:
                # A Map still running while the engine stops: no process may outlive it.
                msg = f"{self.function}: the engine is stopping"
                raise EnvironmentExited(msg)
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                control = self._control or self._start()
                try:
                    socket.send_fds(control, [b"E"], [theirs.fileno()])
                except OSError:
                    # The template died: start another (its import is a cold start again).
                    self._discard()
                    socket.send_fds(self._start(), [b"E"], [theirs.fileno()])
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
        return Environment(self.function, ours)

    def _discard(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def begin_stop(self) -> None:
        """End of input: the template exits once its environments have (they are told apart)."""
        with self._lock:
            self._stopped = True
            if self._control is not None:
                self._control.close()
                self._control = None

    def finish_stop(self, deadline: float) -> None:
        with self._lock:
            process, self._process = self._process, None
        _wait_or_kill(process, deadline)
