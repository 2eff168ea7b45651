"""aioboto3 S3 clients configured for this workload."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aioboto3
from botocore.config import Config

if TYPE_CHECKING:
    from .config import Settings

# Standard retry mode backs off with jitter on 5xx, SlowDown and dropped connections.
CLIENT_CONFIG = Config(
    signature_version="s3v4",
    retries={"mode": "standard", "total_max_attempts": 8},
    max_pool_connections=32,
    connect_timeout=5,
    read_timeout=30,
)


def _identity(value: str) -> str:
    return value


def new_session() -> aioboto3.Session:
    """A session whose S3 responses keep timestamps as strings.

    botocore parses every LastModified into a datetime (~150 us per key); we never use it.
    """
    session = aioboto3.Session()
    factory = session._session.get_component("response_parser_factory")  # noqa: SLF001
    factory.set_parser_defaults(timestamp_parser=_identity)
    return session


def client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"config": CLIENT_CONFIG, "region_name": settings.region}
    if settings.s3_endpoint_url:
        kwargs["endpoint_url"] = settings.s3_endpoint_url
    return kwargs
