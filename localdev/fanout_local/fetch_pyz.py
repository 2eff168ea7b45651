"""Build ``fanout-fetch.pyz``: the recipient's tool and its dependencies as one zipapp.

``python -m fanout_local.fetch_pyz`` (``make fetch-pyz``) writes
``functions/s3fanout/share/fanout-fetch.pyz``, which MergeIndex publishes beside each index
(``s3fanout.fetch_tool``). A recipient runs it with ``python3 fanout-fetch.pyz URL --to DIR``.

What goes in: ``recipient/fanout_fetch`` and, from this environment (installed from the
pinned requirements-dev.txt), every distribution its ``pyproject.toml`` dependencies need,
as pure Python (compiled accelerators are left out: charset-normalizer falls back to its
.py modules), with their licence files; no bytecode (the zip would then serve one Python
version only). The archive is deterministic - entries sorted, one fixed timestamp and mode,
the same compression - so rebuilding unchanged sources gives the same members, and the
committed file changes only when its contents do (``tests/integration/test_fetch_pyz.py``
rebuilds it and compares).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import re
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from fanout_local.template import PROJECT_ROOT

RECIPIENT = PROJECT_ROOT / "recipient"
PYZ_PATH = PROJECT_ROOT / "functions" / "s3fanout" / "share" / "fanout-fetch.pyz"
SHEBANG = b"#!/usr/bin/env python3\n"
# Zip's earliest date: nothing about the build machine or the hour goes into the archive.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Installer bookkeeping and what only serves one interpreter: not part of the program.
_LEFT_OUT = re.compile(
    r"(^|/)__pycache__/|\.(so|pyd|pyc|dylib)$|\.dist-info/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$"
)

MAIN = '''\
"""fanout-fetch as one file: python3 fanout-fetch.pyz URL --to DIR (built by s3-fanout)."""
import sys

if sys.version_info < {minimum}:
    sys.exit("fanout-fetch.pyz needs Python {shown} or later; this is " + sys.version.split()[0])

from fanout_fetch.cli import main

sys.exit(main())
'''


def _project() -> dict[str, object]:
    with (RECIPIENT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def minimum_python() -> tuple[int, int]:
    """From ``requires-python = ">=3.11"``: the zipapp refuses an older Python in one line."""
    spec = str(_project()["requires-python"])
    found = re.fullmatch(r">=\s*(\d+)\.(\d+)", spec.strip())
    if not found:
        raise SystemExit(f"recipient/pyproject.toml: requires-python {spec!r} is not of the form '>=X.Y'")
    return int(found.group(1)), int(found.group(2))


def distributions() -> list[importlib.metadata.Distribution]:
    """The recipient's dependencies and theirs (no extras), as installed here, by name."""
    pending = [Requirement(text) for text in _project()["dependencies"]]  # type: ignore[attr-defined]
    found: dict[str, importlib.metadata.Distribution] = {}
    while pending:
        requirement = pending.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in found or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is not installed here: run `make install` first") from None
        if dist.version not in requirement.specifier:
            raise SystemExit(f"{name} {dist.version} does not satisfy {requirement}: run `make install`")
        found[name] = dist
        pending.extend(Requirement(text) for text in dist.requires or ())
    return [found[name] for name in sorted(found)]


def members() -> dict[str, bytes]:
    """Every file of the archive by its name inside it."""
    files: dict[str, bytes] = {}
    for path in sorted((RECIPIENT / "fanout_fetch").rglob("*")):
        name = path.relative_to(RECIPIENT).as_posix()
        if path.is_file() and not _LEFT_OUT.search(name):
            files[name] = path.read_bytes()
    for dist in distributions():
        for file in dist.files or ():
            name = file.as_posix()
            # Paths outside site-packages are console scripts (../../bin/...).
            if name.startswith("..") or _LEFT_OUT.search(name):
                continue
            files[name] = Path(str(file.locate())).read_bytes()
    minimum = minimum_python()
    files["__main__.py"] = MAIN.format(minimum=minimum, shown=".".join(map(str, minimum))).encode()
    return files


def build(files: dict[str, bytes]) -> bytes:
    """The zipapp: a shebang line, then a zip of ``files`` in name order, every entry alike."""
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fanout_local.fetch_pyz", description=__doc__.splitlines()[0])
    parser.add_argument("--output", "-o", type=Path, default=PYZ_PATH, help="where to write it")
    args = parser.parse_args(argv)
    data = build(members())
    args.output.write_bytes(data)
    args.output.chmod(0o755)
    print(f"{args.output}: {len(data):,} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
