"""BuildManifest's core: list a work unit, filter, presign, stream a JSONL part to S3; the
oversize policy (a unit far bigger than planned spreads its rest into pieces); and one
invocation's bookkeeping (``build_part``: the summary, an error record, what runs next)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import FanoutError, RunNotFound
from .listing import ObjectEntry, ProbePage, iter_object_pages, probe_page
from .observability import logger
from .part_metadata import summary_metadata
from .pipeline import STOP, Verdict, run_pipeline
from .planner import KeyRange, RangePlanner
from .probing import plan_ranges
from .records import BuildRequest, BuildResult, ErrorRecord, PartSummary
from .writer import StreamingUpload

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

    from .layout import RunLayout
    from .presign import UrlSigner
    from .records import WorkUnit
    from .store import RunStore

JSONL_CONTENT_TYPE = "application/x-ndjson"
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def folder_of(keys: list[str], prefix: str) -> str:
    """The deepest folder (``.../``) holding every key, at least ``prefix``: what a part of
    a key-range unit covers, in a reader's terms."""
    if not keys:
        return prefix
    first, last = keys[0], keys[-1]
    n = min(len(first), len(last))
    i = 0
    while i < n and first[i] == last[i]:
        i += 1
    common = first[:i]
    cut = common.rfind("/", len(prefix)) + 1
    return common[:cut] if cut > len(prefix) else prefix


def suffix_matcher(suffix: str) -> Callable[[str], bool]:
    """Case-insensitive suffix test; "" matches every key."""
    if not suffix:
        return lambda _key: True
    folded = suffix.casefold()
    if folded.isascii():
        lowered = suffix.lower()
        width = len(lowered)
        return lambda key: key[-width:].lower() == lowered
    return lambda key: key.casefold().endswith(folded)


def manifest_lines(entries: list[ObjectEntry], signer: UrlSigner) -> bytes:
    """JSONL lines ``{"key", "size", "etag", "last_modified", "url"}`` for a batch; one join
    per page, not per line. ``etag`` is the ETag without its quotes and ``last_modified`` S3's
    listing text, both as listed (a recipient checks its download against them)."""
    presign = signer.presign_get
    # URLs are plain ASCII with no quotes or backslashes; the listed texts are escaped like keys.
    lines = [
        f'{{"key":{_dumps(key)},"size":{size},"etag":{_dumps(etag)},"last_modified":{_dumps(modified)},'
        f'"url":"{presign(key)}"}}\n'
        for key, size, _why, modified, etag in entries
    ]
    return "".join(lines).encode("utf-8")


# A planned unit that lists this many times its estimate (and of the minimum unit size)
# while more keys follow is far bigger than planned: it spreads the rest into pieces
# built in parallel instead of listing it alone.
OVERSIZE_FACTOR = 2
# It spreads into at most this many pieces, run at once by the workflow (an INLINE Map
# inside the unit's Distributed Map iteration).
MAX_PIECES = 40


def oversized_at(request: BuildRequest, min_unit: int) -> int | None:
    """Keys listed after which this invocation stops to spread the rest (None: never)."""
    work = request.work
    if request.child or work.estimate is None:
        return None  # pieces do not spread again; hand-made events carry no estimate
    return OVERSIZE_FACTOR * max(work.estimate, min_unit)


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


async def spread_pieces(
    client: S3Client, request: BuildRequest, part: PartSummary, min_unit: int
) -> list[BuildRequest]:
    """For a unit that stopped as oversized: the rest of its range in pieces (none when the
    rest is small enough for one: it then simply continues)."""
    if not part.oversized or part.next_start_after is None:
        return []
    piece_size = max(request.work.estimate or 0, min_unit)
    ranges = await plan_pieces(client, request.bucket, request.work, part.next_start_after, piece_size=piece_size)
    return request.pieces(ranges) if len(ranges) > 1 else []


@dataclass(slots=True)
class PartTally:
    """What one part has seen so far: listed keys, written lines and where each stopped."""

    listed: int = 0
    count: int = 0
    object_bytes: int = 0
    last_listed: str | None = None
    first_written: str | None = None
    last_written: str | None = None
    # Keys that matched but got no link, by reason (PartSummary.skipped).
    skipped: dict[str, int] = field(default_factory=dict)
    stopped: bool = False
    oversized: bool = False


