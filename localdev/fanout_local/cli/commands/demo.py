"""``fanout demo``: seed synthetic PDFs, run the workflow locally, verify every link."""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from fanout_local.cli.console import console, log_sink, print_failure, run_with_progress, running_engine
from fanout_local.engine import EngineConfig
from fanout_local.progress import add_phase, new_progress
from s3fanout.records import new_run_id


def command(args: argparse.Namespace) -> int:
    from fanout_local.synthetic import make_dataset, synthetic_body, upload_keys
    from fanout_local.verify_links import verify_chain

    bucket = "demo-bucket"
    dataset = make_dataset(args.objects, args.prefixes)
    name = new_run_id()
    with ExitStack() as stack:
        log, log_path = log_sink(stack, args.verbose, name)
        # A demo's thousand objects would be one unit at the deployed minimum (5,000 keys):
        # smaller units show the fan-out.
        unit_env = {"MIN_UNIT_KEYS": str(args.unit_keys)}
        engine = stack.enter_context(
            running_engine(EngineConfig(manifest_bucket=bucket, log=log, extra_function_env=unit_env))
        )
        s3 = engine.s3_client()
        s3.create_bucket(Bucket=bucket)
        with new_progress(console) as progress:
            task = add_phase(progress, "seeding", total=len(dataset.keys), detail=f"s3://{bucket}/")
            upload_keys(s3, bucket, dataset.keys, synthetic_body, on_done=lambda: progress.advance(task))
        execution_input = {
            "bucket": bucket,
            "suffix": ".pdf",
            "expires_in": 3600,
            "max_concurrency": args.max_concurrency,
        }
        result = run_with_progress(engine, execution_input, name)
        if not result.succeeded:
            print_failure(result)
            return 1
        output = result.output or {}
        sample = None if args.verify_all or len(dataset.matching) <= args.verify_sample else args.verify_sample
        started = time.monotonic()
        with new_progress(console) as progress:
            task = add_phase(progress, "verifying URLs", total=None, detail="as a recipient: plain HTTP GET")
            verification = verify_chain(
                output["index_url"],
                synthetic_body,
                sample=sample,
                on_listed=lambda n: progress.update(task, total=n),
                on_object=lambda: progress.advance(task),
            )
        verify_seconds = time.monotonic() - started
        fetched = _demo_fetch(output["index_url"], Path(args.fetch_to), verification) if args.fetch_to else None
    if sorted(verification.keys) != sorted(dataset.matching):
        verification.failures.append(
            f"index lists {len(verification.keys)} keys, {len(dataset.matching)} PDFs were seeded"
        )
    table = Table(title=f"fanout demo - execution {escape(name)}")
    table.add_column("what")
    table.add_column("value", justify="right")
    planned = [i.result for i in result.invocations if i.function == "ListPrefixesFunction" and i.result]
    table.add_row("work units planned", str(planned[-1]["units"]) if planned else "?")
    table.add_row("objects seeded (all kinds)", f"{len(dataset.keys):,}")
    table.add_row("matching .pdf objects", f"{len(dataset.matching):,}")
    table.add_row("objects in the index", f"{output.get('count', 0):,}")
    table.add_row("left out (archived, folder markers)", f"{sum((output.get('skipped') or {}).values()):,}")
    table.add_row("parts", str(verification.parts))
    table.add_row("execution wall time", f"{result.seconds:.2f} s")
    table.add_row("objects/s", f"{output.get('count', 0) / max(result.seconds, 1e-9):,.0f}")
    scope = "all" if sample is None else f"sample of {sample}"
    table.add_row("verified object URLs", f"{verification.checked:,} ({scope}) in {verify_seconds:.1f} s")
    if fetched is not None:
        table.add_row(f"fetched to {escape(args.fetch_to)}", escape(fetched))
    table.add_row("failures", str(len(verification.failures)))
    console.print(table)
    if log_path:
        console.print(
            f"handler logs (REPORT lines, JSON logs): {log_path}", soft_wrap=True, highlight=False, markup=False
        )
    for failure in verification.failures[:20]:
        console.print(f"[red]{escape(failure)}[/]")
    return 1 if verification.failures else 0


def _demo_fetch(index_url: str, dest: Path, verification: Any) -> str:
    """``fanout fetch`` into ``dest``, then every file checked byte for byte: a summary row."""
    from fanout_fetch import human_bytes
    from fanout_fetch.cli import fetch_interruptibly
    from fanout_local.synthetic import synthetic_body

    report = fetch_interruptibly(index_url, dest, concurrency=8, console=console)
    verification.failures += [f"fetch {f.what}: {f.reason}" for f in report.failures]
    for key in verification.keys:
        path = report.dest / key
        if not path.is_file() or path.read_bytes() != synthetic_body(key):
            verification.failures.append(f"fetch {key}: {path} missing or not the object's bytes")
    return (
        f"{report.ok:,} downloaded, {report.skipped:,} skipped, {report.failed:,} failed; "
        f"{human_bytes(report.bytes_downloaded)} in {report.seconds:.1f} s"
    )
