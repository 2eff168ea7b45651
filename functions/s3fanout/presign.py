"""Presigned GET URLs for S3 objects (SigV4 query auth)."""

from __future__ import annotations

from typing import Any, Protocol

import botocore.session
from botocore.config import Config


class UrlSigner(Protocol):
    """Signs GET URLs for one bucket; synchronous because it is pure CPU work."""

    def presign_get(self, key: str) -> str: ...


class BotocoreUrlSigner:
    """botocore's own presigner, on a plain (sync) client.

    ``signature_version="s3v4"``: without it botocore still signs SigV2 in some regions.
    """

    def __init__(self, bucket: str, expires_in: int, *, region: str, endpoint_url: str | None) -> None:
        session = botocore.session.get_session()
        kwargs: dict[str, Any] = {"region_name": region, "config": Config(signature_version="s3v4")}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        self._client = session.create_client("s3", **kwargs)
        self.bucket = bucket
        self.expires_in = expires_in

    def presign_get(self, key: str) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.expires_in
        )


def new_url_signer(bucket: str, expires_in: int, *, region: str, endpoint_url: str | None) -> UrlSigner:
    """The signer to use for ``bucket``."""
    return BotocoreUrlSigner(bucket, expires_in, region=region, endpoint_url=endpoint_url)
