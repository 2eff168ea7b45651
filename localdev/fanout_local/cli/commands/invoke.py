"""``fanout invoke``: one handler, one event file, no Docker (twin of ``sam local invoke``)."""

from __future__ import annotations

import argparse
import json
import sys

from fanout_fetch import interrupts
from fanout_local.cli.console import console
from fanout_local.engine import PROJECT_ROOT


def command(args: argparse.Namespace) -> int:
    from fanout_local.lambda_runtime.function_env import function_env
    from fanout_local.lambda_runtime.pool import LambdaRuntime
    from fanout_local.template import load_project

    project = load_project(PROJECT_ROOT, {"ManifestBucketName": args.manifest_bucket or "", "SourceBucketNames": "x"})
    function, event = args.function, args.event  # a template function, the file's JSON (argtypes)
    env = function_env(manifest_bucket=args.manifest_bucket or "", s3_endpoint=args.s3_endpoint)
    runtime = LambdaRuntime({function: project.functions[function]}, base_env=env, log=sys.stderr)
    # A plain line, not a spinner: the worker's own logs stream to this terminal meanwhile.
    console.print(
        f"invoking {function}: a cold start (the worker imports the handler), then the handler ...", markup=False
    )
    try:
        # Waited for in a thread: a handler may run for its whole Timeout; a signal does not wait
        # (close() kills the busy environment).
        invocation = interrupts.call(lambda: runtime.invoke(runtime.pools[function], event))
    finally:
        runtime.close()
    if invocation.error:
        sys.stdout.write(json.dumps(invocation.error) + "\n")
        return 1
    sys.stdout.write(json.dumps(invocation.result, indent=2) + "\n")
    return 0
