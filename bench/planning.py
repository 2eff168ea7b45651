"""``make bench`` planning scenario: ListPrefixes' planner against big synthetic key spaces.

Each case runs ``s3fanout.planner.plan_units`` once in its own process (``--worker``)
against ``bench.plan_server`` (50 ms per LIST, requests counted), then counts every
unit's keys exactly from the same lazy key space and models the AWS wall time:
planning + the Map's schedule (units in plan order, each to the earliest-free of
MaxConcurrency slots, 50 ms per 1,000 keys listed). Ideal: keys / 1,000 x 50 ms /
MaxConcurrency. Prints a table; the last line is one JSON object of every figure::

    python -m bench.planning [--quick] [--case flat1m:100 ...] [--timeout 400]

To measure another checkout's planner (e.g. "before"), put its ``functions/`` first on
PYTHONPATH: the worker imports whatever ``s3fanout`` it finds.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bench.processes import background

LATENCY_S = 0.050
CASES = ["flat1m:100", "flat3m:100", "flat3m:300", "skewed:100", "tree36:10", "hex1m:100", "flat10m:100", "flat10m:300"]
QUICK = ["flat100k:100", "skewed:100", "tree36:10"]
PREFIX = {"flat100k": "flat/", "flat1m": "flat/", "flat3m": "flat/", "flat10m": "flat/"}


def schedule(sizes: list[int], slots: int) -> float:
    """Makespan of units taken in plan order by ``slots`` parallel workers."""
    free = [0.0] * slots
    for size in sizes:
        start = heapq.heappop(free)
        heapq.heappush(free, start + max(1, math.ceil(size / 1000)) * LATENCY_S)
    return max(free)


async def _plan(endpoint: str, bucket: str, prefix: str, concurrency: int) -> tuple[list[Any], float, float]:
    from s3fanout.inputs import RunRequest
    from s3fanout.planner import plan_units
    from s3fanout.s3 import CLIENT_CONFIG, new_session

    request = RunRequest(bucket=bucket, prefix=prefix, suffix="", expires_in=900, max_concurrency=concurrency)
    async with new_session().client("s3", endpoint_url=endpoint, region_name="us-east-1", config=CLIENT_CONFIG) as c:
        await c.list_objects_v2(Bucket=bucket, MaxKeys=1)  # connect and warm up outside the measure
        await asyncio.to_thread(requests.post, f"{endpoint}/__reset", timeout=10)
        wall, cpu = time.perf_counter(), time.process_time()
        units = await plan_units(c, request)
        return units, time.perf_counter() - wall, time.process_time() - cpu


def run_worker(endpoint: str, bucket: str, concurrency: int) -> dict[str, Any]:
    import s3fanout
    from bench.keyspace import count_direct, count_range, space

    prefix = PREFIX.get(bucket, "")
    units, wall, cpu = asyncio.run(_plan(endpoint, bucket, prefix, concurrency))
    stats = requests.get(f"{endpoint}/__stats", timeout=10).json()
    keys = space(bucket)
    sizes = []
    for unit in units:
        u = unit.to_dict()
        count = count_direct if u.get("delimited") else count_range
        sizes.append(count(keys, u["prefix"], u.get("start_after"), u.get("end_key")))
    total = count_range(keys, prefix, None, None)
    mean = sum(sizes) / max(1, len(sizes))
    return {
        "case": f"{bucket}:{concurrency}",
        "planner": str(Path(s3fanout.__file__).parent),
        "keys": total,
        "plan_wall_s": round(wall, 3),
        "plan_cpu_s": round(cpu, 3),
        "list_requests": stats["list_requests"],
        "listed_keys": stats["listed_keys"],
        "units": len(units),
        "max_unit": max(sizes, default=0),
        "mean_unit": round(mean),
        "max_over_mean": round(max(sizes, default=0) / mean, 2) if mean else None,
        "exact_cover": sum(sizes) == total,
        "modelled_wall_s": round(wall + schedule(sizes, concurrency), 2),
        "ideal_s": round(total / 1000 * LATENCY_S / concurrency, 2),
    }


def run_case(endpoint: str, case: str, timeout: float) -> dict[str, Any]:
    bucket, concurrency = case.split(":")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", BOTO_DISABLE_CRT="true")
    command = [sys.executable, "-m", "bench.planning", "--worker", endpoint, bucket, concurrency]
    try:
        out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"case": case, "timeout_s": timeout}
    if out.returncode:
        return {"case": case, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_row(r: dict[str, Any]) -> None:
    if "plan_wall_s" not in r:
        print(f"  {r['case']:<14} {r}", flush=True)
        return
    print(
        f"  {r['case']:<14} {r['keys']:>10,} keys  plan {r['plan_wall_s']:>7.2f} s wall {r['plan_cpu_s']:>6.2f} s CPU"
        f"  {r['list_requests']:>5} LISTs  {r['units']:>5} units  max {r['max_unit']:>9,} ({r['max_over_mean']}x mean)"
        f"  modelled {r['modelled_wall_s']:>7.2f} s  ideal {r['ideal_s']:.2f} s  exact {r['exact_cover']}",
        flush=True,
    )


def planning_figures(*, quick: bool = False, cases: list[str] | None = None, timeout: float = 400) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with background("bench.plan_server", "--list-latency-ms", str(LATENCY_S * 1000)) as port:
        for case in cases or (QUICK if quick else CASES):
            results[case] = run_case(f"http://127.0.0.1:{port}", case, timeout)
            print_row(results[case])
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case", action="append", help="SPACE:MAXCONCURRENCY, e.g. flat1m:100")
    parser.add_argument("--timeout", type=float, default=400)
    parser.add_argument("--worker", nargs=3, metavar=("ENDPOINT", "SPACE", "MAXCONCURRENCY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        endpoint, bucket, concurrency = args.worker
        print(json.dumps(run_worker(endpoint, bucket, int(concurrency))))
        return
    print(f"== planning, {LATENCY_S * 1000:.0f} ms per LIST")
    print(json.dumps(planning_figures(quick=args.quick, cases=args.case, timeout=args.timeout)))


if __name__ == "__main__":
    main()
