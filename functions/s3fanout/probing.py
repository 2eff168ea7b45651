"""The planner's rounds on the bounded-queue pipeline: probe pages in, the next round's
probes out. ListPrefixes plans a run's units with it, BuildManifest an oversized unit's
pieces."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from .listing import ProbePage
from .pipeline import run_pipeline
from .planner import KeyRange, RangePlanner, Sample

# Probes in flight at once by default: the shared client's pool (s3.CLIENT_CONFIG) holds 32.
# ListPrefixes plans with more, on a client pooling as many (s3.PLANNING_CONCURRENCY).
PROBE_CONCURRENCY = 32


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
