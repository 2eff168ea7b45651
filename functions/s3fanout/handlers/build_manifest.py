"""BuildManifest: one work unit -> one JSONL part of presigned URLs (or a segment of it)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3fanout.documents import get_json, put_json
from s3fanout.errors import FanoutError, RunNotFound
from s3fanout.inputs import BuildRequest, parse_build_request
from s3fanout.manifest import PartResult, build_manifest
from s3fanout.observability import logger, metrics, tracer
from s3fanout.planner import plan_pieces
from s3fanout.runtime import run_async, run_layout, s3_client, settings, signing_credentials, url_signer

if TYPE_CHECKING:
    from s3fanout.splitting import KeyRange

# Stop listing this long before the Lambda timeout, leaving room to finish the part and
# write its summary. Unset: 20 s, but at most a quarter of the time the invocation had.
_SAFETY_MS_SETTING = os.environ.get("TIME_SAFETY_MS", "").strip()
_DEFAULT_SAFETY_MS = 20_000


class DeadlineCheck:
    """True once too little time is left for one more page plus finishing the part.

    The margin is the larger of a floor (``TIME_SAFETY_MS``; by default 20 s but at most a
    quarter of the time we started with) and three times the slowest page seen so far, so a
    slow network or a short local timeout still leaves room to complete the part.
    """

    def __init__(self, context: Any) -> None:
        self._remaining = getattr(context, "get_remaining_time_in_millis", None)
        start = self._remaining() if self._remaining else 0
        self._floor = int(_SAFETY_MS_SETTING) if _SAFETY_MS_SETTING else min(_DEFAULT_SAFETY_MS, start // 4)
        self._last = start
        self._slowest = 0

    def __call__(self) -> bool:
        if self._remaining is None:
            return False
        now = self._remaining()
        self._slowest = max(self._slowest, self._last - now)
        self._last = now
        return now < max(self._floor, 3 * self._slowest)


# A planned unit that lists this many times its estimate (and of the minimum unit size)
# while more keys follow is far bigger than planned: it spreads the rest into pieces
# built in parallel instead of listing it alone.
OVERSIZE_FACTOR = 2


def _event(request: BuildRequest, **changes: Any) -> dict[str, Any]:
    work = request.work
    return {
        "run_id": request.run_id,
        "attempt": request.attempt,
        "bucket": request.bucket,
        "suffix": request.suffix,
        "expires_in": request.expires_in,
        "unit": work.unit,
        "child": request.child,
        "prefix": work.prefix,
        "start_after": work.start_after,
        "end_key": work.end_key,
        "delimited": work.delimited,
        "estimate": work.estimate,
        "segment": request.segment,
        "bucket_region": request.bucket_region,
        **changes,
    }


def next_event(request: BuildRequest, result: PartResult) -> dict[str, Any] | None:
    """The event that continues this unit where listing stopped, or None when it is done."""
    if result.done:
        return None
    return _event(request, start_after=result.next_start_after, segment=request.segment + 1)


def piece_events(request: BuildRequest, pieces: list[KeyRange]) -> list[dict[str, Any]]:
    """Events for the pieces an oversized unit spread into (children 1..n, segment 0)."""
    return [
        _event(
            request,
            child=number,
            start_after=piece.start_after,
            end_key=piece.end_key,
            estimate=piece.estimate,
            segment=0,
        )
        for number, piece in enumerate(pieces, start=1)
    ]


def oversized_at(request: BuildRequest, min_unit: int) -> int | None:
    """Keys listed after which this invocation stops to spread the rest (None: never)."""
    work = request.work
    if request.child or work.delimited or work.estimate is None:
        return None  # pieces do not spread again; hand-made events carry no estimate
    return OVERSIZE_FACTOR * max(work.estimate, min_unit)


async def build_manifest_part(event: Any, context: Any) -> dict[str, Any]:
    request = parse_build_request(event)
    logger.append_keys(run_id=request.run_id, unit=request.work.unit, segment=request.segment)
    config = settings()
    layout = run_layout(request.run_id)
    manifest_bucket = config.manifest_bucket_for(request.bucket)
    client = await s3_client()
    if not request.attempt:
        # Hand-made events (sam local invoke) do not know the attempt: take the run's.
        request = await _with_current_attempt(client, request, layout, manifest_bucket)
    try:
        signer = url_signer(
            request.bucket, request.expires_in, await signing_credentials(), region=request.bucket_region
        )
        signed_at = time.time()
        result = await build_manifest(
            client,
            signer,
            request,
            layout,
            manifest_bucket,
            queue_max=config.queue_max,
            part_size=config.part_size,
            should_stop=DeadlineCheck(context),
            oversized_at=oversized_at(request, config.min_unit_keys),
            # Earlier runs' manifests, when they share the source bucket, are never shared.
            skip_prefix=f"{config.manifest_prefix}/" if manifest_bucket == request.bucket else None,
        )
        pieces: list[dict[str, Any]] = []
        if result.oversized and result.next_start_after is not None:
            ranges = await plan_pieces(
                client,
                request.bucket,
                request.work,
                result.next_start_after,
                piece_size=max(request.work.estimate or 0, config.min_unit_keys),
            )
            if len(ranges) > 1:
                pieces = piece_events(request, ranges)
        summary = {
            **result.to_dict(),
            "attempt": request.attempt,
            "signed_at": signed_at,
            # The pieces that finish this unit (MergeIndex expects a complete part for each).
            "pieces": len(pieces),
        }
        await put_json(
            client, manifest_bucket, layout.summary_key(request.work.unit, request.segment, request.child), summary
        )
    except Exception as exc:
        await _record_error(client, manifest_bucket, layout.error_key(request.work.unit, request.child), request, exc)
        raise
    metrics.add_metric(name="ObjectsListed", unit=MetricUnit.Count, value=result.listed)
    metrics.add_metric(name="UrlsWritten", unit=MetricUnit.Count, value=result.count)
    metrics.add_metric(name="ManifestBytes", unit=MetricUnit.Bytes, value=result.bytes)
    logger.info(
        "part written",
        extra={
            "count": result.count,
            "listed": result.listed,
            "bytes": result.bytes,
            "done": result.done,
            "pieces": len(pieces),
        },
    )
    if pieces:
        metrics.add_metric(name="UnitsSpread", unit=MetricUnit.Count, value=1)
        return {**result.to_dict(), "next": None, "spill": pieces}
    return {**result.to_dict(), "next": next_event(request, result), "spill": None}


async def _with_current_attempt(client: Any, request: BuildRequest, layout: Any, manifest_bucket: str) -> BuildRequest:
    run = await get_json(client, manifest_bucket, layout.run_key)
    if run is None:
        raise RunNotFound(request.run_id, f"s3://{manifest_bucket}/{layout.base}")
    return replace(request, attempt=run["attempt"])


async def _record_error(client: Any, bucket: str, key: str, request: BuildRequest, exc: Exception) -> None:
    """Leave the error where MergeIndex can name it (the Distributed Map may swallow it)."""
    record = {
        "unit": request.work.unit,
        "child": request.child,
        "segment": request.segment,
        "attempt": request.attempt,
        "error": type(exc).__name__,
        "message": str(exc),
    }
    try:
        await put_json(client, bucket, key, record)
    except FanoutError:
        logger.warning("could not record the error", extra={"error_key": key})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_async(build_manifest_part(event, context))
