"""The fetch command, defined once: ``fanout-fetch`` (this package alone) and ``fanout fetch``
(the project's CLI) both run :func:`command_fetch`."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from .arguments import MAX_CONCURRENCY, OneLineParser, concurrency, link_url, output_dir
from .downloading import fetch
from .reporting import print_summary


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
    report = fetch(index_url, to, concurrency=concurrency, console=console)
    print_summary(report, console)
    return 0 if report.succeeded else 1


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="fanout-fetch",
        description="Download everything an s3-fanout share page or index lists.",
        formatter_class=DefaultsHelpFormatter,
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        return command_fetch(args.index_url, args.to, args.concurrency, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
