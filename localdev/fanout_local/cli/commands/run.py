"""``fanout run``: one execution of the state machine on the embedded engine."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from typing import Any

from rich.markup import escape

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.cli.console import console, log_sink, print_failure, print_left_out, run_with_progress, running_engine
from fanout_local.cli.preflight import aws_endpoint, check_bucket, check_lambda_endpoint
from fanout_local.engine import EngineConfig
from s3fanout.records import new_run_id


def _execution_input(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {"bucket": args.bucket, "prefix": args.prefix, "suffix": args.suffix}
    if args.expires_in is not None:
        data["expires_in"] = args.expires_in
    if args.max_concurrency is not None:
        data["max_concurrency"] = args.max_concurrency
    for name in ("title", "message"):
        if getattr(args, name) is not None:
            data[name] = getattr(args, name)
    return data


def command(args: argparse.Namespace) -> int:
    name = args.name or new_run_id()
    s3_endpoint = args.s3_endpoint or aws_endpoint()
    with waiting(console, f"checking s3://{args.bucket} at {s3_endpoint}"):
        # In a thread: its timeouts add up to seconds, which a signal does not wait for.
        interrupts.call(lambda: check_bucket(s3_endpoint, args.bucket))
    if args.lambda_endpoint:
        with waiting(console, f"checking the Lambda endpoint at {args.lambda_endpoint}"):
            interrupts.call(lambda: check_lambda_endpoint(args.lambda_endpoint))
    with ExitStack() as stack:
        log, log_path = log_sink(stack, args.verbose, name)
        engine = stack.enter_context(
            running_engine(
                EngineConfig(
                    manifest_bucket=args.manifest_bucket or args.bucket,
                    s3_endpoint=s3_endpoint,
                    lambda_endpoint=args.lambda_endpoint,
                    lambda_timeout=args.lambda_timeout,
                    log=log,
                )
            )
        )
        if args.json:
            result = engine.run(_execution_input(args), name=name)
        else:
            result = run_with_progress(engine, _execution_input(args), name)
    if log_path and not args.json:
        console.print(f"handler logs: {log_path}", soft_wrap=True, highlight=False, markup=False)
    if not result.succeeded:
        print_failure(result)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(result.output) + "\n")
    else:
        output = result.output or {}
        console.print(
            f"[bold green]SUCCEEDED[/] in {result.seconds:.1f} s: {output.get('count')} objects, "
            f"{output.get('parts')} parts, expires {escape(str(output.get('expires_at')))}"
        )
        print_left_out(output)
        # The page is the link for a person; the index is for programs (fanout fetch takes either).
        # soft_wrap: a URL broken over lines cannot be copied (rich wraps at the width otherwise).
        console.print(f"index (for programs): {output.get('index_url')}", soft_wrap=True, highlight=False, markup=False)
        console.print("[bold]share this link[/] (opens in a browser; fanout fetch accepts it too):")
        sys.stdout.write(f"{output.get('page_url')}\n")
    if not (result.output or {}).get("count") and not args.allow_empty:
        # The index exists but lists nothing: almost always a wrong bucket, prefix or suffix.
        where, suffix = escape(f"s3://{args.bucket}/{args.prefix}"), escape(f"'{args.suffix}'")
        console.print(
            f"[bold yellow]nothing matched[/]: {where} has no object ending in "
            f"{suffix} - check --prefix and --suffix (--suffix '' for every object), "
            "or pass --allow-empty",
            soft_wrap=True,
        )
        return 1
    return 0
