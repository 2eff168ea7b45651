"""ListPrefixes' core: turn a prefix into work units and write the plan to S3."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .documents import put_json
from .inputs import WorkUnit
from .listing import list_prefix_level

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def plan_units(client: Any, request: RunRequest) -> list[WorkUnit]:
    """One unit per sub-prefix, plus one for the objects directly under the prefix."""
    level = await list_prefix_level(client, request.bucket, request.prefix)
    units = [WorkUnit(unit=i, prefix=sub) for i, sub in enumerate(level.sub_prefixes)]
    if level.direct_objects:
        units.append(WorkUnit(unit=len(units), prefix=request.prefix, delimited=True))
    return units


async def write_plan(
    client: Any,
    request: RunRequest,
    units: list[WorkUnit],
    layout: RunLayout,
    manifest_bucket: str,
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
    )
    await put_json(client, manifest_bucket, layout.plan_key, [unit.to_dict() for unit in units])
    await put_json(client, manifest_bucket, layout.run_key, {**result.to_dict(), "created_at": time.time()})
    return result
