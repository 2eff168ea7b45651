"""``fanout serve-lambda``: the Lambda Invoke API alone, for Step Functions Local."""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack

from rich.markup import escape

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.cli.console import console, log_sink
from fanout_local.engine import PROJECT_ROOT


def command(args: argparse.Namespace) -> int:
    """The embedded engine's Lambda endpoint alone, for Step Functions Local (twin of
    ``sam local start-lambda``)."""
    import threading

    from fanout_local.lambda_runtime.function_env import function_env
    from fanout_local.lambda_runtime.invoke_api import LambdaInvokeServer
    from fanout_local.lambda_runtime.pool import Invocation, LambdaRuntime, report_line
    from fanout_local.template import REGION, load_project

    project = load_project(PROJECT_ROOT, {"ManifestBucketName": args.manifest_bucket or "", "SourceBucketNames": "x"})
    inline_plan = "false" if args.no_inline_plan else "true"
    env = function_env(
        manifest_bucket=args.manifest_bucket or "",  # empty: manifests go to the source bucket
        s3_endpoint=args.s3_endpoint,
        default_region=REGION,
        extra={"INLINE_PLAN": inline_plan},
    )
    with ExitStack() as stack:
        log, log_path = log_sink(stack, args.verbose, time.strftime("serve-lambda-%Y%m%dT%H%M%SZ", time.gmtime()))
        runtime = LambdaRuntime(
            project.functions,
            base_env=env,
            log=log,
            timeout_overrides={"BuildManifestFunction": args.lambda_timeout} if args.lambda_timeout else None,
        )
        lock = threading.Lock()

        def print_report(invocation: Invocation) -> None:
            lines = []
            if invocation.error:
                error = invocation.error
                lines.append(f"[{invocation.function}] ERROR {error.get('errorType')}: {error.get('errorMessage')}")
            lines.append(report_line(invocation, runtime.pools[invocation.function].spec.memory_mb))
            with lock:
                print("\n".join(lines), flush=True)

        if not args.verbose:  # with --verbose the runtime writes START/ERROR/REPORT to stderr itself
            runtime.observers.append(print_report)
        try:
            server = LambdaInvokeServer(runtime, host=args.host, port=args.port).start()
        except OSError as exc:
            runtime.close()
            console.print(f"[red]{escape(f'cannot listen on {args.host}:{args.port}: {exc}')}[/]")
            return 1
        print(f"Lambda Invoke API on {server.url} - functions: {', '.join(project.functions)}", flush=True)
        console.print(
            f"S3: {args.s3_endpoint or 'AWS (default endpoint)'}; INLINE_PLAN={inline_plan}; "
            f"handler logs: {log_path or 'stderr'}. Step Functions Local in Docker reaches it at "
            f"http://host.docker.internal:{args.port} (on Linux, serve with --host 0.0.0.0). Ctrl-C stops.",
            markup=False,
        )
        try:
            interrupts.wait(lambda timeout: time.sleep(timeout) or False)  # serves until a signal
        finally:
            with waiting(console, "stopping the Lambda server: its workers finish and exit"):
                server.stop()
    return 0  # never reached: only a signal ends it (exit 130 or 143)
