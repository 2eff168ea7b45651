"""``make bench`` planning scenario: ListPrefixes' planner against big synthetic key spaces.

Each case runs ``s3fanout.list_prefixes.plan_units`` once in its own process (``--worker``)
against ``bench.plan_server`` (50 ms per LIST, requests counted), then counts every
unit's keys exactly from the same lazy key space (index runs found by bisect), checks
that the units are disjoint and cover every key (their runs chain end to start), and
models the AWS wall time: planning + the Map's schedule (units in plan order, each to
the earliest-free of MaxConcurrency slots, 50 ms per 1,000 keys listed, at least one
LIST per unit). Ideal: keys / 1,000 x 50 ms / MaxConcurrency. Prints a table; the last
line is one JSON object of every figure but the unit sizes (``--json-out`` has those)::

    python -m bench.planning [--quick | --smoke] [--case flat1m:100 | --case flat3m ...] [--timeout 400]

A case that fails or times out is shown in the table and named on stderr, and the exit
status is 1 (the other cases still run). ``--smoke``: the smallest case only (``make test``).

To measure another checkout's planner (e.g. "before"), put its ``functions/`` first on
PYTHONPATH: the worker imports whatever ``s3fanout`` it finds (its path is in the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bench.processes import BenchError, background, entry, run

LATENCY_S = 0.050
CASES = ["flat1m:100", "flat3m:100", "flat3m:300", "skewed:100", "tree36:10", "hex1m:100", "flat10m:100", "flat10m:300"]
QUICK = ["flat100k:100", "skewed:100", "tree36:10"]
SMOKE = ["tree36:10"]  # 5,460 keys: every step of a case in a second or two
PREFIX = {"flat100k": "flat/", "flat1m": "flat/", "flat3m": "flat/", "flat10m": "flat/"}


def schedule(sizes: list[int], slots: int) -> float:
    """Makespan of units taken in plan order by ``slots`` parallel workers."""
    free = [0.0] * slots
    for size in sizes:
        start = heapq.heappop(free)
        heapq.heappush(free, start + max(1, math.ceil(size / 1000)) * LATENCY_S)
    return max(free)


async def _plan(endpoint: str, bucket: str, prefix: str, concurrency: int) -> tuple[list[Any], float, float]:
    from s3fanout.list_prefixes import plan_units
    from s3fanout.records import RunRequest
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
    from bench.keyspace import check_cover, count_range, space, unit_intervals

    prefix = PREFIX.get(bucket, "")
    units, wall, cpu = asyncio.run(_plan(endpoint, bucket, prefix, concurrency))
    stats = requests.get(f"{endpoint}/__stats", timeout=10).json()
    keys = space(bucket)
    runs, sizes, estimates = [], [], []
    for unit in units:
        # Only the fields every planner's WorkUnit has (newer ones add e.g. ``estimate``).
        u = _fields(unit)
        runs.append(
            unit_intervals(
                keys, u["prefix"], u.get("start_after"), u.get("end_key"), delimited=u.get("delimited", False)
            )
        )
        sizes.append(sum(stop - start for start, stop in runs[-1]))
        estimates.append(u.get("estimate"))
    total = count_range(keys, prefix, None, None)
    disjoint, covers = check_cover(keys, prefix, runs)
    mean = sum(sizes) / max(1, len(sizes))
    # The planner's own size estimate (if it makes one) against the exact count.
    errors = [abs(e - n) / max(1, n) for e, n in zip(estimates, sizes, strict=True) if e is not None]
    return {
        "case": f"{bucket}:{concurrency}",
        "planner": str(Path(s3fanout.__file__).parent),
        "keys": total,
        "plan_wall_s": round(wall, 3),
        "plan_cpu_s": round(cpu, 3),
        "list_requests": stats["list_requests"],
        "listed_keys": stats["listed_keys"],
        "units": len(units),
        "delimited_units": sum(bool(_fields(unit).get("delimited", False)) for unit in units),
        "max_unit": max(sizes, default=0),
        "mean_unit": round(mean),
        "max_over_mean": round(max(sizes, default=0) / mean, 2) if mean else None,
        "disjoint": disjoint,
        "covers": covers,
        "exact_cover": disjoint and covers and sum(sizes) == total,
        "modelled_wall_s": round(wall + schedule(sizes, concurrency), 2),
        "ideal_s": round(total / 1000 * LATENCY_S / concurrency, 2),
        "estimate_max_error": round(max(errors), 3) if errors else None,
        "unit_sizes": sizes,
    }


def _fields(unit: Any) -> dict[str, Any]:
    """A WorkUnit's JSON fields: ``to_json`` (records.JsonRecord), or ``to_dict`` for a
    planner from before it (another checkout's, measured as "before")."""
    return unit.to_json() if hasattr(unit, "to_json") else unit.to_dict()


def run_case(endpoint: str, case: str, timeout: float) -> dict[str, Any]:
    bucket, concurrency = case.split(":")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", BOTO_DISABLE_CRT="true")
    command = [sys.executable, "-m", "bench.planning", "--worker", endpoint, bucket, concurrency]
    try:
        out = run(command, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:  # run() has stopped the worker
        return {"case": case, "status": "timeout", "timeout_s": timeout}
    if out.returncode:
        return {"case": case, "status": "error", "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def failures(results: dict[str, Any]) -> list[str]:
    """One line per case without figures (an error or a timeout)."""
    return [
        f"case {case} {r.get('status')}: " + (" ".join(r.get("error") or []) or f"after {r.get('timeout_s')} s")
        for case, r in results.items()
        if "plan_wall_s" not in r
    ]


def print_row(r: dict[str, Any]) -> None:
    if "plan_wall_s" not in r:
        print(f"  {r['case']:<14} {r.get('status')}: {r}", flush=True)
        return
    print(
        f"  {r['case']:<14} {r['keys']:>10,} keys  plan {r['plan_wall_s']:>7.2f} s wall {r['plan_cpu_s']:>6.2f} s CPU"
        f"  {r['list_requests']:>5} LISTs  {r['units']:>5} units  max {r['max_unit']:>9,} ({r['max_over_mean']}x mean)"
        f"  modelled {r['modelled_wall_s']:>7.2f} s  ideal {r['ideal_s']:.2f} s  exact {r['exact_cover']}",
        flush=True,
    )


def select(names: list[str] | None, *, quick: bool, smoke: bool = False) -> list[str]:
    """``SPACE:MAXCONCURRENCY`` cases; a bare ``SPACE`` means its default cases (else C=100)."""
    if not names:
        return SMOKE if smoke else QUICK if quick else CASES
    chosen: list[str] = []
    for name in names:
        if ":" in name:
            chosen.append(name)
        else:
            chosen += [c for c in CASES + QUICK if c.split(":")[0] == name] or [f"{name}:100"]
    return list(dict.fromkeys(chosen))


def compact(results: dict[str, Any]) -> dict[str, Any]:
    """The figures without the per-unit sizes (those go to ``--json-out`` only)."""
    return {case: {k: v for k, v in r.items() if k != "unit_sizes"} for case, r in results.items()}


def planning_figures(
    quick: bool = False, *, cases: list[str] | None = None, timeout: float = 400, smoke: bool = False
) -> dict[str, Any]:
    """Every case's figures (with ``unit_sizes``), one worker process per case; a case that
    failed has ``status`` and ``error`` instead (see ``failures``)."""
    results: dict[str, Any] = {}
    with background("bench.plan_server", "--list-latency-ms", str(LATENCY_S * 1000)) as port:
        for case in select(cases, quick=quick, smoke=smoke):
            results[case] = run_case(f"http://127.0.0.1:{port}", case, timeout)
            print_row(results[case])
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small spaces, no 10m")
    parser.add_argument("--smoke", action="store_true", help="the smallest case only: does it run (make test)")
    parser.add_argument("--case", action="append", help="SPACE:MAXCONCURRENCY (flat1m:100) or SPACE (flat3m)")
    parser.add_argument("--timeout", type=float, default=400, help="seconds per case, then 'timeout'")
    parser.add_argument("--json-out", type=Path, help="also write every figure, unit sizes included, here")
    parser.add_argument("--label", default="", help="what is measured (e.g. the planner's commit), for --json-out")
    parser.add_argument("--worker", nargs=3, metavar=("ENDPOINT", "SPACE", "MAXCONCURRENCY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, not {args.timeout}")
    if args.worker:
        endpoint, bucket, concurrency = args.worker
        print(json.dumps(run_worker(endpoint, bucket, int(concurrency))))
        return
    print(f"== planning, {LATENCY_S * 1000:.0f} ms per LIST")
    results = planning_figures(args.quick, cases=args.case, timeout=args.timeout, smoke=args.smoke)
    if args.json_out:
        meta = {
            "label": args.label,
            "command": shlex.join(sys.argv),
            "load_average": os.getloadavg(),
            "at": time.strftime("%FT%TZ", time.gmtime()),
        }
        # One line per case: readable, and the unit sizes stay on their case's line.
        lines = [f"  {json.dumps(case)}: {json.dumps(r)}" for case, r in results.items()]
        text = '{\n "meta": ' + json.dumps(meta) + ',\n "results": {\n' + ",\n".join(lines) + "\n }\n}\n"
        args.json_out.write_text(text)
    print(json.dumps(compact(results)))
    failed = failures(results)
    if failed:
        raise BenchError("\n".join(failed))


if __name__ == "__main__":
    entry(main, "bench.planning")
