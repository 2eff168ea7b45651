"""The planner's probing on the bounded-queue pipeline: the pipeline's guarantees hold
(no hang on a failed probe, cancellation both ways), with real asyncio tasks, no I/O."""

from __future__ import annotations

import asyncio

import pytest

from s3fanout.listing import ProbePage
from s3fanout.planner import RangePlanner
from s3fanout.probing import ProbeStream, plan_ranges


class Boom(Exception):
    pass


def test_a_failed_probe_reaches_the_planner_at_once_and_in_flight_probes_are_cancelled() -> None:
    cancelled: list[str] = []

    async def probe(point: str | None, _max_keys: int) -> ProbePage:
        if point is None:
            return ProbePage(tuple(f"k{i:04d}" for i in range(1000)), truncated=True)
        if point in ("k0999", "k1999"):  # the first pages are listed before probing
            start = int(point[1:]) + 1
            return ProbePage(tuple(f"k{i:04d}" for i in range(start, start + 1000)), truncated=True)
        if point.startswith("k9"):  # the top of the scale (k9999): fail at once
            raise Boom(point)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(point)
            raise
        return ProbePage((), truncated=False)

    async def main() -> None:
        with pytest.raises(Boom):
            await asyncio.wait_for(plan_ranges(probe, RangePlanner("", target_units=10, min_unit=10)), 5)
        # Checked before asyncio.run's own shutdown could cancel leftovers.
        assert cancelled  # the slow probes of the same round did not outlive the failure

    asyncio.run(main())


def test_a_failing_consumer_cancels_the_probes_in_flight() -> None:
    started = asyncio.Event()
    cancelled: list[str | None] = []

    async def probe(point: str | None, _max_keys: int) -> ProbePage:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(point)
            raise
        return ProbePage((), truncated=False)

    async def main() -> None:
        stream = ProbeStream(probe, lambda _point: 10, concurrency=4)
        stream.submit(["a", "b", "c"])

        async def consume() -> None:
            async for _sample in stream:
                pass

        task = asyncio.ensure_future(consume())
        await started.wait()
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sorted(cancelled) == ["a", "b", "c"]  # before asyncio.run's shutdown

    asyncio.run(asyncio.wait_for(main(), 5))


def test_at_most_concurrency_probes_run_at_once_and_all_answers_arrive() -> None:
    running = 0
    peak = 0

    async def probe(point: str | None, _max_keys: int) -> ProbePage:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return ProbePage((str(point),), truncated=False)

    async def main() -> list[str]:
        stream = ProbeStream(probe, lambda _point: 10, concurrency=3)
        stream.submit([f"p{i:02d}" for i in range(20)])
        seen: list[str] = []
        async for sample in stream:
            seen.append(sample.point or "")
            if len(seen) == 20:
                stream.close()
        return seen

    seen = asyncio.run(asyncio.wait_for(main(), 5))
    assert sorted(seen) == [f"p{i:02d}" for i in range(20)]
    assert peak == 3
