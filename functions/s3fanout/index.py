"""MergeIndex's core: check every planned unit has its part, then publish the index."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .documents import get_json, put_json
from .errors import PartsMissing, RunNotFound
from .listing import list_keys
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


def _chain(summaries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """One unit's (or piece's) segments in order if they form a finished chain: segments
    0..n without a gap, the last one done or spread into pieces; else None."""
    segments = sorted(summaries, key=lambda s: s["segment"])
    if not segments or [s["segment"] for s in segments] != list(range(len(segments))):
        return None
    last = segments[-1]
    return segments if last["done"] or last.get("pieces") else None


async def collect_parts(
    client: Any, layout: RunLayout, manifest_bucket: str, run: dict[str, Any], plan: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every segment summary of this attempt in key order; raises PartsMissing for any gap.

    A unit's parts are its segments, then - if it spread - each piece's segments.
    """
    attempt = run["attempt"]
    summary_keys = await list_keys(client, manifest_bucket, layout.summaries_prefix)
    summaries = [s for s in await _read_all(client, manifest_bucket, summary_keys) if s and s.get("attempt") == attempt]
    by_piece: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for summary in summaries:
        by_piece.setdefault((summary["unit"], summary.get("child", 0)), []).append(summary)

    missing: dict[tuple[int, int], str] = {}
    parts: list[dict[str, Any]] = []
    for item in plan:
        unit = item["unit"]
        chain = _chain(by_piece.get((unit, 0), []))
        if chain is None:
            missing[unit, 0] = f"prefix {item['prefix']!r}: no complete part"
            continue
        parts.extend(chain)
        for child in range(1, chain[-1].get("pieces", 0) + 1):
            piece = _chain(by_piece.get((unit, child), []))
            if piece is None:
                missing[unit, child] = f"prefix {item['prefix']!r}, piece {child}: no complete part"
            else:
                parts.extend(piece)
    if missing:
        errors = await _read_all(client, manifest_bucket, [layout.error_key(u, c) for u, c in missing])
        for where, error in zip(list(missing), errors, strict=False):
            if error and error.get("attempt") == attempt:
                missing[where] += f" ({error['error']}: {error['message']})"
        by_unit: dict[int, str] = {}
        for (unit, _child), why in missing.items():
            by_unit[unit] = f"{by_unit[unit]}; {why}" if unit in by_unit else why
        raise PartsMissing(layout.run_id, by_unit)
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
                "first_key": p.get("first_key"),
                "last_key": p.get("last_key"),
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
