"""The `fanout` CLI as a subprocess, the way a person runs it (from the project root)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def fanout(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fanout_local.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
    )


def all_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by the name a person types: `fanout`, `fanout run`, ..., `fanout-fetch`."""
    from fanout_fetch.cli import build_parser as build_fetch_parser
    from fanout_local.cli import build_parser

    top = build_parser()
    parsers = {"fanout": top, "fanout-fetch": build_fetch_parser()}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.update({f"fanout {name}": parser for name, parser in action.choices.items()})
    return parsers
