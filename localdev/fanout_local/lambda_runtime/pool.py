"""The functions' pools of execution environments, in the engine's process (parent side).

``LambdaRuntime`` holds template.yaml's functions, each with a ``FunctionPool``: warm reuse,
one invocation per environment at a time, a new one - forked from the function's template
process, which imported the handler once (``parent``, ``child``) - when all are busy, with
the function's env vars (``function_env``) and Timeout. It is called in-process (``fanout
invoke``) or through the HTTP server of ``invoke_api``.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote

from fanout_local.template import FunctionSpec, function_arn

from .function_env import ENGINE_CONTROLLED
from .parent import (
    STOP_GRACE_SECONDS,
    Environment,
    EnvironmentExited,
    FunctionTemplate,
    TemplateRoot,
    declared_modules,
)


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


@dataclass
class FunctionPool:
    spec: FunctionSpec
    env: dict[str, str]
    log: IO[str]
    timeout: float
    idle: list[Environment] = field(default_factory=list)
    workers: list[Environment] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    invocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    root: TemplateRoot | None = None
    template: FunctionTemplate = field(init=False)

    def __post_init__(self) -> None:
        self.template = FunctionTemplate(self.spec.name, self.spec.handler, self.env, self.log, self.root)

    def _acquire(self) -> Environment:
        with self.lock:
            self.in_flight += 1
            self.invocations += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            while self.idle:
                worker = self.idle.pop()
                if worker.alive:
                    return worker
                self.workers.remove(worker)
        try:
            return self._new_environment()
        except BaseException:
            with self.lock:
                self.in_flight -= 1
            raise

    def _new_environment(self) -> Environment:
        worker = self.template.new_environment()
        with self.lock:
            self.workers.append(worker)
        return worker

    def _release(self, worker: Environment) -> None:
        with self.lock:
            self.in_flight -= 1
            if worker.alive:
                self.idle.append(worker)
            elif worker in self.workers:
                self.workers.remove(worker)

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
        started = time.time()
        worker = None
        try:
            worker = self._acquire()
            reply = worker.invoke(request, self.timeout)
        except EnvironmentExited as exc:
            reply = {
                "error": {"errorType": "Runtime.ExitError", "errorMessage": str(exc)},
                "duration_ms": 0.0,
                "max_memory_mb": 0,
                "init_ms": None,
            }
        finally:
            if worker is not None:
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
        """Start the template and ask it for one environment now: the import (the cold start)
        overlaps the engine's own start instead of delaying the first invocation. That
        invocation still reports its Init Duration."""
        worker = self._new_environment()
        with self.lock:
            self.idle.append(worker)

    def begin_close(self) -> None:
        with self.lock:
            workers, self.workers, self.idle = self.workers, [], []
        for worker in workers:
            worker.stop()
        self.template.begin_stop()

    def finish_close(self, deadline: float) -> None:
        self.template.finish_stop(deadline)


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
        preload: tuple[str, ...] | None = None,
    ) -> None:
        """``preload``: modules the templates' common parent imports once; None: the
        functions' declared runtime dependencies (the requirements.txt of their CodeUri and layers)."""
        self.log = log
        self.observers: list[Callable[[Invocation], None]] = []
        # Returns (HTTP status, error code, message) to fail an Invoke call as the Lambda
        # service would (throttling, service errors), or None to run the function.
        self.fault_injector: Callable[[str], tuple[int, str, str] | None] | None = None
        self.pools: dict[str, FunctionPool] = {}
        if preload is None:
            uris = dict.fromkeys(
                uri for spec in functions.values() for uri in (spec.code_uri, *spec.layer_uris) if uri is not None
            )
            preload = tuple(dict.fromkeys(m for uri in uris for m in declared_modules(uri / "requirements.txt")))
        self.root = TemplateRoot({**base_env, "PYTHONUNBUFFERED": "1"}, log, preload) if preload else None
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
            self.pools[name] = FunctionPool(spec=spec, env=env, log=log, timeout=timeout, root=self.root)
        self._log_lock = threading.Lock()
        self.closed = False  # set by close(): nothing more is logged
        # Invocations running now, for the engine's wait: an execution can end only after its
        # last Lambda task returned (or by failing, which is rarer).
        self.in_flight = 0
        self._idle = threading.Condition()

    @property
    def busy(self) -> bool:
        return self.in_flight > 0

    def wait_until_idle(self, timeout: float) -> bool:
        """True once no invocation runs; False if one still does after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self.in_flight == 0, timeout)

    def resolve(self, name_or_arn: str) -> FunctionPool | None:
        name = unquote(name_or_arn)
        if name.startswith("arn:"):
            name = name.split(":function:", 1)[-1]
        name = name.split(":", 1)[0]  # drop a qualifier such as :$LATEST
        return self.pools.get(name)

    def invoke(self, pool: FunctionPool, event: Any) -> Invocation:
        with self._idle:
            self.in_flight += 1
        try:
            with self._log_lock:
                if not self.closed:
                    self.log.write(f"[{pool.spec.name}] START Version: $LATEST\n")
                    self.log.flush()
            invocation = pool.invoke(event)
            with self._log_lock:
                # Once stopping, what is still asked for (a Map's threads do not know) or cut
                # short is not news: the CLI's last line stays its own.
                if self.closed:
                    return invocation
                if invocation.error:
                    error = invocation.error
                    self.log.write(f"[{pool.spec.name}] ERROR {error['errorType']}: {error['errorMessage']}\n")
                self.log.write(report_line(invocation, pool.spec.memory_mb) + "\n")
                self.log.flush()
            for observer in self.observers:
                observer(invocation)
            return invocation
        finally:
            with self._idle:
                self.in_flight -= 1
                self._idle.notify_all()

    def prewarm(self) -> None:
        for pool in self.pools.values():
            pool.prewarm()

    def close(self) -> None:
        # Every template and environment is told to exit first, then the templates are waited
        # for (environments exit at once on end of input, the kernel reaps them).
        with self._log_lock:
            self.closed = True
        for pool in self.pools.values():
            pool.begin_close()
        if self.root is not None:
            self.root.begin_stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for pool in self.pools.values():
            pool.finish_close(deadline)
        if self.root is not None:
            self.root.finish_stop(deadline)
