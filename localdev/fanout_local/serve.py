"""``fanout serve``: the embedded engine kept up behind the real AWS APIs, so the tools people
already use - the AWS CLI, boto3, ``fanout share --endpoint-url`` - drive it unchanged.

One moto server, in this process, answers on one port:

- the **Step Functions API**, with template.yaml's state machine already created (its ARN is
  printed). moto's interpreter runs what is started through it - Distributed Map included -
  because it is this process's: the engine's ``mock_aws`` turned ``execute_state_machine`` on
  for every moto backend here, the server's too, and installed ``moto_overrides``;
- **S3**, unless ``--s3-endpoint`` names another one (MinIO, any S3): then S3 is there and
  this port answers Step Functions only.

The Lambda Invoke API the state machine's tasks call is the engine's own endpoint (its URL is
printed too). It is Step Functions Local without Docker, and with the Distributed Map.

Why one in-process server rather than the demo's S3 in a process of its own: Step Functions
must be served from the process whose interpreter runs the executions, and one endpoint for
both services is what the AWS CLI examples take. S3 then shares this process's GIL with the
interpreter, which costs throughput, not correctness (the tests run the engine that way).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .engine import EmbeddedEngine, EngineConfig
from .errors import EXIT_FAILED, UserError
from .template import ACCOUNT_ID, REGION

# Where shares go unless --manifest-bucket says otherwise: created on moto's S3 at start.
DEFAULT_MANIFEST_BUCKET = "fanout-manifests"
# Not 4566 (LocalStack) nor 8083 (Step Functions Local in docker-compose.yml): both may run too.
DEFAULT_PORT = 8090
# moto accepts any keys; the AWS CLI and boto3 need some to sign with.
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _named_executions(app: Any) -> Any:
    """WSGI middleware: a StartExecution without a name gets a UUID, as on AWS. moto's
    interpreter backend (5.2.5) names it "None" instead, so a second unnamed start fails with
    ExecutionAlreadyExists - and the AWS CLI's start-execution sends no name by default."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == "AWSStepFunctions.StartExecution":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            with contextlib.suppress(ValueError, AttributeError):
                request = json.loads(body)
                if not request.get("name"):
                    request["name"] = str(uuid.uuid4())
                    body = json.dumps(request).encode("utf-8")
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return wrapped


