"""Every read and write under ``manifests/{run_id}/`` (keys from ``RunLayout``, documents
from ``s3fanout.records``): the one place that knows where a run keeps what."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

from .documents import get_json, head_etag, head_object, put_document, put_json, stream_body
from .listing import list_keys
from .part_metadata import summary_from_metadata
from .pipeline import gather_or_cancel
from .records import ErrorRecord, IndexDocument, PartSummary, RunRecord, WorkUnit

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from types_aiobotocore_s3 import S3Client

    from .layout import RunLayout

# Concurrent GETs (or HEADs) when reading a run's summaries and checking its parts (one per part).
READ_CONCURRENCY = 32
T = TypeVar("T")


class RunStore:
    def __init__(self, client: S3Client, bucket: str, layout: RunLayout) -> None:
        self.client = client
        self.bucket = bucket
        self.layout = layout
        # Each part's ETag as ``summaries`` read it (see ``etags``).
        self._part_etags: dict[str, str] = {}

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.layout.base}"

    # -- ListPrefixes ---------------------------------------------------------------------
    async def write_plan(self, units: list[WorkUnit]) -> None:
        await put_json(self.client, self.bucket, self.layout.plan_key, [unit.map_item() for unit in units])

    async def write_run(self, record: RunRecord) -> None:
        await put_json(self.client, self.bucket, self.layout.run_key, record.to_json())

    # -- BuildManifest --------------------------------------------------------------------
    async def read_run(self) -> RunRecord | None:
        data = await get_json(self.client, self.bucket, self.layout.run_key)
        return None if data is None else RunRecord.from_json(data)

    async def write_summary(self, summary: PartSummary) -> None:
        key = self.layout.summary_key(summary.unit, summary.segment, summary.child)
        await put_json(self.client, self.bucket, key, summary.to_json())

    async def write_error(self, record: ErrorRecord) -> None:
        await put_json(self.client, self.bucket, self.layout.error_key(record.unit, record.child), record.to_json())

    # -- MergeIndex -----------------------------------------------------------------------
    async def read_plan(self) -> list[WorkUnit] | None:
        data = await get_json(self.client, self.bucket, self.layout.plan_key)
        return None if data is None else [WorkUnit.from_json(item) for item in data]

    async def write_round(self, number: int, items: list[dict[str, Any]]) -> None:
        await put_json(self.client, self.bucket, self.layout.round_key(number), items)

    async def read_rounds(self, numbers: list[int]) -> list[list[dict[str, Any]]]:
        """The items of these Map rounds (a round not found reads as empty)."""
        documents = await self._read_all([self.layout.round_key(number) for number in numbers])
        return [document or [] for document in documents]

    async def summaries(self, attempt: str) -> list[PartSummary]:
        """Every summary this attempt wrote (earlier attempts' are ignored): those its parts
        carry (s3fanout.part_metadata; a HeadObject per part, which also reads the ETag
        ``etags`` answers with) and the ``summaries/`` objects of the rest. A part's own
        summary describes its bytes as they are: it wins over an object for the same part."""
        summary_keys, part_keys = await gather_or_cancel(
            list_keys(self.client, self.bucket, self.layout.summaries_prefix),
            list_keys(self.client, self.bucket, self.layout.parts_prefix),
        )
        documents, heads = await gather_or_cancel(
            self._read_all(summary_keys),
            self._each(part_keys, lambda key: head_object(self.client, self.bucket, key)),
        )
        found: dict[tuple[int, int, int], PartSummary] = {}
        for document in documents:
            if document:
                summary = PartSummary.from_json(document)
                if summary.attempt == attempt:
                    found[summary.unit, summary.segment, summary.child] = summary
        for key, head in zip(part_keys, heads, strict=True):
            if head is None:
                continue  # (gone since it was listed)
            etag, metadata = head
            if etag is not None:
                self._part_etags[key] = etag
            carried = summary_from_metadata(metadata, etag)
            if carried is not None and carried.attempt == attempt and carried.part_key == key:
                found[carried.unit, carried.segment, carried.child] = carried
        return list(found.values())

    async def errors(self, where: list[tuple[int, int]], attempt: str) -> dict[tuple[int, int], ErrorRecord]:
        """This attempt's error records for these (unit, child) pairs, where there are any."""
        documents = await self._read_all([self.layout.error_key(unit, child) for unit, child in where])
        found: dict[tuple[int, int], ErrorRecord] = {}
        for pair, document in zip(where, documents, strict=True):
            if document:
                record = ErrorRecord.from_json(document)
                if record.attempt == attempt:
                    found[pair] = record
        return found

    async def write_index(self, index: IndexDocument) -> None:
        await put_json(self.client, self.bucket, self.layout.index_key, index.to_json())

    def stream_part(self, key: str, chunk_size: int) -> AsyncGenerator[bytes]:
        """A part's lines in chunks as they arrive (a part that was never written - an empty unit
        - has none)."""
        return stream_body(self.client, self.bucket, key, chunk_size)

    async def write_page(self, page: bytes, content_type: str) -> None:
        await put_document(self.client, self.bucket, self.layout.page_key, page, content_type)

    async def write_fetch_tool(self, tool: bytes, content_type: str) -> None:
        await put_document(self.client, self.bucket, self.layout.fetch_tool_key, tool, content_type)

    async def etags(self, keys: list[str]) -> list[str | None]:
        """Each object's ETag as it is now (None: not there): as ``summaries`` just read it
        for a part it found (a second HeadObject per part would only cost), else asked."""
        known = self._part_etags

        async def etag(key: str) -> str | None:
            return known[key] if key in known else await head_etag(self.client, self.bucket, key)

        return await self._each(keys, etag)

    async def _read_all(self, keys: list[str]) -> list[Any]:
        return await self._each(keys, lambda key: get_json(self.client, self.bucket, key))

    async def _each(self, keys: list[str], call: Callable[[str], Awaitable[T]]) -> list[T]:
        """``call(key)`` for every key, ``READ_CONCURRENCY`` at a time, results in key order."""
        limit = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(key: str) -> T:
            async with limit:
                return await call(key)

        return await gather_or_cancel(*(one(key) for key in keys))
