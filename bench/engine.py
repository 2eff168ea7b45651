"""``make bench`` engine scenario: the embedded engine (``fanout run``) end to end.

Runs the real state machine at several MaxConcurrency values and reports, per run: wall
seconds, objects/s, Map items, the handlers' summed durations, the engine's own time per
Map item (wall x slots in use minus the handlers' durations, over items: meaningful when
the slots do not compete for CPU), and the engine's start and stop times.

S3 is, by default, ``bench.server`` in its own process (an S3 that scales like MinIO or AWS:
generated keys, 50 ms per LIST); ``--moto`` seeds N objects in P prefixes into the engine's
own moto S3 instead (moto answers every LIST by scanning the whole bucket in one process,
so there it is S3, not the engine, that bounds a run). The last line is one JSON object::

    python -m bench.engine [--quick] [--objects N] [--moto [--prefixes P]] [--unit-keys K]

``--unit-keys`` sets the planner's minimum unit (MIN_UNIT_KEYS; default: the deployed
5,000): small values make more Map items, to measure the engine's per-item overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import ExitStack
from typing import Any

from bench.processes import background

LIST_LATENCY_MS = 50
MANIFESTS = "bench-engine-manifests"
SOURCE = "bench-engine-source"


def engine_figures(
    *,
    quick: bool = False,
    objects: int | None = None,
    moto: bool = False,
    prefixes: int = 200,
    unit_keys: int | None = None,
    concurrencies: tuple[int, ...] = (1, 4, 16),
) -> dict[str, Any]:
    with ExitStack() as stack:
        endpoint = None
        if not moto:
            # The engine hands the caller's credentials to a given endpoint: any will do here.
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                os.environ.setdefault(name, "bench")
            port = stack.enter_context(background("bench.server", "--list-latency-ms", str(LIST_LATENCY_MS)))
            endpoint = f"http://127.0.0.1:{port}"
        return _run(stack, quick, objects, endpoint, prefixes, unit_keys, concurrencies)


def _run(  # noqa: PLR0917 - the scenario's knobs, passed through once
    stack: ExitStack,
    quick: bool,
    objects: int | None,
    endpoint: str | None,
    prefixes: int,
    unit_keys: int | None,
    concurrencies: tuple[int, ...],
) -> dict[str, Any]:
    from fanout_local.engine import EmbeddedEngine, EngineConfig
    from fanout_local.synthetic import make_dataset, synthetic_body, upload_keys

    objects = objects or (20_000 if quick else (50_000 if endpoint is None else 200_000))
    # bench.server's bucket n<count> holds <count> generated keys; moto is seeded.
    source = SOURCE if endpoint is None else f"n{objects}"
    figures: dict[str, Any] = {
        "s3": "moto (embedded)" if endpoint is None else f"bench.server, {LIST_LATENCY_MS} ms per LIST",
        "objects": objects,
        "unit_keys": unit_keys,
        "runs": {},
    }
    log = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))  # noqa: SIM115 - closed by stack
    started = time.perf_counter()
    unit_env = {"MIN_UNIT_KEYS": str(unit_keys)} if unit_keys else {}
    engine = EmbeddedEngine(
        EngineConfig(manifest_bucket=MANIFESTS, log=log, s3_endpoint=endpoint, extra_function_env=unit_env)
    )
    engine.__enter__()
    figures["start_s"] = round(time.perf_counter() - started, 2)
    try:
        s3 = engine.s3_client()
        s3.create_bucket(Bucket=MANIFESTS)
        if endpoint is None:
            s3.create_bucket(Bucket=SOURCE)
            seeded = time.perf_counter()
            dataset = make_dataset(objects=objects, prefixes=prefixes)
            upload_keys(s3, SOURCE, dataset.keys, synthetic_body, threads=32)
            figures["seed_s"] = round(time.perf_counter() - seeded, 1)
        for concurrency in concurrencies:
            result = engine.run(
                {"bucket": source, "max_concurrency": concurrency, "suffix": ""}, name=f"bench-c{concurrency}"
            )
            if result.status != "SUCCEEDED":
                figures["runs"][concurrency] = {"status": result.status, "error": result.error}
                continue
            builds = [i for i in result.invocations if i.function == "BuildManifestFunction"]
            handler_s = sum(i.duration_ms for i in result.invocations) / 1000
            slots = min(concurrency, len(builds))
            run = {
                "wall_s": round(result.seconds, 2),
                "objects_per_s": round(objects / result.seconds),
                "map_items": len(builds),
                "handlers_s": round(handler_s, 2),
                # What the slots spent outside the handlers, per Map item.
                "engine_ms_per_item": round(max(0.0, result.seconds * slots - handler_s) / len(builds) * 1000, 1),
                "count": result.output["count"],
            }
            figures["runs"][concurrency] = run
            print(
                f"  MaxConcurrency {concurrency:>3}: {run['wall_s']:>7.2f} s  {run['objects_per_s']:>7,} obj/s  "
                f"{run['map_items']:>4} items  handlers {run['handlers_s']:>6.2f} s  "
                f"engine {run['engine_ms_per_item']:>6.1f} ms/item",
                flush=True,
            )
    finally:
        stopping = time.perf_counter()
        engine.__exit__(None, None, None)
        figures["stop_s"] = round(time.perf_counter() - stopping, 2)
    print(f"  engine start {figures['start_s']} s, stop {figures['stop_s']} s ({figures['s3']})")
    return figures


def lifecycle() -> dict[str, float]:
    """The engine's fixed costs: start (embedded moto S3), one one-object run with cold
    workers, stop. Put another checkout's ``localdev/`` first on PYTHONPATH to compare."""
    from fanout_local.engine import EmbeddedEngine, EngineConfig

    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        started = time.perf_counter()
        engine = EmbeddedEngine(EngineConfig(manifest_bucket=MANIFESTS, log=log))
        engine.__enter__()
        start = time.perf_counter() - started
        try:
            s3 = engine.s3_client()
            s3.create_bucket(Bucket=MANIFESTS)
            s3.create_bucket(Bucket=SOURCE)
            s3.put_object(Bucket=SOURCE, Key="a.pdf", Body=b"%PDF")
            run = engine.run({"bucket": SOURCE}).seconds
        finally:
            stopping = time.perf_counter()
            engine.__exit__(None, None, None)
    stop = time.perf_counter() - stopping
    return {"start_s": round(start, 2), "first_run_s": round(run, 2), "stop_s": round(stop, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--objects", type=int)
    parser.add_argument("--moto", action="store_true", help="the engine's own moto S3, seeded (slow)")
    parser.add_argument("--prefixes", type=int, default=200)
    parser.add_argument("--unit-keys", type=int)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--lifecycle", action="store_true", help="only start, one tiny run, stop")
    args = parser.parse_args()
    os.environ.pop("MIN_UNIT_KEYS", None)
    if args.lifecycle:
        print(json.dumps(lifecycle()))
        return
    print("== embedded engine: fanout run end to end")
    figures = engine_figures(
        quick=args.quick,
        objects=args.objects,
        moto=args.moto,
        prefixes=args.prefixes,
        unit_keys=args.unit_keys,
        concurrencies=tuple(args.concurrency or (1, 4, 16)),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
