"""ListPrefixes' core: turn a prefix into work units and write the plan to S3."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from .documents import put_json
from .errors import S3_CALL_ERRORS, BucketNotFound, translate_client_error
from .inputs import WorkUnit
from .listing import list_prefix_level
from .splitting import Probe, split_key_space

if TYPE_CHECKING:
    from .inputs import RunRequest
    from .layout import RunLayout


def new_run_id() -> str:
    """Sortable and unique: ``20261126T163000Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class PlanResult:
    """ListPrefixes' small result: everything the Map and MergeIndex need, never the list."""

    run_id: str
    attempt: str
    bucket: str
    prefix: str
    suffix: str
    expires_in: int
    max_concurrency: int
    manifest_bucket: str
    plan_key: str
    units: int
    bucket_region: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Probe at most this many sub-prefixes for size: with more, there is parallelism enough.
PROBE_SUB_PREFIXES_MAX = 64
PAGE = 1000


def _probe_for(client: Any, bucket: str, prefix: str, *, delimited: bool) -> Probe:
    async def probe(start_after: str | None) -> tuple[list[str], bool]:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE}
        if start_after is not None:
            params["StartAfter"] = start_after
        if delimited:
            params["Delimiter"] = "/"
        try:
            page = await client.list_objects_v2(**params)
        except S3_CALL_ERRORS as exc:
            raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
        return [obj["Key"] for obj in page.get("Contents", ())], bool(page.get("IsTruncated"))

    return probe


async def _units_for(client: Any, bucket: str, prefix: str, *, delimited: bool, max_ranges: int) -> list[WorkUnit]:
    """One unit for ``prefix``, or several key ranges if it holds more than a page of keys."""
    ranges = await split_key_space(
        _probe_for(client, bucket, prefix, delimited=delimited), prefix, max_ranges=max_ranges
    )
    if len(ranges) <= 1:
        return [WorkUnit(unit=0, prefix=prefix, delimited=delimited)]
    return [
        WorkUnit(unit=0, prefix=prefix, start_after=r.start_after, end_key=r.end_key, delimited=delimited)
        for r in ranges
    ]


async def plan_units(client: Any, request: RunRequest, *, exclude_prefix: str | None = None) -> list[WorkUnit]:
    """One unit per sub-prefix, plus one for the objects directly under the prefix; a big
    flat prefix (or a big sub-prefix, when there are few) is split into key ranges."""
    level = await list_prefix_level(client, request.bucket, request.prefix)
    sub_prefixes = [p for p in level.sub_prefixes if p != exclude_prefix]
    # Aim for a few units per concurrent slot; never more than Distributed Map handles well.
    max_ranges = min(256, max(4, 2 * request.max_concurrency))
    groups: list[list[WorkUnit]]
    if len(sub_prefixes) <= PROBE_SUB_PREFIXES_MAX:
        groups = list(
            await asyncio.gather(
                *(_units_for(client, request.bucket, p, delimited=False, max_ranges=max_ranges) for p in sub_prefixes)
            )
        )
    else:
        groups = [[WorkUnit(unit=0, prefix=p)] for p in sub_prefixes]
    if level.direct_objects:
        direct = (
            await _units_for(client, request.bucket, request.prefix, delimited=True, max_ranges=max_ranges)
            if level.direct_objects > PAGE or not sub_prefixes
            else [WorkUnit(unit=0, prefix=request.prefix, delimited=True)]
        )
        groups.append(direct)
    units = [unit for group in groups for unit in group]
    return [replace(unit, unit=number) for number, unit in enumerate(units)]


async def bucket_region(client: Any, bucket: str, default: str) -> str:
    """The bucket's region: presigned URLs are only valid when signed for it."""
    try:
        response = await client.head_bucket(Bucket=bucket)
    except S3_CALL_ERRORS as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in {"404", "NoSuchBucket"}:
            raise BucketNotFound(bucket) from exc
        raise translate_client_error(exc, bucket=bucket, operation="HeadBucket") from exc
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return response.get("BucketRegion") or headers.get("x-amz-bucket-region") or default


async def write_plan(
    client: Any,
    request: RunRequest,
    units: list[WorkUnit],
    layout: RunLayout,
    manifest_bucket: str,
    *,
    region: str,
) -> PlanResult:
    # A fresh attempt id per run lets MergeIndex ignore parts left by an earlier attempt
    # of the same run_id (idempotent re-runs).
    attempt = uuid.uuid4().hex
    result = PlanResult(
        run_id=layout.run_id,
        attempt=attempt,
        bucket=request.bucket,
        prefix=request.prefix,
        suffix=request.suffix,
        expires_in=request.expires_in,
        max_concurrency=request.max_concurrency,
        manifest_bucket=manifest_bucket,
        plan_key=layout.plan_key,
        units=len(units),
        bucket_region=region,
    )
    await put_json(client, manifest_bucket, layout.plan_key, [unit.to_dict() for unit in units])
    await put_json(client, manifest_bucket, layout.run_key, {**result.to_dict(), "created_at": time.time()})
    return result
