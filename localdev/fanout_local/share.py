"""``fanout share``: one execution of the state machine wherever it runs - a deployed stack
(its outputs name the state machine and the manifest bucket) or any Step Functions endpoint
(``fanout serve``) - followed until it ends.

Progress comes from the service: the Distributed Map's item counts (``ListMapRuns`` +
``DescribeMapRun``) where it reports them, otherwise the states entered so far
(``GetExecutionHistory``). Nothing here runs the workflow: an interrupted ``share`` leaves
the execution running, and says how to stop it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import EXIT_FAILED, EXIT_USAGE, UserError

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# How often an execution is described: Step Functions' DescribeExecution allows a burst of 200
# and 25 a second per account (state-changing calls far fewer); one a second is what a person
# watching needs, a quarter second locally.
POLL_SECONDS = 1.0
POLL_SECONDS_LOCAL = 0.25
# Errors meaning "this service has no such operation" (Step Functions Local, older emulators):
# progress falls back to the execution history.
_UNSUPPORTED = frozenset({"UnknownOperationException", "InvalidAction", "NotImplemented", "UnsupportedOperation"})


@dataclass(frozen=True)
class ShareRequest:
    """What to share: the execution input (unset options: the stack's defaults)."""

    bucket: str
    prefix: str = ""
    suffix: str | None = None
    expires_in: int | None = None
    max_concurrency: int | None = None
    name: str | None = None  # the execution name, which is the run id; None: generated
    title: str | None = None  # the share page's headline
    message: str | None = None  # a note under it

    def execution_input(self) -> dict[str, Any]:
        data: dict[str, Any] = {"bucket": self.bucket, "prefix": self.prefix}
        for key in ("suffix", "expires_in", "max_concurrency", "title", "message"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class Target:
    """Where the state machine is, and how to talk about it."""

    state_machine_arn: str
    where: str  # "stack s3-fanout (eu-west-1)" or an endpoint URL: for messages
    manifest_bucket: str | None = None
    endpoint_url: str | None = None  # None: AWS
    stack: str | None = None

    @property
    def region(self) -> str:
        return self.state_machine_arn.split(":")[3]


def translate(exc: Exception, service: str, where: str) -> UserError | None:
    """A one-line error for a failed call of ``service`` at ``where`` (None: not a call error)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return UserError(f"cannot reach {service} at {where}: is it running, and the URL right?", EXIT_FAILED)
    if isinstance(exc, ReadTimeoutError):
        return UserError(f"no answer from {service} at {where}: is it up?", EXIT_FAILED)
    if isinstance(exc, NoCredentialsError):
        return UserError(
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", EXIT_FAILED
        )
    if isinstance(exc, NoRegionError):
        return UserError("no AWS region: pass --region or set AWS_REGION", EXIT_FAILED)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), " ".join(str(error.get("Message", "")).split())
        return UserError(f"{service} at {where} refused {exc.operation_name}: {code} {message}".rstrip(), EXIT_FAILED)
    return None


def _call(where: str, service: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:
        if (user_error := translate(exc, service, where)) is not None:
            raise user_error from None
        raise


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


# -- where the state machine is ---------------------------------------------------------------
def stack_target(cloudformation: Any, stack: str) -> Target:
    """The state machine and manifest bucket from a deployed stack's outputs."""
    region = cloudformation.meta.region_name
    where = f"stack {stack} ({region})"
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            raise UserError(
                f"no stack '{stack}' in {region}: check --stack, and the region (--region or AWS_REGION)", EXIT_FAILED
            ) from None
        if (user_error := translate(exc, "CloudFormation", region)) is not None:
            raise user_error from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
    if "StateMachineArn" not in outputs:
        raise UserError(
            f"{where} has no StateMachineArn output (status {described.get('StackStatus')}): "
            "is it an s3-fanout stack, and deployed? (sam deploy)",
            EXIT_FAILED,
        )
    return Target(
        state_machine_arn=outputs["StateMachineArn"],
        where=where,
        manifest_bucket=outputs.get("ManifestBucket"),
        stack=stack,
    )


def endpoint_target(sfn: Any, endpoint_url: str, state_machine_arn: str | None = None) -> Target:
    """A Step Functions endpoint's state machine: the one given, or the only one there."""
    if state_machine_arn is None:
        machines = _call(endpoint_url, "Step Functions", lambda: sfn.list_state_machines()["stateMachines"])
        if not machines:
            raise UserError(
                f"no state machine at {endpoint_url}: is it fanout serve? (or pass --state-machine-arn)", EXIT_FAILED
            )
        if len(machines) > 1:
            names = ", ".join(m["name"] for m in machines)
            raise UserError(
                f"{len(machines)} state machines at {endpoint_url} ({names}): pass --state-machine-arn", EXIT_USAGE
            )
        state_machine_arn = machines[0]["stateMachineArn"]
    else:
        _call(endpoint_url, "Step Functions", lambda: sfn.describe_state_machine(stateMachineArn=state_machine_arn))
    return Target(state_machine_arn=str(state_machine_arn), where=endpoint_url, endpoint_url=endpoint_url)


def aws_target(sfn: Any, state_machine_arn: str) -> Target:
    """A state machine on AWS, by its ARN (checked: it exists, these credentials see it)."""
    region = state_machine_arn.split(":")[3]
    where = f"AWS ({region})"
    _call(where, "Step Functions", lambda: sfn.describe_state_machine(stateMachineArn=state_machine_arn))
    return Target(state_machine_arn=state_machine_arn, where=where)


# -- one execution ----------------------------------------------------------------------------
def start(sfn: Any, target: Target, request: ShareRequest) -> str:
    """Start the execution; its ARN."""
    kwargs: dict[str, Any] = {
        "stateMachineArn": target.state_machine_arn,
        "input": json.dumps(request.execution_input()),
    }
    if request.name:
        kwargs["name"] = request.name
    try:
        return str(sfn.start_execution(**kwargs)["executionArn"])
    except Exception as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            raise UserError(
                f"an execution named '{request.name}' already ran on {target.where}: pick another --name",
                EXIT_USAGE,
            ) from None
        if (user_error := translate(exc, "Step Functions", target.where)) is not None:
            raise user_error from None
        raise


MAP_COUNT_FIELDS = ("total", "succeeded", "failed", "running", "pending")


@dataclass(frozen=True)
class MapCounts:
    """The Distributed Map's items (work units), as DescribeMapRun counts them."""

    total: int
    succeeded: int
    failed: int
    running: int
    pending: int

    @classmethod
    def of(cls, counts: dict[str, Any]) -> MapCounts:
        return cls(
            **{name: int(counts.get(name, 0)) for name in ("total", "succeeded", "failed", "running", "pending")}
        )


@dataclass(frozen=True)
class Progress:
    status: str
    items: MapCounts | None = None
    states: tuple[str, ...] = ()  # every state entered so far, in order (the history's view)

    def describe(self) -> str:
        """One line for a person."""
        if self.items is not None:
            done = self.items.succeeded + self.items.failed
            line = f"{self.status}: Map {done}/{self.items.total} units, {self.items.running} running"
            return line + (f", {self.items.failed} failed" if self.items.failed else "")
        if self.states:
            return f"{self.status}: {len(self.states)} states entered, now {self.states[-1]}"
        return f"{self.status}: starting"


class ExecutionWatcher:
    """Polls one execution: its status and what progress the service reports."""

    def __init__(self, sfn: Any, execution_arn: str, where: str) -> None:
        self.sfn = sfn
        self.execution_arn = execution_arn
        self.where = where
        self.map_runs_supported = True
        self.described: dict[str, Any] = {}

    def poll(self) -> Progress:
        self.described = _call(
            self.where, "Step Functions", lambda: self.sfn.describe_execution(executionArn=self.execution_arn)
        )
        status = str(self.described["status"])
        if status in TERMINAL:
            return Progress(status)
        items = self._map_counts()
        if items is not None:
            return Progress(status, items=items)
        return Progress(status, states=self._states_entered())

    def _map_counts(self) -> MapCounts | None:
        if not self.map_runs_supported:
            return None
        try:
            runs = self.sfn.list_map_runs(executionArn=self.execution_arn)["mapRuns"]
            if not runs:
                return None  # the Map has not started: the history says where it is
            latest = max(runs, key=lambda run: run["startDate"])
            return MapCounts.of(self.sfn.describe_map_run(mapRunArn=latest["mapRunArn"])["itemCounts"])
        except Exception as exc:
            if error_code(exc) in _UNSUPPORTED or isinstance(exc, AttributeError):
                self.map_runs_supported = False
                return None
            raise

    def _states_entered(self) -> tuple[str, ...]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn, "maxResults": 1000}
        while True:
            page = _call(self.where, "Step Functions", lambda: self.sfn.get_execution_history(**kwargs))
            names += [e["stateEnteredEventDetails"]["name"] for e in page["events"] if "stateEnteredEventDetails" in e]
            if not page.get("nextToken"):
                return tuple(names)
            kwargs["nextToken"] = page["nextToken"]


@dataclass(frozen=True)
class ShareOutcome:
    execution_arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def failure(self) -> str:
        """``FAILED: BucketNotFound: bucket='x': no such bucket``: the named error and its cause."""
        return f"{self.status}: {self.error or 'no error named'}: {readable_cause(self.cause)}"


def readable_cause(cause: str | None) -> str:
    """A Lambda error's cause is JSON (errorType, errorMessage, stackTrace): its message."""
    if not cause:
        return "no cause given"
    try:
        parsed = json.loads(cause)
    except ValueError:
        return " ".join(cause.split())
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return " ".join(str(parsed["errorMessage"]).split())
    return " ".join(cause.split())


def follow(
    watcher: ExecutionWatcher,
    *,
    on_progress: Callable[[Progress], None] = lambda _: None,
    pause: Callable[[float], None] = time.sleep,
    interval: float = POLL_SECONDS,
) -> ShareOutcome:
    """Until the execution ends (``pause`` may raise to stop waiting: a signal)."""
    while (progress := watcher.poll()).status not in TERMINAL:
        on_progress(progress)
        pause(interval)
    described = watcher.described
    output = described.get("output")
    return ShareOutcome(
        execution_arn=watcher.execution_arn,
        status=progress.status,
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
    )


STOP_SECONDS = 10.0  # how long stop() makes sure the stop took


def stop(sfn: Any, execution_arn: str, where: str, *, pause: Callable[[float], None] = time.sleep) -> str:
    """Stop the execution; its status after. On AWS it is ABORTED at once. moto's interpreter
    (fanout serve, moto 5.2.5) drops a stop that comes before its first state - so it is asked
    again while the execution is RUNNING, for a while - and lets a Distributed Map that is
    running go on to SUCCEEDED: the status returned says what came of it."""
    deadline = time.monotonic() + STOP_SECONDS
    while True:
        _call(
            where,
            "Step Functions",
            lambda: sfn.stop_execution(
                executionArn=execution_arn, error="Interrupted", cause="stopped by fanout share"
            ),
        )
        status = str(
            _call(where, "Step Functions", lambda: sfn.describe_execution(executionArn=execution_arn))["status"]
        )
        if status != "RUNNING" or time.monotonic() >= deadline:
            return status
        pause(0.2)


def how_to_stop(target: Target, execution_arn: str) -> str:
    """What a person runs to stop an execution this command left running."""
    endpoint = f" --endpoint-url {target.endpoint_url}" if target.endpoint_url else ""
    region = "" if target.endpoint_url else f" --region {target.region}"
    return (
        f"the execution goes on: {execution_arn}; stop it with: aws{endpoint}{region} "
        f"stepfunctions stop-execution --execution-arn {execution_arn} (or use --stop-on-interrupt)"
    )
