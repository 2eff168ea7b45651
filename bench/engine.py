"""``make bench`` engine scenario: the embedded engine (``fanout run``) end to end.

For each MaxConcurrency (1, 4, 16) a fresh process - as one ``fanout run`` - starts the
engine, runs the real state machine over N objects in P prefixes and stops it; printed per
run: wall seconds of the execution, objects/s, Map items, the handlers' summed durations, the
engine's start (its imports included) and stop. Then the engine's own cost per Map item: a
Distributed Map of cheap Lambda tasks at MaxConcurrency 1, its wall time minus the handlers'
durations (their REPORT lines), over the items.

S3 is, by default, ``bench.server``'s synthetic S3 in its own process (an S3 that scales like
MinIO or AWS: generated keys, 50 ms per LIST), its keys spread over P prefixes; ``--moto``
seeds N objects in P prefixes into a moto server instead (moto answers every LIST by
scanning the whole bucket, so there S3 bounds the run, not the engine). The last line is one
JSON object of the figures::

    python -m bench.engine [--quick | --smoke] [--objects N] [--prefixes P] [--list-latency-ms MS]
                           [--moto] [--concurrency C ...] [--items K] [--lifecycle]

A run that does not succeed is shown and named on stderr, and the exit status is 1.
``--smoke``: the smallest sizes, one run at MaxConcurrency 2 (``make test``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any
from urllib.parse import quote

from bench.processes import PY, BenchError, background, entry, run_json

LIST_LATENCY_MS = 50
MANIFESTS = "bench-engine-manifests"
SOURCE = "bench-engine-source"
EMPTY = "bench-engine-empty"  # a bucket with nothing in it: the per-item scenario's tasks list it


def engine_figures(
    quick: bool = False,
    *,
    objects: int | None = None,
    prefixes: int | None = None,
    moto: bool = False,
    concurrencies: tuple[int, ...] = (1, 4, 16),
    items: int | None = None,
    list_latency_ms: float = LIST_LATENCY_MS,
    smoke: bool = False,
) -> dict[str, Any]:
    """Every figure of the scenario; prints a line per run as it goes. A BenchError, after
    the figures, if a run did not succeed."""
    objects = objects or (2_000 if smoke else 20_000 if quick else (50_000 if moto else 200_000))
    prefixes = prefixes or (2 if smoke else 20 if quick else 200)
    items = items or (3 if smoke else 60 if quick else 200)
    # The engine hands the caller's credentials to the endpoint: any will do here.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    figures: dict[str, Any] = {
        "objects": objects,
        "prefixes": prefixes,
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "runs": {},
    }
    with ExitStack() as stack:
        if moto:
            port = stack.enter_context(background("bench.engine", "--serve-moto", str(objects), str(prefixes)))
            figures["s3"], source = "moto server, seeded", SOURCE
        else:
            per_prefix = -(-objects // prefixes)
            serve = ("--serve-s3", str(per_prefix), str(list_latency_ms))
            port = stack.enter_context(background("bench.engine", *serve))
            figures["s3"], source = f"bench.server, {list_latency_ms:g} ms per LIST", f"n{objects}"
        endpoint = f"http://127.0.0.1:{port}"
        for concurrency in concurrencies:
            run = _in_a_process("--one-run", endpoint, source, str(objects), str(concurrency))
            figures["runs"][concurrency] = run
            _print_run(concurrency, run)
        figures["per_item"] = per_item = _in_a_process("--per-item", endpoint, str(items))
        print(
            f"  per Map item, outside the handler ({per_item['items']} cheap tasks, MaxConcurrency 1): "
            f"{per_item['engine_ms_per_item']:.1f} ms  (wall {per_item['wall_s']:.2f} s, "
            f"handlers {per_item['handlers_s']:.2f} s)",
            flush=True,
        )
    failed = [
        f"MaxConcurrency {c}: {r['status']} {r['error']}: {_message(r['cause'])}"
        for c, r in figures["runs"].items()
        if "wall_s" not in r
    ]
    if per_item["status"] != "SUCCEEDED":
        failed.append(f"per-item run: {per_item['status']}")
    if failed:
        print(json.dumps(figures))  # the figures there are, still the last line of output
        raise BenchError("\n".join(failed))
    return figures


def _message(cause: str) -> str:
    """A Lambda error's message, without its stack trace (the cause is its JSON, maybe cut short)."""
    try:
        return str(json.loads(cause)["errorMessage"])
    except (ValueError, KeyError, TypeError):
        return cause[:300]


