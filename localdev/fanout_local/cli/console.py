"""The console helpers the ``fanout`` commands share: stderr for people, stdout for data."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape

from fanout_fetch import interrupts
from fanout_fetch.reporting import waiting
from fanout_local.engine import PROJECT_ROOT, EmbeddedEngine, EngineConfig, ExecutionResult
from fanout_local.errors import UserError
from fanout_local.progress import ExecutionProgress, new_progress

console = Console(stderr=True)


def log_sink(stack: ExitStack, verbose: bool, name: str) -> tuple[IO[str], Path | None]:
    """Handler logs (JSON lines, REPORT lines) go to a file unless --verbose."""
    if verbose:
        return sys.stderr, None
    path = PROJECT_ROOT / ".fanout" / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(path.open("w", encoding="utf-8")), path


@contextmanager
def running_engine(config: EngineConfig) -> Iterator[EmbeddedEngine]:
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


def run_with_progress(engine: EmbeddedEngine, execution_input: dict[str, Any], name: str) -> ExecutionResult:
    with new_progress(console) as progress:
        observer = ExecutionProgress(progress)
        engine.add_observer(observer)
        return engine.run(execution_input, name=name)


def print_failure(result: ExecutionResult) -> None:
    console.print(f"[bold red]execution {escape(result.name)} {result.status}[/]: {escape(str(result.error))}")
    cause = result.cause or ""
    try:
        parsed = json.loads(cause)
        cause = f"{parsed.get('errorType', '')}: {parsed.get('errorMessage', cause)}"
    except (ValueError, AttributeError):
        pass
    console.print(f"cause: {cause}", markup=False, highlight=False)  # a cause holds keys, URLs: data


def print_user_error(command: str, error: UserError) -> None:
    """The one line a user's error gets: the command, the problem, the fix."""
    console.print(f"fanout {command}: {escape(str(error))}", soft_wrap=True, highlight=False)


def print_interrupted() -> None:
    console.print("[yellow]interrupted[/]")


def print_left_out(output: dict[str, Any]) -> None:
    """The objects a run left out, by reason (no link would work for them)."""
    if skipped := output.get("skipped"):
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in skipped.items())
        console.print(f"[yellow]left out (no link would work): {escape(reasons)}[/]")
