"""The async bounded-queue pipeline: BuildManifest's listing (pages in, presigned lines
out) and ListPrefixes' probing (probe pages in, the next round's probes out) run on it.

A producer task drains an async iterable into an ``asyncio.Queue(maxsize=...)``; the
caller's task consumes. Guarantees:

* the producer always delivers an end-of-stream marker (``finally``), carrying its error if
  it failed, so the consumer never waits forever;
* a producer error reaches the caller as soon as the consumer next looks at the queue -
  items still queued behind it are dropped, not processed;
* a consumer error (or cancellation) cancels the producer, and the caller gets the error;
* a consumer that returns ``STOP`` ends the run there: the producer is cancelled and what
  is still queued is dropped (BuildManifest stopping at a page boundary).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final, Generic, Literal, TypeVar

T = TypeVar("T")


class _Stop(Enum):
    STOP = "stop"


# What a consumer returns to end the pipeline early; None (or nothing) goes on.
STOP: Final = _Stop.STOP
Verdict = Literal[_Stop.STOP] | None


@dataclass(frozen=True)
class _EndOfStream:
    error: BaseException | None = None


@dataclass
class PipelineStats:
    items: int = 0
    max_queue_depth: int = 0


class _Producer(Generic[T]):
    def __init__(self, source: AsyncIterable[T], queue: asyncio.Queue[T | _EndOfStream]) -> None:
        self.source = source
        self.queue = queue
        self.error: BaseException | None = None

    async def run(self) -> None:
        end = _EndOfStream()
        try:
            async for item in self.source:
                await self.queue.put(item)
        except asyncio.CancelledError:
            # The consumer is gone and nobody reads the marker; do not block on a full queue.
            end = None  # type: ignore[assignment]
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, not swallowed
            self.error = exc
            end = _EndOfStream(exc)
        finally:
            if end is not None:
                if end.error is not None:
                    # Make room so the marker lands even if the queue is full.
                    while self.queue.full():
                        self.queue.get_nowait()
                await self.queue.put(end)


async def run_pipeline(
    source: AsyncIterable[T],
    consume: Callable[[T], Awaitable[Verdict] | Verdict],
    *,
    maxsize: int,
) -> PipelineStats:
    """Feed ``source`` through a bounded queue into ``consume`` until exhausted.

    ``consume`` may be a coroutine function or a plain function (cheap CPU work need not pay
    for an await per item); it returns ``STOP`` to end the run before this item, which is
    not counted.
    """
    queue: asyncio.Queue[T | _EndOfStream] = asyncio.Queue(maxsize=maxsize)
    producer = _Producer(source, queue)
    task = asyncio.create_task(producer.run(), name="pipeline-producer")
    stats = PipelineStats()
    try:
        while True:
            stats.max_queue_depth = max(stats.max_queue_depth, queue.qsize())
            item = await queue.get()
            if producer.error is not None:
                raise producer.error
            if isinstance(item, _EndOfStream):
                if item.error is not None:
                    raise item.error
                break
            result = consume(item)
            if result is not None and result is not STOP:
                result = await result
            if result is STOP:
                break
            stats.items += 1
    finally:
        if not task.done():
            task.cancel()
        # Collect the producer so its exception is never "never retrieved".
        await asyncio.gather(task, return_exceptions=True)
    return stats


async def gather_or_cancel(*awaitables: Awaitable[T]) -> list[T]:
    """``asyncio.gather``, but when one fails the others are cancelled and awaited before the
    error goes on: none is left running when the invocation's event loop closes."""
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
