"""Every record that crosses a boundary between the Lambdas, typed (in the spirit of
Powertools' ``DataRecord``): the execution input (``RunRequest``), a work unit (a plan
item), the BuildManifest and MergeIndex events, the run record (``run.json``, ListPrefixes'
result, with the plan in ``PlanResult``), a part summary (in ``BuildResult``, BuildManifest's
result), an error record, and what MergeIndex publishes: the index (``IndexDocument``, the
recipient's contract) and its result (``IndexResult``).

Each knows its JSON shape (``to_json`` / ``from_json``); ``s3fanout.store.RunStore`` reads
and writes them under ``manifests/{run_id}/``. Validating an event from outside (the
execution input, a hand-made BuildManifest event) is ``s3fanout.inputs``' job; ``from_json``
reads documents this code wrote itself.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from .planner import KeyRange


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` present in ``data`` (documents from older versions lack some)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


# A run id names the run's folder (manifests/{run_id}/) and may be an execution name.
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def new_run_id() -> str:
    """Sortable and unique, within RUN_ID_RE: ``20261126T163000Z-1a2b3c4d``. The one rule for
    a generated run id (ListPrefixes without an execution name, the local ``fanout`` CLI)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


class JsonRecord:
    """A dataclass record's JSON shape: its fields, read back leniently (``_known``)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(cast("DataclassInstance", self))  # every subclass is a dataclass

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class WorkUnit(JsonRecord):
    """One Map item (a line of ``plan.json``): a key range of the source bucket.

    Keys ``k`` with ``k.startswith(prefix)``, ``k > start_after`` (if set) and ``k <= end_key``
    (if set). ``estimate``: the planner's key count for the range, by which BuildManifest
    notices a unit far bigger than planned.
    """

    unit: int
    prefix: str
    start_after: str | None = None
    end_key: str | None = None
    estimate: int | None = None

    def map_item(self, segment: int = 0, child: int = 0) -> dict[str, Any]:
        """The unit as an item of a Map round (``plan.json``, then ``rounds/NNNN.json``): its range
        from ``segment`` on, of piece ``child`` (0: the planned unit)."""
        return {**self.to_json(), "segment": segment, "child": child}


@dataclass(frozen=True)
class Filters(JsonRecord):
    """What a run shares beyond the suffix: last modified (S3's LastModified text, compared
    as text: ``YYYY-MM-DDTHH:MM:SS.mmmZ``, exclusive bounds) and size (inclusive, bytes)."""

    modified_after: str | None = None
    modified_before: str | None = None
    min_size: int | None = None
    max_size: int | None = None

    @property
    def active(self) -> bool:
        return any(value is not None for value in asdict(self).values())

    def admits(self, size: int, modified: str) -> bool:
        return (
            (self.min_size is None or size >= self.min_size)
            and (self.max_size is None or size <= self.max_size)
            and (self.modified_after is None or modified > self.modified_after)
            and (self.modified_before is None or modified < self.modified_before)
        )


@dataclass(frozen=True)
class RunRequest:
    """The validated execution input (``s3fanout.inputs.parse_run_request``)."""

    bucket: str
    prefix: str
    suffix: str
    expires_in: int
    max_concurrency: int
    run_id: str | None = None
    filters: Filters = field(default_factory=Filters)
    # The sender's words for the share page: its headline (and tab title), a note under it.
    title: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class MergeRequest:
    """The MergeIndex event: the run to merge and the items of the Map round that just
    ended (``plan_key``; None: the plan); the rest is read from its ``run.json``."""

    run_id: str
    bucket: str
    plan_key: str | None = None


@dataclass(frozen=True)
class BuildRequest:
    """The BuildManifest event: one unit (or piece, ``child`` > 0) and its segment."""

    run_id: str
    attempt: str
    bucket: str
    suffix: str
    expires_in: int
    work: WorkUnit
    segment: int
    # 0: a planned unit; k > 0: the k-th piece a unit too big for its plan spread into.
    child: int = 0
    # The source bucket's region (URLs must be signed for it); None: the function's region.
    bucket_region: str | None = None
    filters: Filters = field(default_factory=Filters)
    # When this unit's child execution must end (epoch seconds; an EXPRESS child lives 5
    # minutes): set by its first invocation, carried to its segments and pieces. None: no limit.
    budget_until: float | None = None

    def to_event(self) -> dict[str, Any]:
        """The event as the state machine passes it (the ASL's ItemSelector builds the same
        fields from the run record and a plan item)."""
        return {
            "run_id": self.run_id,
            "attempt": self.attempt,
            "bucket": self.bucket,
            "suffix": self.suffix,
            "expires_in": self.expires_in,
            "bucket_region": self.bucket_region,
            **self.work.to_json(),
            **self.filters.to_json(),
            "child": self.child,
            "segment": self.segment,
            "budget_until": self.budget_until,
        }

    def continued(self, start_after: str) -> BuildRequest:
        """The next segment: the same unit, from where listing stopped."""
        return replace(self, work=replace(self.work, start_after=start_after), segment=self.segment + 1)

    def resume_item(self, start_after: str) -> dict[str, Any]:
        """The next segment as an item of the next Map round (a new child, a new time limit)."""
        following = self.continued(start_after)
        return following.work.map_item(following.segment, following.child)

    def pieces(self, ranges: list[KeyRange]) -> list[BuildRequest]:
        """The pieces an oversized unit spreads into (children 1..n, each from segment 0)."""
        return [
            replace(
                self,
                work=replace(self.work, start_after=r.start_after, end_key=r.end_key, estimate=r.estimate),
                child=number,
                segment=0,
            )
            for number, r in enumerate(ranges, start=1)
        ]


@dataclass(frozen=True)
class RunRecord(JsonRecord):
    """``run.json``: the validated run, written by ListPrefixes (also its result), read by
    MergeIndex and by BuildManifest events that lack the attempt."""

    run_id: str
    # A fresh id per ListPrefixes: MergeIndex ignores what an earlier attempt left.
    attempt: str
    bucket: str
    prefix: str
    suffix: str
    expires_in: int
    max_concurrency: int
    manifest_bucket: str
    plan_key: str
    units: int
    bucket_region: str
    created_at: float | None = None
    # Flattened into the record (the state machine passes them to every BuildManifest).
    modified_after: str | None = None
    modified_before: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    # For MergeIndex only (index.json and the page): not in ListPrefixes' result.
    title: str | None = None
    message: str | None = None

    @classmethod
    def of(
        cls, request: RunRequest, run_id: str, *, units: int, manifest_bucket: str, plan_key: str, region: str
    ) -> RunRecord:
        """The run's record, with a fresh attempt id: MergeIndex then ignores whatever an
        earlier attempt of the same run_id left (idempotent re-runs)."""
        return cls(
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
            title=request.title,
            message=request.message,
        )

    def to_result(self) -> dict[str, Any]:
        """ListPrefixes' result: the record without its timestamp and the sender's words (the
        state machine passes the result on; a 2,000-character message has no business there)."""
        result = self.to_json()
        for name in ("created_at", "title", "message"):
            del result[name]
        return result


@dataclass(frozen=True)
class PlanResult:
    """What ListPrefixes planned: the run's record (its result), the units (the plan) and
    the planner's counts (probes, rounds, units, queue_peak)."""

    record: RunRecord
    units: list[WorkUnit]
    stats: dict[str, int]

    def to_result(self, *, inline_plan: bool = False) -> dict[str, Any]:
        output = self.record.to_result()
        if inline_plan:
            # Local testing only (Step Functions Local has no ItemReader): the units inline, for
            # an INLINE Map's ItemsPath. State payloads are capped at 256 KiB: a few thousand units.
            output["plan"] = [unit.map_item() for unit in self.units]
        return output


