"""``fanout``: run the workflow locally (embedded engine), seed data, invoke one handler."""

from __future__ import annotations

import argparse
import functools
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fanout_fetch import interrupts
from fanout_fetch.arguments import OneLineParser, output_dir, output_file
from fanout_fetch.cli import DefaultsHelpFormatter
from fanout_fetch.cli import add_arguments as add_fetch_arguments
from fanout_fetch.reporting import waiting

from . import arguments
from .engine import PROJECT_ROOT, EmbeddedEngine, EngineConfig, ExecutionResult, new_execution_name
from .errors import S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT, UserError, explain
from .progress import ExecutionProgress, add_phase, new_progress

console = Console(stderr=True)


def _log_sink(stack: ExitStack, verbose: bool, name: str) -> tuple[IO[str], Path | None]:
    """Handler logs (JSON lines, REPORT lines) go to a file unless --verbose."""
    if verbose:
        return sys.stderr, None
    path = PROJECT_ROOT / ".fanout" / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(path.open("w", encoding="utf-8")), path


@contextmanager
def _running_engine(config: EngineConfig) -> Iterator[EmbeddedEngine]:
    """The engine, with a status line naming each step of its start and of its stop; a signal
    abandons its start or a wait for an execution at the next step (``interrupts``)."""
    steps: list[Callable[[str], None]] = []
    config.on_stage = lambda text: steps[-1](text) if steps else None
    config.checkpoint = interrupts.check
    engine = EmbeddedEngine(config)
    with waiting(console, "starting the engine") as update:
        steps.append(lambda text: update(f"starting the engine: {text}"))
        engine.__enter__()  # a failed start closes what it started, then raises
    steps.clear()
    try:
        yield engine
    finally:
        with waiting(console, "stopping the engine") as update:
            steps.append(lambda text: update(f"stopping the engine: {text}"))
            engine.close()


