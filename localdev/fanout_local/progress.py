"""Progress display for executions: units built, objects presigned (rich, on stderr)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

if TYPE_CHECKING:
    from rich.console import Console

    from .lambda_runtime.pool import Invocation


def new_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        # Descriptions and details name buckets and prefixes: data, never markup.
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def add_phase(progress: Progress, description: str, *, total: float | None, detail: str) -> TaskID:
    """A bar for a step. Without a terminal (a log, CI) a bar prints only once it is done:
    one plain line now says which step is under way (a hang, or a signal, shows where)."""
    if not progress.console.is_terminal:
        line = f"{description} {detail}".strip()
        progress.console.print(f"{line} ...", markup=False, highlight=False, soft_wrap=True)
    return progress.add_task(description, total=total, detail=detail)


class ExecutionProgress:
    """Observer of the local Lambda endpoint: turns invocations into a progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = add_phase(progress, "planning", total=None, detail="")
        self.objects = 0
        self.segments = 0
        self._lock = threading.Lock()

    def __call__(self, invocation: Invocation) -> None:
        with self._lock:
            result = invocation.result if isinstance(invocation.result, dict) else {}
            if invocation.function.startswith("ListPrefixes") and result:
                units = result.get("units", 0)
                if not self.progress.console.is_terminal:
                    self.progress.console.print(f"building parts: {units} units ...", highlight=False)
                self.progress.update(self.task, description="building parts", total=units)
            elif invocation.function.startswith("BuildManifest") and result:
                self.objects += int(result.get("count", 0))
                self.segments += 1
                self.progress.update(
                    self.task,
                    advance=1 if result.get("done") else 0,
                    detail=f"{self.objects:,} URLs, {self.segments} segment(s)",
                )
            elif invocation.function.startswith("MergeIndex") and "next_round" in result:
                # Units out of their child's time go round the Map again: still building.
                deferred = int(result.get("deferred", 0))
                if not self.progress.console.is_terminal:
                    self.progress.console.print(f"building parts: {deferred} deferred ...", highlight=False)
                self.progress.update(self.task, description=f"building parts ({deferred} deferred)")
            elif invocation.function.startswith("MergeIndex"):
                self.progress.update(self.task, description="index merged")