@dataclass(frozen=True)
class PartSummary(JsonRecord):
    """What one BuildManifest invocation wrote: its part and where listing stopped.

    ``attempt``, ``signed_at`` and ``pieces`` are the run's bookkeeping, stored in the
    summary (``summaries/…json``) but not returned to the state machine.
    """

    unit: int
    segment: int
    prefix: str
    count: int
    bytes: int
    object_bytes: int
    part_key: str
    listed: int
    done: bool
    # Where listing stopped when the unit is not done (continuation point).
    next_start_after: str | None
    child: int = 0
    # The first and last key written (None for an empty part): what the part holds.
    first_key: str | None = None
    last_key: str | None = None
    # Listing stopped because the unit is far bigger than planned: spread the rest.
    oversized: bool = False
    # Objects that matched but got no link, by reason: an archived storage class (not
    # restored) or "folder marker".
    skipped: dict[str, int] = field(default_factory=dict)
    attempt: str = ""
    signed_at: float = 0.0
    # The pieces that finish this unit (MergeIndex expects a complete part for each).
    pieces: int = 0
    # Where this segment's listing began (its range's start_after): segment n+1 must begin
    # where segment n stopped, or two runs of the unit at once mixed their segments.
    start_after: str | None = None
    # The part's ETag as written: a part overwritten since (a second run of the same unit
    # at once - EXPRESS children run at least once) no longer matches its summary.
    etag: str | None = None
    # Deferred: the unit stopped at its child execution's time limit, and this Map item
    # (``WorkUnit.map_item``) continues it in the next round. None: not deferred.
    resume: dict[str, Any] | None = None

    _BOOKKEEPING = ("attempt", "signed_at", "pieces", "resume", "start_after", "etag")

    def to_result(self) -> dict[str, Any]:
        """BuildManifest's result fields (before ``next`` and ``spill``); ``deferred`` ends
        the child execution (MergeIndex sends the rest round again)."""
        result = self.to_json()
        for name in self._BOOKKEEPING:
            del result[name]
        result["deferred"] = self.resume is not None
        return result


