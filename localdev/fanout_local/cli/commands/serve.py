"""``fanout serve``: the embedded engine behind the real APIs - Step Functions (the stack's
state machine created), S3, the Lambda Invoke API - until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.cli.console import console, log_sink
from fanout_local.cli.preflight import check_bucket


def command(args: argparse.Namespace) -> int:
    from fanout_local.serve import LocalCloud, ServeConfig

    if args.s3_endpoint:
        with waiting(console, f"checking s3://{args.manifest_bucket} at {args.s3_endpoint}"):
            interrupts.call(lambda: check_bucket(args.s3_endpoint, args.manifest_bucket))
    with ExitStack() as stack:
        log, log_path = log_sink(stack, args.verbose, time.strftime("serve-%Y%m%dT%H%M%SZ", time.gmtime()))
        steps: list[Callable[[str], None]] = []
        cloud = LocalCloud(
            ServeConfig(
                host=args.host,
                port=args.port,
                s3_endpoint=args.s3_endpoint,
                manifest_bucket=args.manifest_bucket,
                buckets=tuple(args.bucket or ()),
                lambda_timeout=args.lambda_timeout,
                extra_function_env={"MIN_UNIT_KEYS": str(args.unit_keys)} if args.unit_keys else {},
                log=log,
                on_stage=lambda text: steps[-1](text) if steps else None,
                checkpoint=interrupts.check,
            )
        )
        with waiting(console, "starting") as update:
            steps.append(lambda text: update(f"starting: {text}"))
            cloud.__enter__()  # a failed start closes what it started, then raises
        steps.clear()
        try:
            # stdout: one "name: value" line each, for people and scripts alike.
            sys.stdout.write("\n".join(cloud.endpoints.describe()) + "\n")
            sys.stdout.flush()
            console.print(
                f"handler logs: {log_path or 'stderr'}; serving until Ctrl-C (SIGINT) or SIGTERM",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
            interrupts.wait(lambda timeout: time.sleep(timeout) or False)  # only a signal ends it
        finally:
            with waiting(console, "stopping") as update:
                steps.append(lambda text: update(f"stopping: {text}"))
                cloud.close()
    return 0  # never reached: only a signal ends it (exit 130 or 143)
