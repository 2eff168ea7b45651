"""BuildManifest: one work unit -> one JSONL part of presigned URLs (or a segment of it)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3fanout.build_manifest import build_part, with_child_budget
from s3fanout.deadline import DeadlineCheck
from s3fanout.inputs import parse_build_request
from s3fanout.observability import logger, metrics, tracer
from s3fanout.runtime import identity_url_signer, run_async, run_layout, s3_client, settings
from s3fanout.store import RunStore


async def build_manifest_part(event: Any, context: Any) -> dict[str, Any]:
    config = settings()
    request = with_child_budget(parse_build_request(event), config.child_time_budget_s, time.time())
    logger.append_keys(run_id=request.run_id, unit=request.work.unit, child=request.child, segment=request.segment)
    client = await s3_client()
    result = await build_part(
        client,
        RunStore(client, config.manifest_bucket_for(request.bucket), run_layout(request.run_id)),
        request,
        lambda: identity_url_signer(request.bucket, request.expires_in, region=request.bucket_region),
        queue_max=config.queue_max,
        part_size=config.part_size,
        min_unit=config.min_unit_keys,
        should_stop=DeadlineCheck(context, config.time_safety_ms, budget_until=request.budget_until),
    )
    summary = result.summary
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
            "deferred": summary.resume is not None,
        },
    )
    return result.to_json()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_async(build_manifest_part(event, context))
