"""``fanout fetch``: download everything a share page or index URL lists (``fanout-fetch``'s command)."""

from __future__ import annotations

import argparse

from fanout_local.cli.console import console


def command(args: argparse.Namespace) -> int:
    from fanout_fetch.cli import command_fetch as fetch_index  # the one fetch command

    return fetch_index(args.index_url, args.to, args.concurrency, console)
