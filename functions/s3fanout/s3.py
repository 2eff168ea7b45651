"""aioboto3 S3 clients configured for this workload, and the bucket facts a run needs first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aioboto3
from botocore.config import Config

from . import botocore_overrides
from .errors import AWS_CALL_ERRORS, BucketNotFound, error_code, translate_client_error
from .presign import shared_loader

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .config import Settings

# Standard retry mode backs off with jitter on 5xx, SlowDown and dropped connections.
CLIENT_CONFIG = Config(
    signature_version="s3v4",
    retries={"mode": "standard", "total_max_attempts": 8},
    max_pool_connections=32,
    connect_timeout=5,
    read_timeout=30,
)
# ListPrefixes' client: planning's probes are small independent LISTs on every run's
# critical path, sent round by round (s3fanout.probing); 32 at a time made 1,204 probes
# (100M keys) at least 38 round trips. One prefix partition serves >= 5,500 LISTs/s, so
# 128 in flight (about 1,600-5,000 LISTs/s at 25-80 ms each) stays under it.
PLANNING_CONCURRENCY = 128
PLANNING_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(max_pool_connections=PLANNING_CONCURRENCY))


def new_session() -> aioboto3.Session:
    """An aioboto3 session whose S3 clients take s3fanout.botocore_overrides' fast paths."""
    session = aioboto3.Session()
    core = session._session  # noqa: SLF001 - aioboto3 exposes no other handle on its botocore session
    # The presigner's loader: the S3 model and endpoint rules are read once per process.
    core.register_component("data_loader", shared_loader())
    botocore_overrides.install(core)
    return session


def client_kwargs(settings: Settings, config: Config = CLIENT_CONFIG) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"config": config, "region_name": settings.region}
    if settings.s3_endpoint_url:
        kwargs["endpoint_url"] = settings.s3_endpoint_url
    return kwargs


async def bucket_region(client: S3Client, bucket: str, default: str) -> str:
    """The bucket's region: presigned URLs are only valid when signed for it."""
    try:
        response = await client.head_bucket(Bucket=bucket)
    except AWS_CALL_ERRORS as exc:
        if error_code(exc) in {"404", "NoSuchBucket"}:
            raise BucketNotFound(bucket) from exc
        raise translate_client_error(exc, bucket=bucket, operation="HeadBucket") from exc
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return response.get("BucketRegion") or headers.get("x-amz-bucket-region") or default
