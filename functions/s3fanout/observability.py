"""Powertools Logger, Metrics and Tracer shared by the handlers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "s3-fanout")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "S3Fanout")

F = TypeVar("F", bound=Callable[..., Any])


class _DisabledTracer:
    """Stands in for Powertools' Tracer when tracing is off.

    Powertools imports aws_xray_sdk even for a disabled Tracer: ~0.3-0.6 s of every cold
    start for nothing. Only the decorator the handlers use is provided.
    """

    def capture_lambda_handler(self, *, capture_response: bool = True) -> Callable[[F], F]:  # noqa: ARG002
        return lambda handler: handler


def tracing_disabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true"}


def _new_tracer() -> Any:
    if tracing_disabled():
        return _DisabledTracer()
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on

    return Tracer(service=SERVICE)


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = _new_tracer()
