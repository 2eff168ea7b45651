"""The ``fanout`` parser: every command and option, each value checked by its type (``argtypes``).

A command is a function here that adds its subparser, its options and
``set_defaults(handler=<its module>.command)``, listed in ``COMMANDS`` (the order of ``fanout --help``).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from fanout_fetch.arguments import OneLineParser, output_dir, output_file
from fanout_fetch.cli import DefaultsHelpFormatter
from fanout_fetch.cli import add_arguments as add_fetch_arguments

from . import argtypes
from .commands import demo, fetch, invoke, render, revoke, run, seed, serve, serve_lambda, share, shares

DESCRIPTION = "``fanout``: run the workflow locally (embedded engine), seed data, invoke one handler."
Subparsers = Any  # argparse's _SubParsersAction (private)


def _demo(sub: Subparsers) -> None:
    parser = sub.add_parser("demo", help="seed synthetic PDFs, run the workflow locally, verify every link")
    parser.add_argument(
        "--objects", type=argtypes.demo_objects, default=1000, help="synthetic objects to seed (most are .pdf)"
    )
    parser.add_argument(
        "--prefixes", type=argtypes.demo_prefixes, default=6, help="top-level folders they are spread over"
    )
    parser.add_argument("--max-concurrency", type=argtypes.max_concurrency, default=4, help="the Map's MaxConcurrency")
    parser.add_argument(
        "--unit-keys",
        type=argtypes.unit_keys,
        default=100,
        help="smallest work unit in keys (MIN_UNIT_KEYS; deployed: 5000)",
    )
    parser.add_argument(
        "--verify-sample",
        type=argtypes.verify_sample,
        default=5000,
        help="verify at most this many object URLs",
    )
    parser.add_argument("--verify-all", action="store_true", help="verify every object URL, not a sample")
    parser.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    parser.add_argument(
        "--fetch-to",
        metavar="DIR",
        type=output_dir,
        help="after verifying, download everything into DIR (fanout fetch)",
    )
    parser.add_argument(
        "--no-serve",
        action="store_true",
        help="on a terminal too, stop at the end (else: serve the page until Ctrl-C)",
    )
    parser.set_defaults(handler=demo.command)


def _run_naming(parser: argparse.ArgumentParser) -> None:
    """The run's name and the sender's words: the same for a local run and a share."""
    parser.add_argument("--name", type=argtypes.execution_name, help="execution name (= run id); default: generated")
    parser.add_argument(
        "--title",
        type=argtypes.share_title,
        help="the share page's headline and tab title (one line, at most 200 characters)",
    )
    parser.add_argument(
        "--message",
        type=argtypes.share_message,
        help="a note shown under the headline (at most 2,000 characters; newlines kept)",
    )


def _run(sub: Subparsers) -> None:
    parser = sub.add_parser("run", help="one execution of the state machine on the embedded engine")
    parser.add_argument("--bucket", required=True, type=argtypes.bucket_name)
    parser.add_argument(
        "--prefix",
        type=argtypes.key_prefix,
        default="",
        help="share the keys under this prefix ('': the whole bucket)",
    )
    parser.add_argument(
        "--suffix",
        type=argtypes.key_suffix,
        default=".pdf",
        help="keep keys ending with this, case-insensitive ('': every key)",
    )
    parser.add_argument(
        "--expires-in", type=argtypes.expires_in, help="seconds the links work; default: the template's"
    )
    parser.add_argument(
        "--max-concurrency", type=argtypes.max_concurrency, help="the Map's MaxConcurrency; default: the template's"
    )
    parser.add_argument("--manifest-bucket", type=argtypes.bucket_name, help="default: the source bucket")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--s3-endpoint",
        type=argtypes.s3_endpoint,
        help="the S3 holding --bucket, e.g. http://localhost:9000 (MinIO)",
    )
    where.add_argument("--aws", action="store_true", help="the bucket is on AWS (credentials from the usual chain)")
    parser.add_argument(
        "--lambda-endpoint",
        type=argtypes.lambda_endpoint,
        help="e.g. http://127.0.0.1:3001 (sam local start-lambda)",
    )
    parser.add_argument(
        "--lambda-timeout",
        type=argtypes.lambda_timeout,
        help="seconds; overrides BuildManifest's Timeout (forces continuations)",
    )
    _run_naming(parser)
    parser.add_argument("--json", action="store_true", help="stdout is exactly the execution output")
    parser.add_argument("--allow-empty", action="store_true", help="exit 0 even when nothing matched")
    parser.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    parser.set_defaults(handler=run.command)


def _seed(sub: Subparsers) -> None:
    parser = sub.add_parser("seed", help="upload a local directory to a bucket")
    parser.add_argument("--bucket", required=True, type=argtypes.bucket_name)
    parser.add_argument("--source-dir", required=True, type=argtypes.source_dir)
    parser.add_argument(
        "--prefix", type=argtypes.key_prefix, default="", help="key prefix for the uploaded files, e.g. docs/"
    )
    parser.add_argument("--s3-endpoint", type=argtypes.s3_endpoint, help="e.g. http://localhost:9000; default: AWS")
    parser.set_defaults(handler=seed.command)


def _invoke(sub: Subparsers) -> None:
    parser = sub.add_parser("invoke", help="one handler, one event file, no Docker (twin of sam local invoke)")
    parser.add_argument(
        "function",
        type=argtypes.lambda_function,
        help="ListPrefixesFunction | BuildManifestFunction | MergeIndexFunction",
    )
    parser.add_argument("--event", required=True, type=argtypes.event_file, help="a JSON file (UTF-8)")
    parser.add_argument("--s3-endpoint", type=argtypes.s3_endpoint, help="e.g. http://localhost:9000; default: AWS")
    parser.add_argument("--manifest-bucket", type=argtypes.bucket_name, help="MANIFEST_BUCKET of the function")
    parser.set_defaults(handler=invoke.command)


def _fetch(sub: Subparsers) -> None:
    parser = sub.add_parser("fetch", help="download everything a share page or index URL lists (no AWS credentials)")
    add_fetch_arguments(parser)
    parser.set_defaults(handler=fetch.command)


def _render(sub: Subparsers) -> None:
    """Step Functions Local (Docker): the state machine without Distributed Map."""
    parser = sub.add_parser(
        "render", help="the state machine for an engine without Distributed Map (Step Functions Local)"
    )
    parser.add_argument(
        "--target", choices=["stepfunctions-local"], default="stepfunctions-local", help="the engine to render for"
    )
    parser.add_argument("--output", "-o", type=output_file, help="file to write; default: stdout")
    parser.add_argument(
        "--max-concurrency",
        type=argtypes.max_concurrency,
        help="the Map's fixed MaxConcurrency; default: the template's",
    )
    parser.add_argument(
        "--legacy-map-fields", action="store_true", help="Iterator/Parameters instead of ItemProcessor/ItemSelector"
    )
    parser.set_defaults(handler=render.command)


def _serve_lambda(sub: Subparsers) -> None:
    """Step Functions Local (Docker): the Lambda Invoke API alone."""
    parser = sub.add_parser("serve-lambda", help="the Lambda Invoke API alone, for Step Functions Local (Ctrl-C stops)")
    parser.add_argument(
        "--host",
        type=argtypes.host_name,
        default="127.0.0.1",
        help="0.0.0.0 so containers can reach it (Linux Docker)",
    )
    parser.add_argument("--port", type=argtypes.port_number, default=3001, help="TCP port to listen on")
    parser.add_argument(
        "--s3-endpoint", type=argtypes.s3_endpoint, help="e.g. http://localhost:9000 (MinIO); default: AWS"
    )
    parser.add_argument("--manifest-bucket", type=argtypes.bucket_name, help="default: the source bucket of each run")
    parser.add_argument(
        "--lambda-timeout", type=argtypes.lambda_timeout, help="seconds; overrides BuildManifest's Timeout"
    )
    parser.add_argument(
        "--no-inline-plan", action="store_true", help="ListPrefixes without the inline plan (Distributed variant)"
    )
    parser.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    parser.set_defaults(handler=serve_lambda.command)


def _serve(sub: Subparsers) -> None:
    from fanout_local.serve import DEFAULT_MANIFEST_BUCKET, DEFAULT_PORT

    parser = sub.add_parser(
        "serve",
        help="a local cloud for the AWS CLI and boto3: Step Functions (the stack's state machine), S3, Lambda",
    )
    parser.add_argument("--host", type=argtypes.host_name, default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=argtypes.port_number, default=DEFAULT_PORT, help="the Step Functions and S3 port (0: any)"
    )
    parser.add_argument(
        "--s3-endpoint",
        type=argtypes.s3_endpoint,
        help="S3 elsewhere, e.g. http://localhost:9000 (MinIO); default: moto's, on --port",
    )
    parser.add_argument(
        "--manifest-bucket",
        type=argtypes.bucket_name,
        default=DEFAULT_MANIFEST_BUCKET,
        help="where shares are written (created on moto's S3)",
    )
    parser.add_argument(
        "--bucket",
        type=argtypes.bucket_name,
        action="append",
        metavar="NAME",
        help="a bucket to create on moto's S3 at start (repeatable)",
    )
    parser.add_argument(
        "--unit-keys", type=argtypes.unit_keys, help="smallest work unit in keys (MIN_UNIT_KEYS); default: 5000"
    )
    parser.add_argument(
        "--lambda-timeout", type=argtypes.lambda_timeout, help="seconds; overrides BuildManifest's Timeout"
    )
    parser.add_argument("--verbose", action="store_true", help="handler logs to stderr instead of a file")
    parser.set_defaults(handler=serve.command)


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", type=argtypes.region, help="the stack's region; default: AWS_REGION or profile")


def _share(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "share", help="share an S3 prefix: one execution on a deployed stack or a Step Functions endpoint"
    )
    parser.add_argument(
        "location", type=argtypes.s3_location, metavar="s3://BUCKET/PREFIX", help="what to share ('' prefix: all)"
    )
    parser.add_argument(
        "--suffix", type=argtypes.key_suffix, help="keep keys ending with this ('': every key); default: .pdf"
    )
    parser.add_argument(
        "--expires-in",
        type=argtypes.duration,
        metavar="DURATION",
        help="how long the links work: 15m, 12h, 7d (at most); default: the stack's UrlExpirySeconds",
    )
    parser.add_argument(
        "--max-concurrency", type=argtypes.max_concurrency, help="the Map's MaxConcurrency; default: the stack's"
    )
    _run_naming(parser)
    where = parser.add_argument_group("where (one of)")
    where.add_argument("--stack", type=argtypes.stack_name, help="a deployed stack: its StateMachineArn output")
    where.add_argument(
        "--endpoint-url",
        type=argtypes.endpoint,
        help="a Step Functions endpoint, e.g. http://127.0.0.1:8090 (fanout serve)",
    )
    where.add_argument(
        "--state-machine-arn",
        type=argtypes.state_machine_arn,
        help="the state machine (on AWS, or at --endpoint-url when it has several)",
    )
    _add_region(parser)
    parser.add_argument("--json", action="store_true", help="stdout is exactly the execution output")
    parser.add_argument(
        "--stop-on-interrupt", action="store_true", help="Ctrl-C stops the execution (default: it goes on)"
    )
    parser.add_argument("--allow-empty", action="store_true", help="exit 0 even when nothing matched")
    parser.set_defaults(handler=share.command)


def _manifest_bucket_of(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", type=argtypes.stack_name, help="a deployed stack: its ManifestBucket output")
    where.add_argument("--manifest-bucket", type=argtypes.bucket_name, help="the bucket holding manifests/")
    # --endpoint-url too: what `fanout share` and the aws CLI call it (fanout serve: one port).
    parser.add_argument(
        "--s3-endpoint",
        "--endpoint-url",
        dest="s3_endpoint",
        type=argtypes.s3_endpoint,
        help="e.g. http://127.0.0.1:8090 (fanout serve); default: AWS",
    )
    _add_region(parser)


def _shares(sub: Subparsers) -> None:
    parser = sub.add_parser("shares", help="the shares in a manifest bucket: live, expired, incomplete")
    _manifest_bucket_of(parser)
    parser.add_argument("--json", action="store_true", help="stdout is a JSON array of the shares")
    parser.set_defaults(handler=shares.command)


def _revoke(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "revoke", help="delete a share's page, index and parts (object URLs already copied live on)"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("run_id", nargs="?", type=argtypes.run_id, metavar="RUN_ID", help="the share (fanout shares)")
    which.add_argument("--expired", action="store_true", help="every share whose links have expired")
    _manifest_bucket_of(parser)
    parser.set_defaults(handler=revoke.command)


COMMANDS: list[Callable[[Subparsers], None]] = [
    _demo,
    _serve,
    _share,
    _shares,
    _revoke,
    _run,
    _seed,
    _invoke,
    _fetch,
    _render,  # render and serve-lambda: the Docker path with Step Functions Local
    _serve_lambda,
]


def build_parser() -> argparse.ArgumentParser:
    # Every value is checked by its type (fanout_local.cli.argtypes) while parsing: a bad one is
    # one line and exit 2 (OneLineParser) before any command starts.
    parser = OneLineParser(
        prog="fanout",
        description=DESCRIPTION,
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
    for add_command in COMMANDS:
        add_command(sub)
    return parser
