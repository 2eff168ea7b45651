"""``make bench``: naive baseline vs the BuildManifest path side by side, then planning at
scale (``bench.planning``), the embedded engine end to end (``bench.engine``), the share
page in a browser (``bench.share_page``), cold starts (``bench.coldstart``) and the
deployment package (``bench.package``), each of those run as its own tool.

Every measured run is its own process (``bench.worker``), so CPU and peak RSS are its
own; the synthetic S3 endpoint (``bench.server``) runs in another process. Prints a
table and, as the last line, one JSON object with all figures. Options: ``--quick``
(smaller sizes), ``--smoke`` (the smallest: does every section run, for ``make test``),
``--objects-1m N`` (size of the large run).

A section that fails is named on stderr, the others still run, and the exit status is 1
(the last line is then the JSON of every section's figures, the failed ones' errors).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.processes import PY, BenchError, background, entry, run_json, stream

RESULTS = Path(__file__).parent / "results"


def worker(mode: str, endpoint: str, bucket: str, prefix: str = "data/") -> dict[str, Any]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", BOTO_DISABLE_CRT="true")
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    command = [PY, "-m", "bench.worker", mode, "--endpoint", endpoint, "--bucket", bucket, "--prefix", prefix]
    result = run_json(f"bench.worker {mode} {bucket}", command, env=env, timeout=1800)
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
    same = same_keys and [line["size"] for line in ours_lines] == [line["size"] for line in naive_lines]
    print(f"  same keys and sizes: {same}, URLs: {fetched}/{len(sample)}")
    if not same or fetched < len(sample):  # the point of this check: ours is right on a real S3
        raise BenchError(f"on moto, ours and naive differ ({same=}) or URLs failed ({fetched}/{len(sample)} fetched)")
    return {
        "objects": objects,
        "naive": naive,
        "ours": ours,
        "same_keys_and_sizes": same,
        "urls_fetched_ok": f"{fetched}/{len(sample)}",
    }


def side_by_side(side: int, large: int) -> dict[str, Any]:
    with background("bench.server") as port:
        endpoint = f"http://127.0.0.1:{port}"
        naive = worker("naive", endpoint, f"n{side}")
        ours = worker("ours", endpoint, f"n{side}")
        listing = worker("list", endpoint, f"n{side}")
        big = worker("ours", endpoint, f"n{large}")
    return {
        "objects": side,
        "naive": naive,
        "ours": ours,
        "list_only": listing,
        "cpu_ratio": round(naive["cpu_us_per_object"] / ours["cpu_us_per_object"], 1),
        "throughput_ratio": round(ours["objects_per_s"] / naive["objects_per_s"], 1),
        "large": big,
    }


def latency(objects: int) -> dict[str, Any]:
    with background("bench.server", "--list-latency-ms", "50") as port:
        endpoint = f"http://127.0.0.1:{port}"
        bound = worker("list", endpoint, f"n{objects}")
        ours = worker("ours", endpoint, f"n{objects}")
    return {
        "objects": objects,
        "list_only": bound,
        "ours": ours,
        "theoretical_obj_per_s": 1000 / 0.050,
        "ours_vs_listing_bound": round(ours["objects_per_s"] / bound["objects_per_s"], 3),
    }


# The sections that are bench tools of their own, each run as one (its own process, its
# lines printed as they come, its last line of JSON the figures): the module, then its
# arguments for a full, a --quick and a --smoke run.
TOOLS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "planning": ("bench.planning", {"full": [], "quick": ["--quick"], "smoke": ["--smoke"]}),
    "engine": ("bench.engine", {"full": [], "quick": ["--quick"], "smoke": ["--smoke"]}),
    "share_page": (
        "bench.share_page",
        {"full": ["--objects", "100000", "1000000"], "quick": ["--objects", "20000"], "smoke": ["--smoke"]},
    ),
    "coldstart_ms": ("bench.coldstart", {"full": ["--runs", "3"], "quick": ["--runs", "3"], "smoke": ["--smoke"]}),
    "package_import_ms": ("bench.package", {"full": ["--runs", "7"], "quick": ["--runs", "3"], "smoke": ["--smoke"]}),
}
SECTIONS = ("side_by_side", "latency_50ms", "moto", *TOOLS)
HEADERS = {  # planning and engine print their own
    "share_page": "the share page in headless Chromium: first rows, a search over every name",
    "coldstart_ms": "cold start (median of fresh interpreters)",
    "package_import_ms": "the deployment package: import from a read-only package, without / with bytecode",
}


def tool(section: str, size: str, results: Path) -> dict[str, Any]:
    module, sizes = TOOLS[section]
    args = sizes[size]
    if section == "package_import_ms":
        from bench.package import find_python313

        python313 = find_python313()
        if not python313:  # the layer is built for python3.13, the Lambda runtime: not run, not an error
            print("  not run: no python3.13 here (on PATH or in pyenv's versions)")
            return {"status": "not run: no python3.13"}
        args = [*args, "--python", python313]
    if section == "planning":  # every figure, unit sizes included, beside latest.json
        args = [*args, "--json-out", str(results / "planning.json")]
    return stream(module, [PY, "-m", module, *args])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="smaller sizes")
    sizes.add_argument("--smoke", action="store_true", help="the smallest sizes: does every section run (make test)")
    parser.add_argument("--objects-1m", type=int, default=1_000_000, help="size of the large run")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run this section (repeat); default all")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where latest.json goes")
    args = parser.parse_args()
    if args.objects_1m < 1:
        parser.error(f"--objects-1m must be at least 1, not {args.objects_1m}")
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    side = {"smoke": 2_000, "quick": 5_000, "full": 20_000}[size]
    latency_objects = {"smoke": 2_000, "quick": 20_000, "full": 100_000}[size]
    large = {"smoke": 3_000, "quick": 50_000, "full": args.objects_1m}[size]
    moto_objects = {"smoke": 50, "quick": 300, "full": 1000}[size]
    started = time.perf_counter()
    results: Path = args.results
    results.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    failed: list[str] = []

    def section(name: str, header: str | None, measure: Callable[[], dict[str, Any]]) -> None:
        """One section's figures; a failure is named on stderr, and the next section runs."""
        if args.only and name not in args.only:
            return
        print(f"\n== {header}" if header else "", flush=True)
        try:
            figures[name] = measure()
        except BenchError as exc:
            figures[name] = {"status": "error", "error": str(exc)}
        except Exception as exc:  # a bug in a section: its traceback, and the other sections still run
            traceback.print_exc()
            figures[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        if figures[name].get("status") == "error":
            failed.append(name)
            sys.stderr.write(f"bench: section {name} failed: {figures[name]['error']}\n")

    section(
        "side_by_side",
        f"naive vs ours, {side:,} objects, no injected latency; then ours at {large:,} objects (peak RSS)",
        lambda: side_by_side(side, large),
    )
    section(
        "latency_50ms",
        f"50 ms per LIST request, {latency_objects:,} objects: ours vs the listing bound",
        lambda: latency(latency_objects),
    )
    section("moto", "realistic check on moto (ThreadedMotoServer)", lambda: moto_check(moto_objects))
    for name in TOOLS:
        section(name, HEADERS.get(name), functools.partial(tool, name, size, results))
    if failed or len(figures) < len(SECTIONS):  # no summary of a part: every figure as it is
        (results / "latest.json").write_text(json.dumps({"details": figures}, indent=2))
        print(json.dumps(figures))
    if failed:
        raise BenchError(f"{len(failed)} section(s) failed: {', '.join(failed)}")
    if len(figures) == len(SECTIONS):
        report(figures, results, side=side, large=large, started=started)


def report(figures: dict[str, Any], results: Path, *, side: int, large: int, started: float) -> None:
    """The table, latest.json and the summary (the last line), once every section has run."""
    big = figures["large"] = figures["side_by_side"].pop("large")
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
                    "modelled_wall_spread_s",
                    "ideal_s",
                    "exact_cover",
                )
            }
            for case, r in figures["planning"].items()
        },
        "share_page": figures["share_page"],
        "package_import_ms": figures["package_import_ms"],
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
    (results / "latest.json").write_text(json.dumps({"summary": summary, "details": figures}, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    entry(main, "bench")