class MotoApiServer:
    """moto's WSGI application on a werkzeug server in a thread of this process - so it serves
    this process's moto backends. Unlike moto's ThreadedMotoServer, a port that cannot be
    bound raises here (OSError) instead of leaving ``start()`` waiting forever."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        # Bound here, not by werkzeug: it prints to stderr and exits the process on EADDRINUSE.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as listening:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind((host, port))
            listening.listen(128)
            # werkzeug serves a duplicate of this socket's descriptor (socket.fromfd).
            self._server = make_server(
                host,
                port,
                _named_executions(DomainDispatcherApplication(create_backend_app)),
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=listening.fileno(),
            )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-api-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        """The URL clients on this machine use (a wildcard bind is reached on 127.0.0.1)."""
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104 - a comparison
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def start(self) -> MotoApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    s3_endpoint: str | None = None  # None: moto's S3 on the same port
    manifest_bucket: str = DEFAULT_MANIFEST_BUCKET
    # Buckets to create on moto's S3 at start, besides the manifest bucket.
    buckets: tuple[str, ...] = ()
    lambda_timeout: float | None = None
    extra_function_env: dict[str, str] = field(default_factory=dict)
    log: IO[str] | None = None  # handler logs; None: the engine's default (stderr)
    on_stage: Callable[[str], None] | None = None
    checkpoint: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Endpoints:
    """What ``fanout serve`` prints: where each API answers, and what to call."""

    url: str  # the Step Functions API (and S3 when moto's)
    s3: str
    lambda_invoke: str
    state_machine_arn: str
    manifest_bucket: str
    region: str = REGION
    account: str = ACCOUNT_ID
    s3_is_moto: bool = True

    def environment(self) -> dict[str, str]:
        """What the AWS CLI and boto3 need besides ``--endpoint-url``: the region the state
        machine is in, and (moto) any keys."""
        env = {"AWS_DEFAULT_REGION": self.region}
        if self.s3_is_moto:
            env.update(MOTO_CREDENTIALS)
        return env

    def describe(self) -> list[str]:
        """Lines for a person: the endpoints, the ARN, and commands that work as printed."""
        exports = " ".join(f"{k}={v}" for k, v in self.environment().items())
        lines = [
            f"Step Functions API: {self.url}",
            f"state machine: {self.state_machine_arn}",
            f"S3: {self.s3}" + (" (moto, same port)" if self.s3_is_moto else ""),
            f"Lambda Invoke API: {self.lambda_invoke}",
            f"manifest bucket: s3://{self.manifest_bucket}",
            f"try: export {exports}",
            (
                f"  aws --endpoint-url {self.url} stepfunctions start-execution "
                f'--state-machine-arn {self.state_machine_arn} --input \'{{"bucket": "BUCKET"}}\''
            ),
            f"  fanout share s3://BUCKET/PREFIX --endpoint-url {self.url}",
        ]
        if self.s3_is_moto:
            lines.append(f"  aws --endpoint-url {self.url} s3 mb s3://BUCKET")
        return lines


class LocalCloud:
    """Context manager: the API server and the engine behind it, up until ``close()``.

    ``with LocalCloud(ServeConfig()) as cloud: cloud.endpoints.url``."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.server: MotoApiServer | None = None
        self.engine: EmbeddedEngine | None = None
        self._saved_env: dict[str, str | None] = {}
        self._endpoints: Endpoints | None = None

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise RuntimeError("LocalCloud is not started")
        return self._endpoints

    def __enter__(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        config = self.config
        if config.on_stage is not None:
            config.on_stage(f"listening on {config.host}:{config.port or 'a free port'}")
        try:
            self.server = MotoApiServer(config.host, config.port)
        except OSError as exc:
            raise UserError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc} - pick another --port",
                EXIT_FAILED,
            ) from None
        self.server.start()
        s3_is_moto = config.s3_endpoint is None
        if s3_is_moto:
            # Before the engine captures the environment its Lambda workers get.
            for key, value in MOTO_CREDENTIALS.items():
                self._saved_env.setdefault(key, os.environ.get(key))
                os.environ[key] = value
        s3_endpoint = config.s3_endpoint or self.server.url
        engine_config = EngineConfig(
            manifest_bucket=config.manifest_bucket,
            s3_endpoint=s3_endpoint,
            lambda_timeout=config.lambda_timeout,
            extra_function_env=dict(config.extra_function_env),
            on_stage=config.on_stage,
            checkpoint=config.checkpoint,
        )
        if config.log is not None:
            engine_config.log = config.log
        self.engine = EmbeddedEngine(engine_config)
        self.engine.__enter__()  # a failed start closes what it started, then raises
        if s3_is_moto:
            s3 = self.engine.s3_client()
            for bucket in dict.fromkeys((config.manifest_bucket, *config.buckets)):
                with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                    s3.create_bucket(Bucket=bucket)
        self._endpoints = Endpoints(
            url=self.server.url,
            s3=s3_endpoint,
            lambda_invoke=str(self.engine.lambda_endpoint),
            state_machine_arn=self.engine.state_machine_arn,
            manifest_bucket=config.manifest_bucket,
            s3_is_moto=s3_is_moto,
        )

    def client(self, service: str) -> Any:
        """A boto3 client of this cloud over HTTP (as any other program would make one)."""
        import boto3

        endpoints = self.endpoints
        url = endpoints.s3 if service == "s3" else endpoints.url
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=endpoints.region,
            aws_access_key_id=MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()


@contextlib.contextmanager
def step_functions_endpoint(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """This process's moto Step Functions (and other backends) over HTTP, for an engine
    already running here: ``fanout demo`` serving what it made until Ctrl-C."""
    try:
        server = MotoApiServer(host, port).start()
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILED) from None
    try:
        yield server.url
    finally:
        server.stop()
