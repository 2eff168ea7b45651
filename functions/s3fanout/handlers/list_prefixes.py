"""ListPrefixes: validate the execution input, plan work units, write the plan to S3."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3fanout.inputs import parse_list_event
from s3fanout.list_prefixes import plan_run
from s3fanout.observability import logger, metrics, tracer
from s3fanout.runtime import probe_http_session, run_async, run_layout, s3_client, settings
from s3fanout.s3 import PLANNING_CLIENT_CONFIG
from s3fanout.store import RunStore


async def list_prefixes(event: Any) -> dict[str, Any]:
    config = settings()
    request, run_id = parse_list_event(
        event,
        default_expires_in=config.url_expiry_seconds,
        default_max_concurrency=config.default_max_concurrency,
    )
    logger.append_keys(run_id=run_id, bucket=request.bucket, prefix=request.prefix)
    client = await s3_client(PLANNING_CLIENT_CONFIG)
    store = RunStore(client, config.manifest_bucket_for(request.bucket), run_layout(run_id))
    planned = await plan_run(
        client,
        request,
        run_id,
        store,
        min_unit=config.min_unit_keys,
        default_region=config.region,
        http_sessions=probe_http_session,  # kept per process: warm runs skip the handshakes
    )
    metrics.add_metric(name="UnitsPlanned", unit=MetricUnit.Count, value=len(planned.units))
    metrics.add_metric(name="PlanningProbes", unit=MetricUnit.Count, value=planned.stats.get("probes", 0))
    logger.info("plan written", extra={**planned.stats, "plan_key": planned.record.plan_key})
    return planned.to_result(inline_plan=config.inline_plan)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_async(list_prefixes(event))
