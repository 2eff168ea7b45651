"""The fetch command, defined once: ``fanout-fetch`` (this package alone) and ``fanout fetch``
(the project's CLI) both run :func:`command_fetch`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from . import interrupts
from .arguments import MAX_CONCURRENCY, OneLineParser, concurrency, link_url, output_dir
from .downloading import Fetcher, fetch
from .reporting import FetchReport, print_summary

STOP_GRACE_SECONDS = 3.0  # after a signal: downloads stop within a chunk, keeping resumable partials


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """``--help`` names each option's default: ``(default: X)`` after its help. None (no value)
    and False (a flag left off) are not shown: they would only add noise. Strings are quoted
    so an empty default reads ``''``. A help text that already says ``%(default)s`` is kept."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "%(default)" in text
            or default is None
            or default is False
            or default == argparse.SUPPRESS
        ):
            return action.help
        shown = "%(default)r" if isinstance(default, str) else "%(default)s"
        return f"{text} (default: {shown})".strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "index_url",
        metavar="URL",
        type=link_url,
        help="the page or index URL you were sent (quote it: it contains &)",
    )
    parser.add_argument(
        "--to", required=True, metavar="DIR", type=output_dir, help="where the files go (created if missing)"
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency,
        default=8,
        help=f"parallel downloads, 1-{MAX_CONCURRENCY} (default: %(default)s)",
    )


def command_fetch(index_url: str, to: str, concurrency: int, console: Console) -> int:
    """Download everything the index lists into ``to``: 0 if every object is there, 1 otherwise."""
    report = fetch_interruptibly(index_url, to, concurrency=concurrency, console=console)
    print_summary(report, console)
    return 0 if report.succeeded else 1


def fetch_interruptibly(index_url: str, dest: Path | str, *, concurrency: int, console: Console) -> FetchReport:
    """``downloading.fetch``, its fetcher run in a thread while this one waits for a signal
    (``interrupts``): then the downloads are told to stop - each keeps its resumable partial
    file - and Interrupted is raised once they have (or after a few seconds)."""

    def run(fetcher: Fetcher) -> FetchReport:
        # The stop flag is waited on by the download threads only: setting it takes no lock of this thread's.
        return interrupts.call(fetcher.run, stop=fetcher.http.stop.set, grace=STOP_GRACE_SECONDS)

    return fetch(index_url, dest, concurrency=concurrency, console=console, run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="fanout-fetch",
        description="Download everything an s3-fanout share page or index lists.",
        formatter_class=DefaultsHelpFormatter,
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 ok, 1 incomplete, 2 usage, 130 interrupted (SIGINT), 143 terminated (SIGTERM)."""
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    interrupts.install()
    try:
        code = command_fetch(args.index_url, args.to, args.concurrency, console)
        interrupts.check()  # a signal after the last wait still means "stop": say so
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return interrupts.exit_code()
    return code


if __name__ == "__main__":
    sys.exit(main())
