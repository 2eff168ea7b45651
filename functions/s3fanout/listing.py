"""ListObjectsV2 as async streams of pages, with S3 errors turned into named errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import translate_client_error

if TYPE_CHECKING:
    from .inputs import WorkUnit

# (key, size) - all a manifest line needs from a listing.
ObjectEntry = tuple[str, int]


@dataclass
class PrefixListing:
    """What sits directly under a prefix: its sub-prefixes and whether it holds objects."""

    sub_prefixes: list[str] = field(default_factory=list)
    direct_objects: int = 0


async def list_prefix_level(client: Any, bucket: str, prefix: str) -> PrefixListing:
    """One level of the tree under ``prefix`` (Delimiter "/"), every page."""
    listing = PrefixListing()
    paginator = client.get_paginator("list_objects_v2")
    try:
        async for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            listing.sub_prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()))
            listing.direct_objects += len(page.get("Contents", ()))
    except ClientError as exc:
        raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
    return listing


async def iter_object_pages(client: Any, bucket: str, work: WorkUnit) -> AsyncIterator[list[ObjectEntry]]:
    """Yield the unit's objects a listing page at a time, in key order."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": work.prefix}
    if work.delimited:
        params["Delimiter"] = "/"
    if work.start_after:
        params["StartAfter"] = work.start_after
    end_key = work.end_key
    paginator = client.get_paginator("list_objects_v2")
    try:
        async for page in paginator.paginate(**params):
            entries = [(obj["Key"], obj["Size"]) for obj in page.get("Contents", ())]
            if end_key is not None and entries and entries[-1][0] > end_key:
                yield [entry for entry in entries if entry[0] <= end_key]
                return
            if entries:
                yield entries
    except ClientError as exc:
        raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