def _in_a_process(*args: str) -> dict[str, Any]:
    """Run ``python -m bench.engine ARGS`` (a fresh interpreter, as ``fanout run`` is): its
    last line of output, a JSON object."""
    return run_json(f"bench.engine {' '.join(args[:1])}", [PY, "-m", "bench.engine", *args], timeout=1800)


def one_run(endpoint: str, source: str, objects: int, concurrency: int) -> dict[str, Any]:
    """One fanout run: the engine started (imports included), one execution, stopped."""
    started = time.perf_counter()
    from fanout_local.engine import EmbeddedEngine, EngineConfig

    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        engine = EmbeddedEngine(EngineConfig(manifest_bucket=MANIFESTS, log=log, s3_endpoint=endpoint))
        engine.__enter__()
        start_s = time.perf_counter() - started
        try:
            engine.s3_client().create_bucket(Bucket=MANIFESTS)
            result = engine.run(
                {"bucket": source, "max_concurrency": concurrency, "suffix": ""}, name=f"bench-c{concurrency}"
            )
        finally:
            stopping = time.perf_counter()
            engine.__exit__(None, None, None)
            stop_s = time.perf_counter() - stopping
    run: dict[str, Any] = {"start_s": round(start_s, 2), "stop_s": round(stop_s, 2)}
    if result.status != "SUCCEEDED":
        return {**run, "status": result.status, "error": result.error, "cause": (result.cause or "")[:4000]}
    builds = [i for i in result.invocations if i.function == "BuildManifestFunction"]
    handlers_s = sum(i.duration_ms for i in result.invocations) / 1000
    run.update(
        wall_s=round(result.seconds, 2),
        objects_per_s=round(objects / result.seconds),
        map_items=len(builds),
        handlers_s=round(handlers_s, 2),
        fanout_run_s=round(start_s + result.seconds + stop_s, 2),
        count=(result.output or {}).get("count"),
    )
    if concurrency == 1:
        # One task at a time: what the run spent outside every handler is the engine's.
        run["outside_handlers_s"] = round(result.seconds - handlers_s, 2)
    return run


def _print_run(concurrency: int, run: dict[str, Any]) -> None:
    if "wall_s" not in run:
        print(f"  MaxConcurrency {concurrency:>3}: {run['status']} {run['error']}: {run['cause']}", flush=True)
        return
    print(
        f"  MaxConcurrency {concurrency:>3}: {run['wall_s']:>6.2f} s  {run['objects_per_s']:>7,} obj/s  "
        f"{run['map_items']:>3} items  handlers {run['handlers_s']:>6.2f} s  |  engine start {run['start_s']:.2f} s, "
        f"stop {run['stop_s']:.2f} s",
        flush=True,
    )


def per_item_definition(items: int) -> str:
    """A Distributed Map of ``items`` ListPrefixes tasks on an empty bucket, any error caught."""
    from fanout_local.template import function_arn

    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": function_arn("ListPrefixesFunction"),
            "Payload": {"bucket": EMPTY, "run_id.$": "States.Format('item-{}', $.i)"},
        },
        "OutputPath": "$.Payload",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
        "End": True,
    }
    definition = {
        "StartAt": "Items",
        "States": {
            "Items": {"Type": "Pass", "Result": [{"i": i} for i in range(items)], "Next": "Map"},
            "Map": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Task",
                    "States": {"Task": task, "Caught": {"Type": "Pass", "End": True}},
                },
                "ResultSelector": {"items.$": "States.ArrayLength($)"},
                "End": True,
            },
        },
    }
    return json.dumps(definition)


def per_item(endpoint: str, items: int) -> dict[str, Any]:
    """The engine's time per Map item: wall minus the handlers' durations, one at a time."""
    from fanout_local.engine import EmbeddedEngine, EngineConfig

    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        config = EngineConfig(
            manifest_bucket=EMPTY, log=log, s3_endpoint=endpoint, definition=per_item_definition(items)
        )
        with EmbeddedEngine(config) as engine:
            engine.run({}, name="warm-up")  # every function warm, every path parsed once
            result = engine.run({}, name="per-item")
    handlers_s = sum(i.duration_ms for i in result.invocations) / 1000
    return {
        "items": len(result.invocations),
        "status": result.status,
        "wall_s": round(result.seconds, 2),
        "handlers_s": round(handlers_s, 2),
        "engine_ms_per_item": round((result.seconds - handlers_s) / max(1, len(result.invocations)) * 1000, 1),
    }


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


