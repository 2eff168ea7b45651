"""MergeIndex's core: send deferred units round again (``rounds``), else check every planned
unit has its part, then publish the index."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import InvalidInput, PartsMissing, RunNotFound
from .fetch_tool import FETCH_TOOL_CONTENT_TYPE, fetch_tool
from .folder_summary import SummaryFailed, summarize_parts
from .inputs import parse_build_request
from .observability import logger
from .pipeline import gather_or_cancel
from .records import IndexDocument, IndexResult, NextRound
from .rounds import next_round, round_number
from .share_page import HTML_CONTENT_TYPE, render_share_page
from .signing_identity import TEMPORARY_CREDENTIALS_NOTE
from .store import RunStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from types_aiobotocore_s3 import S3Client

    from .layout import RunLayout
    from .presign import UrlSigner
    from .records import PartSummary, RunRecord, WorkUnit


def _chain(summaries: list[PartSummary]) -> tuple[list[PartSummary] | None, str]:
    """One unit's (or piece's) segments in order if they form a finished chain - segments
    0..n without a gap, each beginning where the one before stopped, the last one done or
    spread into pieces - else None and why not."""
    segments = sorted(summaries, key=lambda s: s.segment)
    if not segments or [s.segment for s in segments] != list(range(len(segments))):
        return None, "no complete part"
    for earlier, later in itertools.pairwise(segments):
        if later.start_after != earlier.next_start_after:
            # Two runs of the unit at once (EXPRESS children run at least once) that
            # stopped at different keys, each writing some of its segments.
            return None, f"segments {earlier.segment} and {later.segment} do not join (two runs of it at once?)"
    last = segments[-1]
    return (segments, "") if last.done or last.pieces else (None, "no complete part")


async def collect_parts(
    store: RunStore, run: RunRecord, plan: list[WorkUnit], summaries: list[PartSummary]
) -> list[PartSummary]:
    """This attempt's segment ``summaries`` in key order; raises PartsMissing for any gap.

    A unit's parts are its segments, then - if it spread - each piece's segments.
    """
    by_piece: dict[tuple[int, int], list[PartSummary]] = {}
    for summary in summaries:
        by_piece.setdefault((summary.unit, summary.child), []).append(summary)

    missing: dict[tuple[int, int], str] = {}
    parts: list[PartSummary] = []
    for item in plan:
        chain, why = _chain(by_piece.get((item.unit, 0), []))
        if chain is None:
            missing[item.unit, 0] = f"prefix {item.prefix!r}: {why}"
            continue
        parts.extend(chain)
        for child in range(1, chain[-1].pieces + 1):
            piece, why = _chain(by_piece.get((item.unit, child), []))
            if piece is None:
                missing[item.unit, child] = f"prefix {item.prefix!r}, piece {child}: {why}"
            else:
                parts.extend(piece)
    if missing:
        await _name_missing(store, run, plan, missing)
    if overwritten := await _overwritten(store, parts, plan):
        raise PartsMissing(run.run_id, _by_unit(overwritten))
    return parts


async def _name_missing(
    store: RunStore, run: RunRecord, plan: list[WorkUnit], missing: dict[tuple[int, int], str]
) -> NoReturn:
    """Raise PartsMissing, each unit (or piece) with its recorded error or why it has none."""
    recorded = await store.errors(list(missing), run.attempt)
    units = {item.unit: item for item in plan}
    for where in missing:
        error = recorded.get(where)
        refused = _refusal(run, units[where[0]]) if error is None and where[1] == 0 else None
        if error is not None:
            missing[where] += f" ({error.error}: {error.message})"
        elif refused is not None:
            missing[where] += f" ({refused})"
        else:
            missing[where] += " (no error recorded: it never ran, or was stopped before it could record one)"
    raise PartsMissing(run.run_id, _by_unit(missing))


def _by_unit(missing: dict[tuple[int, int], str]) -> dict[int, str]:
    by_unit: dict[int, str] = {}
    for (unit, _child), why in missing.items():
        by_unit[unit] = f"{by_unit[unit]}; {why}" if unit in by_unit else why
    return by_unit


async def _overwritten(store: RunStore, parts: list[PartSummary], plan: list[WorkUnit]) -> dict[tuple[int, int], str]:
    """Parts that are not what their summary says was written: gone, or overwritten since by a
    second run of the same unit (one HeadObject per part). None: every part is its summary's."""
    prefixes = {item.unit: item.prefix for item in plan}
    found: dict[tuple[int, int], str] = {}
    written = [part for part in parts if part.etag is not None]  # older summaries have none
    for part, etag in zip(written, await store.etags([p.part_key for p in written]), strict=True):
        # Compared without quotes: some S3-compatible stores quote one answer and not the other.
        if etag is not None and part.etag is not None and etag.strip('"') == part.etag.strip('"'):
            continue
        what = "is gone" if etag is None else "was overwritten after its summary (two runs of it at once?)"
        piece = f", piece {part.child}" if part.child else ""
        found.setdefault((part.unit, part.child), f"prefix {prefixes[part.unit]!r}{piece}: part {part.part_key} {what}")
    return found


