"""Cold start of each handler: import time, then first S3 client (+ signer) creation.

    python -m bench.coldstart [--source DIR] [--runs N | --smoke]

Each measurement is a fresh interpreter (like a new Lambda execution environment).
``--source`` puts another copy of ``functions/`` first on sys.path (e.g. the code before
a change, from ``git archive``) to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from bench.processes import entry, run_json

HANDLERS = ("list_prefixes", "build_manifest", "merge_index")

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import importlib
importlib.import_module("s3fanout.handlers." + sys.argv[1])
t1 = time.perf_counter()
import asyncio, inspect
from s3fanout import runtime
signs = sys.argv[1] != "list_prefixes"
async def first_client():
    client = runtime.s3_client()
    if inspect.isawaitable(client):  # process-wide client
        await client
    else:  # per-invocation context manager
        async with client:
            pass
if signs:
    runtime.url_signer("bench-bucket", 900)
t2 = time.perf_counter()
asyncio.run(first_client())
t3 = time.perf_counter()
if signs:
    runtime.url_signer("bench-bucket", 900)
t4 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_signer_ms": (t2 - t1) * 1e3,
                  "first_client_ms": (t3 - t2) * 1e3, "warm_signer_ms": (t4 - t3) * 1e3}))
"""


def measure(handler: str, source: str | None, *, python: str | None = None, isolated: bool = False) -> dict[str, float]:
    """``isolated``: no site-packages (``-S``) and no bytecode written, like a Lambda
    environment whose code and layers are read-only: only ``source`` is importable."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED="true",
        S3_ENDPOINT_URL="http://127.0.0.1:9",
    )
    if source:
        env["PYTHONPATH"] = source + ("" if isolated else os.pathsep + env.get("PYTHONPATH", ""))
    if isolated:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [python or sys.executable, *(["-S"] if isolated else []), "-c", _PROBE, handler]
    return run_json(f"importing {handler} ({command[0]})", command, env=env, timeout=120)


def coldstart(source: str | None = None, runs: int = 3) -> dict[str, dict[str, float]]:
    results = {}
    for handler in HANDLERS:
        samples = [measure(handler, source) for _ in range(runs)]
        results[handler] = {name: round(statistics.median(s[name] for s in samples), 1) for name in samples[0]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one run: does it run (make test)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    results = coldstart(args.source, 1 if args.smoke else args.runs)
    for handler, numbers in results.items():
        print(f"  {handler:<15} " + "  ".join(f"{k} {v:>7.1f}" for k, v in numbers.items()))
    print(json.dumps(results))


if __name__ == "__main__":
    entry(main, "bench.coldstart")