class PartWriter:
    """The pipeline's consumer: one page of listed objects in, their manifest lines out.

    Says STOP at a page boundary when the deadline nears (``should_stop``) or the unit
    turns out far bigger than planned (``oversized_at`` keys listed).
    """

    def __init__(
        self,
        upload: StreamingUpload,
        signer: UrlSigner,
        matches: Callable[[str], bool],
        request: BuildRequest,
        *,
        should_stop: Callable[[], bool],
        oversized_at: int | None,
    ) -> None:
        self.upload = upload
        self.signer = signer
        self.matches = matches
        self.filters = request.filters if request.filters.active else None
        self.should_stop = should_stop
        self.oversized_at = oversized_at
        self.tally = PartTally()

    def _stop_before(self) -> Verdict:
        # Checked when another page is ready, not after the last one: a unit whose listing
        # is complete is done, however late. At least one page per segment: progress.
        tally = self.tally
        if not tally.listed:
            return None
        if self.should_stop():
            tally.stopped = True
            return STOP
        if self.oversized_at is not None and tally.listed >= self.oversized_at:
            tally.stopped = tally.oversized = True
            return STOP
        return None

    async def __call__(self, entries: list[ObjectEntry]) -> Verdict:
        if not entries:  # a range's last page can end before its first key
            return None
        if self._stop_before() is STOP:
            return STOP
        tally, matches, filters, skipped = self.tally, self.matches, self.filters, self.tally.skipped
        tally.listed += len(entries)
        tally.last_listed = entries[-1].key
        selected = []
        for entry in entries:
            if matches(entry.key) and (filters is None or filters.admits(entry.size, entry.last_modified)):
                if entry.not_shared is None:
                    selected.append(entry)
                else:  # would match, but gets no link: counted by reason
                    skipped[entry.not_shared] = skipped.get(entry.not_shared, 0) + 1
        if selected:
            if tally.first_written is None:
                tally.first_written = selected[0].key
            tally.last_written = selected[-1].key
            self.upload.write(manifest_lines(selected, self.signer))
            tally.count += len(selected)
            tally.object_bytes += sum(entry.size for entry in selected)
        if self.upload.needs_flush:
            await self.upload.flush()
        return None


async def build_manifest(
    client: S3Client,
    signer: UrlSigner,
    request: BuildRequest,
    layout: RunLayout,
    manifest_bucket: str,
    *,
    queue_max: int,
    part_size: int,
    should_stop: Callable[[], bool] = lambda: False,
    oversized_at: int | None = None,
    skip_prefix: str | None = None,
    seal: Callable[[PartSummary], Mapping[str, str] | None] | None = None,
) -> PartSummary:
    """Write one part for ``request``'s unit; stop early (with a continuation) if asked.

    ``oversized_at``: stop once this many keys were listed and more follow (the unit is
    far bigger than planned; the caller spreads the rest). ``skip_prefix``: keys listed
    but never written (earlier runs' manifests in the source bucket). ``seal(summary)``:
    user metadata for the part, given its summary (without its ETag), when the part is
    written by one PutObject (see s3fanout.part_metadata).
    """
    work = request.work
    selects = suffix_matcher(request.suffix)
    matches = selects if not skip_prefix else (lambda key: selects(key) and not key.startswith(skip_prefix))
    upload = StreamingUpload(
        client,
        manifest_bucket,
        layout.part_key(work.unit, request.segment, request.child),
        content_type=JSONL_CONTENT_TYPE,
        part_size=part_size,
    )
    writer = PartWriter(upload, signer, matches, request, should_stop=should_stop, oversized_at=oversized_at)
    try:
        await run_pipeline(iter_object_pages(client, request.bucket, work), writer, maxsize=queue_max)
        summary = _part_summary(request, writer.tally, upload)
        await upload.close(seal(summary) if seal is not None and upload.single_put else None)
    except BaseException:
        await upload.abort()
        raise
    return replace(summary, etag=upload.etag)


