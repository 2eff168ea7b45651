"""Drive the three handlers in sequence, the way the state machine does (without it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from s3fanout.handlers import build_manifest, list_prefixes, merge_index
from tests.support.lambda_context import FakeLambdaContext

# Called with "ListPrefixes", "BuildManifest" or "MergeIndex" before each handler runs: a
# test can give each function its own credentials (tests.support.function_identity).
AsFunction = Callable[[str], None]


def _as_nobody(function: str) -> None:
    return None


def build_every_unit(
    s3: Any, plan: dict[str, Any], *, with_attempt: bool = True, as_function: AsFunction = _as_nobody
) -> list[dict[str, Any]]:
    """BuildManifest for every unit of the plan, following continuations; returns the units.
    ``s3`` reads the plan, as the state machine's ItemReader does."""
    units = json.loads(s3.get_object(Bucket=plan["manifest_bucket"], Key=plan["plan_key"])["Body"].read())
    for unit in units:
        event: dict[str, Any] | None = {
            "run_id": plan["run_id"],
            "bucket": plan["bucket"],
            "suffix": plan["suffix"],
            "expires_in": plan["expires_in"],
            "bucket_region": plan["bucket_region"],
            # as the state machine's ItemSelector passes them from the run record
            **{f: plan.get(f) for f in ("modified_after", "modified_before", "min_size", "max_size")},
            **({"attempt": plan["attempt"]} if with_attempt else {}),
            **unit,
        }
        while event is not None:
            as_function("BuildManifest")
            event = build_manifest.lambda_handler(event, FakeLambdaContext())["next"]
    return units


def run_handlers(
    s3: Any,
    execution_input: dict[str, Any],
    run_id: str = "test-run",
    *,
    as_function: AsFunction = _as_nobody,
    with_attempt: bool = True,
    merge_context: FakeLambdaContext | None = None,
) -> dict[str, Any]:
    as_function("ListPrefixes")
    plan = list_prefixes.lambda_handler({"input": execution_input, "run_id": run_id}, FakeLambdaContext())
    units = build_every_unit(s3, plan, with_attempt=with_attempt, as_function=as_function)
    as_function("MergeIndex")
    return {
        "plan": plan,
        "units": units,
        "index": merge_index.lambda_handler(
            {"run_id": plan["run_id"], "bucket": plan["bucket"]}, merge_context or FakeLambdaContext()
        ),
    }
