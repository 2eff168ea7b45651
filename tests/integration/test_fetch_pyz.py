"""``fanout-fetch.pyz``: the recipient's tool as one file, shipped in the MergeIndex package,
published beside each index and run as ``python3 fanout-fetch.pyz URL --to DIR``.

The committed zipapp must be what ``make fetch-pyz`` builds from today's sources, and it
must run with nothing but the standard library outside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from fanout_local.fetch_pyz import FIXED_TIME, PYZ_PATH, SHEBANG, build, members, minimum_python
from fanout_local.synthetic import synthetic_body
from s3fanout.fetch_tool import FETCH_TOOL_PATH
from tests.support.flow import run_handlers

KEYS = ["reports/2024/q1.pdf", "reports/big.pdf", "scans/deep/er/b.pdf", "root.pdf"]


def body(key: str) -> bytes:
    return synthetic_body(key) * 3000 if key.endswith("big.pdf") else synthetic_body(key)


def http_get(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers.get("Content-Type", "")


def run_isolated(pyz: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``-I``: no PYTHON* variables, no user site, not the script's folder; ``-S``: no
    site-packages either (this venv's, or a system ``requests``) - only the zip and the
    standard library can be imported. From an empty folder, with an empty PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"PYTHONPATH": ""}
    return subprocess.run(
        [sys.executable, "-I", "-S", str(pyz), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
        env=env,
    )


def test_the_package_ships_the_zipapp_the_deployed_code_reads() -> None:
    assert FETCH_TOOL_PATH == PYZ_PATH
    assert PYZ_PATH.read_bytes().startswith(SHEBANG)


def test_the_committed_zipapp_is_what_make_fetch_pyz_builds_now() -> None:
    """Member by member (zlib builds may compress alike data differently): a change to
    recipient/ or to a pinned dependency without `make fetch-pyz` fails here."""
    with zipfile.ZipFile(PYZ_PATH) as archive:
        committed = {info.filename: archive.read(info) for info in archive.infolist()}
        infos = archive.infolist()
    fresh = members()
    stale = sorted(name for name in committed.keys() | fresh.keys() if committed.get(name) != fresh.get(name))
    assert not stale, f"{PYZ_PATH.name} is stale ({len(stale)} members differ, e.g. {stale[:5]}): run `make fetch-pyz`"
    # Deterministic: sorted entries, one timestamp and mode, so it changes only with its contents.
    assert [i.filename for i in infos] == sorted(fresh)
    assert {(i.date_time, i.external_attr >> 16) for i in infos} == {(FIXED_TIME, 0o644)}
    assert build(fresh) == build(members())


def test_the_zipapp_holds_pure_python_and_licences_only() -> None:
    with zipfile.ZipFile(PYZ_PATH) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc", ".dylib")) or "__pycache__" in n]
    for package in ("fanout_fetch/cli.py", "requests/__init__.py", "rich/console.py", "certifi/cacert.pem"):
        assert package in names
    # Each vendored distribution keeps its licence beside it.
    dist_infos = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
    assert len(dist_infos) >= 9
    assert all(any(n.startswith(f"{d}/") and "LICEN" in n.upper() for n in names) for d in dist_infos)


def test_the_zipapp_imports_nothing_from_outside_and_finds_its_certificates(tmp_path: Path) -> None:
    """A recipient's HTTPS needs certifi's bundle, read from inside the zip."""
    script = (
        "import sys, sysconfig; sys.path.insert(0, sys.argv[1]);"
        "import certifi, fanout_fetch.cli, fanout_fetch.downloading;"
        "home = tuple(sysconfig.get_paths()[k] for k in ('stdlib', 'platstdlib')) + (sys.argv[1],);"
        "files = [getattr(m, '__file__', None) for m in list(sys.modules.values())];"
        "print(sorted(f for f in files if f and not f.startswith(home)));"
        "print(open(certifi.where()).read().count('BEGIN CERTIFICATE') > 100)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(PYZ_PATH)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"]


def test_the_zipapp_says_which_python_it_needs(tmp_path: Path) -> None:
    done = run_isolated(PYZ_PATH, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--to" in done.stdout
    with zipfile.ZipFile(PYZ_PATH) as archive:
        main = archive.read("__main__.py").decode()
    assert f"sys.version_info < {minimum_python()}" in main


@pytest.mark.parametrize("title", [None, "Q4 <script>alert(1)</script>"])
def test_merge_index_publishes_the_zipapp_and_it_downloads_the_share(
    s3: Any, bucket: str, tmp_path: Path, title: str | None
) -> None:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=body(key))
    execution = {"bucket": bucket, "suffix": "", **({"title": title} if title else {})}
    result = run_handlers(s3, execution)["index"]
    index = json.loads(http_get(result["index_url"])[0])
    # Published beside the index, presigned like it: the same bytes as the packaged file.
    assert "/manifests/test-run/fanout-fetch.pyz?" in index["fetch_tool_url"]
    tool, content_type = http_get(index["fetch_tool_url"])
    assert (tool, content_type) == (PYZ_PATH.read_bytes(), "application/zip")
    pyz = tmp_path / "fanout-fetch.pyz"
    pyz.write_bytes(tool)
    (tmp_path / "empty").mkdir()

    done = run_isolated(pyz, result["page_url"], "--to", str(tmp_path / "out"), cwd=tmp_path / "empty")

    assert done.returncode == 0, done.stderr[-3000:]
    got = {
        p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file() and ".fanout-fetch" not in p.parts
    }
    assert got == {key: body(key) for key in KEYS}


def test_a_package_without_the_zipapp_publishes_an_index_without_it(
    s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package built without it (a hand-made zip): the index leaves the field out, the
    page tells how to install the tool instead."""
    from s3fanout import fetch_tool

    monkeypatch.setattr(fetch_tool, "FETCH_TOOL_PATH", Path("/nonexistent/fanout-fetch.pyz"))
    fetch_tool.fetch_tool.cache_clear()
    try:
        s3.put_object(Bucket=bucket, Key="a.pdf", Body=b"%PDF")
        result = run_handlers(s3, {"bucket": bucket})["index"]
    finally:
        fetch_tool.fetch_tool.cache_clear()
    index = json.loads(http_get(result["index_url"])[0])
    assert "fetch_tool_url" not in index
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="manifests/").get("Contents", [])]
    assert not [k for k in keys if k.endswith(".pyz")]


def test_an_older_python_is_refused_in_one_line(tmp_path: Path) -> None:
    """Its __main__ runs on an older Python (only 3.11 is here: its version_info is set back)."""
    with zipfile.ZipFile(PYZ_PATH) as archive:
        main = archive.read("__main__.py").decode()
    script = f"import sys; sys.version_info = (3, 10, 0); exec({main!r})"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"fanout-fetch.pyz needs Python {'.'.join(map(str, minimum_python()))} or later; this is "
        + sys.version.split()[0]
    ]
