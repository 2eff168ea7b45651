"""What a fetch did: the report (counts, failures with reasons), progress bars, summary."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.text import Text


@dataclass
class Failure:
    what: str  # an object key, "part <key>" or "index"
    reason: str
    expired: bool = False
    objects: int = 1  # how many listed objects this failure accounts for


@dataclass
class FetchReport:
    dest: Path
    index: dict[str, Any] | None = None
    ok: int = 0
    resumed: int = 0  # of ``ok``: continued from a partial file
    replaced: int = 0  # of ``ok``: over a file of the right size whose MD5 was not its ETag
    unverified: int = 0  # of ``ok``: over a file of the right size nothing could verify
    skipped: int = 0  # verified complete (a record of this tool's, or the MD5), not fetched
    bytes_downloaded: int = 0
    bytes_skipped: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return sum(f.objects for f in self.failures)

    @property
    def succeeded(self) -> bool:
        return not self.failures

    @property
    def expires_at(self) -> str | None:
        return (self.index or {}).get("expires_at")

    def fail(self, failure: Failure) -> None:
        with self._lock:
            self.failures.append(failure)

    def count_ok(self, size: int, *, resumed: bool = False, replaced: str | None = None) -> None:
        """One object downloaded; ``replaced``: over a file there, which ``differed`` or was
        ``unverified``."""
        with self._lock:
            self.ok += 1
            self.resumed += resumed
            self.replaced += replaced == "differed"
            self.unverified += replaced == "unverified"
            self.bytes_downloaded += size

    def count_skipped(self, size: int) -> None:
        with self._lock:
            self.skipped += 1
            self.bytes_skipped += size


class _AmountColumn(ProgressColumn):
    """``12/40`` for the files bar, ``3.1/9.8 MB 2.0 MB/s`` for the bytes bar."""

    def __init__(self) -> None:
        super().__init__()
        self._count = MofNCompleteColumn()
        self._size = DownloadColumn()
        self._speed = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return Text.assemble(self._size.render(task), " ", self._speed.render(task))
        return self._count.render(task)


def new_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # it names the link's host: data, not markup
        BarColumn(),
        TaskProgressColumn(),
        _AmountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def waiting(console: Console, what: str) -> Iterator[Callable[[str], None]]:
    """A spinner naming what the command waits for; yields ``update(text)`` for the next step.
    Without a terminal (a log file, CI) each step is one plain line instead, so a hang shows
    where it hangs. Not inside a progress display: rich runs one live display at a time."""
    if console.is_terminal:
        with console.status(escape(what)) as status:
            yield lambda text: status.update(escape(text))
        return

    def line(text: str) -> None:
        console.print(f"{text} ...", markup=False, highlight=False, soft_wrap=True)

    line(what)
    yield line


def printable(text: str) -> str:
    """Control characters from keys escaped (\\x1b, \\n...): a key cannot drive the terminal."""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in text)


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n:,} B"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def print_summary(report: FetchReport, console: Console, *, limit: int = 50) -> None:
    console.print(
        f"{'[bold green]fetched[/]' if report.succeeded else '[bold red]fetch incomplete[/]'}: "
        f"{report.ok:,} downloaded{_of_them(report)}, "
        f"{report.skipped:,} skipped (verified complete), "
        f"{report.failed:,} failed{'' if report.failed or not report.failures else ' (see below)'}; "
        f"{human_bytes(report.bytes_downloaded)} in {report.seconds:.1f} s -> {escape(str(report.dest))}",
        soft_wrap=True,
    )
    if not report.failures:
        return
    console.print(f"[red]{len(report.failures)} problem(s):[/]", soft_wrap=True)
    for failure in report.failures[:limit]:
        what, reason = printable(failure.what), printable(failure.reason)
        console.print(f"  [red]✗[/] {escape(what)}: {escape(reason)}", soft_wrap=True)
    if len(report.failures) > limit:
        console.print(f"  ... and {len(report.failures) - limit} more")
    if any(f.expired for f in report.failures):
        hint = "the index link has expired" if report.index is None else "some links have expired"
        if report.expires_at:
            past = _is_past(report.expires_at)
            hint += f" (the index says its links expire{'d' if past else ''} at {report.expires_at})"
        console.print(f"[yellow]{escape(hint)}: ask the sender for a new link[/]", soft_wrap=True)


def _of_them(report: FetchReport) -> str:
    """`` (1 resumed; replaced: 2 whose content differed, 1 that could not be verified)``."""
    notes = [f"{report.resumed:,} resumed"] if report.resumed else []
    replaced = [f"{report.replaced:,} whose content differed"] if report.replaced else []
    replaced += [f"{report.unverified:,} that could not be verified"] if report.unverified else []
    if replaced:
        notes.append("replaced: " + ", ".join(replaced))
    return f" ({'; '.join(notes)})" if notes else ""


def _is_past(timestamp: str) -> bool:
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")) <= datetime.now(UTC)
    except ValueError:
        return False