def _part_summary(request: BuildRequest, tally: PartTally, upload: StreamingUpload) -> PartSummary:
    """What the part holds once every line is written (its ETag is known once it is closed)."""
    work = request.work
    written = [key for key in (tally.first_written, tally.last_written) if key is not None]
    return PartSummary(
        unit=work.unit,
        segment=request.segment,
        prefix=folder_of(written, work.prefix),
        count=tally.count,
        bytes=upload.bytes_written,
        object_bytes=tally.object_bytes,
        part_key=upload.key,
        listed=tally.listed,
        done=not tally.stopped,
        next_start_after=tally.last_listed if tally.stopped else None,
        child=request.child,
        first_key=tally.first_written,
        last_key=tally.last_written,
        oversized=tally.oversized,
        skipped=tally.skipped,
        start_after=work.start_after,
    )


async def build_part(
    client: S3Client,
    store: RunStore,
    request: BuildRequest,
    new_signer: Callable[[], Awaitable[UrlSigner]],
    *,
    queue_max: int,
    part_size: int,
    min_unit: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> BuildResult:
    """One BuildManifest invocation: write the part and its summary, spread an oversized
    unit, and say what runs next. A failure is recorded (``errors/``) before it is raised.

    ``new_signer()`` makes the source bucket's signer (loading the signing identity can
    fail: that is recorded too).
    """
    if not request.attempt:
        # Hand-made events (sam local invoke) do not know the attempt: take the run's.
        run = await store.read_run()
        if run is None:
            raise RunNotFound(request.run_id, store.location)
        request = replace(request, attempt=run.attempt)
    # The summary rides on the part's metadata where it can (s3fanout.part_metadata): known
    # whole before the part is closed, unless the unit spreads (its pieces come after).
    sealed: list[PartSummary] = []

    def seal(part: PartSummary) -> Mapping[str, str] | None:
        if part.oversized and part.next_start_after is not None:
            return None
        summary = replace(part, attempt=request.attempt, signed_at=signed_at, resume=deferred_item(request, part))
        metadata = summary_metadata(summary)
        sealed[:] = [summary] if metadata is not None else []
        return metadata

    try:
        signer = await new_signer()
        signed_at = time.time()
        part = await build_manifest(
            client,
            signer,
            request,
            store.layout,
            store.bucket,
            queue_max=queue_max,
            part_size=part_size,
            should_stop=should_stop,
            oversized_at=oversized_at(request, min_unit),
            # Earlier runs' manifests, when they share the source bucket, are never shared.
            skip_prefix=f"{store.layout.root}/" if store.bucket == request.bucket else None,
            seal=seal,
        )
        if sealed:
            summary, pieces = replace(sealed[0], etag=part.etag), []
        else:
            pieces = await spread_pieces(client, request, part, min_unit)
            resume = deferred_item(request, part)
            summary = replace(part, attempt=request.attempt, signed_at=signed_at, pieces=len(pieces), resume=resume)
            await store.write_summary(summary)
    except Exception as exc:
        await record_error(store, ErrorRecord.of(request, exc))
        raise
    return BuildResult.of(request, summary, pieces)


def with_child_budget(request: BuildRequest, seconds: int, now: float) -> BuildRequest:
    """The request with its child execution's time limit: set by the child's first
    invocation (a Map item carries none), kept by its segments and pieces."""
    if request.budget_until is not None or seconds <= 0:
        return request
    return replace(request, budget_until=now + seconds)


def deferred_item(request: BuildRequest, part: PartSummary) -> dict[str, Any] | None:
    """The Map item that continues a unit stopped for time under a child's limit (the
    next round runs it in a new child), or None: done, spreading, or free to continue."""
    if part.done or part.oversized or request.budget_until is None or part.next_start_after is None:
        return None
    return request.resume_item(part.next_start_after)


async def record_error(store: RunStore, record: ErrorRecord) -> None:
    """Leave the error where MergeIndex can name it (the Distributed Map may swallow it)."""
    try:
        await store.write_error(record)
    except FanoutError:
        logger.warning("could not record the error", extra={"unit": record.unit, "child": record.child})
