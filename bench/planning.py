"""``make bench`` planning scenario: ListPrefixes' planner against big synthetic key spaces.

Each case runs ``s3fanout.list_prefixes.plan_units`` once in its own process (``--worker``)
against ``bench.plan_server`` (requests counted), under two latency models of S3 side by
side (:data:`MODELS`): the old flat 50 ms per LIST, and a realistic one (issue 19) - 20 ms
per request + 60 us per key returned, at most 5,500 LISTs per second (one prefix
partition; public figures: aws-samples/s3-fast-list, the S3 request-rate guidance). Then
it counts every unit's keys exactly from the same lazy key space (index runs found by
bisect), checks that the units are disjoint and cover every key, and models the AWS wall
time: planning + the Map's schedule (units in plan order, each to the earliest-free of
MaxConcurrency slots, one page after the other, under the same model and rate cap).
Planning is modelled too, so that a busy machine does not blur it: its round trips under
the model (waves of concurrent probes, ``plan_round_trips``) plus its CPU time.
A second modelled wall (``modelled_wall_spread_s``) adds what BuildManifest does at run
time with a unit far bigger than planned: it stops, plans the rest with the same planner
(run here in-process, probes answered by bisect) and builds it in pieces at once
(:func:`build`, :func:`schedule_spread`).
Ideal: the pages a listing needs spread over MaxConcurrency slots, or over the rate cap,
whichever is slower. Every case also gets what a run costs per million objects
(:func:`cost`), next to the floor set by its LIST requests alone. Prints a table; the last
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
import itertools
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.keyspace import SPACES, _bounds, check_cover, count_range, space, unit_intervals
from bench.processes import BenchError, background, entry, run

PAGE = 1000


@dataclass(frozen=True)
class Model:
    """How long a LIST takes: ``request_s`` + ``per_key_s`` x keys returned, at most
    ``rate`` LISTs starting per second (0: no cap)."""

    name: str
    request_s: float
    per_key_s: float
    rate: float

    def page_s(self, keys: int) -> float:
        return self.request_s + self.per_key_s * keys

    def server_args(self) -> list[str]:
        return ["--list-latency-ms", str(self.request_s * 1000), "--per-key-us", str(self.per_key_s * 1e6),
                "--list-rate", str(self.rate)]  # fmt: skip


MODELS = {
    "s3": Model("s3", 0.020, 60e-6, 5_500.0),  # issue 19's realistic model (the headline)
    "flat50": Model("flat50", 0.050, 0.0, 0.0),  # the earlier bench's flat 50 ms per LIST
}
CASES = [
    "flat100m:1000", "flat1m:100", "dated1m:100", "hash1m:100", "deep1m:100", "skewed:100", "mixed2497:10",
    "tree36:10", "hex1m:100", "flat10m:300", "folders1m:100", "stamps1m:100", "toplevel1m:100", "offalpha1m:100",
    "b64ids1m:100", "longpath1m:100", "names1m:100", "ulid1m:100", "ksuid1m:100", "xid1m:100", "b32hash1m:100",
    "counters1m:100", "tenants1m:100", "hidden100k:100", "hidden1m:100",
    "pareto1m:100", "tiny1m:100", "hash300k:10",
]  # fmt: skip
QUICK = ["flat100k:100", "skewed:100", "mixed2497:10", "tree36:10"]
SMOKE = ["tree36:10"]  # 5,460 keys: every step of a case in a second or two
PREFIX = {"flat100k": "flat/", "flat1m": "flat/", "flat3m": "flat/", "flat10m": "flat/", "flat100m": "flat/"}
# MIN_UNIT_KEYS per space (default: the deployed 5,000): issue 19's small mixed bucket
# was reported with 100.
MIN_UNIT = {"mixed2497": 100}

# -- list prices (USD, us-east-1, read 2026-12; arm64 Lambda) ------------------------------
# https://aws.amazon.com/s3/pricing/ (S3 Standard requests)
S3_LIST_PER_1000 = 0.005  # LIST, like PUT, COPY, POST
S3_PUT_PER_1000 = 0.005
S3_GET_PER_1000 = 0.0004
# https://aws.amazon.com/lambda/pricing/ (Arm, first tier)
LAMBDA_GB_S_ARM = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1e6
# https://aws.amazon.com/step-functions/pricing/
SFN_STANDARD_PER_TRANSITION = 0.025 / 1000
SFN_EXPRESS_PER_REQUEST = 1.00 / 1e6
SFN_EXPRESS_GB_S = 0.00001667  # billed in 64 MB steps; a child holds little state: 64 MB
EXPRESS_MEMORY_GB = 64 / 1024
EXPRESS_BILLED_STEP_S = 0.1  # an EXPRESS execution's duration is rounded up to 100 ms
# template.yaml's MemorySize of each function (MB).
MEMORY_MB = {"ListPrefixes": 1769, "BuildManifest": 768, "MergeIndex": 1769}
# What a run does per unit and per key (statemachine/fanout.asl.json, s3fanout.writer):
# a child runs BuildManifest, UnitFinished, UnitBuilt; the parent ListPrefixes, the Map,
# MergeIndex, RoundEnded, Published (no unit deferred to another round). The deployed children
# are EXPRESS (template.yaml, docs/scale.md); STANDARD is priced beside them for comparison.
CHILD_TRANSITIONS = 3
PARENT_TRANSITIONS = 5
MANIFEST_LINE_BYTES = 700  # one presigned URL line of the manifest
PART_BYTES = 8 * 1024 * 1024  # PART_SIZE_BYTES: a manifest above it is a multipart upload
BUILD_CPU_S_PER_KEY = 25e-6  # BuildManifest's CPU per key (make bench, x86), at 768 MB = 0.43 vCPU
MERGE_S_PER_UNIT = 0.002  # MergeIndex reads each unit's summary (32 at once); assumed


def schedule(sizes: list[int], slots: int, model: Model) -> float:
    """Makespan of units taken in plan order by ``slots`` parallel workers, each listing its
    unit page after page (at least one LIST per unit), LISTs starting no faster than the
    model's rate cap allows (one queue for every slot, like one prefix partition)."""
    gap = 1 / model.rate if model.rate else 0.0
    free = [(0.0, slot) for slot in range(slots)]
    heapq.heapify(free)
    pending = deque(sizes)
    # Each slot works through its current unit's pages; a heap of (ready time, slot).
    work: dict[int, list[int]] = {}
    next_start = 0.0
    end = 0.0
    while free:
        ready, slot = heapq.heappop(free)
        if not work.get(slot):
            if not pending:
                end = max(end, ready)
                continue
            size = pending.popleft()
            work[slot] = [PAGE] * (size // PAGE) + ([size % PAGE] if size % PAGE or not size else [])
        keys = work[slot].pop()
        start = max(ready, next_start)
        next_start = start + gap
        heapq.heappush(free, (start + model.page_s(keys), slot))
    return end


# -- run-time spreading (s3fanout.build_manifest) ------------------------------------------
# A unit's Map slot at run time, op by op: ("list", keys) one listing page; ("wave", sizes)
# concurrent probes of the pieces' planning, keys per page; ("pieces", sizes) the pieces
# built at once (an INLINE Map), the slot held until the last one is listed.
Op = tuple[str, Any]


def page_sizes(size: int) -> list[int]:
    """Keys per listing page of ``size`` keys, in listing order (at least one LIST)."""
    return [PAGE] * (size // PAGE) + ([size % PAGE] if size % PAGE or not size else [])


def probe_sample(keys: Sequence[str], prefix: str, point: str | None, max_keys: int) -> Any:
    """What ``s3fanout.listing.probe_page`` answers: the first ``max_keys`` keys under
    ``prefix`` after ``point`` (not stopped at a unit's end: S3 does not know it)."""
    from s3fanout.planner import Sample

    low, high = _bounds(keys, prefix, point, None)
    stop = min(low + max_keys, high)
    return Sample(point, tuple(keys[low:stop]), low < stop < high)


@dataclass
class Build:
    """How BuildManifest builds one planned unit (``build``): its slot's ops, and the
    pieces it spread into ([] if it did not) with their key counts."""

    ops: list[Op]
    pieces: list[Any] = field(default_factory=list)  # s3fanout.planner.KeyRange
    piece_sizes: list[int] = field(default_factory=list)
    probes: int = 0
    # The last key listed before the pieces were planned (they cover the unit's keys after it).
    spread_after: str | None = None


def build(
    keys: Sequence[str],
    prefix: str,
    start_after: str | None,
    end_key: str | None,
    *,
    estimate: int | None,
    min_unit: int,
) -> Build:
    """The oversize policy of ``s3fanout.build_manifest`` on an exact key space: a unit
    that has listed ``oversized_at`` keys (OVERSIZE_FACTOR x max(estimate, min_unit),
    rounded up to the listing's batches) while more follow stops, plans the rest of its range with the
    RangePlanner ``plan_pieces`` builds (probes answered here by bisect, its rounds in
    waves of PROBE_CONCURRENCY), and builds those pieces at once - or, planned as one
    piece, lists on in its next segment (which may stop and spread again). Pieces never
    spread. A unit that never stops is listed as :func:`schedule` lists it."""
    from s3fanout.build_manifest import MAX_PIECES, OVERSIZE_FACTOR
    from s3fanout.listing import BATCH
    from s3fanout.planner import RangePlanner
    from s3fanout.probing import PROBE_CONCURRENCY

    low, high = _bounds(keys, prefix, start_after, end_key)
    if estimate is None:  # an older planner's unit, or a hand-made one: never spreads
        return Build([("list", k) for k in page_sizes(high - low)[::-1]])
    piece_size = max(estimate, min_unit)
    # PartWriter checks between batches of BATCH keys: it stops once it has listed this many.
    stop_at = math.ceil(OVERSIZE_FACTOR * piece_size / BATCH) * BATCH
    if high - low <= stop_at:
        # Never stops: in schedule()'s page order, so that a plan where no unit spreads
        # models exactly as schedule() does.
        return Build([("list", k) for k in page_sizes(high - low)[::-1]])
    result = Build([])
    position = low
    while high - position > stop_at:
        # PartWriter stops when the batch after its stop_at-th key arrives: the segment's
        # pages up to the one holding that key - one more page when the stop falls on a
        # page's end (S3 answers full pages; a page's keys past the unit are not counted,
        # as schedule() counts none).
        result.ops += [("list", min(PAGE, high - position - i)) for i in range(0, stop_at + 1, PAGE)]
        position += stop_at
        last = keys[position - 1]
        planner = RangePlanner(prefix, target_units=MAX_PIECES, start_after=last, end_key=end_key, min_unit=piece_size)
        points = planner.initial()
        while points:
            answers = [probe_sample(keys, prefix, p, planner.page_size(p)) for p in points]
            for sample in answers:
                planner.record(sample)
            sizes = sorted((len(s.keys) for s in answers), reverse=True)
            result.ops += [("wave", sizes[w : w + PROBE_CONCURRENCY]) for w in range(0, len(sizes), PROBE_CONCURRENCY)]
            points = planner.next_round()
        result.probes += planner.probes
        ranges = planner.ranges()
        if len(ranges) > 1:
            result.pieces = ranges
            result.piece_sizes = [count_range(keys, prefix, r.start_after, r.end_key) for r in ranges]
            result.spread_after = last
            result.ops.append(("pieces", result.piece_sizes))
            return result
    result.ops += [("list", k) for k in page_sizes(high - position)]
    return result


@dataclass
class _Fork:
    """A unit's pieces: the sizes of those not started yet, how many are being listed, and
    when the last one listed ended."""

    waiting: deque[int]
    last: float
    running: int = 0


def schedule_spread(units: list[list[Op]], slots: int, model: Model) -> float:
    """:func:`schedule` with the run-time spreading: each unit's ops (:func:`build`) in
    plan order on the earliest-free of ``slots``; a unit's pieces run at once, at most
    MAX_PIECES (the INLINE Map's MaxConcurrency) at a time, each page after page, its slot
    held until the last piece is listed. Every LIST - pages, probes, pieces' pages - starts
    no faster than the rate cap allows (one queue, as in :func:`schedule`). Not modelled,
    as :func:`schedule` models none: invocations, state transitions, the planner's CPU."""
    from s3fanout.build_manifest import MAX_PIECES

    gap = 1 / model.rate if model.rate else 0.0
    # (ready time, worker): workers 0..slots-1 are the Map's slots (ties broken as in
    # schedule()), the ones after them pieces.
    ready_at = [(0.0, slot) for slot in range(slots)]
    heapq.heapify(ready_at)
    pending = deque(units)
    work: dict[int, deque[Op]] = {}
    owner: dict[int, int] = {}  # piece -> its slot
    forks: dict[int, _Fork] = {}
    next_start = 0.0
    end = 0.0

    ids = itertools.count(slots)

    def start_piece(slot: int, at: float) -> None:
        fork = forks[slot]
        piece = next(ids)
        work[piece] = deque(("list", k) for k in page_sizes(fork.waiting.popleft()))
        owner[piece] = slot
        fork.running += 1
        heapq.heappush(ready_at, (at, piece))

    while ready_at:
        ready, worker = heapq.heappop(ready_at)
        ops = work.get(worker)
        if not ops:
            work.pop(worker, None)
            if worker in owner:  # a piece is listed: its place in the INLINE Map goes to the next
                slot = owner.pop(worker)
                fork = forks[slot]
                fork.last = max(fork.last, ready)
                fork.running -= 1
                if fork.waiting:
                    start_piece(slot, ready)
                elif not fork.running:
                    heapq.heappush(ready_at, (forks.pop(slot).last, slot))
                continue
            if not pending:
                end = max(end, ready)
                continue
            ops = work[worker] = deque(pending.popleft())
        kind, arg = ops.popleft()
        if kind == "pieces":
            forks[worker] = _Fork(deque(arg), ready)
            for _ in range(min(len(arg), MAX_PIECES)):
                start_piece(worker, ready)
            continue
        # A LIST ("list") or PROBE_CONCURRENCY of them at once ("wave"), the rate cap's gap apart.
        sizes = [arg] if kind == "list" else arg
        start = max(ready, next_start)
        next_start = start + gap * len(sizes)
        heapq.heappush(ready_at, (start + gap * (len(sizes) - 1) + model.page_s(max(sizes)), worker))
    return end


def ideal(keys: int, slots: int, model: Model) -> float:
    pages = math.ceil(keys / PAGE)
    by_slots = pages * model.page_s(PAGE) / slots
    return max(by_slots, pages / model.rate if model.rate else 0.0)


def cost(sizes: list[int], planning_lists: int, plan_wall_s: float, model: Model) -> dict[str, Any]:
    """USD per million objects of a run with these units, from the requests it makes and the
    time it runs (BuildManifest: its listing under ``model``, or its CPU if longer),
    with STANDARD and with EXPRESS child executions; and the floor: the LISTs alone."""
    keys = max(1, sum(sizes))
    build_lists = sum(max(1, math.ceil(n / PAGE)) for n in sizes)
    units = len(sizes)
    puts = 1 + 2  # the plan, the index and share page
    summary_objects = 0
    for n in sizes:
        parts = math.ceil(n * MANIFEST_LINE_BYTES / PART_BYTES)
        puts += 1 if parts <= 1 else parts + 2  # PutObject, or create + parts + complete
        # A part of one PutObject carries its summary (s3fanout.part_metadata): the bench's
        # keys are short enough for its metadata. A multipart one writes it as an object.
        summary_objects += parts > 1
    puts += summary_objects
    # MergeIndex: a HeadObject per part (its summary and ETag), the summary objects, and the
    # folder summary reads every part.
    gets = units + summary_objects + units
    build_s = [
        max(sum(model.page_s(min(PAGE, n - i)) for i in range(0, max(n, 1), PAGE)), n * BUILD_CPU_S_PER_KEY / 0.434)
        for n in sizes
    ]
    merge_s = 0.5 + MERGE_S_PER_UNIT * units
    gb_s = (
        plan_wall_s * MEMORY_MB["ListPrefixes"] + sum(build_s) * MEMORY_MB["BuildManifest"]
        + merge_s * MEMORY_MB["MergeIndex"]
    ) / 1024  # fmt: skip
    # (MergeIndex lists the parts and the summary objects)
    s3 = (planning_lists + build_lists + units // 1000 + 2) * S3_LIST_PER_1000 / 1000
    s3 += puts * S3_PUT_PER_1000 / 1000 + gets * S3_GET_PER_1000 / 1000
    lam = gb_s * LAMBDA_GB_S_ARM + (2 + units) * LAMBDA_PER_REQUEST
    standard = (PARENT_TRANSITIONS + CHILD_TRANSITIONS * units) * SFN_STANDARD_PER_TRANSITION
    express = PARENT_TRANSITIONS * SFN_STANDARD_PER_TRANSITION + units * SFN_EXPRESS_PER_REQUEST
    billed_s = sum(math.ceil(b / EXPRESS_BILLED_STEP_S) * EXPRESS_BILLED_STEP_S for b in build_s)
    express += billed_s * EXPRESS_MEMORY_GB * SFN_EXPRESS_GB_S
    per_m = 1e6 / keys
    floor = math.ceil(keys / PAGE) * S3_LIST_PER_1000 / 1000
    return {
        "lists": planning_lists + build_lists,
        "puts": puts,
        "gets": gets,
        "lambda_gb_s": round(gb_s, 1),
        "sfn_transitions_standard": PARENT_TRANSITIONS + CHILD_TRANSITIONS * units,
        "usd_per_m_standard": round((s3 + lam + standard) * per_m, 5),
        "usd_per_m_express": round((s3 + lam + express) * per_m, 5),
        "usd_per_m_floor": round(floor * per_m, 5),
        "express_x_floor": round((s3 + lam + express) / floor, 2),
    }


def count_waves(waves: list[int]) -> None:
    """Count the round trips planning makes: each submitted round in waves of the stream's
    concurrency, a wave as slow as its biggest page - full pages in ``waves[0]``, smaller
    ones in ``waves[1]`` (any planner built on ``ProbeStream``, this one or an older one)."""
    try:
        from s3fanout.probing import ProbeStream
    except ImportError:  # an older planner's layout
        from s3fanout.list_prefixes import ProbeStream  # type: ignore[attr-defined,no-redef]

    submit = ProbeStream.submit

    def counted(self: Any, points: list[str | None]) -> None:
        sizes = sorted((self._size(p) for p in points), reverse=True)
        for wave in range(0, len(sizes), self._concurrency):
            waves[0 if sizes[wave] >= PAGE else 1] += 1
        submit(self, points)

    ProbeStream.submit = counted  # type: ignore[method-assign]


async def _plan(
    endpoint: str, bucket: str, prefix: str, concurrency: int, min_unit: int
) -> tuple[list[Any], float, float, list[int]]:
    from s3fanout.list_prefixes import plan_units

    try:
        from s3fanout.records import RunRequest
    except ImportError:  # an older planner's layout
        from s3fanout.inputs import RunRequest  # type: ignore[attr-defined,no-redef]
    from s3fanout import s3

    # ListPrefixes' own client (an older planner's layout: the shared one).
    config = getattr(s3, "PLANNING_CLIENT_CONFIG", s3.CLIENT_CONFIG)
    request = RunRequest(bucket=bucket, prefix=prefix, suffix="", expires_in=900, max_concurrency=concurrency)
    async with s3.new_session().client("s3", endpoint_url=endpoint, region_name="us-east-1", config=config) as c:
        await c.list_objects_v2(Bucket=bucket, MaxKeys=1)  # connect and warm up outside the measure
        await asyncio.to_thread(requests.post, f"{endpoint}/__reset", timeout=10)
        wall, cpu = time.perf_counter(), time.process_time()
        waves = [0, 0]
        count_waves(waves)
        units = await plan_units(c, request, min_unit=min_unit)
        return units, time.perf_counter() - wall, time.process_time() - cpu, waves


def run_worker(endpoint: str, bucket: str, concurrency: int, model: Model) -> dict[str, Any]:
    import s3fanout

    prefix = PREFIX.get(bucket, "")
    min_unit = MIN_UNIT.get(bucket, 5_000)
    units, wall, cpu, waves = asyncio.run(_plan(endpoint, bucket, prefix, concurrency, min_unit))
    stats = requests.get(f"{endpoint}/__stats", timeout=10).json()
    # Planning as the model has it, whatever else this machine runs: its round trips (waves
    # of concurrent probes, each as slow as its biggest page, no faster than the rate cap
    # allows) and its own CPU.
    trips = waves[0] * model.page_s(PAGE) + waves[1] * model.page_s(PAGE // 4)
    capped = stats["list_requests"] / model.rate if model.rate else 0.0
    plan_model = round(max(trips, capped) + cpu, 3)
    keys = space(bucket)
    runs, sizes, estimates, builds = [], [], [], []
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
        # A delimited unit (an older planner's) lists its folder's direct keys: never spreads.
        delimited = u.get("delimited", False)
        estimate = None if delimited else u.get("estimate")
        builds.append(
            build(keys, u["prefix"], u.get("start_after"), u.get("end_key"), estimate=estimate, min_unit=min_unit)
        )
        if delimited:
            builds[-1].ops = [("list", k) for k in page_sizes(sizes[-1])[::-1]]
    total = count_range(keys, prefix, None, None)
    disjoint, covers = check_cover(keys, prefix, runs)
    mean = sum(sizes) / max(1, len(sizes))
    # The planner's own size estimate (if it makes one) against the exact count.
    errors = [abs(e - n) / max(1, n) for e, n in zip(estimates, sizes, strict=True) if e is not None]
    pages = math.ceil(total / PAGE)
    return {
        "case": f"{bucket}:{concurrency}",
        "model": model.name,
        "planner": str(Path(s3fanout.__file__).parent),
        "keys": total,
        "plan_wall_s": round(wall, 3),
        "plan_cpu_s": round(cpu, 3),
        "list_requests": stats["list_requests"],
        "listing_pages": pages,
        "listed_keys": stats["listed_keys"],
        "units": len(units),
        "delimited_units": sum(bool(_fields(unit).get("delimited", False)) for unit in units),
        "max_unit": max(sizes, default=0),
        "mean_unit": round(mean),
        "max_over_mean": round(max(sizes, default=0) / mean, 2) if mean else None,
        "disjoint": disjoint,
        "covers": covers,
        "exact_cover": disjoint and covers and sum(sizes) == total,
        "plan_round_trips": sum(waves),
        "plan_modelled_s": plan_model,
        "modelled_wall_s": round(plan_model + schedule(sizes, concurrency, model), 2),
        # The same with BuildManifest's run-time spreading of units far bigger than planned.
        "modelled_wall_spread_s": round(plan_model + schedule_spread([b.ops for b in builds], concurrency, model), 2),
        "spread_units": sum(bool(b.pieces) for b in builds),
        "spread_pieces": sum(len(b.pieces) for b in builds),
        "spread_probes": sum(b.probes for b in builds),
        "spread_max_piece": max((n for b in builds for n in b.piece_sizes), default=None),
        "ideal_s": round(ideal(total, concurrency, model), 2),
        "cost": cost(sizes, stats["list_requests"], plan_model, model),
        "estimate_max_error": round(max(errors), 3) if errors else None,
        "unit_sizes": sizes,
    }


def _fields(unit: Any) -> dict[str, Any]:
    """A WorkUnit's JSON fields: ``to_json`` (records.JsonRecord), or ``to_dict`` for a
    planner from before it (another checkout's, measured as "before")."""
    return unit.to_json() if hasattr(unit, "to_json") else unit.to_dict()


def run_case(endpoint: str, case: str, timeout: float, model: str = "s3") -> dict[str, Any]:
    bucket, concurrency = case.split(":")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", BOTO_DISABLE_CRT="true")
    command = [sys.executable, "-m", "bench.planning", "--worker", endpoint, bucket, concurrency, model]
    try:
        out = run(command, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:  # run() has stopped the worker
        return {"case": case, "model": model, "status": "timeout", "timeout_s": timeout}
    if out.returncode:
        return {"case": case, "model": model, "status": "error", "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def failures(results: dict[str, Any]) -> list[str]:
    """One line per case without figures (an error or a timeout)."""
    return [
        f"case {case} {r.get('status')}: " + (" ".join(r.get("error") or []) or f"after {r.get('timeout_s')} s")
        for case, by_model in results.items()
        for r in (by_model, *(v for k, v in by_model.items() if k in MODELS))
        if "plan_wall_s" not in r
    ]


def print_row(r: dict[str, Any]) -> None:
    if "plan_wall_s" not in r:
        print(f"  {r['case']:<14} {r.get('status')}: {r}", flush=True)
        return
    print(
        f"  {r['case']:<14} {r['model']:<6} {r['keys']:>11,} keys"
        f"  plan {r['plan_wall_s']:>7.2f} s wall {r['plan_cpu_s']:>6.2f} s CPU"
        f" {r.get('plan_modelled_s', 0):>6.2f} s modelled"
        f"  {r['list_requests']:>5} LISTs ({r['listing_pages']:,} to list)  {r['units']:>5} units"
        f"  max {r['max_unit']:>9,} ({r['max_over_mean']}x mean)"
        f"  modelled {r['modelled_wall_s']:>7.2f} s{_spread(r)}  ideal {r['ideal_s']:.2f} s  exact {r['exact_cover']}",
        flush=True,
    )


def _spread(r: dict[str, Any]) -> str:
    """The spread wall, when run-time spreading changes it (see LEGEND)."""
    spread = r.get("modelled_wall_spread_s")
    if spread is None or spread == r["modelled_wall_s"]:
        return ""
    pieces = f"{r['spread_units']} units in {r['spread_pieces']} pieces, max {r['spread_max_piece'] or 0:,}"
    return f" (spread {spread:.2f} s: {pieces})"


LEGEND = (
    "  modelled: planning + the Map's schedule, each unit listed page after page by its slot;"
    " spread (shown when it differs): the same with BuildManifest's run-time spreading - a unit that lists"
    " 2 x max(estimate, MIN_UNIT_KEYS) keys while more follow plans its rest (waves of 32 probes) and lists it"
    " in up to 40 pieces at once (rate cap kept)"
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


def case_argument(text: str) -> str:
    """``--case``: a known space (refused before any server starts, naming the spaces)."""
    name = text.partition(":")[0]
    if name not in SPACES:
        raise argparse.ArgumentTypeError(f"no space {name!r}; the spaces are {', '.join(SPACES)}")
    return text


def compact(results: dict[str, Any]) -> dict[str, Any]:
    """The figures without the per-unit sizes (those go to ``--json-out`` only)."""
    return {case: _without_sizes(r) for case, r in results.items()}


def _without_sizes(r: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_sizes(v) if k in MODELS else v for k, v in r.items() if k != "unit_sizes"}


def print_costs(results: dict[str, Any]) -> None:
    """What a run costs per million objects (realistic model's counts and durations)."""
    print("\n  USD per million objects: LISTs/PUTs/GETs, Lambda GB-s; EXPRESS children (deployed) vs STANDARD")
    for case, r in results.items():
        c = r.get("cost")
        if not c:
            continue
        print(
            f"  {case:<14} {c['lists']:>7,} LISTs {c['puts']:>6,} PUTs {c['gets']:>5,} GETs"
            f" {c['lambda_gb_s']:>9,.1f} GB-s"
            f"  EXPRESS ${c['usd_per_m_express']:.4f} ({c['express_x_floor']:.2f} x floor)"
            f"  STANDARD ${c['usd_per_m_standard']:.4f} ({c['sfn_transitions_standard']:,} transitions)"
            f"  LIST floor ${c['usd_per_m_floor']:.4f}",
            flush=True,
        )


def planning_figures(
    quick: bool = False, *, cases: list[str] | None = None, timeout: float = 400, smoke: bool = False
) -> dict[str, Any]:
    """Every case's figures (with ``unit_sizes``), one worker process per case; a case that
    failed has ``status`` and ``error`` instead (see ``failures``)."""
    chosen = select(cases, quick=quick, smoke=smoke)
    by_model: dict[str, dict[str, Any]] = {}
    print(LEGEND, flush=True)
    for name, model in MODELS.items():
        print(f"== planning, {name}: {model.request_s * 1000:.0f} ms per LIST + {model.per_key_s * 1e6:.0f} us per key"
              + (f", at most {model.rate:,.0f} LISTs/s" if model.rate else ""), flush=True)  # fmt: skip
        by_model[name] = {}
        with background("bench.plan_server", *model.server_args()) as port:
            for case in chosen:
                by_model[name][case] = run_case(f"http://127.0.0.1:{port}", case, timeout, name)
                print_row(by_model[name][case])
    # The realistic model's figures first, the other beside them.
    results = {case: {**by_model["s3"][case], "flat50": by_model["flat50"][case]} for case in chosen}
    print_costs(results)
    return results


def listing_cost(samples: int, seed: int = 1) -> dict[str, Any]:
    """Planning's requests against the pages listing takes, on ``samples`` random small
    mixed buckets (1-5 parts of ``keyspace.SHAPES``, 1 to 20,000 keys each) with random
    unit counts and MIN_UNIT_KEYS, planned in this process (a bisecting probe, no HTTP)."""
    import random

    from bench.keyspace import FOLDERS, SHAPES, shaped_keys
    from s3fanout.planner import RangePlanner

    rng = random.Random(seed)
    over: list[tuple[int, int, int]] = []
    for _ in range(samples):
        parts = [
            (
                rng.choice(SHAPES),
                rng.choice(FOLDERS),
                rng.choice([1, 3, 40, 300, 1500, 5000, 20000]),
                rng.randint(0, 10**4),
            )
            for _ in range(rng.randint(1, 5))
        ]
        keys = sorted({k for kind, base, n, salt in parts for k in shaped_keys(kind, base, n, salt)})
        slots = rng.choice([1, 4, 10, 100])
        planner = RangePlanner("", target_units=2 * slots, min_unit=rng.choice([100, 1000, 5000]), slots=slots)
        points = planner.initial()
        while points:
            for point in points:
                planner.record(probe_sample(keys, "", point, planner.page_size(point)))
            points = planner.next_round()
        pages = max(1, math.ceil(len(keys) / PAGE))
        if planner.probes > pages:
            over.append((planner.probes, pages, len(keys)))
    worst = max(over, key=lambda o: o[0] / o[1], default=None)
    return {"samples": samples, "seed": seed, "over_listing": len(over),
            "worst": {"requests": worst[0], "pages": worst[1], "keys": worst[2]} if worst else None}  # fmt: skip


def folder_sweep(seed: int, count: int) -> dict[str, Any]:
    """Planning on ``count`` random folder layouts (``keyspace.folder_layout``, 3,000 keys or
    more) with random MaxConcurrency, in this process (a bisecting probe, no HTTP): each
    layout's requests, round trips and largest unit over the mean, printed as it goes."""
    import random

    from bench.keyspace import folder_layout
    from s3fanout.planner import RangePlanner

    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        keys, layout = folder_layout(rng)
        if len(keys) < 3 * PAGE:
            continue
        slots = rng.choice([4, 20, 100])
        planner = RangePlanner("", target_units=2 * slots, min_unit=1000, slots=slots)
        points = planner.initial()
        while points:
            for point in points:
                planner.record(probe_sample(keys, "", point, planner.page_size(point)))
            points = planner.next_round()
        sizes = [count_range(keys, "", r.start_after, r.end_key) for r in planner.ranges()]
        worst = max(sizes) * len(sizes) / sum(sizes)
        row = {"layout": layout, "keys": len(keys), "slots": slots, "requests": planner.probes,
               "rounds": planner.rounds, "units": len(sizes), "max_over_mean": worst}  # fmt: skip
        print(f"  {layout:<62} {len(keys):>9,} keys  MC {slots:>3}  {planner.probes:>6,} LISTs"
              f"  {planner.rounds:>3} rounds  {len(sizes):>4} units  max {worst:.2f} x mean", flush=True)  # fmt: skip
        rows.append(row)
    over = [r for r in rows if r["max_over_mean"] > 1.2]
    return {"seed": seed, "layouts": len(rows), "over_1_2": len(over),
            "worst": max((r["max_over_mean"] for r in rows), default=None),
            "requests": sum(r["requests"] for r in rows), "rounds": sum(r["rounds"] for r in rows)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small spaces, no 10m")
    parser.add_argument("--smoke", action="store_true", help="the smallest case only: does it run (make test)")
    parser.add_argument(
        "--case", action="append", type=case_argument, help="SPACE:MAXCONCURRENCY (flat1m:100) or SPACE (flat3m)"
    )
    parser.add_argument("--timeout", type=float, default=400, help="seconds per case, then 'timeout'")
    parser.add_argument("--json-out", type=Path, help="also write every figure, unit sizes included, here")
    parser.add_argument(
        "--listing-cost", type=int, metavar="N", help="only: planning vs listing on N random small mixed buckets"
    )
    parser.add_argument(
        "--folder-sweep", metavar="SEED:COUNT", help="only: planning on COUNT random folder layouts of SEED"
    )
    parser.add_argument("--label", default="", help="what is measured (e.g. the planner's commit), for --json-out")
    parser.add_argument(
        "--worker", nargs=4, metavar=("ENDPOINT", "SPACE", "MAXCONCURRENCY", "MODEL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.listing_cost is not None and args.listing_cost <= 0:
        parser.error(f"--listing-cost must be a positive number of buckets, not {args.listing_cost}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive, not {args.timeout}")
    if args.listing_cost:
        print(json.dumps(listing_cost(args.listing_cost)))
        return
    if args.folder_sweep:
        seed, _, count = args.folder_sweep.partition(":")
        if not (seed.isdigit() and count.isdigit() and int(count) > 0):
            parser.error(f"--folder-sweep wants SEED:COUNT (7:30), not {args.folder_sweep!r}")
        print(json.dumps(folder_sweep(int(seed), int(count))))
        return
    if args.worker:
        endpoint, bucket, concurrency, model = args.worker
        print(json.dumps(run_worker(endpoint, bucket, int(concurrency), MODELS[model])))
        return
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
