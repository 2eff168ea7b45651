"""The embedded engine, shared by the workflow tests of a module."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fanout_local.engine import EmbeddedEngine, EngineConfig

MANIFEST_BUCKET = "workflow-manifests"


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    # Worker processes write their logs straight into this file (it needs a real fd).
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as log,
        # Tests hold tens of keys: let them plan several units (the default is 5,000 keys).
        EmbeddedEngine(
            EngineConfig(manifest_bucket=MANIFEST_BUCKET, log=log, extra_function_env={"MIN_UNIT_KEYS": "2"})
        ) as running,
    ):
        running.s3_client().create_bucket(Bucket=MANIFEST_BUCKET)
        yield running


@pytest.fixture
def engine_s3(engine: EmbeddedEngine) -> Any:
    return engine.s3_client()


@pytest.fixture
def source_bucket(engine_s3: Any) -> str:
    name = f"wf-{uuid.uuid4().hex[:10]}"
    engine_s3.create_bucket(Bucket=name)
    return name
