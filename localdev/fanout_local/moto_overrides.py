"""The one module that reaches into moto's internals: its Step Functions interpreter's clients and JSONPaths.

moto's interpreter builds a new boto3 client, signed with dummy keys, for every Task state it
runs and for every ItemReader and ResultWriter
(``moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for``). The engine swaps the
``boto3`` name that function calls for :class:`InterpreterClients`, which

- gives S3 calls the caller's credentials when S3 is a real endpoint (MinIO rejects dummy keys);
- retries the interpreter's own S3 calls (ItemReader's GetObject, ResultWriter's PutObject).
  moto makes every call with one attempt (``retries={"total_max_attempts": 1}``) and no
  timeouts (99999999 s): one 503 SlowDown, 500 or dropped connection failed a whole run with
  ``States.Runtime``. S3 clients get :data:`S3_CONFIG` instead, the handlers' policy
  (``s3fanout.s3.CLIENT_CONFIG``), and GetObject's body - read by moto after the call
  returns, where botocore retries nothing - is read again, bounded, if cut off
  (:class:`_RereadBodies`). Lambda clients keep moto's single attempt: Invoke errors go to
  the definition's own ``Retry`` (``Lambda.TooManyRequestsException``, ...), as on AWS;
  botocore retrying them first would hide that path and its backoff. (A connection error
  to the local endpoint is ``States.Runtime``, not retried: in practice only while it closes.)
- keeps one client per service, region, endpoint and credentials. A new client per Lambda task
  cost ≈ 2.3 ms to build and ≈ 3.4 ms more for its first request on a new connection: a third
  of a Map item's time outside its handler, spent in the engine's process, whose one GIL the
  interpreter needs too. boto3 clients are thread-safe: the Map's iterations share one.

It also caches the interpreter's parsed JSONPaths (``json_path.parse`` for paths it reads,
``result_path.parse`` for every state's ResultPath): moto parses each path again every time
it evaluates one, ≈ 0.3 ms apiece, and fanout.asl.json evaluates about twenty per Map item
(ItemSelector, Parameters, OutputPath, Choice, ResultPath). A parsed path is not changed by
evaluating it.

``tests/unit/test_moto_overrides.py`` pins the source of what this relies on: if a moto upgrade
changes it, that test fails; re-read the code, check this still holds, then update the digest.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.config import Config
from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError
from botocore.response import StreamingBody

# Connections per cached client: one per concurrent Map iteration, without urllib3 warning
# that its pool is full (the default is 10; MaxConcurrency is often more).
MAX_POOL_CONNECTIONS = 128
JSON_PATHS_CACHED = 4096  # distinct paths: a definition's, a few dozen here

# The interpreter's S3 calls: as s3fanout.s3.CLIENT_CONFIG (standard mode retries 500/502/
# 503/504, SlowDown and other throttles, dropped and timed-out connections, with jittered
# backoff). Timeouts so a stalled connection is retried, not waited on for moto's 99999999 s.
S3_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 8}, connect_timeout=5, read_timeout=30)
# Whole GetObjects (each with S3_CONFIG's attempts) when the body is cut off mid-transfer.
BODY_ATTEMPTS = 5
BODY_RETRY_MAX_DELAY = 2.0  # seconds; full jitter from 0.1 s, doubling
# What botocore's StreamingBody raises for a body cut short, reset or stalled.
BODY_ERRORS = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError)


class _RereadBodies:
    """An S3 client whose ``get_object`` returns its body already read, fetching it again when
    the transfer breaks: botocore retries a call until its response headers arrive, not the
    body read afterwards (moto's ItemReader: ``get_object(...)["Body"].read()``). The plan is
    a small JSON document: holding it in memory is what moto does with it anyway."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **kwargs: Any) -> Any:
        for attempt in range(1, BODY_ATTEMPTS + 1):
            response = self._client.get_object(**kwargs)
            try:
                data = response["Body"].read()
            except BODY_ERRORS:
                if attempt == BODY_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, min(0.1 * 2**attempt, BODY_RETRY_MAX_DELAY)))  # noqa: S311 - jitter
                continue
            response["Body"] = StreamingBody(io.BytesIO(data), len(data))
            return response
        raise AssertionError  # unreachable: the last attempt returns or raises


