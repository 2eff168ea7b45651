"""MergeIndex's core: check every planned unit has its part, then publish the index."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .documents import get_json, put_json
from .errors import S3_CALL_ERRORS, PartsMissing, RunNotFound, translate_client_error
from .signing_identity import TEMPORARY_CREDENTIALS_NOTE

if TYPE_CHECKING:
    from collections.abc import Callable

    from .layout import RunLayout
    from .presign import UrlSigner

_READ_CONCURRENCY = 32


def iso8601(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class IndexResult:
    run_id: str
    count: int
    parts: int
    index_key: str
    index_url: str
    expires_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "count": self.count,
            "parts": self.parts,
            "index_key": self.index_key,
            "index_url": self.index_url,
            "expires_at": self.expires_at,
        }


async def _list_keys(client: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    try:
        async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", ()))
    except S3_CALL_ERRORS as exc:
        raise translate_client_error(exc, bucket=bucket, operation="ListObjectsV2") from exc
    return keys


async def _read_all(client: Any, bucket: str, keys: list[str]) -> list[Any]:
    limit = asyncio.Semaphore(_READ_CONCURRENCY)

    async def read(key: str) -> Any:
        async with limit:
            return await get_json(client, bucket, key)

    return await asyncio.gather(*(read(key) for key in keys))


async def load_run(client: Any, layout: RunLayout, manifest_bucket: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = await get_json(client, manifest_bucket, layout.run_key)
    plan = await get_json(client, manifest_bucket, layout.plan_key)
    if run is None or plan is None:
        raise RunNotFound(layout.run_id, f"s3://{manifest_bucket}/{layout.base}")
    return run, plan


async def collect_parts(
    client: Any, layout: RunLayout, manifest_bucket: str, run: dict[str, Any], plan: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every segment summary of this attempt, ordered; raises PartsMissing for any gap."""
    attempt = run["attempt"]
    summary_keys = await _list_keys(client, manifest_bucket, layout.summaries_prefix)
    summaries = [s for s in await _read_all(client, manifest_bucket, summary_keys) if s and s.get("attempt") == attempt]
    by_unit: dict[int, list[dict[str, Any]]] = {}
    for summary in summaries:
        by_unit.setdefault(summary["unit"], []).append(summary)

    missing: dict[int, str] = {}
    parts: list[dict[str, Any]] = []
    for item in plan:
        unit = item["unit"]
        segments = sorted(by_unit.get(unit, ()), key=lambda s: s["segment"])
        complete = (
            bool(segments) and [s["segment"] for s in segments] == list(range(len(segments))) and segments[-1]["done"]
        )
        if complete:
            parts.extend(segments)
        else:
            missing[unit] = f"prefix {item['prefix']!r}: no complete part"
    if missing:
        errors = await _read_all(client, manifest_bucket, [layout.error_key(unit) for unit in missing])
        for unit, error in zip(list(missing), errors, strict=False):
            if error and error.get("attempt") == attempt:
                missing[unit] += f" ({error['error']}: {error['message']})"
        raise PartsMissing(layout.run_id, missing)
    return parts


async def merge_index(
    client: Any,
    signer_for: Callable[[int], UrlSigner],
    layout: RunLayout,
    manifest_bucket: str,
    *,
    url_credentials: str = "long-term",
) -> IndexResult:
    """``signer_for(expires_in)`` signs keys of the manifest bucket."""
    run, plan = await load_run(client, layout, manifest_bucket)
    parts = await collect_parts(client, layout, manifest_bucket, run, plan)
    now = time.time()
    expires_in = int(run["expires_in"])
    part_signer = signer_for(expires_in)
    # Object URLs were signed when their part was built: the index is only as good as the oldest.
    signed_at = min([p["signed_at"] for p in parts], default=now)
    expires_at = iso8601(signed_at + expires_in)
    index = {
        "run_id": layout.run_id,
        "bucket": run["bucket"],
        "prefix": run["prefix"],
        "suffix": run["suffix"],
        "created_at": iso8601(now),
        "expires_at": expires_at,
        # signing-identity | temporary | long-term: temporary credentials can end before expires_at.
        "url_credentials": url_credentials,
        "count": sum(p["count"] for p in parts),
        "object_bytes": sum(p["object_bytes"] for p in parts),
        "parts": [
            {
                "prefix": p["prefix"],
                "count": p["count"],
                "bytes": p["bytes"],
                "object_bytes": p["object_bytes"],
                "key": p["part_key"],
                "url": part_signer.presign_get(p["part_key"]),
            }
            for p in parts
        ],
    }
    if url_credentials == "temporary":
        index["note"] = TEMPORARY_CREDENTIALS_NOTE
    await put_json(client, manifest_bucket, layout.index_key, index)
    return IndexResult(
        run_id=layout.run_id,
        count=index["count"],
        parts=len(parts),
        index_key=layout.index_key,
        index_url=part_signer.presign_get(layout.index_key),
        expires_at=expires_at,
    )
