"""The environment every local function runs with - one builder for the engine, ``fanout invoke``
and ``fanout serve-lambda``."""

from __future__ import annotations

import os
from collections.abc import Mapping

# Environment the engine sets for every function, whatever template.yaml declares.
ENGINE_CONTROLLED = ("S3_", "AWS_ENDPOINT", "MANIFEST_BUCKET", "POWERTOOLS_TRACE_DISABLED", "INLINE_PLAN")


def function_env(
    *,
    manifest_bucket: str | None = None,
    s3_endpoint: str | None = None,
    default_region: str | None = None,
    extra: Mapping[str, str] | None = None,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``inherited`` (default: this process's environment, credentials included) minus what
    would point the functions at the wrong place, then the engine's settings: the manifest
    bucket (empty: each run's source bucket; None: unset), the S3 endpoint (None: AWS's), the region where
    none is set (``default_region``; None: botocore's own lookup), no X-Ray; ``extra`` last."""
    source = os.environ if inherited is None else inherited
    env = {k: v for k, v in source.items() if not k.startswith(("AWS_ENDPOINT_URL", "MANIFEST_BUCKET"))}
    if manifest_bucket is not None:
        env["MANIFEST_BUCKET"] = manifest_bucket
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    if s3_endpoint:
        env.update({"S3_ENDPOINT_URL": s3_endpoint, "AWS_ENDPOINT_URL_S3": s3_endpoint})
    if default_region:
        env.setdefault("AWS_DEFAULT_REGION", default_region)
        env.setdefault("AWS_REGION", default_region)
    env.update(extra or {})
    return env
