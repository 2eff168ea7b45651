"""A local endpoint speaking the Lambda Invoke API, running template.yaml's handlers.

``POST /2015-03-31/functions/{name}/invocations`` - the API ``sam local start-lambda``
serves and Step Functions' Lambda tasks call (point ``AWS_ENDPOINT_URL_LAMBDA`` here).
Each function has a pool of worker processes: warm reuse, one invocation per worker at a
time, a new (cold) worker when all are busy, the function's env vars and Timeout.
Unhandled errors come back as ``X-Amz-Function-Error: Unhandled`` like on AWS.
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import unquote

from .template import FunctionSpec, function_arn

INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
# Environment the engine sets for every function, whatever template.yaml declares.
ENGINE_CONTROLLED = ("S3_", "AWS_ENDPOINT", "MANIFEST_BUCKET", "POWERTOOLS_TRACE_DISABLED", "INLINE_PLAN")
INIT_TIMEOUT_SECONDS = 30.0  # AWS allows 10 s; a loaded 2-core machine needs more


@dataclass
class Invocation:
    """One finished invocation, as the REPORT line and observers see it."""

    function: str
    request_id: str
    event: Any
    result: Any
    error: dict[str, Any] | None
    duration_ms: float
    max_memory_mb: int
    init_ms: float | None
    started: float
    ended: float


class _Worker:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], log: IO[str]) -> None:
        self.spec = spec
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "fanout_local.worker", spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
        self.init_ms: float | None = None
        self._ready = False

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self.process.stdout.readline()
        if not line:
            msg = f"worker for {self.spec.name} exited with code {self.process.wait()}"
            raise RuntimeError(msg)
        return json.loads(line)

    def invoke(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The worker's reply, or None if it timed out (the worker is then killed)."""
        cold_init: float | None = None
        if not self._ready:
            # The init phase (imports) has its own limit on AWS, apart from the function's Timeout.
            hello = self._read_line(INIT_TIMEOUT_SECONDS)
            if hello is None:
                self.kill()
                return None
            self._ready = True
            cold_init = hello["init_ms"]
        deadline = time.monotonic() + timeout
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        reply = self._read_line(deadline - time.monotonic())
        if reply is None:
            self.kill()
            return None
        reply["init_ms"] = cold_init
        return reply

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        self.begin_close()
        self.finish_close()

    def begin_close(self) -> None:
        """End of input: the worker's loop ends and it exits (in parallel with the others)."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()

    def finish_close(self) -> None:
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class FunctionPool:
    spec: FunctionSpec
    env: dict[str, str]
    log: IO[str]
    timeout: float
    idle: list[_Worker] = field(default_factory=list)
    workers: list[_Worker] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _acquire(self) -> _Worker:
        with self.lock:
            self.in_flight += 1
            self.invocations += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            while self.idle:
                worker = self.idle.pop()
                if worker.alive:
                    return worker
        worker = _Worker(self.spec, self.env, self.log)
        with self.lock:
            self.workers.append(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        with self.lock:
            self.in_flight -= 1
            if worker.alive:
                self.idle.append(worker)

    def invoke(self, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        request = {
            "event": event,
            "request_id": request_id,
            "function_name": self.spec.name,
            "function_arn": function_arn(self.spec.name),
            "memory_mb": self.spec.memory_mb,
            "timeout": self.timeout,
        }
        worker = self._acquire()
        started = time.time()
        try:
            reply = worker.invoke(request, self.timeout)
        except RuntimeError as exc:
            reply = {
                "error": {"errorType": "Runtime.ExitError", "errorMessage": str(exc)},
                "duration_ms": 0.0,
                "max_memory_mb": 0,
                "init_ms": None,
            }
        finally:
            self._release(worker)
        if reply is None:
            reply = {
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {self.timeout:.2f} seconds",
                },
                "duration_ms": self.timeout * 1000,
                "max_memory_mb": 0,
                "init_ms": None,
            }
        return Invocation(
            function=self.spec.name,
            request_id=request_id,
            event=event,
            result=reply.get("result"),
            error=reply.get("error"),
            duration_ms=reply["duration_ms"],
            max_memory_mb=reply["max_memory_mb"],
            init_ms=reply.get("init_ms"),
            started=started,
            ended=time.time(),
        )

    def prewarm(self) -> None:
        """Start one worker now: its imports (the cold start) overlap the engine's own start
        instead of delaying the first invocation. It still reports its Init Duration then."""
        worker = _Worker(self.spec, self.env, self.log)
        with self.lock:
            self.workers.append(worker)
            self.idle.append(worker)

    def begin_close(self) -> list[_Worker]:
        """Idle workers are told to exit; busy ones are killed: nobody waits for their reply
        any more (the server is stopping, e.g. on Ctrl-C), and a handler may run for minutes."""
        with self.lock:
            workers, idle, self.workers, self.idle = self.workers, self.idle, [], []
        for worker in workers:
            if any(worker is w for w in idle):
                worker.begin_close()
            else:
                worker.kill()
        return workers

    def close(self) -> None:
        for worker in self.begin_close():
            worker.finish_close()


def report_line(invocation: Invocation, memory_mb: int) -> str:
    """CloudWatch's REPORT line; Init Duration only on a cold start."""
    line = (
        f"REPORT RequestId: {invocation.request_id}\tDuration: {invocation.duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(invocation.duration_ms)} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {invocation.max_memory_mb} MB"
    )
    if invocation.init_ms is not None:
        line += f"\tInit Duration: {invocation.init_ms:.2f} ms"
    return f"[{invocation.function}] {line}"


