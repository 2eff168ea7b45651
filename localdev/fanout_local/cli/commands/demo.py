"""``fanout demo``: seed synthetic PDFs, run the workflow locally, verify every link."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from fanout_fetch import interrupts
from fanout_local.cli.console import console, log_sink, print_failure, run_with_progress, running_engine
from fanout_local.engine import EmbeddedEngine, EngineConfig
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
            "title": "s3-fanout demo: synthetic PDFs",
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
        # On a terminal, a demo that worked ends by serving what it made; otherwise (CI, scripts)
        # the engine stops before the report, as it always did.
        serving = sys.stdout.isatty() and not args.no_serve and not verification.failures
        if not serving:
            stack.close()
        console.print(
            _table(
                name,
                dataset,
                result,
                verification=verification,
                sample=sample,
                verify_time=f"{verify_seconds:.1f} s",
                fetched=fetched,
                fetch_to=args.fetch_to,
            )
        )
        if log_path:
            console.print(
                f"handler logs (REPORT lines, JSON logs): {log_path}", soft_wrap=True, highlight=False, markup=False
            )
        for failure in verification.failures[:20]:
            console.print(f"[red]{escape(failure)}[/]")
        if serving:
            _serve_until_interrupted(engine, output, name)
    return 1 if verification.failures else 0


def _table(
    name: str,
    dataset: Any,
    result: Any,
    *,
    verification: Any,
    sample: int | None,
    verify_time: str,
    fetched: str | None,
    fetch_to: str | None,
) -> Table:
    """The demo's report."""
    output = result.output or {}
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
    table.add_row("verified object URLs", f"{verification.checked:,} ({scope}) in {verify_time}")
    if fetched is not None:
        table.add_row(f"fetched to {escape(str(fetch_to))}", escape(fetched))
    table.add_row("failures", str(len(verification.failures)))
    return table


def _serve_until_interrupted(engine: EmbeddedEngine, output: dict[str, Any], name: str) -> None:
    """What the demo made, live until Ctrl-C: the share page, and the S3 and Step Functions
    endpoints behind it (the AWS CLI and boto3 work there)."""
    from fanout_local.serve import MOTO_CREDENTIALS, step_functions_endpoint

    with step_functions_endpoint() as url:
        execution_arn = engine.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        keys = " ".join(f"{k}={v}" for k, v in MOTO_CREDENTIALS.items())
        console.print(
            f"S3: {engine.s3_endpoint}\nStep Functions API: {url} (state machine {engine.state_machine_arn})\n"
            f"try: {keys} aws --region us-east-1 --endpoint-url {url} stepfunctions describe-execution "
            f"--execution-arn {execution_arn}\nthe share page (open it in a browser; serving until Ctrl-C):",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
        sys.stdout.write(f"{output['page_url']}\n")
        sys.stdout.flush()
        interrupts.wait(lambda timeout: time.sleep(timeout) or False)  # only a signal ends it


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
