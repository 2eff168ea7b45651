"""What the deployment package costs a cold start: the functions and their dependency layer
built by the same Makefiles ``sam build`` runs, for this machine's platform (x86_64 here;
Lambda's arm64 wheels cannot be imported on it), once without bytecode (what a plain pip
install into a read-only /var/task gives: every cold start compiles) and once with the
bytecode compiled at build time. Each handler is imported in fresh interpreters with only
the package on its path (``-S``, no bytecode written).

    python -m bench.package [--runs 7 | --smoke] [--python python3.13]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.coldstart import HANDLERS, measure
from bench.processes import BenchError, entry, run

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = "manylinux2014_x86_64"


def find_python313() -> str | None:
    """A real python3.13 (the Lambda runtime): pyenv's versions first, then PATH - pyenv's
    shim on PATH fails when no 3.13 is selected, so it does not count."""
    for candidate in sorted((Path.home() / ".pyenv" / "versions").glob("3.13*/bin/python3.13")):
        return str(candidate)
    found = shutil.which("python3.13")
    return found if found and "/shims/" not in found else None


def build(python: str, into: Path) -> Path:
    """Layer and function as ``sam build`` makes them (x86_64 wheels); returns the sys.path."""
    env = {**os.environ, "PYTHON": python}
    for command in (
        ["make", "-s", "-C", str(ROOT / "dependencies"), "build-DependenciesLayer", f"PLATFORM={PLATFORM}",
         f"ARTIFACTS_DIR={into / 'layer'}", f"PYTHON={python}"],
        ["make", "-s", "-C", str(ROOT / "functions"), "build-BuildManifestFunction",
         f"ARTIFACTS_DIR={into / 'function'}", f"PYTHON={python}"],
    ):  # fmt: skip
        done = run(command, env=env, timeout=900)
        if done.returncode:
            detail = done.stderr.strip().splitlines()
            raise BenchError(f"the build failed: {detail[-1] if detail else f'exit {done.returncode}'}")
    return into


def strip_bytecode(root: Path) -> None:
    for cache in list(root.rglob("__pycache__")):
        shutil.rmtree(cache)


def median_import(root: Path, python: str, runs: int) -> dict[str, float]:
    path = f"{root / 'function'}{os.pathsep}{root / 'layer' / 'python'}"
    results = {}
    for handler in HANDLERS:
        samples = [measure(handler, path, python=python, isolated=True) for _ in range(runs)]
        results[handler] = round(statistics.median(s["import_ms"] for s in samples), 1)
    return results


def package_figures(python: str = "python3.13", runs: int = 7) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        built = build(python, Path(tmp) / "with")
        bare = Path(tmp) / "without"
        shutil.copytree(built, bare)
        strip_bytecode(bare)
        figures = {"with_bytecode_ms": median_import(built, python, runs)}
        figures["without_bytecode_ms"] = median_import(bare, python, runs)
    figures["runs"] = runs
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=find_python313() or "python3.13")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="one run: does it run (make test)")
    args = parser.parse_args()
    if not shutil.which(args.python):
        parser.error(f"--python: {args.python!r} is not an interpreter here (the layer is built for python3.13)")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    figures = package_figures(args.python, 1 if args.smoke else args.runs)
    for handler in HANDLERS:
        print(
            f"  {handler:<15} import without bytecode {figures['without_bytecode_ms'][handler]:>7.1f} ms, "
            f"with {figures['with_bytecode_ms'][handler]:>7.1f} ms"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    entry(main, "bench.package")