@dataclass(frozen=True)
class BuildResult:
    """BuildManifest's result: its part's summary, then what the workflow runs next - the
    unit's next segment (``next``), or the pieces it spread into (``spill``), or neither."""

    summary: PartSummary
    following: BuildRequest | None = None
    pieces: list[BuildRequest] = field(default_factory=list)

    @classmethod
    def of(cls, request: BuildRequest, summary: PartSummary, pieces: list[BuildRequest]) -> BuildResult:
        if pieces:
            return cls(summary, pieces=pieces)
        if summary.done or summary.resume is not None:
            return cls(summary)
        return cls(summary, following=request.continued(summary.next_start_after or ""))

    def to_json(self) -> dict[str, Any]:
        """The state machine reads ``next`` (another segment) and ``spill`` (an INLINE Map's items)."""
        following = self.following and self.following.to_event()
        spill = [piece.to_event() for piece in self.pieces] if self.pieces else None
        return {**self.summary.to_result(), "next": following, "spill": spill}


@dataclass(frozen=True)
class ErrorRecord(JsonRecord):
    """``errors/{unit}[-c{child}].json``: why a unit (or piece) failed, for MergeIndex to
    name when the Map swallowed the failure."""

    unit: int
    child: int
    segment: int
    attempt: str
    error: str
    message: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ErrorRecord:
        return cls(**{"child": 0, **_known(cls, data)})

    @classmethod
    def of(cls, request: BuildRequest, exc: BaseException) -> ErrorRecord:
        return cls(
            unit=request.work.unit,
            child=request.child,
            segment=request.segment,
            attempt=request.attempt,
            error=type(exc).__name__,
            message=str(exc),
        )


