"""run_pipeline: ordering, back-pressure, error propagation and cancellation (no S3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from s3fanout.pipeline import STOP, Verdict, run_pipeline

TIMEOUT = 5.0


def run(coroutine: Any) -> Any:
    """Every test runs under a timeout: a hang is a failure (TimeoutError), not a stuck suite."""

    async def bounded() -> Any:
        async with asyncio.timeout(TIMEOUT):  # no extra task, unlike wait_for before 3.12
            return await coroutine

    return asyncio.run(bounded())


def other_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current and not task.done()}


async def numbers(count: int) -> AsyncIterator[int]:
    for i in range(count):
        yield i


class Source:
    """An async source that records how far it got and whether it was cancelled."""

    def __init__(self, items: int, *, hang: bool = False) -> None:
        self.items = items
        self.hang = hang  # after the items, wait forever instead of ending
        self.produced = 0
        self.cancelled = False
        self.finished = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[int]:
        try:
            for i in range(self.items):
                self.produced += 1
                yield i
            if self.hang:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.finished.set()


@pytest.mark.parametrize("count", [0, 1, 7, 500])
@pytest.mark.parametrize("maxsize", [1, 8])
def test_every_item_is_delivered_once_in_order(count: int, maxsize: int) -> None:
    got: list[int] = []

    async def main() -> Any:
        return await run_pipeline(numbers(count), got.append, maxsize=maxsize)

    stats = run(main())
    assert got == list(range(count))
    assert stats.items == count


@pytest.mark.parametrize("maxsize", [1, 3, 8])
def test_queue_is_bounded_the_producer_is_at_most_maxsize_plus_one_ahead(maxsize: int) -> None:
    source = Source(200)
    consumed = 0
    ahead: list[int] = []

    async def slow_consume(_item: int) -> None:
        nonlocal consumed
        consumed += 1
        ahead.append(source.produced - consumed)
        for _ in range(5):  # give the producer every chance to run ahead
            await asyncio.sleep(0)

    async def main() -> Any:
        return await run_pipeline(source, slow_consume, maxsize=maxsize)

    stats = run(main())
    assert consumed == 200
    # One item may be in the producer's hands, blocked on the full queue.
    assert max(ahead) <= maxsize + 1
    # ... and the producer did run ahead, so the bound above was really tested.
    assert max(ahead) >= maxsize
    assert stats.max_queue_depth <= maxsize


@pytest.mark.parametrize("maxsize", [3, 8])  # 3: the queue is full when the producer fails
def test_a_producer_error_reaches_the_caller_and_queued_items_are_dropped(maxsize: int) -> None:
    error = ValueError("listing page 5 failed")
    first_taken = asyncio.Event()
    failed = asyncio.Event()
    produced = 0
    consumed: list[int] = []

    async def source() -> AsyncIterator[int]:
        nonlocal produced
        for i in range(4):
            produced += 1
            yield i
        await first_taken.wait()
        failed.set()
        raise error

    async def consume(item: int) -> None:
        consumed.append(item)
        if item == 0:
            # Hold the first item until the producer has failed with items 1..3 queued.
            first_taken.set()
            await failed.wait()

    async def main() -> set[asyncio.Task[Any]]:
        with pytest.raises(ValueError, match="listing page 5 failed") as raised:
            await run_pipeline(source(), consume, maxsize=maxsize)
        assert raised.value is error
        return other_tasks()

    assert run(main()) == set()
    assert produced == 4
    # Items 1..3 were queued before the error; they must not be processed after it.
    assert consumed == [0]


def test_a_producer_error_while_the_consumer_waits_is_raised_at_once() -> None:
    class Boom(Exception):
        pass

    async def failing() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(0.05)
        raise Boom("gone")

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(Boom):
            await run_pipeline(failing(), lambda _item: None, maxsize=4)
        return loop.time() - start

    # Without the error reaching it, the consumer would wait forever; 10 s leaves room for
    # a busy machine.
    assert run(main()) < 10


def test_a_producer_error_before_any_item() -> None:
    async def failing() -> AsyncIterator[int]:
        raise KeyError("first page")
        yield 0  # pragma: no cover - makes this an async generator

    got: list[int] = []

    async def main() -> None:
        await run_pipeline(failing(), got.append, maxsize=2)

    with pytest.raises(KeyError, match="first page"):
        run(main())
    assert got == []


@pytest.mark.parametrize("consumer_kind", ["sync", "async"])
def test_a_consumer_error_cancels_a_waiting_producer(consumer_kind: str) -> None:
    source = Source(5, hang=True)  # after 5 items the producer waits forever

    def sync_consume(item: int) -> None:
        if item == 2:
            raise RuntimeError(f"cannot write item {item}")

    async def async_consume(item: int) -> None:
        await asyncio.sleep(0)
        sync_consume(item)

    consume = sync_consume if consumer_kind == "sync" else async_consume

    async def main() -> set[asyncio.Task[Any]]:
        with pytest.raises(RuntimeError, match="cannot write item 2"):
            await run_pipeline(source, consume, maxsize=8)
        return other_tasks()

    leftover = run(main())
    assert source.cancelled
    assert source.finished.is_set()
    assert leftover == set()


def test_a_consumer_error_with_an_infinite_producer_does_not_hang() -> None:
    produced = 0

    async def endless() -> AsyncIterator[int]:
        nonlocal produced
        i = 0
        while True:
            produced += 1
            yield i
            i += 1

    async def consume(item: int) -> None:
        if item == 50:
            raise OSError("disk full")

    async def main() -> set[asyncio.Task[Any]]:
        with pytest.raises(OSError, match="disk full"):
            await run_pipeline(endless(), consume, maxsize=4)
        return other_tasks()

    assert run(main()) == set()
    assert produced <= 51 + 4 + 1


@pytest.mark.parametrize("consumer_kind", ["sync", "async"])
def test_sync_and_async_consumers_see_the_same_items(consumer_kind: str) -> None:
    got: list[int] = []

    def sync_consume(item: int) -> None:
        got.append(item * 10)

    async def async_consume(item: int) -> None:
        await asyncio.sleep(0)
        got.append(item * 10)

    async def main() -> Any:
        consume = sync_consume if consumer_kind == "sync" else async_consume
        return await run_pipeline(numbers(25), consume, maxsize=3)

    stats = run(main())
    assert got == [i * 10 for i in range(25)]
    assert stats.items == 25


@pytest.mark.parametrize("consumer_kind", ["sync", "async"])
def test_a_consumer_that_says_stop_ends_the_run_and_the_producer(consumer_kind: str) -> None:
    source = Source(3, hang=True)  # would never end by itself
    got: list[int] = []

    def sync_consume(item: int) -> Verdict:
        if item == 2:
            return STOP
        got.append(item)
        return None

    async def async_consume(item: int) -> Verdict:
        await asyncio.sleep(0)
        return sync_consume(item)

    async def main() -> Any:
        stats = await run_pipeline(source, sync_consume if consumer_kind == "sync" else async_consume, maxsize=4)
        return stats, other_tasks()

    stats, left = run(main())
    assert got == [0, 1]
    assert stats.items == 2
    assert source.cancelled
    assert not left


def test_cancelling_the_caller_cancels_the_producer() -> None:
    source = Source(2, hang=True)
    consumed: list[int] = []
    both_seen = asyncio.Event()

    def consume(item: int) -> None:
        consumed.append(item)
        if len(consumed) == 2:
            both_seen.set()

    async def main() -> set[asyncio.Task[Any]]:
        caller = asyncio.create_task(run_pipeline(source, consume, maxsize=4))
        await both_seen.wait()
        await asyncio.sleep(0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        return other_tasks()

    leftover = run(main())
    assert consumed == [0, 1]
    assert source.cancelled
    assert leftover == set()


def test_cancelling_the_caller_while_the_producer_is_blocked_on_a_full_queue() -> None:
    source = Source(1000)
    started = asyncio.Event()

    async def consume(_item: int) -> None:
        started.set()
        await asyncio.Event().wait()  # the consumer never finishes

    async def main() -> set[asyncio.Task[Any]]:
        caller = asyncio.create_task(run_pipeline(source, consume, maxsize=2))
        await started.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        return other_tasks()

    assert run(main()) == set()
    assert source.produced <= 1 + 2 + 1


def test_gather_or_cancel_leaves_nothing_running_after_a_failure() -> None:
    from s3fanout.pipeline import gather_or_cancel

    finished: list[str] = []

    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        finally:
            finished.append("slow")
        return "slow"

    async def failing() -> str:
        await asyncio.sleep(0)
        raise RuntimeError("write refused")

    async def main() -> None:
        with pytest.raises(RuntimeError, match="write refused"):
            await gather_or_cancel(slow(), failing())
        # The sibling was cancelled and awaited before the error reached us.
        assert finished == ["slow"]
        assert await gather_or_cancel(asyncio.sleep(0, "a"), asyncio.sleep(0, "b")) == ["a", "b"]

    asyncio.run(main())
