"""ListPrefixes' core: turn a prefix into work units and write the plan to S3."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from .errors import S3_CALL_ERRORS, BucketNotFound, error_code, translate_client_error
from .listing import ProbePage, probe_page
from .pipeline import run_pipeline
from .planner import KeyRange, RangePlanner, Sample
from .records import RunRecord, WorkUnit

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .inputs import RunRequest


def new_run_id() -> str:
    """Sortable and unique: ``20261126T163000Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


# Probes in flight at once (the client's connection pool holds 32).
PROBE_CONCURRENCY = 32
# Units per Map slot: a few per slot evens out the slots' totals without costing many
# more invocations.
UNITS_PER_SLOT = 2


class ProbeStream:
    """The pipeline's producer for planning: probes submitted by the consumer run
    concurrently (at most ``concurrency``) and their pages come out as they arrive.

    The stream ends when the consumer calls :meth:`close` and nothing is in flight; a
    failed probe ends it with that error; cancelling it cancels every probe in flight.
    """

    def __init__(
        self,
        probe: Callable[[str | None, int], Awaitable[ProbePage]],
        size: Callable[[str | None], int],
        concurrency: int,
    ) -> None:
        self._size = size
        self._probe = probe
        self._concurrency = concurrency
        self._pending: deque[str | None] = deque()
        self._wake = asyncio.Event()
        self._closed = False

    def submit(self, points: list[str | None]) -> None:
        self._pending.extend(points)
        self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def _ask(self, point: str | None) -> Sample:
        page = await self._probe(point, self._size(point))
        return Sample(point, page.keys, page.truncated)

    async def __aiter__(self) -> AsyncIterator[Sample]:
        running: set[asyncio.Task[Sample]] = set()
        done: set[asyncio.Task[Sample]] = set()
        try:
            while True:
                while self._pending and len(running) < self._concurrency:
                    running.add(asyncio.ensure_future(self._ask(self._pending.popleft())))
                if not running:
                    if self._closed:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                while done:
                    yield done.pop().result()
        finally:
            for task in running:
                task.cancel()
            # Probes that finished with the one that failed: retrieve their outcome too.
            await asyncio.gather(*running, *done, return_exceptions=True)


async def plan_ranges(
    probe: Callable[[str | None, int], Awaitable[ProbePage]],
    planner: RangePlanner,
    *,
    concurrency: int = PROBE_CONCURRENCY,
) -> list[KeyRange]:
    """Run ``planner``'s rounds with ``probe`` on the bounded-queue pipeline: probe pages
    in (producer), refinement and the next round's probes out (consumer)."""
    stream = ProbeStream(probe, planner.page_size, concurrency)
    outstanding = 0

    def refine(sample: Sample) -> None:
        nonlocal outstanding
        planner.record(sample)
        outstanding -= 1
        if outstanding == 0:  # a round is complete: decide the next one
            points = planner.next_round()
            outstanding = len(points)
            if points:
                stream.submit(points)
            else:
                stream.close()

    first = planner.initial()
    outstanding = len(first)
    stream.submit(first)
    pipeline = await run_pipeline(stream, refine, maxsize=concurrency)
    planner.queue_peak = pipeline.max_queue_depth
    return planner.ranges()


async def plan_units(
    client: S3Client,
    request: RunRequest,
    *,
    min_unit: int = 5_000,
    stats: dict[str, int] | None = None,
) -> list[WorkUnit]:
    """Key-range units of about equal size covering every key under the prefix.

    Earlier runs' manifests (when they share the source bucket) are planned like any keys
    and skipped by BuildManifest. ``stats`` (if given) receives the number of probes and rounds.
    """

    async def probe(start_after: str | None, max_keys: int) -> ProbePage:
        return await probe_page(client, request.bucket, request.prefix, start_after, max_keys=max_keys)

    planner = RangePlanner(
        request.prefix,
        target_units=UNITS_PER_SLOT * request.max_concurrency,
        min_unit=min_unit,
        slots=request.max_concurrency,
    )
    ranges = await plan_ranges(probe, planner)
    if stats is not None:
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


# A unit far bigger than planned spreads its rest into at most this many pieces, run at
# once by the workflow (an INLINE Map inside the unit's Distributed Map iteration).
MAX_PIECES = 40


async def plan_pieces(
    client: S3Client, bucket: str, work: WorkUnit, start_after: str, *, piece_size: int
) -> list[KeyRange]:
    """The rest of an oversized unit - keys in (start_after, work.end_key] - as pieces of
    about ``piece_size`` keys (fewer, bigger ones past MAX_PIECES)."""

    async def probe(point: str | None, max_keys: int) -> ProbePage:
        return await probe_page(client, bucket, work.prefix, point, max_keys=max_keys)

    planner = RangePlanner(
        work.prefix, target_units=MAX_PIECES, start_after=start_after, end_key=work.end_key, min_unit=piece_size
    )
    return await plan_ranges(probe, planner)


async def bucket_region(client: S3Client, bucket: str, default: str) -> str:
    """The bucket's region: presigned URLs are only valid when signed for it."""
    try:
        response = await client.head_bucket(Bucket=bucket)
    except S3_CALL_ERRORS as exc:
        if error_code(exc) in {"404", "NoSuchBucket"}:
            raise BucketNotFound(bucket) from exc
        raise translate_client_error(exc, bucket=bucket, operation="HeadBucket") from exc
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return response.get("BucketRegion") or headers.get("x-amz-bucket-region") or default


def run_record(
    request: RunRequest, run_id: str, *, units: int, manifest_bucket: str, plan_key: str, region: str
) -> RunRecord:
    """The run's record, with a fresh attempt id: MergeIndex then ignores whatever an
    earlier attempt of the same run_id left (idempotent re-runs)."""
    return RunRecord(
        run_id=run_id,
        attempt=uuid.uuid4().hex,
        bucket=request.bucket,
        prefix=request.prefix,
        suffix=request.suffix,
        expires_in=request.expires_in,
        max_concurrency=request.max_concurrency,
        manifest_bucket=manifest_bucket,
        plan_key=plan_key,
        units=units,
        bucket_region=region,
        created_at=time.time(),
        **request.filters.to_json(),
    )
