"""Shared fixtures: a moto S3 server over HTTP, environment, Lambda context; the process-leak guard."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from hypothesis import settings
from moto.server import ThreadedMotoServer

from tests.support.lambda_context import FakeLambdaContext

# The process-leak guard: the session fails if a process it started outlives it.
from tests.support.leak_guard import pytest_configure, pytest_runtest_logstart, pytest_sessionfinish

__all__ = ["pytest_configure", "pytest_runtest_logstart", "pytest_sessionfinish"]


# Property tests draw the same examples on every run of `make test`, so CI cannot go red by
# chance; `HYPOTHESIS_PROFILE=explore make test` (or `make explore`) draws new ones to hunt.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


# Unit tests do no I/O: they get an S3 endpoint where nothing listens (a call fails at
# once), and no moto server is started for them.
NO_S3 = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    unit = "unit" in request.node.path.parts and request.node.path.parts[-2] == "unit"
    endpoint = NO_S3 if unit else request.getfixturevalue("moto_endpoint")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "S3_ENDPOINT_URL": endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "S3FanoutTest",
        # Tests hold tens of keys, not tens of thousands: let them plan several units.
        "MIN_UNIT_KEYS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "MANIFEST_BUCKET", "QUEUE_MAX", "URL_EXPIRY_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    from s3fanout import runtime

    runtime.settings.cache_clear()
    yield endpoint
    runtime.settings.cache_clear()


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"src-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def manifest_bucket(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A separate manifest bucket, so tests can see exactly what a run wrote."""
    name = f"out-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv("MANIFEST_BUCKET", name)
    from s3fanout import runtime

    runtime.settings.cache_clear()
    return name


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