def _execution_input(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {"bucket": args.bucket, "prefix": args.prefix, "suffix": args.suffix}
    if args.expires_in is not None:
        data["expires_in"] = args.expires_in
    if args.max_concurrency is not None:
        data["max_concurrency"] = args.max_concurrency
    return data


def _run_with_progress(engine: EmbeddedEngine, execution_input: dict[str, Any], name: str) -> ExecutionResult:
    with new_progress(console) as progress:
        observer = ExecutionProgress(progress)
        engine.add_observer(observer)
        return engine.run(execution_input, name=name)


def _print_failure(result: ExecutionResult) -> None:
    console.print(f"[bold red]execution {escape(result.name)} {result.status}[/]: {escape(str(result.error))}")
    cause = result.cause or ""
    try:
        parsed = json.loads(cause)
        cause = f"{parsed.get('errorType', '')}: {parsed.get('errorMessage', cause)}"
    except (ValueError, AttributeError):
        pass
    console.print(f"cause: {cause}", markup=False, highlight=False)  # a cause holds keys, URLs: data


# -- run ---------------------------------------------------------------------------------------
def _aws_endpoint() -> str:
    import boto3

    region = boto3.session.Session().region_name or "us-east-1"
    return f"https://s3.{region}.amazonaws.com"


CHECK_ATTEMPTS = 5  # HeadBucket tries when S3 answers 5xx or drops the connection


def _s3_client(endpoint: str | None, attempts: int) -> Any:
    """The CLI's own S3 client: bounded waits (errors.S3_*), so an endpoint that never answers
    is a one-line error in seconds (botocore's defaults: 60 s per read, retried)."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        connect_timeout=S3_CONNECT_TIMEOUT,
        read_timeout=S3_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )
    return boto3.client("s3", endpoint_url=endpoint, config=config)


def _check_bucket(endpoint: str | None, bucket: str) -> None:
    """One quick HeadBucket before the engine starts: an unreachable endpoint or a missing
    bucket is named in a second, not after the planner's retries (tens of seconds). A flaky
    S3 (5xx, a dropped connection) is retried a few times - it is not the user's error - but
    a refused connection (nothing listening) or no answer at all (a read timeout) is not."""
    from botocore.exceptions import ClientError, ConnectionClosedError

    s3 = _s3_client(endpoint, attempts=1)
    for attempt in range(1, CHECK_ATTEMPTS + 1):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchBucket"}:
                where = endpoint or "AWS"
                raise UserError(f"no bucket '{bucket}' at {where}: check --bucket and --s3-endpoint", 1) from None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status < 500 or attempt == CHECK_ATTEMPTS:
                raise
        except ConnectionClosedError:
            if attempt == CHECK_ATTEMPTS:
                raise
        else:
            return
        time.sleep(0.2 * attempt)


def _check_lambda_endpoint(endpoint: str) -> None:
    """Any HTTP answer will do (even 404): an endpoint that is down or never answers is named
    now, not as a hung execution."""
    import requests

    try:
        requests.get(endpoint, timeout=(S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT)).close()
    except requests.ReadTimeout:
        raise UserError(
            f"no answer from the Lambda endpoint at {endpoint} within {S3_READ_TIMEOUT} s: "
            "is it sam local start-lambda or fanout serve-lambda? (--lambda-endpoint)",
            1,
        ) from None
    except requests.ConnectionError:
        raise UserError(
            f"cannot reach the Lambda endpoint at {endpoint}: is it running? (--lambda-endpoint)", 1
        ) from None


def command_run(args: argparse.Namespace) -> int:
    name = args.name or new_execution_name()
    s3_endpoint = args.s3_endpoint or _aws_endpoint()
    with waiting(console, f"checking s3://{args.bucket} at {s3_endpoint}"):
        # In a thread: its timeouts add up to seconds, which a signal does not wait for.
        interrupts.call(lambda: _check_bucket(s3_endpoint, args.bucket))
    if args.lambda_endpoint:
        with waiting(console, f"checking the Lambda endpoint at {args.lambda_endpoint}"):
            interrupts.call(lambda: _check_lambda_endpoint(args.lambda_endpoint))
    with ExitStack() as stack:
        log, log_path = _log_sink(stack, args.verbose, name)
        engine = stack.enter_context(
            _running_engine(
                EngineConfig(
                    manifest_bucket=args.manifest_bucket or args.bucket,
                    s3_endpoint=s3_endpoint,
                    lambda_endpoint=args.lambda_endpoint,
                    lambda_timeout=args.lambda_timeout,
                    log=log,
                )
            )
        )
        if args.json:
            result = engine.run(_execution_input(args), name=name)
        else:
            result = _run_with_progress(engine, _execution_input(args), name)
    if log_path and not args.json:
        console.print(f"handler logs: {log_path}", soft_wrap=True, highlight=False, markup=False)
    if not result.succeeded:
        _print_failure(result)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(result.output) + "\n")
    else:
        output = result.output or {}
        console.print(
            f"[bold green]SUCCEEDED[/] in {result.seconds:.1f} s: {output.get('count')} objects, "
            f"{output.get('parts')} parts, expires {escape(str(output.get('expires_at')))}"
        )
        if skipped := output.get("skipped"):
            reasons = ", ".join(f"{count:,} {reason}" for reason, count in skipped.items())
            console.print(f"[yellow]left out (no link would work): {escape(reasons)}[/]")
        # The page is the link for a person; the index is for programs (fanout fetch takes either).
        # soft_wrap: a URL broken over lines cannot be copied (rich wraps at the width otherwise).
        console.print(f"index (for programs): {output.get('index_url')}", soft_wrap=True, highlight=False, markup=False)
        console.print("[bold]share this link[/] (opens in a browser; fanout fetch accepts it too):")
        sys.stdout.write(f"{output.get('page_url')}\n")
    if not (result.output or {}).get("count") and not args.allow_empty:
        # The index exists but lists nothing: almost always a wrong bucket, prefix or suffix.
        where, suffix = escape(f"s3://{args.bucket}/{args.prefix}"), escape(f"'{args.suffix}'")
        console.print(
            f"[bold yellow]nothing matched[/]: {where} has no object ending in "
            f"{suffix} - check --prefix and --suffix (--suffix '' for every object), "
            "or pass --allow-empty",
            soft_wrap=True,
        )
        return 1
    return 0


# -- seed --------------------------------------------------------------------------------------
def command_seed(args: argparse.Namespace) -> int:
    from .synthetic import upload_keys

    source = Path(args.source_dir)  # a readable directory (arguments.source_dir)
    files = sorted(p for p in source.rglob("*") if p.is_file())
    prefix = args.prefix
    keys = {f"{prefix}{p.relative_to(source).as_posix()}": p for p in files}
    for key, path in keys.items():  # a key S3 would refuse fails the seed before any upload
        try:
            arguments.key_prefix(key)
        except argparse.ArgumentTypeError as exc:
            raise UserError(f"{path} cannot be uploaded: its key {exc}") from None
    with waiting(console, f"checking s3://{args.bucket} at {args.s3_endpoint or 'AWS'}"):
        _check_bucket(args.s3_endpoint, args.bucket)
    # Uploads retry like the engine's own calls: a throttled, failed or dropped PUT.
    s3 = _s3_client(args.s3_endpoint, attempts=8)
    with new_progress(console) as progress:
        task = add_phase(progress, "seeding", total=len(keys), detail=f"s3://{args.bucket}/{prefix}")
        upload_keys(
            s3, args.bucket, list(keys), lambda key: keys[key].read_bytes(), on_done=lambda: progress.advance(task)
        )
    console.print(f"uploaded {len(keys)} file(s) to s3://{args.bucket}/{prefix}", markup=False, highlight=False)
    return 0


# -- invoke ------------------------------------------------------------------------------------
def command_invoke(args: argparse.Namespace) -> int:
    from .lambda_runtime.function_env import function_env
    from .lambda_runtime.pool import LambdaRuntime
    from .template import load_project

    project = load_project(PROJECT_ROOT, {"ManifestBucketName": args.manifest_bucket or "", "SourceBucketNames": "x"})
    function, event = args.function, args.event  # a template function, the file's JSON (arguments)
    env = function_env(manifest_bucket=args.manifest_bucket or "", s3_endpoint=args.s3_endpoint)
    runtime = LambdaRuntime({function: project.functions[function]}, base_env=env, log=sys.stderr)
    # A plain line, not a spinner: the worker's own logs stream to this terminal meanwhile.
    console.print(
        f"invoking {function}: a cold start (the worker imports the handler), then the handler ...", markup=False
    )
    try:
        # Waited for in a thread: a handler may run for its whole Timeout; a signal does not wait
        # (close() kills the busy environment).
        invocation = interrupts.call(lambda: runtime.invoke(runtime.pools[function], event))
    finally:
        runtime.close()
    if invocation.error:
        sys.stdout.write(json.dumps(invocation.error) + "\n")
        return 1
    sys.stdout.write(json.dumps(invocation.result, indent=2) + "\n")
    return 0


# -- fetch -------------------------------------------------------------------------------------
def command_fetch(args: argparse.Namespace) -> int:
    from fanout_fetch.cli import command_fetch as fetch_index  # the one fetch command

    return fetch_index(args.index_url, args.to, args.concurrency, console)


# -- demo --------------------------------------------------------------------------------------
def command_demo(args: argparse.Namespace) -> int:
    from .synthetic import make_dataset, synthetic_body, upload_keys
    from .verify_links import verify_chain

    bucket = "demo-bucket"
    dataset = make_dataset(args.objects, args.prefixes)
    name = new_execution_name()
    with ExitStack() as stack:
        log, log_path = _log_sink(stack, args.verbose, name)
        # A demo's thousand objects would be one unit at the deployed minimum (5,000 keys):
        # smaller units show the fan-out.
        unit_env = {"MIN_UNIT_KEYS": str(args.unit_keys)}
        engine = stack.enter_context(
            _running_engine(EngineConfig(manifest_bucket=bucket, log=log, extra_function_env=unit_env))
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
        result = _run_with_progress(engine, execution_input, name)
        if not result.succeeded:
            _print_failure(result)
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

    from .synthetic import synthetic_body

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


# -- render ------------------------------------------------------------------------------------
def command_render(args: argparse.Namespace) -> int:
    from .render import RenderError, load_for_render, render

    try:
        text = render(
            load_for_render(PROJECT_ROOT),
            args.target,
            max_concurrency=args.max_concurrency,
            legacy_map_fields=args.legacy_map_fields,
        )
    except RenderError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        return 1
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        console.print(
            f"wrote {out} ({args.target}: INLINE Map, items from ListPrefixes with INLINE_PLAN=true)", markup=False
        )
    else:
        sys.stdout.write(text)
    return 0


# -- serve-lambda ------------------------------------------------------------------------------
def command_serve_lambda(args: argparse.Namespace) -> int:
    """The embedded engine's Lambda endpoint alone, for Step Functions Local (twin of
    ``sam local start-lambda``)."""
    import threading

    from .lambda_runtime.function_env import function_env
    from .lambda_runtime.invoke_api import LambdaInvokeServer
    from .lambda_runtime.pool import Invocation, LambdaRuntime, report_line
    from .template import REGION, load_project

    project = load_project(PROJECT_ROOT, {"ManifestBucketName": args.manifest_bucket or "", "SourceBucketNames": "x"})
    inline_plan = "false" if args.no_inline_plan else "true"
    env = function_env(
        manifest_bucket=args.manifest_bucket or "",  # empty: manifests go to the source bucket
        s3_endpoint=args.s3_endpoint,
        default_region=REGION,
        extra={"INLINE_PLAN": inline_plan},
    )
    with ExitStack() as stack:
        log, log_path = _log_sink(stack, args.verbose, time.strftime("serve-lambda-%Y%m%dT%H%M%SZ", time.gmtime()))
        runtime = LambdaRuntime(
            project.functions,
            base_env=env,
            log=log,
            timeout_overrides={"BuildManifestFunction": args.lambda_timeout} if args.lambda_timeout else None,
        )
        lock = threading.Lock()

        def print_report(invocation: Invocation) -> None:
            lines = []
            if invocation.error:
                error = invocation.error
                lines.append(f"[{invocation.function}] ERROR {error.get('errorType')}: {error.get('errorMessage')}")
            lines.append(report_line(invocation, runtime.pools[invocation.function].spec.memory_mb))
            with lock:
                print("\n".join(lines), flush=True)

        if not args.verbose:  # with --verbose the runtime writes START/ERROR/REPORT to stderr itself
            runtime.observers.append(print_report)
        try:
            server = LambdaInvokeServer(runtime, host=args.host, port=args.port).start()
        except OSError as exc:
            runtime.close()
            console.print(f"[red]{escape(f'cannot listen on {args.host}:{args.port}: {exc}')}[/]")
            return 1
        print(f"Lambda Invoke API on {server.url} - functions: {', '.join(project.functions)}", flush=True)
        console.print(
            f"S3: {args.s3_endpoint or 'AWS (default endpoint)'}; INLINE_PLAN={inline_plan}; "
            f"handler logs: {log_path or 'stderr'}. Step Functions Local in Docker reaches it at "
            f"http://host.docker.internal:{args.port} (on Linux, serve with --host 0.0.0.0). Ctrl-C stops.",
            markup=False,
        )
        try:
            interrupts.wait(lambda timeout: time.sleep(timeout) or False)  # serves until a signal
        finally:
            with waiting(console, "stopping the Lambda server: its workers finish and exit"):
                server.stop()
    return 0  # never reached: only a signal ends it (exit 130 or 143)


def _add_step_functions_local_commands(sub: Any) -> None:
    """``render`` and ``serve-lambda``: the Docker path with Step Functions Local."""
    render = sub.add_parser(
        "render", help="the state machine for an engine without Distributed Map (Step Functions Local)"
    )
    render.add_argument(
        "--target", choices=["stepfunctions-local"], default="stepfunctions-local", help="the engine to render for"
    )
    render.add_argument("--output", "-o", type=output_file, help="file to write; default: stdout")
    render.add_argument(
        "--max-concurrency",
        type=arguments.max_concurrency,
        help="the Map's fixed MaxConcurrency; default: the template's",
    )
    render.add_argument(
        "--legacy-map-fields", action="store_true", help="Iterator/Parameters instead of ItemProcessor/ItemSelector"
    )
    render.set_defaults(handler=command_render)

    serve = sub.add_parser("serve-lambda", help="the Lambda Invoke API alone, for Step Functions Local (Ctrl-C stops)")
    serve.add_argument(
        "--host",
        type=arguments.host_name,
        default="127.0.0.1",
        help="0.0.0.0 so containers can reach it (Linux Docker)",
    )
    serve.add_argument("--port", type=arguments.port_number, default=3001, help="TCP port to listen on")
    serve.add_argument(
        "--s3-endpoint", type=arguments.s3_endpoint, help="e.g. http://localhost:9000 (MinIO); default: AWS"
    )
    serve.add_argument("--manifest-bucket", type=arguments.bucket_name, help="default: the source bucket of each run")
    serve.add_argument(
        "--lambda-timeout", type=arguments.lambda_timeout, help="seconds; overrides BuildManifest's Timeout"
    )
    serve.add_argument(
        "--no-inline-plan", action="store_true", help="ListPrefixes without the inline plan (Distributed variant)"
    )
    serve.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    serve.set_defaults(handler=command_serve_lambda)


def build_parser() -> argparse.ArgumentParser:
    # Every value is checked by its type (fanout_local.arguments) while parsing: a bad one is
    # one line and exit 2 (OneLineParser) before any command starts.
    parser = OneLineParser(
        prog="fanout",
        description=__doc__,
        epilog="exit codes: 0 ok, 1 failed, 2 usage error, 130 interrupted (SIGINT), 143 terminated (SIGTERM)",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    # Subparsers do not inherit formatter_class: every subcommand's --help names its defaults too.
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=functools.partial(OneLineParser, formatter_class=DefaultsHelpFormatter),
    )

    demo = sub.add_parser("demo", help="seed synthetic PDFs, run the workflow locally, verify every link")
    demo.add_argument(
        "--objects", type=arguments.demo_objects, default=1000, help="synthetic objects to seed (most are .pdf)"
    )
    demo.add_argument(
        "--prefixes", type=arguments.demo_prefixes, default=6, help="top-level folders they are spread over"
    )
    demo.add_argument("--max-concurrency", type=arguments.max_concurrency, default=4, help="the Map's MaxConcurrency")
    demo.add_argument(
        "--unit-keys",
        type=arguments.unit_keys,
        default=100,
        help="smallest work unit in keys (MIN_UNIT_KEYS; deployed: 5000)",
    )
    demo.add_argument(
        "--verify-sample",
        type=arguments.verify_sample,
        default=5000,
        help="verify at most this many object URLs",
    )
    demo.add_argument("--verify-all", action="store_true", help="verify every object URL, not a sample")
    demo.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    demo.add_argument(
        "--fetch-to",
        metavar="DIR",
        type=output_dir,
        help="after verifying, download everything into DIR (fanout fetch)",
    )
    demo.set_defaults(handler=command_demo)

    run = sub.add_parser("run", help="one execution of the state machine on the embedded engine")
    run.add_argument("--bucket", required=True, type=arguments.bucket_name)
    run.add_argument(
        "--prefix",
        type=arguments.key_prefix,
        default="",
        help="share the keys under this prefix ('': the whole bucket)",
    )
    run.add_argument(
        "--suffix",
        type=arguments.key_suffix,
        default=".pdf",
        help="keep keys ending with this, case-insensitive ('': every key)",
    )
    run.add_argument("--expires-in", type=arguments.expires_in, help="seconds the links work; default: the template's")
    run.add_argument(
        "--max-concurrency", type=arguments.max_concurrency, help="the Map's MaxConcurrency; default: the template's"
    )
    run.add_argument("--manifest-bucket", type=arguments.bucket_name, help="default: the source bucket")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--s3-endpoint",
        type=arguments.s3_endpoint,
        help="the S3 holding --bucket, e.g. http://localhost:9000 (MinIO)",
    )
    where.add_argument("--aws", action="store_true", help="the bucket is on AWS (credentials from the usual chain)")
    run.add_argument(
        "--lambda-endpoint",
        type=arguments.lambda_endpoint,
        help="e.g. http://127.0.0.1:3001 (sam local start-lambda)",
    )
    run.add_argument(
        "--lambda-timeout",
        type=arguments.lambda_timeout,
        help="seconds; overrides BuildManifest's Timeout (forces continuations)",
    )
    run.add_argument("--name", type=arguments.execution_name, help="execution name (= run_id); default: generated")
    run.add_argument("--json", action="store_true", help="stdout is exactly the execution output")
    run.add_argument("--allow-empty", action="store_true", help="exit 0 even when nothing matched")
    run.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    run.set_defaults(handler=command_run)

    seed = sub.add_parser("seed", help="upload a local directory to a bucket")
    seed.add_argument("--bucket", required=True, type=arguments.bucket_name)
    seed.add_argument("--source-dir", required=True, type=arguments.source_dir)
    seed.add_argument(
        "--prefix", type=arguments.key_prefix, default="", help="key prefix for the uploaded files, e.g. docs/"
    )
    seed.add_argument("--s3-endpoint", type=arguments.s3_endpoint, help="e.g. http://localhost:9000; default: AWS")
    seed.set_defaults(handler=command_seed)

    invoke = sub.add_parser("invoke", help="one handler, one event file, no Docker (twin of sam local invoke)")
    invoke.add_argument(
        "function",
        type=arguments.lambda_function,
        help="ListPrefixesFunction | BuildManifestFunction | MergeIndexFunction",
    )
    invoke.add_argument("--event", required=True, type=arguments.event_file, help="a JSON file (UTF-8)")
    invoke.add_argument("--s3-endpoint", type=arguments.s3_endpoint, help="e.g. http://localhost:9000; default: AWS")
    invoke.add_argument("--manifest-bucket", type=arguments.bucket_name, help="MANIFEST_BUCKET of the function")
    invoke.set_defaults(handler=command_invoke)

    fetch = sub.add_parser("fetch", help="download everything a share page or index URL lists (no AWS credentials)")
    add_fetch_arguments(fetch)
    fetch.set_defaults(handler=command_fetch)

    _add_step_functions_local_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 ok, 1 failed, 2 usage, 130 interrupted (SIGINT), 143 terminated (SIGTERM)
    (fanout_local.errors)."""
    # First: SIGINT and SIGTERM only set a flag from here on; each wait unwinds on it (interrupts).
    interrupts.install()
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
        interrupts.check()  # a signal after the last wait still asked to stop: say so
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:
        if interrupts.received() is not None:
            return _interrupted()  # what broke after a signal broke because of the stop
        user_error = explain(exc)
        if user_error is None or args.debug:
            raise  # a bug (or --debug): the traceback is the report
        console.print(f"fanout {args.command}: {escape(str(user_error))}", soft_wrap=True, highlight=False)
        return user_error.exit_code
    return code


def _interrupted() -> int:
    console.print("[yellow]interrupted[/]")
    # Everything started is stopped: the interpreter's final collection of moto's objects took
    # seconds of CPU on a busy machine, which a signal should not wait for.
    gc.freeze()
    return interrupts.exit_code()


if __name__ == "__main__":
    sys.exit(main())
