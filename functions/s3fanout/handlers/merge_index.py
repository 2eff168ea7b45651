"""MergeIndex: send deferred units round again, or verify every planned unit has its part,
then write and presign the index."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3fanout.inputs import parse_merge_request
from s3fanout.merge_index import merge_index
from s3fanout.observability import logger, metrics, tracer
from s3fanout.records import NextRound
from s3fanout.runtime import (
    run_async,
    run_layout,
    s3_client,
    settings,
    signing_credentials,
    url_signer,
)
from s3fanout.signing_identity import url_credentials_kind


async def merge_run_index(event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
    request = parse_merge_request(event)
    logger.append_keys(run_id=request.run_id)
    config = settings()
    manifest_bucket = config.manifest_bucket_for(request.bucket)
    layout = run_layout(request.run_id)
    client = await s3_client()
    credentials = await signing_credentials()
    result = await merge_index(
        client,
        lambda expires_in: url_signer(manifest_bucket, expires_in, credentials),
        layout,
        manifest_bucket,
        url_credentials=url_credentials_kind(credentials),
        time_left_ms=None if context is None else context.get_remaining_time_in_millis,
        plan_key=request.plan_key,
        inline_plan=config.inline_plan,
    )
    if isinstance(result, NextRound):
        metrics.add_metric(name="UnitsDeferred", unit=MetricUnit.Count, value=result.deferred)
        return result.to_json()
    metrics.add_metric(name="PartsMerged", unit=MetricUnit.Count, value=result.parts)
    metrics.add_metric(name="IndexedObjects", unit=MetricUnit.Count, value=result.count)
    logger.info("index written", extra={"parts": result.parts, "count": result.count})
    return result.to_json()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_async(merge_run_index(event, context))
