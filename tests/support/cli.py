"""The `fanout` CLI as a subprocess, the way a person runs it (from the project root)."""

from __future__ import annotations

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
