"""The fetch command, defined once: ``fanout-fetch`` (this package alone) and ``fanout fetch``
(the project's CLI) both run :func:`command_fetch`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from . import interrupts
from .downloading import Fetcher, _where
from .reporting import FetchReport, new_progress, print_summary

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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "index_url", metavar="URL", help="the page or index URL you were sent (quote it: it contains &)"
    )
    parser.add_argument("--to", required=True, metavar="DIR", help="where the files go (created if missing)")
    parser.add_argument("--concurrency", type=positive_int, default=8, help="parallel downloads (default: %(default)s)")


def command_fetch(index_url: str, to: str, concurrency: int, console: Console) -> int:
    """Download everything the index lists into ``to``: 0 if every object is there, 1 otherwise."""
    report = fetch_interruptibly(index_url, to, concurrency=concurrency, console=console)
    print_summary(report, console)
    return 0 if report.succeeded else 1


def fetch_interruptibly(index_url: str, dest: Path | str, *, concurrency: int, console: Console) -> FetchReport:
    """``downloading.fetch`` with its progress bars, run in a thread while this one waits for
    a signal (``interrupts``): then the downloads are told to stop - each keeps its resumable
    partial file - and Interrupted is raised once they have (or after a few seconds)."""
    fetcher = Fetcher(index_url, Path(dest), concurrency=concurrency)
    if not console.is_terminal:  # a log has no live bar: say what the first seconds wait for
        console.print(f"reading the index at {_where(index_url)} ...", markup=False, highlight=False, soft_wrap=True)
    with new_progress(console) as bars:
        files = bars.add_task(f"reading the index at {_where(index_url)}", total=None, unit="files")
        size = bars.add_task("bytes", total=None, unit="bytes", visible=False)
        fetcher.on_files = lambda n: bars.advance(files, n)
        fetcher.on_bytes = lambda n: bars.advance(size, n)

        def size_bars(index: dict[str, Any]) -> None:
            bars.update(files, description="files", total=index.get("count"))
            bars.update(size, total=index.get("object_bytes"), visible=True)

        fetcher.on_index = size_bars
        # The stop flag is waited on by the download threads only: setting it takes no lock of this thread's.
        return interrupts.call(fetcher.run, stop=fetcher.http.stop.set, grace=STOP_GRACE_SECONDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
