"""BuildManifest: one work unit -> one JSONL part of presigned URLs (or a segment of it)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3fanout.build_manifest import build_manifest, oversized_at, spread_pieces
from s3fanout.deadline import DeadlineCheck
from s3fanout.errors import FanoutError, RunNotFound
from s3fanout.inputs import parse_build_request
from s3fanout.observability import logger, metrics, tracer
from s3fanout.records import ErrorRecord, PartSummary
from s3fanout.runtime import run_async, run_layout, s3_client, settings, signing_credentials, url_signer
from s3fanout.store import RunStore


async def build_manifest_part(event: Any, context: Any) -> dict[str, Any]:
    request = parse_build_request(event)
    logger.append_keys(run_id=request.run_id, unit=request.work.unit, child=request.child, segment=request.segment)
    config = settings()
    manifest_bucket = config.manifest_bucket_for(request.bucket)
    client = await s3_client()
    store = RunStore(client, manifest_bucket, run_layout(request.run_id))
    if not request.attempt:
        # Hand-made events (sam local invoke) do not know the attempt: take the run's.
        run = await store.read_run()
        if run is None:
            raise RunNotFound(request.run_id, store.location)
        request = replace(request, attempt=run.attempt)
    try:
        signer = url_signer(
            request.bucket, request.expires_in, await signing_credentials(), region=request.bucket_region
        )
        signed_at = time.time()
        part = await build_manifest(
            client,
            signer,
            request,
            store.layout,
            manifest_bucket,
            queue_max=config.queue_max,
            part_size=config.part_size,
            should_stop=DeadlineCheck(context, config.time_safety_ms),
            oversized_at=oversized_at(request, config.min_unit_keys),
            # Earlier runs' manifests, when they share the source bucket, are never shared.
            skip_prefix=f"{config.manifest_prefix}/" if manifest_bucket == request.bucket else None,
        )
        pieces = await spread_pieces(client, request, part, config.min_unit_keys)
        summary = replace(part, attempt=request.attempt, signed_at=signed_at, pieces=len(pieces))
        await store.write_summary(summary)
    except Exception as exc:
        await _record_error(store, ErrorRecord.of(request, exc))
        raise
    _report(summary)
    if pieces:
        return {**summary.to_result(), "next": None, "spill": [piece.to_event() for piece in pieces]}
    following = None if summary.done else request.continued(summary.next_start_after or "")
    return {**summary.to_result(), "next": following and following.to_event(), "spill": None}


def _report(summary: PartSummary) -> None:
    metrics.add_metric(name="ObjectsListed", unit=MetricUnit.Count, value=summary.listed)
    metrics.add_metric(name="UrlsWritten", unit=MetricUnit.Count, value=summary.count)
    metrics.add_metric(name="ManifestBytes", unit=MetricUnit.Bytes, value=summary.bytes)
    if summary.pieces:
        metrics.add_metric(name="UnitsSpread", unit=MetricUnit.Count, value=1)
    logger.info(
        "part written",
        extra={
            "count": summary.count,
            "listed": summary.listed,
            "bytes": summary.bytes,
            "done": summary.done,
            "pieces": summary.pieces,
        },
    )


async def _record_error(store: RunStore, record: ErrorRecord) -> None:
    """Leave the error where MergeIndex can name it (the Distributed Map may swallow it)."""
    try:
        await store.write_error(record)
    except FanoutError:
        logger.warning("could not record the error", extra={"unit": record.unit, "child": record.child})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_async(build_manifest_part(event, context))
