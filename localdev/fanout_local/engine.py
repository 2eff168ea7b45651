"""The embedded engine: template.yaml's state machine on moto's Step Functions interpreter.

S3 is a moto server started here, or any endpoint given (MinIO from docker compose); every
S3 call - the handlers' and the interpreter's own (ItemReader, ResultWriter) - goes there.
Lambda tasks reach, via ``AWS_ENDPOINT_URL_LAMBDA``, the built-in Invoke API endpoint
(``lambda_runtime``) or an external one such as ``sam local start-lambda``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from s3fanout.records import new_run_id

from . import lifeline, moto_overrides
from .lambda_runtime.function_env import function_env
from .lambda_runtime.invoke_api import LambdaInvokeServer
from .lambda_runtime.pool import Invocation, LambdaRuntime
from .template import ACCOUNT_ID, PROJECT_ROOT, REGION, Project, load_project

_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# describe_execution costs ≈ 1.4 ms of this process's CPU - the interpreter's GIL - per call.
POLL_FIRST = 0.01  # after the Lambda endpoint goes idle: a Map starts its next item within this
POLL_MAX = 0.1  # backing off while nothing runs here (an external endpoint, a long ItemReader)
POLL_BUSY = 0.25  # while a handler runs: the execution can still end, by failing or being stopped
# The caller's own S3 calls (seeding, tests): what the handlers and the interpreter use
# (s3fanout.s3.CLIENT_CONFIG, moto_overrides.S3_CONFIG) - bounded retries of 5xx, throttling
# and dropped connections, timeouts instead of waiting on a stalled connection.
S3_CLIENT_CONFIG_OPTIONS: dict[str, Any] = {
    "signature_version": "s3v4",
    "retries": {"mode": "standard", "total_max_attempts": 8},
    "connect_timeout": 5,
    "read_timeout": 30,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(
    port: int, process: subprocess.Popen[bytes], checkpoint: Callable[[], None], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkpoint()
        if process.poll() is not None:
            msg = f"moto server exited with code {process.returncode}"
            raise RuntimeError(msg)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    msg = f"moto server did not listen on port {port} within {timeout} s"
    raise RuntimeError(msg)


@dataclass
class ExecutionResult:
    name: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    seconds: float
    invocations: list[Invocation] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


@dataclass
class EngineConfig:
    manifest_bucket: str
    s3_endpoint: str | None = None  # None: start a moto server
    lambda_endpoint: str | None = None  # None: run the handlers here
    # Overrides BuildManifest's Timeout - the function that continues where it stopped -
    # so a modest prefix can be forced through many continuations.
    lambda_timeout: float | None = None
    project_root: Path = PROJECT_ROOT
    parameters: dict[str, str] = field(default_factory=dict)
    extra_function_env: dict[str, str] = field(default_factory=dict)
    s3_in_process: bool = False
    log: IO[str] = sys.stderr
    # An alternative state machine (ASL JSON text, ${...} already filled), such as the INLINE
    # variant from ``fanout_local.render``; None: template.yaml's own definition.
    definition: str | None = None
    # Told each step of starting and stopping as it begins (the CLI's status line names it).
    on_stage: Callable[[str], None] | None = None
    # Called wherever the engine waits (each step of its start, the execution's polls): what it
    # raises abandons the wait - the CLI's signal handling (fanout_fetch.interrupts.check).
    checkpoint: Callable[[], None] = lambda: None


class EmbeddedEngine:
    """Context manager: ``with EmbeddedEngine(config) as engine: engine.run({...})``."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.project: Project = load_project(
            config.project_root,
            {
                "SourceBucketNames": config.manifest_bucket,
                "ManifestBucketName": config.manifest_bucket,
                **config.parameters,
            },
        )
        self.s3_endpoint = config.s3_endpoint
        self.lambda_endpoint = config.lambda_endpoint
        self.runtime: LambdaRuntime | None = None
        self._moto_server: Any = None
        self._moto_process: subprocess.Popen[bytes] | None = None
        self._lambda_server: LambdaInvokeServer | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._restore: list[Callable[[], None]] = []
        self._sfn: Any = None
        self.state_machine_arn = ""
        self._invocations: list[Invocation] = []

    # -- lifecycle -------------------------------------------------------------------------
    def _set_env(self, **values: str) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def __enter__(self) -> EmbeddedEngine:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stage(self, text: str) -> None:
        if self.config.on_stage is not None:
            self.config.on_stage(text)

    def _start_stage(self, text: str) -> None:
        """A step of the start: a signal that came meanwhile abandons it (close() runs them all)."""
        self.config.checkpoint()
        self._stage(text)

    def _start(self) -> None:
        self._start_stage("loading moto's Step Functions interpreter")
        from moto import mock_aws

        if self.s3_endpoint is None:
            self._set_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # noqa: S106 - moto
        self._set_env(AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
        # Taken before mock_aws, which swaps in fake credentials: a real endpoint (MinIO)
        # needs the caller's.
        caller_env = dict(os.environ)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
        # The interpreter logs every failed state at ERROR; the execution result says it better.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # mock_aws resets moto's in-process backends when it starts: start it before the
        # S3 server so nothing seeded later is lost.
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        s3_credentials = self._interpreter_s3_credentials(caller_env)
        moto_port = None
        if self.s3_endpoint is None:
            self._start_stage("starting the S3 server (moto, in its own process)")
            moto_port, self.s3_endpoint = self._start_moto_server()
        if self.lambda_endpoint is None:
            self._start_stage(f"starting Lambda workers for {len(self.project.functions)} functions (their imports)")
            self.runtime = LambdaRuntime(
                self.project.functions,
                base_env=function_env(
                    manifest_bucket=self.config.manifest_bucket,
                    s3_endpoint=self.s3_endpoint,
                    default_region=REGION,  # set above, so taken as it is
                    extra=self.config.extra_function_env,
                    inherited=caller_env,
                ),
                log=self.config.log,
                timeout_overrides=(
                    {"BuildManifestFunction": self.config.lambda_timeout} if self.config.lambda_timeout else None
                ),
            )
            self.runtime.observers.append(self._invocations.append)
            # The functions' imports (their cold start) run while moto's S3 server starts and
            # moto parses the definition.
            self.runtime.prewarm()
            self._lambda_server = LambdaInvokeServer(self.runtime).start()
            self.lambda_endpoint = self._lambda_server.url
        self._set_env(AWS_ENDPOINT_URL_S3=self.s3_endpoint, AWS_ENDPOINT_URL_LAMBDA=self.lambda_endpoint)
        # After the processes above started: this imports part of moto's interpreter.
        self._restore.append(moto_overrides.install(s3_credentials))
        import boto3

        self._sfn = boto3.client("stepfunctions", region_name=REGION)
        self._start_stage("loading the state machine into moto's interpreter")
        self.state_machine_arn = self._sfn.create_state_machine(
            name=self.project.state_machine,
            definition=moto_overrides.for_moto(self.config.definition or self.project.definition()),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/fanout-local",
        )["stateMachineArn"]
        # Only now: moto parsing the definition (≈ 2 s) overlapped the S3 server's start.
        if moto_port is not None and self._moto_process is not None:
            self._start_stage(f"waiting for the S3 server to listen on {self.s3_endpoint}")
            _wait_for_port(moto_port, self._moto_process, self.config.checkpoint)

    def _interpreter_s3_credentials(self, env: dict[str, str]) -> dict[str, str | None] | None:
        """A real endpoint (MinIO) rejects the dummy keys moto's interpreter signs its own S3
        calls (ItemReader, ResultWriter) with: it gets the caller's."""
        if self.s3_endpoint is None or not env.get("AWS_ACCESS_KEY_ID"):
            return None
        return {
            "aws_access_key_id": env.get("AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": env.get("AWS_SECRET_ACCESS_KEY"),
            "aws_session_token": env.get("AWS_SESSION_TOKEN"),
        }

    def _start_moto_server(self) -> tuple[int, str]:
        """S3 for the run. In a separate process by default, so S3 gets its own core instead
        of sharing this process's GIL with the interpreter; in-process (sharing moto's
        backends with the caller, e.g. tests) with ``EngineConfig.s3_in_process``. The
        separate process is not waited for here: the caller starts the workers meanwhile."""
        port = free_port()
        if self.config.s3_in_process:
            from moto.server import ThreadedMotoServer

            self._moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            self._moto_server.start()
        else:
            lifeline_fd = lifeline.read_end()
            self._moto_process = subprocess.Popen(  # noqa: S603 - moto's own server module
                [
                    *(sys.executable, "-m", "fanout_local.lifeline", "--fd", str(lifeline_fd), *lifeline.parent_args()),
                    *("moto.server", "-H", "127.0.0.1", "-p", str(port)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own process group: a terminal's Ctrl-C must not kill S3 under requests in
                # flight (botocore would retry them for seconds); close() stops it, and it dies
                # with this process however that ends (the lifeline).
                process_group=0,
                pass_fds=(lifeline_fd,),
            )
        return port, f"http://127.0.0.1:{port}"

    def close(self) -> None:
        if self._lambda_server is not None:
            self._stage("stopping the Lambda workers")
            self._lambda_server.stop()
            self._lambda_server = None
        if self._moto_server is not None:
            self._moto_server.stop()
            self._moto_server = None
        if self._moto_process is not None:
            self._stage("stopping the S3 server")
            self._moto_process.kill()  # its state dies with it anyway: no graceful stop needed
            self._moto_process.wait(timeout=10)
            self._moto_process = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        while self._restore:
            self._restore.pop()()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # -- use -------------------------------------------------------------------------------
    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name=REGION,
            config=Config(**S3_CLIENT_CONFIG_OPTIONS),
        )

    def add_observer(self, observer: Callable[[Invocation], None]) -> None:
        if self.runtime is not None:
            self.runtime.observers.append(observer)

    def run(
        self,
        execution_input: Any,
        *,
        name: str | None = None,
        timeout: float = 3600.0,
        on_poll: Callable[[], None] | None = None,
    ) -> ExecutionResult:
        """Start one execution and wait for it to end."""
        name = name or new_run_id()
        first = len(self._invocations)
        started = time.monotonic()
        arn = self._sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        delay = POLL_FIRST
        try:
            while True:
                self.config.checkpoint()
                described = self._sfn.describe_execution(executionArn=arn)
                if described["status"] in _TERMINAL:
                    break
                if time.monotonic() - started > timeout:
                    self._sfn.stop_execution(executionArn=arn, error="LocalTimeout", cause=f"over {timeout} s")
                    continue
                if on_poll is not None:
                    on_poll()
                delay = self._pause(delay)
        except BaseException:
            # Abandoned (a signal, via checkpoint): its Map starts nothing more while the engine stops.
            with contextlib.suppress(Exception):
                self._sfn.stop_execution(executionArn=arn, error="Interrupted", cause="the caller stopped waiting")
            raise
        output = described.get("output")
        return ExecutionResult(
            name=name,
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            seconds=time.monotonic() - started,
            invocations=self._invocations[first:],
        )

    def _pause(self, delay: float) -> float:
        """Wait until polling the execution again is worth its CPU; returns the next back-off.

        An execution ends right after its last Lambda task returns (or fails, rarely with one
        running): with the built-in endpoint, wait while a handler runs, then poll soon after
        it goes idle - unless the Map started its next item meanwhile. Polling every 20 ms
        took ≈ 7 % of the core the interpreter runs on."""
        runtime = self.runtime
        if runtime is None:
            time.sleep(delay)
            return min(delay * 2, POLL_MAX)
        deadline = time.monotonic() + POLL_BUSY  # at the latest: a failing Map, a stop, on_poll
        while True:
            if runtime.busy:
                if not runtime.wait_until_idle(max(0.0, deadline - time.monotonic())):
                    return POLL_FIRST
                delay = POLL_FIRST
            time.sleep(delay)
            if not runtime.busy or time.monotonic() >= deadline:
                return min(delay * 2, POLL_MAX)