def iso8601(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def skipped_total(parts: list[PartSummary]) -> dict[str, int]:
    """What the parts left out, summed by reason."""
    total: dict[str, int] = {}
    for part in parts:
        for reason, count in part.skipped.items():
            total[reason] = total.get(reason, 0) + count
    return dict(sorted(total.items()))


@dataclass(frozen=True)
class IndexPart:
    """One part as ``index.json`` lists it: what it holds and its presigned URL."""

    prefix: str
    first_key: str | None
    last_key: str | None
    count: int
    bytes: int
    object_bytes: int
    skipped: dict[str, int]
    key: str
    url: str


@dataclass(frozen=True)
class IndexDocument:
    """``index.json``: what a recipient reads (fanout fetch, the share page's script).

    MergeIndex is its one writer; its JSON Schema is in docs/formats.md (a test holds the
    two together). Field order is the JSON's order.
    """

    run_id: str
    bucket: str
    prefix: str
    suffix: str
    created_at: str
    # When the first object URL expires (URLs are signed when their part is built).
    expires_at: str
    # signing-identity | temporary | long-term: temporary credentials can end before expires_at.
    url_credentials: str
    count: int
    object_bytes: int
    # Matching objects without a link: archived (not restored) or folder markers.
    skipped: dict[str, int]
    page_url: str
    parts: list[IndexPart]
    # Only with temporary credentials: why links may stop working early.
    note: str | None = None
    # The sender's words (execution input), each only when given.
    title: str | None = None
    message: str | None = None
    # The recipient's tool as one file (fanout-fetch.pyz, published beside the index), presigned.
    fetch_tool_url: str | None = None

    @classmethod
    def of(
        cls,
        run: RunRecord,
        parts: list[PartSummary],
        *,
        created_at: float,
        url_credentials: str,
        page_url: str,
        part_url: Callable[[str], str],
        note: str | None = None,
        fetch_tool_url: str | None = None,
    ) -> IndexDocument:
        """The index of ``parts`` (in key order); ``part_url`` presigns a part's key."""
        # Object URLs were signed when their part was built: the index is only as good as the oldest.
        signed_at = min([p.signed_at for p in parts], default=created_at)
        return cls(
            run_id=run.run_id,
            bucket=run.bucket,
            prefix=run.prefix,
            suffix=run.suffix,
            created_at=iso8601(created_at),
            expires_at=iso8601(signed_at + run.expires_in),
            url_credentials=url_credentials,
            count=sum(p.count for p in parts),
            object_bytes=sum(p.object_bytes for p in parts),
            skipped=skipped_total(parts),
            page_url=page_url,
            parts=[
                IndexPart(
                    prefix=p.prefix,
                    first_key=p.first_key,
                    last_key=p.last_key,
                    count=p.count,
                    bytes=p.bytes,
                    object_bytes=p.object_bytes,
                    skipped=p.skipped,
                    key=p.part_key,
                    url=part_url(p.part_key),
                )
                for p in parts
            ],
            note=note,
            title=run.title,
            message=run.message,
            fetch_tool_url=fetch_tool_url,
        )

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        # The optional fields are left out, not null (the schema in docs/formats.md).
        for name in ("note", "title", "message", "fetch_tool_url"):
            if document[name] is None:
                del document[name]
        return document


@dataclass(frozen=True)
class IndexResult(JsonRecord):
    """MergeIndex's result (the execution's output): where the index and its page are."""

    run_id: str
    count: int
    parts: int
    index_key: str
    index_url: str
    # The share page (index.html): the link to give a person.
    page_url: str
    expires_at: str
    # Matching objects left out, by reason (archived storage class, "folder marker").
    skipped: dict[str, int]


@dataclass(frozen=True)
class NextRound:
    """MergeIndex's result while units are deferred: the state the next Map round starts
    from (ListPrefixes' result, its ``plan_key`` now ``deferred.json``) and its item count."""

    state: dict[str, Any]
    deferred: int

    def to_json(self) -> dict[str, Any]:
        return {"next_round": self.state, "deferred": self.deferred}
