"""``make bench``: naive baseline vs the BuildManifest path side by side, then planning at
scale (``bench.planning``), the embedded engine end to end (``bench.engine``) and the share
page in a browser (``bench.share_page``).

Every measured run is its own process (``bench.worker``), so CPU and peak RSS are its
own; the synthetic S3 endpoint (``bench.server``) runs in another process. Prints a
table and, as the last line, one JSON object with all figures. Options: ``--quick``
(smaller sizes), ``--objects-1m N`` (size of the large run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from bench.processes import PY, background

RESULTS = Path(__file__).parent / "results"


def worker(mode: str, endpoint: str, bucket: str, prefix: str = "data/") -> dict[str, Any]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", BOTO_DISABLE_CRT="true")
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    out = subprocess.run(
        [PY, "-m", "bench.worker", mode, "--endpoint", endpoint, "--bucket", bucket, "--prefix", prefix],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"worker {mode} {bucket} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"  {mode:<6} {bucket:<9} {result['listed']:>9,} obj  {result['wall_s']:>8.2f} s  "
        f"{result['objects_per_s']:>10,.0f} obj/s  {result['cpu_us_per_object']:>8.2f} us/obj  "
        f"{result['peak_rss_mb']:>6.1f} MB",
        flush=True,
    )
    return result


def moto_check(objects: int) -> dict[str, Any]:
    """Both paths against moto's real S3 implementation; same keys, and ours' URLs fetch."""
    with background("bench.motoserver", "--objects", str(objects)) as port:
        endpoint = f"http://127.0.0.1:{port}"
        naive = worker("naive", endpoint, "realistic")
        ours = worker("ours", endpoint, "realistic")

        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )

        def lines(key: str) -> list[dict[str, Any]]:
            body = s3.get_object(Bucket="manifests", Key=key)["Body"].read().decode()
            return [json.loads(line) for line in body.splitlines() if line]

        ours_lines, naive_lines = lines(ours["part_key"]), lines(naive["part_key"])
        same_keys = bool(ours_lines) and [line["key"] for line in ours_lines] == [line["key"] for line in naive_lines]
        sample = random.Random(4).sample(ours_lines, min(25, len(ours_lines)))
        fetched = sum(
            requests.get(line["url"], timeout=30).content == f"body of {line['key']}".encode() for line in sample
        )
    return {
        "objects": objects,
        "naive": naive,
        "ours": ours,
        "same_keys_and_sizes": same_keys
        and [line["size"] for line in ours_lines] == [line["size"] for line in naive_lines],
        "urls_fetched_ok": f"{fetched}/{len(sample)}",
    }


def scale_figures(*, quick: bool) -> dict[str, Any]:
    """The planner (docs/scale.md) and the embedded engine, each in its own processes."""
    from bench.engine import engine_figures
    from bench.planning import planning_figures

    print("\n== planning (ListPrefixes), 50 ms per LIST: plan, then the Map's modelled schedule")
    planning = planning_figures(quick=quick)
    print("\n== embedded engine (fanout run) end to end, S3 = bench.server at 50 ms per LIST")
    engine = engine_figures(quick=quick)
    print("\n== the share page in headless Chromium: first rows, a search over every name")
    from bench.share_page import share_page_figures

    page = share_page_figures([20_000] if quick else [100_000, 1_000_000])
    return {"planning": planning, "engine": engine, "share_page": page}


def package_section(*, quick: bool) -> dict[str, Any]:
    """Import time from the package sam build makes, without / with bytecode (bench.package)."""
    from bench.package import find_python313, package_figures

    print("\n== the deployment package: import from a read-only package, without / with bytecode")
    python313 = find_python313()
    if not python313:  # the layer is built for python3.13, the Lambda runtime
        print("  not run: no python3.13 here (on PATH or in pyenv's versions)")
        return {"status": "not run: no python3.13"}
    figures = package_figures(python313, runs=3 if quick else 7)
    print(f"  {json.dumps(figures)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--objects-1m", type=int, default=1_000_000)
    args = parser.parse_args()
    side = 5_000 if args.quick else 20_000
    latency_objects = 20_000 if args.quick else 100_000
    large = 50_000 if args.quick else args.objects_1m
    started = time.perf_counter()
    figures: dict[str, Any] = {}

    print(f"== naive vs ours, {side:,} objects, no injected latency")
    with background("bench.server") as port:
        endpoint = f"http://127.0.0.1:{port}"
        naive = worker("naive", endpoint, f"n{side}")
        ours = worker("ours", endpoint, f"n{side}")
        listing = worker("list", endpoint, f"n{side}")
        print(f"\n== ours at {large:,} objects (peak RSS)")
        big = worker("ours", endpoint, f"n{large}")
    figures["side_by_side"] = {
        "objects": side,
        "naive": naive,
        "ours": ours,
        "list_only": listing,
        "cpu_ratio": round(naive["cpu_us_per_object"] / ours["cpu_us_per_object"], 1),
        "throughput_ratio": round(ours["objects_per_s"] / naive["objects_per_s"], 1),
    }
    figures["large"] = big

    print(f"\n== 50 ms per LIST request, {latency_objects:,} objects: ours vs the listing bound")
    with background("bench.server", "--list-latency-ms", "50") as port:
        endpoint = f"http://127.0.0.1:{port}"
        bound = worker("list", endpoint, f"n{latency_objects}")
        ours_latency = worker("ours", endpoint, f"n{latency_objects}")
    figures["latency_50ms"] = {
        "objects": latency_objects,
        "list_only": bound,
        "ours": ours_latency,
        "theoretical_obj_per_s": 1000 / 0.050,
        "ours_vs_listing_bound": round(ours_latency["objects_per_s"] / bound["objects_per_s"], 3),
    }

    print("\n== realistic check on moto (ThreadedMotoServer)")
    figures["moto"] = moto_check(300 if args.quick else 1000)
    print(
        f"  same keys and sizes: {figures['moto']['same_keys_and_sizes']}, URLs: {figures['moto']['urls_fetched_ok']}"
    )

    figures.update(scale_figures(quick=args.quick))

    print("\n== cold start (median of 3 fresh interpreters)")
    from bench.coldstart import coldstart

    figures["coldstart_ms"] = coldstart(runs=3)
    for handler, numbers in figures["coldstart_ms"].items():
        print(f"  {handler:<15} " + "  ".join(f"{k} {v:>7.1f}" for k, v in numbers.items()))
    figures["package_import_ms"] = package_section(quick=args.quick)

    s, lat = figures["side_by_side"], figures["latency_50ms"]
    summary = {
        "objects_side_by_side": side,
        "naive_cpu_us_per_object": s["naive"]["cpu_us_per_object"],
        "ours_cpu_us_per_object": s["ours"]["cpu_us_per_object"],
        "cpu_ratio": s["cpu_ratio"],
        "naive_obj_per_s": s["naive"]["objects_per_s"],
        "ours_obj_per_s": s["ours"]["objects_per_s"],
        "naive_peak_rss_mb": s["naive"]["peak_rss_mb"],
        "ours_peak_rss_mb": s["ours"]["peak_rss_mb"],
        "large_objects": large,
        "large_cpu_us_per_object": big["cpu_us_per_object"],
        "large_obj_per_s": big["objects_per_s"],
        "large_peak_rss_mb": big["peak_rss_mb"],
        "latency50_list_bound_obj_per_s": lat["list_only"]["objects_per_s"],
        "latency50_ours_obj_per_s": lat["ours"]["objects_per_s"],
        "latency50_ours_vs_bound": lat["ours_vs_listing_bound"],
        "moto_same_keys": figures["moto"]["same_keys_and_sizes"],
        "moto_urls_ok": figures["moto"]["urls_fetched_ok"],
        "coldstart_ms": figures["coldstart_ms"],
        "engine_obj_per_s": {c: r.get("objects_per_s") for c, r in figures["engine"]["runs"].items()},
        "planning": {
            case: {
                k: r.get(k)
                for k in (
                    "status",  # "timeout" or "error" when the case has no figures
                    "plan_wall_s",
                    "plan_cpu_s",
                    "list_requests",
                    "units",
                    "max_unit",
                    "max_over_mean",
                    "modelled_wall_s",
                    "ideal_s",
                    "exact_cover",
                )
            }
            for case, r in figures["planning"].items()
        },
        "share_page": figures["share_page"],
        "bench_seconds": round(time.perf_counter() - started, 1),
        "load_average": os.getloadavg()[0],
    }
    print("\n| figure | naive | ours |\n|---|---:|---:|")
    naive_cpu, ours_cpu = summary["naive_cpu_us_per_object"], summary["ours_cpu_us_per_object"]
    print(f"| CPU us/object ({side:,} objects) | {naive_cpu} | {ours_cpu} |")
    print(f"| objects/s ({side:,} objects) | {summary['naive_obj_per_s']:,.0f} | {summary['ours_obj_per_s']:,.0f} |")
    print(f"| peak RSS MB ({side:,} objects) | {summary['naive_peak_rss_mb']} | {summary['ours_peak_rss_mb']} |")
    print(f"| CPU ratio naive/ours | | {summary['cpu_ratio']}x |")
    big_figures = f"{big['cpu_us_per_object']}, {big['objects_per_s']:,.0f}, {big['peak_rss_mb']}"
    print(f"| {large:,} objects: CPU us/obj, obj/s, peak RSS MB | | {big_figures} |")
    print(
        f"| 50 ms/LIST: ours vs listing bound (obj/s) | {lat['list_only']['objects_per_s']:,.0f} (bound) | "
        f"{lat['ours']['objects_per_s']:,.0f} ({lat['ours_vs_listing_bound']:.0%}) |"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({"summary": summary, "details": figures}, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
