"""``fanout share``: one execution on a deployed stack or any Step Functions endpoint,
followed until it ends; the share page's URL (stdout), or the execution output (``--json``)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from rich.markup import escape

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.cli import aws
from fanout_local.cli.console import console, print_left_out
from fanout_local.errors import UserError
from s3fanout.records import new_run_id


def _pause(seconds: float) -> None:
    """``seconds``, or less: a signal ends the wait (``interrupts``)."""
    deadline = time.monotonic() + seconds

    def waited(timeout: float) -> bool:
        time.sleep(max(0.0, min(timeout, deadline - time.monotonic())))
        return time.monotonic() >= deadline

    interrupts.wait(waited)


def _check_where(args: argparse.Namespace) -> None:
    if args.stack and (args.endpoint_url or args.state_machine_arn):
        raise UserError("--stack names the state machine itself: drop --endpoint-url and --state-machine-arn")
    if not (args.stack or args.endpoint_url or args.state_machine_arn):
        raise UserError(
            "where should it run? give --stack NAME (deployed), --endpoint-url URL (e.g. fanout serve) "
            "or --state-machine-arn ARN"
        )


def command(args: argparse.Namespace) -> int:
    from fanout_local import share

    _check_where(args)  # usage errors (exit 2) before any call

    bucket, prefix = args.location
    request = share.ShareRequest(
        bucket=bucket,
        prefix=prefix,
        suffix=args.suffix,
        expires_in=args.expires_in,
        max_concurrency=args.max_concurrency,
        # Named like every run (sortable by time), not the service's UUID.
        name=args.name or new_run_id(),
        title=args.title,
        message=args.message,
    )
    sfn = aws.client("stepfunctions", endpoint=args.endpoint_url, region=args.region)
    with waiting(console, "finding the state machine"):
        if args.stack:
            target = share.stack_target(aws.client("cloudformation", region=args.region), args.stack)
            sfn = aws.client("stepfunctions", region=target.region)  # the stack's region
        elif args.endpoint_url:
            target = share.endpoint_target(sfn, args.endpoint_url, args.state_machine_arn)
        else:  # a state machine on AWS, by its ARN
            sfn = aws.client("stepfunctions", region=args.state_machine_arn.split(":")[3])
            target = share.aws_target(sfn, args.state_machine_arn)
    execution_arn = share.start(sfn, target, request)
    console.print(f"started {execution_arn} on {target.where}", markup=False, highlight=False, soft_wrap=True)
    watcher = share.ExecutionWatcher(sfn, execution_arn, target.where)
    interval = share.POLL_SECONDS_LOCAL if args.endpoint_url else share.POLL_SECONDS
    try:
        with waiting(console, "RUNNING") as update:
            shown: list[str] = []

            def on_progress(progress: share.Progress) -> None:
                line = progress.describe()
                if not shown or shown[-1] != line:  # without a terminal: a line per change
                    shown.append(line)
                    update(line)

            outcome = share.follow(watcher, on_progress=on_progress, pause=_pause, interval=interval)
    except KeyboardInterrupt:
        if args.stop_on_interrupt:
            status = share.stop(sfn, execution_arn, target.where)
            said = f"stopped {execution_arn}" if status == "ABORTED" else f"asked to stop {execution_arn}: {status}"
            console.print(said, markup=False, highlight=False, soft_wrap=True)
        else:
            console.print(share.how_to_stop(target, execution_arn), markup=False, highlight=False, soft_wrap=True)
        raise
    if not outcome.succeeded:
        console.print(f"[bold red]{escape(outcome.failure())}[/]", soft_wrap=True, highlight=False)
        console.print(f"execution: {execution_arn}", markup=False, highlight=False, soft_wrap=True)
        return 1
    output = outcome.output or {}
    if args.json:
        sys.stdout.write(json.dumps(output) + "\n")
    else:
        console.print(
            f"[bold green]SUCCEEDED[/]: {output.get('count')} objects, {output.get('parts')} parts, "
            f"links expire {escape(str(output.get('expires_at')))}"
        )
        print_left_out(output)
        console.print("[bold]share this link[/] (opens in a browser; fanout fetch accepts it too):")
        sys.stdout.write(f"{output.get('page_url')}\n")
    if not output.get("count") and not args.allow_empty:
        console.print(
            f"[bold yellow]nothing matched[/]: {escape(f's3://{bucket}/{prefix}')} has no object ending in "
            f"{escape(repr(args.suffix if args.suffix is not None else '.pdf'))} - check the location and "
            "--suffix (--suffix '' for every object), or pass --allow-empty",
            soft_wrap=True,
        )
        return 1
    return 0
