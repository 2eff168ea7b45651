"""ListPrefixes' core: a prefix's work units, planned by probing the listing, and the run
(``plan.json``, ``run.json``) written for the workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .list_probe import HttpSessions, lean_prober
from .planner import RangePlanner
from .probing import plan_ranges
from .records import PlanResult, RunRecord, WorkUnit
from .s3 import PLANNING_CONCURRENCY, bucket_region

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .records import RunRequest
    from .store import RunStore


# Units per Map slot: a few per slot evens out the slots' totals without costing many
# more invocations.
UNITS_PER_SLOT = 2


async def plan_units(
    client: S3Client,
    request: RunRequest,
    *,
    min_unit: int = 5_000,
    stats: dict[str, int] | None = None,
    concurrency: int = PLANNING_CONCURRENCY,
    region: str | None = None,
    http_sessions: HttpSessions | None = None,
) -> list[WorkUnit]:
    """Key-range units of about equal size covering every key under the prefix.

    Earlier runs' manifests (when they share the source bucket) are planned like any keys
    and skipped by BuildManifest. ``stats`` (if given) receives the number of probes and rounds.
    ``concurrency`` probes are in flight at once: ``client`` should pool as many connections
    (s3.PLANNING_CLIENT_CONFIG); a smaller pool makes the rest wait for a connection. Probes
    go lean (s3fanout.list_probe: own signer, one raw GET each) where that is proven for
    ``client``, through ``client`` otherwise and whenever a lean one is not answered plainly.
    ``region`` is the bucket's, if known (in another region than the client's: no lean probes).
    ``http_sessions``: where the lean probes' aiohttp session comes from (s3fanout.runtime's,
    kept per process); None: one of this run's own.
    """
    planner = RangePlanner(
        request.prefix,
        target_units=UNITS_PER_SLOT * request.max_concurrency,
        min_unit=min_unit,
        slots=request.max_concurrency,
    )
    probes: dict[str, int] = {}
    async with lean_prober(
        client,
        request.bucket,
        request.prefix,
        concurrency=concurrency,
        stats=probes,
        region=region,
        http_sessions=http_sessions,
    ) as probe:
        ranges = await plan_ranges(probe, planner, concurrency=concurrency)
    if stats is not None:
        stats.update(probes)
        stats.update(probes=planner.probes, rounds=planner.rounds, units=len(ranges), queue_peak=planner.queue_peak)
    return [
        WorkUnit(
            unit=number,
            prefix=request.prefix,
            start_after=r.start_after,
            end_key=r.end_key,
            estimate=r.estimate,
        )
        for number, r in enumerate(ranges)
    ]


async def plan_run(
    client: S3Client,
    request: RunRequest,
    run_id: str,
    store: RunStore,
    *,
    min_unit: int,
    default_region: str,
    http_sessions: HttpSessions | None = None,
) -> PlanResult:
    """Plan ``request``'s units and write the plan, then the run record (in ``store``).
    ``http_sessions``: as :func:`plan_units`."""
    region = await bucket_region(client, request.bucket, default=default_region)
    stats: dict[str, int] = {}
    units = await plan_units(
        client, request, min_unit=min_unit, stats=stats, region=region, http_sessions=http_sessions
    )
    record = RunRecord.of(
        request,
        run_id,
        units=len(units),
        manifest_bucket=store.bucket,
        plan_key=store.layout.plan_key,
        region=region,
    )
    await store.write_plan(units)
    await store.write_run(record)
    return PlanResult(record, units, stats)
