"""The AWS clients of ``share``, ``shares`` and ``revoke``: AWS itself (credentials and region
from the usual chain, ``--region``), or an endpoint such as ``fanout serve``'s."""

from __future__ import annotations

from typing import Any

from fanout_local.errors import S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT

# A local endpoint (fanout serve, moto, MinIO's console aside) takes any keys; with none in the
# environment these are used there - never for AWS itself.
LOCAL_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOCAL_REGION = "us-east-1"  # fanout serve's
CALL_ATTEMPTS = 5  # throttling, 5xx and dropped connections are retried (standard mode)


def client(service: str, *, endpoint: str | None = None, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    extra: dict[str, Any] = {}
    if endpoint is not None:
        if session.get_credentials() is None:
            extra.update(LOCAL_KEYS)
        if session.region_name is None:
            extra["region_name"] = LOCAL_REGION
    config = Config(
        connect_timeout=S3_CONNECT_TIMEOUT,
        read_timeout=S3_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": CALL_ATTEMPTS},
        **({"signature_version": "s3v4"} if service == "s3" else {}),
    )
    return session.client(service, endpoint_url=endpoint, config=config, **extra)


def manifest_bucket(args: Any) -> str:
    """``--manifest-bucket``, or the stack's ManifestBucket output (``--stack``)."""
    if args.manifest_bucket:
        return str(args.manifest_bucket)
    from fanout_local.errors import EXIT_FAILED, UserError
    from fanout_local.share import stack_target

    target = stack_target(client("cloudformation", region=args.region), args.stack)
    if not target.manifest_bucket:
        raise UserError(f"{target.where} has no ManifestBucket output: pass --manifest-bucket", EXIT_FAILED)
    return target.manifest_bucket
