"""Powertools Logger, Metrics and Tracer shared by the handlers."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "s3-fanout")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "S3Fanout")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