class InterpreterClients:
    """Stands in for the ``boto3`` module inside moto's ``boto_client`` module."""

    def __init__(self, real_boto3: Any, s3_credentials: dict[str, str | None] | None = None) -> None:
        self._real = real_boto3
        self._s3_credentials = s3_credentials
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def client(self, **kwargs: Any) -> Any:
        s3 = kwargs.get("service_name") == "s3"
        if s3 and self._s3_credentials:
            kwargs.update(self._s3_credentials)
        # moto passes the same Config on every call (pinned by the test): not part of the key.
        # The endpoint comes from AWS_ENDPOINT_URL_*, read when a client is made: part of it
        # (two engines in one process point the interpreter at the last one started).
        config = kwargs.pop("config", None) or Config()
        endpoints = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_ENDPOINT_URL")))
        key = (*sorted(kwargs.items()), *endpoints)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                config = config.merge(Config(max_pool_connections=MAX_POOL_CONNECTIONS))
                if s3:
                    # Replaces moto's retries and timeouts (merge takes S3_CONFIG's whole).
                    config = config.merge(S3_CONFIG)
                client = self._real.client(config=config, **kwargs)
                self._clients[key] = client = _RereadBodies(client) if s3 else client
        return client


# Engines in one process (tests run several) install and restore in any order: each swap is
# stacked on moto's original, and the last one still installed is what moto sees.
_swaps: dict[tuple[str, str], tuple[Any, list[Any]]] = {}  # (module, name) -> (moto's, ours...)
_swaps_lock = threading.Lock()


def _swap(module: Any, name: str, make: Callable[[Any], Any]) -> Callable[[], None]:
    key = (module.__name__, name)
    with _swaps_lock:
        original, installed = _swaps.setdefault(key, (getattr(module, name), []))
        ours = make(original)
        installed.append(ours)
        setattr(module, name, ours)

    def undo() -> None:
        with _swaps_lock:
            installed.remove(ours)
            setattr(module, name, installed[-1] if installed else original)
            if not installed:
                del _swaps[key]

    return undo


def install(s3_credentials: dict[str, str | None] | None = None) -> Callable[[], None]:
    """Swap in :class:`InterpreterClients` and the JSONPath caches; returns what undoes them."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    def cached(parse: Any) -> Any:
        return functools.lru_cache(maxsize=JSON_PATHS_CACHED)(parse)

    undo = [
        _swap(boto_client, "boto3", lambda boto3: InterpreterClients(boto3, s3_credentials)),
        _swap(json_path, "parse", cached),
        _swap(result_path, "parse", cached),
    ]

    def restore() -> None:
        for step in undo:
            step()

    return restore


def for_moto(definition: str) -> str:
    """The definition as moto's interpreter can parse it: its ASL grammar knows only STANDARD
    child executions of a Distributed Map (``ExecutionType``), and rejects the EXPRESS ours are
    deployed with. The two differ in billing and in an EXPRESS child's 5-minute limit, which
    BuildManifest's own time budget keeps to (``CHILD_TIME_BUDGET_SECONDS``), not the engine.
    Pinned by ``tests/unit/test_moto_overrides.py``: once moto parses EXPRESS, drop this."""
    document = json.loads(definition)

    def fit(node: Any) -> None:
        if isinstance(node, dict):
            config = node.get("ProcessorConfig")
            if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
                config["ExecutionType"] = "STANDARD"
            for value in node.values():
                fit(value)
        elif isinstance(node, list):
            for value in node:
                fit(value)

    fit(document)
    return json.dumps(document, indent=2)
