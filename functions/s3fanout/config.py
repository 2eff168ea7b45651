"""Settings read from the environment once per cold start."""

from __future__ import annotations

import os
from dataclasses import dataclass

MAX_EXPIRES_IN = 604_800  # SigV4 presigned URLs live at most 7 days.
DEFAULT_EXPIRES_IN = 900
DEFAULT_SUFFIX = ".pdf"
MAX_CONCURRENCY_LIMIT = 10_000  # Distributed Map's own ceiling.
LAMBDA_MIN_TIMEOUT_SECONDS = 1  # what Lambda accepts as a function's Timeout
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# (minimum, maximum) of MIN_UNIT_KEYS; the local CLI's --unit-keys takes the same range.
MIN_UNIT_KEYS_RANGE = (1, 10_000_000)


def _int_env(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        msg = f"environment variable {name}={raw!r} is not an integer"
        raise ValueError(msg) from None
    if not minimum <= value <= maximum:
        msg = f"environment variable {name}={value} is outside {minimum}..{maximum}"
        raise ValueError(msg)
    return value


def _optional_int_env(name: str, *, minimum: int, maximum: int) -> int | None:
    if not os.environ.get(name, "").strip():
        return None
    return _int_env(name, 0, minimum=minimum, maximum=maximum)


@dataclass(frozen=True)
class Settings:
    """Deployment-time configuration (template.yaml Environment)."""

    manifest_bucket: str | None
    manifest_prefix: str
    url_expiry_seconds: int
    queue_max: int
    s3_endpoint_url: str | None
    signing_secret_arn: str | None
    secrets_endpoint_url: str | None
    region: str
    default_max_concurrency: int
    part_size: int
    # Keys below which a work unit is not worth its own invocation (≈ 0.25 s of listing).
    min_unit_keys: int = 5_000
    # BuildManifest stops listing this long before its timeout; None: its own default.
    time_safety_ms: int | None = None
    # Seconds a unit's child execution may list before it defers the rest to the next Map
    # round (an EXPRESS child ends at 5 minutes, its Lambda's 15 do not matter). 0: never.
    child_time_budget_s: int = 0
    # Local Step Functions only (its INLINE Map has no ItemReader): ListPrefixes also
    # returns the plan inline. A deployed setting because under `sam local start-lambda`
    # (docs/docker.md) the function runs in SAM's container, where no local tooling can
    # wrap it: only its environment (events/env.json) can ask for the inline plan.
    inline_plan: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            manifest_bucket=os.environ.get("MANIFEST_BUCKET") or None,
            manifest_prefix=os.environ.get("MANIFEST_PREFIX", "manifests").strip("/") or "manifests",
            url_expiry_seconds=_int_env("URL_EXPIRY_SECONDS", DEFAULT_EXPIRES_IN, minimum=1, maximum=MAX_EXPIRES_IN),
            queue_max=_int_env("QUEUE_MAX", 8, minimum=1, maximum=1000),
            s3_endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
            signing_secret_arn=os.environ.get("SIGNING_SECRET_ARN") or None,
            # botocore's own AWS_ENDPOINT_URL_<SERVICE> is not honoured by aiobotocore: read it here.
            secrets_endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SECRETSMANAGER") or None,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            default_max_concurrency=_int_env("DEFAULT_MAX_CONCURRENCY", 10, minimum=1, maximum=MAX_CONCURRENCY_LIMIT),
            # S3 multipart parts must be >= 5 MiB (except the last).
            part_size=_int_env("PART_SIZE_BYTES", 8 * 1024 * 1024, minimum=5 * 1024 * 1024, maximum=512 * 1024 * 1024),
            min_unit_keys=_int_env(
                "MIN_UNIT_KEYS", 5_000, minimum=MIN_UNIT_KEYS_RANGE[0], maximum=MIN_UNIT_KEYS_RANGE[1]
            ),
            time_safety_ms=_optional_int_env("TIME_SAFETY_MS", minimum=0, maximum=LAMBDA_MAX_TIMEOUT_SECONDS * 1000),
            inline_plan=os.environ.get("INLINE_PLAN", "").strip().lower() == "true",
            child_time_budget_s=_int_env("CHILD_TIME_BUDGET_SECONDS", 0, minimum=0, maximum=LAMBDA_MAX_TIMEOUT_SECONDS),
        )

    def manifest_bucket_for(self, source_bucket: str) -> str:
        return self.manifest_bucket or source_bucket