class LambdaRuntime:
    """The functions of template.yaml, each with its worker pool."""

    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        *,
        base_env: dict[str, str],
        log: IO[str],
        timeout_overrides: dict[str, float] | None = None,
    ) -> None:
        self.log = log
        self.observers: list[Callable[[Invocation], None]] = []
        # Returns (HTTP status, error code, message) to fail an Invoke call as the Lambda
        # service would (throttling, service errors), or None to run the function.
        self.fault_injector: Callable[[str], tuple[int, str, str] | None] | None = None
        self.pools: dict[str, FunctionPool] = {}
        for name, spec in functions.items():
            env = {
                **base_env,
                **spec.environment,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "PYTHONUNBUFFERED": "1",
            }
            # Values the engine must control win over the template's.
            env.update({k: v for k, v in base_env.items() if k.startswith(ENGINE_CONTROLLED)})
            timeout = (timeout_overrides or {}).get(name, spec.timeout)
            self.pools[name] = FunctionPool(spec=spec, env=env, log=log, timeout=timeout)
        self._log_lock = threading.Lock()

    def resolve(self, name_or_arn: str) -> FunctionPool | None:
        name = unquote(name_or_arn)
        if name.startswith("arn:"):
            name = name.split(":function:", 1)[-1]
        name = name.split(":", 1)[0]  # drop a qualifier such as :$LATEST
        return self.pools.get(name)

    def invoke(self, pool: FunctionPool, event: Any) -> Invocation:
        with self._log_lock:
            self.log.write(f"[{pool.spec.name}] START Version: $LATEST\n")
            self.log.flush()
        invocation = pool.invoke(event)
        with self._log_lock:
            if invocation.error:
                self.log.write(
                    f"[{pool.spec.name}] ERROR {invocation.error['errorType']}: {invocation.error['errorMessage']}\n"
                )
            self.log.write(report_line(invocation, pool.spec.memory_mb) + "\n")
            self.log.flush()
        for observer in self.observers:
            observer(invocation)
        return invocation

    def prewarm(self) -> None:
        for pool in self.pools.values():
            pool.prewarm()

    def close(self) -> None:
        # Every worker is told to exit first, then waited for: they exit in parallel.
        closing = [worker for pool in self.pools.values() for worker in pool.begin_close()]
        for worker in closing:
            worker.finish_close()


class _InvokeHandler(BaseHTTPRequestHandler):
    server: LambdaInvokeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the REPORT lines say what happened."""

    def _reply(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, request_id: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        # An invocation's id is the one its REPORT line shows; refusals get their own.
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if not (path.startswith(INVOKE_PATH_PREFIX) and path.endswith("/invocations")):
            self._reply(HTTPStatus.NOT_FOUND, b'{"message":"not found"}')
            return
        name = path[len(INVOKE_PATH_PREFIX) : -len("/invocations")]
        runtime = self.server.runtime
        pool = runtime.resolve(name)
        if pool is None:
            message = json.dumps({"Type": "User", "message": f"Function not found: {unquote(name)}"}).encode()
            self._reply(HTTPStatus.NOT_FOUND, message, {"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        fault = runtime.fault_injector(pool.spec.name) if runtime.fault_injector else None
        if fault is not None:
            status, code, message = fault
            body = json.dumps({"Type": "Service", "message": message}).encode()
            self._reply(status, body, {"x-amzn-ErrorType": code})
            return
        if self.headers.get("X-Amz-Invocation-Type") == "DryRun":
            self._reply(HTTPStatus.NO_CONTENT, b"")
            return
        try:
            event = json.loads(body or b"{}")
        except json.JSONDecodeError:
            message = b'{"Type":"User","message":"Could not parse request body into json"}'
            self._reply(HTTPStatus.BAD_REQUEST, message, {"x-amzn-ErrorType": "InvalidRequestContentException"})
            return
        invocation = runtime.invoke(pool, event)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if invocation.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps(invocation.error).encode()
        else:
            payload = json.dumps(invocation.result).encode()
        self._reply(HTTPStatus.OK, payload, headers, request_id=invocation.request_id)


class LambdaInvokeServer(ThreadingHTTPServer):
    """Threaded HTTP server; ``url`` is what AWS_ENDPOINT_URL_LAMBDA should be."""

    daemon_threads = True

    def __init__(self, runtime: LambdaRuntime, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _InvokeHandler)
        self.runtime = runtime
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LambdaInvokeServer:
        # A short poll interval: shutdown() waits up to one interval (the default is 0.5 s).
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-invoke-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.runtime.close()


def worker_base_env(extra: dict[str, str]) -> dict[str, str]:
    """The engine's environment minus what would point workers at the wrong place."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "MANIFEST_BUCKET"))}
    env.update(extra)
    return env
