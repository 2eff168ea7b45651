"""``fanout shares``: the shares in a manifest bucket - live, expired or incomplete - with the
page URL of each live one: a table on stdout, or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.cli import aws
from fanout_local.cli.console import console


def command(args: argparse.Namespace) -> int:
    from fanout_local.shares import LIVE, list_shares

    bucket = aws.manifest_bucket(args)
    s3 = aws.client("s3", endpoint=args.s3_endpoint, region=args.region)
    with waiting(console, f"reading the shares in s3://{bucket}/manifests/"):
        found = interrupts.call(lambda: list_shares(s3, bucket))
    if args.json:
        sys.stdout.write(json.dumps([share.to_json() for share in found], indent=2) + "\n")
        return 0
    if not found:
        console.print(f"no shares in s3://{bucket}/manifests/", markup=False, highlight=False)
        return 0
    table = Table(title=f"shares in s3://{escape(bucket)}")
    for column in ("run id", "source", "objects", "created", "expires", "state"):
        table.add_column(column, justify="right" if column == "objects" else "left")
    for share in found:
        source = f"s3://{share.bucket}/{share.prefix or ''}" if share.bucket else "?"
        objects = f"{share.objects:,}" if share.objects is not None else ""
        style = {"live": "green", "expired": "dim", "incomplete": "yellow"}[share.state]
        table.add_row(
            escape(share.run_id),
            escape(source),
            objects,
            share.created_at or "",
            share.expires_at or "",
            f"[{style}]{share.state}[/]",
        )
    out = Console(soft_wrap=False)  # the table is the output: stdout
    out.print(table)
    live = [share for share in found if share.state == LIVE and share.page_url]
    if live:
        out.print("page URLs of the live shares:", markup=False, highlight=False)
    for share in live:
        # One line each, never wrapped: a URL broken over lines cannot be copied.
        sys.stdout.write(f"{share.run_id}  {share.page_url}\n")
    return 0