# -- S3 endpoints, each in its own process (``bench.processes.background``) -------------------


def prefixed_keys(keys_per_prefix: int) -> tuple[Callable[[int], str], Callable[[int], str]]:
    """``bench.server``'s ``key_at`` and ``quoted_key_at`` with ``keys_per_prefix`` keys to a
    prefix instead of 10,000 (still in S3's key order: the server bisects them)."""
    from bench.server import EXTENSIONS

    quoted = tuple(quote(extension, safe="/") for extension in EXTENSIONS)

    def key_at(index: int) -> str:
        return f"data/{index // keys_per_prefix:05d}/object-{index:09d}{EXTENSIONS[index % len(EXTENSIONS)]}"

    def quoted_key_at(index: int) -> str:
        return f"data/{index // keys_per_prefix:05d}/object-{index:09d}{quoted[index % len(quoted)]}"

    return key_at, quoted_key_at


def serve_synthetic_s3(keys_per_prefix: int, list_latency_ms: float) -> None:
    """``bench.server`` with its generated keys spread ``keys_per_prefix`` to a prefix."""
    from bench import server

    server.key_at, server.quoted_key_at = prefixed_keys(keys_per_prefix)
    asyncio.run(server.serve(server.SyntheticS3(list_latency_ms / 1000), 0))


def serve_moto(objects: int, prefixes: int) -> None:
    """A moto server holding ``objects`` objects in ``prefixes`` prefixes, seeded in-process."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    from fanout_local.engine import free_port
    from fanout_local.synthetic import make_dataset, synthetic_body

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    backend.create_bucket(SOURCE, "us-east-1")
    for key in make_dataset(objects=objects, prefixes=prefixes).keys:
        backend.put_object(SOURCE, key, synthetic_body(key))
    print("PORT", port, flush=True)
    while True:
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    parser.add_argument("--quick", action="store_true", help="20,000 objects in 20 prefixes")
    parser.add_argument("--smoke", action="store_true", help="2,000 objects, one run, 3 items: does it run")
    parser.add_argument("--objects", type=int, help="default 200,000 (--moto: 50,000)")
    parser.add_argument("--prefixes", type=int, help="default 200")
    parser.add_argument("--moto", action="store_true", help="a seeded moto server as S3 (slow: S3-bound)")
    parser.add_argument("--concurrency", type=int, action="append", help="MaxConcurrency (repeat); default 1, 4, 16")
    parser.add_argument("--items", type=int, help="Map items of the per-item scenario; default 200")
    parser.add_argument("--list-latency-ms", type=float, default=LIST_LATENCY_MS, help="bench.server's, per LIST")
    parser.add_argument("--lifecycle", action="store_true", help="only start, one tiny run, stop")
    parser.add_argument(
        "--serve-s3", nargs=2, type=float, metavar=("KEYS_PER_PREFIX", "LIST_MS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve-moto", nargs=2, type=int, metavar=("OBJECTS", "PREFIXES"), help=argparse.SUPPRESS)
    parser.add_argument("--one-run", nargs=4, metavar=("ENDPOINT", "BUCKET", "OBJECTS", "MC"), help=argparse.SUPPRESS)
    parser.add_argument("--per-item", nargs=2, metavar=("ENDPOINT", "ITEMS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ("objects", "prefixes", "items"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, not {getattr(args, name)}")
    if args.one_run:
        endpoint, bucket, objects, concurrency = args.one_run
        print(json.dumps(one_run(endpoint, bucket, int(objects), int(concurrency))))
        return
    if args.per_item:
        print(json.dumps(per_item(args.per_item[0], int(args.per_item[1]))))
        return
    if args.serve_s3:
        serve_synthetic_s3(int(args.serve_s3[0]), args.serve_s3[1])
        return
    if args.serve_moto:
        serve_moto(*args.serve_moto)
        return
    os.environ.pop("MIN_UNIT_KEYS", None)  # the deployed planner
    if args.lifecycle:
        print(json.dumps(lifecycle()))
        return
    print("== embedded engine: fanout run end to end (a fresh engine per run)", flush=True)
    figures = engine_figures(
        args.quick,
        objects=args.objects,
        prefixes=args.prefixes,
        moto=args.moto,
        concurrencies=tuple(args.concurrency or ((2,) if args.smoke else (1, 4, 16))),
        items=args.items,
        list_latency_ms=args.list_latency_ms,
        smoke=args.smoke,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    entry(main, "bench.engine")