def _refusal(run: RunRecord, item: WorkUnit) -> str | None:
    """Why BuildManifest refuses the event the workflow makes of this planned unit, if it does
    (a refused event writes nothing, not even an error record)."""
    try:
        parse_build_request({**run.to_json(), **item.to_json(), "segment": 0})
    except InvalidInput as exc:
        return f"InvalidInput: {exc} - BuildManifest refused the planned unit"
    return None


# The folder summary may take half the invocation's time, and must leave this much for the
# page, the tool and the index.
SUMMARY_RESERVE_MS = 30_000


def summary_budget_ms(time_left_ms: Callable[[], int] | None) -> int | None:
    """The time the folder summary may take: half the time there is, leaving at least the
    reserve (at most 0: none at all). None: no limit (no invocation's clock)."""
    if time_left_ms is None:
        return None
    left = time_left_ms()
    return left - max(SUMMARY_RESERVE_MS, left // 2)


async def folder_summary(
    store: RunStore, parts: list[PartSummary], prefix: str, time_left_ms: Callable[[], int] | None
) -> dict[str, Any] | None:
    """The share page's folder summary, or None - it is optional, the index is not.

    Reading every part costs time in proportion to the share (~50 s at 10M objects): every
    read, one in progress too, is cancelled at the summary's deadline, and a share too large
    to summarize in its time is published without it (its page then finds folders from the
    parts' key ranges). A part that cannot be read or summed drops it too - never the index.
    """
    budget = summary_budget_ms(time_left_ms)
    if budget is not None and budget <= 0:
        logger.warning("folder summary left out", extra={"reason": "no time for it", "budget_ms": budget})
        return None
    scope = asyncio.timeout(None if budget is None else budget / 1000)
    try:
        async with scope:
            return await summarize_parts(
                store.stream_part, [p.part_key for p in parts], prefix, counts=[p.count for p in parts]
            )
    except TimeoutError:
        if not scope.expired():
            raise
        logger.warning("folder summary left out", extra={"reason": "out of time", "budget_ms": budget})
    except SummaryFailed as exc:
        logger.warning("folder summary left out", extra={"part": exc.part_key, "reason": exc.reason})
    except Exception as exc:  # noqa: BLE001 - optional: anything else wrong with it drops it, not the index
        logger.warning("folder summary left out", extra={"reason": repr(exc)}, exc_info=True)
    return None


async def merge_index(
    client: S3Client,
    signer_for: Callable[[int], UrlSigner],
    layout: RunLayout,
    manifest_bucket: str,
    *,
    url_credentials: str = "long-term",
    time_left_ms: Callable[[], int] | None = None,
    plan_key: str | None = None,
    inline_plan: bool = False,
) -> IndexResult | NextRound:
    """``signer_for(expires_in)`` signs keys of the manifest bucket; ``time_left_ms()`` is the
    invocation's remaining time (the folder summary is given up rather than the index).
    ``plan_key``: the items of the Map round that just ended; while units are deferred, the
    result is the next round, not the index."""
    store = RunStore(client, manifest_bucket, layout)
    ended = round_number(store, plan_key)
    run, plan = await store.read_run(), await store.read_plan()
    if run is None or plan is None:
        raise RunNotFound(layout.run_id, store.location)
    summaries = await store.summaries(run.attempt)
    following = await next_round(store, run, summaries, ended, inline_plan=inline_plan)
    if following is not None:
        logger.info("units deferred to another round", extra={"round": ended + 1, "items": following.deferred})
        return following
    parts = await collect_parts(store, run, plan, summaries)
    part_signer = signer_for(run.expires_in)
    # Each document links the other: the page reads its parts, fetch finds the index from the page.
    index_url = part_signer.presign_get(layout.index_key)
    page_url = part_signer.presign_get(layout.page_key)
    tool = fetch_tool()
    index = IndexDocument.of(
        run,
        parts,
        created_at=time.time(),
        url_credentials=url_credentials,
        page_url=page_url,
        part_url=part_signer.presign_get,
        note=TEMPORARY_CREDENTIALS_NOTE if url_credentials == "temporary" else None,
        fetch_tool_url=None if tool is None else part_signer.presign_get(layout.fetch_tool_key),
    )
    # Per folder its counts and parts, so the page opens any folder from a part or two.
    folders = await folder_summary(store, parts, run.prefix, time_left_ms)
    # The tool and the page first (together): once index.json exists the run is published, with both.
    writes = [store.write_page(render_share_page(index.to_json(), index_url, folders), HTML_CONTENT_TYPE)]
    if tool is not None:
        writes.append(store.write_fetch_tool(tool, FETCH_TOOL_CONTENT_TYPE))
    await gather_or_cancel(*writes)
    await store.write_index(index)
    return IndexResult(
        run_id=layout.run_id,
        count=index.count,
        parts=len(parts),
        index_key=layout.index_key,
        index_url=index_url,
        page_url=page_url,
        expires_at=index.expires_at,
        skipped=index.skipped,
    )
