"""The functions' build (functions/Makefile, run by `sam build`): our package alone - the
share page's assets included, no dependencies (they come from the layer) - with bytecode
for every module, compiled so a read-only /var/task never compiles at a cold start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_function_build_is_our_package_with_bytecode_and_its_assets(tmp_path: Path) -> None:
    out = tmp_path / "BuildManifestFunction"
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "functions"), "build-BuildManifestFunction", f"ARTIFACTS_DIR={out}",
         f"PYTHON={sys.executable}"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["s3fanout"]
    sources = sorted(p.relative_to(out) for p in out.rglob("*.py"))
    assert Path("s3fanout/handlers/build_manifest.py") in sources
    tag = sys.implementation.cache_tag
    for source in sources:
        compiled = out / source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert compiled.is_file(), source
        # unchecked-hash pycs: flags field (bytes 4-8) = 0b01 (hash-based, not checked)
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 0b01, source
    assert {p.name for p in (out / "s3fanout" / "share").iterdir()} == {"page.html", "page.css", "page.js"}
