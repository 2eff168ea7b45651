"""ListPrefixes: validate the execution input, plan work units, write the plan to S3."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from s3fanout.inputs import parse_run_request, validate_run_id
from s3fanout.list_prefixes import plan_units
from s3fanout.observability import logger, metrics, tracer
from s3fanout.records import RunRecord, new_run_id
from s3fanout.runtime import run_async, run_layout, s3_client, settings
from s3fanout.s3 import bucket_region
from s3fanout.store import RunStore


def split_event(event: Any) -> tuple[Any, Any]:
    """Accept the workflow's envelope ``{"input": {...}, "run_id": <execution name>}`` or a
    bare execution input (``sam local invoke``, tests)."""
    if isinstance(event, dict) and set(event) == {"input", "run_id"}:
        return event["input"], event["run_id"]
    return event, None


def choose_run_id(request_run_id: str | None, execution_name: Any) -> str:
    """The input's run_id (a deliberate re-run), else the execution name, else a new id.

    The execution name is null when an engine starts an execution without one.
    """
    if request_run_id is not None:
        return request_run_id
    if execution_name is not None:
        return validate_run_id(execution_name, "execution name")
    return new_run_id()


async def list_prefixes(event: Any) -> dict[str, Any]:
    config = settings()
    raw_input, execution_name = split_event(event)
    request = parse_run_request(
        raw_input,
        default_expires_in=config.url_expiry_seconds,
        default_max_concurrency=config.default_max_concurrency,
    )
    run_id = choose_run_id(request.run_id, execution_name)
    logger.append_keys(run_id=run_id, bucket=request.bucket, prefix=request.prefix)
    layout = run_layout(run_id)
    manifest_bucket = config.manifest_bucket_for(request.bucket)
    client = await s3_client()
    region = await bucket_region(client, request.bucket, default=config.region)
    stats: dict[str, int] = {}
    units = await plan_units(client, request, min_unit=config.min_unit_keys, stats=stats)
    record = RunRecord.of(
        request, run_id, units=len(units), manifest_bucket=manifest_bucket, plan_key=layout.plan_key, region=region
    )
    store = RunStore(client, manifest_bucket, layout)
    await store.write_plan(units)
    await store.write_run(record)
    metrics.add_metric(name="UnitsPlanned", unit=MetricUnit.Count, value=len(units))
    metrics.add_metric(name="PlanningProbes", unit=MetricUnit.Count, value=stats.get("probes", 0))
    logger.info("plan written", extra={**stats, "plan_key": record.plan_key})
    output = record.to_result()
    if config.inline_plan:
        # Local testing only (Step Functions Local has no ItemReader): the units inline, for
        # an INLINE Map's ItemsPath. State payloads are capped at 256 KiB: a few thousand units.
        output["plan"] = [unit.to_json() for unit in units]
    return output


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_async(list_prefixes(event))
