"""Progress display for executions: units built, objects presigned (rich, on stderr)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from rich.console import Console

    from .lambda_server import Invocation


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


class ExecutionProgress:
    """Observer of the local Lambda endpoint: turns invocations into a progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("planning", total=None, detail="")
        self.objects = 0
        self.segments = 0
        self._lock = threading.Lock()

    def __call__(self, invocation: Invocation) -> None:
        with self._lock:
            result = invocation.result if isinstance(invocation.result, dict) else {}
            if invocation.function.startswith("ListPrefixes") and result:
                self.progress.update(self.task, description="building parts", total=result.get("units", 0))
            elif invocation.function.startswith("BuildManifest") and result:
                self.objects += int(result.get("count", 0))
                self.segments += 1
                self.progress.update(
                    self.task,
                    advance=1 if result.get("done") else 0,
                    detail=f"{self.objects:,} URLs, {self.segments} segment(s)",
                )
            elif invocation.function.startswith("MergeIndex"):
                self.progress.update(self.task, description="index merged")
