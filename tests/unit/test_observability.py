"""Tracing off means no X-Ray SDK import (a third of the cold start); on means Powertools' Tracer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
import s3fanout.handlers.build_manifest as handler
from s3fanout.observability import tracer
print(json.dumps({"xray": "aws_xray_sdk" in sys.modules, "tracer": type(tracer).__name__}))
"""


@pytest.mark.parametrize(
    ("disabled", "xray", "tracer"), [("true", False, "_DisabledTracer"), ("false", True, "Tracer")]
)
def test_the_tracer_follows_powertools_trace_disabled(disabled: str, xray: bool, tracer: str) -> None:
    env = {"POWERTOOLS_TRACE_DISABLED": disabled, "AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    assert json.loads(completed.stdout.splitlines()[-1]) == {"xray": xray, "tracer": tracer}
