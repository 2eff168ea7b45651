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


def test_merge_index_alone_ships_the_recipients_zipapp(tmp_path: Path) -> None:
    """MergeIndex publishes fanout-fetch.pyz beside each index (s3fanout.fetch_tool); the
    other functions are built without its 2 MB."""
    shipped = {}
    for function in ("ListPrefixesFunction", "MergeIndexFunction"):
        out = tmp_path / function
        subprocess.run(
            ["make", "-s", "-C", str(ROOT / "functions"), f"build-{function}", f"ARTIFACTS_DIR={out}",
             f"PYTHON={sys.executable}"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        shipped[function] = (out / "s3fanout" / "share" / "fanout-fetch.pyz").is_file()
    assert shipped == {"ListPrefixesFunction": False, "MergeIndexFunction": True}
    tool = tmp_path / "MergeIndexFunction" / "s3fanout" / "share" / "fanout-fetch.pyz"
    assert tool.read_bytes() == (ROOT / "functions" / "s3fanout" / "share" / "fanout-fetch.pyz").read_bytes()


def _checkout_files(root: Path) -> set[str]:
    """Every path under ``root``, bytecode caches aside (a test run writes those)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if "__pycache__" not in p.parts}


def test_pip_install_of_the_recipient_leaves_the_checkout_as_it_was(tmp_path: Path) -> None:
    """`pip install ./recipient` (docs/recipient.md) builds out of tree: no recipient/build/,
    no *.egg-info left in the recipient's clone (setuptools' in-tree build left both)."""
    recipient = ROOT / "recipient"
    before = _checkout_files(recipient)

    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(tmp_path / "site"),
         "./recipient"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert _checkout_files(recipient) == before
    installed = tmp_path / "site"
    assert (installed / "fanout_fetch" / "cli.py").is_file()
    assert (installed / "bin" / "fanout-fetch").is_file()
    assert {p.name for p in (installed / "fanout_fetch").glob("*.py")} == {
        p.name for p in (recipient / "fanout_fetch").glob("*.py")
    }
